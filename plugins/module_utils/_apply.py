# Private to pvefleet.sdn: not a public API.
"""After an apply: what is pending, and proof that every node reloaded.

PVE's `reloadnetworkall` task ends OK even when a node failed to reload (pve-sdn-api.md §3.5,
apply phase 2), so success is judged per node from each node's zone status as well.
"""
from __future__ import annotations

import asyncio
import time
import urllib.parse
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import FleetPace
from ansible_collections.pvefleet.sdn.plugins.module_utils._tasks import TaskFollower, Upid

# The listings of every object kind but subnets (listed per vnet), whose `pending=1` view marks
# what an apply would change (pve-sdn-api.md §5.2): sdn_info's name of each, the label of its kind,
# its path, the member of the answer that holds it, and the keys that name an item (a fabric node
# within its fabric, a route map entry within its route map). Fabrics are PVE 9's, prefix lists
# and route maps 9.2's: a remote without them answers 501, and has none. Fabrics and their nodes
# come from /fabrics/all: /fabrics/node lists a node in two fabrics once.
LISTINGS = (
    ("zones", "zone", "/cluster/sdn/zones", None, ("zone",)),
    ("vnets", "vnet", "/cluster/sdn/vnets", None, ("vnet",)),
    ("controllers", "controller", "/cluster/sdn/controllers", None, ("controller",)),
    ("fabrics", "fabric", "/cluster/sdn/fabrics/all", "fabrics", ("id",)),
    ("fabric_nodes", "fabric node", "/cluster/sdn/fabrics/all", "nodes", ("fabric_id", "node_id")),
    ("prefix_lists", "prefix list", "/cluster/sdn/prefix-lists", None, ("id",)),
    ("route_map_entries", "route map entry", "/cluster/sdn/route-maps/entries", None, ("route-map-id", "order")),
)
LISTING_PATHS = sorted({path for _name, _label, path, _member, _keys in LISTINGS})


def listed(answers: dict, path: str, member: Optional[str]) -> list:
    """The items of one listing among `answers` (path -> PVE's answer)."""
    return (answers[path].get(member) or []) if member else answers[path]


async def pending_objects(client, answers: Optional[dict] = None) -> list[str]:
    """Every object an apply would change, as sorted labels such as "vnet vnet1 (new)" or
    "fabric node underlay/pve1 (changed)"; empty when nothing is pending. `answers`: the
    `pending=1` listings (path -> answer) when the caller has read them already."""
    if answers is None:
        answers = dict(zip(LISTING_PATHS, await asyncio.gather(*(pending_listing(client, path)
                                                                 for path in LISTING_PATHS))))
    labels: list[str] = []
    for _name, label, path, member, keys in LISTINGS:
        labels += [f"{label} {'/'.join(str(item_key(item, key)) for key in keys)} ({item['state']})"
                   for item in listed(answers, path, member) if item.get("state")]
    vnets = [item["vnet"] for item in answers["/cluster/sdn/vnets"] if item.get("state") != "deleted"]
    subnet_lists = await asyncio.gather(*(_pending_subnets(client, vnet) for vnet in vnets))
    labels += [label for labels_of_vnet in subnet_lists for label in labels_of_vnet]
    return sorted(labels)


def item_key(item: dict, key: str):
    """A key of a `pending=1` item: a new object of the Rust-backed kinds (fabrics, prefix lists,
    route map entries) has every key, its ID too, only under `pending`."""
    value = item.get(key)
    return value if value is not None else (item.get("pending") or {}).get(key)


async def pending_listing(client, path: str, params: Optional[dict] = None):
    """A listing, by default its `pending=1` view (`params` {}: the config files as they are)."""
    try:
        return await client.get(path, params={"pending": 1} if params is None else (params or None)) or []
    except ApiError as error:
        if error.status == 501:  # "Method '...' not implemented": an older PVE has no such objects
            return {} if path.endswith("/all") else []
        raise


async def _pending_subnets(client, vnet: str) -> list[str]:
    path = f"/cluster/sdn/vnets/{urllib.parse.quote(vnet)}/subnets"
    try:
        items = await client.get(path, params={"pending": 1})
    except ApiError:
        return []  # a vnet that exists only in the running config has no subnets to list
    return [f"subnet {item.get('subnet') or item.get('id')} ({item['state']})" for item in items or []
            if item.get("state")]


async def follow_reload(client, upid: Upid, nodes: list[str], *, timeout: float, check_nodes: bool = True,
                        pace: FleetPace | None = None, started: float | None = None) -> dict:
    """Follow a committed apply's reload task and, with check_nodes, every node's zones until none
    is `pending` (`pace`: the fleet's reload polling, _pace.py). Returns the report of the reload;
    raises when a request fails or the task does not end within `timeout` (counted from
    `started`): then the reload's result is unknown."""
    started = time.monotonic() if started is None else started
    follower = TaskFollower(client)
    task = await follower.wait(upid, timeout=timeout, pace=pace, started=started)
    report = {"upid": str(upid), "node": task.node, "exitstatus": task.exitstatus,
              "task_duration": round(task.duration, 3), "ok": task.ok}
    if not task.ok:
        report.update(error=f"reload task {task.exitstatus}", log_tail=task.log_tail)
    if check_nodes and task.ok:
        remaining = max(1.0, timeout - (time.monotonic() - started))
        statuses = await follower.wait_nodes_applied(nodes, timeout=remaining, since=upid.starttime)
        report["nodes"] = statuses
        failed = {node: status for node, status in sorted(statuses.items()) if status != "ok"}
        if failed:
            report.update(ok=False, error="reload failed on node(s) " + ", ".join(
                f"{node} ({status})" for node, status in failed.items()))
    return report


async def node_names(client) -> list[str]:
    return sorted(item["node"] for item in await client.get("/nodes") or [])
