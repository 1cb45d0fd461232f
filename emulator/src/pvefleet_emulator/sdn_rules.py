"""The checks pve-network's plugins make on zones, vnets, subnets and controllers.

Messages are PVE's (pve-sdn-objects.md §4, pve-sdn-api.md §6). `Die` is a plain Perl die (a 500
with that text); `ParamError` is a structured parameter exception, which PVE flattens into a 500
text when raised inside its lock (§3.4). A Perl die without a trailing newline gets PVE's
" at FILE line N." suffix: `perl_die()` adds one.
"""
from __future__ import annotations

import ipaddress
import random

from pvefleet_emulator.schema import ParamError, split_list
from pvefleet_emulator.sdn_config import SdnConfig


class Die(Exception):
    """A plain die: HTTP 500 with this text."""


# Where pve-network 1.3.0 raises these (the line numbers differ between versions; clients must
# match on the text before " at ").
_LINES = {"Network/SDN.pm": 291, "API2/Network/SDN.pm": 149, "Network/SDN/Zones/EvpnPlugin.pm": 208,
          "Network/SDN/Zones/Plugin.pm": 233, "SectionConfig.pm": 590}


def perl_die(text: str, where: str) -> Die:
    """A die without a trailing newline: Perl appends where it happened."""
    return Die(f"{text} at /usr/share/perl5/PVE/{where} line {_LINES.get(where, 100)}.\n")


ZONE_OPTIONS = {
    "simple": ({"nodes", "mtu", "dns", "reversedns", "dnszone", "ipam", "dhcp"}, set()),
    "vlan": ({"nodes", "bridge", "bridge-disable-mac-learning", "mtu", "dns", "reversedns", "dnszone", "ipam"},
             {"bridge"}),
    "qinq": ({"nodes", "tag", "bridge", "bridge-disable-mac-learning", "mtu", "vlan-protocol", "dns",
              "reversedns", "dnszone", "ipam"}, {"tag", "bridge"}),
    "vxlan": ({"nodes", "peers", "fabric", "vxlan-port", "mtu", "dns", "reversedns", "dnszone", "ipam"}, set()),
    "evpn": ({"nodes", "vrf-vxlan", "controller", "exitnodes", "exitnodes-local-routing", "exitnodes-primary",
              "advertise-subnets", "disable-arp-nd-suppression", "bridge-disable-mac-learning", "rt-import",
              "vxlan-port", "mtu", "mac", "dns", "reversedns", "dnszone", "ipam"}, {"vrf-vxlan", "controller"}),
    "faucet": ({"nodes", "dp-id", "controller", "dns", "reversedns", "dnszone", "ipam"}, {"dp-id", "controller"}),
}
CONTROLLER_OPTIONS = {
    "evpn": ({"asn", "peers", "fabric"}, {"asn"}),
    "bgp": ({"node", "asn", "peers", "ebgp", "ebgp-multihop", "loopback", "bgp-multipath-as-path-relax"},
            {"node", "asn", "peers"}),
    "isis": ({"isis-domain", "isis-net", "isis-ifaces", "node", "loopback"},
             {"isis-domain", "isis-net", "isis-ifaces", "node"}),
    "faucet": (set(), set()),
}
VNET_KEYS = {"zone", "tag", "alias", "vlanaware", "isolate-ports", "type"}
SUBNET_KEYS = {"gateway", "snat", "dnszoneprefix", "dhcp-range", "dhcp-dns-server", "type", "vnet"}


def check_type_options(options: dict, section: dict) -> None:
    """SectionConfig's check_config: only the type's options, every required one present."""
    allowed, required = options[section["type"]]
    for key in sorted(section):
        if key not in allowed and key not in ("type",):
            raise Die(f"unexpected property '{key}'\n")
    for key in sorted(required):
        if key not in section:
            raise Die(f"missing value for required option '{key}'\n")


# Zones


def check_zone(cfg: SdnConfig, zone_id: str, section: dict, *, update: bool) -> None:
    if section.get("dns") and section["dns"] not in cfg.pending["dns"]:
        raise ParamError({"dns": f"{section['dns']} don't exist"})
    if section.get("reversedns") and section["reversedns"] not in cfg.pending["dns"]:
        raise ParamError({"reversedns": f"{section['reversedns']} don't exist"})
    if section.get("dnszone") and not section.get("dns"):
        raise ParamError({"dnszone": "missing dns server"})
    if section.get("ipam") and section["ipam"] not in cfg.pending["ipams"]:
        raise ParamError({"ipam": f"{section['ipam']} not existing"})
    if update:
        old = cfg.pending["zones"][zone_id]
        has_subnets = any(s.get("zone") == zone_id or sid.startswith(zone_id + "-")
                          for sid, s in cfg.pending["subnets"].items())
        if old.get("ipam") != section.get("ipam") and has_subnets:
            raise ParamError({"ipam": "can't change ipam if a subnet is already defined in this zone"})
    if section["type"] == "vxlan" and bool(section.get("peers")) == bool(section.get("fabric")):
        raise ParamError({"peers": "must have exactly one of peers / fabric defined",
                          "fabric": "must have exactly one of peers / fabric defined"})
    if section["type"] == "evpn":
        controller = cfg.pending["controllers"].get(section["controller"])
        if controller is None:
            raise perl_die(f"controller {section['controller']} don't exist", "Network/SDN/Zones/EvpnPlugin.pm")
        if controller.get("type") != "evpn":
            raise perl_die(f"{section['controller']} is not a evpn controller type", "Network/SDN/Zones/EvpnPlugin.pm")
        for other_id, other in cfg.pending["zones"].items():
            if other_id != zone_id and other.get("vrf-vxlan") == section["vrf-vxlan"]:
                raise perl_die(f"vrf-vxlan {section['vrf-vxlan']} is already declared in {other_id}",
                               "Network/SDN/Zones/EvpnPlugin.pm")
        if "mac" not in section:
            section["mac"] = random_mac()


def random_mac() -> str:
    octets = [0x02 | (random.randint(0, 255) & 0xFC)] + [random.randint(0, 255) for _octet in range(5)]
    return ":".join(f"{o:02X}" for o in octets)


def check_zone_delete(cfg: SdnConfig, zone_id: str) -> None:
    for vnet_id, vnet in sorted(cfg.pending["vnets"].items()):
        if vnet.get("zone") == zone_id:
            raise perl_die(f"zone {zone_id} is used by vnet {vnet_id}", "Network/SDN/Zones/Plugin.pm")


# Vnets


def check_vnet(cfg: SdnConfig, vnet_id: str, section: dict, *, old: dict | None) -> None:
    zone = cfg.pending["zones"].get(section.get("zone", ""))
    if zone is None:
        raise perl_die("cannot lookup undefined type!", "SectionConfig.pm")
    subnets = [sid for sid, s in cfg.pending["subnets"].items() if s.get("vnet") == vnet_id]
    if old is not None:
        if old.get("zone") != section.get("zone") and subnets:
            raise ParamError({"zone": "can't change zone if subnets exist"})
    if section.get("vlanaware") and subnets:
        raise ParamError({"vlanaware": "vlanaware vnet is not compatible with subnets"})
    tag, ztype, zone_id = section.get("tag"), zone["type"], section["zone"]
    others = {vid: v for vid, v in cfg.pending["vnets"].items() if vid != vnet_id}
    if ztype == "simple" and tag is not None:
        raise ParamError({"tag": "vlan tag is not allowed on simple zone"})
    if ztype == "vlan":
        if tag is None:
            raise ParamError({"tag": "missing vlan tag"})
        if tag > 4096:
            raise ParamError({"tag": "vlan tag max value is 4096"})
        for vid, v in sorted(others.items()):
            if v.get("zone") == zone_id and v.get("tag") == tag:
                raise ParamError({"tag": f"tag {tag} already exist in vnet {vid}"})
    if ztype == "qinq":
        if tag is not None and tag > 4096:
            raise ParamError({"tag": "VLAN tag maximal value is 4096"})
        for vid, v in sorted(others.items()):
            if v.get("zone") != zone_id:
                continue
            if tag is not None and v.get("tag") == tag:
                raise ParamError({"tag": f"tag {tag} already exist in zone {zone_id} vnet {vid}"})
            if tag is None and v.get("tag") is None:
                raise ParamError({"tag": f"tag-less vnet already exists in zone {zone_id} vnet {vid}"})
    if ztype in ("vxlan", "evpn"):
        if tag is None:
            raise ParamError({"tag": "missing vxlan tag"})
        if tag > 16777216:
            raise ParamError({"tag": "vxlan tag max value is 16777216"})
        for vid, v in sorted(others.items()):
            other_zone = cfg.pending["zones"].get(v.get("zone", ""), {})
            if other_zone.get("type") in ("vxlan", "evpn") and v.get("tag") == tag:
                raise ParamError({"tag": f"vxlan tag {tag} already exist in vnet {vid} in zone {v.get('zone')} "})
        if ztype == "evpn" and section.get("vlanaware"):
            raise ParamError({"vlan-aware": "vlan-aware option can't be enabled with evpn"})


def check_vnet_delete(cfg: SdnConfig, vnet_id: str) -> None:
    if any(s.get("vnet") == vnet_id for s in cfg.pending["subnets"].values()):
        raise ParamError({"vnet": "Can't delete vnet if subnets exists"})


# Subnets


def subnet_key(zone: str, cidr: str) -> str:
    network = ipaddress.ip_network(cidr, strict=False)
    address = cidr.split("/", maxsplit=1)[0] if "/" in cidr else network.network_address
    return f"{zone}-{address}-{network.prefixlen}"


def parse_subnet_ref(ref: str, zone: str) -> str:
    """A `{subnet}` path value (CIDR or ID) as the stored ID."""
    if "/" in ref:
        return subnet_key(zone, ref)
    return ref


def subnet_cidr(subnet_id: str) -> str:
    parts = subnet_id.split("-")
    return f"{'-'.join(parts[1:-1])}/{parts[-1]}"


def check_subnet(cfg: SdnConfig, subnet_id: str, section: dict) -> None:
    vnet = cfg.pending["vnets"].get(section["vnet"])
    if vnet is None:
        raise ParamError({"vnet": f"{section['vnet']} don't exist"})
    if vnet.get("vlanaware"):
        raise ParamError({"vnet": "you can't add a subnet on a vlanaware vnet"})
    network = ipaddress.ip_network(subnet_cidr(subnet_id), strict=False)
    gateway = section.get("gateway")
    if gateway:
        address = ipaddress.ip_address(gateway)
        p2p = network.version == 4 and network.prefixlen == 32
        if (address.version != network.version or address not in network) and not p2p:
            raise ParamError({"gateway": f"{gateway} is not in subnet {subnet_cidr(subnet_id)}"})
    ranges = []
    for item in section.get("dhcp-range") or []:
        parts = dict(p.split("=", 1) for p in item.split(",") if "=" in p)
        start, end = ipaddress.ip_address(parts["start-address"]), ipaddress.ip_address(parts["end-address"])
        for name, address in (("start-address", start), ("end-address", end)):
            if address.version != network.version or address not in network:
                raise ParamError({"dhcp-range": f"{name} {address} is not in subnet {subnet_cidr(subnet_id)}"})
        if start > end:
            raise ParamError({"dhcp-range": f"start-address {start} must be smaller than end-address {end}"})
        if any(start <= b and a <= end for a, b in ranges):
            raise ParamError({"dhcp-range": "dhcp ranges must not overlap"})
        ranges.append((start, end))


def subnet_output(subnet_id: str, values: dict, cfg_zone: str | None = None) -> dict:
    cidr = subnet_cidr(subnet_id)
    network = ipaddress.ip_network(cidr, strict=False)
    out = dict(values)
    ranges = out.get("dhcp-range") or []
    if isinstance(ranges, str):
        ranges = [ranges]
    out["dhcp-range"] = [dict(p.split("=", 1) for p in item.split(",") if "=" in p) for item in ranges]
    out.update(id=subnet_id, subnet=subnet_id, cidr=cidr, network=cidr.split("/", maxsplit=1)[0],
               mask=str(network.prefixlen), zone=cfg_zone or subnet_id.split("-")[0])
    return out


# Controllers


def check_controller(cfg: SdnConfig, controller_id: str, section: dict) -> None:
    others = {cid: c for cid, c in cfg.pending["controllers"].items() if cid != controller_id}
    ctype = section["type"]
    if ctype == "evpn":
        if bool(section.get("peers")) == bool(section.get("fabric")):
            raise Die("must have exactly one of peers / fabric defined\n")
        if any(c.get("type") == "evpn" for c in others.values()):
            raise Die("only 1 global evpn controller can be defined\n")
    if ctype == "bgp" and any(c.get("type") == "bgp" and c.get("node") == section.get("node") for c in others.values()):
        raise Die("only 1 bgp controller can be defined\n")
    if ctype == "isis" and any(c.get("type") in ("bgp", "isis") and c.get("node") == section.get("node")
                               for c in others.values() if c.get("type") == "isis"):
        raise Die("only 1 bgp or isis controller can be defined\n")


def check_controller_delete(cfg: SdnConfig, controller_id: str) -> None:
    for zone_id, zone in sorted(cfg.pending["zones"].items()):
        if zone.get("controller") == controller_id and zone.get("type") in ("evpn", "bgp"):
            raise Die(f"controller {controller_id} is used by {zone_id}\n")


def normalise_lists(section: dict) -> dict:
    """Store list formats as PVE does: node lists sorted (encode_value), others as given."""
    for key in ("nodes", "exitnodes"):
        if key in section:
            section[key] = ",".join(sorted(split_list(str(section[key]))))
    for key in ("peers", "isis-ifaces", "rt-import"):
        if key in section:
            section[key] = ",".join(split_list(str(section[key])))
    return section
