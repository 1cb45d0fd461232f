# Private to pvefleet.sdn: not a public API.
"""PveClient: the HTTPS client for one Proxmox VE remote.

Async (asyncio, over _http.py) so that one code path serves a module run on one remote and the
fleet engine on a thousand. It speaks PVE's dialect (pve-sdn-api.md §2): form-encoded bodies
with 1/0 booleans, parameters of GET and DELETE in the query string, the `{"data": ...}`
envelope, errors with a message and per-parameter texts, 401s with an empty body. Retries only
where a retry cannot do a change twice.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import (
    ApiError,
    AuthenticationError,
    IdentityMismatch,
    TlsError,
    TransportError,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._http import HttpRequest, HttpResponse, HttpsPool

# A ticket lives 2 h (pve-sdn-api.md §2.2); log in again a little before.
TICKET_REFRESH_SECONDS = 110 * 60
API_PREFIX = "/api2/json"
# GET answers worth another try: the proxy or node was briefly unavailable.
RETRY_STATUSES = frozenset({502, 503, 504})


def _address(settings: ConnectionSettings) -> str:
    return f"{settings.api_host}:{settings.api_port}"


def encode(values: Optional[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """PVE's form and query encoding: booleans 1/0, lists as repeated keys, None left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in (values or {}).items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            pairs.append((key, ("1" if item else "0") if isinstance(item, bool) else str(item)))
    return pairs


class PveClient:
    def __init__(self, settings: ConnectionSettings, *, transport=None, attempts: int = 3,
                 backoff: float = 0.2, max_connections: int = 4, connection_budget: Optional[int] = None,
                 identity: Optional[Mapping[str, Any]] = None):
        """`transport` (tests): anything with `async send(HttpRequest) -> HttpResponse` and
        `async aclose()`; by default HTTPS (_http.py), at most `max_connections` at once and
        `connection_budget` in all while one is open (HttpsPool).

        `identity`: the remote that issued a lock token this client will send, as identity()
        gave it when the lock was taken. The client then talks only to that address, and only
        to a server showing that certificate: a token never goes to another remote, whatever
        settings a task was given (PVE accepts any token on a remote that holds no lock)."""
        self.settings = settings
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._identity = dict(identity) if identity else None
        if self._identity and self._identity.get("address") != _address(settings):
            raise IdentityMismatch(
                f"refusing to send the lock token of {settings.remote} to {_address(settings)}: the lock was "
                f"taken at {self._identity.get('address')}. The connection settings this task has for "
                f"{settings.remote} differ from those it was locked with; give every task of the transaction "
                "the same settings (module_defaults for group/pvefleet.sdn.sdn, or pvefleet_sdn_* host variables)",
                sent=False, remote=settings.remote)
        expected = self._identity.get("certificate") if self._identity else None
        self._transport = transport or HttpsPool(settings, max_connections, certificate=expected,
                                                 budget=connection_budget)
        self._open = False
        self._ticket: Optional[str] = None
        self._csrf: Optional[str] = None
        self._ticket_time = 0.0
        self._login_lock = asyncio.Lock()

    def identity(self) -> dict:
        """Who answered: the address, and the SHA-256 of the certificate every connection showed
        (None where the transport has none, as in tests)."""
        return {"address": _address(self.settings), "certificate": getattr(self._transport, "certificate", None)}

    async def __aenter__(self) -> PveClient:
        self._open = True
        return self

    async def __aexit__(self, *exc) -> None:
        if self._open:
            self._open = False
            await self._transport.aclose()

    def keep_warm(self, on: bool = True) -> None:
        """Keep this remote's idle connections open while it waits on others (GET /version, which
        every user may read, on a connection idle for a few seconds): see HttpsPool.keep_warm."""
        warm = getattr(self._transport, "keep_warm", None)
        if warm is not None:
            warm(self._ping_request if on else None)

    async def _ping_request(self) -> HttpRequest:
        return HttpRequest("GET", API_PREFIX + "/version", await self._auth_headers("GET"))

    # The four verbs, returning PVE's `data`

    async def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, data: Optional[Mapping[str, Any]] = None) -> Any:
        return await self.request("POST", path, data=data)

    async def put(self, path: str, data: Optional[Mapping[str, Any]] = None) -> Any:
        return await self.request("PUT", path, data=data)

    async def delete(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        return await self.request("DELETE", path, params=params)

    async def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                      data: Optional[Mapping[str, Any]] = None) -> Any:
        if not self._open:
            raise RuntimeError("use PveClient as `async with PveClient(settings) as client`")
        relogged = False
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._send(method, path, params, data)
            except TransportError as exc:
                if attempt < self.attempts and (not exc.sent or method == "GET") and not isinstance(exc, TlsError):
                    await self._pause(attempt)
                    continue
                raise
            if response.status == 401 and not self.settings.uses_token and not relogged:
                # The ticket expired or the server restarted: one new login, then once more.
                relogged = True
                await self._login(force=True)
                continue
            if method == "GET" and response.status in RETRY_STATUSES and attempt < self.attempts:
                await self._pause(attempt)
                continue
            return self._data(method, path, response)

    async def _pause(self, attempt: int) -> None:
        delay = self.backoff * (2 ** (attempt - 1))
        await asyncio.sleep(delay * (0.5 + random.random()))

    async def _send(self, method: str, path: str, params, data) -> HttpResponse:
        headers = await self._auth_headers(method)
        target = API_PREFIX + (path if path.startswith("/") else "/" + path)
        query = encode(params)
        if query:
            target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        content = None
        if method in ("POST", "PUT"):
            content = urllib.parse.urlencode(encode(data), quote_via=urllib.parse.quote).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await self._transport.send(HttpRequest(method, target, headers, content))

    def _data(self, method: str, path: str, response: HttpResponse) -> Any:
        body: Any = None
        if response.body:
            try:
                body = json.loads(response.body)
            except ValueError:
                body = None
        if response.status == 200:
            return body.get("data") if isinstance(body, dict) else None
        message = ""
        errors = None
        if isinstance(body, dict):
            message = body.get("message") or ""
            errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
        message = message or response.reason or f"HTTP {response.status}"
        if response.status == 401:
            message += "; " + self._credentials_advice()
        raise ApiError.from_response(response.status, message, errors, method=method, path=path,
                                     remote=self.settings.remote)

    def _credentials_advice(self) -> str:
        settings = self.settings
        if settings.uses_token:
            return (f"check api_user, api_token_id and api_token_secret: the token {settings.api_user}!"
                    f"{settings.api_token_id} must exist on this remote, with the secret it was created with")
        return f"check api_user ({settings.api_user}, as user@realm) and api_password"

    # Authentication

    async def _auth_headers(self, method: str) -> dict[str, str]:
        settings = self.settings
        if settings.uses_token:
            return {"Authorization": f"PVEAPIToken={settings.api_user}!{settings.api_token_id}={settings.api_token_secret}"}
        await self._login()
        headers = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(self._ticket or "", safe="")}
        if method != "GET":
            headers["CSRFPreventionToken"] = self._csrf or ""
        return headers

    async def _login(self, force: bool = False) -> None:
        async with self._login_lock:
            fresh = self._ticket and time.monotonic() - self._ticket_time < TICKET_REFRESH_SECONDS
            if fresh and not force:
                return
            body = urllib.parse.urlencode({"username": self.settings.api_user,
                                           "password": self.settings.api_password or ""}).encode()
            request = HttpRequest("POST", API_PREFIX + "/access/ticket",
                                  {"Content-Type": "application/x-www-form-urlencoded"}, body)
            try:
                response = await self._transport.send(request)
            except TlsError as exc:
                raise TlsError(f"{exc.message.replace('no request was sent', 'the password was not sent')}",
                               sent=False, path="/access/ticket", remote=self.settings.remote) from None
            except TransportError as exc:
                raise TransportError(f"cannot log in: {exc.message}", sent=exc.sent, path="/access/ticket",
                                     remote=self.settings.remote) from None
            if response.status != 200:
                raise AuthenticationError(response.status, f"login failed: {response.reason or ''}; "
                                          + self._credentials_advice(),
                                          method="POST", path="/access/ticket", remote=self.settings.remote)
            try:
                data = json.loads(response.body or b"{}").get("data") or {}
                self._ticket, self._csrf = data["ticket"], data["CSRFPreventionToken"]
            except (ValueError, AttributeError, KeyError, TypeError):
                raise AuthenticationError(200, "login failed: the answer holds no ticket (is this a Proxmox VE API?)",
                                          method="POST", path="/access/ticket", remote=self.settings.remote) from None
            self._ticket_time = time.monotonic()
