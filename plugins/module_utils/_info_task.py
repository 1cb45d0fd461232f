# Private to pvefleet.sdn: not a public API.
"""sdn_info: a remote's SDN objects in one view, its lock, and what an apply would change."""
from __future__ import annotations

import asyncio
import urllib.parse

from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import pending_objects
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession

# view option -> GET parameters (pve-sdn-objects.md §1.8)
VIEWS = {"pending": {"pending": 1}, "running": {"running": 1}, "config": None}


async def run_info_task(client, params: dict, check_mode: bool = False) -> dict:
    query = VIEWS[params.get("view") or "pending"]
    zones, vnets, controllers = await asyncio.gather(
        client.get("/cluster/sdn/zones", params=query), client.get("/cluster/sdn/vnets", params=query),
        client.get("/cluster/sdn/controllers", params=query))
    subnet_lists = await asyncio.gather(*(
        client.get(f"/cluster/sdn/vnets/{urllib.parse.quote(v['vnet'])}/subnets", params=query)
        for v in vnets or [] if v.get("state") != "deleted"))
    lock = await LockSession(client).lock_state()
    pending = await pending_objects(client)
    return {
        "changed": False,
        "view": params.get("view") or "pending",
        "zones": [_without_digest(z) for z in zones or []],
        "vnets": [_without_digest(v) for v in vnets or []],
        "subnets": [_without_digest(s) for subnets in subnet_lists for s in subnets or []],
        "controllers": [_without_digest(c) for c in controllers or []],
        "lock": lock,
        "pending_changes": pending,
    }


def _without_digest(item: dict) -> dict:
    return {key: value for key, value in item.items() if key != "digest"}
