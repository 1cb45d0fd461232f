"""Controller models: evpn, bgp, isis, faucet."""
from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._controllers import (
    CONTROLLER_TYPES,
    BgpController,
    EvpnController,
    IsisController,
    controller_from_wire,
    parse_controller,
)

MINIMAL: dict[str, dict[str, Any]] = {
    "evpn": {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1"]},
    "bgp": {"controller": "bgp-pve1", "type": "bgp", "node": "pve1", "asn": 65001,
            "peers": ["10.0.0.254"]},
    "isis": {"controller": "isis_pve1", "type": "isis", "isis_domain": "sdn",
             "isis_net": "49.0001.1921.6800.1001.00", "isis_ifaces": ["eth1"], "node": "pve1"},
    "faucet": {"controller": "faucet1", "type": "faucet"},
}
ALLOWED = {
    # PVE 9.2 adds nodes, peer-group-name, bgp-mode, ebgp-multihop and the route maps to evpn,
    # the route maps to bgp (the 9.2 schema, Controllers/EvpnPlugin.pm and Plugin.pm).
    "evpn": {"asn", "peers", "fabric", "nodes", "peer_group_name", "bgp_mode", "ebgp_multihop", "route_map_in",
             "route_map_out"},
    "bgp": {"node", "asn", "peers", "ebgp", "ebgp_multihop", "loopback",
            "bgp_multipath_as_path_relax", "route_map_in", "route_map_out"},
    "isis": {"isis_domain", "isis_net", "isis_ifaces", "node", "loopback"},
    "faucet": set(),
}
REQUIRED = {
    "evpn": {"asn"},
    "bgp": {"node", "asn", "peers"},
    "isis": {"isis_domain", "isis_net", "isis_ifaces", "node"},
    "faucet": set(),
}
ANY_VALUE: dict[str, Any] = {
    "asn": 1, "peers": ["10.0.0.9"], "fabric": "fab1", "node": "pve2", "ebgp": True,
    "ebgp_multihop": 3, "loopback": "dummy0", "bgp_multipath_as_path_relax": True,
    "isis_domain": "d", "isis_net": "49.0001.0000.0000.0001.00", "isis_ifaces": ["eth0"],
    "nodes": ["pve1"], "peer_group_name": "VTEP2", "bgp_mode": "external", "route_map_in": "in",
    "route_map_out": "out",
}


def errors_of(options: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_controller(options)
    return caught.value.errors


def article(controller_type: str) -> str:
    return "an" if controller_type[0] in "aeiou" else "a"


@pytest.mark.parametrize("controller_type", sorted(MINIMAL))
def test_minimal_controller_of_each_type(controller_type: str) -> None:
    controller = parse_controller(MINIMAL[controller_type])
    assert controller.__class__ is CONTROLLER_TYPES[controller_type]


@pytest.mark.parametrize("controller_type", sorted(MINIMAL))
def test_fields_are_the_options_pve_allows(controller_type: str) -> None:
    fields = set(CONTROLLER_TYPES[controller_type].model_fields) - {"controller", "type"}
    assert fields == ALLOWED[controller_type]


@pytest.mark.parametrize(("controller_type", "option"), sorted(
    (t, o) for t in MINIMAL for o in REQUIRED[t]))
def test_missing_required_option(controller_type: str, option: str) -> None:
    options = {k: v for k, v in MINIMAL[controller_type].items() if k != option}
    assert errors_of(options) == {
        option: f"required for {article(controller_type)} {controller_type} controller"}


@pytest.mark.parametrize(("controller_type", "option"), sorted(
    (t, o) for t in MINIMAL for o in set(ANY_VALUE) - ALLOWED[t]))
def test_option_of_another_type_is_refused(controller_type: str, option: str) -> None:
    assert errors_of({**MINIMAL[controller_type], option: ANY_VALUE[option]}) == {
        option: f"not an option of {article(controller_type)} {controller_type} controller"}


@pytest.mark.parametrize("controller_id", ["c", "1ctl", "ctl-", "ctl.x", "x" * 65])
def test_controller_id_rule(controller_id: str) -> None:
    errors = errors_of({"controller": controller_id, "type": "faucet"})
    assert errors["controller"].startswith(
        "must be 2 to 64 characters: a letter, then letters, digits, '_' or '-', ending with a "
        f"letter or digit (got {controller_id[:20]!r}"[:-1])


def test_long_values_are_shortened_in_messages() -> None:
    errors = errors_of({"controller": "x" * 65, "type": "faucet"})
    assert errors["controller"].endswith("...)")
    assert len(errors["controller"]) < 200


@pytest.mark.parametrize("controller_id", ["c1", "evpn-ctl_2", "x" * 64])
def test_valid_controller_ids(controller_id: str) -> None:
    assert parse_controller({"controller": controller_id, "type": "faucet"}).controller == controller_id


@pytest.mark.parametrize(("asn", "ok"), [(-1, False), (0, True), (4294967295, True), (4294967296, False)])
def test_asn_range(asn: int, ok: bool) -> None:
    for controller_type in ("evpn", "bgp"):
        options = {**MINIMAL[controller_type], "asn": asn}
        if ok:
            assert parse_controller(options).asn == asn  # type: ignore[union-attr]
        else:
            assert errors_of(options) == {"asn": f"must be between 0 and 4294967295 (got {asn})"}


def test_evpn_peers_and_fabric_exclude_each_other() -> None:
    assert errors_of({**MINIMAL["evpn"], "fabric": "fab1"}) == {
        "peers": "set either peers or fabric, not both",
        "fabric": "set either peers or fabric, not both"}


def test_evpn_needs_one_of_peers_or_fabric_once_whole() -> None:
    controller = parse_controller({"controller": "evpnctl", "type": "evpn", "asn": 1})
    assert controller.completeness_errors() == {"peers": "one of peers or fabric is required"}
    with_fabric = parse_controller({"controller": "evpnctl", "type": "evpn", "asn": 1, "fabric": "f1"})
    assert with_fabric.completeness_errors() == {}


def test_bgp_peers_must_not_be_empty() -> None:
    assert errors_of({**MINIMAL["bgp"], "peers": []}) == {"peers": "must not be empty"}


def test_bgp_options_and_wire_form() -> None:
    controller = parse_controller({**MINIMAL["bgp"], "ebgp": True, "ebgp_multihop": 2,
                                   "loopback": "dummy1", "bgp_multipath_as_path_relax": False,
                                   "peers": ["10.0.0.2", "10.0.0.1"]})
    assert isinstance(controller, BgpController)
    assert controller.to_wire() == {
        "controller": "bgp-pve1", "type": "bgp", "node": "pve1", "asn": 65001,
        "peers": "10.0.0.1,10.0.0.2", "ebgp": 1, "ebgp-multihop": 2, "loopback": "dummy1",
        "bgp-multipath-as-path-relax": 0}


@pytest.mark.parametrize("net", ["49.0001.1921.6800.1001", "49.0001.1921.6800.1001.0",
                                 "4g.0001.1921.6800.1001.00", "49-0001-1921-6800-1001-00",
                                 "49" + ".0001" * 10 + ".00"])
def test_isis_net_pattern_and_length(net: str) -> None:
    assert errors_of({**MINIMAL["isis"], "isis_net": net}) == {
        "isis_net": "must be an IS-IS NET like 49.0001.1921.6800.1001.00 (20 to 50 characters) "
                    f"(got {net!r})"}


def test_isis_net_longest_valid() -> None:
    net = "49" + ".0001" * 9 + ".00"
    assert len(net) == 50
    assert parse_controller({**MINIMAL["isis"], "isis_net": net}).isis_net == net  # type: ignore[union-attr]


def test_isis_interfaces() -> None:
    controller = parse_controller({**MINIMAL["isis"], "isis_ifaces": "eth2,eth1;vmbr0.10"})
    assert isinstance(controller, IsisController)
    assert controller.isis_ifaces == ["eth1", "eth2", "vmbr0.10"]
    assert set(errors_of({**MINIMAL["isis"], "isis_ifaces": ["eth0", "0bad"]})) == {"isis_ifaces[1]"}
    assert errors_of({**MINIMAL["isis"], "isis_ifaces": []}) == {"isis_ifaces": "must not be empty"}


def test_node_name_rule() -> None:
    assert set(errors_of({**MINIMAL["bgp"], "node": "pve_1"})) == {"node"}


def test_from_wire() -> None:
    controller = controller_from_wire({"controller": "evpnctl", "type": "evpn", "asn": 65000,
                                       "peers": "10.0.0.2,10.0.0.1", "digest": "a" * 40})
    assert isinstance(controller, EvpnController)
    assert controller.peers == ["10.0.0.1", "10.0.0.2"]


def test_from_wire_unknown_type() -> None:
    with pytest.raises(InvalidInput):
        controller_from_wire({"controller": "x1", "type": "ospf"})
