"""sdn_fabric, sdn_fabric_node, sdn_prefix_list and sdn_route_map through ansible-playbook against the
emulator, one remote at a time; and sdn_info's view of them. Every outcome is read back through the
emulator's inspection API (fabrics and their nodes under state["fabrics"], keyed `<fabric>` and
`<fabric>_<node>`; prefix lists under `prefix-lists`; route map entries under `route-maps`, keyed
`<route map>_<order>`)."""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from playbook import run_playbook

from pvefleet_emulator.testing import EmulatorProcess

WRITES = ("POST", "PUT", "DELETE")


def play(tasks, hosts="remote001"):
    return [{"name": "test", "hosts": hosts, "gather_facts": False, "tasks": tasks}]


def task(name: str, module: str, **options) -> dict:
    return {"name": name, f"pvefleet.sdn.{module}": options}


def absent(t: dict) -> dict:
    """The same task with state=absent, keeping only the options that identify the object."""
    module = next(k for k in t if k.startswith("pvefleet.sdn."))
    keys = {"pvefleet.sdn.sdn_fabric": ("fabric",), "pvefleet.sdn.sdn_fabric_node": ("fabric", "node"),
            "pvefleet.sdn.sdn_prefix_list": ("prefix_list",), "pvefleet.sdn.sdn_route_map": ("route_map",)}[module]
    return {"name": t["name"], module: {**{k: t[module][k] for k in keys}, "state": "absent"}}


def pending_of(state: dict) -> dict:
    """Everything pending of every kind, fabrics.cfg's sections included."""
    return {**copy.deepcopy(state["pending"]), "fabrics": copy.deepcopy(state["fabrics"]["pending"])}


def all_pending_empty(state: dict) -> bool:
    return all(not objects for objects in pending_of(state).values())


def writes(remote) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in remote.control.requests() if r["method"] in WRITES]


FABRIC = task("fabric", "sdn_fabric", fabric="under", protocol="openfabric", ip_prefix="10.255.0.0/16",
              hello_interval=3)
OSPF_FABRIC = task("ospf fabric", "sdn_fabric", fabric="ospf1", protocol="ospf", ip_prefix="10.254.0.0/24",
                   area="0")
NODE = task("node", "sdn_fabric_node", fabric="under", node="pve1", ip="10.255.0.1",
            interfaces=[{"name": "ens19", "ip": "10.254.1.0/31", "hello_multiplier": 5}])
NODE2 = task("node2", "sdn_fabric_node", fabric="under", node="pve2", ip="10.255.0.2",
             interfaces=[{"name": "ens19", "ip": "10.254.1.1/31"}])
PREFIX_LIST = task("prefix list", "sdn_prefix_list", prefix_list="tenants", entries=[
    {"action": "permit", "prefix": "10.0.0.0/8", "le": 32}, {"action": "deny", "prefix": "0.0.0.0/0", "le": 32}])
ROUTE_MAP = task("route map", "sdn_route_map", route_map="evpn-in", entries=[
    {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}]},
    {"order": 20, "action": "deny"}])


def route_map_entries(state: dict, route_map: str) -> dict:
    return {key: value for key, value in state["pending"]["route-maps"].items() if key.startswith(route_map + "_")}


@dataclass
class Kind:
    create: dict  # the task
    update: dict  # the options of the update task (the ID and the one option changed)
    option: str
    before: Any  # the option's value before and after the update, as the diff shows it
    after: Any
    pending: Callable[[dict], Any]  # the object in the emulator's pending state
    created: Any  # what pending() is after the create ...
    updated: Any  # ... and after the update
    setup: list = field(default_factory=list)

    @property
    def module(self) -> str:
        return next(k for k in self.create if k.startswith("pvefleet.sdn."))

    def update_task(self) -> dict:
        return {"name": "update", self.module: dict(self.update)}


KINDS = {
    "fabric": Kind(
        create=FABRIC, update={"fabric": "under", "hello_interval": 5}, option="hello_interval", before=3, after=5,
        pending=lambda s: s["fabrics"]["pending"].get("under"),
        created={"type": "openfabric_fabric", "ip_prefix": "10.255.0.0/16", "hello_interval": 3},
        updated={"type": "openfabric_fabric", "ip_prefix": "10.255.0.0/16", "hello_interval": 5}),
    "fabric_node": Kind(
        setup=[FABRIC], create=NODE, update={"fabric": "under", "node": "pve1", "ip": "10.255.0.11"}, option="ip",
        before="10.255.0.1", after="10.255.0.11",
        pending=lambda s: s["fabrics"]["pending"].get("under_pve1"),
        created={"type": "openfabric_node", "ip": "10.255.0.1",
                 "interfaces": ["name=ens19,hello_multiplier=5,ip=10.254.1.0/31"]},
        updated={"type": "openfabric_node", "ip": "10.255.0.11",
                 "interfaces": ["name=ens19,hello_multiplier=5,ip=10.254.1.0/31"]}),
    "prefix_list": Kind(
        create=PREFIX_LIST, option="entries",
        update={"prefix_list": "tenants", "entries": [
            {"action": "permit", "prefix": "10.0.0.0/8", "le": 24}, {"action": "deny", "prefix": "0.0.0.0/0", "le": 32}]},
        before=[{"action": "permit", "prefix": "10.0.0.0/8", "le": 32, "seq": 5},
                {"action": "deny", "prefix": "0.0.0.0/0", "le": 32, "seq": 10}],
        after=[{"action": "permit", "prefix": "10.0.0.0/8", "le": 24, "seq": 5},
               {"action": "deny", "prefix": "0.0.0.0/0", "le": 32, "seq": 10}],
        pending=lambda s: s["pending"]["prefix-lists"].get("tenants"),
        created={"type": "prefix-list", "entries": ["action=permit,prefix=10.0.0.0/8,le=32,seq=5",
                                                    "action=deny,prefix=0.0.0.0/0,le=32,seq=10"]},
        updated={"type": "prefix-list", "entries": ["action=permit,prefix=10.0.0.0/8,le=24,seq=5",
                                                    "action=deny,prefix=0.0.0.0/0,le=32,seq=10"]}),
    "route_map": Kind(
        setup=[PREFIX_LIST], create=ROUTE_MAP, option="entries",
        update={"route_map": "evpn-in", "entries": [
            {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}],
             "set": [{"key": "local-preference", "value": "200"}]},
            {"order": 20, "action": "deny"}]},
        before=[{"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}]},
                {"order": 20, "action": "deny"}],
        after=[{"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}],
                "set": [{"key": "local-preference", "value": "200"}]},
               {"order": 20, "action": "deny"}],
        pending=lambda s: route_map_entries(s, "evpn-in") or None,
        created={"evpn-in_10": {"type": "route-map-entry", "action": "permit",
                                "match": ["key=ip-address-prefix-list,value=tenants"]},
                 "evpn-in_20": {"type": "route-map-entry", "action": "deny"}},
        updated={"evpn-in_10": {"type": "route-map-entry", "action": "permit",
                                "match": ["key=ip-address-prefix-list,value=tenants"],
                                "set": ["key=local-preference,value=200"]},
                 "evpn-in_20": {"type": "route-map-entry", "action": "deny"}}),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_create_rerun_update_delete(remotes, inventory, tmp_path, kind):
    k = KINDS[kind]
    remote = remotes[0]
    if k.setup:
        assert run_playbook(play(k.setup), inventory, tmp_path / "setup").rc == 0

    created = run_playbook(play([k.create]), inventory, tmp_path / "create")
    assert created.rc == 0, created.output
    result = created.one(k.create["name"], "remote001")["result"]
    assert result["changed"] and result["action"] == "create" and result["kind"] == kind
    assert k.pending(remote.control.state()) == k.created

    again = run_playbook(play([k.create]), inventory, tmp_path / "rerun")
    assert again.rc == 0, again.output
    result = again.one(k.create["name"], "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result

    updated = run_playbook(play([k.update_task()]), inventory, tmp_path / "update", diff=True)
    assert updated.rc == 0, updated.output
    result = updated.one("update", "remote001")["result"]
    assert result["changed"] and result["action"] == "update"
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before[k.option] == k.before, before
    assert after[k.option] == k.after, after
    assert {key: v for key, v in before.items() if key != k.option} == {
        key: v for key, v in after.items() if key != k.option}, result["diff"]  # only the one option changed
    assert k.pending(remote.control.state()) == k.updated

    gone = run_playbook(play([absent(k.create)]), inventory, tmp_path / "delete")
    assert gone.rc == 0, gone.output
    result = gone.one(k.create["name"], "remote001")["result"]
    assert result["changed"] and result["action"] == "delete"
    assert k.pending(remote.control.state()) is None

    gone_again = run_playbook(play([absent(k.create)]), inventory, tmp_path / "delete again")
    assert gone_again.rc == 0, gone_again.output
    result = gone_again.one(k.create["name"], "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result
    state = remote.control.state()
    assert not state["lock"]["held"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_check_mode_changes_nothing_on_the_remote(remotes, inventory, tmp_path, kind):
    k = KINDS[kind]
    remote = remotes[0]
    # A create in check mode (what it names created for real first): nothing changes on the remote.
    if k.setup:
        assert run_playbook(play(k.setup), inventory, tmp_path / "setup").rc == 0
    baseline = pending_of(remote.control.state())
    remote.control.clear_requests()
    checked = run_playbook(play([k.create]), inventory, tmp_path / "check create", check=True, diff=True)
    assert checked.rc == 0, checked.output
    result = checked.one(k.create["name"], "remote001")["result"]
    assert result["changed"] and result["action"] == "create" and result["diff"]["after"], result
    state = remote.control.state()
    assert pending_of(state) == baseline
    assert all_pending_empty(state) or k.setup, pending_of(state)
    assert not state["lock"]["held"] and not state["issued_lock_tokens"]
    assert writes(remote) == []

    assert run_playbook(play([k.create]), inventory, tmp_path / "create").rc == 0
    before = pending_of(remote.control.state())
    remote.control.clear_requests()
    for name, tasks in (("check update", [k.update_task()]), ("check delete", [absent(k.create)])):
        run = run_playbook(play(tasks), inventory, tmp_path / name, check=True, diff=True)
        assert run.rc == 0, run.output
        result = run.results[-1]["result"]
        assert result["changed"] and result["action"] == name.split()[1], result
        state = remote.control.state()
        assert pending_of(state) == before, name
        assert not state["lock"]["held"]
    assert writes(remote) == []


BAD = {
    "fabric interval": (task("bad", "sdn_fabric", fabric="under", protocol="openfabric", ip_prefix="10.255.0.0/16",
                             hello_interval=700), "hello_interval: must be between 1 and 600"),
    "fabric id": (task("bad", "sdn_fabric", fabric="a_b", protocol="ospf", ip_prefix="10.255.0.0/16", area="0"),
                  "fabric: must be 2 to 8 characters"),
    "fabric option of the other protocol": (task("bad", "sdn_fabric", fabric="under", protocol="openfabric",
                                                 ip_prefix="10.255.0.0/16", area="0"), "area"),
    "ospf fabric with ipv6": (task("bad", "sdn_fabric", fabric="ospf1", protocol="ospf", ip_prefix="10.254.0.0/24",
                                   ip6_prefix="fd00::/64", area="0"), "ip6_prefix"),
    "node multiplier": (task("bad", "sdn_fabric_node", fabric="under", node="pve1", ip="10.255.0.1",
                             interfaces=[{"name": "ens19", "hello_multiplier": 1}]),
                        "interfaces[0].hello_multiplier: must be between 2 and 100"),
    "node interface twice": (task("bad", "sdn_fabric_node", fabric="under", node="pve1", ip="10.255.0.1",
                                  interfaces=[{"name": "ens19"}, {"name": "ens19"}]), "interfaces: names an interface twice"),
    "node address with a length": (task("bad", "sdn_fabric_node", fabric="under", node="pve1", ip="10.255.0.1/24"),
                                   "ip: must be an IPv4 address"),
    "prefix list le": (task("bad", "sdn_prefix_list", prefix_list="tenants",
                            entries=[{"action": "permit", "prefix": "10.0.0.0/16", "le": 8}]), "entries[0].le"),
    "prefix list reserved": (task("bad", "sdn_prefix_list", prefix_list="only_default",
                                  entries=[{"action": "permit", "prefix": "10.0.0.0/16"}]), "reserved"),
    "route map match key": (task("bad", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit", "match": [{"key": "colour", "value": "x"}]}]), "entries[0].match[0].key"),
    "route map set takes no value": (task("bad", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit", "set": [{"key": "ip-next-hop-unchanged", "value": "1"}]}]),
        "entries[0].set[0].value: set ip-next-hop-unchanged takes no value"),
    "route map set needs a value": (task("bad", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit", "set": [{"key": "local-preference"}]}]),
        "entries[0].set[0].value: required for set local-preference"),
    "route map match needs a value": (task("bad", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit", "match": [{"key": "vni"}]}]), "entries[0].match[0].value"),
    "route map exit action needs a value": (task("bad", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit", "exit_action": {"key": "on-match-goto"}}]), "entries[0].exit_action.value"),
    "route map order twice": (task("bad", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit"}, {"order": 10, "action": "deny"}]), "entries: gives one order to two entries"),
    "route map without entries": (task("bad", "sdn_route_map", route_map="rm"),
                                  "entries: a route map needs at least one entry"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_before_anything_is_sent(remotes, inventory, tmp_path, case):
    bad, message = BAD[case]
    remotes[0].control.fail("*", ".", nth=1, times=None, status=599, message="no request expected")
    run = run_playbook(play([bad]), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("bad", "remote001")["result"]
    assert message in result["msg"], result["msg"]
    assert "no request expected" not in result["msg"]
    assert remotes[0].control.state()["faults"]["rules"][0]["seen"] == 0, remotes[0].control.requests()


def test_a_node_takes_its_fabrics_protocol_and_no_other(remotes, inventory, tmp_path):
    remote = remotes[0]
    openfabric_node = task("openfabric node", "sdn_fabric_node", fabric="under", node="pve1", ip="10.255.0.1")
    ospf_node = task("ospf node", "sdn_fabric_node", fabric="ospf1", node="pve1", ip="10.254.0.1",
                     interfaces=[{"name": "ens21", "ip": "10.253.0.0/31"}])
    run = run_playbook(play([FABRIC, OSPF_FABRIC, openfabric_node, ospf_node]), inventory, tmp_path / "1", diff=True)
    assert run.rc == 0, run.output
    assert run.one("openfabric node", "remote001")["result"]["diff"]["after"]["protocol"] == "openfabric"
    assert run.one("ospf node", "remote001")["result"]["diff"]["after"]["protocol"] == "ospf"
    fabrics = remote.control.state()["fabrics"]["pending"]
    assert fabrics["under_pve1"]["type"] == "openfabric_node"
    assert fabrics["ospf1_pve1"] == {"type": "ospf_node", "ip": "10.254.0.1", "interfaces": ["name=ens21,ip=10.253.0.0/31"]}

    remote.control.clear_requests()
    other = task("other protocol", "sdn_fabric_node", fabric="under", node="pve2", ip="10.255.0.2", protocol="ospf")
    refused = run_playbook(play([other]), inventory, tmp_path / "2")
    assert refused.rc != 0
    message = refused.one("other protocol", "remote001")["result"]["msg"]
    assert "protocol" in message and "'under'" in message and "openfabric" in message and "ospf" in message, message
    assert "under_pve2" not in remote.control.state()["fabrics"]["pending"]
    assert writes(remote) == []


def test_a_node_outside_its_fabrics_prefix_is_refused_before_any_write(remotes, inventory, tmp_path):
    remote = remotes[0]
    assert run_playbook(play([FABRIC]), inventory, tmp_path / "1").rc == 0
    remote.control.clear_requests()
    outside = task("outside", "sdn_fabric_node", fabric="under", node="pve1", ip="10.1.0.1")
    run = run_playbook(play([outside]), inventory, tmp_path / "2")
    assert run.rc != 0
    message = run.one("outside", "remote001")["result"]["msg"]
    assert "10.1.0.1" in message and "10.255.0.0/16" in message and "outside" in message, message
    assert writes(remote) == []
    assert set(remote.control.state()["fabrics"]["pending"]) == {"under"}


def test_a_node_of_a_fabric_that_does_not_exist(remotes, inventory, tmp_path):
    remote = remotes[0]
    present = task("present", "sdn_fabric_node", fabric="nope", node="pve1", ip="10.255.0.1")
    refused = run_playbook(play([present]), inventory, tmp_path / "1")
    assert refused.rc != 0
    message = refused.one("present", "remote001")["result"]["msg"]
    assert "fabric 'nope' does not exist" in message, message
    gone = run_playbook(play([absent(present)]), inventory, tmp_path / "2")
    assert gone.rc == 0, gone.output
    result = gone.one("present", "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result
    assert writes(remote) == []
    assert remote.control.state()["fabrics"]["pending"] == {}


def test_a_prefix_list_without_seq_is_numbered_as_pve_does_and_unchanged_on_rerun(remotes, inventory, tmp_path):
    remote = remotes[0]
    unnumbered = task("prefix list", "sdn_prefix_list", prefix_list="mgmt", entries=[
        {"action": "permit", "prefix": "10.0.0.0/24"}, {"action": "permit", "prefix": "10.0.1.0/24"},
        {"action": "deny", "prefix": "fd00:10::/64", "ge": 80, "le": 96}])
    first = run_playbook(play([unnumbered]), inventory, tmp_path / "1")
    assert first.rc == 0, first.output
    assert remote.control.state()["pending"]["prefix-lists"]["mgmt"]["entries"] == [
        "action=permit,prefix=10.0.0.0/24,seq=5", "action=permit,prefix=10.0.1.0/24,seq=10",
        "action=deny,prefix=fd00:10::/64,le=96,ge=80,seq=15"]
    remote.control.clear_requests()
    again = run_playbook(play([unnumbered]), inventory, tmp_path / "2", diff=True)
    assert again.rc == 0, again.output
    result = again.one("prefix list", "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result
    assert writes(remote) == []


def test_a_route_map_is_managed_as_a_whole(remotes, inventory, tmp_path):
    remote = remotes[0]
    three = task("route map", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}]},
        {"order": 20, "action": "permit", "set": [{"key": "ip-next-hop-unchanged"}]},
        {"order": 30, "action": "deny"}])
    other = task("other route map", "sdn_route_map", route_map="other", entries=[{"order": 10, "action": "permit"}])
    assert run_playbook(play([PREFIX_LIST, three, other]), inventory, tmp_path / "1").rc == 0
    assert set(route_map_entries(remote.control.state(), "rm")) == {"rm_10", "rm_20", "rm_30"}

    # 10 changes, 20 stays, 30 is not declared any more, 40 is new.
    update = task("route map", "sdn_route_map", route_map="rm", entries=[
        {"order": 40, "action": "permit", "exit_action": {"key": "on-match-next"}},
        {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}],
         "set": [{"key": "local-preference", "value": "+10"}]},
        {"order": 20, "action": "permit", "set": [{"key": "ip-next-hop-unchanged"}]}])
    remote.control.clear_requests()
    run = run_playbook(play([update]), inventory, tmp_path / "2", diff=True)
    assert run.rc == 0, run.output
    result = run.one("route map", "remote001")["result"]
    assert result["changed"] and result["action"] == "update"
    assert [e["order"] for e in result["diff"]["before"]["entries"]] == [10, 20, 30]
    assert [e["order"] for e in result["diff"]["after"]["entries"]] == [10, 20, 40]
    pending = remote.control.state()["pending"]["route-maps"]
    assert pending == {
        "other_10": {"type": "route-map-entry", "action": "permit"},
        "rm_10": {"type": "route-map-entry", "action": "permit", "match": ["key=ip-address-prefix-list,value=tenants"],
                  "set": ["key=local-preference,value=+10"]},
        "rm_20": {"type": "route-map-entry", "action": "permit", "set": ["key=ip-next-hop-unchanged"]},
        "rm_40": {"type": "route-map-entry", "action": "permit", "exit-action": "key=on-match-next"}}
    written = writes(remote)
    assert not any(path.endswith("/rm/entry/20") for _method, path in written), written  # the unchanged entry is left alone
    assert not any("other" in path for _method, path in written), written

    assert run_playbook(play([update]), inventory, tmp_path / "3").one("route map", "remote001")["result"][
        "changed"] is False

    gone = run_playbook(play([absent(update)]), inventory, tmp_path / "4")
    assert gone.rc == 0, gone.output
    assert gone.one("route map", "remote001")["result"]["action"] == "delete"
    assert remote.control.state()["pending"]["route-maps"] == {"other_10": {"type": "route-map-entry", "action": "permit"}}
    again = run_playbook(play([absent(update)]), inventory, tmp_path / "5")
    assert again.rc == 0, again.output
    assert not again.one("route map", "remote001")["result"]["changed"]


def test_a_route_map_entrys_action_changes_in_place(remotes, inventory, tmp_path):
    """PVE's entry PUT takes `action` (the 9.2 schema: action, set, match, call, exit-action): turning
    a permit entry into a deny one is an update of that entry, like any of its other options."""
    remote = remotes[0]
    permit = task("route map", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "permit"}, {"order": 20, "action": "permit"}])
    assert run_playbook(play([permit]), inventory, tmp_path / "1").rc == 0
    deny = task("route map", "sdn_route_map", route_map="rm", entries=[
        {"order": 10, "action": "deny"}, {"order": 20, "action": "permit"}])
    remote.control.clear_requests()
    run = run_playbook(play([deny]), inventory, tmp_path / "2", diff=True)
    assert run.rc == 0, run.output
    result = run.one("route map", "remote001")["result"]
    assert result["changed"] and result["action"] == "update"
    assert result["diff"]["after"]["entries"][0] == {"order": 10, "action": "deny"}
    assert remote.control.state()["pending"]["route-maps"] == {
        "rm_10": {"type": "route-map-entry", "action": "deny"}, "rm_20": {"type": "route-map-entry", "action": "permit"}}
    assert not any(path.endswith("/entry/20") for _method, path in writes(remote)), writes(remote)


def test_info_names_each_new_object_before_the_apply(remotes, inventory, tmp_path):
    """sdn_info's documented keys (fabrics `id`, fabric nodes `fabric_id` and `node_id`, prefix lists `id`
    and `entries`) for objects not applied yet too, as it gives zones' and controllers' IDs: PVE's
    pending view keeps a new fabric's, node's or prefix list's keys only under `pending`."""
    info = {"name": "info", "pvefleet.sdn.sdn_info": {}}
    run = run_playbook(play([PREFIX_LIST, ROUTE_MAP, FABRIC, NODE, NODE2, info]), inventory, tmp_path)
    assert run.rc == 0, run.output
    result = run.one("info", "remote001")["result"]
    assert [f.get("id") for f in result["fabrics"]] == ["under"], result["fabrics"]
    assert sorted((n.get("fabric_id"), n.get("node_id")) for n in result["fabric_nodes"]) == [
        ("under", "pve1"), ("under", "pve2")], result["fabric_nodes"]
    assert [(p.get("id"), len(p.get("entries") or [])) for p in result["prefix_lists"]] == [("tenants", 2)], (
        result["prefix_lists"])
    assert [[e.get("order") for e in m["entries"]] for m in result["route_maps"]] == [[10, 20]], result["route_maps"]


def test_info_lists_the_new_kinds_and_each_nodes_fabric_status(remotes, inventory, tmp_path):
    info = {"name": "info", "pvefleet.sdn.sdn_info": {}}
    run = run_playbook(play([PREFIX_LIST, ROUTE_MAP, FABRIC, NODE, NODE2, info]), inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    result = run.one("info", "remote001")["result"]
    assert len(result["fabrics"]) == 1 and len(result["fabric_nodes"]) == 2 and len(result["prefix_lists"]) == 1
    assert [m["route-map-id"] for m in result["route_maps"]] == ["evpn-in"]
    assert result["pending_changes"] == [
        "fabric node under/pve1 (new)", "fabric node under/pve2 (new)", "fabric under (new)",
        "prefix list tenants (new)", "route map entry evpn-in/10 (new)", "route map entry evpn-in/20 (new)"]

    applied = run_playbook(play([{"name": "apply", "pvefleet.sdn.sdn_apply": {}}, info]), inventory, tmp_path / "2")
    assert applied.rc == 0, applied.output
    result = applied.one("info", "remote001")["result"]
    assert result["pending_changes"] == []
    assert [(f["id"], f["protocol"], f["ip_prefix"]) for f in result["fabrics"]] == [
        ("under", "openfabric", "10.255.0.0/16")]
    assert sorted((n["fabric_id"], n["node_id"], n["ip"]) for n in result["fabric_nodes"]) == [
        ("under", "pve1", "10.255.0.1"), ("under", "pve2", "10.255.0.2")]
    assert [(p["id"], p["entries"]) for p in result["prefix_lists"]] == [("tenants", [
        "action=permit,prefix=10.0.0.0/8,le=32,seq=5", "action=deny,prefix=0.0.0.0/0,le=32,seq=10"])]
    assert [(m["route-map-id"], [(e["order"], e["action"]) for e in m["entries"]]) for m in result["route_maps"]] == [
        ("evpn-in", [(10, "permit"), (20, "deny")])]
    status = {(s["fabric"], s["node"]): s for s in result["fabric_status"]}
    assert sorted(status) == [("under", "pve1"), ("under", "pve2")], result["fabric_status"]
    for (_fabric, node), entry in status.items():
        assert "error" not in entry, entry
        assert entry["routes"] and entry["neighbors"] and entry["interfaces"], entry
        peer = "pve2" if node == "pve1" else "pve1"
        assert [n["neighbor"] for n in entry["neighbors"]] == [peer], entry
        assert "ens19" in {i["name"] for i in entry["interfaces"]}, entry
    assert status[("under", "pve1")]["routes"][0]["route"] == "10.255.0.2/32"


def test_fabrics_on_a_pve8_remote_are_refused_naming_the_release(remotes, inventory, tmp_path, emulator):
    old = emulator.remotes["remote004"]
    run = run_playbook(play([FABRIC], hosts="pve8"), inventory, tmp_path)
    assert run.rc != 0
    message = run.one("fabric", "remote004")["result"]["msg"]
    assert "Proxmox VE 9" in message, message
    assert writes(old) == []


@pytest.fixture(scope="module")
def pve91(tmp_path_factory):
    with EmulatorProcess(remotes=2, nodes=2, task_seconds=0.1, workdir=tmp_path_factory.mktemp("pve91"),
                         extra_args=("--pve91", "remote002")) as emu:
        yield emu


def test_prefix_lists_and_route_maps_on_a_pve91_remote_are_refused_naming_92(pve91, tmp_path):
    for info in pve91.remotes.values():
        info.control.clear_faults()
        info.control.reset()
    old = pve91.remotes["remote002"]
    assert old.control.state()["pve91"]
    tasks = [PREFIX_LIST | {"ignore_errors": True}, ROUTE_MAP | {"ignore_errors": True}, FABRIC]
    run = run_playbook(play(tasks, hosts="remotes"), pve91.inventory, tmp_path)
    for name in ("prefix list", "route map"):
        assert run.one(name, "remote001")["status"] == "ok", run.output
        result = run.one(name, "remote002")
        assert result["status"] == "ignored", result
        assert "Proxmox VE 9.2" in result["result"]["msg"], result["result"]["msg"]
    assert run.one("fabric", "remote002")["status"] == "ok", run.output  # fabrics are 9.0's
    assert [w for w in writes(old) if "fabrics" not in w[1]] == []
    state = old.control.state()
    assert state["pending"]["prefix-lists"] == {} and state["pending"]["route-maps"] == {}
    assert "under" in state["fabrics"]["pending"]
