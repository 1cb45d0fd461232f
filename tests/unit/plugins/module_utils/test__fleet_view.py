"""sdn_fleet_info's logic without a network: reading a remote and its nodes (a fake client), the fleet
read with a bound, the merge across remotes, each kind of mismatch, the free tags (properties), the
table, the Markdown report's Mermaid block and the secrets kept out."""
from __future__ import annotations

import asyncio
import copy
import re
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pvefleet.sdn.plugins.module_utils import _fleet_view as fv
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput, TransportError
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote

MERMAID_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


# What remotes have, as read_remote would give it


def controller(name="evpnctl", asn=65000, **extra) -> dict:
    return {"controller": name, "type": "evpn", "asn": asn, "peers": "10.0.0.1", **extra}


def evpn_zone(name="evpn1", vrf=10000, controller_name="evpnctl", rt=None, **extra) -> dict:
    zone = {"zone": name, "type": "evpn", "controller": controller_name, "vrf-vxlan": vrf, **extra}
    if rt:
        zone["rt-import"] = rt
    return zone


def vnet(name="vnet1", zone="evpn1", tag=11000, **extra) -> dict:
    item = {"vnet": name, "zone": zone, "type": "vnet", **extra}
    if tag is not None:
        item["tag"] = tag
    return item


def entry(zones=(), vnets=(), controllers=(), nodes=None, remote="192.0.2.1:8006") -> dict:
    """An `ok` remote; its nodes report every zone and vnet unless given."""
    if nodes is None:
        nodes = {"pve1": {"status": "online", "errors": [],
                          "zones": {fv.effective(z)["zone"]: {"status": "available"} for z in zones},
                          "vnets": {fv.effective(v)["vnet"]: {"zone": fv.effective(v)["zone"], "status": "available"}
                                    for v in vnets}}}
    return {"ok": True, "remote": remote, "version": "9.2.11", "lock": {"held": False, "state": "free"},
            "pending_changes": [], "zones": list(zones), "vnets": list(vnets), "subnets": [],
            "controllers": list(controllers), "fabrics": [], "fabric_nodes": [], "prefix_lists": [], "route_maps": [],
            "fabric_status": [], "nodes": nodes}


def stretched(asn=65000, vrf=10000, rt=None, name="vnet1", tag=11000, zone="evpn1") -> dict:
    return entry([evpn_zone(zone, vrf, rt=rt)], [vnet(name, zone, tag)], [controller(asn=asn)])


def consistent_fleet() -> dict[str, dict]:
    return {f"r{i}": stretched() for i in (1, 2, 3)}


# Merge


def test_a_consistent_fleet_merges_into_one_zone_and_one_vnet_without_mismatches():
    view = fv.build_view(consistent_fleet())
    assert view["mismatches"] == []
    [zone] = view["merged"]["evpn_zones"]
    assert (zone["asn"], zone["vrf_vxlan"], zone["zones"], zone["remotes"]) == (65000, 10000, ["evpn1"], ["r1", "r2", "r3"])
    assert zone["mismatches"] == [] and all(c["nodes"] == ["pve1"] for c in zone["carriers"])
    [merged] = view["merged"]["vnets"]
    assert (merged["vni"], merged["vnets"], merged["zones"], merged["remotes"]) == (11000, ["vnet1"], ["evpn1"], ["r1", "r2", "r3"])
    assert [c["remote"] for c in merged["carriers"]] == ["r1", "r2", "r3"]


def test_vnets_of_vlan_and_simple_zones_are_not_merged_by_vni():
    remotes = {"r1": entry([{"zone": "vl", "type": "vlan", "bridge": "vmbr0"}, {"zone": "s", "type": "simple"}],
                           [vnet("a", "vl", 100), vnet("b", "s", None)])}
    assert fv.build_view(remotes)["merged"]["vnets"] == []


def test_carrying_nodes_come_from_node_status_or_from_the_zones_nodes():
    zone = evpn_zone(nodes="pve1,pve3")
    nodes = {"pve1": {"status": "online", "zones": {"evpn1": {"status": "available"}},
                      "vnets": {"vnet1": {"zone": "evpn1", "status": "available"}}, "errors": []},
             "pve2": {"status": "online", "zones": {}, "vnets": {}, "errors": []},
             "pve3": {"status": "offline", "zones": {}, "vnets": {}, "errors": ["node pve3 is offline"]}}
    remotes = {"r1": entry([zone], [vnet()], [controller()], nodes=nodes)}
    assert fv.build_view(remotes)["merged"]["vnets"][0]["carriers"][0]["nodes"] == ["pve1"]
    without = {"r1": entry([zone], [vnet()], [controller()], nodes={n: {"status": "online"} for n in nodes})}
    assert fv.build_view(without, node_status=False)["merged"]["vnets"][0]["carriers"][0]["nodes"] == ["pve1", "pve3"]


def test_a_new_object_is_merged_with_its_pending_values_and_its_state():
    new = {"vnet": "vnet2", "type": "vnet", "state": "new", "pending": {"zone": "evpn1", "tag": 11001}}
    remotes = {"r1": entry([evpn_zone()], [vnet(), new], [controller()])}
    del remotes["r1"]["nodes"]["pve1"]["vnets"]["vnet2"]  # not applied: no node has it
    merged = {g["vni"]: g for g in fv.build_view(remotes)["merged"]["vnets"]}
    assert merged[11001]["carriers"][0]["state"] == "new" and merged[11001]["carriers"][0]["nodes"] == []
    assert "state" not in merged[11000]["carriers"][0]


def test_failed_remotes_are_listed_and_left_out_of_the_merge():
    remotes = consistent_fleet()
    remotes["r0"] = {"ok": False, "remote": "192.0.2.9:8006", "error": "r0: GET /version: connection refused"}
    view = fv.build_view(remotes)
    assert view["failed_remotes"] == ["r0"]
    assert view["merged"]["vnets"][0]["remotes"] == ["r1", "r2", "r3"]


# Mismatches, one kind at a time


def kinds(view: dict) -> list[str]:
    return sorted(m["kind"] for m in view["mismatches"])


def test_one_vni_with_two_vnet_names():
    remotes = consistent_fleet()
    remotes["r3"] = stretched(name="other")
    view = fv.build_view(remotes)
    assert "vni" in kinds(view)
    [found] = [m for m in view["mismatches"] if m["kind"] == "vni"]
    assert found["vni"] == 11000 and found["vnets"] == ["other", "vnet1"] and found["remotes"] == ["r1", "r2", "r3"]
    assert found["message"] == "VNI 11000 is vnet vnet1 (zone evpn1) on r1, r2; vnet other (zone evpn1) on r3"
    assert "vni" in view["merged"]["vnets"][0]["mismatches"]


def test_one_vni_in_two_zones():
    remotes = consistent_fleet()
    remotes["r2"] = stretched(zone="evpn2")
    view = fv.build_view(remotes)
    assert kinds(view) == ["vni"]
    assert view["mismatches"][0]["zones"] == ["evpn1", "evpn2"]


def test_one_vnet_name_with_two_tags():
    remotes = consistent_fleet()
    remotes["r2"] = stretched(tag=11001)
    view = fv.build_view(remotes)
    assert kinds(view) == ["vnet_tag"]
    [found] = view["mismatches"]
    assert found["tags"] == [11000, 11001] and found["remotes"] == ["r1", "r2", "r3"]
    assert found["message"] == "vnet vnet1 has tag 11000 on r1, r3; tag 11001 on r2"
    assert all(g["mismatches"] == ["vnet_tag"] for g in view["merged"]["vnets"])


def test_a_vnet_name_without_a_tag_on_one_remote():
    remotes = consistent_fleet()
    remotes["r3"] = entry([{"zone": "s", "type": "simple"}], [vnet(zone="s", tag=None)])
    view = fv.build_view(remotes)
    assert kinds(view) == ["vnet_tag"] and view["mismatches"][0]["tags"] == [11000, None]
    assert "no tag on r3" in view["mismatches"][0]["message"]


def test_one_vrf_vni_with_two_asns():
    remotes = consistent_fleet()
    remotes["r3"] = stretched(asn=65001)
    view = fv.build_view(remotes)
    assert kinds(view) == ["evpn_asn"]
    [found] = view["mismatches"]
    assert found["vrf_vxlan"] == 10000 and found["asns"] == [65000, 65001]
    assert found["message"] == "VRF VNI 10000 has ASN 65000 on r1, r2; ASN 65001 on r3"
    assert [(g["asn"], g["mismatches"]) for g in view["merged"]["evpn_zones"]] == [(65000, ["evpn_asn"]), (65001, ["evpn_asn"])]


def test_route_targets_that_disagree_in_a_merged_zone():
    remotes = consistent_fleet()
    remotes["r1"] = stretched(rt="65000:2,65000:1")
    remotes["r2"] = stretched(rt="65000:1,65000:2")  # the same set, another order: agrees with r1
    view = fv.build_view(remotes)
    assert kinds(view) == ["evpn_route_target"]
    [found] = view["mismatches"]
    assert found["route_targets"] == [[], ["65000:1", "65000:2"]]
    assert found["message"] == ("EVPN zone (ASN 65000, VRF VNI 10000) imports route targets 65000:1, 65000:2 on r1, r2; "
                                "no route target on r3")


def test_every_kind_at_once():
    remotes = consistent_fleet()
    remotes["r1"] = stretched(rt="65000:1")
    remotes["r2"] = stretched(name="other", tag=11000)
    remotes["r3"] = stretched(asn=65001, tag=11005)
    remotes["r4"] = stretched()
    assert kinds(fv.build_view(remotes)) == ["evpn_asn", "evpn_route_target", "vnet_tag", "vni"]


# Free tags


def test_check_free_tags_bounds_by_zone_type():
    assert fv.check_free_tags({"range": [1, 4094], "zone_type": "vlan"}) == (1, 4094, "vlan")
    assert fv.check_free_tags({"range": [1, 16777215], "zone_type": None}) == (1, 16777215, None)
    assert fv.check_free_tags(None) is None
    for spec, field in (({"range": [0, 10], "zone_type": "vlan"}, "free_tags.range"),
                        ({"range": [4000, 4095], "zone_type": "qinq"}, "free_tags.range"),
                        ({"range": [5, 4], "zone_type": "evpn"}, "free_tags.range"),
                        ({"range": [1, 16777216], "zone_type": "vxlan"}, "free_tags.range"),
                        ({"range": [1], "zone_type": "evpn"}, "free_tags.range"),
                        ({"range": [1, 2], "zone_type": "faucet"}, "free_tags.zone_type")):
        with pytest.raises(InvalidInput) as caught:
            fv.check_free_tags(spec)
        assert list(caught.value.errors) == [field], spec


def test_used_tags_by_zone_type():
    qinq = {"zone": "q", "type": "qinq", "bridge": "vmbr0", "tag": 200}
    remotes = {
        "r1": entry([evpn_zone(), qinq, {"zone": "vl", "type": "vlan"}, {"zone": "vx", "type": "vxlan"}],
                    [vnet(), vnet("qv", "q", 30), vnet("vv", "vl", 40), vnet("xv", "vx", 12000),
                     # a pending change: both tags count
                     {**vnet("pv", "vx", 12001), "state": "changed", "pending": {"tag": 12002}},
                     vnet("lost", "gone", 50)],
                    [controller()]),
        "r2": {"ok": False, "remote": "", "error": "down"},
    }
    assert fv.used_tags(remotes, "vlan") == {200, 30, 40, 50}
    assert fv.used_tags(remotes, "qinq") == {200, 30, 40, 50}
    assert fv.used_tags(remotes, "evpn") == {10000, 11000, 12000, 12001, 12002, 50}
    assert fv.used_tags(remotes, None) == {200, 30, 40, 10000, 11000, 12000, 12001, 12002, 50}


def test_free_tags_in_the_view():
    remotes = consistent_fleet()
    remotes["r2"] = entry([evpn_zone()], [vnet(), vnet("vnet3", tag=11002)], [controller()])
    view = fv.build_view(remotes, free_tags={"range": [10999, 11004], "zone_type": "evpn"})
    assert view["free_tags"] == [[10999, 10999], [11001, 11001], [11003, 11004]]
    assert "free_tags" not in fv.build_view(remotes)


def test_free_ranges_examples():
    assert fv.free_ranges([], 1, 10) == [[1, 10]]
    assert fv.free_ranges([1, 10], 1, 10) == [[2, 9]]
    assert fv.free_ranges(range(1, 11), 1, 10) == []
    assert fv.free_ranges([0, 5, 5, 11], 1, 10) == [[1, 4], [6, 10]]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data(), start=st.integers(1, 5000), length=st.integers(0, 300))
def test_free_ranges_never_touch_a_used_tag_and_cover_the_rest(data, start, length):
    end = start + length
    used = data.draw(st.sets(st.integers(start - 20, end + 20), max_size=60))
    ranges = fv.free_ranges(used, start, end)
    covered = [tag for first, last in ranges for tag in range(first, last + 1)]
    # sorted, disjoint, not adjacent (each range is as long as it can be), inside the range
    assert all(first <= last for first, last in ranges)
    assert all(a[1] + 1 < b[0] for a, b in zip(ranges, ranges[1:]))
    assert all(start <= first and last <= end for first, last in ranges)
    # no used tag is free, and every tag of the range that is not used is
    assert set(covered) == set(range(start, end + 1)) - used
    assert len(covered) == len(set(covered))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(tags=st.lists(st.integers(1, 60), max_size=12), start=st.integers(1, 30), length=st.integers(0, 40))
def test_free_tags_of_a_fleet_avoid_every_vni_any_remote_uses(tags, start, length):
    remotes = {f"r{index}": entry([evpn_zone(vrf=5000)], [vnet(f"v{index}", tag=tag)], [controller()])
               for index, tag in enumerate(tags)}
    view = fv.build_view(remotes, free_tags={"range": [start, start + length], "zone_type": "evpn"})
    free = {tag for first, last in view["free_tags"] for tag in range(first, last + 1)}
    assert free == set(range(start, start + length + 1)) - set(tags)


# Reading one remote and the fleet


class FakeClient:
    """GET answers by path (an exception raises); counts the remotes open at once."""

    open_now = 0
    most_open = 0

    def __init__(self, answers: dict[str, Any], delay: float = 0.0):
        self.answers, self.delay = answers, delay
        self.paths: list[str] = []

    async def __aenter__(self):
        FakeClient.open_now += 1
        FakeClient.most_open = max(FakeClient.most_open, FakeClient.open_now)
        return self

    async def __aexit__(self, *exc):
        FakeClient.open_now -= 1

    async def get(self, path: str, params: Optional[dict] = None) -> Any:
        self.paths.append(path)
        await asyncio.sleep(self.delay)
        answer = self.answers.get(path, ApiError(501, f"Method 'GET {path}' not implemented", method="GET", path=path))
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)


INFO = {"changed": False, "view": "pending", "zones": [evpn_zone(), {"zone": "vx", "type": "vxlan"}],
        "vnets": [vnet(), vnet("xv", "vx", 12000)], "subnets": [], "controllers": [controller()], "fabrics": [],
        "fabric_nodes": [], "prefix_lists": [], "route_maps": [], "fabric_status": [],
        "lock": {"held": False, "state": "free"}, "pending_changes": []}


def node_answers() -> dict[str, Any]:
    route = {"ip": "10.1.0.0/24", "protocol": "connected", "metric": 0, "nexthops": ["vnet1"]}
    mac = {"mac": "BC:24:11:00:00:01", "ip": "10.1.0.1", "nexthop": "10.0.0.1"}
    return {
        "/version": {"version": "9.2.11", "release": "9.2"},
        "/nodes": [{"node": "pve2", "status": "online"}, {"node": "pve1", "status": "online"},
                   {"node": "pve3", "status": "offline"}],
        "/nodes/pve1/sdn/zones": [{"zone": "evpn1", "status": "available"}, {"zone": "vx", "status": "available"}],
        "/nodes/pve1/sdn/zones/evpn1/content": [{"vnet": "vnet1", "status": "available"}],
        "/nodes/pve1/sdn/zones/evpn1/ip-vrf": [route],
        "/nodes/pve1/sdn/zones/vx/content": [{"vnet": "xv", "status": "error", "statusmsg": "vnet interface check failed"}],
        "/nodes/pve1/sdn/vnets/vnet1/mac-vrf": [mac],
        "/nodes/pve2/sdn/zones": [{"zone": "evpn1", "status": "pending"}],
        "/nodes/pve2/sdn/zones/evpn1/content": [{"vnet": "vnet1", "status": "pending",
                                                 "statusmsg": "local sdn network configuration is too old, please reload"}],
        "/nodes/pve2/sdn/zones/evpn1/ip-vrf": ApiError(400, "Parameter verification failed.", {"zone": "zone does not exist"},
                                                       method="GET", path="/nodes/pve2/sdn/zones/evpn1/ip-vrf", remote="r1"),
        "/nodes/pve2/sdn/vnets/vnet1/mac-vrf": [],
    }


@pytest.fixture
def fake_info(monkeypatch):
    seen = []

    async def fake(client, params, check_mode=False):
        seen.append((params, check_mode))
        await client.get("/cluster/sdn/zones")  # as the real one reads through the same client
        if isinstance(client.answers.get("info"), Exception):
            raise client.answers["info"]
        return copy.deepcopy(INFO)

    monkeypatch.setattr(fv, "run_info_task", fake)
    return seen


def test_read_remote_reads_every_nodes_status_and_keeps_a_failed_read_as_the_nodes_error(fake_info):
    answers = node_answers()
    answers["/cluster/sdn/zones"] = []
    client = FakeClient(answers)
    read = asyncio.run(fv.read_remote(client, fabric_status=False, check_mode=True))
    assert fake_info == [({"view": "pending", "fabric_status": False, "ipam_status": False, "firewall": False}, True)]
    assert read["version"] == "9.2.11" and "changed" not in read and "view" not in read
    assert list(read["nodes"]) == ["pve1", "pve2", "pve3"]
    pve1 = read["nodes"]["pve1"]
    assert pve1["zones"] == {"evpn1": {"status": "available", "ip_vrf": answers["/nodes/pve1/sdn/zones/evpn1/ip-vrf"]},
                             "vx": {"status": "available"}}
    assert pve1["vnets"]["vnet1"] == {"zone": "evpn1", "status": "available", "mac_vrf": answers["/nodes/pve1/sdn/vnets/vnet1/mac-vrf"]}
    assert pve1["vnets"]["xv"] == {"zone": "vx", "status": "error", "statusmsg": "vnet interface check failed"}
    assert pve1["errors"] == []
    pve2 = read["nodes"]["pve2"]
    assert pve2["zones"]["evpn1"] == {"status": "pending", "ip_vrf": None}
    assert pve2["errors"] == ["r1: GET /nodes/pve2/sdn/zones/evpn1/ip-vrf failed (400): Parameter verification failed. "
                              "(zone: zone does not exist)"]
    assert read["nodes"]["pve3"]["errors"] == ["node pve3 is offline: its status was not read"]
    # no MAC-VRF of a vxlan vnet, no IP-VRF of a vxlan zone, nothing from the offline node
    assert not any(p.endswith("/vx/ip-vrf") or "xv/mac-vrf" in p or "pve3/" in p for p in client.paths)


def test_read_remote_without_node_status_lists_the_nodes_only(fake_info):
    client = FakeClient({**node_answers(), "/cluster/sdn/zones": []})
    read = asyncio.run(fv.read_remote(client, node_status=False))
    assert read["nodes"] == {"pve1": {"status": "online"}, "pve2": {"status": "online"}, "pve3": {"status": "offline"}}
    assert not any(p.startswith("/nodes/") for p in client.paths)


def settings_of(host: str) -> ConnectionSettings:
    return ConnectionSettings(api_host=f"{host}.example", api_user="root@pam", api_token_id="fleet",
                              api_token_secret="s3cret-token-value", remote=host)


def test_read_fleet_reports_each_failure_and_reads_the_others_with_a_bound(fake_info):
    FakeClient.open_now = FakeClient.most_open = 0
    good = {**node_answers(), "/cluster/sdn/zones": []}
    clients = {f"r{i}": FakeClient(good, delay=0.01) for i in range(1, 9)}
    clients["r3"] = FakeClient({"/version": TransportError("connection refused", sent=False, method="GET",
                                                           path="/version", remote="r3")})
    clients["r5"] = FakeClient({**good, "info": ApiError(401, "authentication failure", method="GET",
                                                         path="/cluster/sdn/zones", remote="r5")})
    remotes = [Remote(host, settings_of(host)) for host in clients]
    read = asyncio.run(fv.read_fleet(remotes, concurrency=3, client_factory=lambda s, _identity: clients[s.remote]))
    assert FakeClient.most_open <= 3
    assert {host for host, e in read.items() if not e["ok"]} == {"r3", "r5"}
    assert read["r3"]["error"] == "r3: GET /version: connection refused"
    assert read["r5"]["error"].startswith("r5: GET /cluster/sdn/zones failed (401)")
    assert read["r1"]["remote"] == "r1.example:8006" and read["r1"]["nodes"]["pve1"]["zones"]
    view = fv.build_view(read)
    assert fv.fleet_table(view)[1:3] == [row for row in fv.fleet_table(view) if "FAILED" in row]


# Table, report, secrets


def table_view() -> dict:
    remotes = consistent_fleet()
    remotes["r3"] = stretched(tag=11001)
    remotes["down"] = {"ok": False, "remote": "192.0.2.9:8006", "error": "down: GET /version: connection refused"}
    return fv.build_view(remotes, free_tags={"range": [11000, 11010], "zone_type": "evpn"})


def test_the_table_lists_failures_first_then_every_object_then_the_mismatches():
    lines = fv.fleet_table(table_view())
    assert lines[0].split() == ["REMOTE", "OBJECT", "STATUS"]
    assert lines[1].startswith("down") and "FAILED: down: GET /version: connection refused" in lines[1]
    assert any(line.startswith("r1") and "zone evpn1 (evpn, VRF VNI 10000)" in line and "available on pve1" in line
               for line in lines)
    assert any("vnet vnet1 (zone evpn1, tag 11001)" in line for line in lines)
    assert lines[-1] == "MISMATCH vnet_tag: vnet vnet1 has tag 11000 on r1, r2; tag 11001 on r3"


def test_a_long_table_is_cut_but_keeps_every_failure():
    remotes = {f"r{i:03}": stretched() for i in range(100)}
    remotes.update({f"x{i}": {"ok": False, "remote": "", "error": "refused"} for i in range(5)})
    lines = fv.fleet_table(fv.build_view(remotes), limit=10)
    assert sum("FAILED" in line for line in lines) == 5
    assert len(lines) == 1 + 10 + 1 and lines[-1] == f"... and {5 + 100 * 4 - 10} more row(s)"


def test_the_markdown_report_names_every_remote_and_has_a_valid_mermaid_block():
    view = table_view()
    view["remotes"]["r1"]["zones"][0]["zone"] = 'evpn1"<x>'  # quotes and brackets in a label
    text = fv.markdown_report(view)
    for host in view["remotes"]:
        assert f"| {host} |" in text
    block = re.search(r"```mermaid\n(.*?)\n```", text, re.S)
    assert block is not None
    lines = block.group(1).splitlines()
    assert lines[0] == "flowchart LR"
    ids = set()
    for line in lines[1:]:
        line = line.strip()
        if line == "end" or line.startswith("%%") or line.startswith("classDef"):
            continue
        if line.startswith("class "):
            ids.update(line.split()[1].split(","))
            continue
        if line.startswith("subgraph "):
            ids.add(line.split()[1].split("[")[0])
        elif " --- " in line or " --> " in line:
            ids.update(re.split(r" -(?:--|->) ", line))
        else:
            ids.add(re.match(r"([^\[(]+)", line).group(1))
        for label in re.findall(r'"([^"]*)"', line):
            assert "<" not in label and ">" not in label
    assert ids and all(MERMAID_ID.match(i) for i in ids), ids
    assert any(i.startswith("VNI") for i in ids) and any(i.startswith("VRF") for i in ids)
    assert "  class VNI1 mismatch" in lines
    assert "## Mismatches" in text and "**vnet_tag**" in text and "11002-11010" in text


def test_scrub_replaces_every_secret_wherever_it_is():
    data = {"a": ["x s3cret-token-value y", {"k": "pw-123456"}], "s3cret-token-value": 1, "n": 5}
    assert fv.scrub(data, ["s3cret-token-value", "pw-123456", None, ""]) == {
        "a": ["x ******** y", {"k": "********"}], "********": 1, "n": 5}
