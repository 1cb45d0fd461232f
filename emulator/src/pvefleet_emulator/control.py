"""The emulator's own control and inspection API, outside /api2/json, on every remote's address.

    GET    /_emulator/state            running and pending config, lock, versions, tasks, faults
    POST   /_emulator/faults           JSON: {"latency_ms": 20} | {"fail": {...}} | {"reload": "fail"|"hang"|"node:pve2"}
                                       | {"answering": false|true}
    DELETE /_emulator/faults           clear every fault (latency too) and answer again
    POST   /_emulator/lock             hold the lock as another client (a token nobody knows); returns it
    POST   /_emulator/reset            an empty SDN config, no lock, no tasks
"""
from __future__ import annotations

import json

from aiohttp import web

from pvefleet_emulator.faults import FailRule
from pvefleet_emulator.remote import Remote


def _json(data) -> web.Response:
    return web.Response(text=json.dumps(data, default=str), content_type="application/json")


async def handle(remote: Remote, request: web.Request) -> web.Response:
    action = (request.method, request.path.rstrip("/"))
    if action == ("GET", "/_emulator/state"):
        return _json(remote.inspect())
    if action == ("POST", "/_emulator/faults"):
        return _json(set_faults(remote, await request.json()))
    if action == ("DELETE", "/_emulator/faults"):
        remote.faults.rules.clear()
        remote.faults.latency_ms = 0.0
        remote.faults.next_reload = None
        remote.faults.answering.set()
        return _json(remote.faults.describe())
    if action == ("POST", "/_emulator/lock"):
        remote.config.lock = remote.new_lock_token()
        remote.save()
        return _json({"token": remote.config.lock})
    if action == ("POST", "/_emulator/reset"):
        remote.reset()
        return _json({"reset": remote.name})
    return web.Response(status=404, text=f"no control endpoint {request.method} {request.path}\n")


def set_faults(remote: Remote, spec: dict) -> dict:
    faults = remote.faults
    if "latency_ms" in spec:
        faults.latency_ms = float(spec["latency_ms"])
    if "fail" in spec:
        rule = dict(spec["fail"])
        faults.rules.append(FailRule(method=rule.get("method", "*").upper(), path=rule["path"],
                                     nth=int(rule.get("nth", 1)), status=int(rule.get("status", 500)),
                                     message=rule.get("message", "injected failure"),
                                     times=rule.get("times", 1), drop=rule.get("drop")))
    if "reload" in spec:
        faults.next_reload = spec["reload"]
    if "answering" in spec:
        if spec["answering"]:
            faults.answering.set()
        else:
            faults.answering.clear()
    return faults.describe()
