"""An exhaustive fault campaign: record every request a transaction over 3 remotes makes, then run it
again once per (request k, fault kind), with that fault on request k, in both styles: the fleet
engine, and the task-by-task style through its action plugins' own code (tests/integration/inprocess.py).

After each run, the invariant, judged from the emulator's state and not from the collection's report:
every remote is unchanged (no lock, nothing pending, nothing of ours running) or wholly applied,
or else the result names that remote, its state and what to do. And the result never says a remote
is clean or applied when the emulator shows otherwise.

The fault kinds: a PVE error status, the connection dropped before the request is carried out, the
connection dropped after it was, an answer that never comes (a timeout), a truncated answer.
"""
from __future__ import annotations

import asyncio
import copy
import re
from collections import Counter
from dataclasses import dataclass

import inprocess
import pytest
from inprocess import Step, run_block

from ansible_collections.pvefleet.sdn.plugins.action.sdn_fabric import ActionModule as FabricAction
from ansible_collections.pvefleet.sdn.plugins.action.sdn_ipam import ActionModule as IpamAction
from ansible_collections.pvefleet.sdn.plugins.action.sdn_route_map import ActionModule as RouteMapAction
from ansible_collections.pvefleet.sdn.plugins.module_utils import _http
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import DesiredObject, FleetTransaction, Remote
from pvefleet_emulator.testing import EmulatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.exhaustive]

CONTROLLER = {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1"]}
ZONE = {"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}
VNET = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}
# The kinds of PVE 9 and 9.2, each as small as it can be (each request is faulted 5 times per style):
# a route map of one entry, and a fabric (the scenario matrix has their prefix list and node too).
ROUTE_MAP = {"route_map": "evpn-in", "entries": [{"order": 10, "action": "permit"}]}
FABRIC = {"fabric": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/16"}
# An IPAM plugin: PVE writes it at once, outside its rollback, so a rollback must undo it itself.
IPAM = {"ipam": "netbox", "type": "netbox", "url": "https://netbox.example/api", "token": "nb-campaign-0001"}
# (kind, options, step) in the transaction's order: what an object names comes before it.
OBJECTS = (("ipam", IPAM, "sdn_ipam"), ("route_map", ROUTE_MAP, "sdn_route_map"), ("fabric", FABRIC, "sdn_fabric"),
           ("controller", CONTROLLER, "sdn_controller"), ("zone", ZONE, "sdn_zone"), ("vnet", VNET, "sdn_vnet"))
inprocess.ACTIONS.update({"sdn_route_map": RouteMapAction, "sdn_fabric": FabricAction, "sdn_ipam": IpamAction})
# Short enough that a request whose answer never comes costs little; long enough for the emulator.
TIMEOUT = 0.5
FAULTS = {
    "error": {"status": 500, "message": "injected: fault"},
    "drop before": {"drop": "before"},
    "drop after": {"drop": "after"},
    "timeout": {"drop": "hang"},
    "truncated": {"drop": "truncate"},
}
CLEAN_CLAIMS = {"rolled_back", "released", "not_locked", "lock_failed"}
APPLIED_CLAIMS = {"applied", "apply_failed", "apply_unknown"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with EmulatorProcess(remotes=3, nodes=1, task_seconds=0.02, workdir=tmp_path_factory.mktemp("campaign")) as emu:
        yield emu


@dataclass(frozen=True)
class Request:
    host: str
    method: str
    path: str  # after /api2/json, without the query
    nth: int  # its place among this remote's requests of the same method and path


def settings_of(info) -> ConnectionSettings:
    params = {key[len("pvefleet_sdn_"):]: value for key, value in info.vars.items() if key.startswith("pvefleet_sdn_")}
    return ConnectionSettings.from_params({**params, "api_timeout": TIMEOUT}, remote=info.name)


def host_vars(fleet) -> dict[str, dict]:
    return {name: {**info.vars, "pvefleet_sdn_api_timeout": TIMEOUT} for name, info in fleet.remotes.items()}


# The two styles: each runs the transaction and returns, per host, what its result says of that remote.

def run_fleet(fleet, tmp_path) -> dict[str, dict]:
    objects = [DesiredObject(kind, copy.deepcopy(options)) for kind, options, _step in OBJECTS]
    remotes = [Remote(name, settings_of(info), list(objects)) for name, info in fleet.remotes.items()]
    journal = Journal(tmp_path / "journal" / "fleet.json")
    journal.join_many(RunId.current(), {r.host: r.settings.public_fields() for r in remotes})
    report = asyncio.run(FleetTransaction(remotes, apply_timeout=10, journal=journal).run())
    return {entry["host"]: entry for entry in report["failed"] + report["succeeded"]}


def run_task_by_task(fleet, tmp_path) -> dict[str, dict]:
    journal = {"journal_dir": str(tmp_path / "journal"), "transaction": "campaign"}
    block = [Step("sdn_lock", {"state": "locked", "release_on_exit": False, **journal}),
             *(Step(step, {**copy.deepcopy(options), **journal}) for _kind, options, step in OBJECTS),
             Step("sdn_apply", {"timeout": 10, **journal})]
    run = run_block(block, [Step("sdn_lock", {"state": "rolled_back", **journal})], host_vars(fleet))
    said = {}
    for host in fleet.remotes:
        if run.rescued:
            story = run.last(host, "sdn_lock")
            said[host] = {"phase": story["remotes"].get(host, {}).get("state"), **story["remotes"].get(host, {}),
                          "result": story}
        else:
            result = run.last(host, "sdn_apply")
            said[host] = {"phase": result.get("phase"), "recovery": result.get("recovery"), "result": result}
    return said


STYLES = {"fleet engine": run_fleet, "task by task": run_task_by_task}


# Recording and judging

class Recorder:
    """Every request the collection's HTTPS client sends, per remote, in order."""

    def __init__(self, monkeypatch):
        self.requests: list[tuple[str, str, str]] = []
        original = _http.HttpsPool.send

        async def send(pool, request):
            self.requests.append((pool.settings.remote, request.method, request.path.removeprefix("/api2/json")))
            return await original(pool, request)

        monkeypatch.setattr(_http.HttpsPool, "send", send)

    def numbered(self) -> list[Request]:
        seen: Counter = Counter()
        numbered = []
        for host, method, path in self.requests:
            seen[(host, method, path)] += 1
            numbered.append(Request(host, method, path, seen[(host, method, path)]))
        return numbered


def fabric_sections(sections: dict) -> dict:
    """fabrics.cfg's sections, comparable with the running copy's (which adds `id`, and `interfaces: []`)."""
    return {key: {k: v for k, v in value.items() if k != "id" and v != []} for key, value in sections.items()}


def remote_state(info) -> str:
    state = info.control.state()
    running, fabrics = state["running"], state["fabrics"]
    ours = ("evpnctl" in running["controllers"], "evpn1" in running["zones"], "vnet1" in running["vnets"],
            "evpn-in_10" in running["route-maps"], "underlay" in fabrics["running"], "netbox" in state["ipams"])
    if state["lock"]["held"]:
        return "locked"
    # has_pending_changes leaves fabrics out (as PVE's does): compare fabrics.cfg with its running copy.
    if state["has_pending_changes"] or fabric_sections(fabrics["pending"]) != fabric_sections(fabrics["running"]):
        return "pending"
    return "applied" if all(ours) else "clean" if not any(ours) else "partly applied"


def violations(fleet, said: dict[str, dict]) -> list[str]:
    found = []
    for host, info in fleet.remotes.items():
        actual = remote_state(info)
        claim = str((said.get(host) or {}).get("phase"))
        recovery = (said.get(host) or {}).get("recovery") or ""
        if claim in CLEAN_CLAIMS and actual != "clean":
            found.append(f"{host}: said {claim}, is {actual}")
        elif claim in APPLIED_CLAIMS and actual != "applied":
            found.append(f"{host}: said {claim}, is {actual}")
        elif claim == "unchanged" and actual not in ("clean", "applied"):
            found.append(f"{host}: said unchanged, is {actual}")
        elif actual not in ("clean", "applied") and not re.search(r"pvesh|pvefleet\.sdn\.", recovery):
            found.append(f"{host}: is {actual}, and the result ({claim}) does not say what to do: {recovery!r}")
    return found


def reset(fleet) -> None:
    for info in fleet.remotes.values():
        info.control.clear_faults()
        info.control.reset()


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_fault_on_every_request_keeps_the_promise(fleet, tmp_path, monkeypatch, style, record_property):
    run = STYLES[style]
    reset(fleet)
    recorder = Recorder(monkeypatch)
    said = run(fleet, tmp_path / "baseline")
    assert {remote_state(info) for info in fleet.remotes.values()} == {"applied"}, said
    requests = recorder.numbered()
    assert len(requests) > 30, requests

    runs, fired, problems = 0, 0, []
    by_outcome: Counter = Counter()
    for index, request in enumerate(requests):
        for kind, fault in FAULTS.items():
            reset(fleet)
            control = fleet.remotes[request.host].control
            control.fail(request.method, f"^{re.escape(request.path)}$", nth=request.nth, times=1, **fault)
            said = run(fleet, tmp_path / f"{index}-{kind.replace(' ', '_')}")
            runs += 1
            rule = control.faults()["rules"][0]
            fired += rule["fired"]
            problems += [f"request {index} ({request.method} {request.path} #{request.nth} on {request.host}), "
                         f"{kind}: {problem}" for problem in violations(fleet, said)]
            by_outcome[tuple(sorted(Counter(remote_state(i) for i in fleet.remotes.values()).items()))] += 1
    reset(fleet)
    # Printed at the end of the session (conftest.py), also when the tests run in several processes.
    record_property("summary", f"fault campaign, {style}: {len(requests)} requests x {len(FAULTS)} fault kinds: "
                    f"{runs} faulted runs ({fired} with the fault fired), {len(problems)} violations; remotes ended "
                    + "; ".join(f"{dict(states)}: {n}" for states, n in sorted(by_outcome.items())))
    assert problems == []


# The revert (on_apply_failure=revert): the reload fails on one remote, so every remote that committed
# is brought back by a second transaction; each request of that second transaction is faulted in turn.
# Its objects are the three of a plain EVPN change, and two fault kinds (a refusal, an answer lost
# after the change was made), to keep the campaign short.
REVERT_OBJECTS = (("controller", CONTROLLER), ("zone", ZONE), ("vnet", VNET))
REVERT_FAULTS = {kind: FAULTS[kind] for kind in ("error", "drop after")}


def run_fleet_reverting(fleet, tmp_path) -> dict[str, dict]:
    fleet.remotes["remote002"].control.reload_fault("fail")
    remotes = [Remote(name, settings_of(info), [DesiredObject(kind, copy.deepcopy(options)) for kind, options in REVERT_OBJECTS])
               for name, info in fleet.remotes.items()]
    journal = Journal(tmp_path / "journal" / "revert.json")
    journal.join_many(RunId.current(), {r.host: r.settings.public_fields() for r in remotes})
    engine = FleetTransaction(remotes, apply_timeout=10, journal=journal,
                              revert_journal=Journal(tmp_path / "journal" / "revert-revert.json"))
    report = asyncio.run(engine.run())
    return {entry["host"]: entry for entry in report["failed"] + report["succeeded"]}


def revert_state(info) -> str:
    state = info.control.state()
    if state["lock"]["held"]:
        return "locked"
    if state["has_pending_changes"]:
        return "pending"
    ours = ("evpnctl" in state["running"]["controllers"], "evpn1" in state["running"]["zones"],
            "vnet1" in state["running"]["vnets"])
    return "applied" if all(ours) else "clean" if not any(ours) else "partly applied"


def revert_violations(fleet, said: dict[str, dict]) -> list[str]:
    """reverted: clean; revert_failed: the change kept (applied), or the result says what to do."""
    found = []
    for host, info in fleet.remotes.items():
        actual, revert = revert_state(info), (said.get(host) or {}).get("revert") or {}
        claim, recovery = revert.get("state"), revert.get("recovery") or ""
        if claim == "reverted" and actual != "clean":
            found.append(f"{host}: said reverted, is {actual}")
        elif claim not in ("reverted", "revert_failed"):
            found.append(f"{host}: the result says nothing of its revert ({claim!r}), is {actual}")
        elif actual not in ("clean", "applied") and not re.search(r"pvesh|pvefleet\.sdn\.", recovery):
            found.append(f"{host}: is {actual}, and the revert's result does not say what to do: {recovery!r}")
    return found


def test_every_fault_during_a_revert_keeps_the_promise(fleet, tmp_path, monkeypatch, record_property):
    reset(fleet)
    recorder = Recorder(monkeypatch)
    started = []
    revert_committed = FleetTransaction._revert_committed

    async def marked(engine):
        started.append(len(recorder.requests))
        await revert_committed(engine)

    monkeypatch.setattr(FleetTransaction, "_revert_committed", marked)
    said = run_fleet_reverting(fleet, tmp_path / "baseline")
    assert {revert_state(info) for info in fleet.remotes.values()} == {"clean"}, said
    assert {entry["revert"]["state"] for entry in said.values()} == {"reverted"}, said
    requests = recorder.numbered()[started[0]:]
    assert len(requests) > 20, requests

    problems, runs = [], 0
    by_outcome: Counter = Counter()
    for index, request in enumerate(requests):
        for kind, fault in REVERT_FAULTS.items():
            reset(fleet)
            fleet.remotes[request.host].control.fail(request.method, f"^{re.escape(request.path)}$", nth=request.nth,
                                                     times=1, **fault)
            said = run_fleet_reverting(fleet, tmp_path / f"revert-{index}-{kind.replace(' ', '_')}")
            runs += 1
            problems += [f"revert request {index} ({request.method} {request.path} #{request.nth} on {request.host}), "
                         f"{kind}: {problem}" for problem in revert_violations(fleet, said)]
            by_outcome[tuple(sorted(Counter(revert_state(i) for i in fleet.remotes.values()).items()))] += 1
    reset(fleet)
    record_property("summary", f"fault campaign, revert: {len(requests)} requests x {len(REVERT_FAULTS)} fault kinds: "
                    f"{runs} faulted runs, {len(problems)} violations; remotes ended "
                    + "; ".join(f"{dict(states)}: {n}" for states, n in sorted(by_outcome.items())))
    assert problems == []
