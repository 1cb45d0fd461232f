"""One cluster's SDN configuration in pve-network's pending/running model.

Writes edit the pending section config files (zones.cfg, vnets.cfg, subnets.cfg,
controllers.cfg, ipams.cfg, dns.cfg). Apply compiles zones, vnets, subnets and controllers into
`.running-config` with the version raised by one; rollback writes the running objects back over
the pending files; `pending=1` merges both per object (pve-sdn-api.md §5, pve-sdn-objects.md
§1.8). IPAMs and DNS servers have no running copy: they take effect when written (§5.1).

PVE 9.2's prefix lists and route maps (prefix-lists.cfg, route-maps.cfg) are in the model too:
kept by Rust code (routing_policy.py), apply copies them into `.running-config` under the keys
`prefix-lists` and `route-maps` in the shape of their to_sections(), rollback restores them.
"""
from __future__ import annotations

import copy
import hashlib
from typing import Any, Optional

from pvefleet_emulator import fabrics, section_config

# The kinds in the pending/running model, and every kind with a file.
MODEL_KINDS = ("zones", "vnets", "subnets", "controllers", "prefix-lists", "route-maps")
# fabrics.cfg (kept by fabrics.py) is in the model but not in has_pending_changes, which in
# pve-network Network/SDN.pm reads only zones, vnets, subnets and controllers.
FILE_KINDS = MODEL_KINDS + ("ipams", "dns", "fabrics")
ID_KEYS = {"zones": "zone", "vnets": "vnet", "subnets": "subnet", "controllers": "controller",
           "ipams": "ipam", "dns": "dns", "prefix-lists": "id", "route-maps": "id"}
# The kinds kept by PVE::RS (proxmox-perl-rs pve-rs/src/bindings/sdn/prefix_lists.rs,
# route_maps.rs): their digest is the SHA-256 of the file text (`digest`: sha256 of to_raw()),
# and their running copy is to_sections(): every section with its `id`, a route map entry with
# `set` and `match` even when empty (proxmox-ve-config src/sdn/route_map.rs RouteMapEntry).
RUST_KINDS: dict[str, dict[str, Any]] = {"prefix-lists": {}, "route-maps": {"set": [], "match": []}}
# Node lists are kept as sorted comma lists in the files; `.running-config` holds them as maps.
NODE_LIST_KEYS = ("nodes", "exitnodes")
# Keys compared as sorted lists in the pending view, so a reordered list is no change (§1.8).
LIST_KEYS = ("nodes", "exitnodes", "dhcp-range", "interfaces", "secondary-controllers")


def comparable(key: str, value: Any) -> Any:
    """A value as the pending view compares it: lists as sorted comma lists."""
    if key in LIST_KEYS and value is not None:
        items = value if isinstance(value, list) else str(value).split(",")
        return ",".join(sorted(str(item) for item in items if str(item)))
    return value


class SdnConfig:
    def __init__(self, pending: Optional[dict[str, dict]] = None, running: Optional[dict] = None,
                 lock: Optional[str] = None):
        pending = pending or {}
        self.pending: dict[str, dict[str, dict]] = {kind: dict(pending.get(kind) or {}) for kind in FILE_KINDS}
        self.running: Optional[dict] = running
        self.lock: Optional[str] = lock
        # PVE always offers its built-in IPAM; it reaches ipams.cfg with the next IPAM write.
        self.implicit_pve_ipam = "pve" not in self.pending["ipams"]
        if self.implicit_pve_ipam:
            self.pending["ipams"] = {"pve": {"type": "pve"}, **self.pending["ipams"]}

    @property
    def version(self) -> int:
        return int((self.running or {}).get("version") or 0)

    def running_ids(self, kind: str) -> dict[str, dict]:
        return ((self.running or {}).get(kind) or {}).get("ids") or {}

    def file_text(self, kind: str) -> str:
        sections = self.pending[kind]
        if kind == "ipams" and self.implicit_pve_ipam:
            sections = {k: v for k, v in sections.items() if k != "pve"}
        return section_config.render(sections)

    def digest(self, kind: str) -> str:
        if kind in RUST_KINDS:
            return hashlib.sha256(self.file_text(kind).encode("utf-8")).hexdigest()
        return section_config.digest(self.file_text(kind))

    # The three views of a GET (§1.8)

    def view(self, kind: str, *, running: bool = False, pending: bool = False) -> dict[str, dict]:
        """ID -> object as a GET shows it, before the handler adds the ID key and digest."""
        if pending:
            return self._merged(kind)
        source = self.running_ids(kind) if running else self.pending[kind]
        return {object_id: copy.deepcopy(values) for object_id, values in sorted(source.items())}

    def _merged(self, kind: str) -> dict[str, dict]:
        before_all, after_all = self.running_ids(kind), self.pending[kind]
        merged: dict[str, dict] = {}
        for object_id in sorted(set(before_all) | set(after_all)):
            before, after = before_all.get(object_id), after_all.get(object_id)
            if before is None:
                assert after is not None
                top = {"type": after.get("type")}
                if kind == "subnets":
                    top["vnet"] = after.get("vnet")
                rest = {k: copy.deepcopy(v) for k, v in after.items() if k not in top}
                merged[object_id] = {**top, "state": "new", "pending": rest}
            elif after is None:
                merged[object_id] = {**copy.deepcopy(before), "state": "deleted", "pending": {}}
            else:
                changes: dict[str, Any] = {k: copy.deepcopy(v) for k, v in after.items()
                                           if comparable(k, before.get(k)) != comparable(k, v)}
                changes.update({k: "deleted" for k in before if k not in after})
                item = copy.deepcopy(before)
                if changes:
                    item.update(state="changed", pending=changes)
                merged[object_id] = item
        return merged

    def has_pending_changes(self) -> bool:
        """Whether any zone, vnet, subnet or controller is new, changed or deleted (§5.2), or any
        prefix list or route map entry: an assumption, as no source of 9.2's has_pending_changes
        was found (emulator/README.md)."""
        return any("pending" in item for kind in MODEL_KINDS for item in self._merged(kind).values())

    # Apply and rollback (§3.5)

    def commit(self) -> int:
        """Pending becomes running, with the version one higher (1 the first time)."""
        version = self.version + 1
        running: dict[str, Any] = {"version": version}
        for kind in MODEL_KINDS:
            running[kind] = {"ids": copy.deepcopy(self.pending[kind])}
        # Network/SDN.pm compile_running_cfg: `fabrics => { ids => $fabrics_cfg->to_sections() }`
        running["fabrics"] = {"ids": fabrics.Fabrics.from_sections(self.pending["fabrics"]).sections(running=True)}
        self.running = running
        return version

    def rollback(self) -> None:
        """Pending := running for the model kinds; without a running config that empties them."""
        for kind in MODEL_KINDS:
            self.pending[kind] = copy.deepcopy(dict(sorted(self.running_ids(kind).items())))
        # API2/Network/SDN.pm rollback: fabrics.cfg written from `$running_config->{fabrics}->{ids} // {}`
        self.pending["fabrics"] = fabrics.Fabrics.from_running(self.running).sections()

    def uses_frr(self) -> bool:
        """Whether the running config needs FRR: it has controllers (or fabrics) (§3.5 step 2)."""
        return bool(self.running_ids("controllers") or self.running_ids("fabrics"))

    # `.running-config` as PVE writes it: a zone's node lists as {node: 1} maps (Zones/Plugin.pm
    # decode_value; a 9.2 controller's `nodes` stays a string), the Rust kinds as to_sections()

    def running_document(self) -> Optional[dict]:
        if self.running is None:
            return None
        document = copy.deepcopy(self.running)
        for values in ((document.get("zones") or {}).get("ids") or {}).values():
            for key in NODE_LIST_KEYS:
                if isinstance(values.get(key), str):
                    values[key] = {node: 1 for node in values[key].split(",") if node}
        for kind, defaults in RUST_KINDS.items():
            for object_id, values in ((document.get(kind) or {}).get("ids") or {}).items():
                values.update({"id": object_id, **{k: copy.deepcopy(v) for k, v in defaults.items() if k not in values}})
        return document

    @staticmethod
    def running_from_document(document: Optional[dict]) -> Optional[dict]:
        if document is None:
            return None
        running = copy.deepcopy(document)
        for values in ((running.get("zones") or {}).get("ids") or {}).values():
            for key in NODE_LIST_KEYS:
                if isinstance(values.get(key), dict):
                    values[key] = ",".join(sorted(values[key]))
        for kind, defaults in RUST_KINDS.items():
            for values in ((running.get(kind) or {}).get("ids") or {}).values():
                values.pop("id", None)
                for key, default in defaults.items():
                    if values.get(key) == default:
                        del values[key]
        return running
