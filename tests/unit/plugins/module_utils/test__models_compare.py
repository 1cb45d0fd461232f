"""changes(): only what the user gave is compared, normalised the way PVE compares."""
from __future__ import annotations

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._compare import (
    ChangeSet,
    changes,
)
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
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import (
    parse_zone,
    zone_from_wire,
)

EVPN = zone_from_wire({"zone": "evpn1", "type": "evpn", "vrf-vxlan": 100, "controller": "ctl",
                       "nodes": "pve1,pve2", "mtu": 1450, "mac": "BC:24:11:00:00:01",
                       "advertise-subnets": 1})


def evpn(**options: object) -> object:
    return parse_zone({"zone": "evpn1", "type": "evpn", "vrf_vxlan": 100, "controller": "ctl",
                       **options})


def test_same_object_no_changes() -> None:
    assert changes(evpn(nodes=["pve2", "pve1"], mtu=1450), EVPN) == ChangeSet()
    assert not changes(evpn(), EVPN)


def test_unspecified_options_are_left_alone() -> None:
    # mtu, nodes, mac and advertise_subnets are set remotely; the user did not mention them.
    assert changes(evpn(), EVPN) == ChangeSet()


def test_changed_values_are_sent_in_wire_form() -> None:
    change = changes(evpn(mtu=1400, nodes=["pve3"], advertise_subnets=False), EVPN)
    assert change.updates == {"mtu": 1400, "nodes": "pve3", "advertise-subnets": 0}
    assert change.deletes == ()


def test_empty_list_removes_the_option() -> None:
    assert changes(evpn(nodes=[]), EVPN) == ChangeSet(deletes=("nodes",))


def test_false_equals_unset_and_defaults_equal_unset() -> None:
    current = zone_from_wire({"zone": "vx1", "type": "vxlan", "peers": "10.0.0.1"})
    desired = parse_zone({"zone": "vx1", "type": "vxlan", "peers": ["10.0.0.1"], "vxlan_port": 4789})
    assert not changes(desired, current)
    assert not changes(evpn(disable_arp_nd_suppression=False), EVPN)
    qinq_now = zone_from_wire({"zone": "q1", "type": "qinq", "bridge": "vmbr0", "tag": 5})
    assert not changes(parse_zone({"zone": "q1", "type": "qinq", "bridge": "vmbr0", "tag": 5,
                                   "vlan_protocol": "802.1q"}), qinq_now)


def test_generated_mac_compares_case_insensitively() -> None:
    assert not changes(evpn(mac="bc:24:11:00:00:01"), EVPN)


def test_purge_removes_what_the_user_did_not_give_but_not_generated_mac() -> None:
    change = changes(evpn(mtu=1450), EVPN, purge=True)
    assert change == ChangeSet(deletes=("advertise-subnets", "nodes"))


def test_setting_fabric_removes_peers_and_back() -> None:
    peers = zone_from_wire({"zone": "vx1", "type": "vxlan", "peers": "10.0.0.1"})
    assert changes(parse_zone({"zone": "vx1", "type": "vxlan", "fabric": "fab1"}), peers) == \
        ChangeSet(updates={"fabric": "fab1"}, deletes=("peers",))
    fabric = controller_from_wire({"controller": "ctl", "type": "evpn", "asn": 1, "fabric": "f1"})
    assert changes(parse_controller({"controller": "ctl", "type": "evpn", "asn": 1,
                                     "peers": ["10.0.0.1"]}), fabric) == \
        ChangeSet(updates={"peers": "10.0.0.1"}, deletes=("fabric",))


def test_type_change_is_refused_with_advice() -> None:
    with pytest.raises(InvalidInput) as caught:
        changes(parse_zone({"zone": "evpn1", "type": "vlan", "bridge": "vmbr0"}), EVPN)
    assert caught.value.errors == {"type": (
        "zone 'evpn1' exists as an evpn zone; PVE cannot change the type of a zone, so delete it "
        "first (state=absent) and then create it as a vlan zone")}


def test_identity_options_are_never_updated() -> None:
    current = vnet_from_wire({"vnet": "v1", "type": "vnet", "zone": "z1", "tag": 5})
    assert changes(parse_vnet({"vnet": "v1", "zone": "z2", "tag": 5}), current).updates == {"zone": "z2"}
    subnet_now = subnet_from_wire({"subnet": "z1-10.0.0.0-24", "vnet": "v1", "type": "subnet"})
    desired = parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1", "gateway": "10.0.0.1"}, zone="z1")
    assert changes(desired, subnet_now) == ChangeSet(updates={"gateway": "10.0.0.1"})


def test_dhcp_ranges_compare_in_any_order_and_change_as_a_whole() -> None:
    current = subnet_from_wire({"subnet": "z1-10.0.0.0-24", "vnet": "v1", "type": "subnet",
                                "dhcp-range": [{"start-address": "10.0.0.10", "end-address": "10.0.0.20"},
                                               {"start-address": "10.0.0.30", "end-address": "10.0.0.40"}]})
    same = parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1", "dhcp_range": [
        {"start_address": "10.0.0.30", "end_address": "10.0.0.40"},
        {"start_address": "10.0.0.10", "end_address": "10.0.0.20"}]}, zone="z1")
    assert not changes(same, current)
    fewer = parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1", "dhcp_range": [
        {"start_address": "10.0.0.10", "end_address": "10.0.0.20"}]}, zone="z1")
    assert changes(fewer, current) == ChangeSet(
        updates={"dhcp-range": ["start-address=10.0.0.10,end-address=10.0.0.20"]})
    assert changes(parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1", "dhcp_range": []},
                                zone="z1"), current) == ChangeSet(deletes=("dhcp-range",))
