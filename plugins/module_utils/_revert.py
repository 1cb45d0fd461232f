# Private to pvefleet.sdn: not a public API.
"""Undo a partial apply (sdn_transaction on_apply_failure=revert): the inverse of a transaction.

Once Proxmox VE has committed an apply, its rollback cannot help. When the apply failed somewhere,
the remotes that committed are brought back by a second transaction, with the same engine and the
same guarantees (`_transaction.py`): it locks them, writes the inverse of what the first one
changed (deletes what it created, creates what it deleted, puts back the options it updated),
applies and follows every reload; if any of that fails before its apply, it rolls back and
releases everywhere, and every remote keeps the first transaction's change. What each object was
is known from the first transaction's own plan: the before and after it read under its lock.

A remote whose running configuration no longer holds what the first transaction committed
(someone changed it since) is not reverted blindly: it is reported.
"""
from __future__ import annotations

from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._models._compare import changes
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import APPLY, Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import DesiredObject, Remote
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS, read

# What a revert did to one remote (its `revert` field in the result).
REVERTED, FAILED, NOT_COMMITTED, CHANGED_SINCE = "reverted", "revert_failed", "not_committed", "changed_since"


def inverse_objects(remote: Remote) -> list[DesiredObject]:
    """The objects that undo what the transaction changed on this remote, in no particular order
    (the revert's engine orders them so that references resolve)."""
    inverse = _inverse_of_immediate(remote.undo)
    for result in remote.results:
        kind = KINDS[result["kind"]]
        if kind.immediate:
            continue  # undone from its undo record: the result's diff hides the secrets
        before, after = result["diff"]["before"], result["diff"]["after"]
        if result["action"] == "create":
            names = {kind.id_option: after.get(kind.id_option)}
            if kind.parent:
                names[kind.parent] = result.get(kind.parent)
            inverse.append(DesiredObject(kind.name, names, state="absent"))
        elif result["action"] == "delete":
            inverse.append(DesiredObject(kind.name, dict(before)))
        elif result["action"] == "update":
            # purge: what the update added goes again.
            inverse.append(DesiredObject(kind.name, dict(before), purge=True))
    return inverse


def _inverse_of_immediate(records: list[dict]) -> list[DesiredObject]:
    """The IPAM and DNS plugins as they were, from the records made before each write (_undo.py)."""
    inverse = []
    for record in records:
        kind = KINDS[record["kind"]]
        if record["action"] == "create":
            inverse.append(DesiredObject(kind.name, {kind.id_option: record["id"]}, state="absent"))
        else:
            options = kind.from_wire(record["restore"]).specified()
            inverse.append(DesiredObject(kind.name, options, purge=record["action"] == "update"))
    return inverse


async def changed_since(remote: Remote) -> list[str]:
    """The objects whose running configuration is no longer what this transaction committed."""
    moved = []
    for result in remote.results:
        kind = KINDS[result["kind"]]
        if result["action"] == "none" or kind.immediate:
            continue  # a plugin has no running configuration to compare with
        parent = result.get(kind.parent) if kind.parent else None
        running = await read(remote.client, kind, str(result["id"]), parent, view="running")
        after = result["diff"]["after"]
        if result["action"] == "delete":
            still = running is None
        elif running is None:
            still = False
        else:
            wanted = kind.parse(after, zone=after.get("zone")) if kind.parent == "vnet" else kind.parse(after)
            still = not changes(wanted, running.model)
        if not still:
            moved.append(kind.describe(str(result["id"]), parent))
    return moved


def committed(remote: Remote) -> bool:
    """Whether Proxmox VE committed this remote's apply (whatever its reload did)."""
    return remote.phase in APPLY and remote.phase != Phase.APPLYING


def outcome(original: Remote, revert: Optional[Remote], moved: list[str], *, transaction: str) -> dict:
    """The `revert` field of one remote of the first transaction (`moved`: what changed since)."""
    if not committed(original):
        return {"state": NOT_COMMITTED}
    if moved:
        return {"state": CHANGED_SINCE, "error": "changed since this transaction applied: " + ", ".join(moved),
                "recovery": "not reverted; inspect it (pvefleet.sdn.sdn_info view=running) and undo by hand"}
    if revert is None:
        return {"state": FAILED, "error": f"not reverted: {original.revert_error or 'the revert did not run'}",
                "recovery": "the remote keeps the change of the transaction; check it with pvefleet.sdn.sdn_info "
                            "view=running, and run the play again without the change to undo it"}
    if revert.phase in (Phase.APPLIED, Phase.UNCHANGED):
        return {"state": REVERTED}
    state = {"state": FAILED, "phase": str(revert.phase), "error": revert.error or "the revert did not finish"}
    if revert.phase in APPLY:
        state["recovery"] = revert.recovery or "the revert was committed; check the reload on every node"
    else:
        state["recovery"] = (revert.recovery or
                             f"the remote keeps the change of the transaction; if a lock is left, run the "
                             f"playbook pvefleet.sdn.recover with -e transaction={transaction}")
    return state
