"""The emulator against the reference (pve-sdn-api.md), over real HTTPS."""
from __future__ import annotations

import re
import ssl
import time

import httpx
import pytest

from pvefleet_emulator.testing import EmulatorProcess

UPID = re.compile(r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
                  r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$")
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


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


def client(info, **headers) -> httpx.Client:
    auth = {"Authorization": f"PVEAPIToken=root@pam!fleet={info.token_secret}"}
    return httpx.Client(base_url=f"https://{info.host}:{info.port}/api2/json", verify=ssl.create_default_context(cafile=info.ca_path),
                        headers={**auth, **headers}, timeout=10)


def api(info):
    return client(info)


def ok(response) -> object:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()["data"]


def test_token_auth_and_401s(remote):
    assert ok(api(remote).get("/version"))["release"] == "9.2"
    wrong = httpx.get(f"https://{remote.host}:{remote.port}/api2/json/version", verify=ssl.create_default_context(cafile=remote.ca_path),
                      headers={"Authorization": "PVEAPIToken=root@pam!fleet=nope"})
    assert wrong.status_code == 401 and wrong.content == b""
    # As pveproxy sends an answer without content: no Content-Length, the connection closes.
    assert "content-length" not in wrong.headers and wrong.headers["connection"] == "close"
    anonymous = httpx.get(f"https://{remote.host}:{remote.port}/api2/json/version", verify=ssl.create_default_context(cafile=remote.ca_path))
    assert anonymous.status_code == 401 and anonymous.reason_phrase == "No ticket"


def test_ticket_and_csrf(remote):
    base = f"https://{remote.host}:{remote.port}/api2/json"
    login = httpx.post(base + "/access/ticket", data={"username": "root@pam", "password": remote.password},
                       verify=ssl.create_default_context(cafile=remote.ca_path))
    data = ok(login)
    assert data["ticket"].startswith("PVE:root@pam:")
    cookies = {"PVEAuthCookie": data["ticket"]}
    assert ok(httpx.get(base + "/cluster/sdn", cookies=cookies, verify=ssl.create_default_context(cafile=remote.ca_path)))
    no_csrf = httpx.post(base + "/cluster/sdn/lock", cookies=cookies, verify=ssl.create_default_context(cafile=remote.ca_path))
    assert no_csrf.status_code == 401
    with_csrf = httpx.post(base + "/cluster/sdn/lock", cookies=cookies, verify=ssl.create_default_context(cafile=remote.ca_path),
                           headers={"CSRFPreventionToken": data["CSRFPreventionToken"]})
    assert UUID7.match(ok(with_csrf))
    bad = httpx.post(base + "/access/ticket", data={"username": "root@pam", "password": "x"}, verify=ssl.create_default_context(cafile=remote.ca_path))
    assert bad.status_code == 401


def test_http_layer(remote):
    c = api(remote)
    missing = c.get("/cluster/nothing")
    assert missing.status_code == 501 and missing.json()["message"] == "Method 'GET /cluster/nothing' not implemented"
    assert c.get("/cluster/sdn/lock").status_code == 501
    boolean = c.post("/cluster/sdn/lock", data={"allow-pending": "true"})
    assert boolean.status_code == 400
    assert boolean.json()["errors"]["allow-pending"] == "type check ('boolean') failed - got 'true'"
    extra = c.post("/cluster/sdn/lock", data={"lock-token": "x"})
    assert extra.status_code == 400 and "not defined in schema" in extra.json()["errors"]["lock-token"]
    assert extra.headers["connection"].lower() == "close"
    assert ok(c.post("/cluster/sdn/zones", json={"zone": "js1", "type": "simple"})) is None
    assert ok(c.post("/cluster/sdn/zones?zone=qs1", data={"zone": "ignored", "type": "simple"})) is None
    assert {z["zone"] for z in ok(c.get("/cluster/sdn/zones"))} == {"js1", "qs1"}


def test_lock_matrix(remote):
    c = api(remote)
    token = ok(c.post("/cluster/sdn/lock"))
    assert UUID7.match(token)
    again = c.post("/cluster/sdn/lock")
    assert again.status_code == 500 and "could not acquire lock for SDN config: invalid lock token provided!" in again.text
    for sent in ({}, {"lock-token": "wrong"}):
        refused = c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", **sent})
        assert refused.status_code == 500
        assert refused.json()["message"].startswith("create sdn zone object failed: invalid lock token provided!")
    assert ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "lock-token": token})) is None
    assert c.delete("/cluster/sdn/lock").status_code == 500  # the probe: held
    # rollback without release-lock keeps the lock (PVE does not apply the schema default)
    assert ok(c.post("/cluster/sdn/rollback", data={"lock-token": token})) is None
    assert remote.control.state()["lock"]["held"]
    assert remote.control.state()["pending"]["zones"] == {}
    assert ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "lock-token": token})) is None
    upid = ok(c.put("/cluster/sdn", data={"lock-token": token}))
    assert UPID.match(upid) and upid.split(":")[5] == "reloadnetworkall"
    assert remote.control.state()["lock"]["held"]  # apply without release-lock keeps it too
    assert ok(c.delete("/cluster/sdn/lock", params={"lock-token": token})) is None
    assert ok(c.delete("/cluster/sdn/lock")) is None  # the probe: free, a no-op
    assert ok(c.post("/cluster/sdn/zones", data={"zone": "z2", "type": "simple", "lock-token": "stale"})) is None
    pending = c.post("/cluster/sdn/lock")
    assert pending.status_code == 500 and "configuration has pending changes" in pending.text
    token = ok(c.post("/cluster/sdn/lock", data={"allow-pending": 1}))
    ok(c.delete("/cluster/sdn/lock", params={"force": 1}))
    assert not remote.control.state()["lock"]["held"]


def test_pending_view_and_digest(remote):
    c = api(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "mtu": 1500}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "z2", "type": "simple"}))
    ok(c.put("/cluster/sdn", data={"release-lock": 1}))
    digest = ok(c.get("/cluster/sdn/zones"))[0]["digest"]
    assert re.fullmatch(r"[0-9a-f]{40}", digest)
    ok(c.put("/cluster/sdn/zones/z1", data={"delete": "mtu", "digest": digest}))
    stale = c.put("/cluster/sdn/zones/z1", data={"mtu": 9000, "digest": digest})
    assert stale.status_code == 500 and "detected modified configuration" in stale.text
    ok(c.delete("/cluster/sdn/zones/z2"))
    ok(c.post("/cluster/sdn/zones", data={"zone": "z3", "type": "simple"}))
    view = {z["zone"]: z for z in ok(c.get("/cluster/sdn/zones", params={"pending": 1}))}
    assert view["z1"]["state"] == "changed" and view["z1"]["pending"] == {"mtu": "deleted"}
    assert view["z2"]["state"] == "deleted" and view["z2"]["pending"] == {}
    assert view["z3"]["state"] == "new" and "type" in view["z3"]
    assert all(z["digest"] is None for z in view.values())


@pytest.mark.parametrize(("zone", "message"), [
    ({"type": "simple", "bridge": "vmbr0"}, "unexpected property 'bridge'"),
    ({"type": "vlan"}, "missing value for required option 'bridge'"),
    ({"type": "qinq", "bridge": "vmbr0"}, "missing value for required option 'tag'"),
    ({"type": "vxlan", "peers": "10.0.0.1", "fabric": "f1"}, "must have exactly one of peers / fabric defined"),
    ({"type": "evpn", "controller": "nope", "vrf-vxlan": 5}, "controller nope don't exist"),
    ({"type": "faucet", "controller": "c1"}, "missing value for required option 'dp-id'"),
])
def test_zone_type_rules(remote, zone, message):
    response = api(remote).post("/cluster/sdn/zones", data={"zone": "z1", **zone})
    assert response.status_code == 500 and message in response.json()["message"]


def test_zone_id_rules(remote):
    response = api(remote).post("/cluster/sdn/zones", data={"zone": "x-1", "type": "simple"})
    assert response.status_code == 400 and response.json()["errors"]["zone"] == "value does not match the regex pattern"
    response = api(remote).post("/cluster/sdn/zones", data={"zone": "abcdefghi", "type": "simple"})
    assert response.json()["errors"]["zone"] == "value may only be 8 characters long"


def test_vnet_and_subnet_rules(remote):
    c = api(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "s1", "type": "simple"}))
    ok(c.post("/cluster/sdn/zones", data={"zone": "v1", "type": "vlan", "bridge": "vmbr0"}))
    tagged = c.post("/cluster/sdn/vnets", data={"vnet": "a1", "zone": "s1", "tag": 5})
    assert tagged.status_code == 500 and "tag: vlan tag is not allowed on simple zone" in tagged.text
    untagged = c.post("/cluster/sdn/vnets", data={"vnet": "a1", "zone": "v1"})
    assert "create sdn vnet object failed: 400 Parameter verification failed.\ntag: missing vlan tag" in untagged.json()["message"]
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "a1", "zone": "v1", "tag": 10}))
    duplicate = c.post("/cluster/sdn/vnets", data={"vnet": "a2", "zone": "v1", "tag": 10})
    assert "tag 10 already exist in vnet a1" in duplicate.text
    outside = c.post("/cluster/sdn/vnets/a1/subnets", data={"subnet": "10.0.0.0/24", "type": "subnet",
                                                            "gateway": "10.1.0.1"})
    assert "is not in subnet" in outside.text
    dhcp = "start-address=10.0.0.10,end-address=10.0.0.20"
    ok(c.post("/cluster/sdn/vnets/a1/subnets",
              data={"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1", "dhcp-range": dhcp}))
    # The path is unescaped before routing (§2.1), so a CIDR's "/" cannot be in it: PVE's ID is.
    assert c.get("/cluster/sdn/vnets/a1/subnets/10.0.0.0%2F24").status_code == 501
    subnet = ok(c.get("/cluster/sdn/vnets/a1/subnets/v1-10.0.0.0-24"))
    assert subnet["id"] == "v1-10.0.0.0-24" and subnet["cidr"] == "10.0.0.0/24"
    assert subnet["dhcp-range"] == [{"start-address": "10.0.0.10", "end-address": "10.0.0.20"}]
    refused = c.delete("/cluster/sdn/vnets/a1")
    assert "Can't delete vnet if subnets exists" in refused.text
    used = c.delete("/cluster/sdn/zones/v1")
    assert "zone v1 is used by vnet a1" in used.text


def test_tasks_and_node_status(remote):
    c = api(remote)
    assert ok(c.get("/nodes/pve1/sdn/zones")) == []
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}))
    remote.control.faults(reload="node:pve2")
    upid = ok(c.put("/cluster/sdn", data={"release-lock": 1}))
    status = ok(c.get(f"/nodes/pve1/tasks/{upid}/status"))
    assert status["status"] == "running" and status["user"] == "root@pam" and status["tokenid"] == "fleet"
    assert ok(c.get("/nodes/pve1/sdn/zones")) == [{"zone": "z1", "status": "pending"}]
    time.sleep(0.5)
    status = ok(c.get(f"/nodes/pve1/tasks/{upid}/status"))
    assert (status["status"], status["exitstatus"]) == ("stopped", "OK")  # OK although pve2 failed
    log = c.get(f"/nodes/pve1/tasks/{upid}/log").json()
    assert log["total"] == len(log["data"]) and log["data"][0]["t"] == "pve1: reloading network config"
    assert ok(c.get("/nodes/pve1/sdn/zones")) == [{"zone": "z1", "status": "available"}]
    assert ok(c.get("/nodes/pve2/sdn/zones")) == [{"zone": "z1", "status": "pending"}]
    reloads = ok(c.get("/nodes/pve2/tasks", params={"typefilter": "srvreload"}))
    assert reloads[0]["status"] != "OK"
    bad = c.get("/nodes/pve1/tasks/nonsense/status")
    assert bad.status_code == 400 and bad.json()["errors"]["upid"] == "unable to parse worker upid"


def test_faults(remote):
    c = api(remote)
    remote.control.fail("POST", "^/cluster/sdn/zones$", nth=2, message="injected")
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}))
    second = c.post("/cluster/sdn/zones", data={"zone": "z2", "type": "simple"})
    assert second.status_code == 500 and second.json()["message"] == "injected"
    ok(c.post("/cluster/sdn/zones", data={"zone": "z3", "type": "simple"}))
    remote.control.fail("POST", "^/cluster/sdn/zones$", drop="after")
    with pytest.raises(httpx.TransportError):
        api(remote).post("/cluster/sdn/zones", data={"zone": "z4", "type": "simple"})
    assert "z4" in remote.control.state()["pending"]["zones"]  # done, but never answered
    remote.control.fail("POST", "^/cluster/sdn/zones$", drop="before")
    with pytest.raises(httpx.TransportError):
        api(remote).post("/cluster/sdn/zones", data={"zone": "z5", "type": "simple"})
    assert "z5" not in remote.control.state()["pending"]["zones"]
    remote.control.faults(latency_ms=200)
    started = time.monotonic()
    ok(api(remote).get("/version"))
    assert time.monotonic() - started >= 0.2
    token = remote.control.hold_lock()
    assert remote.control.state()["lock"]["token"] == token
    assert api(remote).post("/cluster/sdn/lock").status_code == 500


def test_pve8_remote(emulator):
    info = emulator.remotes["remote002"]
    c = api(info)
    assert ok(c.get("/version"))["release"] == "8.4"
    assert c.post("/cluster/sdn/lock").status_code == 501
    extra = c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple", "lock-token": "x"})
    assert extra.status_code == 400 and "not defined in schema" in extra.json()["errors"]["lock-token"]


def test_state_survives_a_restart(tmp_path):
    with EmulatorProcess(remotes=1, workdir=tmp_path) as first:
        info = first.remotes["remote001"]
        ok(api(info).post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}))
        token = ok(api(info).post("/cluster/sdn/lock", data={"allow-pending": 1}))
        fingerprint = info.vars["pvefleet_sdn_fingerprint"]
    with EmulatorProcess(remotes=1, workdir=tmp_path, base_address=first.base_address) as second:
        info = second.remotes["remote001"]
        assert info.vars["pvefleet_sdn_fingerprint"] == fingerprint
        state = info.control.state()
        assert "z1" in state["pending"]["zones"] and state["lock"]["token"] == token


def test_proxmoxer_drives_the_sdn_api(remote):
    proxmoxer = pytest.importorskip("proxmoxer")
    for auth in ({"token_name": "fleet", "token_value": remote.token_secret}, {"password": remote.password}):
        remote.control.reset()
        pve = proxmoxer.ProxmoxAPI(remote.host, port=remote.port, user="root@pam", verify_ssl=remote.ca_path,
                                   backend="https", **auth)
        token = pve.cluster.sdn.lock.post()
        pve.cluster.sdn.zones.post(zone="z1", type="simple", **{"lock-token": token})
        pve.cluster.sdn.vnets.post(vnet="v1", zone="z1", **{"lock-token": token})
        upid = pve.cluster.sdn.put(**{"lock-token": token, "release-lock": 1})
        deadline = time.monotonic() + 10
        while pve.nodes(upid.split(":")[1]).tasks(upid).status.get()["status"] != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        state = remote.control.state()
        assert not state["lock"]["held"] and "v1" in state["running"]["vnets"]


def test_an_idle_kept_alive_connection_is_closed_after_about_five_seconds(emulator):
    import socket
    import ssl as ssl_module
    import time

    remote = next(iter(emulator.remotes.values()))
    context = ssl_module.create_default_context(cafile=remote.ca_path)
    with socket.create_connection((remote.host, remote.port)) as raw:
        with context.wrap_socket(raw, server_hostname=remote.host) as tls:
            token = (f"PVEAPIToken={remote.vars['pvefleet_sdn_api_user']}!{remote.vars['pvefleet_sdn_api_token_id']}"
                     f"={remote.token_secret}")
            tls.sendall(f"GET /api2/json/version HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode())
            assert tls.recv(65536).startswith(b"HTTP/1.1 200")  # answered, and kept open
            tls.settimeout(10)
            started = time.monotonic()
            assert tls.recv(1) == b""  # then closed by the server when idle
            assert 3.5 < time.monotonic() - started < 8
