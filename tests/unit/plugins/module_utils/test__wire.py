"""The wire form: what PVE's GET prints parses into a model whose create body says the same."""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._models._controllers import (
    controller_from_wire,
    parse_controller,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._subnets import (
    parse_subnet,
    subnet_from_wire,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._vnets import (
    parse_vnet,
    vnet_from_wire,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    option_name,
    split_list,
    wire_key,
    wire_value,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import (
    parse_zone,
    zone_from_wire,
)

DIGEST = "da39a3ee5e6b4b0d3255bfef95601890afd80709"

# GET items as PVE prints them (pve-sdn-api.md §2.4, §6): numbers for integers and booleans,
# sorted comma strings for node lists, plus bookkeeping keys that are not options.
ZONE_ITEMS: list[dict[str, Any]] = [
    {"zone": "simple1", "type": "simple", "dhcp": "dnsmasq", "ipam": "pve", "mtu": 1500,
     "nodes": "pve1,pve2"},
    {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "bridge-disable-mac-learning": 1},
    {"zone": "qinq1", "type": "qinq", "bridge": "vmbr0", "tag": 20, "vlan-protocol": "802.1ad",
     "mtu": 1496},
    {"zone": "vxlan1", "type": "vxlan", "peers": "10.0.0.1,10.0.0.2,10.0.0.3", "vxlan-port": 4790},
    {"zone": "vxlan2", "type": "vxlan", "fabric": "fab1"},
    {"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf-vxlan": 10000,
     "exitnodes": "pve1,pve2", "exitnodes-primary": "pve1", "exitnodes-local-routing": 1,
     "advertise-subnets": 1, "disable-arp-nd-suppression": 0, "rt-import": "65000:1,65000:2",
     "mac": "bc:24:11:aa:bb:cc", "dns": "pdns", "dnszone": "sdn.example.com", "reversedns": "pdns"},
    {"zone": "fauc1", "type": "faucet", "dp-id": 3, "controller": "faucetctl"},
]
VNET_ITEM = {"vnet": "v100", "type": "vnet", "zone": "vlan1", "tag": 100, "alias": "web",
             "vlanaware": 0, "isolate-ports": 1}
SUBNET_ITEM = {"subnet": "vlan1-10.0.0.0-24", "type": "subnet", "vnet": "v100", "zone": "vlan1",
               "gateway": "10.0.0.1", "snat": 0, "dnszoneprefix": "adm",
               "dhcp-dns-server": "10.0.0.53",
               "dhcp-range": [{"start-address": "10.0.0.10", "end-address": "10.0.0.20"},
                              {"start-address": "10.0.0.30", "end-address": "10.0.0.40"}]}
CONTROLLER_ITEMS: list[dict[str, Any]] = [
    {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": "10.0.0.1,10.0.0.2"},
    {"controller": "evpnfab", "type": "evpn", "asn": 4294967295, "fabric": "fab1"},
    {"controller": "bgppve1", "type": "bgp", "node": "pve1", "asn": 65001, "peers": "192.0.2.1",
     "ebgp": 1, "ebgp-multihop": 2, "loopback": "dummy0", "bgp-multipath-as-path-relax": 1},
    {"controller": "isispve1", "type": "isis", "node": "pve1", "isis-domain": "sdn",
     "isis-net": "49.0001.1921.6800.1001.00", "isis-ifaces": "eth0,eth1", "loopback": "lo"},
    {"controller": "faucet1", "type": "faucet"},
]


def as_get(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "digest": DIGEST}


@pytest.mark.parametrize("item", ZONE_ITEMS, ids=lambda item: item["zone"])
def test_zone_round_trip(item: dict[str, Any]) -> None:
    zone = zone_from_wire(as_get(item))
    assert zone.to_wire() == item
    assert parse_zone(zone.user_view()) == zone


def test_vnet_round_trip() -> None:
    vnet = vnet_from_wire(as_get(VNET_ITEM))
    assert vnet.to_wire() == VNET_ITEM
    assert parse_vnet(vnet.user_view()) == vnet


def test_subnet_round_trip() -> None:
    subnet = subnet_from_wire({**as_get(SUBNET_ITEM), "id": "vlan1-10.0.0.0-24",
                               "cidr": "10.0.0.0/24", "network": "10.0.0.0", "mask": "24"})
    # The create body: the CIDR as `subnet`, type, properties; vnet travels in the path.
    assert subnet.to_wire() == {
        "subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1", "snat": 0,
        "dnszoneprefix": "adm", "dhcp-dns-server": "10.0.0.53",
        "dhcp-range": ["start-address=10.0.0.10,end-address=10.0.0.20",
                       "start-address=10.0.0.30,end-address=10.0.0.40"]}
    assert parse_subnet(subnet.user_view()) == subnet


@pytest.mark.parametrize("item", CONTROLLER_ITEMS, ids=lambda item: item["controller"])
def test_controller_round_trip(item: dict[str, Any]) -> None:
    controller = controller_from_wire(as_get(item))
    assert controller.to_wire() == item
    assert parse_controller(controller.user_view()) == controller


def test_user_view_speaks_module_options() -> None:
    zone = zone_from_wire(as_get(ZONE_ITEMS[5]))
    view = zone.user_view()
    assert view["vrf_vxlan"] == 10000
    assert view["exitnodes"] == ["pve1", "pve2"]
    assert view["advertise_subnets"] is True
    assert "digest" not in view and "vrf-vxlan" not in view
    assert list(view)[:2] == ["zone", "type"]


def test_user_view_of_dhcp_ranges() -> None:
    subnet = subnet_from_wire(as_get(SUBNET_ITEM))
    assert subnet.user_view()["dhcp_range"][0] == {"start_address": "10.0.0.10",
                                                   "end_address": "10.0.0.20"}


def test_pve_list_strings_split_on_commas_semicolons_and_spaces() -> None:
    assert split_list("a, b;c  d") == ["a", "b", "c", "d"]
    assert split_list("") == []
    assert split_list(["x"]) == ["x"]


def test_wire_values() -> None:
    assert wire_value(True) == 1 and wire_value(False) == 0
    assert wire_value(["a", "b"]) == "a,b"
    assert wire_value([]) is None
    assert wire_value(5) == 5


def test_key_names() -> None:
    assert wire_key("bgp_multipath_as_path_relax") == "bgp-multipath-as-path-relax"
    assert option_name("dhcp-dns-server") == "dhcp_dns_server"


def test_create_body_leaves_out_unset_options() -> None:
    assert parse_zone({"zone": "v1", "type": "vlan", "bridge": "vmbr0", "mtu": None,
                       "nodes": []}).to_wire() == {"zone": "v1", "type": "vlan", "bridge": "vmbr0"}
