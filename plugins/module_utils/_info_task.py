# Private to pvefleet.sdn: not a public API.
"""sdn_info: a remote's SDN objects in one view, its lock, what an apply would change, the state of
its fabrics on every node, its IPAM and DNS plugins (secrets masked), the pve IPAM's entries and
each applied vnet's firewall."""
from __future__ import annotations

import asyncio
import urllib.parse

from ansible_collections.pvefleet.sdn.plugins.module_utils._apply import (
    LISTING_PATHS,
    LISTINGS,
    listed,
    pending_listing,
    pending_objects,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError
from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._plugins import SECRET_OPTIONS, SECRET_SHOWN
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import ROUTE_MAP

# view option -> GET parameters (pve-sdn-objects.md §1.8)
VIEWS = {"pending": {"pending": 1}, "running": {"running": 1}, "config": None}
# What PVE reports of a fabric on one node (pve-network API2/Network/SDN/Nodes/Fabric.pm).
FABRIC_STATUS = ("routes", "neighbors", "interfaces")


async def run_info_task(client, params: dict, check_mode: bool = False) -> dict:
    view = params.get("view") or "pending"
    query = VIEWS[view]
    # The result's lists (_apply.LISTINGS), in the chosen view; a prefix list's entries need `verbose`.
    queries = {"/cluster/sdn/prefix-lists": {**(query or {}), "verbose": 1}}
    answers = dict(zip(LISTING_PATHS, await asyncio.gather(*(
        pending_listing(client, path, queries.get(path, query) or {}) for path in LISTING_PATHS))))
    found = {name: [_shown(item) for item in listed(answers, path, member)]
             for name, _label, path, member, _keys in LISTINGS}
    subnet_lists = await asyncio.gather(*(
        client.get(f"/cluster/sdn/vnets/{urllib.parse.quote(v['vnet'])}/subnets", params=query)
        for v in found["vnets"] if v.get("state") != "deleted"))
    lock, pending, fabric_status, ipams, dns, firewalls = await asyncio.gather(
        # In the pending view, what an apply would change is in the listings just read.
        LockSession(client).lock_state(), pending_objects(client, answers if view == "pending" else None),
        _fabric_status(client, found["fabric_nodes"]) if params.get("fabric_status", True) else _nothing(),
        # Written at once, never pending: one view only (their GET takes no `pending` or `running`).
        client.get("/cluster/sdn/ipams"), client.get("/cluster/sdn/dns"),
        _firewalls(client) if params.get("firewall", True) else _nothing())
    ipams = [_masked(item) for item in ipams or []]
    ipam_status = await _ipam_status(client, ipams) if params.get("ipam_status", True) else []
    entries = found.pop("route_map_entries")
    return {
        "changed": False,
        "view": view,
        **found,
        "subnets": [_without_digest(s) for subnets in subnet_lists for s in subnets or []],
        "route_maps": _route_maps(entries),
        "fabric_status": fabric_status,
        "ipams": ipams,
        "dns_plugins": [_masked(item) for item in dns or []],
        "ipam_status": ipam_status,
        "vnet_firewalls": firewalls,
        "lock": lock,
        "pending_changes": pending,
    }


def _route_maps(entries: list[dict]) -> list[dict]:
    """Route map entries (as _shown gives them: named at the top) grouped into route maps, as
    sdn_route_map declares them, each sorted by order."""
    return [{**group, "entries": sorted(group["entries"], key=lambda item: int(item.get("order") or 0))}
            for _name, group in sorted(ROUTE_MAP.by_id(entries).items())]


async def _fabric_status(client, nodes: list[dict]) -> list[dict]:
    """For each node of each fabric (as the chosen view lists them): its routes, neighbors and
    interfaces as PVE reports them from the node's running FRR. A node that does not answer is
    reported with its error rather than failing the whole task."""
    pairs = sorted({(str(item.get("fabric_id")), str(item.get("node_id"))) for item in nodes
                    if item.get("state") != "new"})
    reports = await asyncio.gather(*(_one_fabric_status(client, fabric, node) for fabric, node in pairs))
    return list(reports)


async def _one_fabric_status(client, fabric: str, node: str) -> dict:
    base = f"/nodes/{urllib.parse.quote(node)}/sdn/fabrics/{urllib.parse.quote(fabric)}"
    report: dict = {"fabric": fabric, "node": node}
    try:
        answers = await asyncio.gather(*(client.get(f"{base}/{what}") for what in FABRIC_STATUS))
    except ApiError as error:
        report["error"] = str(error)
        return report
    report.update({what: answer or [] for what, answer in zip(FABRIC_STATUS, answers)})
    return report


def _masked(item: dict) -> dict:
    """A plugin as PVE lists it, its secrets (which PVE returns as stored) replaced."""
    return {key: SECRET_SHOWN if key in SECRET_OPTIONS else value for key, value in _without_digest(item).items()}


async def _ipam_status(client, ipams: list[dict]) -> list[dict]:
    """The pve IPAM's entries, as `GET /cluster/sdn/ipams/pve/status` lists them: only for zones with
    DHCP (Ipams.pm); PVE has no such listing for the other plugins."""
    if not any(item.get("ipam") == "pve" for item in ipams):
        return []
    return await client.get("/cluster/sdn/ipams/pve/status") or []


async def _firewalls(client) -> list[dict]:
    """Each applied vnet's firewall options and rules: PVE reads them only for vnets in the running
    configuration (pve-firewall's check_vnet_access)."""
    vnets = sorted(item["vnet"] for item in await client.get("/cluster/sdn/vnets", params={"running": 1}) or [])

    async def one(vnet: str) -> dict:
        base = f"/cluster/sdn/vnets/{urllib.parse.quote(vnet, safe='')}/firewall"
        options, rules = await asyncio.gather(client.get(f"{base}/options"), client.get(f"{base}/rules"))
        return {"vnet": vnet, "options": _without_digest(options or {}),
                "rules": [_without_digest(rule) for rule in rules or []]}

    return list(await asyncio.gather(*(one(vnet) for vnet in vnets)))


async def _nothing() -> list:
    return []


def _shown(item: dict) -> dict:
    """An item without its digest. A new object of the Rust-backed kinds (fabrics, prefix lists,
    route map entries) has every key, its ID too, only under `pending`: they are laid on top, as
    PVE's GUI does, so that every object is named where the others are."""
    if item.get("state") == "new":
        item = {**(item.get("pending") or {}), **item}
    return _without_digest(item)


def _without_digest(item: dict) -> dict:
    return {key: value for key, value in item.items() if key != "digest"}
