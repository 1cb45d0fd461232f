# Private to pvefleet.sdn: not a public API.
"""The fleet engine: one SDN change across many remotes, all or nothing as far as PVE's lock allows.

    validate every object offline           (bad input: nothing sent)
    preflight every remote, read-only       (unreachable, untrusted, refused login, PVE 8, a change
                                             PVE would refuse: nothing locked)
    lock every remote                       (one fails: release what was taken, stop; or wait)
    make the changes on every remote        (one fails: roll back and release everywhere)
    check every lock is still ours          (one lost: roll back and release everywhere)
    apply on every remote, follow each reload task and every node's zone status
                                            (no rollback from here on: a report per remote)

This is what Proxmox Datacenter Manager's LockedSdnClients does, run concurrently with a bound,
over at most two kept-alive connections per remote, and recorded in the journal as it goes. The
per-remote work of each phase is _steps.py, shared with the task-by-task style, the watchdog and
recovery; run_phase is the one way a phase runs over many remotes.
"""
from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils import _consistency as consistency_rules
from ansible_collections.pvefleet.sdn.plugins.module_utils import _privileges as privileges
from ansible_collections.pvefleet.sdn.plugins.module_utils import _revert as revert
from ansible_collections.pvefleet.sdn.plugins.module_utils import _steps as steps
from ansible_collections.pvefleet.sdn.plugins.module_utils._after_apply import (
    AfterApplyFailed,
    check_after,
    write_after,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._after_apply import label as after_label
from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput, LockHeldError, PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import RunId
from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import check_offline, run_object_task, without_none
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import FleetPace
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import ACTIVE, APPLY, SETTLED, Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import DesiredObject, Remote
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS
from ansible_collections.pvefleet.sdn.plugins.module_utils._snapshot import Snapshot, snapshot_scope
from ansible_collections.pvefleet.sdn.plugins.module_utils._undo import undo_record

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
# Changes are made in this order, removals in the reverse one, so references always resolve:
# zones name IPAM and DNS plugins (which PVE writes at once: first in, last out), route maps match
# prefix lists, controllers name route maps and fabrics, zones name controllers and fabrics (a vxlan
# zone's `fabric`), vnets their zone, subnets their vnet.
KIND_ORDER = ("ipam", "dns", "prefix_list", "route_map", "fabric", "fabric_node", "controller", "zone", "vnet", "subnet")

# How often a running phase tells its progress, even when no remote ended meanwhile.
HEARTBEAT_SECONDS = 1.0
# Between two tries to take every lock while another client holds one (lock_wait), seconds.
LOCK_RETRY_SECONDS = (0.5, 2.0)


def list_option(kind: str) -> str:
    """The sdn_transaction option (and role variable suffix) that lists a kind's objects."""
    return "dns_plugins" if kind == "dns" else f"{kind}s"


__all__ = ["DEFAULT_CONCURRENCY", "KIND_ORDER", "DesiredObject", "FleetTransaction", "Remote", "list_option", "run_phase"]


def fleet_client(settings: ConnectionSettings, identity: Optional[dict] = None) -> PveClient:
    # Two connections per remote, for the whole transaction: enough for the reads that go at
    # once, and each TLS handshake costs the controller (and the remote) more CPU and round trips
    # than a wait for a free connection. The lock probe's error answer closes one of them (PVE
    # closes after any error): the rest of the transaction then takes turns on the other, kept
    # warm through the waits on other remotes (_keep_warm).
    return PveClient(settings, max_connections=2, connection_budget=2, identity=identity)


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


def ordered(objects: list[DesiredObject]) -> list[DesiredObject]:
    """Creates and updates in KIND_ORDER, then removals in the reverse order."""
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    present = sorted((o for o in objects if o.state != "absent"), key=lambda o: rank[o.kind])
    absent = sorted((o for o in objects if o.state == "absent"), key=lambda o: -rank[o.kind])
    return present + absent


def object_key(obj: DesiredObject) -> tuple:
    """What names one object on a remote: its kind and ID (a subnet's within its vnet)."""
    kind = KINDS[obj.kind]
    key = (obj.kind, str(obj.options.get(kind.id_option)))
    return key + (str(obj.options.get(kind.parent)),) if kind.parent else key


def validate_offline(remotes: list[Remote]) -> None:
    """Every object's options checked against its model, and every object given once per remote,
    before anything is sent. An object given twice alike is kept once."""
    errors: dict[str, str] = {}
    # (object, option, rule) -> the remotes it was found on: said once, for all of them.
    rules: dict[tuple[str, str, str], list[str]] = {}
    seen: dict[str, str] = {}
    for remote in remotes:
        if remote.key in seen:
            errors[remote.host] = f"is the same remote ({remote.key}) as {seen[remote.key]}"
        seen.setdefault(remote.key, remote.host)
        unique: dict[tuple, DesiredObject] = {}
        for obj in remote.objects:
            if obj.kind not in KINDS:
                errors[f"{remote.host}: {obj.kind}"] = f"unknown kind; use one of {', '.join(KIND_ORDER)}"
                continue
            kind = KINDS[obj.kind]
            needed = [name for name in (kind.id_option, kind.parent) if name and not obj.options.get(name)]
            if needed:
                errors[f"{remote.host}: {obj.kind}s"] = (f"every item needs {' and '.join(f'`{n}`' for n in needed)} "
                                                         f"(got {obj.options!r})")
                continue
            twin = unique.setdefault(object_key(obj), obj)
            if twin is not obj and twin != obj:
                errors[f"{remote.host}: {obj.label}"] = (
                    f"given twice with different options ({_options_text(twin)} and {_options_text(obj)}); "
                    "give each object once")
                continue
            if twin is not obj or obj.state == "absent":
                continue
            try:
                # What an update may leave out (a type, a vnet's zone) is checked against the remote later.
                check_offline(kind, without_none(obj.options))
            except InvalidInput as exc:
                for option, rule in exc.errors.items():
                    rules.setdefault((obj.label, option, rule), []).append(remote.host)
        remote.objects = list(unique.values())
        for after_kind, options in remote.after:
            try:
                check_after(after_kind, options)
            except InvalidInput as exc:
                for option, rule in exc.errors.items():
                    rules.setdefault((after_label(after_kind, options), option, rule), []).append(remote.host)
    for (label, option, rule), hosts in rules.items():
        where = hosts[0] if len(hosts) == 1 else f"{len(hosts)} remotes ({_first_few(hosts)})"
        errors[f"{label}: {option}"] = f"{rule} (on {where})" if len(remotes) > 1 else rule
    if errors:
        raise InvalidInput(errors)


def _first_few(hosts: list[str], shown: int = 3) -> str:
    return ", ".join(hosts[:shown]) + (f" and {len(hosts) - shown} more" if len(hosts) > shown else "")


def _options_text(obj: DesiredObject) -> str:
    shown = {k: v for k, v in obj.options.items() if v is not None}
    if obj.state != "present":
        shown["state"] = obj.state
    return ", ".join(f"{k}={v!r}" for k, v in sorted(shown.items()))


async def run_phase(step, remotes: list[Remote], *, semaphore=None, stop: Optional[asyncio.Event] = None,
                    on_failure: Optional[Callable[[Remote, str], None]] = None,
                    after_each: Optional[Callable[[], None]] = None) -> None:
    """Run `step(remote)` on every remote, at most as many at once as `semaphore` allows. Any
    exception is that remote's failure, whatever its type: recorded on the remote (its phase says
    what is left to undo) and passed to `on_failure`; the other remotes carry on."""

    async def guarded(remote: Remote) -> None:
        async with semaphore or contextlib.nullcontext():
            if stop is not None and stop.is_set():
                return
            try:
                await step(remote)
            except Exception as exc:  # noqa: BLE001 - a bug on one remote must not leave the others locked
                message = remote.failed(exc)
                if on_failure is not None:
                    on_failure(remote, message)
            if after_each is not None:
                after_each()

    await asyncio.gather(*(guarded(remote) for remote in remotes))


class FleetTransaction:
    def __init__(self, remotes: list[Remote], *, concurrency: int = DEFAULT_CONCURRENCY, check_mode: bool = False,
                 allow_pending: bool = False, apply_timeout: float = 600.0, check_nodes: bool = True,
                 lock_wait: float = 0.0, list_pending: bool = False, preview: bool = False, plan: bool = False,
                 revert_journal=None, journal=None,
                 progress: Optional[Callable[..., None]] = None,
                 client_factory: Optional[Callable[[ConnectionSettings, Optional[dict]], Any]] = None,
                 actor: str = "sdn_transaction", consistency: bool = True, allow: Optional[list] = None):
        # A fixed lock order (see _lock_all).
        self.remotes = sorted(remotes, key=lambda r: (r.key, r.host))
        self.concurrency = max(1, concurrency)
        self.check_mode = check_mode
        self.allow_pending = allow_pending
        self.apply_timeout = apply_timeout
        self.check_nodes = check_nodes
        self.lock_wait = max(0.0, lock_wait)
        self.list_pending = list_pending  # read what each remote applies, for the result (one more round trip)
        # Preview every node's files before applying (--diff); `plan`: preview, then roll back and
        # release everywhere instead of applying.
        self.preview = preview or plan
        self.plan = plan
        # on_apply_failure=revert: the journal of the revert (a transaction of its own), else None.
        self.revert_journal = revert_journal
        self.journal = journal
        self.progress = progress
        self.client_factory = client_factory or fleet_client
        self.actor = actor
        # The cross-remote consistency check after the preflight (_consistency.py), and the clashes
        # accepted (`allow`: rule and value), checked here, before anything is sent.
        self.consistency = consistency
        self.allow = consistency_rules.allowed(allow)
        self.abort = asyncio.Event()
        self.abort_reason = ""
        self.timings: dict[str, float] = {}
        self._unwritten: dict[str, dict] = {}
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._preflight_readers: dict[str, Snapshot] = {}
        self._pace = FleetPace()
        self._contended = False
        for remote in self.remotes:
            remote.on_change = self._on_change

    # The whole transaction

    async def run(self) -> dict:
        for remote in self.remotes:
            remote.objects = ordered(remote.objects)
        validate_offline(self.remotes)
        raise_open_files_limit(OPEN_FILES_PER_REMOTE * len(self.remotes) + OPEN_FILES_SPARE)
        async with self._clients():
            await self._phase("preflight", self._preflight_one, self.remotes, stop_on_abort=False)
            if not self.abort.is_set():
                await self._check_consistency()
            if self.abort.is_set():
                for remote in self.remotes:
                    if remote.phase == Phase.PLANNED:
                        remote.enter(Phase.NOT_LOCKED)
            elif not self.check_mode:
                await self._journalled(self._transact_phases())
        return self.report()

    async def apply_locked(self) -> dict:
        """For the task-by-task style: every remote was locked and changed by its own host's tasks
        (each given with its token and identity). Verify every lock, then apply everywhere; if a
        lock is lost, nothing is applied anywhere (the play's rescue then rolls back)."""
        async with self._clients():
            await self._journalled(self._verify_and_apply(unwind=False))
            if self.revert_journal is not None and not self.abort.is_set() and not all(r.ok for r in self.remotes):
                await self._revert_committed()
        return self.report()

    @contextlib.asynccontextmanager
    async def _clients(self):
        async with contextlib.AsyncExitStack() as stack:
            for remote in self.remotes:
                remote.client = await stack.enter_async_context(self.client_factory(remote.settings, remote.identity))
                self._keep_warm(remote)
            yield

    async def _journalled(self, work) -> None:
        flusher = asyncio.ensure_future(self._flush_every(JOURNAL_FLUSH_SECONDS))
        try:
            await work
        finally:
            flusher.cancel()
            self._flush()

    async def _transact_phases(self) -> None:
        await self._prepare_all()
        if self.preview and not self.abort.is_set():
            await self._phase("preview", self._preview_one, self._holding())
        if self.abort.is_set():
            await self._unwind_all()
            return
        if self.plan:
            await self._phase("rollback", self._end_plan_one, [r for r in self.remotes if r.phase in ACTIVE])
            return
        await self._apply_all()
        if self.revert_journal is not None and not all(remote.ok for remote in self.remotes):
            await self._journalled(self._revert_committed())
        following = [remote for remote in self.remotes if remote.ok and remote.after]
        if following:
            await self._phase("after apply", self._after_one, following)

    async def _revert_committed(self) -> None:
        """The apply failed somewhere: a second transaction, the inverse of this one, over the
        remotes that committed and that nobody changed since (_revert.py)."""
        targets = [remote for remote in self.remotes if revert.committed(remote)]

        async def moved_on(remote: Remote) -> Optional[list[str]]:
            """What changed since the commit; None when the remote could not be read (it is left alone)."""
            async with self._semaphore:
                try:
                    return await revert.changed_since(remote)
                except Exception as exc:  # noqa: BLE001 - that remote's failure, never the others'
                    remote.revert_error = f"its running configuration could not be read: {exc}"
                    return None

        moved = dict(zip((r.host for r in targets), await asyncio.gather(*(moved_on(r) for r in targets))))
        copies = [Remote(r.host, r.settings, revert.inverse_objects(r)) for r in targets if moved[r.host] == []]
        clients = {remote.settings: remote.client for remote in self.remotes}
        engine = FleetTransaction(
            copies, concurrency=self.concurrency, apply_timeout=self.apply_timeout, check_nodes=self.check_nodes,
            journal=self.revert_journal, progress=self.progress, actor=f"{self.actor} (revert)", consistency=False,
            client_factory=lambda settings, _identity: _borrowed(clients[settings]))
        if copies:
            self.revert_journal.join_many(RunId.current(), {r.host: r.settings.public_fields() for r in copies})
            await engine.run()
            if all(remote.ok for remote in copies):
                self.revert_journal.forget()
        done = {remote.host: remote for remote in copies}
        name = self.revert_journal.path.stem
        for remote in self.remotes:
            remote.revert = revert.outcome(remote, done.get(remote.host), moved.get(remote.host, []) or [],
                                           transaction=name)

    async def _after_one(self, remote: Remote) -> None:
        """The vnet IP mappings and firewalls of a remote that applied (or had nothing to apply)."""
        try:
            remote.after_results = await write_after(remote.client, remote.after)
        except AfterApplyFailed as exc:
            cause = exc.cause
            text = _without_remote(cause, remote) if isinstance(cause, PveFleetError) else f"internal error: {cause!r}"
            remote.after_results, remote.after_error = exc.written, f"{exc.label}: {text}"
            remote.recovery = ("the SDN change is applied; what follows the apply (vnet firewalls, then IP mappings) "
                               "stopped here, with what is listed under objects written: run the task again to finish")

    async def _end_plan_one(self, remote: Remote) -> None:
        remote.by = self.actor
        await steps.unwind_plan(remote)

    async def _preview_one(self, remote: Remote) -> None:
        if self.list_pending or self.plan:
            remote.pending = await pending_objects(remote.client)
        await steps.preview(remote)

    async def _verify_and_apply(self, unwind: bool) -> None:
        await self._phase("verify", steps.verify, self._holding())
        if self.abort.is_set():
            if unwind:
                await self._unwind_all()
            return
        await self._apply_all()

    async def _apply_all(self) -> None:
        # The apply phase takes a slot only for its requests (see steps.apply): a reload is waited
        # for without one, so every remote's reload runs at once whatever `concurrency` is.
        await self._phase("apply", self._apply_one, self._holding(), slot=False)

    def interrupt(self, reason: str = "interrupted by a signal") -> None:
        """Stop before applying: the remotes locked so far are rolled back and released."""
        self._fail(reason)

    async def _prepare_all(self) -> None:
        """Lock, change and verify every remote. The first remote of the fixed order is locked alone,
        then every remote flows through lock, change and lock check on its own, with no barrier
        between the steps (the one barrier a transaction needs is before the first apply: every
        change made and every lock still ours), so that no remote's connections wait idle for the
        slowest of the fleet. Two transactions over the same remotes started together meet at the
        first remote, and exactly one of them goes on. With lock_wait, a transaction that meets
        another's lock lets go of all it took and tries again until lock_wait has passed (never
        holding some locks while waiting for others: no deadlock)."""
        deadline = time.monotonic() + self.lock_wait
        while True:
            # Every remote is "locking" on disk before any lock request leaves: a run killed now
            # leaves a journal from which recovery probes every remote it names.
            self._contended = False
            for remote in self.remotes:
                remote.enter(Phase.LOCKING)
            self._flush()
            await self._phase("lock", self._lock_one, self.remotes[:1], stop_on_abort=True)
            await self._phase("prepare", self._prepare_one, self.remotes, stop_on_abort=True)
            for remote in self.remotes:
                if remote.phase == Phase.LOCKING and remote.token is None and not remote.error:
                    remote.enter(Phase.NOT_LOCKED)  # never tried: a lock elsewhere failed first
            if not self.abort.is_set() or not self._contended or time.monotonic() >= deadline:
                return
            await self._unwind_all()
            if any(r.phase not in (Phase.RELEASED, Phase.NOT_LOCKED, Phase.LOCK_FAILED) for r in self.remotes):
                return  # something could not be let go of: stop here, as without lock_wait
            await asyncio.sleep(min(max(0.0, deadline - time.monotonic()), random.uniform(*LOCK_RETRY_SECONDS)))
            self.abort.clear()
            self.abort_reason = ""
            for remote in self.remotes:
                remote.phase, remote.error, remote.recovery, remote.token = Phase.PLANNED, None, None, None

    async def _unwind_all(self) -> None:
        await self._phase("rollback", self._unwind_one, [r for r in self.remotes if r.phase in ACTIVE])

    # Running one phase on many remotes

    async def _phase(self, name: str, step, remotes: list[Remote], stop_on_abort: bool = False,
                     slot: bool = True) -> None:
        """Run `step` on every remote, at most `concurrency` at a time (unless `slot` is False:
        then the step takes a slot itself where it needs one). A failure stops the transaction."""
        started = time.monotonic()
        done = [0]

        def one_more() -> None:
            done[0] += 1
            self._notify(name, done[0], len(remotes), started)

        async def heartbeat() -> None:
            # A reload wait of minutes is no silence: the progress hears of the phase every second.
            while True:
                await asyncio.sleep(HEARTBEAT_SECONDS)
                self._notify(name, done[0], len(remotes), started, tick=True)

        self._notify(name, 0, len(remotes), started)
        ticker = asyncio.ensure_future(heartbeat())
        try:
            await run_phase(step, remotes, semaphore=self._semaphore if slot else None,
                            stop=self.abort if stop_on_abort else None,
                            on_failure=lambda remote, message: self._fail(message), after_each=one_more)
        finally:
            ticker.cancel()
        self._flush()
        self.timings[name] = round(self.timings.get(name, 0.0) + time.monotonic() - started, 3)

    def _fail(self, reason: str) -> None:
        if not self.abort.is_set():
            self.abort_reason = reason
            self.abort.set()

    def _holding(self) -> list[Remote]:
        return [r for r in self.remotes if r.token and r.phase in (Phase.LOCKED, Phase.CHANGED)]

    # The steps, one remote each

    async def _preflight_one(self, remote: Remote) -> None:
        """Read-only, before any lock: the remote itself (steps.preflight) and every change planned
        against its objects as they are, each object seeing the ones planned before it, so that
        a change PVE would refuse (a vnet in a zone that exists nowhere, a tag its zone's type
        does not allow) fails here, with nothing locked."""
        reader, _version = await asyncio.gather(self._snapshot(remote, simulate=True), steps.preflight(remote))
        self._preflight_readers[remote.host] = reader  # its listings serve the consistency check too
        remote.results = [await self._object(remote, obj, None, reader, check_mode=True) for obj in remote.objects]
        remote.changed = any(result["changed"] for result in remote.results)
        lacking = await privileges.missing(remote.client, self._needed(remote))
        if self.check_mode:
            remote.missing_privileges = lacking or []
            remote.enter(Phase.CHECKED)
        elif lacking:
            raise privileges.MissingPrivileges(remote.host, lacking)

    async def _check_consistency(self) -> None:
        """The desired change against every remote of the transaction, before any lock
        (_consistency.py): of each remote's zones, vnets and controllers, the listings its preflight
        did not read already, in one round, bounded like the phases, only when the change creates or
        updates a zone, vnet or controller. A read that fails is that remote's
        failure, as in its preflight; a clash is bad input, in check mode too (the transaction
        would refuse it). Its time counts as the preflight's."""
        if not self.consistency or not consistency_rules.needed(self.remotes):
            return
        started = time.monotonic()
        listings: dict[str, dict] = {}

        async def read(remote: Remote) -> None:
            try:
                listings[remote.host] = await consistency_rules.read_remote(
                    remote.client, self._preflight_readers.get(remote.host))
            except BaseException:
                if remote.phase == Phase.CHECKED:
                    remote.enter(Phase.PLANNED)  # not checked after all: it ends not_locked, as after a failed preflight
                raise

        await run_phase(read, self.remotes, semaphore=self._semaphore,
                        on_failure=lambda _remote, message: self._fail(message))
        self.timings["preflight"] = round(self.timings.get("preflight", 0.0) + time.monotonic() - started, 3)
        if self.abort.is_set():
            return
        clashes = consistency_rules.check(self.remotes, listings, self.allow)
        if clashes:
            for remote in self.remotes:
                if remote.phase == Phase.PLANNED:
                    remote.enter(Phase.NOT_LOCKED)
            self._flush()
            raise consistency_rules.refusal(clashes)

    def _needed(self, remote: Remote) -> set[tuple[str, str]]:
        """The privileges the transaction needs on this remote: its lock and apply, and every
        planned write (on the path PVE checks it on)."""
        needed = {privileges.TRANSACTION}
        for obj, result in zip(remote.objects, remote.results):
            diff = result.get("diff") or {}
            zone = obj.options.get("zone") or (diff.get("after") or {}).get("zone") or (diff.get("before") or {}).get("zone")
            if obj.kind == "subnet":
                zone = str(result.get("id") or "").split("-", 1)[0]  # a subnet's ID is <zone>-<network>-<prefix>
            kind = KINDS[obj.kind]
            needed.update(privileges.for_change(obj.kind, result["action"], str(obj.options.get(kind.id_option)),
                                                zone=zone, parent=obj.options.get(kind.parent) if kind.parent else None))
        # After the apply: a vnet's firewall and IP mappings are checked on its zone's path (pve-firewall
        # Vnet.pm, Ips.pm), known here when this transaction or the item names the zone.
        zones = {str(obj.options.get("vnet")): obj.options["zone"] for obj in remote.objects
                 if obj.kind == "vnet" and obj.options.get("zone")}
        for _kind, options in remote.after:
            zone = options.get("zone") or zones.get(str(options.get("vnet")))
            if zone:
                needed.add((f"/sdn/zones/{zone}/{options['vnet']}", privileges.ALLOCATE))
        return needed

    async def _prepare_one(self, remote: Remote) -> None:
        if remote.token is None:
            await self._lock_one(remote)
        if not self.abort.is_set():
            await self._change_one(remote)
        if not self.abort.is_set():
            await steps.verify(remote)

    async def _lock_one(self, remote: Remote) -> None:
        try:
            await steps.lock(remote, allow_pending=self.allow_pending)
        except LockHeldError:
            self._contended = True
            raise

    async def _change_one(self, remote: Remote) -> None:
        remote.results, remote.changed = [], False

        def writing(the_plan) -> None:
            # Before the first write leaves (on disk within JOURNAL_FLUSH_SECONDS; an unwind
            # rolls back a remote still `locked` anyway, unless allow_pending: see steps.unwind).
            undo = undo_record(the_plan)
            if undo is not None:
                remote.enter(Phase.CHANGED, undo=[*remote.undo, undo])
            elif not remote.changed:
                remote.enter(Phase.CHANGED)
            remote.changed = True

        reader = None
        for obj in remote.objects:
            if self.abort.is_set():
                return
            reader = reader or await self._snapshot(remote)
            remote.results.append(await self._object(remote, obj, remote.token, reader, on_write=writing))

    async def _unwind_one(self, remote: Remote) -> None:
        remote.by = self.actor
        await steps.unwind(remote, cause=self.abort_reason or None)

    async def _apply_one(self, remote: Remote) -> None:
        remote.by = self.actor
        if self.list_pending:
            async with self._semaphore:
                remote.pending = await pending_objects(remote.client)
        await steps.apply(remote, timeout=self.apply_timeout, check_nodes=self.check_nodes, pace=self._pace,
                          admission=self._semaphore)

    async def _snapshot(self, remote: Remote, simulate: bool = False) -> Snapshot:
        """Read once; under our lock nobody else can write until we apply or roll back."""
        return await Snapshot.load(remote.client, *snapshot_scope(remote.objects), simulate=simulate)

    async def _object(self, remote: Remote, obj: DesiredObject, token: Optional[str], reader,
                      check_mode: bool = False, on_write=None) -> dict:
        try:
            return await run_object_task(remote.client, obj.kind, obj.options, state=obj.state,
                                         purge=obj.purge, lock_token=token, check_mode=check_mode,
                                         reader=reader, on_write=on_write)
        except PveFleetError as exc:
            raise PveFleetError(f"{remote.host}: {obj.label}: {_without_remote(exc, remote)}") from exc

    # Journal and progress

    def _on_change(self, remote: Remote, _fields: dict) -> None:
        self._keep_warm(remote)
        self._record(remote)

    @staticmethod
    def _keep_warm(remote: Remote) -> None:
        """A remote that will be needed again keeps its connections open through the waits on the
        others (at most two TLS handshakes per remote, however long the phases); a settled one
        lets them go."""
        warm = getattr(remote.client, "keep_warm", None)
        if warm is not None:
            warm(remote.phase not in SETTLED)

    def _record(self, remote: Remote) -> None:
        """Queue a journal update; _flush writes the queue in one rewrite of the file."""
        if self.journal is not None:
            self._unwritten[remote.host] = remote.record()

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

    def _notify(self, phase: str, done: int, of: int, started: float, tick: bool = False) -> None:
        """Tell `progress` how far a phase is: `done` of `of` remotes, `elapsed` seconds; `tick` for
        the heartbeat's calls (nothing ended since the last one)."""
        if self.progress is not None:
            # The counts as a callable: a thousand remotes ending one by one would otherwise count
            # the fleet a thousand times, for the dozen lines the progress prints.
            self.progress(phase, self.counts, done=done, of=of, elapsed=time.monotonic() - started, tick=tick)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for remote in self.remotes:
            counts[str(remote.phase)] = counts.get(str(remote.phase), 0) + 1
        return counts

    def report(self) -> dict:
        reports = [remote.report() for remote in self.remotes]
        # The remotes that caused the failure first, then those rolled back because of them.
        failed = sorted((r for r in reports if not r["ok"]), key=lambda r: ("error" not in r, r["host"]))
        succeeded = sorted((r for r in reports if r["ok"]), key=lambda r: r["host"])
        if self.check_mode:
            changed = any(r.changed for r in self.remotes)
        else:
            # What a rollback undid is no change; what was committed is, whatever its reload did.
            changed = any(r.phase in APPLY for r in self.remotes)
        return {
            "ok": not failed and not self.abort.is_set(),
            "changed": changed,
            "aborted": self.abort_reason or None,
            "counts": self.counts(),
            "failed": failed,
            "succeeded": succeeded,
            "timings": self.timings,
        }


@contextlib.asynccontextmanager
async def _borrowed(client):
    """A client another transaction opened, lent without closing it."""
    yield client


def _without_remote(exc: PveFleetError, remote: Remote) -> str:
    """An error's text without the remote's name in front (the caller puts the host there)."""
    text = str(exc)
    for prefix in (f"{remote.host}: ", f"{remote.settings.remote}: ", f"{remote.key}: "):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text
