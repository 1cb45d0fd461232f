"""What must be refused before any lock is taken, in both styles, checked through the emulator:
no lock token was ever issued on any remote. And two fleet transactions started at the same moment."""
from __future__ import annotations

import subprocess
import threading

import pytest
import yaml
from playbook import BIN, REPO, run_playbook
from test_transaction import CONTROLLERS, ZONES, assert_clean, assert_unlocked_and_empty, fleet_play, role_play


def no_lock_was_ever_taken(remotes) -> None:
    for remote in remotes:
        assert remote.control.state()["issued_lock_tokens"] == [], remote.name


PREFLIGHT_CASES = {
    "a vnet in a zone that exists nowhere": (
        {"vnets": [{"vnet": "vnet1", "zone": "nozone", "tag": 5}]}, "zone 'nozone' does not exist on the remote"),
    "a VLAN tag above what the zone written first allows": (
        {"zones": [{"zone": "vl1", "type": "vlan", "bridge": "vmbr0"}],
         "vnets": [{"vnet": "vnet1", "zone": "vl1", "tag": 5000}]}, "must be at most 4096"),
    "the same zone twice with different options": (
        {"zones": [{"zone": "z1", "type": "simple"}, {"zone": "z1", "type": "vlan", "bridge": "vmbr0"}]},
        "given twice with different options"),
    "remote_objects for a host that is not a remote of the transaction": (
        {"remote_objects": {"remote009": {"zones": [{"zone": "z1", "type": "simple"}]}}},
        "remote_objects: names remote009, which is not a remote of this transaction"),
}


@pytest.mark.parametrize("case", sorted(PREFLIGHT_CASES))
def test_the_fleet_task_refuses_before_any_lock(remotes, inventory, tmp_path, case):
    options, expected = PREFLIGHT_CASES[case]
    play = [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {"zones": [], "vnets": [], **options}}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc != 0
    assert expected in run.output, run.output
    no_lock_was_ever_taken(remotes)
    assert_unlocked_and_empty(remotes)


def test_twins_given_alike_are_one_object(remotes, inventory, tmp_path):
    zone = {"zone": "z1", "type": "simple"}
    play = [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {
            "zones": [zone], "remote_objects": {"remote002": {"zones": [dict(zone)]}}}}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc == 0, run.output
    assert all("z1" in r.control.state()["running"]["zones"] for r in remotes)


def test_a_pve8_remote_stops_the_fleet_task_before_any_lock(remotes, emulator, inventory, tmp_path):
    data = yaml.safe_load(inventory.read_text())
    data["all"]["children"]["remotes"]["hosts"]["remote004"] = data["all"]["children"]["pve8"]["hosts"]["remote004"]
    inventory.write_text(yaml.safe_dump(data))
    run = run_playbook(fleet_play(), inventory, tmp_path)
    assert run.rc != 0
    assert "remote004: runs Proxmox VE 8.4.1: the SDN lock API needs Proxmox VE 9 or newer" in run.output
    no_lock_was_ever_taken(remotes)


@pytest.mark.parametrize("style", ["block", "role"])
def test_a_pve8_remote_stops_every_host_before_any_lock(remotes, emulator, inventory, tmp_path, style):
    data = yaml.safe_load(inventory.read_text())
    data["all"]["children"]["remotes"]["hosts"]["remote004"] = data["all"]["children"]["pve8"]["hosts"]["remote004"]
    inventory.write_text(yaml.safe_dump(data))
    if style == "role":
        play = role_play(sdn_transaction_preflight=False)  # sdn_lock's own preflight, not the role's
    else:
        play = [{"name": "t", "hosts": "remotes", "gather_facts": False, "tasks": [{
            "name": "transaction", "any_errors_fatal": True,
            "block": [{"name": "lock", "pvefleet.sdn.sdn_lock": {}},
                      {"name": "zone", "pvefleet.sdn.sdn_zone": {"zone": "z1", "type": "simple"}},
                      {"name": "apply", "pvefleet.sdn.sdn_apply": {}}],
            "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}},
                       {"name": "fail", "ansible.builtin.fail": {"msg": "rolled back"}}]}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc != 0
    assert "not locking any remote of the transaction: remote004: runs Proxmox VE 8.4.1" in run.output
    no_lock_was_ever_taken(remotes)


def test_an_empty_token_secret_is_refused_by_name_before_any_lock(remotes, inventory, tmp_path):
    data = yaml.safe_load(inventory.read_text())
    data["all"]["children"]["remotes"]["hosts"]["remote002"]["pvefleet_sdn_api_token_secret"] = ""
    inventory.write_text(yaml.safe_dump(data))
    for style, play in (("fleet", fleet_play()), ("role", role_play())):
        run = run_playbook(play, inventory, tmp_path / style)
        assert run.rc != 0
        assert "api_token_secret: is empty" in run.output, run.output
    no_lock_was_ever_taken(remotes)


def test_the_role_refuses_a_vnet_in_a_zone_that_exists_nowhere(remotes, inventory, tmp_path):
    run = run_playbook(role_play(vnets=({"vnet": "vnet1", "zone": "nozone", "tag": 5},)), inventory, tmp_path)
    assert run.rc != 0
    assert "zone 'nozone' does not exist on the remote" in run.output
    no_lock_was_ever_taken(remotes)


def test_each_remote_gets_the_objects_of_its_own_variables(remotes, inventory, tmp_path):
    # The fleet task runs once, but templates each remote's objects with that host's variables.
    data = yaml.safe_load(inventory.read_text())
    for host, variables in data["all"]["children"]["remotes"]["hosts"].items():
        variables["my_zone"] = f"z{host[-1]}"
    inventory.write_text(yaml.safe_dump(data))
    play = [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {"zones": [{"zone": "{{ my_zone }}", "type": "simple"}]}}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc == 0, run.output
    for remote in remotes:
        assert list(remote.control.state()["running"]["zones"]) == [f"z{remote.name[-1]}"], remote.name


@pytest.mark.parametrize(("value", "works"), [("false", True), ("no", True), ("maybe", False)])
def test_a_boolean_host_variable_is_parsed_strictly(remotes, inventory, tmp_path, value, works):
    # As an INI inventory gives it: a string. "false" must turn verification off, not on.
    data = yaml.safe_load(inventory.read_text())
    for variables in data["all"]["children"]["remotes"]["hosts"].values():
        variables["pvefleet_sdn_validate_certs"] = value
        del variables["pvefleet_sdn_ca_path"], variables["pvefleet_sdn_fingerprint"]
    inventory.write_text(yaml.safe_dump(data))
    play = [{"name": "info", "hosts": "remote001", "gather_facts": False,
             "tasks": [{"name": "info", "pvefleet.sdn.sdn_info": {}}]}]
    run = run_playbook(play, inventory, tmp_path)
    if works:
        assert run.rc == 0, run.output
    else:
        assert run.rc != 0
        assert "pvefleet_sdn_validate_certs of remote001 is 'maybe', not a valid bool" in run.output


def start_fleet(inventory, workdir, name: str, **options) -> subprocess.Popen:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "playbook.yml").write_text(yaml.safe_dump(fleet_play(transaction=name, **options)))
    env = {"ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"), "PATH": str(BIN),
           "PVEFLEET_SDN_JOURNAL_DIR": str(workdir / "journal"), "HOME": str(workdir)}
    return subprocess.Popen([str(BIN / "ansible-playbook"), "-i", str(inventory), str(workdir / "playbook.yml")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True)


def run_together(inventory, tmp_path, **options) -> list[tuple[int, str]]:
    """Two fleet transactions over the same remotes, started at the same moment."""
    gate = threading.Barrier(2)
    results: list = [None, None]

    def one(index: int) -> None:
        gate.wait()
        proc = start_fleet(inventory, tmp_path / f"run{index}", f"race{index}", **options)
        results[index] = (proc.wait(timeout=300), proc.stdout.read())

    threads = [threading.Thread(target=one, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_of_two_fleet_transactions_started_together_one_wins(remotes, inventory, tmp_path):
    for remote in remotes:
        remote.control.latency(30)  # so that both are under way at once
    results = run_together(inventory, tmp_path)
    for remote in remotes:
        remote.control.clear_faults()
    codes = sorted(rc for rc, _output in results)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(output for rc, output in results if rc != 0)
    assert "another client holds the SDN lock" in loser
    assert_clean(remotes, applied=True)


def test_with_lock_wait_both_fleet_transactions_succeed(remotes, inventory, tmp_path):
    for remote in remotes:
        remote.control.latency(30)
    results = run_together(inventory, tmp_path, lock_wait=60)
    for remote in remotes:
        remote.control.clear_faults()
    assert [rc for rc, _output in results] == [0, 0], results
    assert_clean(remotes, applied=True)
    assert all(not remote.control.state()["lock"]["held"] for remote in remotes)


def test_objects_for_every_remote_come_before_the_per_remote_ones(remotes, inventory, tmp_path):
    # A controller given for one remote only, a zone for every remote that uses it.
    play = [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {
            "zones": list(ZONES), "remote_objects": {r.name: {"controllers": list(CONTROLLERS)} for r in remotes}}}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc == 0, run.output
    assert_clean(remotes, applied=False)  # no vnet: evpn1 and evpnctl applied, vnet1 absent
    assert all("evpn1" in r.control.state()["running"]["zones"] for r in remotes)
