# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take, release or roll back a remote's SDN lock as part of a transaction (docs: modules/sdn_lock.py)."""
from __future__ import annotations

import asyncio
from collections import Counter

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import (
    CONNECTION,
    JOURNAL,
    LOCK_TOKEN,
    merge,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError, TransportError
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import ACTIVE_PHASES, JournalConflict, RunId
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._unwind import FORCE_RELEASE_HINT, rollback_and_release
from ansible_collections.pvefleet.sdn.plugins.plugin_utils import _watchdog as watchdog
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._guards import check_protected
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._transaction_action import TransactionAction

ARGSPEC = merge(CONNECTION, LOCK_TOKEN, JOURNAL, dict(
    state=dict(type="str", default="locked", choices=["locked", "released", "rolled_back"]),
    allow_pending=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    release_on_exit=dict(type="bool", default=True),
))


class ActionModule(TransactionAction):
    ARGSPEC = ARGSPEC

    async def execute(self, args: dict) -> dict:
        state = args["state"]
        if state == "locked":
            return await self._lock(args)
        if state == "released":
            return await self._release(args)
        return await self._roll_back(args)

    async def _lock(self, args: dict) -> dict:
        check_protected(self._task, self.task_vars, "sdn_lock")
        settings = self.connection_for(args)
        if self.check_mode:
            # Check mode takes no lock: it says whether the lock could be taken now.
            async with PveClient(settings) as client:
                held = await LockSession(client).probe()
            return {"changed": not held, "locked": False, "lock_free": not held,
                    "msg": "check mode: the lock is held by another client" if held else
                    "check mode: the lock is free and would be taken"}
        journal = self.journal(args)
        run = RunId.current()
        journal.join(run, self.host, settings.public_fields())
        warnings = []
        if args["release_on_exit"]:
            try:
                watchdog.register(journal, run, self.host, settings)
            except Exception as exc:  # a safety net that failed must not stop the transaction
                warnings.append(f"the watchdog that rolls back after an interrupted run could not start ({exc}); "
                                "if this run stops before applying, run the playbook pvefleet.sdn.recover")
        try:
            async with PveClient(settings) as client:
                token = await LockSession(client).acquire(allow_pending=args["allow_pending"])
        except TransportError as exc:
            if exc.sent:
                # The lock request may have been carried out; its token never arrived. Never
                # re-send it blindly: say which remote may hold an orphaned lock.
                journal.update(self.host, phase="locking", error=str(exc))
                raise PveFleetError(
                    f"the lock request to {settings.remote} got no answer ({exc}); the remote may now "
                    f"hold a lock whose token was lost. Check it and, if so, {FORCE_RELEASE_HINT}") from exc
            journal.update(self.host, phase="lock_failed", error=str(exc))
            raise
        except PveFleetError as exc:
            journal.update(self.host, phase="lock_failed", error=str(exc))
            raise
        journal.update(self.host, phase="locked", token=token, error=None)
        result = {"changed": True, "locked": True, "transaction": args["transaction"],
                  "journal": str(journal.path), "msg": f"SDN lock of {settings.remote} taken"}
        if warnings:
            result["warnings"] = warnings
        return result

    async def _release(self, args: dict) -> dict:
        settings = self.connection_for(args)
        journal = self.journal(args)
        entry = journal.read().get("remotes", {}).get(self.host, {})
        token = args["lock_token"] or entry.get("token")
        async with PveClient(settings) as client:
            session = LockSession(client)
            held = await session.probe()
            if self.check_mode or not held:
                return {"changed": held, "released": False, "msg": "no lock is held" if not held else
                        "check mode: the lock would be released"}
            await session.release(token, force=args["force"])
        if entry:
            journal.update(self.host, phase="released")
        return {"changed": True, "released": True, "msg": f"SDN lock of {settings.remote} released"}

    async def _roll_back(self, args: dict) -> dict:
        """Roll back and release this host's remote, then every other remote of the transaction
        that is still locked: a rescue running on one host is enough, and each remote is claimed
        once so that hosts running the rescue together do not roll back twice."""
        journal = self.journal(args)
        record = journal.read()
        owner, run = record.get("run"), RunId.current()
        foreign = bool(owner) and owner != run.as_dict()
        # A run of another controller (an earlier AWX job's container) cannot be checked from here:
        # force says it is gone. A live run of this controller is never taken over.
        elsewhere = foreign and owner["controller"] != run.controller
        if foreign and RunId(**owner).is_alive() and not (elsewhere and args["force"]):
            raise JournalConflict(
                f"transaction '{args['transaction']}' belongs to a run that may still be going (pid {owner['pid']} "
                f"on {owner['controller']}); not rolling back its remotes from here"
                + (". If that run is gone (its controller or container no longer exists), recover with force=true"
                   if elsewhere else ""))
        hosts = [self.host] + sorted(h for h in record.get("remotes", {}) if h != self.host)
        # Why the transaction is being rolled back: the errors the remotes recorded.
        cause = {h: e["error"] for h, e in sorted(record.get("remotes", {}).items()) if e.get("error")}
        outcomes: dict[str, dict] = {}
        if self.check_mode:
            active = [h for h in hosts if record.get("remotes", {}).get(h, {}).get("phase") in ACTIVE_PHASES]
            return {"changed": bool(active), "remotes": {h: {"state": "would roll back"} for h in active}}
        if self.host not in record.get("remotes", {}) and (args["lock_token"] or args["force"]):
            outcomes[self.host] = await self._roll_back_unrecorded(args)
        for host in hosts:
            entry = journal.claim(host, ACTIVE_PHASES - {"rolling_back"}, "rolling_back")
            if entry is None and foreign:
                # A run that is gone may have died while applying: find out how far it got.
                entry = journal.claim(host, frozenset({"applying"}), "rolling_back")
            if entry is None:
                continue
            outcome = await self._roll_back_one(args, host, entry)
            journal.update(host, phase=outcome["state"], unwind=outcome)
            outcomes[host] = outcome
        failed = sorted(h for h, o in outcomes.items() if not o["ok"])
        states = Counter(o["state"] for o in outcomes.values() if o["state"] != "clean")
        result = {"changed": bool(states), "remotes": outcomes, "failed_remotes": failed, "cause": cause}
        if failed:
            result.update(failed=True, msg="could not roll back and release every remote: "
                          + "; ".join(f"{h}: {outcomes[h]['state']}, {outcomes[h].get('recovery', '')}" for h in failed))
        elif not states:
            result["msg"] = "nothing to roll back: no remote of the transaction is locked"
        elif set(states) == {"rolled_back"}:
            result["msg"] = f"rolled back and released {states['rolled_back']} remote(s)"
        else:
            result["msg"] = "remotes " + ", ".join(f"{state}: {n}" for state, n in sorted(states.items()))
        return result

    async def _roll_back_one(self, args: dict, host: str, entry: dict) -> dict:
        try:
            settings = self.connection_for(args, host, fallback=entry)
            async with PveClient(settings) as client:
                session = LockSession(client)
                if entry.get("phase") == "locking" and not entry.get("token"):
                    held = await session.probe()
                    return {"state": "unknown" if held else "released", "ok": not held, "recovery": (
                        f"the lock request got no answer and a lock is held now; it may be ours: {FORCE_RELEASE_HINT}"
                        if held else "")}
                if entry.get("phase") == "applying":
                    return await _settle_applying(client, session, entry.get("token"))
                return (await rollback_and_release(session, entry.get("token"))).as_dict()
        except PveFleetError as exc:
            return {"state": "stuck", "ok": False, "errors": [str(exc)], "recovery": FORCE_RELEASE_HINT}

    async def _roll_back_unrecorded(self, args: dict) -> dict:
        """Recovery without a record: with a token, as any rollback; with force, free the lock
        first (whoever holds it) and roll back unlocked."""
        settings = self.connection_for(args)
        async with PveClient(settings) as client:
            session = LockSession(client)
            if args["force"]:
                held, pending = await asyncio.gather(session.probe(), pending_objects(client))
                if not held and not pending:
                    return {"state": "clean", "ok": True}  # nothing to force
                await session.release(None, force=True)
                return (await rollback_and_release(session, None)).as_dict()
            return (await rollback_and_release(session, args["lock_token"])).as_dict()


async def _settle_applying(client, session: LockSession, token) -> dict:
    """A remote whose run died while applying it. Still locked with our token: the apply never
    committed, so it is rolled back. Lock free and nothing pending: the apply committed (its
    reload ran or runs on; sdn_info shows each node). Anything else is left for a person."""
    if token and await session.holds(token):
        return (await rollback_and_release(session, token)).as_dict()
    held, pending = await asyncio.gather(session.probe(), pending_objects(client))
    if not held and not pending:
        return {"state": "applied", "ok": True,
                "recovery": "the apply was committed before the run stopped; check each node with pvefleet.sdn.sdn_info"}
    return {"state": "stuck", "ok": False, "recovery": (
        f"the run stopped while applying; the lock is {'held by another client' if held else 'free'} and "
        f"{len(pending)} change(s) are pending: inspect them with pvefleet.sdn.sdn_info, then apply or roll back by hand")}
