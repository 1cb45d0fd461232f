"""HttpsPool against a real TLS server on 127.0.0.1 that each test scripts byte by byte:
keep-alive, framing, failures with their `sent` flag, TLS checks and the connection limit."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import hashlib
import ipaddress
import socket
import ssl
import time
from pathlib import Path
from typing import Awaitable, Callable, Optional

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


# A script answers one request by writing to the stream (or not) and may close it.
Script = Callable[[Received, asyncio.StreamWriter], Awaitable[None]]


class TlsServer:
    """A TLS server on 127.0.0.1 that reads requests and hands each to the test's script."""

    def __init__(self, certificate: Certificate, script: Script):
        self.certificate = certificate
        self.script = script
        self.requests: list[Received] = []
        self.connections = 0  # accepted so far
        self.open = 0  # open now
        self.most_open = 0
        self.bytes_received = 0
        self.resumed: list[bool] = []  # per connection: whether it resumed an earlier TLS session
        self.port = 0
        self._handlers: list[asyncio.Task] = []
        self._server: Optional[asyncio.AbstractServer] = None

    async def __aenter__(self) -> TlsServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate.cert_path, self.certificate.key_path)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def settled(self) -> None:
        """Wait until every connection made so far has ended on the server's side."""
        await asyncio.sleep(0.05)  # a handshake under way gets its handler
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.append(asyncio.current_task())
        self.connections += 1
        number = self.connections
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.resumed.append(writer.get_extra_info("ssl_object").session_reused)
        try:
            while not writer.is_closing():
                request = await self._read_request(reader, number)
                if request is None:
                    break
                self.requests.append(request)
                await self.script(request, writer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, number: int) -> Optional[Received]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:  # the client closed
            self.bytes_received += len(exc.partial)
            return None
        self.bytes_received += len(head)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ")
        headers = dict(line.split(": ", 1) for line in header_lines if line)
        body = await reader.readexactly(int(headers.get("Content-Length", "0")))
        self.bytes_received += len(body)
        return Received(method, target, headers, body, number)


def response(status: int = 200, reason: str = "OK", body: bytes = b'{"data":null}', *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Server: pve-api-daemon/3.0", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def echo_target(request: Received, writer: asyncio.StreamWriter) -> None:
    """Answer 200 with the request's target as the body, keeping the connection."""
    writer.write(response(200, "OK", request.target.encode()))


def in_turn(*scripts: Script) -> Script:
    """The first request gets the first script, and so on; the last one answers the rest."""
    waiting = list(scripts)

    async def script(request: Received, writer: asyncio.StreamWriter) -> None:
        await (waiting.pop(0) if len(waiting) > 1 else waiting[0])(request, writer)
    return script


def writing(data: bytes, then_close: bool = False) -> Script:
    async def script(request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        if then_close:
            await writer.drain()
            writer.close()
    return script


def slow(script: Script, seconds: float) -> Script:
    async def delayed(request: Received, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(seconds)
        await script(request, writer)
    return delayed


async def hang_up(request: Received, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def no_answer(request: Received, writer: asyncio.StreamWriter) -> None:
    """Say nothing, and go on reading: the server sees the client close the connection."""


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


def run(certificate: Certificate, script: Script, exchange, *, max_connections: int = 4, **options):
    """Serve `script`, point a pool at the server (trusting the certificate by ca_path unless
    `options` say otherwise) and return (await exchange(pool, server), server)."""
    options = {"ca_path": certificate.cert_path, **options}

    async def go():
        async with TlsServer(certificate, script) as server:
            pool = HttpsPool(settings_for(server.port, **options), max_connections)
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
    async def chunked(request: Received, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"data":', b'[1,2,', b"3]}"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)  # each piece in its own TLS record
        writer.write(b"0\r\n\r\n")

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

    answer, _server = run(certificate, writing(pve_401, then_close=True), exchange)
    assert (answer.status, answer.reason, answer.body) == (401, "No ticket", b"")


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
    assert len(server.requests) == 1


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
