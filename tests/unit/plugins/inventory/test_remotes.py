"""The inventory plugin pvefleet.sdn.remotes, parsed in process: hosts, groups and variables, and
that a file with a bad entry adds nothing while a remote without its secret stays, marked."""
from __future__ import annotations

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import add_fragments

from ansible_collections.pvefleet.sdn.plugins.inventory import remotes
from ansible_collections.pvefleet.sdn.plugins.inventory.remotes import INVENTORY_ERROR


def InventoryModule():
    """The plugin with its options defined from its documentation, as Ansible's plugin loader does."""
    doc = yaml.safe_load(remotes.DOCUMENTATION)
    add_fragments(doc, remotes.__file__, fragment_loader=fragment_loader)
    C.config.initialize_plugin_configuration_definitions("inventory", "pvefleet.sdn.remotes", doc["options"])
    plugin = remotes.InventoryModule()
    plugin._load_name = "pvefleet.sdn.remotes"
    return plugin


FLEET = {"plugin": "pvefleet.sdn.remotes", "remotes": [
    {"id": "east", "host": "pve-east.example.com", "user": "automation@pve", "token_id": "fleet",
     "token_secret_env": "PVE_EAST_TOKEN", "fingerprint": "AA:BB", "tags": ["prod", "eu-1"]},
    {"id": "lab", "host": "192.0.2.10", "port": 8443, "user": "root@pam", "token_id": "fleet", "token_secret": "s3cr3t",
     "ca_path": "/etc/pvefleet/lab-ca.pem", "validate_certs": True, "tags": ["lab"], "vars": {"evpn_asn": 65001}},
]}


def parse(tmp_path, data: dict) -> InventoryData:
    path = tmp_path / "fleet.pvefleet.yml"
    path.write_text(yaml.safe_dump(data))
    inventory = InventoryData()
    plugin = InventoryModule()
    assert plugin.verify_file(str(path))
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    return inventory


def host_vars(inventory: InventoryData, name: str) -> dict:
    return inventory.get_host(name).get_vars()


def test_every_remote_becomes_a_host_with_the_collections_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("PVE_EAST_TOKEN", "from-the-environment")
    inventory = parse(tmp_path, FLEET)
    assert sorted(inventory.hosts) == ["east", "lab"]
    assert sorted(h.name for h in inventory.groups["remotes"].get_hosts()) == ["east", "lab"]
    assert [h.name for h in inventory.groups["tag_eu_1"].get_hosts()] == ["east"]
    east, lab = host_vars(inventory, "east"), host_vars(inventory, "lab")
    assert {k: v for k, v in east.items() if k.startswith("pvefleet_sdn_")} == {
        "pvefleet_sdn_api_host": "pve-east.example.com", "pvefleet_sdn_api_user": "automation@pve",
        "pvefleet_sdn_api_token_id": "fleet", "pvefleet_sdn_api_token_secret": "from-the-environment",
        "pvefleet_sdn_fingerprint": "AA:BB"}
    assert lab["pvefleet_sdn_api_port"] == 8443 and lab["pvefleet_sdn_ca_path"] == "/etc/pvefleet/lab-ca.pem"
    assert lab["evpn_asn"] == 65001 and lab["ansible_connection"] == "local"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_remote_whose_secret_variable_is_unset_stays_marked(tmp_path, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("PVE_EAST_TOKEN", raising=False)
    else:
        monkeypatch.setenv("PVE_EAST_TOKEN", value)
    inventory = parse(tmp_path, FLEET)
    east = host_vars(inventory, "east")
    assert "pvefleet_sdn_api_token_secret" not in east
    assert east[INVENTORY_ERROR] == "the environment variable PVE_EAST_TOKEN (its token_secret_env) is not set"
    assert INVENTORY_ERROR not in host_vars(inventory, "lab")


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": "blue"}, "unknown key(s) colour"),
    ({"host": ""}, "'host' is required"),
    ({"token_secret": "x", "token_secret_env": "Y"}, "give token_secret or token_secret_env, not both"),
    ({"id": "east"}, "remote id(s) given twice: east"),
])
def test_a_bad_entry_adds_no_host_at_all(tmp_path, change, message):
    data = yaml.safe_load(yaml.safe_dump(FLEET))
    data["remotes"][1].update(change)
    path = tmp_path / "fleet.pvefleet.yml"
    path.write_text(yaml.safe_dump(data))
    inventory = InventoryData()
    with pytest.raises(AnsibleParserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        InventoryModule().parse(inventory, DataLoader(), str(path), cache=False)
    assert "east" not in inventory.hosts and "lab" not in inventory.hosts


def test_only_files_named_for_it_are_taken(tmp_path):
    other = tmp_path / "hosts.yml"
    other.write_text("all: {}")
    assert not InventoryModule().verify_file(str(other))
