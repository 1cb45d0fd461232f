"""GET /cluster/sdn/dry-run over real HTTPS (httpx as an independent client): the node's SDN
interfaces and FRR files as the pending config would make them, diffed against what the node has.

What is expected comes from pve-network 1.3.0 (API2/Network/SDN.pm `dry-run` and `get_diff`,
Network/SDN.pm, Zones/*Plugin.pm generate_sdn_config, Controllers/*Plugin.pm, Frr.pm) and
proxmox-frr-templates; the node-local stand-ins (node pve<n>: 10.0.0.<n> on vmbr0, ports eno<K+1>)
are the emulator's (emulator/README.md). remote002 runs as PVE 8.
"""
from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from emulator_api_client import apply, client, ok

from pvefleet_emulator.dry_run import unified_diff
from pvefleet_emulator.testing import EmulatorProcess

EPOCH = "1970-01-01 00:00:00.000000000 +0000"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=2, nodes=2, task_seconds=0.3, pve8=("remote002",),
                         workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator):
    info = emulator.remotes["remote001"]
    info.control.clear_faults()
    info.control.reset()
    return info


def dry_run(c: httpx.Client, node: str = "pve1") -> dict:
    answer = ok(c.get("/cluster/sdn/dry-run", params={"node": node}))
    assert isinstance(answer, dict) and set(answer) == {"frr-diff", "interfaces-diff"}
    return answer


def lines(diff) -> list[str]:
    assert diff is not None
    return diff.splitlines()


def test_answer_shape_headers_and_an_empty_diff(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "s1", "type": "simple"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "s1"}))
    answer = dry_run(c)
    interfaces, frr = answer["interfaces-diff"], answer["frr-diff"]
    # diff -b -N -u <node's file> /proc/<pid>/fd/<n>: a node file never written counts as empty (-N)
    assert re.match(rf"--- /etc/network/interfaces\.d/sdn\t{re.escape(EPOCH)}\n\+\+\+ /proc/\d+/fd/\d+\t{STAMP}\n@@ -0,0 \+1,7 @@\n",
                    interfaces), interfaces
    assert lines(interfaces)[3:] == ["+#version:1", "+", "+auto vnet1", "+iface vnet1", "+\tbridge_ports none",
                                     "+\tbridge_stp off", "+\tbridge_fd 0"]
    # without controllers or fabrics the apply does not regenerate FRR: its skeleton stays a change
    assert re.match(rf"--- /etc/frr/frr\.conf\t{re.escape(EPOCH)}\n\+\+\+ /proc/\d+/fd/\d+\t{STAMP}\n@@ -0,0 \+1,8 @@\n", frr)
    assert lines(frr)[3:] == ["+frr version 10.4.1", "+frr defaults datacenter", "+hostname pve1",
                              "+log syslog informational", "+service integrated-vtysh-config", "+!", "+line vty", "+!"]
    apply(c)
    after = dry_run(c)
    assert after["interfaces-diff"] is None  # the same text: null, not ""
    assert lines(after["frr-diff"])[2] == "@@ -0,0 +1,8 @@"
    ok(c.put("/cluster/sdn/zones/s1", data={"mtu": 1400}))
    changed = dry_run(c)["interfaces-diff"]
    header = lines(changed)[:3]
    assert re.fullmatch(rf"--- /etc/network/interfaces\.d/sdn\t{STAMP}", header[0]) and EPOCH not in header[0]
    assert header[2] == "@@ -5,3 +5,4 @@"
    assert lines(changed)[3:] == [" \tbridge_ports none", " \tbridge_stp off", " \tbridge_fd 0", "+\tmtu 1400"]


def test_simple_zone_subnets_snat_and_nodes(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "s1", "type": "simple"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "s1"}))
    ok(c.post("/cluster/sdn/vnets/vnet1/subnets",
              data={"subnet": "192.168.5.0/24", "type": "subnet", "gateway": "192.168.5.1", "snat": 1}))
    diff = lines(dry_run(c)["interfaces-diff"])
    assert "+auto vnet1" in diff and "+\tbridge_ports none" in diff
    # SimplePlugin.pm reads the vnet's subnets from the running config: a pending one is not there yet
    assert not any(line.startswith("+\taddress") for line in diff)
    apply(c)
    ok(c.put("/cluster/sdn/zones/s1", data={"nodes": "pve2"}))
    gone = lines(dry_run(c)["interfaces-diff"])
    assert gone[3:] == [" #version:1", "-", "-auto vnet1", "-iface vnet1", "-\taddress 192.168.5.1/24",
                        "-\tpost-up iptables -t nat -A POSTROUTING -s '192.168.5.0/24' -o vmbr0 -j SNAT --to-source 10.0.0.1",
                        "-\tpost-down iptables -t nat -D POSTROUTING -s '192.168.5.0/24' -o vmbr0 -j SNAT --to-source 10.0.0.1",
                        "-\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1",
                        "-\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1",
                        "-\tbridge_ports none", "-\tbridge_stp off", "-\tbridge_fd 0", "-\tip-forward on"]
    assert dry_run(c, "pve2")["interfaces-diff"] is None  # pve2 has it, and keeps it


def test_vlan_zone_on_a_plain_and_a_vlan_aware_bridge(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "v0", "type": "vlan", "bridge": "vmbr0", "mtu": 1500}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "v0", "tag": 10}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "v1", "type": "vlan", "bridge": "vmbr1"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet2", "zone": "v1", "tag": 20, "vlanaware": 1}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "v2", "type": "vlan", "bridge": "nosuch"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet3", "zone": "v2", "tag": 30}))
    diff = dry_run(c)["interfaces-diff"]
    # vmbr0 is no VLAN-aware bridge: a veth pair into the bridge vmbr0v10 on eno1.10
    assert "+auto ln_vnet1\n+iface ln_vnet1\n+\tlink-type veth\n+\tveth-peer-name pr_vnet1\n+\tmtu 1500\n" in diff
    assert "+auto vmbr0v10\n+iface vmbr0v10\n+\tbridge_ports  eno1.10 pr_vnet1\n+\tbridge_stp off\n" in diff
    assert "+auto vnet1\n+iface vnet1\n+\tbridge_ports ln_vnet1\n+\tbridge_stp off\n+\tbridge_fd 0\n+\tmtu 1500\n" in diff
    # vmbr1 is VLAN-aware: the vnet bridges its VLAN interface
    assert "+auto vnet2\n+iface vnet2\n+\tbridge_ports vmbr1.20\n+\tbridge_stp off\n+\tbridge_fd 0\n" \
           "+\tbridge-vlan-aware yes\n+\tbridge-vids 2-4094\n" in diff
    assert "vnet3" not in diff  # "can't find bridge nosuch": PVE warns and leaves the vnet out


def test_qinq_zone(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "q1", "type": "qinq", "bridge": "vmbr0", "tag": 20}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "q1", "tag": 100}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "q2", "type": "qinq", "bridge": "vmbr1", "tag": 30,
                                          "vlan-protocol": "802.1ad"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet2", "zone": "q2"}))
    diff = dry_run(c)["interfaces-diff"]
    assert "+auto sv_q1\n+iface sv_q1\n+\tvlan-raw-device eno1\n+\tvlan-id 20\n" in diff
    assert "+auto z_q1\n+iface z_q1\n+\tbridge-stp off\n+\tbridge-ports sv_q1 ln_q1\n+\tbridge-fd 0\n" \
           "+\tbridge-vlan-aware yes\n+\tbridge-vids 2-4094\n" in diff
    assert "+auto vnet1\n+iface vnet1\n+\tbridge_ports z_q1.100\n" in diff
    # on a VLAN-aware bridge with a VLAN protocol; a vnet without tag takes the zone's veth
    assert "+auto vmbr1\n+iface vmbr1\n+\tbridge-vlan-protocol 802.1ad\n" in diff
    assert "+auto vmbr1.30\n+iface vmbr1.30\n+\tvlan-protocol 802.1ad\n" in diff
    assert "+\tbridge-ports vmbr1.30 ln_q2\n" in diff and "+auto vnet2\n+iface vnet2\n+\tbridge_ports pr_q2\n" in diff


def test_vxlan_zone_with_peers_and_with_a_fabric(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "x1", "type": "vxlan", "peers": "10.0.0.1,10.0.0.2,192.0.2.9",
                                          "vxlan-port": 4790}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "x1", "tag": 5000}))
    diff = dry_run(c)["interfaces-diff"]
    # pve1's own address (10.0.0.1) is no remote
    assert "+auto vxlan_vnet1\n+iface vxlan_vnet1\n+\tvxlan-id 5000\n+\tvxlan_remoteip 10.0.0.2\n" \
           "+\tvxlan_remoteip 192.0.2.9\n+\tvxlan-port 4790\n+\tmtu 1450\n" in diff
    assert "+auto vnet1\n+iface vnet1\n+\tbridge_ports vxlan_vnet1\n+\tbridge_stp off\n+\tbridge_fd 0\n+\tmtu 1450\n" in diff
    assert "+\tvxlan_remoteip 10.0.0.1\n" in dry_run(c, "pve2")["interfaces-diff"]

    ok(c.post("/cluster/sdn/fabrics/fabric", data={"id": "f1", "protocol": "openfabric", "ip_prefix": "10.20.0.0/24"}))
    for number in (1, 2):
        ok(c.post("/cluster/sdn/fabrics/node/f1", data={"node_id": f"pve{number}", "protocol": "openfabric",
                                                        "ip": f"10.20.0.{number}", "interfaces": "name=ens19"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "x2", "type": "vxlan", "fabric": "f1", "mtu": 1400}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet2", "zone": "x2", "tag": 6000}))
    diff = dry_run(c)["interfaces-diff"]
    assert "+auto dummy_f1\n" in diff  # the fabric's own interfaces come from the pending fabrics
    # the zone finds its fabric in the running config (Fabrics::config(1)): not before it is applied
    assert "vnet2" not in diff
    apply(c)
    ok(c.put("/cluster/sdn/zones/x2", data={"mtu": 1300}))
    diff = dry_run(c)["interfaces-diff"]
    assert "+\tmtu 1300" in lines(diff) and "-\tmtu 1400" in lines(diff)
    assert " \tvxlan-id 6000\n \tvxlan_remoteip 10.20.0.2\n" in diff


def test_evpn_zone_and_controller(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/controllers", data={"controller": "evpn1", "type": "evpn", "asn": 65000,
                                                "peers": "10.0.0.1,10.0.0.2"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "ev1", "type": "evpn", "controller": "evpn1", "vrf-vxlan": 11000,
                                          "exitnodes": "pve1", "mac": "BC:24:11:00:00:01"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "ev1", "tag": 11001}))
    answer = dry_run(c)
    interfaces = answer["interfaces-diff"]
    assert "+auto vnet1\n+iface vnet1\n+\thwaddress BC:24:11:00:00:01\n+\tbridge_ports vxlan_vnet1\n+\tbridge_stp off\n" \
           "+\tbridge_fd 0\n+\tmtu 1450\n+\tvrf vrf_ev1\n" in interfaces
    assert "+auto vrf_ev1\n+iface vrf_ev1\n+\tvrf-table auto\n" \
           "+\tpost-up ip route del vrf vrf_ev1 unreachable default metric 4278198272\n" in interfaces  # the exit node
    assert "+auto vrfvx_ev1\n+iface vrfvx_ev1\n+\tvxlan-id 11000\n+\tvxlan-local-tunnelip 10.0.0.1\n" \
           "+\tbridge-learning off\n+\tbridge-arp-nd-suppress on\n+\tmtu 1450\n" in interfaces
    assert "+auto vxlan_vnet1\n+iface vxlan_vnet1\n+\tvxlan-id 11001\n+\tvxlan-local-tunnelip 10.0.0.1\n" in interfaces
    frr = answer["frr-diff"]
    assert "+vrf vrf_ev1\n+ vni 11000\n+exit-vrf\n" in frr
    assert "+router bgp 65000\n+ bgp router-id 10.0.0.1\n+ no bgp hard-administrative-reset\n+ no bgp default ipv4-unicast\n" \
           "+ coalesce-time 1000\n+ no bgp graceful-restart notification\n+ neighbor VTEP peer-group\n" \
           "+ neighbor VTEP remote-as 65000\n+ neighbor VTEP bfd\n+ neighbor 10.0.0.2 peer-group VTEP\n" in frr
    assert "+ address-family l2vpn evpn\n+  neighbor VTEP activate\n+  neighbor VTEP route-map MAP_VTEP_IN in\n" \
           "+  neighbor VTEP route-map MAP_VTEP_OUT out\n+  advertise-all-vni\n+ exit-address-family\n" in frr
    assert "+router bgp 65000 vrf vrf_ev1\n" in frr and "+  default-originate ipv4\n+  default-originate ipv6\n" in frr
    assert "+ip prefix-list only_default seq 1 permit 0.0.0.0/0\n" in frr
    assert "+route-map MAP_VTEP_IN deny 1\n+ match ip address prefix-list only_default\n+exit\n" in frr
    assert "+route-map MAP_VTEP_IN permit 3\n+exit\n" in frr

    other = dry_run(c, "pve2")  # no exit node: an unreachable default route in the VRF, no default-originate
    assert "+\tpost-up ip route add vrf vrf_ev1 unreachable default metric 4278198272\n" in other["interfaces-diff"]
    assert "+ neighbor 10.0.0.1 peer-group VTEP\n" in other["frr-diff"] and "default-originate" not in other["frr-diff"]
    assert "+route-map MAP_VTEP_IN permit 1\n" in other["frr-diff"]

    apply(c)
    assert dry_run(c) == {"frr-diff": None, "interfaces-diff": None}
    assert dry_run(c, "pve2") == {"frr-diff": None, "interfaces-diff": None}

    # A zone limited to pve1 leaves pve2's interfaces; its FRR part stays (Controllers.pm does not look at `nodes`)
    ok(c.put("/cluster/sdn/zones/ev1", data={"nodes": "pve1", "advertise-subnets": 1}))
    limited = dry_run(c, "pve2")
    assert "-auto vnet1" in lines(limited["interfaces-diff"]) and "-auto vrf_ev1" in lines(limited["interfaces-diff"])
    assert "+  advertise ipv4 unicast" in lines(limited["frr-diff"])
    assert dry_run(c)["interfaces-diff"] is None  # pve1: the zone is still there, and nothing else changed


def test_evpn_controller_over_a_fabric_and_a_bgp_controller(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/fabrics/fabric", data={"id": "f1", "protocol": "openfabric", "ip_prefix": "10.20.0.0/24"}))
    for number in (1, 2):
        ok(c.post("/cluster/sdn/fabrics/node/f1", data={"node_id": f"pve{number}", "protocol": "openfabric",
                                                        "ip": f"10.20.0.{number}", "interfaces": "name=ens19"}))
    apply(c)
    ok(c.post("/cluster/sdn/controllers", data={"controller": "evpn1", "type": "evpn", "asn": 65000, "fabric": "f1"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "ev1", "type": "evpn", "controller": "evpn1", "vrf-vxlan": 11000}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "ev1", "tag": 11001}))
    ok(c.post("/cluster/sdn/controllers", data={"controller": "bgp1", "type": "bgp", "asn": 65001, "node": "pve1",
                                                "peers": "192.0.2.1", "ebgp": 1}))
    answer = dry_run(c)
    assert "+\tvxlan-local-tunnelip 10.20.0.1\n" in answer["interfaces-diff"]
    frr = answer["frr-diff"]
    # bgp1 sorts first and makes the router (its router ID: the source address towards its peer, and
    # none of the EVPN controller's "no bgp ..." lines); the EVPN controller's ASN becomes the route
    # targets' (eBGP)
    assert "+router bgp 65001\n+ bgp router-id 10.0.0.1\n+ no bgp default ipv4-unicast\n+ coalesce-time 1000\n" \
           "+ neighbor BGP peer-group\n" in frr
    assert "+ neighbor VTEP remote-as external\n+ neighbor VTEP bfd\n+ neighbor VTEP ebgp-multihop 10\n" \
           "+ neighbor VTEP update-source dummy_f1\n+ neighbor 10.20.0.2 peer-group VTEP\n" in frr
    assert "+ neighbor BGP peer-group\n+ neighbor BGP remote-as external\n+ neighbor BGP bfd\n" \
           "+ neighbor 192.0.2.1 peer-group BGP\n" in frr
    assert "+ address-family ipv4 unicast\n+  neighbor BGP activate\n+  neighbor BGP soft-reconfiguration inbound\n" in frr
    assert "+  autort as 65000\n" in frr and "+  route-target import 65000:11000\n+  route-target export 65000:11000\n" in frr
    # the fabric's own lines (fabrics.py), unchanged since the apply
    assert " router openfabric f1\n" in frr
    assert "+router bgp 65001" not in dry_run(c, "pve2")["frr-diff"]  # a BGP controller is its node's only


def test_pve92_route_maps_prefix_lists_and_controller_route_maps(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/prefix-lists", data={"id": "pl1", "entries": "action=permit,prefix=10.0.0.0/8,le=24"}))
    ok(c.post("/cluster/sdn/route-maps/entries", data={
        "route-map-id": "rm1", "order": 20, "action": "deny", "match": "key=vni,value=100"}))
    ok(c.post("/cluster/sdn/route-maps/entries", data={
        "route-map-id": "rm1", "order": 10, "action": "permit", "match": "key=ip-address-prefix-list,value=pl1",
        "set": ["key=local-preference,value=200", "key=ip-next-hop-unchanged"], "exit-action": "key=on-match-next"}))
    ok(c.post("/cluster/sdn/controllers", data={"controller": "bgp1", "type": "bgp", "asn": 65001, "node": "pve1",
                                                "peers": "192.0.2.1", "loopback": "lo", "route-map-in": "rm1"}))
    frr = dry_run(c)["frr-diff"]
    assert "+  network 10.0.0.1/32\n+  neighbor BGP activate\n+  neighbor BGP soft-reconfiguration inbound\n" \
           "+  neighbor BGP route-map rm1 in\n" in frr
    assert "+!\n+ip prefix-list loopbacks_ips seq 10 permit 0.0.0.0/0 le 32\n+!\n+ip prefix-list pl1 seq 5 permit 10.0.0.0/8 le 24\n" in frr
    assert "+route-map correct_src permit 1\n+ match ip address prefix-list loopbacks_ips\n+ set src 10.0.0.1\n+exit\n" in frr
    assert "+route-map rm1 permit 10\n+ match ip address prefix-list pl1\n+ set local-preference 200\n" \
           "+ set ip next-hop unchanged\n+ on-match next\n+exit\n+!\n+route-map rm1 deny 20\n+ match evpn vni 100\n+exit\n" in frr
    assert "+ip protocol bgp route-map correct_src\n" in frr
    # every node gets the prefix lists and route maps
    assert "+route-map rm1 permit 10\n" in dry_run(c, "pve2")["frr-diff"]


def test_a_faucet_controller_makes_the_frr_generation_die(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/controllers", data={"controller": "f1", "type": "faucet"}))
    response = c.get("/cluster/sdn/dry-run", params={"node": "pve1"})
    assert response.status_code == 500
    assert response.json()["message"].startswith("please implement inside plugin at ")


def test_unknown_node_and_pve8(remote, emulator):
    c = client(remote)
    refused = c.get("/cluster/sdn/dry-run", params={"node": "pve9"})
    assert refused.status_code == 500
    assert refused.json()["message"] == ("hostname lookup 'pve9' failed - failed to get address info for: pve9: "
                                         "Name or service not known\n")
    missing = c.get("/cluster/sdn/dry-run")
    assert missing.status_code == 400 and "node" in missing.json()["errors"]
    old = client(emulator.remotes["remote002"])
    answer = old.get("/cluster/sdn/dry-run", params={"node": "pve1"})
    assert answer.status_code == 501
    assert answer.json()["message"] == "Method 'GET /cluster/sdn/dry-run' not implemented"


# The diff itself, against GNU diff where there is one


def _config_like(rng: random.Random) -> str:
    words = ["\tbridge_stp off", "\tbridge_fd 0", "\tmtu 1450", "\tmtu  1450", "", "auto vnet1", "iface vnet1",
             "!", "exit", " neighbor VTEP activate", "#version:1", "\tvrf vrf_z1 "]
    return "".join(rng.choice(words) + "\n" for _line in range(rng.randint(0, 40)))


def _edited(rng: random.Random, text: str) -> str:
    result = text.splitlines(True)
    for _edit in range(rng.randint(1, 6)):
        at = rng.randint(0, len(result))
        if rng.random() < 0.5 or not result:
            result[at:at] = [_config_like(rng) or "x\n"]
        else:
            del result[min(at, len(result) - 1):at + rng.randint(1, 3)]
    return "".join(result)


@pytest.mark.skipif(shutil.which("diff") is None, reason="no diff(1) to compare with")
def test_the_diff_is_gnu_diffs(tmp_path: Path):
    version = subprocess.run(["diff", "--version"], capture_output=True, text=True, check=False).stdout
    if "GNU diffutils" not in version:
        pytest.skip("diff(1) is not GNU diff")
    rng = random.Random(7)
    old_file, new_file = tmp_path / "old", tmp_path / "new"
    for _case in range(300):
        old = _config_like(rng)
        new = _edited(rng, old) if rng.random() < 0.8 else _config_like(rng)
        old_file.write_text(old)
        new_file.write_text(new)
        gnu = subprocess.run(["diff", "-b", "-N", "-u", "--label", "OLD\tT0", "--label", "NEW\tT1", str(old_file), str(new_file)],
                             capture_output=True, text=True, check=False).stdout
        assert unified_diff("OLD", "T0", "NEW", "T1", old, new) == (gnu or None), (old, new)
