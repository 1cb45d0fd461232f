"""The checks pve-network's plugins make on SDN objects, with PVE's texts.

Sources: pve-sdn-objects.md §4 and pve-sdn-api.md §6. A `ParamError` here is PVE's structured
parameter exception, which the lock flattens into the 500 text of §3.4; a `Die` is a plain die.
`check_options` is SectionConfig's check_config; the rest are the plugins' hooks.
"""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from typing import Any

from pvefleet_emulator.errors import Die, ParamError, perl_die
from pvefleet_emulator.formats import split_list, subnet_id_parts
from pvefleet_emulator.sdn_config import SdnConfig

# Per type: (allowed options, required options) — each plugin's options() (objects §4.2, §4.5).
_DNS_IPAM = {"dns", "reversedns", "dnszone", "ipam"}
ZONE_TYPES: dict[str, tuple[set[str], set[str]]] = {
    "simple": ({"nodes", "mtu", "dhcp"} | _DNS_IPAM, set()),
    "vlan": ({"nodes", "bridge", "bridge-disable-mac-learning", "mtu"} | _DNS_IPAM, {"bridge"}),
    "qinq": ({"nodes", "tag", "bridge", "bridge-disable-mac-learning", "mtu", "vlan-protocol"} | _DNS_IPAM,
             {"tag", "bridge"}),
    "vxlan": ({"nodes", "peers", "fabric", "vxlan-port", "mtu"} | _DNS_IPAM, set()),
    "evpn": ({"nodes", "vrf-vxlan", "controller", "exitnodes", "exitnodes-local-routing", "exitnodes-primary",
              "advertise-subnets", "disable-arp-nd-suppression", "bridge-disable-mac-learning", "rt-import",
              "vxlan-port", "mtu", "mac"} | _DNS_IPAM, {"vrf-vxlan", "controller"}),
    "faucet": ({"nodes", "dp-id", "controller"} | _DNS_IPAM, {"dp-id", "controller"}),
}
CONTROLLER_TYPES: dict[str, tuple[set[str], set[str]]] = {
    "evpn": ({"asn", "peers", "fabric"}, {"asn"}),
    "bgp": ({"node", "asn", "peers", "ebgp", "ebgp-multihop", "loopback", "bgp-multipath-as-path-relax"},
            {"node", "asn", "peers"}),
    "isis": ({"isis-domain", "isis-net", "isis-ifaces", "node", "loopback"},
             {"isis-domain", "isis-net", "isis-ifaces", "node"}),
    "faucet": (set(), set()),
}
IPAM_TYPES: dict[str, tuple[set[str], set[str]]] = {
    "pve": (set(), set()),
    "netbox": ({"url", "token", "fingerprint"}, {"url", "token"}),
    "phpipam": ({"url", "token", "section", "fingerprint"}, {"url", "token", "section"}),
}
DNS_TYPES: dict[str, tuple[set[str], set[str]]] = {
    "powerdns": ({"url", "key", "ttl", "reversemaskv6", "reversev6mask", "fingerprint"}, {"url", "key"}),
}
# The untyped plugins: one option set for every vnet and every subnet.
VNET_OPTIONS = ({"zone", "tag", "alias", "vlanaware", "isolate-ports"}, {"zone"})
SUBNET_OPTIONS = ({"vnet", "gateway", "snat", "dnszoneprefix", "dhcp-range", "dhcp-dns-server"}, {"vnet"})
# List formats are stored as PVE writes them back: node lists sorted without duplicates.
NODE_LISTS = ("nodes", "exitnodes")


def normalise(section: dict[str, Any]) -> dict[str, Any]:
    for key in NODE_LISTS:
        if key in section:
            section[key] = ",".join(sorted(set(split_list(str(section[key])))))
    return section


def check_options(options: tuple[set[str], set[str]], section: dict[str, Any], *, create: bool) -> None:
    """SectionConfig's check_config: only the type's options; on create, every required one."""
    allowed, required = options
    for key in sorted(section):
        if key != "type" and key not in allowed:
            raise Die(f"unexpected property '{key}'\n")
    if create:
        for key in sorted(required):
            if key not in section:
                raise Die(f"missing value for required option '{key}'\n")


def updated(old: dict[str, Any], changes: dict[str, Any], delete: str | None,
            options: tuple[set[str], set[str]]) -> dict[str, Any]:
    """The object after an update: `delete` keys removed (with SectionConfig's refusals), the
    sent values set."""
    allowed, required = options
    section = dict(old)
    for key in split_list(delete or ""):
        if key not in allowed:
            raise Die(f"no such option '{key}'\n")
        if key in required:
            raise Die(f"unable to delete required option '{key}'\n")
        if key in changes:
            raise Die(f"cannot set and delete property '{key}' at the same time!\n")
        section.pop(key, None)
    section.update(changes)
    return normalise(section)


def random_mac() -> str:
    """A random unicast MAC with the locally administered bit set, uppercase (§6.1)."""
    first = (random.randint(0, 255) & 0xFC) | 0x02
    return ":".join(f"{octet:02X}" for octet in [first] + [random.randint(0, 255) for _octet in range(5)])


# Zones


def check_zone(cfg: SdnConfig, zone_id: str, section: dict[str, Any], *, old: dict[str, Any] | None) -> None:
    """Checks inside the lock on create and update (§6.1); may add a generated `mac`."""
    if section.get("dns") and section["dns"] not in cfg.pending["dns"]:
        raise ParamError({"dns": f"{section['dns']} don't exist"})
    if section.get("reversedns") and section["reversedns"] not in cfg.pending["dns"]:
        raise ParamError({"reversedns": f"{section['reversedns']} don't exist"})
    if section.get("dnszone") and not section.get("dns"):
        raise ParamError({"dnszone": "missing dns server"})
    if section.get("ipam") and section["ipam"] not in cfg.pending["ipams"]:
        raise ParamError({"ipam": f"{section['ipam']} not existing"})
    if old is not None and old.get("ipam") != section.get("ipam") and subnets_of_zone(cfg, zone_id):
        raise ParamError({"ipam": "can't change ipam if a subnet is already defined in this zone"})
    if section["type"] == "vxlan" and bool(section.get("peers")) == bool(section.get("fabric")):
        text = "must have exactly one of peers / fabric defined"
        raise ParamError({"peers": text, "fabric": text})
    if section["type"] == "evpn":
        _check_evpn_zone(cfg, zone_id, section)


def _check_evpn_zone(cfg: SdnConfig, zone_id: str, section: dict[str, Any]) -> None:
    where = "Network/SDN/Zones/EvpnPlugin.pm"
    controller_id = section["controller"]
    controller = cfg.pending["controllers"].get(controller_id)
    if controller is None:
        raise perl_die(f"controller {controller_id} don't exist", where)
    if controller.get("type") != "evpn":
        raise perl_die(f"{controller_id} is not a evpn controller type", where)
    for other_id, other in cfg.pending["zones"].items():
        if other_id != zone_id and other.get("vrf-vxlan") == section["vrf-vxlan"]:
            raise perl_die(f"vrf-vxlan {section['vrf-vxlan']} is already declared in {other_id}", where)
    if "mac" not in section:
        section["mac"] = random_mac()


def subnets_of_zone(cfg: SdnConfig, zone_id: str) -> list[str]:
    return [sid for sid in cfg.pending["subnets"] if (subnet_id_parts(sid) or ("",))[0] == zone_id]


def check_zone_delete(cfg: SdnConfig, zone_id: str) -> None:
    for vnet_id, vnet in sorted(cfg.pending["vnets"].items()):
        if vnet.get("zone") == zone_id:
            raise perl_die(f"zone {zone_id} is used by vnet {vnet_id}", "Network/SDN/Zones/Plugin.pm")


# Vnets


def check_vnet(cfg: SdnConfig, vnet_id: str, section: dict[str, Any], *, old: dict[str, Any] | None) -> None:
    """Checks inside the lock (§6.2, objects §4.3): the zone, subnets, the zone type's tag rules."""
    zone_id = section.get("zone")
    zone = cfg.pending["zones"].get(zone_id or "")
    if zone is None:
        raise perl_die("cannot lookup undefined type!", "SectionConfig.pm")  # no plugin for no type
    subnets = subnets_of_vnet(cfg, vnet_id)
    if old is not None and old.get("zone") != zone_id and subnets:
        raise ParamError({"zone": "can't change zone if subnets exist"})
    if section.get("vlanaware") and subnets:
        raise ParamError({"vlanaware": "vlanaware vnet is not compatible with subnets"})
    others = {vid: v for vid, v in sorted(cfg.pending["vnets"].items()) if vid != vnet_id}
    _TAG_RULES.get(zone["type"], _no_tag_rule)(cfg, str(zone_id), section, others)


def _simple_tags(_cfg: SdnConfig, _zone_id: str, section: dict, _others: dict) -> None:
    if section.get("tag") is not None:
        raise ParamError({"tag": "vlan tag is not allowed on simple zone"})


def _vlan_tags(_cfg: SdnConfig, zone_id: str, section: dict, others: dict) -> None:
    tag = section.get("tag")
    if tag is None:
        raise ParamError({"tag": "missing vlan tag"})
    if tag > 4096:
        raise ParamError({"tag": "vlan tag max value is 4096"})
    for vid, other in others.items():
        if other.get("zone") == zone_id and other.get("tag") == tag:
            raise ParamError({"tag": f"tag {tag} already exist in vnet {vid}"})


def _qinq_tags(_cfg: SdnConfig, zone_id: str, section: dict, others: dict) -> None:
    tag = section.get("tag")
    if tag is not None and tag > 4096:
        raise ParamError({"tag": "VLAN tag maximal value is 4096"})
    for vid, other in others.items():
        if other.get("zone") != zone_id:
            continue
        if tag is not None and other.get("tag") == tag:
            raise ParamError({"tag": f"tag {tag} already exist in zone {zone_id} vnet {vid}"})
        if tag is None and other.get("tag") is None:
            raise ParamError({"tag": f"tag-less vnet already exists in zone {zone_id} vnet {vid}"})


def _vxlan_tags(cfg: SdnConfig, _zone_id: str, section: dict, others: dict) -> None:
    tag = section.get("tag")
    if tag is None:
        raise ParamError({"tag": "missing vxlan tag"})
    if tag > 16777216:
        raise ParamError({"tag": "vxlan tag max value is 16777216"})
    for vid, other in others.items():
        other_zone = cfg.pending["zones"].get(other.get("zone") or "", {})
        if other_zone.get("type") in ("vxlan", "evpn") and other.get("tag") == tag:
            raise ParamError({"tag": f"vxlan tag {tag} already exist in vnet {vid} in zone {other.get('zone')} "})


def _evpn_tags(cfg: SdnConfig, zone_id: str, section: dict, others: dict) -> None:
    _vxlan_tags(cfg, zone_id, section, others)
    if section.get("vlanaware"):
        raise ParamError({"vlan-aware": "vlan-aware option can't be enabled with evpn"})


def _no_tag_rule(_cfg: SdnConfig, _zone_id: str, _section: dict, _others: dict) -> None:
    """faucet zones have no vnet hook."""


_TAG_RULES = {"simple": _simple_tags, "vlan": _vlan_tags, "qinq": _qinq_tags, "vxlan": _vxlan_tags,
              "evpn": _evpn_tags}


def subnets_of_vnet(cfg: SdnConfig, vnet_id: str) -> list[str]:
    return [sid for sid, subnet in cfg.pending["subnets"].items() if subnet.get("vnet") == vnet_id]


def check_vnet_delete(cfg: SdnConfig, vnet_id: str) -> None:
    if subnets_of_vnet(cfg, vnet_id):
        raise ParamError({"vnet": "Can't delete vnet if subnets exists"})


# Subnets


def subnet_id(zone_id: str, cidr: str) -> str:
    """The stored ID of a subnet: `<zone>-<address>-<prefix length>` (§6.3)."""
    address, _sep, length = cidr.partition("/")
    return f"{zone_id}-{address}-{length}"


def subnet_cidr(object_id: str) -> str:
    parts = subnet_id_parts(object_id)
    if parts is None:
        raise Die(f"sdn subnet '{object_id}' does not exist\n")
    return f"{parts[1]}/{parts[2]}"


def check_subnet(cfg: SdnConfig, object_id: str, section: dict[str, Any]) -> None:
    """Checks inside the lock (objects §4.4): the vnet, the gateway, the DHCP ranges."""
    vnet = cfg.pending["vnets"].get(section.get("vnet") or "")
    if vnet is None:
        raise ParamError({"vnet": f"{section.get('vnet')} don't exist"})
    if vnet.get("vlanaware"):
        raise ParamError({"vnet": "you can't add a subnet on a vlanaware vnet"})
    cidr = subnet_cidr(object_id)
    network = ipaddress.ip_network(cidr, strict=False)
    gateway = section.get("gateway")
    if gateway:
        address = ipaddress.ip_address(gateway)
        point_to_point = network.version == 4 and network.prefixlen == 32
        if not point_to_point and (address.version != network.version or address not in network):
            raise ParamError({"gateway": f"{gateway} is not in subnet {cidr}"})
    _check_dhcp_ranges(network, cidr, section.get("dhcp-range") or [])


def dhcp_range_parts(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def _check_dhcp_ranges(network: Any, cidr: str, ranges: Iterable[str]) -> None:
    seen: list[tuple[Any, Any]] = []
    for text in ranges:
        parts = dhcp_range_parts(text)
        start = ipaddress.ip_address(parts["start-address"])
        end = ipaddress.ip_address(parts["end-address"])
        for name, address in (("start-address", start), ("end-address", end)):
            if address.version != network.version or address not in network:
                raise ParamError({"dhcp-range": f"{name} {address} is not in subnet {cidr}"})
        if start.version == end.version and int(start) > int(end):
            raise ParamError({"dhcp-range": f"start-address {start} must be smaller than end-address {end}"})
        if any(start <= other_end and other_start <= end for other_start, other_end in seen):
            raise ParamError({"dhcp-range": "dhcp ranges must not overlap"})
        seen.append((start, end))


# Controllers


def check_controller(cfg: SdnConfig, controller_id: str, section: dict[str, Any]) -> None:
    """The controller plugins' hooks, inside the lock (objects §4.5)."""
    others = [c for cid, c in cfg.pending["controllers"].items() if cid != controller_id]
    kind = section["type"]
    if kind == "evpn":
        if bool(section.get("peers")) == bool(section.get("fabric")):
            raise Die("must have exactly one of peers / fabric defined\n")
        if any(c.get("type") == "evpn" for c in others):
            raise Die("only 1 global evpn controller can be defined\n")
    if kind == "bgp" and any(c.get("type") == "bgp" and c.get("node") == section.get("node") for c in others):
        raise Die("only 1 bgp controller can be defined\n")
    if kind == "isis" and any(c.get("type") == "isis" and c.get("node") == section.get("node") for c in others):
        raise Die("only 1 bgp or isis controller can be defined\n")


def check_controller_delete(cfg: SdnConfig, controller_id: str) -> None:
    controller = cfg.pending["controllers"].get(controller_id, {})
    if controller.get("type") not in ("evpn", "bgp"):
        return
    for zone_id, zone in sorted(cfg.pending["zones"].items()):
        if zone.get("controller") == controller_id:
            raise Die(f"controller {controller_id} is used by {zone_id}\n")
        # PVE 9.2 Controllers/EvpnPlugin.pm on_delete_hook: a zone's secondary-controllers too
        if controller.get("type") == "evpn" and controller_id in (zone.get("secondary-controllers") or []):
            raise Die(f"controller {controller_id} is used by {zone_id}\n")
