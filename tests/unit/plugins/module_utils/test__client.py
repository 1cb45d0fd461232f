"""PveClient without a network: authentication, encoding, error mapping and the retry rules."""
from __future__ import annotations

import asyncio
import json
import urllib.parse

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._client import HttpRequest, HttpResponse, PveClient
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import (
    ApiError,
    AuthenticationError,
    LockTokenError,
    NotImplementedByRemote,
    PendingChangesError,
    PermissionDeniedError,
    TransportError,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession

TOKEN = ConnectionSettings.from_params({"api_host": "pve.example", "api_user": "root@pam", "api_token_id": "fleet",
                                        "api_token_secret": "s3cr3t"})
PASSWORD = ConnectionSettings.from_params({"api_host": "pve.example", "api_user": "root@pam", "api_password": "pw"})


class MockTransport:
    """Answers each request with handler(request); the handler may raise TransportError."""

    def __init__(self, handler):
        self.handler = handler
        self.closed = False

    async def send(self, request: HttpRequest) -> HttpResponse:
        return self.handler(request)

    async def aclose(self) -> None:
        self.closed = True


def answer(status, body=None):
    return HttpResponse(status, b"" if body is None else json.dumps(body).encode())


def connect_error(request):
    return TransportError("refused", sent=False, method=request.method, path=request.path)


def read_error(request):
    return TransportError("server disconnected", sent=True, method=request.method, path=request.path)


def run(settings, handler, call, **client_options):
    seen: list[HttpRequest] = []

    def record(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return handler(request)

    async def go():
        async with PveClient(settings, transport=MockTransport(record), backoff=0, **client_options) as client:
            return await call(client)

    return asyncio.run(go()), seen


def data(value, status=200):
    return lambda request: answer(status, {"data": value})


def test_token_header_and_envelope():
    result, seen = run(TOKEN, data({"release": "9.1"}), lambda c: c.get("/version"))
    assert result == {"release": "9.1"}
    assert seen[0].headers["Authorization"] == "PVEAPIToken=root@pam!fleet=s3cr3t"
    assert "Cookie" not in seen[0].headers
    assert seen[0].path == "/api2/json/version"


def test_form_encoding_and_query_parameters():
    _result, seen = run(TOKEN, data(None), lambda c: c.post("/cluster/sdn/zones", data={
        "zone": "z1", "advertise-subnets": True, "disabled": False, "nodes": ["a", "b"], "mtu": None}))
    body = urllib.parse.parse_qs(seen[0].content.decode())
    assert body == {"zone": ["z1"], "advertise-subnets": ["1"], "disabled": ["0"], "nodes": ["a", "b"]}
    assert seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    _result, seen = run(TOKEN, data(None), lambda c: c.delete("/cluster/sdn/lock", params={"force": True}))
    assert urllib.parse.parse_qs(seen[0].query) == {"force": ["1"]} and not seen[0].content


def test_ticket_login_cookie_and_csrf_only_on_writes():
    def handler(request):
        if request.path.endswith("/access/ticket"):
            form = urllib.parse.parse_qs(request.content.decode())
            assert form == {"username": ["root@pam"], "password": ["pw"]}
            return answer(200, {"data": {"ticket": "PVE:root@pam:1::sig", "CSRFPreventionToken": "C:S"}})
        return answer(200, {"data": None})

    async def calls(client):
        await client.get("/version")
        await client.post("/cluster/sdn/lock")

    _result, seen = run(PASSWORD, handler, calls)
    assert [r.path for r in seen] == ["/api2/json/access/ticket", "/api2/json/version", "/api2/json/cluster/sdn/lock"]
    assert seen[1].headers["Cookie"] == "PVEAuthCookie=" + urllib.parse.quote("PVE:root@pam:1::sig", safe="")
    assert "CSRFPreventionToken" not in seen[1].headers
    assert seen[2].headers["CSRFPreventionToken"] == "C:S"


def test_expired_ticket_is_renewed_once():
    tickets = iter(["PVE:root@pam:1::old", "PVE:root@pam:2::new"])

    def handler(request):
        if request.path.endswith("/access/ticket"):
            return answer(200, {"data": {"ticket": next(tickets), "CSRFPreventionToken": "C"}})
        if "old" in urllib.parse.unquote(request.headers["Cookie"]):
            return answer(401)
        return answer(200, {"data": "fine"})

    result, seen = run(PASSWORD, handler, lambda c: c.get("/version"))
    assert result == "fine"
    assert [r.path.rsplit("/", 1)[-1] for r in seen] == ["ticket", "version", "ticket", "version"]


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, None, AuthenticationError),
    (403, {"data": None, "message": "Permission check failed (/sdn, SDN.Allocate)\n"}, PermissionDeniedError),
    (501, {"data": None, "message": "Method 'POST /cluster/sdn/lock' not implemented"}, NotImplementedByRemote),
    (500, {"data": None, "message": "create sdn zone object failed: invalid lock token provided! at "
                                    "/usr/share/perl5/PVE/Network/SDN.pm line 291.\n"}, LockTokenError),
    (500, {"data": None, "message": "could not acquire lock for SDN config: configuration has pending changes at "
                                    "/usr/share/perl5/PVE/API2/Network/SDN.pm line 149.\n"}, PendingChangesError),
])
def test_errors_map_to_one_exception_each(status, body, kind):
    def handler(request):
        return answer(status, body) if body else answer(status)

    with pytest.raises(kind) as caught:
        run(TOKEN, handler, lambda c: c.post("/cluster/sdn/lock"))
    assert caught.value.status == status
    assert " at /usr/share/perl5" not in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_parameter_errors_are_kept_per_parameter():
    body = {"data": None, "message": "Parameter verification failed.\n",
            "errors": {"zone": "value does not match the regex pattern"}}
    with pytest.raises(ApiError) as caught:
        run(TOKEN, lambda r: answer(400, body), lambda c: c.post("/cluster/sdn/zones", data={"zone": "x-"}))
    assert caught.value.errors == {"zone": "value does not match the regex pattern"}
    assert caught.value.to_failure()["errors"] == {"zone": "value does not match the regex pattern"}


def failing_then(exception, then, times=1):
    state = {"left": times}

    def handler(request):
        if state["left"]:
            state["left"] -= 1
            raise exception(request)
        return then(request)

    return handler


def test_reads_are_retried_after_connection_failures_and_503():
    result, seen = run(TOKEN, failing_then(connect_error, data("ok")), lambda c: c.get("/version"))
    assert result == "ok" and len(seen) == 2
    answers = iter([answer(503), answer(200, {"data": "ok"})])
    result, seen = run(TOKEN, lambda r: next(answers), lambda c: c.get("/version"))
    assert result == "ok" and len(seen) == 2


def test_a_write_is_retried_only_when_it_never_left():
    result, seen = run(TOKEN, failing_then(connect_error, data("token")), lambda c: c.post("/cluster/sdn/lock"))
    assert result == "token" and len(seen) == 2
    with pytest.raises(TransportError) as caught:
        run(TOKEN, failing_then(read_error, data("token")), lambda c: c.post("/cluster/sdn/lock"))
    assert caught.value.sent is True


def test_a_lock_request_without_answer_is_never_resent():
    seen = []

    def handler(request):
        seen.append(request)
        raise read_error(request)

    async def go():
        async with PveClient(TOKEN, transport=MockTransport(handler), backoff=0) as client:
            await LockSession(client).acquire()

    with pytest.raises(TransportError) as caught:
        asyncio.run(go())
    assert caught.value.sent and len(seen) == 1


def test_attempts_are_bounded():
    calls = []

    def handler(request):
        calls.append(request)
        raise connect_error(request)

    async def go():
        async with PveClient(TOKEN, transport=MockTransport(handler), backoff=0, attempts=3) as client:
            await client.get("/version")

    with pytest.raises(TransportError) as caught:
        asyncio.run(go())
    assert len(calls) == 3 and caught.value.sent is False


@pytest.mark.parametrize("body", [b"<html>proxy says hi</html>", b'{"data": null}', b'{"data": {"ticket": "t"}}', b"[]"])
def test_a_login_answer_without_a_ticket_is_an_authentication_error_not_a_crash(body):
    # Anything but PVE's own answer (a proxy's page, a half answer) names the login, not a ValueError.
    def handler(request):
        return HttpResponse(200, body)

    with pytest.raises(AuthenticationError, match="the answer holds no ticket"):
        run(PASSWORD, handler, lambda client: client.get("/version"))


def test_a_task_status_without_status_is_an_api_error_not_a_crash():
    from ansible_collections.pvefleet.sdn.plugins.module_utils._tasks import TaskFollower

    upid = "UPID:pve1:0001A2B3:00C0FFEE:66B0C0DE:reloadnetworkall::root@pam:"

    def handler(request):
        return answer(200, {"data": {"upid": upid}})

    with pytest.raises(ApiError, match="has no `status`"):
        run(TOKEN, handler, lambda client: TaskFollower(client).wait(upid, timeout=5))
