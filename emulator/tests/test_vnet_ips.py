"""The IPAM side of the emulator (ipam.py, ips_api.py) over real HTTPS: the pve IPAM's state file
as subnet writes and `/cluster/sdn/vnets/{vnet}/ips` change it, and `GET /cluster/sdn/ipams/pve/status`.

Texts and lookups as pve-network 1.3.0 has them: API2/Network/SDN/Ips.pm, Ipams.pm ipamindex,
Network/SDN/Vnets.pm, Subnets.pm, SubnetPlugin.pm on_update_hook, Ipams.pm, Ipams/PVEPlugin.pm.
"""
from __future__ import annotations

import json

import httpx
import pytest
from emulator_api_client import apply, client, fresh, ok, refused

from pvefleet_emulator.testing import EmulatorProcess

MAC = "bc:24:11:00:00:01"
MAC2 = "bc:24:11:00:00:02"
NO_SUBNET = "can't find any subnet for ip {} at /usr/share/perl5/PVE/Network/SDN/Subnets.pm line 115.\n"
NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=1, nodes=1, task_seconds=0.1, workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator):
    return fresh(emulator)


def layout(c: httpx.Client) -> None:
    """z1: pve IPAM and DHCP, vnet v1 with 10.0.0.0/24 (gateway .1) and fd00::/64 (gateway ::1);
    z2: no IPAM, vnet v2 with 10.2.0.0/24. Applied."""
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "ipam": "pve", "dhcp": "dnsmasq"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v1", "zone": "z1"}))
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1"}))
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "fd00::/64", "type": "subnet", "gateway": "fd00::1"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "z2", "type": "simple"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v2", "zone": "z2"}))
    ok(c.post("/cluster/sdn/vnets/v2/subnets", data={"subnet": "10.2.0.0/24", "type": "subnet", "gateway": "10.2.0.1"}))
    apply(c)


def ips(info, zone: str = "z1", cidr: str = "10.0.0.0/24") -> dict:
    return info.control.state()["ipam_db"]["zones"][zone]["subnets"][cidr]["ips"]


def failed(response, message: str) -> None:
    assert refused(response, 500) == message


def test_subnet_writes_register_the_subnet_and_its_gateway(remote, emulator):
    c = client(remote)
    layout(c)
    db = remote.control.state()["ipam_db"]
    assert db == {"zones": {"z1": {"subnets": {"10.0.0.0/24": {"ips": {"10.0.0.1": {"gateway": 1}}},
                                               "fd00::/64": {"ips": {"fd00::1": {"gateway": 1}}}}}}}
    # The state file PVE 9 keeps (PVEPlugin.pm $ipamdb_file), not the old priv/ipam.db.
    saved = emulator.state_dir / "remote001" / "sdn" / "pve-ipam-state.json"
    assert json.loads(saved.read_text()) == db
    # A changed gateway: the new one added, the old one removed; a deleted one removed.
    ok(c.put("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24", data={"gateway": "10.0.0.254"}))
    assert ips(remote) == {"10.0.0.254": {"gateway": 1}}
    ok(c.put("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24", data={"delete": "gateway"}))
    assert ips(remote) == {}
    # A /32 IPv4 gateway is point-to-point: not registered.
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.9.9.9/32", "type": "subnet", "gateway": "10.1.1.1"}))
    assert ips(remote, cidr="10.9.9.9/32") == {}
    # A gateway on an address already mapped: refused, and the config is not written.
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.7", "mac": MAC}))
    failed(c.put("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24", data={"gateway": "10.0.0.7"}),
           "update sdn subnet object failed: IP '10.0.0.7' already exist\n")
    assert "gateway" not in ok(c.get("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"))


def test_create_update_delete_a_mapping(remote):
    c = client(remote)
    layout(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC}))
    assert ips(remote)["10.0.0.5"] == {"mac": MAC}
    assert remote.control.state()["mac_cache"] == {"macs": {MAC: {"ip4": "10.0.0.5"}}}
    # IPv6 is stored canonical (NetAddr::IP canon).
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "FD00:0:0:0::5", "mac": MAC}))
    assert ips(remote, cidr="fd00::/64")["fd00::5"] == {"mac": MAC}
    # PUT moves the MAC's IP of the same version, with the vmid given.
    ok(c.put("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.6", "mac": MAC, "vmid": 100}))
    assert ips(remote) == {"10.0.0.1": {"gateway": 1}, "10.0.0.6": {"mac": MAC, "vmid": "100"}}
    assert ips(remote, cidr="fd00::/64")["fd00::5"] == {"mac": MAC}
    status = ok(c.get("/cluster/sdn/ipams/pve/status"))
    assert {"zone": "z1", "subnet": "10.0.0.0/24", "ip": "10.0.0.6", "vnet": "v1", "mac": MAC, "vmid": 100} in status
    ok(c.delete("/cluster/sdn/vnets/v1/ips", params={"zone": "z1", "ip": "10.0.0.6", "mac": MAC}))
    assert ips(remote) == {"10.0.0.1": {"gateway": 1}}
    assert remote.control.state()["mac_cache"] == {"macs": {MAC: {"ip6": "fd00::5"}}}
    # Subnets.pm add_ip appends the subnet's dnszoneprefix to the (empty) hostname.
    ok(c.put("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24", data={"dnszoneprefix": "lab.example"}))
    apply(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.9", "mac": MAC2}))
    assert ips(remote)["10.0.0.9"] == {"mac": MAC2, "hostname": ".lab.example"}
    # The mapping is not lock-aware: a lock held by another client does not stop it.
    remote.control.hold_lock()
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.8"}))
    assert ips(remote)["10.0.0.8"] == {"hostname": ".lab.example"}


def test_duplicate_missing_and_unknown_addresses(remote):
    c = client(remote)
    layout(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC}))
    failed(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC2}),
           "IP '10.0.0.5' already exist\n")
    failed(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.1", "mac": MAC2}),
           "IP '10.0.0.1' already exist\n")
    # ipdelete adds a newline to whatever it caught.
    failed(c.delete("/cluster/sdn/vnets/v1/ips", params={"zone": "z1", "ip": "10.0.0.9", "mac": MAC}),
           "IP '10.0.0.9' does not exist in IPAM DB\n\n")
    failed(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "192.168.1.5", "mac": MAC}),
           NO_SUBNET.format("192.168.1.5"))
    failed(c.delete("/cluster/sdn/vnets/v1/ips", params={"zone": "z1", "ip": "192.168.1.5"}),
           NO_SUBNET.format("192.168.1.5") + "\n")
    # A vnet that is not in the pending config has no zone to look up.
    failed(c.post("/cluster/sdn/vnets/v8/ips", data={"zone": "z1", "ip": "10.0.0.5"}), "no sdn zone ID specified\n")
    # PUT of a MAC without an IP of that version: del_ip of nothing.
    failed(c.put("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.20", "mac": MAC2}),
           NO_SUBNET.format(""))
    # PUT onto a taken address: the add fails, the old IP is added back (with the call's vmid).
    failed(c.put("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.1", "mac": MAC, "vmid": 101}),
           "IP '10.0.0.1' already exist\n\n")
    assert ips(remote)["10.0.0.5"] == {"mac": MAC, "vmid": "101"}


def test_subnet_only_pending_is_not_found(remote):
    """The subnet of the address comes from the running config; the IPAM registration is at once."""
    c = client(remote)
    layout(c)
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.1.0/24", "type": "subnet", "gateway": "10.0.1.1"}))
    assert ips(remote, cidr="10.0.1.0/24") == {"10.0.1.1": {"gateway": 1}}
    failed(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.1.5", "mac": MAC}),
           NO_SUBNET.format("10.0.1.5"))
    apply(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.1.5", "mac": MAC}))
    # Deleted in the pending config but still running: the subnet has left the state file.
    ok(c.delete("/cluster/sdn/vnets/v1/ips", params={"zone": "z1", "ip": "10.0.1.5"}))
    ok(c.delete("/cluster/sdn/vnets/v1/subnets/z1-10.0.1.0-24"))
    failed(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.1.6", "mac": MAC}),
           "subnet '10.0.1.0/24' doesn't exist in IPAM DB\n")


def test_zone_without_ipam_and_external_ipam(remote):
    c = client(remote)
    layout(c)
    before = remote.control.state()["ipam_db"]
    ok(c.post("/cluster/sdn/vnets/v2/ips", data={"zone": "z2", "ip": "10.2.0.5", "mac": MAC}))
    ok(c.delete("/cluster/sdn/vnets/v2/ips", params={"zone": "z2", "ip": "10.2.0.77", "mac": MAC}))
    state = remote.control.state()
    assert state["ipam_db"] == before and state["mac_cache"] == {"macs": {}}
    # PUT finds no IP of the MAC without IPAM and DHCP: del_ip of nothing fails.
    failed(c.put("/cluster/sdn/vnets/v2/ips", data={"zone": "z2", "ip": "10.2.0.6", "mac": MAC}), NO_SUBNET.format(""))
    # An external IPAM is not contacted: accepted without effect on the state file.
    ok(c.post("/cluster/sdn/ipams", data={"ipam": "nb", "type": "netbox", "url": "https://nb", "token": "x"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "z3", "type": "simple", "ipam": "nb"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v3", "zone": "z3"}))
    ok(c.post("/cluster/sdn/vnets/v3/subnets", data={"subnet": "10.3.0.0/24", "type": "subnet", "gateway": "10.3.0.1"}))
    apply(c)
    ok(c.post("/cluster/sdn/vnets/v3/ips", data={"zone": "z3", "ip": "10.3.0.5", "mac": MAC}))
    ok(c.delete("/cluster/sdn/vnets/v3/ips", params={"zone": "z3", "ip": "10.3.0.5", "mac": MAC}))
    assert "z3" not in remote.control.state()["ipam_db"]["zones"]


def test_lock_token_is_refused(remote):
    c = client(remote)
    layout(c)
    token = ok(c.post("/cluster/sdn/lock"))
    for method in ("POST", "PUT"):
        answer = c.request(method, "/cluster/sdn/vnets/v1/ips",
                           data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC, "lock-token": token})
        assert refused(answer) == {"lock-token": NOT_IN_SCHEMA}
    answer = c.delete("/cluster/sdn/vnets/v1/ips", params={"zone": "z1", "ip": "10.0.0.5", "lock-token": token})
    assert refused(answer) == {"lock-token": NOT_IN_SCHEMA}


def test_permission_is_sdn_allocate_on_the_zone_as_sent(remote):
    layout(client(remote))
    control = remote.control
    control.add_user("ipam@pve", "secret-password")
    made = control.add_token("ipam@pve", "tk", privsep=False)
    control.add_acl("/sdn/zones/z1/v1", "PVESDNAdmin", users=["ipam@pve"])
    control.add_acl("/sdn/zones/z2", "PVEAuditor", users=["ipam@pve"])
    c = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC}))
    denied = c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z2", "ip": "10.0.0.6", "mac": MAC2})
    assert refused(denied, 403) == "Permission check failed (/sdn/zones/z2/v1, SDN.Allocate)\n"
    assert refused(c.delete("/cluster/sdn/vnets/v2/ips", params={"zone": "z2", "ip": "10.2.0.5"}), 403) == \
        "Permission check failed (/sdn/zones/z2/v2, SDN.Allocate)\n"
    # The status lists only the entries of vnets the caller may read.
    assert {e["vnet"] for e in ok(c.get("/cluster/sdn/ipams/pve/status"))} == {"v1"}
    control.remove_acl("/sdn/zones/z1/v1", "PVESDNAdmin", users=["ipam@pve"])
    assert ok(c.get("/cluster/sdn/ipams/pve/status")) == []


def test_status_lists_running_zones_with_ipam_pve_and_dhcp(remote):
    c = client(remote)
    layout(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC}))
    assert ok(c.get("/cluster/sdn/ipams/pve/status")) == [
        {"zone": "z1", "subnet": "10.0.0.0/24", "ip": "10.0.0.1", "vnet": "v1", "gateway": 1},
        {"zone": "z1", "subnet": "10.0.0.0/24", "ip": "10.0.0.5", "vnet": "v1", "mac": MAC},
        {"zone": "z1", "subnet": "fd00::/64", "ip": "fd00::1", "vnet": "v1", "gateway": 1}]
    # DHCP removed in the pending config only: the running zone still has it.
    ok(c.put("/cluster/sdn/zones/z1", data={"delete": "dhcp"}))
    assert len(ok(c.get("/cluster/sdn/ipams/pve/status"))) == 3
    apply(c)
    assert ok(c.get("/cluster/sdn/ipams/pve/status")) == []
    failed(c.get("/cluster/sdn/ipams/other/status"),
           "Currently only PVE IPAM is supported! at /usr/share/perl5/PVE/API2/Network/SDN/Ipams.pm line 319.\n")


def test_subnet_delete_is_refused_while_a_mapping_remains(remote):
    c = client(remote)
    layout(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC}))
    failed(c.delete("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"),
           "delete sdn subnet object failed: cannot delete subnet '10.0.0.0/24', not empty\n")
    assert "z1-10.0.0.0-24" in ok(c.get("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"))["id"]
    ok(c.delete("/cluster/sdn/vnets/v1/ips", params={"zone": "z1", "ip": "10.0.0.5"}))
    ok(c.delete("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"))  # only the gateway is left
    assert list(remote.control.state()["ipam_db"]["zones"]["z1"]["subnets"]) == ["fd00::/64"]
    # An unknown subnet in a zone with the pve IPAM: del_subnet finds no zone ''.
    failed(c.delete("/cluster/sdn/vnets/v1/subnets/z1-10.7.0.0-24"),
           "delete sdn subnet object failed: zone '' doesn't exist in IPAM DB\n")
    ok(c.delete("/cluster/sdn/vnets/v2/subnets/z2-10.7.0.0-24"))  # no IPAM: a no-op


def test_rollback_leaves_the_ipam_db(remote):
    c = client(remote)
    layout(c)
    ok(c.post("/cluster/sdn/vnets/v1/ips", data={"zone": "z1", "ip": "10.0.0.5", "mac": MAC}))
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.1.0/24", "type": "subnet", "gateway": "10.0.1.1"}))
    before = remote.control.state()
    token = ok(c.post("/cluster/sdn/lock", data={"allow-pending": 1}))
    ok(c.post("/cluster/sdn/rollback", data={"lock-token": token, "release-lock": 1}))
    after = remote.control.state()
    assert "z1-10.0.1.0-24" not in after["pending"]["subnets"]
    assert after["ipam_db"] == before["ipam_db"] and "10.0.1.0/24" in after["ipam_db"]["zones"]["z1"]["subnets"]
    assert after["mac_cache"] == before["mac_cache"]
