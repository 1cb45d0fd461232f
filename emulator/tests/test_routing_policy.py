"""PVE 9.2's prefix lists and route maps, and the controller and zone options 9.2 adds, over real
HTTPS (httpx as an independent client); remote002 runs as PVE 9.1.

What is expected comes from pve-network 1.4+ (API2/Network/SDN/PrefixLists*.pm, RouteMaps*.pm,
Network/SDN/PrefixLists.pm, RouteMaps.pm, Controllers/EvpnPlugin.pm), the Rust code behind it
(proxmox-ve-config src/sdn/prefix_list.rs, route_map.rs; proxmox-perl-rs
pve-rs/src/bindings/sdn/prefix_lists.rs, route_maps.rs) and PVE 9.2's API schema.
"""
from __future__ import annotations

import re

import pytest
from emulator_api_client import client, ok, wait_task

from pvefleet_emulator.testing import EmulatorProcess

NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=2, nodes=2, task_seconds=0.3, extra_args=("--pve91", "remote002"),
                         workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


def _fresh(info):
    info.control.clear_faults()
    info.control.reset(access=True)
    return info


@pytest.fixture
def remote(emulator):
    return _fresh(emulator.remotes["remote001"])


@pytest.fixture
def old(emulator):
    return _fresh(emulator.remotes["remote002"])


def failed(response, status: int, message: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["message"].startswith(message), body
    return body


def test_version_index_and_the_91_remote(remote, old):
    c, c91 = client(remote), client(old)
    assert ok(c.get("/version"))["version"] == "9.2.11" and ok(c91.get("/version"))["version"] == "9.1.4"
    assert [i["id"] for i in ok(c.get("/cluster/sdn"))] == [
        "vnets", "zones", "controllers", "ipams", "dns", "fabrics", "prefix-lists", "route-maps"]
    assert [i["id"] for i in ok(c91.get("/cluster/sdn"))] == ["vnets", "zones", "controllers", "ipams", "dns", "fabrics"]
    # A path PVE 9.1 does not have: pve-http-server's answer for any unknown path.
    for method, path in (("GET", "/cluster/sdn/prefix-lists"), ("POST", "/cluster/sdn/prefix-lists"),
                         ("GET", "/cluster/sdn/route-maps/entries/rm1/entry/10"), ("GET", "/cluster/sdn/route-maps")):
        failed(c91.request(method, path), 501, f"Method '{method} {path}' not implemented")


def test_prefix_list_lifecycle_under_the_lock(remote):
    c = client(remote)
    token = ok(c.post("/cluster/sdn/lock"))
    refused = c.post("/cluster/sdn/prefix-lists", data={"id": "pl1"})
    failed(refused, 500, "creating prefix list failed: invalid lock token provided!")
    entries = ["action=permit,prefix=10.0.0.0/8,le=24", "action=deny,prefix=0.0.0.0/0,seq=100"]
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1", "entries": entries, "lock-token": token}))
    # The Rust type keeps the entries in struct field order, a missing seq the highest + 5 (or 5).
    listed = ok(c.get("/cluster/sdn/prefix-lists/pl1"))
    assert listed == {"type": "prefix-list", "id": "pl1",
                      "entries": ["action=permit,prefix=10.0.0.0/8,le=24,seq=5", "action=deny,prefix=0.0.0.0/0,seq=100"]}
    assert ok(c.get("/cluster/sdn/prefix-lists")) == [{"id": "pl1"}]
    verbose = ok(c.get("/cluster/sdn/prefix-lists", params={"verbose": 1}))
    assert verbose[0]["entries"] == listed["entries"] and re.fullmatch(r"[0-9a-f]{64}", verbose[0]["digest"])
    ok(c.post("/cluster/sdn/prefix-lists/pl1/entries", data={"action": "permit", "prefix": "192.0.2.0/24", "ge": 25, "lock-token": token}))
    assert ok(c.get("/cluster/sdn/prefix-lists/pl1/entries")) == [
        {"action": "permit", "prefix": "10.0.0.0/8", "le": 24, "seq": 5},
        {"action": "deny", "prefix": "0.0.0.0/0", "seq": 100},
        {"action": "permit", "prefix": "192.0.2.0/24", "ge": 25, "seq": 105}]
    # An update takes the entry out and puts it back at the end; delete=le drops the bound.
    ok(c.put("/cluster/sdn/prefix-lists/pl1/entries/5", data={"seq": 1, "delete": "le", "lock-token": token}))
    assert ok(c.get("/cluster/sdn/prefix-lists/pl1/entries/1")) == {"action": "permit", "prefix": "10.0.0.0/8", "seq": 1}
    assert [e["seq"] for e in ok(c.get("/cluster/sdn/prefix-lists/pl1/entries"))] == [100, 105, 1]
    ok(c.delete("/cluster/sdn/prefix-lists/pl1/entries/100", params={"lock-token": token}))
    missing = c.get("/cluster/sdn/prefix-lists/pl1/entries/100")
    assert failed(missing, 400, "Parameter verification failed.")["errors"] == {
        "id": "entry 100 in prefix list pl1 doesn't exist"}
    # `entries` replaces them all; delete=entries empties the list.
    ok(c.put("/cluster/sdn/prefix-lists/pl1", data={"entries": "action=deny,prefix=2001:DB8::/32,le=48", "lock-token": token}))
    assert ok(c.get("/cluster/sdn/prefix-lists/pl1"))["entries"] == ["action=deny,prefix=2001:db8::/32,le=48,seq=5"]
    ok(c.put("/cluster/sdn/prefix-lists/pl1", data={"delete": "entries", "lock-token": token}))
    assert ok(c.get("/cluster/sdn/prefix-lists/pl1")) == {"type": "prefix-list", "id": "pl1"}
    failed(c.delete("/cluster/sdn/prefix-lists/pl1"), 500, "deleting prefix list failed: invalid lock token provided!")
    ok(c.delete("/cluster/sdn/prefix-lists/pl1", params={"lock-token": token}))
    failed(c.get("/cluster/sdn/prefix-lists/pl1"), 400, "Parameter verification failed.")
    failed(c.get("/cluster/sdn/prefix-lists/pl1/entries"), 500, "could not find prefix list with id: pl1\n")
    ok(c.delete("/cluster/sdn/lock", params={"lock-token": token}))
    assert (remote.control.state()["pending"]["prefix-lists"]) == {}


@pytest.mark.parametrize(("call", "status", "message", "errors"), [
    ({"id": "only_default"}, 400, "Parameter verification failed.",
     {"id": "invalid format - prefix list ID 'only_default' is currently reserved and cannot be used\n"}),
    ({"id": "a.b"}, 400, "Parameter verification failed.",
     {"id": "invalid format - prefix list ID 'a.b' contains illegal characters\n"}),
    ({"id": "pl2", "entries": ["prefix=10.0.0.0/8", "action=allow,prefix=10.0.0.0/8"]}, 400, "Parameter verification failed.",
     {"entries[0]": "invalid format - format error\nentries[0].action: property is missing and it is not optional\n",
      "entries[1]": "invalid format - format error\nentries[1].action: value 'allow' does not have a value in the "
                    "enumeration 'permit, deny'\n"}),
    ({"id": "pl2", "entries": "action=permit,prefix=10.0.0.0,le=8"}, 400, "Parameter verification failed.",
     {"entries[0]": "invalid format - format error\nentries[0].prefix: invalid format - value does not look like a "
                    "valid CIDR network\n\n"}),
    ({"id": "pl2", "entries": "action=permit,prefix=10.0.0.0/24,le=16"}, 500,
     "creating prefix list failed: Prefix <= must not be less than 24\n", None),
    ({"id": "pl2", "entries": "action=permit,prefix=10.0.0.0/24,le=28,ge=30"}, 500,
     "creating prefix list failed: Prefix >= (30) must not be greater than Prefix <= (28)\n", None),
    ({"id": "pl2", "entries": ["action=permit,prefix=10.0.0.0/8,seq=7", "action=deny,prefix=10.0.0.0/8,seq=7"]}, 500,
     "creating prefix list failed: entry with sequence number 7 already exists!\n", None),
    ({"id": "pl1"}, 500, "creating prefix list failed: prefix list already exists in configuration: pl1\n", None),
])
def test_prefix_list_validation(remote, call, status, message, errors):
    c = client(remote)
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1"}))
    body = failed(c.post("/cluster/sdn/prefix-lists", data=call), status, message)
    assert body.get("errors") == errors
    assert set(remote.control.state()["pending"]["prefix-lists"]) == {"pl1"}


def test_prefix_list_entry_rules(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1", "entries": ["action=permit,prefix=10.0.0.0/8,seq=10",
                                                                          "action=permit,prefix=10.1.0.0/16,seq=20"]}))
    failed(c.post("/cluster/sdn/prefix-lists/pl1/entries", data={"action": "deny", "prefix": "10.0.0.0/8", "seq": 10}),
           500, "creating prefix list entry failed: entry with sequence number 10 already exists!\n")
    failed(c.post("/cluster/sdn/prefix-lists/nope/entries", data={"action": "deny", "prefix": "10.0.0.0/8"}),
           500, "creating prefix list entry failed: could not find prefix list with id nope\n")
    failed(c.put("/cluster/sdn/prefix-lists/pl1/entries/10", data={"seq": 20}),
           500, "updating prefix list entry failed: entry with sequence number 20 already exists!\n")
    failed(c.put("/cluster/sdn/prefix-lists/pl1/entries/30", data={"le": 24}),
           500, "updating prefix list entry failed: entry with sequence number 30 does not exist!\n")
    failed(c.put("/cluster/sdn/prefix-lists/pl1/entries/10", data={"ge": 40}),
           500, "updating prefix list entry failed: Prefix >= must not be greater than 32\n")
    failed(c.delete("/cluster/sdn/prefix-lists/pl1/entries/30"),
           500, "deleting prefix list entry failed: could not find prefix list entry with seq 30\n")
    bad = c.put("/cluster/sdn/prefix-lists/pl1/entries/10", data={"delete": "prefix"})
    assert failed(bad, 400, "Parameter verification failed.")["errors"] == {
        "delete[0]": "value 'prefix' does not have a value in the enumeration 'le, ge, seq'"}
    # A failed update changes nothing.
    assert [e["seq"] for e in ok(c.get("/cluster/sdn/prefix-lists/pl1/entries"))] == [10, 20]


def test_pending_running_apply_rollback_and_pending_changes(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1", "entries": "action=permit,prefix=10.0.0.0/8"}))
    ok(c.post("/cluster/sdn/route-maps/entries", data={"route-map-id": "rm1", "order": 10, "action": "permit"}))
    # Assumption (README): has_pending_changes covers prefix lists and route maps.
    failed(c.post("/cluster/sdn/lock"), 500, "could not acquire lock for SDN config: configuration has pending changes")
    pending = ok(c.get("/cluster/sdn/prefix-lists", params={"pending": 1, "verbose": 1}))
    digest = pending[0]["digest"]
    assert pending == [{"type": "prefix-list", "state": "new", "digest": digest,
                        "pending": {"id": "pl1", "entries": ["action=permit,prefix=10.0.0.0/8,seq=5"]}}]
    assert ok(c.get("/cluster/sdn/prefix-lists", params={"pending": 1})) == [{"id": "pl1", "state": "new"}]
    assert ok(c.get("/cluster/sdn/prefix-lists", params={"running": 1})) == []
    entries = ok(c.get("/cluster/sdn/route-maps/entries", params={"pending": 1}))
    assert entries == [{"state": "new", "digest": entries[0]["digest"], "pending": {
        "route-map-id": "rm1", "order": 10, "action": "permit", "set": [], "match": []}}]
    token = ok(c.post("/cluster/sdn/lock", data={"allow-pending": 1}))
    wait_task(c, ok(c.put("/cluster/sdn", data={"lock-token": token})))
    state = remote.control.state()
    assert state["running_config"]["prefix-lists"] == {"ids": {"pl1": {
        "type": "prefix-list", "id": "pl1", "entries": ["action=permit,prefix=10.0.0.0/8,seq=5"]}}}
    assert state["running_config"]["route-maps"] == {"ids": {"rm1_10": {
        "type": "route-map-entry", "id": "rm1_10", "action": "permit", "set": [], "match": []}}}
    assert not state["has_pending_changes"]
    assert ok(c.get("/cluster/sdn/prefix-lists", params={"pending": 1})) == [{"id": "pl1"}]
    assert ok(c.get("/cluster/sdn/route-maps", params={"running": 1})) == [{"id": "rm1"}]
    # Changes: the running values on top, the new ones under `pending`, a removed key "deleted".
    ok(c.put("/cluster/sdn/prefix-lists/pl1", data={"delete": "entries", "lock-token": token}))
    ok(c.put("/cluster/sdn/route-maps/entries/rm1/entry/10", data={"action": "deny", "lock-token": token}))
    ok(c.post("/cluster/sdn/route-maps/entries", data={"route-map-id": "rm1", "order": 20, "action": "permit", "lock-token": token}))
    changed = ok(c.get("/cluster/sdn/prefix-lists", params={"pending": 1, "verbose": 1}))[0]
    assert changed["state"] == "changed" and changed["pending"] == {"entries": "deleted"}
    assert changed["entries"] == ["action=permit,prefix=10.0.0.0/8,seq=5"]
    view = ok(c.get("/cluster/sdn/route-maps/entries/rm1", params={"pending": 1}))
    assert [(e.get("order"), e["state"], e["pending"]) for e in view] == [
        (10, "changed", {"action": "deny"}), (None, "new", {"route-map-id": "rm1", "order": 20, "action": "permit",
                                                            "set": [], "match": []})]
    assert [e["order"] for e in ok(c.get("/cluster/sdn/route-maps/entries/rm1", params={"running": 1}))] == [10]
    assert remote.control.state()["has_pending_changes"]
    # A stale digest (a SHA-256 of the file) is refused, also on create and delete.
    stale = c.post("/cluster/sdn/prefix-lists", data={"id": "pl2", "digest": digest, "lock-token": token})
    failed(stale, 500, "creating prefix list failed: detected modified configuration - file changed by other user?")
    ok(c.post("/cluster/sdn/rollback", data={"lock-token": token, "release-lock": 1}))
    state = remote.control.state()
    assert state["pending"]["prefix-lists"] == {"pl1": {"type": "prefix-list", "entries": ["action=permit,prefix=10.0.0.0/8,seq=5"]}}
    assert set(state["pending"]["route-maps"]) == {"rm1_10"} and not state["has_pending_changes"] and not state["lock"]["held"]


def test_route_map_entries(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1"}))
    ok(c.post("/cluster/sdn/route-maps/entries", data={
        "route-map-id": "rm1", "order": 10, "action": "permit", "call": "other",
        "match": ["key=ip-address-prefix-list,value=pl1", "key=vni,value=100"],
        "set": ["key=local-preference,value=+10", "key=ip6-next-hop,value=2001:DB8::1", "key=ip-next-hop-unchanged"],
        "exit-action": "key=on-match-goto,value=20"}))
    ok(c.post("/cluster/sdn/route-maps/entries", json={"route-map-id": "rm1", "order": 5, "action": "deny"}))
    entry = ok(c.get("/cluster/sdn/route-maps/entries/rm1/entry/10"))
    assert entry == {"route-map-id": "rm1", "order": 10, "action": "permit", "call": "other",
                     "match": ["key=ip-address-prefix-list,value=pl1", "key=vni,value=100"],
                     "set": ["key=local-preference,value=+10", "key=ip6-next-hop,value=2001:db8::1",
                             "key=ip-next-hop-unchanged"],
                     "exit-action": "key=on-match-goto,value=20"}
    assert ok(c.get("/cluster/sdn/route-maps")) == [{"id": "rm1"}]
    # Sorted by section ID as text: rm1_10 before rm1_5.
    assert [e["order"] for e in ok(c.get("/cluster/sdn/route-maps/entries"))] == [10, 5]
    assert ok(c.get("/cluster/sdn/route-maps/entries/nope")) == []
    ok(c.put("/cluster/sdn/route-maps/entries/rm1/entry/10", data={"set": "key=weight,value=7", "delete": ["call", "match"]}))
    entry = ok(c.get("/cluster/sdn/route-maps/entries/rm1/entry/10"))
    assert entry["set"] == ["key=weight,value=7"] and entry["match"] == [] and "call" not in entry
    ok(c.put("/cluster/sdn/route-maps/entries/rm1/entry/99"))  # nothing to change: no error, even for no entry
    failed(c.put("/cluster/sdn/route-maps/entries/rm1/entry/99", data={"action": "deny"}),
           500, "updating route map entry failed: Could not find route map with id: rm1_99\n")
    failed(c.post("/cluster/sdn/route-maps/entries", data={"route-map-id": "rm1", "order": 5, "action": "deny"}),
           500, "creating route map entry failed: route map entry already exists in configuration: rm1_5\n")
    missing = c.get("/cluster/sdn/route-maps/entries/rm1/entry/99")
    assert failed(missing, 400, "Parameter verification failed.")["errors"] == {"route-map-id": "rm1_99 doesn't exist"}
    failed(c.delete("/cluster/sdn/route-maps/entries/rm1/entry/99"),
           500, "deleting route map entry failed: could not find route map entry with id: rm1_99\n")
    ok(c.delete("/cluster/sdn/route-maps/entries/rm1/entry/5"))
    assert set(remote.control.state()["pending"]["route-maps"]) == {"rm1_10"}


@pytest.mark.parametrize(("call", "status", "message", "errors"), [
    ({"route-map-id": "pve_x", "order": 1, "action": "permit"}, 400, "Parameter verification failed.",
     {"route-map-id": "invalid format - route map ID 'pve_x' is currently reserved and cannot be used\n"}),
    ({"route-map-id": "rm1", "order": 65536, "action": "permit"}, 400, "Parameter verification failed.",
     {"order": "value must have a maximum value of 65535"}),
    ({"route-map-id": "rm1", "order": 1}, 400, "Parameter verification failed.",
     {"action": "property is missing and it is not optional"}),
    ({"route-map-id": "rm1", "order": 1, "action": "permit", "set": "key=color,value=1"}, 400,
     "Parameter verification failed.",
     {"set[0]": "invalid format - format error\nset[0].key: value 'color' does not have a value in the enumeration "
                "'ip-next-hop-peer-address, ip-next-hop, ip-next-hop-unchanged, ip6-next-hop-peer-address, "
                "ip6-next-hop-prefer-global, ip6-next-hop, local-preference, tag, weight, metric, src'\n"}),
    ({"route-map-id": "rm1", "order": 1, "action": "permit", "exit-action": "key=continue,value=x"}, 400,
     "Parameter verification failed.",
     {"exit-action": "invalid format - format error\nexit-action.value: type check ('integer') failed - got 'x'\n"}),
    # The values the Rust types take: the emulator's texts (serde's were not read).
    ({"route-map-id": "rm1", "order": 1, "action": "permit", "set": "key=ip-next-hop,value=2001:db8::1"}, 500,
     "creating route map entry failed: set action 'ip-next-hop': invalid value '2001:db8::1'\n", None),
    ({"route-map-id": "rm1", "order": 1, "action": "permit", "exit-action": "key=on-match-goto"}, 500,
     "creating route map entry failed: exit action 'on-match-goto' needs a value\n", None),
])
def test_route_map_validation(remote, call, status, message, errors):
    body = failed(client(remote).post("/cluster/sdn/route-maps/entries", data=call), status, message)
    assert body.get("errors") == errors
    assert remote.control.state()["pending"]["route-maps"] == {}


def test_references(remote):
    c = client(remote)
    evpn = {"type": "evpn", "asn": 65000, "peers": "10.0.0.1"}
    missing = c.post("/cluster/sdn/controllers", data={"controller": "c1", **evpn, "route-map-in": "rm1"})
    failed(missing, 500, "create sdn controller object failed: route map rm1 does not exist! at /usr/share/perl5/PVE/"
                         "Network/SDN/Controllers/EvpnPlugin.pm line")
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1"}))
    entry = {"route-map-id": "rm1", "order": 10, "action": "permit", "match": "key=ip6-next-hop-prefix-list,value=pl1"}
    ok(c.post("/cluster/sdn/route-maps/entries", data=entry))
    ok(c.post("/cluster/sdn/route-maps/entries", data={"route-map-id": "rm1", "order": 20, "action": "deny"}))
    ok(c.post("/cluster/sdn/controllers", data={"controller": "c1", **evpn, "route-map-out": "rm1"}))
    bgp = {"controller": "b1", "type": "bgp", "node": "pve1", "asn": 65000, "peers": "10.0.0.9"}
    failed(c.post("/cluster/sdn/controllers", data={**bgp, "route-map-in": "rm9"}),
           500, "create sdn controller object failed: route map rm9 does not exist!")
    failed(c.put("/cluster/sdn/controllers/c1", data={"route-map-in": "rm9"}),
           500, "update sdn controller object failed: route map rm9 does not exist!")
    failed(c.delete("/cluster/sdn/prefix-lists/pl1"), 500, "deleting prefix list failed: prefix list pl1 is still "
           "referenced by route map entry rm1 #10 at /usr/share/perl5/PVE/Network/SDN/PrefixLists.pm line")
    ok(c.delete("/cluster/sdn/route-maps/entries/rm1/entry/10"))  # not the last one: no check
    ok(c.delete("/cluster/sdn/prefix-lists/pl1"))
    failed(c.delete("/cluster/sdn/route-maps/entries/rm1/entry/20"), 500, "deleting route map entry failed: route map "
           "rm1 still referenced by controller c1 at /usr/share/perl5/PVE/Network/SDN/RouteMaps.pm line")
    ok(c.put("/cluster/sdn/controllers/c1", data={"delete": "route-map-out"}))
    ok(c.delete("/cluster/sdn/route-maps/entries/rm1/entry/20"))
    assert ok(c.get("/cluster/sdn/route-maps")) == []


def test_92_controller_and_zone_options(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/controllers", data={"controller": "c1", "type": "evpn", "asn": 65000, "peers": "10.0.0.1",
                                                "nodes": "pve2,pve1", "bgp-mode": "external", "ebgp-multihop": 3}))
    assert ok(c.get("/cluster/sdn/controllers/c1"))["nodes"] == "pve1,pve2"
    # Several EVPN controllers now, each with a peer group of its own (VTEP without one).
    same = c.post("/cluster/sdn/controllers", data={"controller": "c2", "type": "evpn", "asn": 65000, "peers": "10.0.0.2"})
    failed(same, 500, "create sdn controller object failed: cannot have two controllers with same peer-group-name "
                      "configured (VTEP)")
    ok(c.post("/cluster/sdn/controllers", data={"controller": "c2", "type": "evpn", "asn": 65000, "peers": "10.0.0.2",
                                                "peer-group-name": "DC2"}))
    other_asn = c.post("/cluster/sdn/controllers", data={"controller": "c3", "type": "evpn", "asn": 65009,
                                                         "peers": "10.0.0.3", "peer-group-name": "DC3"})
    failed(other_asn, 500, "create sdn controller object failed: all EVPN controllers on a node must have the same ASN "
                           "configured")
    unknown = c.post("/cluster/sdn/controllers", data={"controller": "i1", "type": "isis", "isis-domain": "d",
                                                       "isis-net": "49.0001.1921.6800.1002.00", "isis-ifaces": "eth0",
                                                       "node": "pve1", "bgp-mode": "auto"})
    failed(unknown, 500, "unexpected property 'bgp-mode'")
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "evpn", "controller": "c1", "vrf-vxlan": 100,
                                          "secondary-controllers": ["c2"]}))
    assert ok(c.get("/cluster/sdn/zones/z1"))["secondary-controllers"] == ["c2"]
    failed(c.delete("/cluster/sdn/controllers/c2"), 500, "delete sdn controller object failed: controller c2 is used by z1")
    simple = c.post("/cluster/sdn/zones", data={"zone": "z2", "type": "simple", "secondary-controllers": "c2"})
    failed(simple, 500, "unexpected property 'secondary-controllers'")
    ok(c.put("/cluster/sdn/zones/z1", data={"delete": "secondary-controllers"}))
    ok(c.delete("/cluster/sdn/controllers/c2"))


def test_91_remote_refuses_the_92_options(old):
    c = client(old)
    for params in ({"bgp-mode": "auto"}, {"nodes": "pve1"}, {"peer-group-name": "X"}, {"route-map-in": "rm1"},
                   {"route-map-out": "rm1"}):
        refused = c.post("/cluster/sdn/controllers", data={"controller": "c1", "type": "evpn", "asn": 65000,
                                                           "peers": "10.0.0.1", **params})
        assert failed(refused, 400, "Parameter verification failed.")["errors"] == {next(iter(params)): NOT_IN_SCHEMA}
    ok(c.post("/cluster/sdn/controllers", data={"controller": "c1", "type": "evpn", "asn": 65000, "peers": "10.0.0.1"}))
    # 9.1's rules: one EVPN controller, ebgp-multihop only on BGP controllers.
    failed(c.post("/cluster/sdn/controllers", data={"controller": "c2", "type": "evpn", "asn": 65000, "peers": "10.0.0.2"}),
           500, "create sdn controller object failed: only 1 global evpn controller can be defined")
    failed(c.put("/cluster/sdn/controllers/c1", data={"ebgp-multihop": 2}), 500,
           "update sdn controller object failed: unexpected property 'ebgp-multihop'")
    refused = c.put("/cluster/sdn/controllers/c1", data={"route-map-out": "rm1"})
    assert failed(refused, 400, "Parameter verification failed.")["errors"] == {"route-map-out": NOT_IN_SCHEMA}
    zone = c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "evpn", "controller": "c1", "vrf-vxlan": 100,
                                              "secondary-controllers": "c1"})
    assert failed(zone, 400, "Parameter verification failed.")["errors"] == {"secondary-controllers": NOT_IN_SCHEMA}


def test_permissions_of_the_new_endpoints(remote):
    control = remote.control
    control.add_user("pl@pve", "secret-password")
    made = control.add_token("pl@pve", "tk", privsep=False)
    control.add_acl("/sdn/prefix-lists/pl1", "PVEAuditor", users=["pl@pve"])
    c, auditor = client(remote), client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    for prefix_list_id in ("pl1", "pl2"):
        ok(c.post("/cluster/sdn/prefix-lists", data={"id": prefix_list_id}))
    ok(c.post("/cluster/sdn/route-maps/entries", data={"route-map-id": "rm1", "order": 1, "action": "permit"}))
    assert ok(auditor.get("/cluster/sdn/prefix-lists")) == [{"id": "pl1"}]
    assert ok(auditor.get("/cluster/sdn/prefix-lists/pl1"))["id"] == "pl1"
    assert ok(auditor.get("/cluster/sdn/route-maps")) == [] and ok(auditor.get("/cluster/sdn/route-maps/entries")) == []
    for response, what in ((auditor.get("/cluster/sdn/prefix-lists/pl2"), "/sdn/prefix-lists/pl2, SDN.Audit"),
                           (auditor.post("/cluster/sdn/prefix-lists", data={"id": "pl3"}), "/sdn/prefix-lists, SDN.Allocate"),
                           (auditor.put("/cluster/sdn/prefix-lists/pl1", data={"delete": "entries"}),
                            "/sdn/prefix-lists/pl1, SDN.Allocate"),
                           (auditor.get("/cluster/sdn/route-maps/entries/rm1/entry/1"),
                            "/sdn/route-maps/rm1, SDN.Audit|SDN.Allocate")):
        failed(response, 403, f"Permission check failed ({what})")


def test_the_files_survive_a_restart(tmp_path):
    with EmulatorProcess(remotes=1, workdir=tmp_path) as first:
        c = client(first.remotes["remote001"])
        ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1", "entries": "action=permit,prefix=10.0.0.0/8,ge=16"}))
        entry = {"route-map-id": "rm1", "order": 1, "action": "permit",
                 "set": ["key=tag,value=untagged", "key=metric,value=-rtt"]}
        ok(c.post("/cluster/sdn/route-maps/entries", data=entry))
        digests = first.remotes["remote001"].control.state()["digests"]
    text = (tmp_path / "state" / "remote001" / "sdn" / "prefix-lists.cfg").read_text()
    assert text == "prefix-list: pl1\n\tentries action=permit,prefix=10.0.0.0/8,ge=16,seq=5\n\n"
    assert "route-map-entry: rm1_1\n" in (tmp_path / "state" / "remote001" / "sdn" / "route-maps.cfg").read_text()
    with EmulatorProcess(remotes=1, workdir=tmp_path, base_address=first.base_address) as second:
        info = second.remotes["remote001"]
        assert info.control.state()["digests"] == digests
        assert ok(client(info).get("/cluster/sdn/route-maps/entries/rm1/entry/1"))["set"] == [
            "key=tag,value=untagged", "key=metric,value=-rtt"]
