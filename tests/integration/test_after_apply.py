"""Vnet firewalls and IP mappings in a transaction: written after the apply (PVE keeps them outside the SDN
lock, for applied vnets only), in both styles, through the example playbook pvefleet.sdn.tenant_ipam_firewall;
a failure there fails that remote alone, with its SDN change applied and how to finish; bad input is refused
before any lock. Outcomes are read from the emulator: running config, .fw files, the pve IPAM's state file."""
from __future__ import annotations

import json

import pytest
from playbook import run_playbook
from test_recovery import playbook_file

MAC = "bc:24:11:20:00:10"
ENGINE = {"role, task by task": "tasks", "role, fleet engine": "fleet"}


def tenant_of(remote) -> tuple:
    state = remote.control.state()
    fw = state["vnet_firewalls"].get("tenant1") or {}
    ips = state["ipam_db"]["zones"]["tenants"]["subnets"]["10.20.0.0/24"]["ips"]
    return (state["running"]["zones"]["tenants"]["ipam"], fw.get("options"),
            [(r.get("comment"), r.get("enable")) for r in fw.get("rules", [])], ips.get("10.20.0.10", {}).get("mac"))


EXPECTED = ("pve", {"enable": 1, "policy_forward": "DROP"}, [("ssh from the bastion", 1), ("https", 1)], MAC)


def assert_settled(remotes):
    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"] and not state["has_pending_changes"], remote.name


@pytest.mark.parametrize("style", sorted(ENGINE))
def test_the_tenant_playbook_builds_ipam_firewall_and_mappings_everywhere(remotes, inventory, tmp_path, style):
    extra = ["-e", json.dumps({"sdn_transaction_engine": ENGINE[style]})]
    run = run_playbook(playbook_file("tenant_ipam_firewall.yml"), inventory, tmp_path / "1", extra_args=extra)
    assert run.rc == 0, run.output
    for remote in remotes:
        assert tenant_of(remote) == EXPECTED, remote.name
        assert remote.control.state()["vnet_firewalls"]["tenant1"]["rules"][0]["macro"] == "SSH"
    assert_settled(remotes)

    again = run_playbook(playbook_file("tenant_ipam_firewall.yml"), inventory, tmp_path / "2", extra_args=extra)
    assert again.rc == 0, again.output
    assert all(not r["result"].get("changed") for r in again.results), [
        (r["task"], r["host"]) for r in again.results if r["result"].get("changed")]


def fleet(**objects) -> list[dict]:
    return [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {
            "zones": [{"zone": "z1", "type": "simple"}], "vnets": [{"vnet": "v1", "zone": "z1"}], **objects}}]}]


FIREWALL = {"vnet": "v1", "enable": True, "rules": [{"action": "ACCEPT", "proto": "tcp", "dport": "22",
                                                     "comment": "ssh"}]}


def test_a_failure_after_the_apply_fails_that_remote_alone(remotes, inventory, tmp_path):
    remotes[1].control.fail("POST", "/firewall/rules$", nth=1, status=500, message="injected: disk full")
    run = run_playbook(fleet(vnet_firewalls=[FIREWALL]), inventory, tmp_path / "1")
    assert run.rc != 0
    result = run.one("fleet", "remote001")["result"]
    outcome = result["remotes"]["remote002"]
    assert not outcome["ok"] and outcome["phase"] == "applied", outcome
    assert "injected: disk full" in json.dumps(result["failed_remotes"]) and "run the task again" in outcome["recovery"]
    assert result["remotes"]["remote001"]["ok"] and result["remotes"]["remote003"]["ok"]
    for remote in remotes:
        state = remote.control.state()
        assert "v1" in state["running"]["vnets"], remote.name  # the SDN change stays applied everywhere
        rules = (state["vnet_firewalls"].get("v1") or {}).get("rules", [])
        assert [r["comment"] for r in rules] == ([] if remote is remotes[1] else ["ssh"]), remote.name
    assert_settled(remotes)

    remotes[1].control.clear_faults()
    again = run_playbook(fleet(vnet_firewalls=[FIREWALL]), inventory, tmp_path / "2")
    assert again.rc == 0, again.output
    assert [r["comment"] for r in remotes[1].control.state()["vnet_firewalls"]["v1"]["rules"]] == ["ssh"]
    again_result = again.one("fleet", "remote001")["result"]
    assert again_result["remotes"]["remote002"]["changed"] and not again_result["remotes"]["remote001"]["changed"]


@pytest.mark.parametrize("objects, message", [
    ({"vnet_firewalls": [{"vnet": "v1", "rules": [{"action": "REJECT"}]}]}, "rules[0].action"),
    ({"vnet_ips": [{"vnet": "v1", "ip": "10.0.0.300"}]}, "ip: must be an IPv4 or IPv6 address"),
    ({"vnet_ips": [{"ip": "10.0.0.3"}]}, "vnet: required"),
])
def test_bad_after_apply_input_is_refused_before_any_lock(remotes, inventory, tmp_path, objects, message):
    run = run_playbook(fleet(**objects), inventory, tmp_path)
    assert run.rc != 0
    assert message in run.one("fleet", "remote001")["result"]["msg"]
    for remote in remotes:
        assert not remote.control.state()["issued_lock_tokens"], remote.name
        assert not [r for r in remote.control.requests() if r["method"] in ("POST", "PUT", "DELETE")], remote.name


def test_the_tenant_playbook_in_check_mode_before_anything_exists_writes_nothing(remotes, inventory, tmp_path):
    """The vnet does not exist yet: the firewall and mapping tasks plan as they would after the apply."""
    run = run_playbook(playbook_file("tenant_ipam_firewall.yml"), inventory, tmp_path, check=True)
    assert run.rc == 0, run.output
    firewall = [r for r in run.results if r["task"].endswith("Vnet firewalls")]
    assert len(firewall) == 3 and all(r["result"]["results"][0]["changed"] for r in firewall), run.output
    for remote in remotes:
        state = remote.control.state()
        assert not state["issued_lock_tokens"] and not state["vnet_firewalls"], remote.name
        # The lock probe (a release without token, which changes nothing when no lock is held) aside.
        assert not [r for r in remote.control.requests() if r["method"] in ("POST", "PUT", "DELETE")
                    and r["path"] != "/cluster/sdn/lock"], remote.name


def test_sdn_info_lists_plugins_masked_the_ipam_entries_and_the_firewalls(remotes, inventory, tmp_path):
    run = run_playbook(playbook_file("tenant_ipam_firewall.yml"), inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    plays = [{"name": "info", "hosts": "remote001", "gather_facts": False, "tasks": [
        {"name": "ipam", "pvefleet.sdn.sdn_ipam": {"ipam": "netbox", "type": "netbox", "url": "https://nb/api",
                                                   "token": "nb-secret-0042"}},
        {"name": "info", "pvefleet.sdn.sdn_info": {}}]}]
    info = run_playbook(plays, inventory, tmp_path / "2")
    assert info.rc == 0, info.output
    result = info.one("info", "remote001")["result"]
    assert {"ipam": "netbox", "type": "netbox", "url": "https://nb/api", "token": "(secret)"} in result["ipams"]
    assert "nb-secret-0042" not in json.dumps(info.results) and "nb-secret-0042" not in info.output
    entries = {(e["vnet"], e["ip"]): e for e in result["ipam_status"]}
    assert entries[("tenant1", "10.20.0.10")]["mac"] == MAC and entries[("tenant1", "10.20.0.1")].get("gateway")
    firewall = {f["vnet"]: f for f in result["vnet_firewalls"]}["tenant1"]
    assert firewall["options"]["policy_forward"] == "DROP"
    assert [r["comment"] for r in firewall["rules"]] == ["ssh from the bastion", "https"]
    assert [r["pos"] for r in firewall["rules"]] == [0, 1]


def test_the_plan_says_what_the_rollback_does_not_cover(remotes, inventory, tmp_path):
    objects = {"ipams": [{"ipam": "netbox", "type": "netbox", "url": "https://nb/api", "token": "nb-0001"}],
               "vnet_firewalls": [FIREWALL], "vnet_ips": [{"vnet": "v1", "ip": "10.0.0.5", "mac": "bc:24:11:00:00:05"}]}
    run = run_playbook(fleet(**objects), inventory, tmp_path, check=True)
    assert run.rc == 0, run.output
    entry = {e["host"]: e for e in run.one("fleet", "remote001")["result"]["succeeded_remotes"]}["remote002"]
    assert entry["outside_rollback"] == [
        "ipam netbox: written at once, undone by a compensating write if the transaction rolls back",
        "vnet firewall v1: written after the apply, outside the SDN lock; never rolled back",
        "vnet ip v1/10.0.0.5: written after the apply, outside the SDN lock; never rolled back"], entry
