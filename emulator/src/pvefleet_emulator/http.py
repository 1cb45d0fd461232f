"""The HTTP layer of PVE's API server as clients see it (pve-sdn-api.md §2).

One aiohttp application serves every remote; the remote is the one whose address and port the
connection came in on. Routing, parameter parsing, authentication, the JSON envelope, the error
mapping and the injected faults are here; the endpoints themselves are in sdn_api.py.
"""
from __future__ import annotations

import asyncio
import json
import re
import traceback
import urllib.parse
from typing import Any, Optional

from aiohttp import web

from pvefleet_emulator import control
from pvefleet_emulator.remote import Remote
from pvefleet_emulator.schema import ParamError, validate
from pvefleet_emulator.sdn_api import PVE8_MISSING, ROUTES, current_user
from pvefleet_emulator.sdn_rules import Die

MAX_BODY = 512 * 1024


def _route_pattern(template: str) -> re.Pattern:
    """`/nodes/{node}/tasks` -> a regex with a named group per path parameter."""
    return re.compile("^" + re.sub(r"\\\{(\w[\w-]*)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


_COMPILED = [(method, template, _route_pattern(template), handler) for method, template, handler in ROUTES]
LOCK_TOKEN_PARAM = {"lock-token": {"type": "string", "optional": 1}}
# Lock-aware writes whose schema in the extract may lack lock-token (pve-sdn-api.md §3.3).
_LOCK_AWARE = re.compile(r"^/cluster/sdn(/(zones|vnets|controllers|ipams|dns)(/[^/]+)?|/vnets/[^/]+/subnets(/[^/]+)?|/lock|/rollback)?$")


class Emulator:
    def __init__(self, remotes: list[Remote]):
        self.by_endpoint = {(r.address, r.port): r for r in remotes}
        self.remotes = remotes
        self.app = web.Application(client_max_size=16 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    def remote_for(self, request: web.Request) -> Remote:
        address, port = request.transport.get_extra_info("sockname")[:2]
        return self.by_endpoint[(address, port)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        remote = self.remote_for(request)
        if request.path.startswith("/_emulator"):
            return await control.handle(remote, request)
        await remote.faults.answering.wait()
        if remote.faults.latency_ms:
            await asyncio.sleep(remote.faults.latency_ms / 1000)
        try:
            return await self._api(remote, request)
        except _Reply as reply:
            return reply.response

    async def _api(self, remote: Remote, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith("/api2/json"):
            raise _Reply(_error(501, "no such uri"))
        path = urllib.parse.unquote(request.path[len("/api2/json"):]) or "/"
        method = request.method
        params = await _parameters(request, method)
        user = await self._authenticate(remote, request, method, path, params)
        matched = _match(method, path)
        if matched is None or (remote.pve8 and (method, path) in PVE8_MISSING):
            raise _Reply(_error(501, f"Method '{method} {path}' not implemented"))
        template, handler, path_params = matched
        for name, value in path_params.items():
            if name in params and params[name] != value:
                raise _Reply(_param_error({name: "duplicate parameter (already defined in URI) with conflicting values!"}))
            params[name] = value
        rule = remote.faults.match(method, path)
        if rule is not None and rule.drop != "after":
            if rule.drop == "before":
                _drop(request)
                return web.Response()
            raise _Reply(_error(rule.status, rule.message))
        try:
            if template == "/access/ticket":
                data = self._login(remote, params)
            else:
                checked = _validate(remote, template, method, params)
                token = current_user.set(user)
                try:
                    data = await handler(remote, checked)
                finally:
                    current_user.reset(token)
        except ParamError as exc:
            return _param_error(exc.errors)
        except Die as exc:
            return _error(500, str(exc))
        except _Reply:
            raise
        except Exception as exc:  # a bug of ours: answer as PVE does for an unexpected die, and log it
            traceback.print_exc()
            return _error(500, f"emulator error: {exc}\n")
        if rule is not None and rule.drop == "after":
            _drop(request)  # the change happened; the client never hears of it
            return web.Response()
        body: dict[str, Any] = {"data": data}
        if isinstance(data, tuple):
            body = {"data": data[0], "total": data[1]}
        return web.Response(text=json.dumps(body), content_type="application/json", charset="utf-8")

    async def _authenticate(self, remote: Remote, request: web.Request, method: str, path: str,
                            params: dict) -> str:
        if path == "/access/ticket" and method == "POST":
            return ""
        creds = remote.credentials
        ticket = _cookie_ticket(request)
        authorization = request.headers.get("Authorization", "")
        if ticket is None and authorization.startswith("PVEAuthCookie="):
            ticket = urllib.parse.unquote(authorization[len("PVEAuthCookie="):])
        if ticket is not None:
            user = creds.check_ticket(ticket)
            if user is None:
                await self._auth_failed(remote, "authentication failure")
            if method != "GET" and not creds.check_csrf(user, request.headers.get("CSRFPreventionToken", "")):
                await self._auth_failed(remote, "Permission denied - invalid csrf token")
            return user
        for prefix in ("PVEAPIToken=", "PVEAPIToken "):
            if authorization.startswith(prefix):
                token_id = creds.check_token(authorization[len(prefix):])
                if token_id is None:
                    await self._auth_failed(remote, "authentication failure")
                return token_id
        await self._auth_failed(remote, "No ticket")
        raise AssertionError("unreachable")

    async def _auth_failed(self, remote: Remote, reason: str) -> None:
        await asyncio.sleep(remote.auth_fail_delay)  # PVE slows down guessing (§2.2)
        raise _Reply(web.Response(status=401, reason=reason, headers={"Connection": "close"}))

    def _login(self, remote: Remote, params: dict) -> dict:
        username, password = str(params.get("username", "")), str(params.get("password", ""))
        data = remote.credentials.login(username, password, params.get("realm"))
        if data is None:
            raise _Reply(_error(401, "authentication failure\n"))
        return data


class _Reply(Exception):
    def __init__(self, response: web.StreamResponse):
        self.response = response


def _validate(remote: Remote, template: str, method: str, params: dict) -> dict:
    if remote.pve8:
        return validate(template, method, params, drop=("lock-token",))
    # POST /lock is the one lock endpoint without a token: sending one is a 400 (§3.5).
    lock_aware = method in ("POST", "PUT", "DELETE") and bool(_LOCK_AWARE.match(template)) \
        and (method, template) != ("POST", "/cluster/sdn/lock")
    return validate(template, method, params, extra=LOCK_TOKEN_PARAM if lock_aware else None)


def _match(method: str, path: str) -> Optional[tuple[str, Any, dict]]:
    for route_method, template, pattern, handler in _COMPILED:
        if route_method != method:
            continue
        found = pattern.match(path)
        if found:
            return template, handler, found.groupdict()
    if method == "POST" and path == "/access/ticket":
        return "/access/ticket", None, {}
    return None


async def _parameters(request: web.Request, method: str) -> dict:
    params: dict[str, Any] = {}
    body = await request.read()
    if method in ("GET", "DELETE"):
        if body:
            raise _Reply(_error(501, f"Unexpected content for method '{method}'"))
    elif body:
        if len(body) > MAX_BODY:
            raise _Reply(_error(501, "for data too large"))
        kind = request.content_type
        if kind == "application/json":
            try:
                decoded = json.loads(body)
            except ValueError:
                raise _Reply(_error(400, "unable to parse JSON body")) from None
            params.update({k: (",".join(map(str, v)) if isinstance(v, list) and k != "dhcp-range" else v)
                           for k, v in (decoded or {}).items()})
        elif kind in ("application/x-www-form-urlencoded", ""):
            params.update(_form(body.decode("utf-8")))
        else:
            raise _Reply(_error(506, f"unsupported content type '{kind}'"))
    params.update(_form(request.query_string))  # the query string wins (§2.3)
    params.pop("_dc", None)
    return params


def _form(text: str) -> dict:
    params: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(text.replace(";", "&"), keep_blank_values=True):
        if key in params:
            params[key] = (params[key] if isinstance(params[key], list) else [params[key]]) + [value]
        else:
            params[key] = value
    return params


def _cookie_ticket(request: web.Request) -> Optional[str]:
    value = request.cookies.get("PVEAuthCookie")
    return urllib.parse.unquote(value) if value else None


def _error(status: int, message: str, errors: Optional[dict] = None) -> web.Response:
    body: dict[str, Any] = {"data": None, "message": message}
    if errors:
        body["errors"] = errors
    reason = message.split("\n", 1)[0][:200] or "error"
    # PVE closes the connection after any status >= 400 (§2.4).
    return web.Response(status=status, reason=reason, text=json.dumps(body), content_type="application/json",
                        charset="utf-8", headers={"Connection": "close"})


def _param_error(errors: dict) -> web.Response:
    return _error(400, "Parameter verification failed.\n", errors)


def _drop(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
