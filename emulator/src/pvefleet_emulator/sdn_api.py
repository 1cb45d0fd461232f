"""The handlers of the PVE API endpoints the emulator serves, one remote at a time.

Each handler gets the remote, the validated parameters and the path parameters, and returns
PVE's `data`. Lock-aware writes go through `locked()`, which is pve-network's lock_sdn_config:
the domain lock, the token check, and every error re-thrown as "<prefix>: <error>" (§3.2, §3.4).
"""
from __future__ import annotations

import contextvars
import time
from typing import Any, Callable, Optional

from pvefleet_emulator.remote import Remote
from pvefleet_emulator.schema import ParamError
from pvefleet_emulator.sdn_config import ID_KEYS
from pvefleet_emulator.sdn_rules import (
    CONTROLLER_OPTIONS,
    ZONE_OPTIONS,
    Die,
    check_controller,
    check_controller_delete,
    check_subnet,
    check_type_options,
    check_vnet,
    check_vnet_delete,
    check_zone,
    check_zone_delete,
    normalise_lists,
    parse_subnet_ref,
    perl_die,
    subnet_key,
    subnet_output,
)

Handler = Callable[..., Any]
# The authenticated user (for a token: user@realm!tokenid), the owner of the tasks a request starts.
current_user: contextvars.ContextVar[str] = contextvars.ContextVar("current_user", default="root@pam")
ROUTES: list[tuple[str, str, Handler]] = []
NODE_RELOAD_FAILURE = "command 'ifreload -a' failed: exit code 1"


def route(method: str, template: str):
    def register(function: Handler) -> Handler:
        ROUTES.append((method, template, function))
        return function
    return register


async def locked(remote: Remote, prefix: str, token: Optional[str], work: Callable[[], Any]) -> Any:
    async with remote.domain_lock:
        try:
            if remote.config.lock is not None and token != remote.config.lock:
                raise perl_die("invalid lock token provided!", "Network/SDN.pm")
            result = work()
        except ParamError as exc:
            text = "".join(f"{k}: {v}\n" for k, v in exc.errors.items())
            raise Die(f"{prefix}: 400 Parameter verification failed.\n{text}") from None
        except Die as exc:
            raise Die(f"{prefix}: {exc}") from None
        remote.save()
        return result


def _listing(remote: Remote, kind: str, params: dict, items: Optional[dict] = None) -> list[dict]:
    cfg = remote.config
    view_flags = {"running": bool(params.get("running")), "pending": bool(params.get("pending"))}
    views = items if items is not None else cfg.view(kind, **view_flags)
    digest = None if any(view_flags.values()) else cfg.digest(kind)
    result = []
    for object_id, values in sorted(views.items()):
        if params.get("type") and values.get("type") != params["type"]:
            continue
        item = subnet_output(object_id, values) if kind == "subnets" else dict(values)
        item[ID_KEYS[kind]] = object_id
        item["digest"] = digest
        result.append(item)
    return result


def _read_one(remote: Remote, kind: str, object_id: str, params: dict, missing: str) -> dict:
    for item in _listing(remote, kind, params):
        if item[ID_KEYS[kind]] == object_id:
            return item
    raise Die(missing)


# Index, version, nodes


@route("GET", "/version")
async def version(remote: Remote, params: dict) -> dict:
    if remote.pve8:
        return {"version": "8.4.1", "release": "8.4", "repoid": "2a5fa54a8503f96d"}
    return {"version": "9.1.2", "release": "9.1", "repoid": "9d436f37a0ac4172"}


@route("GET", "/nodes")
async def nodes(remote: Remote, params: dict) -> list:
    return [{"node": node, "status": "online", "type": "node", "id": f"node/{node}"} for node in remote.nodes]


@route("GET", "/cluster/sdn")
async def sdn_index(remote: Remote, params: dict) -> list:
    names = ["vnets", "zones", "controllers", "ipams", "dns"] + ([] if remote.pve8 else ["fabrics"])
    return [{"id": name} for name in names]


# The lock (§3.5)


@route("POST", "/cluster/sdn/lock")
async def lock_acquire(remote: Remote, params: dict) -> str:
    def work() -> str:
        if not params.get("allow-pending") and remote.config.has_pending_changes():
            raise perl_die("configuration has pending changes", "API2/Network/SDN.pm")
        remote.config.lock = remote.new_lock_token()
        return remote.config.lock
    # POST /lock takes no token, so a held lock always fails the token check.
    return await locked(remote, "could not acquire lock for SDN config", None, work)


@route("DELETE", "/cluster/sdn/lock")
async def lock_release(remote: Remote, params: dict) -> None:
    if params.get("force"):
        remote.config.lock = None  # no domain lock, no token check
        remote.save()
        return None

    def work() -> None:
        remote.config.lock = None
    return await locked(remote, "could not release lock", params.get("lock-token"), work)


@route("POST", "/cluster/sdn/rollback")
async def rollback(remote: Remote, params: dict) -> None:
    token = params.get("lock-token")

    def work() -> None:
        remote.config.rollback()
        # Released only with a non-empty token and release-lock as sent: no default (§3.5).
        if token and params.get("release-lock"):
            remote.config.lock = None
    return await locked(remote, "could not rollback SDN configuration", token, work)


@route("PUT", "/cluster/sdn")
async def apply(remote: Remote, params: dict) -> str:
    token = params.get("lock-token")

    def work() -> int:
        new_version = remote.config.commit()
        if token and params.get("release-lock"):
            remote.config.lock = None
        return new_version

    new_version = await locked(remote, "could not commit SDN config", token, work)
    return start_reload(remote, new_version, current_user.get()).upid


def start_reload(remote: Remote, new_version: int, user: str):
    """reloadnetworkall, and a srvreload on each node in turn (§3.5 apply phase 2)."""
    fault, remote.faults.next_reload = remote.faults.next_reload, None
    total = remote.task_seconds
    step = total / max(1, len(remote.nodes))
    lines = [f"{node}: reloading network config" for node in remote.nodes]
    if fault == "hang":
        return remote.tasks.start(remote.api_node, "reloadnetworkall", "", user, None, lines=lines[:1])
    if fault == "fail":
        return remote.tasks.start(remote.api_node, "reloadnetworkall", "", user, total,
                                  exitstatus="cluster not ready - no quorum?")
    main = remote.tasks.start(remote.api_node, "reloadnetworkall", "", user, total, lines=lines)
    for index, node in enumerate(remote.nodes):
        failing = fault == f"node:{node}"
        remote.tasks.start(node, "srvreload", "networking", "root@pam", step, delay=index * step,
                           exitstatus=NODE_RELOAD_FAILURE if failing else "OK", version=new_version,
                           lines=["generating /etc/network/interfaces.d/sdn", "ifreload -a"])
    return main


@route("GET", "/cluster/sdn/dry-run")
async def dry_run(remote: Remote, params: dict) -> dict:
    pending = remote.config.has_pending_changes()
    return {"frr-diff": None, "interfaces-diff": "--- a\n+++ b\n@@ pending SDN changes @@\n" if pending else None}


# Zones and controllers (same shape: typed section objects)


def _typed_routes(kind: str, options: dict, noun: str, missing: Callable[[str], str],
                  check: Callable, check_delete: Callable) -> None:
    key = ID_KEYS[kind]
    base = f"/cluster/sdn/{kind}"

    @route("GET", base)
    async def index(remote: Remote, params: dict) -> list:
        return _listing(remote, kind, params)

    @route("GET", base + "/{%s}" % key)
    async def read(remote: Remote, params: dict) -> dict:
        return _read_one(remote, kind, params[key], params, missing(params[key]))

    @route("POST", base)
    async def create(remote: Remote, params: dict) -> None:
        object_id = params[key]
        section = normalise_lists({k: v for k, v in params.items() if k not in (key, "lock-token")})
        check_type_options(options, section)  # before the lock: no prefix (§6)

        def work() -> None:
            cfg = remote.config
            if object_id in cfg.pending[kind]:
                raise Die(f"sdn {noun} object ID '{object_id}' already defined\n")
            check(cfg, object_id, section, update=False)
            cfg.pending[kind][object_id] = section
        return await locked(remote, f"create sdn {noun} object failed", params.get("lock-token"), work)

    @route("PUT", base + "/{%s}" % key)
    async def update(remote: Remote, params: dict) -> None:
        object_id = params[key]

        def work() -> None:
            cfg = remote.config
            if params.get("digest") and params["digest"] != cfg.digest(kind):
                raise Die("detected modified configuration - file changed by other user? Try again.\n")
            if object_id not in cfg.pending[kind]:
                raise Die(missing(object_id))
            section = _updated(cfg.pending[kind][object_id], params, (key, "lock-token", "digest", "delete", "type"))
            check_type_options(options, section)
            check(cfg, object_id, section, update=True)
            cfg.pending[kind][object_id] = section
        return await locked(remote, f"update sdn {noun} object failed", params.get("lock-token"), work)

    @route("DELETE", base + "/{%s}" % key)
    async def delete(remote: Remote, params: dict) -> None:
        object_id = params[key]

        def work() -> None:
            cfg = remote.config
            if object_id not in cfg.pending[kind]:
                raise Die(missing(object_id))
            check_delete(cfg, object_id)
            del cfg.pending[kind][object_id]
        return await locked(remote, f"delete sdn {noun} object failed", params.get("lock-token"), work)


def _updated(old: dict, params: dict, skip: tuple[str, ...]) -> dict:
    """The section after an update: new values set, `delete` keys removed (SectionConfig rules)."""
    section = dict(old)
    changes = normalise_lists({k: v for k, v in params.items() if k not in skip})
    deletes = [k for k in str(params.get("delete") or "").replace(";", ",").split(",") if k.strip()]
    for name in deletes:
        name = name.strip()
        if name in changes:
            raise ParamError({"delete": f"cannot set and delete property '{name}' at the same time!"})
        section.pop(name, None)
    section.update(changes)
    if "type" in params and params["type"] != old.get("type"):
        raise ParamError({"type": "can't change type"})
    return section


_typed_routes("zones", ZONE_OPTIONS, "zone", lambda i: f"sdn '{i}' does not exist\n",
              lambda cfg, i, s, update: check_zone(cfg, i, s, update=update), check_zone_delete)
_typed_routes("controllers", CONTROLLER_OPTIONS, "controller", lambda i: f"sdn '{i}' does not exist\n",
              lambda cfg, i, s, update: check_controller(cfg, i, s), check_controller_delete)


# Vnets


def _vnet_or_die(remote: Remote, vnet_id: str) -> dict:
    # The vnet permission helper looks the vnet up before the lock: no prefix (§6).
    vnet = remote.config.pending["vnets"].get(vnet_id) or remote.config.running_ids("vnets").get(vnet_id)
    if vnet is None:
        raise Die(f"sdn vnet '{vnet_id}' does not exist\n")
    return vnet


@route("GET", "/cluster/sdn/vnets")
async def vnet_index(remote: Remote, params: dict) -> list:
    return _listing(remote, "vnets", params)


@route("GET", "/cluster/sdn/vnets/{vnet}")
async def vnet_read(remote: Remote, params: dict) -> dict:
    return _read_one(remote, "vnets", params["vnet"], params, f"sdn vnet '{params['vnet']}' does not exist\n")


@route("POST", "/cluster/sdn/vnets")
async def vnet_create(remote: Remote, params: dict) -> None:
    vnet_id = params["vnet"]
    section = {k: v for k, v in params.items() if k not in ("vnet", "lock-token")}
    section["type"] = "vnet"

    def work() -> None:
        cfg = remote.config
        if vnet_id in cfg.pending["vnets"]:
            raise Die(f"sdn vnet object ID '{vnet_id}' already defined\n")
        check_vnet(cfg, vnet_id, section, old=None)
        cfg.pending["vnets"][vnet_id] = section
    return await locked(remote, "create sdn vnet object failed", params.get("lock-token"), work)


@route("PUT", "/cluster/sdn/vnets/{vnet}")
async def vnet_update(remote: Remote, params: dict) -> None:
    vnet_id = params["vnet"]
    _vnet_or_die(remote, vnet_id)

    def work() -> None:
        cfg = remote.config
        if params.get("digest") and params["digest"] != cfg.digest("vnets"):
            raise Die("detected modified configuration - file changed by other user? Try again.\n")
        old = cfg.pending["vnets"].get(vnet_id)
        if old is None:
            raise Die(f"sdn vnet '{vnet_id}' does not exist\n")
        if "zone" in str(params.get("delete") or ""):
            raise ParamError({"zone": "cannot delete zone"})
        section = _updated(old, params, ("vnet", "lock-token", "digest", "delete"))
        check_vnet(cfg, vnet_id, section, old=old)
        cfg.pending["vnets"][vnet_id] = section
    return await locked(remote, "update sdn vnet object failed", params.get("lock-token"), work)


@route("DELETE", "/cluster/sdn/vnets/{vnet}")
async def vnet_delete(remote: Remote, params: dict) -> None:
    vnet_id = params["vnet"]
    _vnet_or_die(remote, vnet_id)

    def work() -> None:
        cfg = remote.config
        if vnet_id not in cfg.pending["vnets"]:
            raise Die(f"sdn vnet '{vnet_id}' does not exist\n")
        check_vnet_delete(cfg, vnet_id)
        del cfg.pending["vnets"][vnet_id]
    return await locked(remote, "delete sdn vnet object failed", params.get("lock-token"), work)


# Subnets


def _subnets_of(remote: Remote, vnet_id: str, params: dict) -> dict:
    views = remote.config.view("subnets", running=bool(params.get("running")), pending=bool(params.get("pending")))
    return {sid: v for sid, v in views.items() if (v.get("vnet") or (v.get("pending") or {}).get("vnet")) == vnet_id}


@route("GET", "/cluster/sdn/vnets/{vnet}/subnets")
async def subnet_index(remote: Remote, params: dict) -> list:
    _vnet_or_die(remote, params["vnet"])
    return _listing(remote, "subnets", params, _subnets_of(remote, params["vnet"], params))


def _subnet_id(remote: Remote, params: dict) -> str:
    vnet = _vnet_or_die(remote, params["vnet"])
    return parse_subnet_ref(params["subnet"], vnet.get("zone", ""))


@route("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
async def subnet_read(remote: Remote, params: dict) -> dict:
    subnet_id = _subnet_id(remote, params)
    every = remote.config.view("subnets", running=bool(params.get("running")), pending=bool(params.get("pending")))
    if subnet_id not in every:
        raise Die(f"sdn subnet '{subnet_id}' does not exist\n")
    values = every[subnet_id]
    if (values.get("vnet") or (values.get("pending") or {}).get("vnet")) != params["vnet"]:
        raise ParamError({"vnet": "wrong vnet"})
    return _listing(remote, "subnets", params, {subnet_id: values})[0]


@route("POST", "/cluster/sdn/vnets/{vnet}/subnets")
async def subnet_create(remote: Remote, params: dict) -> None:
    vnet = _vnet_or_die(remote, params["vnet"])
    subnet_id = subnet_key(vnet.get("zone", ""), params["subnet"])
    section = {k: v for k, v in params.items() if k not in ("subnet", "lock-token")}
    section["type"] = "subnet"

    def work() -> None:
        cfg = remote.config
        if subnet_id in cfg.pending["subnets"]:
            raise Die(f"sdn subnet object ID '{subnet_id}' already defined\n")
        check_subnet(cfg, subnet_id, section)
        cfg.pending["subnets"][subnet_id] = section
    return await locked(remote, "create sdn subnet object failed", params.get("lock-token"), work)


@route("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
async def subnet_update(remote: Remote, params: dict) -> None:
    subnet_id = _subnet_id(remote, params)

    def work() -> None:
        cfg = remote.config
        if params.get("digest") and params["digest"] != cfg.digest("subnets"):
            raise Die("detected modified configuration - file changed by other user? Try again.\n")
        old = cfg.pending["subnets"].get(subnet_id)
        if old is None:
            raise Die(f"sdn subnet '{subnet_id}' does not exist\n")
        section = _updated(old, params, ("vnet", "subnet", "lock-token", "digest", "delete"))
        check_subnet(cfg, subnet_id, section)
        cfg.pending["subnets"][subnet_id] = section
    return await locked(remote, "update sdn subnet object failed", params.get("lock-token"), work)


@route("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
async def subnet_delete(remote: Remote, params: dict) -> None:
    subnet_id = _subnet_id(remote, params)

    def work() -> None:
        # Unknown subnet IDs are a no-op without an IPAM (§6).
        remote.config.pending["subnets"].pop(subnet_id, None)
    return await locked(remote, "delete sdn subnet object failed", params.get("lock-token"), work)


# IPAMs and DNS: enough for zones to refer to them; they take effect at once (§6.5)


for _kind in ("ipams", "dns"):
    def _make(kind: str) -> None:
        key = ID_KEYS[kind]

        @route("GET", f"/cluster/sdn/{kind}")
        async def index(remote: Remote, params: dict) -> list:
            return [{key: i, **v} for i, v in sorted(remote.config.pending[kind].items())
                    if not params.get("type") or v.get("type") == params["type"]]

        @route("POST", f"/cluster/sdn/{kind}")
        async def create(remote: Remote, params: dict) -> None:
            object_id = params[key]

            def work() -> None:
                if object_id in remote.config.pending[kind]:
                    raise Die(f"sdn {key} object ID '{object_id}' already defined\n")
                remote.config.pending[kind][object_id] = {k: v for k, v in params.items()
                                                          if k not in (key, "lock-token")}
            return await locked(remote, f"create sdn {key} object failed", params.get("lock-token"), work)
    _make(_kind)


# Tasks (§8.2)


def _task_or_400(remote: Remote, params: dict):
    upid = params["upid"]
    if not upid.startswith("UPID:") or len(upid.split(":")) < 9:
        raise ParamError({"upid": "unable to parse worker upid"})
    task = remote.tasks.find(params["node"], upid)
    if task is None:
        raise ParamError({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks/{upid}/status")
async def task_status(remote: Remote, params: dict) -> dict:
    return _task_or_400(remote, params).status(time.monotonic())


@route("GET", "/nodes/{node}/tasks/{upid}/log")
async def task_log(remote: Remote, params: dict) -> tuple[list, int]:
    lines = _task_or_400(remote, params).log(time.monotonic())
    start, limit = int(params.get("start") or 0), int(params.get("limit") or 50)
    return [{"n": n + 1, "t": text} for n, text in enumerate(lines)][start:start + limit], len(lines)


@route("GET", "/nodes/{node}/tasks")
async def task_list(remote: Remote, params: dict) -> list:
    now = time.monotonic()
    source = params.get("source") or "archive"
    items = []
    for task in sorted(remote.tasks.for_node(params["node"]), key=lambda t: t.starttime, reverse=True):
        running = not task.stopped(now)
        if (source == "archive" and running) or (source == "active" and not running):
            continue
        if params.get("typefilter") and task.type != params["typefilter"]:
            continue
        if params.get("since") is not None and task.starttime < int(params["since"]):
            continue
        if params.get("until") is not None and task.starttime > int(params["until"]):
            continue
        if params.get("userfilter") and params["userfilter"] not in task.user:
            continue
        if params.get("errors") and (running or task.exitstatus == "OK"):
            continue
        items.append(task.list_item(now))
    start, limit = int(params.get("start") or 0), int(params.get("limit") or 50)
    return items[start:start + limit]


# Per-node SDN status (§8.3)


@route("GET", "/nodes/{node}/sdn/zones")
async def node_zones(remote: Remote, params: dict) -> list:
    node = params["node"]
    running_version = remote.config.version
    if not running_version:
        return []
    node_version = remote.tasks.node_version(node)
    status = "available" if node_version >= running_version else "pending"
    result = []
    for zone_id, zone in sorted(remote.config.running_ids("zones").items()):
        nodes = [n for n in str(zone.get("nodes") or "").split(",") if n]
        if nodes and node not in nodes:
            continue
        result.append({"zone": zone_id, "status": status})
    return result


@route("GET", "/nodes/{node}/sdn/zones/{zone}/content")
async def node_zone_content(remote: Remote, params: dict) -> list:
    zones = {z["zone"]: z["status"] for z in await node_zones(remote, params)}
    status = zones.get(params["zone"], "pending")
    return [{"vnet": vnet_id, "status": status} for vnet_id, vnet in sorted(remote.config.running_ids("vnets").items())
            if vnet.get("zone") == params["zone"]]


# What a PVE 8 remote does not have (§1): the lock endpoints, and `lock-token` anywhere.
PVE8_MISSING = {("POST", "/cluster/sdn/lock"), ("DELETE", "/cluster/sdn/lock"), ("POST", "/cluster/sdn/rollback")}
