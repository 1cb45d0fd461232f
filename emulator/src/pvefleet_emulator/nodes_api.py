"""The handlers outside /cluster/sdn: tasks (pve-sdn-api.md §8.2), per-node SDN status (§8.3),
a node's network reload, and /version, /nodes, /cluster/status, /cluster/tasks."""
from __future__ import annotations

from pvefleet_emulator.errors import ParamError
from pvefleet_emulator.formats import split_list
from pvefleet_emulator.lock import perl_true
from pvefleet_emulator.node_reload import start_node_reload, zone_content, zone_status
from pvefleet_emulator.routes import Call, WithTotal, route
from pvefleet_emulator.sdn_api import require_node
from pvefleet_emulator.tasks import UPID, Task, status_class

# pve-manager 9.2.11 (its "bump version to 9.2.11" commit as repoid); a --pve91 remote reports 9.1.4.
PVE9_VERSION = {"version": "9.2.11", "release": "9.2", "repoid": "f6997e698c7933ea"}
PVE91_VERSION = {"version": "9.1.4", "release": "9.1", "repoid": "5d2a3f1c8e7b9a06"}
PVE8_VERSION = {"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"}


@route("GET", "/version")
async def version(call: Call) -> dict:
    return dict(PVE8_VERSION if call.remote.pve8 else PVE91_VERSION if call.remote.pve91 else PVE9_VERSION)


# pve-manager API2Tools.pm extract_node_stats: what /nodes leaves out without Sys.Audit on the node.
NODE_STATS = ("maxcpu", "maxmem", "uptime")


@route("GET", "/nodes")
async def nodes(call: Call) -> list[dict]:
    """API2/Nodes.pm index: every node; its figures only with Sys.Audit on /nodes/<node>."""
    items = []
    for node in call.remote.nodes:
        item = {"node": node, "id": f"node/{node}", "type": "node", "status": "online", "level": "",
                "ssl_fingerprint": call.remote.fingerprint, "maxcpu": 8, "maxmem": 34359738368, "uptime": 86400}
        if not call.remote.access.check(call.user, f"/nodes/{node}", ("Sys.Audit",), noerr=True):
            for key in NODE_STATS:
                del item[key]
        items.append(item)
    return items


@route("GET", "/nodes/{node}")
async def node_index(call: Call) -> list[dict]:
    require_node(call.remote, call.params["node"])
    return [{"name": name} for name in ("network", "sdn", "tasks", "status")]


@route("GET", "/cluster/status")
async def cluster_status(call: Call) -> list[dict]:
    remote = call.remote
    items = [{"type": "node", "id": f"node/{node}", "name": node, "nodeid": index, "online": 1, "level": "",
              "local": int(node == remote.api_node), "ip": remote.address}
             for index, node in enumerate(remote.nodes, start=1)]
    if len(remote.nodes) > 1:  # a single node that was never clustered reports only itself
        items.insert(0, {"type": "cluster", "id": "cluster", "name": remote.name, "nodes": len(remote.nodes),
                         "quorate": 1, "version": len(remote.nodes)})
    return items


# Tasks (pve-manager API2/Tasks.pm)


def task_owned(task: Task, authid: str) -> bool:
    """Tasks.pm check_task_user: a token task is its token's and its user's; a user's task only
    the user's (a token does not see its user's own tasks)."""
    user, _sep, token = task.user.partition("!")
    if token:
        return authid in (task.user, user)
    return authid == task.user


def _task(call: Call, privilege: str = "Sys.Audit") -> Task:
    """The task of the call; unless the caller owns it, a 403 without `privilege` on /nodes/<node>."""
    task = _find_task(call)
    if not task_owned(task, call.user):
        call.require(f"/nodes/{call.params['node']}", (privilege,))
    return task


def _find_task(call: Call) -> Task:
    require_node(call.remote, call.params["node"])
    upid = call.params["upid"]
    if not UPID.fullmatch(upid):
        raise ParamError({"upid": "unable to parse worker upid"})
    task = call.remote.tasks.find(call.params["node"], upid)
    if task is None:
        raise ParamError({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks/{upid}")
async def task_index(call: Call) -> list[dict]:
    _find_task(call)  # user all: no owner check
    return [{"name": "log"}, {"name": "status"}]


@route("GET", "/nodes/{node}/tasks/{upid}/status")
async def task_status(call: Call) -> dict:
    return _task(call).status(call.now)


@route("GET", "/nodes/{node}/tasks/{upid}/log")
async def task_log(call: Call) -> WithTotal:
    lines = _task(call).log_lines(call.now)
    start, limit = int(call.params.get("start") or 0), call.params.get("limit")
    limit = 50 if limit is None else int(limit)
    selected = [{"n": number, "t": text} for number, text in enumerate(lines, start=1)][start:start + limit]
    return WithTotal(selected, len(lines))


@route("DELETE", "/nodes/{node}/tasks/{upid}")
async def task_stop(call: Call) -> None:
    call.remote.tasks.stop(_task(call, "Sys.Modify"), call.now)
    call.remote.save_tasks()


@route("GET", "/nodes/{node}/tasks")
async def task_list(call: Call) -> WithTotal:
    """The node's tasks, newest first, with the filters of §8.2."""
    params, now = call.params, call.now
    require_node(call.remote, params["node"])
    # Every task of the node with Sys.Audit on /nodes/<node>, else only the caller's own.
    auditor = call.remote.access.check(call.user, f"/nodes/{params['node']}", ("Sys.Audit",), noerr=True)
    source = params.get("source") or "archive"
    wanted_status = {item.lower() for item in split_list(params.get("statusfilter") or "")}
    items = []
    for task in call.remote.tasks.on_node(params["node"], now):
        finished = task.stopped(now)
        if (source == "archive" and not finished) or (source == "active" and finished):
            continue
        if params.get("typefilter") and task.type != params["typefilter"]:
            continue
        if params.get("userfilter") and params["userfilter"].lower() not in task.user.lower():
            continue
        if not auditor and not task_owned(task, call.user):
            continue
        if params.get("since") is not None and task.start < params["since"]:
            continue
        if params.get("until") is not None and task.start > params["until"]:
            continue
        if params.get("vmid") is not None:
            continue  # no task here belongs to a guest
        if perl_true(params.get("errors")) and (not finished or task.exitstatus == "OK"):
            continue
        if wanted_status and (not finished or status_class(task.exitstatus) not in wanted_status):
            continue
        items.append(task.list_item(now))
    start, limit = int(params.get("start") or 0), params.get("limit")
    limit = 50 if limit is None else int(limit)
    return WithTotal(items[start:start + limit], len(items))


@route("GET", "/cluster/tasks")
async def cluster_tasks(call: Call) -> list[dict]:
    """API2/Cluster.pm tasks: every task with Sys.Audit on /, else those whose user (a token
    task's user part) is the caller, so a token without it sees none."""
    audit = call.remote.access.check(call.user, "/", ("Sys.Audit",), noerr=True)
    tasks = [t for t in call.remote.tasks.tasks.values()
             if t.started(call.now) and (audit or t.user.partition("!")[0] == call.user)]
    return [task.list_item(call.now) for task in sorted(tasks, key=lambda t: t.start, reverse=True)]


# Per-node SDN status


@route("GET", "/nodes/{node}/sdn")
async def node_sdn_index(call: Call) -> list[dict]:
    require_node(call.remote, call.params["node"])
    names = ["vnets", "zones"] + ([] if call.remote.pve8 else ["fabrics"])
    return [{"name": name} for name in sorted(names)]


@route("GET", "/nodes/{node}/sdn/zones")
async def node_zones(call: Call) -> list[dict]:
    require_node(call.remote, call.params["node"])
    return zone_status(call.remote, call.params["node"], call.now)


@route("GET", "/nodes/{node}/sdn/zones/{zone}")
async def node_zone_index(call: Call) -> list[dict]:
    require_node(call.remote, call.params["node"])
    return [{"subdir": "content"}, {"subdir": "bridges"}, {"subdir": "ip-vrf"}]


@route("GET", "/nodes/{node}/sdn/zones/{zone}/content")
async def node_zone_content(call: Call) -> list[dict]:
    require_node(call.remote, call.params["node"])
    return zone_content(call.remote, call.params["node"], call.params["zone"], call.now)


@route("PUT", "/nodes/{node}/network")
async def node_network_reload(call: Call) -> str:
    """Reload one node's network: its own srvreload task, generating the running config."""
    remote, node = call.remote, call.params["node"]
    require_node(remote, node)
    task = start_node_reload(remote, node, call.user, start=call.now,
                             duration=remote.settings.task_seconds / len(remote.nodes),
                             version=remote.config.version, regenerate_frr=perl_true(call.params.get("regenerate-frr")))
    remote.save_tasks()
    return task.upid
