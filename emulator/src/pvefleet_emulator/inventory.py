"""The Ansible inventory of the emulated remotes (group `remotes`)."""
from __future__ import annotations

from pathlib import Path

import yaml


def write_inventory(path: Path, remotes) -> None:
    """The connection variables hold each remote's API token: root@pam!fleet, or with
    --token-role the command line's token (then root's token secret and the token user's password
    are there too, as pvefleet_emulator_root_token_secret and pvefleet_emulator_token_user_password,
    for tests that need both)."""
    hosts = {}
    for remote in remotes:
        user, token_name, token_secret = remote.api_token
        hosts[remote.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "pvefleet_sdn_api_host": remote.address,
            "pvefleet_sdn_api_port": remote.port,
            "pvefleet_sdn_api_user": user,
            "pvefleet_sdn_api_token_id": token_name,
            "pvefleet_sdn_api_token_secret": token_secret,
            "pvefleet_sdn_ca_path": str(remote.cert_path),
            "pvefleet_sdn_fingerprint": remote.fingerprint,
            "pvefleet_emulator_url": f"https://{remote.address}:{remote.port}/_emulator",
            "pvefleet_emulator_password": remote.credentials.password,
            "pvefleet_emulator_nodes": list(remote.nodes),
        }
        if remote.settings.access.token_role is not None:
            root_token = remote.access.users["root@pam"].tokens.get("fleet")
            if root_token is not None and not root_token.privsep:
                hosts[remote.name]["pvefleet_emulator_root_token_secret"] = root_token.secret
            password = remote.access.users[user].password
            if password and user != "root@pam":
                hosts[remote.name]["pvefleet_emulator_token_user_password"] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"all": {"children": {"remotes": {"hosts": hosts}}}}, sort_keys=False))
    path.chmod(0o600)
