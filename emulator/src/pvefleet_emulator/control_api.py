"""The emulator's own control and inspection API, on every remote's own address, outside
/api2/json and without authentication. Bodies and answers are JSON.

    GET    /_emulator                  the list of these endpoints
    GET    /_emulator/state            running and pending config, lock, version, tasks, node
                                       versions, faults, "connections": {"accepted", "resumed",
                                       "open"} (net.ConnectionCounts) and "requests_answered" (the
                                       request log's length) since the last reset (Remote.inspect)
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
                                       request log, the connection counts from 0 (the open ones still
                                       open); the access configuration is kept, unless the body is
                                       {"access": true}

Access configuration (access.py; writes are refused with 400 {"error": "..."} as PVE would refuse them):

    GET    /_emulator/access           {"users": {userid: {"enable", "expire", "password" (has one),
                                       "groups", "tokens": {name: {"privsep", "expire"}}}}, "groups":
                                       {id: {"users"}}, "roles": {id: {"privs", "special"}}, "acl":
                                       [{"path", "type", "ugid", "roleid", "propagate"}]}; no secrets
    POST   /_emulator/access/users     {"userid": "alice@pve", "password"?, "enable"?: 1, "expire"?: 0,
                                       "groups"?: [...]}
    DELETE /_emulator/access/users/<userid>     with its tokens, group memberships and ACL entries
    POST   /_emulator/access/tokens    {"userid": "alice@pve", "tokenid": "t1", "privsep"?: 1,
                                       "expire"?: 0}: answers {"full-tokenid", "value" (the secret),
                                       "info": {"privsep", "expire"}}, as PVE's token API does
    DELETE /_emulator/access/tokens/<user@realm!name>   with its ACL entries
    POST   /_emulator/access/groups    {"groupid": "g1", "users"?: [...]}
    DELETE /_emulator/access/groups/<groupid>
    POST   /_emulator/access/roles     {"roleid": "R", "privs": ["SDN.Audit", ...] or "A,B"}
    DELETE /_emulator/access/roles/<roleid>     (built-in roles cannot be deleted)
    POST   /_emulator/access/acl       as PVE's PUT /access/acl: {"path", "roles", "users"?, "tokens"?,
                                       "groups"?, "propagate"?: 1, "delete"?: 0}; lists or comma lists
    DELETE /_emulator/access/acl       the same body: remove those entries
    POST   /_emulator/access/reset     back to the start: root@pam, root@pam!fleet, and what the
                                       command line asked for (same secrets)
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from pvefleet_emulator.access import AccessSpecError
from pvefleet_emulator.auth import new_token_secret
from pvefleet_emulator.faults import FaultSpecError
from pvefleet_emulator.formats import split_list
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
    "GET /_emulator/access",
    "POST /_emulator/access/users",
    "DELETE /_emulator/access/users/<userid>",
    "POST /_emulator/access/tokens",
    "DELETE /_emulator/access/tokens/<tokenid>",
    "POST /_emulator/access/groups",
    "DELETE /_emulator/access/groups/<groupid>",
    "POST /_emulator/access/roles",
    "DELETE /_emulator/access/roles/<roleid>",
    "POST /_emulator/access/acl",
    "DELETE /_emulator/access/acl",
    "POST /_emulator/access/reset",
]
ACCESS = "/_emulator/access"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, default=str), content_type="application/json")


async def handle(remote: Remote, request: web.BaseRequest) -> web.Response:
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
        try:
            body = await request.json() if await request.read() else {}
        except ValueError as exc:
            return _json({"error": str(exc)}, status=400)
        remote.reset(access=bool(isinstance(body, dict) and body.get("access")))
        return _json({"reset": remote.name})
    if action[1] == ACCESS or action[1].startswith(ACCESS + "/"):
        return await _access(remote, request, action[0], action[1][len(ACCESS):])
    return _json({"error": f"no control endpoint {request.method} {request.path}", "endpoints": ENDPOINTS},
                 status=404)


def _items(value: Any) -> list[str]:
    """A list, or a comma (or space or semicolon) separated text, as PVE's -list formats take."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return split_list(str(value))


async def _access(remote: Remote, request: web.BaseRequest, method: str, tail: str) -> web.Response:
    """The access configuration's calls; `tail` is the path after /_emulator/access."""
    access = remote.access
    if (method, tail) == ("GET", ""):
        return _json(access.describe())
    if (method, tail) == ("POST", "/reset"):
        remote.reset_access()
        return _json(remote.access.describe())
    try:
        body = await request.json() if await request.read() else {}
        if not isinstance(body, dict):
            raise AccessSpecError("the body must be a JSON object")
        answer: Any = None
        name = tail.split("/", 2)[2] if tail.count("/") >= 2 else None  # aiohttp decoded the path
        if (method, tail) == ("POST", "/users"):
            access.add_user(str(body.get("userid")), password=body.get("password"), enable=body.get("enable", 1),
                            expire=body.get("expire", 0), groups=_items(body.get("groups")),
                            comment=str(body.get("comment") or ""))
            answer = {"userid": body["userid"]}
        elif method == "DELETE" and tail.startswith("/users/") and name:
            access.remove_user(name)
        elif (method, tail) == ("POST", "/tokens"):
            secret = new_token_secret()
            tokenid = access.add_token(str(body.get("userid")), str(body.get("tokenid")),
                                       privsep=bool(body.get("privsep", 1)), expire=body.get("expire", 0),
                                       secret=secret, comment=str(body.get("comment") or ""))
            token = access.users[str(body["userid"])].tokens[str(body["tokenid"])]
            answer = {"full-tokenid": tokenid, "value": secret, "info": {"privsep": token.privsep,
                                                                         "expire": token.expire}}
        elif method == "DELETE" and tail.startswith("/tokens/") and name:
            access.remove_token(name)
        elif (method, tail) == ("POST", "/groups"):
            access.add_group(str(body.get("groupid")), _items(body.get("users")))
        elif method == "DELETE" and tail.startswith("/groups/") and name:
            access.remove_group(name)
        elif (method, tail) == ("POST", "/roles"):
            access.add_role(str(body.get("roleid")), _items(body.get("privs")))
        elif method == "DELETE" and tail.startswith("/roles/") and name:
            access.remove_role(name)
        elif tail == "/acl" and method in ("POST", "DELETE"):
            access.update_acl(str(body.get("path") or ""), _items(body.get("roles")), users=_items(body.get("users")),
                              tokens=_items(body.get("tokens")), groups=_items(body.get("groups")),
                              propagate=bool(body.get("propagate", 1)),
                              delete=method == "DELETE" or bool(body.get("delete")))
        else:
            return _json({"error": f"no control endpoint {method} {request.path}", "endpoints": ENDPOINTS},
                         status=404)
    except (ValueError, TypeError, AccessSpecError) as exc:
        return _json({"error": str(exc)}, status=400)
    remote.save_access()
    return _json(answer if answer is not None else access.describe())
