"""Each module through ansible-playbook against the emulator, one remote at a time."""
from __future__ import annotations

from conftest import secrets_of
from playbook import run_playbook
from test_transaction import nothing_pending


def play(tasks, hosts="remote001"):
    return [{"name": "test", "hosts": hosts, "gather_facts": False, "tasks": tasks}]


CONTROLLER = {"pvefleet.sdn.sdn_controller": {"controller": "evpnctl", "type": "evpn", "asn": 65000,
                                              "peers": ["10.0.0.1", "10.0.0.2"]}, "name": "controller"}
ZONE = {"pvefleet.sdn.sdn_zone": {"zone": "evpn1", "type": "evpn", "controller": "evpnctl",
                                  "vrf_vxlan": 10000}, "name": "zone"}
VNET = {"pvefleet.sdn.sdn_vnet": {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}, "name": "vnet"}
SUBNET = {"pvefleet.sdn.sdn_subnet": {"vnet": "vnet1", "subnet": "10.10.0.0/24", "gateway": "10.10.0.1",
                                      "dhcp_range": [{"start_address": "10.10.0.100", "end_address": "10.10.0.200"}]},
          "name": "subnet"}
OBJECTS = [CONTROLLER, ZONE, VNET, SUBNET]


def test_create_then_rerun_changes_nothing(remotes, inventory, tmp_path):
    first = run_playbook(play(OBJECTS), inventory, tmp_path / "1")
    assert first.rc == 0, first.output
    assert all(first.one(t["name"], "remote001")["result"]["changed"] for t in OBJECTS)
    pending = remotes[0].control.state()["pending"]
    assert pending["zones"]["evpn1"]["vrf-vxlan"] == 10000
    assert pending["vnets"]["vnet1"]["zone"] == "evpn1"
    assert "evpn1-10.10.0.0-24" in pending["subnets"]
    assert pending["controllers"]["evpnctl"]["peers"] == "10.0.0.1,10.0.0.2"

    second = run_playbook(play(OBJECTS), inventory, tmp_path / "2")
    assert second.rc == 0, second.output
    assert not any(second.one(t["name"], "remote001")["result"]["changed"] for t in OBJECTS)


def test_update_changes_only_the_given_option_and_shows_a_diff(remotes, inventory, tmp_path):
    assert run_playbook(play(OBJECTS), inventory, tmp_path / "1").rc == 0
    update = {"pvefleet.sdn.sdn_vnet": {"vnet": "vnet1", "alias": "prod net"}, "name": "alias"}
    run = run_playbook(play([update]), inventory, tmp_path / "2", diff=True)
    assert run.rc == 0, run.output
    result = run.one("alias", "remote001")["result"]
    assert result["changed"] and result["action"] == "update"
    assert result["diff"]["before"].get("alias") is None
    assert result["diff"]["after"]["alias"] == "prod net"
    assert remotes[0].control.state()["pending"]["vnets"]["vnet1"] == {
        "type": "vnet", "zone": "evpn1", "tag": 11000, "alias": "prod net"}


def test_check_mode_changes_nothing_on_the_remote(remotes, inventory, tmp_path):
    run = run_playbook(play(OBJECTS), inventory, tmp_path, check=True, diff=True)
    assert run.rc == 0, run.output
    assert run.one("zone", "remote001")["result"]["changed"]
    assert run.one("zone", "remote001")["result"]["diff"]["after"]["vrf_vxlan"] == 10000
    state = remotes[0].control.state()
    assert nothing_pending(state), (state["pending"], state["fabrics"]["pending"])
    assert not state["lock"]["held"]


def test_delete_in_reverse_order(remotes, inventory, tmp_path):
    assert run_playbook(play(OBJECTS), inventory, tmp_path / "1").rc == 0
    absent = [{**{k: {**v, "state": "absent"} for k, v in t.items() if k != "name"}, "name": t["name"]}
              for t in reversed(OBJECTS)]
    run = run_playbook(play(absent), inventory, tmp_path / "2")
    assert run.rc == 0, run.output
    assert all(run.one(t["name"], "remote001")["result"]["action"] == "delete" for t in OBJECTS)
    assert remotes[0].control.state()["pending"]["zones"] == {}
    again = run_playbook(play(absent), inventory, tmp_path / "3")
    assert not any(again.one(t["name"], "remote001")["result"]["changed"] for t in OBJECTS)


def test_bad_input_is_refused_before_anything_is_sent(remotes, inventory, tmp_path):
    remotes[0].control.fail("*", ".", nth=1, times=None, status=599, message="no request expected")
    bad = {"pvefleet.sdn.sdn_zone": {"zone": "x-1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 0},
           "name": "bad"}
    run = run_playbook(play([bad]), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("bad", "remote001")["result"]
    assert "vrf_vxlan: must be between 1 and 16777215" in result["msg"]
    assert "zone:" in result["msg"]
    assert remotes[0].control.state()["faults"]["rules"][0]["seen"] == 0


def test_vnet_rule_that_needs_the_zone_is_checked_against_the_remote(remotes, inventory, tmp_path):
    vlan_zone = {"pvefleet.sdn.sdn_zone": {"zone": "office", "type": "vlan", "bridge": "vmbr0"}, "name": "zone"}
    no_tag = {"pvefleet.sdn.sdn_vnet": {"vnet": "v1", "zone": "office"}, "name": "vnet"}
    run = run_playbook(play([vlan_zone, no_tag]), inventory, tmp_path)
    assert run.rc != 0
    assert "tag" in run.one("vnet", "remote001")["result"]["msg"]
    assert remotes[0].control.state()["pending"]["vnets"] == {}


def test_write_while_another_client_holds_the_lock(remotes, inventory, tmp_path):
    remotes[0].control.hold_lock()
    run = run_playbook(play([ZONE | {"ignore_errors": True}, {
        "name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}}]), inventory, tmp_path)
    assert "invalid lock token provided!" in run.one("zone", "remote001")["result"]["msg"]
    assert "another client holds the SDN lock" in run.one("lock", "remote001")["result"]["msg"]


def test_wrong_token_is_refused(remotes, inventory, tmp_path):
    remotes[0].control.hold_lock()
    controller = {"name": "controller", "pvefleet.sdn.sdn_controller": {
        **CONTROLLER["pvefleet.sdn.sdn_controller"], "lock_token": "0198c0de-0000-7000-8000-000000000000"}}
    run = run_playbook(play([controller]), inventory, tmp_path)
    assert run.rc != 0
    assert "invalid lock token provided!" in run.one("controller", "remote001")["result"]["msg"]
    assert remotes[0].control.state()["pending"]["controllers"] == {}


def test_authentication_failure(remotes, inventory, tmp_path):
    task = {"name": "info", "pvefleet.sdn.sdn_info": {"api_token_secret": "not-the-secret"}}
    run = run_playbook(play([task]), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("info", "remote001")["result"]
    assert result["failure"]["status"] == 401
    assert "not-the-secret" not in run.output


def test_password_authentication(remotes, inventory, tmp_path, emulator):
    password = remotes[0].password
    task = {"name": "info", "pvefleet.sdn.sdn_info": {"api_password": password},
            "vars": {"pvefleet_sdn_api_token_id": None, "pvefleet_sdn_api_token_secret": None}}
    first = [CONTROLLER | {"pvefleet.sdn.sdn_controller": {**CONTROLLER["pvefleet.sdn.sdn_controller"],
                                                           "api_password": password},
                           "vars": task["vars"]}]
    run = run_playbook(play(first + [task]), inventory, tmp_path)
    assert run.rc == 0, run.output
    assert run.one("info", "remote001")["result"]["controllers"][0]["controller"] == "evpnctl"
    assert password not in run.output


def test_tls_is_verified_and_pins_are_enforced(remotes, inventory, tmp_path):
    no_ca = {"name": "no_ca", "ignore_errors": True, "pvefleet.sdn.sdn_info": {},
             "vars": {"pvefleet_sdn_ca_path": None, "pvefleet_sdn_fingerprint": None}}
    wrong_pin = {"name": "wrong_pin", "ignore_errors": True,
                 "pvefleet.sdn.sdn_info": {"fingerprint": "AA:" * 31 + "AA"}}
    right_pin = {"name": "right_pin", "pvefleet.sdn.sdn_info": {}, "vars": {"pvefleet_sdn_ca_path": None}}
    unverified = {"name": "unverified", "pvefleet.sdn.sdn_info": {"validate_certs": False},
                  "vars": {"pvefleet_sdn_ca_path": None, "pvefleet_sdn_fingerprint": None}}
    run = run_playbook(play([no_ca, wrong_pin, right_pin, unverified]), inventory, tmp_path)
    assert run.one("no_ca", "remote001")["status"] == "ignored"
    assert "TLS verification failed" in run.one("no_ca", "remote001")["result"]["msg"]
    assert run.one("wrong_pin", "remote001")["status"] == "ignored"
    assert "does not match the pinned fingerprint" in run.one("wrong_pin", "remote001")["result"]["msg"]
    assert run.one("right_pin", "remote001")["status"] == "ok"
    assert run.one("unverified", "remote001")["status"] == "ok"


def test_info_reports_pending_changes_and_lock(remotes, inventory, tmp_path):
    remotes[0].control.hold_lock()
    run = run_playbook(play([{"name": "info", "pvefleet.sdn.sdn_info": {}}]), inventory, tmp_path)
    assert run.one("info", "remote001")["result"]["lock"] == {"held": True, "state": "held"}


def test_no_secret_reaches_the_output(remotes, inventory, tmp_path, emulator):
    tasks = [{"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}}] + OBJECTS + [
        {"name": "apply", "pvefleet.sdn.sdn_apply": {}}]
    run = run_playbook(play(tasks), inventory, tmp_path, diff=True, extra_args=["-vvv"])
    assert run.rc == 0, run.output
    record = (tmp_path / "results.jsonl").read_text()
    for secret in secrets_of(emulator):
        assert secret not in run.output
        assert secret not in record


def test_host_variables_win_over_the_environment(remotes, inventory, tmp_path):
    run = run_playbook(play([{"name": "info", "pvefleet.sdn.sdn_info": {}}]), inventory, tmp_path,
                       env={"PROXMOX_HOST": "127.0.0.250", "PROXMOX_TOKEN_SECRET": "wrong"})
    assert run.rc == 0, run.output


def test_environment_fills_in_what_nothing_else_gives(remotes, inventory, tmp_path):
    task = {"name": "info", "pvefleet.sdn.sdn_info": {},
            "vars": {"pvefleet_sdn_api_port": None, "pvefleet_sdn_api_token_secret": None}}
    env = {"PROXMOX_PORT": str(remotes[0].port), "PROXMOX_TOKEN_SECRET": remotes[0].token_secret}
    run = run_playbook(play([task]), inventory, tmp_path, env=env)
    assert run.rc == 0, run.output
