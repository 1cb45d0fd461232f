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
