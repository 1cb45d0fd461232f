# Private to pvefleet.sdn: not a public API.
"""Undo one remote's part of a transaction that will not be applied, and say what is left.

Used by the rescue of the task-by-task style, by the fleet engine and by recovery, so that all
three leave a remote in the same state and report it in the same words.
"""
from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import LockTokenError, PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession

FORCE_RELEASE_HINT = (
    "to free it by hand: `pvesh delete /cluster/sdn/lock --force 1` on a node of the remote, "
    "or pvefleet.sdn.sdn_lock with state=released and force=true"
)
TAKEN_OVER = (
    "another client holds the SDN lock of this remote now (ours was force-released), and its pending "
    "configuration still holds our changes: do not force-release that lock while its owner works; "
    "then inspect the remote with pvefleet.sdn.sdn_info and roll back or apply"
)
ROLLBACK_HINT = (
    "to drop its pending SDN changes: `pvesh create /cluster/sdn/rollback` on a node of the "
    "remote (once the lock is free), or pvefleet.sdn.sdn_lock with state=rolled_back and force=true"
)


@dataclass
class UnwindOutcome:
    """How one remote was left: `rolled_back` (clean), `released` (lock freed, pending changes
    kept) or `stuck` (neither worked)."""

    state: str
    errors: list[str]
    recovery: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "rolled_back"

    def as_dict(self) -> dict:
        data = {"state": self.state, "ok": self.ok}
        if self.errors:
            data["errors"] = list(self.errors)
        if self.recovery:
            data["recovery"] = self.recovery
        return data


async def rollback_and_release(session: LockSession, token: str | None) -> UnwindOutcome:
    """Roll back the pending changes and release the lock; if the rollback fails, at least try
    a plain release so the remote is not left locked."""
    errors: list[str] = []
    try:
        await session.rollback(token, release=True)
        return UnwindOutcome("rolled_back", errors)
    except LockTokenError as exc:
        if token:  # PVE refused our own token: the lock is someone else's, a release would fail too
            return UnwindOutcome("stuck", [f"rollback failed: {exc}"], TAKEN_OVER)
        errors.append(f"rollback failed: {exc}")
    except PveFleetError as exc:
        errors.append(f"rollback failed: {exc}")
    try:
        await session.release(token)
    except PveFleetError as exc:
        errors.append(f"release failed: {exc}")
        return UnwindOutcome("stuck", errors,
                             f"the remote may still be locked and have pending changes; {FORCE_RELEASE_HINT}; "
                             f"then {ROLLBACK_HINT}")
    return UnwindOutcome("released", errors, f"the lock is free but the pending changes were kept; {ROLLBACK_HINT}")
