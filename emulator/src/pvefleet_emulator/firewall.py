"""A vnet's firewall: `/etc/pve/sdn/firewall/<vnet>.fw` as pve-firewall 6.0.4 reads, checks, changes and
writes it (src/PVE/Firewall.pm: generic_fw_config_parser, parse_vnetfw_option, parse_fw_rule, verify_rule,
copy_rule_data, delete_rule_properties, copy_opject_with_digest, copy_list_with_digest, save_vnetfw_conf and
its $format_options / $format_rules; the calls in API2/Firewall/Rules.pm and Vnet.pm).

The file is kept as text and parsed again on every read, as PVE does: what a GET shows (`enable` 0 or 1,
`ipversion`, a macro's preferred name) is what the parser makes of the text written. Firewall files are
outside the SDN pending model: written at once, untouched by apply and rollback, not removed with a vnet.
Nothing here generates or runs iptables/nftables rules.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from pvefleet_emulator.errors import Die, ParamError
from pvefleet_emulator.formats import FormatError, split_list
from pvefleet_emulator.formats import verify as verify_format

# PVE::Tools::assert_if_modified
DIGEST_MISMATCH = "detected modified configuration - file changed by other user? Try again.\n"
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")
# Firewall.pm $vnet_option_properties
OPTION_NAMES = ("enable", "policy_forward", "log_level_forward")
# Firewall.pm $rule_properties: what copy_rule_data copies and `delete` may name (`pos` and `digest`
# included: they are copied into the rule too, but never written)
RULE_PROPERTIES = ("pos", "digest", "type", "action", "macro", "iface", "source", "dest", "proto", "enable",
                   "log", "sport", "dport", "comment", "icmp-type")
# $rule_env_direction_lookup->{vnet}; $rule_env_iface_lookup->{vnet} is 0
VNET_RULE_TYPES = ("forward", "group")
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9\-_]+"  # $security_group_name_pattern, $ipset_name_pattern, $ip_alias_pattern
MAX_NAME_LENGTH = 64  # $max_ipset_name_length, $max_alias_name_length
PROTOCOLS_WITH_PORTS = frozenset(("udp", "17", "udplite", "136", "tcp", "6", "dccp", "33", "sctp", "132"))
ICMP_PROTOCOLS = ("icmp", "icmpv6", "ipv6-icmp")  # $proto_is_icmp

# The names of Firewall.pm's $pve_fw_macros and $pve_ipv6fw_macros (init_firewall_macros keys
# $pve_fw_preferred_macro_names by their lower case). Only the names: the macros' rules are not
# expanded (see verify_rule).
MACROS = """
Amanda Auth BGP BitTorrent BitTorrent32 Ceph CVS Citrix DAAP DCC DHCPfwd DHCPv6 DNS Distcc FTP Finger GNUnet GRE
Git HKP HTTP HTTPS ICPV2 ICQ IMAP IMAPS IPIP IPsec IPsecah IPsecnat IRC Jetdirect L2TP LDAP LDAPS MDNS MSNP MSSQL
Mail Munin MySQL NNTP NNTPS NTP NeighborDiscovery OSPF OpenVPN PCA PMG POP3 POP3S PPtP Ping PostgreSQL Printer RDP
RIP RNDC Razor Rdate Rsync SANE SMB SMBswat SMTP SMTPS SNMP SPAMD SPICEproxy SSH SVN SixXS Squid Submission Syslog
TFTP Telnet Telnets Time Trcrt VNC VNCL Web Webcache Webmin Whois
""".split()
PREFERRED_MACRO = {name.lower(): name for name in MACROS}

# The type names iptables knows for `-p icmp` and ip6tables for `-p icmpv6` (Firewall.pm
# $icmp_type_names, $icmpv6_type_names).
ICMP_TYPES = frozenset("""
any echo-reply destination-unreachable network-unreachable host-unreachable protocol-unreachable port-unreachable
fragmentation-needed source-route-failed network-unknown host-unknown network-prohibited host-prohibited
TOS-network-unreachable TOS-host-unreachable communication-prohibited host-precedence-violation precedence-cutoff
source-quench redirect network-redirect host-redirect TOS-network-redirect TOS-host-redirect echo-request
router-advertisement router-solicitation time-exceeded ttl-zero-during-transit ttl-zero-during-reassembly
parameter-problem ip-header-bad required-option-missing timestamp-request timestamp-reply address-mask-request
address-mask-reply
""".split())
ICMPV6_TYPES = frozenset("""
destination-unreachable no-route communication-prohibited beyond-scope address-unreachable port-unreachable
failed-policy reject-route packet-too-big time-exceeded ttl-zero-during-transit ttl-zero-during-reassembly
parameter-problem bad-header unknown-header-type unknown-option echo-request echo-reply router-solicitation
router-advertisement neighbor-solicitation neighbour-solicitation neighbor-advertisement neighbour-advertisement
redirect
""".split())

# A node's /etc/protocols and /etc/services (Debian's netbase), which get_etc_protocols and
# get_etc_services read: protocols by name and number (plus the special case `icmpv6`), the names
# of tcp/udp/sctp services.
PROTOCOLS = dict(entry.split(":") for entry in """
ip:0 hopopt:0 icmp:1 igmp:2 ggp:3 ipencap:4 st:5 tcp:6 egp:8 igp:9 pup:12 udp:17 hmp:20 xns-idp:22 rdp:27
iso-tp4:29 dccp:33 xtp:36 ddp:37 idpr-cmtp:38 ipv6:41 ipv6-route:43 ipv6-frag:44 idrp:45 rsvp:46 gre:47 esp:50
ah:51 skip:57 ipv6-icmp:58 ipv6-nonxt:59 ipv6-opts:60 rspf:73 vmtp:81 eigrp:88 ospf:89 ax.25:93 ipip:94
etherip:97 encap:98 pim:103 ipcomp:108 vrrp:112 l2tp:115 isis:124 sctp:132 fc:133 mobility-header:135
udplite:136 mpls-in-ip:137 manet:138 hip:139 shim6:140 wesp:141 rohc:142 ethernet:143 mptcp:262
""".split())
PROTOCOL_IDS = frozenset(PROTOCOLS.values())
SERVICES = frozenset("""
tcpmux echo discard systat daytime netstat qotd chargen ftp-data ftp fsp ssh telnet smtp time whois tacacs
domain bootps bootpc tftp gopher finger http kerberos iso-tsap acr-nema pop3 sunrpc auth nntp ntp epmap
netbios-ns netbios-dgm netbios-ssn imap2 snmp snmp-trap cmip-man cmip-agent mailq xdmcp bgp smux qmtp z3950
ipx ptp-event ptp-general pawserv zserv rpc2portmap codaauth2 clearcase ldap svrloc https snpp microsoft-ds
kpasswd submissions saft isakmp rtsp nqs asf-rmcp qmqp ipp ldp exec biff login who shell syslog printer talk
ntalk route gdomap uucp klogin kshell dhcpv6-client dhcpv6-server afpovertcp nntps submission ldaps tinc silc
kerberos-adm domain-s rsync ftps-data ftps telnets imaps pop3s socks proofd rootd openvpn rmiregistry
lotusnote ms-sql-s ms-sql-m ingreslock datametrics sa-msg-port kermit groupwise l2f radius radius-acct
cisco-sccp nfs gnunet rtcm-sc104 gsigatekeeper gris cvspserver venus venus-se codasrv codasrv-se mon dict
f5-globalsite gsiftp gpsd gds-db icpv2 isns iscsi-target mysql ms-wbt-server nut distcc daap svn suucp sysrqd
sieve epmd remctl f5-iquery ntske ipsec-nat-t iax mtn radmin-port sip sip-tls xmpp-client xmpp-server cfengine
mdns postgresql freeciv amqps amqp x11 x11-1 x11-2 x11-3 x11-4 x11-5 x11-6 x11-7 gnutella-svc gnutella-rtr
redis sge-qmaster sge-execd mysql-proxy babel ircs-u bbs afs3-fileserver afs3-callback afs3-prserver
afs3-vlserver afs3-kaserver afs3-volser afs3-bos afs3-update afs3-rmtsys font-service http-alt puppet
bacula-dir bacula-fd bacula-sd xmms2 nbd zabbix-agent zabbix-trapper amanda dicom hkp db-lsp dcap gsidcap wnn6
kerberos4 kerberos-master passwd-server krb-prop zephyr-srv zephyr-clt zephyr-hm iprop supfilesrv supfiledbg
poppassd moira-db moira-update moira-ureg spamd skkserv predict rmtcfg xtel xtelw zebrasrv zebra ripd ripngd
ospfd bgpd ospf6d ospfapi isisd fax hylafax munin rplay nrpe nsca canna syslog-tls sane-port ircd zope-ftp
tproxy omniorb clc-build-daemon xinetd git zope webmin kamanda amandaidx amidxtape sgi-cmsd sgi-crsd sgi-gcd
sgi-cad binkp asp csync2 dircproxy tfido fido
""".split())


class FwError(ValueError):
    """A die of pve-firewall's checks; the text without its newline."""


@dataclass
class FirewallConfig:
    """load_vnetfw_conf's result: the options and the rules, in file order."""
    options: dict[str, Any] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)


def perl_true(value: Any) -> bool:
    return value not in (None, "", "0", 0)


def _perl_split(text: str, separator: str) -> list[str]:
    """Perl's split: trailing empty fields are dropped (leading ones stay)."""
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


# The format verifiers (register_format in Firewall.pm), also called by verify_rule


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise FwError(f"invalid IP address: Cannot determine IP version for {text}") from None


def _net_ip_version(elem: str) -> int:
    """What Net::IP->new accepts (an address, a prefix without host bits, a range `a-b`) and its IP
    version. Net::IP's own error texts are approximated (emulator/README.md)."""
    if "/" in elem:
        text, _sep, length = elem.partition("/")
        ip = _address(text)
        if not length.isdigit() or int(length) > ip.max_prefixlen:
            raise FwError(f"invalid IP address: Invalid prefix length /{length}")
        try:
            ipaddress.ip_network(elem, strict=True)
        except ValueError:
            bits = format(int(ip), f"0{ip.max_prefixlen}b")
            raise FwError(f"invalid IP address: Invalid prefix {bits}/{length}") from None
        return ip.version
    found = re.fullmatch(r"(.*?)\s*-\s*(.*)", elem)
    if found:
        begin, end = _address(found[1]), _address(found[2])
        if begin.version != end.version or int(begin) > int(end):
            raise FwError(f"invalid IP address: Begin address is greater than End address {found[1]} - {found[2]}")
        return begin.version
    return _address(elem).version


def parse_address_list(text: str) -> Optional[int]:
    """parse_address_list: an ipset (`+name`), an alias, or a list of addresses of one IP version."""
    if re.fullmatch(r"\+\S+", text):
        if len(text) > MAX_NAME_LENGTH + 1:
            raise FwError("ipset name too long")
        return None
    if re.fullmatch(rf"(dc/|guest/)?{NAME_PATTERN}", text):
        if len(text) > MAX_NAME_LENGTH:
            raise FwError("alias name too long")
        return None
    elements = _perl_split(text, ",")
    if text != ",".join(elements):
        raise FwError("extraneous commas in list")
    version: Optional[int] = None
    for elem in elements:
        new_version = _net_ip_version(elem)
        if version and new_version != version:
            raise FwError(f"detected mixed ipv4/ipv6 addresses in address list '{text}'")
        version = new_version
    if len(elements) > 1 and any("-" in elem for elem in elements):
        raise FwError("you can't use a range in a list")
    return version


def parse_ports(text: str, dport: bool) -> None:
    """parse_port_name_number_or_range; with `dport`, ICMP type names pass (once stored in dport)."""
    elements = _perl_split(text, ",")
    if text != ",".join(elements):
        raise FwError("extraneous commas in list")
    count, icmp_port = 0, False
    for item in elements:
        found = re.fullmatch(r"([0-9]+):([0-9]+)", item)
        if found:
            count += 2
            first, second = found[1], found[2]
            for port in (first, second):
                if int(port) > 65535:
                    raise FwError(f"invalid port '{port}'")
            if int(first) > int(second):
                raise FwError(f"backwards range '{first}:{second}' not allowed, did you mean '{second}:{first}'?")
        elif re.fullmatch(r"[0-9]+", item):
            count += 1
            if int(item) > 65535:
                raise FwError(f"invalid port '{item}'")
        elif dport and (item in ICMP_TYPES or item in ICMPV6_TYPES):
            icmp_port = True
        elif item not in SERVICES:
            raise FwError(f"invalid port '{item}'")
    if icmp_port and count > 0:
        raise FwError("ICMP ports not allowed in port range")
    if count > 15:
        raise FwError("too many entries in port list (> 15 numbers)")


def verify_protocol(proto: str) -> None:
    """pve_fw_verify_protocol_spec."""
    if perl_true(proto) and proto not in PROTOCOLS and proto not in PROTOCOL_IDS and proto != "icmpv6":
        raise FwError(f"unknown protocol '{proto}'")


def verify_icmp_type(icmp_type: str) -> None:
    """pve_fw_verify_icmp_type_spec: a name of either list, or empty."""
    if icmp_type not in ICMP_TYPES and icmp_type not in ICMPV6_TYPES and icmp_type != "":
        raise FwError(f"invalid icmp-type value '{icmp_type}'")


# The rule parameters with a pve-fw-* schema format (pve-fw-addr-spec, -dport-spec, -sport-spec,
# -protocol-spec, -icmp-type-spec), whose verifiers are pve-firewall's: formats.py has none of them.
FORMAT_CHECKS: dict[str, Callable[[str], Any]] = {
    "source": parse_address_list,
    "dest": parse_address_list,
    "dport": lambda text: parse_ports(text, True),
    "sport": lambda text: parse_ports(text, False),
    "proto": verify_protocol,
    "icmp-type": verify_icmp_type,
}


def check_formats(params: dict[str, Any]) -> None:
    """The schema's pve-fw-* formats (JSONSchema.pm check_format: "invalid format - <die text>"), one
    error per parameter. The emulator's schema check accepts formats it does not know, so these run
    first in the handler."""
    errors = {}
    for name, check in FORMAT_CHECKS.items():
        if params.get(name) is None:
            continue
        try:
            check(str(params[name]))
        except FwError as exc:
            errors[name] = f"invalid format - {exc}\n"
    if errors:
        raise ParamError(errors)


# verify_rule


def verify_rule(rule: dict[str, Any], ipsets: Iterable[str], *, noerr: bool = False) -> None:
    """verify_rule for rule_env 'vnet': without `noerr` the first error is a 400 on its parameter
    (raise_param_exc); with it (the parser), each parameter's first error goes to `errors`. Sets
    `ipversion` and a macro's preferred name. `ipsets` are the names of the SDN ipsets the caller may
    use (load_sdn_conf); the emulator has no cluster ipsets or aliases. The macro's own rules are not
    expanded, so its conflicts with the rule's parameters ("parameter ... already define in macro")
    are not checked."""
    errors: dict[str, str] = {}
    known_ipsets = set(ipsets)

    def add_error(param: str, message: str) -> None:
        message = message.rstrip("\n")
        if not noerr:
            raise ParamError({param: message})
        errors.setdefault(param, message)

    ipversion: Optional[int] = None

    def set_ip_version(version: Optional[int]) -> None:
        nonlocal ipversion
        if version:
            if ipversion and version != ipversion:
                raise FwError("detected mixed ipv4/ipv6 addresses in rule")
            ipversion = version

    def check_ipset_or_alias(name: str) -> None:
        value = rule.get(name)
        if not perl_true(value):
            return
        value = str(value)
        if value.startswith("+"):
            found = re.fullmatch(rf"\+(guest/|dc/|sdn/)?({NAME_PATTERN})", value)
            if not found:
                add_error(name, f"invalid ipset name '{value}'")
            elif found[2] not in known_ipsets:
                add_error(name, f"no such ipset '{found[2]}'")
        elif re.fullmatch(rf"(guest/|dc/)?{NAME_PATTERN}", value):
            add_error(name, f"no such alias '{value}'")

    rule_type, action = rule.get("type"), rule.get("action")
    if not perl_true(rule_type):
        add_error("type", "missing property")
    if not perl_true(action):
        add_error("action", "missing property")
    if perl_true(rule_type):
        if rule_type not in VNET_RULE_TYPES:
            add_error("type", f"invalid rule type '{rule_type}' for rule_env 'vnet'")
        if rule_type in ("in", "out", "forward"):
            if rule_type == "forward" and action == "REJECT":
                add_error("action", "cannot define REJECT rules on forward chain")
            if perl_true(action) and not re.fullmatch(r"ACCEPT|DROP|REJECT", str(action)):
                add_error("action", f"unknown action '{action}'")
        elif rule_type == "group":
            if perl_true(action) and not re.fullmatch(NAME_PATTERN, str(action)):
                add_error("action", "invalid characters in security group name")
        else:
            add_error("type", f"unknown rule type '{rule_type}'")

    if perl_true(rule.get("iface")):
        add_error("type", "parameter -i not allowed for this rule type")
        try:
            verify_format("pve-iface", str(rule["iface"]))
        except FormatError as exc:
            add_error("iface", str(exc))

    if perl_true(rule.get("macro")):
        preferred = PREFERRED_MACRO.get(str(rule["macro"]).lower())
        if preferred:
            rule["macro"] = preferred
        else:
            add_error("macro", f"unknown macro '{rule['macro']}'")

    proto = rule.get("proto")
    proto_text = "" if proto is None else str(proto)
    is_icmp = False
    if perl_true(proto):
        try:
            verify_protocol(proto_text)
        except FwError as exc:
            add_error("proto", str(exc))
        set_ip_version(4 if proto_text == "icmp" else 6 if proto_text in ("icmpv6", "ipv6-icmp") else None)
        is_icmp = proto_text in ICMP_PROTOCOLS

    if perl_true(rule.get("dport")):
        try:
            parse_ports(str(rule["dport"]), is_icmp)
        except FwError as exc:
            add_error("dport", str(exc))
        if not perl_true(proto):
            add_error("proto", "missing property - 'dport' requires this property")
        if proto_text not in PROTOCOLS_WITH_PORTS and not is_icmp:
            add_error("dport", f"protocol '{proto_text}' does not support ports")

    icmp_type = rule.get("icmp-type")
    if perl_true(icmp_type):
        if not is_icmp:
            add_error("proto", "missing property - 'icmp-type' requires this property")
        if perl_true(rule.get("dport")):
            add_error("icmp-type", "'icmp-type' cannot be specified together with 'dport'")
        if proto_text == "icmp" and icmp_type not in ICMP_TYPES:
            add_error("icmp-type", f"invalid icmp-type '{icmp_type}' for proto 'icmp'")
        elif proto_text in ("icmpv6", "ipv6-icmp") and icmp_type not in ICMPV6_TYPES:
            add_error("icmp-type", f"invalid icmp-type '{icmp_type}' for proto '{proto_text}'")

    if perl_true(rule.get("sport")):
        try:
            parse_ports(str(rule["sport"]), False)
        except FwError as exc:
            add_error("sport", str(exc))
        if not perl_true(proto):
            add_error("proto", "missing property - 'sport' requires this property")
        if proto_text not in PROTOCOLS_WITH_PORTS:
            add_error("sport", f"protocol '{proto_text}' does not support ports")

    for name in ("source", "dest"):
        if perl_true(rule.get(name)):
            try:
                set_ip_version(parse_address_list(str(rule[name])))
            except FwError as exc:
                add_error(name, str(exc))
            check_ipset_or_alias(name)

    if ipversion:
        rule["ipversion"] = ipversion
    if errors:
        rule["errors"] = errors


# The API's changes (API2/Firewall/Rules.pm, Vnet.pm)


def assert_if_modified(current: str, sent: Any) -> None:
    """PVE::Tools::assert_if_modified: only a digest that was sent and differs fails."""
    if perl_true(sent) and current != sent:
        raise Die(DIGEST_MISMATCH)


def copy_rule_data(rule: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """copy_rule_data: every rule property sent; '' or '-' removes it."""
    for key in RULE_PROPERTIES:
        value = params.get(key)
        if value is None:
            continue
        if value in ("", "-"):
            rule.pop(key, None)
        else:
            rule[key] = value
    return rule


def delete_rule_properties(rule: dict[str, Any], delete: str) -> None:
    for name in split_list(delete):
        if name not in RULE_PROPERTIES:
            raise ParamError({"delete": f"no such property ('{name}')"})
        if name in ("type", "action"):
            raise ParamError({"delete": f"unable to delete required property '{name}'"})
        rule.pop(name, None)


def create_rule(conf: FirewallConfig, params: dict[str, Any], ipsets: Iterable[str]) -> None:
    """create_rule: the new rule goes to the top, disabled unless `enable` was sent. `pos` and `digest`
    are accepted (they are rule properties) but not used: no digest check, no position."""
    rule = copy_rule_data({}, params)
    verify_rule(rule, ipsets)
    if params.get("enable") is None:
        rule["enable"] = 0
    conf.rules.insert(0, rule)


def update_rule(conf: FirewallConfig, pos: int, params: dict[str, Any], ipsets: Iterable[str]) -> None:
    """update_rule: the digest, the position, then either a move (`moveto` other than `pos`: before
    the rule at index moveto of the old list, at the end from len on; the other parameters ignored) or
    the change (copy_rule_data, then `delete`, then verify_rule)."""
    rules = conf.rules
    assert_if_modified(rules_digest(rules), params.get("digest"))
    if pos >= len(rules):
        raise Die(f"no rule at position {pos}\n")
    rule = rules[pos]
    moveto = params.get("moveto")
    if moveto is not None and moveto != pos:
        moved = []
        for index, other in enumerate(rules):
            if index == pos:
                continue
            if index == moveto:
                moved.append(rule)
            moved.append(other)
        if moveto >= len(rules):
            moved.append(rule)
        conf.rules = moved
        return
    copy_rule_data(rule, params)
    if perl_true(params.get("delete")):
        delete_rule_properties(rule, str(params["delete"]))
    verify_rule(rule, ipsets)


def delete_rule(conf: FirewallConfig, pos: int, digest: Any) -> None:
    assert_if_modified(rules_digest(conf.rules), digest)
    if pos >= len(conf.rules):
        raise Die(f"no rule at position {pos}\n")
    del conf.rules[pos]


def rule_at(conf: FirewallConfig, pos: int) -> dict[str, Any]:
    """get_rule: the rule with the list's digest and its position."""
    listed = list_rules(conf)
    if pos >= len(listed):
        raise Die(f"no rule at position {pos}\n")
    return listed[pos]


def set_options(conf: FirewallConfig, params: dict[str, Any]) -> None:
    """set_options: the digest, `delete` (only option names), then every option sent; `enable` as 0/1."""
    assert_if_modified(options_digest(conf.options), params.get("digest"))
    if perl_true(params.get("delete")):
        for name in split_list(str(params["delete"])):
            if name not in OPTION_NAMES:
                raise ParamError({"delete": f"no such option '{name}'"})
            conf.options.pop(name, None)
    for name in OPTION_NAMES:
        value = params.get(name)
        if value is not None:
            conf.options[name] = (1 if perl_true(value) else 0) if name == "enable" else value


# Digests and the GET answers


def options_digest(options: dict[str, Any]) -> str:
    """copy_opject_with_digest: SHA-1 over `key:value\\n` of the options in key order."""
    sha = hashlib.sha1()
    for key in sorted(options):
        if options[key] is not None:
            sha.update(f"{key}:{options[key]}\n".encode())
    return sha.hexdigest()


def rules_digest(rules: list[dict[str, Any]]) -> str:
    """copy_list_with_digest: SHA-1 over each rule's `key:value\\n` in key order, in list order; the
    `errors` hash is left out of the digest (not of the answer)."""
    sha = hashlib.sha1()
    for rule in rules:
        for key in sorted(rule):
            value = rule[key]
            if value is not None and not isinstance(value, dict):
                sha.update(f"{key}:{value}\n".encode())
    return sha.hexdigest()


def options_answer(conf: FirewallConfig) -> dict[str, Any]:
    return {**{k: v for k, v in conf.options.items() if v is not None}, "digest": options_digest(conf.options)}


def list_rules(conf: FirewallConfig) -> list[dict[str, Any]]:
    """get_rules: every rule with the list's digest and its position (0-based)."""
    digest = rules_digest(conf.rules)
    return [{**{k: v for k, v in rule.items() if v is not None}, "digest": digest, "pos": index}
            for index, rule in enumerate(conf.rules)]


# The file: parse and render


_OPTION_LINES = (
    (re.compile(r"(enable):\s*(\d+)\s*", re.IGNORECASE), int),
    (re.compile(r"(policy_forward):\s*(ACCEPT|DROP)\s*", re.IGNORECASE), str.upper),
    (re.compile(rf"(log_level_forward):\s*({'|'.join(LOG_LEVELS)})\s*", re.IGNORECASE), str.lower),
)
# parse_fw_rule's options, in the order it tries them (`-i` first; a group rule has no others)
_RULE_OPTIONS = (
    ("proto", re.compile(r"(?:-p|--?proto) (\S+)\s*")),
    ("dport", re.compile(r"--?dport (\S+)\s*")),
    ("sport", re.compile(r"--?sport (\S+)\s*")),
    ("source", re.compile(r"--?source (\S+)\s*")),
    ("dest", re.compile(r"--?dest (\S+)\s*")),
    ("log", re.compile(rf"--?log ({'|'.join(LOG_LEVELS)})\s*")),
    ("icmp-type", re.compile(r"--?icmp-type (\S+)\s*")),
)
_IFACE_OPTION = re.compile(r"-i (\S+)\s*")


def parse_option(line: str) -> tuple[str, Any]:
    """parse_vnetfw_option."""
    for pattern, convert in _OPTION_LINES:
        found = pattern.fullmatch(line)
        if found:
            return found[1].lower(), convert(found[2])
    raise FwError(f"can't parse option '{line}'")


def parse_rule(line: str, ipsets: Iterable[str]) -> dict[str, Any]:
    """parse_fw_rule, then verify_rule with noerr (its errors stay in the rule's `errors`)."""
    rule: dict[str, Any] = {}
    found = re.search(r"#\s*(.*?)\s*$", line)
    if found:
        rule["comment"] = found[1]
        line = line[:found.start()]
    rule["enable"] = 0 if line.startswith("|") else 1
    line = line[1:] if line.startswith("|") else line
    found = re.match(r"(\S+)\s+(\S+)\s*", line)
    if not found:
        raise FwError(f"unable to parse rule: {line}")
    rule["type"], rule["action"] = found[1].lower(), found[2]
    line = line[found.end():]
    if rule["type"] in ("in", "out", "forward"):
        macro = re.fullmatch(r"(\S+)\((ACCEPT|DROP|REJECT)\)", rule["action"])
        if macro:
            rule["macro"], rule["action"] = macro[1], macro[2]
    while line:
        found = _IFACE_OPTION.match(line)
        if found:
            rule["iface"], line = found[1], line[found.end():]
            continue
        if rule["type"] == "group":
            break
        for key, pattern in _RULE_OPTIONS:
            found = pattern.match(line)
            if found:
                rule[key], line = found[1], line[found.end():]
                break
        else:
            break
    if line:
        raise FwError(f"unable to parse rule parameters: {line}")
    verify_rule(rule, ipsets, noerr=True)
    return rule


def parse(text: str, ipsets: Iterable[str] = ()) -> FirewallConfig:
    """generic_fw_config_parser with a vnet's sections ([OPTIONS], [RULES], case-insensitive); lines
    it cannot parse are skipped (PVE warns in its log)."""
    conf = FirewallConfig()
    names = list(ipsets)
    section = None
    for raw in text.splitlines():
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(options|rules)\]", line, re.IGNORECASE)
        if header:
            section = header[1].lower()
            continue
        if section is None:
            continue
        try:
            if section == "options":
                key, value = parse_option(line)
                conf.options[key] = value
            else:
                conf.rules.append(parse_rule(line, names))
        except FwError:
            continue
    return conf


def render_rule(rule: dict[str, Any]) -> str:
    """One line of $format_rules (with interfaces: save_vnetfw_conf passes allow_iface 1)."""
    line = "|" if rule.get("enable") is not None and not perl_true(rule["enable"]) else ""
    line += str(rule["type"]).upper()
    line += f" {rule['macro']}({rule['action']})" if perl_true(rule.get("macro")) else f" {rule['action']}"
    if perl_true(rule.get("iface")):
        line += f" -i {rule['iface']}"
    if rule["type"] != "group":
        for key, flag in (("source", "-source"), ("dest", "-dest"), ("proto", "-p"), ("dport", "-dport"),
                          ("sport", "-sport"), ("log", "-log")):
            if perl_true(rule.get(key)):
                line += f" {flag} {rule[key]}"
        if rule.get("icmp-type") not in (None, ""):
            line += f" -icmp-type {rule['icmp-type']}"
    comment = rule.get("comment")
    if perl_true(comment) and not re.fullmatch(r"\s*", str(comment)):
        line += f" # {comment}"
    return line + "\n"


def render(conf: FirewallConfig) -> str:
    """save_vnetfw_conf's text: [OPTIONS] (here in key order; PVE's is Perl's hash order), then [RULES];
    empty when there is neither (then the file is removed)."""
    text = ""
    if conf.options:
        text += "[OPTIONS]\n\n" + "".join(f"{key}: {conf.options[key]}\n" for key in sorted(conf.options)) + "\n"
    if conf.rules:
        text += "[RULES]\n\n" + "".join(render_rule(rule) for rule in conf.rules) + "\n"
    return text


# The SDN ipsets rules may name (pve-rs firewall/sdn.rs config, proxmox-ve-config sdn/config.rs ipsets)


def sdn_ipsets(running_vnets: dict[str, dict], allowed: Callable[[str, str], bool] = lambda zone, vnet: True) -> list[str]:
    """Each running vnet's four ipsets, for the vnets `allowed(zone, vnet)` lets through. The
    guest-ipam-<vmid> ones need guests, which the emulator has not."""
    names = []
    for vnet_id, vnet in sorted(running_vnets.items()):
        if allowed(str(vnet.get("zone") or ""), vnet_id):
            names += [f"{vnet_id}-{kind}" for kind in ("all", "gateway", "no-gateway", "dhcp")]
    return names


# The files of one remote


class VnetFirewallFiles:
    """`<state-dir>/<remote>/sdn/firewall/<vnet>.fw`: each vnet's text, kept in memory and written at once
    (through a temporary file renamed into place); an empty config removes its file."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.texts: dict[str, str] = {}
        if directory.is_dir():
            for path in sorted(directory.glob("*.fw")):
                self.texts[path.stem] = path.read_text(encoding="utf-8")

    def load(self, vnet: str, ipsets: Iterable[str] = ()) -> FirewallConfig:
        return parse(self.texts.get(vnet, ""), ipsets)

    def save(self, vnet: str, conf: FirewallConfig) -> None:
        text = render(conf)
        path = self.directory / f"{vnet}.fw"
        if text:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{vnet}.fw.tmp.{os.getpid()}"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            self.texts[vnet] = text
        else:
            path.unlink(missing_ok=True)
            self.texts.pop(vnet, None)

    def clear(self) -> None:
        for vnet in list(self.texts):
            self.save(vnet, FirewallConfig())

    def describe(self, ipsets: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
        """The parsed file of every vnet that has one: {vnet: {"options": {...}, "rules": [...]}}."""
        names = list(ipsets)
        described = {}
        for vnet in sorted(self.texts):
            conf = self.load(vnet, names)
            described[vnet] = {"options": dict(conf.options), "rules": [dict(rule) for rule in conf.rules]}
        return described
