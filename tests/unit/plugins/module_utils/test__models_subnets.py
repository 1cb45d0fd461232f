"""Subnet model: CIDR, gateway, DHCP ranges, PVE's subnet ID, and the vnet rule."""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._subnets import (
    DhcpRange,
    Subnet,
    check_subnet_against_vnet,
    parse_subnet,
    subnet_from_wire,
    subnet_id,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._vnets import parse_vnet

BASE = {"subnet": "10.0.0.0/24", "vnet": "v1"}


def errors_of(options: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_subnet(options)
    return caught.value.errors


def ranges(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"start_address": start, "end_address": end} for start, end in pairs]


def test_valid_subnet_and_its_create_body() -> None:
    subnet = parse_subnet({**BASE, "gateway": "10.0.0.1", "snat": True, "dnszoneprefix": "adm",
                           "dhcp_range": ranges(("10.0.0.100", "10.0.0.199")),
                           "dhcp_dns_server": "10.0.0.53"}, zone="z1")
    assert subnet.to_wire() == {
        "subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1", "snat": 1,
        "dnszoneprefix": "adm", "dhcp-range": ["start-address=10.0.0.100,end-address=10.0.0.199"],
        "dhcp-dns-server": "10.0.0.53"}
    assert subnet.object_id == "z1-10.0.0.0-24"
    assert subnet.parent_id == "v1"


def test_required_options() -> None:
    assert errors_of({"vnet": "v1"}) == {"subnet": "required for a subnet"}
    assert errors_of({"subnet": "10.0.0.0/24"}) == {"vnet": "required for a subnet"}


@pytest.mark.parametrize("text", ["10.0.0.0", "10.0.0.0/33", "10.0.0/24", "fd00::/129", "net"])
def test_cidr_must_be_a_network(text: str) -> None:
    assert errors_of({**BASE, "subnet": text}) == {
        "subnet": f"must be a network in CIDR form, like 10.0.0.0/24 or fd00::/64 (got {text!r})"}


def test_cidr_with_host_bits_is_refused_and_the_network_named() -> None:
    # PVE would store it as zone-10.0.0.5-24; we refuse what is almost always a typo.
    assert errors_of({**BASE, "subnet": "10.0.0.5/24"}) == {
        "subnet": "has host bits set; the network is 10.0.0.0/24 (got '10.0.0.5/24')"}


def test_cidr_is_written_canonically() -> None:
    subnet = parse_subnet({**BASE, "subnet": "FD00:0:0::/64"}, zone="z1")
    assert subnet.subnet == "fd00::/64"
    assert subnet.object_id == "z1-fd00::-64"


def test_subnet_id() -> None:
    assert subnet_id("myzone", "10.0.0.0/24") == "myzone-10.0.0.0-24"
    assert subnet_id("myzone", "fd00::/64") == "myzone-fd00::-64"


def test_object_id_needs_the_zone() -> None:
    with pytest.raises(ValueError, match="zone"):
        parse_subnet(BASE).object_id  # noqa: B018 (the property raises)
    assert parse_subnet(BASE).in_zone("z9").object_id == "z9-10.0.0.0-24"


# --- gateway ----------------------------------------------------------------------------


@pytest.mark.parametrize(("cidr", "gateway", "ok"), [
    ("10.0.0.0/24", "10.0.0.1", True),
    ("10.0.0.0/24", "10.0.1.1", False),
    ("10.0.0.0/24", "fd00::1", False),
    ("10.0.0.1/32", "192.168.0.1", True),   # IPv4 point-to-point: PVE allows it outside
    ("fd00::1/128", "fd01::1", False),      # the exception is IPv4 only
    ("fd00::/64", "fd00::1", True),
])
def test_gateway_inside_subnet(cidr: str, gateway: str, ok: bool) -> None:
    options = {**BASE, "subnet": cidr, "gateway": gateway}
    if ok:
        assert parse_subnet(options).gateway == gateway
    else:
        assert errors_of(options) == {"gateway": f"{gateway} is not inside {cidr}"}


def test_gateway_must_be_an_address() -> None:
    assert errors_of({**BASE, "gateway": "router"}) == {
        "gateway": "must be an IPv4 or IPv6 address (got 'router')"}


# --- dhcp ranges --------------------------------------------------------------------------


def test_dhcp_ranges_valid_single_address_range_and_adjacent_ranges() -> None:
    subnet = parse_subnet({**BASE, "dhcp_range": ranges(("10.0.0.10", "10.0.0.10"),
                                                        ("10.0.0.11", "10.0.0.20"))})
    assert [r.start_address for r in subnet.dhcp_range or []] == ["10.0.0.10", "10.0.0.11"]


def test_dhcp_range_start_after_end() -> None:
    assert errors_of({**BASE, "dhcp_range": ranges(("10.0.0.50", "10.0.0.10"))}) == {
        "dhcp_range[0]": "start_address 10.0.0.50 must not be after end_address 10.0.0.10"}


def test_dhcp_range_outside_subnet() -> None:
    assert errors_of({**BASE, "dhcp_range": ranges(("10.0.0.10", "10.0.1.10"))}) == {
        "dhcp_range[0]": "10.0.1.10 is not inside 10.0.0.0/24"}
    assert errors_of({**BASE, "dhcp_range": ranges(("9.0.0.1", "10.0.1.10"))}) == {
        "dhcp_range[0]": "9.0.0.1 and 10.0.1.10 are not inside 10.0.0.0/24"}


def test_dhcp_ranges_must_not_overlap() -> None:
    errors = errors_of({**BASE, "dhcp_range": ranges(("10.0.0.10", "10.0.0.20"),
                                                     ("10.0.0.30", "10.0.0.40"),
                                                     ("10.0.0.35", "10.0.0.50"))})
    assert errors == {"dhcp_range[2]": "overlaps dhcp_range[1]; ranges must not overlap"}


def test_dhcp_range_item_fields() -> None:
    errors = errors_of({**BASE, "dhcp_range": [{"start_address": "x", "end": "10.0.0.1"}]})
    assert errors == {"dhcp_range[0].start_address": "must be an IPv4 or IPv6 address (got 'x')",
                      "dhcp_range[0].end_address": "required",
                      "dhcp_range[0].end": "not a known key here"}


def test_dhcp_range_accepts_pve_property_strings() -> None:
    item = DhcpRange.model_validate("start-address=10.0.0.1,end-address=10.0.0.9")
    assert item == DhcpRange(start_address="10.0.0.1", end_address="10.0.0.9")
    assert item.to_property_string() == "start-address=10.0.0.1,end-address=10.0.0.9"


# --- reading PVE output --------------------------------------------------------------------

GET_ITEM = {
    "subnet": "z1-10.0.0.0-24", "id": "z1-10.0.0.0-24", "cidr": "10.0.0.0/24",
    "network": "10.0.0.0", "mask": "24", "zone": "z1", "vnet": "v1", "type": "subnet",
    "gateway": "10.0.0.1", "snat": 1, "digest": "e" * 40,
    "dhcp-range": [{"start-address": "10.0.0.100", "end-address": "10.0.0.199"}],
}


def test_from_wire_uses_derived_keys_only_for_identity() -> None:
    subnet = subnet_from_wire(GET_ITEM)
    assert subnet.subnet == "10.0.0.0/24"
    assert subnet.zone == "z1"
    assert subnet.object_id == "z1-10.0.0.0-24"
    assert subnet.snat is True
    assert subnet.dhcp_range == [DhcpRange(start_address="10.0.0.100", end_address="10.0.0.199")]
    assert set(subnet.specified()) == {"subnet", "type", "vnet", "zone", "gateway", "snat",
                                       "dhcp_range"}


def test_from_wire_empty_dhcp_range_is_unset() -> None:
    subnet = subnet_from_wire({**GET_ITEM, "dhcp-range": []})
    assert subnet.dhcp_range is None


def test_from_wire_without_derived_keys_parses_the_id() -> None:
    subnet = subnet_from_wire({"subnet": "z1-fd00::-64", "vnet": "v1", "type": "subnet"})
    assert (subnet.zone, subnet.subnet, subnet.object_id) == ("z1", "fd00::/64", "z1-fd00::-64")


def test_from_wire_keeps_a_remote_cidr_with_host_bits_as_pve_named_it() -> None:
    subnet = subnet_from_wire({"subnet": "z1-10.0.0.5-24", "cidr": "10.0.0.5/24", "zone": "z1",
                               "vnet": "v1", "type": "subnet"})
    assert subnet.object_id == "z1-10.0.0.5-24"


# --- the vnet's rule ----------------------------------------------------------------------


def test_no_subnet_on_a_vlanaware_vnet() -> None:
    subnet = parse_subnet(BASE, zone="z1")
    with pytest.raises(InvalidInput) as caught:
        check_subnet_against_vnet(subnet, parse_vnet({"vnet": "v1", "zone": "z1", "vlanaware": True}))
    assert caught.value.errors == {"vnet": "vnet 'v1' is VLAN-aware; PVE allows no subnets on it"}
    check_subnet_against_vnet(subnet, parse_vnet({"vnet": "v1", "zone": "z1"}))


def test_subnet_zone_must_be_the_vnets_zone() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_subnet_against_vnet(parse_subnet(BASE, zone="z2"), parse_vnet({"vnet": "v1", "zone": "z1"}))
    assert caught.value.errors == {"zone": "vnet 'v1' is in zone 'z1', not 'z2'"}


def test_subnet_model_identity_fields() -> None:
    assert {"subnet", "vnet", "zone", "type"} <= Subnet.IDENTITY
