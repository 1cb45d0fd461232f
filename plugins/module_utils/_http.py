# Private to pvefleet.sdn: not a public API.
"""HTTP/1.1 over TLS to one remote: a few kept-alive connections, one request at a time on each.

PveClient needs little of HTTP: a request line, a few headers and a form body out; a status, its
reason and a body back (by Content-Length, chunked, or up to the TLS close_notify; parsed by
httptools, the C parser uvicorn uses). This file is that, on asyncio's own TLS transport. A
general client library did the same with about twice the CPU per request, and the fleet engine's
controller is CPU-bound from about a hundred remotes on (bench/README.md).

Raises only TransportError, whose `sent` says whether the request may have reached the remote
(False only when not a byte of it was written: such a request can be tried again safely), and
TlsError, raised before any byte of HTTP is written.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import httptools
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import IdentityMismatch, TlsError, TransportError

# PVE's keep-alive idle timeout is about 5 s: drop idle connections before the server does.
KEEPALIVE_SECONDS = 4.0
# Requests in a row reuse a connection within milliseconds; one idle for longer may have been
# closed by the remote (a restart, a proxy's shorter keep-alive), so its close is looked for first.
IDLE_CHECK_SECONDS = 0.5
# A kept-warm idle connection gets a cheap request after this long: well before KEEPALIVE_SECONDS,
# since a controller busy with a thousand remotes runs its timers late (at 3 s, some were past 4 s).
WARM_SECONDS = 2.0
USER_AGENT = "pvefleet.sdn"
# The largest answer taken, far above what PVE's SDN API answers: a broken or hostile remote must
# not fill the memory of a controller that talks to a thousand.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # the body
MAX_HEAD_BYTES = 64 * 1024  # the status line and headers


@dataclasses.dataclass
class HttpRequest:
    method: str
    target: str  # path and query, as sent on the request line
    headers: dict[str, str]
    content: Optional[bytes] = None

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


@dataclasses.dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    reason: str = ""


def ssl_context_for(settings: ConnectionSettings) -> ssl.SSLContext:
    """Verified by default; a pinned fingerprint replaces chain and name checks (PDM does the
    same for self-signed remotes); validate_certs=false is the caller's explicit choice."""
    verified = not settings.fingerprint and settings.validate_certs
    try:
        return _shared_context(verified, settings.ca_path if verified else None)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot load the CA file {settings.ca_path}: {exc}", sent=False,
                       remote=settings.remote) from exc


@functools.lru_cache(maxsize=64)
def _shared_context(verified: bool, ca_path: Optional[str]) -> ssl.SSLContext:
    """One context per kind of check, shared by every remote that uses it: OpenSSL makes a new
    context slowly, and a thousand remotes would make a thousand of the same."""
    if not verified:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_path) if ca_path else ssl.create_default_context()


def tls_advice(settings: ConnectionSettings, exc: ssl.SSLError) -> str:
    """What to do about a certificate the controller refused, for the settings that refused it."""
    pin = "or pin the remote's own certificate with fingerprint (its SHA-256: `pvenode cert info` on the node)"
    if getattr(exc, "verify_code", None) == 62 or "hostname" in str(exc).lower() or "match" in str(exc).lower():
        return (f"The certificate is not made out to {settings.api_host!r}: give api_host as a name or address the "
                f"certificate names, {pin}")
    if settings.ca_path:
        return (f"The certificate is not signed by a CA in ca_path ({settings.ca_path}): give the remote's cluster CA "
                f"(/etc/pve/pve-root-ca.pem on one of its nodes), {pin}")
    return ("The certificate is not signed by a CA this controller trusts; a Proxmox VE node's own certificate is signed by "
            f"its cluster's CA: give ca_path (that CA, /etc/pve/pve-root-ca.pem on a node), {pin}")


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def colon_hex(digest: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in digest)


# Plaintext read per call: a TLS record carries at most 16 KiB.
TLS_READ_SIZE = 16 * 1024


class _Connection(asyncio.Protocol):
    """One TLS connection and the answer to the one request in flight on it.

    TLS runs here, on an ssl.SSLObject over memory buffers (the ssl module does the handshake,
    the certificate checks and the records; this class only carries bytes), not in asyncio's
    SSL transport: that one gives every connection a 256 KiB read buffer, half a gigabyte for
    the connections of a thousand remotes, and costs more CPU per read.
    """

    def __init__(self, context: ssl.SSLContext, server_hostname: str, session: Optional[ssl.SSLSession]) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False  # taken from the idle ones: an error says so
        self.warm_timer: Optional[asyncio.TimerHandle] = None  # the keep-warm request due on it
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname, session=session)
        self._parser = httptools.HttpResponseParser(self)
        self._answer: Optional[asyncio.Future] = None
        self._reason = b""
        self._body: list[bytes] = []
        self._body_size = self._received = 0  # bytes of the body; of the answer so far
        self._close_after = self._framed = False
        self._in_head = self._in_body = False  # where the answer in flight is: what a close cuts short

    # asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._shake_hands()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        if not self.handshake.done():
            self._handshake_failed(exc or ConnectionResetError("the remote closed the connection"))
            return
        if self._answer is not None and not self._answer.done():
            self._settle(error=TransportError(self._cut_short(exc), sent=True))

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self._incoming.write(data)
        if not self.handshake.done():
            self._shake_hands()
            if not self.handshake.done() or self.handshake.exception() is not None:
                return
        try:
            plaintext, ended = self._read_tls()
            if plaintext:
                self._received += len(plaintext)
                self._parser.feed_data(plaintext)
                if self._in_head and self._received > MAX_HEAD_BYTES:
                    raise TransportError(f"answer refused: its head is longer than {MAX_HEAD_BYTES} bytes "
                                         "(MAX_HEAD_BYTES)", sent=True)
        except TransportError as exc:
            self._fail(exc)
            return
        except httptools.HttpParserError as exc:
            refused = exc.__context__  # what a callback raised comes as the context of the parser's error
            self._fail(refused if isinstance(refused, TransportError)
                       else TransportError(f"unreadable answer: {_reason(exc)}", sent=True))
            return
        except ssl.SSLError as exc:
            self._fail(TransportError(f"no answer: {_reason(exc)}", sent=True))
            return
        if ended:  # the remote said close_notify: the connection ends here
            if self._in_body and not self._framed:
                # No Content-Length and not chunked: the body ends with the connection (RFC 9112
                # §6.3), and close_notify says that it is whole. PVE answers its 401s so.
                self._complete(self._parser.get_status_code(), keep_alive=False)
            self.close()

    def eof_received(self) -> bool:
        # The remote sends nothing more: an answer not whole now never will be. Closed at once, not
        # once the request is written (a remote that stopped reading would hold it until the timeout).
        self.close()
        return False

    # TLS

    def _shake_hands(self) -> None:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._send_tls()
            return
        except ssl.SSLError as exc:  # a certificate refused among others: the alert goes out first
            self._send_tls()
            self._handshake_failed(exc)
            self.close()
            return
        self._send_tls()
        self.handshake.set_result(None)

    def _handshake_failed(self, exc: BaseException) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(exc)
            self.handshake.exception()  # retrieved: nobody waits once a connect timed out

    def _read_tls(self) -> tuple[bytes, bool]:
        """The plaintext received so far, and whether the remote ended the TLS session."""
        chunks, ended = [], False
        while True:
            try:
                chunk = self._tls.read(TLS_READ_SIZE)
            except ssl.SSLWantReadError:  # no whole record yet
                break
            except ssl.SSLZeroReturnError:  # close_notify
                ended = True
                break
            if not chunk:
                ended = True
                break
            chunks.append(chunk)
        self._send_tls()
        return b"".join(chunks), ended

    def _send_tls(self) -> None:
        data = self._outgoing.read()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def peer_certificate(self) -> bytes:
        return self._tls.getpeercert(binary_form=True) or b""  # kept in the session when it is resumed

    def resumable_session(self) -> Optional[ssl.SSLSession]:
        """The TLS session, once the remote has sent a ticket to resume it with (TLS 1.3 sends
        it after the handshake, so it is there after the first answer)."""
        session = self._tls.session
        return session if session is not None and session.has_ticket else None

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._answer is None or self._answer.done():
            # Bytes after the whole answer, or while idle: not the answer to our next request,
            # whatever they are, so the connection is closed (the answer already given stands).
            raise TransportError("the remote sent more than the answer", sent=True)
        self._reason, self._body, self._body_size = b"", [], 0
        self._close_after = self._framed = self._in_body = False
        self._in_head = True

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"connection" and b"close" in value.lower():
            self._close_after = True
        elif name in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._in_head, self._in_body = False, True

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_RESPONSE_BYTES:
            raise TransportError(f"answer refused: its body is longer than {MAX_RESPONSE_BYTES} bytes "
                                 "(MAX_RESPONSE_BYTES)", sent=True)
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        status = self._parser.get_status_code()
        if status < 200:
            if status == 101:
                raise TransportError("unreadable answer: 101 Switching Protocols, and no request of ours asks for "
                                     "another protocol", sent=True)
            return  # an interim answer (100 Continue, 103 Early Hints: RFC 9110 §15.2); the final one follows
        self._complete(status, keep_alive=self._parser.should_keep_alive() and not self._close_after)

    def _complete(self, status: int, keep_alive: bool) -> None:
        response = HttpResponse(status, b"".join(self._body), self._reason.decode("utf-8", "replace"))
        self._settle(result=(response, keep_alive))

    # Use

    def open(self) -> bool:
        """Still usable: EOF and close_notify close the connection as they come, and a reset
        closes the transport."""
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    async def exchange(self, data: bytes, timeout: float) -> tuple[HttpResponse, bool]:
        """Send one request and wait for its whole answer: (response, whether to keep the
        connection). Raises TransportError, with sent=False only if nothing was written."""
        if not self.open():
            # Closed by the remote after its handshake (a server at its connection limit does so).
            raise TransportError("the remote closed the connection before the request was written; nothing was sent",
                                 sent=False)
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._received = 0
        timer = loop.call_later(timeout, self._time_out, timeout)
        try:
            self._tls.write(data)
            self._send_tls()
            return await self._answer
        finally:
            timer.cancel()
            self._answer = None

    def _cut_short(self, exc: Optional[Exception]) -> str:
        """What the end of the connection left of the answer in flight."""
        how = f" ({_reason(exc)})" if exc is not None else ""
        if self._in_body and not self._framed:
            return (f"incomplete answer: its body ends with the connection (no Content-Length, not chunked), and the "
                    f"connection ended without TLS close_notify{how}, so the body may be truncated")
        if self._in_body:
            return f"incomplete answer: the connection ended before the end of its body{how}"
        if self._in_head:
            return f"incomplete answer: the connection ended in the middle of its head{how}"
        kept = "kept-alive " if self.reused else ""
        return f"no answer: the remote closed the {kept}connection without answering{how}"

    def _time_out(self, timeout: float) -> None:
        self._settle(error=TransportError(f"no answer within {timeout:g} s", sent=True))

    def _fail(self, error: TransportError) -> None:
        """End the answer in flight with `error`, and the connection: it is in no state to go on."""
        self._settle(error=error)
        self.close()

    def _settle(self, result=None, error: Optional[BaseException] = None) -> None:
        answer = self._answer
        if answer is None or answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()  # no TLS close_notify round: the remote does not need one


class HttpsPool:
    """One remote's HTTPS connections: kept alive, at most `max_connections` at once, TLS checked
    as ConnectionSettings says."""

    def __init__(self, settings: ConnectionSettings, max_connections: int, certificate: Optional[str] = None,
                 budget: Optional[int] = None):
        """`certificate`: the SHA-256 (hex) of the certificate the remote must show (the one seen
        when a transaction took its lock). Without it, the first certificate seen is kept, and
        every later connection of this pool must show the same one: one pool, one server.

        `budget`: how many connections the pool opens in all. Once they are spent, a request
        waits for an open one to be free (a round trip or so) instead of a new TLS handshake
        (two or three, and the CPU on both ends); only when none is open any more is another
        opened. For a fleet transaction, whose lock probe PVE answers by closing its connection."""
        self.settings = settings
        self.certificate = certificate
        self.max_connections = max(1, max_connections)
        self.budget = budget
        self.opened = 0
        self._live: set[_Connection] = set()  # opened and not closed: idle, or in an exchange
        self._waiters: list[asyncio.Future] = []  # requests waiting for one of them to be free
        self._slots = asyncio.Semaphore(self.max_connections)
        self._idle: list[_Connection] = []
        self._tls: Optional[ssl.SSLContext] = None
        self._pin = bytes.fromhex(settings.fingerprint) if settings.fingerprint else None
        # The next connection resumes this TLS session: no certificate sent, signed or checked
        # again, so less CPU on both sides for the remote's later connections.
        self._session: Optional[ssl.SSLSession] = None
        # While set (keep_warm), the request that keeps idle connections open.
        self._ping: Optional[Callable[[], Awaitable[HttpRequest]]] = None
        self._pings: set[asyncio.Future] = set()
        host = settings.api_host
        self._host_header = (f"[{host}]" if ":" in host else host) + f":{settings.api_port}"

    async def send(self, request: HttpRequest) -> HttpResponse:
        data = self._encode(request)
        async with self._slot():
            now = asyncio.get_running_loop().time()
            if self._idle and now - self._idle[-1].idle_since > IDLE_CHECK_SECONDS:
                # A close that came while this task ran is not read yet: the loop's next turn
                # polls the sockets, and the turn after runs what the poll found.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            connection = self._reusable(now) or await self._free_or_new(request)
            try:
                response, keep_alive = await connection.exchange(data, self.settings.timeout)
            except TransportError as exc:
                connection.close()
                raise TransportError(exc.message, sent=exc.sent, **self._where(request)) from None
            except BaseException:  # cancelled: the answer may still come, on no request of ours
                connection.close()
                raise
            if self._session is None:
                self._session = connection.resumable_session()
            if keep_alive and not connection.closed:
                self._rest(connection)
            else:
                connection.close()  # PVE closes after any status >= 400 (pve-sdn-api.md §2.4)
            return response

    async def _free_or_new(self, request: HttpRequest) -> _Connection:
        """A new connection, unless the budget is spent while one is still open: then that one,
        as soon as its exchange (or keep-warm request) ends and leaves it reusable."""
        loop = asyncio.get_running_loop()
        while self.budget is not None and self.opened >= self.budget and self._still_open():
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                self._waiters.remove(waiter)
            connection = self._reusable(loop.time())
            if connection is not None:
                return connection
        connection = await self._connect(request)
        self.opened += 1
        self._live.add(connection)
        return connection

    def _still_open(self) -> bool:
        self._live = {connection for connection in self._live if not connection.closed}
        return bool(self._live)

    @contextlib.asynccontextmanager
    async def _slot(self):
        """One of the `max_connections` slots, for one exchange. Its connection is then left
        free or closed: the requests waiting for one (see _free_or_new) look again."""
        async with self._slots:
            try:
                yield
            finally:
                for waiter in self._waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    def keep_warm(self, ping: Optional[Callable[[], Awaitable[HttpRequest]]]) -> None:
        """While `ping` is set, no idle connection is left to the server's idle timeout (about
        5 s): one idle for WARM_SECONDS gets the request `ping()` makes (a cheap read) and stays
        open. For a transaction whose remotes wait on each other (every remote checked before any
        lock, every change made before any apply): one TLS handshake per connection, whatever
        the waits last. None stops it."""
        self._ping = ping
        for connection in self._idle:
            self._disarm(connection)
            if ping is not None:
                self._arm(connection)

    async def aclose(self) -> None:
        self._ping = None
        for ping in list(self._pings):
            ping.cancel()
        idle, self._idle = self._idle, []
        for connection in idle:
            self._disarm(connection)
            connection.close()

    def _rest(self, connection: _Connection) -> None:
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.append(connection)
        if self._ping is not None:
            self._arm(connection)

    def _arm(self, connection: _Connection) -> None:
        connection.warm_timer = asyncio.get_running_loop().call_later(WARM_SECONDS, self._warm, connection)

    @staticmethod
    def _disarm(connection: _Connection) -> None:
        if connection.warm_timer is not None:
            connection.warm_timer.cancel()
            connection.warm_timer = None

    def _warm(self, connection: _Connection) -> None:
        connection.warm_timer = None
        ping = asyncio.ensure_future(self._ping_on(connection))
        self._pings.add(ping)
        ping.add_done_callback(self._pings.discard)

    async def _ping_on(self, connection: _Connection) -> None:
        """The keep-warm request on one idle connection, in a slot of its own (a request that
        comes meanwhile takes another connection or waits one round trip). Any failure just
        closes the connection: the next request opens another, as it would have anyway."""
        try:
            request = await self._ping() if self._ping is not None else None
        except Exception:  # a login that failed: the next real request tells why
            request = None
        async with self._slot():
            if connection not in self._idle:
                return  # taken by a request meanwhile, or closed
            self._idle.remove(connection)
            if request is None or self._ping is None or not connection.open():
                connection.close()
                return
            try:
                response, keep_alive = await connection.exchange(self._encode(request), self.settings.timeout)
            except TransportError:
                connection.close()
                return
            except BaseException:  # cancelled (aclose)
                connection.close()
                raise
            if keep_alive and response.status == 200 and not connection.closed:
                self._rest(connection)
            else:
                connection.close()

    def _reusable(self, now: float) -> Optional[_Connection]:
        """The most recently used idle connection that is still open and fresh; the others that
        are looked at are closed, silently: nothing was sent on them."""
        oldest = now - KEEPALIVE_SECONDS
        while self._idle:
            connection = self._idle.pop()
            self._disarm(connection)
            if connection.idle_since > oldest and connection.open():
                connection.reused = True
                return connection
            connection.close()
        return None

    async def _connect(self, request: HttpRequest) -> _Connection:
        settings = self.settings
        if self._tls is None:
            self._tls = ssl_context_for(settings)
        try:
            connection = await asyncio.wait_for(self._open(), settings.timeout)
        except ssl.SSLError as exc:
            raise TlsError(f"TLS verification failed: {exc}. {tls_advice(settings, exc)}",
                           sent=False, **self._where(request)) from None
        except asyncio.TimeoutError:
            raise TransportError(f"cannot connect: no connection and TLS handshake within {settings.timeout:g} s",
                                 sent=False, **self._where(request)) from None
        except OSError as exc:
            raise TransportError(f"cannot connect: {_reason(exc)}", sent=False, **self._where(request)) from None
        got = hashlib.sha256(connection.peer_certificate()).digest()
        if self._pin is not None and got != self._pin:
            connection.close()
            raise TlsError(f"the certificate does not match the pinned fingerprint (expected "
                           f"{colon_hex(self._pin)}, got {colon_hex(got)}); no request was sent",
                           sent=False, **self._where(request))
        if self.certificate is None:
            self.certificate = got.hex()
        elif got.hex() != self.certificate:
            connection.close()
            raise IdentityMismatch(
                f"the remote shows another certificate ({colon_hex(got)}) than the one it showed when this "
                f"transaction took its lock ({colon_hex(bytes.fromhex(self.certificate))}): it is not the same "
                "server (or its certificate was renewed meanwhile), so no request, and no lock token, was sent",
                sent=False, **self._where(request))
        return connection

    async def _open(self) -> _Connection:
        """A TCP connection with the TLS handshake done (not yet the pin check)."""
        settings, loop, context = self.settings, asyncio.get_running_loop(), self._tls
        if context is None:  # made by _connect before the first connection
            raise RuntimeError("_open called before _connect made the TLS context")
        _transport, connection = await loop.create_connection(
            lambda: _Connection(context, settings.api_host, self._session), settings.api_host, settings.api_port)
        try:
            await connection.handshake
        except BaseException:
            connection.close()
            raise
        return connection

    def _encode(self, request: HttpRequest) -> bytes:
        lines = [f"{request.method} {request.target} HTTP/1.1", f"Host: {self._host_header}",
                 f"User-Agent: {USER_AGENT}", "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.content is not None:
            lines.append(f"Content-Length: {len(request.content)}")
        head = "\r\n".join(lines)
        breaks = len(lines) - 1
        if head.count("\r") != breaks or head.count("\n") != breaks:
            # A secret with a line break would otherwise end the headers early.
            raise TransportError("a header value contains a line break; nothing was sent", sent=False,
                                 **self._where(request))
        return (head + "\r\n\r\n").encode("utf-8") + (request.content or b"")

    def _where(self, request: HttpRequest) -> dict:
        return {"method": request.method, "path": request.path, "remote": self.settings.remote}
