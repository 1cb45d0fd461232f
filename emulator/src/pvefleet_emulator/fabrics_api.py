"""The handlers of SDN fabrics (PVE 9): /cluster/sdn/fabrics/** and /nodes/{node}/sdn/fabrics/**.

Sources: pve-network 1.3.0 src/PVE/API2/Network/SDN/Fabrics.pm, Fabrics/Fabric.pm,
Fabrics/Node.pm, Fabrics/FabricNode.pm, Nodes/Fabric.pm; the config itself is fabrics.py's.
Writes run through `locked()` as every SDN write does; their errors get the handler's prefix
("adding fabric failed", ...). The schema's permission checks run before (app.py); the checks
these handlers make in code are here, each citing its handler.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Optional

from pvefleet_emulator.access import normalize_path
from pvefleet_emulator.errors import Die
from pvefleet_emulator.fabrics import Fabrics, parse_interface, pending_view
from pvefleet_emulator.lock import locked, perl_true
from pvefleet_emulator.remote import Remote
from pvefleet_emulator.routes import Call, route
from pvefleet_emulator.sdn_api import DIGEST_MISMATCH, READ_PRIVS, require_node

# The node privileges the lists filter on (Fabrics.pm list_all, Node.pm list_nodes, FabricNode.pm
# list_nodes_fabric).
NODE_PRIVS = ("Sys.Audit", "Sys.Modify")
FABRIC_PM = "/usr/share/perl5/PVE/API2/Network/SDN/Fabrics/Fabric.pm"  # its dies have no newline


def current(remote: Remote) -> Fabrics:
    """Network/SDN/Fabrics.pm config(): fabrics.cfg."""
    return Fabrics.from_sections(remote.config.pending["fabrics"])


def running(remote: Remote) -> Fabrics:
    """Network/SDN/Fabrics.pm config(1): the running config's fabrics, none before an apply."""
    return Fabrics.from_running(remote.config.running)


def _store(remote: Remote, config: Fabrics) -> None:
    """Fabrics.pm write_config: to_raw(), which validates the whole config first."""
    config.validate()
    remote.config.pending["fabrics"] = config.sections()


def _check_digest(config: Fabrics, params: dict[str, Any]) -> None:
    """PVE::Tools::assert_if_modified, when a digest is sent (the handlers: `if $digest`)."""
    if perl_true(params.get("digest")) and params["digest"] != config.digest():
        raise Die(DIGEST_MISMATCH)


async def _write(call: Call, failure: str, change: Callable[[Fabrics, dict[str, Any]], None],
                 checks: Optional[Callable[[Fabrics], None]] = None) -> None:
    """A write as the Fabric*.pm handlers make it, inside the SDN lock (lock.py): the config read,
    `checks` (refusals that come before the digest), the digest when one is sent, the change, the
    whole config validated and stored."""
    remote, params = call.remote, call.params

    def work() -> None:
        config = current(remote)
        if checks is not None:
            checks(config)
        _check_digest(config, params)
        change(config, params)
        _store(remote, config)

    return await locked(remote, failure, params.get("lock-token"), work)


def _may(call: Call, path: str, privs: tuple[str, ...]) -> bool:
    """$rpcenv->check_any(..., 1) on a path made from config values (maybe empty: normalized)."""
    return call.unrestricted or call.may(normalize_path(path) or path, privs)


def _views(call: Call, current_of, running_of) -> tuple[dict[str, dict], Optional[str]]:
    """The objects of a list call and the digest its items get: `pending=1` merges running
    and pending (digest of the pending config), `running=1` the running config (no digest),
    else the pending config (digest)."""
    remote, params = call.remote, call.params
    if perl_true(params.get("pending")):
        config = current(remote)
        # The running side first: for a node list of a fabric that is not (yet) running, that
        # lookup is the error (FabricNode.pm list_nodes_fabric).
        before = running_of(running(remote))
        return pending_view(before, current_of(config)), config.digest()
    if perl_true(params.get("running")):
        return running_of(running(remote)), None
    config = current(remote)
    return current_of(config), config.digest()


# Index


@route("GET", "/cluster/sdn/fabrics", pve9_only=True)
async def fabrics_index(call: Call) -> list[dict]:
    return [{"subdir": "fabric"}, {"subdir": "node"}, {"subdir": "all"}]


# Fabrics (Fabrics/Fabric.pm)


@route("GET", "/cluster/sdn/fabrics/fabric", pve9_only=True)
async def fabric_index(call: Call) -> list[dict]:
    """Fabric.pm index: only fabrics with SDN.Audit or SDN.Allocate on /sdn/fabrics/<id>. Without
    `pending` the items carry no digest: the handler reads `$current_config->{digest}`, a key the
    Rust config object (a blessed hash with magic) does not have."""
    objects, digest = _views(call, Fabrics.list_fabrics, Fabrics.list_fabrics)
    if not perl_true(call.params.get("pending")):
        digest = None
    items = []
    for fabric_id, item in sorted(objects.items()):
        if _may(call, f"/sdn/fabrics/{fabric_id}", READ_PRIVS):
            items.append({**item, **({"digest": digest} if digest else {})})
    return items


@route("GET", "/cluster/sdn/fabrics/fabric/{id}", pve9_only=True)
async def fabric_read(call: Call) -> dict:
    config = current(call.remote)
    return {**config.get_fabric(call.params["id"]), "digest": config.digest()}


@route("POST", "/cluster/sdn/fabrics/fabric", pve9_only=True)
async def fabric_create(call: Call) -> None:
    return await _write(call, "adding fabric failed", lambda config, params: config.add_fabric(params))


@route("PUT", "/cluster/sdn/fabrics/fabric/{id}", pve9_only=True)
async def fabric_update(call: Call) -> None:
    return await _write(call, "updating fabric failed", lambda config, params: config.update_fabric(params["id"], params))


@route("DELETE", "/cluster/sdn/fabrics/fabric/{id}", pve9_only=True)
async def fabric_delete(call: Call) -> None:
    """Fabric.pm delete_fabric: its schema lists neither `lock-token` nor `digest`, but allows
    other parameters and the handler reads both (pve-sdn-api.md §3.3). Inside the lock: Sys.Modify
    on each of the fabric's nodes, then no evpn controller and no vxlan zone of the pending
    config may name the fabric, then the digest; the fabric goes with its nodes."""
    remote, fabric_id = call.remote, call.params["id"]

    def still_needed(config: Fabrics) -> None:
        for node_id in sorted(config.list_nodes_fabric(fabric_id)):
            if not _may(call, f"/nodes/{node_id}", ("Sys.Modify",)):
                raise Die(f"permission check failed: missing 'Sys.Modify' on node {node_id} at {FABRIC_PM} line 231.\n")
        for controller_id, controller in sorted(remote.config.pending["controllers"].items()):
            if controller.get("type") == "evpn" and controller.get("fabric") == fabric_id:
                raise Die(f'this fabric is still used in the EVPN controller "{controller_id}" at {FABRIC_PM} line 243.\n')
        for zone_id, zone in sorted(remote.config.pending["zones"].items()):
            if zone.get("type") == "vxlan" and zone.get("fabric") == fabric_id:
                raise Die(f'this fabric is still used in the VXLAN zone "{zone_id}" at {FABRIC_PM} line 252.\n')

    return await _write(call, "deleting fabric failed", lambda config, _params: config.delete_fabric(fabric_id),
                        checks=still_needed)


# Nodes (Fabrics/Node.pm, Fabrics/FabricNode.pm)


@route("GET", "/cluster/sdn/fabrics/node", pve9_only=True)
async def node_index(call: Call) -> list[dict]:
    """Node.pm list_nodes: the nodes keyed by node ID alone (fabrics.py list_nodes: one entry
    per node name), each if the caller may read /sdn/fabrics/<its fabric> (a new node in the
    pending view has its fabric_id only under `pending`: the path is then /sdn/fabrics) and
    /nodes/<node>."""
    objects, digest = _views(call, Fabrics.list_nodes, Fabrics.list_nodes)
    items = []
    for node_id, item in sorted(objects.items()):
        if _may(call, f"/sdn/fabrics/{item.get('fabric_id') or ''}", READ_PRIVS) and \
                _may(call, f"/nodes/{node_id}", NODE_PRIVS):
            items.append({**item, **({"digest": digest} if digest else {})})
    return items


@route("GET", "/cluster/sdn/fabrics/node/{fabric_id}", pve9_only=True)
async def fabric_node_index(call: Call) -> list[dict]:
    """FabricNode.pm list_nodes_fabric: the fabric's nodes by node ID, those with Sys.Audit or
    Sys.Modify on /nodes/<node>; an unknown fabric is an error (with `pending=1`, one that is
    not running yet too)."""
    fabric_id = call.params["fabric_id"]
    objects, digest = _views(call, lambda c: c.list_nodes_fabric(fabric_id), lambda c: c.list_nodes_fabric(fabric_id))
    return [{**item, **({"digest": digest} if digest else {})} for node_id, item in sorted(objects.items())
            if _may(call, f"/nodes/{node_id}", NODE_PRIVS)]


@route("GET", "/cluster/sdn/fabrics/node/{fabric_id}/{node_id}", pve9_only=True)
async def fabric_node_read(call: Call) -> dict:
    config = current(call.remote)
    return {**config.get_node(call.params["fabric_id"], call.params["node_id"]), "digest": config.digest()}


@route("POST", "/cluster/sdn/fabrics/node/{fabric_id}", pve9_only=True)
async def fabric_node_create(call: Call) -> None:
    return await _write(call, "adding node failed", lambda config, params: config.add_node(params))


@route("PUT", "/cluster/sdn/fabrics/node/{fabric_id}/{node_id}", pve9_only=True)
async def fabric_node_update(call: Call) -> None:
    pve91 = not call.remote.pve92
    return await _write(call, "updating node failed", lambda config, params: config.update_node(
        params["fabric_id"], params["node_id"], params, pve91=pve91))


@route("DELETE", "/cluster/sdn/fabrics/node/{fabric_id}/{node_id}", pve9_only=True)
async def fabric_node_delete(call: Call) -> None:
    """FabricNode.pm delete_node: as the fabric delete, `lock-token` and `digest` outside the
    schema but read."""
    return await _write(call, "deleting node failed",
                        lambda config, params: config.delete_node(params["fabric_id"], params["node_id"]))


# Both (Fabrics.pm list_all)


@route("GET", "/cluster/sdn/fabrics/all", pve9_only=True)
async def fabrics_all(call: Call) -> dict:
    """Fabrics and nodes, filtered as the two lists are; the nodes are keyed by their section
    ID, so the node check is made on /nodes/<fabric>_<node> (Fabrics.pm list_all with
    fabrics.rs list_all)."""
    fabrics, digest = _views(call, lambda c: c.list_all()[0], lambda c: c.list_all()[0])
    nodes, _digest = _views(call, lambda c: c.list_all()[1], lambda c: c.list_all()[1])
    out_fabrics = [{**item, **({"digest": digest} if digest else {})} for fabric_id, item in sorted(fabrics.items())
                   if _may(call, f"/sdn/fabrics/{fabric_id}", READ_PRIVS)]
    out_nodes = []
    for key, item in sorted(nodes.items()):
        fabric_id = item.get("fabric_id") or (item.get("pending") or {}).get("fabric_id") or ""
        if _may(call, f"/sdn/fabrics/{fabric_id}", READ_PRIVS) and _may(call, f"/nodes/{key}", NODE_PRIVS):
            out_nodes.append({**item, **({"digest": digest} if digest else {})})
    return {"fabrics": out_fabrics, "nodes": out_nodes}


# A node's view of a fabric (Nodes/Fabric.pm; pve-rs src/bindings/sdn/fabrics.rs routes,
# neighbors, interfaces and src/sdn/status.rs), from the running config. FRR is not there to ask:
# what it would say is derived from the running config (emulator/README.md, "Fabrics").


@route("GET", "/nodes/{node}/sdn/fabrics/{fabric}", pve9_only=True)
async def node_fabric_index(call: Call) -> list[dict]:
    """Nodes/Fabric.pm diridx (no proxyto: the node is not looked up; `interfaces` not listed)."""
    return [{"subdir": "neighbors"}, {"subdir": "routes"}]


def _status_config(remote: Remote, fabric_id: str) -> Fabrics:
    """fabrics.rs get_fabrics_config: the running config read from its file, then the fabric."""
    if remote.config.running is None:
        raise Die("No such file or directory (os error 2)\n")
    if remote.config.running.get("fabrics") is None:
        raise Die("no fabrics configured\n")
    config = Fabrics.from_running(remote.config.running)
    config.get_fabric(fabric_id)
    return config


def _up_since(remote: Remote, node: str, now: float) -> Optional[float]:
    """When the node's FRR took the running config: the end of its first finished reload that
    generated the running version (None: not yet, FRR has none of it)."""
    ends = [task.end or 0.0 for task in remote.tasks.tasks.values()
            if task.node == node and task.type == "srvreload" and task.stopped(now)
            and task.outcome in ("ok", "error") and task.version >= remote.config.version]
    return min(ends) if ends and remote.config.version else None


def _link_address(mine: dict, peer: dict, key: str) -> Optional[str]:
    """The peer's address as this node reaches it: its address on an interface whose network one
    of this node's interfaces shares, else its node address (unnumbered interfaces)."""
    networks = {ipaddress.ip_interface(parse_interface(t)[key]).network for t in mine["interfaces"]
                if key in parse_interface(t)}
    for text in peer["interfaces"]:
        values = parse_interface(text)
        if key in values and ipaddress.ip_interface(values[key]).network in networks:
            return str(ipaddress.ip_interface(values[key]).ip)
    return peer.get(key)


def _uptime(seconds: float, ospf: bool) -> str:
    """FRR's formats: openfabric's last-ago ("25m26s"), OSPF's upTime ("1m04s")."""
    total = max(int(seconds), 0)
    hours, minutes, secs = total // 3600, total // 60 % 60, total % 60
    if ospf:
        return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _adjacent(call: Call) -> tuple[Fabrics, dict, Optional[dict], list[tuple[str, dict, float]]]:
    """The node's fabric, its entry (None if it is not in the fabric or has not reloaded the
    running config yet) and its neighbors: the fabric's other nodes that have, when both have
    interfaces, with the time the adjacency came up."""
    remote, node_id, fabric_id = call.remote, call.params["node"], call.params["fabric"]
    require_node(remote, node_id)  # proxyto => 'node'
    config = _status_config(remote, fabric_id)
    fabric = config.fabrics[fabric_id]
    mine = config.nodes[fabric_id].get(node_id)
    since = _up_since(remote, node_id, call.now)
    if mine is None or since is None:
        return config, fabric, None, []
    peers = []
    for peer_id, peer in config.nodes[fabric_id].items():
        peer_since = _up_since(remote, peer_id, call.now)
        if peer_id != node_id and peer_since is not None and mine["interfaces"] and peer["interfaces"]:
            peers.append((peer_id, peer, max(since, peer_since)))
    return config, fabric, mine, peers


@route("GET", "/nodes/{node}/sdn/fabrics/{fabric}/routes", pve9_only=True)
async def node_fabric_routes(call: Call) -> list[dict]:
    """status.rs get_routes: the routes to the other nodes' addresses, each via the peer."""
    _config, fabric, mine, peers = _adjacent(call)
    if mine is None:
        return []
    items = []
    for _peer_id, peer, _since in peers:
        for key, length in (("ip", 32), ("ip6", 128)):
            if key in peer and key in mine and (key == "ip" or fabric["protocol"] == "openfabric"):
                items.append({"route": f"{peer[key]}/{length}", "via": [_link_address(mine, peer, key)]})
    return items


@route("GET", "/nodes/{node}/sdn/fabrics/{fabric}/neighbors", pve9_only=True)
async def node_fabric_neighbors(call: Call) -> list[dict]:
    """status.rs get_neighbors_openfabric (the peer's hostname, its adjacency state) and
    get_neighbors_ospf (the peer's interface address, FRR's neighbor state)."""
    _config, fabric, mine, peers = _adjacent(call)
    if mine is None:
        return []
    if fabric["protocol"] == "openfabric":
        return [{"neighbor": peer_id, "status": "Up", "uptime": _uptime(call.now - since, False)}
                for peer_id, _peer, since in peers]
    items = []
    for _peer_id, peer, since in peers:
        address = _link_address(mine, peer, "ip")
        state = "Full/-" if address == peer.get("ip") else "Full/DR"  # point-to-point when unnumbered
        items.append({"neighbor": address, "status": state, "uptime": _uptime(call.now - since, True)})
    return items


@route("GET", "/nodes/{node}/sdn/fabrics/{fabric}/interfaces", pve9_only=True)
async def node_fabric_interfaces(call: Call) -> list[dict]:
    """status.rs get_interfaces_openfabric (the fabric's circuits: its dummy interface, then
    each interface; state and type as FRR names them) and get_interfaces_ospf (the node's
    fabric interfaces and dummy by name, `up`, point-to-point when unnumbered)."""
    _config, fabric, mine, _peers = _adjacent(call)
    if mine is None:
        return []
    fabric_id = call.params["fabric"]
    names = [parse_interface(text) for text in mine["interfaces"]]
    if fabric["protocol"] == "openfabric":
        return [{"name": f"dummy_{fabric_id}", "state": "Up", "type": "Loopback"}] + \
            [{"name": iface["name"], "state": "Up", "type": "Point-To-Point"} for iface in names]
    items = [{"name": f"dummy_{fabric_id}", "state": "up", "type": "Broadcast"}]
    items += [{"name": iface["name"], "state": "up", "type": "Broadcast" if "ip" in iface else "Point-To-Point"}
              for iface in names]
    return sorted(items, key=lambda item: item["name"])
