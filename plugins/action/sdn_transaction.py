# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One task for a whole fleet: lock, change, apply and follow on every remote (docs: modules/sdn_transaction.py)."""
from __future__ import annotations

import asyncio
import json
import os
import signal

from ansible.utils.display import Display

from ansible_collections.pvefleet.sdn.plugins.module_utils._after_apply import AFTER_KINDS, AFTER_OPTIONS
from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, JOURNAL, merge
from ansible_collections.pvefleet.sdn.plugins.module_utils._consistency import RULES, Inconsistent
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId, journal_path
from ansible_collections.pvefleet.sdn.plugins.module_utils._report import (
    ProgressReporter,
    preview_diffs,
    preview_summary,
    summary_table,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import (
    DEFAULT_CONCURRENCY,
    KIND_ORDER,
    DesiredObject,
    FleetTransaction,
    Remote,
    list_option,
)
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._action import SdnAction
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._guards import check_batch

display = Display()
# Past this much per-remote detail (objects and their diffs) the result points to a file instead.
RESULT_DETAIL_BYTES = 64 * 1024

_OBJECT_LIST = dict(type="list", elements="dict", default=[])
ARGSPEC = merge(CONNECTION, JOURNAL, dict(
    remotes=dict(type="list", elements="str"),
    **{list_option(kind): _OBJECT_LIST for kind in KIND_ORDER},
    **{option: _OBJECT_LIST for option in AFTER_OPTIONS},
    remote_objects=dict(type="dict", default={}),
    concurrency=dict(type="int", default=DEFAULT_CONCURRENCY),
    allow_pending=dict(type="bool", default=False),
    apply_timeout=dict(type="float", default=600.0),
    check_nodes=dict(type="bool", default=True),
    lock_wait=dict(type="float", default=0.0),
    mode=dict(type="str", default="apply", choices=["apply", "plan"]),
    on_apply_failure=dict(type="str", default="report", choices=["report", "revert"]),
    consistency=dict(type="bool", default=True),
    allow=dict(type="list", elements="dict", default=[], options=dict(
        rule=dict(type="str", required=True, choices=list(RULES)),
        value=dict(type="raw"),
    )),
))


class ActionModule(SdnAction):
    ARGSPEC = ARGSPEC
    BYPASS_HOST_LOOP = True  # one run for the whole play batch, like add_host
    # Each remote's objects, like its connection settings, are the task's arguments templated with
    # that host's variables (a group's own zones, the role's variables of each host).
    PER_HOST = tuple(list_option(kind) for kind in KIND_ORDER) + AFTER_OPTIONS

    async def execute(self, args: dict) -> dict:
        hosts = args["remotes"] or list(self.task_vars.get("ansible_play_batch") or [self.host])
        check_batch(self.task_vars, "sdn_transaction")
        self._check_hosts(args, hosts)
        if len(hosts) > 1:
            self.check_settings_derivable(args)
        remotes = [Remote(host, self.connection_for(args, host), self._objects_for(args, host),
                          after=self._after_for(args, host)) for host in hosts]
        journal = None
        if not self.check_mode:
            journal = Journal(journal_path(args["transaction"], args.get("journal_dir")))
            journal.join_many(RunId.current(), {r.host: r.settings.public_fields() for r in remotes})
        engine = FleetTransaction(
            remotes, concurrency=args["concurrency"], check_mode=self.check_mode,
            allow_pending=args["allow_pending"], apply_timeout=args["apply_timeout"],
            check_nodes=args["check_nodes"], lock_wait=args["lock_wait"], journal=journal,
            preview=self.diff, plan=args["mode"] == "plan",
            revert_journal=Journal(journal_path(f"{args['transaction']}-revert", args.get("journal_dir")))
            if args["on_apply_failure"] == "revert" and journal is not None else None,
            progress=ProgressReporter(len(remotes), display.display), actor=f"sdn_transaction ({self.host})",
            consistency=args["consistency"], allow=args["allow"])
        with _signals_interrupt(engine):
            try:
                report = await engine.run()
            except Inconsistent as exc:
                # Refused before any lock, naming the remotes; not one host's failure. Nothing to recover.
                if journal is not None:
                    journal.forget()
                return {"changed": False, "failed": True, "msg": f"not going on to lock: {exc}",
                        "failure": exc.to_failure(), "clashes": [clash.as_dict() for clash in exc.clashes]}
        lines = summary_table(report)
        lacking = {r.host: [f"{priv} on {path}" for path, priv in r.missing_privileges]
                   for r in engine.remotes if r.missing_privileges}
        result = {"changed": report["changed"], "ok": report["ok"], "counts": report["counts"],
                  "remotes": {entry["host"]: _outcome(entry) for entry in report["failed"] + report["succeeded"]},
                  "failed_remotes": report["failed"], "succeeded_remotes": report["succeeded"],
                  "timings": report["timings"], "summary": lines, "missing_privileges": lacking}
        previews = {entry["host"]: entry["preview"] for entry in report["failed"] + report["succeeded"]
                    if entry.get("preview") is not None}
        if previews:
            result["preview"] = {"remotes": previews, "summary": preview_summary(previews)}
        if self.diff:
            result["diff"] = _diffs(report)
        self._keep_small(result, args)
        if lacking and report["ok"]:
            # A --check run reports what a real run would lack; check mode on this task alone, in a
            # real run (the role's preflight), is the last step before the locks: then it is an error.
            text = "; ".join(f"{host}: the API token lacks {', '.join(privs)}" for host, privs in sorted(lacking.items()))
            if self.task_vars.get("ansible_check_mode"):
                result["warnings"] = [f"check mode: a real run would fail ({text})"]
            else:
                report["ok"] = False
                result.update(failed=True, msg=f"not going on to lock: {text}")
                return result
        if report["ok"]:
            result["msg"] = f"{len(remotes)} remote(s): " + ", ".join(f"{k} {v}" for k, v in sorted(report["counts"].items()))
            if previews:
                result["msg"] += f"; preview: {result['preview']['summary']}"
        else:
            result["failed"] = True
            result["msg"] = (f"the transaction failed ({report['aborted'] or 'see failed_remotes'}); "
                             f"{len(report['failed'])} of {len(remotes)} remote(s) did not succeed:\n" + "\n".join(lines))
            reverts = [entry["revert"]["state"] for entry in report["failed"] + report["succeeded"] if entry.get("revert")]
            if reverts:
                result["msg"] += "\nrevert: " + ", ".join(f"{state} {reverts.count(state)}" for state in sorted(set(reverts)))
        if journal is not None and report["ok"]:
            journal.forget()
        return result

    def _keep_small(self, result: dict, args: dict) -> None:
        """A fleet's result goes through Ansible's callbacks and AWX's job events: past a size, the
        per-object detail goes to a file beside the journal, and the result keeps the rest."""
        detail = {"failed_remotes": result["failed_remotes"], "succeeded_remotes": result["succeeded_remotes"]}
        text = json.dumps(detail, default=str)
        if len(text) <= RESULT_DETAIL_BYTES:
            return
        path = journal_path(args["transaction"], args.get("journal_dir")).with_suffix(".report.json")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        for key in detail:
            result[key] = [{k: v for k, v in entry.items() if k != "objects"} for entry in result[key]]
        result["report_file"] = str(path)

    def _check_hosts(self, args: dict, hosts: list[str]) -> None:
        """Every remote named is an inventory host: a typo would otherwise drop one from the change."""
        errors = self.unknown_hosts(hosts)
        strangers = sorted(set(args["remote_objects"]) - set(hosts))
        if strangers:
            errors["remote_objects"] = (f"names {', '.join(strangers)}, which {'is' if len(strangers) == 1 else 'are'} "
                                        f"not a remote of this transaction ({', '.join(sorted(hosts))})")
        if errors:
            raise InvalidInput(errors)

    def _items_for(self, args: dict, host: str, option: str) -> list[dict]:
        """The items of one list option for `host`: the shared ones (templated for it), then its own."""
        own = args["remote_objects"].get(host) or {}
        unknown = set(own) - set(self.PER_HOST)
        if unknown:
            raise InvalidInput({f"remote_objects.{host}": f"unknown key(s) {', '.join(sorted(unknown))}; "
                                                          f"use {', '.join(self.PER_HOST)}"})
        items = self.host_settings(args).args_for(host, self.PER_HOST)[option]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise InvalidInput({option: f"must be a list of dicts for {host} (got {items!r})"})
        return list(items) + list(own.get(option) or [])

    def _objects_for(self, args: dict, host: str) -> list[DesiredObject]:
        return [DesiredObject(kind, {k: v for k, v in item.items() if k not in ("state", "purge")},
                              item.get("state", "present"), bool(item.get("purge", False)))
                for kind in KIND_ORDER for item in self._items_for(args, host, list_option(kind))]

    def _after_for(self, args: dict, host: str) -> list[tuple[str, dict]]:
        """What is written after the apply, outside the lock (_after_apply.py)."""
        return [(kind, dict(item)) for kind, spec in AFTER_KINDS.items()
                for item in self._items_for(args, host, spec.option)]


def _outcome(entry: dict) -> dict:
    """One remote's line of `remotes`: what a per-host task needs to report it as Ansible's own."""
    outcome = {"ok": entry["ok"], "phase": entry["phase"], "changed": entry["changed"], "remote": entry["remote"]}
    for name in ("error", "recovery", "revert"):
        if entry.get(name):
            outcome[name] = entry[name]
    return outcome


def _diffs(report: dict) -> list[dict]:
    """Every object that changes, on every remote, as Ansible's --diff shows a list of diffs; then
    each node's files as the preview shows them (PVE's own unified diffs, shown as they are)."""
    diffs = []
    for entry in sorted(report["failed"] + report["succeeded"], key=lambda e: e["host"]):
        for result in entry.get("objects", []):
            if result.get("changed") and result.get("diff"):
                label = f"{entry['host']}: {result['kind']} {result.get('id')}"
                diffs.append({"before_header": f"{label} (before)", "after_header": f"{label} (after)",
                              "before": result["diff"]["before"], "after": result["diff"]["after"]})
        diffs += preview_diffs(entry["host"], entry.get("preview"))
    return diffs


class _signals_interrupt:
    """While the engine runs, SIGINT and SIGTERM stop it before applying (it then rolls back and
    releases) instead of killing the worker at once, as Ansible's worker would."""

    def __init__(self, engine: FleetTransaction):
        self.engine = engine
        self.saved: dict = {}

    def __enter__(self):
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.saved[signum] = signal.getsignal(signum)
            loop.add_signal_handler(signum, self.engine.interrupt, f"interrupted by {signal.Signals(signum).name}")
        return self

    def __exit__(self, *exc):
        loop = asyncio.get_running_loop()
        for signum, handler in self.saved.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
        return False
