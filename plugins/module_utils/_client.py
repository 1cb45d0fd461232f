# Private to pvefleet.sdn: not a public API.
"""PveClient: the HTTPS client for one Proxmox VE remote.

Async (httpx) so that one code path serves a module run on one remote and the fleet engine on a
thousand. It speaks PVE's dialect (pve-sdn-api.md §2): form-encoded bodies with 1/0 booleans,
parameters of GET and DELETE in the query string, the `{"data": ...}` envelope, errors with a
message and per-parameter texts, 401s with an empty body. Retries only where a retry cannot do
a change twice.
"""
from __future__ import annotations

import asyncio
import hashlib
import random
import ssl
import time
import urllib.parse
from typing import Any, Mapping, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import httpcore, httpx
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


class _PinMismatch(Exception):
    def __init__(self, expected: str, actual: str):
        super().__init__(f"expected {expected}, got {actual}")
        self.expected, self.actual = expected, actual


def _colon_hex(digest: str) -> str:
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)).upper()


if httpcore is not None:
    class _PinnedStream(httpcore.AsyncNetworkStream):
        """Checks the certificate of the TLS handshake before a byte of HTTP is written."""

        def __init__(self, stream, fingerprint: str):
            self._stream, self._fingerprint = stream, fingerprint

        async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
            return await self._stream.read(max_bytes, timeout)

        async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
            await self._stream.write(buffer, timeout)

        async def aclose(self) -> None:
            await self._stream.aclose()

        async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
            der = tls.get_extra_info("ssl_object").getpeercert(binary_form=True)
            actual = hashlib.sha256(der or b"").hexdigest()
            if actual != self._fingerprint:
                await tls.aclose()
                raise _PinMismatch(_colon_hex(self._fingerprint), _colon_hex(actual))
            return tls

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class _PinningBackend(httpcore.AsyncNetworkBackend):
        def __init__(self, fingerprint: str):
            self._backend, self._fingerprint = httpcore.AnyIOBackend(), fingerprint

        async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            stream = await self._backend.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            return _PinnedStream(stream, self._fingerprint)

        async def connect_unix_socket(self, path, timeout=None, socket_options=None):
            return await self._backend.connect_unix_socket(path, timeout=timeout, socket_options=socket_options)

        async def sleep(self, seconds: float) -> None:
            await self._backend.sleep(seconds)


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


class PveClient:
    def __init__(self, settings: ConnectionSettings, *, transport=None, attempts: int = 3,
                 backoff: float = 0.2, max_connections: int = 4):
        self.settings = settings
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._transport = transport
        self._max_connections = max_connections
        self._http = None
        self._ticket: Optional[str] = None
        self._csrf: Optional[str] = None
        self._ticket_time = 0.0
        self._login_lock = asyncio.Lock()

    async def __aenter__(self) -> PveClient:
        transport = self._transport or self._make_transport()
        self._http = httpx.AsyncClient(base_url=self.settings.base_url, transport=transport,
                                       timeout=self.settings.timeout, follow_redirects=False)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _make_transport(self):
        context = ssl_context_for(self.settings)
        limits = httpx.Limits(max_connections=self._max_connections, keepalive_expiry=KEEPALIVE_SECONDS)
        transport = httpx.AsyncHTTPTransport(verify=context, limits=limits)
        if self.settings.fingerprint:
            # httpx has no public hook for the network backend: its pool is rebuilt with ours.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=context, max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=_PinningBackend(self.settings.fingerprint))
        return transport

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
        if self._http is None:
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
            if response.status_code == 401 and not self.settings.uses_token and not relogged:
                # The ticket expired or the server restarted: one new login, then once more.
                relogged = True
                await self._login(force=True)
                continue
            if method == "GET" and response.status_code in RETRY_STATUSES and attempt < self.attempts:
                await self._pause(attempt)
                continue
            return self._data(method, path, response)

    async def _pause(self, attempt: int) -> None:
        delay = self.backoff * (2 ** (attempt - 1))
        await asyncio.sleep(delay * (0.5 + random.random()))

    async def _send(self, method: str, path: str, params, data):
        headers = await self._auth_headers(method)
        url = path if path.startswith("/") else "/" + path
        content = None
        if method in ("POST", "PUT"):
            body = encode(data)
            content = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            return await self._http.request(method, url, params=encode(params) or None, content=content,
                                            headers=headers)
        except _PinMismatch as exc:
            raise TlsError(f"the certificate does not match the pinned fingerprint ({exc}); no request was sent",
                           sent=False, method=method, path=path, remote=self.settings.remote) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if _is_tls_failure(exc):
                raise TlsError(f"TLS verification failed: {exc}. Give ca_path or fingerprint for a "
                               "self-signed remote", sent=False, method=method, path=path,
                               remote=self.settings.remote) from None
            raise TransportError(f"cannot connect: {exc or type(exc).__name__}", sent=False, method=method,
                                 path=path, remote=self.settings.remote) from None
        except httpx.TransportError as exc:
            raise TransportError(f"no answer: {exc or type(exc).__name__}", sent=True, method=method,
                                 path=path, remote=self.settings.remote) from None

    def _data(self, method: str, path: str, response) -> Any:
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = None
        if response.status_code == 200:
            return body.get("data") if isinstance(body, dict) else None
        message = ""
        errors = None
        if isinstance(body, dict):
            message = body.get("message") or ""
            errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
        message = message or response.reason_phrase or f"HTTP {response.status_code}"
        raise ApiError.from_response(response.status_code, message, errors, method=method, path=path,
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
            try:
                response = await self._http.post(
                    "/access/ticket", content=urllib.parse.urlencode(
                        {"username": self.settings.api_user, "password": self.settings.api_password or ""}),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
            except _PinMismatch as exc:
                raise TlsError(f"the certificate does not match the pinned fingerprint ({exc}); the password was not sent",
                               sent=False, path="/access/ticket", remote=self.settings.remote) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                kind = TlsError if _is_tls_failure(exc) else TransportError
                raise kind(f"cannot log in: {exc}", sent=False, path="/access/ticket",
                           remote=self.settings.remote) from None
            except httpx.TransportError as exc:
                raise TransportError(f"cannot log in: {exc}", sent=True, path="/access/ticket",
                                     remote=self.settings.remote) from None
            if response.status_code != 200:
                raise AuthenticationError(response.status_code, "login failed: " + (response.reason_phrase or ""),
                                          method="POST", path="/access/ticket", remote=self.settings.remote)
            data = response.json().get("data") or {}
            self._ticket, self._csrf = data.get("ticket"), data.get("CSRFPreventionToken")
            self._ticket_time = time.monotonic()


def _is_tls_failure(exc: BaseException) -> bool:
    seen = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False
