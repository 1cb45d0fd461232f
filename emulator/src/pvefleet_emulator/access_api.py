"""/access: the login that gives a ticket and a CSRF token (pve-sdn-api.md §2.2), and the effective
permissions of a user or token (pve-access-control API2/AccessControl.pm)."""
from __future__ import annotations

import asyncio

from pvefleet_emulator.access import split_tokenid
from pvefleet_emulator.errors import ApiError
from pvefleet_emulator.routes import Call, route


@route("POST", "/access/ticket", needs_auth=False)
async def login(call: Call) -> dict:
    remote, params = call.remote, call.params
    data = remote.credentials.login(remote.access, params)
    if data is None:
        await asyncio.sleep(remote.settings.auth_fail_delay)  # PVE slows down password guessing
        raise ApiError(401, "authentication failure\n")
    username = data["username"]
    # compute_api_permission; the cluster name only with Sys.Audit on / (create_ticket).
    data["cap"] = remote.access.capabilities(username)
    if len(remote.nodes) > 1 and remote.access.check(username, "/", ("Sys.Audit",), noerr=True):
        data["clustername"] = remote.name
    return data


@route("GET", "/access/ticket", needs_auth=False)
async def login_form(call: Call) -> None:
    """Only there so that a client can check the API answers; it returns nothing."""
    return None


@route("GET", "/access/permissions")
async def permissions(call: Call) -> dict:
    """The caller's own privileges (or a token's of its own; anyone else's with Sys.Audit on
    /access): {path: {privilege: propagate}} for `path` alone (even if empty), or for every
    top-level path and every path of the ACL tree where there are any."""
    access, authid = call.remote.access, call.user
    userid = call.params.get("userid")
    if userid is None:
        userid = authid
    owner = split_tokenid(userid)
    if not (userid == authid or (owner is not None and owner[0] == authid)):
        access.check(authid, "/access", ("Sys.Audit",))
    path = call.params.get("path")
    if path:  # as given, not normalized
        return {path: dict(access.privileges(userid, path))}
    return access.effective(userid)
