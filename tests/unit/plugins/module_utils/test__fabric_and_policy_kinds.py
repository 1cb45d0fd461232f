"""Fabrics, fabric nodes, prefix lists and route maps through the object task, against a fake PVE."""
from __future__ import annotations

import asyncio
import copy
from typing import Any, Optional

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._fabrics import parse_fabric, parse_fabric_node
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._routing import parse_prefix_list, parse_route_map
from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import run_object_task
from ansible_collections.pvefleet.sdn.plugins.module_utils._snapshot import Snapshot

TOKEN = "01890a5d-ac96-774b-bcce-b302099a8057"
UNDERLAY = {"id": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/24", "digest": "d" * 64}
NODE = {"fabric_id": "underlay", "node_id": "pve1", "protocol": "openfabric", "ip": "10.255.0.1",
        "interfaces": ["name=ens19,ip=10.254.0.0/31"]}
ENTRY_10 = {"route-map-id": "evpn-in", "order": 10, "action": "permit",
            "match": ["key=ip-address-prefix-list,value=tenants"], "set": ["key=local-preference,value=200"]}
ENTRY_20 = {"route-map-id": "evpn-in", "order": 20, "action": "deny"}


class FakePve:
    """GET answers by path; records every call. A path given as an exception raises it."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any]] = []

    async def get(self, path: str, params: Optional[dict] = None) -> Any:
        self.calls.append(("GET", path, params))
        answer = self.answers.get(path)
        if answer is None:
            raise ApiError(500, f"'{path.rsplit('/', 1)[-1]}' does not exist in configuration\n", method="GET", path=path)
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)

    async def post(self, path: str, data: Optional[dict] = None) -> None:
        self.calls.append(("POST", path, dict(data or {})))

    async def put(self, path: str, data: Optional[dict] = None) -> None:
        self.calls.append(("PUT", path, dict(data or {})))

    async def delete(self, path: str, params: Optional[dict] = None) -> None:
        self.calls.append(("DELETE", path, dict(params or {})))

    @property
    def writes(self) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] != "GET"]


def task(client: FakePve, kind: str, options: dict, state: str = "present", check_mode: bool = False,
         reader: Any = None) -> dict:
    return asyncio.run(run_object_task(client, kind, options, state=state, purge=False, lock_token=TOKEN,
                                       check_mode=check_mode, reader=reader))


# --- models ------------------------------------------------------------------------------


def test_an_ospf_fabric_needs_an_ipv4_prefix_and_an_area_and_has_no_ipv6():
    with pytest.raises(InvalidInput) as missing_area:
        parse_fabric({"fabric": "core", "protocol": "ospf", "ip_prefix": "10.0.0.0/24"})
    assert "area" in missing_area.value.errors
    with pytest.raises(InvalidInput) as ipv6:
        parse_fabric({"fabric": "core", "protocol": "ospf", "area": "0", "ip6_prefix": "fd00::/64"})
    assert "ip6_prefix" in ipv6.value.errors
    fabric = parse_fabric({"fabric": "core", "protocol": "ospf", "area": "0.0.0.1", "ip_prefix": "10.0.0.0/24"})
    assert fabric.completeness_errors() == {}
    assert parse_fabric({"fabric": "core", "protocol": "ospf", "area": 7}).completeness_errors() == {
        "ip_prefix": "required for an ospf fabric (the prefix its node IPs come from)"}


def test_fabric_rules_name_the_option():
    with pytest.raises(InvalidInput) as bad:
        parse_fabric({"fabric": "-x", "protocol": "openfabric", "ip_prefix": "10.0.0.1/24", "hello_interval": 0})
    assert set(bad.value.errors) == {"fabric", "ip_prefix", "hello_interval"}
    assert "host bits" in bad.value.errors["ip_prefix"]
    with pytest.raises(InvalidInput) as protocol:
        parse_fabric({"fabric": "core", "protocol": "bgp"})
    assert "protocol" in protocol.value.errors


def test_a_fabric_travels_with_pve_s_keys():
    fabric = parse_fabric({"fabric": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/24",
                           "hello_interval": 3.0})
    assert fabric.to_wire() == {"id": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/24",
                                "hello_interval": 3}


def test_node_interfaces_are_property_strings_and_a_name_is_given_once():
    node = parse_fabric_node({"fabric": "underlay", "node": "pve1", "protocol": "openfabric", "ip": "10.255.0.1",
                              "interfaces": [{"name": "ens20", "hello_multiplier": 3},
                                             {"name": "ens19", "ip": "10.254.0.0/31"}]})
    assert node.to_wire()["interfaces"] == ["name=ens19,ip=10.254.0.0/31", "name=ens20,hello_multiplier=3"]
    assert "fabric_id" not in node.to_wire()  # it is in the path
    with pytest.raises(InvalidInput) as twice:
        parse_fabric_node({"fabric": "underlay", "node": "pve1", "protocol": "ospf",
                           "interfaces": [{"name": "ens19"}, {"name": "ens19"}]})
    assert "interfaces" in twice.value.errors


def test_prefix_list_entries_get_pve_s_sequence_numbers():
    declared = parse_prefix_list({"prefix_list": "tenants", "entries": [
        {"action": "permit", "prefix": "10.0.0.0/8", "le": 24}, {"action": "deny", "prefix": "0.0.0.0/0", "seq": 100},
        {"action": "permit", "prefix": "fd00::/8"}]})
    assert [entry.seq for entry in declared.entries or []] == [5, 100, 105]
    with pytest.raises(InvalidInput) as lengths:
        parse_prefix_list({"prefix_list": "x", "entries": [{"action": "permit", "prefix": "10.0.0.0/16", "ge": 8}]})
    assert lengths.value.errors == {"entries[0].ge": "must be between 16 and 32 for 10.0.0.0/16"}
    with pytest.raises(InvalidInput) as clash:
        parse_prefix_list({"prefix_list": "x", "entries": [{"action": "permit", "prefix": "10.0.0.0/8"},
                                                           {"action": "deny", "prefix": "0.0.0.0/0", "seq": 5}]})
    assert "seq 5" in clash.value.errors["entries"]


def test_route_map_clauses_are_checked_per_entry():
    with pytest.raises(InvalidInput) as bad:
        parse_route_map({"route_map": "evpn-in", "entries": [
            {"order": 10, "action": "permit", "set": [{"key": "ip-next-hop-unchanged", "value": "1"}]},
            {"order": 20, "action": "permit", "match": [{"key": "route-type", "value": "type5"}]}]})
    errors = bad.value.errors
    assert errors["entries[0].set[0].value"] == "set ip-next-hop-unchanged takes no value"
    assert errors["entries[1].match[0].value"] == ("must be one of ead, macip, multicast, es, prefix for match "
                                                   "route-type (got 'type5')")
    canonical = parse_route_map({"route_map": "evpn-in", "entries": [{"order": 10, "action": "permit", "set": [
        {"key": "ip6-next-hop", "value": "2001:DB8:0::1"}, {"key": "local-preference", "value": "+010"},
        {"key": "metric", "value": "-rtt"}]}]})
    assert [clause.value for clause in canonical.entries[0].set or []] == ["2001:db8::1", "+10", "-rtt"]
    with pytest.raises(InvalidInput) as values:
        parse_route_map({"route_map": "evpn-in", "entries": [{"order": 10, "action": "permit", "set": [
            {"key": "ip-next-hop", "value": "2001:db8::1"}, {"key": "weight", "value": "+1"}]}]})
    assert set(values.value.errors) == {"entries[0].set[0].value", "entries[0].set[1].value"}
    with pytest.raises(InvalidInput) as twice:
        parse_route_map({"route_map": "evpn-in", "entries": [{"order": 10, "action": "permit"},
                                                             {"order": 10, "action": "deny"}]})
    assert "unique" in twice.value.errors["entries"]


# --- fabric nodes ------------------------------------------------------------------------


def test_a_node_takes_its_fabric_s_protocol_and_must_sit_in_its_prefix():
    pve = FakePve({"/cluster/sdn/fabrics/fabric/underlay": UNDERLAY})
    options = {"fabric": "underlay", "node": "pve1", "ip": "10.255.0.1", "interfaces": [{"name": "ens19"}]}
    result = task(pve, "fabric_node", options)
    assert result["action"] == "create"
    assert pve.writes == [("POST", "/cluster/sdn/fabrics/node/underlay",
                           {"node_id": "pve1", "protocol": "openfabric", "ip": "10.255.0.1",
                            "interfaces": ["name=ens19"], "lock-token": TOKEN})]
    with pytest.raises(InvalidInput) as outside:
        task(FakePve({"/cluster/sdn/fabrics/fabric/underlay": UNDERLAY}), "fabric_node",
             {"fabric": "underlay", "node": "pve2", "ip": "10.1.0.1"})
    assert outside.value.errors == {"ip": "10.1.0.1 is outside the fabric's ip_prefix 10.255.0.0/24"}
    with pytest.raises(InvalidInput) as mismatch:
        task(FakePve({"/cluster/sdn/fabrics/fabric/underlay": UNDERLAY}), "fabric_node",
             {"fabric": "underlay", "node": "pve2", "protocol": "ospf", "ip": "10.255.0.2"})
    assert "openfabric" in mismatch.value.errors["protocol"]


def test_a_node_update_sends_the_protocol_and_deletes_as_a_list():
    pve = FakePve({"/cluster/sdn/fabrics/fabric/underlay": UNDERLAY,
                   "/cluster/sdn/fabrics/node/underlay/pve1": NODE})
    result = task(pve, "fabric_node", {"fabric": "underlay", "node": "pve1", "interfaces": []})
    assert result["action"] == "update"
    assert pve.writes == [("PUT", "/cluster/sdn/fabrics/node/underlay/pve1",
                           {"protocol": "openfabric", "delete": ["interfaces"], "lock-token": TOKEN})]


def test_a_node_of_a_missing_fabric():
    with pytest.raises(InvalidInput) as missing:
        task(FakePve({}), "fabric_node", {"fabric": "nowhere", "node": "pve1", "ip": "10.0.0.1"})
    assert "fabric 'nowhere' does not exist" in missing.value.errors["fabric"]
    gone = FakePve({})
    assert task(gone, "fabric_node", {"fabric": "nowhere", "node": "pve1"}, state="absent")["action"] == "none"
    assert gone.writes == []


def test_a_snapshot_lists_the_nodes_of_each_fabric_the_transaction_names():
    # Per fabric: GET /fabrics/node lists a node that is in two fabrics once.
    pve = FakePve({"/cluster/sdn/fabrics/fabric": [UNDERLAY, {**UNDERLAY, "id": "other"}],
                   "/cluster/sdn/fabrics/node/underlay": [NODE]})
    snapshot = asyncio.run(Snapshot.load(pve, {"fabric_node"}, {"fabric_node": {"underlay", "missing"}}))
    unchanged = {"fabric": "underlay", "node": "pve1", "ip": "10.255.0.1",
                 "interfaces": [{"name": "ens19", "ip": "10.254.0.0/31"}]}
    same = task(pve, "fabric_node", unchanged, reader=snapshot)
    other = task(pve, "fabric_node", {"fabric": "underlay", "node": "pve2", "ip": "10.255.0.2"}, reader=snapshot)
    assert (same["action"], other["action"]) == ("none", "create")
    assert [call[1] for call in pve.calls if call[0] == "GET"] == ["/cluster/sdn/fabrics/fabric",
                                                                   "/cluster/sdn/fabrics/node/underlay"]


# --- prefix lists and route maps ---------------------------------------------------------


def test_a_prefix_list_declared_without_seq_compares_equal_to_what_pve_numbered():
    pve = FakePve({"/cluster/sdn/prefix-lists/tenants": {"id": "tenants", "entries": [
        "action=permit,prefix=10.0.0.0/8,le=24,seq=5", "action=deny,prefix=0.0.0.0/0,seq=10"]}})
    options = {"prefix_list": "tenants", "entries": [{"action": "permit", "prefix": "10.0.0.0/8", "le": 24},
                                                     {"action": "deny", "prefix": "0.0.0.0/0"}]}
    assert task(pve, "prefix_list", options)["action"] == "none"
    changed = task(pve, "prefix_list", {**options, "entries": options["entries"][:1]})
    assert changed["action"] == "update"
    assert pve.writes == [("PUT", "/cluster/sdn/prefix-lists/tenants",
                           {"entries": ["action=permit,prefix=10.0.0.0/8,le=24,seq=5"], "lock-token": TOKEN})]


def test_a_route_map_is_written_entry_by_entry():
    pve = FakePve({"/cluster/sdn/route-maps/entries": [ENTRY_10, ENTRY_20]})
    declared = {"route_map": "evpn-in", "entries": [
        {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}]},
        {"order": 30, "action": "permit", "exit_action": {"key": "on-match-next"}}]}
    result = task(pve, "route_map", declared)
    assert result["action"] == "update"
    assert [entry["order"] for entry in result["diff"]["after"]["entries"]] == [10, 30]
    assert pve.writes == [
        ("PUT", "/cluster/sdn/route-maps/entries/evpn-in/entry/10", {"delete": ["set"], "lock-token": TOKEN}),
        ("DELETE", "/cluster/sdn/route-maps/entries/evpn-in/entry/20", {"lock-token": TOKEN}),
        ("POST", "/cluster/sdn/route-maps/entries", {"route-map-id": "evpn-in", "order": 30, "action": "permit",
                                                     "exit-action": "key=on-match-next", "lock-token": TOKEN})]


def test_a_route_map_rerun_and_removal():
    pve = FakePve({"/cluster/sdn/route-maps/entries": [ENTRY_10, ENTRY_20]})
    same = {"route_map": "evpn-in", "entries": [
        {"order": 20, "action": "deny"},
        {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}],
         "set": [{"key": "local-preference", "value": 200}]}]}
    assert task(pve, "route_map", same)["action"] == "none"
    assert task(pve, "route_map", {"route_map": "evpn-in"}, state="absent", check_mode=True)["action"] == "delete"
    assert pve.writes == []
    task(pve, "route_map", {"route_map": "evpn-in"}, state="absent")
    assert [call[:2] for call in pve.writes] == [
        ("DELETE", "/cluster/sdn/route-maps/entries/evpn-in/entry/10"),
        ("DELETE", "/cluster/sdn/route-maps/entries/evpn-in/entry/20")]
    with pytest.raises(InvalidInput) as empty:
        task(FakePve({"/cluster/sdn/route-maps/entries": []}), "route_map", {"route_map": "new", "entries": []})
    assert "at least one entry" in empty.value.errors["entries"]


def test_a_remote_without_the_kind_is_told_apart_before_any_write():
    older = ApiError(501, "Method 'GET /cluster/sdn/prefix-lists' not implemented", method="GET",
                     path="/cluster/sdn/prefix-lists", remote="pve91.example:8006")
    pve = FakePve({"/cluster/sdn/prefix-lists/tenants": ApiError(501, "not implemented"),
                   "/cluster/sdn/prefix-lists": older})
    with pytest.raises(InvalidInput) as refused:
        task(pve, "prefix_list", {"prefix_list": "tenants", "entries": [{"action": "permit", "prefix": "10.0.0.0/8"}]})
    assert "Proxmox VE 9.2 or newer" in refused.value.errors["prefix_lists"]
    assert "pve91.example" in refused.value.errors["prefix_lists"]
    assert pve.writes == []


# --- releases ----------------------------------------------------------------------------


def test_the_preflight_refuses_what_the_remote_s_release_lacks():
    from ansible_collections.pvefleet.sdn.plugins.module_utils import _steps as steps
    from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
    from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import DesiredObject, Remote

    def remote_on(version: str, objects: list[DesiredObject]) -> Remote:
        remote = Remote("r1", ConnectionSettings(api_host="192.0.2.1", api_user="root@pam"), objects)
        remote.client = FakePve({"/version": {"version": version, "release": version.rsplit(".", 1)[0]}})
        return remote

    controller = DesiredObject("controller", {"controller": "evpnctl", "type": "evpn", "asn": 65000,
                                              "fabric": "underlay", "route_map_in": "evpn-in"})
    route_map = DesiredObject("route_map", {"route_map": "evpn-in", "entries": [{"order": 10, "action": "permit"}]})
    fabric = DesiredObject("fabric", {"fabric": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/16"})
    with pytest.raises(InvalidInput) as older:
        asyncio.run(steps.preflight(remote_on("9.1.4", [fabric, controller, route_map])))
    assert older.value.errors == {
        "r1: controller evpnctl": "the option route_map_in needs Proxmox VE 9.2 or newer; the remote runs 9.1.4",
        "r1: route map evpn-in": "route maps need Proxmox VE 9.2 or newer; the remote runs 9.1.4"}
    asyncio.run(steps.preflight(remote_on("9.2.11", [fabric, controller, route_map])))
    removal = DesiredObject("route_map", {"route_map": "evpn-in"}, state="absent")
    asyncio.run(steps.preflight(remote_on("9.1.4", [fabric, removal])))
