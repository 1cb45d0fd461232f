# Private to pvefleet.sdn: not a public API.
"""The steps of a transaction on one remote, one implementation each: preflight, lock, release,
verify, apply, and unwind (roll back and release, or settle what an interrupted run left).

The fleet engine, the task-by-task style (each host's own tasks, and the host that applies or rolls
back for all), the watchdog and recovery all call these, so a remote is left in the same state and
reported in the same words whichever of them acted. A step moves the remote to its new phase
(Remote.enter, which the journal follows) and raises when the transaction must stop.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import follow_reload, node_names, pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import (
    ApiError,
    InvalidInput,
    LockTokenError,
    PveFleetError,
    TransportError,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import FleetPace
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import KINDS
from ansible_collections.pvefleet.sdn.plugins.module_utils._tasks import Upid
from ansible_collections.pvefleet.sdn.plugins.module_utils._undo import describe, undo_hint, undo_immediate

# The first Proxmox VE release with the SDN lock API (pve-network 1.1.3, pve-sdn-api.md §1).
LOCK_API_MAJOR = 9

FORCE_RELEASE_HINT = (
    "to free it by hand: `pvesh delete /cluster/sdn/lock --force 1` on a node of the remote, "
    "or pvefleet.sdn.sdn_lock with state=released and force=true"
)
ROLLBACK_HINT = (
    "to drop its pending SDN changes: `pvesh create /cluster/sdn/rollback` on a node of the "
    "remote (once the lock is free), or pvefleet.sdn.sdn_lock with state=rolled_back and force=true"
)
TAKEN_OVER = (
    "another client holds the SDN lock of this remote now (ours was force-released), and its pending "
    "configuration may still hold our changes: do not force-release that lock while its owner works; "
    "then inspect the remote with pvefleet.sdn.sdn_info and roll back or apply"
)
LOCK_GONE = (
    "our lock was released by someone else while our changes were pending, so the pending configuration "
    "may now hold others' changes too: inspect it with pvefleet.sdn.sdn_info (or `pvesh get /cluster/sdn/vnets "
    "--pending 1` and the zones, subnets, controllers alike), then roll back or apply by hand"
)
LOCK_ORPHANED = (
    "the lock request got no answer and a lock is held now: it may be ours, with a token nobody knows, or "
    "another client's. If no other client works on this remote, " + FORCE_RELEASE_HINT
)


def check_reload_hint(upid: str, node: str) -> str:
    return (f"check the reload by hand: `pvesh get /nodes/{node}/tasks/{upid}/status` on the remote, and each "
            "node's zones with `pvesh get /nodes/<node>/sdn/zones` (status `available` on every zone)")


class UnsupportedRemote(PveFleetError):
    """The remote's Proxmox VE is too old for the SDN lock API."""


async def preflight(remote: Remote) -> None:
    """Read-only and needing no privilege: the remote answers, its certificate is trusted, the
    credentials work, and its Proxmox VE has the SDN lock API."""
    info = await remote.client.get("/version") or {}
    release = str(info.get("release") or info.get("version") or "")
    try:
        major = int(release.split(".", maxsplit=1)[0])
    except ValueError:
        major = 0
    if major < LOCK_API_MAJOR:
        raise UnsupportedRemote(
            f"{remote.host}: runs Proxmox VE {info.get('version') or release or '(unknown version)'}: the SDN lock API "
            f"needs Proxmox VE {LOCK_API_MAJOR} or newer; upgrade it, or leave it out of the transaction")
    remote.version = str(info.get("version") or release)
    _check_release(remote, _release_of(release))


def _release_of(text: str) -> tuple[int, int]:
    parts = [int(part) for part in text.split(".")[:2] if part.isdigit()]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def _check_release(remote: Remote, release: tuple[int, int]) -> None:
    """Objects or options of a newer Proxmox VE than the remote runs: bad input, said before any
    lock (PVE itself would refuse them inside it, with a 501 or an unknown parameter)."""
    errors = {}
    for obj in remote.objects:
        needed = KINDS[obj.kind].release_needed(obj.options) if obj.state != "absent" else None
        if needed is not None and needed[0] > release:
            release_text = ".".join(map(str, needed[0]))
            errors[f"{remote.host}: {obj.label}"] = f"{needed[1]} Proxmox VE {release_text} or newer; " \
                                                    f"the remote runs {remote.version}"
    if errors:
        raise InvalidInput(errors)


async def lock(remote: Remote, *, allow_pending: bool) -> None:
    remote.enter(Phase.LOCKING)
    session = LockSession(remote.client)
    try:
        token = await session.acquire(allow_pending=allow_pending)
    except TransportError as exc:
        if not exc.sent:
            remote.enter(Phase.LOCK_FAILED, error=str(exc))
            raise
        # The answer was lost: if no lock is held now, the request did not take effect and may be
        # sent again; if one is held, it may be ours with a token we never got.
        if await session.probe():
            remote.enter(Phase.LOCK_UNKNOWN, error=str(exc), recovery=LOCK_ORPHANED)
            raise PveFleetError(f"{exc}; {LOCK_ORPHANED}") from exc
        try:
            token = await session.acquire(allow_pending=allow_pending)
        except PveFleetError as again:
            remote.enter(Phase.LOCK_UNKNOWN if isinstance(again, TransportError) and again.sent else Phase.LOCK_FAILED,
                         error=str(again), recovery=LOCK_ORPHANED if isinstance(again, TransportError) else None)
            raise
    except PveFleetError as exc:
        remote.enter(Phase.LOCK_FAILED, error=str(exc))
        raise
    remote.enter(Phase.LOCKED, token=token, identity=remote.client.identity(), allow_pending=allow_pending, error=None)


async def release(remote: Remote) -> None:
    """A locked remote where nothing was written, in a transaction that stopped: free its lock."""
    try:
        await LockSession(remote.client).release(remote.token)
    except LockTokenError:
        # Not ours any more: nothing of ours is pending (we wrote nothing), so nothing is owed.
        remote.enter(Phase.RELEASED, token=None, recovery=None,
                     error=remote.error or "our lock had been force-released; nothing of ours was pending")
        return
    except PveFleetError as exc:
        remote.enter(Phase.STUCK, error=remote.error or f"release failed: {exc}",
                     recovery=f"the remote may still be locked by this transaction; {FORCE_RELEASE_HINT}")
        raise
    remote.enter(Phase.RELEASED, token=None)


async def verify(remote: Remote) -> None:
    """Before anything is applied anywhere: is the lock still ours? PVE accepts any token while no
    lock is held, so a lock force-released under us would go unnoticed by the writes (§3.2)."""
    session = LockSession(remote.client)
    if remote.changed:
        # PVE accepted our token at every write, so the lock was ours or nobody's; the probe says
        # whether one is still held. Left unchecked is a lock force-released and taken by another
        # client since our last write; PVE then refuses our apply and commits nothing (see apply).
        held = await session.probe()
    elif remote.allow_pending:
        # Nothing written: whether to apply depends on what else is pending, and the token is
        # checked with a write that cannot succeed.
        held = await session.holds(remote.token or "")
        remote.pending = await pending_objects(remote.client) if held else []
    else:
        return  # nothing to apply: the lock is only released, whoever holds it now
    if not held:
        message = (f"the SDN lock of {remote.key} is no longer held by this transaction (it was released, or taken "
                   "by another client)")
        remote.enter(Phase.LOCK_LOST, token=None, pending=[], error=message, recovery=LOCK_GONE)
        raise PveFleetError(f"{remote.host}: {message}")


async def preview(remote: Remote) -> None:
    """What every node of the remote would get from its pending config, with our lock held and
    before the apply: pve-network's dry-run (GET /cluster/sdn/dry-run, 1.3.0 and newer), a unified
    diff of the node's /etc/frr/frr.conf and /etc/network/interfaces.d/sdn each (None: no change).
    A remote that cannot say (an older pve-network, a token without Sys.Audit on the node) is
    reported as such: a preview is information, not a condition of the change."""
    if not remote.changed and not remote.pending:
        remote.preview = {"nodes": {}}
        return
    nodes = await node_names(remote.client)
    try:
        answers = await asyncio.gather(*(remote.client.get("/cluster/sdn/dry-run", params={"node": node})
                                         for node in nodes))
    except ApiError as exc:
        if exc.status not in (403, 501):
            raise
        reason = ("its Proxmox VE has no dry-run (pve-network 1.3.0 added it)" if exc.status == 501
                  else f"the API token may not ask for it ({exc.message}; it needs Sys.Audit on /nodes/<node>)")
        remote.preview = {"unavailable": reason}
        return
    remote.preview = {"nodes": {node: {"frr": (answer or {}).get("frr-diff") or None,
                                       "interfaces": (answer or {}).get("interfaces-diff") or None}
                                for node, answer in zip(nodes, answers)}}


async def apply(remote: Remote, *, timeout: float, check_nodes: bool = True, pace: Optional[FleetPace] = None,
                admission=None) -> None:
    """Apply and follow the reload. Once PVE has answered the apply with a task ID it has committed
    (and released our lock): whatever fails afterwards is reported, never rolled back. Only an apply
    request PVE refused or never got leads to a rollback, and only while our lock still holds."""
    client = remote.client
    if not remote.changed and not remote.pending:
        async with admission or contextlib.nullcontext():
            await release(remote)
        remote.enter(Phase.UNCHANGED)
        return
    started = time.monotonic()
    remote.enter(Phase.APPLYING)
    try:
        async with admission or contextlib.nullcontext():
            answer = await LockSession(client).apply(remote.token, release=True)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the remote must be settled
        await _apply_not_answered(remote, exc)
        return
    try:
        upid = Upid.parse(answer if isinstance(answer, str) else repr(answer))
    except PveFleetError:
        remote.enter(Phase.APPLY_UNKNOWN, token=None, error=f"the apply answered {answer!r}, which is not a task ID",
                     recovery=check_reload_hint("<the newest reloadnetworkall task>", "<node>"))
        return
    # The reload runs from PVE's answer on, however long the request waited for its slot: the
    # fleet's pace (when a task should end) and the timeout count from here.
    answered = time.monotonic()
    remote.enter(Phase.APPLYING, token=None, apply={"upid": upid.text, "node": upid.node})
    try:
        nodes = await node_names(client) if check_nodes else []
        report = await follow_reload(client, upid, nodes, timeout=timeout, check_nodes=check_nodes, pace=pace,
                                     started=answered)
    except Exception as exc:  # noqa: BLE001 - committed: a follow-up failure is a report, not a rollback
        remote.enter(Phase.APPLY_UNKNOWN, apply={"upid": upid.text, "node": upid.node, "ok": False},
                     error=f"applied, but the reload's result is unknown: {_text(exc)}",
                     recovery=check_reload_hint(upid.text, upid.node))
        return
    report["duration"] = round(time.monotonic() - started, 3)
    if report["ok"]:
        remote.enter(Phase.APPLIED, apply=report, error=None)
    else:
        remote.enter(Phase.APPLY_FAILED, apply=report, error=report.get("error"))


async def _apply_not_answered(remote: Remote, exc: BaseException) -> None:
    """The apply request failed. PVE's own refusal means it committed nothing and kept the lock
    (§3.5); a refusal of our token means another client holds the lock; no answer at all means
    we cannot tell, so the remote is settled from what it shows now."""
    cause = f"apply failed: {_text(exc)}"
    remote.error = remote.error or cause
    if isinstance(exc, LockTokenError):
        remote.enter(Phase.LOCK_LOST, token=None, error=cause, recovery=TAKEN_OVER)
        return
    await settle_apply(remote, cause)


async def settle_apply(remote: Remote, cause: Optional[str] = None) -> None:
    """A remote whose apply may or may not have been carried out (its answer lost, or the run
    that sent it died). Still locked: the commit did not happen (PVE commits and releases in one
    step), so it is rolled back. Lock free and nothing pending: it was committed. Anything else is
    left for a person."""
    session = LockSession(remote.client)
    if await session.probe():
        await _roll_back_held(remote, session, cause)
        return
    pending = await pending_objects(remote.client)
    if not pending:
        remote.enter(Phase.APPLY_UNKNOWN, token=None, error=cause or "the run stopped while applying",
                     recovery=check_reload_hint(remote.apply.get("upid", "<the newest reloadnetworkall task>")
                                                if remote.apply else "<the newest reloadnetworkall task>",
                                                remote.apply.get("node", "<node>") if remote.apply else "<node>"))
        return
    remote.enter(Phase.STUCK, token=None, error=cause or "the run stopped while applying",
                 recovery=(f"the lock is free and {len(pending)} change(s) are pending ({', '.join(pending[:5])}): the "
                           "apply did not commit, or someone changed the remote since; " + LOCK_GONE))


async def unwind(remote: Remote, cause: Optional[str] = None) -> None:
    """Undo this transaction's part on a remote that will not be applied, whatever phase it was
    left in: a lock whose answer was lost, a lock with nothing written, changes, an apply cut off."""
    session = LockSession(remote.client)
    if remote.phase == Phase.APPLYING:
        await settle_apply(remote, cause)
        return
    if not remote.token:
        # The lock request got no answer (LOCKING, LOCK_UNKNOWN): free now means it never took.
        if await session.probe():
            remote.enter(Phase.STUCK, error=remote.error or cause, recovery=LOCK_ORPHANED)
        else:
            remote.enter(Phase.NOT_LOCKED, recovery=None)
        return
    if remote.phase == Phase.LOCKED and remote.allow_pending:
        # Nothing written, and a rollback would also drop the changes others left pending.
        await release(remote)
        return
    # Without allow_pending nothing was pending when the lock was taken, so a rollback drops only
    # ours: it is safe even where a write was made but not yet recorded.
    if not await session.probe():
        # PVE would accept our stale token now and drop whatever is pending, others' changes too.
        if remote.phase == Phase.LOCKED:
            remote.enter(Phase.RELEASED, token=None, error=remote.error or cause,
                         recovery="our lock had been released by someone else before we wrote anything")
        else:
            remote.enter(Phase.LOCK_LOST, token=None, error=remote.error or cause or "our lock is gone",
                         recovery=_with_undo(remote, LOCK_GONE))
        return
    await _roll_back_held(remote, session, cause)


async def unwind_plan(remote: Remote) -> None:
    """Plan mode's end: what was written and previewed is rolled back and the lock released, as
    after a failure; a remote left clean that way was planned, which is success."""
    await unwind(remote)
    if remote.phase in (Phase.ROLLED_BACK, Phase.RELEASED, Phase.UNCHANGED) and not remote.error:
        remote.enter(Phase.PREVIEWED)


async def _roll_back_held(remote: Remote, session: LockSession, cause: Optional[str]) -> None:
    """Undo what PVE's rollback does not cover (_undo.py), then roll back and release with our token;
    if the rollback fails, at least release the lock."""
    errors: list[str] = []
    undone: dict = {}
    if remote.undo:
        undo_errors = await undo_immediate(remote.client, remote.undo, remote.token)
        if undo_errors:
            remote.error = remote.error or cause
            remote.recovery = undo_hint(remote.undo)
            undone = {"undo_errors": undo_errors}
        else:
            undone = {"undone": [describe(record) for record in reversed(remote.undo)]}
            remote.enter(remote.phase, undo=[])
    try:
        await session.rollback(remote.token, release=True)
        remote.enter(Phase.ROLLED_BACK, token=None, recovery=remote.recovery if undone.get("undo_errors") else None,
                     unwind={"state": str(Phase.ROLLED_BACK), "ok": not undone.get("undo_errors"), **undone})
        return
    except LockTokenError as exc:
        remote.enter(Phase.LOCK_LOST, token=None, error=remote.error or cause, recovery=_with_undo(remote, TAKEN_OVER),
                     unwind={"state": str(Phase.LOCK_LOST), "ok": False, "errors": [f"rollback failed: {exc}"]})
        return
    except PveFleetError as exc:
        errors.append(f"rollback failed: {exc}")
    try:
        await session.release(remote.token)
    except PveFleetError as exc:
        errors.append(f"release failed: {exc}")
        remote.enter(Phase.STUCK, error=remote.error or cause, unwind={"state": str(Phase.STUCK), "ok": False, "errors": errors},
                     recovery=_with_undo(remote, f"the remote may still be locked and have pending changes; "
                                                 f"{FORCE_RELEASE_HINT}; then {ROLLBACK_HINT}"))
        return
    remote.enter(Phase.STUCK, token=None, error=remote.error or cause,
                 unwind={"state": "released", "ok": False, "errors": errors},
                 recovery=_with_undo(remote, f"the lock is free but our pending changes were kept; {ROLLBACK_HINT}"))


def _with_undo(remote: Remote, recovery: str) -> str:
    """A recovery that also names the plugin writes left to undo by hand (_undo.py)."""
    return f"{recovery}; {undo_hint(remote.undo)}" if remote.undo else recovery


def _text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, PveFleetError) else f"internal error: {type(exc).__name__}: {exc}"
