"""The node-level preview of a transaction (PVE's dry-run under our lock): in --diff, and plan mode."""
from __future__ import annotations

import pytest
from playbook import run_playbook

ZONE = {"zone": "office", "type": "vlan", "bridge": "vmbr0"}
VNET = {"vnet": "office1", "zone": "office", "tag": 100}


def fleet(mode: str = "apply", **extra):
    return [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {"zones": [ZONE], "vnets": [VNET], "mode": mode, **extra}}]}]


def assert_nothing_left(remotes, applied: bool):
    for remote in remotes[:3]:
        state = remote.control.state()
        assert not state["lock"]["held"], remote.name
        assert not state["has_pending_changes"], (remote.name, state["pending"])
        assert ("office1" in state["running"].get("vnets", {})) == applied, remote.name


def test_plan_mode_previews_every_node_and_leaves_nothing_locked_or_pending(remotes, inventory, tmp_path):
    run = run_playbook(fleet("plan"), inventory, tmp_path)
    assert run.rc == 0, run.output
    result = run.one("fleet", "remote001")["result"]
    assert result["counts"] == {"previewed": 3}
    assert not result["changed"]
    preview = result["preview"]
    assert preview["summary"].startswith("6 node(s) on 3 remote(s):"), preview["summary"]
    for host in ("remote001", "remote002", "remote003"):
        nodes = preview["remotes"][host]["nodes"]
        assert sorted(nodes) == ["pve1", "pve2"]
        assert all("office1" in (files["interfaces"] or "") for files in nodes.values()), nodes
    assert_nothing_left(remotes, applied=False)
    # The plan wrote and rolled back: each remote saw a lock, the writes, the dry-runs and a rollback.
    paths = [(r["method"], r["path"]) for r in remotes[0].control.requests()]
    assert ("GET", "/cluster/sdn/dry-run") in paths and ("POST", "/cluster/sdn/rollback") in paths
    assert ("PUT", "/cluster/sdn") not in paths


def test_diff_shows_each_node_s_files_before_applying(remotes, inventory, tmp_path):
    run = run_playbook(fleet(), inventory, tmp_path, diff=True)
    assert run.rc == 0, run.output
    assert "# remote002, node pve2" in run.output
    assert "office1" in run.output
    result = run.one("fleet", "remote001")["result"]
    assert result["counts"] == {"applied": 3}
    assert "preview:" in result["msg"]
    assert_nothing_left(remotes, applied=True)
    # Applied: a second plan has nothing to preview.
    again = run_playbook(fleet("plan"), inventory, tmp_path / "again")
    assert again.rc == 0, again.output
    assert all(not preview["nodes"] for preview in again.one("fleet", "remote001")["result"]["preview"]["remotes"].values())


def test_a_failed_write_in_plan_mode_rolls_back_everywhere(remotes, inventory, tmp_path):
    remotes[1].control.fail("POST", "^/cluster/sdn/vnets$", message="injected")
    run = run_playbook(fleet("plan"), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("fleet", "remote001")["result"]
    assert result["counts"].get("previewed", 0) == 0
    assert_nothing_left(remotes, applied=False)


def test_the_confirm_gate_of_the_task_by_task_style(remotes, inventory, tmp_path):
    """sdn_apply preview=true shows what the nodes would get and applies nothing; a play asserts on
    it, then applies."""
    play = [{"name": "gate", "hosts": "remote001:remote002", "gather_facts": False, "any_errors_fatal": True,
             "tasks": [{"block": [
                 {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}},
                 {"name": "zone", "pvefleet.sdn.sdn_zone": ZONE},
                 {"name": "vnet", "pvefleet.sdn.sdn_vnet": VNET},
                 {"name": "preview", "pvefleet.sdn.sdn_apply": {"preview": True}, "register": "gate"},
                 {"name": "confirm", "ansible.builtin.assert": {"that": [
                     "gate.preview.nodes | length == 2",
                     "gate.preview.nodes.values() | map(attribute='interfaces') | select | list | length == 2"]}},
                 {"name": "apply", "pvefleet.sdn.sdn_apply": {}}],
                 "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}}]}]}]
    run = run_playbook(play, inventory, tmp_path, diff=True)
    assert run.rc == 0, run.output
    gate = run.one("preview", "remote001")["result"]
    assert not gate["changed"] and gate["msg"].startswith("not applied; preview of 2 node(s)")
    assert all("office1" in files["interfaces"] for files in gate["preview"]["nodes"].values())
    for remote in remotes[:2]:
        state = remote.control.state()
        assert not state["lock"]["held"] and not state["has_pending_changes"]
        assert "office1" in state["running"]["vnets"]


def test_the_role_plans_with_either_engine(remotes, inventory, tmp_path):
    for engine in ("tasks", "fleet"):
        play = [{"name": "plan", "hosts": "remote001:remote002", "gather_facts": False, "roles": [{
            "role": "pvefleet.sdn.sdn_transaction",
            "vars": {"sdn_transaction_zones": [ZONE], "sdn_transaction_vnets": [VNET],
                     "sdn_transaction_mode": "plan", "sdn_transaction_engine": engine}}]}]
        run = run_playbook(play, inventory, tmp_path / engine)
        assert run.rc == 0, run.output
        for remote in remotes[:2]:
            state = remote.control.state()
            assert not state["lock"]["held"] and not state["has_pending_changes"], (engine, remote.name)
            assert "office1" not in state["running"].get("vnets", {}), engine
        if engine == "tasks":
            preview = run.one("Plan - what every node would get", "remote002")["result"]["preview"]
        else:
            preview = run.one("Change the SDN configuration of every remote as one transaction, in one task",
                              "remote001")["result"]["preview"]["remotes"]["remote002"]
        assert all("office1" in files["interfaces"] for files in preview["nodes"].values()), (engine, preview)


ZONE_TYPES = {
    "simple": ({"zone": "simple1", "type": "simple"}, {"vnet": "vsimple", "zone": "simple1"}, None),
    "vlan": ({"zone": "vlan1", "type": "vlan", "bridge": "vmbr0"}, {"vnet": "vvlan", "zone": "vlan1", "tag": 100}, None),
    "qinq": ({"zone": "qinq1", "type": "qinq", "bridge": "vmbr0", "tag": 20}, {"vnet": "vqinq", "zone": "qinq1", "tag": 100},
             None),
    "vxlan": ({"zone": "vxlan1", "type": "vxlan", "peers": ["10.0.0.1", "10.0.0.2"]},
              {"vnet": "vvxlan", "zone": "vxlan1", "tag": 100000}, None),
    "evpn": ({"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000},
             {"vnet": "vevpn", "zone": "evpn1", "tag": 11000},
             {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1", "10.0.0.2"]}),
}


@pytest.mark.parametrize("zone_type", sorted(ZONE_TYPES))
def test_the_plan_shows_each_zone_type_s_node_files(remotes, inventory, tmp_path, zone_type):
    zone, vnet, controller = ZONE_TYPES[zone_type]
    task = {"zones": [zone], "vnets": [vnet], "mode": "plan", **({"controllers": [controller]} if controller else {})}
    play = [{"name": "plan", "hosts": "remote001", "gather_facts": False,
             "tasks": [{"name": "plan", "pvefleet.sdn.sdn_transaction": task}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc == 0, run.output
    nodes = run.one("plan", "remote001")["result"]["preview"]["remotes"]["remote001"]["nodes"]
    for files in nodes.values():
        assert f"+auto {vnet['vnet']}" in files["interfaces"], files["interfaces"]
        if zone_type == "evpn":
            assert "+router bgp 65000" in (files["frr"] or ""), files["frr"]
    assert_nothing_left(remotes, applied=False)
