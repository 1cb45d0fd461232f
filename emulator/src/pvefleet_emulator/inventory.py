"""The Ansible inventory of the emulated remotes (group `remotes`)."""
from __future__ import annotations

from pathlib import Path

import yaml


def write_inventory(path: Path, remotes) -> None:
    hosts = {}
    for remote in remotes:
        hosts[remote.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "pvefleet_sdn_api_host": remote.address,
            "pvefleet_sdn_api_port": remote.port,
            "pvefleet_sdn_api_user": remote.credentials.user,
            "pvefleet_sdn_api_token_id": remote.credentials.token_name,
            "pvefleet_sdn_api_token_secret": remote.credentials.token_secret,
            "pvefleet_sdn_ca_path": str(remote.cert_path),
            "pvefleet_sdn_fingerprint": remote.fingerprint,
            "pvefleet_emulator_url": f"https://{remote.address}:{remote.port}/_emulator",
            "pvefleet_emulator_password": remote.credentials.password,
            "pvefleet_emulator_nodes": list(remote.nodes),
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"all": {"children": {"remotes": {"hosts": hosts}}}}, sort_keys=False))
    path.chmod(0o600)
