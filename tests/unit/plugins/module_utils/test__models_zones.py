"""Zone models: the option set, required options and constraints of every zone type."""
from __future__ import annotations

from typing import Any

import pydantic
import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import (
    ZONE_TYPES,
    EvpnZone,
    FaucetZone,
    QinqZone,
    SimpleZone,
    VlanZone,
    VxlanZone,
    parse_zone,
    zone_from_wire,
)

# The smallest valid zone of each type (pve-sdn-objects.md §4.2: ✱ options).
MINIMAL: dict[str, dict[str, Any]] = {
    "simple": {"zone": "simple1", "type": "simple"},
    "vlan": {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0"},
    "qinq": {"zone": "qinq1", "type": "qinq", "bridge": "vmbr0", "tag": 100},
    "vxlan": {"zone": "vxlan1", "type": "vxlan", "peers": ["10.0.0.1"]},
    "evpn": {"zone": "evpn1", "type": "evpn", "vrf_vxlan": 10000, "controller": "evpnctl"},
    "faucet": {"zone": "fauc1", "type": "faucet", "dp_id": 1, "controller": "faucetctl"},
}
REQUIRED = {
    "simple": set(),
    "vlan": {"bridge"},
    "qinq": {"bridge", "tag"},
    "vxlan": set(),  # one of peers / fabric: a whole-object rule, see below
    "evpn": {"vrf_vxlan", "controller"},
    "faucet": {"dp_id", "controller"},
}
# One valid value for every option some zone type has.
ANY_VALUE: dict[str, Any] = {
    "secondary_controllers": ["evpnctl2"],
    "nodes": ["pve1"], "ipam": "pve", "dns": "dns1", "reversedns": "dns1", "dnszone": "example.com",
    "mtu": 1450, "dhcp": "dnsmasq", "bridge": "vmbr0", "bridge_disable_mac_learning": True,
    "tag": 100, "vlan_protocol": "802.1ad", "peers": ["10.0.0.1"], "fabric": "fab1",
    "vxlan_port": 4790, "controller": "evpnctl", "vrf_vxlan": 100, "mac": "02:00:00:00:00:01",
    "exitnodes": ["pve1"], "exitnodes_primary": "pve1", "exitnodes_local_routing": True,
    "advertise_subnets": True, "disable_arp_nd_suppression": True, "rt_import": ["65000:1"],
    "dp_id": 1,
}
# The options each type allows, as PVE's plugins list them.
ALLOWED = {
    "simple": {"nodes", "mtu", "dns", "reversedns", "dnszone", "ipam", "dhcp"},
    "vlan": {"nodes", "bridge", "bridge_disable_mac_learning", "mtu", "dns", "reversedns",
             "dnszone", "ipam"},
    "qinq": {"nodes", "tag", "bridge", "bridge_disable_mac_learning", "mtu", "vlan_protocol",
             "dns", "reversedns", "dnszone", "ipam"},
    "vxlan": {"nodes", "peers", "vxlan_port", "mtu", "dns", "reversedns", "dnszone", "ipam",
              "fabric"},
    "evpn": {"secondary_controllers", "nodes", "vrf_vxlan", "controller", "exitnodes", "exitnodes_local_routing",
             "exitnodes_primary", "advertise_subnets", "disable_arp_nd_suppression",
             "bridge_disable_mac_learning", "rt_import", "vxlan_port", "mtu", "mac", "dns",
             "reversedns", "dnszone", "ipam"},
    "faucet": {"nodes", "dp_id", "controller", "dns", "reversedns", "dnszone", "ipam"},
}


def errors_of(options: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_zone(options)
    return caught.value.errors


def test_every_zone_type_has_a_model() -> None:
    assert set(ZONE_TYPES) == set(MINIMAL)


@pytest.mark.parametrize("zone_type", sorted(MINIMAL))
def test_minimal_zone_of_each_type_is_valid(zone_type: str) -> None:
    zone = parse_zone(MINIMAL[zone_type])
    assert zone.__class__ is ZONE_TYPES[zone_type]
    assert zone.type == zone_type


@pytest.mark.parametrize("zone_type", sorted(MINIMAL))
def test_model_fields_are_exactly_the_options_pve_allows(zone_type: str) -> None:
    fields = set(ZONE_TYPES[zone_type].model_fields) - {"zone", "type"}
    assert fields == ALLOWED[zone_type]


@pytest.mark.parametrize("zone_type", sorted(MINIMAL))
def test_every_allowed_option_is_accepted(zone_type: str) -> None:
    options = {**MINIMAL[zone_type], **{name: ANY_VALUE[name] for name in ALLOWED[zone_type]}}
    if zone_type == "vxlan":
        del options["fabric"]  # peers and fabric exclude each other
    zone = parse_zone(options)
    assert set(zone.specified()) == set(options)


@pytest.mark.parametrize(("zone_type", "option"), sorted(
    (zone_type, option) for zone_type in MINIMAL for option in REQUIRED[zone_type]))
def test_missing_required_option_names_field_and_type(zone_type: str, option: str) -> None:
    options = {key: value for key, value in MINIMAL[zone_type].items() if key != option}
    assert errors_of(options) == {option: f"required for {'an' if zone_type == 'evpn' else 'a'} "
                                          f"{zone_type} zone"}


@pytest.mark.parametrize(("zone_type", "option"), sorted(
    (zone_type, option) for zone_type in MINIMAL for option in set(ANY_VALUE) - ALLOWED[zone_type]))
def test_option_of_another_type_is_refused(zone_type: str, option: str) -> None:
    errors = errors_of({**MINIMAL[zone_type], option: ANY_VALUE[option]})
    assert errors == {option: f"not an option of {'an' if zone_type == 'evpn' else 'a'} "
                              f"{zone_type} zone"}


@pytest.mark.parametrize("zone_id", ["x", "x-1", "1abc", "abcdefghi", "ab_c", "a.b", ""])
def test_zone_id_rule(zone_id: str) -> None:
    errors = errors_of({"zone": zone_id, "type": "simple"})
    assert errors == {"zone": f"must be 2 to 8 characters, a letter then letters or digits "
                              f"(got {zone_id!r})"}


@pytest.mark.parametrize("zone_id", ["ab", "z1", "abcdefgh", "Zone9"])
def test_valid_zone_ids(zone_id: str) -> None:
    assert parse_zone({"zone": zone_id, "type": "simple"}).zone == zone_id


def test_unknown_or_missing_type() -> None:
    assert errors_of({"zone": "z1", "type": "bogus"}) == {
        "type": "must be one of evpn, faucet, qinq, simple, vlan, vxlan (got 'bogus')"}
    assert errors_of({"zone": "z1"}) == {
        "type": "required, one of evpn, faucet, qinq, simple, vlan, vxlan"}


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (16777215, True), (16777216, False)])
def test_evpn_vrf_vxlan_range(value: int, ok: bool) -> None:
    options = {**MINIMAL["evpn"], "vrf_vxlan": value}
    if ok:
        assert parse_zone(options).vrf_vxlan == value
    else:
        assert errors_of(options) == {"vrf_vxlan": f"must be between 1 and 16777215 (got {value})"}


@pytest.mark.parametrize("zone_type", ["vxlan", "evpn"])
@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (65536, True), (65537, False)])
def test_vxlan_port_range_follows_pve_schema(zone_type: str, value: int, ok: bool) -> None:
    options = {**MINIMAL[zone_type], "vxlan_port": value}
    if ok:
        assert parse_zone(options).vxlan_port == value
    else:
        assert errors_of(options) == {"vxlan_port": f"must be between 1 and 65536 (got {value})"}


def test_qinq_service_tag_is_at_least_zero_with_no_upper_bound_in_pve() -> None:
    assert errors_of({**MINIMAL["qinq"], "tag": -1}) == {"tag": "must be at least 0 (got -1)"}
    assert parse_zone({**MINIMAL["qinq"], "tag": 0}).tag == 0
    assert parse_zone({**MINIMAL["qinq"], "tag": 5000}).tag == 5000


def test_qinq_vlan_protocol_enum() -> None:
    assert errors_of({**MINIMAL["qinq"], "vlan_protocol": "802.1x"}) == {
        "vlan_protocol": "must be one of 802.1q, 802.1ad (got '802.1x')"}


def test_simple_dhcp_enum() -> None:
    assert errors_of({**MINIMAL["simple"], "dhcp": "kea"}) == {
        "dhcp": "must be one of dnsmasq (got 'kea')"}


def test_type_errors_are_said_in_words() -> None:
    errors = errors_of({**MINIMAL["evpn"], "mtu": "big", "advertise_subnets": "maybe"})
    assert errors == {"mtu": "must be an integer (got 'big')",
                      "advertise_subnets": "must be true or false (got 'maybe')"}


def test_several_errors_are_all_reported() -> None:
    errors = errors_of({"zone": "x-1", "type": "evpn", "vrf_vxlan": 0, "controller": "ctl",
                        "bridge": "vmbr0"})
    assert errors == {
        "zone": "must be 2 to 8 characters, a letter then letters or digits (got 'x-1')",
        "vrf_vxlan": "must be between 1 and 16777215 (got 0)",
        "bridge": "not an option of an evpn zone",
    }


def test_messages_carry_no_validation_library_jargon() -> None:
    errors = errors_of({"zone": "x", "type": "qinq", "tag": "a", "vlan_protocol": 1, "bogus": 1})
    text = " ".join(errors.values()).lower()
    for jargon in ("pydantic", "input should", "field required", "extra inputs", "value error",
                   "literal", "validation"):
        assert jargon not in text


# --- formats ------------------------------------------------------------------------------


def test_nodes_are_a_sorted_unique_list_and_accept_pve_strings() -> None:
    zone = parse_zone({**MINIMAL["simple"], "nodes": ["pve2", "pve1", "pve2"]})
    assert zone.nodes == ["pve1", "pve2"]
    assert parse_zone({**MINIMAL["simple"], "nodes": "pve2,pve1"}).nodes == ["pve1", "pve2"]


def test_node_names_are_checked() -> None:
    assert errors_of({**MINIMAL["simple"], "nodes": ["pve1", "-bad"]}) == {
        "nodes[1]": "must be a node name: letters, digits and '-', not starting or ending with "
                    "'-' (got '-bad')"}


def test_evpn_exitnodes_and_primary() -> None:
    zone = parse_zone({**MINIMAL["evpn"], "exitnodes": ["b", "a"], "exitnodes_primary": "c"})
    # PVE does not require the primary to be one of the exit nodes; neither do we.
    assert zone.exitnodes == ["a", "b"]
    assert zone.exitnodes_primary == "c"


def test_vxlan_peers_are_ip_addresses() -> None:
    zone = parse_zone({**MINIMAL["vxlan"], "peers": ["10.0.0.2", "fd00::0001", "10.0.0.1"]})
    assert zone.peers == ["10.0.0.1", "10.0.0.2", "fd00::1"]
    assert errors_of({**MINIMAL["vxlan"], "peers": ["10.0.0.1", "host.example"]}) == {
        "peers[1]": "must be an IPv4 or IPv6 address (got 'host.example')"}


def test_vxlan_peers_and_fabric_exclude_each_other() -> None:
    errors = errors_of({**MINIMAL["vxlan"], "fabric": "fab1"})
    assert errors == {"peers": "set either peers or fabric, not both",
                      "fabric": "set either peers or fabric, not both"}


def test_vxlan_needs_peers_or_fabric_once_whole() -> None:
    # A desired state may leave both out (the remote has one); a whole object may not.
    zone = parse_zone({"zone": "vx1", "type": "vxlan", "mtu": 1450})
    assert zone.completeness_errors() == {"peers": "one of peers or fabric is required"}
    assert parse_zone({"zone": "vx1", "type": "vxlan", "fabric": "fab1"}).completeness_errors() == {}


def test_fabric_id_rule() -> None:
    assert errors_of({"zone": "vx1", "type": "vxlan", "fabric": "-fab"}) == {
        "fabric": "must be 2 to 8 characters: letters, digits or '-', not starting or ending "
                  "with '-' (got '-fab')"}


def test_dnszone_needs_dns_once_whole() -> None:
    zone = parse_zone({**MINIMAL["vlan"], "dnszone": "example.com"})
    assert zone.completeness_errors() == {
        "dnszone": "needs dns (the DNS server of the zone) to be set as well"}
    assert parse_zone({**MINIMAL["vlan"], "dnszone": "example.com", "dns": "pdns"}
                      ).completeness_errors() == {}


def test_dnszone_is_a_dns_name() -> None:
    assert "dnszone" in errors_of({**MINIMAL["simple"], "dnszone": "bad_name.example"})


@pytest.mark.parametrize("mac", ["01:00:00:00:00:00", "02:00:00:00:00", "zz:00:00:00:00:00"])
def test_evpn_mac_must_be_unicast(mac: str) -> None:
    assert errors_of({**MINIMAL["evpn"], "mac": mac}) == {
        "mac": f"must be a unicast MAC address like 02:00:00:00:00:01 (got {mac!r})"}


def test_evpn_mac_is_lower_cased_so_pve_upper_case_compares_equal() -> None:
    assert parse_zone({**MINIMAL["evpn"], "mac": "BC:24:11:00:00:0A"}).mac == "bc:24:11:00:00:0a"


def test_evpn_route_targets() -> None:
    zone = parse_zone({**MINIMAL["evpn"], "rt_import": ["65000:200", "65000:0100", "1:1"]})
    assert zone.rt_import == ["1:1", "65000:100", "65000:200"]
    errors = errors_of({**MINIMAL["evpn"], "rt_import": ["65000:1", "65000", "4294967296:1"]})
    rule = "must be a route target ASN:NN, both numbers between 0 and 4294967295"
    assert errors == {"rt_import[1]": f"{rule} (got '65000')",
                      "rt_import[2]": f"{rule} (got '4294967296:1')"}


def test_evpn_controller_id_rule() -> None:
    assert "controller" in errors_of({**MINIMAL["evpn"], "controller": "9ctl"})


def test_faucet_controller_is_not_checked_like_pve() -> None:
    assert parse_zone({**MINIMAL["faucet"], "controller": "any thing"}).controller == "any thing"


def test_none_options_are_unset() -> None:
    zone = parse_zone({**MINIMAL["vlan"], "mtu": None, "nodes": None})
    assert set(zone.specified()) == {"zone", "type", "bridge"}


def test_snake_case_option_and_pve_key_are_both_accepted() -> None:
    options = {key: value for key, value in MINIMAL["evpn"].items() if key != "vrf_vxlan"}
    assert parse_zone({**options, "vrf-vxlan": 7}).vrf_vxlan == 7


# --- reading PVE output ------------------------------------------------------------------


def test_from_wire_reads_pve_numbers_and_comma_strings() -> None:
    zone = zone_from_wire({
        "zone": "evpn1", "type": "evpn", "vrf-vxlan": 10000, "controller": "evpnctl",
        "nodes": "pve1,pve2", "exitnodes": "pve2", "advertise-subnets": 1,
        "exitnodes-local-routing": 0, "rt-import": "65000:1,65000:2", "mac": "BC:24:11:AA:BB:CC",
        "digest": "0" * 40, "state": "changed", "pending": {"mtu": 1400},
    })
    assert isinstance(zone, EvpnZone)
    assert zone.nodes == ["pve1", "pve2"]
    assert zone.advertise_subnets is True and zone.exitnodes_local_routing is False
    assert zone.rt_import == ["65000:1", "65000:2"]
    assert "digest" not in zone.specified()


def test_from_wire_keeps_what_pve_has_even_if_our_whole_object_rules_differ() -> None:
    # Reading must not fail on our pre-checks: they judge what we send, not what exists.
    zone = zone_from_wire({"zone": "vx1", "type": "vxlan", "peers": "10.0.0.1", "fabric": "f1"})
    assert isinstance(zone, VxlanZone)


def test_from_wire_ignores_keys_we_do_not_model() -> None:
    zone = zone_from_wire({"zone": "s1", "type": "simple", "somethingnew": "x"})
    assert isinstance(zone, SimpleZone)


def test_from_wire_unknown_type_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        zone_from_wire({"zone": "z1", "type": "future"})
    assert "future" in caught.value.errors["type"]


@pytest.mark.parametrize("model", [SimpleZone, VlanZone, QinqZone, VxlanZone, EvpnZone, FaucetZone])
def test_models_are_immutable(model: type) -> None:
    zone = parse_zone(MINIMAL[model.model_fields["type"].default])
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        zone.zone = "other"
