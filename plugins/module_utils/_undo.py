# Private to pvefleet.sdn: not a public API.
"""Undo the writes PVE's rollback does not cover: IPAM and DNS plugins (pve-sdn-api.md §6.5).

PVE writes ipams.cfg and dns.cfg at once (under the SDN lock, but outside the pending config), and
`POST /cluster/sdn/rollback` leaves them alone. So before each such write a transaction records how
to undo it (`undo_record`, kept in the journal with the remote), and when the transaction is rolled
back it undoes them itself, newest first, while it still holds the lock (`undo_immediate`, called by
steps' rollback): a created plugin is deleted, an updated one gets its old options back, a deleted
one is created again. These are compensating writes, not PVE's rollback: what used the plugin
in between (an IP handed out by a netbox IPAM) is not undone, and the result says which objects
were undone this way.

A record holds the plugin's old options, secrets included (PVE returns them in its GET): the
journal is 0600 and no report shows a record.
"""
from __future__ import annotations

from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS, Plan, is_not_found


def undo_record(the_plan: Plan) -> Optional[dict]:
    """How to undo the plan's write, for a kind PVE's rollback does not cover; None otherwise."""
    kind = the_plan.kind
    if not kind.immediate or not the_plan.changed:
        return None
    record: dict[str, Any] = {"kind": kind.name, "id": the_plan.object_id, "action": the_plan.action}
    if the_plan.previous is not None:
        record["restore"] = the_plan.previous.to_wire()
    if the_plan.action == "update" and the_plan.model is not None:
        # What the update adds goes again.
        record["drop"] = sorted(set(the_plan.model.to_wire()) - set(record.get("restore") or {}))
    return record


def describe(record: dict) -> str:
    """How results name an undone write: "ipam 'nb1' (created)"."""
    done = {"create": "created", "update": "updated", "delete": "deleted"}[record["action"]]
    return f"{KINDS[record['kind']].describe(record['id'])} ({done})"


def undo_hint(records: list[dict]) -> str:
    """What a person must undo by hand when the transaction could not: PVE's rollback will not."""
    return ("PVE's rollback does not undo IPAM and DNS plugin writes; undo by hand (pvesh on a node, "
            "/cluster/sdn/ipams or /cluster/sdn/dns): " + ", ".join(describe(record) for record in reversed(records)))


async def undo_immediate(client, records: list[dict], token: Optional[str]) -> list[str]:
    """Undo `records`, newest first, with the lock token; the errors, one per write that failed (the
    others are still undone)."""
    lock = {"lock-token": token} if token else {}
    errors = []
    for record in reversed(records):
        kind = KINDS[record["kind"]]
        path = kind.item_path(str(record["id"]))
        restore = dict(record.get("restore") or {})
        try:
            if record["action"] == "create":
                await _delete_if_there(client, path, lock)
            elif record["action"] == "delete":
                await client.post(kind.collection, data={**restore, **lock})
            else:
                body = {key: value for key, value in restore.items() if key not in (kind.wire_id, "type")}
                if record.get("drop"):
                    body["delete"] = ",".join(record["drop"])
                await client.put(path, data={**body, **lock})
        except PveFleetError as exc:
            errors.append(f"could not undo {describe(record)}: {exc}")
    return errors


async def _delete_if_there(client, path: str, lock: dict) -> None:
    try:
        await client.delete(path, params=lock or None)
    except ApiError as error:
        if not is_not_found(error):
            raise
