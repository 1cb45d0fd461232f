"""Vnet model and the rules a vnet's zone imposes on it."""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._vnets import (
    Vnet,
    check_vnet_against_zone,
    parse_vnet,
    vnet_from_wire,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import parse_zone

ZONES = {
    "simple": parse_zone({"zone": "z1", "type": "simple"}),
    "vlan": parse_zone({"zone": "z1", "type": "vlan", "bridge": "vmbr0"}),
    "qinq": parse_zone({"zone": "z1", "type": "qinq", "bridge": "vmbr0", "tag": 10}),
    "vxlan": parse_zone({"zone": "z1", "type": "vxlan", "peers": ["10.0.0.1"]}),
    "evpn": parse_zone({"zone": "z1", "type": "evpn", "vrf_vxlan": 5, "controller": "ctl"}),
    "faucet": parse_zone({"zone": "z1", "type": "faucet", "dp_id": 1, "controller": "ctl"}),
}


def errors_of(options: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_vnet(options)
    return caught.value.errors


def zone_errors(zone_type: str, **options: Any) -> dict[str, str] | None:
    try:
        check_vnet_against_zone(parse_vnet({"vnet": "v1", "zone": "z1", **options}), ZONES[zone_type])
    except InvalidInput as error:
        return error.errors
    return None


def test_valid_vnet() -> None:
    vnet = parse_vnet({"vnet": "v100", "zone": "z1", "tag": 100, "alias": "Prod (web) #1".replace("#", ""),
                       "vlanaware": True, "isolate_ports": False})
    assert vnet.to_wire() == {"vnet": "v100", "type": "vnet", "zone": "z1", "tag": 100,
                              "alias": "Prod (web) 1", "vlanaware": 1, "isolate-ports": 0}


def test_required_options() -> None:
    assert errors_of({"vnet": "v1"}) == {"zone": "required for a vnet"}
    assert errors_of({"zone": "z1"}) == {"vnet": "required for a vnet"}


@pytest.mark.parametrize("vnet_id", ["v", "v-1", "1v", "toolongid", "v_1"])
def test_vnet_id_rule(vnet_id: str) -> None:
    assert errors_of({"vnet": vnet_id, "zone": "z1"}) == {
        "vnet": f"must be 2 to 8 characters, a letter then letters or digits (got {vnet_id!r})"}


def test_zone_reference_uses_the_zone_id_rule() -> None:
    assert "zone" in errors_of({"vnet": "v1", "zone": "z-1"})


@pytest.mark.parametrize(("tag", "ok"), [(0, False), (1, True), (16777215, True), (16777216, False)])
def test_tag_range(tag: int, ok: bool) -> None:
    options = {"vnet": "v1", "zone": "z1", "tag": tag}
    if ok:
        assert parse_vnet(options).tag == tag
    else:
        assert errors_of(options) == {"tag": f"must be between 1 and 16777215 (got {tag})"}


@pytest.mark.parametrize("alias", ["web servers", "a.b-c_d (x)", "a+b=c?", "x" * 256, ""])
def test_alias_accepts_what_pve_accepts(alias: str) -> None:
    assert parse_vnet({"vnet": "v1", "zone": "z1", "alias": alias}).alias == alias


@pytest.mark.parametrize("alias", ["x" * 257, "a{b}", "it's", "50%", "a~b"])
def test_alias_refuses_what_pve_refuses(alias: str) -> None:
    assert set(errors_of({"vnet": "v1", "zone": "z1", "alias": alias})) == {"alias"}


def test_unknown_option() -> None:
    assert errors_of({"vnet": "v1", "zone": "z1", "mtu": 1500}) == {"mtu": "not an option of a vnet"}


def test_from_wire_ignores_pve_generated_mac_and_bookkeeping() -> None:
    vnet = vnet_from_wire({"vnet": "v1", "type": "vnet", "zone": "z1", "tag": 5, "vlanaware": 1,
                           "mac": "BC:24:11:00:00:01", "digest": "d" * 40, "state": "new"})
    assert vnet == Vnet(vnet="v1", zone="z1", tag=5, vlanaware=True, type="vnet")


# --- the zone's rules (pve-sdn-objects.md §4.3 table) --------------------------------------


def test_simple_zone_forbids_a_tag() -> None:
    assert zone_errors("simple", tag=5) == {"tag": "not allowed on a vnet in simple zone 'z1' (got 5)"}
    assert zone_errors("simple") is None


def test_vlan_zone_requires_a_tag_up_to_4096() -> None:
    assert zone_errors("vlan") == {
        "tag": "required on a vnet in vlan zone 'z1': the VLAN ID, 1 to 4096"}
    assert zone_errors("vlan", tag=4096) is None
    assert zone_errors("vlan", tag=4097) == {
        "tag": "must be at most 4096 on a vnet in vlan zone 'z1' (got 4097)"}


def test_qinq_zone_tag_is_optional_up_to_4096() -> None:
    assert zone_errors("qinq") is None
    assert zone_errors("qinq", tag=4096) is None
    assert zone_errors("qinq", tag=5000) == {
        "tag": "must be at most 4096 on a vnet in qinq zone 'z1' (got 5000)"}


@pytest.mark.parametrize("zone_type", ["vxlan", "evpn"])
def test_vxlan_and_evpn_zones_require_a_tag(zone_type: str) -> None:
    assert zone_errors(zone_type) == {
        "tag": f"required on a vnet in {zone_type} zone 'z1': the VXLAN VNI, 1 to 16777215"}
    assert zone_errors(zone_type, tag=16777215) is None


def test_evpn_zone_forbids_vlanaware() -> None:
    assert zone_errors("evpn", tag=10, vlanaware=True) == {
        "vlanaware": "cannot be enabled on a vnet in evpn zone 'z1'"}
    assert zone_errors("evpn", tag=10, vlanaware=False) is None
    assert zone_errors("vxlan", tag=10, vlanaware=True) is None


def test_faucet_zone_has_no_tag_rule() -> None:
    assert zone_errors("faucet") is None
    assert zone_errors("faucet", tag=99999) is None


def test_zone_mismatch_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        check_vnet_against_zone(parse_vnet({"vnet": "v1", "zone": "other"}), ZONES["simple"])
