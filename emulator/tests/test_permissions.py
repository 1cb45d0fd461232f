"""PVE's permission model in the emulator, over real HTTPS with a client of its own (httpx).

What is expected comes from PVE's own schema (the `permissions` entry of each endpoint, read here
from the schema file itself) and, where the schema only describes the check, from the code of
pve-network (API2/Network/SDN/*.pm), pve-manager (API2/Tasks.pm, Nodes.pm, Cluster.pm) and
pve-access-control (AccessControl.pm, RPCEnvironment.pm, API2/AccessControl.pm).
"""
from __future__ import annotations

import importlib
import json
import re
import ssl
import subprocess
import sys
import time
from importlib import resources

import httpx
import pytest
import yaml
from emulator_api_client import fresh

from pvefleet_emulator.control import ControlError
from pvefleet_emulator.testing import EmulatorProcess

USER = "perm@pve"

# AccessControl.pm create_roles, for libpve-access-control 9.0.3 to 9.1.1 (PVE 9.1.x).
EXPECTED_ROLES = {
    "NoAccess": [],
    "PVEAuditor": ["Datastore.Audit", "Mapping.Audit", "Pool.Audit", "SDN.Audit", "Sys.Audit", "VM.Audit",
                   "VM.GuestAgent.Audit"],
    "PVESDNUser": ["SDN.Audit", "SDN.Use"],
    "PVESDNAdmin": ["SDN.Allocate", "SDN.Audit", "SDN.Use"],
    "PVESysAdmin": ["Sys.Audit", "Sys.Console", "Sys.Syslog"],
    "PVETemplateUser": ["VM.Audit", "VM.Clone"],
    "Administrator": sorted([
        "VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType",
        "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.Replicate",
        "VM.Snapshot", "VM.Snapshot.Rollback", "VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup",
        "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite", "VM.PowerMgmt",
        "VM.Audit", "VM.GuestAgent.Audit", "Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork",
        "Sys.Console", "Sys.Syslog", "Sys.Audit", "Datastore.Allocate", "Datastore.AllocateTemplate",
        "Datastore.AllocateSpace", "Datastore.Audit", "SDN.Allocate", "SDN.Audit", "SDN.Use", "Realm.Allocate",
        "User.Modify", "Group.Allocate", "Realm.AllocateUser", "Pool.Allocate", "Pool.Audit", "Mapping.Modify",
        "Mapping.Use", "Mapping.Audit", "Permissions.Modify"]),
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=1, nodes=2, task_seconds=0.3, workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator):
    return fresh(emulator)


def client(info, authorization: str | None = None, *, headers: dict | None = None, **kwargs) -> httpx.Client:
    headers = {**({"Authorization": authorization} if authorization else {}), **(headers or {})}
    return httpx.Client(base_url=f"https://{info.host}:{info.port}/api2/json", headers=headers,
                        verify=ssl.create_default_context(cafile=info.ca_path), timeout=10, **kwargs)


def root(info) -> httpx.Client:
    return client(info, f"PVEAPIToken=root@pam!fleet={info.root_token_secret}")


def ok(response) -> object:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()["data"]


def denied(response, what: str) -> None:
    """pveproxy's answer to a failed check: 403, the message's first line as reason, PVE's JSON
    envelope, the connection closed."""
    message = f"Permission check failed ({what})\n"
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.json() == {"data": None, "message": message}
    assert response.reason_phrase == message.strip()
    assert response.headers["connection"].lower() == "close"


def token(info, *grants, user: str = USER, name: str = "tk", privsep: bool = False) -> httpx.Client:
    """A client with a new token of `user` (made if missing); each grant (path, role[, propagate])
    goes to the user, and to the token too if it is privsep."""
    control = info.control
    if user not in control.access()["users"]:
        control.add_user(user, "secret-password")
    made = control.add_token(user, name, privsep=privsep)
    for grant in grants:
        path, role, propagate = (*grant, True)[:3]
        control.add_acl(path, role, users=[user], tokens=[made["full-tokenid"]] if privsep else [],
                        propagate=propagate)
    return client(info, f"PVEAPIToken={made['full-tokenid']}={made['value']}")


def seed(info) -> None:
    """Objects for every endpoint to work on, applied once (so that the nodes have zones)."""
    c = root(info)
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "ipam": "pve"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "z2", "type": "simple", "ipam": "pve"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "z3", "type": "simple"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v1", "zone": "z1"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v2", "zone": "z2"}))
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1"}))
    ok(c.post("/cluster/sdn/vnets/v2/subnets", data={"subnet": "10.1.0.0/24", "type": "subnet", "gateway": "10.1.0.1"}))
    ok(c.post("/cluster/sdn/controllers", data={"controller": "c1", "type": "evpn", "asn": 65000, "peers": "10.0.0.1"}))
    ok(c.post("/cluster/sdn/controllers", data={"controller": "c2", "type": "bgp", "node": "pve1", "asn": 65001, "peers": "10.0.0.2"}))
    ok(c.post("/cluster/sdn/ipams", data={"ipam": "i1", "type": "netbox", "url": "https://nb", "token": "x"}))
    ok(c.post("/cluster/sdn/dns", data={"dns": "d1", "type": "powerdns", "url": "https://pdns", "key": "k"}))
    ok(c.post("/cluster/sdn/dns", data={"dns": "d2", "type": "powerdns", "url": "https://pdns", "key": "k"}))
    upid = ok(c.put("/cluster/sdn"))
    wait_task(c, upid)


def wait_task(c: httpx.Client, upid: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        status = ok(c.get(f"/nodes/{upid.split(':')[1]}/tasks/{upid}/status"))
        if status["status"] == "stopped":
            return status
        assert time.monotonic() < deadline
        time.sleep(0.05)


# Every endpoint whose schema entry is a `perm` check: the call (path values, parameters) that
# works once the check passes. The check itself is read from PVE's schema below.
VALUES = {"zone": "z3", "vnet": "v1", "controller": "c1", "ipam": "i1", "dns": "d1", "node": "pve1"}
PERM_CALLS = {
    ("GET", "/cluster/sdn"): {},
    ("PUT", "/cluster/sdn"): {},
    ("POST", "/cluster/sdn/lock"): {},
    ("DELETE", "/cluster/sdn/lock"): {},
    ("POST", "/cluster/sdn/rollback"): {},
    ("GET", "/cluster/sdn/dry-run"): {"node": "pve1"},
    ("GET", "/cluster/sdn/zones/{zone}"): {},
    ("POST", "/cluster/sdn/zones"): {"zone": "z9", "type": "simple"},
    ("PUT", "/cluster/sdn/zones/{zone}"): {"mtu": 1400},
    ("DELETE", "/cluster/sdn/zones/{zone}"): {},
    ("GET", "/cluster/sdn/controllers/{controller}"): {},
    ("POST", "/cluster/sdn/controllers"): {"controller": "c9", "type": "bgp", "node": "pve2", "asn": 65009, "peers": "10.0.0.3"},
    # 65001, the iBGP ASN of c2 (bgp, pve1): PVE 9.2 refuses two iBGP ASNs on a node (get_default_router_asn)
    ("PUT", "/cluster/sdn/controllers/{controller}"): {"asn": 65001},
    ("DELETE", "/cluster/sdn/controllers/{controller}"): {},
    ("GET", "/cluster/sdn/ipams/{ipam}"): {},
    ("POST", "/cluster/sdn/ipams"): {"ipam": "i9", "type": "netbox", "url": "https://nb", "token": "y"},
    ("PUT", "/cluster/sdn/ipams/{ipam}"): {"url": "https://nb2"},
    ("DELETE", "/cluster/sdn/ipams/{ipam}"): {},
    ("GET", "/cluster/sdn/dns/{dns}"): {},
    ("POST", "/cluster/sdn/dns"): {"dns": "d9", "type": "powerdns", "url": "https://pdns", "key": "k"},
    ("PUT", "/cluster/sdn/dns/{dns}"): {"ttl": 60},
    ("DELETE", "/cluster/sdn/dns/{dns}"): {},
    ("POST", "/cluster/sdn/vnets"): {"vnet": "v9", "zone": "z3"},
    ("GET", "/cluster/sdn/fabrics"): {},
    ("GET", "/nodes/{node}/sdn/zones/{zone}"): {},
    ("GET", "/nodes/{node}/sdn/zones/{zone}/content"): {},
    ("PUT", "/nodes/{node}/network"): {},
    ("GET", "/cluster/status"): {},
}
# The endpoints outside the schema file's extract, with their entry in PVE's code:
# pve-manager API2/Cluster.pm get_status.
EXTRA_PERMISSIONS = {("GET", "/cluster/status"): {"check": ["perm", "/", ["Sys.Audit"]]}}


def schema_permissions(method: str, template: str) -> dict:
    if (method, template) in EXTRA_PERMISSIONS:
        return EXTRA_PERMISSIONS[(method, template)]
    text = resources.files("pvefleet_emulator").joinpath("data/pve-sdn-apidoc.json").read_text(encoding="utf-8")

    def find(node: dict):
        if node.get("path") == template:
            return node["info"][method]["permissions"]
        for child in node.get("children") or []:
            found = find(child)
            if found is not None:
                return found
        return None

    for tree in json.loads(text)["subtrees"].values():
        found = find(tree)
        if found is not None:
            return found
    raise KeyError((method, template))


def needed_checks(check: list, values: dict) -> list[tuple[str, list[str], bool]]:
    """(path, privileges, any) for each `perm` of a check expression (`and` of them too)."""
    if check[0] == "and":
        return [item for sub in check[1:] for item in needed_checks(sub, values)]
    assert check[0] == "perm", check
    options = dict(zip(check[3::2], check[4::2]))
    path = re.sub(r"\{([^}]+)\}", lambda m: str(values.get(m.group(1)) or "-"), check[1])
    return [(path, list(check[2]), bool(options.get("any")))]


@pytest.mark.parametrize(("method", "template"), sorted(PERM_CALLS))
def test_each_perm_check_of_the_schema(remote, method, template):
    """Without the privilege: 403 naming the path and privilege; with it only on the parent,
    not propagated: 403 still; with exactly it, on exactly that path, not propagated: done."""
    seed(remote)
    params = PERM_CALLS[(method, template)]
    values = {**VALUES, **params}
    path = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)
    checks = needed_checks(schema_permissions(method, template)["check"], values)
    privs = sorted({check[1][0] for check in checks})
    remote.control.add_role("Needed", privs)
    c = token(remote)

    def call():
        if method in ("GET", "DELETE"):
            return c.request(method, path, params=params)
        return c.request(method, path, data=params)

    first_path, first_privs, first_any = checks[0]
    denied(call(), f"{first_path}, {'|'.join(first_privs) if first_any else first_privs[0]}")
    for check_path, _privs, _any in checks:
        parent = check_path.rsplit("/", 1)[0] or "/"
        if check_path != "/":
            remote.control.add_acl(parent, "Needed", users=[USER], propagate=False)
    if first_path != "/":
        denied(call(), f"{first_path}, {'|'.join(first_privs) if first_any else first_privs[0]}")
    for check_path, _privs, _any in checks:
        remote.control.add_acl(check_path, "Needed", users=[USER], propagate=False)
    assert call().status_code == 200


def test_root_at_pam_passes_every_check(remote):
    seed(remote)
    base = f"https://{remote.host}:{remote.port}/api2/json"
    login = ok(httpx.post(base + "/access/ticket", data={"username": "root@pam", "password": remote.password},
                          verify=ssl.create_default_context(cafile=remote.ca_path)))
    c = client(remote, cookies={"PVEAuthCookie": login["ticket"]},
               headers={"CSRFPreventionToken": login["CSRFPreventionToken"]})
    order = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}  # deletes last: they remove what the others use
    for (method, template), params in sorted(PERM_CALLS.items(), key=lambda item: (order[item[0][0]], item[0][1])):
        if (method, template) in (("PUT", "/cluster/sdn"), ("POST", "/cluster/sdn/lock"), ("POST", "/cluster/sdn/vnets")):
            continue  # a lock taken, an apply or a vnet in z3 would change what comes next
        values = {**VALUES, **params}
        path = re.sub(r"\{([^}]+)\}", lambda m, values=values: values[m.group(1)], template)
        response = c.request(method, path, **({"params": params} if method in ("GET", "DELETE") else {"data": params}))
        assert response.status_code == 200, (method, path, response.text)
    assert [z["zone"] for z in ok(c.get("/cluster/sdn/zones"))] == ["z1", "z2", "z9"]
    # root@pam passes before any path is made, so a parameter that makes no valid path reaches the
    # handler (its token gets a 403 for it: test_undefined_check_path_fails_even_for_roots_token).
    bad = c.post("/cluster/sdn/vnets", data={"vnet": "v9", "zone": "z 1"})
    assert bad.status_code == 500 and "Permission check failed" not in bad.text


# The endpoints whose schema entry is "user: all" with a description: their checks are in the code.


def test_zone_controller_ipam_dns_indexes_list_what_the_caller_may_see(remote):
    seed(remote)
    c = token(remote, ("/sdn/zones/z1", "PVEAuditor"), ("/sdn/zones/z3", "PVESDNAdmin"),
              ("/sdn/controllers/c2", "PVEAuditor"), ("/sdn/ipams/i1", "PVESDNAdmin"), ("/sdn/dns/d2", "PVEAuditor"))
    assert [z["zone"] for z in ok(c.get("/cluster/sdn/zones"))] == ["z1", "z3"]
    assert [z["zone"] for z in ok(c.get("/cluster/sdn/zones", params={"running": 1}))] == ["z1", "z3"]
    assert [z["controller"] for z in ok(c.get("/cluster/sdn/controllers"))] == ["c2"]
    assert [i["ipam"] for i in ok(c.get("/cluster/sdn/ipams"))] == ["i1"]
    assert [d["dns"] for d in ok(c.get("/cluster/sdn/dns"))] == ["d2"]
    nothing = token(remote, user="other@pve")
    for kind in ("zones", "controllers", "ipams", "dns", "vnets"):
        assert ok(nothing.get(f"/cluster/sdn/{kind}")) == []
    # SDN.Use alone is neither SDN.Audit nor SDN.Allocate
    remote.control.add_role("UseOnly", ["SDN.Use"])
    use = token(remote, ("/sdn", "UseOnly"), user="user@pve")
    assert ok(use.get("/cluster/sdn/zones")) == []


def test_vnet_index_and_calls_check_the_vnets_zone(remote):
    seed(remote)
    ok(root(remote).post("/cluster/sdn/vnets", data={"vnet": "v3", "zone": "z1"}))  # pending only
    c = token(remote, ("/sdn/zones/z1/v1", "PVEAuditor"))
    assert [v["vnet"] for v in ok(c.get("/cluster/sdn/vnets"))] == ["v1"]
    zone_wide = token(remote, ("/sdn/zones/z1", "PVEAuditor"), user="zone@pve")
    assert [v["vnet"] for v in ok(zone_wide.get("/cluster/sdn/vnets"))] == ["v1", "v3"]
    # In the pending view a new vnet has its zone under `pending` only: still found.
    pending = ok(zone_wide.get("/cluster/sdn/vnets", params={"pending": 1}))
    assert [(v["vnet"], v.get("state")) for v in pending] == [("v1", None), ("v3", "new")]
    assert ok(c.get("/cluster/sdn/vnets/v1"))["vnet"] == "v1"
    denied(c.get("/cluster/sdn/vnets/v2"), "/sdn/zones/z2/v2, SDN.Audit|SDN.Allocate")
    denied(c.put("/cluster/sdn/vnets/v1", data={"alias": "x"}), "/sdn/zones/z1/v1, SDN.Allocate")
    denied(c.delete("/cluster/sdn/vnets/v1"), "/sdn/zones/z1/v1, SDN.Allocate")
    # The vnet is looked up first: an unknown one is the lookup's 500, for anyone.
    missing = c.get("/cluster/sdn/vnets/nope")
    assert missing.status_code == 500 and missing.json()["message"] == "sdn vnet 'nope' does not exist\n"
    admin = token(remote, ("/sdn/zones/z1/v1", "PVESDNAdmin"), user="admin@pve")
    ok(admin.put("/cluster/sdn/vnets/v1", data={"alias": "x"}))
    # Creating needs SDN.Allocate on the zone (the schema's check), not on the vnet
    denied(admin.post("/cluster/sdn/vnets", data={"vnet": "v4", "zone": "z1"}), "/sdn/zones/z1, SDN.Allocate")


def test_subnets_are_checked_through_their_vnet(remote):
    seed(remote)
    c = token(remote, ("/sdn/zones/z1/v1", "PVEAuditor"))
    assert [s["id"] for s in ok(c.get("/cluster/sdn/vnets/v1/subnets"))] == ["z1-10.0.0.0-24"]
    assert ok(c.get("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"))["cidr"] == "10.0.0.0/24"
    denied(c.get("/cluster/sdn/vnets/v2/subnets"), "/sdn/zones/z2/v2, SDN.Audit|SDN.Allocate")
    denied(c.get("/cluster/sdn/vnets/v2/subnets/z2-10.1.0.0-24"), "/sdn/zones/z2/v2, SDN.Audit|SDN.Allocate")
    denied(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.1.0/24", "type": "subnet"}),
           "/sdn/zones/z1/v1, SDN.Allocate")
    denied(c.put("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24", data={"gateway": "10.0.0.2"}),
           "/sdn/zones/z1/v1, SDN.Allocate")
    denied(c.delete("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"), "/sdn/zones/z1/v1, SDN.Allocate")
    admin = token(remote, ("/sdn/zones/z1", "PVESDNAdmin"), user="admin@pve")
    ok(admin.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.1.0/24", "type": "subnet"}))
    ok(admin.put("/cluster/sdn/vnets/v1/subnets/z1-10.0.1.0-24", data={"gateway": "10.0.1.1"}))
    ok(admin.delete("/cluster/sdn/vnets/v1/subnets/z1-10.0.1.0-24"))
    # The lookup reads the pending vnets, whatever `running` says (check_vnet_access).
    ok(root(remote).delete("/cluster/sdn/vnets/v2/subnets/z2-10.1.0.0-24"))
    ok(root(remote).delete("/cluster/sdn/vnets/v2"))
    gone = root(remote).get("/cluster/sdn/vnets/v2/subnets", params={"running": 1})
    assert gone.status_code == 500 and gone.json()["message"] == "sdn vnet 'v2' does not exist\n"


def test_ipam_status_lists_the_entries_of_visible_vnets(remote):
    seed(remote)
    # Ipams.pm ipamindex lists only zones whose running config has DHCP too.
    for zone in ("z1", "z2"):
        ok(root(remote).put(f"/cluster/sdn/zones/{zone}", data={"dhcp": "dnsmasq"}))
    wait_task(root(remote), ok(root(remote).put("/cluster/sdn")))
    everything = ok(root(remote).get("/cluster/sdn/ipams/pve/status"))
    assert {e["vnet"] for e in everything} == {"v1", "v2"}
    c = token(remote, ("/sdn/zones/z2/v2", "PVESDNAdmin"))
    assert {e["vnet"] for e in ok(c.get("/cluster/sdn/ipams/pve/status"))} == {"v2"}
    assert ok(token(remote, user="other@pve").get("/cluster/sdn/ipams/pve/status")) == []


def test_tasks_are_their_owners_or_need_sys_audit(remote):
    seed(remote)
    remote.control.add_user(USER, "pw")
    own = token(remote, ("/sdn", "PVESDNAdmin"), name="own")
    sibling = token(remote, name="sibling")
    upid = ok(own.put("/cluster/sdn"))
    assert upid.split(":")[7] == f"{USER}!own"
    assert wait_task(own, upid)["exitstatus"] == "OK"  # a token owns the tasks it started
    assert ok(own.get(f"/nodes/pve1/tasks/{upid}/log"))
    denied(sibling.get(f"/nodes/pve1/tasks/{upid}/status"), "/nodes/pve1, Sys.Audit")
    denied(sibling.get(f"/nodes/pve1/tasks/{upid}/log"), "/nodes/pve1, Sys.Audit")
    denied(sibling.delete(f"/nodes/pve1/tasks/{upid}"), "/nodes/pve1, Sys.Modify")
    assert ok(sibling.get(f"/nodes/pve1/tasks/{upid}")) == [{"name": "log"}, {"name": "status"}]  # user all
    # The token's user sees its token's tasks (log in as the user for a ticket).
    base = f"https://{remote.host}:{remote.port}/api2/json"
    login = ok(httpx.post(base + "/access/ticket", data={"username": USER, "password": "pw"},
                          verify=ssl.create_default_context(cafile=remote.ca_path)))
    user = client(remote, cookies={"PVEAuthCookie": login["ticket"]})
    assert ok(user.get(f"/nodes/pve1/tasks/{upid}/status"))["tokenid"] == "own"
    # Lists: own tasks only, all of them with Sys.Audit on the node.
    assert [t["upid"] for t in ok(own.get("/nodes/pve1/tasks"))] == [upid]
    assert ok(sibling.get("/nodes/pve1/tasks")) == []
    assert [t["upid"] for t in ok(user.get("/nodes/pve1/tasks"))] == [upid]
    auditor = token(remote, ("/nodes/pve1", "PVEAuditor"), user="auditor@pve")
    assert ok(auditor.get(f"/nodes/pve1/tasks/{upid}/status"))["status"] == "stopped"
    assert len(ok(auditor.get("/nodes/pve1/tasks"))) == len(ok(root(remote).get("/nodes/pve1/tasks"))) > 1
    assert ok(auditor.get("/nodes/pve2/tasks")) == []  # Sys.Audit on pve1 is not on pve2
    # The cluster's task list: all with Sys.Audit on /, else the ones whose user is the caller
    # (a token task counts as its user's), so a token without it sees none, even its own.
    assert [t["upid"] for t in ok(user.get("/cluster/tasks"))] == [upid]
    assert ok(own.get("/cluster/tasks")) == []
    assert ok(auditor.get("/cluster/tasks")) == []
    dc_auditor = token(remote, ("/", "PVEAuditor"), user="dc@pve")
    assert len(ok(dc_auditor.get("/cluster/tasks"))) == len(ok(root(remote).get("/cluster/tasks")))
    modifier = token(remote, ("/nodes/pve1", "PVESysAdmin"), user="mod@pve")
    denied(modifier.delete(f"/nodes/pve1/tasks/{upid}"), "/nodes/pve1, Sys.Modify")
    remote.control.add_role("NodeModify", ["Sys.Modify"])
    ok(token(remote, ("/nodes/pve1", "NodeModify"), user="mod2@pve").delete(f"/nodes/pve1/tasks/{upid}"))


def test_open_endpoints_and_node_lists(remote):
    seed(remote)
    c = token(remote)  # a token with no ACL entry at all
    assert ok(c.get("/version"))["release"] == "9.2"
    assert ok(c.get("/nodes/pve1")) and ok(c.get("/nodes/pve1/sdn"))
    assert ok(c.get("/cluster/sdn/fabrics/fabric")) == [] and ok(c.get("/cluster/sdn/fabrics/node")) == []
    assert ok(c.get("/cluster/sdn/fabrics/all")) == {"fabrics": [], "nodes": []}
    # /nodes lists every node; its figures only with Sys.Audit on the node (API2Tools extract_node_stats).
    without_figures = ["id", "level", "node", "ssl_fingerprint", "status", "type"]
    assert [sorted(n) for n in ok(c.get("/nodes"))] == [without_figures] * 2
    audit = token(remote, ("/nodes/pve2", "PVEAuditor"), user="audit@pve")
    assert ["maxcpu" in n for n in ok(audit.get("/nodes"))] == [False, True]
    # The node's zone status: the schema says "only entries with SDN.Audit", but Nodes/Zones.pm
    # lists every zone of the node for any user.
    assert [z["zone"] for z in ok(c.get("/nodes/pve1/sdn/zones"))] == ["z1", "z2", "z3"]
    denied(c.get("/nodes/pve1/sdn/zones/z1/content"), "/sdn/zones/z1, SDN.Audit")
    assert ok(httpx.get(f"https://{remote.host}:{remote.port}/api2/json/access/ticket",
                        verify=ssl.create_default_context(cafile=remote.ca_path))) is None


# The model: paths, propagation, NoAccess, privilege separation, groups


def test_propagate_on_and_off(remote):
    seed(remote)
    flat = token(remote, ("/sdn/zones", "PVESDNAdmin", False))
    ok(flat.post("/cluster/sdn/zones", data={"zone": "z9", "type": "simple"}))  # on /sdn/zones itself
    denied(flat.get("/cluster/sdn/zones/z1"), "/sdn/zones/z1, SDN.Allocate")  # not below it
    assert ok(flat.get("/cluster/sdn/zones")) == []
    deep = token(remote, ("/sdn/zones", "PVESDNAdmin", True), user="deep@pve")
    assert ok(deep.get("/cluster/sdn/zones/z1"))["zone"] == "z1"
    assert ok(deep.get("/cluster/sdn/vnets/v1"))["vnet"] == "v1"  # two levels down


def test_the_most_specific_path_decides_and_noaccess_wins(remote):
    seed(remote)
    c = token(remote, ("/", "Administrator"), ("/sdn/zones/z1", "NoAccess"), ("/sdn/zones/z2", "PVEAuditor"))
    denied(c.get("/cluster/sdn/zones/z1"), "/sdn/zones/z1, SDN.Allocate")
    denied(c.get("/cluster/sdn/zones/z2"), "/sdn/zones/z2, SDN.Allocate")  # Auditor replaces Administrator
    assert ok(c.get("/cluster/sdn/zones/z3"))["zone"] == "z3"
    denied(c.get("/cluster/sdn/vnets/v1"), "/sdn/zones/z1/v1, SDN.Audit|SDN.Allocate")  # propagated NoAccess
    assert [z["zone"] for z in ok(c.get("/cluster/sdn/zones"))] == ["z2", "z3"]
    # NoAccess next to another role at the same path leaves nothing
    remote.control.add_acl("/sdn/zones/z3", ["PVESDNAdmin", "NoAccess"], users=[USER])
    denied(c.get("/cluster/sdn/zones/z3"), "/sdn/zones/z3, SDN.Allocate")
    # A more specific entry that does not propagate does not hide the ones above, below it
    remote.control.add_acl("/sdn", "NoAccess", users=[USER], propagate=False)
    ok(c.post("/cluster/sdn/zones", data={"zone": "z9", "type": "simple"}))
    denied(c.get("/cluster/sdn"), "/sdn, SDN.Audit")


def test_privilege_separated_tokens(remote):
    seed(remote)
    control = remote.control
    control.add_user(USER)
    control.add_acl("/sdn", "PVESDNAdmin", users=[USER])
    made = control.add_token(USER, "sep", privsep=True)
    sep = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    denied(sep.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")  # the user has it, the token not
    control.add_acl("/sdn", "PVEAuditor", tokens=[made["full-tokenid"]])
    assert ok(sep.get("/cluster/sdn"))  # Audit: both have it
    denied(sep.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")
    control.add_acl("/sdn", "PVESDNAdmin", tokens=[made["full-tokenid"]])
    ok(sep.post("/cluster/sdn/lock"))  # both have it
    ok(root(remote).delete("/cluster/sdn/lock", params={"force": 1}))
    control.remove_acl("/sdn", "PVESDNAdmin", users=[USER])
    denied(sep.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")  # the token has it, the user not any more
    # Without privsep a token has exactly its user's privileges, whatever its own entries say
    plain = control.add_token(USER, "plain", privsep=False)
    control.add_acl("/sdn", "Administrator", tokens=[plain["full-tokenid"]])
    same = client(remote, f"PVEAPIToken={plain['full-tokenid']}={plain['value']}")
    denied(same.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")
    control.add_acl("/sdn", "PVESDNAdmin", users=[USER])
    ok(same.post("/cluster/sdn/lock"))


def test_root_tokens(remote):
    """root@pam's token without privsep can do anything; with privsep it has only its own ACL
    entries (RPCEnvironment.pm does not intersect with root@pam's)."""
    seed(remote)
    assert ok(root(remote).get("/cluster/status"))
    made = remote.control.add_token("root@pam", "sep", privsep=True)
    sep = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    denied(sep.get("/cluster/sdn"), "/sdn, SDN.Audit")
    remote.control.add_acl("/sdn", "PVEAuditor", tokens=["root@pam!sep"])
    assert ok(sep.get("/cluster/sdn"))
    assert ok(sep.get("/access/permissions", params={"path": "/sdn"}))["/sdn"]["SDN.Audit"] == 1


def test_groups(remote):
    seed(remote)
    control = remote.control
    control.add_user(USER)
    control.add_group("netops", [USER])
    control.add_acl("/sdn/zones", "PVESDNAdmin", groups=["netops"])
    c = token(remote)
    assert ok(c.get("/cluster/sdn/zones/z1"))
    control.add_acl("/sdn/zones", "PVEAuditor", users=[USER])  # a user entry beats the group's, at a node
    denied(c.get("/cluster/sdn/zones/z1"), "/sdn/zones/z1, SDN.Allocate")
    control.remove_acl("/sdn/zones", "PVEAuditor", users=[USER])
    control.remove_group("netops")
    denied(c.get("/cluster/sdn/zones/z1"), "/sdn/zones/z1, SDN.Allocate")


def test_undefined_check_path_fails_even_for_roots_token(remote):
    """A parameter that makes no valid ACL path (normalize_path fails): RPCEnvironment.pm gives
    no privileges for an undefined path to anyone but root@pam itself."""
    response = root(remote).post("/cluster/sdn/vnets", data={"vnet": "v9", "zone": "z 1"})
    denied(response, ", SDN.Allocate")
    missing = root(remote).post("/cluster/sdn/vnets", data={"vnet": "v9"})  # '-' for a missing value
    assert missing.status_code == 400 and "zone" in missing.json()["errors"]


def test_disabled_and_expired_users_and_tokens_cannot_log_in(remote):
    control = remote.control
    control.add_user("off@pve", "pw", enable=False)
    made = control.add_token("off@pve", "tk")
    response = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}").get("/version")
    assert response.status_code == 401 and response.reason_phrase == "Authentication failed!"
    control.add_user("old@pve", "pw", expire=int(time.time()) - 10)
    made = control.add_token("old@pve", "tk")
    assert client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}").get("/version").status_code == 401
    control.add_user(USER, "pw")
    made = control.add_token(USER, "tk", expire=int(time.time()) - 10)
    assert client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}").get("/version").status_code == 401
    base = f"https://{remote.host}:{remote.port}/api2/json"
    verify = ssl.create_default_context(cafile=remote.ca_path)
    assert httpx.post(base + "/access/ticket", data={"username": "off@pve", "password": "pw"},
                      verify=verify).status_code == 401
    login = ok(httpx.post(base + "/access/ticket", data={"username": "perm", "realm": "pve", "password": "pw"},
                          verify=verify))
    control.remove_user(USER)  # its ticket dies with it
    response = client(remote, cookies={"PVEAuthCookie": login["ticket"]}).get("/version")
    assert response.status_code == 401


# Roles


@pytest.mark.parametrize("role", sorted(EXPECTED_ROLES))
def test_builtin_role_privileges(remote, role):
    assert remote.control.access()["roles"][role] == {"privs": EXPECTED_ROLES[role], "special": 1}
    c = token(remote, ("/", role))
    held = ok(c.get("/access/permissions", params={"path": "/sdn"}))["/sdn"]
    assert sorted(held) == EXPECTED_ROLES[role]


def test_custom_roles(remote):
    control = remote.control
    control.add_role("SdnReader", ["SDN.Audit"])
    assert control.access()["roles"]["SdnReader"] == {"privs": ["SDN.Audit"], "special": 0}
    c = token(remote, ("/sdn", "SdnReader"))
    assert ok(c.get("/cluster/sdn"))
    denied(c.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")
    control.remove_role("SdnReader")  # its ACL entries give nothing any more
    denied(c.get("/cluster/sdn"), "/sdn, SDN.Audit")
    with pytest.raises(ControlError, match="invalid privilege 'SDN.Everything'"):
        control.add_role("Bad", ["SDN.Everything"])
    with pytest.raises(ControlError, match="auto-generated role 'PVEAuditor' cannot be deleted"):
        control.remove_role("PVEAuditor")
    with pytest.raises(ControlError, match="role 'PVEAuditor' already exists"):
        control.add_role("PVEAuditor", ["SDN.Audit"])


# GET /access/permissions


def login(info, username: str, password: str) -> httpx.Client:
    """A client with a ticket of the user."""
    base = f"https://{info.host}:{info.port}/api2/json"
    data = ok(httpx.post(base + "/access/ticket", data={"username": username, "password": password},
                         verify=ssl.create_default_context(cafile=info.ca_path)))
    return client(info, cookies={"PVEAuthCookie": data["ticket"]},
                  headers={"CSRFPreventionToken": data["CSRFPreventionToken"]})


def test_access_permissions_of_the_caller(remote):
    control = remote.control
    control.add_user(USER, "pw")
    control.add_acl("/sdn", "PVESDNAdmin", users=[USER])
    control.add_acl("/sdn/zones/z1", "PVEAuditor", users=[USER], propagate=False)
    made = control.add_token(USER, "sep", privsep=True)
    control.add_acl("/sdn/zones", "PVESDNUser", tokens=[made["full-tokenid"]], propagate=False)
    user_token = control.add_token(USER, "plain", privsep=False)
    plain = client(remote, f"PVEAPIToken={user_token['full-tokenid']}={user_token['value']}")
    sep = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    sdn_admin = {"SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1}
    auditor = {priv: 0 for priv in EXPECTED_ROLES["PVEAuditor"]}
    # The whole tree: the top-level paths and each path of the ACL tree (ancestors included), where
    # there is anything; propagate flags as values.
    assert ok(plain.get("/access/permissions")) == {"/sdn": sdn_admin, "/sdn/zones": sdn_admin,
                                                    "/sdn/zones/z1": auditor}
    # One path: as asked, even with nothing there.
    assert ok(plain.get("/access/permissions", params={"path": "/sdn/zones/z1/v1"})) == {"/sdn/zones/z1/v1": sdn_admin}
    assert ok(plain.get("/access/permissions", params={"path": "/nodes"})) == {"/nodes": {}}
    # privsep: the intersection, propagated only where both are
    assert ok(sep.get("/access/permissions")) == {"/sdn/zones": {"SDN.Audit": 0, "SDN.Use": 0}}
    assert ok(sep.get("/access/permissions", params={"path": "/sdn/zones/z1"})) == {"/sdn/zones/z1": {}}
    # A user may ask for its tokens; a token not for its user nor for a sibling; nobody for others
    # without Sys.Audit on /access.
    user = login(remote, USER, "pw")
    assert ok(user.get("/access/permissions", params={"userid": made["full-tokenid"], "path": "/sdn/zones"})) \
        == {"/sdn/zones": {"SDN.Audit": 0, "SDN.Use": 0}}
    denied(sep.get("/access/permissions", params={"userid": USER}), "/access, Sys.Audit")
    denied(plain.get("/access/permissions", params={"userid": made["full-tokenid"]}), "/access, Sys.Audit")
    denied(user.get("/access/permissions", params={"userid": "root@pam"}), "/access, Sys.Audit")
    control.add_acl("/access", "PVEAuditor", users=[USER], propagate=False)
    root_privs = ok(user.get("/access/permissions", params={"userid": "root@pam", "path": "/"}))["/"]
    assert sorted(root_privs) == EXPECTED_ROLES["Administrator"] and set(root_privs.values()) == {1}
    bad = plain.get("/access/permissions", params={"userid": "no user"})
    assert bad.status_code == 400 and bad.json()["errors"]["userid"] == "value does not match the regex pattern"


def test_access_permissions_of_root_and_its_token(remote):
    everything = {priv: 1 for priv in EXPECTED_ROLES["Administrator"]}
    assert ok(root(remote).get("/access/permissions", params={"path": "/sdn/zones/z1"})) == {"/sdn/zones/z1": everything}
    tree = ok(root(remote).get("/access/permissions"))
    assert sorted(tree) == ["/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms"]
    assert all(privs == everything for privs in tree.values())


def test_login_capabilities_and_verification(remote):
    base = f"https://{remote.host}:{remote.port}/api2/json"
    verify = ssl.create_default_context(cafile=remote.ca_path)
    control = remote.control
    control.add_user(USER, "pw")
    control.add_acl("/sdn/zones", "PVESDNAdmin", users=[USER])
    login = ok(httpx.post(base + "/access/ticket", data={"username": USER, "password": "pw"}, verify=verify))
    assert login["username"] == USER and "clustername" not in login  # no Sys.Audit on /
    assert login["cap"] == {"vms": {}, "access": {}, "storage": {}, "nodes": {}, "mapping": {}, "dc": {},
                            "sdn": {"SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1}}
    root_login = ok(httpx.post(base + "/access/ticket", data={"username": "root@pam", "password": remote.password},
                               verify=verify))
    assert root_login["clustername"] == "remote001"
    assert root_login["cap"]["dc"] == {"SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1, "Sys.Audit": 1,
                                       "Sys.Modify": 1}
    # path + privs: only a check of the password and the privileges, no ticket
    checked = ok(httpx.post(base + "/access/ticket", verify=verify,
                            data={"username": USER, "password": "pw", "path": "/sdn/zones/z1", "privs": "SDN.Allocate"}))
    assert checked["username"] == USER and "ticket" not in checked
    refused = httpx.post(base + "/access/ticket", verify=verify,
                         data={"username": USER, "password": "pw", "path": "/sdn", "privs": "SDN.Allocate"})
    assert refused.status_code == 401
    # root@pam's ticket is a password for anyone's ticket
    other = ok(httpx.post(base + "/access/ticket", data={"username": USER, "password": root_login["ticket"]},
                          verify=verify))
    assert other["ticket"].startswith(f"PVE:{USER}:")
    # API tokens may not log in (allowtoken 0)
    with_token = httpx.post(base + "/access/ticket", data={"username": USER, "password": "pw"}, verify=verify,
                            headers={"Authorization": f"PVEAPIToken=root@pam!fleet={remote.root_token_secret}"})
    assert with_token.status_code == 403
    assert with_token.json()["message"] == ("Permission check failed (URI '/access/ticket' not available with API "
                                            "token, need proper ticket.\n)\n")


# The control API, the command line and the inventory


def test_control_api_lists_validates_and_resets(remote):
    control = remote.control
    listed = control.access()
    assert listed["users"]["root@pam"]["tokens"] == {"fleet": {"privsep": 0, "expire": 0}}
    assert listed["acl"] == [] and listed["groups"] == {}
    control.add_user("ops@pam", "pw")
    made = control.add_token("ops@pam", "t1")
    assert made["full-tokenid"] == "ops@pam!t1" and made["info"] == {"privsep": 1, "expire": 0}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", made["value"])
    control.add_acl("/sdn/zones/z1/v1/100", "PVESDNUser", tokens=["ops@pam!t1"])
    assert control.access()["acl"] == [{"path": "/sdn/zones/z1/v1/100", "type": "token", "ugid": "ops@pam!t1",
                                        "roleid": "PVESDNUser", "propagate": 1}]
    for call, message in [
            (lambda: control.add_user("x@ldap"), "domain 'ldap' does not exist"),
            (lambda: control.add_user("ops@pam"), "user 'ops@pam' already exists"),
            (lambda: control.add_token("nobody@pve", "tk"), r"no such user \('nobody@pve'\)"),
            (lambda: control.add_token("ops@pam", "t"), "tokenid: value does not match the regex pattern"),
            (lambda: control.add_token("ops@pam", "t1"), "Token already exists."),
            (lambda: control.add_acl("/sdn/nothing", "PVEAuditor", users=["ops@pam"]), "invalid ACL path"),
            (lambda: control.add_acl("/sdn", "NoSuchRole", users=["ops@pam"]), "role 'NoSuchRole' does not exist"),
            (lambda: control.add_acl("/sdn", "PVEAuditor", users=["nobody@pve"]), "user 'nobody@pve' does not exist"),
            (lambda: control.add_acl("/sdn", "PVEAuditor", tokens=["ops@pam!nope"]), "no such token"),
            (lambda: control.add_acl("/sdn", "PVEAuditor"), "either 'users', 'groups' or 'tokens' is required"),
            (lambda: control.remove_user("root@pam"), "root@pam cannot be removed")]:
        with pytest.raises(ControlError, match=message):
            call()
    control.reset()  # SDN state only: the access configuration stays
    assert "ops@pam" in control.access()["users"]
    control.remove_token("ops@pam!t1")  # its ACL entries go with it
    assert control.access()["acl"] == []
    control.add_token("ops@pam", "t2")
    control.reset(access=True)
    assert sorted(control.access()["users"]) == ["root@pam"]
    control.add_user("ops@pam")
    control.reset_access()
    assert sorted(control.access()["users"]) == ["root@pam"]
    assert ok(root(remote).get("/version"))  # root's token kept its secret


def test_access_survives_a_restart(tmp_path):
    with EmulatorProcess(remotes=1, workdir=tmp_path) as first:
        made = first.remotes["remote001"].control.add_token("root@pam", "kept", privsep=True)
        first.remotes["remote001"].control.add_acl("/sdn", "PVEAuditor", tokens=[made["full-tokenid"]])
    with EmulatorProcess(remotes=1, workdir=tmp_path, base_address=first.base_address) as second:
        info = second.remotes["remote001"]
        kept = client(info, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
        assert ok(kept.get("/cluster/sdn"))
        denied(kept.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")


def test_token_role_options(tmp_path):
    with EmulatorProcess(remotes=2, token_role="PVEAuditor", token_role_path="/sdn", workdir=tmp_path / "a") as emu:
        info = emu.remotes["remote002"]
        hosts = yaml.safe_load(emu.inventory.read_text())["all"]["children"]["remotes"]["hosts"]
        assert hosts["remote002"]["pvefleet_sdn_api_user"] == "fleet@pve"
        assert hosts["remote002"]["pvefleet_sdn_api_token_id"] == "fleet"
        assert info.token_id == "fleet@pve!fleet"
        c = client(info, info.authorization)
        assert ok(c.get("/cluster/sdn"))
        denied(c.post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")
        assert ok(c.get("/access/permissions", params={"path": "/sdn/zones"}))["/sdn/zones"]["SDN.Audit"] == 1
        acl = info.control.access()["acl"]
        assert {(e["type"], e["ugid"]) for e in acl} == {("token", "fleet@pve!fleet"), ("user", "fleet@pve")}
        assert ok(root(info).post("/cluster/sdn/lock"))  # root@pam!fleet is still there, with every privilege
        # an access reset gives the same token back, with the same secret
        info.control.remove_token("fleet@pve!fleet")
        info.control.reset(access=True)
        assert ok(client(info, info.authorization).get("/cluster/sdn"))
        base = f"https://{info.host}:{info.port}/api2/json"
        assert ok(httpx.post(base + "/access/ticket", verify=ssl.create_default_context(cafile=info.ca_path),
                             data={"username": "fleet@pve",
                                   "password": info.vars["pvefleet_emulator_token_user_password"]}))
    with EmulatorProcess(remotes=1, token_role="SdnWriter", token_privsep=False, token_user="ops@pam",
                         roles={"SdnWriter": ["SDN.Audit", "SDN.Allocate"]}, workdir=tmp_path / "b") as emu:
        info = emu.remotes["remote001"]
        c = client(info, info.authorization)
        ok(c.post("/cluster/sdn/lock"))
        assert info.control.access()["users"]["ops@pam"]["tokens"]["fleet"]["privsep"] == 0
        assert [(e["type"], e["path"]) for e in info.control.access()["acl"]] == [("user", "/")]
    with EmulatorProcess(remotes=1, token_role="PVEAuditor", token_user="root@pam", workdir=tmp_path / "c") as emu:
        info = emu.remotes["remote001"]
        assert info.token_id == "root@pam!fleet"
        denied(client(info, info.authorization).post("/cluster/sdn/lock"), "/sdn, SDN.Allocate")
        assert "pvefleet_emulator_root_token_secret" not in info.vars


@pytest.mark.parametrize(("args", "message"), [
    (["--token-role", "Nope"], "role 'Nope' does not exist"),
    (["--token-role", "PVEAuditor", "--token-role-path", "/sdn/nothing"], "invalid ACL path"),
    (["--token-role", "PVEAuditor", "--token-user", "root@pam", "--token-privsep", "0"], "every privilege"),
    (["--role", "X:SDN.Nothing"], "invalid privilege 'SDN.Nothing'"),
])
def test_token_role_option_errors(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "pvefleet_emulator.cli", "--remotes", "1", "--inventory",
                           str(tmp_path / "inv.yml"), "--state-dir", str(tmp_path / "state"), *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and message in done.stderr


def test_every_served_endpoint_is_covered_here():
    importlib.import_module("pvefleet_emulator.app")  # which registers every route
    routes = importlib.import_module("pvefleet_emulator.routes")
    covered = set(PERM_CALLS) | {
        # Their checks are tested in test_node_status.py (they need a running evpn zone).
        ("GET", "/nodes/{node}/sdn/vnets/{vnet}"), ("GET", "/nodes/{node}/sdn/vnets/{vnet}/mac-vrf"),
        ("GET", "/nodes/{node}/sdn/zones/{zone}/ip-vrf"),
        # The vnet firewall: its checks are tested in test_vnet_firewall.py.
        ("GET", "/cluster/sdn/vnets/{vnet}/firewall"),
        ("GET", "/cluster/sdn/vnets/{vnet}/firewall/options"), ("PUT", "/cluster/sdn/vnets/{vnet}/firewall/options"),
        ("GET", "/cluster/sdn/vnets/{vnet}/firewall/rules"), ("POST", "/cluster/sdn/vnets/{vnet}/firewall/rules"),
        ("GET", "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}"),
        ("PUT", "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}"),
        ("DELETE", "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}"),
        # The vnet IP mappings: their checks are tested in test_vnet_ips.py.
        ("POST", "/cluster/sdn/vnets/{vnet}/ips"), ("PUT", "/cluster/sdn/vnets/{vnet}/ips"),
        ("DELETE", "/cluster/sdn/vnets/{vnet}/ips"),
        ("POST", "/access/ticket"), ("GET", "/access/ticket"), ("GET", "/access/permissions"),
        ("GET", "/cluster/sdn/zones"), ("GET", "/cluster/sdn/controllers"), ("GET", "/cluster/sdn/ipams"),
        ("GET", "/cluster/sdn/dns"), ("GET", "/cluster/sdn/ipams/{ipam}/status"), ("GET", "/cluster/sdn/vnets"),
        ("GET", "/cluster/sdn/vnets/{vnet}"), ("PUT", "/cluster/sdn/vnets/{vnet}"),
        ("DELETE", "/cluster/sdn/vnets/{vnet}"), ("GET", "/cluster/sdn/vnets/{vnet}/subnets"),
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"), ("POST", "/cluster/sdn/vnets/{vnet}/subnets"),
        ("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"), ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"),
        ("GET", "/cluster/sdn/fabrics/fabric"), ("GET", "/cluster/sdn/fabrics/node"), ("GET", "/cluster/sdn/fabrics/all"),
        # The other fabric calls: their checks are tested in test_fabrics.py.
        ("GET", "/cluster/sdn/fabrics/fabric/{id}"), ("POST", "/cluster/sdn/fabrics/fabric"),
        ("PUT", "/cluster/sdn/fabrics/fabric/{id}"), ("DELETE", "/cluster/sdn/fabrics/fabric/{id}"),
        ("GET", "/cluster/sdn/fabrics/node/{fabric_id}"), ("POST", "/cluster/sdn/fabrics/node/{fabric_id}"),
        ("GET", "/cluster/sdn/fabrics/node/{fabric_id}/{node_id}"), ("PUT", "/cluster/sdn/fabrics/node/{fabric_id}/{node_id}"),
        ("DELETE", "/cluster/sdn/fabrics/node/{fabric_id}/{node_id}"), ("GET", "/nodes/{node}/sdn/fabrics/{fabric}"),
        ("GET", "/nodes/{node}/sdn/fabrics/{fabric}/routes"), ("GET", "/nodes/{node}/sdn/fabrics/{fabric}/neighbors"),
        ("GET", "/nodes/{node}/sdn/fabrics/{fabric}/interfaces"),
        # PVE 9.2's prefix lists and route maps: their checks are tested in test_routing_policy.py.
        ("GET", "/cluster/sdn/prefix-lists"), ("POST", "/cluster/sdn/prefix-lists"),
        ("GET", "/cluster/sdn/prefix-lists/{id}"), ("PUT", "/cluster/sdn/prefix-lists/{id}"),
        ("DELETE", "/cluster/sdn/prefix-lists/{id}"), ("GET", "/cluster/sdn/prefix-lists/{id}/entries"),
        ("POST", "/cluster/sdn/prefix-lists/{id}/entries"), ("GET", "/cluster/sdn/prefix-lists/{id}/entries/{url_seq}"),
        ("PUT", "/cluster/sdn/prefix-lists/{id}/entries/{url_seq}"),
        ("DELETE", "/cluster/sdn/prefix-lists/{id}/entries/{url_seq}"), ("GET", "/cluster/sdn/route-maps"),
        ("GET", "/cluster/sdn/route-maps/entries"), ("POST", "/cluster/sdn/route-maps/entries"),
        ("GET", "/cluster/sdn/route-maps/entries/{route-map-id}"),
        ("GET", "/cluster/sdn/route-maps/entries/{route-map-id}/entry/{order}"),
        ("PUT", "/cluster/sdn/route-maps/entries/{route-map-id}/entry/{order}"),
        ("DELETE", "/cluster/sdn/route-maps/entries/{route-map-id}/entry/{order}"),
        ("GET", "/version"), ("GET", "/nodes"), ("GET", "/nodes/{node}"), ("GET", "/nodes/{node}/tasks/{upid}"),
        ("GET", "/nodes/{node}/tasks/{upid}/status"), ("GET", "/nodes/{node}/tasks/{upid}/log"),
        ("DELETE", "/nodes/{node}/tasks/{upid}"), ("GET", "/nodes/{node}/tasks"), ("GET", "/cluster/tasks"),
        ("GET", "/nodes/{node}/sdn"), ("GET", "/nodes/{node}/sdn/zones")}
    assert {(r.method, r.template) for r in routes.ROUTES} == covered
