"""The HTTP layer of PVE's API server as clients see it (pve-sdn-api.md §2).

One aiohttp low-level server serves every remote (net.py carries its connections): the remote is
the one whose address and port the connection came in on. This module reads the parameters,
authenticates, routes, validates against the schema, calls the handler and wraps the answer in
PVE's envelope; it also applies the remote's injected faults and logs each request. The control
API under /_emulator is handed to control_api.py.
"""
from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import traceback
import urllib.parse
from email.utils import formatdate
from typing import Any, Optional

from aiohttp import web

from pvefleet_emulator import (
    access,
    access_api,
    control_api,
    fabrics_api,
    firewall_api,
    ips_api,
    node_status_api,
    nodes_api,
    routes,
    routing_policy_api,
    schema,
    sdn_api,
)
from pvefleet_emulator.errors import ApiError, ParamError
from pvefleet_emulator.remote import Remote
from pvefleet_emulator.request_log import LoggedRequest

MAX_BODY = 512 * 1024
API_PREFIX = "/api2/json"
FORM_SEPARATORS = re.compile(r"[&;]")
# importing these registers their routes
_REGISTERED = (access_api, nodes_api, node_status_api, sdn_api, routing_policy_api, fabrics_api, ips_api, firewall_api)
HANG_POLL_SECONDS = 0.1
KEEPALIVE_IDLE_SECONDS = 5.0  # pveproxy closes a kept-alive connection after about 5 s idle (§2.4)
SHUTDOWN_SECONDS = 60.0  # how long a stop waits for requests in progress (aiohttp's default)


class Unauthorized(Exception):
    """401 from the authentication layer: no JSON body, the reason in the status line (§2.4)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ApiApp:
    def __init__(self, remotes: list[Remote], *, log_requests: bool = False):
        self.by_endpoint = {(r.address, r.port): r for r in remotes}
        self.log_requests = log_requests
        self.stopping = False
        self.loop = asyncio.get_running_loop()
        # aiohttp's low-level server: no application router or middleware before `handle`, which
        # routes itself. pveproxy sets no TCP keep-alive on its connections.
        self.server = web.Server(self.handle, request_factory=self._request, access_log=None, tcp_keepalive=False,
                                 keepalive_timeout=KEEPALIVE_IDLE_SECONDS)

    def _request(self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, self.loop, client_max_size=4 * MAX_BODY)

    async def stop(self, listeners: list[asyncio.Server]) -> None:
        """Stop listening, release the hanging requests (which would hold the stop for a minute),
        close idle connections, and wait for the requests in progress."""
        for listener in listeners:
            listener.close()
        self.stopping = True
        self.server.pre_shutdown()
        await self.server.shutdown(SHUTDOWN_SECONDS)

    def remote_for(self, request: web.BaseRequest) -> Remote:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if sockname is None:
            raise web.HTTPServiceUnavailable(text="the connection is gone")
        return self.by_endpoint[(sockname[0], sockname[1])]

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        remote = self.remote_for(request)
        if request.path == "/_emulator" or request.path.startswith("/_emulator/"):
            return await control_api.handle(remote, request)
        await remote.faults.answering.wait()  # "not answering": accepted, and held here
        method = request.method
        path = urllib.parse.unquote(request.rel_url.raw_path)  # unescaped before routing (§2.1)
        api_path = (path[len(API_PREFIX):] or "/") if path == API_PREFIX or path.startswith(API_PREFIX + "/") \
            else None
        # Numbered where the fail rules count, so that the log's request k is the one nth=k fails.
        logged = remote.requests.add(method, path if api_path is None else api_path,
                                     request.rel_url.raw_query_string)
        rule = None if api_path is None else remote.faults.match(method, api_path)
        drop = rule.drop if rule is not None else None
        fault = None if rule is None else f"drop:{drop}" if drop else "fail"
        if drop == "hang":
            self._answered(remote, request, logged, None, fault)
            return await self._hang(request)
        if drop == "before":
            self._answered(remote, request, logged, None, fault)
            return _drop(request)
        response: web.Response | BodilessAnswer
        if api_path is None:
            response = error_response(501, "no such uri")
        elif rule is not None and drop is None:
            response = error_response(rule.status, rule.message)
        else:
            response = await self.answer(remote, request, method, api_path)
        if drop == "after":  # the request was carried out; the client never hears of it
            self._answered(remote, request, logged, None, fault)
            return _drop(request)
        self._answered(remote, request, logged, response.status, fault)
        if drop == "truncate":
            return _truncate(request, response)
        if isinstance(response, BodilessAnswer):
            return response.send(request)
        return response

    def _answered(self, remote: Remote, request: web.BaseRequest, logged: LoggedRequest, status: Optional[int],
                  fault: Optional[str]) -> None:
        remote.requests.answer(logged, status, fault)
        if self.log_requests:
            outcome = " ".join(str(part) for part in (status, fault) if part is not None)
            print(f"{remote.name} {request.method} {request.rel_url} -> {outcome}", file=sys.stderr, flush=True)

    async def _hang(self, request: web.BaseRequest) -> web.Response:
        """Hold the request, unanswered, until the client closes the connection (or the emulator
        stops). aiohttp tells a handler of a lost connection only by cancelling it (its
        handler_cancellation), which would also cut short requests that PVE carries out although
        the client left, so this looks at the connection instead."""
        while request.protocol.connected and not self.stopping:
            await asyncio.sleep(HANG_POLL_SECONDS)
        return _drop(request)

    async def answer(self, remote: Remote, request: web.BaseRequest, method: str,
                     api_path: str) -> web.Response | BodilessAnswer:
        """PVE's answer to one API request."""
        try:
            data = await self._call(remote, request, method, api_path)
        except Unauthorized as exc:
            await asyncio.sleep(remote.settings.auth_fail_delay)  # PVE slows down guessing (§2.2)
            return BodilessAnswer(401, exc.reason)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.errors)
        except Exception as exc:  # pylint: disable=broad-except  # a bug of ours: a 500, logged
            traceback.print_exc()
            return error_response(500, f"emulator internal error: {exc}\n")
        body = {"data": data.data, "total": data.total} if isinstance(data, routes.WithTotal) else {"data": data}
        return _response(200, "OK", _compact_json(body).encode())

    async def _call(self, remote: Remote, request: web.BaseRequest, method: str, api_path: str) -> Any:
        params = await read_parameters(request, method)
        found = routes.match(method, api_path)
        user = ""
        header, ticket = request.headers.get("Authorization", ""), _ticket(request)
        if found is None or found[0].needs_auth:
            user = authenticate(remote, request, method, header, ticket)
        # A path the remote's version does not have: pve-http-server's answer for any unknown path.
        if found is None or (remote.pve8 and found[0].pve9_only) or (not remote.pve92 and found[0].pve92_only):
            raise ApiError(501, f"Method '{method} {api_path}' not implemented")
        route, path_params = found
        # The order of pve-manager's HTTPServer.pm rest_handler: path parameters merged, the token
        # refusal, the schema's permission check (on the parameters as sent), then the handler,
        # which validates the parameters.
        for name, value in path_params.items():
            if name in params and params[name] != value:
                raise ParamError({name: "duplicate parameter (already defined in URI) with conflicting values!"})
            params[name] = value
        if schema.method_info(route.template, method).get("allowtoken") == 0 and _sends_token(header, ticket):
            # raise_perm_exc with a text that ends in a newline: it is inside the parentheses.
            raise ApiError(403, f"Permission check failed (URI '{api_path}' not available with API token, "
                                "need proper ticket.\n)\n")
        if route.needs_auth:
            access.check_api2_permissions(remote.access, schema.permissions(route.template, method), user, params)
        without: tuple[str, ...] = ()
        if remote.pve8:  # PVE 8 has no lock token, and its apply takes no parameters
            without = ("lock-token", "release-lock") if (method, route.template) == ("PUT", "/cluster/sdn") \
                else ("lock-token",)
        if not remote.pve92:  # the parameters 9.2 added are not in an older remote's schema
            without += schema.pve92_only(route.template, method)
        checked = schema.validate(route.template, method, params, without=without)
        return await route.handler(routes.Call(remote, method, route.template, checked, user, time.time()))


async def read_parameters(request: web.BaseRequest, method: str) -> dict[str, Any]:
    """Body (form or JSON) and query string; the query string wins; `_dc` is dropped (§2.3)."""
    if request.content_length and request.content_length > MAX_BODY:
        raise ApiError(501, "for data too large")
    body = await request.read()
    params: dict[str, Any] = {}
    if body:
        if method in ("GET", "DELETE"):
            raise ApiError(501, f"Unexpected content for method '{method}'")
        if len(body) > MAX_BODY:
            raise ApiError(501, "for data too large")
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type in ("", "application/x-www-form-urlencoded"):
            params = parse_form(body.decode("utf-8", errors="replace"))
        elif content_type == "application/json":
            params = _json_body(body)
        else:
            raise ApiError(506, f"unsupported content type '{content_type}'")
    params.update(parse_form(request.rel_url.raw_query_string))
    params.pop("_dc", None)
    return params


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except ValueError:
        raise ApiError(400, "unable to parse JSON body\n") from None
    if not isinstance(decoded, dict):
        raise ApiError(400, "the JSON body must be an object\n")
    return {key: value for key, value in decoded.items() if value is not None}


def parse_form(text: str) -> dict[str, Any]:
    """`a=1&b=2;c=3`, `+` and %XX decoded; a repeated key becomes a list."""
    params: dict[str, Any] = {}
    for piece in FORM_SEPARATORS.split(text):
        if not piece:
            continue
        raw_key, _sep, raw_value = piece.partition("=")
        key, value = urllib.parse.unquote_plus(raw_key), urllib.parse.unquote_plus(raw_value)
        if not key:
            continue
        if key in params:
            previous = params[key]
            params[key] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            params[key] = value
    return params


def authenticate(remote: Remote, request: web.BaseRequest, method: str, header: str, ticket: str) -> str:
    """The user of the request (for a token the full token id), from its Authorization header
    and its ticket (_ticket); raises Unauthorized. A cookie ticket wins, then `Authorization:
    PVEAuthCookie=`, then an API token (§2.2). A ticket's user must exist and be enabled
    (pve-manager HTTPServer.pm auth_handler)."""
    credentials = remote.credentials
    if ticket:
        user = credentials.check_ticket(urllib.parse.unquote(ticket))
        if user is None or not remote.access.user_enabled(user):
            raise Unauthorized("Authentication failed!")
        if method != "GET" and not credentials.check_csrf(user, request.headers.get("CSRFPreventionToken", "")):
            raise Unauthorized("Permission denied - invalid csrf token")
        return user
    for prefix in ("PVEAPIToken=", "PVEAPIToken "):
        if header.startswith(prefix):
            token_id = credentials.check_token(header[len(prefix):], remote.access)
            if token_id is None:
                raise Unauthorized("Authentication failed!")
            return token_id
    raise Unauthorized("No ticket")


def _ticket(request: web.BaseRequest) -> str:
    header = request.headers.get("Authorization", "")
    ticket = request.cookies.get("PVEAuthCookie") if "Cookie" in request.headers else None
    if not ticket and header.startswith("PVEAuthCookie="):
        ticket = header[len("PVEAuthCookie="):]
    return ticket or ""


def _sends_token(header: str, ticket: str) -> bool:
    """Whether pveproxy sees an API token: one in the Authorization header, and no ticket."""
    return not ticket and (header.startswith("PVEAPIToken=") or header.startswith("PVEAPIToken "))


_compact_json = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps would make an encoder per call
_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """Now as an HTTP date, made once a second (as aiohttp makes its Date header)."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def error_response(status: int, message: str, errors: Optional[dict] = None) -> web.Response:
    body: dict[str, Any] = {"data": None, "message": message}
    if errors:
        body["errors"] = errors
    return _response(status, message, _compact_json(body).encode())


def _response(status: int, message: str, body: bytes) -> web.Response:
    # The reason phrase is the message's first line (§2.4).
    reason = message.split("\n", 1)[0].strip().encode("latin-1", errors="replace").decode("latin-1") or None
    headers = {"Server": "pve-api-daemon/3.0", "Cache-Control": "max-age=0", "Pragma": "no-cache",
               "Expires": http_date()}
    if body:
        headers["Content-Type"] = "application/json;charset=UTF-8"
    response = web.Response(status=status, reason=reason, body=body, headers=headers)
    if status >= 400:
        response.force_close()  # PVE closes the connection after an error (§2.4)
        response.headers["Connection"] = "close"
    return response


class BodilessAnswer:
    """An error without a body as pveproxy sends it (pve-http-server, AnyEvent.pm `response`):
    no Content-Length at all, so the body ends with the connection, which it closes. aiohttp
    would add `Content-Length: 0`, so the answer is written to the connection directly."""

    def __init__(self, status: int, reason: str):
        self.status, self.reason = status, reason

    def head(self) -> bytes:
        date = http_date()
        return (f"HTTP/1.1 {self.status} {self.reason}\r\nCache-Control: max-age=0\r\nConnection: close\r\n"
                f"Date: {date}\r\nPragma: no-cache\r\nServer: pve-api-daemon/3.0\r\nExpires: {date}\r\n\r\n"
                ).encode("latin-1", errors="replace")

    def send(self, request: web.BaseRequest) -> web.Response:
        if request.transport is not None:
            request.transport.write(self.head())
            request.transport.close()
        return web.Response()  # not sent: the connection is closing


def _drop(request: web.BaseRequest) -> web.Response:
    """Close the connection without an answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


def _truncate(request: web.BaseRequest, response: web.Response | BodilessAnswer) -> web.Response:
    """Send the answer's status line and headers, as aiohttp would with the full Content-Length,
    and half its body (half its headers if it has none), then abort the connection: no TLS
    close_notify, so the client sees the connection die inside the answer."""
    if isinstance(response, BodilessAnswer):
        head, body = response.head(), b""
    else:
        body = bytes(response.body) if isinstance(response.body, (bytes, bytearray)) else b""
        headers = response.headers.copy()
        headers["Content-Length"] = str(len(body))
        headers.setdefault("Date", http_date())
        head = (f"HTTP/1.1 {response.status} {response.reason}\r\n"
                + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
                + "\r\n").encode("latin-1", errors="replace")
    cut = head + body[:len(body) // 2] if body else head[:len(head) // 2]
    if request.transport is not None:
        request.transport.write(cut)  # reaches the socket at once; abort drops only what is still queued
    return _drop(request)
