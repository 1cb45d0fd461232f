"""The benchmark's transaction, the same for every method: an EVPN controller, zone and vnet.

bench/playbooks/*.yml spell the same objects in YAML; keep them in step.
"""
from __future__ import annotations

CONTROLLER = {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1", "10.0.0.2"]}
ZONE = {"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}
VNET = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}
OBJECTS = (("controller", CONTROLLER), ("zone", ZONE), ("vnet", VNET))

# The protocol's round trips, whoever runs it: take the lock, create the three objects, apply,
# and one task status that says the reload ended.
PROTOCOL_ROUND_TRIPS = 1 + len(OBJECTS) + 1 + 1


def connection_params(hostvars: dict) -> dict:
    """The collection's connection options from an inventory host's pvefleet_sdn_* variables."""
    prefix = "pvefleet_sdn_"
    return {key[len(prefix):]: value for key, value in hostvars.items() if key.startswith(prefix)}


def remotes_of(inventory_text: str) -> dict[str, dict]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a thousand hosts parse in ms, not s
    return yaml.load(inventory_text, Loader=loader)["all"]["children"]["remotes"]["hosts"]
