"""Each remote's connections: TCP accepted, TLS on them, and the network the emulator models
between the client and the remote.

TLS runs here, on an ssl.SSLObject over memory buffers, not in asyncio's SSL transport (which
gives every connection a 256 KiB buffer and costs more CPU per read); aiohttp's request handler
reads and writes the plaintext through a TlsTransport. What TLS sends passes through the
modelled network, so its round trips are those of the TLS version the client negotiates.

The modelled network has one parameter per remote, the round-trip time (its `latency_ms` fault,
which `--latency-ms` sets at start). The whole round trip is charged on the way back:
everything the remote sends reaches the client one RTT after it is sent, in the order sent, so a
request takes effect when it arrives and is answered one RTT later. The first flight of a
connection (the server's handshake answer) comes one RTT more, for TCP's handshake, which the
client's connect() did not wait for on loopback. So a new connection's first answer comes 3 RTT
after the connect with TLS 1.3, full or resumed (there is no 0-RTT data), 4 RTT with TLS 1.2,
and every later answer on it 1 RTT after its request (a pipelined request 1 RTT after it
arrived, and after the answers before it). A close or an abort by the remote reaches the client
1 RTT after it happens; what the client sends, closes included, reaches the remote at once.
Not modelled: bandwidth, loss and the client's own stack. A connection that offers the ALPN
protocol CONTROL_ALPN (as EmulatorControl does) is outside the modelled network: the control
API's calls are the test's own, not the client's.
"""
from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote

CONTROL_ALPN = "pvefleet-emulator-control"
# asyncio's default for a TLS server: a connection whose handshake never ends is dropped.
HANDSHAKE_TIMEOUT = 60.0
# Plaintext read per call: a TLS record carries at most 16 KiB.
TLS_READ_SIZE = 16 * 1024
_CLOSE, _ABORT = "close", "abort"


@dataclass(slots=True)
class ConnectionCounts:
    """A remote's TLS connections since the last reset, control connections left out: accepted
    (a TCP connection whose ClientHello came), of those the handshakes that resumed a TLS
    session, and how many are open now."""

    accepted: int = 0
    resumed: int = 0
    open: int = 0

    def describe(self) -> dict:
        return {"accepted": self.accepted, "resumed": self.resumed, "open": self.open}


def server_context(remote: Remote) -> ssl.SSLContext:
    """One per remote, for all its connections: its certificate, and the control ALPN (a client
    offering anything else negotiates no ALPN, as with PVE)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.options |= ssl.OP_NO_RENEGOTIATION  # as pveproxy's (pve-http-server AnyEvent.pm, tls_ctx_flags)
    context.load_cert_chain(remote.files.cert, remote.files.key)
    context.set_alpn_protocols([CONTROL_ALPN])
    return context


class Link(asyncio.Protocol):
    """One accepted TCP connection: its TLS, its modelled network, its counts; the HTTP protocol
    (made by `make_protocol`) once the handshake is done."""

    def __init__(self, remote: Remote, context: ssl.SSLContext, make_protocol: Callable[[], asyncio.Protocol]):
        self.remote, self.context, self.make_protocol = remote, context, make_protocol
        self.loop = asyncio.get_running_loop()
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.raw: Optional[asyncio.Transport] = None
        self.app: Optional[asyncio.Protocol] = None  # made when the handshake is done
        self.transport = TlsTransport(self)
        self.closing = False
        self.modelled = True  # False on a control connection
        self.counted = False  # in the remote's counts: a client's connection, its ClientHello answered
        self._first_flight = True
        self._queue: deque[tuple[float, bytes, Optional[str]]] = deque()  # (due, data, then close or abort)
        self._timer: Optional[asyncio.TimerHandle] = None
        self._handshake_timer: Optional[asyncio.TimerHandle] = None

    # asyncio.Protocol, on the TCP connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        self._handshake_timer = self.loop.call_later(HANDSHAKE_TIMEOUT, self.abort)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self._incoming.write(data)
        if self.app is None and not self._shake_hands():
            return
        self._read()

    def eof_received(self) -> bool:
        if self.app is not None:
            self.app.eof_received()
        return False  # the socket closes: pveproxy, too, ends a connection the client half-closed

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.counted:
            self.remote.connections.open -= 1
        self.closing = True
        for timer in (self._timer, self._handshake_timer):
            if timer is not None:
                timer.cancel()
        self._queue.clear()
        if self.app is not None:
            self.app.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.app is not None:
            self.app.pause_writing()

    def resume_writing(self) -> None:
        if self.app is not None:
            self.app.resume_writing()

    # TLS

    def _shake_hands(self) -> bool:
        """One step of the handshake; True once it is done (the HTTP protocol then exists)."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            flight = self._outgoing.read()
            if flight and self._first_flight:  # the ClientHello is in: whose connection it is is known
                self.modelled = self.tls.selected_alpn_protocol() != CONTROL_ALPN
                if self.modelled:
                    self.counted = True
                    self.remote.connections.accepted += 1
                    self.remote.connections.open += 1
            self._send(flight)
            return False
        except ssl.SSLError:
            self._send(self._outgoing.read())  # the alert, if OpenSSL made one
            self._end(_CLOSE)
            return False
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
        if self.counted and self.tls.session_reused:
            self.remote.connections.resumed += 1
        # TLS 1.2: the server's Finished, which the client waits for. TLS 1.3: the session tickets,
        # at once as OpenSSL sends them; held back, they would leave the client's Finished unanswered
        # and so unacknowledged for the delayed-ACK time, for which a client with Nagle's algorithm
        # holds back its first request.
        self._send(self._outgoing.read())
        self.app = self.make_protocol()
        self.app.connection_made(self.transport)
        return True

    def _read(self) -> None:
        chunks, ended = [], False
        while True:
            try:
                chunk = self.tls.read(TLS_READ_SIZE)
            except ssl.SSLWantReadError:  # no whole record yet
                break
            except ssl.SSLError:  # a broken record: nothing more can be read
                self.abort()
                return
            if not chunk:  # close_notify
                ended = True
                break
            chunks.append(chunk)
        # What reading makes TLS send (the answer to a TLS 1.3 KeyUpdate) goes with the next
        # answer; renegotiation, which would need an answer at once, is refused (server_context).
        if chunks and self.app is not None:
            self.app.data_received(b"".join(chunks))
        if ended and not self.closing:
            if self.app is not None:
                self.app.eof_received()
            self.close()

    def write(self, data: bytes) -> None:
        if self.closing or not data:
            return
        self.tls.write(data)
        self._send(self._outgoing.read())

    def close(self) -> None:
        """close_notify, then the socket is closed; the client's close_notify is not waited for
        (pveproxy's client_do_disconnect: stoptls, then shutdown)."""
        if self.closing:
            return
        if self.app is not None:
            try:
                self.tls.unwrap()
            except ssl.SSLError:  # SSLWantReadError: ours is written, the client's not there
                pass
            self._send(self._outgoing.read())
        self._end(_CLOSE)

    def abort(self) -> None:
        """No close_notify: the connection just ends (what is already sent still arrives)."""
        if not self.closing:
            self._end(_ABORT)

    # The modelled network

    def _send(self, data: bytes) -> None:
        if data:
            self._deliver(data, None)

    def _end(self, how: str) -> None:
        self.closing = True
        self._deliver(b"", how)

    def _deliver(self, data: bytes, then: Optional[str]) -> None:
        """`data` to the client, then the close or abort `then`, one RTT from now (the first
        flight two), after what was sent before."""
        rtt = self.remote.faults.latency_ms / 1000 if self.modelled else 0.0
        if data:
            trips, self._first_flight = (2 if self._first_flight else 1), False
        else:
            trips = 1
        if not rtt and not self._queue:
            self._now(data, then)
            return
        due = self.loop.time() + rtt * trips
        if self._queue:
            due = max(due, self._queue[-1][0])
        self._queue.append((due, data, then))
        if self._timer is None:
            self._timer = self.loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self._timer = None
        now = self.loop.time()
        while self._queue and self._queue[0][0] <= now:
            _due, data, then = self._queue.popleft()
            self._now(data, then)
        if self._queue:
            self._timer = self.loop.call_at(self._queue[0][0], self._flush)

    def _now(self, data: bytes, then: Optional[str]) -> None:
        raw = self.raw
        if raw is None or raw.is_closing():
            return
        if data:
            raw.write(data)  # reaches the socket at once if it can: an abort then drops only what is still queued
        if then == _CLOSE:
            raw.close()
        elif then == _ABORT:
            raw.abort()


class TlsTransport(asyncio.Transport):
    """The plaintext side of a Link, as aiohttp's request handler uses a transport."""

    def __init__(self, link: Link):
        super().__init__()
        self.link = link
        # No socket: aiohttp would set TCP_NODELAY on it again (asyncio's transport did).
        self._info = {"sslcontext": link.context, "ssl_object": link.tls, "socket": None}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in self._info:
            return self._info[name]
        return self.link.raw.get_extra_info(name, default) if self.link.raw is not None else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.link.write(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.link.write(b"".join(list_of_data))

    def is_closing(self) -> bool:
        return self.link.closing

    def close(self) -> None:
        self.link.close()

    def abort(self) -> None:
        self.link.abort()

    def pause_reading(self) -> None:
        if self.link.raw is not None:
            self.link.raw.pause_reading()

    def resume_reading(self) -> None:
        if self.link.raw is not None:
            self.link.raw.resume_reading()

    def is_reading(self) -> bool:
        return self.link.raw is not None and self.link.raw.is_reading()

    def set_write_buffer_limits(self, high: Optional[int] = None, low: Optional[int] = None) -> None:
        if self.link.raw is not None:
            self.link.raw.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self.link.raw.get_write_buffer_size() if self.link.raw is not None else 0

    def can_write_eof(self) -> bool:
        return False


async def listen(remotes: list[Remote], make_protocol: Callable[[], asyncio.Protocol], *,
                 backlog: int = 512) -> list[asyncio.Server]:
    """Every remote listening on its address and port."""
    loop = asyncio.get_running_loop()
    servers = []
    for remote in remotes:
        context = server_context(remote)

        def link(remote: Remote = remote, context: ssl.SSLContext = context) -> Link:
            return Link(remote, context, make_protocol)

        servers.append(await loop.create_server(link, remote.address, remote.port, backlog=backlog))
    return servers
