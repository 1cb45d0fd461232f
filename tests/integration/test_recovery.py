"""The shipped playbooks, recovery after a killed controller, concurrent transactions, reload faults."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import yaml
from playbook import BIN, REPO, run_playbook
from test_transaction import assert_clean, assert_unlocked_and_empty, fleet_play, nothing_pending, role_play

PLAYBOOKS = REPO / "playbooks"
RECOVER_TASK = "Roll back and release what the record names (and, with force, every locked remote)"


def playbook_file(name: str) -> str:
    return (PLAYBOOKS / name).read_text()


def test_evpn_playbook_creates_zone_and_vnet_everywhere(remotes, inventory, tmp_path):
    run = run_playbook(playbook_file("evpn_zone_vnet.yml"), inventory, tmp_path)
    assert run.rc == 0, run.output
    for remote in remotes:
        running = remote.control.state()["running"]
        assert running["zones"]["evpn1"]["controller"] == "evpnctl"
        assert running["vnets"]["vnet1"]["tag"] == 11000
        assert running["controllers"]["evpnctl"]["peers"] == remote.host  # each remote its own peers
    assert_clean(remotes, applied=True)


ZONE_CHANGE = ({"name": "zone", "pvefleet.sdn.sdn_zone": {"zone": "simple1", "type": "simple"}},)


def start_killable_run(inventory, tmp_path, journal_dir, changes=ZONE_CHANGE) -> subprocess.Popen:
    """A task-by-task transaction that makes `changes`, then waits to be killed before its apply."""
    play = [{"name": "t", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "transaction", "any_errors_fatal": True,
        "block": [
            {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}},
            *changes,
            {"name": "wait", "ansible.builtin.pause": {"seconds": 120}},
            {"name": "apply", "pvefleet.sdn.sdn_apply": {}}],
        "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}}]}]}]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               PVEFLEET_SDN_JOURNAL_DIR=str(journal_dir))
    return subprocess.Popen([str(BIN / "ansible-playbook"), "-i", str(inventory), str(tmp_path / "playbook.yml")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def kill_run(proc: subprocess.Popen, journal_dir) -> None:
    """SIGKILL the run and its watchdog, as when a container is dropped: only the journal is left."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"_watchdog import main" in cmdline and str(journal_dir).encode() in cmdline:
            os.kill(int(pid), signal.SIGKILL)


def killed_mid_transaction(remotes, inventory, tmp_path):
    """A run SIGKILLed with every remote locked and a change pending; its journal directory."""
    journal_dir = tmp_path / "journal"
    proc = start_killable_run(inventory, tmp_path / "run", journal_dir)
    wait_until(lambda: all(r.control.state()["pending"]["zones"] for r in remotes))
    kill_run(proc, journal_dir)
    return journal_dir


def test_recovery_playbook_restores_what_a_killed_run_left(remotes, inventory, tmp_path):
    journal_dir = killed_mid_transaction(remotes, inventory, tmp_path)
    assert all(r.control.state()["lock"]["held"] for r in remotes)
    assert (journal_dir / "default.json").exists()

    run = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "recover",
                       env={"PVEFLEET_SDN_JOURNAL_DIR": str(journal_dir)})
    assert run.rc == 0, run.output
    assert_unlocked_and_empty(remotes)
    # Every host tells of every remote, the same way, and who did it: each remote once.
    results = [r["result"] for r in run.task(RECOVER_TASK)]
    assert len(results) == 3 and all(result["remotes"] == results[0]["remotes"] for result in results)
    assert {host: outcome["state"] for host, outcome in results[0]["remotes"].items()} == dict.fromkeys(
        ("remote001", "remote002", "remote003"), "rolled_back")
    did = sorted(host for result in results for host in result["by_this_host"])
    assert did == ["remote001", "remote002", "remote003"]
    assert {host: outcome["by"] for host, outcome in results[0]["remotes"].items()} == {
        host: r["host"] for r in run.task(RECOVER_TASK) for host in r["result"]["by_this_host"]}
    assert len({result["msg"].split("; this host did")[0] for result in results}) == 1


def test_recovery_without_the_journal_needs_force(remotes, inventory, tmp_path):
    killed_mid_transaction(remotes, inventory, tmp_path)  # its journal is not where this recovery looks
    empty_journal = tmp_path / "elsewhere"
    env = {"PVEFLEET_SDN_JOURNAL_DIR": str(empty_journal)}

    probe = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "probe", env=env)
    assert probe.rc == 0, probe.output
    assert all(r.control.state()["lock"]["held"] for r in remotes)  # not told to force: left alone
    assert "lock held before" in probe.output

    forced = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "force", env=env,
                          extra_args=["-e", "force=true"])
    assert forced.rc == 0, forced.output
    assert_unlocked_and_empty(remotes)


def test_a_new_run_refuses_to_start_over_a_dead_runs_locks(remotes, inventory, tmp_path):
    journal_dir = killed_mid_transaction(remotes, inventory, tmp_path)
    run = run_playbook(role_play(), inventory, tmp_path / "again", env={"PVEFLEET_SDN_JOURNAL_DIR": str(journal_dir)})
    assert run.rc != 0
    assert "recovery playbook" in run.output


def test_two_fleets_at_once_leave_nothing_behind(remotes, inventory, tmp_path):
    for remote in remotes:
        remote.control.faults(latency_ms=150)  # each transaction takes seconds: they overlap
    results = {}

    def run(name, plays):
        results[name] = run_playbook(plays, inventory, tmp_path / name,
                                     env={"PVEFLEET_SDN_JOURNAL_DIR": str(tmp_path / f"journal-{name}")})

    threads = [threading.Thread(target=run, args=("a", fleet_play())),
               threading.Thread(target=run, args=("b", fleet_play(vnets=[{"vnet": "vnet2", "zone": "evpn1",
                                                                          "tag": 12000}])))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, r in results.items() if r.rc == 0]
    # They meet at the first remote of the lock order: exactly one goes on.
    assert len(winners) == 1, {name: r.output[-2000:] for name, r in results.items()}
    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"], remote.name
        assert not state["has_pending_changes"], (remote.name, state["pending"])
        vnets = set(state["running"]["vnets"])
        assert vnets == ({"vnet1"} if winners == ["a"] else {"vnet2"} if winners == ["b"] else set())


def test_reload_task_failure_is_reported_per_remote(remotes, inventory, tmp_path):
    remotes[0].control.faults(reload="fail")
    run = run_playbook(fleet_play(), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("fleet", "remote001")["result"]
    assert [r["host"] for r in result["failed_remotes"]] == ["remote001"]
    assert "no quorum" in result["failed_remotes"][0]["error"]
    assert result["counts"] == {"apply_failed": 1, "applied": 2}
    assert "REMOTE" in result["summary"][0] and "APPLY_FAILED" in result["summary"][1]


def test_connection_dropped_after_a_write_rolls_back_everywhere(remotes, inventory, tmp_path):
    remotes[1].control.fail("POST", "^/cluster/sdn/zones$", drop="after")
    run = run_playbook(role_play(sdn_transaction_preflight=False), inventory, tmp_path)
    assert run.rc != 0
    assert_clean(remotes, applied=False)
    for remote in remotes:
        assert nothing_pending(remote.control.state())


def test_role_in_check_mode_takes_no_lock(remotes, inventory, tmp_path):
    run = run_playbook(role_play(), inventory, tmp_path, check=True, diff=True)
    assert run.rc == 0, run.output
    assert not any(r.control.state()["issued_lock_tokens"] for r in remotes)
    assert_clean(remotes, applied=False)


def test_lock_answer_lost_is_reported_as_a_possible_orphan(remotes, inventory, tmp_path):
    remotes[1].control.fail("POST", "^/cluster/sdn/lock$", drop="after")
    run = run_playbook(role_play(), inventory, tmp_path)
    assert run.rc != 0
    assert "the lock request got no answer and a lock is held now" in run.output
    assert "pvesh delete /cluster/sdn/lock --force 1" in run.output
    outcomes = run.task("Roll back and release every remote of the transaction")[0]["result"]["remotes"]
    assert outcomes["remote002"]["state"] == "stuck"
    assert "it may be ours, with a token nobody knows" in outcomes["remote002"]["recovery"]
    assert outcomes["remote001"]["state"] == outcomes["remote003"]["state"] == "rolled_back"
    assert_unlocked_and_empty((remotes[0], remotes[2]))
    assert remotes[1].control.state()["lock"]["held"]  # the orphan, named in the output


def test_failed_rollback_falls_back_to_release_and_says_what_is_left(remotes, inventory, tmp_path):
    remotes[0].control.fail("POST", "^/cluster/sdn/vnets$", message="injected: disk full")
    remotes[2].control.fail("POST", "^/cluster/sdn/rollback$", message="injected: rollback broken")
    run = run_playbook(role_play(sdn_transaction_preflight=False), inventory, tmp_path)
    assert run.rc != 0
    outcomes = {}
    for result in run.task("Roll back and release every remote of the transaction"):
        outcomes.update(result["result"].get("remotes", {}))
    # The rollback failed, the release worked: our changes are still pending, which a person must drop.
    assert outcomes["remote003"]["state"] == "stuck"
    assert outcomes["remote003"]["unwind"]["state"] == "released"
    assert "pending changes were kept" in outcomes["remote003"]["recovery"]
    assert outcomes["remote001"]["state"] == outcomes["remote002"]["state"] == "rolled_back"
    state = remotes[2].control.state()
    assert not state["lock"]["held"] and state["has_pending_changes"]


def test_reload_task_that_hangs_times_out_and_is_reported(remotes, inventory, tmp_path):
    remotes[1].control.faults(reload="hang")
    run = run_playbook(fleet_play(apply_timeout=2), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("fleet", "remote001")["result"]
    assert [r["host"] for r in result["failed_remotes"]] == ["remote002"]
    assert "did not finish within 2s" in result["failed_remotes"][0]["error"]
    assert "pvesh get /nodes/pve1/tasks/UPID:" in result["failed_remotes"][0]["recovery"]
    assert result["counts"] == {"applied": 2, "apply_unknown": 1}


def test_fleet_lock_failure_leaves_a_journal_the_next_run_accepts(remotes, inventory, tmp_path):
    remotes[0].control.hold_lock()  # the first remote in lock order
    journal = {"PVEFLEET_SDN_JOURNAL_DIR": str(tmp_path / "journal")}
    first = run_playbook(fleet_play(concurrency=1), inventory, tmp_path / "1", env=journal)
    assert first.rc != 0
    counts = first.one("fleet", "remote001")["result"]["counts"]
    assert counts == {"lock_failed": 1, "not_locked": 2}
    remotes[0].control.reset()
    second = run_playbook(fleet_play(), inventory, tmp_path / "2", env=journal)
    assert second.rc == 0, second.output
    assert_clean(remotes, applied=True)


def test_recovery_settles_remotes_a_killed_run_was_applying(remotes, inventory, tmp_path):
    for remote in remotes:
        remote.control.faults(reload="hang")  # the apply commits; its reload never ends
    journal_dir = tmp_path / "journal"
    play = [{"name": "t", "hosts": "remotes", "gather_facts": False, "tasks": [{
        "name": "transaction", "any_errors_fatal": True,
        "block": [{"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked"}},
                  {"name": "zone", "pvefleet.sdn.sdn_zone": {"zone": "simple1", "type": "simple"}},
                  {"name": "apply", "pvefleet.sdn.sdn_apply": {}}],
        "rescue": [{"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back"}}]}]}]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "playbook.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               PVEFLEET_SDN_JOURNAL_DIR=str(journal_dir))
    proc = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", str(inventory), str(tmp_path / "run" / "playbook.yml")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    record = journal_dir / "default.json"
    wait_until(lambda: record.exists() and all(
        e.get("phase") == "applying" for e in json.loads(record.read_text())["remotes"].values()))
    wait_until(lambda: all(r.control.state()["running"]["zones"] for r in remotes))  # committed
    kill_run(proc, journal_dir)
    for remote in remotes:
        remote.control.clear_faults()

    run = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "recover",
                       env={"PVEFLEET_SDN_JOURNAL_DIR": str(journal_dir)})
    assert run.rc == 0, run.output
    # Settled: committed (lock free, nothing pending), its reload's end unseen: recorded as such,
    # with how to check it, and nothing in the record refuses a new run.
    entries = json.loads(record.read_text())["remotes"]
    assert {e["phase"] for e in entries.values()} == {"apply_unknown"}
    assert all("pvesh get /nodes/" in e["recovery"] for e in entries.values())
    assert "the 3 remote(s) of the transaction: apply_unknown 3" in run.output
    doers = [e["by"] for e in entries.values()]
    assert all(doer in ("remote001", "remote002", "remote003") for doer in doers)
    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"] and not state["has_pending_changes"], remote.name


def test_a_record_from_another_controller_is_recovered_only_with_force(remotes, inventory, tmp_path):
    journal_dir = killed_mid_transaction(remotes, inventory, tmp_path)
    record_path = journal_dir / "default.json"
    record = json.loads(record_path.read_text())
    record["run"]["controller"] = "an-earlier-awx-job"  # its process cannot be checked from here
    record_path.write_text(json.dumps(record))
    env = {"PVEFLEET_SDN_JOURNAL_DIR": str(journal_dir)}

    refused = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "refused", env=env)
    assert refused.rc != 0 and "recover with force=true" in refused.output
    assert all(r.control.state()["lock"]["held"] for r in remotes)

    forced = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "forced", env=env,
                          extra_args=["-e", "force=true"])
    assert forced.rc == 0, forced.output
    assert_unlocked_and_empty(remotes)
