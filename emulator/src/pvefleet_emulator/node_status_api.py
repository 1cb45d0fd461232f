"""The per-node EVPN status pve-network 1.2.0 added ("vnets: add mac-vrf endpoint for evpn vnets",
"zones: add ip vrf endpoint for evpn zones" in its debian/changelog): a vnet's index and MAC-VRF
(API2/Network/SDN/Nodes/Vnet.pm), a zone's IP-VRF (Nodes/Zone.pm `ip-vrf`). The zone status and a
zone's content (Nodes/Zones.pm, Zone.pm `content`) are nodes_api.py's.

PVE answers these from the node's FRR (proxmox-perl-rs pve-rs/src/bindings/sdn/fabrics.rs
l3vpn_routes: `show ip route vrf vrf_<zone> json`; l2vpn_routes: `show bgp l2vpn evpn route vni
<tag> type 2 json`, both shaped by pve-rs/src/sdn/status.rs). There is no FRR here: the tables are
derived from the running config, and only once the asking node has generated the running version
(before that its FRR has none of it: empty lists). What is invented is listed in emulator/README.md
("Per-node EVPN status").
"""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Optional

from pvefleet_emulator.dry_run import NodeFacts
from pvefleet_emulator.errors import Die, ParamError
from pvefleet_emulator.fabrics import Fabrics
from pvefleet_emulator.formats import split_list, subnet_id_parts
from pvefleet_emulator.node_reload import node_state
from pvefleet_emulator.routes import Call, route
from pvefleet_emulator.sdn_api import check_vnet_access, require_node

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote

# Nodes/Vnet.pm: both calls check SDN.Audit (only) on /sdn/zones/<zone>/<vnet>, in code.
AUDIT = ("SDN.Audit",)
# The protocol FRR names a route of a directly attached network (`show ip route json`).
CONNECTED = "connected"


def _zone_nodes(zone: dict) -> Optional[list[str]]:
    """A zone's `nodes` (None: every node), as the running config keeps them (a comma list here,
    sdn_config.py; {node: 1} in PVE's `.running-config`)."""
    value = zone.get("nodes")
    if isinstance(value, dict):
        return sorted(value)
    return split_list(str(value)) if value not in (None, "") else None


def _up_to_date(remote: Remote, node: str, now: float) -> bool:
    """Whether the node's last reload generated the running version (node_reload.py)."""
    return bool(remote.config.version) and node_state(remote, node, now)[0] >= remote.config.version


def _running_subnets(remote: Remote, vnet_id: str) -> list[tuple[str, dict]]:
    """The vnet's running subnets as (CIDR, values), by subnet ID (Vnets.pm get_subnets($vnet, 1))."""
    items = []
    for subnet_id, values in sorted(remote.config.running_ids("subnets").items()):
        parts = subnet_id_parts(subnet_id)
        if values.get("vnet") == vnet_id and parts is not None:
            items.append((f"{parts[1]}/{parts[2]}", values))
    return items


def _vtep(remote: Remote, zone: dict, node: str) -> Optional[str]:
    """The node's VXLAN tunnel address for the zone (the nexthop it originates EVPN routes with):
    with a fabric controller, its running fabric node's `ip` (Controllers/EvpnPlugin.pm); with
    `peers`, the node's own address (dry_run.py's NodeFacts: 10.0.0.<n> for node pve<n>; whether or not
    it is among the peers, Zones/Plugin.pm find_local_ip_interface_peers ends at that address)."""
    controller = remote.config.running_ids("controllers").get(str(zone.get("controller") or "")) or {}
    if controller.get("fabric"):
        fabric_nodes = Fabrics.from_running(remote.config.running).nodes.get(str(controller["fabric"])) or {}
        address = (fabric_nodes.get(node) or {}).get("ip")
        return str(address) if address else None
    return NodeFacts(remote.nodes, node).address


@route("GET", "/nodes/{node}/sdn/vnets/{vnet}", pve9_only=True)
async def node_vnet_index(call: Call) -> list[dict]:
    """Nodes/Vnet.pm diridx: check_vnet_access (the pending vnets.cfg), then one subdir; no
    proxyto, so the node is not looked up."""
    check_vnet_access(call, call.params["vnet"], AUDIT)
    return [{"subdir": "mac-vrf"}]


@route("GET", "/nodes/{node}/sdn/vnets/{vnet}/mac-vrf", pve9_only=True)
async def node_vnet_mac_vrf(call: Call) -> list[dict]:
    """Nodes/Vnet.pm mac-vrf: the vnet's access check (pending config), then the running vnet and
    zone (get_vnet/get_zone with running=1) and pve-network's parameter errors; then
    status.rs get_l2vpn_routes: one {mac, ip, nexthop} per best type-2 path. Here: every node of
    the zone that generated the running version originates, for each gateway of the vnet's running
    subnets, the zone's anycast gateway MAC (its `mac`) with that gateway, from its VTEP."""
    remote, node, vnet_id = call.remote, call.params["node"], call.params["vnet"]
    require_node(remote, node)
    check_vnet_access(call, vnet_id, AUDIT)
    vnet = remote.config.running_ids("vnets").get(vnet_id)
    if vnet is None:
        raise ParamError({"vnet": "vnet does not exist"})
    zone_id = str(vnet.get("zone") or "")
    zone = remote.config.running_ids("zones").get(zone_id)
    if zone is None:
        raise ParamError({"zone": f"zone {zone_id} does not exist"})
    if zone.get("type") != "evpn":
        raise ParamError({"zone": f"zone {zone_id} is not an EVPN zone."})
    members = _zone_nodes(zone)
    if members is not None and node not in members:
        raise ParamError({"zone": f"zone {zone_id} of vnet {vnet_id} does not exist on node {node}"})
    if vnet.get("tag") in (None, ""):
        raise Die(f"vnet {vnet_id} has no tag\n")  # fabrics.rs l2vpn_routes, an anyhow error
    if not _up_to_date(remote, node, call.now):
        return []
    mac = zone.get("mac")
    gateways = [str(values["gateway"]) for _cidr, values in _running_subnets(remote, vnet_id) if values.get("gateway")]
    items = []
    for origin in remote.nodes:
        if (members is not None and origin not in members) or not _up_to_date(remote, origin, call.now):
            continue
        nexthop = _vtep(remote, zone, origin)
        if mac and nexthop:
            items += [{"mac": str(mac).upper(), "ip": gateway, "nexthop": nexthop} for gateway in gateways]
    return items


@route("GET", "/nodes/{node}/sdn/zones/{zone}/ip-vrf", pve9_only=True)
async def node_zone_ip_vrf(call: Call) -> list[dict]:
    """Nodes/Zone.pm ip-vrf (the schema's check: SDN.Audit on /sdn/zones/{zone}): the running zone
    and pve-network's parameter errors, then status.rs get_l3vpn_routes ({ip, protocol, metric,
    nexthops}, the installed routes of vrf_<zone>). Here: each running subnet with a gateway of the
    zone's vnets, a connected route (metric 0) via the vnet's bridge, which holds the gateway."""
    remote, node, zone_id = call.remote, call.params["node"], call.params["zone"]
    require_node(remote, node)
    zone = remote.config.running_ids("zones").get(zone_id)
    if zone is None:
        raise ParamError({"zone": "zone does not exist"})
    if zone.get("type") != "evpn":
        raise ParamError({"zone": "zone is not an EVPN zone"})
    members = _zone_nodes(zone)
    if members is not None and node not in members:
        raise ParamError({"zone": f"zone does not exist on node {node}"})
    if not _up_to_date(remote, node, call.now):
        return []
    items = []
    for vnet_id, vnet in sorted(remote.config.running_ids("vnets").items()):
        if vnet.get("zone") != zone_id:
            continue
        for cidr, values in _running_subnets(remote, vnet_id):
            if values.get("gateway"):
                items.append({"ip": str(ipaddress.ip_network(cidr, strict=False)), "protocol": CONNECTED,
                              "metric": 0, "nexthops": [vnet_id]})
    return items
