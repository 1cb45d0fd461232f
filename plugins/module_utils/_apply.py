# Private to pvefleet.sdn: not a public API.
"""Applying one remote: what is pending, the apply itself, and proof that every node reloaded.

PVE's `reloadnetworkall` task ends OK even when a node failed to reload (pve-sdn-api.md §3.5,
apply phase 2), so success is judged per node from each node's zone status as well.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from dataclasses import dataclass
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, PveFleetError, TaskTimeout
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import FleetPace
from ansible_collections.pvefleet.sdn.plugins.module_utils._tasks import TaskFollower
from ansible_collections.pvefleet.sdn.plugins.module_utils._unwind import UnwindOutcome, rollback_and_release

# The object kinds whose pending changes PVE counts (has_pending_changes, pve-sdn-api.md §5.2).
_TOP_LEVEL = (("zone", "/cluster/sdn/zones", "zone"), ("vnet", "/cluster/sdn/vnets", "vnet"),
              ("controller", "/cluster/sdn/controllers", "controller"))


async def pending_objects(client) -> list[str]:
    """Every zone, vnet, subnet and controller an apply would change, as sorted labels such as
    "vnet vnet1 (new)"; empty when nothing is pending."""
    listings = await asyncio.gather(*(client.get(path, params={"pending": 1}) for _kind, path, _key in _TOP_LEVEL))
    labels = [f"{kind} {item[key]} ({item['state']})"
              for (kind, _path, key), items in zip(_TOP_LEVEL, listings)
              for item in items or [] if item.get("state")]
    vnets = [item["vnet"] for item in listings[1] or [] if item.get("state") != "deleted"]
    subnet_lists = await asyncio.gather(*(_pending_subnets(client, vnet) for vnet in vnets))
    labels += [label for labels_of_vnet in subnet_lists for label in labels_of_vnet]
    return sorted(labels)


async def _pending_subnets(client, vnet: str) -> list[str]:
    path = f"/cluster/sdn/vnets/{urllib.parse.quote(vnet)}/subnets"
    try:
        items = await client.get(path, params={"pending": 1})
    except ApiError:
        return []  # a vnet that exists only in the running config has no subnets to list
    return [f"subnet {item.get('subnet') or item.get('id')} ({item['state']})" for item in items or []
            if item.get("state")]


async def apply_and_wait(client, token: str | None, *, timeout: float, check_nodes: bool = True,
                         pace: FleetPace | None = None, admission=None) -> dict:
    """Apply (releasing the lock when a token is given) and wait for the reload task and, with
    check_nodes, for every node's zones to leave `pending` (`pace`: the fleet's reload polling,
    _pace.py; `admission`: an async context manager, a fleet's bound, held for the apply only,
    not for the wait). Returns a per-remote report (a task that fails or does not finish in time
    is in it); raises only when a request failed, and before the commit only when the apply
    request itself failed (then PVE kept the lock)."""
    started = time.monotonic()
    follower = TaskFollower(client)
    async with admission or contextlib.nullcontext():
        upid = await LockSession(client).apply(token, release=True)
        # The node names are read while the reload runs (idle time), before the first poll:
        # one request at a time keeps the remote's one kept-alive connection enough.
        nodes = await node_names(client) if check_nodes else []
    try:
        task = await follower.wait(upid, timeout=timeout, pace=pace)
    except TaskTimeout as exc:
        # Committed, and maybe still reloading: a report, not a rollback.
        return {"upid": str(upid), "node": upid.node, "exitstatus": "", "ok": False, "error": str(exc),
                "duration": round(time.monotonic() - started, 3)}
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
    report["duration"] = round(time.monotonic() - started, 3)
    return report


@dataclass
class ApplyOutcome:
    """apply_or_unwind's result: `report` when every request was answered; else the `error` of
    the request that failed and how the remote was left (`unwind`)."""

    report: Optional[dict] = None
    error: Optional[PveFleetError] = None
    unwind: Optional[UnwindOutcome] = None


async def apply_or_unwind(client, token: str | None, *, timeout: float, check_nodes: bool = True,
                          pace: FleetPace | None = None, admission=None) -> ApplyOutcome:
    """apply_and_wait; when a request fails, roll back and release. If the failed request was the
    apply itself, PVE committed nothing and kept the lock (pve-sdn-api.md §3.5); if the commit
    happened, the rollback finds nothing pending and the lock gone. Either way the remote is
    left clean; the failure is reported, not retried."""
    try:
        return ApplyOutcome(await apply_and_wait(client, token, timeout=timeout, check_nodes=check_nodes,
                                                 pace=pace, admission=admission))
    except PveFleetError as exc:
        async with admission or contextlib.nullcontext():
            return ApplyOutcome(error=exc, unwind=await rollback_and_release(LockSession(client), token))


async def node_names(client) -> list[str]:
    return sorted(item["node"] for item in await client.get("/nodes") or [])
