"""sdn_fleet_info through ansible-playbook against emulated fleets built with the collection's own
sdn_transaction: a consistent fleet (no mismatch, a free VNI found and then used), a fleet with every
kind of mismatch, and a remote that refuses connections, reported first while the others are read."""
from __future__ import annotations

import json
import re
import socket

import pytest
import yaml
from conftest import secrets_of
from playbook import run_playbook

MERMAID_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
HOSTS = ("remote001", "remote002", "remote003")
CONTROLLER = {"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1", "10.0.0.2"]}
ZONE = {"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}
VNET = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}
SUBNET = {"vnet": "vnet1", "subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}
VLAN = [{"zone": "vl1", "type": "vlan", "bridge": "vmbr0"}]
VLAN_VNETS = [{"vnet": "vlnet1", "zone": "vl1", "tag": 100}]


# The playbook of the guide (docs/docsite/rst/fleet-view.rst), its tasks as written there.
GUIDE_PLAY = """
- name: Find a free VNI, then stretch a vnet over three clusters
  hosts: remotes
  gather_facts: false
  tasks:
    - name: Read the fleet and find the VNIs no cluster uses between 11000 and 11999
      pvefleet.sdn.sdn_fleet_info:
        free_tags:
          range: [11000, 11999]
          zone_type: evpn
        report: "{{ playbook_dir }}/fleet-before.md"
      run_once: true
      register: fleet

    - name: Stop when a cluster cannot be read, the clusters disagree or no VNI is free
      ansible.builtin.assert:
        that:
          - fleet.ok
          - fleet.mismatches | length == 0
          - fleet.free_tags | length > 0
        fail_msg: "{{ fleet.failed_remotes + (fleet.mismatches | map(attribute='message') | list) }}"
      run_once: true

    - name: The vnet on every cluster with the first free VNI, all or nothing
      pvefleet.sdn.sdn_transaction:
        vnets:
          - vnet: tenant42
            zone: evpn1
            tag: "{{ fleet.free_tags[0][0] }}"
        subnets:
          - vnet: tenant42
            subnet: 10.42.0.0/24
            gateway: 10.42.0.1
      run_once: true
"""


@pytest.fixture
def fleet_inventory(inventory, tmp_path):
    """The three PVE 9 remotes, and `remote-down` (group `down`): remote001's settings on a port
    nothing listens on, so every connection is refused."""
    data = yaml.safe_load(inventory.read_text())
    first = data["all"]["children"]["remotes"]["hosts"]["remote001"]
    with socket.socket() as probe:
        probe.bind((first["pvefleet_sdn_api_host"], 0))
        port = probe.getsockname()[1]
    data["all"]["children"]["down"] = {"hosts": {"remote-down": {**first, "pvefleet_sdn_api_port": port}}}
    path = tmp_path / "fleet-inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def build(plays_dir, inventory, **objects):
    """One sdn_transaction over the three remotes (apply, wait for every node)."""
    play = [{"name": "build", "hosts": "remotes", "gather_facts": False, "tasks": [
        {"name": "build", "pvefleet.sdn.sdn_transaction": objects, "run_once": True}]}]
    run = run_playbook(play, inventory, plays_dir)
    assert run.rc == 0, run.output
    return run


def fleet_info_play(report: str, hosts: str = "remotes:down", **options) -> list[dict]:
    return [{"name": "fleet", "hosts": hosts, "gather_facts": False, "tasks": [
        {"name": "fleet info", "pvefleet.sdn.sdn_fleet_info": {"report": report, **options}, "run_once": True,
         "register": "fleet"},
        {"name": "consistent", "ansible.builtin.debug": {"msg": "{{ fleet.mismatches | length == 0 }}"}, "run_once": True}]}]


def mermaid_ids(text: str) -> set[str]:
    block = re.search(r"```mermaid\n(.*?)\n```", text, re.S)
    assert block is not None, text
    lines = [line.strip() for line in block.group(1).splitlines()]
    assert lines[0] == "flowchart LR"
    ids: set[str] = set()
    for line in lines[1:]:
        if line == "end" or line.startswith(("%%", "classDef")):
            continue
        if line.startswith("class "):
            ids.update(line.split()[1].split(","))
        elif line.startswith("subgraph "):
            ids.add(line.split()[1].split("[")[0])
        elif " --- " in line or " --> " in line:
            ids.update(re.split(r" -(?:--|->) ", line))
        else:
            ids.add(re.match(r"([^\[(]+)", line).group(1))
    assert ids and all(MERMAID_ID.match(i) for i in ids), ids
    return ids


def test_a_consistent_fleet_then_a_free_vni_used_for_a_stretched_vnet(emulator, remotes, fleet_inventory, tmp_path):
    build(tmp_path / "build", fleet_inventory, controllers=[CONTROLLER], zones=[ZONE, *VLAN], vnets=[VNET, *VLAN_VNETS],
          subnets=[SUBNET])
    report = tmp_path / "reports" / "fleet.md"
    run = run_playbook(fleet_info_play(str(report), free_tags={"range": [10998, 11003], "zone_type": "evpn"}),
                       fleet_inventory, tmp_path / "info")
    assert run.rc == 0, run.output
    result = run.one("fleet info", "remote001")["result"]
    assert result["changed"] is False and result["ok"] is False
    assert result["failed_remotes"] == ["remote-down"]
    assert result["remotes"]["remote-down"]["error"].startswith("remote-down: GET /api2/json/version: cannot connect")
    assert result["mismatches"] == []
    assert run.one("consistent", "remote001")["result"]["msg"] is True
    assert result["free_tags"] == [[10998, 10999], [11001, 11003]]
    [zone] = result["merged"]["evpn_zones"]
    assert (zone["asn"], zone["vrf_vxlan"], zone["remotes"]) == (65000, 10000, list(HOSTS))
    assert all(c["nodes"] == ["pve1", "pve2"] for c in zone["carriers"])
    [vnet] = result["merged"]["vnets"]  # the vlan zone's vnet has no VNI
    assert (vnet["vni"], vnet["vnets"], vnet["remotes"]) == (11000, ["vnet1"], list(HOSTS))
    # what each node reports, PVE's shapes
    one = result["remotes"]["remote001"]
    assert one["ok"] and one["version"] == "9.2.11" and one["lock"]["state"] == "free" and one["pending_changes"] == []
    pve1 = one["nodes"]["pve1"]
    assert pve1["status"] == "online" and pve1["errors"] == []
    assert pve1["zones"]["evpn1"] == {"status": "available", "ip_vrf": [
        {"ip": "10.1.0.0/24", "protocol": "connected", "metric": 0, "nexthops": ["vnet1"]}]}
    assert pve1["zones"]["vl1"] == {"status": "available"}
    mac = pve1["vnets"]["vnet1"]["mac_vrf"]
    assert {(m["ip"], m["nexthop"]) for m in mac} == {("10.1.0.1", "10.0.0.1"), ("10.1.0.1", "10.0.0.2")}
    assert pve1["vnets"]["vlnet1"] == {"zone": "vl1", "status": "available"}
    # the printed table: failures first, then every remote's objects
    table = result["summary"]
    assert table[1].startswith("remote-down") and "FAILED" in table[1]
    assert any(line.startswith("remote003") and "vnet vnet1 (zone evpn1, tag 11000)" in line for line in table)
    assert table[1] in run.output
    # the report
    assert result["report_file"] == str(report)
    text = report.read_text()
    for host in (*HOSTS, "remote-down"):
        assert f"| {host} |" in text
    ids = mermaid_ids(text)
    assert {"VNI1", "VRF1"} <= ids
    assert "## Mismatches\n\nNone." in text
    recorded = json.dumps(result)
    for secret in secrets_of(emulator):
        assert secret not in run.output and secret not in text and secret not in recorded

    # The guide's playbook (docs/docsite/rst/fleet-view.rst): a free VNI found, then a vnet stretched
    # over the three clusters with it, in one play; the next read (in check mode) finds it everywhere
    stretch = run_playbook(GUIDE_PLAY, fleet_inventory, tmp_path / "stretch")
    assert stretch.rc == 0, stretch.output
    free = stretch.one("Read the fleet and find the VNIs no cluster uses between 11000 and 11999", "remote001")[
        "result"]["free_tags"][0][0]
    assert free == 11001
    again = run_playbook(fleet_info_play(str(report), hosts="remotes"), fleet_inventory, tmp_path / "again", check=True)
    assert again.rc == 0, again.output
    found = again.one("fleet info", "remote001")["result"]
    assert found["ok"] and found["mismatches"] == [] and found["changed"] is False
    assert {g["vni"]: (g["vnets"], g["remotes"]) for g in found["merged"]["vnets"]} == {
        11000: (["vnet1"], list(HOSTS)), free: (["tenant42"], list(HOSTS))}
    for host in HOSTS:
        assert found["remotes"][host]["nodes"]["pve2"]["vnets"]["tenant42"]["status"] == "available"


def test_every_kind_of_mismatch_is_found_and_marked(emulator, remotes, fleet_inventory, tmp_path):
    own = {
        # route targets that differ from remote002's in the same merged zone (ASN 65000, VRF VNI 10000)
        "remote001": {"controllers": [CONTROLLER], "zones": [{**ZONE, "rt_import": ["65000:10000"]}], "vnets": [VNET]},
        # vnet1 with another tag; VNI 11005 is vnetx here
        "remote002": {"controllers": [CONTROLLER], "zones": [ZONE],
                      "vnets": [{**VNET, "tag": 11001}, {"vnet": "vnetx", "zone": "evpn1", "tag": 11005}]},
        # another ASN for VRF VNI 10000; VNI 11005 is vnety here
        "remote003": {"controllers": [{**CONTROLLER, "asn": 65001}], "zones": [ZONE],
                      "vnets": [VNET, {"vnet": "vnety", "zone": "evpn1", "tag": 11005}]},
    }
    # A fleet built to clash: the transaction's own consistency check would refuse it.
    build(tmp_path / "build", fleet_inventory, remote_objects=own, consistency=False)
    report = tmp_path / "mismatch.md"
    run = run_playbook(fleet_info_play(str(report), hosts="remotes"), fleet_inventory, tmp_path / "info")
    assert run.rc == 0, run.output
    result = run.one("fleet info", "remote001")["result"]
    assert result["ok"] is True and result["failed_remotes"] == []
    assert run.one("consistent", "remote001")["result"]["msg"] is False
    by_kind = {m["kind"]: m for m in result["mismatches"]}
    assert sorted(by_kind) == ["evpn_asn", "evpn_route_target", "vnet_tag", "vni"]
    assert (by_kind["vni"]["vni"], by_kind["vni"]["vnets"], by_kind["vni"]["remotes"]) == (
        11005, ["vnetx", "vnety"], ["remote002", "remote003"])
    assert (by_kind["vnet_tag"]["vnet"], by_kind["vnet_tag"]["tags"]) == ("vnet1", [11000, 11001])
    assert by_kind["vnet_tag"]["message"] == "vnet vnet1 has tag 11000 on remote001, remote003; tag 11001 on remote002"
    assert (by_kind["evpn_asn"]["vrf_vxlan"], by_kind["evpn_asn"]["asns"]) == (10000, [65000, 65001])
    assert by_kind["evpn_route_target"]["route_targets"] == [[], ["65000:10000"]]
    assert by_kind["evpn_route_target"]["remotes"] == ["remote001", "remote002"]
    zones = {(g["asn"], g["vrf_vxlan"]): g for g in result["merged"]["evpn_zones"]}
    assert sorted(zones[(65000, 10000)]["mismatches"]) == ["evpn_asn", "evpn_route_target"]
    assert zones[(65001, 10000)]["mismatches"] == ["evpn_asn"]
    vnis = {g["vni"]: g for g in result["merged"]["vnets"]}
    assert vnis[11005]["mismatches"] == ["vni"] and vnis[11001]["mismatches"] == ["vnet_tag"]
    for mismatch in result["mismatches"]:
        assert f"MISMATCH {mismatch['kind']}: {mismatch['message']}" in run.output
    text = report.read_text()
    assert all(f"| {host} |" in text for host in HOSTS)
    mermaid_ids(text)
    assert "class " in text and " mismatch" in text
    for kind in by_kind:
        assert f"**{kind}**" in text
