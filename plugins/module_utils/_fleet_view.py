# Private to pvefleet.sdn: not a public API.
"""sdn_fleet_info: what every remote of a fleet has, read at once (with a bound), then merged.

Per remote: its objects, lock and pending changes as sdn_info reads them (_info_task.run_info_task),
its Proxmox VE version, and per node what the node reports - each zone's status, its vnets' status
(the zone's content), and for EVPN the zone's IP-VRF and each vnet's MAC-VRF (pve-network 1.2.0's
GET /nodes/{node}/sdn/zones/{zone}/ip-vrf and /nodes/{node}/sdn/vnets/{vnet}/mac-vrf). A remote
that cannot be read is reported with its error; a node read that fails is that node's error.

Across remotes: EVPN zones merged by (ASN of their controller, VRF VNI), vnets of VXLAN and EVPN zones
by VNI, each with the remotes and nodes that carry it; the mismatches between remotes; the tags no
remote uses in a range; a text table and a Markdown report with a Mermaid topology.

Objects are taken in the pending view: an object's values are its running ones, a new object's its
pending ones (`state` says which objects an apply would change). A tag counts as used when either
its running or its pending value has it.
"""
from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput, PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._info_task import run_info_task
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import (
    DEFAULT_CONCURRENCY,
    Remote,
    fleet_client,
    raise_open_files_limit,
    run_phase,
)

__all__ = ["DEFAULT_CONCURRENCY", "ZONE_TYPES", "build_view", "check_free_tags", "fleet_table", "markdown_report",
           "read_fleet", "read_remote", "scrub"]

# The tags of each zone type (pve-network Zones/VlanPlugin.pm, QinQPlugin.pm: a VLAN tag;
# VxlanPlugin.pm, EvpnPlugin.pm: a VNI, 24 bits).
VLAN_RANGE = (1, 4094)
VNI_RANGE = (1, 16777215)
ZONE_TYPES = {"vlan": VLAN_RANGE, "qinq": VLAN_RANGE, "vxlan": VNI_RANGE, "evpn": VNI_RANGE}
VLAN_ZONES = ("vlan", "qinq")
VNI_ZONES = ("vxlan", "evpn")
# Past this many rows the text table is cut (every failure is still listed).
TABLE_ROWS = 200
# Past this many remotes the Mermaid topology leaves the rest out (a renderer would give up).
MERMAID_REMOTES = 100
_OBJECT_KINDS = (("controllers", "controller"), ("zones", "zone"), ("vnets", "vnet"), ("subnets", "subnet"),
                 ("fabrics", "fabric"), ("prefix_lists", "prefix list"), ("route_maps", "route map"))


# Reading


async def read_remote(client, *, fabric_status: bool = True, node_status: bool = True, check_mode: bool = False) -> dict:
    """One remote: its version, objects, lock and pending changes, and every node's status."""
    version = await client.get("/version")  # first alone: an unreachable remote fails once, at once
    # The fleet view leaves out the per-vnet firewall reads and the IPAM's entries: many remotes, many vnets.
    params = {"view": "pending", "fabric_status": fabric_status, "ipam_status": False, "firewall": False}
    info, nodes = await _all(run_info_task(client, params, check_mode),
                             client.get("/nodes"))
    entry = {key: value for key, value in info.items() if key not in ("changed", "view")}
    entry["version"] = (version or {}).get("version")
    listed = sorted((item for item in nodes or [] if item.get("node")), key=lambda item: str(item["node"]))
    if node_status:
        zones = {str(zone["zone"]): effective(zone) for zone in entry["zones"] if zone.get("zone")}
        reports = await asyncio.gather(*(_node(client, item, zones) for item in listed))
        entry["nodes"] = {str(item["node"]): report for item, report in zip(listed, reports)}
    else:
        entry["nodes"] = {str(item["node"]): {"status": item.get("status") or "unknown"} for item in listed}
    return entry


async def _node(client, item: dict, zones: dict[str, dict]) -> dict:
    """What one node reports: its zones' status (and an EVPN zone's IP-VRF), its vnets' status (a
    zone's content; and an EVPN vnet's MAC-VRF). A read that fails is listed in `errors`."""
    node = str(item["node"])
    report: dict[str, Any] = {"status": item.get("status") or "unknown", "zones": {}, "vnets": {}, "errors": []}
    if report["status"] != "online":
        report["errors"].append(f"node {node} is {report['status']}: its status was not read")
        return report
    base = f"/nodes/{urllib.parse.quote(node)}/sdn"
    listed = await _read(client, f"{base}/zones", report)
    for zone in listed or []:
        report["zones"][str(zone.get("zone"))] = {"status": zone.get("status")}

    async def zone_reads(zone_id: str) -> None:
        path = f"{base}/zones/{urllib.parse.quote(zone_id)}"
        evpn = (zones.get(zone_id) or {}).get("type") == "evpn"
        content, ip_vrf = await asyncio.gather(_read(client, f"{path}/content", report),
                                               _read(client, f"{path}/ip-vrf", report) if evpn else _none())
        if evpn:
            report["zones"][zone_id]["ip_vrf"] = ip_vrf
        for vnet in content or []:
            vnet_id = str(vnet.get("vnet"))
            status = {"zone": zone_id, "status": vnet.get("status")}
            if vnet.get("statusmsg"):
                status["statusmsg"] = vnet["statusmsg"]
            report["vnets"][vnet_id] = status
        if evpn:
            mine = sorted(vnet_id for vnet_id, status in report["vnets"].items() if status["zone"] == zone_id)
            tables = await asyncio.gather(*(_read(client, f"{base}/vnets/{urllib.parse.quote(vnet_id)}/mac-vrf", report)
                                            for vnet_id in mine))
            for vnet_id, table in zip(mine, tables):
                report["vnets"][vnet_id]["mac_vrf"] = table

    await asyncio.gather(*(zone_reads(zone_id) for zone_id in sorted(report["zones"])))
    return report


async def _read(client, path: str, report: dict) -> Any:
    try:
        return await client.get(path)
    except PveFleetError as error:
        report["errors"].append(str(error))
        return None


async def _none() -> None:
    return None


async def _all(*awaitables) -> list:
    """Every awaitable to its end; then the first exception, if any, is raised."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def read_fleet(remotes: list[Remote], *, concurrency: int = DEFAULT_CONCURRENCY, fabric_status: bool = True,
                     node_status: bool = True, check_mode: bool = False, client_factory=None) -> dict[str, dict]:
    """Every remote at once, at most `concurrency` of them reading at a time; per host, its entry
    (`ok`, `remote`, and what read_remote gives, or `error`)."""
    factory = client_factory or fleet_client
    read: dict[str, dict] = {}

    async def step(remote: Remote) -> None:
        async with factory(remote.settings, None) as client:
            read[remote.host] = await read_remote(client, fabric_status=fabric_status, node_status=node_status,
                                                  check_mode=check_mode)

    raise_open_files_limit(2 * min(len(remotes), max(1, concurrency)) + 64)
    await run_phase(step, remotes, semaphore=asyncio.Semaphore(max(1, concurrency)))
    entries = {}
    for remote in remotes:
        if remote.error is None and remote.host in read:
            entries[remote.host] = {"ok": True, "remote": remote.key, **read[remote.host]}
        else:
            entries[remote.host] = {"ok": False, "remote": remote.key, "error": remote.error or "not read"}
    return entries


# The values of an object in the pending view


def effective(item: dict) -> dict:
    """Its values: the running ones, or a new object's pending ones (with `state` kept)."""
    values = {key: value for key, value in item.items() if key != "pending"}
    if item.get("state") == "new":
        values.update({key: value for key, value in (item.get("pending") or {}).items() if value != "deleted"})
    return values


def _values_of(item: dict, key: str) -> list:
    """The key's running and pending values (one, or two while a change is pending)."""
    found = [item.get(key), (item.get("pending") or {}).get(key)]
    return [value for index, value in enumerate(found) if value not in (None, "", "deleted") and value not in found[:index]]


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _route_targets(value: Any) -> list[str]:
    items = value if isinstance(value, list) else re.split(r"[,;\s]+", str(value or ""))
    return sorted({str(item) for item in items if str(item)})


def _zone_nodes(zone: dict) -> Optional[set[str]]:
    value = zone.get("nodes")
    if value in (None, ""):
        return None
    return {str(node) for node in (value if isinstance(value, list) else re.split(r"[,;\s]+", str(value))) if node}


# Merging


def _ok(remotes: dict[str, dict]) -> list[tuple[str, dict]]:
    return [(host, entry) for host, entry in sorted(remotes.items()) if entry.get("ok")]


def _carrying_nodes(entry: dict, zone: dict, vnet: Optional[str], node_status: bool) -> list[str]:
    """The nodes that carry a zone (or a vnet of it): where node status was read, those that report
    it; otherwise those the zone's `nodes` allow."""
    nodes = entry.get("nodes") or {}
    if node_status:
        where = "vnets" if vnet is not None else "zones"
        name = vnet if vnet is not None else str(zone.get("zone"))
        return sorted(node for node, report in nodes.items() if name in (report.get(where) or {}))
    allowed = _zone_nodes(zone)
    return sorted(node for node in nodes if allowed is None or node in allowed)


def _state(item: dict, carrier: dict) -> dict:
    if item.get("state"):
        carrier["state"] = item["state"]
    return carrier


def merge_evpn_zones(remotes: dict[str, dict], node_status: bool = True) -> list[dict]:
    """EVPN zones across remotes, one per (ASN of the zone's controller, VRF VNI)."""
    merged: dict[tuple, dict] = {}
    for host, entry in _ok(remotes):
        controllers = {str(c.get("controller")): effective(c) for c in entry.get("controllers") or []}
        for item in entry.get("zones") or []:
            zone = effective(item)
            if zone.get("type") != "evpn":
                continue
            controller = str(zone.get("controller") or "")
            asn = _int((controllers.get(controller) or {}).get("asn"))
            vrf = _int(zone.get("vrf-vxlan"))
            group = merged.setdefault((asn, vrf), {"asn": asn, "vrf_vxlan": vrf, "carriers": []})
            group["carriers"].append(_state(item, {
                "remote": host, "zone": str(zone.get("zone")), "controller": controller or None, "asn": asn,
                "rt_import": _route_targets(zone.get("rt-import")),
                "nodes": _carrying_nodes(entry, zone, None, node_status)}))
    result = []
    for key in sorted(merged, key=_none_last):
        group = merged[key]
        group["zones"] = sorted({c["zone"] for c in group["carriers"]})
        group["remotes"] = sorted({c["remote"] for c in group["carriers"]})
        group["mismatches"] = []
        result.append(group)
    return result


def merge_vnets(remotes: dict[str, dict], node_status: bool = True) -> list[dict]:
    """Vnets of VXLAN and EVPN zones across remotes, one per VNI (the vnet's tag)."""
    merged: dict[int, dict] = {}
    for host, entry in _ok(remotes):
        zones = {str(z.get("zone")): effective(z) for z in entry.get("zones") or []}
        for item in entry.get("vnets") or []:
            vnet = effective(item)
            zone = zones.get(str(vnet.get("zone")))
            vni = _int(vnet.get("tag"))
            if zone is None or zone.get("type") not in VNI_ZONES or vni is None:
                continue
            group = merged.setdefault(vni, {"vni": vni, "carriers": []})
            group["carriers"].append(_state(item, {
                "remote": host, "vnet": str(vnet.get("vnet")), "zone": str(zone.get("zone")),
                "zone_type": zone.get("type"), "nodes": _carrying_nodes(entry, zone, str(vnet.get("vnet")), node_status)}))
    result = []
    for vni in sorted(merged):
        group = merged[vni]
        group["vnets"] = sorted({c["vnet"] for c in group["carriers"]})
        group["zones"] = sorted({c["zone"] for c in group["carriers"]})
        group["remotes"] = sorted({c["remote"] for c in group["carriers"]})
        group["mismatches"] = []
        result.append(group)
    return result


def _none_last(key: tuple) -> tuple:
    return tuple((value is None, value if value is not None else 0) for value in key)


def _variants(pairs: Iterable[tuple[Any, str]]) -> dict[Any, list[str]]:
    """value -> the sorted remotes that have it."""
    found: dict[Any, set[str]] = {}
    for value, host in pairs:
        found.setdefault(value, set()).add(host)
    return {value: sorted(hosts) for value, hosts in found.items()}


def _say(variants: dict[Any, list[str]], shown) -> str:
    return "; ".join(f"{shown(value)} on {', '.join(hosts)}"
                     for value, hosts in sorted(variants.items(), key=lambda kv: (kv[1], str(kv[0]))))


def find_mismatches(remotes: dict[str, dict], zones: list[dict], vnets: list[dict]) -> list[dict]:
    """What disagrees between remotes (and marks the merged items it concerns):

    * `vni`: one VNI carried by vnets of different names or zones;
    * `vnet_tag`: one vnet name with different tags (or none);
    * `evpn_asn`: one VRF VNI in EVPN zones whose controllers have different ASNs;
    * `evpn_route_target`: in one merged EVPN zone, different route targets to import (`rt-import`).
    """
    found: list[dict] = []
    for group in vnets:
        names = _variants((c["vnet"], c["remote"]) for c in group["carriers"])
        zone_names = _variants((c["zone"], c["remote"]) for c in group["carriers"])
        if len(names) > 1 or len(zone_names) > 1:
            what = _variants(((c["vnet"], c["zone"]), c["remote"]) for c in group["carriers"])
            found.append({"kind": "vni", "vni": group["vni"], "vnets": group["vnets"], "zones": group["zones"],
                          "remotes": group["remotes"],
                          "message": f"VNI {group['vni']} is " + _say(what, lambda v: f"vnet {v[0]} (zone {v[1]})")})
            group["mismatches"].append("vni")
    tags: dict[str, list[tuple[Optional[int], str]]] = {}
    for host, entry in _ok(remotes):
        for item in entry.get("vnets") or []:
            vnet = effective(item)
            tags.setdefault(str(vnet.get("vnet")), []).append((_int(vnet.get("tag")), host))
    for name in sorted(tags):
        variants = _variants(tags[name])
        if len(variants) > 1:
            found.append({"kind": "vnet_tag", "vnet": name, "tags": sorted(variants, key=lambda t: (t is None, t or 0)),
                          "remotes": sorted({h for _tag, h in tags[name]}),
                          "message": f"vnet {name} has " + _say(variants, lambda t: "no tag" if t is None else f"tag {t}")})
            for group in vnets:
                if name in group["vnets"] and "vnet_tag" not in group["mismatches"]:
                    group["mismatches"].append("vnet_tag")
    by_vrf: dict[Optional[int], list[dict]] = {}
    for group in zones:
        by_vrf.setdefault(group["vrf_vxlan"], []).append(group)
    for vrf in sorted(by_vrf, key=lambda v: (v is None, v or 0)):
        groups = by_vrf[vrf]
        if len(groups) > 1:
            variants = _variants((c["asn"], c["remote"]) for g in groups for c in g["carriers"])
            found.append({"kind": "evpn_asn", "vrf_vxlan": vrf, "asns": sorted(variants, key=lambda a: (a is None, a or 0)),
                          "zones": sorted({z for g in groups for z in g["zones"]}),
                          "remotes": sorted({h for g in groups for h in g["remotes"]}),
                          "message": f"VRF VNI {vrf} has " + _say(variants, lambda a: "no ASN" if a is None else f"ASN {a}")})
            for group in groups:
                group["mismatches"].append("evpn_asn")
    for group in zones:
        variants = _variants((tuple(c["rt_import"]), c["remote"]) for c in group["carriers"])
        if len(variants) > 1:
            found.append({"kind": "evpn_route_target", "asn": group["asn"], "vrf_vxlan": group["vrf_vxlan"],
                          "zones": group["zones"], "route_targets": sorted([list(v) for v in variants]),
                          "remotes": group["remotes"],
                          "message": f"EVPN zone (ASN {group['asn']}, VRF VNI {group['vrf_vxlan']}) imports "
                                     + _say(variants, lambda v: f"route targets {', '.join(v)}" if v else "no route target")})
            group["mismatches"].append("evpn_route_target")
    return found


# Free tags


def check_free_tags(spec: Optional[dict]) -> Optional[tuple[int, int, Optional[str]]]:
    """The range and zone type of the `free_tags` option, checked before anything is read."""
    if not spec:
        return None
    zone_type = spec.get("zone_type")
    if zone_type is not None and zone_type not in ZONE_TYPES:
        raise InvalidInput({"free_tags.zone_type": f"must be one of {', '.join(sorted(ZONE_TYPES))} (got {zone_type!r})"})
    bounds = ZONE_TYPES[zone_type] if zone_type else VNI_RANGE
    span = spec.get("range")
    if not isinstance(span, (list, tuple)) or len(span) != 2 or any(_int(v) is None for v in span):
        raise InvalidInput({"free_tags.range": f"must be [start, end], two integers (got {span!r})"})
    start, end = (int(v) for v in span)
    what = f"for {zone_type} zones" if zone_type else "for any zone"
    if not bounds[0] <= start <= end <= bounds[1]:
        raise InvalidInput({"free_tags.range": f"must be within {bounds[0]}-{bounds[1]} {what}, start <= end "
                                               f"(got [{start}, {end}])"})
    return start, end, zone_type


def used_tags(remotes: dict[str, dict], zone_type: Optional[str] = None) -> set[int]:
    """Every tag a remote uses (running or pending) where a zone of `zone_type` would use its
    tags: vnet tags of VLAN and QinQ zones and QinQ zones' own tag, or vnet tags of VXLAN and EVPN
    zones and EVPN zones' VRF VNI; without a type, all of them. A vnet whose zone is not known
    counts everywhere."""
    family = None if zone_type is None else (VLAN_ZONES if zone_type in VLAN_ZONES else VNI_ZONES)
    used: set[int] = set()
    for _host, entry in _ok(remotes):
        zones = {str(z.get("zone")): effective(z) for z in entry.get("zones") or []}
        for item in entry.get("zones") or []:
            kind = effective(item).get("type")
            key = {"qinq": "tag", "evpn": "vrf-vxlan"}.get(str(kind))
            if key and (family is None or kind in family):
                used.update(t for t in map(_int, _values_of(item, key)) if t is not None)
        for item in entry.get("vnets") or []:
            zone_names = _values_of(item, "zone")
            kinds = {(zones.get(str(name)) or {}).get("type") for name in zone_names} or {None}
            if family is None or None in kinds or kinds & set(family):
                used.update(t for t in map(_int, _values_of(item, "tag")) if t is not None)
    return used


def free_ranges(used: Iterable[int], start: int, end: int) -> list[list[int]]:
    """The [first, last] runs of start..end that `used` does not touch, in order."""
    ranges: list[list[int]] = []
    low = start
    for tag in sorted({t for t in used if start <= t <= end}):
        if tag > low:
            ranges.append([low, tag - 1])
        low = tag + 1
    if low <= end:
        ranges.append([low, end])
    return ranges


# The whole view


def build_view(remotes: dict[str, dict], *, node_status: bool = True, free_tags: Optional[dict] = None) -> dict:
    zones = merge_evpn_zones(remotes, node_status)
    vnets = merge_vnets(remotes, node_status)
    view = {"remotes": remotes, "merged": {"evpn_zones": zones, "vnets": vnets},
            "mismatches": find_mismatches(remotes, zones, vnets),
            "failed_remotes": sorted(host for host, entry in remotes.items() if not entry.get("ok"))}
    wanted = check_free_tags(free_tags)
    if wanted is not None:
        start, end, zone_type = wanted
        view["free_tags"] = free_ranges(used_tags(remotes, zone_type), start, end)
    return view


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """`value` with every secret (of at least 4 characters) replaced, wherever it appears."""
    hidden = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    if not hidden:
        return value

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            for secret in hidden:
                item = item.replace(secret, "********")
            return item
        if isinstance(item, dict):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        return item

    return clean(value)


# The table


def _node_summary(entry: dict, where: str, name: str) -> str:
    """"available on pve1, pve2; pending on pve3" for a zone or vnet, from its nodes' reports."""
    by_status: dict[str, list[str]] = {}
    for node, report in sorted((entry.get("nodes") or {}).items()):
        found = (report.get(where) or {}).get(name)
        if found is not None:
            by_status.setdefault(str(found.get("status") or "?"), []).append(node)
    return "; ".join(f"{status} on {', '.join(nodes)}" for status, nodes in sorted(by_status.items()))


def _object_rows(host: str, entry: dict) -> list[tuple[str, str, str]]:
    rows = []
    for key, label in _OBJECT_KINDS:
        for item in entry.get(key) or []:
            values = effective(item)
            if key == "zones":
                name = str(values.get("zone"))
                extra = [str(values.get("type"))]
                extra += [f"VRF VNI {values['vrf-vxlan']}"] if values.get("vrf-vxlan") else []
                nodes = _node_summary(entry, "zones", name)
            elif key == "vnets":
                name = str(values.get("vnet"))
                extra = [f"zone {values.get('zone')}"] + ([f"tag {values['tag']}"] if values.get("tag") else [])
                nodes = _node_summary(entry, "vnets", name)
            elif key == "controllers":
                name = str(values.get("controller"))
                extra = [str(values.get("type"))] + ([f"ASN {values['asn']}"] if values.get("asn") else [])
                nodes = ""
            elif key == "subnets":
                name = str(values.get("cidr") or values.get("subnet"))
                extra = [f"vnet {values.get('vnet')}"]
                nodes = ""
            elif key == "route_maps":
                name, extra, nodes = str(values.get("route-map-id")), [f"{len(values.get('entries') or [])} entries"], ""
            else:
                name, extra, nodes = str(values.get("id")), [str(values["protocol"])] if values.get("protocol") else [], ""
            state = f"{item['state']} (not applied)" if item.get("state") else "applied"
            rows.append((host, f"{label} {name} ({', '.join(extra)})", "; ".join(p for p in (state, nodes) if p)))
    return rows


def _remote_row(host: str, entry: dict) -> tuple[str, str, str]:
    if not entry.get("ok"):
        return host, f"remote {entry.get('remote') or ''}".strip(), f"FAILED: {entry.get('error')}"
    nodes = entry.get("nodes") or {}
    online = sum(1 for report in nodes.values() if report.get("status") == "online")
    errors = sum(len(report.get("errors") or []) for report in nodes.values())
    parts = [f"PVE {entry.get('version')}", f"lock {(entry.get('lock') or {}).get('state')}",
             f"{online}/{len(nodes)} node(s) online"]
    pending = entry.get("pending_changes") or []
    parts += [f"{len(pending)} pending change(s)"] if pending else []
    parts += [f"{errors} node read(s) failed"] if errors else []
    return host, f"remote {entry.get('remote')}", ", ".join(parts)


def table_rows(view: dict) -> list[tuple[str, str, str]]:
    """Failed remotes first, then every remote and its objects, by host."""
    remotes = view["remotes"]
    rows = [_remote_row(host, remotes[host]) for host in view["failed_remotes"]]
    for host, entry in _ok(remotes):
        rows.append(_remote_row(host, entry))
        rows += _object_rows(host, entry)
    return rows


def fleet_table(view: dict, limit: int = TABLE_ROWS) -> list[str]:
    """The readable table: REMOTE, OBJECT, STATUS; then the mismatches."""
    rows = table_rows(view)
    failed = len(view["failed_remotes"])
    shown = rows[: max(limit, failed)]
    header = ("REMOTE", "OBJECT", "STATUS")
    widths = [max(len(row[i]) for row in [header, *shown]) for i in range(2)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in [header, *shown]]
    if len(rows) > len(shown):
        lines.append(f"... and {len(rows) - len(shown)} more row(s)")
    for mismatch in view["mismatches"]:
        lines.append(f"MISMATCH {mismatch['kind']}: {mismatch['message']}")
    return lines


# The Markdown report


def _cell(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _md_table(header: tuple[str, ...], rows: Iterable[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _label(text: str, limit: int = 80) -> str:
    """Text for a quoted Mermaid label: its quotes and angle brackets as entities, kept short."""
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(view: dict) -> list[str]:
    """flowchart LR: a subgraph per remote with its zones and vnets; a node per VNI carried by more
    than one vnet and per VRF VNI of more than one EVPN zone, linked to them. Identifiers are
    R<n>, R<n>Z<m>, R<n>V<m>, VNI<n>, VRF<n>: letters and digits only."""
    lines = ["flowchart LR"]
    remotes = view["remotes"]
    hosts = view["failed_remotes"] + [host for host, _entry in _ok(remotes)]
    shown = hosts[:MERMAID_REMOTES]
    zone_ids: dict[tuple[str, str], str] = {}
    vnet_ids: dict[tuple[str, str], str] = {}
    for number, host in enumerate(shown, start=1):
        entry = remotes[host]
        rid = f"R{number}"
        if not entry.get("ok"):
            title = _label(f"{host} ({entry.get('remote') or ''}): FAILED")
            lines.append(f'  subgraph {rid}["{title}"]')
            lines.append(f'    {rid}E["{_label(entry.get("error") or "")}"]')
            lines.append("  end")
            continue
        title = _label(f"{host} ({entry.get('remote')}), PVE {entry.get('version')}")
        lines.append(f'  subgraph {rid}["{title}"]')
        zones = [effective(z) for z in entry.get("zones") or []]
        for index, zone in enumerate(zones, start=1):
            zid = f"{rid}Z{index}"
            zone_ids[(host, str(zone.get("zone")))] = zid
            extra = f", VRF VNI {zone['vrf-vxlan']}" if zone.get("vrf-vxlan") else ""
            text = _label(f"zone {zone.get('zone')} ({zone.get('type')}{extra})")
            lines.append(f'    {zid}["{text}"]')
        for index, vnet in enumerate((effective(v) for v in entry.get("vnets") or []), start=1):
            vid = f"{rid}V{index}"
            vnet_ids[(host, str(vnet.get("vnet")))] = vid
            tag = f", tag {vnet['tag']}" if vnet.get("tag") else ""
            text = _label(f"vnet {vnet.get('vnet')}{tag}")
            lines.append(f'    {vid}["{text}"]')
            parent = zone_ids.get((host, str(vnet.get("zone"))))
            if parent:
                lines.append(f"    {parent} --> {vid}")
        lines.append("  end")
    flagged = []
    for number, group in enumerate((g for g in view["merged"]["vnets"] if len(g["carriers"]) > 1), start=1):
        nid = f"VNI{number}"
        text = _label(f"VNI {group['vni']}")
        lines.append(f'  {nid}(("{text}"))')
        lines += [f"  {vnet_ids[(c['remote'], c['vnet'])]} --- {nid}" for c in group["carriers"]
                  if (c["remote"], c["vnet"]) in vnet_ids]
        flagged += [nid] if group["mismatches"] else []
    for number, group in enumerate((g for g in view["merged"]["evpn_zones"] if len(g["carriers"]) > 1), start=1):
        nid = f"VRF{number}"
        text = _label(f"VRF VNI {group['vrf_vxlan']}, ASN {group['asn']}")
        lines.append(f'  {nid}(("{text}"))')
        lines += [f"  {zone_ids[(c['remote'], c['zone'])]} --- {nid}" for c in group["carriers"]
                  if (c["remote"], c["zone"]) in zone_ids]
        flagged += [nid] if group["mismatches"] else []
    if flagged:
        lines.append("  classDef mismatch stroke:#d00,stroke-width:3px")
        lines.append(f"  class {','.join(flagged)} mismatch")
    if len(hosts) > len(shown):
        lines.append(f"  %% {len(hosts) - len(shown)} more remote(s) left out")
    return lines


def markdown_report(view: dict) -> str:
    remotes = view["remotes"]
    failed = view["failed_remotes"]
    lines = ["# SDN fleet report", "",
             f"{len(remotes)} remote(s), {len(failed)} could not be read; {len(view['mismatches'])} mismatch(es).", "",
             "## Remotes", ""]
    rows: list[tuple] = []
    for host in failed + [host for host, _entry in _ok(remotes)]:
        entry = remotes[host]
        if not entry.get("ok"):
            rows.append((host, entry.get("remote") or "", "", "", "", "", f"FAILED: {entry.get('error')}"))
            continue
        nodes = entry.get("nodes") or {}
        rows.append((host, entry.get("remote"), entry.get("version"), (entry.get("lock") or {}).get("state"),
                     ", ".join(f"{n} ({r.get('status')})" for n, r in sorted(nodes.items())),
                     ", ".join(entry.get("pending_changes") or []) or "none", "ok"))
    lines += _md_table(("remote", "endpoint", "PVE", "lock", "nodes", "pending", "status"), rows)
    lines += ["", "## Mismatches", ""]
    lines += [f"- **{m['kind']}**: {_cell(m['message'])}" for m in view["mismatches"]] or ["None."]
    lines += ["", "## EVPN zones across the fleet", ""]
    lines += _md_table(("ASN", "VRF VNI", "zones", "carried by", "route targets imported", "mismatch"), (
        (g["asn"], g["vrf_vxlan"], ", ".join(g["zones"]), _carriers(g["carriers"], "zone"),
         "; ".join(sorted({", ".join(c["rt_import"]) or "none" for c in g["carriers"]})), ", ".join(g["mismatches"]) or "")
        for g in view["merged"]["evpn_zones"]))
    lines += ["", "## Vnets across the fleet, by VNI", ""]
    lines += _md_table(("VNI", "vnets", "zones", "carried by", "mismatch"), (
        (g["vni"], ", ".join(g["vnets"]), ", ".join(g["zones"]), _carriers(g["carriers"], "vnet"), ", ".join(g["mismatches"]))
        for g in view["merged"]["vnets"]))
    if "free_tags" in view:
        lines += ["", "## Free tags", ""]
        lines += [", ".join(f"{a}-{b}" if a != b else str(a) for a, b in view["free_tags"]) or "None."]
    lines += ["", "## Objects", ""]
    lines += _md_table(("remote", "object", "status"), table_rows(view))
    lines += ["", "## Topology", "", "```mermaid", *mermaid(view), "```", ""]
    return "\n".join(lines)


def _carriers(carriers: list[dict], name: str) -> str:
    return "; ".join(f"{c['remote']}: {c[name]}" + (f" on {', '.join(c['nodes'])}" if c["nodes"] else "")
                     + (f" ({c['state']})" if c.get("state") else "") for c in carriers)
