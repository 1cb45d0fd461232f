# Private to pvefleet.sdn: not a public API.
"""Where one remote of a transaction stands: one set of names for the fleet engine, the
task-by-task style, the journal, the watchdog and recovery."""
from __future__ import annotations

import enum


class Phase(str, enum.Enum):
    """A remote's phase. The value is what the journal and the results show."""

    PLANNED = "planned"              # part of the transaction; nothing sent yet
    CHECKED = "checked"              # check mode: planned against the remote, nothing locked
    LOCKING = "locking"              # a lock request may be under way
    LOCK_UNKNOWN = "lock_unknown"    # the lock request got no answer: the remote may hold a lock nobody knows
    LOCKED = "locked"                # holds our lock
    CHANGED = "changed"              # holds our lock and our changes
    FAILED = "failed"                # a change failed; our lock and changes are still there
    LOCK_FAILED = "lock_failed"      # the lock was refused (another client holds it, an error)
    NOT_LOCKED = "not_locked"        # never tried: the transaction stopped before
    RELEASED = "released"            # our lock released, nothing of ours pending
    ROLLING_BACK = "rolling_back"    # claimed by one process to be rolled back
    ROLLED_BACK = "rolled_back"      # our changes dropped, our lock released
    LOCK_LOST = "lock_lost"          # our lock was taken away; its pending config may hold others' changes
    STUCK = "stuck"                  # could be neither rolled back nor released: a person must look
    APPLYING = "applying"            # the apply may have been sent: no rollback from here on
    APPLIED = "applied"              # committed, and every node reloaded
    APPLY_FAILED = "apply_failed"    # committed, but the reload failed on a node (or timed out)
    APPLY_UNKNOWN = "apply_unknown"  # committed (or most likely so), the reload's result unknown
    UNCHANGED = "unchanged"          # nothing to apply: the lock released, nothing committed
    PREVIEWED = "previewed"          # plan mode: changed and previewed under our lock, then rolled back and released

    def __str__(self) -> str:
        return self.value


# The remote may hold our lock or our pending changes: a rollback is owed.
ACTIVE = frozenset({Phase.LOCKING, Phase.LOCK_UNKNOWN, Phase.LOCKED, Phase.CHANGED, Phase.FAILED,
                    Phase.ROLLING_BACK})
# This phase's record holds a lock token that later tasks must send.
HOLDING = frozenset({Phase.LOCKED, Phase.CHANGED})
# Applying has begun: no rollback any more, only a report.
APPLY = frozenset({Phase.APPLYING, Phase.APPLIED, Phase.APPLY_FAILED, Phase.APPLY_UNKNOWN})
# The remote is as the transaction left it for good (applied, clean, or told to a person).
SETTLED = frozenset({Phase.APPLIED, Phase.APPLY_FAILED, Phase.APPLY_UNKNOWN, Phase.UNCHANGED, Phase.RELEASED,
                     Phase.ROLLED_BACK, Phase.LOCK_FAILED, Phase.NOT_LOCKED, Phase.LOCK_LOST, Phase.STUCK,
                     Phase.PREVIEWED})
# Ended well: what a successful transaction leaves.
SUCCEEDED = frozenset({Phase.APPLIED, Phase.UNCHANGED, Phase.CHECKED, Phase.PREVIEWED})
# Nothing of the transaction is left on the remote, and nothing of it was applied.
CLEAN = frozenset({Phase.ROLLED_BACK, Phase.RELEASED, Phase.NOT_LOCKED, Phase.LOCK_FAILED, Phase.PREVIEWED})
# Any other remote in one of these phases stops the task-by-task transaction from applying.
BLOCKING = frozenset({Phase.FAILED, Phase.LOCK_FAILED, Phase.LOCKING, Phase.LOCK_UNKNOWN, Phase.ROLLING_BACK,
                      Phase.ROLLED_BACK, Phase.STUCK, Phase.LOCK_LOST, Phase.NOT_LOCKED})


def phase_of(value) -> Phase | None:
    """The Phase of a journal entry's `phase`, None if it has none."""
    return Phase(value) if value else None
