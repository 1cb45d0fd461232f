# Private to pvefleet.sdn: not a public API.
"""PveClient: the HTTPS client for one Proxmox VE remote.

Async (aiohttp) so that one code path serves a module run on one remote and the fleet engine on a
thousand. It speaks PVE's dialect (pve-sdn-api.md §2): form-encoded bodies with 1/0 booleans,
parameters of GET and DELETE in the query string, the `{"data": ...}` envelope, errors with a
message and per-parameter texts, 401s with an empty body. Retries only where a retry cannot do
a change twice.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import ssl
import time
import urllib.parse
from typing import Any, Mapping, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import aiohttp, yarl
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import (
    ApiError,
    AuthenticationError,
    TlsError,
    TransportError,
)

# A ticket lives 2 h (pve-sdn-api.md §2.2); log in again a little before.
TICKET_REFRESH_SECONDS = 110 * 60
# PVE's keep-alive idle timeout is about 5 s: drop idle connections before the server does.
KEEPALIVE_SECONDS = 4.0
# GET answers worth another try: the proxy or node was briefly unavailable.
RETRY_STATUSES = frozenset({502, 503, 504})


def _colon_hex(digest: str) -> str:
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)).upper()


def ssl_context_for(settings: ConnectionSettings) -> ssl.SSLContext:
    """Verified by default; a pinned fingerprint replaces chain and name checks (PDM does the
    same for self-signed remotes); validate_certs=false is the caller's explicit choice."""
    if settings.fingerprint or not settings.validate_certs:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=settings.ca_path) if settings.ca_path else ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot load the CA file {settings.ca_path}: {exc}", sent=False,
                       remote=settings.remote) from exc


def encode(values: Optional[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """PVE's form and query encoding: booleans 1/0, lists as repeated keys, None left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in (values or {}).items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None:
                continue
            pairs.append((key, ("1" if item else "0") if isinstance(item, bool) else str(item)))
    return pairs


@dataclasses.dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: Optional[bytes] = None

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    @property
    def query(self) -> str:
        return urllib.parse.urlsplit(self.url).query


@dataclasses.dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    reason: str = ""


class AiohttpTransport:
    """One remote's HTTPS connections: kept alive, at most `max_connections`, TLS checked as
    ConnectionSettings says. Raises only TransportError (with `sent`) and TlsError."""

    def __init__(self, settings: ConnectionSettings, max_connections: int):
        self.settings = settings
        self.max_connections = max_connections
        self._session = None

    def _open(self):
        settings = self.settings
        # A pinned fingerprint is checked by aiohttp right after the handshake, before a byte of
        # HTTP is written; it replaces chain and name checks (PDM does the same for self-signed remotes).
        tls = aiohttp.Fingerprint(bytes.fromhex(settings.fingerprint)) if settings.fingerprint else ssl_context_for(settings)
        connector = aiohttp.TCPConnector(limit=self.max_connections, ssl=tls, keepalive_timeout=KEEPALIVE_SECONDS)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=settings.timeout), auto_decompress=False)

    async def send(self, request: HttpRequest) -> HttpResponse:
        if self._session is None:
            self._session = self._open()
        where = dict(method=request.method, path=request.path, remote=self.settings.remote)
        try:
            async with self._session.request(request.method, yarl.URL(request.url, encoded=True),
                                             headers=request.headers, data=request.content,
                                             allow_redirects=False) as response:
                return HttpResponse(response.status, await response.read(), response.reason or "")
        except aiohttp.ServerFingerprintMismatch as exc:
            raise TlsError(f"the certificate does not match the pinned fingerprint (expected "
                           f"{_colon_hex(exc.expected.hex())}, got {_colon_hex(exc.got.hex())}); no request was sent",
                           sent=False, **where) from None
        except aiohttp.ClientSSLError as exc:
            raise TlsError(f"TLS verification failed: {exc}. Give ca_path or fingerprint for a self-signed remote",
                           sent=False, **where) from None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise TransportError(f"cannot connect: {exc or type(exc).__name__}", sent=False, **where) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransportError(f"no answer: {exc or type(exc).__name__}", sent=True, **where) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class PveClient:
    def __init__(self, settings: ConnectionSettings, *, transport=None, attempts: int = 3,
                 backoff: float = 0.2, max_connections: int = 4):
        """`transport` (tests): anything with `async send(HttpRequest) -> HttpResponse` and
        `async aclose()`; by default aiohttp over HTTPS."""
        self.settings = settings
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._transport = transport or AiohttpTransport(settings, max_connections)
        self._open = False
        self._ticket: Optional[str] = None
        self._csrf: Optional[str] = None
        self._ticket_time = 0.0
        self._login_lock = asyncio.Lock()

    async def __aenter__(self) -> PveClient:
        self._open = True
        return self

    async def __aexit__(self, *exc) -> None:
        if self._open:
            self._open = False
            await self._transport.aclose()

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
        url = self.settings.base_url + (path if path.startswith("/") else "/" + path)
        query = encode(params)
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        content = None
        if method in ("POST", "PUT"):
            content = urllib.parse.urlencode(encode(data), quote_via=urllib.parse.quote).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return await self._transport.send(HttpRequest(method, url, headers, content))

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
        raise ApiError.from_response(response.status, message, errors, method=method, path=path,
                                     remote=self.settings.remote)

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
            request = HttpRequest("POST", self.settings.base_url + "/access/ticket",
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
                raise AuthenticationError(response.status, "login failed: " + (response.reason or ""),
                                          method="POST", path="/access/ticket", remote=self.settings.remote)
            data = json.loads(response.body or b"{}").get("data") or {}
            self._ticket, self._csrf = data.get("ticket"), data.get("CSRFPreventionToken")
            self._ticket_time = time.monotonic()
