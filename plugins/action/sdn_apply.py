# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a remote's pending SDN configuration and follow the reload to its end (docs: modules/sdn_apply.py)."""
from __future__ import annotations

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
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, journal_path
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import APPLY, BLOCKING, HOLDING, Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote
from ansible_collections.pvefleet.sdn.plugins.module_utils._report import preview_diffs, preview_summary
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import FleetTransaction
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._guards import check_protected
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._transaction_action import TransactionAction

ARGSPEC = merge(CONNECTION, LOCK_TOKEN, JOURNAL, dict(
    timeout=dict(type="float", default=600.0),
    check_nodes=dict(type="bool", default=True),
    preview=dict(type="bool", default=False),
    on_apply_failure=dict(type="str", default="report", choices=["report", "revert"]),
))

LOCK_LOST = (
    "the SDN lock of {remote} is no longer held by this transaction (it was force-released, or "
    "taken by another client): the pending configuration may hold changes made by others since, "
    "so nothing is applied anywhere. Inspect it with pvefleet.sdn.sdn_info, then roll back or "
    "apply it by hand")


class ActionModule(TransactionAction):
    ARGSPEC = ARGSPEC

    async def execute(self, args: dict) -> dict:
        journal = self.journal(args)
        entry = self.this_run_entry(journal)
        if args["preview"]:
            return await self._preview(args)
        if entry and not args.get("lock_token"):
            check_protected(self._task, self.task_vars, "sdn_apply")
            self._refuse_if_transaction_failed(journal)
            if not self.check_mode:
                return await self._apply_transaction(args, journal)
        return await self._apply_alone(args, journal, entry)

    async def _apply_transaction(self, args: dict, journal) -> dict:
        """Verify every lock of the transaction, then apply every remote at once, exactly once.

        PVE accepts any token while no lock is held, so a lock force-released under the
        transaction is invisible to the writes: before any remote applies, all are checked. The
        first host to get here does both for the whole transaction, like PDM, with the engine's
        own phases; the others wait for it and return their own result from the journal. So the
        apply takes one reload task's time whatever the forks, instead of one per batch of forks.
        """
        with journal.exclusive("verify"):
            record = journal.read()
            if record.get("verification") is None:
                verdict = await self._verify_and_apply_all(args, journal, record.get("remotes", {}))
                journal.set_field("verification", verdict)
            record = journal.read()
        verdict = record["verification"]
        if not verdict["ok"]:
            raise PveFleetError(verdict["msg"])
        result = record.get("remotes", {}).get(self.host, {}).get("result")
        if result is None:
            raise PveFleetError(f"{self.host}: not applied: the transaction's apply (by {verdict.get('by')}) did not "
                                "include this remote; roll the transaction back with pvefleet.sdn.sdn_lock state=rolled_back")
        return result

    async def _verify_and_apply_all(self, args: dict, journal, entries: dict) -> dict:
        holding = sorted(h for h, e in entries.items() if e.get("phase") in HOLDING and e.get("token"))
        remotes, refused = [], {}
        for host in holding:
            try:
                remotes.append(self.remote_from_journal(args, host, entries[host]))
            except PveFleetError as exc:
                refused[host] = str(exc)
        if refused:
            return {"ok": False, "by": self.host, "msg": "not applying anywhere: " + "; ".join(
                f"{host}: {text}" for host, text in sorted(refused.items()))}
        revert_journal = (Journal(journal_path(f"{args['transaction']}-revert", args.get("journal_dir")))
                          if args["on_apply_failure"] == "revert" else None)
        engine = FleetTransaction(remotes, apply_timeout=args["timeout"], check_nodes=args["check_nodes"],
                                  journal=journal, actor=self.host, list_pending=True, revert_journal=revert_journal)
        report = await engine.apply_locked()
        lost = sorted(r.host for r in remotes if r.phase == Phase.LOCK_LOST and r.apply is None)
        if lost or (engine.abort.is_set() and not any(r.phase in APPLY for r in remotes)):
            return {"ok": False, "by": self.host, "msg": LOCK_LOST.format(remote=", ".join(lost))
                    if lost else f"not applying anywhere: {report['aborted']}"}
        journal.update_many({r.host: {"result": _result(r, applied_by=self.host)} for r in remotes})
        return {"ok": True, "by": self.host}

    async def _preview(self, args: dict) -> dict:
        """The confirm gate of the task-by-task style: what each node would get from the pending
        config, nothing applied (the lock, if any, stays held for the task that applies)."""
        settings = self.connection_for(args)
        remote = Remote(self.host, settings, by=self.host)
        async with PveClient(settings) as client:
            remote.client = client
            remote.pending = await pending_objects(client)
            await steps.preview(remote)
        preview = remote.preview or {}
        result = {"changed": False, "remote": settings.remote, "pending": list(remote.pending), "preview": preview,
                  "msg": (f"not applied; preview of {preview_summary({self.host: preview})}" if "nodes" in preview
                          else f"not applied; no preview: {preview.get('unavailable')}")}
        if self.diff:
            result["diff"] = preview_diffs(self.host, preview)
        return result

    async def _apply_alone(self, args: dict, journal, entry: dict) -> dict:
        """One remote, outside a transaction of this run (or with an explicit lock_token)."""
        token = self.lock_token(args, journal)
        settings = self.connection_for(args)
        remote = Remote(self.host, settings, phase=Phase.LOCKED if token else Phase.PLANNED, token=token,
                        identity=entry.get("identity") if token and not args.get("lock_token") else None,
                        by=self.host)
        async with PveClient(settings, identity=remote.identity) as client:
            remote.client = client
            remote.pending = await pending_objects(client)
            if token and not self.check_mode and not await LockSession(client).holds(token):
                raise PveFleetError(LOCK_LOST.format(remote=settings.remote))
            if self.check_mode:
                return {**_result(remote), "changed": bool(remote.pending),
                        "msg": f"check mode: {len(remote.pending)} pending change(s) would be applied"
                        if remote.pending else "check mode: nothing pending"}
            if not remote.pending and not token:
                return {**_result(remote), "msg": "nothing pending: not applied"}
            await steps.apply(remote, timeout=args["timeout"], check_nodes=args["check_nodes"])
        return _result(remote)

    def _refuse_if_transaction_failed(self, journal) -> None:
        remotes = journal.read().get("remotes", {})
        bad = sorted(f"{host} ({entry.get('phase')})" for host, entry in remotes.items()
                     if entry.get("phase") in BLOCKING)
        if bad:
            raise PveFleetError(
                "not applying: other remotes of this transaction did not get ready: "
                + ", ".join(bad) + ". Roll back the transaction with pvefleet.sdn.sdn_lock state=rolled_back")


def _result(remote: Remote, applied_by: str | None = None) -> dict:
    """The task result of one remote's apply; the same keys whatever happened."""
    report = remote.apply or {}
    applied = remote.phase in APPLY
    result = {"changed": applied, "applied": applied, "ok": remote.ok or remote.phase == Phase.PLANNED,
              "phase": str(remote.phase), "pending": list(remote.pending),
              "upid": report.get("upid"), "node": report.get("node"), "exitstatus": report.get("exitstatus"),
              "task_duration": report.get("task_duration"), "duration": report.get("duration"),
              "nodes": report.get("nodes", {}), "applied_by": applied_by or remote.by}
    name = remote.settings.remote
    if remote.phase == Phase.APPLIED:
        result["msg"] = (f"applied {len(remote.pending) or 'the'} change(s) on {name}; "
                         f"reload {report.get('exitstatus')} on every node")
    elif remote.phase == Phase.UNCHANGED:
        result["msg"] = "nothing pending: not applied, lock released"
    elif remote.phase != Phase.PLANNED:
        if remote.phase == Phase.APPLY_UNKNOWN:
            text = f"{name}: {remote.error}"
        elif remote.phase == Phase.APPLY_FAILED:
            text = f"{name}: applied, but the reload failed: {remote.error}"
        else:
            text = f"{name}: the apply failed, and the remote is now {remote.phase}: {remote.error}"
        result.update(failed=True, msg=text + (f"; {remote.recovery}" if remote.recovery else ""))
        for name in ("error", "recovery", "unwind"):
            if getattr(remote, name):
                result[name] = getattr(remote, name)
        if report.get("log_tail"):
            result["log_tail"] = report["log_tail"]
    if remote.revert:
        result["revert"] = remote.revert
    return result
