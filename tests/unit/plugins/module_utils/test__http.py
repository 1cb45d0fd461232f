"""HttpsPool against a real TLS server on 127.0.0.1 that each test scripts record by record:
keep-alive, framing, failures with their `sent` flag, TLS checks and the connection limit."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import hashlib
import ipaddress
import select
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Optional

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.pvefleet.sdn.plugins.module_utils import _http
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import TlsError, TransportError
from ansible_collections.pvefleet.sdn.plugins.module_utils._http import HttpRequest, HttpsPool

# The certificate


@dataclasses.dataclass(frozen=True)
class Certificate:
    cert_path: str
    key_path: str
    sha256: bytes  # of the DER form: what a pinned fingerprint names


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for IP 127.0.0.1, made once for the module."""
    directory: Path = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pvefleet.sdn test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Certificate(str(cert_path), str(key_path),
                       hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


# The scripted server


@dataclasses.dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # 1 for the first connection the server accepted, and so on


class Peer(asyncio.Protocol):
    """The server's end of one connection. TLS runs on memory buffers here, as in the client, so
    that a script decides what the client sees: each write() is one TLS record (up to 16 KiB),
    and a connection ends with close_notify, with a bare FIN or with a reset, as the test says."""

    def __init__(self, server: TlsServer):
        self.server = server
        self.number = 0
        self.transport: Optional[asyncio.Transport] = None
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future = loop.create_future()
        self.lost: asyncio.Future = loop.create_future()
        self.reader = asyncio.StreamReader()  # the plaintext the client sent
        self.received = 0  # bytes of TLS records after the handshake: whatever of a request reached this end
        self.ended = False  # no more writing: close(), finish() or reset() was called
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = server.context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._eof = False
        self._drained = asyncio.Event()
        self._drained.set()

    # asyncio.Protocol

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(0)  # drain() waits until the kernel has taken every byte
        self.server.accepted(self)

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        arrived = len(data)
        if not self.handshake.done():
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                return
            except ssl.SSLError as exc:  # the client refused the certificate: its alert came
                self._flush()
                self.handshake.set_exception(exc)
                self.transport.close()
                return
            self.handshake.set_result(None)
            self.server.shook_hands(self)
            arrived = self._incoming.pending  # records that came after the client's Finished
        self.received += arrived
        while not self._eof:
            try:
                chunk = self._tls.read(16 * 1024)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLError:  # close_notify, or a record this end cannot read
                chunk = b""
            if not chunk:
                self._eof = True
                self.reader.feed_eof()
            else:
                self.reader.feed_data(chunk)
        self._flush()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.server.open -= 1
        self._eof = True
        self.reader.feed_eof()
        self._drained.set()
        if not self.handshake.done():
            self.handshake.set_exception(exc or ConnectionResetError("closed during the handshake"))
            self.handshake.exception()
        self.lost.set_result(None)

    def pause_writing(self) -> None:
        self._drained.clear()

    def resume_writing(self) -> None:
        self._drained.set()

    # What a script does

    def write(self, data: bytes) -> None:
        """One TLS record for each 16 KiB of `data` (one for a short write); nothing once ended."""
        if not self.ended and data:
            self._tls.write(data)
            self._flush()

    async def drain(self) -> None:
        await self._drained.wait()

    def is_closing(self) -> bool:
        return self.ended or self.transport.is_closing()

    def close(self) -> None:
        """As a TLS server closes: close_notify, then the TCP connection once written."""
        self.finish(notify=True)
        self.transport.close()

    def finish(self, notify: bool) -> None:
        """Stop writing, with close_notify or without (a body that ends here may then be cut
        short), and a FIN; this end goes on reading, so `received` counts what still arrives."""
        if self.ended:
            return
        if notify and self.handshake.done() and self.handshake.exception() is None:
            try:
                self._tls.unwrap()
            except ssl.SSLWantReadError:  # the client's close_notify is not awaited
                pass
            self._flush()
        self.ended = True
        if not self.transport.is_closing():
            self.transport.write_eof()

    def abort(self) -> None:
        """A TCP reset, now (the socket closes at the loop's next turn); what is not yet written
        is lost."""
        self.ended = True
        self.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                           struct.pack("ii", 1, 0))
        self.transport.abort()

    async def reset(self) -> None:
        """A TCP reset once what was written is out; back when the socket is closed."""
        self.ended = True
        await self.drain()
        self.abort()
        await self.lost

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and not self.ended and not self.transport.is_closing():
            self.transport.write(data)


async def end(peer: Peer, how: str) -> None:
    """End the connection as `how` says: "close_notify", "fin" (no close_notify) or "reset"."""
    if how == "reset":
        await peer.reset()
    else:
        peer.finish(notify=how == "close_notify")


# A script answers one request by writing to the peer (or not) and may end the connection.
Script = Callable[[Received, Peer], Awaitable[None]]


class TlsServer:
    """A TLS server on 127.0.0.1 that reads requests and hands each to the test's script.

    `serve(peer)`, if given, replaces the reading of requests: it runs from the moment the TCP
    connection is accepted (`await peer.handshake` waits for TLS). `at_handshake(peer)` runs the
    moment the handshake is done, before the server's last handshake message goes out."""

    def __init__(self, certificate: Certificate, script: Optional[Script] = None, *,
                 serve: Optional[Callable[[Peer], Awaitable[None]]] = None,
                 at_handshake: Optional[Callable[[Peer], None]] = None, tls12: bool = False):
        self.certificate = certificate
        self.script = script
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate.cert_path, certificate.key_path)
        if tls12:
            self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.requests: list[Received] = []
        self.peers: list[Peer] = []
        self.connections = 0  # accepted so far
        self.open = 0  # open now
        self.most_open = 0
        self.resumed: list[bool] = []  # per connection: whether it resumed an earlier TLS session
        self.port = 0
        self._serve = serve or self.serve_requests
        self._at_handshake = at_handshake
        self._handlers: list[asyncio.Task] = []
        self._server: Optional[asyncio.AbstractServer] = None

    @property
    def bytes_received(self) -> int:
        """Bytes of TLS records after the handshakes, on every connection."""
        return sum(peer.received for peer in self.peers)

    async def __aenter__(self) -> TlsServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Peer(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        for peer in self.peers:
            peer.transport.abort()
        await asyncio.gather(*(peer.lost for peer in self.peers))
        await self._server.wait_closed()

    async def settled(self) -> None:
        """Wait until every connection made so far has ended."""
        await asyncio.wait_for(asyncio.gather(*(peer.lost for peer in self.peers)), 2)

    def accepted(self, peer: Peer) -> None:
        self.connections += 1
        peer.number = self.connections
        self.peers.append(peer)
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self._handlers.append(asyncio.ensure_future(self._serve(peer)))

    def shook_hands(self, peer: Peer) -> None:
        self.resumed.append(peer._tls.session_reused)
        if self._at_handshake is not None:
            self._at_handshake(peer)

    async def serve_requests(self, peer: Peer) -> None:
        try:
            await peer.handshake
            while not peer.is_closing():
                request = await self.read_request(peer)
                if request is None:
                    break
                self.requests.append(request)
                await self.script(request, peer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            if not peer.ended:
                peer.close()

    async def read_request(self, peer: Peer) -> Optional[Received]:
        """The next request on `peer`, or None once the client closed."""
        try:
            head = await peer.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ")
        headers = dict(line.split(": ", 1) for line in header_lines if line)
        body = await peer.reader.readexactly(int(headers.get("Content-Length", "0")))
        return Received(method, target, headers, body, peer.number)


def response(status: int = 200, reason: str = "OK", body: bytes = b'{"data":null}', *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Server: pve-api-daemon/3.0", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def echo_target(request: Received, peer: Peer) -> None:
    """Answer 200 with the request's target as the body, keeping the connection."""
    peer.write(response(200, "OK", request.target.encode()))


def in_turn(*scripts: Script) -> Script:
    """The first request gets the first script, and so on; the last one answers the rest."""
    waiting = list(scripts)

    async def script(request: Received, peer: Peer) -> None:
        await (waiting.pop(0) if len(waiting) > 1 else waiting[0])(request, peer)
    return script


def writing(data: bytes, then_close: bool = False) -> Script:
    async def script(request: Received, peer: Peer) -> None:
        peer.write(data)
        if then_close:
            peer.close()
    return script


def slow(script: Script, seconds: float) -> Script:
    async def delayed(request: Received, peer: Peer) -> None:
        await asyncio.sleep(seconds)
        await script(request, peer)
    return delayed


async def hang_up(request: Received, peer: Peer) -> None:
    peer.close()


async def no_answer(request: Received, peer: Peer) -> None:
    """Say nothing, and go on reading: the server sees the client close the connection."""


async def turns() -> None:
    """Two turns of the event loop: the first polls the sockets, the second runs what the poll
    found, so the client has read what this end wrote before."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def until(condition: Callable[[], bool], seconds: float = 1.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# The client side


def settings_for(port: int, **options) -> ConnectionSettings:
    return ConnectionSettings.from_params({"api_host": "127.0.0.1", "api_port": port, "api_user": "root@pam",
                                           "api_token_id": "tk", "api_token_secret": "s", "api_timeout": 2,
                                           **options})


def run(certificate: Certificate, script: Optional[Script], exchange, *, max_connections: int = 4,
        budget: Optional[int] = None, serving: Optional[dict] = None, **options):
    """Serve `script` (TlsServer's own options in `serving`), point a pool at the server (trusting
    the certificate by ca_path unless `options` say otherwise) and return
    (await exchange(pool, server), server)."""
    options = {"ca_path": certificate.cert_path, **options}

    async def go():
        async with TlsServer(certificate, script, **(serving or {})) as server:
            pool = HttpsPool(settings_for(server.port, **options), max_connections, budget=budget)
            try:
                return await exchange(pool, server), server
            finally:
                await pool.aclose()

    return asyncio.run(go())


def get(target: str = "/api2/json/version") -> HttpRequest:
    return HttpRequest("GET", target, {})


# Keep-alive and what goes on the wire


def test_requests_in_sequence_share_one_connection(certificate):
    async def exchange(pool, server):
        return [(await pool.send(get(f"/api2/json/n/{n}"))).body for n in range(3)]

    bodies, server = run(certificate, echo_target, exchange)
    assert bodies == [b"/api2/json/n/0", b"/api2/json/n/1", b"/api2/json/n/2"]
    assert server.connections == 1
    assert [r.connection for r in server.requests] == [1, 1, 1]


def test_the_request_carries_method_target_host_headers_and_body(certificate):
    async def exchange(pool, server):
        await pool.send(HttpRequest("POST", "/api2/json/cluster/sdn/zones?x=1",
                                    {"Authorization": "PVEAPIToken=root@pam!t=s",
                                     "Content-Type": "application/x-www-form-urlencoded"}, b"zone=z1&type=simple"))
        await pool.send(HttpRequest("DELETE", "/api2/json/cluster/sdn/lock?force=1", {"X-Test": "v"}))

    _result, server = run(certificate, echo_target, exchange)
    post, delete = server.requests
    assert (post.method, post.target) == ("POST", "/api2/json/cluster/sdn/zones?x=1")
    assert post.headers["Host"] == f"127.0.0.1:{server.port}"
    assert post.headers["Authorization"] == "PVEAPIToken=root@pam!t=s"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert post.headers["Content-Length"] == str(len(b"zone=z1&type=simple"))
    assert post.body == b"zone=z1&type=simple"
    assert (delete.method, delete.target, delete.headers["X-Test"], delete.body) == (
        "DELETE", "/api2/json/cluster/sdn/lock?force=1", "v", b"")
    assert delete.connection == post.connection == 1


@pytest.mark.parametrize(("status", "first"), [
    (200, response(200, "OK", b'{"data":1}', "Connection: close")),
    (500, response(500, "create sdn zone object failed", b'{"data":null,"message":"failed"}', "Connection: close")),
], ids=["200-connection-close", "500-as-pve-sends-it"])
def test_a_connection_close_answer_is_not_reused(certificate, status, first):
    async def exchange(pool, server):
        answers = [await pool.send(get()), await pool.send(get())]
        return answers, await until(lambda: server.open == 1)

    # The server itself keeps the connection open: only the client's reading of the header counts.
    (answers, first_one_closed), server = run(certificate, in_turn(writing(first), echo_target), exchange)
    assert [a.status for a in answers] == [status, 200]
    assert [r.connection for r in server.requests] == [1, 2]
    assert first_one_closed  # and the client closed the one it did not keep


def test_the_server_closing_an_idle_connection_is_harmless(certificate):
    async def exchange(pool, server):
        first = await pool.send(get("/first"))
        assert await until(lambda: all(connection.closed for connection in pool._idle))  # the client saw it
        return first, await pool.send(get("/second"))

    (first, second), server = run(certificate, in_turn(writing(response(200, "OK", b"1"), then_close=True),
                                                       echo_target), exchange)
    assert (first.body, second.body) == (b"1", b"/second")
    assert server.connections == 2


ENDINGS = ["close_notify", "fin", "reset"]


@pytest.mark.parametrize("how", ENDINGS)
def test_a_close_not_yet_read_is_seen_before_reuse_and_a_new_connection_used(certificate, monkeypatch, how):
    """The remote closed the idle connection and its close is in the client's socket, but the
    event loop has not read it yet: the pool sees it all the same, writes nothing into that
    connection and takes a new one, without an error."""
    monkeypatch.setattr(_http, "IDLE_CHECK_SECONDS", 0.0, raising=False)  # as if idle for a while

    async def exchange(pool, server):
        first = await pool.send(get("/first"))
        peer = server.peers[0]
        before = peer.received
        await end(peer, how)
        # Wait in the kernel, not in the loop, until the close has reached the client's socket.
        assert select.select([pool._idle[0].transport.get_extra_info("socket")], [], [], 2)[0]
        second = await pool.send(get("/second"))
        await pool.aclose()
        await server.settled()
        return first, second, peer.received - before

    (first, second, after_the_first), server = run(certificate, echo_target, exchange)
    assert (first.body, second.body) == (b"/first", b"/second")
    assert [r.connection for r in server.requests] == [1, 2]
    assert after_the_first == 0  # not a byte of the second request went to the closed connection


def test_an_idle_connection_older_than_keepalive_is_not_reused(certificate, monkeypatch):
    monkeypatch.setattr(_http, "KEEPALIVE_SECONDS", 0.05)

    async def exchange(pool, server):
        await pool.send(get())
        await asyncio.sleep(0.1)
        await pool.send(get())
        return await until(lambda: server.open == 1)

    stale_one_closed, server = run(certificate, echo_target, exchange)
    assert [r.connection for r in server.requests] == [1, 2]
    assert stale_one_closed


def test_a_connection_used_within_keepalive_is_reused(certificate, monkeypatch):
    monkeypatch.setattr(_http, "KEEPALIVE_SECONDS", 0.5)

    async def exchange(pool, server):
        await pool.send(get())
        await asyncio.sleep(0.1)
        await pool.send(get())

    _result, server = run(certificate, echo_target, exchange)
    assert server.connections == 1


async def ping() -> HttpRequest:
    return get("/api2/json/ping")


def test_a_kept_warm_connection_outlives_the_keepalive_and_is_reused(certificate, monkeypatch):
    monkeypatch.setattr(_http, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(_http, "WARM_SECONDS", 0.05)

    async def exchange(pool, server):
        pool.keep_warm(ping)
        await pool.send(get())
        await asyncio.sleep(0.5)  # more than twice the keep-alive: it was warmed several times
        await pool.send(get("/api2/json/after"))

    _result, server = run(certificate, echo_target, exchange)
    assert server.connections == 1
    targets = [r.target for r in server.requests]
    assert targets[0] == "/api2/json/version" and targets[-1] == "/api2/json/after"
    assert set(targets[1:-1]) == {"/api2/json/ping"} and len(targets) >= 4


def test_without_keep_warm_nothing_is_sent_while_idle(certificate, monkeypatch):
    monkeypatch.setattr(_http, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(_http, "WARM_SECONDS", 0.05)

    async def exchange(pool, server):
        pool.keep_warm(ping)
        pool.keep_warm(None)  # stopped again before any idle time
        await pool.send(get())
        await asyncio.sleep(0.3)
        await pool.send(get())

    _result, server = run(certificate, echo_target, exchange)
    assert [r.target for r in server.requests] == ["/api2/json/version"] * 2
    assert server.connections == 2


def test_every_idle_connection_is_kept_warm(certificate, monkeypatch):
    monkeypatch.setattr(_http, "KEEPALIVE_SECONDS", 0.2)
    monkeypatch.setattr(_http, "WARM_SECONDS", 0.05)

    async def exchange(pool, server):
        pool.keep_warm(ping)
        await asyncio.gather(pool.send(get()), pool.send(get()))
        await asyncio.sleep(0.5)
        await asyncio.gather(pool.send(get()), pool.send(get()))

    _result, server = run(certificate, slow(echo_target, 0.02), exchange, max_connections=2)
    assert server.connections == 2


@pytest.mark.parametrize("answer", [writing(response(500, "Internal Server Error")),
                                    writing(response(401, "No ticket", b"")), hang_up])
def test_a_failed_keep_warm_request_only_closes_its_connection(certificate, monkeypatch, answer):
    monkeypatch.setattr(_http, "WARM_SECONDS", 0.05)

    async def exchange(pool, server):
        pool.keep_warm(ping)
        first = await pool.send(get())
        await asyncio.sleep(0.2)
        closed = await until(lambda: server.open == 0)
        second = await pool.send(get())
        return first.status, closed, second.status

    script = in_turn(echo_target, answer, echo_target)
    (first, closed, second), server = run(certificate, script, exchange)
    assert (first, closed, second) == (200, True, 200)
    assert [r.connection for r in server.requests][-1] == 2


def test_aclose_stops_keeping_warm(certificate, monkeypatch):
    monkeypatch.setattr(_http, "WARM_SECONDS", 0.05)

    async def exchange(pool, server):
        pool.keep_warm(ping)
        await pool.send(get())
        await asyncio.sleep(0.07)  # the keep-warm request is under way (the server takes 0.1 s)
        await pool.aclose()
        await asyncio.sleep(0.2)
        return await until(lambda: server.open == 0)

    all_closed, server = run(certificate, in_turn(echo_target, slow(echo_target, 0.1)), exchange)
    assert all_closed
    assert len(server.requests) <= 2


# The connection budget


def test_with_the_budget_spent_requests_take_turns_on_the_open_connection(certificate):
    async def exchange(pool, server):
        await asyncio.gather(pool.send(get()), pool.send(get()))  # two connections: the budget
        failed = await pool.send(get("/api2/json/fail"))  # an error answer: PVE closes its connection
        answers = await asyncio.gather(*(pool.send(get(f"/api2/json/n/{n}")) for n in range(3)))
        return failed.status, [answer.body for answer in answers]

    async def script(request: Received, peer: Peer) -> None:
        await asyncio.sleep(0.02)
        if request.target.endswith("/fail"):
            peer.write(response(500, "Internal Server Error", b"{}", "Connection: close"))
        else:
            await echo_target(request, peer)

    (status, bodies), server = run(certificate, script, exchange, max_connections=2, budget=2)
    assert status == 500 and bodies == [b"/api2/json/n/0", b"/api2/json/n/1", b"/api2/json/n/2"]
    assert server.connections == 2
    assert len({r.connection for r in server.requests[-3:]}) == 1


def test_with_the_budget_spent_and_nothing_open_a_request_opens_one_more(certificate):
    async def exchange(pool, server):
        first = await pool.send(get())
        second = await pool.send(get())
        return first.status, second.status

    script = in_turn(writing(response(200, "OK", b"1"), then_close=True), echo_target)
    (first, second), server = run(certificate, script, exchange, max_connections=2, budget=1)
    assert (first, second) == (200, 200)
    assert server.connections == 2  # over the budget: else nothing could go on


def test_with_the_budget_spent_a_request_waits_for_a_keep_warm_request(certificate, monkeypatch):
    monkeypatch.setattr(_http, "WARM_SECONDS", 0.05)

    async def exchange(pool, server):
        pool.keep_warm(ping)
        await pool.send(get())
        assert await until(lambda: any(r.target == "/api2/json/ping" for r in server.requests))
        return (await pool.send(get("/api2/json/after"))).status  # the ping takes 0.1 s to answer

    status, server = run(certificate, slow(echo_target, 0.1), exchange, max_connections=2, budget=1)
    assert status == 200 and server.connections == 1


def test_aclose_closes_the_idle_connections(certificate):
    async def exchange(pool, server):
        await asyncio.gather(pool.send(get()), pool.send(get()))
        opened = server.open
        await pool.aclose()
        return opened, await until(lambda: server.open == 0)

    (opened, all_closed), _server = run(certificate, slow(echo_target, 0.05), exchange)
    assert opened == 2 and all_closed


# Reading answers


def test_a_chunked_body_is_returned_whole_and_the_connection_stays_usable(certificate):
    async def chunked(request: Received, peer: Peer) -> None:
        peer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"data":', b'[1,2,', b"3]}"):
            peer.write(b"%x\r\n%s\r\n" % (len(piece), piece))  # each piece in its own TLS record
        peer.write(b"0\r\n\r\n")

    async def exchange(pool, server):
        return await pool.send(get()), await pool.send(get("/after"))

    (answer, after), server = run(certificate, in_turn(chunked, echo_target), exchange)
    assert (answer.status, answer.body) == (200, b'{"data":[1,2,3]}')
    assert after.body == b"/after"
    assert server.connections == 1


def test_a_large_body_over_many_records_is_returned_whole(certificate):
    body = bytes(range(256)) * 1024  # 256 KiB: many TLS records, many reads

    async def exchange(pool, server):
        return await pool.send(get())

    answer, _server = run(certificate, writing(response(200, "OK", body)), exchange)
    assert answer.body == body


def test_the_reason_phrase_of_an_empty_401_is_kept(certificate):
    async def exchange(pool, server):
        return await pool.send(get())

    answer, _server = run(certificate, writing(response(401, "No ticket", b"", "Connection: close"), then_close=True),
                          exchange)
    assert (answer.status, answer.reason, answer.body) == (401, "No ticket", b"")


def test_a_401_as_pve_sends_it_without_content_length_is_an_answer(certificate):
    pve_401 = b"HTTP/1.1 401 No ticket\r\nConnection: close\r\nServer: pve-api-daemon/3.0\r\n\r\n"

    async def exchange(pool, server):
        return await pool.send(get())

    answer, _server = run(certificate, writing(pve_401, then_close=True), exchange)  # with close_notify
    assert (answer.status, answer.reason, answer.body) == (401, "No ticket", b"")


PVE_401 = b"HTTP/1.1 401 No ticket\r\nConnection: close\r\nServer: pve-api-daemon/3.0\r\n\r\n"


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_a_body_that_ends_with_the_connection_is_whole_when_tls_says_so(certificate, version):
    """No Content-Length and not chunked: the body is what comes until the connection ends, and
    close_notify says it ended there (RFC 9112 §6.3); the connection is not used again."""
    answer = f"HTTP/{version} 200 OK\r\nServer: pve-api-daemon/3.0\r\n\r\n".encode() + b'{"data":"all of it"}'

    async def exchange(pool, server):
        return await pool.send(get()), await pool.send(get("/next"))

    (first, after), server = run(certificate, in_turn(writing(answer, then_close=True), echo_target), exchange)
    assert (first.status, first.body) == (200, b'{"data":"all of it"}')
    assert after.body == b"/next" and server.connections == 2


@pytest.mark.parametrize("how", ["fin", "reset"])
@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 OK\r\n\r\n" + b'{"data":', PVE_401], ids=["200", "pve-401"])
def test_a_body_that_ends_with_the_connection_without_close_notify_may_be_truncated(certificate, answer, how):
    """A bare TCP close (a crash, a middlebox, an attacker) does not say the body is whole."""
    async def script(request: Received, peer: Peer) -> None:
        peer.write(answer)
        await end(peer, how)

    async def exchange(pool, server):
        with pytest.raises(TransportError) as caught:
            await pool.send(get())
        return caught.value

    error, _server = run(certificate, script, exchange)
    assert error.sent is True
    assert "ended without TLS close_notify" in str(error) and "may be truncated" in str(error)


FRAMED = {
    "content-length": response(200, "OK", b'{"data":[1,2,3]}'),
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"data\":\r\n8\r\n[1,2,3]}\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("how", ENDINGS)
@pytest.mark.parametrize(("framing", "length", "said"), [
    ("content-length", 20, "in the middle of its head"),
    ("content-length", -1, "before the end of its body"),
    ("chunked", 20, "in the middle of its head"),
    ("chunked", -20, "before the end of its body"),  # in a chunk
    ("chunked", -5, "before the end of its body"),  # after a whole chunk, no last chunk
    ("chunked", -2, "before the end of its body"),  # the last chunk without its end
])
def test_an_answer_cut_short_is_an_error_never_a_short_body(certificate, framing, length, said, how):
    async def script(request: Received, peer: Peer) -> None:
        peer.write(FRAMED[framing][:length])
        await end(peer, how)

    async def exchange(pool, server):
        with pytest.raises(TransportError) as caught:
            await pool.send(get())
        return caught.value

    error, _server = run(certificate, script, exchange)
    assert error.sent is True
    assert f"incomplete answer: the connection ended {said}" in str(error)


# Framing: where an answer ends, and whether the connection goes on


CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"8;name=value\r\n{\"data\":\r\n"  # a chunk extension
           b"8;a;b=\"quoted\"\r\n[1,2,3]}\r\n"
           b"0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n")  # trailers
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"


@pytest.mark.parametrize(("answer", "status", "body", "kept"), [
    (response(200, "OK", b'{"data":[1,2,3]}'), 200, b'{"data":[1,2,3]}', True),
    (response(200, "OK", b""), 200, b"", True),
    (CHUNKED, 200, b'{"data":[1,2,3]}', True),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, b"", True),
    (b"HTTP/1.1 204 No Content\r\nServer: pve-api-daemon/3.0\r\n\r\n", 204, b"", True),
    (response(200, "OK", b"{}", "Connection: close"), 200, b"{}", False),
    (response(200, "OK", b"{}").replace(b"HTTP/1.1", b"HTTP/1.0"), 200, b"{}", False),
    (response(200, "OK", b"{}", "Connection: keep-alive").replace(b"HTTP/1.1", b"HTTP/1.0"), 200, b"{}", True),
    (CONTINUE + response(200, "OK", b"{}"), 200, b"{}", True),
    (EARLY_HINTS + CONTINUE + CHUNKED, 200, b'{"data":[1,2,3]}', True),
], ids=["content-length", "content-length-0", "chunked-extensions-trailers", "chunked-empty", "204",
        "connection-close", "http-1.0", "http-1.0-keep-alive", "100-continue-first", "103-and-100-first"])
def test_an_answer_ends_where_its_framing_says_and_the_connection_goes_on_if_it_may(
        certificate, answer, status, body, kept):
    async def exchange(pool, server):
        return await pool.send(get()), await pool.send(get("/next"))

    (first, after), server = run(certificate, in_turn(writing(answer), echo_target), exchange)
    assert (first.status, first.body) == (status, body)
    assert after.body == b"/next"
    assert [r.connection for r in server.requests] == ([1, 1] if kept else [1, 2])


SPLIT = {"content-length": response(200, "OK", b'{"data":"ok"}'), "chunked": CHUNKED,
         "interim-then-content-length": CONTINUE + response(204, "No Content", b""),
         "close-delimited": b"HTTP/1.1 200 OK\r\n\r\n" + b'{"data":"ok"}'}


@pytest.mark.parametrize("framing", sorted(SPLIT))
def test_an_answer_split_anywhere_across_tls_records_is_read_the_same(certificate, framing):
    """Each split point in turn: the answer in two TLS records, the client reading the first
    before the second is written."""
    answer = SPLIT[framing]
    delimited = framing == "close-delimited"

    async def exchange(pool, server):
        whole = await pool.send(get())
        split = [await pool.send(get()) for _point in range(1, len(answer))]
        return whole, split

    points = iter(range(len(answer)))

    async def script(request: Received, peer: Peer) -> None:
        point = next(points)
        peer.write(answer[:point])
        await turns()
        peer.write(answer[point:])
        if delimited:
            peer.close()

    (whole, split), server = run(certificate, script, exchange)
    assert all((answer.status, answer.body, answer.reason) == (whole.status, whole.body, whole.reason)
               for answer in split)
    assert server.connections == (len(answer) if delimited else 1)


@pytest.mark.parametrize("extra", [
    response(200, "OK", b'"extra"'),
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",  # and the next answer would finish it
    b"HTTP/1.1 408 Request Timeout\r\n",
], ids=["whole-answer", "part-of-an-answer", "a-status-line"])
@pytest.mark.parametrize("records", [1, 2])
def test_more_than_one_answer_for_one_request_is_not_taken_for_the_next(certificate, extra, records):
    first = response(200, "OK", b'"first"')

    async def twice(request: Received, peer: Peer) -> None:
        if records == 1:
            peer.write(first + extra)
        else:
            peer.write(first)
            peer.write(extra)

    async def exchange(pool, server):
        return await pool.send(get()), await pool.send(get("/next"))

    (answer, after), server = run(certificate, in_turn(twice, echo_target), exchange)
    assert (answer.body, after.body) == (b'"first"', b"/next")
    assert [r.connection for r in server.requests] == [1, 2]  # the one with the extra bytes was closed


@pytest.mark.parametrize("answer", [
    b"garbage\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
    b"\x00\x01\x02\x03 binary\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
], ids=["garbage", "status-2000", "no-status", "binary", "two-content-lengths", "101-switching-protocols"])
def test_an_unreadable_answer_is_an_error_after_sending_and_the_connection_closed(certificate, answer):
    async def exchange(pool, server):
        with pytest.raises(TransportError) as caught:
            await pool.send(get())
        return caught.value, await until(lambda: server.open == 0)

    (error, closed), _server = run(certificate, writing(answer), exchange)
    assert error.sent is True and "unreadable answer" in str(error)
    assert closed


# Limits


def test_answers_are_limited_to_64_mib_of_body_and_64_kib_of_head():
    assert (_http.MAX_RESPONSE_BYTES, _http.MAX_HEAD_BYTES) == (64 * 1024 * 1024, 64 * 1024)


def chunked(body: bytes, size: int = 300) -> bytes:
    pieces = [body[at:at + size] for at in range(0, len(body), size)]
    return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n")


def close_delimited(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n\r\n" + body


LIMIT = 1000
FRAMINGS = {"content-length": lambda body: response(200, "OK", body), "chunked": chunked,
            "close-delimited": close_delimited}


@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_a_body_up_to_the_limit_is_taken_and_one_byte_more_is_refused(certificate, monkeypatch, framing):
    monkeypatch.setattr(_http, "MAX_RESPONSE_BYTES", LIMIT, raising=False)
    answers = [FRAMINGS[framing](b"a" * LIMIT), FRAMINGS[framing](b"b" * (LIMIT + 1))]

    async def script(request: Received, peer: Peer) -> None:
        peer.write(answers.pop(0))
        if framing == "close-delimited":
            peer.close()

    async def exchange(pool, server):
        whole = await pool.send(get())
        with pytest.raises(TransportError) as caught:
            await pool.send(get())
        return whole, caught.value, await until(lambda: server.open == 0)

    (whole, error, all_closed), _server = run(certificate, script, exchange)
    assert whole.body == b"a" * LIMIT
    assert error.sent is True
    assert f"answer refused: its body is longer than {LIMIT} bytes (MAX_RESPONSE_BYTES)" in str(error)
    assert all_closed  # the refused one was closed, not kept


def test_a_head_over_its_limit_is_refused_and_one_under_it_taken(certificate):
    def answer(header_bytes: int) -> bytes:
        return response(200, "OK", b"{}", "X-Filler: " + "f" * header_bytes)

    async def exchange(pool, server):
        under = await pool.send(get())
        with pytest.raises(TransportError) as caught:
            await pool.send(get())
        return under, caught.value

    (under, error), _server = run(certificate, in_turn(writing(answer(60 * 1024)), writing(answer(100 * 1024))),
                                  exchange)
    assert under.body == b"{}"
    assert error.sent is True
    assert "answer refused: its head is longer than 65536 bytes (MAX_HEAD_BYTES)" in str(error)


# Failures and whether the request may have been sent


def test_connection_refused_is_a_transport_error_before_sending():
    with socket.socket() as bound:  # bound but not listening: nobody can take the port meanwhile
        bound.bind(("127.0.0.1", 0))
        pool = HttpsPool(settings_for(bound.getsockname()[1], validate_certs=False), 1)
        with pytest.raises(TransportError) as caught:
            asyncio.run(pool.send(get()))
    assert caught.value.sent is False
    assert not isinstance(caught.value, TlsError)
    assert "cannot connect" in str(caught.value)


def test_no_tls_handshake_within_the_timeout_is_a_transport_error_before_sending():
    async def go():
        async def silent(reader, writer):  # plain TCP: takes the connection, never starts TLS
            try:
                await reader.read()  # until the client gives up
            finally:
                writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        try:
            pool = HttpsPool(settings_for(server.sockets[0].getsockname()[1], validate_certs=False,
                                          api_timeout=0.3), 1)
            started = time.monotonic()
            with pytest.raises(TransportError) as caught:
                await pool.send(get())
            return caught.value, time.monotonic() - started
        finally:
            server.close()

    error, seconds = asyncio.run(go())
    assert error.sent is False and seconds < 1.5
    assert "no connection and TLS handshake within 0.3 s" in str(error)  # not an empty reason


def test_a_hang_up_after_the_request_is_a_transport_error_after_sending(certificate):
    async def exchange(pool, server):
        with pytest.raises(TransportError) as caught:
            await pool.send(HttpRequest("POST", "/api2/json/cluster/sdn/lock", {}, b""))
        return caught.value

    error, server = run(certificate, hang_up, exchange)
    assert error.sent is True
    assert (error.method, error.path) == ("POST", "/api2/json/cluster/sdn/lock")
    assert "the remote closed the connection without answering" in str(error)
    assert len(server.requests) == 1


@pytest.mark.parametrize("how", ENDINGS)
def test_a_kept_alive_connection_closed_instead_of_answering_fails_at_once_and_says_so(certificate, how):
    async def ending(request: Received, peer: Peer) -> None:
        await end(peer, how)

    async def exchange(pool, server):
        await pool.send(get("/first"))
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await pool.send(HttpRequest("POST", "/api2/json/cluster/sdn/zones", {}, b"zone=z1"))
        return caught.value, time.monotonic() - started

    (error, seconds), server = run(certificate, in_turn(echo_target, ending), exchange, api_timeout=2)
    assert error.sent is True  # the remote read it: it may have acted on it
    assert seconds < 1  # not the timeout
    assert "the remote closed the kept-alive connection without answering" in str(error)
    assert [r.connection for r in server.requests] == [1, 1]


@pytest.mark.parametrize("how", ["close_notify", "fin"])
def test_a_remote_that_stops_reading_and_closes_fails_the_request_at_once(certificate, how):
    """Its close ends the request at once, though much of the request is still to be written
    (closing the transport gently would wait for that: until the timeout)."""
    async def serve(peer: Peer) -> None:
        peer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        await peer.handshake
        await peer.reader.readuntil(b"\r\n\r\n")
        peer.transport.pause_reading()
        peer.finish(notify=how == "close_notify")

    async def exchange(pool, server):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await pool.send(HttpRequest("POST", "/api2/json/cluster/sdn/zones", {}, b"x" * (8 * 1024 * 1024)))
        return caught.value, time.monotonic() - started

    (error, seconds), _server = run(certificate, None, exchange, serving={"serve": serve}, api_timeout=3)
    assert error.sent is True and seconds < 1.5
    assert "the remote closed the connection without answering" in str(error)


def test_a_connection_the_remote_closes_after_its_handshake_gets_no_request(certificate):
    """A server may end a connection right after the handshake (one at its connection limit):
    the request is not written into it, and the error says nothing was sent (a retry is safe)."""
    async def exchange(pool, server):
        with pytest.raises(TransportError) as caught:
            await pool.send(HttpRequest("POST", "/api2/json/cluster/sdn/zones", {}, b"zone=z1"))
        await server.settled()
        return caught.value

    # TLS 1.2: the server's close_notify comes with its Finished, before the client can write.
    error, server = run(certificate, echo_target, exchange,
                        serving={"tls12": True, "at_handshake": lambda peer: peer.finish(notify=True)})
    assert error.sent is False and not isinstance(error, TlsError)
    assert "nothing was sent" in str(error)
    assert server.connections == 1 and server.bytes_received == 0 and server.requests == []


def test_no_answer_within_the_timeout_is_a_transport_error_after_sending(certificate):
    async def exchange(pool, server):
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            await pool.send(get())
        return caught.value, time.monotonic() - started

    (error, seconds), server = run(certificate, no_answer, exchange, api_timeout=0.3)
    assert error.sent is True
    assert 0.25 <= seconds < 1.5
    assert len(server.requests) == 1


def test_a_timed_out_connection_is_not_reused_for_the_next_request(certificate):
    """The late answer to the first request must not be taken for the answer to the second."""
    async def exchange(pool, server):
        with pytest.raises(TransportError):
            await pool.send(get("/slow"))
        return await pool.send(get("/next"))

    answer, server = run(certificate, in_turn(slow(echo_target, 0.5), echo_target), exchange, api_timeout=0.3)
    assert answer.body == b"/next"
    assert [r.connection for r in server.requests] == [1, 2]


@pytest.mark.parametrize("request_", [
    HttpRequest("GET", "/api2/json/version", {"Authorization": "PVEAPIToken=root@pam!t=s\r\nX-Injected: 1"}),
    HttpRequest("GET", "/api2/json/version", {"X-Name\nX-Injected": "1"}),
    HttpRequest("GET", "/api2/json/version HTTP/1.1\r\nX-Injected: 1\r\nX-Rest:", {}),
], ids=["header-value", "header-name", "target"])
def test_a_line_break_in_the_request_head_sends_nothing(certificate, request_):
    async def exchange(pool, server):
        with pytest.raises(TransportError) as caught:
            await pool.send(request_)
        await server.settled()
        return caught.value

    error, server = run(certificate, echo_target, exchange)
    assert error.sent is False
    assert "root@pam!t=s" not in str(error)  # the secret is not echoed into the message
    assert server.connections == 0 and server.bytes_received == 0


def test_a_cancelled_request_closes_its_connection(certificate):
    async def exchange(pool, server):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(pool.send(get()), 0.1)
        return len(server.requests), await until(lambda: server.open == 0, 0.3)

    (received, closed), _server = run(certificate, no_answer, exchange)
    assert received == 1  # cancelled while waiting for the answer
    assert closed


# TLS


@pytest.mark.parametrize("form", ["colon-hex", "plain-hex"])
def test_a_matching_pinned_fingerprint_is_enough(certificate, form):
    pin = (":".join(f"{b:02X}" for b in certificate.sha256) if form == "colon-hex" else certificate.sha256.hex())

    async def exchange(pool, server):
        return await pool.send(get())

    answer, _server = run(certificate, echo_target, exchange, ca_path=None, fingerprint=pin)
    assert answer.status == 200


def refused_before_sending(certificate: Certificate, **options) -> TlsError:
    """Send a request carrying a password where TLS must refuse the server: the error, after
    checking that not a byte of it reached the server."""
    async def exchange(pool, server):
        with pytest.raises(TlsError) as caught:
            await pool.send(HttpRequest("POST", "/api2/json/access/ticket", {}, b"password=secret"))
        await server.settled()
        return caught.value

    error, server = run(certificate, echo_target, exchange, **options)
    assert error.sent is False
    assert server.requests == [] and server.bytes_received == 0
    return error


def test_a_wrong_pinned_fingerprint_is_a_tls_error_and_nothing_is_sent(certificate):
    wrong = bytes([certificate.sha256[0] ^ 1]) + certificate.sha256[1:]
    error = refused_before_sending(certificate, ca_path=None, fingerprint=wrong.hex())
    assert "pinned fingerprint" in str(error)


def test_an_unknown_self_signed_certificate_is_refused_by_default(certificate):
    error = refused_before_sending(certificate, ca_path=None)
    assert "TLS verification failed" in str(error)


@pytest.mark.parametrize("trust", ["ca_path", "validate_certs=false"])
def test_a_trusted_or_unverified_certificate_is_accepted(certificate, trust):
    options = {"ca_path": certificate.cert_path} if trust == "ca_path" else {"ca_path": None, "validate_certs": False}

    async def exchange(pool, server):
        return await pool.send(get())

    answer, _server = run(certificate, echo_target, exchange, **options)
    assert answer.status == 200


def test_an_unreadable_ca_file_is_a_tls_error(certificate, tmp_path):
    async def exchange(pool, server):
        with pytest.raises(TlsError) as caught:
            await pool.send(get())
        return caught.value

    error, server = run(certificate, echo_target, exchange, ca_path=str(tmp_path / "missing.pem"))
    assert error.sent is False and "cannot load the CA file" in str(error)
    assert server.connections == 0


# The connection limit


def test_at_most_max_connections_are_open_at_once(certificate):
    async def exchange(pool, server):
        answers = await asyncio.gather(*(pool.send(get(f"/n/{n}")) for n in range(5)))
        return [a.body for a in answers]

    bodies, server = run(certificate, slow(echo_target, 0.1), exchange, max_connections=2)
    assert bodies == [f"/n/{n}".encode() for n in range(5)]
    assert server.most_open == 2  # two at once, never three
    assert server.connections == 2  # and reused, not reopened


@pytest.mark.parametrize("trust", ["ca_path", "fingerprint"])
def test_a_later_connection_resumes_the_tls_session(certificate, trust):
    """The second connection to a remote resumes the first one's TLS session (less CPU on both
    sides); a pinned certificate is still checked, from the session."""
    options = {"ca_path": None, "fingerprint": certificate.sha256.hex()} if trust == "fingerprint" else {}

    async def exchange(pool, server):
        return [await pool.send(get("/one")), await pool.send(get("/two"))]

    answers, server = run(certificate, in_turn(writing(response(200, "OK", b"1", "Connection: close")), echo_target),
                          exchange, **options)
    assert [a.status for a in answers] == [200, 200]
    assert server.resumed == [False, True]
