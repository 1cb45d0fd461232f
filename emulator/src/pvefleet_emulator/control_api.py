"""The emulator's own control and inspection API, on every remote's own address, outside
/api2/json and without authentication. Bodies and answers are JSON.

    GET    /_emulator                  the list of these endpoints
    GET    /_emulator/state            running and pending config, lock, version, tasks, node
                                       versions, faults (see Remote.inspect)
    POST   /_emulator/faults           add faults: a fault spec (faults.py); answers the faults now set.
                                       A fail rule's "drop" closes the connection instead of answering:
                                       "before" without doing the request, "after" once it is done,
                                       "hang" never, holding the request undone until the client gives
                                       up, "truncate" once it is done and half the answer's body is sent
    DELETE /_emulator/faults           clear every fault (latency too) and answer again
    POST   /_emulator/lock             hold the SDN lock as another client: {"token": "<a token nobody knows>"}
    DELETE /_emulator/lock             drop the lock, whoever holds it
    GET    /_emulator/requests         the API requests answered since the last reset or clear, in
                                       the order they arrived (which is the order fail rules count):
                                       [{"seq": 1, "method": "POST", "path": "/cluster/sdn/lock",
                                         "query": "...", "status": 200, "fault": "drop:truncate"}, ...];
                                       path after /api2/json, query only if there is one, status if a
                                       status line was sent, fault if a rule failed the request ("fail"
                                       for an injected error, "drop:<kind>"); control calls are not logged
    DELETE /_emulator/requests         empty that log
    POST   /_emulator/reset            an empty SDN config, never applied, no lock, no tasks, an empty
                                       request log
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from pvefleet_emulator.faults import FaultSpecError
from pvefleet_emulator.remote import Remote

ENDPOINTS = [
    "GET /_emulator/state",
    "POST /_emulator/faults",
    "DELETE /_emulator/faults",
    "POST /_emulator/lock",
    "DELETE /_emulator/lock",
    "GET /_emulator/requests",
    "DELETE /_emulator/requests",
    "POST /_emulator/reset",
]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, default=str), content_type="application/json")


async def handle(remote: Remote, request: web.Request) -> web.Response:
    action = (request.method, request.path.rstrip("/"))
    if action == ("GET", "/_emulator"):
        return _json({"remote": remote.name, "endpoints": ENDPOINTS})
    if action == ("GET", "/_emulator/state"):
        return _json(remote.inspect())
    if action == ("POST", "/_emulator/faults"):
        try:
            spec = await request.json() if await request.read() else {}
            remote.faults.apply(spec)
        except (ValueError, TypeError, FaultSpecError) as exc:
            return _json({"error": str(exc)}, status=400)
        return _json(remote.faults.describe())
    if action == ("DELETE", "/_emulator/faults"):
        remote.faults.clear()
        return _json(remote.faults.describe())
    if action == ("POST", "/_emulator/lock"):
        remote.config.lock = remote.new_lock_token()
        remote.persist()
        return _json({"token": remote.config.lock})
    if action == ("DELETE", "/_emulator/lock"):
        remote.config.lock = None
        remote.persist()
        return _json({"token": None})
    if action == ("GET", "/_emulator/requests"):
        return _json(remote.requests.describe())
    if action == ("DELETE", "/_emulator/requests"):
        remote.requests.clear()
        return _json([])
    if action == ("POST", "/_emulator/reset"):
        remote.reset()
        return _json({"reset": remote.name})
    return _json({"error": f"no control endpoint {request.method} {request.path}", "endpoints": ENDPOINTS},
                 status=404)
