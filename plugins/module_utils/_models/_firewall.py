# Private to pvefleet.sdn: not a public API.
"""A vnet's firewall (`/cluster/sdn/vnets/{vnet}/firewall`): its options and its rules.

PVE keeps them in `/etc/pve/sdn/firewall/<vnet>.fw` through pve-firewall (`PVE/Firewall.pm`,
`PVE/API2/Firewall/Vnet.pm` and `Rules.pm`); the rules here are the ones PVE's `verify_rule`
applies in the `vnet` rule environment, checked before anything is sent:

- options (`$vnet_option_properties`): `enable` (boolean, default 0), `policy_forward`
  (ACCEPT or DROP) and `log_level_forward` (a log level); PUT sets some and `delete`s others;
- a rule is `forward` or `group` (a security group's name in `action`); forward rules ACCEPT or
  DROP ("cannot define REJECT rules on forward chain"); `iface` is refused for vnet rules;
- PVE stores values as given, so only what reads back the same is canonicalised here: addresses
  in their canonical text, a macro in PVE's spelling (`ssh` -> `SSH`, as `verify_rule` does),
  ports and protocol numbers without leading zeros, a comment without its surrounding blanks
  (the config file's parser strips them);
- a group rule keeps only its group, `enable` and `comment` in the config file
  (`$format_rules`): anything else given for one would be silently lost, so it is refused.

Data read from PVE is parsed with REMOTE: the rules over several fields are not checked and
values this collection does not know (a macro from a newer PVE) are kept as they are.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import LOG_LEVELS
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    REMOTE,
    RuleViolation,
    WireValue,
    is_remote,
    wire_value,
)

RULE_TYPES = ("forward", "group")
FORWARD_ACTIONS = ("ACCEPT", "DROP")

# $PROTOCOLS_WITH_PORTS: the protocols dport and sport work with, by name and number.
PROTOCOLS_WITH_PORTS = frozenset({"tcp", "6", "udp", "17", "udplite", "136", "dccp", "33", "sctp", "132"})
_PORT_PROTOCOLS = "tcp, udp, udplite, dccp or sctp"
# $proto_is_icmp, and the IP version each one fixes for the rule.
ICMP_PROTOCOLS: Mapping[str, int] = {"icmp": 4, "icmpv6": 6, "ipv6-icmp": 6}
MAX_PORT_COUNT = 15  # "too many entries in port list (> 15 numbers)"; a range counts as 2
MAX_ADDRESS_LENGTH = 512

# $security_group_name_pattern, $ipset_name_pattern and $ip_alias_pattern are all this.
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9\-_]+"
MAX_GROUP_NAME = 18  # pve-security-group-name
MAX_IPSET_NAME = 64
MAX_ALIAS_NAME = 64

# $icmp_type_names (iptables -p icmp -h) and $icmpv6_type_names (ip6tables -p icmpv6 -h).
ICMP_TYPES = (
    "any", "echo-reply", "destination-unreachable", "network-unreachable", "host-unreachable",
    "protocol-unreachable", "port-unreachable", "fragmentation-needed", "source-route-failed",
    "network-unknown", "host-unknown", "network-prohibited", "host-prohibited", "TOS-network-unreachable",
    "TOS-host-unreachable", "communication-prohibited", "host-precedence-violation", "precedence-cutoff",
    "source-quench", "redirect", "network-redirect", "host-redirect", "TOS-network-redirect",
    "TOS-host-redirect", "echo-request", "router-advertisement", "router-solicitation", "time-exceeded",
    "ttl-zero-during-transit", "ttl-zero-during-reassembly", "parameter-problem", "ip-header-bad",
    "required-option-missing", "timestamp-request", "timestamp-reply", "address-mask-request",
    "address-mask-reply",
)
ICMPV6_TYPES = (
    "destination-unreachable", "no-route", "communication-prohibited", "beyond-scope", "address-unreachable",
    "port-unreachable", "failed-policy", "reject-route", "packet-too-big", "time-exceeded",
    "ttl-zero-during-transit", "ttl-zero-during-reassembly", "parameter-problem", "bad-header",
    "unknown-header-type", "unknown-option", "echo-request", "echo-reply", "router-solicitation",
    "router-advertisement", "neighbor-solicitation", "neighbour-solicitation", "neighbor-advertisement",
    "neighbour-advertisement", "redirect",
)
_ICMP_SPELLING = {name.lower(): name for name in (*ICMP_TYPES, *ICMPV6_TYPES)}

# PVE's macros ($pve_fw_macros, imported from shorewall), each the (proto, dport, sport) of the
# rules it stands for; PVE refuses a rule that gives one of those with another value ("parameter
# 'dport' already define in macro"). pve-firewall as of 2025-12 (commit 6f1311f).
MACROS: Mapping[str, tuple[tuple[Optional[str], ...], ...]] = {
    "Amanda": (("udp", "10080"), ("tcp", "10080")),
    "Auth": (("tcp", "113"),),
    "BGP": (("tcp", "179"),),
    "BitTorrent": (("tcp", "6881:6889"), ("udp", "6881")),
    "BitTorrent32": (("tcp", "6881:6999"), ("udp", "6881")),
    "Ceph": (("tcp", "6789"), ("tcp", "3300"), ("tcp", "6800:7300")),
    "CVS": (("tcp", "2401"),),
    "Citrix": (("tcp", "1494"), ("udp", "1604"), ("tcp", "2598")),
    "DAAP": (("tcp", "3689"), ("udp", "3689")),
    "DCC": (("tcp", "6277"),),
    "DHCPfwd": (("udp", "67:68", "67:68"),),
    "DNS": (("udp", "53"), ("tcp", "53")),
    "Distcc": (("tcp", "3632"),),
    "FTP": (("tcp", "21"),),
    "Finger": (("tcp", "79"),),
    "GNUnet": (("tcp", "2086"), ("udp", "2086"), ("tcp", "1080"), ("udp", "1080")),
    "GRE": (("47",),),
    "Git": (("tcp", "9418"),),
    "HKP": (("tcp", "11371"),),
    "HTTP": (("tcp", "80"),),
    "HTTPS": (("tcp", "443"),),
    "ICPV2": (("udp", "3130"),),
    "ICQ": (("tcp", "5190"),),
    "IMAP": (("tcp", "143"),),
    "IMAPS": (("tcp", "993"),),
    "IPIP": (("94",),),
    "IPsec": (("udp", "500", "500"), ("50",)),
    "IPsecah": (("udp", "500", "500"), ("51",)),
    "IPsecnat": (("udp", "500"), ("udp", "4500"), ("50",)),
    "IRC": (("tcp", "6667"),),
    "Jetdirect": (("tcp", "9100"),),
    "L2TP": (("udp", "1701"),),
    "LDAP": (("tcp", "389"),),
    "LDAPS": (("tcp", "636"),),
    "MSNP": (("tcp", "1863"),),
    "MSSQL": (("tcp", "1433"),),
    "Mail": (("tcp", "25"), ("tcp", "465"), ("tcp", "587")),
    "MDNS": (("udp", "5353"),),
    "Munin": (("tcp", "4949"),),
    "MySQL": (("tcp", "3306"),),
    "NNTP": (("tcp", "119"),),
    "NNTPS": (("tcp", "563"),),
    "NTP": (("udp", "123"),),
    "OSPF": (("89",),),
    "OpenVPN": (("udp", "1194"),),
    "PCA": (("udp", "5632"), ("tcp", "5631")),
    "PMG": (("tcp", "8006"),),
    "POP3": (("tcp", "110"),),
    "POP3S": (("tcp", "995"),),
    "PPtP": (("47",), ("tcp", "1723")),
    "Ping": (("icmp", "echo-request"),),
    "PostgreSQL": (("tcp", "5432"),),
    "Printer": (("tcp", "515"),),
    "RDP": (("tcp", "3389"),),
    "RIP": (("udp", "520"),),
    "RNDC": (("tcp", "953"),),
    "Razor": (("tcp", "2703"),),
    "Rdate": (("tcp", "37"),),
    "Rsync": (("tcp", "873"),),
    "SANE": (("tcp", "6566"),),
    "SMB": (("udp", "135,445"), ("udp", "137:139"), ("udp", "1024:65535", "137"), ("tcp", "135,139,445")),
    "SMBswat": (("tcp", "901"),),
    "SMTP": (("tcp", "25"),),
    "SMTPS": (("tcp", "465"),),
    "SNMP": (("udp", "161:162"), ("tcp", "161")),
    "SPAMD": (("tcp", "783"),),
    "SSH": (("tcp", "22"),),
    "SVN": (("tcp", "3690"),),
    "SixXS": (("tcp", "3874"), ("udp", "3740"), ("41",), ("udp", "5072,8374")),
    "SPICEproxy": (("tcp", "3128"),),
    "Squid": (("tcp", "3128"),),
    "Submission": (("tcp", "587"),),
    "Syslog": (("udp", "514"), ("tcp", "514")),
    "TFTP": (("udp", "69"),),
    "Telnet": (("tcp", "23"),),
    "Telnets": (("tcp", "992"),),
    "Time": (("tcp", "37"),),
    "Trcrt": (("udp", "33434:33524"), ("icmp", "echo-request")),
    "VNC": (("tcp", "5900:5999"),),
    "VNCL": (("tcp", "5500"),),
    "Web": (("tcp", "80"), ("tcp", "443")),
    "Webcache": (("tcp", "8080"),),
    "Webmin": (("tcp", "10000"),),
    "Whois": (("tcp", "43"),),
    # $pve_ipv6fw_macros that have no IPv4 form: IPv6 only.
    "NeighborDiscovery": (("icmpv6", "router-solicitation"), ("icmpv6", "router-advertisement"),
                          ("icmpv6", "neighbor-solicitation"), ("icmpv6", "neighbor-advertisement")),
    "DHCPv6": (("udp", "546:547", "546:547"),),
}
# What a macro stands for in an IPv6 rule, where it differs ($pve_ipv6fw_macros).
IPV6_MACROS: Mapping[str, tuple[tuple[Optional[str], ...], ...]] = {
    "Ping": (("icmpv6", "echo-request"),),
    "Trcrt": (("udp", "33434:33524"), ("icmpv6", "echo-request")),
}
IPV6_ONLY_MACROS = frozenset({"NeighborDiscovery", "DHCPv6"})
_MACRO_SPELLING = {name.lower(): name for name in MACROS}
_MACRO_FIELDS = ("proto", "dport", "sport")

# The options a rule of each type keeps (`$format_rules`); `type` and `action` always.
_GROUP_KEEPS = frozenset({"type", "action", "enable", "comment", "iface"})


# --- field rules -------------------------------------------------------------------------


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _joined(value: Any) -> Any:
    """A list (`[22, 80]`, `[10.0.0.0/8, 192.168.0.0/16]`) as PVE's comma string."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(item).strip() for item in value)
    return value


def _text(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _ip_entry(item: str) -> tuple[str, int, bool]:
    """One entry of an address list: its canonical text, its IP version, whether it is a range."""
    if "-" in item:
        first, _dash, last = (part.strip() for part in item.partition("-"))
        try:
            start, end = ipaddress.ip_address(first), ipaddress.ip_address(last)
        except ValueError:
            raise ValueError(f"{item!r} is not a range of two IP addresses (like 10.0.0.1-10.0.0.9)") from None
        if start.version != end.version:
            raise ValueError(f"range {item!r} mixes IPv4 and IPv6")
        if int(start) > int(end):
            raise ValueError(f"range {item!r} ends before it starts")
        return f"{start}-{end}", start.version, True
    if "/" in item:
        try:
            network = ipaddress.ip_network(item)
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a network in CIDR form (like 10.0.0.0/8)") from None
            raise ValueError(f"{item!r} has host bits set; did you mean {loose}?") from None
        return str(network), network.version, False
    try:
        address = ipaddress.ip_address(item)
    except ValueError:
        raise ValueError(f"{item!r} is not an IP address, network or range; an ipset (+name) or "
                         "an alias name must be the only entry") from None
    return str(address), address.version, False


def address_version(text: str) -> Optional[int]:
    """The IP version of an address option, None for an ipset or alias (PVE's parse_address_list)."""
    if text.startswith("+") or re.fullmatch(r"(dc/|guest/)?" + NAME_PATTERN, text):
        return None
    return _ip_entry(text.split(",", 1)[0].strip())[1]


def _address(value: str, info: Any) -> str:
    """pve-fw-addr-spec: an ipset (`+name`), an alias name, or IP addresses, networks and
    one range, all of one IP version."""
    text = value.strip()
    try:
        return _address_text(text)
    except ValueError:
        if is_remote(info):
            return text
        raise


def _address_text(text: str) -> str:
    if text.startswith("+"):
        if not re.fullmatch(r"\+(guest/|dc/|sdn/)?" + NAME_PATTERN, text):
            raise ValueError("must name an ipset as +name (or +dc/name, +guest/name, +sdn/name): "
                             "a letter, then letters, digits, '-' or '_'")
        if len(text) > MAX_IPSET_NAME + 1:
            raise ValueError(f"names an ipset longer than {MAX_IPSET_NAME} characters")
        return text
    if re.fullmatch(r"(dc/|guest/)?" + NAME_PATTERN, text):
        if len(text) > MAX_ALIAS_NAME:
            raise ValueError(f"names an alias longer than {MAX_ALIAS_NAME} characters")
        return text
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError("has an empty entry (a stray comma)")
    entries = [_ip_entry(item) for item in items]
    if len({entry[1] for entry in entries}) > 1:
        raise ValueError("mixes IPv4 and IPv6 addresses; use a rule for each")
    if len(entries) > 1 and any(entry[2] for entry in entries):
        raise ValueError("has a range in a list: a range (a-b) must be the only entry")
    canonical = ",".join(entry[0] for entry in entries)
    if len(canonical) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"must be at most {MAX_ADDRESS_LENGTH} characters")
    return canonical


_SERVICE = re.compile(r"[A-Za-z][A-Za-z0-9._+\-]*")


def _ports(value: str, info: Any) -> str:
    """pve-fw-dport-spec / pve-fw-sport-spec: ports, ranges `80:85` or service names, by commas."""
    text = value.strip()
    if is_remote(info):
        return text
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError("has an empty entry (a stray comma)")
    shape = "must be ports (0 to 65535), ranges like 80:85 or service names, separated by commas"
    canonical, count = [], 0
    for item in items:
        numbers = item.split(":")
        if all(number.isdigit() for number in numbers) and len(numbers) <= 2:
            values = [int(number) for number in numbers]
            if any(number > 65535 for number in values):
                raise ValueError(f"{shape}; {item} is out of range")
            if len(values) == 2 and values[0] > values[1]:
                raise ValueError(f"has the backwards range {item}; did you mean {values[1]}:{values[0]}?")
            count += len(values)
            canonical.append(":".join(str(number) for number in values))
        elif _SERVICE.fullmatch(item):
            canonical.append(item)
        else:
            raise ValueError(f"{shape} (use 80:85 for a range)" if "-" in item and item[:1].isdigit() else shape)
    if count > MAX_PORT_COUNT:
        raise ValueError(f"lists more than {MAX_PORT_COUNT} ports (a range counts as 2)")
    result = ",".join(canonical)
    if result == "0":
        raise ValueError("cannot be port 0 alone: PVE does not keep it")
    return result


def _protocol(value: str, info: Any) -> str:
    """pve-fw-protocol-spec: a name from /etc/protocols or a number."""
    text = value.strip()
    if is_remote(info):
        return text
    text = text.lower()
    if text.isdigit() and int(text) <= 255:
        return str(int(text))
    if re.fullmatch(r"[a-z][a-z0-9._+\-]*", text):
        return text
    raise ValueError("must be a protocol name from /etc/protocols (tcp, udp, icmp, ...) or a number from 0 to 255")


def _macro(value: str, info: Any) -> str:
    text = value.strip()
    spelling = _MACRO_SPELLING.get(text.lower())
    if spelling is not None:
        return spelling
    if is_remote(info):
        return text
    close = difflib.get_close_matches(text.lower(), list(_MACRO_SPELLING), n=1, cutoff=0.6)
    hint = f"; did you mean {_MACRO_SPELLING[close[0]]}?" if close else " (see `pvesh get /cluster/firewall/macros`)"
    raise ValueError(f"is not a macro Proxmox VE knows{hint}")


def _icmp_type(value: str, info: Any) -> str:
    text = value.strip()
    spelling = _ICMP_SPELLING.get(text.lower())
    if spelling is not None:
        return spelling
    if is_remote(info):
        return text
    raise ValueError("must be an ICMP type name, like echo-request or destination-unreachable")


def _comment(value: str, info: Any) -> Optional[str]:
    # The config file's parser strips the blanks around a comment; a blank one is not written.
    text = value.strip()
    if is_remote(info):
        return text or None
    if "\n" in text or "\r" in text:
        raise ValueError("must be one line: the rule and its comment are one line of the config file")
    if text == "-":
        raise ValueError("cannot be '-' alone: PVE takes that as removing the comment")
    return text or None


def _enable(value: Any) -> Any:
    # PVE's `enable` is an integer (minimum 0): any non-zero value enables the rule.
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) != 0
    return value


Address = Annotated[str, pydantic.BeforeValidator(_joined), pydantic.AfterValidator(_address)]
Ports = Annotated[str, pydantic.BeforeValidator(_joined), pydantic.AfterValidator(_ports)]
LogLevel = Annotated[Literal[LOG_LEVELS], pydantic.BeforeValidator(_lower)]  # type: ignore[valid-type]
Policy = Annotated[Literal[FORWARD_ACTIONS], pydantic.BeforeValidator(_upper)]  # type: ignore[valid-type]


# --- rules -------------------------------------------------------------------------------


class FirewallRule(WireValue):
    """One rule of a vnet's firewall, as the user declares it or as PVE lists it."""

    LABEL: ClassVar[str] = "vnet firewall rule"

    # PVE lists `in` and `out` rules only from a hand-edited file; the user may give neither.
    type: Annotated[Literal["forward", "group", "in", "out"], pydantic.BeforeValidator(_lower)] = "forward"
    action: Annotated[str, pydantic.AfterValidator(_text)]
    macro: Optional[Annotated[str, pydantic.AfterValidator(_macro)]] = None
    source: Optional[Address] = None
    dest: Optional[Address] = None
    proto: Optional[Annotated[str, pydantic.AfterValidator(_protocol)]] = None
    dport: Optional[Ports] = None
    sport: Optional[Ports] = None
    icmp_type: Optional[Annotated[str, pydantic.AfterValidator(_icmp_type)]] = None
    log: Optional[LogLevel] = None
    # Only ever read from PVE (a hand-edited file); refused in what the user declares.
    iface: Optional[str] = None
    enable: Annotated[bool, pydantic.BeforeValidator(_enable)] = True
    comment: Optional[Annotated[str, pydantic.AfterValidator(_comment)]] = None

    @pydantic.model_validator(mode="after")
    def _rules(self, info: Any) -> FirewallRule:
        if is_remote(info):
            return self
        errors, update = _rule_errors(self)
        if errors:
            raise RuleViolation(errors)
        return self.model_copy(update=update) if update else self

    # --- what the rule is --------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """Every field by option name, None for unset: what `same_rule` compares."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def effect(self) -> tuple[Any, ...]:
        """What the rule does to traffic: every field but `comment` and `enable`."""
        return tuple(value for name, value in self.values().items() if name not in ("comment", "enable"))

    def user_view(self) -> dict[str, Any]:
        """The rule as module options, unset options left out (diffs and results)."""
        return {name: value for name, value in self.values().items() if value is not None}

    def to_wire(self) -> dict[str, Any]:
        """The parameters of a POST (create) or of a PUT that sets every option."""
        return {self.wire_name(name): wire_value(value) for name, value in self.user_view().items()}


def same_rule(first: FirewallRule, second: FirewallRule) -> bool:
    """Whether two rules are the same in every option, comment and enable included."""
    return first.values() == second.values()


def same_effect(first: FirewallRule, second: FirewallRule) -> bool:
    """Whether two rules act the same on traffic when both enabled: all but comment and enable."""
    return first.effect() == second.effect()


def rule_changes(current: FirewallRule, desired: FirewallRule) -> tuple[dict[str, Any], list[str]]:
    """The PUT `rules/{pos}` parameters that turn `current` into `desired`: the values to set
    (PVE's keys and form) and the keys to `delete`; both empty when the rules are the same."""
    changed: dict[str, Any] = {}
    removed: list[str] = []
    for name, want in desired.values().items():
        have = getattr(current, name)
        if want == have:
            continue
        if want is None:
            removed.append(FirewallRule.wire_name(name))
        else:
            changed[FirewallRule.wire_name(name)] = wire_value(want)
    return changed, removed


def _rule_errors(rule: FirewallRule) -> tuple[dict[str, str], dict[str, Any]]:
    """The rules PVE's verify_rule applies to a vnet rule, as {option: rule}, and the canonical
    values to keep (a forward action in capitals)."""
    errors: dict[str, str] = {}
    update: dict[str, Any] = {}
    if rule.type not in RULE_TYPES:
        errors["type"] = "must be forward or group for a vnet rule (in and out are for hosts and guests)"
    if rule.iface is not None:
        errors["iface"] = "not allowed for vnet rules: a vnet rule applies to the whole vnet"
    if rule.type == "group":
        if not re.fullmatch(NAME_PATTERN, rule.action) or len(rule.action) > MAX_GROUP_NAME:
            errors["action"] = (f"must name a security group for a group rule: a letter, then letters, digits, "
                                f"'-' or '_', 2 to {MAX_GROUP_NAME} characters (got {rule.action!r})")
        for name, value in rule.values().items():
            if value is not None and name not in _GROUP_KEEPS:
                errors[name] = "not kept for a group rule: PVE saves only the group (action), enable and comment"
        return errors, update
    action = rule.action.upper()
    if action == "REJECT" and rule.type == "forward":
        errors["action"] = "cannot define REJECT rules on forward chain: use DROP"
    elif action not in ("ACCEPT", "DROP", "REJECT"):
        errors["action"] = (f"must be ACCEPT or DROP for a {rule.type} rule, or the type must be group "
                            f"to jump to a security group (got {rule.action!r})")
    elif action != rule.action:
        update["action"] = action
    errors.update(_protocol_errors(rule))
    errors.update(_version_errors(rule))
    if not errors and rule.macro is not None:
        errors.update(_macro_errors(rule))
    return errors, update


def _protocol_errors(rule: FirewallRule) -> dict[str, str]:
    errors: dict[str, str] = {}
    proto = rule.proto
    is_icmp = proto in ICMP_PROTOCOLS
    if rule.dport is not None:
        if proto is None:
            errors["dport"] = f"needs proto, one with ports: {_PORT_PROTOCOLS}"
        elif proto not in PROTOCOLS_WITH_PORTS and not is_icmp:
            errors["dport"] = f"needs a proto with ports ({_PORT_PROTOCOLS}), not {proto}"
        elif is_icmp:
            items = rule.dport.split(",")
            named = [item for item in items if item in _ICMP_SPELLING.values()]
            if named and any(item[:1].isdigit() for item in items):
                errors["dport"] = "cannot mix ICMP type names with port numbers"
    if rule.sport is not None:
        if proto is None:
            errors["sport"] = f"needs proto, one with ports: {_PORT_PROTOCOLS}"
        elif proto not in PROTOCOLS_WITH_PORTS:
            errors["sport"] = f"needs a proto with ports ({_PORT_PROTOCOLS}), not {proto}"
    if rule.icmp_type is not None:
        if not is_icmp:
            errors["icmp_type"] = "needs proto icmp, icmpv6 or ipv6-icmp"
        elif rule.dport is not None:
            errors["icmp_type"] = "cannot be given together with dport"
        else:
            known = ICMP_TYPES if ICMP_PROTOCOLS[str(proto)] == 4 else ICMPV6_TYPES
            if rule.icmp_type not in known:
                family = "ICMP" if proto == "icmp" else "ICMPv6"
                close = difflib.get_close_matches(rule.icmp_type, known, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                errors["icmp_type"] = f"is not an {family} type, which proto {proto} needs{hint}"
    return errors


def _version_errors(rule: FirewallRule) -> dict[str, str]:
    """"detected mixed ipv4/ipv6 addresses in rule": proto icmp(v6), source and dest agree."""
    errors: dict[str, str] = {}
    seen: Optional[tuple[str, int]] = None
    if rule.proto is not None and rule.proto in ICMP_PROTOCOLS:
        seen = (f"proto {rule.proto}", ICMP_PROTOCOLS[rule.proto])
    for name in ("source", "dest"):
        value = getattr(rule, name)
        version = address_version(value) if value is not None else None
        if version is None:
            continue
        if seen is not None and seen[1] != version:
            errors[name] = f"is IPv{version} but {seen[0]} is IPv{seen[1]}: a rule cannot mix IPv4 and IPv6"
        elif seen is None:
            seen = (name, version)
    return errors


def rule_ip_version(rule: FirewallRule) -> Optional[int]:
    """The IP version a rule is for, as far as its own options tell (aliases resolve on PVE)."""
    if rule.proto is not None and rule.proto in ICMP_PROTOCOLS:
        return ICMP_PROTOCOLS[rule.proto]
    for value in (rule.source, rule.dest):
        version = address_version(value) if value is not None else None
        if version is not None:
            return version
    return None


def _macro_errors(rule: FirewallRule) -> dict[str, str]:
    """PVE's apply_macro: a proto, dport or sport the macro sets must not be given otherwise."""
    macro = str(rule.macro)
    version = rule_ip_version(rule)
    if macro in IPV6_ONLY_MACROS and version == 4:
        return {}  # PVE applies no rule of an IPv6 macro to an IPv4 rule, and says nothing
    templates = IPV6_MACROS.get(macro, MACROS[macro]) if version == 6 else MACROS[macro]
    errors: dict[str, str] = {}
    for template in templates:
        for name, fixed in zip(_MACRO_FIELDS, template):
            given = getattr(rule, name)
            if fixed is not None and given is not None and given != fixed and name not in errors:
                errors[name] = f"conflicts with macro {macro}, which sets {name} {fixed}: leave {name} out"
    return errors


# --- options -----------------------------------------------------------------------------


class FirewallOptions(WireValue):
    """A vnet's firewall options; a field left unset (not in model_fields_set) is not managed.

    An option set to None explicitly (`FirewallOptions.model_validate({"log_level_forward": None})`)
    means "remove it": `changes_from` puts it in `delete`.
    """

    LABEL: ClassVar[str] = "vnet firewall options"
    # The schema's default for an option PVE does not have.
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"enable": False}

    enable: Optional[bool] = None
    # PVE spells these keys with '_' (not the usual '-').
    policy_forward: Optional[Policy] = pydantic.Field(default=None, alias="policy_forward")
    log_level_forward: Optional[LogLevel] = pydantic.Field(default=None, alias="log_level_forward")

    def managed(self) -> tuple[str, ...]:
        """The options this state says something about, in field order."""
        return tuple(name for name in type(self).model_fields if name in self.model_fields_set)

    def to_wire(self) -> dict[str, Any]:
        """The set options in PVE's form (enable as 1/0)."""
        return {self.wire_name(name): wire_value(value) for name, value in self.user_view().items()}

    def changes_from(self, current: FirewallOptions) -> dict[str, Any]:
        """The PUT `options` parameters that make `current` what this state manages: the values
        to set and a `delete` comma list; empty when nothing is to change."""
        params: dict[str, Any] = {}
        removed: list[str] = []
        for name in self.managed():
            want = getattr(self, name)
            have = getattr(current, name)
            if want is None:
                if have is not None:
                    removed.append(self.wire_name(name))
                continue
            if have is None:
                have = self.DEFAULTS.get(name)
            if want != have:
                params[self.wire_name(name)] = wire_value(want)
        if removed:
            params["delete"] = ",".join(removed)
        return params


# --- parsing -----------------------------------------------------------------------------


def _given(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in raw.items() if value is not None}


def parse_options(raw: Mapping[str, Any], *, option: str = "") -> FirewallOptions:
    """The desired options from module options; None values are not managed. `option` prefixes
    the names in errors (`firewall_options.policy_forward`)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput({option or "options": "must be a mapping of options"})
    try:
        return FirewallOptions.model_validate(_given(raw))
    except pydantic.ValidationError as error:
        raise _prefixed(invalid_input(error, label=FirewallOptions.LABEL), option) from None


def options_from_wire(wire: Mapping[str, Any]) -> FirewallOptions:
    """The options of a GET `options` (its `digest` and anything unknown left out)."""
    known = {FirewallOptions.wire_name(name): name for name in FirewallOptions.model_fields}
    values = {known[key]: value for key, value in wire.items() if key in known and value is not None}
    try:
        return FirewallOptions.model_validate(values, context=REMOTE)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=FirewallOptions.LABEL) from None


def parse_rule(raw: Mapping[str, Any], index: int, *, option: str = "rules") -> FirewallRule:
    """The rule the user declares at `index` of the `option` list; errors name its options as
    `rules[2].dport`. None values are left out (so `enable` is true and `type` forward)."""
    where = f"{option}[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidInput({where: "must be a mapping of rule options"})
    try:
        return FirewallRule.model_validate(_given(raw))
    except pydantic.ValidationError as error:
        raise _prefixed(invalid_input(error, label=FirewallRule.LABEL), where) from None


def parse_rules(raw: Any, *, option: str = "rules") -> list[FirewallRule]:
    """Every declared rule, in order; the errors of all of them at once."""
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        raise InvalidInput({option: "must be a list of rules"})
    rules: list[FirewallRule] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(raw):
        try:
            rules.append(parse_rule(item, index, option=option))
        except InvalidInput as error:
            errors.update(error.errors)
    if errors:
        raise InvalidInput(errors)
    return rules


# What a GET `rules` item has that is not an option of the rule.
_WIRE_ONLY = frozenset({"pos", "digest", "ipversion", "errors"})


def rule_from_wire(wire: Mapping[str, Any]) -> FirewallRule:
    """One item of a GET `rules`: `pos`, `digest`, `ipversion` (PVE works it out) and `errors`
    (PVE's complaints about a hand-edited rule) left out; `enable` absent means enabled, as in
    the config file (only a disabled rule is marked, with `|`)."""
    known = {FirewallRule.wire_name(name): name for name in FirewallRule.model_fields}
    values = {known[key]: value for key, value in wire.items()
              if key in known and key not in _WIRE_ONLY and value is not None and value != ""}
    try:
        return FirewallRule.model_validate(values, context=REMOTE)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=FirewallRule.LABEL) from None


def _prefixed(error: InvalidInput, prefix: str) -> InvalidInput:
    if not prefix:
        return error
    return InvalidInput({(f"{prefix}.{field}" if field and field != FirewallRule.LABEL
                          and field != FirewallOptions.LABEL else prefix): rule
                         for field, rule in error.errors.items()})
