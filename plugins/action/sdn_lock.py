# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Take, release or roll back a remote's SDN lock as part of a transaction (docs: modules/sdn_lock.py)."""
from __future__ import annotations

import asyncio
import time
from collections import Counter

from ansible_collections.pvefleet.sdn.plugins.module_utils import _privileges as privileges
from ansible_collections.pvefleet.sdn.plugins.module_utils import _steps as steps
from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import (
    CONNECTION,
    JOURNAL,
    LOCK_TOKEN,
    merge,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import UNSETTLED, JournalConflict, RunId
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import ACTIVE, CLEAN, Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import DEFAULT_CONCURRENCY, fleet_client, run_phase
from ansible_collections.pvefleet.sdn.plugins.plugin_utils import _watchdog as watchdog
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._guards import check_protected, transaction_hosts
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._transaction_action import TransactionAction

ARGSPEC = merge(CONNECTION, LOCK_TOKEN, JOURNAL, dict(
    state=dict(type="str", default="locked", choices=["locked", "released", "rolled_back"]),
    allow_pending=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
    release_on_exit=dict(type="bool", default=True),
))
# How long a rescue waits for the remotes other hosts are rolling back, to report every remote.
OTHERS_SECONDS = 120.0


class ActionModule(TransactionAction):
    ARGSPEC = ARGSPEC

    async def execute(self, args: dict) -> dict:
        state = args["state"]
        if state == "locked":
            return await self._lock(args)
        if state == "released":
            return await self._release(args)
        return await self._roll_back(args)

    # locked

    async def _lock(self, args: dict) -> dict:
        check_protected(self._task, self.task_vars, "sdn_lock")
        settings = self.connection_for(args)
        hosts = transaction_hosts(self.task_vars)
        if len(hosts) > 1:
            self.check_settings_derivable(args)
        if self.check_mode:
            # Check mode takes no lock: it says whether the lock could be taken now, if the token may ask.
            async with PveClient(settings) as client:
                lock = await LockSession(client).lock_state()
            messages = {"held": "check mode: the lock is held by another client",
                        "free": "check mode: the lock is free and would be taken",
                        "unknown": f"check mode: the lock's state is unknown ({lock.get('reason')})"}
            return {"changed": False, "locked": False, "lock_free": None if lock["held"] is None else not lock["held"],
                    "lock": lock, "msg": messages[lock["state"]]}
        journal = self.journal(args)
        run = RunId.current()
        journal.join(run, self.host, settings.public_fields())
        refused = await self._preflight(args, journal, hosts)
        if refused:
            journal.update(self.host, phase=Phase.NOT_LOCKED, error="the preflight failed")
            raise PveFleetError("not locking any remote of the transaction: " + "; ".join(
                message for _host, message in sorted(refused.items())))
        warnings = []
        if args["release_on_exit"]:
            try:
                watchdog.register(journal, run, self.host, settings)
            except Exception as exc:  # a safety net that failed must not stop the transaction
                warnings.append(f"the watchdog that rolls back after an interrupted run could not start ({exc}); "
                                "if this run stops before applying, run the playbook pvefleet.sdn.recover")
        remote = Remote(self.host, settings, by=self.host)
        remote.on_change = self._journal_pen(args)
        async with PveClient(settings) as client:
            remote.client = client
            await steps.lock(remote, allow_pending=args["allow_pending"])
        # Taken and released within the transaction, the lock alone changes nothing: the changes and
        # the apply report what did.
        result = {"changed": False, "locked": True, "transaction": args["transaction"],
                  "journal": str(journal.path), "msg": f"SDN lock of {settings.remote} taken"}
        if warnings:
            result["warnings"] = warnings
        return result

    async def _preflight(self, args: dict, journal, hosts: list[str]) -> dict[str, str]:
        """Before any host of the transaction takes a lock, the first to get here checks every remote
        (steps.preflight: reachable, trusted, credentials, Proxmox VE 9), so that a PVE 8 remote or a
        wrong secret is found with nothing locked; the others use its verdict. What failed, by host
        (each message naming its host)."""
        with journal.exclusive("preflight"):
            verdict = journal.read().get("preflight")
            if verdict is None or self.host not in verdict.get("hosts", []):
                verdict = {"hosts": sorted(hosts), "failed": await self._preflight_all(args, hosts)}
                journal.set_field("preflight", verdict)
        return verdict["failed"]

    async def _preflight_all(self, args: dict, hosts: list[str]) -> dict[str, str]:
        failed: dict[str, str] = {}
        remotes = []
        for host in hosts:
            try:
                remotes.append(Remote(host, self.connection_for(args, host)))
            except PveFleetError as exc:
                failed[host] = f"{host}: {exc}"

        async def one(remote: Remote) -> None:
            async with PveClient(remote.settings) as client:
                remote.client = client
                await steps.preflight(remote)
                # The changes are the later tasks' to check; the lock and the apply need this.
                lacking = await privileges.missing(client, {privileges.TRANSACTION})
                if lacking:
                    raise privileges.MissingPrivileges(remote.host, lacking)

        await run_phase(one, remotes, semaphore=asyncio.Semaphore(DEFAULT_CONCURRENCY),
                        on_failure=lambda remote, message: failed.__setitem__(remote.host, message))
        return failed

    # released

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
            journal.update(self.host, phase=Phase.RELEASED, token=None)
        return {"changed": True, "released": True, "msg": f"SDN lock of {settings.remote} released"}

    # rolled_back

    async def _roll_back(self, args: dict) -> dict:
        """Roll back and release this host's remote, then every other remote of the transaction
        that is still locked: a rescue running on one host is enough, and each remote is claimed
        once so that hosts running the rescue together do not roll back twice. The result tells,
        for every remote of the transaction, what became of it and which host did it."""
        journal = self.journal(args)
        record = journal.read()
        owner, run = record.get("run") or {}, RunId.current()
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
        entries = record.get("remotes", {})
        cause = {h: e["error"] for h, e in sorted(entries.items()) if e.get("error")}
        if self.check_mode:
            active = sorted(h for h, e in entries.items() if e.get("phase") in ACTIVE)
            return {"changed": bool(active), "remotes": {h: {"state": "would roll back"} for h in active},
                    "failed_remotes": [], "cause": cause, "msg": f"check mode: {len(active)} remote(s) would be rolled back"}
        done: dict[str, dict] = {}
        if self.host not in entries and (args["lock_token"] or args["force"]):
            done[self.host] = await self._roll_back_unrecorded(args)
        # A run that is gone may have died while applying, or while rolling back: find out how far it got.
        claimable = UNSETTLED if foreign else ACTIVE - {Phase.ROLLING_BACK}
        hosts = [self.host] + sorted(h for h in entries if h != self.host)
        claimed, left = [], {}
        for host in hosts:
            entry = journal.claim(host, claimable, Phase.ROLLING_BACK)
            if entry is None:
                continue
            try:
                claimed.append(self.remote_from_journal(args, host, entry))
            except PveFleetError as exc:
                journal.update(host, phase=entry["phase"])  # let go: its own host's rescue does it
                left[host] = f"left to its own host: {exc}"
        await run_phase(self._unwind, claimed, semaphore=asyncio.Semaphore(DEFAULT_CONCURRENCY))
        return await self._rollback_result(journal, cause, {r.host for r in claimed}, done, left)

    async def _unwind(self, remote: Remote) -> None:
        async with fleet_client(remote.settings, remote.identity) as client:
            remote.client = client
            await steps.unwind(remote)

    async def _roll_back_unrecorded(self, args: dict) -> dict:
        """Recovery without a record: with a token, as any rollback; with force, free the lock
        first (whoever holds it) and roll back unlocked."""
        remote = Remote(self.host, self.connection_for(args), phase=Phase.CHANGED, token=args["lock_token"],
                        by=self.host)
        async with PveClient(remote.settings) as client:
            remote.client = client
            session = LockSession(client)
            if args["force"]:
                held, pending = await asyncio.gather(session.probe(), pending_objects(client))
                if not held and not pending:
                    return {"state": str(Phase.UNCHANGED), "by": self.host}  # nothing to force
                await session.release(None, force=True)
                await session.rollback(None, release=True)
                return {"state": str(Phase.ROLLED_BACK), "by": self.host}
            await run_phase(steps.unwind, [remote])
        return {"state": str(remote.phase), "by": self.host, "error": remote.error, "recovery": remote.recovery}

    async def _rollback_result(self, journal, cause: dict, mine: set[str], done: dict, left: dict) -> dict:
        """Every remote of the transaction: its state and who made it so, the same on every host
        once the remotes other hosts were rolling back are done."""
        deadline = time.monotonic() + OTHERS_SECONDS
        while True:
            entries = journal.read().get("remotes", {})
            busy = [h for h, e in entries.items() if e.get("phase") == Phase.ROLLING_BACK]
            if not busy or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        remotes = dict(done)
        for host, entry in sorted(entries.items()):
            outcome = {"state": entry.get("phase"), "by": entry.get("by")}
            for name in ("error", "recovery", "unwind"):
                if entry.get(name):
                    outcome[name] = entry[name]
            if host in left and entry.get("phase") in ACTIVE:
                outcome["state"], outcome["note"] = "waiting", left[host]
            remotes[host] = outcome
        unsettled = {Phase.STUCK, Phase.LOCK_LOST, Phase.LOCK_UNKNOWN, Phase.ROLLING_BACK}
        failed = sorted(h for h, o in remotes.items() if o["state"] in unsettled)
        states = Counter(str(o["state"]) for o in remotes.values())
        undone = sum(1 for o in remotes.values() if o["state"] in CLEAN)
        mine_done = sorted(mine | (set(done) & {self.host}))
        if undone == len(remotes):
            summary = f"rolled back and released {states.get(str(Phase.ROLLED_BACK), 0)}/{len(remotes)} remote(s)"
            if undone > states.get(str(Phase.ROLLED_BACK), 0):
                summary += f" (the others: {', '.join(f'{s} {n}' for s, n in sorted(states.items()) if s != 'rolled_back')})"
        else:
            summary = f"the {len(remotes)} remote(s) of the transaction: " + ", ".join(
                f"{s} {n}" for s, n in sorted(states.items()))
        summary += f"; this host did {len(mine_done)}"
        result = {"changed": bool(mine_done), "remotes": remotes, "failed_remotes": failed, "cause": cause,
                  "by_this_host": mine_done, "msg": summary}
        if failed:
            result.update(failed=True, msg="could not roll back and release every remote: " + "; ".join(
                f"{h}: {remotes[h]['state']}, {remotes[h].get('recovery', '')}" for h in failed) + f". {summary}")
        return result
