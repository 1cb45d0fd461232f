"""GET /cluster/sdn/dry-run: the files a node would generate from the pending config, diffed
against the files it has now (pve-sdn-api.md §3.5, §5).

What pve-network 1.3.0 does (API2/Network/SDN.pm `dry-run`): it compiles the pending files into a
running config without raising the version (compile_running_cfg(1)), renders from it
`/etc/network/interfaces.d/sdn` (Network/SDN.pm generate_raw_etc_network_config: the zones' stanzas,
then the fabrics') and `/etc/frr/frr.conf` (generate_frr_raw_config with the *pending* fabrics.cfg,
then Frr.pm raw_config_to_string), writes both to anonymous temporary files (PVE::File
tempfile_contents: named `/proc/<pid>/fd/<n>`) and answers `{"frr-diff", "interfaces-diff"}`, each the
output of `diff -b -N -u <node's file> <temporary file>`, every output line followed by "\\n", or null
when there is no difference. A missing node file counts as empty (`-N`).

The rendering follows pve-network 1.3.0's plugins (Zones/{Simple,Vlan,QinQ,Vxlan,Evpn}Plugin.pm
generate_sdn_config, Zones.pm generate_etc_network_config, Controllers.pm generate_frr_config,
Controllers/{Evpn,Bgp,Isis}Plugin.pm, Frr.pm append_local_config) and, for the FRR text, the
templates of proxmox-frr-templates (frr.conf.jinja and what it includes) over proxmox-frr's types
(src/ser/*.rs), including their quirks: the simple and EVPN zones take their subnets from the
*running* config (Vnets::get_subnets($vnet, 1)), so a pending subnet shows only once applied; an exit
node's null routes read the pending subnets; EVPN and VXLAN zones and the EVPN controller look up
their fabric in the *running* fabrics (Fabrics::config(1)); a zone's `nodes` limits its interfaces,
not its FRR part; a faucet controller makes FRR generation die. What a node knows only locally is
stood in for (NodeFacts). PVE 9.2's prefix lists, route maps and controller route maps are rendered
as proxmox-ve-config's frr conversions (prefix_list.rs, route_map.rs `pub mod frr`) make them; where
9.2's Perl was not read, emulator/README.md says what is assumed.
"""
from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from pvefleet_emulator import fabrics
from pvefleet_emulator.errors import Die
from pvefleet_emulator.fabrics import Fabrics
from pvefleet_emulator.formats import split_list, subnet_id_parts
from pvefleet_emulator.lock import perl_true
from pvefleet_emulator.node_reload import node_state
from pvefleet_emulator.routing_policy import property_string, split_entry_id

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote

INTERFACES_FILE = "/etc/network/interfaces.d/sdn"
FRR_FILE = "/etc/frr/frr.conf"
# Frr.pm raw_config_to_string: the skeleton every generated frr.conf has.
FRR_VERSION = "10.4.1"
# The log lines of a node's srvreload task (node_reload.py) that mark when it wrote each file.
_WROTE_INTERFACES = "regenerate SDN configuration"
_WROTE_FRR = "regenerate FRR configuration"
# Stand-ins for the anonymous temporary files' names: a pvedaemon worker's PID (base + the node's
# number) and the file descriptors tempfile_contents gets, the FRR file first.
_WORKER_PID_BASE = 2000
_FRR_FD, _INTERFACES_FD = 9, 10
_EPOCH = "1970-01-01 00:00:00.000000000 +0000"  # what `diff -N` shows for a missing file


# Node-local facts: stand-ins for what PVE reads from the node itself


class NodeFacts:
    """What a node knows only locally, stood in for deterministically: node pve<n> (its position
    n in the cluster, from 1) has `vmbr0`, a Linux bridge that is not VLAN-aware, on port `eno1`,
    holding the node's address 10.0.0.<n> (/24) and its default route (`ip route get` answers
    10.0.0.<n> via vmbr0 for any target); a bridge `vmbr<K>` (K >= 1) exists too, VLAN-aware, on
    port `eno<K+1>`, without address; no other bridge exists, no OVS, no interface has an MTU of
    its own; an interface's MAC address is BC:24:11:00:<n / 256>:<n % 256> (in hex)."""

    def __init__(self, nodes: list[str], node: str):
        self.name = node
        self.number = nodes.index(node) + 1
        self.address = str(ipaddress.IPv4Address("10.0.0.0") + self.number)
        # /etc/network/interfaces as PVE::INotify parses it: interface -> {address, mtu}
        self.interfaces: dict[str, dict[str, Any]] = {"vmbr0": {"address": self.address}}

    def bridge(self, name: str) -> Optional[tuple[bool, list[str]]]:
        """(VLAN-aware, physical ports) of an existing bridge; None: /sys/class/net/<name> is missing."""
        if name == "vmbr0":
            return False, ["eno1"]
        match = re.fullmatch(r"vmbr([1-9][0-9]*)", name)
        return (True, [f"eno{int(match.group(1)) + 1}"]) if match else None

    def route_source(self, _target: str) -> tuple[str, str]:
        """Zones/Plugin.pm get_local_route_ip (`ip route get`): source address and device."""
        return self.address, "vmbr0"

    def local_ip(self, peers: list[str], iface: Optional[str] = None) -> tuple[Optional[str], Optional[str]]:
        """Zones/Plugin.pm find_local_ip_interface_peers: the given interface's address, else a
        local address among the peers, else the source address towards the first peer."""
        if iface and self.interfaces.get(iface, {}).get("address"):
            return self.interfaces[iface]["address"], iface
        for address in peers:
            for name, values in self.interfaces.items():
                if values.get("address") == address:
                    return address, name
        for address in peers:
            return self.route_source(address)
        return None, None

    def mtu(self, iface: Optional[str]) -> Optional[int]:
        return self.interfaces.get(iface or "", {}).get("mtu")

    def mac(self, _iface: Optional[str]) -> str:
        """Controllers/Plugin.pm read_iface_mac."""
        return f"bc:24:11:00:{self.number // 256 % 256:02x}:{self.number % 256:02x}"


# What a rendering reads


@dataclass
class Sources:
    """The config one rendering reads, each part from where pve-network takes it."""
    version: int
    zones: dict[str, dict]
    vnets: dict[str, dict]
    controllers: dict[str, dict]
    vnet_subnets: dict[str, dict]  # Vnets::get_subnets($vnet, 1): the running subnets
    all_subnets: dict[str, dict]  # Vnets::get_subnets(): subnets.cfg (the null routes of exit nodes)
    fabric_config: Fabrics  # the compiled config's fabrics (interfaces) and the FRR fabric build
    underlay: Fabrics  # Fabrics::config(1): the running fabrics (EVPN and VXLAN lookups)
    prefix_lists: dict[str, dict]
    route_maps: dict[str, dict]


def _nodes(value: Any) -> set[str]:
    """A node list as the compiled config holds it ({node: 1}); stored here as a comma list."""
    if isinstance(value, dict):
        return set(value)
    return set(split_list(str(value))) if value not in (None, "") else set()


def _subnet(subnet_id: str, values: dict) -> dict:
    """Subnets.pm sdn_subnets_config: the subnet with `cidr`, `zone`, `network` and `mask`."""
    zone, network, mask = subnet_id_parts(subnet_id) or ("", "", "")
    return {**values, "id": subnet_id, "cidr": f"{network}/{mask}", "zone": zone, "network": network, "mask": mask}


def _subnets_of(subnets: dict[str, dict], vnet_id: Optional[str] = None) -> list[dict]:
    """Vnets.pm get_subnets, sorted by subnet ID."""
    return [_subnet(subnet_id, values) for subnet_id, values in sorted(subnets.items())
            if values.get("vnet") and (vnet_id is None or values.get("vnet") == vnet_id)]


def _is_ipv6(address: Any) -> bool:
    try:
        return ipaddress.ip_address(str(address)).version == 6
    except ValueError:
        return False


# /etc/network/interfaces.d/sdn (Zones.pm generate_etc_network_config and the zone plugins)


class _Skip(Exception):
    """A plugin's die inside Zones.pm's eval: the vnet is left out (with a warning in PVE)."""


def interfaces_file(src: Sources, facts: NodeFacts) -> str:
    config: dict[str, list[str]] = {}
    for vnet_id, vnet in sorted(src.vnets.items()):
        zone_id = vnet.get("zone")
        zone = src.zones.get(zone_id or "")
        if not zone_id or zone is None:
            continue
        if zone.get("nodes") not in (None, "") and facts.name not in _nodes(zone["nodes"]):
            continue
        controller = src.controllers.get(zone.get("controller") or "")
        generate = _ZONE_PLUGINS.get(str(zone.get("type")))
        if generate is None:
            continue  # faucet: its generate_sdn_config takes other arguments and adds nothing here
        try:
            generate(src, facts, str(zone_id), zone, vnet_id, vnet, controller, config)
        except _Skip:
            continue
    text = f"#version:{src.version}\n"
    for iface in sorted(config):
        text += f"\nauto {iface}\niface {iface}\n" + "".join(f"\t{option}\n" for option in config[iface])
    interfaces, _frr = fabrics.generated(src.fabric_config, facts.name)
    return text + interfaces


def _add(config: dict[str, list[str]], iface: str, options: list[str]) -> None:
    """`push(@{ $config->{$iface} }, @options) if !$config->{$iface}`."""
    if iface not in config:
        config[iface] = list(options)


def _vlanaware(options: list[str], vnet: dict) -> None:
    if perl_true(vnet.get("vlanaware")):
        options += ["bridge-vlan-aware yes", "bridge-vids 2-4094"]


def _simple(src: Sources, facts: NodeFacts, zone_id: str, zone: dict, vnet_id: str, vnet: dict,
            controller: Optional[dict], config: dict[str, list[str]]) -> None:
    if vnet_id in config:
        return
    options, flags = _simple_subnets(src, facts, vnet_id)
    mtu = zone.get("mtu")
    options += [f"hwaddress {vnet['mac']}"] if vnet.get("mac") else []
    options += ["bridge_ports none", "bridge_stp off", "bridge_fd 0"]
    _vlanaware(options, vnet)
    options += [f"mtu {mtu}"] if mtu else []
    options += [f"alias {vnet['alias']}"] if vnet.get("alias") else []
    options += ["ip-forward on"] if flags["forward4"] else []
    options += ["ip6-forward on"] if flags["forward6"] else []
    config.setdefault(vnet_id, []).extend(options)


def _simple_subnets(src: Sources, facts: NodeFacts, vnet_id: str) -> tuple[list[str], dict[str, bool]]:
    """SimplePlugin.pm: addresses, a route for a /32 IPv4 subnet, SNAT rules (always)."""
    lines: list[str] = []
    seen: set[str] = set()
    flags = {"forward4": False, "forward6": False}
    for subnet in _subnets_of(src.vnet_subnets, vnet_id):
        cidr, mask, gateway = subnet["cidr"], str(subnet["mask"]), subnet.get("gateway")
        if gateway:
            if gateway not in seen:
                lines.append(f"address {gateway}/{mask}")
            seen.add(gateway)
        ipv6 = _is_ipv6(gateway)
        iptables, target = ("ip6tables", "2001:4860:4860::8888") if ipv6 else ("iptables", "8.8.8.8")
        if gateway:
            flags["forward6" if ipv6 else "forward4"] = True
        if mask == "32" and not ipv6:
            lines.append(f"up ip route add {cidr} dev {vnet_id}")
        if perl_true(subnet.get("snat")):
            lines += _snat(facts, iptables, target, cidr)
    return lines, flags


def _snat(facts: NodeFacts, iptables: str, target: str, cidr: str) -> list[str]:
    out_ip, out_iface = facts.route_source(target)
    return [f"post-up {iptables} -t nat -A POSTROUTING -s '{cidr}' -o {out_iface} -j SNAT --to-source {out_ip}",
            f"post-down {iptables} -t nat -D POSTROUTING -s '{cidr}' -o {out_iface} -j SNAT --to-source {out_ip}",
            f"post-up {iptables} -t raw -I PREROUTING -i fwbr+ -j CT --zone 1",
            f"post-down {iptables} -t raw -D PREROUTING -i fwbr+ -j CT --zone 1"]


def _bridge(facts: NodeFacts, name: str) -> tuple[bool, list[str]]:
    """Zones/Plugin.pm find_bridge, is_vlanaware, get_bridge_ifaces."""
    bridge = facts.bridge(name)
    if bridge is None:
        raise _Skip(f"can't find bridge {name}")
    return bridge


def _vlan(src: Sources, facts: NodeFacts, zone_id: str, zone: dict, vnet_id: str, vnet: dict,
          controller: Optional[dict], config: dict[str, list[str]]) -> None:
    bridge = str(zone.get("bridge"))
    vlan_aware, ports = _bridge(facts, bridge)
    tag, mtu = vnet.get("tag"), zone.get("mtu")
    mtu_line = [f"mtu {mtu}"] if mtu else []
    uplink, uplink_peer = f"ln_{vnet_id}", f"pr_{vnet_id}"
    if vlan_aware:
        uplink = f"{bridge}.{tag}"
    else:
        bridge_ports = "".join(f" {port}.{tag}" for port in ports)
        _add(config, uplink, ["link-type veth", f"veth-peer-name {uplink_peer}", *mtu_line])
        _add(config, uplink_peer, ["link-type veth", f"veth-peer-name {uplink}", *mtu_line])
        _add(config, f"{bridge}v{tag}", [f"bridge_ports {bridge_ports} {uplink_peer}", "bridge_stp off", "bridge_fd 0",
                                         *mtu_line])
    options = [f"bridge_ports {uplink}", "bridge_stp off", "bridge_fd 0"]
    _vlanaware(options, vnet)
    options += mtu_line + ([f"alias {vnet['alias']}"] if vnet.get("alias") else [])
    _add(config, vnet_id, options)


def _qinq(src: Sources, facts: NodeFacts, zone_id: str, zone: dict, vnet_id: str, vnet: dict,
          controller: Optional[dict], config: dict[str, list[str]]) -> None:
    bridge, mtu, stag = str(zone.get("bridge")), zone.get("mtu"), zone.get("tag")
    protocol = zone.get("vlan-protocol")
    vlan_aware, ports = _bridge(facts, bridge)
    notag_uplink, notag_peer, zone_bridge = f"ln_{zone_id}", f"pr_{zone_id}", f"z_{zone_id}"
    ctag = vnet.get("tag")
    vnet_ports = f"{zone_bridge}.{ctag}" if ctag else notag_peer
    zone_ports = ""
    if vlan_aware:
        zone_ports = f"{bridge}.{stag}"
        if protocol:
            _add(config, bridge, [f"bridge-vlan-protocol {protocol}"])
            _add(config, zone_ports, [f"vlan-protocol {protocol}"])
    else:
        for port in ports[:1]:
            svlan = f"sv_{zone_id}"
            _add(config, svlan, [f"vlan-raw-device {port}", f"vlan-id {stag}", *([f"vlan-protocol {protocol}"] if protocol else [])])
            zone_ports = svlan
    _add(config, notag_uplink, ["link-type veth", f"veth-peer-name {notag_peer}"])
    _add(config, notag_peer, ["link-type veth", f"veth-peer-name {notag_uplink}"])
    _add(config, zone_bridge, [*([f"mtu {mtu}"] if mtu else []), "bridge-stp off", f"bridge-ports {zone_ports} {notag_uplink}",
                               "bridge-fd 0", "bridge-vlan-aware yes", "bridge-vids 2-4094"])
    options = [f"bridge_ports {vnet_ports}", "bridge_stp off", "bridge_fd 0"]
    _vlanaware(options, vnet)
    options += ([f"mtu {mtu}"] if mtu else []) + ([f"alias {vnet['alias']}"] if vnet.get("alias") else [])
    _add(config, vnet_id, options)


def _fabric_peers(src: Sources, fabric_id: str, node: str) -> tuple[list[str], str]:
    """The running fabric's node addresses (by node ID: Perl's hash order, sorted here) and this
    node's; a die (the vnet is left out) when the fabric or the node is not there or has no IPv4."""
    fabric_nodes = src.underlay.nodes.get(fabric_id)
    if fabric_id not in src.underlay.fabrics or fabric_nodes is None or node not in fabric_nodes:
        raise _Skip(f"could not configure zone: fabric {fabric_id} or node {node} missing")
    own = fabric_nodes[node].get("ip")
    if not own:
        raise _Skip(f"Node {node} requires an IP in the fabric {fabric_id}")
    return [str(n["ip"]) for _id, n in sorted(fabric_nodes.items()) if n.get("ip")], str(own)


def _vxlan(src: Sources, facts: NodeFacts, zone_id: str, zone: dict, vnet_id: str, vnet: dict,
           controller: Optional[dict], config: dict[str, list[str]]) -> None:
    tag, port = vnet.get("tag"), zone.get("vxlan-port")
    if not tag:
        raise _Skip("missing vxlan tag")
    iface: Optional[str] = None
    if zone.get("peers"):
        peers = split_list(str(zone["peers"]))
        own, iface = facts.local_ip(peers)
    elif zone.get("fabric"):
        peers, own = _fabric_peers(src, str(zone["fabric"]), facts.name)
    else:
        raise _Skip("neither peers nor fabric configured")
    mtu: Any = 1450
    if iface and facts.mtu(iface):
        mtu = int(facts.mtu(iface) or 0) - 50
    mtu = zone.get("mtu") or mtu
    vxlan_iface = f"vxlan_{vnet_id}"
    options = [f"vxlan-id {tag}", *(f"vxlan_remoteip {peer}" for peer in peers if peer != own)]
    options += [f"vxlan-port {port}"] if port else []
    _add(config, vxlan_iface, options + [f"mtu {mtu}"])
    options = [f"bridge_ports {vxlan_iface}", "bridge_stp off", "bridge_fd 0"]
    _vlanaware(options, vnet)
    options += [f"mtu {mtu}"] + ([f"alias {vnet['alias']}"] if vnet.get("alias") else [])
    _add(config, vnet_id, options)


def _evpn(src: Sources, facts: NodeFacts, zone_id: str, zone: dict, vnet_id: str, vnet: dict,
          controller: Optional[dict], config: dict[str, list[str]]) -> None:
    tag, mac, port, vrfvxlan = vnet.get("tag"), zone.get("mac"), zone.get("vxlan-port"), zone.get("vrf-vxlan")
    vrf = f"vrf_{zone_id}"
    if not tag:
        raise _Skip("missing vxlan tag")
    if controller is None:
        raise _Skip("missing controller")
    iface: Optional[str] = None
    if controller.get("peers"):
        peers = split_list(str(controller["peers"]))
        bgp, isis = _router_controller(src.controllers, "bgp", facts.name), _router_controller(src.controllers, "isis", facts.name)
        loopback = (bgp or {}).get("loopback") or (isis or {}).get("loopback")
        own, iface = facts.local_ip(peers, loopback)
    elif controller.get("fabric"):
        _peers, own = _fabric_peers(src, str(controller["fabric"]), facts.name)
    else:
        raise _Skip("neither fabric nor peers configured")
    gateway = facts.name in _nodes(zone.get("exitnodes"))
    local_routing = perl_true(zone.get("exitnodes-local-routing"))
    suppress = [] if perl_true(zone.get("disable-arp-nd-suppression")) else ["bridge-arp-nd-suppress on"]
    mtu: Any = 1450
    if iface and facts.mtu(iface):
        mtu = int(facts.mtu(iface) or 0) - 50
    mtu = zone.get("mtu") or mtu
    tunnel = [f"vxlan-local-tunnelip {own}"] if own else []
    port_line = [f"vxlan-port {port}"] if port else []
    _add(config, f"vxlan_{vnet_id}", [f"vxlan-id {tag}", *tunnel, *port_line, "bridge-learning off", *suppress, f"mtu {mtu}"])

    options: list[str] = []
    seen: set[str] = set()
    ipv4 = ipv6 = forward4 = forward6 = False
    for subnet in _subnets_of(src.vnet_subnets, vnet_id):
        cidr, mask, subnet_gateway = subnet["cidr"], subnet["mask"], subnet.get("gateway")
        if subnet_gateway:
            if subnet_gateway not in seen:
                options.append(f"address {subnet_gateway}/{mask}")
            seen.add(subnet_gateway)
        is6 = _is_ipv6(subnet_gateway)
        if is6:
            ipv6, forward6 = True, forward6 or bool(subnet_gateway)
        else:
            ipv4, forward4 = True, forward4 or bool(subnet_gateway)
        if perl_true(subnet.get("snat")) and gateway:
            options += _snat(facts, "ip6tables" if is6 else "iptables", "2001:4860:4860::8888" if is6 else "8.8.8.8", cidr)
    options += [f"hwaddress {mac}"] if mac else []
    options += [f"bridge_ports vxlan_{vnet_id}", "bridge_stp off", "bridge_fd 0", f"mtu {mtu}"]
    options += [f"alias {vnet['alias']}"] if vnet.get("alias") else []
    options += (["ip-forward on"] if forward4 else []) + (["ip6-forward on"] if forward6 else [])
    options += ["arp-accept on"] if ipv4 or ipv6 else []
    options.append(f"vrf {vrf}")
    _add(config, vnet_id, options)

    verb = "del" if gateway else "add"
    _add(config, vrf, ["vrf-table auto", f"post-up ip route {verb} vrf {vrf} unreachable default metric 4278198272"])
    if vrfvxlan:
        _add(config, f"vrfvx_{zone_id}", [f"vxlan-id {vrfvxlan}", *tunnel, *port_line, "bridge-learning off", *suppress,
                                          f"mtu {mtu}"])
        _add(config, f"vrfbr_{zone_id}", [f"bridge-ports vrfvx_{zone_id}", "bridge_stp off", "bridge_fd 0", f"mtu {mtu}",
                                          f"vrf {vrf}"])
    if gateway and local_routing:
        big_mtu = [f"mtu {int(mtu) + 50}"]
        _add(config, f"xvrf_{zone_id}", ["link-type veth", "address 10.255.255.1/30", *(["address fe80::1/126"] if ipv6 else []),
                                         f"veth-peer-name xvrfp_{zone_id}", *big_mtu])
        _add(config, f"xvrfp_{zone_id}", ["link-type veth", "address 10.255.255.2/30", *(["address fe80::2/126"] if ipv6 else []),
                                          f"veth-peer-name xvrf_{zone_id}", f"vrf {vrf}", *big_mtu])


_ZONE_PLUGINS = {"simple": _simple, "vlan": _vlan, "qinq": _qinq, "vxlan": _vxlan, "evpn": _evpn}


# /etc/frr/frr.conf (Controllers.pm generate_frr_config, the controller plugins, Frr.pm)


def _router_controller(controllers: dict[str, dict], kind: str, node: str) -> Optional[dict]:
    """EvpnPlugin.pm find_bgp_controller / find_isis_controller: the node's controller of that
    type (one at most per node)."""
    return next((c for _id, c in sorted(controllers.items()) if c.get("type") == kind and c.get("node") == node), None)


def _router_id(facts: NodeFacts, address: Optional[str], iface: Optional[str]) -> str:
    """Controllers/Plugin.pm get_router_id: an IPv4 address is the router ID, else the last four
    bytes of the interface's MAC address."""
    if address and not _is_ipv6(address):
        return address
    return ".".join(str(int(part, 16)) for part in facts.mac(iface).split(":")[2:6])


class _Frr:
    """The FRR config being built: proxmox-frr's FrrConfig as the Perl code fills it."""

    def __init__(self) -> None:
        self.routers: dict[str, dict[str, Any]] = {}  # bgp.vrf_router: "default" or a VRF name
        self.vrfs: dict[str, dict[str, Any]] = {}  # bgp.vrfs
        self.isis_routers: dict[str, dict[str, Any]] = {}
        self.isis_interfaces: dict[str, dict[str, Any]] = {}
        self.prefix_lists: dict[str, list[dict[str, Any]]] = {}
        self.routemaps: dict[str, list[dict[str, Any]]] = {}
        self.ip_routes: list[dict[str, Any]] = []
        self.protocol_routemaps: dict[str, dict[str, str]] = {}


def frr_file(src: Sources, facts: NodeFacts, *, pve92: bool) -> str:
    frr = _Frr()
    for _controller_id, controller in sorted(src.controllers.items()):
        kind = controller.get("type")
        if kind == "evpn":
            _evpn_controller(src, facts, frr, controller, pve92)
        elif kind == "bgp":
            _bgp_controller(facts, frr, controller, pve92)
        elif kind == "isis":
            _isis_controller(facts, frr, controller)
        else:  # faucet: Controllers/Plugin.pm's generate_frr_config, which the faucet plugin does not override
            raise Die("please implement inside plugin at /usr/share/perl5/PVE/Network/SDN/Controllers/Plugin.pm line 67.\n")
    for zone_id, zone in sorted(src.zones.items()):
        zone_controller = src.controllers.get(zone.get("controller") or "")
        if zone_controller is not None and zone_controller.get("type") == "evpn":
            _evpn_zone(src, facts, frr, zone_id, zone, zone_controller, pve92)
    for vnet_id, vnet in sorted(src.vnets.items()):
        vnet_zone = src.zones.get(vnet.get("zone") or "")
        vnet_controller = src.controllers.get((vnet_zone or {}).get("controller") or "")
        if vnet_zone is not None and vnet_controller is not None and vnet_controller.get("type") == "evpn":
            _evpn_vnet(src, facts, frr, str(vnet["zone"]), vnet_zone, vnet_id)
    for entries in frr.routemaps.values():  # Frr.pm append_local_config without frr.conf.local
        for seq, entry in enumerate(entries, 1):
            entry["seq"] = seq
    if pve92:
        _routing_policy(src, frr)
    _interfaces, fabric_frr = fabrics.generated(src.fabric_config, facts.name)
    lines = _render(frr, fabric_frr)
    header = [f"frr version {FRR_VERSION}", "frr defaults datacenter", f"hostname {facts.name}",
              "log syslog informational", "service integrated-vtysh-config"]
    return "\n".join(header + lines + ["!", "line vty", "!"]) + "\n"


def _controller_here(controller: dict, node: str, pve92: bool) -> bool:
    """PVE 9.2's EVPN controller `nodes`: only those nodes (an assumption: 9.2's Perl was not read)."""
    return not (pve92 and controller.get("nodes") not in (None, "") and node not in _nodes(controller["nodes"]))


def _evpn_underlay(src: Sources, facts: NodeFacts,
                   controller: dict) -> Optional[tuple[list[str], Optional[str], Optional[str], Optional[str]]]:
    """Peers, local address, loopback and router ID of an EVPN controller on this node; None where
    PVE warns and generates nothing."""
    bgp, isis = _router_controller(src.controllers, "bgp", facts.name), _router_controller(src.controllers, "isis", facts.name)
    if controller.get("fabric"):
        fabric_id = str(controller["fabric"])
        fabric_nodes = src.underlay.nodes.get(fabric_id)
        if fabric_id not in src.underlay.fabrics or fabric_nodes is None or facts.name not in fabric_nodes:
            return None
        own = fabric_nodes[facts.name].get("ip")
        if not own:
            return None
        peers = [str(n["ip"]) for _id, n in sorted(fabric_nodes.items()) if n.get("ip")]
        return peers, str(own), f"dummy_{fabric_id}", str(own)
    if controller.get("peers"):
        peers = split_list(str(controller["peers"]))
        loopback = None
        if bgp is not None:
            loopback = bgp.get("loopback") or None
        elif isis is not None:
            loopback = isis.get("loopback") or None
        own, iface = facts.local_ip(peers, loopback)
        return peers, own, loopback, _router_id(facts, own, iface)
    return None


def _evpn_controller(src: Sources, facts: NodeFacts, frr: _Frr, controller: dict, pve92: bool) -> None:
    """Controllers/EvpnPlugin.pm generate_frr_config: the default BGP router, the VTEP peer group,
    the l2vpn evpn address family and the route maps MAP_VTEP_IN/OUT."""
    if not _controller_here(controller, facts.name, pve92):
        return
    underlay = _evpn_underlay(src, facts, controller)
    if underlay is None:
        return
    peers, own, loopback, router_id = underlay
    asn = int(controller.get("asn") or 0)
    ebgp, autortas = False, None
    bgp = _router_controller(src.controllers, "bgp", facts.name)
    if bgp is not None:
        ebgp = str(controller.get("asn")) != str(bgp.get("asn"))
        asn = int(bgp["asn"]) if bgp.get("asn") else asn
        autortas = controller.get("asn") if ebgp else None
    if not asn or not router_id:
        return
    router = frr.routers.setdefault("default", {})
    if not router:
        router.update(asn=asn, router_id=router_id, default_ipv4_unicast=False, hard_administrative_reset=False,
                      graceful_restart_notification=False, coalesce_time=1000, neighbor_groups=[], address_families={})
    name = str(controller.get("peer-group-name") or "VTEP") if pve92 else "VTEP"
    group: dict[str, Any] = {"name": name, "bfd": True, "remote_as": "external" if ebgp else asn,
                             "ips": [peer for peer in peers if peer != own], "interfaces": []}
    if ebgp and loopback:
        group["ebgp_multihop"] = 10
    if loopback:
        group["update_source"] = loopback
    router["neighbor_groups"].append(group)
    neighbor = {"name": name, "route_map_in": "MAP_VTEP_IN", "route_map_out": "MAP_VTEP_OUT"}
    if pve92:  # 9.2's route-map-in / route-map-out name the route maps instead (an assumption)
        neighbor["route_map_in"] = controller.get("route-map-in") or "MAP_VTEP_IN"
        neighbor["route_map_out"] = controller.get("route-map-out") or "MAP_VTEP_OUT"
    families = router["address_families"]
    if "l2vpn_evpn" not in families:
        families["l2vpn_evpn"] = {"neighbors": [neighbor], "advertise_all_vni": True}
    elif pve92 and all(n["name"] != name for n in families["l2vpn_evpn"].setdefault("neighbors", [])):
        families["l2vpn_evpn"]["neighbors"].append(neighbor)
    if autortas:
        families["l2vpn_evpn"]["autort_as"] = autortas
    frr.routemaps.setdefault("MAP_VTEP_IN", []).append({"seq": 1, "action": "permit"})
    frr.routemaps.setdefault("MAP_VTEP_OUT", []).append({"seq": 1, "action": "permit"})


def _prefix_match(name: str, ipv6: bool) -> dict[str, Any]:
    return {"key": "ipv6 address prefix-list" if ipv6 else "ip address prefix-list", "value": name}


def _evpn_zone(src: Sources, facts: NodeFacts, frr: _Frr, zone_id: str, zone: dict, controller: dict, pve92: bool) -> None:
    """Controllers/EvpnPlugin.pm generate_zone_frr_config: the zone's VRF (its VNI, null routes on
    an exit node) and its BGP router, with what exit nodes and advertise-subnets add."""
    if not _controller_here(controller, facts.name, pve92):
        return
    underlay = _evpn_underlay(src, facts, controller)
    if underlay is None:
        return
    _peers, _own, _loopback, router_id = underlay
    vrf, vrfvxlan, node = f"vrf_{zone_id}", zone.get("vrf-vxlan"), facts.name
    exitnodes, primary = _nodes(zone.get("exitnodes")), zone.get("exitnodes-primary")
    local_routing = perl_true(zone.get("exitnodes-local-routing"))
    rt_import = split_list(str(zone["rt-import"])) if zone.get("rt-import") else []
    asn: Any = controller.get("asn")
    autortas = None
    bgp = _router_controller(src.controllers, "bgp", node)
    if bgp is not None:
        ebgp = str(controller.get("asn")) != str(bgp.get("asn"))
        asn = bgp.get("asn") or asn
        autortas = controller.get("asn") if ebgp else None
    if not vrfvxlan or not asn:
        return
    gateway = node in exitnodes
    router = frr.routers.setdefault(vrf, {})
    router.update(asn=int(asn), router_id=router_id, hard_administrative_reset=False, graceful_restart_notification=False)
    bgp_vrf = frr.vrfs.setdefault(vrf, {})
    bgp_vrf.update(vni=vrfvxlan, ip_routes=[])
    if gateway:  # null routes for the other zones' subnets (subnets.cfg: the pending ones)
        cidrs: dict[str, str] = {}
        for subnet in _subnets_of(src.all_subnets):
            if subnet["zone"] != zone_id:
                cidrs[subnet["network"]] = str(subnet["mask"])
        for address in sorted(cidrs, key=lambda text: int(ipaddress.ip_address(text))):
            bgp_vrf["ip_routes"].append({"is_ipv6": _is_ipv6(address), "prefix": f"{address}/{cidrs[address]}", "via": "null0"})
    router["neighbor_groups"] = []
    families: dict[str, Any] = {}
    router["address_families"] = families
    if autortas:
        target = f"{autortas}:{vrfvxlan}"
        families.setdefault("l2vpn_evpn", {})["route_targets"] = {"import": [target], "export": [target]}
    if gateway:
        frr.prefix_lists.setdefault("only_default", [{"seq": 1, "action": "permit", "network": "0.0.0.0/0", "is_ipv6": False}])
        frr.prefix_lists.setdefault("only_default_v6", [{"seq": 1, "action": "permit", "network": "::/0", "is_ipv6": True}])
        if not primary or primary == node:
            entries = frr.routemaps.setdefault("MAP_VTEP_IN", [])
            entries.insert(0, {"seq": 1, "action": "deny", "matches": [_prefix_match("only_default_v6", True)]})
            entries.insert(0, {"seq": 1, "action": "deny", "matches": [_prefix_match("only_default", False)]})
        else:
            entries = frr.routemaps.setdefault("MAP_VTEP_OUT", [])
            metric = [{"key": "metric", "value": 200}]
            entries.insert(0, {"seq": 1, "action": "permit", "matches": [_prefix_match("only_default_v6", True)], "sets": metric})
            entries.insert(0, {"seq": 1, "action": "permit", "matches": [_prefix_match("only_default", False)], "sets": metric})
        if not local_routing:
            main = frr.routers.get("default")
            if main:
                for family in ("ipv4_unicast", "ipv6_unicast"):
                    main["address_families"].setdefault(family, {}).setdefault("import_vrf", []).append(vrf)
            for family in ("ipv4_unicast", "ipv6_unicast"):
                families.setdefault(family, {"redistribute": []}).setdefault("redistribute", []).append({"protocol": "connected"})
        families.setdefault("l2vpn_evpn", {})["default_originate"] = ["ipv4", "ipv6"]
    elif perl_true(zone.get("advertise-subnets")):
        for family in ("ipv4_unicast", "ipv6_unicast"):
            families.setdefault(family, {"redistribute": []}).setdefault("redistribute", []).append({"protocol": "connected"})
        families.setdefault("l2vpn_evpn", {}).update(advertise_ipv4_unicast=True, advertise_ipv6_unicast=True)
    if rt_import:
        evpn = families.setdefault("l2vpn_evpn", {"route_targets": {}})
        evpn.setdefault("route_targets", {}).setdefault("import", []).extend(rt_import)


def _evpn_vnet(src: Sources, facts: NodeFacts, frr: _Frr, zone_id: str, zone: dict, vnet_id: str) -> None:
    """Controllers/EvpnPlugin.pm generate_vnet_frr_config: on an exit node with local routing,
    routes to the vnet's (running) subnets through the cross-VRF veth."""
    if not perl_true(zone.get("exitnodes-local-routing")) or facts.name not in _nodes(zone.get("exitnodes")):
        return
    for subnet in _subnets_of(src.vnet_subnets, vnet_id):
        ipv6 = _is_ipv6(subnet["network"])
        frr.ip_routes.append({"prefix": subnet["cidr"], "via": "fe80::2" if ipv6 else "10.255.255.2",
                              "vrf": f"xvrf_{zone_id}", "is_ipv6": ipv6})


def _bgp_controller(facts: NodeFacts, frr: _Frr, controller: dict, pve92: bool) -> None:
    """Controllers/BgpPlugin.pm generate_frr_config: on its node, the default BGP router (or what
    an EVPN controller made of it), the BGP peer group, the unicast address family and, with a
    loopback, the route map that corrects the source address."""
    peers = split_list(str(controller.get("peers") or ""))
    asn = int(controller.get("asn") or 0)
    ebgp, multihop, loopback = perl_true(controller.get("ebgp")), controller.get("ebgp-multihop"), controller.get("loopback")
    if not asn or facts.name != controller.get("node"):
        return
    own, iface = facts.local_ip(peers, loopback)
    router = frr.routers.setdefault("default", {})
    if not router:
        router.update(asn=asn, router_id=_router_id(facts, own, iface), default_ipv4_unicast=False, coalesce_time=1000,
                      neighbor_groups=[], address_families={})
    if loopback and ebgp:
        router["disable_ebgp_connected_route_check"] = True
    if perl_true(controller.get("bgp-multipath-as-path-relax")):
        router["bestpath_as_path_multipath_relax"] = True
    if peers:
        group: dict[str, Any] = {"name": "BGP", "bfd": True, "remote_as": "external" if ebgp else asn, "ips": peers,
                                 "interfaces": []}
        if ebgp and multihop:
            group["ebgp_multihop"] = int(multihop)
        router["neighbor_groups"].append(group)
        family_key = "ipv6_unicast" if _is_ipv6(own) else "ipv4_unicast"
        neighbor: dict[str, Any] = {"name": "BGP", "soft_reconfiguration_inbound": True}
        if pve92:  # 9.2's route-map-in / route-map-out on the BGP peer group (an assumption)
            neighbor.update({k: controller[o] for k, o in (("route_map_in", "route-map-in"), ("route_map_out", "route-map-out"))
                             if controller.get(o)})
        family = router["address_families"].setdefault(family_key, {"networks": [], "neighbors": [neighbor]})
        if loopback:
            family.setdefault("networks", []).append(f"{own}/{128 if _is_ipv6(own) else 32}")
    if loopback:
        frr.prefix_lists["loopbacks_ips"] = [{"seq": 10, "action": "permit", "network": "0.0.0.0/0", "le": 32, "is_ipv6": False}]
        frr.protocol_routemaps.setdefault("bgp", {})["v4"] = "correct_src"
        frr.routemaps.setdefault("correct_src", []).append({
            "seq": 1, "action": "permit", "matches": [_prefix_match("loopbacks_ips", False)], "sets": [{"key": "src", "value": own}]})


def _isis_controller(facts: NodeFacts, frr: _Frr, controller: dict) -> None:
    """Controllers/IsisPlugin.pm generate_frr_config: on its node, the IS-IS router and its interfaces."""
    ifaces, net, domain = controller.get("isis-ifaces"), controller.get("isis-net"), controller.get("isis-domain")
    if not ifaces or not net or not domain or facts.name != controller.get("node"):
        return
    frr.isis_routers[str(domain)] = {"net": net, "log_adjacency_changes": True,
                                     "redistribute": {"ipv4_connected": "level-1", "ipv6_connected": "level-1"}}
    for iface in sorted(split_list(str(ifaces))):
        frr.isis_interfaces.setdefault(iface, {}).update(domain=domain, is_ipv4=True, is_ipv6=False)


# PVE 9.2's prefix lists and route maps (proxmox-ve-config prefix_list.rs and route_map.rs `frr`)

# The FRR keys of the route map actions (proxmox-frr ser/route_map.rs RouteMapMatch, RouteMapSet,
# RouteMapExitAction serde names), by the keys the config stores (route_map.rs MatchAction, ...).
MATCH_KEYS = {
    "route-type": "evpn route-type", "vni": "evpn vni", "ip-address-prefix-list": "ip address prefix-list",
    "ip6-address-prefix-list": "ipv6 address prefix-list", "ip-next-hop-prefix-list": "ip next-hop prefix-list",
    "ip6-next-hop-prefix-list": "ipv6 next-hop prefix-list", "ip-next-hop-address": "ip next-hop address",
    "ip6-next-hop-address": "ipv6 next-hop address", "metric": "metric", "local-preference": "local-preference",
    "peer": "peer", "tag": "tag",
}
SET_KEYS = {
    "ip-next-hop-peer-address": "ip next-hop peer-address", "ip-next-hop-unchanged": "ip next-hop unchanged",
    "ip-next-hop": "ip next-hop", "ip6-next-hop-peer-address": "ipv6 next-hop peer-address",
    "ip6-next-hop-prefer-global": "ipv6 next-hop prefer-global", "ip6-next-hop": "ipv6 next-hop global",
    "local-preference": "local-preference", "tag": "tag", "weight": "weight", "metric": "metric", "src": "src",
}
EXIT_KEYS = {"on-match-next": "on-match next", "on-match-goto": "on-match goto", "continue": "continue"}


def _action(text: str, keys: dict[str, str]) -> dict[str, Any]:
    parts = property_string(text)
    action: dict[str, Any] = {"key": keys.get(parts.get("key", ""), parts.get("key", ""))}
    if parts.get("value") is not None:
        action["value"] = parts["value"]
    return action


def _routing_policy(src: Sources, frr: _Frr) -> None:
    """build_frr_prefix_lists and build_frr_route_maps: every prefix list and route map of the
    config, each replacing a generated one of the same name (the route map whole), entries of a
    route map by their order."""
    for prefix_list_id, section in sorted(src.prefix_lists.items()):
        rules = []
        for text in section.get("entries") or []:
            parts = property_string(text)
            rule: dict[str, Any] = {"action": parts.get("action"), "network": parts.get("prefix"), "seq": parts.get("seq"),
                                    "is_ipv6": _is_ipv6(str(parts.get("prefix", "")).partition("/")[0])}
            rule.update({key: parts[key] for key in ("le", "ge") if parts.get(key)})
            rules.append(rule)
        frr.prefix_lists[prefix_list_id] = rules
    route_maps: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for entry_id, section in src.route_maps.items():
        route_map_id, order = split_entry_id(entry_id)
        entry: dict[str, Any] = {"seq": order, "action": section.get("action"),
                                 "matches": [_action(t, MATCH_KEYS) for t in section.get("match") or []],
                                 "sets": [_action(t, SET_KEYS) for t in section.get("set") or []]}
        if section.get("call"):
            entry["call"] = section["call"]
        if section.get("exit-action"):
            entry["exit_action"] = _action(str(section["exit-action"]), EXIT_KEYS)
        route_maps.setdefault(route_map_id, []).append((order, entry))
    for route_map_id, entries in route_maps.items():
        frr.routemaps[route_map_id] = [entry for _order, entry in sorted(entries, key=lambda item: item[0])]


# The FRR text: frr.conf.jinja and its includes, with minijinja's trim_blocks and lstrip_blocks


def _render(frr: _Frr, fabric_frr: str) -> list[str]:
    lines: list[str] = []
    for name, vrf in sorted(frr.vrfs.items()):  # bgpd.jinja
        lines += ["!", f"vrf {name}"] + ([f" vni {vrf['vni']}"] if vrf.get("vni") else [])
        lines += [f" {_route(route)}" for route in vrf.get("ip_routes") or []]
        lines.append("exit-vrf")
    # VrfName orders Default before every named VRF; those by name
    for name in sorted(frr.routers, key=lambda n: (n != "default", n)):
        router = frr.routers[name]
        lines += ["!", f"router bgp {router.get('asn')}" + ("" if name == "default" else f" vrf {name}")]
        lines += _bgp_router(router) + ["exit"]
    for name, router in sorted(frr.isis_routers.items()):  # isisd.jinja
        lines += ["!", f"router isis {name}", f" net {router['net']}"]
        redistribute = router.get("redistribute") or {}
        lines += [f" redistribute ipv4 connected {redistribute['ipv4_connected']}"] if redistribute.get("ipv4_connected") else []
        lines += [f" redistribute ipv6 connected {redistribute['ipv6_connected']}"] if redistribute.get("ipv6_connected") else []
        lines += [" log-adjacency-changes"] if router.get("log_adjacency_changes") else []
        lines.append("exit")
    for name, iface in sorted(frr.isis_interfaces.items()):
        lines += ["!", f"interface {name}"]
        lines += [f" ip router isis {iface['domain']}"] if iface.get("domain") and iface.get("is_ipv4") else []
        lines += [f" ipv6 router isis {iface['domain']}"] if iface.get("domain") and iface.get("is_ipv6") else []
        lines.append("exit")
    for name, rules in sorted(frr.prefix_lists.items()):  # prefix_lists.jinja
        lines.append("!")
        for rule in rules:
            lines.append(f"{'ipv6' if rule.get('is_ipv6') else 'ip'} prefix-list {name} "
                         + (f"seq {rule['seq']} " if rule.get("seq") else "") + f"{rule['action']} {rule['network']}"
                         + (f" le {rule['le']}" if rule.get("le") else "") + (f" ge {rule['ge']}" if rule.get("ge") else ""))
    lines += _fabric_blocks(fabric_frr)  # fabricd.jinja, ospfd.jinja: fabrics.py's rendering
    for name, entries in sorted(frr.routemaps.items()):  # route_maps.jinja
        for entry in entries:
            lines += ["!", f"route-map {name} {entry['action']} {entry['seq']}"]
            lines += [f" match {_key_value(match)}" for match in entry.get("matches") or []]
            lines += [f" set {_key_value(item)}" for item in entry.get("sets") or []]
            lines += [f" call {entry['call']}"] if entry.get("call") else []
            lines += [f" {_key_value(entry['exit_action'])}"] if entry.get("exit_action") else []
            lines.append("exit")
    for route in frr.ip_routes:  # ip_routes.jinja
        lines += ["!", _route(route)]
    for protocol in ("ospf", "openfabric", "bgp"):  # protocol_routemaps.jinja, FrrProtocol's order
        maps = frr.protocol_routemaps.get(protocol)
        if maps is None:
            continue
        lines.append("!")
        lines += [f"ip protocol {protocol} route-map {maps['v4']}"] if maps.get("v4") else []
        lines += ["!", f"ipv6 protocol {protocol} route-map {maps['v6']}"] if maps.get("v6") else []
    return lines


def _key_value(item: dict[str, Any]) -> str:
    return str(item["key"]) + (f" {item['value']}" if item.get("value") is not None else "")


def _route(route: dict[str, Any]) -> str:
    text = f"{'ipv6' if route.get('is_ipv6') else 'ip'} route {route['prefix']} {route['via']}"
    return text + (f" {route['vrf']}" if route.get("vrf") else "")


def _bgp_router(router: dict[str, Any]) -> list[str]:
    """bgp_router.jinja's bgp_router macro."""
    lines = [f" bgp router-id {router.get('router_id')}"]
    lines += [" no bgp hard-administrative-reset"] if router.get("hard_administrative_reset") is False else []
    lines += [" no bgp default ipv4-unicast"] if router.get("default_ipv4_unicast") is False else []
    lines += [f" coalesce-time {router['coalesce_time']}"] if router.get("coalesce_time") else []
    lines += [" no bgp graceful-restart notification"] if router.get("graceful_restart_notification") is False else []
    lines += [" bgp disable-ebgp-connected-route-check"] if router.get("disable_ebgp_connected_route_check") else []
    lines += [" bgp bestpath as-path multipath-relax"] if router.get("bestpath_as_path_multipath_relax") else []
    for group in router.get("neighbor_groups") or []:
        name = group["name"]
        lines += [f" neighbor {name} peer-group", f" neighbor {name} remote-as {group['remote_as']}"]
        lines += [f" neighbor {name} bfd"] if group.get("bfd") else []
        lines += [f" neighbor {name} ebgp-multihop {group['ebgp_multihop']}"] if group.get("ebgp_multihop") else []
        lines += [f" neighbor {name} update-source {group['update_source']}"] if group.get("update_source") else []
        lines += [f" neighbor {ip} peer-group {name}" for ip in group.get("ips") or []]
        lines += [f" neighbor {iface} interface peer-group {name}" for iface in group.get("interfaces") or []]
    families = router.get("address_families") or {}
    for key, title in (("ipv4_unicast", "ipv4 unicast"), ("ipv6_unicast", "ipv6 unicast")):
        family = families.get(key)
        if family is None:
            continue
        lines += [" !", f" address-family {title}"] + [f"  network {network}" for network in family.get("networks") or []]
        lines += _family_common(family)
        for item in family.get("redistribute") or []:
            lines.append(f"  redistribute {item['protocol']}" + (f" metric {item['metric']}" if item.get("metric") else "")
                         + (f" route-map {item['route_map']}" if item.get("route_map") else ""))
        lines.append(" exit-address-family")
    evpn = families.get("l2vpn_evpn")
    if evpn is not None:
        lines += [" !", " address-family l2vpn evpn"] + _family_common(evpn)
        lines += ["  advertise-all-vni"] if evpn.get("advertise_all_vni") else []
        lines += ["  advertise-default-gw"] if evpn.get("advertise_default_gw") else []
        lines += [f"  autort as {evpn['autort_as']}"] if evpn.get("autort_as") else []
        lines += [f"  default-originate {family}" for family in evpn.get("default_originate") or []]
        lines += ["  advertise ipv4 unicast"] if evpn.get("advertise_ipv4_unicast") else []
        lines += ["  advertise ipv6 unicast"] if evpn.get("advertise_ipv6_unicast") else []
        targets = evpn.get("route_targets")
        if targets is not None:
            for kind in ("import", "export", "both"):
                lines += [f"  route-target {kind} {target}" for target in targets.get(kind) or []]
        lines.append(" exit-address-family")
    return lines


def _family_common(family: dict[str, Any]) -> list[str]:
    """bgp_router.jinja's address_family_common macro."""
    lines = [f"  import vrf {vrf}" for vrf in family.get("import_vrf") or []]
    for neighbor in family.get("neighbors") or []:
        name = neighbor["name"]
        lines.append(f"  neighbor {name} activate")
        lines += [f"  neighbor {name} soft-reconfiguration inbound"] if neighbor.get("soft_reconfiguration_inbound") else []
        lines += [f"  neighbor {name} route-map {neighbor['route_map_in']} in"] if neighbor.get("route_map_in") else []
        lines += [f"  neighbor {name} route-map {neighbor['route_map_out']} out"] if neighbor.get("route_map_out") else []
    return lines


def _fabric_blocks(text: str) -> list[str]:
    """fabrics.py's fabric FRR blocks (each closed by "!") in the templates' form: "!" before each."""
    lines: list[str] = []
    block: list[str] = []
    for line in text.splitlines():
        if line == "!":
            lines += ["!"] + block if block else []
            block = []
        else:
            block.append(line)
    return lines + (["!"] + block if block else [])


# The node's current files and the answer


def _reloads(remote: Remote, node: str, now: float) -> list[Any]:
    """The node's finished srvreload tasks that generated its files, oldest first."""
    tasks = [task for task in remote.tasks.tasks.values()
             if task.node == node and task.type == "srvreload" and task.stopped(now) and task.outcome in ("ok", "error")]
    return sorted(tasks, key=lambda task: task.end or 0.0)


def _written_at(task: Any, text: str) -> Optional[float]:
    """When the task's log says it wrote a file (its line begins with `text`)."""
    return next((task.start + float(offset) for offset, line in task.log if str(line).startswith(text)), None)


def sources(remote: Remote, *, pending: bool, version: int) -> Sources:
    cfg = remote.config
    running_fabrics = Fabrics.from_running(cfg.running)

    def pick(kind: str) -> dict[str, dict]:
        return cfg.pending[kind] if pending else cfg.running_ids(kind)

    return Sources(version=version, zones=pick("zones"), vnets=pick("vnets"), controllers=pick("controllers"),
                   vnet_subnets=cfg.running_ids("subnets"), all_subnets=pick("subnets"),
                   fabric_config=Fabrics.from_sections(cfg.pending["fabrics"]) if pending else running_fabrics,
                   underlay=running_fabrics, prefix_lists=pick("prefix-lists"), route_maps=pick("route-maps"))


def answer(remote: Remote, node: str, now: float) -> dict[str, Optional[str]]:
    """The dry-run's answer for `node` at `now`.

    The node's current files are what its last finished reload wrote: the interfaces file with
    that reload's version (none before its first reload), frr.conf once a reload regenerated FRR;
    their content is rendered from the running config (the emulator keeps no older one). The new
    files are rendered from the pending config with the running version (1 before any apply)."""
    facts = NodeFacts(remote.nodes, node)
    version, _broken = node_state(remote, node, now)
    reloads = _reloads(remote, node, now)
    current = sources(remote, pending=False, version=version)
    new = sources(remote, pending=True, version=remote.config.version or 1)
    pve92 = remote.pve92

    old_interfaces, old_interfaces_time = "", None
    if version and reloads:
        old_interfaces, old_interfaces_time = interfaces_file(current, facts), _written_at(reloads[-1], _WROTE_INTERFACES)
    old_frr, old_frr_time = "", None
    frr_reloads = [task for task in reloads if _written_at(task, _WROTE_FRR) is not None]
    if frr_reloads:
        try:
            old_frr, old_frr_time = frr_file(current, facts, pve92=pve92), _written_at(frr_reloads[-1], _WROTE_FRR)
        except Die:  # the reload's FRR generation died (a faucet controller): it wrote nothing (taken as missing)
            old_frr, old_frr_time = "", None
    new_frr, new_interfaces = frr_file(new, facts, pve92=pve92), interfaces_file(new, facts)

    worker = f"/proc/{_WORKER_PID_BASE + facts.number}/fd"
    return {"frr-diff": unified_diff(FRR_FILE, _mtime(old_frr_time), f"{worker}/{_FRR_FD}", _mtime(now), old_frr, new_frr),
            "interfaces-diff": unified_diff(INTERFACES_FILE, _mtime(old_interfaces_time), f"{worker}/{_INTERFACES_FD}",
                                            _mtime(now), old_interfaces, new_interfaces)}


def _mtime(when: Optional[float]) -> str:
    """A file time as GNU diff's unified header shows it (UTC here: the node's time zone is not known)."""
    if when is None:
        return _EPOCH
    seconds = int(when)
    nanos = min(int(round((when - seconds) * 1e9)), 999_999_999)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d} +0000"


# `diff -b -N -u` as GNU diffutils computes it: the identical ends set aside (but for a horizon of
# context lines), lines without a match in the other file discarded, a shortest edit script of the
# rest by Myers' bidirectional search for a middle snake, the boundaries of its runs shifted, then
# unified hunks. Its heuristics for costly comparisons (a cost of 4096 and more) are left out.


CONTEXT = 3
_SPACE = re.compile(r"[ \t\v\f\r]+")


def _ignoring_space_change(line: str) -> str:
    """-b: a run of white space counts as one space, white space at the end of a line as none."""
    return _SPACE.sub(" ", line).rstrip(" ")


def unified_diff(old_label: str, old_time: str, new_label: str, new_time: str, old: str, new: str) -> Optional[str]:
    """The output of `diff -b -N -u OLD NEW` for two texts ending in a newline (or empty), None
    when it is empty (no difference)."""
    a, b = old.splitlines(), new.splitlines()
    changed_a, changed_b = _changes(a, b)
    if not any(changed_a) and not any(changed_b):
        return None
    out = [f"--- {old_label}\t{old_time}\n", f"+++ {new_label}\t{new_time}\n"]
    for hunk in _hunks(_change_groups(changed_a, changed_b), len(a), len(b)):
        (start_a, end_a, start_b, end_b), groups = hunk
        out.append(f"@@ -{_range(start_a, end_a)} +{_range(start_b, end_b)} @@\n")
        i = start_a
        for line_a, deleted, line_b, inserted in groups:
            out += [f" {a[k]}\n" for k in range(i, line_a)]
            out += [f"-{a[k]}\n" for k in range(line_a, line_a + deleted)]
            out += [f"+{b[k]}\n" for k in range(line_b, line_b + inserted)]
            i = line_a + deleted
        out += [f" {a[k]}\n" for k in range(i, end_a)]
    return "".join(out)


def _range(start: int, end: int) -> str:
    length = end - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def _changes(a: list[str], b: list[str]) -> tuple[list[bool], list[bool]]:
    """Which lines of each side the edit script deletes or inserts."""
    changed_a, changed_b = [False] * len(a), [False] * len(b)
    # io.c find_identical_ends: the lines identical byte for byte at both ends are not looked at,
    # but for CONTEXT lines next to the rest
    prefix = 0
    while prefix < len(a) and prefix < len(b) and a[prefix] == b[prefix]:
        prefix += 1
    first = max(0, prefix - CONTEXT)
    suffix = 0
    limit = min(len(a), len(b)) - first
    while suffix < limit and a[len(a) - 1 - suffix] == b[len(b) - 1 - suffix]:
        suffix += 1
    last_a, last_b = len(a) - max(0, suffix - CONTEXT), len(b) - max(0, suffix - CONTEXT)
    classes: dict[str, int] = {}
    xa = [classes.setdefault(_ignoring_space_change(line), len(classes) + 1) for line in a[first:last_a]]
    xb = [classes.setdefault(_ignoring_space_change(line), len(classes) + 1) for line in b[first:last_b]]
    region_a, region_b = [False] * len(xa), [False] * len(xb)
    keep_a, keep_b = _discard_confusing_lines(xa, xb, region_a, region_b)
    _compareseq([xa[k] for k in keep_a], [xb[k] for k in keep_b], keep_a, keep_b, region_a, region_b)
    _shift_boundaries(xa, region_a, region_b)
    _shift_boundaries(xb, region_b, region_a)
    changed_a[first:last_a], changed_b[first:last_b] = region_a, region_b
    return changed_a, changed_b


def _discard_confusing_lines(xa: list[int], xb: list[int], changed_a: list[bool],
                             changed_b: list[bool]) -> tuple[list[int], list[int]]:
    """analyze.c discard_confusing_lines: a line with no match on the other side is a change
    whatever the script; a line with very many matches is left out too where it sits among such
    lines. Marks the discarded lines changed; answers the indexes of the lines kept."""
    counts: list[dict[int, int]] = [{}, {}]
    for side, lines in enumerate((xa, xb)):
        for value in lines:
            counts[side][value] = counts[side].get(value, 0) + 1
    kept: list[list[int]] = []
    for side, (lines, changed) in enumerate(((xa, changed_a), (xb, changed_b))):
        other = counts[1 - side]
        end = len(lines)
        many, tem = 5, end // 64
        while True:  # MANY times about the square root of the number of lines
            tem >>= 2
            if tem <= 0:
                break
            many *= 2
        discards = [0] * end
        for i, value in enumerate(lines):
            matches = other.get(value, 0)
            if matches == 0:
                discards[i] = 1
            elif matches > many:
                discards[i] = 2
        _settle_provisional(discards)
        kept.append([i for i in range(end) if discards[i] == 0])
        for i in range(end):
            if discards[i]:
                changed[i] = True
    return kept[0], kept[1]


def _settle_provisional(discards: list[int]) -> None:
    """Provisional discards (2) stay only inside a run of discards that begins and ends with a
    definite one, and not where they are a quarter of it or more, form long subruns, or sit near
    its ends (before three definite ones in a row, or within eight lines)."""
    end = len(discards)
    i = 0
    while i < end:
        if discards[i] == 2:
            discards[i] = 0
        elif discards[i] != 0:
            j, provisional = i, 0
            while j < end and discards[j] != 0:
                provisional += discards[j] == 2
                j += 1
            while j > i and discards[j - 1] == 2:
                j -= 1
                discards[j] = 0
                provisional -= 1
            length = j - i
            if provisional * 4 > length:
                while j > i:
                    j -= 1
                    if discards[j] == 2:
                        discards[j] = 0
            else:
                minimum, tem = 1, length >> 2
                while True:
                    tem >>= 2
                    if tem <= 0:
                        break
                    minimum <<= 1
                minimum += 1
                j = consec = 0
                while j < length:
                    if discards[i + j] != 2:
                        consec = 0
                    else:
                        consec += 1
                        if consec == minimum:
                            j -= consec  # back to the subrun's start, to cancel all of it
                        elif consec > minimum:
                            discards[i + j] = 0
                    j += 1
                _cancel_near_end(discards, i, length, 1)
                i += length - 1
                _cancel_near_end(discards, i, length, -1)
        i += 1


def _cancel_near_end(discards: list[int], at: int, length: int, step: int) -> None:
    consec = 0
    for j in range(length):
        index = at + step * j
        if j >= 8 and discards[index] == 1:
            break
        if discards[index] == 2:
            consec, discards[index] = 0, 0
        elif discards[index] == 0:
            consec = 0
        else:
            consec += 1
        if consec == 3:
            break


def _compareseq(xv: list[int], yv: list[int], real_x: list[int], real_y: list[int],
                changed_a: list[bool], changed_b: list[bool]) -> None:
    """diffseq.h compareseq: strip the equal ends of a part, split it at a middle snake, recurse
    (with a stack here)."""
    parts = [(0, len(xv), 0, len(yv))]
    while parts:
        xoff, xlim, yoff, ylim = parts.pop()
        while xoff < xlim and yoff < ylim and xv[xoff] == yv[yoff]:
            xoff, yoff = xoff + 1, yoff + 1
        while xoff < xlim and yoff < ylim and xv[xlim - 1] == yv[ylim - 1]:
            xlim, ylim = xlim - 1, ylim - 1
        if xoff == xlim:
            for y in range(yoff, ylim):
                changed_b[real_y[y]] = True
        elif yoff == ylim:
            for x in range(xoff, xlim):
                changed_a[real_x[x]] = True
        else:
            xmid, ymid = _middle_snake(xv, yv, xoff, xlim, yoff, ylim)
            parts.append((xmid, xlim, ymid, ylim))  # popped second: the lower part first, as in diffseq.h
            parts.append((xoff, xmid, yoff, ymid))


def _middle_snake(xv: list[int], yv: list[int], xoff: int, xlim: int, yoff: int, ylim: int) -> tuple[int, int]:
    """diffseq.h diag: the forward and the backward search, one edit step more on each diagonal
    at a time, until they overlap; where they do is the split point."""
    dmin, dmax = xoff - ylim, xlim - yoff
    fmid, bmid = xoff - yoff, xlim - ylim
    fmin = fmax = fmid
    bmin = bmax = bmid
    odd = (fmid - bmid) & 1
    fd: dict[int, int] = {fmid: xoff}
    bd: dict[int, int] = {bmid: xlim}
    big = xlim + ylim + 1  # OFFSET_MAX
    while True:
        if fmin > dmin:
            fmin -= 1
            fd[fmin - 1] = -1
        else:
            fmin += 1
        if fmax < dmax:
            fmax += 1
            fd[fmax + 1] = -1
        else:
            fmax -= 1
        for d in range(fmax, fmin - 1, -2):
            tlo, thi = fd.get(d - 1, -1), fd.get(d + 1, -1)
            x = thi if tlo < thi else tlo + 1
            y = x - d
            while x < xlim and y < ylim and xv[x] == yv[y]:
                x, y = x + 1, y + 1
            fd[d] = x
            if odd and bmin <= d <= bmax and bd.get(d, big) <= x:
                return x, y
        if bmin > dmin:
            bmin -= 1
            bd[bmin - 1] = big
        else:
            bmin += 1
        if bmax < dmax:
            bmax += 1
            bd[bmax + 1] = big
        else:
            bmax -= 1
        for d in range(bmax, bmin - 1, -2):
            tlo, thi = bd.get(d - 1, big), bd.get(d + 1, big)
            x = tlo if tlo < thi else thi - 1
            y = x - d
            while xoff < x and yoff < y and xv[x - 1] == yv[y - 1]:
                x, y = x - 1, y - 1
            bd[d] = x
            if not odd and fmin <= d <= fmax and x <= fd.get(d, -1):
                return x, y


def _shift_boundaries(lines: list[int], changed: list[bool], other: list[bool]) -> None:
    """GNU diff's boundary shifting on one side: each run of changed lines slides back while the
    line before it equals its last line (merging with runs before it), then forward as far as it
    can (merging with runs after it), and finally back to where it lines up with a run of changes
    on the other side, if it passed one. `j` follows the corresponding position on the other side."""
    n, m = len(lines), len(other)
    flags = list(changed)

    def mine(index: int) -> bool:
        return 0 <= index < n and flags[index]

    def theirs(index: int) -> bool:
        return 0 <= index < m and other[index]

    i = j = 0
    while True:
        while i < n and not flags[i]:
            while theirs(j):
                j += 1
            j += 1
            i += 1
        if i == n:
            break
        start = i
        i += 1
        while mine(i):
            i += 1
        while theirs(j):
            j += 1
        while True:
            run_length = i - start
            while start and lines[start - 1] == lines[i - 1]:
                start -= 1
                flags[start] = True
                i -= 1
                flags[i] = False
                while mine(start - 1):
                    start -= 1
                j -= 1
                while theirs(j):
                    j -= 1
            corresponding = i if theirs(j - 1) else n
            while i != n and lines[start] == lines[i]:
                flags[start] = False
                start += 1
                flags[i] = True
                i += 1
                while mine(i):
                    i += 1
                j += 1
                while theirs(j):
                    j += 1
                    corresponding = i
            if run_length == i - start:
                break
        while corresponding < i:
            start -= 1
            flags[start] = True
            i -= 1
            flags[i] = False
            j -= 1
            while theirs(j):
                j -= 1
    changed[:] = flags


def _change_groups(changed_a: list[bool], changed_b: list[bool]) -> list[tuple[int, int, int, int]]:
    """The changes as (first old line, lines deleted, first new line, lines inserted)."""
    groups = []
    i = j = 0
    n, m = len(changed_a), len(changed_b)
    while i < n or j < m:
        if i < n and j < m and not changed_a[i] and not changed_b[j]:
            i, j = i + 1, j + 1
            continue
        start_a, start_b = i, j
        while i < n and changed_a[i]:
            i += 1
        while j < m and changed_b[j]:
            j += 1
        if i == start_a and j == start_b:  # an unchanged line on one side only: not possible
            i, j = i + 1, j + 1
            continue
        groups.append((start_a, i - start_a, start_b, j - start_b))
    return groups


def _hunks(groups: list[tuple[int, int, int, int]], n: int, m: int) -> list[tuple[tuple[int, int, int, int], list]]:
    """Changes closer than twice the context share a hunk; each hunk with its line ranges."""
    hunks: list[list[tuple[int, int, int, int]]] = []
    for group in groups:
        if hunks and group[0] - (hunks[-1][-1][0] + hunks[-1][-1][1]) <= 2 * CONTEXT:
            hunks[-1].append(group)
        else:
            hunks.append([group])
    result = []
    for members in hunks:
        first, last = members[0], members[-1]
        start_a = max(0, first[0] - CONTEXT)
        end_a = min(n, last[0] + last[1] + CONTEXT)
        # the context lines are unchanged on both sides, so they line up one to one
        start_b = first[2] - (first[0] - start_a)
        end_b = last[2] + last[3] + (end_a - last[0] - last[1])
        result.append(((start_a, end_a, start_b, end_b), members))
    return result
