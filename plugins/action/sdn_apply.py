# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a remote's pending SDN configuration and follow the reload to its end (docs: modules/sdn_apply.py)."""
from __future__ import annotations

import asyncio

from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import apply_and_wait, apply_or_unwind, pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import (
    CONNECTION,
    JOURNAL,
    LOCK_TOKEN,
    merge,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import FleetPace
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._guards import check_protected
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._transaction_action import TOKEN_PHASES, TransactionAction

ARGSPEC = merge(CONNECTION, LOCK_TOKEN, JOURNAL, dict(
    timeout=dict(type="float", default=600.0),
    check_nodes=dict(type="bool", default=True),
))

LOCK_LOST = (
    "the SDN lock of {remote} is no longer held by this transaction (it was force-released, or "
    "taken by another client): the pending configuration may hold changes made by others since, "
    "so nothing is applied anywhere. Inspect it with pvefleet.sdn.sdn_info, then roll back or "
    "apply it by hand")
# A remote of the transaction in one of these phases means the transaction must not be applied.
BLOCKING_PHASES = frozenset({"failed", "lock_failed", "locking", "rolling_back", "rolled_back", "stuck", "lock_lost"})


class ActionModule(TransactionAction):
    ARGSPEC = ARGSPEC

    async def execute(self, args: dict) -> dict:
        journal = self.journal(args)
        entry = self.this_run_entry(journal)
        token = self.lock_token(args, journal)
        if entry:
            check_protected(self._task, self.task_vars, "sdn_apply")
            self._refuse_if_transaction_failed(journal)
            if not self.check_mode and not args.get("lock_token"):
                await self._apply_transaction(args, journal)
                result = journal.read().get("remotes", {}).get(self.host, {}).get("result")
                if result is not None:
                    return result
                token = self.lock_token(args, journal)  # not applied with the others: no token left
        settings = self.connection_for(args)
        async with PveClient(settings) as client:
            pending = await pending_objects(client)
            if token and not entry and not self.check_mode and not await LockSession(client).holds(token):
                raise PveFleetError(LOCK_LOST.format(remote=settings.remote))
            if not pending:
                if token and not self.check_mode:
                    await LockSession(client).release(token)
                    if entry:
                        journal.update(self.host, phase="released")
                return {"changed": False, "applied": False, "pending": [],
                        "msg": "nothing pending: not applied" + (", lock released" if token else "")}
            if self.check_mode:
                return {"changed": True, "applied": False, "pending": pending,
                        "msg": f"check mode: {len(pending)} pending change(s) would be applied"}
            if entry:
                journal.update(self.host, phase="applying")
            try:
                outcome = await apply_and_wait(client, token, timeout=args["timeout"],
                                               check_nodes=args["check_nodes"])
            except PveFleetError as exc:
                if entry:
                    journal.update(self.host, phase="apply_failed", error=str(exc))
                raise
        phase, result = _applied(settings.remote, pending, outcome)
        if entry:
            journal.update(self.host, phase=phase, error=outcome.get("error"))
        return result

    async def _apply_transaction(self, args: dict, journal) -> None:
        """Verify every lock of the transaction, then apply every remote at once, exactly once.

        PVE accepts any token while no lock is held, so a lock force-released under the
        transaction is invisible to the writes: before any remote applies, all are checked. The
        first host to get here does both for the whole transaction, like PDM; the others wait
        for it and return their own result from the journal. So the apply takes one reload
        task's time whatever the forks, instead of one per batch of forks.
        """
        with journal.exclusive("verify"):
            record = journal.read()
            if record.get("verification") is None:
                remotes = record.get("remotes", {})
                hosts = sorted(h for h, e in remotes.items() if e.get("phase") in TOKEN_PHASES and e.get("token"))
                held = await asyncio.gather(*(self._holds(args, h, remotes[h]["token"]) for h in hosts))
                lost = [h for h, ok in zip(hosts, held) if not ok]
                for host in lost:
                    # Not ours any more: the rescue must not roll back what may be others' changes.
                    journal.update(host, phase="lock_lost", token=None, error="lock lost before applying")
                verdict = {"ok": not lost, "lost": lost}
                journal.set_field("verification", verdict)
                if verdict["ok"]:
                    await self._apply_all(args, journal, {h: remotes[h]["token"] for h in hosts})
            verdict = journal.read()["verification"]
        if not verdict["ok"]:
            raise PveFleetError(LOCK_LOST.format(remote=", ".join(verdict["lost"])))

    async def _apply_all(self, args: dict, journal, tokens: dict[str, str]) -> None:
        journal.update_many({host: {"phase": "applying"} for host in tokens})
        pace = FleetPace()
        results = await asyncio.gather(*(self._apply_one(args, host, token, pace) for host, token in tokens.items()))
        for _phase, result in results:
            result["applied_by"] = self.host  # which host's task applied the transaction
        journal.update_many({host: {"phase": phase, "error": result.get("msg") if result.get("failed") else None,
                                    "token": tokens[host] if phase == "failed" else None, "result": result}
                             for host, (phase, result) in zip(tokens, results)})

    async def _apply_one(self, args: dict, host: str, token: str, pace: FleetPace) -> tuple[str, dict]:
        """One remote of the transaction: its journal phase and its task result."""
        settings = self.connection_for(args, host)
        try:
            async with PveClient(settings) as client:
                pending = await pending_objects(client)
                if not pending:
                    await LockSession(client).release(token)
                    return "released", {"changed": False, "applied": False, "pending": [],
                                        "msg": "nothing pending: not applied, lock released"}
                outcome = await apply_or_unwind(client, token, timeout=args["timeout"],
                                                check_nodes=args["check_nodes"], pace=pace)
        except PveFleetError as exc:
            # Not even a connection, or the pending read failed: the lock and the changes are as
            # they were; the journal keeps the token so that the rescue's rollback can undo them.
            return "failed", {"failed": True, "changed": False, "applied": False,
                              "msg": f"the apply on {settings.remote} could not start: {exc}"}
        if outcome.error is not None:
            unwind = outcome.unwind
            return "apply_failed", {"failed": True, "changed": False, "applied": False, "unwind": unwind.as_dict(),
                                    "msg": f"the apply on {settings.remote} failed: {outcome.error}"
                                           + (f"; {unwind.recovery}" if unwind.recovery else "")}
        return _applied(settings.remote, pending, outcome.report)

    async def _holds(self, args: dict, host: str, token: str) -> bool:
        try:
            async with PveClient(self.connection_for(args, host)) as client:
                return await LockSession(client).holds(token)
        except PveFleetError:
            return False

    def _refuse_if_transaction_failed(self, journal) -> None:
        remotes = journal.read().get("remotes", {})
        bad = sorted(f"{host} ({entry.get('phase')})" for host, entry in remotes.items()
                     if entry.get("phase") in BLOCKING_PHASES)
        if bad:
            raise PveFleetError(
                "not applying: other remotes of this transaction did not get ready: "
                + ", ".join(bad) + ". Roll back the transaction with pvefleet.sdn.sdn_lock state=rolled_back")


def _applied(remote: str, pending: list[str], outcome: dict) -> tuple[str, dict]:
    """The journal phase and task result of a remote whose apply ran (its reload may have failed)."""
    result = {"changed": True, "applied": True, "pending": pending, **outcome}
    if not outcome["ok"]:
        result.update(failed=True, msg=f"the apply on {remote} failed: {outcome['error']}")
        return "apply_failed", result
    result["msg"] = f"applied {len(pending)} change(s); reload {outcome['exitstatus']} on every node"
    return "applied", result
