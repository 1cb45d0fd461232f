"""POST /access/ticket: the login that gives a ticket and a CSRF token (pve-sdn-api.md §2.2)."""
from __future__ import annotations

import asyncio

from pvefleet_emulator.errors import ApiError
from pvefleet_emulator.routes import Call, route


@route("POST", "/access/ticket", needs_auth=False)
async def login(call: Call) -> dict:
    remote, params = call.remote, call.params
    data = remote.credentials.login(str(params["username"]), str(params["password"]), params.get("realm"))
    if data is None:
        await asyncio.sleep(remote.settings.auth_fail_delay)  # PVE slows down password guessing
        raise ApiError(401, "authentication failure\n")
    if len(remote.nodes) > 1:
        data["clustername"] = remote.name
    return data


@route("GET", "/access/ticket", needs_auth=False)
async def login_form(call: Call) -> None:
    """Only there so that a client can check the API answers; it returns nothing."""
    return None
