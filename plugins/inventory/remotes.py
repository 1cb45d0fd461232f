# Copyright: pvefleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: remotes
short_description: Proxmox VE remotes as inventory hosts for pvefleet.sdn
version_added: 1.0.0
description:
  - Reads a YAML file of Proxmox VE remotes (clusters) and makes each one an inventory host, in the group
    O(group) and in a group C(tag_<tag>) per tag, with the connection variables the pvefleet.sdn modules read
    (C(pvefleet_sdn_api_host), C(pvefleet_sdn_api_token_secret), ...), C(ansible_connection=local) and
    C(ansible_python_interpreter) set to the controller's Python.
  - A token secret is given in the file (vault-encrypted values work), or by the name of an environment variable
    that holds it (C(token_secret_env)), which keeps secrets out of the file. A remote whose variable is not set
    stays in the inventory with the host variable C(pvefleet_sdn_inventory_error), and every task of the collection
    that would act on it fails, naming the remote and the variable, before any lock is taken - a transaction never
    runs on the other remotes without it.
  - Every entry is checked before any host is added; a file with a bad entry adds no host at all.
  - The file name must end in C(.pvefleet.yml) or C(.pvefleet.yaml).
author:
  - pvefleet developers (@pvefleet)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [pvefleet.sdn.remotes]
  group:
    description: The group every remote is in.
    type: str
    default: remotes
  remotes:
    description:
      - The remotes. Each is a dict with C(id) (the inventory host name), C(host), and optionally C(port) (8006),
        C(user) (C(user@realm)), C(token_id), C(token_secret) or C(token_secret_env), C(fingerprint), C(ca_path),
        C(validate_certs), C(tags) (a list) and C(vars) (more host variables).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
# fleet.pvefleet.yml
plugin: pvefleet.sdn.remotes
remotes:
  - id: east
    host: pve-east.example.com
    user: automation@pve
    token_id: fleet
    token_secret_env: PVE_EAST_TOKEN
    fingerprint: "AA:BB:...:FF"
    tags: [prod, eu]
  - id: lab
    host: 192.0.2.10
    user: root@pam
    token_id: fleet
    token_secret: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      ...
    ca_path: /etc/pvefleet/lab-ca.pem
    tags: [lab]
keyed_groups:
  - key: pvefleet_sdn_api_port | default(8006) | string
    prefix: port
"""

import os
import re
import sys

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

# remote key -> host variable
_VARIABLES = {
    "host": "pvefleet_sdn_api_host",
    "port": "pvefleet_sdn_api_port",
    "user": "pvefleet_sdn_api_user",
    "token_id": "pvefleet_sdn_api_token_id",
    "token_secret": "pvefleet_sdn_api_token_secret",
    "fingerprint": "pvefleet_sdn_fingerprint",
    "ca_path": "pvefleet_sdn_ca_path",
    "validate_certs": "pvefleet_sdn_validate_certs",
}
_KNOWN = set(_VARIABLES) | {"id", "token_secret_env", "tags", "vars"}
# A remote whose settings could not be made: the collection's tasks refuse it, before any lock.
INVENTORY_ERROR = "pvefleet_sdn_inventory_error"
_GROUP_NAME = re.compile(r"[^A-Za-z0-9_]")


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "pvefleet.sdn.remotes"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".pvefleet.yml", ".pvefleet.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        # Every entry is checked before any host is added: Ansible goes on with what a failed
        # source added so far, and a transaction must never run on a part of the fleet.
        remotes = self.get_option("remotes")
        names = [self._check(remote, index, path) for index, remote in enumerate(remotes)]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise AnsibleParserError(f"{path}: remote id(s) given twice: {', '.join(twice)}")
        group = self.inventory.add_group(self.get_option("group"))
        strict = self.get_option("strict")
        for name, remote in zip(names, remotes):
            self.inventory.add_host(name, group=group)
            variables = self._host_variables(remote, name)
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            for tag in remote.get("tags") or []:
                tag_group = self.inventory.add_group("tag_" + _GROUP_NAME.sub("_", str(tag)))
                self.inventory.add_child(tag_group, name)
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)

    @staticmethod
    def _check(remote, index: int, path: str) -> str:
        where = f"{path}: remotes[{index}]"
        if not isinstance(remote, dict):
            raise AnsibleParserError(f"{where}: must be a dict")
        unknown = sorted(set(remote) - _KNOWN)
        if unknown:
            raise AnsibleParserError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KNOWN))}")
        for required in ("id", "host"):
            if not remote.get(required):
                raise AnsibleParserError(f"{where}: '{required}' is required")
        if remote.get("token_secret") is not None and remote.get("token_secret_env"):
            raise AnsibleParserError(f"{where}: give token_secret or token_secret_env, not both")
        return str(remote["id"])

    @staticmethod
    def _host_variables(remote: dict, name: str) -> dict:
        # The modules run on the controller, with the Python that runs Ansible here.
        variables = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for key, variable in _VARIABLES.items():
            if remote.get(key) is not None:
                variables[variable] = remote[key]
        if remote.get("token_secret_env"):
            env_name = remote["token_secret_env"]
            if os.environ.get(env_name, "").strip():
                variables["pvefleet_sdn_api_token_secret"] = os.environ[env_name]
            else:
                # Kept in the inventory, so that a transaction over it refuses to start (naming the remote
                # and the variable) instead of running on the other remotes without it.
                variables[INVENTORY_ERROR] = f"the environment variable {env_name} (its token_secret_env) is not set"
        variables.update(remote.get("vars") or {})
        return variables
