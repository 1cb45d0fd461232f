"""The EVPN-over-fabric layout (docs/docsite/rst/evpn-fabrics.rst) as one transaction over three
remotes: a prefix list, a route map matching it, an OpenFabric fabric with a node per cluster node
(addresses of each remote's own), an EVPN controller over the fabric with the route map on what it
receives (PVE 9.2), an EVPN zone and a vnet. In both styles (the sdn_transaction fleet task, the role
task by task), all or nothing; and the playbook pvefleet.sdn.evpn_fabric itself. Outcomes are judged
from the emulator's state, not from the collection's report."""
from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest
from playbook import BIN, HERE, REPO, PlaybookRun, run_playbook

HOSTS = ("remote001", "remote002", "remote003")
PREFIX_LISTS = [{"prefix_list": "tenants", "entries": [{"action": "permit", "prefix": "10.0.0.0/8", "le": 32}]}]
ROUTE_MAPS = [{"route_map": "evpn-in", "entries": [
    {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}]},
    {"order": 20, "action": "deny"}]}]
FABRICS = [{"fabric": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/16"}]
CONTROLLERS = [{"controller": "evpnctl", "type": "evpn", "asn": 65000, "fabric": "underlay", "route_map_in": "evpn-in"}]
ZONES = [{"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}]
VNETS = [{"vnet": "vnet1", "zone": "evpn1", "tag": 11000}]
# The fabric node POSTs of the transaction; the fault hits remote002's second (pve2), after its pve1 was written.
NODE_POST = "^/cluster/sdn/fabrics/node/underlay$"


def nodes_of(n) -> list[dict]:
    """Remote n's fabric nodes: router addresses 10.255.<n>.<node>, a /31 link between pve1 and pve2."""
    return [{"fabric": "underlay", "node": "pve1", "ip": f"10.255.{n}.1", "interfaces": [{"name": "ens19", "ip": f"10.254.{n}.0/31"}]},
            {"fabric": "underlay", "node": "pve2", "ip": f"10.255.{n}.2", "interfaces": [{"name": "ens19", "ip": f"10.254.{n}.1/31"}]}]


def fleet_play(**objects) -> list[dict]:
    layout = {"prefix_lists": PREFIX_LISTS, "route_maps": ROUTE_MAPS, "fabrics": FABRICS, "controllers": CONTROLLERS,
              "zones": ZONES, "vnets": VNETS,
              "remote_objects": {host: {"fabric_nodes": nodes_of(host[-1])} for host in HOSTS}}
    return [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {**layout, **objects}}]}]


def role_play(**role_vars) -> list[dict]:
    layout = {"sdn_transaction_prefix_lists": PREFIX_LISTS, "sdn_transaction_route_maps": ROUTE_MAPS,
              "sdn_transaction_fabrics": FABRICS,
              # templated for each host: its own addresses
              "sdn_transaction_fabric_nodes": nodes_of("{{ inventory_hostname[-1] }}"),
              "sdn_transaction_controllers": CONTROLLERS, "sdn_transaction_zones": ZONES,
              "sdn_transaction_vnets": VNETS}
    return [{"name": "transaction", "hosts": "remotes", "gather_facts": False, "roles": [{
        "role": "pvefleet.sdn.sdn_transaction", "vars": {**layout, "sdn_transaction_engine": "tasks", **role_vars}}]}]


PLAYS = {"fleet task": fleet_play, "role": role_play}
ROLLBACK = "Roll back and release every remote of the transaction"


def without_ids(sections: dict) -> dict:
    """fabrics.cfg's sections, comparable with the running copy's, which also carry each section's
    `id` and a node's `interfaces` when it has none (`[]`)."""
    return {key: {k: v for k, v in value.items() if k != "id" and v != []} for key, value in sections.items()}


def assert_released_and_nothing_pending(remote) -> dict:
    state = remote.control.state()
    assert not state["lock"]["held"], remote.name
    assert not state["has_pending_changes"], (remote.name, state["pending"])
    # has_pending_changes does not look at fabrics (as PVE's): compare fabrics.cfg with its running copy.
    assert without_ids(state["fabrics"]["pending"]) == without_ids(state["fabrics"]["running"]), (
        remote.name, state["fabrics"])
    return state


def assert_layout_running(remote, n, *, interfaces=True) -> None:
    state = assert_released_and_nothing_pending(remote)
    running, fabrics = state["running"], state["fabrics"]["running"]
    assert sorted(fabrics) == ["underlay", "underlay_pve1", "underlay_pve2"], (remote.name, fabrics)
    assert fabrics["underlay"]["type"] == "openfabric_fabric" and fabrics["underlay"]["ip_prefix"] == "10.255.0.0/16"
    assert fabrics["underlay_pve1"]["ip"] == f"10.255.{n}.1" and fabrics["underlay_pve2"]["ip"] == f"10.255.{n}.2"
    if interfaces:
        assert fabrics["underlay_pve1"]["interfaces"] == [f"name=ens19,ip=10.254.{n}.0/31"]
    assert sorted(running["route-maps"]) == ["evpn-in_10", "evpn-in_20"], (remote.name, running["route-maps"])
    assert running["route-maps"]["evpn-in_10"]["match"] == ["key=ip-address-prefix-list,value=tenants"]
    assert running["route-maps"]["evpn-in_20"]["action"] == "deny"
    assert "tenants" in running["prefix-lists"], (remote.name, running["prefix-lists"])
    controller = running["controllers"]["evpnctl"]
    assert controller["fabric"] == "underlay" and controller["route-map-in"] == "evpn-in", controller
    assert running["zones"]["evpn1"]["controller"] == "evpnctl"
    assert running["vnets"]["vnet1"]["zone"] == "evpn1"


def snapshot(remote) -> dict:
    state = remote.control.state()
    return copy.deepcopy({"running": state["running"], "fabrics": without_ids(state["fabrics"]["running"]),
                          "pending": state["pending"], "pending fabrics": without_ids(state["fabrics"]["pending"])})


@pytest.mark.parametrize("style", sorted(PLAYS))
def test_the_layout_applies_on_every_remote_then_a_rerun_changes_nothing(remotes, inventory, tmp_path, style):
    run = run_playbook(PLAYS[style](), inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    for remote in remotes:
        assert_layout_running(remote, remote.name[-1])
    if style == "fleet task":
        assert run.one("fleet", "remote001")["result"]["counts"] == {"applied": 3}

    again = run_playbook(PLAYS[style](), inventory, tmp_path / "2")
    assert again.rc == 0, again.output
    changed = [(r["task"], r["host"]) for r in again.results if r["result"].get("changed")]
    assert changed == [], changed
    for remote in remotes:
        assert_layout_running(remote, remote.name[-1])


@pytest.mark.parametrize("style", sorted(PLAYS))
def test_a_failing_fabric_node_rolls_back_and_releases_every_remote(remotes, inventory, tmp_path, style):
    # What ran before: a prefix list (another entry) and the fabric without nodes, applied everywhere.
    before = run_playbook(fleet_play(prefix_lists=[{"prefix_list": "tenants", "entries": [
        {"action": "permit", "prefix": "10.0.0.0/8", "le": 24}]}], route_maps=[], controllers=[], zones=[], vnets=[],
        remote_objects={}), inventory, tmp_path / "before")
    assert before.rc == 0, before.output
    earlier = {remote.name: snapshot(remote) for remote in remotes}
    assert earlier["remote001"]["fabrics"] == {"underlay": {"type": "openfabric_fabric", "ip_prefix": "10.255.0.0/16"}}

    remotes[1].control.fail("POST", NODE_POST, nth=2, message="injected: node refused")
    extra = {"sdn_transaction_preflight": False} if style == "role" else {}
    run = run_playbook(PLAYS[style](**extra), inventory, tmp_path / "fail")
    assert run.rc != 0
    assert "injected: node refused" in run.output
    rule = remotes[1].control.faults()["rules"][0]
    assert rule["fired"] == 1, rule
    if style == "fleet task":
        result = run.one("fleet", "remote001")["result"]
        assert [r["host"] for r in result["failed_remotes"]][:1] == ["remote002"], result
    else:
        rollbacks = run.task(ROLLBACK)
        rolled = sorted(host for r in rollbacks for host in r["result"]["by_this_host"])
        assert rolled == list(HOSTS), rollbacks
    for remote in remotes:
        assert_released_and_nothing_pending(remote)
        assert snapshot(remote) == earlier[remote.name], remote.name  # running (and pending) as before


def run_collection_playbook(name: str, inventory, workdir, extra_vars: dict) -> PlaybookRun:
    """`ansible-playbook -i inventory <namespace.collection.playbook> -e ...`, results recorded as run_playbook does."""
    workdir.mkdir(parents=True, exist_ok=True)
    record = workdir / "results.jsonl"
    env = dict(os.environ)
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
                "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
                "ANSIBLE_CALLBACKS_ENABLED": "record_results", "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
                "PVEFLEET_SDN_JOURNAL_DIR": str(workdir / "journal"), "RECORD_RESULTS_FILE": str(record),
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"})
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), name, "-e", json.dumps(extra_vars)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir, timeout=300,
                          stdin=subprocess.DEVNULL, check=False)
    results = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, results)


def test_the_evpn_fabric_playbook_builds_the_layout_on_every_remote(remotes, inventory, tmp_path):
    limit = {"target_hosts": "remote001:remote002:remote003"}
    run = run_collection_playbook("pvefleet.sdn.evpn_fabric", inventory, tmp_path / "1", limit)
    assert run.rc == 0, run.output
    assert sorted({r["host"] for r in run.results}) == list(HOSTS)
    for position, remote in enumerate(remotes, start=1):  # numbered by the remote's place in the play
        assert_layout_running(remote, position, interfaces=False)
        state = remote.control.state()
        assert state["running"]["prefix-lists"]["tenants"]["entries"] == ["action=permit,prefix=10.0.0.0/8,le=32,seq=5"]
        assert state["running"]["controllers"]["evpnctl"]["asn"] == 65000
        assert state["running"]["zones"]["evpn1"]["vrf-vxlan"] == 10000
        assert state["running"]["vnets"]["vnet1"]["tag"] == 11000
    again = run_collection_playbook("pvefleet.sdn.evpn_fabric", inventory, tmp_path / "2", limit)
    assert again.rc == 0, again.output
    changed = [(r["task"], r["host"]) for r in again.results
               if r["result"].get("changed") and r["action"].startswith("pvefleet.sdn.")]
    assert changed == [], changed
