"""The collection as Galaxy ships it, run by ansible-runner as AWX runs a job: the tarball's contents,
a transaction applied on every remote, one rolled back everywhere, and a cancelled job."""
from __future__ import annotations

import json
import os
import tarfile

import pytest
from ecosystem_support import CHECKOUT_COLLECTIONS, GALAXY, REPO, clean_os_environ, galaxy, job_env, run_job, watchdog_running

pytestmark = pytest.mark.ecosystem

PLAYBOOK = "pvefleet.sdn.evpn_zone_vnet"
APPLY = "Apply everywhere and wait for every node"
ROLLBACK = "Roll back and release every remote of the transaction"
REPORT = "Report the failure"


def empty(config: dict) -> bool:
    """Every kind of a pending or running configuration empty, whichever kinds the emulator has."""
    return all(objects == {} for objects in config.values())


# What the collection needs at run time and Galaxy / ansible-builder read.
REQUIRED_FILES = {"MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "meta/execution-environment.yml",
                  "requirements.txt", "bindep.txt", "playbooks/evpn_zone_vnet.yml", "playbooks/recover.yml",
                  "roles/sdn_transaction/meta/argument_specs.yml", "docs/awx.md", "docs/awx/credential_type.yml"}
# Development files and directories that must stay out of the tarball.
JUNK = {".venv", ".build", ".git", ".ci", ".gitignore", ".pytest_cache", ".ansible", ".ansible-lint", "emulator",
        "demo", "bench", "tests/integration", "tests/ecosystem", "tests/output", "tests/sanity/get_pip_standin.py",
        "Makefile", "pytest.ini", "constraints.txt", "requirements-dev.txt", "execution-environment.yml", "galaxy.yml"}
SHIPPED_DIRS = ("plugins", "roles", "playbooks", "meta")


def test_tarball_has_what_the_collection_needs_and_no_junk(collection):
    with tarfile.open(collection.tarball) as tar:
        members = {m.name.rstrip("/") for m in tar.getmembers()}
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert REQUIRED_FILES <= members, sorted(REQUIRED_FILES - members)
    # every plugin, role, playbook and meta file of the checkout
    checkout = {str(p.relative_to(REPO)) for d in SHIPPED_DIRS for p in (REPO / d).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert checkout <= members, sorted(checkout - members)
    for name in members:
        parts = name.split("/")
        assert not any(name == junk or name.startswith(junk + "/") for junk in JUNK), name
        assert "__pycache__" not in parts and not name.endswith((".pyc", ".tar.gz", ".retry")), name
        assert not any(p.startswith(".") for p in parts) or parts[-1] == ".keep", name
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])
    assert info["dependencies"] == {}


def test_installed_collection_matches_the_tarball(collection):
    assert (collection.root / "MANIFEST.json").is_file() and not collection.root.is_symlink()
    galaxy("collection", "verify", "--offline", "-p", collection.collections_path, "pvefleet.sdn",
           collections_path=collection.collections_path)


def assert_ran_from_the_installed_collection(job, collection):
    """Not the checkout: the job's collections path, the playbook and every task come from the install."""
    assert job.env["ANSIBLE_COLLECTIONS_PATH"] == str(collection.collections_path)
    for name, value in job.env.items():
        assert str(CHECKOUT_COLLECTIONS) not in value, (name, value)
    assert "PYTHONPATH" not in job.env
    (start,) = job.of("playbook_on_start")
    assert start["playbook"] == str(collection.root / "playbooks" / "evpn_zone_vnet.yml")
    task_paths = {data["task_path"].rsplit(":", 1)[0] for data in job.of("playbook_on_task_start")}
    assert task_paths and all(path.startswith(str(collection.root) + os.sep) for path in task_paths), task_paths


def assert_nothing_secret_recorded(job, emulator):
    recorded = job.everything_recorded()
    for remote in emulator.remotes.values():
        state = remote.control.state()
        for secret in [remote.token_secret, *state["issued_lock_tokens"]]:
            assert secret not in recorded, f"a secret of {remote.name} is in the job's output or events"


def test_job_applies_on_every_remote(collection, emulator, remotes, tmp_path, monkeypatch):
    clean_os_environ(monkeypatch)
    job = run_job(tmp_path, PLAYBOOK, emulator.inventory, job_env(collection, tmp_path))
    assert (job.status, job.rc) == ("successful", 0), job.stdout
    assert_ran_from_the_installed_collection(job, collection)

    names = [r.name for r in remotes]
    applied = job.of("runner_on_ok", APPLY)
    assert sorted(data["host"] for data in applied) == names, job.stdout
    for data in applied:
        assert data["resolved_action"] == "pvefleet.sdn.sdn_apply"
        assert data["res"]["changed"] is True and data["res"]["applied"] is True, data["res"]
    assert not job.of("runner_on_failed") and not job.of("runner_on_unreachable")
    stats = job.stats()
    assert sorted(stats["processed"]) == names
    assert stats["failures"] == {} and stats["dark"] == {}
    assert all(stats["changed"].get(name, 0) > 0 for name in names), stats

    for remote in remotes:
        state = remote.control.state()
        assert "evpn1" in state["running"]["zones"] and "vnet1" in state["running"]["vnets"], (remote.name, state)
        assert not state["lock"]["held"] and not state["has_pending_changes"], remote.name
    assert_nothing_secret_recorded(job, emulator)


def test_failed_job_is_rolled_back_on_every_remote(collection, emulator, remotes, tmp_path, monkeypatch):
    clean_os_environ(monkeypatch)
    remotes[1].control.fail("POST", "^/cluster/sdn/vnets$", message="injected: disk full")
    job = run_job(tmp_path, PLAYBOOK, emulator.inventory, job_env(collection, tmp_path))
    assert job.status == "failed" and job.rc != 0, job.stdout
    assert_ran_from_the_installed_collection(job, collection)

    names = [r.name for r in remotes]
    (failed,) = job.of("runner_on_failed", "SDN vnets")
    assert failed["host"] == "remote002" and "injected: disk full" in json.dumps(failed["res"])
    assert not job.of("runner_on_ok", APPLY) and not job.of("runner_on_failed", APPLY)
    rollbacks = job.of("runner_on_ok", ROLLBACK)
    assert sorted(data["host"] for data in rollbacks) == names, job.stdout
    rolled = [name for data in rollbacks for name in data["res"]["by_this_host"]]
    assert sorted(rolled) == names  # each remote rolled back exactly once
    # every host tells the same story of every remote: rolled back, and by whom
    assert all({name: outcome["state"] for name, outcome in data["res"]["remotes"].items()}
               == dict.fromkeys(names, "rolled_back") for data in rollbacks)
    reports = job.of("runner_on_failed", REPORT)
    assert sorted(data["host"] for data in reports) == names
    assert all("injected: disk full" in data["res"]["msg"] and "rolled back" in data["res"]["msg"] for data in reports)
    stats = job.stats()
    assert sorted(stats["failures"]) == names and sorted(stats["processed"]) == names

    for remote in remotes:
        state = remote.control.state()
        assert not state["lock"]["held"], remote.name
        assert empty(state["pending"]) and empty(state["running"]), (remote.name, state)
    assert_nothing_secret_recorded(job, emulator)


def test_cancelled_job_is_rolled_back_and_recover_finds_nothing_left(
        collection, emulator, remotes, tmp_path, monkeypatch):
    """A job cancelled through ansible-runner's cancel callback has ansible-playbook's process
    group killed (SIGKILL): the transaction's watchdog rolls back what the job left locked."""
    clean_os_environ(monkeypatch)
    for remote in remotes:
        remote.control.latency(50)  # a change phase long enough to cancel in
    names = [r.name for r in remotes]
    seen: dict[str, set] = {"locked": set(), "zoned": set()}

    def on_event(event):
        data = event.get("event_data", {})
        if event["event"] == "runner_on_ok" and data.get("task") == "Lock the SDN configuration":
            seen["locked"].add(data["host"])
        elif event["event"] == "runner_on_ok" and data.get("task") == "SDN zones" and seen["locked"]:
            seen["zoned"].add(data["host"])  # zones created under the lock (not the check-mode preflight)
        return True

    env = job_env(collection, tmp_path / "job")
    job = run_job(tmp_path / "job", PLAYBOOK, emulator.inventory, env, event_handler=on_event,
                  cancel_callback=lambda: len(seen["zoned"]) == len(names))
    assert job.status == "canceled", job.stdout
    assert not job.of("runner_on_ok", APPLY)

    # run_job waited for the watchdog to finish and go
    journal = tmp_path / "job" / "journal" / "default.json"
    assert not watchdog_running(journal)
    phases = {name: entry["phase"] for name, entry in json.loads(journal.read_text())["remotes"].items()}
    assert sorted(phases) == names and set(phases.values()) == {"rolled_back"}, phases
    for remote in remotes:
        remote.control.clear_faults()
        state = remote.control.state()
        assert not state["lock"]["held"] and empty(state["pending"]) and empty(state["running"]), remote.name

    # What an operator runs after a cancelled job: pvefleet.sdn.recover, with the same journal.
    recover = run_job(tmp_path / "recover", "pvefleet.sdn.recover", emulator.inventory,
                      {**job_env(collection, tmp_path / "recover"), "PVEFLEET_SDN_JOURNAL_DIR": env["PVEFLEET_SDN_JOURNAL_DIR"]})
    assert (recover.status, recover.rc) == ("successful", 0), recover.stdout
    reports = recover.of("runner_on_ok", "Report each remote's state")
    assert sorted(data["host"] for data in reports) == names
    assert all(data["res"]["msg"].startswith("lock free before, 0 pending change(s) before") for data in reports), \
        [data["res"]["msg"] for data in reports]
