"""Transactions across remotes, task by task (the role) and in one fleet task, with faults."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import yaml
from conftest import secrets_of
from playbook import BIN, REPO, run_playbook

CONTROLLERS = ({"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1"]},)
ZONES = ({"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000},)
VNETS = ({"vnet": "vnet1", "zone": "evpn1", "tag": 11000},)


def nothing_pending(state: dict) -> bool:
    """Every kind of the pending configuration empty, whichever kinds the emulator has (fabrics.cfg's
    sections are kept apart, under state["fabrics"])."""
    return all(objects == {} for objects in state["pending"].values()) and not state["fabrics"]["pending"]


# Every write of the transaction, failing with PVE's error or with the connection dropped after PVE
# made the change (the answer lost), on the first, a middle and the last remote of the lock order.
WRITES = ("controllers", "zones", "vnets")
FAULTS = {"error": {"message": "injected: disk full"}, "answer lost": {"drop": "after"}}


def role_play(vnets=VNETS, hosts="remotes", **role_vars):
    return [{"name": "transaction", "hosts": hosts, "gather_facts": False, "roles": [{
        "role": "pvefleet.sdn.sdn_transaction",
        "vars": {"sdn_transaction_controllers": list(CONTROLLERS), "sdn_transaction_zones": list(ZONES),
                 "sdn_transaction_vnets": list(vnets), **role_vars}}]}]


def fleet_play(vnets=VNETS, **options):
    return [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "fleet", "pvefleet.sdn.sdn_transaction": {
            "controllers": list(CONTROLLERS), "zones": list(ZONES), "vnets": list(vnets), **options}}]}]


def assert_unlocked_and_empty(remotes):
    """No lock, and nothing in the pending configuration at all."""
    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"] and nothing_pending(state), remote.name


def assert_clean(remotes, applied: bool):
    """No lock, nothing pending, and the running config with or without the change."""
    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"], remote.name
        assert not state["has_pending_changes"], (remote.name, state["pending"])
        assert ("vnet1" in state["running"]["vnets"]) == applied, (remote.name, state["running"])


def assert_one_rollback_story(rollbacks):
    """Every host's rescue tells of every remote the same way: rolled back, and by which host."""
    stories = [r["result"]["remotes"] for r in rollbacks]
    assert all(story == stories[0] for story in stories), stories
    assert {host: outcome["state"] for host, outcome in stories[0].items()} == {
        "remote001": "rolled_back", "remote002": "rolled_back", "remote003": "rolled_back"}
    doers = {host: r["host"] for r in rollbacks for host in r["result"]["by_this_host"]}
    assert {host: outcome["by"] for host, outcome in stories[0].items()} == doers
    assert all(r["result"]["msg"].startswith("rolled back and released 3/3 remote(s); this host did ") for r in rollbacks)


def test_role_applies_on_every_remote_then_changes_nothing(remotes, inventory, tmp_path):
    run = run_playbook(role_play(), inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    assert_clean(remotes, applied=True)
    for remote in remotes:
        state = remote.control.state()
        assert state["node_versions"] == {"pve1": state["version"], "pve2": state["version"]}

    again = run_playbook(role_play(), inventory, tmp_path / "2")
    assert again.rc == 0, again.output
    assert all(not r["result"].get("changed") for r in again.results
               if r["action"].startswith("pvefleet.sdn.") and r["action"] != "pvefleet.sdn.sdn_lock")
    applied = again.task("Apply everywhere and wait for every node")
    assert [r["result"]["applied"] for r in applied] == [False] * 3
    assert_clean(remotes, applied=True)


@pytest.mark.parametrize("failing", ["remote001", "remote002", "remote003"])
def test_role_rolls_back_every_remote_when_a_change_fails(remotes, inventory, tmp_path, failing):
    by_name = {r.name: r for r in remotes}
    by_name[failing].control.fail("POST", "^/cluster/sdn/vnets$", message="injected: disk full")
    run = run_playbook(role_play(sdn_transaction_preflight=False), inventory, tmp_path)
    assert run.rc != 0
    assert "injected: disk full" in run.output
    rollbacks = run.task("Roll back and release every remote of the transaction")
    assert sorted(r["host"] for r in rollbacks) == ["remote001", "remote002", "remote003"]
    rolled = [host for r in rollbacks for host in r["result"]["by_this_host"]]
    assert sorted(rolled) == ["remote001", "remote002", "remote003"]  # each remote exactly once
    assert_one_rollback_story(rollbacks)
    assert_clean(remotes, applied=False)
    for remote in remotes:
        assert nothing_pending(remote.control.state())


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_role_rolls_back_every_remote_whichever_write_fails(remotes, inventory, tmp_path, write, fault):
    remotes[1].control.fail("POST", f"^/cluster/sdn/{write}$", **FAULTS[fault])
    run = run_playbook(role_play(sdn_transaction_preflight=False), inventory, tmp_path)
    assert run.rc != 0
    rollbacks = run.task("Roll back and release every remote of the transaction")
    rolled = [host for r in rollbacks for host in r["result"]["by_this_host"]]
    assert sorted(rolled) == ["remote001", "remote002", "remote003"]
    assert_one_rollback_story(rollbacks)
    assert_clean(remotes, applied=False)
    for remote in remotes:
        assert nothing_pending(remote.control.state())


def test_lock_failure_on_one_remote_releases_the_others(remotes, inventory, tmp_path):
    remotes[1].control.hold_lock()
    run = run_playbook(role_play(), inventory, tmp_path)
    assert run.rc != 0
    assert "another client holds the SDN lock" in run.output
    assert_unlocked_and_empty((remotes[0], remotes[2]))
    assert remotes[1].control.state()["lock"]["held"]  # the other client's lock stays


def test_unprotected_block_is_refused_before_any_lock(remotes, inventory, tmp_path):
    play = [{"name": "unprotected", "hosts": "remotes", "gather_facts": False, "tasks": [
        {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc != 0
    assert "any_errors_fatal" in run.one("lock", "remote001")["result"]["msg"]
    assert not any(r.control.state()["lock"]["held"] for r in remotes)


def test_serial_is_refused(remotes, inventory, tmp_path):
    play = role_play()
    play[0]["serial"] = 2
    run = run_playbook(play, inventory, tmp_path)
    assert run.rc != 0
    assert "serial" in run.output
    assert not any(r.control.state()["lock"]["held"] for r in remotes)
    assert_clean(remotes, applied=False)


def test_pve8_remote_is_refused_with_the_reason(remotes, inventory, tmp_path, emulator):
    run = run_playbook(role_play(hosts="pve8"), inventory, tmp_path)
    assert run.rc != 0
    assert "needs Proxmox VE 9 or newer" in run.output
    assert not emulator.remotes["remote004"].control.state()["has_pending_changes"]


def test_lock_force_released_under_the_transaction_is_detected(remotes, inventory, tmp_path):
    play = [{"name": "t", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "transaction", "any_errors_fatal": True,
        "block": [
            {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}},
            {"name": "vnet zone", "pvefleet.sdn.sdn_zone": {"zone": "simple1", "type": "simple"}},
            {"name": "someone force-releases remote002", "when": "inventory_hostname == 'remote002'",
             "ansible.builtin.uri": {"url": "https://{{ pvefleet_sdn_api_host }}:{{ pvefleet_sdn_api_port }}"
                                            "/api2/json/cluster/sdn/lock?force=1",
                                     "method": "DELETE", "ca_path": "{{ pvefleet_sdn_ca_path }}",
                                     "headers": {"Authorization": "PVEAPIToken={{ pvefleet_sdn_api_user }}!"
                                                 "{{ pvefleet_sdn_api_token_id }}={{ pvefleet_sdn_api_token_secret }}"}},
             "no_log": True},
            {"name": "apply", "pvefleet.sdn.sdn_apply": {}}],
        "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}}]}]}]
    run = run_playbook(play, inventory, tmp_path)
    assert "no longer held by this transaction" in run.output
    for remote in remotes:
        state = remote.control.state()
        assert state["running"]["zones"] == {}, remote.name  # nothing was applied anywhere
        assert not state["lock"]["held"]


def test_node_that_fails_to_reload_fails_the_apply(remotes, inventory, tmp_path):
    remotes[2].control.faults(reload="node:pve2")
    run = run_playbook(role_play(), inventory, tmp_path)
    assert run.rc != 0
    apply = run.one("Apply everywhere and wait for every node", "remote003")["result"]
    assert apply["exitstatus"] == "OK"  # PVE's own task says OK...
    assert apply["nodes"]["pve2"].startswith("error")  # ...but pve2 did not reload
    assert apply["nodes"]["pve1"] == "ok"
    for remote in remotes[:2]:
        assert run.one("Apply everywhere and wait for every node", remote.name)["result"]["ok"]


def test_fleet_task_applies_everywhere_and_reports(remotes, inventory, tmp_path):
    run = run_playbook(fleet_play(), inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    result = run.one("fleet", "remote001")["result"]
    assert result["counts"] == {"applied": 3}
    assert [r["host"] for r in result["succeeded_remotes"]] == ["remote001", "remote002", "remote003"]
    assert_clean(remotes, applied=True)
    again = run_playbook(fleet_play(), inventory, tmp_path / "2")
    assert again.one("fleet", "remote001")["result"]["counts"] == {"unchanged": 3}
    assert not again.one("fleet", "remote001")["result"]["changed"]


@pytest.mark.parametrize("failing", ["remote001", "remote002", "remote003"])
@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fleet_task_rolls_back_everywhere(remotes, inventory, tmp_path, failing, write, fault):
    by_name = {r.name: r for r in remotes}
    by_name[failing].control.fail("POST", f"^/cluster/sdn/{write}$", **FAULTS[fault])
    run = run_playbook(fleet_play(), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("fleet", "remote001")["result"]
    assert result["failed_remotes"][0]["host"] == failing
    assert ("injected: disk full" if fault == "error" else "no answer") in result["failed_remotes"][0]["error"]
    assert_clean(remotes, applied=False)
    for remote in remotes:
        assert nothing_pending(remote.control.state())


def test_fleet_bad_input_takes_no_lock(remotes, inventory, tmp_path):
    run = run_playbook(fleet_play(vnets=[{"vnet": "v-1", "zone": "evpn1", "tag": 0}]), inventory, tmp_path)
    assert run.rc != 0
    assert "vnet" in run.one("fleet", "remote001")["result"]["msg"]
    assert not any(r.control.state()["issued_lock_tokens"] for r in remotes)


def test_fleet_check_mode_takes_no_lock(remotes, inventory, tmp_path):
    run = run_playbook(fleet_play(), inventory, tmp_path, check=True)
    assert run.rc == 0, run.output
    assert run.one("fleet", "remote001")["result"]["counts"] == {"checked": 3}
    assert not any(r.control.state()["issued_lock_tokens"] for r in remotes)
    assert_clean(remotes, applied=False)


def test_interrupted_run_is_rolled_back(remotes, inventory, tmp_path):
    play = [{"name": "t", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "transaction", "any_errors_fatal": True,
        "block": [
            {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}},
            {"name": "zone", "pvefleet.sdn.sdn_zone": {"zone": "simple1", "type": "simple"}},
            {"name": "wait", "ansible.builtin.pause": {"seconds": 60}},
            {"name": "apply", "pvefleet.sdn.sdn_apply": {}}],
        "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}}]}]}]
    import yaml

    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               PVEFLEET_SDN_JOURNAL_DIR=str(tmp_path / "journal"))
    proc = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", str(inventory), str(tmp_path / "playbook.yml")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True)
    deadline = time.monotonic() + 60
    while not all(r.control.state()["pending"]["zones"] for r in remotes):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while any(r.control.state()["lock"]["held"] for r in remotes) and time.monotonic() < deadline:
        time.sleep(0.2)
    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"], remote.name
        assert nothing_pending(state), remote.name


def test_no_secret_reaches_the_output(remotes, inventory, tmp_path, emulator):
    remotes[1].control.fail("POST", "^/cluster/sdn/vnets$", message="injected")
    failing = run_playbook(role_play(sdn_transaction_preflight=False), inventory, tmp_path / "1", extra_args=["-vvv"])
    remotes[1].control.clear_faults()
    fine = run_playbook(fleet_play(), inventory, tmp_path / "2", extra_args=["-vvv"], diff=True)
    secrets = secrets_of(emulator)
    assert len(secrets) > 6  # lock tokens were issued in both runs
    for run, workdir in ((failing, tmp_path / "1"), (fine, tmp_path / "2")):
        record = (workdir / "results.jsonl").read_text()
        for secret in secrets:
            assert secret not in run.output
            assert secret not in record


def test_role_applies_every_remote_at_once_whatever_the_forks(remotes, inventory, tmp_path):
    # With one fork, hosts run the apply task one after another; the first applies the whole
    # transaction (one reload's time, not one per host) and the others report their own result.
    run = run_playbook(role_play(), inventory, tmp_path, env={"ANSIBLE_FORKS": "1"})
    assert run.rc == 0, run.output
    applied = run.task("Apply everywhere and wait for every node")
    assert sorted(r["host"] for r in applied) == ["remote001", "remote002", "remote003"]
    assert {r["result"]["applied_by"] for r in applied} == {"remote001"}
    assert all(r["result"]["applied"] and r["result"]["changed"] for r in applied)
    assert_clean(remotes, applied=True)


def per_host_fleet_play(**options):
    """The documented pattern (docs/examples/transaction_fleet.yml): the fleet task registered on
    every host and not failing itself, then each host failing for its own remote."""
    example = yaml.safe_load((REPO / "docs" / "examples" / "transaction_fleet.yml").read_text())[0]
    fleet, summary, own = example["tasks"]
    fleet["pvefleet.sdn.sdn_transaction"] = {"controllers": list(CONTROLLERS), "zones": list(ZONES),
                                             "vnets": list(VNETS), **options}
    return [{"name": "fleet", "hosts": "remotes", "gather_facts": False, "tasks": [fleet, summary, own]}]


def test_the_fleet_task_fails_exactly_the_remotes_that_did_not_apply(remotes, inventory, tmp_path):
    remotes[1].control.fail("PUT", "^/cluster/sdn$", message="injected: could not commit")
    run = run_playbook(per_host_fleet_play(), inventory, tmp_path)
    assert run.rc != 0
    assert run.statuses("Each remote's own result") == {"remote001": "ok", "remote002": "failed", "remote003": "ok"}
    assert "injected: could not commit" in run.one("Each remote's own result", "remote002")["result"]["msg"]
    # One result event, failing no host; registered on every host (the next task read it on each).
    assert run.statuses("One transaction over the whole fleet") == {"remote001": "ok"}
    assert {host: counts["failed"] for host, counts in run.recap().items()} == {
        "remote001": 0, "remote002": 1, "remote003": 0}


def test_when_nothing_applied_every_remote_fails_with_its_own_story(remotes, inventory, tmp_path):
    remotes[1].control.fail("POST", "^/cluster/sdn/vnets$", message="injected: disk full")
    run = run_playbook(per_host_fleet_play(), inventory, tmp_path)
    assert run.rc != 0
    assert set(run.statuses("Each remote's own result").values()) == {"failed"}
    assert "injected: disk full" in run.one("Each remote's own result", "remote002")["result"]["msg"]
    assert "rolled_back" in run.one("Each remote's own result", "remote001")["result"]["msg"]
    assert_clean(remotes, applied=False)


def test_fleet_diff_shows_every_object_of_every_remote(remotes, inventory, tmp_path):
    run = run_playbook(fleet_play(), inventory, tmp_path, diff=True)
    assert run.rc == 0, run.output
    diffs = run.one("fleet", "remote001")["result"]["diff"]
    headers = sorted(d["after_header"] for d in diffs if "after_header" in d)
    assert headers == sorted(f"{host}: {label} (after)" for host in ("remote001", "remote002", "remote003")
                             for label in ("controller evpnctl", "zone evpn1", "vnet vnet1"))
    assert "remote002: zone evpn1 (after)" in run.output and '"vrf_vxlan": 10000' in run.output
    # Then every node's files, as the preview before the apply saw them.
    assert sorted(d["prepared"].splitlines()[0] for d in diffs if "prepared" in d) == sorted(
        f"# {host}, node {node}" for host in ("remote001", "remote002", "remote003") for node in ("pve1", "pve2")
        for _file in ("interfaces", "frr"))


def test_a_rerun_of_the_quick_start_and_the_role_changes_nothing(remotes, inventory, tmp_path):
    readme = (REPO / "README.md").read_text()
    quick_start = yaml.safe_load(readme.split("```yaml\n", 1)[1].split("```", 1)[0])
    for play in quick_start:
        play["vars"] = {"evpn_peers": ["10.0.0.1"]}
    for name, plays in (("quick start", quick_start), ("role", role_play())):
        first = run_playbook(plays, inventory, tmp_path / f"{name}-1")
        assert first.rc == 0, first.output
        again = run_playbook(plays, inventory, tmp_path / f"{name}-2")
        assert again.rc == 0, again.output
        changed = [(r["task"], r["host"]) for r in again.results if r["result"].get("changed")]
        assert changed == [], (name, changed)
        assert {counts["changed"] for counts in again.recap().values()} == {0}, again.output


# The role's fleet engine: the same transaction in one sdn_transaction task, then one result per host.
FLEET_ENGINE = {"sdn_transaction_engine": "fleet"}
OWN_RESULT = "Report each remote's own result"


def test_the_role_fleet_engine_applies_each_remote_its_own_items_then_changes_nothing(remotes, inventory, tmp_path):
    own_peer = {"controller": "evpnctl", "type": "evpn", "asn": 65000,
                "peers": ["10.0.0.{{ inventory_hostname[-1] }}"]}  # templated for each host
    play = role_play(**FLEET_ENGINE)
    play[0]["roles"][0]["vars"]["sdn_transaction_controllers"] = [own_peer]
    checked = run_playbook(play, inventory, tmp_path / "check", check=True)
    assert checked.rc == 0, checked.output
    assert_unlocked_and_empty(remotes)
    assert {counts["changed"] for counts in checked.recap().values()} == {1}, checked.output

    run = run_playbook(play, inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    assert_clean(remotes, applied=True)
    for remote in remotes:
        assert remote.control.state()["running"]["controllers"]["evpnctl"]["peers"] == f"10.0.0.{remote.name[-1]}"
    assert {r["host"]: r["result"]["changed"] for r in run.task(OWN_RESULT)} == dict.fromkeys(
        ("remote001", "remote002", "remote003"), True)

    again = run_playbook(play, inventory, tmp_path / "2")
    assert again.rc == 0, again.output
    assert {counts["changed"] for counts in again.recap().values()} == {0}, again.output


def test_the_role_fleet_engine_fails_exactly_the_remotes_that_did_not_apply(remotes, inventory, tmp_path):
    remotes[1].control.fail("PUT", "^/cluster/sdn$", message="injected: could not commit")
    run = run_playbook(role_play(**FLEET_ENGINE), inventory, tmp_path)
    assert run.rc != 0
    assert run.statuses(OWN_RESULT) == {"remote001": "ok", "remote002": "failed", "remote003": "ok"}
    message = run.one(OWN_RESULT, "remote002")["result"]["msg"]
    assert "remote002" in message and "injected: could not commit" in message
    assert {host: counts["failed"] for host, counts in run.recap().items()} == {
        "remote001": 0, "remote002": 1, "remote003": 0}


def test_the_role_fleet_engine_refuses_bad_input_on_every_host_before_any_lock(remotes, inventory, tmp_path):
    run = run_playbook(role_play(vnets=[{"vnet": "vnet1", "zone": "evpn1", "tag": "eleven"}], **FLEET_ENGINE),
                       inventory, tmp_path)
    assert run.rc != 0
    assert set(run.statuses(OWN_RESULT).values()) == {"failed"}
    assert "tag" in run.one(OWN_RESULT, "remote003")["result"]["msg"]
    assert_unlocked_and_empty(remotes)


def test_a_fleet_transaction_keeps_to_two_connections_per_remote_however_long_the_others_take(
        remotes, inventory, tmp_path):
    """One slow remote (0.8 s round trips) holds every phase barrier for several seconds, longer
    than pveproxy keeps an idle connection (5 s): the others keep theirs warm instead of opening
    new ones, and nobody opens more than two."""
    slow = remotes[-1]
    slow.control.faults(latency_ms=800)
    run = run_playbook(fleet_play(), inventory, tmp_path / "1")
    assert run.rc == 0, run.output
    assert_clean(remotes, applied=True)
    for remote in remotes:
        assert remote.control.state()["connections"]["accepted"] <= 2, remote.name
    for fast in remotes[:-1]:
        pings = [r for r in fast.control.requests() if (r["method"], r["path"]) == ("GET", "/version")]
        assert len(pings) > 1, f"{fast.name}: no wait long enough to need keeping warm ({pings})"
