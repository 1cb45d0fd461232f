"""Vnet firewall model: the rules PVE's verify_rule applies, said per option, and the wire form."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils import _deps
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._firewall import (
    MACROS,
    FirewallOptions,
    FirewallRule,
    options_from_wire,
    parse_options,
    parse_rule,
    parse_rules,
    rule_changes,
    rule_from_wire,
    same_effect,
    same_rule,
)


def rule(**options: Any) -> FirewallRule:
    return parse_rule({"action": "ACCEPT", **options}, 0)


def errors_of(options: dict[str, Any], index: int = 2) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_rule(options, index)
    return caught.value.errors


def error(option: str, index: int = 2, **options: Any) -> str:
    """The one error of a rule (an ACCEPT rule unless `action` is given)."""
    errors = errors_of({"action": "ACCEPT", **options}, index)
    assert list(errors) == [f"rules[{index}].{option}"], errors
    return errors[f"rules[{index}].{option}"]


# --- a valid rule ------------------------------------------------------------------------


def test_defaults_and_wire_form() -> None:
    parsed = parse_rule({"action": "accept", "proto": "TCP", "dport": [22, "80:85"], "source": "10.0.0.0/8, 192.168.1.1",
                         "icmp_type": None, "enable": None, "comment": "  ssh and web  "}, 0)
    assert parsed.type == "forward" and parsed.enable is True
    assert parsed.to_wire() == {"type": "forward", "action": "ACCEPT", "source": "10.0.0.0/8,192.168.1.1",
                                "proto": "tcp", "dport": "22,80:85", "enable": 1, "comment": "ssh and web"}
    assert parsed.user_view() == {"type": "forward", "action": "ACCEPT", "source": "10.0.0.0/8,192.168.1.1",
                                  "proto": "tcp", "dport": "22,80:85", "enable": True, "comment": "ssh and web"}


def test_icmp_type_travels_with_a_dash() -> None:
    parsed = rule(proto="icmp", icmp_type="Echo-Request", enable=False)
    assert parsed.icmp_type == "echo-request"
    assert parsed.to_wire() == {"type": "forward", "action": "ACCEPT", "proto": "icmp", "icmp-type": "echo-request",
                                "enable": 0}


@pytest.mark.parametrize("options", [
    {"action": "DROP", "macro": "ssh", "source": "+dc/admins", "dest": "fd00::/64", "log": "info", "comment": "x"},
    {"action": "ACCEPT", "proto": "udp", "sport": "53", "dport": "domain,1024:65535", "dest": "10.0.0.1-10.0.0.9"},
    {"action": "ACCEPT", "proto": "icmpv6", "icmp_type": "neighbour-solicitation", "enable": False},
    {"type": "group", "action": "web-servers", "comment": "the web tier"},
    {"action": "DROP", "source": "guest/office", "dest": "dc/lan", "proto": "47"},
])
def test_wire_round_trip(options: dict[str, Any]) -> None:
    parsed = parse_rule(options, 0)
    wire = {**parsed.to_wire(), "pos": 3, "digest": "0123abcd", "ipversion": 6}
    back = rule_from_wire(wire)
    assert same_rule(back, parsed)
    assert back.user_view() == parsed.user_view()


def test_from_wire_enable_and_unknown_values() -> None:
    assert rule_from_wire({"type": "forward", "action": "ACCEPT", "pos": 0}).enable is True  # unmarked in the file
    assert rule_from_wire({"type": "forward", "action": "ACCEPT", "enable": 0}).enable is False
    assert rule_from_wire({"type": "forward", "action": "ACCEPT", "enable": 1}).enable is True
    # What PVE has is taken as it is: a macro of a newer PVE, an `in` rule from a hand-edited file.
    odd = rule_from_wire({"type": "in", "action": "REJECT", "macro": "NewThing", "iface": "eth0", "enable": 1,
                          "errors": {"type": "invalid rule type"}})
    assert (odd.type, odd.action, odd.macro, odd.iface) == ("in", "REJECT", "NewThing", "eth0")
    assert rule_from_wire({"type": "forward", "action": "ACCEPT", "macro": "http"}).macro == "HTTP"


# --- macros ------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "canonical"), [("ssh", "SSH"), ("SSH", "SSH"), ("dhcpv6", "DHCPv6"),
                                                  ("spiceproxy", "SPICEproxy"), (" bittorrent32 ", "BitTorrent32")])
def test_macro_is_canonicalised(given: str, canonical: str) -> None:
    assert rule(macro=given).macro == canonical


def test_macro_list_is_pve_s() -> None:
    assert len(MACROS) == 86
    assert {"SSH", "HTTPS", "Ceph", "NeighborDiscovery", "DHCPv6", "Ping", "PMG"} <= set(MACROS)


def test_unknown_macro_is_refused_with_a_suggestion() -> None:
    assert error("macro", macro="sshd") == "is not a macro Proxmox VE knows; did you mean SSH? (got 'sshd')"
    assert "pvesh get /cluster/firewall/macros" in error("macro", macro="zzzz")


def test_macro_conflicts_with_its_own_values() -> None:
    assert rule(macro="ssh", proto="tcp", dport="22").dport == "22"  # the same: PVE accepts it
    assert error("dport", macro="ssh", proto="tcp", dport="2222") == (
        "conflicts with macro SSH, which sets dport 22: leave dport out")
    assert error("proto", macro="DNS", proto="tcp") == "conflicts with macro DNS, which sets proto udp: leave proto out"
    # Ping is icmpv6 in an IPv6 rule.
    assert rule(macro="ping", proto="icmpv6").macro == "Ping"
    assert error("proto", macro="ping", proto="udp") == "conflicts with macro Ping, which sets proto icmp: leave proto out"
    assert error("proto", macro="ping", proto="udp", dest="fd00::1") == (
        "conflicts with macro Ping, which sets proto icmpv6: leave proto out")


# --- the rules, one option each ----------------------------------------------------------


def test_reject_on_the_forward_chain() -> None:
    assert error("action", action="REJECT") == "cannot define REJECT rules on forward chain: use DROP"
    assert error("action", action="MAYBE").startswith("must be ACCEPT or DROP for a forward rule")


def test_required_and_unknown_options() -> None:
    assert errors_of({"proto": "tcp"}) == {"rules[2].action": "required for a vnet firewall rule"}
    assert error("destination", destination="10.0.0.1") == "not an option of a vnet firewall rule"
    assert errors_of([], 4) == {"rules[4]": "must be a mapping of rule options"}  # type: ignore[arg-type]


def test_iface_is_not_for_vnet_rules() -> None:
    assert error("iface", iface="net0").startswith("not allowed for vnet rules")


def test_type() -> None:
    assert error("type", type="in").startswith("must be forward or group for a vnet rule")
    assert rule(type="FORWARD").type == "forward"
    assert "must be one of" in error("type", type="sideways")


def test_group_rules() -> None:
    assert rule(type="group", action="web-servers").action == "web-servers"
    assert error("action", type="group", action="9lives").startswith("must name a security group")
    assert error("action", type="group", action="a" * 19).startswith("must name a security group")
    assert error("dport", type="group", action="web", dport="22", proto=None) == (
        "not kept for a group rule: PVE saves only the group (action), enable and comment")


def test_ports_need_a_protocol_with_ports() -> None:
    assert error("dport", dport="22").startswith("needs proto, one with ports: tcp, udp")
    assert error("dport", proto="gre", dport="22") == "needs a proto with ports (tcp, udp, udplite, dccp or sctp), not gre"
    assert error("sport", proto="icmp", sport="1") == (
        "needs a proto with ports (tcp, udp, udplite, dccp or sctp), not icmp")
    assert rule(proto="6", sport="1024:65535").sport == "1024:65535"
    assert rule(proto="icmp", dport="echo-request").dport == "echo-request"  # PVE's legacy ICMP dport


@pytest.mark.parametrize(("dport", "rule_text"), [
    ("90:80", "has the backwards range 90:80; did you mean 80:90?"),
    ("70000", "out of range"),
    ("22,,80", "has an empty entry (a stray comma)"),
    ("80-85", "(use 80:85 for a range)"),
    (",".join(str(port) for port in range(1, 17)), "lists more than 15 ports (a range counts as 2)"),
    ("0", "cannot be port 0 alone"),
])
def test_port_syntax(dport: str, rule_text: str) -> None:
    assert rule_text in error("dport", proto="tcp", dport=dport)


def test_ports_are_canonical() -> None:
    assert rule(proto="tcp", dport=" 022 , 80:0085,http").dport == "22,80:85,http"
    assert rule(proto="tcp", dport=8006).dport == "8006"


def test_icmp_type_rules() -> None:
    assert error("icmp_type", icmp_type="echo-request") == "needs proto icmp, icmpv6 or ipv6-icmp"
    assert error("icmp_type", proto="icmp", icmp_type="any", dport="echo-request") == (
        "cannot be given together with dport")
    assert error("icmp_type", proto="icmpv6", icmp_type="source-quench") == (
        "is not an ICMPv6 type, which proto icmpv6 needs")
    assert error("icmp_type", proto="icmp", icmp_type="pong").startswith("must be an ICMP type name")
    assert rule(proto="ipv6-icmp", icmp_type="packet-too-big").icmp_type == "packet-too-big"


@pytest.mark.parametrize(("options", "option", "rule_text"), [
    ({"source": "10.0.0.1/24"}, "source", "'10.0.0.1/24' has host bits set; did you mean 10.0.0.0/24?"),
    ({"source": "10.0.0.1,fd00::1"}, "source", "mixes IPv4 and IPv6 addresses; use a rule for each"),
    ({"dest": ["10.0.0.1", "fd00::/8"]}, "dest", "mixes IPv4 and IPv6 addresses"),
    ({"dest": "10.0.0.1-10.0.0.9,10.0.1.1"}, "dest", "a range (a-b) must be the only entry"),
    ({"dest": "10.0.0.9-10.0.0.1"}, "dest", "ends before it starts"),
    ({"source": "+1set"}, "source", "must name an ipset as +name"),
    ({"source": "10.0.0.1,+admins"}, "source", "an ipset (+name) or an alias name must be the only entry"),
    ({"source": "a" * 65}, "source", "names an alias longer than 64 characters"),
    ({"source": ",".join(f"10.0.{i // 250}.{i % 250}" for i in range(60))}, "source", "at most 512 characters"),
    ({"source": "10.0.0.1", "dest": "fd00::1"}, "dest", "is IPv6 but source is IPv4: a rule cannot mix IPv4 and IPv6"),
    ({"proto": "icmp", "source": "fd00::1"}, "source", "is IPv6 but proto icmp is IPv4"),
])
def test_addresses(options: dict[str, Any], option: str, rule_text: str) -> None:
    assert rule_text in error(option, **options)


def test_addresses_are_canonical() -> None:
    parsed = rule(source=["FD00::0001", "fd00:0::/64"], dest="fd01::0001 - fd01::9")
    assert (parsed.source, parsed.dest) == ("fd00::1,fd00::/64", "fd01::1-fd01::9")
    assert rule(dest="10.0.0.1 - 10.0.0.9").dest == "10.0.0.1-10.0.0.9"
    assert rule(source="+sdn/vnet1-all").source == "+sdn/vnet1-all"


def test_comment_rules() -> None:
    assert rule(comment="   ").comment is None
    assert error("comment", comment="two\nlines").startswith("must be one line")
    assert error("comment", comment="-").startswith("cannot be '-' alone")


def test_parse_rules_reports_every_rule_by_index() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rules([{"action": "ACCEPT"}, {"action": "REJECT"}, "ssh", {"action": "DROP", "dport": "22"}])
    errors = caught.value.errors
    assert set(errors) == {"rules[1].action", "rules[2]", "rules[3].dport"}
    assert parse_rules(None) == []
    with pytest.raises(InvalidInput) as caught:
        parse_rules({"action": "ACCEPT"}, option="firewall_rules")
    assert caught.value.errors == {"firewall_rules": "must be a list of rules"}


def test_several_errors_of_one_rule() -> None:
    errors = errors_of({"action": "ACCEPT", "log": "loud", "enable": "maybe"})
    assert errors == {"rules[2].log": "must be one of emerg, alert, crit, err, warning, notice, info, debug, nolog "
                                      "(got 'loud')",
                      "rules[2].enable": "must be true or false (got 'maybe')"}


# --- comparing ---------------------------------------------------------------------------


def test_same_rule_and_same_effect() -> None:
    first = rule(proto="tcp", dport="22", comment="ssh")
    assert same_rule(first, rule(proto="tcp", dport="22", comment="ssh"))
    assert not same_rule(first, rule(proto="tcp", dport="22", comment="admin ssh"))
    assert same_effect(first, rule(proto="tcp", dport="22", comment="admin ssh", enable=False))
    assert not same_effect(first, rule(proto="tcp", dport="23", comment="ssh"))
    assert not same_effect(first, rule(proto="tcp", dport="22", comment="ssh", log="info"))


def test_rule_changes_are_put_parameters() -> None:
    current = rule(proto="icmp", icmp_type="echo-request", comment="ping", log="info")
    desired = rule(proto="tcp", dport="22", comment="ping", enable=False)
    assert rule_changes(current, desired) == ({"proto": "tcp", "dport": "22", "enable": 0}, ["icmp-type", "log"])
    assert rule_changes(current, current) == ({}, [])


# --- options -----------------------------------------------------------------------------


def test_options_parse_and_wire() -> None:
    options = parse_options({"enable": True, "policy_forward": "drop", "log_level_forward": None})
    assert options.managed() == ("enable", "policy_forward")
    assert options.to_wire() == {"enable": 1, "policy_forward": "DROP"}
    assert options.user_view() == {"enable": True, "policy_forward": "DROP"}


def test_options_errors_name_the_option() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_options({"policy_forward": "REJECT", "log_level_forward": "loud", "policy_in": "DROP"}, option="options")
    assert caught.value.errors == {
        "options.policy_forward": "must be one of ACCEPT, DROP (got 'REJECT')",
        "options.log_level_forward": "must be one of emerg, alert, crit, err, warning, notice, info, debug, nolog "
                                     "(got 'loud')",
        "options.policy_in": "not an option of a vnet firewall options"}


def test_options_changes_touch_only_managed_options() -> None:
    current = options_from_wire({"enable": 1, "policy_forward": "ACCEPT", "log_level_forward": "info",
                                 "digest": "abc"})
    assert current.user_view() == {"enable": True, "policy_forward": "ACCEPT", "log_level_forward": "info"}
    assert parse_options({"policy_forward": "DROP"}).changes_from(current) == {"policy_forward": "DROP"}
    assert parse_options({"enable": True, "log_level_forward": "info"}).changes_from(current) == {}
    assert parse_options({}).changes_from(current) == {}
    # enable is 0 when PVE has none (the schema default)
    assert parse_options({"enable": False}).changes_from(options_from_wire({})) == {}
    assert parse_options({"enable": True}).changes_from(options_from_wire({})) == {"enable": 1}
    # An option explicitly None is removed.
    removal = FirewallOptions.model_validate({"log_level_forward": None, "enable": False})
    assert removal.changes_from(current) == {"enable": 0, "delete": "log_level_forward"}


# --- ansible-test's import sanity ----------------------------------------------------------

COLLECTIONS = Path(_deps.__file__).parents[5]
SCRIPT = f"""
import importlib, sys
sys.modules["pydantic"] = None
sys.path.insert(0, {str(COLLECTIONS)!r})
for name in ("_models._firewall", "_firewall_plan"):
    importlib.import_module("ansible_collections.pvefleet.sdn.plugins.module_utils." + name)
"""


def test_imports_without_pydantic() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
