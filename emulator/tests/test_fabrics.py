"""SDN fabrics in the emulator, over real HTTPS with a client of its own (httpx).

What is expected comes from pve-network 1.3.0 (API2/Network/SDN/Fabrics*.pm, Nodes/Fabric.pm,
Network/SDN.pm), proxmox-perl-rs 0.11.4 (pve-rs/src/bindings/sdn/fabrics.rs, src/sdn/status.rs),
proxmox-ve-config 0.4.7 (src/sdn/fabric/**) and pve-common's JSONSchema.pm, as
emulator/src/pvefleet_emulator/fabrics.py cites them.
"""
from __future__ import annotations

import re

import httpx
import pytest
from emulator_api_client import apply, client, ok

from pvefleet_emulator.testing import EmulatorProcess

LOCK_REFUSED = "invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n"
FABRIC_PM = "/usr/share/perl5/PVE/API2/Network/SDN/Fabrics/Fabric.pm"
DIGEST = re.compile(r"^[0-9a-f]{64}$")
MODIFIED = "detected modified configuration - file changed by other user? Try again.\n"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=3, nodes=3, task_seconds=0.3, pve8=("remote003",), extra_args=("--pve91", "remote002"),
                         workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


def _fresh(emulator, name: str):
    info = emulator.remotes[name]
    info.control.clear_faults()
    info.control.reset(access=True)
    return info


@pytest.fixture
def remote(emulator):
    return _fresh(emulator, "remote001")


def failed(response, status: int = 500) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()["message"] if status != 400 else response.json()["errors"]


def openfabric(c: httpx.Client, fabric: str = "f1", prefix: str = "10.0.0.0/24", **extra) -> None:
    ok(c.post("/cluster/sdn/fabrics/fabric", data={"id": fabric, "protocol": "openfabric", "ip_prefix": prefix, **extra}))


def node(c: httpx.Client, fabric: str, node_id: str, protocol: str = "openfabric", **values) -> httpx.Response:
    return c.post(f"/cluster/sdn/fabrics/node/{fabric}", data={"node_id": node_id, "protocol": protocol, **values})


def test_openfabric_fabric_and_nodes_under_the_lock(remote):
    c = client(remote)
    token = ok(c.post("/cluster/sdn/lock"))
    create = {"id": "f1", "protocol": "openfabric", "ip_prefix": "10.0.0.7/24", "hello_interval": "3"}
    assert failed(c.post("/cluster/sdn/fabrics/fabric", data=create)) == f"adding fabric failed: {LOCK_REFUSED}"
    assert ok(c.post("/cluster/sdn/fabrics/fabric", data={**create, "lock-token": token})) is None
    fabric = ok(c.get("/cluster/sdn/fabrics/fabric/f1"))
    # add_fabric makes the prefix canonical; the interval is a number; the item has the digest
    assert DIGEST.match(fabric.pop("digest"))
    assert fabric == {"id": "f1", "protocol": "openfabric", "ip_prefix": "10.0.0.0/24", "hello_interval": 3}
    # The list has no digest without pending=1 (Fabric.pm index reads `$current_config->{digest}`)
    assert ok(c.get("/cluster/sdn/fabrics/fabric")) == [fabric]

    refused = node(c, "f1", "pve1", ip="10.0.0.1", interfaces="name=ens19")
    assert failed(refused) == f"adding node failed: {LOCK_REFUSED}"
    # a list is sent as the key repeated (httpx does so for a list value)
    ok(node(c, "f1", "pve1", ip="10.0.0.1", interfaces=["name=ens19", "hello_multiplier=5,name=ens20"], **{"lock-token": token}))
    ok(node(c, "f1", "pve2", ip="10.0.0.2", interfaces="name=ens19", **{"lock-token": token}))
    one = ok(c.get("/cluster/sdn/fabrics/node/f1/pve1"))
    assert DIGEST.match(one.pop("digest"))
    # Interfaces as property strings, written back in the struct's field order
    assert one == {"protocol": "openfabric", "fabric_id": "f1", "node_id": "pve1", "ip": "10.0.0.1",
                   "interfaces": ["name=ens19", "name=ens20,hello_multiplier=5"]}
    listed = ok(c.get("/cluster/sdn/fabrics/node/f1"))
    assert [(n["node_id"], n["digest"]) for n in listed] == [("pve1", fabric_digest(c)), ("pve2", fabric_digest(c))]

    # Updates: the type is always sent; lists are replaced whole; `delete` is a list (repeat it)
    ok(c.put("/cluster/sdn/fabrics/fabric/f1", data={"protocol": "openfabric", "csnp_interval": "10",
                                                     "delete": ["hello_interval"], "lock-token": token}))
    assert ok(c.get("/cluster/sdn/fabrics/fabric/f1"))["csnp_interval"] == 10
    assert "hello_interval" not in ok(c.get("/cluster/sdn/fabrics/fabric/f1"))
    ok(c.put("/cluster/sdn/fabrics/node/f1/pve2", data={"protocol": "openfabric", "ip": "10.0.0.3", "delete": "interfaces",
                                                        "lock-token": token}))
    assert ok(c.get("/cluster/sdn/fabrics/node/f1/pve2"))["interfaces"] == []
    assert ok(c.get("/cluster/sdn/fabrics/node/f1/pve2"))["ip"] == "10.0.0.3"

    # Deletes take lock-token (and digest) although their schema does not list them
    assert failed(c.delete("/cluster/sdn/fabrics/node/f1/pve2")) == f"deleting node failed: {LOCK_REFUSED}"
    ok(c.delete("/cluster/sdn/fabrics/node/f1/pve2", params={"lock-token": token}))
    assert failed(c.delete("/cluster/sdn/fabrics/fabric/f1")) == f"deleting fabric failed: {LOCK_REFUSED}"
    ok(c.delete("/cluster/sdn/fabrics/fabric/f1", params={"lock-token": token}))  # its node goes with it
    assert ok(c.get("/cluster/sdn/fabrics/all")) == {"fabrics": [], "nodes": []}
    ok(c.delete("/cluster/sdn/lock", params={"lock-token": token}))


def fabric_digest(c: httpx.Client) -> str:
    return ok(c.get("/cluster/sdn/fabrics/fabric", params={"pending": 1}))[0]["digest"]


def test_ospf_fabric_and_nodes(emulator, remote):
    c = client(remote)
    ok(c.post("/cluster/sdn/fabrics/fabric", data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24", "area": "0"}))
    ok(node(c, "o1", "pve1", "ospf", ip="10.20.0.1", interfaces=["name=ens19,ip=10.5.0.1/30", "name=ens20"]))
    assert ok(c.get("/cluster/sdn/fabrics/fabric/o1"))["area"] == "0"  # a string, as given
    assert ok(c.get("/cluster/sdn/fabrics/node/o1/pve1"))["interfaces"] == ["name=ens19,ip=10.5.0.1/30", "name=ens20"]
    ok(c.put("/cluster/sdn/fabrics/fabric/o1", data={"protocol": "ospf", "area": "0.0.0.1"}))
    assert ok(c.get("/cluster/sdn/fabrics/fabric/o1"))["area"] == "0.0.0.1"
    # OspfDeletableProperties is empty (0.4.7): `area`, the schema's only choice, does not deserialize
    assert failed(c.put("/cluster/sdn/fabrics/fabric/o1", data={"protocol": "ospf", "delete": "area"})) == \
        "updating fabric failed: data did not match any variant of untagged enum FabricDeletableProperties\n"
    # PVE 9.2 (proxmox-ve-config 0.6.0) deletes an OSPF node's interfaces; 9.1 cannot (untagged enum)
    ok(c.put("/cluster/sdn/fabrics/node/o1/pve1", data={"protocol": "ospf", "delete": "interfaces"}))
    assert ok(c.get("/cluster/sdn/fabrics/node/o1/pve1"))["interfaces"] == []
    old = client(_fresh(emulator, "remote002"))
    ok(old.post("/cluster/sdn/fabrics/fabric", data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24", "area": "0"}))
    ok(node(old, "o1", "pve1", "ospf", ip="10.20.0.1", interfaces="name=ens19"))
    assert failed(old.put("/cluster/sdn/fabrics/node/o1/pve1", data={"protocol": "ospf", "delete": "interfaces"})) == \
        "updating node failed: data did not match any variant of untagged enum NodeDeletableProperties\n"
    ok(c.delete("/cluster/sdn/fabrics/node/o1/pve1"))
    ok(c.delete("/cluster/sdn/fabrics/fabric/o1"))


@pytest.mark.parametrize(("data", "errors"), [
    ({"id": "a_b", "protocol": "openfabric"}, {"id": "invalid format - Fabric ID 'a_b' contains illegal characters\n"}),
    ({"id": "abcdefghi", "protocol": "openfabric"}, {"id": "invalid format - Fabric ID 'abcdefghi' contains illegal characters\n"}),
    ({"id": "a", "protocol": "openfabric"}, {"id": "value does not match the regex pattern"}),
    ({"id": "f1", "protocol": "bgp"}, {"protocol": "value 'bgp' does not have a value in the enumeration 'openfabric, ospf'"}),
    ({"id": "f1"}, {"protocol": "property is missing and it is not optional"}),
    ({"id": "f1", "protocol": "openfabric", "hello_interval": 0}, {"hello_interval": "value must have a minimum value of 1"}),
    ({"id": "f1", "protocol": "openfabric", "ip_prefix": "10.0.0.1"},
     {"ip_prefix": "invalid format - value does not look like a valid CIDR network\n"}),
])
def test_fabric_schema_errors(remote, data, errors):
    assert failed(client(remote).post("/cluster/sdn/fabrics/fabric", data=data), 400) == errors


@pytest.mark.parametrize(("protocol", "interfaces", "errors"), [
    ("openfabric", "ens19", {"interfaces[0]": "invalid format - value without key, but schema does not define a default key\n"}),
    ("openfabric", ["name=ens19", "name=ens20,hello_multiplier=1"],
     {"interfaces[1]": "invalid format - format error\ninterfaces[1].hello_multiplier: value must have a minimum value of 2\n"}),
    ("openfabric", "name=ens19,ip=10.0.0.1",
     {"interfaces[0]": "invalid format - format error\n"
                       "interfaces[0].ip: invalid format - value does not look like a valid IPv4 CIDR network\n\n"}),
    ("openfabric", "ip=10.0.0.1/24",
     {"interfaces[0]": "invalid format - format error\ninterfaces[0].name: property is missing and it is not optional\n"}),
    # the variant is the protocol's: OSPF interfaces have no hello_multiplier, no ip6
    ("ospf", "name=ens19,hello_multiplier=5",
     {"interfaces[0]": "invalid format - invalid key in comma-separated list property: hello_multiplier\n"}),
    ("ospf", "name=ens19,ip6=fd00::1/64", {"interfaces[0]": "invalid format - invalid key in comma-separated list property: ip6\n"}),
])
def test_node_schema_errors(remote, protocol, interfaces, errors):
    assert failed(node(client(remote), "f1", "pve1", protocol, ip="10.0.0.1", interfaces=interfaces), 400) == errors


def test_update_schema_errors(remote):
    c = client(remote)
    openfabric(c)
    ok(node(c, "f1", "pve1", ip="10.0.0.1"))
    # a comma list is one item of the array, not two
    assert failed(c.put("/cluster/sdn/fabrics/node/f1/pve1", data={"protocol": "openfabric", "delete": "ip,ip6"}), 400) == \
        {"delete[0]": "value 'ip,ip6' does not have a value in the enumeration 'interfaces, ip, ip6'"}
    assert failed(c.put("/cluster/sdn/fabrics/fabric/f1", data={"delete": "ip_prefix", "protocol": "openfabric"}), 400) == \
        {"delete[0]": "value 'ip_prefix' does not have a value in the enumeration 'hello_interval, csnp_interval'"}
    assert failed(c.put("/cluster/sdn/fabrics/fabric/f1", data={"hello_interval": 5}), 400) == \
        {"protocol": "property is missing and it is not optional"}
    assert failed(c.put("/cluster/sdn/fabrics/fabric/f1", data={"protocol": "ospf", "area": "1"})) == \
        "updating fabric failed: node has a different protocol than the referenced fabric\n"


def test_the_rust_configs_rules(remote):
    c = client(remote)
    fabric = "/cluster/sdn/fabrics/fabric"
    assert failed(c.post(fabric, data={"id": "f1", "protocol": "openfabric"})) == \
        "adding fabric failed: fabric 'f1' does not have an IP prefix configured\n"
    assert failed(c.post(fabric, data={"id": "f1", "protocol": "openfabric", "ip_prefix": "fd00::/64"})) == \
        "adding fabric failed: invalid IPv4 address syntax\n"
    openfabric(c, "f1", "10.0.0.0/16", ip6_prefix="fd00::/64")
    assert failed(c.post(fabric, data={"id": "f1", "protocol": "openfabric", "ip_prefix": "10.9.0.0/16"})) == \
        "adding fabric failed: fabric 'f1' already exists in config\n"
    assert failed(c.post(fabric, data={"id": "f2", "protocol": "openfabric", "ip_prefix": "10.0.5.0/24"})) == \
        "adding fabric failed: IP prefix 10.0.5.0/24 in fabric 'f2' overlaps with IPv4 prefix 10.0.0.0/16 in fabric 'f1'\n"
    assert failed(node(c, "nope", "pve1", ip="10.0.0.1")) == "adding node failed: fabric 'nope' does not exist in configuration\n"
    assert failed(node(c, "f1", "pve1", "ospf", ip="10.0.0.1")) == \
        "adding node failed: node has a different protocol than the referenced fabric\n"
    # a dual-stack fabric needs both addresses on every node
    assert failed(node(c, "f1", "pve1", ip="10.0.0.1")) == \
        "adding node failed: node 'f1_pve1' does not have an IP configured for this fabric prefix fd00::/64\n"
    assert failed(node(c, "f1", "pve1", ip="10.9.9.9", ip6="fd00::1")) == \
        "adding node failed: node IP 10.9.9.9 is outside the IP prefix 10.0.0.0/16 of the fabric\n"
    ok(node(c, "f1", "pve1", ip="10.0.0.1", ip6="fd00::1", interfaces="name=ens19"))
    assert failed(node(c, "f1", "pve1", ip="10.0.0.2", ip6="fd00::2")) == \
        "adding node failed: node 'pve1' already exists in config for fabric f1\n"
    assert failed(node(c, "f1", "pve2", ip="10.0.0.1", ip6="fd00::2")) == \
        "adding node failed: fabric f1 contains nodes with duplicated IPs\n"
    # a node that is not in the cluster is not refused: nothing in PVE checks it
    ok(node(c, "f1", "elsewhere", ip="10.0.0.9", ip6="fd00::9"))
    assert failed(node(c, "f1", "pve3", ip="10.0.0.3", ip6="fd00::3", interfaces="name=ens1234567890abc")) == \
        "adding node failed: value may only be 15 characters long\n"
    openfabric(c, "f2", "10.1.0.0/24")
    assert failed(node(c, "f2", "pve1", ip="10.1.0.1", interfaces="name=ens19")) == \
        "adding node failed: interface is already in use by another fabric\n"
    assert failed(node(c, "f2", "pve1", ip="10.1.0.1", ip6="fd01::1")) == \
        "adding node failed: fabric 'f2' does not have an IP prefix configured for the node IP fd01::1\n"
    assert failed(c.put("/cluster/sdn/fabrics/node/f1/pve7", data={"protocol": "openfabric", "ip": "10.0.0.7"})) == \
        "updating node failed: node 'pve7' does not exist in fabric 'f1'\n"
    assert failed(c.get("/cluster/sdn/fabrics/fabric/zz")) == "fabric 'zz' does not exist in configuration\n"
    assert failed(c.get("/cluster/sdn/fabrics/node/f1/pve7")) == "node 'pve7' does not exist in fabric 'f1'\n"
    assert failed(c.delete("/cluster/sdn/fabrics/fabric/zz")) == "deleting fabric failed: fabric 'zz' does not exist in configuration\n"
    # OSPF: an area, IPv4 only, one fabric per area
    assert failed(c.post(fabric, data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24"})) == \
        "adding fabric failed: missing field `area`\n"
    assert failed(c.post(fabric, data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24", "area": "x"})) == \
        "adding fabric failed: Area is not a number, nor an ip address\n"
    assert failed(c.post(fabric, data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24", "area": "0",
                                       "ip6_prefix": "fd02::/64"})) == \
        "adding fabric failed: IPv6 is currently not supported for protocol ospf\n"
    ok(c.post(fabric, data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24", "area": "0"}))
    assert failed(c.post(fabric, data={"id": "o2", "protocol": "ospf", "ip_prefix": "10.21.0.0/24", "area": "0.0.0.0"})) == \
        "adding fabric failed: duplicate OSPF area\n"
    assert failed(node(c, "o1", "pve1", "ospf")) == \
        "adding node failed: node 'o1_pve1' does not have an IP configured for this fabric prefix 10.20.0.0/24\n"
    # what another protocol has is ignored, not refused (serde drops unknown fields)
    ok(c.post(fabric, data={"id": "o3", "protocol": "ospf", "ip_prefix": "10.22.0.0/24", "area": "3", "hello_interval": 4}))
    assert "hello_interval" not in ok(c.get("/cluster/sdn/fabrics/fabric/o3"))


def test_pending_and_running_views_apply_and_rollback(remote):
    c = client(remote)
    openfabric(c, hello_interval=3)
    ok(node(c, "f1", "pve1", ip="10.0.0.1", interfaces="name=ens19"))
    digest = ok(c.get("/cluster/sdn/fabrics/fabric/f1"))["digest"]
    # New objects: no ID left at the top (no `type` key to keep), everything under `pending`
    assert ok(c.get("/cluster/sdn/fabrics/fabric", params={"pending": 1})) == [
        {"state": "new", "pending": {"id": "f1", "protocol": "openfabric", "ip_prefix": "10.0.0.0/24", "hello_interval": 3},
         "digest": digest}]
    assert ok(c.get("/cluster/sdn/fabrics/all", params={"pending": 1}))["nodes"] == [
        {"state": "new", "pending": {"fabric_id": "f1", "node_id": "pve1", "protocol": "openfabric", "ip": "10.0.0.1",
                                     "interfaces": ["name=ens19"]}, "digest": digest}]
    assert ok(c.get("/cluster/sdn/fabrics/fabric", params={"running": 1})) == []
    # The node list of a fabric that is not running: the running side's lookup fails
    assert failed(c.get("/cluster/sdn/fabrics/node/f1", params={"pending": 1})) == "fabric 'f1' does not exist in configuration\n"
    # has_pending_changes does not look at fabrics: the lock is taken without allow-pending
    token = ok(c.post("/cluster/sdn/lock"))
    ok(c.delete("/cluster/sdn/lock", params={"lock-token": token}))

    apply(c)
    running = remote.control.state()["running_config"]["fabrics"]["ids"]
    assert running == {"f1": {"type": "openfabric_fabric", "id": "f1", "ip_prefix": "10.0.0.0/24", "hello_interval": 3},
                       "f1_pve1": {"type": "openfabric_node", "id": "f1_pve1", "ip": "10.0.0.1", "interfaces": ["name=ens19"]}}
    assert [f["id"] for f in ok(c.get("/cluster/sdn/fabrics/fabric", params={"running": 1}))] == ["f1"]
    assert "digest" not in ok(c.get("/cluster/sdn/fabrics/all", params={"running": 1}))["nodes"][0]
    unchanged = ok(c.get("/cluster/sdn/fabrics/all", params={"pending": 1}))
    assert all("state" not in item and "pending" not in item for item in unchanged["fabrics"] + unchanged["nodes"])

    ok(c.put("/cluster/sdn/fabrics/fabric/f1", data={"protocol": "openfabric", "hello_interval": 5, "csnp_interval": 9}))
    ok(c.delete("/cluster/sdn/fabrics/node/f1/pve1"))
    ok(node(c, "f1", "pve2", ip="10.0.0.2"))
    fabric = ok(c.get("/cluster/sdn/fabrics/fabric", params={"pending": 1}))[0]
    assert fabric["state"] == "changed" and fabric["hello_interval"] == 3 and fabric["id"] == "f1"
    assert fabric["pending"] == {"hello_interval": 5, "csnp_interval": 9}
    nodes = ok(c.get("/cluster/sdn/fabrics/node/f1", params={"pending": 1}))
    assert [(n.get("node_id"), n["state"], n["pending"]) for n in nodes] == [
        ("pve1", "deleted", {}),
        (None, "new", {"fabric_id": "f1", "node_id": "pve2", "protocol": "openfabric", "ip": "10.0.0.2", "interfaces": []})]
    ok(c.put("/cluster/sdn/fabrics/fabric/f1", data={"protocol": "openfabric", "delete": "hello_interval"}))
    assert ok(c.get("/cluster/sdn/fabrics/fabric", params={"pending": 1}))[0]["pending"] == \
        {"hello_interval": "deleted", "csnp_interval": 9}

    ok(c.post("/cluster/sdn/rollback"))
    assert ok(c.get("/cluster/sdn/fabrics/all")) == ok(c.get("/cluster/sdn/fabrics/all", params={"pending": 1}))
    assert [n["node_id"] for n in ok(c.get("/cluster/sdn/fabrics/node"))] == ["pve1"]
    remote.control.reset()
    openfabric(c)
    ok(c.post("/cluster/sdn/rollback"))  # never applied: fabrics.cfg written empty
    assert ok(c.get("/cluster/sdn/fabrics/fabric")) == []


def test_fabrics_cfg_as_pve_writes_it(emulator, remote):
    c = client(remote)
    openfabric(c, "f2", "10.2.0.0/24")
    openfabric(c, "f1", "10.1.0.0/24", hello_interval=2)
    ok(node(c, "f1", "pve2", ip="10.1.0.2", interfaces=["name=ens20", "name=ens19,hello_multiplier=3"]))
    ok(node(c, "f1", "pve1", ip="10.1.0.1"))
    text = (emulator.state_dir / "remote001" / "sdn" / "fabrics.cfg").read_text()
    assert text == ("openfabric_fabric: f1\n\thello_interval 2\n\tip_prefix 10.1.0.0/24\n\n"
                    "openfabric_node: f1_pve1\n\tip 10.1.0.1\n\n"
                    "openfabric_node: f1_pve2\n\tinterfaces name=ens20\n\tinterfaces name=ens19,hello_multiplier=3\n\tip 10.1.0.2\n\n"
                    "openfabric_fabric: f2\n\tip_prefix 10.2.0.0/24\n\n")
    # A node in two fabrics: /fabrics/node keys nodes by name (one entry, the last fabric's),
    # /fabrics/all by section ID
    ok(node(c, "f2", "pve1", ip="10.2.0.1"))
    assert [(n["fabric_id"], n["node_id"]) for n in ok(c.get("/cluster/sdn/fabrics/node"))] == [("f2", "pve1"), ("f1", "pve2")]
    assert [(n["fabric_id"], n["node_id"]) for n in ok(c.get("/cluster/sdn/fabrics/all"))["nodes"]] == \
        [("f1", "pve1"), ("f1", "pve2"), ("f2", "pve1")]


def test_digest(remote):
    c = client(remote)
    empty = ok(c.get("/cluster/sdn/fabrics/all", params={"pending": 1}))
    assert empty == {"fabrics": [], "nodes": []}
    openfabric(c)
    first = ok(c.get("/cluster/sdn/fabrics/fabric/f1"))["digest"]
    assert DIGEST.match(first)
    stale = "0" * 64
    create = {"id": "f2", "protocol": "openfabric", "ip_prefix": "10.1.0.0/24"}
    assert failed(c.post("/cluster/sdn/fabrics/fabric", data={**create, "digest": stale})) == f"adding fabric failed: {MODIFIED}"
    ok(c.post("/cluster/sdn/fabrics/fabric", data={**create, "digest": first}))
    second = ok(c.get("/cluster/sdn/fabrics/fabric/f2"))["digest"]
    assert second != first
    update = {"protocol": "openfabric", "hello_interval": 4}
    assert failed(c.put("/cluster/sdn/fabrics/fabric/f1", data={**update, "digest": first})) == f"updating fabric failed: {MODIFIED}"
    ok(c.put("/cluster/sdn/fabrics/fabric/f1", data={**update, "digest": second}))
    assert failed(node(c, "f1", "pve1", ip="10.0.0.1", digest=second)) == f"adding node failed: {MODIFIED}"
    third = ok(c.get("/cluster/sdn/fabrics/fabric/f1"))["digest"]
    assert third not in (first, second)
    assert failed(c.delete("/cluster/sdn/fabrics/fabric/f2", params={"digest": second})) == f"deleting fabric failed: {MODIFIED}"
    ok(c.delete("/cluster/sdn/fabrics/fabric/f2", params={"digest": third}))


def test_references_to_a_fabric(remote):
    c = client(remote)
    openfabric(c)
    # Neither a vxlan zone nor an evpn controller is checked for an existing fabric on write
    ok(c.post("/cluster/sdn/zones", data={"zone": "vx1", "type": "vxlan", "fabric": "f1"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "vx2", "type": "vxlan", "fabric": "nothere"}))
    ok(c.post("/cluster/sdn/controllers", data={"controller": "ev1", "type": "evpn", "asn": 65000, "fabric": "f1"}))
    assert failed(c.delete("/cluster/sdn/fabrics/fabric/f1")) == \
        f'deleting fabric failed: this fabric is still used in the EVPN controller "ev1" at {FABRIC_PM} line 243.\n'
    ok(c.delete("/cluster/sdn/controllers/ev1"))
    assert failed(c.delete("/cluster/sdn/fabrics/fabric/f1")) == \
        f'deleting fabric failed: this fabric is still used in the VXLAN zone "vx1" at {FABRIC_PM} line 252.\n'
    ok(c.delete("/cluster/sdn/zones/vx1"))
    ok(c.delete("/cluster/sdn/fabrics/fabric/f1"))


def test_node_status_from_the_running_config(remote):
    c = client(remote)
    assert failed(c.get("/nodes/pve1/sdn/fabrics/f1/routes")) == "No such file or directory (os error 2)\n"
    openfabric(c)
    ok(node(c, "f1", "pve1", ip="10.0.0.1", interfaces=["name=ens19", "name=ens20"]))
    ok(node(c, "f1", "pve2", ip="10.0.0.2", interfaces="name=ens19"))
    ok(c.post("/cluster/sdn/fabrics/fabric", data={"id": "o1", "protocol": "ospf", "ip_prefix": "10.20.0.0/24", "area": "0"}))
    ok(node(c, "o1", "pve1", "ospf", ip="10.20.0.1", interfaces="name=ens21,ip=10.5.0.1/30"))
    ok(node(c, "o1", "pve2", "ospf", ip="10.20.0.2", interfaces="name=ens21,ip=10.5.0.2/30"))
    dry = ok(c.get("/cluster/sdn/dry-run", params={"node": "pve1"}))
    assert "+router openfabric f1\n" in dry["frr-diff"] and "+ net 49.0001.0100.0000.0001.00\n" in dry["frr-diff"]
    assert "+auto dummy_f1\n" in dry["interfaces-diff"]
    apply(c)

    assert ok(c.get("/nodes/pve1/sdn/fabrics/f1")) == [{"subdir": "neighbors"}, {"subdir": "routes"}]
    assert ok(c.get("/nodes/pve1/sdn/fabrics/f1/routes")) == [{"route": "10.0.0.2/32", "via": ["10.0.0.2"]}]
    neighbors = ok(c.get("/nodes/pve1/sdn/fabrics/f1/neighbors"))
    assert [(n["neighbor"], n["status"]) for n in neighbors] == [("pve2", "Up")] and re.match(r"^\d+s$", neighbors[0]["uptime"])
    assert ok(c.get("/nodes/pve1/sdn/fabrics/f1/interfaces")) == [
        {"name": "dummy_f1", "state": "Up", "type": "Loopback"}, {"name": "ens19", "state": "Up", "type": "Point-To-Point"},
        {"name": "ens20", "state": "Up", "type": "Point-To-Point"}]
    assert ok(c.get("/nodes/pve2/sdn/fabrics/o1/routes")) == [{"route": "10.20.0.1/32", "via": ["10.5.0.1"]}]
    assert [(n["neighbor"], n["status"]) for n in ok(c.get("/nodes/pve2/sdn/fabrics/o1/neighbors"))] == [("10.5.0.1", "Full/DR")]
    assert ok(c.get("/nodes/pve2/sdn/fabrics/o1/interfaces")) == [
        {"name": "dummy_o1", "state": "up", "type": "Broadcast"}, {"name": "ens21", "state": "up", "type": "Broadcast"}]
    for what in ("routes", "neighbors", "interfaces"):  # pve3 is not in the fabric
        assert ok(c.get(f"/nodes/pve3/sdn/fabrics/f1/{what}")) == []
    assert failed(c.get("/nodes/pve1/sdn/fabrics/zz/routes")) == "fabric 'zz' does not exist in configuration\n"
    assert failed(c.get("/nodes/pve9/sdn/fabrics/f1/routes")).startswith("hostname lookup 'pve9' failed")
    # A change is not what the nodes run until it is applied
    ok(c.delete("/cluster/sdn/fabrics/node/f1/pve2"))
    assert ok(c.get("/nodes/pve1/sdn/fabrics/f1/routes")) == [{"route": "10.0.0.2/32", "via": ["10.0.0.2"]}]
    apply(c)
    assert ok(c.get("/nodes/pve1/sdn/fabrics/f1/routes")) == []


def token(info, *grants, user: str = "fab@pve") -> httpx.Client:
    """A token of `user` without privilege separation; each grant (path, role) goes to the user."""
    control = info.control
    if user not in control.access()["users"]:
        control.add_user(user, "secret-password")
    made = control.add_token(user, "tk", privsep=False)
    for path, role in grants:
        control.add_acl(path, role, users=[user])
    return client(info, f"PVEAPIToken={made['full-tokenid']}={made['value']}")


def denied(response, what: str) -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.json()["message"] == f"Permission check failed ({what})\n"


def test_permissions(remote):
    c = client(remote)
    openfabric(c, "f1")
    openfabric(c, "f2", "10.1.0.0/24")
    ok(node(c, "f1", "pve1", ip="10.0.0.1"))
    ok(node(c, "f2", "pve2", ip="10.1.0.2"))
    auditor = token(remote, ("/sdn/fabrics/f1", "PVEAuditor"))
    assert [f["id"] for f in ok(auditor.get("/cluster/sdn/fabrics/fabric"))] == ["f1"]
    assert ok(auditor.get("/cluster/sdn/fabrics/node")) == []  # no Sys.Audit on any node
    denied(auditor.get("/cluster/sdn/fabrics/fabric/f2"), "/sdn/fabrics/f2, SDN.Audit|SDN.Allocate")
    denied(auditor.get("/cluster/sdn/fabrics/node/f1/pve1"), "/nodes/pve1, Sys.Audit|Sys.Modify")
    remote.control.add_acl("/nodes/pve1", "PVEAuditor", users=["fab@pve"])
    assert [n["node_id"] for n in ok(auditor.get("/cluster/sdn/fabrics/node"))] == ["pve1"]
    assert [n["node_id"] for n in ok(auditor.get("/cluster/sdn/fabrics/node/f1"))] == ["pve1"]
    assert ok(auditor.get("/cluster/sdn/fabrics/node/f1/pve1"))["ip"] == "10.0.0.1"
    # /fabrics/all checks the node on /nodes/<fabric>_<node> (its key in pve-rs's list_all)
    assert ok(auditor.get("/cluster/sdn/fabrics/all"))["nodes"] == []
    remote.control.add_acl("/nodes", "PVEAuditor", users=["fab@pve"])
    assert [n["node_id"] for n in ok(auditor.get("/cluster/sdn/fabrics/all"))["nodes"]] == ["pve1"]
    assert ok(auditor.get("/nodes/pve1/sdn/fabrics/f1")) == [{"subdir": "neighbors"}, {"subdir": "routes"}]
    denied(auditor.get("/nodes/pve1/sdn/fabrics/f2/routes"), "/sdn/fabrics/f2, SDN.Audit")

    admin = token(remote, ("/sdn/fabrics", "PVESDNAdmin"), user="fabadmin@pve")
    ok(admin.put("/cluster/sdn/fabrics/fabric/f1", data={"protocol": "openfabric", "hello_interval": 4}))
    denied(node(admin, "f1", "pve2", ip="10.0.0.2"), "/nodes/pve2, Sys.Modify")
    # The fabric delete checks Sys.Modify on each of its nodes in code
    assert failed(admin.delete("/cluster/sdn/fabrics/fabric/f1")) == \
        f"deleting fabric failed: permission check failed: missing 'Sys.Modify' on node pve1 at {FABRIC_PM} line 231.\n"
    remote.control.add_role("NodeModify", ["Sys.Modify"])
    remote.control.add_acl("/nodes/pve1", "NodeModify", users=["fabadmin@pve"])
    ok(admin.delete("/cluster/sdn/fabrics/fabric/f1"))
    denied(auditor.post("/cluster/sdn/fabrics/fabric", data={"id": "f3", "protocol": "openfabric", "ip_prefix": "10.3.0.0/24"}),
           "/sdn/fabrics, SDN.Allocate")


def test_pve8_has_no_fabrics(emulator):
    old = client(_fresh(emulator, "remote003"))
    for path in ("/cluster/sdn/fabrics", "/cluster/sdn/fabrics/fabric", "/cluster/sdn/fabrics/all", "/nodes/pve1/sdn/fabrics/f1/routes"):
        assert old.get(path).status_code == 501
