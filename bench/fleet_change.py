"""The benchmark's transaction, the same for every method: an EVPN controller, zone and vnet.

bench/playbooks/*.yml spell the same objects in YAML; keep them in step.
"""
from __future__ import annotations

CONTROLLER = {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1", "10.0.0.2"]}
ZONE = {"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}
VNET = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}
OBJECTS = (("controller", CONTROLLER), ("zone", ZONE), ("vnet", VNET))

# The strict lower bound's round trips: the chain of what must wait for what, whoever runs it.
# A connection (TCP, then a TLS 1.3 handshake: the emulator charges both, as a network would), the
# lock, the three creates one after the other (a zone names its controller, a vnet its zone), then
# the apply and one task status: the reload starts when PVE gets the apply, half a round trip in,
# and the status that sees it ended comes back half a round trip after its end. So 2 + 1 + 3 + 1
# round trips, and the reload task itself (bench/README.md).
CONNECT_ROUND_TRIPS = 2
PROTOCOL_ROUND_TRIPS = CONNECT_ROUND_TRIPS + 1 + len(OBJECTS) + 1


def connection_params(hostvars: dict) -> dict:
    """The collection's connection options from an inventory host's pvefleet_sdn_* variables."""
    prefix = "pvefleet_sdn_"
    return {key[len(prefix):]: value for key, value in hostvars.items() if key.startswith(prefix)}


def remotes_of(inventory_text: str) -> dict[str, dict]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a thousand hosts parse in ms, not s
    return yaml.load(inventory_text, Loader=loader)["all"]["children"]["remotes"]["hosts"]
