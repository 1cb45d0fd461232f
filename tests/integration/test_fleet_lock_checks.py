"""The fleet engine's lock check before applying (FleetTransaction._verify_one), driven in process.

PVE accepts any lock token while no lock is held, so a lock force-released under the transaction
goes unnoticed by its writes. Before applying, every remote where the transaction wrote is probed
once; a remote whose lock is gone becomes `lock_lost` and every other remote is rolled back and
released, nothing applied anywhere. Everything here is judged from the emulator's state and the
transaction's report, not from its request log.
"""
from __future__ import annotations

import asyncio

from test_transaction import CONTROLLERS, VNETS, ZONES, assert_clean

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import (
    DesiredObject,
    FleetTransaction,
    Remote,
)

OURS = {"controllers": "evpnctl", "zones": "evpn1", "vnets": "vnet1"}


def fleet_remote(info) -> Remote:
    params = {key[len("pvefleet_sdn_"):]: value for key, value in info.vars.items()
              if key.startswith("pvefleet_sdn_")}
    objects = ([DesiredObject("controller", dict(o)) for o in CONTROLLERS]
               + [DesiredObject("zone", dict(o)) for o in ZONES]
               + [DesiredObject("vnet", dict(o)) for o in VNETS])
    return Remote(info.name, ConnectionSettings.from_params(params, remote=info.name), objects)


def transaction(remotes, **options) -> FleetTransaction:
    return FleetTransaction([fleet_remote(info) for info in remotes], **options)


def middle_of(tx: FleetTransaction, remotes):
    """The emulator remote in the middle of the transaction's lock order."""
    by_name = {info.name: info for info in remotes}
    return by_name[tx.remotes[1].host]


def on_phase(phase: str, wanted: dict, action):
    """A progress callback that runs `action` once, after every remote's step of `phase` ended,
    if the counts are then exactly `wanted`.

    progress() is called after each remote's step, but the counts are the phases of all remotes:
    a remote counts as "changed" from its first write on, while it may still be writing. Waiting
    for the last call of the phase makes sure every remote has made all its changes.
    """
    fired = []
    calls = []

    def progress(name: str, count, *, done: int, of: int, elapsed: float, tick: bool) -> None:
        if name != phase or tick or done == 0:
            return
        counts = count()
        calls.append(name)
        if len(calls) == sum(counts.values()) and not fired:
            fired.append(dict(counts))
            if counts == wanted:
                action()

    progress.fired = fired
    return progress


class AfterRequest:
    """A client factory for FleetTransaction: on `host`'s client, run `action` once, right after
    the first request whose method and path end as given has been answered."""

    def __init__(self, host: str, method: str, path_end: str, action):
        self.host, self.method, self.path_end, self.action = host, method, path_end, action
        self.fired: list[str] = []

    def __call__(self, settings, identity=None):
        from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import fleet_client

        client = fleet_client(settings, identity)
        if settings.remote != self.host:
            return client
        original = client.request

        async def request(method, path, **kwargs):
            answer = await original(method, path, **kwargs)
            if not self.fired and method == self.method and path.endswith(self.path_end):
                self.fired.append(path)
                self.action()
            return answer

        client.request = request
        return client


def run(tx: FleetTransaction) -> dict:
    return asyncio.run(tx.run())


def by_host(report: dict) -> dict[str, dict]:
    return {r["host"]: r for r in report["failed"] + report["succeeded"]}


def assert_ours_pending_not_applied(info) -> dict:
    state = info.control.state()
    assert state["has_pending_changes"], info.name
    for kind, name in OURS.items():
        assert name in state["pending"][kind], (info.name, kind, state["pending"])
        assert name not in state["running"][kind], (info.name, kind, state["running"])
    assert state["version"] == 0, info.name  # never applied
    return state


def test_lock_force_released_after_the_changes_rolls_back_the_others(remotes, tmp_path):
    journal = Journal(tmp_path / "locklost.json")
    middle = sorted(remotes, key=lambda info: info.host)[1]
    # Someone force-releases the middle remote's lock right after its last write, before its check.
    hook = AfterRequest(middle.name, "POST", "/vnets", middle.control.release_lock)
    tx = transaction(remotes, journal=journal, client_factory=hook)
    journal.join_many(RunId.current(), {r.host: r.settings.public_fields() for r in tx.remotes})
    lost = middle_of(tx, remotes)
    assert lost.name == middle.name
    others = [info for info in remotes if info.name != lost.name]

    report = run(tx)

    assert hook.fired == ["/cluster/sdn/vnets"]
    assert report["ok"] is False
    assert "no longer held by this transaction" in report["aborted"]
    assert report["counts"] == {"lock_lost": 1, "rolled_back": 2}
    assert report["succeeded"] == []
    # The remote that caused the failure first, with what to do about it.
    first = report["failed"][0]
    assert first["host"] == lost.name
    assert first["phase"] == "lock_lost" and not first["ok"]
    assert "no longer held by this transaction" in first["error"]
    assert "inspect it with pvefleet.sdn.sdn_info" in first["recovery"]
    assert "apply" not in first and "unwind" not in first  # not applied, not touched
    reports = by_host(report)
    for info in others:
        assert reports[info.name]["phase"] == "rolled_back", reports[info.name]
        assert reports[info.name]["unwind"] == {"state": "rolled_back", "ok": True}
        assert "apply" not in reports[info.name]
    assert set(report["timings"]) == {"preflight", "lock", "prepare", "rollback"}  # no apply phase

    # The others: no lock, nothing pending, nothing applied.
    assert_clean(others, applied=False)
    for info in others:
        assert info.control.state()["version"] == 0, info.name
    # The lost remote was not touched: our objects still pending, unlocked, nothing applied.
    state = assert_ours_pending_not_applied(lost)
    assert state["lock"] == {"held": False, "token": None}

    record = journal.read()["remotes"]
    assert record[lost.name]["phase"] == "lock_lost" and "no longer held" in record[lost.name]["error"]
    assert record[lost.name]["token"] is None  # nothing of ours left to send anywhere
    assert {record[info.name]["phase"] for info in others} == {"rolled_back"}
    assert all(record[info.name]["token"] is None for info in others)


def test_lock_taken_over_by_another_client_fails_the_apply_there_only(remotes):
    # _verify_one's probe only says that *a* lock is held: a lock force-released and taken by
    # another client since our last write passes it. PVE then refuses our apply on that remote
    # (our token is not the lock's) and commits nothing there; the others apply.
    tx = None
    other_token = []

    def take_over_middle() -> None:
        control = middle_of(tx, remotes).control
        control.release_lock()
        other_token.append(control.hold_lock())

    progress = on_phase("prepare", {"changed": 3}, take_over_middle)
    tx = transaction(remotes, progress=progress)
    taken = middle_of(tx, remotes)
    others = [info for info in remotes if info.name != taken.name]

    report = run(tx)

    assert progress.fired and other_token
    assert report["ok"] is False
    assert report["aborted"] is None  # no rollback: the apply phase had begun
    assert report["counts"] == {"lock_lost": 1, "applied": 2}
    assert [r["host"] for r in report["failed"]] == [taken.name]
    failed = report["failed"][0]
    assert failed["phase"] == "lock_lost"
    assert failed["error"].startswith("apply failed:")
    assert "invalid lock token" in failed["error"]
    assert "apply" not in failed and "unwind" not in failed  # refused: no task, and nothing of ours to undo
    # Our token cannot roll back or release another client's lock: reported, with what to do,
    # and no advice to force-release a lock that its owner may still be working under.
    assert "another client holds the SDN lock" in failed["recovery"]
    assert "--force" not in failed["recovery"]
    assert sorted(r["host"] for r in report["succeeded"]) == sorted(info.name for info in others)
    for r in report["succeeded"]:
        assert r["phase"] == "applied" and r["apply"]["ok"], r

    assert_clean(others, applied=True)
    # Nothing committed on the taken-over remote; the other client's lock is still held there,
    # and our changes are still pending under it (only its holder or a forced release frees them).
    state = assert_ours_pending_not_applied(taken)
    assert state["lock"] == {"held": True, "token": other_token[0]}


def test_nothing_to_apply_means_no_lock_check(remotes):
    first = run(transaction(remotes))
    assert first["ok"] and first["counts"] == {"applied": 3}, first
    assert_clean(remotes, applied=True)

    tx = None

    def release_middle() -> None:
        middle_of(tx, remotes).control.release_lock()

    progress = on_phase("prepare", {"locked": 3}, release_middle)
    tx = transaction(remotes, progress=progress)
    released = middle_of(tx, remotes)
    again = run(tx)

    assert progress.fired == [{"locked": 3}]
    assert not released.control.state()["lock"]["held"]
    assert again["ok"] is True, again
    assert again["changed"] is False
    assert again["counts"] == {"unchanged": 3}
    assert again["aborted"] is None
    for r in again["succeeded"]:
        assert not r["changed"] and all(not o["changed"] for o in r["objects"]), r
    assert_clean(remotes, applied=True)
    for info in remotes:
        assert info.control.state()["version"] == 1, info.name  # applied once, by the first run


def test_allow_pending_with_nothing_written_still_checks_the_lock(remotes):
    # The other branch of _verify_one: nothing written, but allow_pending may apply what is
    # pending, so the lock is checked with the token (LockSession.holds).
    first = run(transaction(remotes))
    assert first["ok"], first

    middle = sorted(remotes, key=lambda info: info.host)[1]
    # Released right after the middle remote's lock was taken: nothing is written, the check must see it.
    hook = AfterRequest(middle.name, "POST", "/cluster/sdn/lock", middle.control.release_lock)
    tx = transaction(remotes, allow_pending=True, client_factory=hook)
    lost = middle_of(tx, remotes)
    again = run(tx)

    assert hook.fired
    assert again["ok"] is False
    # Nothing written, and allow_pending: released, not rolled back (a rollback would drop others' pending changes).
    assert again["counts"] == {"lock_lost": 1, "released": 2}
    assert again["failed"][0]["host"] == lost.name
    assert again["failed"][0]["phase"] == "lock_lost"
    assert again["failed"][0]["recovery"]
    assert_clean(remotes, applied=True)
    for info in remotes:
        assert info.control.state()["version"] == 1, info.name  # nothing applied again


def test_reloads_are_waited_for_at_once_whatever_the_concurrency(remotes):
    """`concurrency` bounds the remotes worked on at once; waiting for a reload is not work: with
    one slot, every remote's apply is sent before the first remote's reload has been seen to end."""
    reloads_when_the_first_ended = []

    def progress(phase: str, _counts, *, done: int, **_more) -> None:
        if phase == "apply" and done and not reloads_when_the_first_ended:
            reloads_when_the_first_ended.append(sum(
                task["type"] == "reloadnetworkall" for info in remotes for task in info.control.tasks()))

    report = run(transaction(remotes, concurrency=1, progress=progress))
    assert report["ok"] and report["counts"] == {"applied": 3}
    assert reloads_when_the_first_ended == [3]
    assert_clean(remotes, applied=True)


def test_any_exception_on_one_remote_rolls_back_every_remote(remotes):
    """A bug (an exception that is not the collection's own, here a ValueError from the client on
    the middle remote's vnet write) is that remote's failure: the others are still rolled back."""
    from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import fleet_client

    class Buggy:
        def __init__(self, client):
            self.client = client

        async def __aenter__(self):
            self.inner = await self.client.__aenter__()
            original = self.inner.request

            async def request(method, path, **kwargs):
                if method == "POST" and path == "/cluster/sdn/vnets":
                    raise ValueError("not what anyone expected")
                return await original(method, path, **kwargs)

            self.inner.request = request
            return self.inner

        async def __aexit__(self, *exc):
            return await self.client.__aexit__(*exc)

    middle = sorted(info.name for info in remotes)[1]

    def factory(settings, identity=None):
        client = fleet_client(settings, identity)
        return Buggy(client) if settings.remote == middle else client

    tx = FleetTransaction([fleet_remote(info) for info in remotes], client_factory=factory)
    report = run(tx)
    assert report["ok"] is False
    failed = report["failed"][0]
    assert failed["host"] == middle and "internal error: ValueError: not what anyone expected" in failed["error"]
    assert report["counts"] == {"rolled_back": 3}
    assert_clean(remotes, applied=False)
    for info in remotes:
        assert not info.control.state()["has_pending_changes"], info.name
