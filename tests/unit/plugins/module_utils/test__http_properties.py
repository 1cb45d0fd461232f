"""Properties of HttpsPool against test__http's scripted TLS server.

Framing: whatever the framing of an answer and however its bytes are split across TLS records,
the client returns exactly the body the server meant, or fails when the server cut it short;
never a short body. The `sent` rule: wherever the server closes or resets the connection, `sent`
is False only when no byte of the request reached the server, and no request is reported
answered that the server did not answer.

Each example is one real TLS exchange on 127.0.0.1, in order (the server writes a piece, lets
the loop turn so the client reads it, then the next): no timing is assumed. Examples are
derandomized and not stored, so every run tries the same ones.
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Optional, Union

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import TransportError
from ansible_collections.pvefleet.sdn.plugins.module_utils._http import HttpRequest, HttpResponse, HttpsPool
from ansible_collections.pvefleet.sdn.tests.unit.plugins.module_utils import test__http
from ansible_collections.pvefleet.sdn.tests.unit.plugins.module_utils.test__http import (
    Peer,
    Received,
    Script,
    TlsServer,
    end,
    response,
    settings_for,
    turns,
)

certificate = test__http.certificate  # its fixture: one self-signed certificate per module

# A client that waited for its timeout would overrun the deadline: the failure shows at once.
TIMEOUT = 5
EXAMPLES = settings(max_examples=120, deadline=2000, derandomize=True, database=None)
ENDINGS = ["close_notify", "fin", "reset"]
Outcome = Union[HttpResponse, TransportError]


async def outcome_of(certificate, requests: list[HttpRequest], script: Optional[Script] = None,
                     **serving) -> tuple[list[Outcome], TlsServer]:
    """Send `requests` in turn on one pool of one connection; each one's answer or error."""
    async with TlsServer(certificate, script, **serving) as server:
        pool = HttpsPool(settings_for(server.port, ca_path=certificate.cert_path, api_timeout=TIMEOUT), 1)
        outcomes: list[Outcome] = []
        try:
            for request in requests:
                try:
                    outcomes.append(await pool.send(request))
                except TransportError as exc:
                    outcomes.append(exc)
        finally:
            await pool.aclose()
        await server.settled()  # every byte the client wrote has arrived, or never will
        return outcomes, server


def prompt(outcome: Outcome) -> None:
    """No outcome waits for a timeout ("no answer within", "no connection ... within")."""
    assert not (isinstance(outcome, TransportError) and " within " in outcome.message), outcome


# Framing


@st.composite
def answers(draw) -> tuple[str, bytes, bytes, bytes]:
    """(framing, body, head, the answer's bytes); the head includes an interim 100 if any."""
    body = draw(st.binary(max_size=300), label="body") * draw(st.integers(1, 120), label="repeated")
    framing = draw(st.sampled_from(["content-length", "chunked", "close-delimited"]), label="framing")
    head = b"HTTP/1.1 100 Continue\r\n\r\n" if draw(st.booleans(), label="interim 100") else b""
    head += b"HTTP/1.1 200 OK\r\nServer: pve-api-daemon/3.0\r\n"
    if framing == "content-length":
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        return framing, body, head, head + body
    if framing == "close-delimited":
        head += b"\r\n"
        return framing, body, head, head + body
    sizes = draw(st.lists(st.integers(1, 20_000), min_size=1, max_size=6), label="chunk sizes")
    extension = b";ext=1" if draw(st.booleans(), label="chunk extensions") else b""
    trailer = b"X-Trailer: 1\r\n" if draw(st.booleans(), label="trailer") else b""
    chunks, at = [], 0
    while at < len(body):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(body[at:at + size])
        at += size
    head += b"Transfer-Encoding: chunked\r\n\r\n"
    payload = b"".join(b"%x%s\r\n%s\r\n" % (len(chunk), extension, chunk) for chunk in chunks)
    return framing, body, head, head + payload + b"0\r\n" + trailer + b"\r\n"


@EXAMPLES
@given(answer=answers(), data=st.data())
def test_the_body_returned_is_the_one_the_server_meant_never_a_short_one(certificate, answer, data):
    framing, body, head, wire = answer
    cut: Optional[int] = data.draw(st.one_of(st.none(), st.integers(0, len(wire) - 1)), label="cut at")
    written = wire if cut is None else wire[:cut]
    splits = sorted(data.draw(st.sets(st.integers(1, max(1, len(written) - 1)), max_size=5), label="splits"))
    pieces = [written[start:stop] for start, stop in zip([0] + splits, splits + [len(written)])]
    # A whole Content-Length or chunked answer may also be left with the connection open.
    keep = [] if cut is not None or framing == "close-delimited" else ["keep"]
    how = data.draw(st.sampled_from(ENDINGS + keep), label="then")

    async def script(request: Received, peer: Peer) -> None:
        for piece in pieces:
            peer.write(piece)  # one TLS record
            await turns()  # read by the client before the next
        if how != "keep":
            await end(peer, how)

    (outcome,), _server = asyncio.run(outcome_of(certificate, [HttpRequest("GET", "/", {})], script))
    prompt(outcome)
    if framing == "close-delimited":
        # The body ends with the connection: whole, as far as it came, if close_notify says so.
        meant = written[len(head):] if how == "close_notify" and len(written) >= len(head) else None
    else:
        meant = body if cut is None else None
    if meant is None:
        assert isinstance(outcome, TransportError) and outcome.sent, outcome
    else:
        assert isinstance(outcome, HttpResponse), outcome
        assert (outcome.status, outcome.body) == (200, meant)


# The sent rule


def answer_to(target: str) -> bytes:
    return response(200, "OK", b'{"data":"%s"}' % target.encode())


def end_now(peer: Peer, how: str) -> None:
    if how == "reset":
        peer.abort()
    else:
        peer.finish(notify=how == "close_notify")


# Where the server ends its first connection. On a new one: before TLS, the moment its handshake
# ends (with TLS 1.2, the client learns of the close with the end of its own handshake), after
# part or all of the request, after part or all of the answer. On one reused after a first
# request: while idle, with the first answer or a little after it; then as on a new one.
SCENARIOS = [(False, point) for point in ["accept", "handshake", "part-request", "request", "part-answer", "answer"]]
SCENARIOS += [(True, point) for point in ["idle", "idle-after", "part-request", "request", "part-answer", "answer"]]


@pytest.mark.parametrize("how", ENDINGS)
@pytest.mark.parametrize(("reused", "point"), SCENARIOS, ids=[("reused-" if r else "new-") + p for r, p in SCENARIOS])
@settings(EXAMPLES, max_examples=6)
@example(method="POST", size=20_000, part=500, tls12=True)
@example(method="GET", size=0, part=1, tls12=False)
@given(method=st.sampled_from(["GET", "POST"]), size=st.integers(0, 40_000), part=st.integers(1, 999),
       tls12=st.booleans())
def test_sent_is_false_only_if_nothing_reached_the_server_and_no_request_is_answered_that_was_not(
        certificate, reused, point, how, method, size, part, tls12):
    """Any connection after the first answers normally. `part` is per mille of the request or
    answer."""
    tested = HttpRequest(method, "/tested", {}, b"x" * size if method == "POST" else None)
    answered: list[str] = []  # the targets whose whole answer the server wrote
    first_request = [0]  # bytes of TLS records the first connection received before the tested request

    async def answer(request: Received, peer: Peer) -> None:
        peer.write(answer_to(request.target))
        answered.append(request.target)

    def at_handshake(peer: Peer) -> None:
        if point == "handshake" and peer.number == 1:
            end_now(peer, how)

    async def serve(peer: Peer) -> None:
        server = peer.server
        if peer.number > 1:
            return await server.serve_requests(peer)
        if point == "accept":
            return end_now(peer, "fin" if how == "close_notify" else how)  # no TLS yet to end
        try:
            await peer.handshake
            if reused:
                first = await server.read_request(peer)
                first_request[0] = peer.received
                await answer(first, peer)
                if point == "idle-after":
                    await turns()
            if point in ("handshake", "idle", "idle-after"):
                return await end(peer, how)  # (done already at the handshake's end)
            if point == "part-request":
                length = len(HttpsPool(settings_for(server.port), 1)._encode(tested))  # as the client writes it
                await peer.reader.readexactly(max(1, length * part // 1000))
                return await end(peer, how)
            request = await server.read_request(peer)
            if point != "request":
                whole = answer_to(request.target)
                peer.write(whole if point == "answer" else whole[:max(1, len(whole) * part // 1000)])
                if point == "answer":
                    answered.append(request.target)
            await end(peer, how)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass

    requests = ([HttpRequest("GET", "/first", {})] if reused else []) + [tested]
    outcomes, server = asyncio.run(outcome_of(certificate, requests, answer, serve=serve, at_handshake=at_handshake,
                                              tls12=tls12))
    *first, outcome = outcomes
    assert all(isinstance(one, HttpResponse) and one.body == b'{"data":"/first"}' for one in first), first
    prompt(outcome)
    reached = server.bytes_received - first_request[0]  # of the tested request, on any connection
    if isinstance(outcome, TransportError):
        assert outcome.sent or reached == 0, (outcome, reached)
    else:
        assert "/tested" in answered and outcome.body == b'{"data":"/tested"}', outcome
    # Where the outcome is not left to the race between the server's close and the client's write:
    if point == "accept":
        assert isinstance(outcome, TransportError) and not outcome.sent, outcome
    elif point in ("part-request", "request", "part-answer"):
        assert isinstance(outcome, TransportError) and outcome.sent, outcome
    elif point == "answer":
        assert isinstance(outcome, HttpResponse), outcome
