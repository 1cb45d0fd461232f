"""What follows an apply: the reload tasks, and what each node then reports about its zones.

After the commit, PVE starts a `reloadnetworkall` task on the node that got the PUT. It checks
quorum, then reloads the network of each cluster node in turn: each node runs its own
`srvreload` task (id `networking`, user root@pam) that generates the node's SDN interfaces
file, stamped with the running config version, and reloads the interfaces. A node's failure is
only a warning in `reloadnetworkall`, which still ends OK (pve-sdn-api.md §3.5 phase 2,
pve-sdn-objects.md §3.2). A node whose generated version is older than the running config's
shows its zones as `pending` (§8.3).

Here the whole reload lasts the remote's task time, split evenly between the nodes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from pvefleet_emulator.tasks import Task

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote

NODE_FAILURE = "command 'ifreload -a' failed: exit code 1"
NOT_GENERATED = "local sdn network configuration is not yet generated, please reload"
TOO_OLD = "local sdn network configuration is too old, please reload"
INTERFACE_ERROR = "vnet interface check failed"


def start_apply_reload(remote: Remote, version: int, user: str, regenerate_frr: bool, now: float) -> Task:
    """The `reloadnetworkall` task of an apply, and the nodes' `srvreload` tasks it runs."""
    fault, failure = remote.faults.take_reload()
    nodes = remote.nodes
    step = remote.settings.task_seconds / len(nodes)
    flag = int(regenerate_frr)
    main_log: list[list] = []

    if fault == "fail":  # the quorum check fails before any node is touched
        task = remote.tasks.start(remote.api_node, "reloadnetworkall", "", user, start=now, end=now + step,
                                  exitstatus=failure)
        remote.save_tasks()
        return task

    for index, node in enumerate(nodes):
        start = now + index * step
        main_log.append([index * step, f"{node}: reloading network config"])
        if fault == "hang":  # stuck in the first node's reload, for ever
            remote.tasks.start(node, "srvreload", "networking", "root@pam", start=start, end=None,
                               log=[[0, f"regenerate SDN configuration (version {version})"]], version=version,
                               outcome="pending")
            break
        outcome = "ok"
        if fault in (f"node:{node}", f"node:{node}:error"):
            outcome = "error" if fault.endswith(":error") else "pending"
            main_log.append([(index + 1) * step, f"{node}: command 'pvesh set /nodes/{node}/network "
                                                 f"--regenerate-frr {flag}' failed: exit code 255"])
        start_node_reload(remote, node, "root@pam", start=start, duration=step, version=version,
                          regenerate_frr=regenerate_frr, outcome=outcome)
    end = None if fault == "hang" else now + remote.settings.task_seconds
    task = remote.tasks.start(remote.api_node, "reloadnetworkall", "", user, start=now, end=end, log=main_log)
    remote.save_tasks()
    return task


def start_node_reload(remote: Remote, node: str, user: str, *, start: float, duration: float, version: int,
                      regenerate_frr: bool, outcome: str = "ok") -> Task:
    """One node's `srvreload` task (also what PUT /nodes/{node}/network starts)."""
    log = [[0, f"regenerate SDN configuration (version {version})"]]
    if outcome != "pending":
        log.append([duration / 3, "ifreload -a"])
    if regenerate_frr:
        log.append([duration * 2 / 3, "regenerate FRR configuration"])
    return remote.tasks.start(node, "srvreload", "networking", user, start=start, end=start + duration,
                              exitstatus="OK" if outcome == "ok" else NODE_FAILURE, log=log, version=version,
                              outcome=outcome)


def node_state(remote: Remote, node: str, now: float) -> tuple[int, bool]:
    """The version of the node's generated SDN interfaces file, and whether its interfaces are
    in error, after the node's finished `srvreload` tasks."""
    version, broken = 0, False
    finished = [t for t in remote.tasks.tasks.values()
                if t.node == node and t.type == "srvreload" and t.stopped(now)]
    for task in sorted(finished, key=lambda t: t.end or 0):
        if task.outcome in ("ok", "error"):
            version, broken = task.version, task.outcome == "error"
    return version, broken


def _node_status(remote: Remote, node: str, now: float) -> tuple[str, Optional[str]]:
    version, broken = node_state(remote, node, now)
    if version < remote.config.version:
        return "pending", NOT_GENERATED if version == 0 else TOO_OLD
    if broken:
        return "error", INTERFACE_ERROR
    return "available", None


def _zone_on_node(zone: dict, node: str) -> bool:
    nodes = [n for n in str(zone.get("nodes") or "").split(",") if n]
    return not nodes or node in nodes


def zone_status(remote: Remote, node: str, now: float) -> list[dict]:
    """GET /nodes/{node}/sdn/zones: each running zone the node has; empty before any apply."""
    if not remote.config.version:
        return []
    status, _message = _node_status(remote, node, now)
    return [{"zone": zone_id, "status": status}
            for zone_id, zone in sorted(remote.config.running_ids("zones").items()) if _zone_on_node(zone, node)]


def zone_content(remote: Remote, node: str, zone_id: str, now: float) -> list[dict]:
    """GET /nodes/{node}/sdn/zones/{zone}/content: the zone's running vnets with their status."""
    zone = remote.config.running_ids("zones").get(zone_id)
    if not remote.config.version or zone is None or not _zone_on_node(zone, node):
        return []
    status, message = _node_status(remote, node, now)
    items = []
    for vnet_id, vnet in sorted(remote.config.running_ids("vnets").items()):
        if vnet.get("zone") == zone_id:
            item = {"vnet": vnet_id, "status": status}
            if message:
                item["statusmsg"] = message
            items.append(item)
    return items
