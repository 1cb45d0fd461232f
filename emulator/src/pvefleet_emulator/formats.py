"""PVE's named string formats (pve-sdn-api.md §7.2): a verifier per format name.

A verifier returns nothing when the value is fine and raises FormatError with PVE's message
otherwise; schema.py wraps it as "invalid format - <message>". Formats that none of the
emulated endpoints needs to be strict about are accepted as they are.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

NODE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
CONFIGID = re.compile(r"[a-z][a-z0-9_-]+", re.IGNORECASE)
IFACE = re.compile(r"[a-z][a-z0-9_]{1,20}([:.]\d+)?", re.IGNORECASE)
DNS_LABEL = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
UNICAST_MAC = re.compile(r"[a-f0-9][02468ace](:[a-f0-9]{2}){5}", re.IGNORECASE)
ISIS_NET = re.compile(r"[a-fA-F0-9]{2}(\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}")
ROUTE_TARGET = re.compile(r"(\d+):(\d+)")
REALM = re.compile(r"[A-Za-z][A-Za-z0-9.\-_]+")
LIST_SEPARATORS = re.compile(r"[,;\s\0]+")
TASK_STATUS_TYPES = ("ok", "error", "warning", "unknown")

# The SDN IDs as pve-network's current master writes them: a pattern and lengths instead of a
# format (pve-sdn-objects.md §4.1). schema.py turns these formats into those three rules, so
# the errors are the generic schema texts, pattern first (§7.1).
ID_RULES: dict[str, tuple[str, int, int | None]] = {
    "pve-sdn-zone-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, 8),
    "pve-sdn-vnet-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, 8),
    "pve-sdn-controller-id": (r"[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]", 2, 64),
    "pve-sdn-ipam-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, None),
    "pve-sdn-dns-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, None),
    "pve-sdn-fabric-id": (r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]", 2, 8),
}
# The ID formats master keeps besides the pattern and lengths (pve-network a8b6166 added them to
# the fabric ID, ecf98c5 removed the other ID formats): their verifier runs first.
ID_FORMATS_KEPT = ("pve-sdn-fabric-id",)
# pve-network Network/SDN/Fabrics.pm, format pve-sdn-fabric-id (one character passes it).
FABRIC_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?", re.IGNORECASE)


class FormatError(ValueError):
    """The value does not have the format; the text is PVE's verifier message."""


def split_list(text: str) -> list[str]:
    """A `-list` format's items: separated by commas, semicolons or whitespace (§2.3)."""
    return [item for item in LIST_SEPARATORS.split(text.strip()) if item]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise FormatError(message)


def is_ip(text: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def is_cidr(text: str, version: int | None = None) -> bool:
    if "/" not in text:
        return False
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return version is None or network.version == version


def subnet_id_parts(text: str) -> tuple[str, str, str] | None:
    """A stored subnet ID `<zone>-<address>-<prefix length>` as its parts; None if it is not one.
    Split at the first and the last `-`, so an IPv6 ID like `zone-fd00::-64` works too."""
    zone, sep, rest = text.partition("-")
    address, sep2, length = rest.rpartition("-")
    if not sep or not sep2 or not zone or not is_cidr(f"{address}/{length}"):
        return None
    return zone, address, length


def _pve_node(text: str) -> None:
    _require(bool(NODE.fullmatch(text)), "value does not look like a valid node name")


def _configid(text: str) -> None:
    _require(bool(CONFIGID.fullmatch(text)), f"invalid configuration ID '{text}'")


def _iface(text: str) -> None:
    _require(bool(IFACE.fullmatch(text)), f"invalid network interface name '{text}'")


def _dns_name(text: str) -> None:
    _require(all(DNS_LABEL.fullmatch(label) for label in text.split(".")), "value does not look like a valid DNS name")


def _mac(text: str) -> None:
    _require(bool(UNICAST_MAC.fullmatch(text)), "value does not look like a valid unicast MAC address")


def _route_target(text: str) -> None:
    found = ROUTE_TARGET.fullmatch(text)
    _require(found is not None and all(int(part) <= 4294967295 for part in found.groups()),
             "value does not look like a valid bgp route-target")


def _isis_net(text: str) -> None:
    _require(bool(ISIS_NET.fullmatch(text)), "value does not look like a valid ISIS network entity title")


def _subnet_id(text: str) -> None:
    _require(is_cidr(text) or subnet_id_parts(text) is not None, "value does not look like a valid CIDR network")


def _dhcp_range(text: str) -> None:
    """A property string `start-address=<ip>,end-address=<ip>`, both keys present."""
    parts = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        _require(bool(sep) and key in ("start-address", "end-address"), f"invalid dhcp-range entry '{item}'")
        parts[key] = value
    for key in ("start-address", "end-address"):
        _require(key in parts, f"{key}: property is missing and it is not optional")
        _require(is_ip(parts[key]), f"{key}: value does not look like a valid IP address")


def _fabric_id(text: str) -> None:
    _require(bool(FABRIC_ID.fullmatch(text)), f"Fabric ID '{text}' contains illegal characters")


# pve-network (1.4+) Network/SDN/PrefixLists.pm and RouteMaps.pm, formats pve-sdn-prefix-list-id and
# pve-sdn-route-map-id: the reserved names (those the generated FRR config uses) first, then the pattern.
POLICY_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_-]{0,30}[a-zA-Z0-9]?", re.IGNORECASE)
RESERVED_PREFIX_LIST = re.compile(r"only_default|only_default_v6|loopbacks_ips")
RESERVED_ROUTE_MAP = re.compile(r"pve_.*|MAP_VTEP_IN|MAP_VTEP_OUT|correct_src")


def _prefix_list_id(text: str) -> None:
    _require(not RESERVED_PREFIX_LIST.fullmatch(text), f"prefix list ID '{text}' is currently reserved and cannot be used")
    _require(bool(POLICY_ID.fullmatch(text)), f"prefix list ID '{text}' contains illegal characters")


def _route_map_id(text: str) -> None:
    _require(not RESERVED_ROUTE_MAP.fullmatch(text), f"route map ID '{text}' is currently reserved and cannot be used")
    _require(bool(POLICY_ID.fullmatch(text)), f"route map ID '{text}' contains illegal characters")


def _full_range_cidr(text: str) -> None:
    """FullRangeCIDR (PVE 9.2's prefix list `prefix`, WireGuard `allowed_ips`): a CIDR whose prefix
    length may be anything from 0, unlike CIDR's 8 and more. Its verifier is in no source read; the
    text is that of pve-common's CIDR (JSONSchema.pm pve_verify_cidr), an assumption."""
    address, sep, length = text.partition("/")
    valid = bool(sep) and length.isdigit() and is_ip(address) and \
        int(length) <= (32 if is_ip(address, 4) else 128)
    _require(valid, "value does not look like a valid CIDR network")


def _realm(text: str) -> None:
    _require(bool(REALM.fullmatch(text)) and len(text) <= 32, f"invalid realm '{text}'")


def _priv(text: str) -> None:
    """pve-access-control AccessControl.pm verify_privname."""
    from pvefleet_emulator.access import VALID_PRIVS  # pylint: disable=import-outside-toplevel
    _require(text in VALID_PRIVS, f"invalid privilege '{text}'")


def _task_status_type(text: str) -> None:
    _require(text.lower() in TASK_STATUS_TYPES, f"invalid task status type '{text}'")


VERIFIERS: dict[str, Callable[[str], None]] = {
    "pve-node": _pve_node,
    "pve-configid": _configid,
    "pve-iface": _iface,
    "ip": lambda t: _require(is_ip(t), "value does not look like a valid IP address"),
    "ipv4": lambda t: _require(is_ip(t, 4), "value does not look like a valid IPv4 address"),
    "ipv6": lambda t: _require(is_ip(t, 6), "value does not look like a valid IPv6 address"),
    "CIDR": lambda t: _require(is_cidr(t), "value does not look like a valid CIDR network"),
    "CIDRv4": lambda t: _require(is_cidr(t, 4), "value does not look like a valid IPv4 CIDR network"),
    "CIDRv6": lambda t: _require(is_cidr(t, 6), "value does not look like a valid IPv6 CIDR network"),
    "dns-name": _dns_name,
    "mac-addr": _mac,
    "pve-sdn-bgp-rt": _route_target,
    "pve-sdn-isis-net": _isis_net,
    "pve-sdn-subnet-id": _subnet_id,
    "pve-sdn-dhcp-range": _dhcp_range,
    "pve-sdn-fabric-id": _fabric_id,
    "pve-sdn-prefix-list-id": _prefix_list_id,
    "pve-sdn-route-map-id": _route_map_id,
    "FullRangeCIDR": _full_range_cidr,
    "pve-realm": _realm,
    "pve-priv": _priv,
    "pve-task-status-type": _task_status_type,
}


def verify(format_name: str, text: str) -> None:
    """Check `text` against a named format; `-list` formats check every item."""
    if format_name.endswith("-list"):
        base = format_name[: -len("-list")]
        for item in split_list(text):
            verify(base, item)
        return
    verifier = VERIFIERS.get(format_name)
    if verifier is not None:
        verifier(text)
