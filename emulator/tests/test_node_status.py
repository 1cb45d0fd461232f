"""The per-node EVPN status of pve-network 1.2.0 in the emulator (node_status_api.py): a vnet's index
and MAC-VRF, a zone's IP-VRF, over real HTTPS with a client of its own (httpx).

Shapes, texts and checks as pve-network's API2/Network/SDN/Nodes/Vnet.pm and Nodes/Zone.pm and
proxmox-perl-rs pve-rs/src/sdn/status.rs (L2VPNRoute, L3VPNRoute) have them; the contents are the
emulator's own derivation from the running config (emulator/README.md, "Per-node EVPN status").
"""
from __future__ import annotations

import time

import httpx
import pytest
from emulator_api_client import apply as applied
from emulator_api_client import client, fresh, ok, refused

from pvefleet_emulator.testing import EmulatorProcess

MAC = "BC:24:11:00:00:01"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=2, nodes=3, task_seconds=0.3, pve8=("remote002",),
                         workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator):
    return fresh(emulator)


def apply(c: httpx.Client) -> None:
    applied(c)
    time.sleep(0.1)  # the last node's srvreload ends with the main task


def evpn_layout(c: httpx.Client, controller: dict | None = None) -> None:
    """An EVPN zone on pve1 and pve2 with a vnet of three subnets (two with a gateway), and a
    vxlan zone with a vnet: applied."""
    ok(c.post("/cluster/sdn/controllers", data=controller or {"controller": "evpnctl", "type": "evpn", "asn": 65000,
                                                              "peers": "10.0.0.1,10.0.0.2"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "evpn1", "type": "evpn", "controller": "evpnctl",
                                          "vrf-vxlan": 10000, "mac": MAC.lower(), "nodes": "pve1,pve2"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet1", "zone": "evpn1", "tag": 11000}))
    ok(c.post("/cluster/sdn/vnets/vnet1/subnets", data={"subnet": "10.1.0.0/24", "type": "subnet", "gateway": "10.1.0.1"}))
    ok(c.post("/cluster/sdn/vnets/vnet1/subnets", data={"subnet": "fd00:1::/64", "type": "subnet", "gateway": "fd00:1::1"}))
    ok(c.post("/cluster/sdn/vnets/vnet1/subnets", data={"subnet": "10.2.0.0/24", "type": "subnet"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "vx1", "type": "vxlan", "peers": "10.0.0.1,10.0.0.2,10.0.0.3"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vxnet1", "zone": "vx1", "tag": 12000}))
    apply(c)


def test_vnet_index_lists_the_mac_vrf(remote):
    c = client(remote)
    evpn_layout(c)
    assert ok(c.get("/nodes/pve1/sdn/vnets/vnet1")) == [{"subdir": "mac-vrf"}]
    # check_vnet_access reads the pending vnets.cfg: a plain die for a vnet that is not there
    assert refused(c.get("/nodes/pve1/sdn/vnets/nope"), 500) == "sdn vnet 'nope' does not exist\n"
    # GET /nodes/{node}/sdn/vnets has no method in PVE's schema (Nodes/Vnets.pm only has the subclass)
    assert c.get("/nodes/pve1/sdn/vnets").status_code == 501


def test_mac_vrf_has_each_nodes_anycast_gateway_from_its_vtep(remote):
    c = client(remote)
    evpn_layout(c)
    expected = [{"mac": MAC, "ip": gateway, "nexthop": vtep}
                for vtep in ("10.0.0.1", "10.0.0.2") for gateway in ("10.1.0.1", "fd00:1::1")]
    assert ok(c.get("/nodes/pve1/sdn/vnets/vnet1/mac-vrf")) == expected
    assert ok(c.get("/nodes/pve2/sdn/vnets/vnet1/mac-vrf")) == expected
    # Nodes/Vnet.pm's parameter errors, from the running config
    assert refused(c.get("/nodes/pve3/sdn/vnets/vnet1/mac-vrf")) == {
        "zone": "zone evpn1 of vnet vnet1 does not exist on node pve3"}
    assert refused(c.get("/nodes/pve1/sdn/vnets/vxnet1/mac-vrf")) == {"zone": "zone vx1 is not an EVPN zone."}
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "vnet2", "zone": "evpn1", "tag": 11001}))  # pending only
    assert refused(c.get("/nodes/pve1/sdn/vnets/vnet2/mac-vrf")) == {"vnet": "vnet does not exist"}
    assert refused(c.get("/nodes/pve9/sdn/vnets/vnet1/mac-vrf"), 500).startswith("hostname lookup 'pve9' failed")


def test_ip_vrf_has_the_zones_subnets_with_a_gateway(remote):
    c = client(remote)
    evpn_layout(c)
    routes = [{"ip": "10.1.0.0/24", "protocol": "connected", "metric": 0, "nexthops": ["vnet1"]},
              {"ip": "fd00:1::/64", "protocol": "connected", "metric": 0, "nexthops": ["vnet1"]}]
    assert sorted(ok(c.get("/nodes/pve1/sdn/zones/evpn1/ip-vrf")), key=lambda r: r["ip"]) == routes
    assert refused(c.get("/nodes/pve3/sdn/zones/evpn1/ip-vrf")) == {"zone": "zone does not exist on node pve3"}
    assert refused(c.get("/nodes/pve1/sdn/zones/vx1/ip-vrf")) == {"zone": "zone is not an EVPN zone"}
    assert refused(c.get("/nodes/pve1/sdn/zones/nope/ip-vrf")) == {"zone": "zone does not exist"}
    # The zone's index names it (nodes_api.py), and its content has the vnet with its status
    assert {"subdir": "ip-vrf"} in ok(c.get("/nodes/pve1/sdn/zones/evpn1"))
    assert ok(c.get("/nodes/pve1/sdn/zones/evpn1/content")) == [{"vnet": "vnet1", "status": "available"}]


def test_a_node_that_did_not_reload_has_empty_tables_and_is_no_nexthop(remote):
    c = client(remote)
    evpn_layout(c)
    remote.control.reload_fault("node", node="pve2")  # pve2's next reload leaves it pending
    ok(c.post("/cluster/sdn/vnets/vnet1/subnets", data={"subnet": "10.3.0.0/24", "type": "subnet", "gateway": "10.3.0.1"}))
    apply(c)
    assert ok(c.get("/nodes/pve2/sdn/zones/evpn1/ip-vrf")) == []
    assert ok(c.get("/nodes/pve2/sdn/vnets/vnet1/mac-vrf")) == []
    on_pve1 = ok(c.get("/nodes/pve1/sdn/vnets/vnet1/mac-vrf"))
    assert {entry["nexthop"] for entry in on_pve1} == {"10.0.0.1"}
    assert {entry["ip"] for entry in on_pve1} == {"10.1.0.1", "fd00:1::1", "10.3.0.1"}
    assert {"zone": "evpn1", "status": "pending"} in ok(c.get("/nodes/pve2/sdn/zones"))


def test_before_any_apply_nothing_is_running(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "evpn1", "type": "simple"}))
    assert refused(c.get("/nodes/pve1/sdn/zones/evpn1/ip-vrf")) == {"zone": "zone does not exist"}


def test_the_vtep_of_a_fabric_controller_is_its_fabric_nodes_address(remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/fabrics/fabric", data={"id": "f1", "protocol": "openfabric", "ip_prefix": "10.255.0.0/16"}))
    for index in (1, 2):
        ok(c.post("/cluster/sdn/fabrics/node/f1", data={"node_id": f"pve{index}", "protocol": "openfabric",
                                                        "ip": f"10.255.0.{index}", "interfaces": "name=ens19"}))
    evpn_layout(c, {"controller": "evpnctl", "type": "evpn", "asn": 65000, "fabric": "f1"})
    assert {entry["nexthop"] for entry in ok(c.get("/nodes/pve1/sdn/vnets/vnet1/mac-vrf"))} == {"10.255.0.1", "10.255.0.2"}


def test_checks_sdn_audit_on_the_zone_and_the_vnet(remote):
    c = client(remote)
    evpn_layout(c)
    control = remote.control
    control.add_user("audit@pve", "secret-password")
    made = control.add_token("audit@pve", "tk", privsep=False)
    audit = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    for path, where in (("/nodes/pve1/sdn/zones/evpn1/ip-vrf", "/sdn/zones/evpn1"),
                        ("/nodes/pve1/sdn/vnets/vnet1/mac-vrf", "/sdn/zones/evpn1/vnet1"),
                        ("/nodes/pve1/sdn/vnets/vnet1", "/sdn/zones/evpn1/vnet1")):
        assert refused(audit.get(path), 403) == f"Permission check failed ({where}, SDN.Audit)\n"
    # SDN.Allocate alone is not enough: these calls want SDN.Audit
    control.add_role("AllocateOnly", ["SDN.Allocate"])
    control.add_acl("/sdn/zones/evpn1", "AllocateOnly", users=["audit@pve"])
    assert audit.get("/nodes/pve1/sdn/vnets/vnet1/mac-vrf").status_code == 403
    control.add_acl("/sdn/zones/evpn1", "PVEAuditor", users=["audit@pve"])
    assert len(ok(audit.get("/nodes/pve1/sdn/vnets/vnet1/mac-vrf"))) == 4
    assert len(ok(audit.get("/nodes/pve1/sdn/zones/evpn1/ip-vrf"))) == 2


def test_pve8_has_none_of_them(emulator):
    info = emulator.remotes["remote002"]
    c = client(info)
    for path in ("/nodes/pve1/sdn/vnets/vnet1", "/nodes/pve1/sdn/vnets/vnet1/mac-vrf", "/nodes/pve1/sdn/zones/z1/ip-vrf"):
        assert refused(c.get(path), 501) == f"Method 'GET {path}' not implemented"
