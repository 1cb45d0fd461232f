"""The request log and the fail rules' drop kinds, over real HTTPS with clients of their own:
httpx where a client's view is enough, raw TLS sockets where the bytes on the wire matter."""
from __future__ import annotations

import socket
import ssl
import time
import urllib.parse

import httpx
import pytest

from pvefleet_emulator.control import ControlError
from pvefleet_emulator.testing import EmulatorProcess

ZONES = "^/cluster/sdn/zones$"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=2, task_seconds=0.3, workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator):
    info = emulator.remotes["remote001"]
    info.control.clear_faults()
    info.control.reset()
    return info


def authorization(info) -> str:
    return (f"PVEAPIToken={info.vars['pvefleet_sdn_api_user']}!{info.vars['pvefleet_sdn_api_token_id']}"
            f"={info.token_secret}")


def api(info, timeout: float = 10) -> httpx.Client:
    return httpx.Client(base_url=f"https://{info.host}:{info.port}/api2/json",
                        verify=ssl.create_default_context(cafile=info.ca_path),
                        headers={"Authorization": authorization(info)}, timeout=timeout)


def zone(name: str) -> dict:
    return {"zone": name, "type": "simple"}


def send_raw(info, method: str, path: str, form: dict | None = None) -> ssl.SSLSocket:
    """One request on a TLS connection of its own; ragged EOFs (no close_notify) raise."""
    context = ssl.create_default_context(cafile=info.ca_path)
    tls = context.wrap_socket(socket.create_connection((info.host, info.port)), server_hostname=info.host,
                              suppress_ragged_eofs=False)
    body = urllib.parse.urlencode(form).encode() if form else b""
    head = f"{method} /api2/json{path} HTTP/1.1\r\nHost: {info.host}\r\nAuthorization: {authorization(info)}\r\n"
    if body:
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    tls.sendall(head.encode() + b"\r\n" + body)
    return tls


def read_until_closed(tls: ssl.SSLSocket) -> tuple[bytes, BaseException | None]:
    """Everything the server sent, and how the connection ended (None: a TLS close_notify)."""
    tls.settimeout(10)
    received = b""
    while True:
        try:
            chunk = tls.recv(65536)
        except (ssl.SSLError, OSError) as exc:
            return received, exc
        if not chunk:
            return received, None
        received += chunk


def split_answer(received: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _sep, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _colon, value in (line.partition(":") for line in lines)}
    return status_line, headers, body


def zones(info) -> set[str]:
    return set(info.control.state()["pending"]["zones"])


def test_the_log_records_answered_requests_in_order(remote):
    c = api(remote)
    assert c.get("/version").status_code == 200
    remote.control.state()  # control calls are never logged
    token = c.post("/cluster/sdn/lock").json()["data"]
    assert c.post("/cluster/sdn/lock").status_code == 500  # held: PVE's own error
    assert c.post("/cluster/sdn/zones", data={**zone("z1"), "lock-token": token}).status_code == 200
    assert c.post("/cluster/sdn/zones", data={"zone": "x-1", "type": "simple"}).status_code == 400
    assert c.get("/cluster/sdn/zones", params={"pending": 1}).status_code == 200
    assert c.delete("/cluster/sdn/lock", params={"lock-token": token}).status_code == 200
    remote.control.fail("GET", "^/version$", status=503, message="injected")
    assert c.get("/version").status_code == 503
    outside = httpx.get(f"https://{remote.host}:{remote.port}/nothing/here",
                        verify=ssl.create_default_context(cafile=remote.ca_path))
    assert outside.status_code == 501
    anonymous = httpx.get(f"https://{remote.host}:{remote.port}/api2/json/version",
                          verify=ssl.create_default_context(cafile=remote.ca_path))
    assert anonymous.status_code == 401
    assert remote.control.requests() == [
        {"seq": 1, "method": "GET", "path": "/version", "status": 200},
        {"seq": 2, "method": "POST", "path": "/cluster/sdn/lock", "status": 200},
        {"seq": 3, "method": "POST", "path": "/cluster/sdn/lock", "status": 500},
        {"seq": 4, "method": "POST", "path": "/cluster/sdn/zones", "status": 200},
        {"seq": 5, "method": "POST", "path": "/cluster/sdn/zones", "status": 400},
        {"seq": 6, "method": "GET", "path": "/cluster/sdn/zones", "query": "pending=1", "status": 200},
        {"seq": 7, "method": "DELETE", "path": "/cluster/sdn/lock", "query": f"lock-token={token}", "status": 200},
        {"seq": 8, "method": "GET", "path": "/version", "status": 503, "fault": "fail"},
        {"seq": 9, "method": "GET", "path": "/nothing/here", "status": 501},
        {"seq": 10, "method": "GET", "path": "/version", "status": 401},
    ]


def test_clear_and_reset_empty_the_log(remote):
    c = api(remote)
    c.get("/version")
    c.get("/cluster/sdn")
    assert [entry["seq"] for entry in remote.control.requests()] == [1, 2]
    remote.control.clear_requests()
    assert remote.control.requests() == []
    c.get("/cluster/sdn/zones")
    assert remote.control.requests() == [{"seq": 1, "method": "GET", "path": "/cluster/sdn/zones", "status": 200}]
    remote.control.reset()
    assert remote.control.requests() == []


def test_each_remote_has_its_own_log(emulator, remote):
    other = emulator.remotes["remote002"]
    other.control.reset()
    api(other).get("/version")
    api(remote).get("/cluster/sdn")
    assert [entry["path"] for entry in other.control.requests()] == ["/version"]
    assert [entry["path"] for entry in remote.control.requests()] == ["/cluster/sdn"]


def test_before_and_after_still_close_without_an_answer(remote):
    remote.control.drop("POST", ZONES, when="before")
    with pytest.raises(httpx.TransportError):
        api(remote).post("/cluster/sdn/zones", data=zone("z1"))
    assert zones(remote) == set()
    remote.control.drop("POST", ZONES, when="after")
    with pytest.raises(httpx.TransportError):
        api(remote).post("/cluster/sdn/zones", data=zone("z2"))
    assert zones(remote) == {"z2"}
    # Both abort the connection: nothing comes back, not even a TLS close_notify.
    remote.control.drop("POST", ZONES, when="after")
    received, ending = read_until_closed(send_raw(remote, "POST", "/cluster/sdn/zones", zone("z3")))
    assert received == b"" and isinstance(ending, (ssl.SSLEOFError, ConnectionResetError))
    assert zones(remote) == {"z2", "z3"}
    assert [entry.get("fault") for entry in remote.control.requests()] == ["drop:before", "drop:after", "drop:after"]
    assert all("status" not in entry for entry in remote.control.requests())


def test_hang_neither_answers_nor_makes_the_change(remote):
    remote.control.drop("POST", ZONES, when="hang")
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        api(remote, timeout=1.0).post("/cluster/sdn/zones", data=zone("z1"))
    assert time.monotonic() - started >= 1.0
    assert zones(remote) == set()
    assert remote.control.requests() == [{"seq": 1, "method": "POST", "path": "/cluster/sdn/zones",
                                          "fault": "drop:hang"}]
    # The rule is used up: the same request now goes through.
    assert api(remote).post("/cluster/sdn/zones", data=zone("z1")).status_code == 200
    assert zones(remote) == {"z1"}


def test_a_hanging_request_delays_no_other_answer(emulator, remote):
    remote.control.drop("GET", "^/cluster/sdn$", when="hang")
    held = send_raw(remote, "GET", "/cluster/sdn")
    try:
        held.settimeout(1.5)
        with pytest.raises(TimeoutError):
            held.recv(1)  # still nothing, and the connection still open
        for info in (remote, emulator.remotes["remote002"]):
            started = time.monotonic()
            assert api(info).get("/version").status_code == 200
            assert time.monotonic() - started < 0.5
    finally:
        held.close()


def test_an_emulator_holding_a_hanging_request_stops_at_once(tmp_path):
    with EmulatorProcess(remotes=1, workdir=tmp_path) as emu:
        info = emu.remotes["remote001"]
        info.control.drop("*", "", when="hang")
        held = send_raw(info, "GET", "/version")
        time.sleep(0.3)
        started = time.monotonic()
        emu.stop()
        assert time.monotonic() - started < 3 and emu.process.returncode == 0
        received, _ending = read_until_closed(held)
        assert received == b""  # closed without an answer
        held.close()


def test_truncate_makes_the_change_and_cuts_the_body(remote):
    remote.control.drop("POST", ZONES, when="truncate")
    received, ending = read_until_closed(send_raw(remote, "POST", "/cluster/sdn/zones", zone("z1")))
    status_line, headers, body = split_answer(received)
    assert status_line == "HTTP/1.1 200 OK"
    assert headers["content-type"] == "application/json;charset=UTF-8"
    whole = b'{"data":null}'
    assert int(headers["content-length"]) == len(whole)
    assert body == whole[:len(whole) // 2]  # cut inside the JSON
    assert isinstance(ending, (ssl.SSLEOFError, ConnectionResetError))  # aborted: no close_notify
    assert zones(remote) == {"z1"}
    assert remote.control.requests()[-1] == {"seq": 1, "method": "POST", "path": "/cluster/sdn/zones",
                                             "status": 200, "fault": "drop:truncate"}


def test_truncate_cuts_any_answer_and_a_client_notices(remote):
    c = api(remote)
    for name in ("z1", "z2", "z3"):
        assert c.post("/cluster/sdn/zones", data=zone(name)).status_code == 200
    whole = c.get("/cluster/sdn/zones").content
    remote.control.drop("GET", ZONES, when="truncate")
    _status, headers, body = split_answer(read_until_closed(send_raw(remote, "GET", "/cluster/sdn/zones"))[0])
    assert int(headers["content-length"]) == len(whole) and body == whole[:len(whole) // 2]
    remote.control.drop("GET", ZONES, when="truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        api(remote).get("/cluster/sdn/zones")
    # PVE's own error answer is cut as well, with its status line and headers.
    remote.control.drop("POST", ZONES, when="truncate")
    cut_status, cut_headers, cut_body = split_answer(
        read_until_closed(send_raw(remote, "POST", "/cluster/sdn/zones", zone("z1")))[0])
    status_line, _headers, whole_error = split_answer(
        read_until_closed(send_raw(remote, "POST", "/cluster/sdn/zones", zone("z1")))[0])
    assert cut_status == status_line and status_line.startswith("HTTP/1.1 500 ")
    assert cut_headers["connection"] == "close"
    assert int(cut_headers["content-length"]) == len(whole_error) and cut_body == whole_error[:len(whole_error) // 2]
    assert [entry.get("fault") for entry in remote.control.requests()[-4:]] == \
        ["drop:truncate", "drop:truncate", "drop:truncate", None]


def test_nth_and_times_count_with_the_new_kinds(remote):
    remote.control.drop("POST", ZONES, when="truncate", nth=2, times=2)
    remote.control.drop("DELETE", "^/cluster/sdn/zones/", when="hang", nth=2, times=1)
    c = api(remote, timeout=1.0)
    assert c.post("/cluster/sdn/zones", data=zone("z1")).status_code == 200
    for name in ("z2", "z3"):
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/cluster/sdn/zones", data=zone(name))
    assert c.post("/cluster/sdn/zones", data=zone("z4")).status_code == 200
    assert zones(remote) == {"z1", "z2", "z3", "z4"}  # a truncated request is carried out
    assert c.delete("/cluster/sdn/zones/z1").status_code == 200
    with pytest.raises(httpx.ReadTimeout):
        c.delete("/cluster/sdn/zones/z2")
    assert c.delete("/cluster/sdn/zones/z3").status_code == 200
    assert zones(remote) == {"z2", "z4"}  # the hanging delete was not
    assert [(entry["method"], entry.get("status"), entry.get("fault")) for entry in remote.control.requests()] == [
        ("POST", 200, None), ("POST", 200, "drop:truncate"), ("POST", 200, "drop:truncate"), ("POST", 200, None),
        ("DELETE", 200, None), ("DELETE", None, "drop:hang"), ("DELETE", 200, None)]
    rules = remote.control.state()["faults"]["rules"]
    assert [(rule["drop"], rule["seen"], rule["fired"]) for rule in rules] == [("truncate", 4, 2), ("hang", 3, 1)]


def test_fault_kinds_are_validated(remote):
    with pytest.raises(ControlError, match="'before', 'after', 'hang', 'truncate'"):
        remote.control.drop("POST", ZONES, when="sideways")
    assert remote.control.state()["faults"]["rules"] == []
