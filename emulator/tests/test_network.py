"""The modelled network (net.py) and the connection counts, measured by a minimal client of ssl
sockets against a real emulator process: a new connection's first answer after 3 RTT with TLS
1.3 (full or resumed), 4 with TLS 1.2, 1 RTT for each request on a kept-alive connection. The
round trip is long enough, and the margins above it wide enough, for a loaded 2-core machine."""
from __future__ import annotations

import select
import socket
import ssl
import time

import pytest

from pvefleet_emulator.testing import EmulatorProcess, RemoteInfo

RTT = 0.2
SLACK = 0.75 * RTT  # what a slow machine may add to a measured time; below one round trip


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=2, latency_ms=RTT * 1000, workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator) -> RemoteInfo:
    """remote001, with the command line's latency."""
    info = emulator.remotes["remote001"]
    info.control.faults(latency_ms=RTT * 1000)
    return info


def about(seconds: float, trips: int) -> None:
    assert trips * RTT - 0.005 <= seconds < trips * RTT + SLACK, f"{seconds:.3f} s is not about {trips} RTT"


def client_context(info: RemoteInfo, *, tls12: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=info.ca_path)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(info: RemoteInfo, *, tls12: bool = False, session: ssl.SSLSession | None = None,
            context: ssl.SSLContext | None = None) -> ssl.SSLSocket:
    """A TLS connection, its handshake done; a session resumes only with the context it came from."""
    context = context or client_context(info, tls12=tls12)
    return context.wrap_socket(socket.create_connection((info.host, info.port)), server_hostname=info.host,
                               session=session)


def send(tls: ssl.SSLSocket, info: RemoteInfo, count: int = 1) -> None:
    head = f"GET /api2/json/version HTTP/1.1\r\nHost: {info.host}\r\nAuthorization: {info.authorization}\r\n\r\n"
    tls.sendall(head.encode() * count)


def answer(tls: ssl.SSLSocket, buffered: bytearray) -> bytes:
    """One whole answer (by its Content-Length); what came after it stays in `buffered`."""
    tls.settimeout(10)
    while True:
        head, sep, rest = bytes(buffered).partition(b"\r\n\r\n")
        if sep:
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            if len(rest) >= length:
                del buffered[:len(head) + 4 + length]
                assert head.startswith(b"HTTP/1.1 200 "), head
                return rest[:length]
        chunk = tls.recv(65536)
        assert chunk, "closed before the answer"
        buffered += chunk


def timed_request(tls: ssl.SSLSocket, info: RemoteInfo) -> float:
    started = time.monotonic()
    send(tls, info)
    answer(tls, bytearray())
    return time.monotonic() - started


def test_a_new_tls13_connection_costs_three_round_trips_then_one_per_request(remote):
    started = time.monotonic()
    with connect(remote) as tls:
        assert tls.version() == "TLSv1.3"
        about(time.monotonic() - started, 2)  # TCP's round trip, then the handshake's
        send(tls, remote)
        answer(tls, bytearray())
        about(time.monotonic() - started, 3)
        about(timed_request(tls, remote), 1)
        about(timed_request(tls, remote), 1)


def test_tls12_costs_one_round_trip_more(remote):
    started = time.monotonic()
    with connect(remote, tls12=True) as tls:
        assert tls.version() == "TLSv1.2"
        about(time.monotonic() - started, 3)
        send(tls, remote)
        answer(tls, bytearray())
        about(time.monotonic() - started, 4)
        about(timed_request(tls, remote), 1)


def test_a_resumed_tls13_session_costs_as_much_as_a_full_handshake(remote):
    context = client_context(remote)
    with connect(remote, context=context) as first:
        timed_request(first, remote)  # reading the answer reads the session tickets before it
        session = first.session
    assert session is not None and session.has_ticket
    started = time.monotonic()
    with connect(remote, session=session, context=context) as tls:
        assert tls.session_reused  # no 0-RTT data: the request still waits for the handshake
        send(tls, remote)
        answer(tls, bytearray())
        about(time.monotonic() - started, 3)


def test_tls13_session_tickets_come_right_after_the_handshake_not_with_the_first_answer(emulator):
    """As OpenSSL sends them: held back, they would leave the client's Finished unanswered, so
    unacknowledged for the delayed-ACK time, for which Nagle's algorithm holds a first request."""
    info = emulator.remotes["remote002"]
    with connect(info) as tls:
        readable = select.select([tls], [], [], 5)[0]
        assert readable, "nothing came after the handshake"
        tls.setblocking(False)
        with pytest.raises(ssl.SSLWantReadError):  # the tickets, and nothing for the application
            tls.recv(1)
        assert tls.session is not None and tls.session.has_ticket


def test_pipelined_requests_are_answered_in_order_each_a_round_trip_after_it_was_sent(remote):
    with connect(remote) as tls:
        timed_request(tls, remote)
        started = time.monotonic()
        send(tls, remote, count=2)
        buffered = bytearray()
        answer(tls, buffered)
        about(time.monotonic() - started, 1)
        answer(tls, buffered)
        about(time.monotonic() - started, 1)  # not 2: it was sent with the first


def test_the_per_remote_fault_is_the_same_network_and_zero_costs_nothing(emulator):
    info = emulator.remotes["remote002"]
    info.control.faults(latency_ms=0)
    started = time.monotonic()
    with connect(info) as tls:
        timed_request(tls, info)
        assert time.monotonic() - started < RTT / 2
        info.control.faults(latency_ms=RTT * 1000)  # the next flight on this very connection pays it
        about(timed_request(tls, info), 1)
    started = time.monotonic()
    with connect(info, tls12=True) as tls:
        send(tls, info)
        answer(tls, bytearray())
        about(time.monotonic() - started, 4)
    info.control.clear_faults()


def test_control_calls_are_outside_the_modelled_network(remote):
    started = time.monotonic()
    remote.control.state()
    remote.control.requests()
    assert time.monotonic() - started < RTT


def test_connections_and_answered_requests_are_counted(emulator):
    info = emulator.remotes["remote002"]
    info.control.clear_faults()
    info.control.reset()

    def counts() -> tuple[dict, int]:
        state = info.control.state()
        return state["connections"], state["requests_answered"]

    assert counts() == ({"accepted": 0, "resumed": 0, "open": 0}, 0)  # the control calls are not counted
    context = client_context(info)
    first = connect(info, context=context)
    timed_request(first, info)
    timed_request(first, info)
    second = connect(info, session=first.session, context=context)
    timed_request(second, info)
    assert counts() == ({"accepted": 2, "resumed": 1, "open": 2}, 3)
    first.close()
    deadline = time.monotonic() + 5
    while counts()[0]["open"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert counts() == ({"accepted": 2, "resumed": 1, "open": 1}, 3)
    assert len(info.control.requests()) == 3  # the counter is the log's length, without the log
    info.control.clear_requests()
    assert counts()[1] == 0
    timed_request(second, info)
    info.control.reset()  # counts from 0, but the open connection stays open and counted
    assert counts() == ({"accepted": 0, "resumed": 0, "open": 1}, 0)
    timed_request(second, info)
    second.close()
