"""The emulator's own CPU time per API request on a kept-alive connection and per new connection,
read from /proc around each batch of calls, so that the client's cost is left out. The project's
benchmark can multiply these by the connections and requests a run made (GET /_emulator/state
counts them) to tell the emulator's share of the CPU from the collection's.

    python emulator/bench/cpu_cost.py [--rounds 10] [--json] [--against SRC]

With --against, a second emulator runs from another source tree (SRC is its `src` directory, for
example the committed version's, exported with `git archive`), and the batches alternate between
the two, so that both see the same load on a shared machine; the ratios compare them.

Batches, one emulated remote each, root@pam's token (the benchmark's caller), state files in
/dev/shm as bench/run.py keeps them:
  request      kept-alive requests of a mix of reads and writes (as request_cost.py's)
  version      kept-alive GET /version, the cheapest request
  connection   a new connection with a full TLS 1.3 handshake, one GET /version, closed by the
               client without close_notify (as the collection closes); reported less one
               kept-alive GET /version
  resumed      the same, resuming the TLS session of an earlier connection (what the collection
               does for a remote's later connections)
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import httpx
from request_cost import cpu_seconds
from request_cost import one_round as mix  # the same mix of reads and writes

from pvefleet_emulator.testing import EmulatorProcess, RemoteInfo

SETTLE_SECONDS = 0.05  # for the emulator to see the batch's last close before its CPU time is read
BATCHES = {"request": 100, "version": 300, "connection": 60, "resumed": 60}  # calls per batch
MIX_SIZE = 6


class RawClient:
    """One request per connection over ssl sockets: the client's own cost kept small."""

    def __init__(self, info: RemoteInfo):
        self.info = info
        self.context = ssl.create_default_context(cafile=info.ca_path)
        self.context.maximum_version = ssl.TLSVersion.TLSv1_3
        self.request = (f"GET /api2/json/version HTTP/1.1\r\nHost: {info.host}:{info.port}\r\n"
                        f"Authorization: {info.authorization}\r\n\r\n").encode()
        self.session: Optional[ssl.SSLSession] = None

    def one(self, resume: bool) -> None:
        raw = socket.create_connection((self.info.host, self.info.port))
        tls = self.context.wrap_socket(raw, server_hostname=self.info.host, session=self.session if resume else None)
        tls.sendall(self.request)
        received = b""
        while True:
            head, sep, body = received.partition(b"\r\n\r\n")
            if sep and len(body) >= int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                             if line.lower().startswith(b"content-length:"))):
                break
            chunk = tls.recv(65536)
            assert chunk, received
            received += chunk
        assert head.startswith(b"HTTP/1.1 200"), head
        assert tls.session_reused == (resume and self.session is not None)
        if self.session is None:
            self.session = tls.session  # TLS 1.3: the ticket came with the answer
        raw.close()  # like the collection: no close_notify
        tls.close()


class Side:
    """One emulator and its clients, and the CPU seconds and calls counted per batch kind."""

    def __init__(self, name: str, src: Optional[str], workdir: Path):
        self.name = name
        workdir.mkdir(parents=True)
        saved = os.environ.get("PYTHONPATH")
        if src is not None:
            os.environ["PYTHONPATH"] = src  # the emulator subprocess imports that tree
        try:
            self.emulator = EmulatorProcess(remotes=1, workdir=workdir).start()
        finally:
            if src is not None:
                if saved is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = saved
        assert self.emulator.process is not None
        self.pid = self.emulator.process.pid
        info = self.emulator.remotes["remote001"]
        self.client = httpx.Client(base_url=f"https://{info.host}:{info.port}/api2/json",
                                   headers={"Authorization": info.authorization},
                                   verify=ssl.create_default_context(cafile=info.ca_path), timeout=30)
        self.raw = RawClient(info)
        self.spent = dict.fromkeys(BATCHES, 0.0)
        self.calls = dict.fromkeys(BATCHES, 0)
        for index in range(30):  # warm up: connections, caches, the session to resume
            mix(self.client, index)
            self.raw.one(resume=True)

    def batch(self, kind: str, start: int) -> None:
        steps: dict[str, Callable[[int], None]] = {
            "request": lambda index: mix(self.client, index),
            "version": lambda _index: self.client.get("/version").raise_for_status(),
            "connection": lambda _index: self.raw.one(resume=False),
            "resumed": lambda _index: self.raw.one(resume=True),
        }
        before = cpu_seconds(self.pid)
        for index in range(start, start + BATCHES[kind]):
            steps[kind](index)
        time.sleep(SETTLE_SECONDS)
        self.spent[kind] += cpu_seconds(self.pid) - before
        self.calls[kind] += BATCHES[kind] * (MIX_SIZE if kind == "request" else 1)

    def figures(self) -> dict[str, float]:
        """Microseconds: per request (the mix), per GET /version, per connection beyond its request."""
        per = {kind: self.spent[kind] / self.calls[kind] * 1e6 for kind in BATCHES}
        return {"request_us": per["request"], "version_request_us": per["version"],
                "connection_us": per["connection"] - per["version"],
                "resumed_connection_us": per["resumed"] - per["version"]}

    def stop(self) -> None:
        self.client.close()
        self.emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="batches of each kind per emulator (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, in microseconds")
    parser.add_argument("--against", metavar="SRC", help="also measure the emulator of this source tree, side by side")
    args = parser.parse_args()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="pvefleet-cpu-", dir=shm) as workdir:
        sides = [Side("this", None, Path(workdir) / "this")]
        try:
            if args.against:
                sides.append(Side("against", args.against, Path(workdir) / "against"))
            for round_index in range(args.rounds):
                for kind in BATCHES:
                    for side in sides if round_index % 2 == 0 else reversed(sides):
                        side.batch(kind, round_index * BATCHES[kind])
        finally:
            for side in sides:
                side.stop()
    figures = {side.name: side.figures() for side in sides}
    if args.json:
        print(json.dumps({name: {key: round(value, 1) for key, value in values.items()}
                          for name, values in figures.items()} if args.against else
                         {key: round(value, 1) for key, value in figures["this"].items()}))
        return
    labels = {"request_us": "per kept-alive request (mix)", "version_request_us": "per kept-alive GET /version",
              "connection_us": "per new connection, full TLS 1.3 handshake, beyond its request",
              "resumed_connection_us": "per new connection, resumed TLS 1.3 session, beyond its request"}
    for key, label in labels.items():
        line = f"emulator CPU {label}: {figures['this'][key]:.0f} us"
        if args.against:
            against = figures["against"][key]
            line += f" (against {args.against}: {against:.0f} us, ratio {figures['this'][key] / against:.2f})"
        print(line)


if __name__ == "__main__":
    main()
