"""One cluster's SDN configuration: the pending files, the running config, the lock.

Mirrors pve-network's model (pve-sdn-api.md §5): writes edit the pending section-config files;
apply compiles them into `.running-config` (version + 1); rollback copies running back over
pending; the pending view merges both per object. Digests are SHA-1 of the rendered file text,
so an identical rewrite keeps its digest.
"""
from __future__ import annotations

import copy
import hashlib
from typing import Any, Optional

# The kinds in the pending/running model; ipams and dns take effect at once (§5.1).
MODEL_KINDS = ("zones", "vnets", "subnets", "controllers")
ALL_KINDS = MODEL_KINDS + ("ipams", "dns")
ID_KEYS = {"zones": "zone", "vnets": "vnet", "subnets": "subnet", "controllers": "controller",
           "ipams": "ipam", "dns": "dns"}
# Lists compared as sorted comma lists in the pending view (§1.8).
LIST_KEYS = ("nodes", "exitnodes", "dhcp-range", "interfaces")


def render_section(kind: str, sections: dict[str, dict]) -> str:
    """The section-config text PVE would write for a file."""
    lines: list[str] = []
    for object_id in sorted(sections):
        values = sections[object_id]
        lines.append(f"{values.get('type', kind.rstrip('s'))}: {object_id}")
        for key in sorted(values):
            if key == "type":
                continue
            value = values[key]
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"\t{key} {item}")
        lines.append("")
    return "\n".join(lines)


def digest_of(kind: str, sections: dict[str, dict]) -> str:
    return hashlib.sha1(render_section(kind, sections).encode()).hexdigest()


def encode_value(key: str, value: Any) -> Any:
    if key in LIST_KEYS:
        items = value if isinstance(value, list) else str(value).split(",")
        return ",".join(sorted(str(item) for item in items if str(item) != ""))
    return value


class SdnConfig:
    def __init__(self, data: Optional[dict] = None):
        data = data or {}
        stored = data.get("pending", {})
        self.pending: dict[str, dict[str, dict]] = {kind: dict(stored.get(kind, {})) for kind in ALL_KINDS}
        self.running: Optional[dict] = data.get("running")
        self.lock: Optional[str] = data.get("lock")
        if "pve" not in self.pending["ipams"]:
            self.pending["ipams"]["pve"] = {"type": "pve"}  # PVE ships the built-in IPAM

    def to_dict(self) -> dict:
        return {"pending": self.pending, "running": self.running, "lock": self.lock}

    @property
    def version(self) -> int:
        return int((self.running or {}).get("version") or 0)

    def running_ids(self, kind: str) -> dict[str, dict]:
        return ((self.running or {}).get(kind) or {}).get("ids") or {}

    def digest(self, kind: str) -> str:
        return digest_of(kind, self.pending[kind])

    # The three views of GET (pve-sdn-objects.md §1.8)

    def view(self, kind: str, *, running: bool = False, pending: bool = False) -> dict[str, dict]:
        """ID -> item as GET shows it (without the ID key and digest)."""
        if running:
            return {i: _out(v) for i, v in self.running_ids(kind).items()}
        if not pending:
            return {i: _out(v) for i, v in self.pending[kind].items()}
        merged: dict[str, dict] = {}
        run, pend = self.running_ids(kind), self.pending[kind]
        for object_id in sorted(set(run) | set(pend)):
            if object_id not in run:
                item = {"type": pend[object_id].get("type"), "state": "new",
                        "pending": {k: encode_value(k, v) for k, v in pend[object_id].items() if k != "type"}}
                if kind == "subnets":
                    item["vnet"] = pend[object_id].get("vnet")
                merged[object_id] = item
            elif object_id not in pend:
                merged[object_id] = {**_out(run[object_id]), "state": "deleted", "pending": {}}
            else:
                before, after = run[object_id], pend[object_id]
                changes = {k: encode_value(k, v) for k, v in after.items()
                           if encode_value(k, before.get(k)) != encode_value(k, v)}
                changes.update({k: "deleted" for k in before if k not in after})
                item = _out(before)
                if changes:
                    item.update(state="changed", pending=changes)
                merged[object_id] = item
        return merged

    def has_pending_changes(self) -> bool:
        return any("pending" in item for kind in MODEL_KINDS for item in self.view(kind, pending=True).values())

    # Apply and rollback (§3.5)

    def commit(self) -> int:
        version = self.version + 1
        running = {"version": version}
        for kind in MODEL_KINDS:
            running[kind] = {"ids": copy.deepcopy(self.pending[kind])}
        self.running = running
        return version

    def rollback(self) -> None:
        for kind in MODEL_KINDS:
            self.pending[kind] = copy.deepcopy(self.running_ids(kind))


def _out(values: dict) -> dict:
    return {k: encode_value(k, v) for k, v in values.items()}
