"""The HTTP layer of PVE's API server as clients see it (pve-sdn-api.md §2).

One aiohttp application serves every remote: the remote is the one whose address and port the
connection came in on. This module reads the parameters, authenticates, routes, validates
against the schema, calls the handler and wraps the answer in PVE's envelope; it also applies
the remote's injected faults. The control API under /_emulator is handed to control_api.py.
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

from pvefleet_emulator import access_api, control_api, nodes_api, routes, schema, sdn_api
from pvefleet_emulator.errors import ApiError, ParamError
from pvefleet_emulator.remote import Remote

MAX_BODY = 512 * 1024
API_PREFIX = "/api2/json"
FORM_SEPARATORS = re.compile(r"[&;]")
_REGISTERED = (access_api, nodes_api, sdn_api)  # importing these registers their routes


class Unauthorized(Exception):
    """401 from the authentication layer: no JSON body, the reason in the status line (§2.4)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ApiApp:
    def __init__(self, remotes: list[Remote], *, log_requests: bool = False):
        self.by_endpoint = {(r.address, r.port): r for r in remotes}
        self.log_requests = log_requests
        self.app = web.Application(client_max_size=4 * MAX_BODY)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    def remote_for(self, request: web.Request) -> Remote:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        return self.by_endpoint[(sockname[0], sockname[1])]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        remote = self.remote_for(request)
        if request.path == "/_emulator" or request.path.startswith("/_emulator/"):
            return await control_api.handle(remote, request)
        await remote.faults.answering.wait()  # "not answering": accepted, and held here
        response = await self.answer(remote, request)
        if remote.faults.latency_ms and response is not None:
            await asyncio.sleep(remote.faults.latency_ms / 1000)
        if self.log_requests:
            status = "dropped" if response is None else response.status
            print(f"{remote.name} {request.method} {request.rel_url} -> {status}", file=sys.stderr, flush=True)
        if response is None:
            return _drop(request)
        if isinstance(response, BodilessAnswer):
            return response.send(request)
        return response

    async def answer(self, remote: Remote, request: web.Request) -> Optional[web.Response | BodilessAnswer]:
        """PVE's answer to one API request; None when a fault drops the connection."""
        path = urllib.parse.unquote(request.rel_url.raw_path)  # unescaped before routing (§2.1)
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            return error_response(501, "no such uri")
        api_path = path[len(API_PREFIX):] or "/"
        method = request.method
        rule = remote.faults.match(method, api_path)
        if rule is not None and rule.drop == "before":
            return None
        if rule is not None and rule.drop is None:
            return error_response(rule.status, rule.message)
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
        if rule is not None and rule.drop == "after":
            return None  # the request was carried out; the client never hears of it
        body = {"data": data.data, "total": data.total} if isinstance(data, routes.WithTotal) else {"data": data}
        return _response(200, "OK", json.dumps(body, separators=(",", ":")).encode())

    async def _call(self, remote: Remote, request: web.Request, method: str, api_path: str) -> Any:
        params = await read_parameters(request, method)
        found = routes.match(method, api_path)
        user = ""
        if found is None or found[0].needs_auth:
            user = authenticate(remote, request, method)
        if found is None or (remote.pve8 and found[0].pve9_only):
            raise ApiError(501, f"Method '{method} {api_path}' not implemented")
        route, path_params = found
        if "!" in user and schema.method_info(route.template, method).get("allowtoken") == 0:
            raise ApiError(403, f"URI '{api_path}' not available with API token, need proper ticket.\n")
        for name, value in path_params.items():
            if name in params and params[name] != value:
                raise ParamError({name: "duplicate parameter (already defined in URI) with conflicting values!"})
            params[name] = value
        without: tuple[str, ...] = ()
        if remote.pve8:  # PVE 8 has no lock token, and its apply takes no parameters
            without = ("lock-token", "release-lock") if (method, route.template) == ("PUT", "/cluster/sdn") \
                else ("lock-token",)
        checked = schema.validate(route.template, method, params, without=without)
        return await route.handler(routes.Call(remote, method, route.template, checked, user, time.time()))


async def read_parameters(request: web.Request, method: str) -> dict[str, Any]:
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


def authenticate(remote: Remote, request: web.Request, method: str) -> str:
    """The user of the request (for a token the full token id); raises Unauthorized. A cookie
    ticket wins, then `Authorization: PVEAuthCookie=`, then an API token (§2.2)."""
    credentials = remote.credentials
    header = request.headers.get("Authorization", "")
    ticket = request.cookies.get("PVEAuthCookie")
    if not ticket and header.startswith("PVEAuthCookie="):
        ticket = header[len("PVEAuthCookie="):]
    if ticket:
        user = credentials.check_ticket(urllib.parse.unquote(ticket))
        if user is None:
            raise Unauthorized("Authentication failed!")
        if method != "GET" and not credentials.check_csrf(user, request.headers.get("CSRFPreventionToken", "")):
            raise Unauthorized("Permission denied - invalid csrf token")
        return user
    for prefix in ("PVEAPIToken=", "PVEAPIToken "):
        if header.startswith(prefix):
            token_id = credentials.check_token(header[len(prefix):])
            if token_id is None:
                raise Unauthorized("Authentication failed!")
            return token_id
    raise Unauthorized("No ticket")


def error_response(status: int, message: str, errors: Optional[dict] = None) -> web.Response:
    body: dict[str, Any] = {"data": None, "message": message}
    if errors:
        body["errors"] = errors
    return _response(status, message, json.dumps(body, separators=(",", ":")).encode())


def _response(status: int, message: str, body: bytes) -> web.Response:
    # The reason phrase is the message's first line (§2.4).
    reason = message.split("\n", 1)[0].strip().encode("latin-1", errors="replace").decode("latin-1") or None
    headers = {"Server": "pve-api-daemon/3.0", "Cache-Control": "max-age=0", "Pragma": "no-cache",
               "Expires": formatdate(usegmt=True)}
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

    def send(self, request: web.Request) -> web.Response:
        date = formatdate(usegmt=True)
        head = (f"HTTP/1.1 {self.status} {self.reason}\r\nCache-Control: max-age=0\r\nConnection: close\r\n"
                f"Date: {date}\r\nPragma: no-cache\r\nServer: pve-api-daemon/3.0\r\nExpires: {date}\r\n\r\n")
        if request.transport is not None:
            request.transport.write(head.encode("latin-1", errors="replace"))
            request.transport.close()
        return web.Response()  # not sent: the connection is closing


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()
