# Private to pvefleet.sdn: not a public API.
"""The fleet engine: one SDN change across many remotes, all or nothing as far as PVE's lock allows.

    validate every object offline           (bad input: nothing locked, nothing sent)
    lock every remote, in a fixed order     (one fails: release what was taken, stop)
    make the changes on every remote        (one fails: roll back and release everywhere)
    check every lock is still ours          (one lost: roll back and release everywhere)
    apply on every remote, follow each reload task and every node's zone status
                                            (no rollback from here on: a report per remote)

This is what Proxmox Datacenter Manager's LockedSdnClients does, run concurrently with a bound,
over one kept-alive connection per remote, and recorded in the journal as it goes.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import apply_or_unwind, pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import (
    InvalidInput,
    PveFleetError,
    TransportError,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import run_object_task
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import FleetPace
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS
from ansible_collections.pvefleet.sdn.plugins.module_utils._snapshot import Snapshot, snapshot_scope
from ansible_collections.pvefleet.sdn.plugins.module_utils._unwind import FORCE_RELEASE_HINT, rollback_and_release

try:
    import resource
except ImportError:  # not on every platform; there the limit is left as it is
    resource = None  # type: ignore[assignment]

# How long a journal update may wait to be written (see _flush_every).
JOURNAL_FLUSH_SECONDS = 0.2
# Remotes worked on at once in a phase (sdn_transaction's `concurrency`): on the benchmark's 2 CPUs,
# faster than 64 and than 1000 at 1000 remotes.
DEFAULT_CONCURRENCY = 256
# Each remote keeps up to two connections open for a few seconds after its last request; the
# rest is the journal, the event loop and Ansible's own files.
OPEN_FILES_PER_REMOTE = 2
OPEN_FILES_SPARE = 64
# Changes are made in this order, removals in the reverse one, so references always resolve.
KIND_ORDER = ("controller", "zone", "vnet", "subnet")


@dataclass(frozen=True)
class DesiredObject:
    kind: str
    options: dict
    state: str = "present"
    purge: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind} {self.options.get(self.kind)}"


@dataclass
class Remote:
    """One remote of the transaction, and everything that happens to it."""

    host: str
    settings: ConnectionSettings
    objects: list[DesiredObject]
    phase: str = "planned"
    token: Optional[str] = None
    changed: bool = False
    results: list[dict] = field(default_factory=list)
    error: Optional[str] = None
    recovery: Optional[str] = None
    apply: Optional[dict] = None
    unwind: Optional[dict] = None
    pending: list[str] = field(default_factory=list)
    client: Any = None

    @property
    def key(self) -> str:
        return f"{self.settings.api_host}:{self.settings.api_port}"

    def report(self) -> dict:
        data = {"host": self.host, "remote": self.key, "phase": self.phase, "ok": self.ok,
                "changed": self.changed, "objects": self.results}
        for name in ("error", "recovery", "apply", "unwind"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data

    @property
    def ok(self) -> bool:
        return self.phase in ("applied", "unchanged", "checked")


def _fleet_client(settings: ConnectionSettings) -> PveClient:
    # Two connections per remote: enough for the reads that go at once, and each TLS handshake
    # costs the controller (and the remote) more CPU than a dozen requests on a kept-alive one.
    return PveClient(settings, max_connections=2)


def raise_open_files_limit(needed: int) -> None:
    """Raise this process's soft limit of open files towards `needed`, up to the hard limit
    (often 1024 soft, far more hard); beyond that, connecting fails with a clear error."""
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Interrupted(PveFleetError):
    """SIGINT or SIGTERM arrived while the transaction ran."""


def ordered(objects: list[DesiredObject]) -> list[DesiredObject]:
    """Creates and updates in KIND_ORDER, then removals in the reverse order."""
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    present = sorted((o for o in objects if o.state != "absent"), key=lambda o: rank[o.kind])
    absent = sorted((o for o in objects if o.state == "absent"), key=lambda o: -rank[o.kind])
    return present + absent


def validate_offline(remotes: list[Remote]) -> None:
    """Every object's options checked against its model before anything is sent."""
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for remote in remotes:
        if remote.key in seen:
            errors[remote.host] = f"is the same remote ({remote.key}) as {seen[remote.key]}"
        seen.setdefault(remote.key, remote.host)
        for obj in remote.objects:
            if obj.kind not in KINDS:
                errors[f"{remote.host}: {obj.kind}"] = f"unknown kind; use one of {', '.join(KIND_ORDER)}"
                continue
            if obj.state == "absent":
                continue
            given = {k: v for k, v in obj.options.items() if v is not None}
            if obj.kind in ("zone", "controller") and "type" not in given:
                continue  # an update may leave the type out; checked against the remote later
            if obj.kind == "vnet" and "zone" not in given:
                continue
            try:
                KINDS[obj.kind].parse(given)
            except InvalidInput as exc:
                for option, rule in exc.errors.items():
                    errors[f"{remote.host}: {obj.label}: {option}"] = rule
    if errors:
        raise InvalidInput(errors)


class FleetTransaction:
    def __init__(self, remotes: list[Remote], *, concurrency: int = DEFAULT_CONCURRENCY, check_mode: bool = False,
                 allow_pending: bool = False, apply_timeout: float = 600.0, check_nodes: bool = True,
                 journal=None, progress: Optional[Callable[[str, dict], None]] = None,
                 client_factory: Optional[Callable[[ConnectionSettings], Any]] = None):
        self.remotes = sorted(remotes, key=lambda r: r.key)  # a fixed lock order (see _lock_all)
        self.concurrency = max(1, concurrency)
        self.check_mode = check_mode
        self.allow_pending = allow_pending
        self.apply_timeout = apply_timeout
        self.check_nodes = check_nodes
        self.journal = journal
        self.progress = progress
        self.client_factory = client_factory or _fleet_client
        self.abort = asyncio.Event()
        self.abort_reason = ""
        self.timings: dict[str, float] = {}
        self._unwritten: dict[str, dict] = {}
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._pace = FleetPace()

    # The whole transaction

    async def run(self) -> dict:
        for remote in self.remotes:
            remote.objects = ordered(remote.objects)
        validate_offline(self.remotes)
        raise_open_files_limit(OPEN_FILES_PER_REMOTE * len(self.remotes) + OPEN_FILES_SPARE)
        async with contextlib.AsyncExitStack() as stack:
            for remote in self.remotes:
                remote.client = await stack.enter_async_context(self.client_factory(remote.settings))
            if self.check_mode:
                await self._phase("check", self._check_one, self.remotes)
            else:
                await self._transact()
        return self.report()

    async def _transact(self) -> None:
        # Every remote is "locking" on disk before any lock request leaves: a run killed now
        # leaves a journal from which recovery probes every remote it names.
        self._record_all(phase="locking")
        flusher = asyncio.ensure_future(self._flush_every(JOURNAL_FLUSH_SECONDS))
        try:
            await self._transact_phases()
        finally:
            flusher.cancel()
            self._flush()

    async def _transact_phases(self) -> None:
        await self._phase("lock", self._lock_one, self.remotes, stop_on_abort=True)
        for remote in self.remotes:
            if remote.phase == "planned":  # never tried: a lock elsewhere failed first
                remote.phase = "not_locked"
                self._record(remote, phase="not_locked")
        if self.abort.is_set():
            await self._phase("release", self._release_one, self._locked())
            return
        await self._phase("change", self._change_one, self._locked(), stop_on_abort=True)
        if not self.abort.is_set():
            await self._phase("verify", self._verify_one, self._locked())
        if self.abort.is_set():
            await self._phase("rollback", self._roll_back_one, self._locked())
            return
        # The apply phase takes a slot only for its requests (see _apply_one): a reload is waited
        # for without one, so every remote's reload runs at once whatever `concurrency` is.
        await self._phase("apply", self._apply_one, self._locked(), slot=False)

    def interrupt(self, reason: str = "interrupted by a signal") -> None:
        """Stop before applying: the remotes locked so far are rolled back and released."""
        self._fail(reason)

    # Running one phase on many remotes

    async def _phase(self, name: str, step, remotes: list[Remote], stop_on_abort: bool = False,
                     slot: bool = True) -> None:
        """Run `step` on every remote, at most `concurrency` at a time (unless `slot` is False:
        then the step takes a slot itself where it needs one)."""
        started = time.monotonic()

        async def guarded(remote: Remote) -> None:
            async with self._semaphore if slot else contextlib.nullcontext():
                if stop_on_abort and self.abort.is_set():
                    return
                try:
                    await step(remote)
                except PveFleetError as exc:
                    remote.error = remote.error or str(exc)
                    self._fail(f"{remote.host}: {exc}")
                self._notify(name)

        await asyncio.gather(*(guarded(remote) for remote in remotes))
        self._flush()
        self.timings[name] = round(time.monotonic() - started, 3)

    def _fail(self, reason: str) -> None:
        if not self.abort.is_set():
            self.abort_reason = reason
            self.abort.set()

    def _locked(self) -> list[Remote]:
        return [r for r in self.remotes if r.token and r.phase in ("locked", "changed", "failed")]

    # The steps, one remote each

    async def _check_one(self, remote: Remote) -> None:
        reader = await self._snapshot(remote)
        remote.results = [await self._object(remote, obj, None, reader) for obj in remote.objects]
        remote.changed = any(result["changed"] for result in remote.results)
        remote.phase = "checked"

    async def _lock_one(self, remote: Remote) -> None:
        self._record(remote, phase="locking")
        try:
            remote.token = await LockSession(remote.client).acquire(allow_pending=self.allow_pending)
        except TransportError as exc:
            if exc.sent:
                remote.phase = "lock_unknown"
                remote.recovery = f"the lock request got no answer; the remote may hold an orphaned lock: {FORCE_RELEASE_HINT}"
                self._record(remote, phase="locking", error=str(exc))
            else:
                remote.phase = "lock_failed"
                self._record(remote, phase="lock_failed", error=str(exc))
            raise
        except PveFleetError as exc:
            remote.phase = "lock_failed"
            self._record(remote, phase="lock_failed", error=str(exc))
            raise
        remote.phase = "locked"
        self._record(remote, phase="locked", token=remote.token)

    async def _release_one(self, remote: Remote) -> None:
        try:
            await LockSession(remote.client).release(remote.token)
            remote.phase = "released"
        except PveFleetError as exc:
            remote.phase = "stuck"
            remote.recovery = FORCE_RELEASE_HINT
            remote.error = remote.error or f"release failed: {exc}"
        self._record(remote, phase=remote.phase)

    async def _change_one(self, remote: Remote) -> None:
        reader = None
        for obj in remote.objects:
            if self.abort.is_set():
                return
            try:
                reader = reader or await self._snapshot(remote)
                result = await self._object(remote, obj, remote.token, reader)
            except PveFleetError:
                remote.phase = "failed"
                self._record(remote, phase="failed")
                raise
            remote.results.append(result)
            if result["changed"]:
                remote.changed = True
                if remote.phase != "changed":
                    remote.phase = "changed"
                    self._record(remote, phase="changed")

    async def _snapshot(self, remote: Remote) -> Snapshot:
        """Read once; under our lock nobody else can write until we apply or roll back."""
        return await Snapshot.load(remote.client, *snapshot_scope(remote.objects))

    async def _object(self, remote: Remote, obj: DesiredObject, token: Optional[str], reader) -> dict:
        try:
            return await run_object_task(remote.client, obj.kind, obj.options, state=obj.state,
                                         purge=obj.purge, lock_token=token, check_mode=self.check_mode,
                                         reader=reader)
        except PveFleetError as exc:
            raise PveFleetError(f"{obj.label}: {exc}") from exc

    async def _verify_one(self, remote: Remote) -> None:
        # PVE accepts any token while no lock is held, so a lock force-released under us would go
        # unnoticed by the writes; check before committing anything (pve-sdn-api.md §3.2).
        session = LockSession(remote.client)
        if remote.changed:
            # PVE accepted our token at every write, so the lock was ours or nobody's; the probe
            # says whether one is still held. One request, whose error closes a connection that
            # is not needed again: a second token check would cost another connection per
            # remote. Left unchecked is a lock force-released and taken by another client since
            # our last write; PVE then refuses our apply there and commits nothing (reported).
            held = await session.probe()
        elif self.allow_pending:
            # Nothing written: whether to apply depends on what else is pending, and the token
            # is checked with a write that cannot succeed. All in one round trip.
            held, remote.pending = await asyncio.gather(session.holds(remote.token),
                                                        pending_objects(remote.client))
        else:
            return  # nothing to apply: the lock is only released, whoever holds it now
        if not held:
            remote.phase = "lock_lost"
            remote.token = None  # nothing of ours to roll back or release with it
            remote.pending = []
            remote.recovery = ("the lock was released or taken by another client during the transaction; "
                               "its pending configuration may hold our changes and others': inspect it with "
                               "pvefleet.sdn.sdn_info and roll back or apply by hand")
            self._record(remote, phase="stuck", error="lock lost")
            raise PveFleetError(f"the SDN lock of {remote.key} is no longer held by this transaction")

    async def _roll_back_one(self, remote: Remote) -> None:
        outcome = await rollback_and_release(LockSession(remote.client), remote.token)
        remote.phase, remote.unwind = outcome.state, outcome.as_dict()
        if outcome.recovery:
            remote.recovery = outcome.recovery
        self._record(remote, phase=outcome.state)

    async def _apply_one(self, remote: Remote) -> None:
        if not remote.changed and not remote.pending:
            async with self._semaphore:
                await LockSession(remote.client).release(remote.token)
            remote.phase = "unchanged"
            self._record(remote, phase="released")
            return
        remote.phase = "applying"
        self._record(remote, phase="applying")
        outcome = await apply_or_unwind(remote.client, remote.token, timeout=self.apply_timeout,
                                        check_nodes=self.check_nodes, pace=self._pace, admission=self._semaphore)
        if outcome.error is not None:
            remote.phase, remote.error = "apply_failed", f"apply failed: {outcome.error}"
            remote.unwind = outcome.unwind.as_dict()
            self._record(remote, phase="apply_failed", error=remote.error)
            return
        remote.apply = outcome.report
        remote.changed = True
        remote.phase = "applied" if remote.apply["ok"] else "apply_failed"
        if not remote.apply["ok"]:
            remote.error = remote.apply.get("error")
        self._record(remote, phase=remote.phase)

    # Journal and progress

    def _record(self, remote: Remote, **fields) -> None:
        """Queue a journal update; _flush writes the queue in one rewrite of the file."""
        if self.journal is not None:
            self._unwritten.setdefault(remote.host, {}).update(fields)

    def _record_all(self, **fields) -> None:
        for remote in self.remotes:
            self._record(remote, **fields)
        self._flush()

    def _flush(self) -> None:
        if self.journal is not None and self._unwritten:
            updates, self._unwritten = self._unwritten, {}
            self.journal.update_many(updates)

    async def _flush_every(self, seconds: float) -> None:
        """A thousand remotes would otherwise rewrite the journal thousands of times; a token is
        on disk at most this long after it arrived."""
        while True:
            await asyncio.sleep(seconds)
            self._flush()

    def _notify(self, phase: str) -> None:
        if self.progress is not None:
            self.progress(phase, self.counts())

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for remote in self.remotes:
            counts[remote.phase] = counts.get(remote.phase, 0) + 1
        return counts

    def report(self) -> dict:
        reports = [remote.report() for remote in self.remotes]
        # The remotes that caused the failure first, then those rolled back because of them.
        failed = sorted((r for r in reports if not r["ok"]), key=lambda r: ("error" not in r, r["host"]))
        succeeded = sorted((r for r in reports if r["ok"]), key=lambda r: r["host"])
        return {
            "ok": not failed and not self.abort.is_set(),
            "changed": any(r["changed"] for r in reports),
            "aborted": self.abort_reason or None,
            "counts": self.counts(),
            "failed": failed,
            "succeeded": succeeded,
            "timings": self.timings,
        }
