"""The inventory plugin pvefleet.sdn.remotes, with the emulator's remotes."""
from __future__ import annotations

import json
import os
import subprocess

import yaml
from playbook import BIN, REPO, run_playbook


def write_fleet(path, remotes) -> dict:
    env = {}
    entries = []
    for index, remote in enumerate(remotes):
        env[f"PVE_SECRET_{index}"] = remote.token_secret
        entries.append({"id": f"pve-{index}", "host": remote.host, "port": remote.port, "user": "root@pam",
                        "token_id": "fleet", "token_secret_env": f"PVE_SECRET_{index}",
                        "fingerprint": remote.vars["pvefleet_sdn_fingerprint"],
                        "tags": ["even" if index % 2 == 0 else "odd", "all-of-them"]})
    path.write_text(yaml.safe_dump({"plugin": "pvefleet.sdn.remotes", "remotes": entries}))
    return env


def test_groups_and_variables(remotes, tmp_path):
    fleet = tmp_path / "fleet.pvefleet.yml"
    env = write_fleet(fleet, remotes)
    listing = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(fleet), "--list"], capture_output=True, text=True, check=True,
        env={**os.environ, **env, "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
             "ANSIBLE_INVENTORY_ENABLED": "pvefleet.sdn.remotes"})
    inventory = json.loads(listing.stdout)
    assert inventory["remotes"]["hosts"] == ["pve-0", "pve-1", "pve-2"]
    assert inventory["tag_even"]["hosts"] == ["pve-0", "pve-2"]
    assert inventory["tag_all_of_them"]["hosts"] == ["pve-0", "pve-1", "pve-2"]
    assert inventory["_meta"]["hostvars"]["pve-1"]["pvefleet_sdn_api_host"] == remotes[1].host


def test_a_playbook_runs_through_it(remotes, tmp_path):
    fleet = tmp_path / "fleet.pvefleet.yml"
    env = write_fleet(fleet, remotes)
    play = [{"name": "info", "hosts": "tag_odd", "gather_facts": False,
             "tasks": [{"name": "info", "pvefleet.sdn.sdn_info": {}}]}]
    run = run_playbook(play, fleet, tmp_path / "run", env={**env, "ANSIBLE_INVENTORY_ENABLED": "pvefleet.sdn.remotes"})
    assert run.rc == 0, run.output
    assert [r["host"] for r in run.task("info")] == ["pve-1"]
    assert run.one("info", "pve-1")["result"]["lock"] == {"held": False, "state": "free"}


def test_a_remote_whose_secret_variable_is_unset_stops_every_transaction_before_any_lock(remotes, tmp_path):
    # Not a silent drop: the remote stays in the inventory, and every transaction over it refuses.
    from test_transaction import fleet_play, role_play

    fleet = tmp_path / "fleet.pvefleet.yml"
    env = write_fleet(fleet, remotes)
    del env["PVE_SECRET_1"]
    for style, play in (("fleet", fleet_play()), ("role", role_play())):
        run = run_playbook(play, fleet, tmp_path / style, env={**env, "ANSIBLE_INVENTORY_ENABLED": "pvefleet.sdn.remotes"})
        assert run.rc != 0, run.output
        assert "pve-1: the environment variable PVE_SECRET_1 (its token_secret_env) is not set" in run.output
    for remote in remotes:
        assert remote.control.state()["issued_lock_tokens"] == [], remote.name


def test_a_bad_entry_adds_no_remote_at_all(remotes, tmp_path):
    fleet = tmp_path / "fleet.pvefleet.yml"
    env = write_fleet(fleet, remotes)
    data = yaml.safe_load(fleet.read_text())
    data["remotes"][2]["colour"] = "blue"  # an unknown key on the last entry
    fleet.write_text(yaml.safe_dump(data))
    listing = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(fleet), "--list"], capture_output=True, text=True, check=False,
        env={**os.environ, **env, "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
             "ANSIBLE_INVENTORY_ENABLED": "pvefleet.sdn.remotes"})
    assert "unknown key(s) colour" in listing.stderr
    assert "pve-0" not in listing.stdout and "pve-1" not in listing.stdout
