"""sdn_transaction on_apply_failure=revert: the remotes that committed are brought back when the
apply fails elsewhere, and a revert that fails leaves every remote with the change, said so."""
from __future__ import annotations

from playbook import run_playbook

CONTROLLER = {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1"]}
ZONE = {"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}
VNET = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}


def fleet(**options):
    return [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {
            "controllers": [CONTROLLER], "zones": [ZONE], "vnets": [VNET], "on_apply_failure": "revert",
            **options}}]}]


def running_vnets(remote) -> set:
    return set((remote.control.state()["running"] or {}).get("vnets") or {})


def assert_settled(remotes):
    for remote in remotes[:3]:
        state = remote.control.state()
        assert not state["lock"]["held"], remote.name
        assert not state["has_pending_changes"], (remote.name, state["pending"])


def test_a_reload_failing_on_one_remote_reverts_every_remote_that_committed(remotes, inventory, tmp_path):
    remotes[1].control.reload_fault("fail")
    run = run_playbook(fleet(), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("fleet", "remote001")["result"]
    assert {host: outcome["revert"]["state"] for host, outcome in result["remotes"].items()} == {
        "remote001": "reverted", "remote002": "reverted", "remote003": "reverted"}
    assert result["remotes"]["remote002"]["phase"] == "apply_failed"
    assert "revert: reverted 3" in result["msg"]
    assert_settled(remotes)
    for remote in remotes[:3]:
        assert running_vnets(remote) == set(), remote.name
        # Applied twice: the change, then its inverse.
        applies = [r for r in remote.control.requests() if (r["method"], r["path"]) == ("PUT", "/cluster/sdn")]
        assert len(applies) == 2, remote.name


def test_a_revert_that_fails_before_its_apply_leaves_the_change_everywhere(remotes, inventory, tmp_path):
    remotes[1].control.reload_fault("fail")
    # The revert deletes the vnet first (removals in reverse order): refuse that on remote003.
    remotes[2].control.fail("DELETE", "^/cluster/sdn/vnets/vnet1$", message="injected: revert refused")
    run = run_playbook(fleet(), inventory, tmp_path)
    assert run.rc != 0
    outcomes = run.one("fleet", "remote001")["result"]["remotes"]
    assert {host: outcome["revert"]["state"] for host, outcome in outcomes.items()} == {
        "remote001": "revert_failed", "remote002": "revert_failed", "remote003": "revert_failed"}
    assert "injected: revert refused" in outcomes["remote003"]["revert"]["error"]
    assert_settled(remotes)
    for remote in remotes[:3]:
        assert running_vnets(remote) == {"vnet1"}, remote.name


def test_with_report_nothing_is_reverted(remotes, inventory, tmp_path):
    remotes[1].control.reload_fault("fail")
    run = run_playbook(fleet(on_apply_failure="report"), inventory, tmp_path)
    assert run.rc != 0
    assert all("revert" not in outcome for outcome in run.one("fleet", "remote001")["result"]["remotes"].values())
    assert all(running_vnets(remote) == {"vnet1"} for remote in remotes[:3])


def test_the_task_by_task_style_reverts_too(remotes, inventory, tmp_path):
    remotes[1].control.reload_fault("fail")
    play = [{"name": "tasks", "hosts": "remotes", "gather_facts": False, "any_errors_fatal": True, "tasks": [{
        "block": [
            {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}},
            {"name": "controller", "pvefleet.sdn.sdn_controller": CONTROLLER},
            {"name": "zone", "pvefleet.sdn.sdn_zone": ZONE},
            {"name": "vnet", "pvefleet.sdn.sdn_vnet": VNET},
            {"name": "apply", "pvefleet.sdn.sdn_apply": {"on_apply_failure": "revert"}}],
        "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}}]}]}]
    run = run_playbook(play, inventory, tmp_path)
    # remote002's apply fails; the rescue finds nothing left to roll back.
    assert run.one("apply", "remote002")["status"] == "failed"
    assert run.one("apply", "remote002")["result"]["revert"]["state"] == "reverted"
    assert run.one("apply", "remote001")["result"]["revert"]["state"] == "reverted"
    assert_settled(remotes)
    assert all(running_vnets(remote) == set() for remote in remotes[:3])


def test_a_revert_restores_the_old_running_config_of_updated_and_deleted_objects(remotes, inventory, tmp_path):
    before = {"vnets": [VNET | {"alias": "old"}, {"vnet": "vnet2", "zone": "evpn1", "tag": 12000}]}
    first = run_playbook(fleet(**before), inventory, tmp_path / "1")
    assert first.rc == 0, first.output
    old = {remote.name: remote.control.state()["running"] for remote in remotes[:3]}
    remotes[1].control.reload_fault("fail")
    change = {"vnets": [VNET | {"alias": "new", "isolate_ports": True}, {"vnet": "vnet2", "state": "absent"}],
              "subnets": [{"vnet": "vnet1", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}]}
    run = run_playbook(fleet(**change), inventory, tmp_path / "2")
    assert run.rc != 0
    outcomes = run.one("fleet", "remote001")["result"]["remotes"]
    assert {outcome["revert"]["state"] for outcome in outcomes.values()} == {"reverted"}, outcomes
    assert_settled(remotes)
    for remote in remotes[:3]:
        running = remote.control.state()["running"]
        for kind in ("zones", "vnets", "subnets", "controllers"):
            assert running[kind] == old[remote.name][kind], (remote.name, kind)
