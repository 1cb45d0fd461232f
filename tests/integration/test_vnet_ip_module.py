"""sdn_vnet_ip through ansible-playbook against the emulator: reserve, rerun, move to another MAC, free;
check mode; the vnet not applied yet, a zone without IPAM, an IPAM whose entries cannot be read; bad input.
Outcomes are read back from the pve IPAM's state file as the emulator keeps it (state["ipam_db"])."""
from __future__ import annotations

import pytest
from playbook import run_playbook

WRITES = ("POST", "PUT", "DELETE")
MAC = "bc:24:11:00:00:20"
MAC2 = "BC:24:11:00:00:21"


def play(tasks, hosts="remote001"):
    return [{"name": "test", "hosts": hosts, "gather_facts": False, "tasks": tasks}]


def mapping(name="map", **options) -> dict:
    return {"name": name, "pvefleet.sdn.sdn_vnet_ip": {"vnet": "v1", "ip": "10.10.0.20", **options}}


def layout(zone: dict, apply: bool = True) -> list[dict]:
    tasks = [{"name": "zone", "pvefleet.sdn.sdn_zone": {"zone": "z1", "type": "simple", **zone}},
             {"name": "vnet", "pvefleet.sdn.sdn_vnet": {"vnet": "v1", "zone": "z1"}},
             {"name": "subnet",
              "pvefleet.sdn.sdn_subnet": {"vnet": "v1", "subnet": "10.10.0.0/24", "gateway": "10.10.0.1"}}]
    return tasks + ([{"name": "apply", "pvefleet.sdn.sdn_apply": {}}] if apply else [])


def ips_of(remote) -> dict:
    zones = remote.control.state()["ipam_db"].get("zones") or {}
    return (zones.get("z1", {}).get("subnets", {}).get("10.10.0.0/24") or {}).get("ips") or {}


def writes(remote) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in remote.control.requests() if r["method"] in WRITES]


def test_reserve_rerun_move_free(remotes, inventory, tmp_path):
    remote = remotes[0]
    assert run_playbook(play(layout({"ipam": "pve", "dhcp": "dnsmasq"})), inventory, tmp_path / "setup").rc == 0

    created = run_playbook(play([mapping(mac=MAC)]), inventory, tmp_path / "create", diff=True)
    assert created.rc == 0, created.output
    result = created.one("map", "remote001")["result"]
    assert result["changed"] and result["action"] == "create" and result["verified"], result
    assert result["diff"] == {"before": {}, "after": {"ip": "10.10.0.20", "mac": MAC}}
    assert ips_of(remote)["10.10.0.20"]["mac"] == MAC
    assert not remote.control.state()["lock"]["held"]

    remote.control.clear_requests()
    again = run_playbook(play([mapping(mac=MAC.upper())]), inventory, tmp_path / "rerun")
    assert again.rc == 0, again.output
    result = again.one("map", "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result
    assert writes(remote) == []

    moved = run_playbook(play([mapping(mac=MAC2)]), inventory, tmp_path / "move", diff=True)
    assert moved.rc == 0, moved.output
    result = moved.one("map", "remote001")["result"]
    assert result["changed"] and result["action"] == "update"
    assert result["diff"]["before"]["mac"] == MAC and result["diff"]["after"]["mac"] == MAC2.lower()
    assert ips_of(remote)["10.10.0.20"]["mac"] == MAC2.lower()

    freed = run_playbook(play([mapping(state="absent")]), inventory, tmp_path / "free")
    assert freed.rc == 0, freed.output
    assert freed.one("map", "remote001")["result"]["action"] == "delete"
    assert "10.10.0.20" not in ips_of(remote)
    assert "10.10.0.1" in ips_of(remote), "the gateway stays"
    again = run_playbook(play([mapping(state="absent")]), inventory, tmp_path / "free again")
    assert again.rc == 0 and not again.one("map", "remote001")["result"]["changed"]


def test_check_mode_writes_nothing(remotes, inventory, tmp_path):
    remote = remotes[0]
    assert run_playbook(play(layout({"ipam": "pve", "dhcp": "dnsmasq"})), inventory, tmp_path / "setup").rc == 0
    remote.control.clear_requests()
    for name, t in (("create", mapping(mac=MAC)), ("delete", mapping(state="absent"))):
        if name == "delete":
            assert run_playbook(play([mapping(mac=MAC)]), inventory, tmp_path / "real").rc == 0
            remote.control.clear_requests()
        before = ips_of(remote)
        run = run_playbook(play([t]), inventory, tmp_path / name, check=True, diff=True)
        assert run.rc == 0, run.output
        result = run.one("map", "remote001")["result"]
        assert result["changed"] and result["action"] == name, result
        assert ips_of(remote) == before
        assert writes(remote) == []


def test_a_vnet_not_applied_yet_is_refused_before_any_write(remotes, inventory, tmp_path):
    remote = remotes[0]
    assert run_playbook(play(layout({"ipam": "pve", "dhcp": "dnsmasq"}, apply=False)), inventory,
                        tmp_path / "setup").rc == 0
    remote.control.clear_requests()
    run = run_playbook(play([mapping(mac=MAC)]), inventory, tmp_path / "map")
    assert run.rc != 0
    message = run.one("map", "remote001")["result"]["msg"]
    assert "vnet: 'v1' is not in the running SDN configuration" in message and "sdn_apply" in message, message
    assert writes(remote) == []


def test_a_zone_without_ipam_is_refused_before_any_write(remotes, inventory, tmp_path):
    remote = remotes[0]
    assert run_playbook(play(layout({})), inventory, tmp_path / "setup").rc == 0
    remote.control.clear_requests()
    run = run_playbook(play([mapping(mac=MAC)]), inventory, tmp_path / "map")
    assert run.rc != 0
    assert "has no IPAM" in run.one("map", "remote001")["result"]["msg"]
    assert writes(remote) == []


def test_an_ipam_that_cannot_be_read_takes_pves_answer_and_says_so(remotes, inventory, tmp_path):
    """Without DHCP the pve IPAM's entries are not listed: the write decides, and the result says it was not
    compared."""
    remote = remotes[0]
    assert run_playbook(play(layout({"ipam": "pve"})), inventory, tmp_path / "setup").rc == 0
    first = run_playbook(play([mapping(mac=MAC)]), inventory, tmp_path / "1")
    assert first.rc == 0, first.output
    result = first.one("map", "remote001")["result"]
    assert result["changed"] and not result["verified"] and result["warnings"], result
    assert ips_of(remote)["10.10.0.20"]["mac"] == MAC
    second = run_playbook(play([mapping(mac=MAC)]), inventory, tmp_path / "2")
    assert second.rc == 0, second.output
    result = second.one("map", "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result  # "IP ... already exist"
    assert "cannot be read" in second.output
    freed = run_playbook(play([mapping(state="absent"), mapping("again", state="absent")]), inventory, tmp_path / "3")
    assert freed.rc == 0, freed.output
    assert freed.one("map", "remote001")["result"]["changed"]
    assert not freed.one("again", "remote001")["result"]["changed"]  # "... does not exist in IPAM DB"
    assert "10.10.0.20" not in ips_of(remote)


@pytest.mark.parametrize("options, message", [
    ({"ip": "10.10.0.20/24", "mac": MAC}, "ip: must be an IPv4 or IPv6 address, without a prefix length"),
    ({"ip": "10.10.0.20", "mac": "01:00:5e:00:00:01"}, "mac: must be a unicast MAC address"),
    ({"ip": "10.10.0.20", "mac": "bc:24:11"}, "mac: must be a unicast MAC address"),
])
def test_bad_input_is_refused_before_anything_is_sent(remotes, inventory, tmp_path, options, message):
    remotes[0].control.fail("*", ".", nth=1, times=None, status=599, message="no request expected")
    run = run_playbook(play([{"name": "map", "pvefleet.sdn.sdn_vnet_ip": {"vnet": "v1", **options}}]), inventory,
                       tmp_path)
    assert run.rc != 0
    assert message in run.one("map", "remote001")["result"]["msg"]
    assert remotes[0].control.state()["faults"]["rules"][0]["seen"] == 0
