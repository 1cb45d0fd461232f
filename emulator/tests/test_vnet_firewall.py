"""A vnet's firewall (firewall.py, firewall_api.py) over real HTTPS: `/cluster/sdn/vnets/{vnet}/firewall`.

Expected behaviour and texts as pve-firewall 6.0.4 has them: API2/Firewall/Vnet.pm (options), Rules.pm
(RulesBase, VnetRules), Helpers.pm check_vnet_access, Firewall.pm (verify_rule, copy_rule_data,
delete_rule_properties, the digests, parse_fw_rule, save_vnetfw_conf), PVE::Tools assert_if_modified.
"""
from __future__ import annotations

import hashlib
import ssl

import httpx
import pytest
from emulator_api_client import apply, client, fresh, ok, refused

from pvefleet_emulator import firewall
from pvefleet_emulator.testing import EmulatorProcess

FW = "/cluster/sdn/vnets/v1/firewall"
NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"
DIGEST_MISMATCH = "detected modified configuration - file changed by other user? Try again.\n"
INVALID_VNET = "invalid vnet specified at /usr/share/perl5/PVE/API2/Firewall/Helpers.pm line 55.\n"
EMPTY_DIGEST = hashlib.sha1(b"").hexdigest()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=1, nodes=1, task_seconds=0.1, workdir=tmp_path_factory.mktemp("emu")) as emu:
        yield emu


@pytest.fixture
def remote(emulator):
    return fresh(emulator)


@pytest.fixture
def c(remote):
    """A client of a remote with zone z1 and vnet v1 (10.0.0.0/24) applied."""
    c = client(remote)
    ok(c.post("/cluster/sdn/zones", data={"zone": "z1", "type": "simple"}))
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v1", "zone": "z1"}))
    ok(c.post("/cluster/sdn/vnets/v1/subnets", data={"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1"}))
    apply(c)
    return c


def fw_file(emulator) -> str:
    return (emulator.state_dir / "remote001" / "sdn" / "firewall" / "v1.fw").read_text()


def rules(c: httpx.Client) -> list[dict]:
    return ok(c.get(FW + "/rules"))


def comments(c: httpx.Client) -> list[str]:
    return [rule.get("comment") for rule in rules(c)]


def add(c: httpx.Client, **fields) -> None:
    ok(c.post(FW + "/rules", data={"type": "forward", "action": "ACCEPT", **fields}))


def abcd(c: httpx.Client) -> None:
    """Rules a, b, c, d in this order (each new one goes to the top)."""
    for name in "dcba":
        add(c, comment=name)


def digest(c: httpx.Client) -> str:
    return rules(c)[0]["digest"]


def test_create_puts_the_rule_at_the_top_disabled_unless_enabled(c, remote, emulator):
    assert rules(c) == []
    add(c, proto="tcp", dport="22", log="nolog", comment="ssh in")
    add(c, action="DROP", source="10.0.0.0/24", enable=1, pos=5, digest="0" * 40)  # pos and digest: not used
    listed = rules(c)
    list_digest = listed[0]["digest"]
    assert listed == [
        {"pos": 0, "digest": list_digest, "type": "forward", "action": "DROP", "enable": 1, "source": "10.0.0.0/24",
         "ipversion": 4},
        {"pos": 1, "digest": list_digest, "type": "forward", "action": "ACCEPT", "enable": 0, "proto": "tcp",
         "dport": "22", "log": "nolog", "comment": "ssh in"}]
    assert ok(c.get(FW + "/rules/1")) == listed[1]
    # The file as save_vnetfw_conf writes it: a disabled rule prefixed with `|`.
    assert fw_file(emulator) == ("[RULES]\n\nFORWARD DROP -source 10.0.0.0/24\n"
                                 "|FORWARD ACCEPT -p tcp -dport 22 -log nolog # ssh in\n\n")
    # The state the control API shows: the parsed file.
    assert remote.control.state()["vnet_firewalls"] == {"v1": {"options": {}, "rules": [
        {"type": "forward", "action": "DROP", "enable": 1, "source": "10.0.0.0/24", "ipversion": 4},
        {"type": "forward", "action": "ACCEPT", "enable": 0, "proto": "tcp", "dport": "22", "log": "nolog",
         "comment": "ssh in"}]}}
    # The list digest: SHA-1 over each rule's key:value lines in key order (copy_list_with_digest).
    lines = "".join(f"{k}:{v}\n" for rule in remote.control.state()["vnet_firewalls"]["v1"]["rules"]
                    for k, v in sorted(rule.items()))
    assert list_digest == hashlib.sha1(lines.encode()).hexdigest()


def test_moveto_inserts_before_the_rule_at_that_index_of_the_old_list(c):
    abcd(c)
    assert comments(c) == ["a", "b", "c", "d"]
    ok(c.put(FW + "/rules/0", data={"moveto": 2}))  # down: before c, so at index 1
    assert comments(c) == ["b", "a", "c", "d"]
    ok(c.put(FW + "/rules/3", data={"moveto": 1}))  # up: before a
    assert comments(c) == ["b", "d", "a", "c"]
    ok(c.put(FW + "/rules/0", data={"moveto": 4}))  # from len on: to the end
    assert comments(c) == ["d", "a", "c", "b"]
    ok(c.put(FW + "/rules/1", data={"moveto": 99}))
    assert comments(c) == ["d", "c", "b", "a"]
    ok(c.put(FW + "/rules/0", data={"moveto": 1}))  # before its own successor: no change
    assert comments(c) == ["d", "c", "b", "a"]
    # With moveto the other parameters are ignored ...
    ok(c.put(FW + "/rules/0", data={"moveto": 2, "comment": "x", "action": "DROP"}))
    assert comments(c) == ["c", "d", "b", "a"] and rules(c)[1]["action"] == "ACCEPT"
    # ... unless moveto is the rule's own position: then it is an update.
    ok(c.put(FW + "/rules/1", data={"moveto": 1, "comment": "x"}))
    assert comments(c) == ["c", "x", "b", "a"]
    assert refused(c.put(FW + "/rules/0", data={"moveto": -1})) == {"moveto": "value must have a minimum value of 0"}


def test_update_sets_and_deletes_fields(c, emulator):
    add(c, proto="tcp", dport="22", sport="1024:65535", log="info", comment="one", macro="ssh")
    ok(c.put(FW + "/rules/0", data={"comment": "", "enable": 1}))  # '' deletes (copy_rule_data)
    assert "comment" not in rules(c)[0] and rules(c)[0]["enable"] == 1
    ok(c.put(FW + "/rules/0", data={"macro": "-"}))  # so does '-', where the format lets it through
    assert "macro" not in rules(c)[0]
    assert refused(c.put(FW + "/rules/0", data={"sport": "-"})) == {"sport": "invalid format - invalid port '-'\n"}
    ok(c.put(FW + "/rules/0", data={"sport": ""}))
    ok(c.put(FW + "/rules/0", data={"delete": "log,macro", "dest": "10.0.0.5"}))
    rule = rules(c)[0]
    assert {k: v for k, v in rule.items() if k != "digest"} == {
        "pos": 0, "type": "forward", "action": "ACCEPT", "enable": 1, "proto": "tcp", "dport": "22", "dest": "10.0.0.5",
        "ipversion": 4}
    assert fw_file(emulator) == "[RULES]\n\nFORWARD ACCEPT -dest 10.0.0.5 -p tcp -dport 22\n\n"
    ok(c.put(FW + "/rules/0", data={"enable": 0}))
    assert rules(c)[0]["enable"] == 0
    assert refused(c.put(FW + "/rules/0", data={"delete": "type"})) == {"delete": "unable to delete required property 'type'"}
    assert refused(c.put(FW + "/rules/0", data={"delete": "ipversion"})) == {"delete": "no such property ('ipversion')"}
    assert refused(c.put(FW + "/rules/0", data={"action": ""})) == {"action": "value does not match the regex pattern"}
    # A change that fails its check is not written.
    assert refused(c.put(FW + "/rules/0", data={"proto": "gre"})) == {"dport": "protocol 'gre' does not support ports"}
    assert rules(c)[0]["proto"] == "tcp"


def test_delete_and_positions_out_of_range(c, remote, emulator):
    abcd(c)
    ok(c.delete(FW + "/rules/1"))
    assert comments(c) == ["a", "c", "d"]
    for answer in (c.get(FW + "/rules/3"), c.put(FW + "/rules/3", data={"comment": "x"}), c.delete(FW + "/rules/3")):
        assert refused(answer, 500) == "no rule at position 3\n"
    assert refused(c.get(FW + "/rules/x")) == {"pos": "type check ('integer') failed - got 'x'"}
    for _rule in range(3):
        ok(c.delete(FW + "/rules/0"))
    assert rules(c) == []
    # An empty config has no file (save_vnetfw_conf unlinks it).
    assert not (emulator.state_dir / "remote001" / "sdn" / "firewall" / "v1.fw").exists()
    assert remote.control.state()["vnet_firewalls"] == {}


def test_digest_mismatch_refuses_the_change(c):
    abcd(c)
    current, stale = digest(c), "0" * 40
    assert refused(c.put(FW + "/rules/0", data={"comment": "x", "digest": stale}), 500) == DIGEST_MISMATCH
    assert refused(c.put(FW + "/rules/0", data={"moveto": 2, "digest": stale}), 500) == DIGEST_MISMATCH
    assert refused(c.delete(FW + "/rules/0", params={"digest": stale}), 500) == DIGEST_MISMATCH
    # The digest is checked before the position.
    assert refused(c.get(FW + "/rules/9"), 500) == "no rule at position 9\n"
    assert refused(c.delete(FW + "/rules/9", params={"digest": stale}), 500) == DIGEST_MISMATCH
    assert comments(c) == ["a", "b", "c", "d"]
    ok(c.put(FW + "/rules/0", data={"comment": "x", "digest": current}))
    assert digest(c) != current
    # POST takes a digest but does not check it (Rules.pm create_rule).
    add(c, comment="new", digest=stale)
    assert comments(c)[0] == "new"


@pytest.mark.parametrize(("fields", "errors"), [
    ({"action": "REJECT"}, {"action": "cannot define REJECT rules on forward chain"}),
    ({"iface": "eth0"}, {"type": "parameter -i not allowed for this rule type"}),
    ({"type": "in"}, {"type": "invalid rule type 'in' for rule_env 'vnet'"}),
    ({"action": "accept"}, {"action": "unknown action 'accept'"}),
    ({"dport": "22"}, {"proto": "missing property - 'dport' requires this property"}),
    ({"sport": "22"}, {"proto": "missing property - 'sport' requires this property"}),
    ({"proto": "icmp", "sport": "22"}, {"sport": "protocol 'icmp' does not support ports"}),
    ({"proto": "udp", "icmp-type": "echo-request"}, {"proto": "missing property - 'icmp-type' requires this property"}),
    ({"proto": "icmp", "icmp-type": "neighbor-solicitation"},
     {"icmp-type": "invalid icmp-type 'neighbor-solicitation' for proto 'icmp'"}),
    ({"source": "10.0.0.1", "dest": "fd00::1"}, {"dest": "detected mixed ipv4/ipv6 addresses in rule"}),
    ({"proto": "icmpv6", "source": "10.0.0.1"}, {"source": "detected mixed ipv4/ipv6 addresses in rule"}),
    ({"source": "+nope"}, {"source": "no such ipset 'nope'"}),
    ({"dest": "somealias"}, {"dest": "no such alias 'somealias'"}),
    ({"macro": "nope"}, {"macro": "unknown macro 'nope'"}),
    ({"type": "group", "action": "a b"}, {"action": "value does not match the regex pattern"}),
    # The schema's pve-fw-* formats: every failing parameter, as "invalid format - ...".
    ({"proto": "tcp", "dport": "99999", "source": "10.0.0.0/24,fd00::/64"},
     {"dport": "invalid format - invalid port '99999'\n",
      "source": "invalid format - detected mixed ipv4/ipv6 addresses in address list '10.0.0.0/24,fd00::/64'\n"}),
    ({"proto": "nope"}, {"proto": "invalid format - unknown protocol 'nope'\n"}),
    ({"proto": "tcp", "dport": "80:22"},
     {"dport": "invalid format - backwards range '80:22' not allowed, did you mean '22:80'?\n"}),
    ({"source": "10.0.0.1-10.0.0.9,10.1.0.1"}, {"source": "invalid format - you can't use a range in a list\n"}),
    ({"source": "10.0.0.1,"}, {"source": "invalid format - extraneous commas in list\n"}),
    ({"icmp-type": "bogus"}, {"icmp-type": "invalid format - invalid icmp-type value 'bogus'\n"}),
])
def test_rule_checks(c, fields, errors):
    assert refused(c.post(FW + "/rules", data={"type": "forward", "action": "ACCEPT", **fields})) == errors
    assert rules(c) == []


def test_accepted_rule_forms(c, emulator):
    add(c, macro="ssh")  # case-insensitive, stored under PVE's name
    add(c, macro="HTTPS", source="+sdn/v1-all", dest="+v1-gateway")  # the vnet's SDN ipsets
    add(c, proto="icmp", **{"icmp-type": "echo-request"})
    add(c, proto="tcp", dport="ssh,http,8000:8080", source="10.0.0.1-10.0.0.9")
    add(c, type="group", action="webservers", comment="group rule")
    listed = rules(c)
    assert [rule.get("macro") for rule in listed] == [None, None, None, "HTTPS", "SSH"]
    assert listed[2]["ipversion"] == 4 and listed[2]["icmp-type"] == "echo-request"
    assert fw_file(emulator) == (
        "[RULES]\n\n"
        "|GROUP webservers # group rule\n"
        "|FORWARD ACCEPT -source 10.0.0.1-10.0.0.9 -p tcp -dport ssh,http,8000:8080\n"
        "|FORWARD ACCEPT -p icmp -icmp-type echo-request\n"
        "|FORWARD HTTPS(ACCEPT) -source +sdn/v1-all -dest +v1-gateway\n"
        "|FORWARD SSH(ACCEPT)\n\n")
    ok(c.put(FW + "/rules/4", data={"macro": "dns"}))
    assert rules(c)[4]["macro"] == "DNS"


def test_a_vnet_that_is_not_applied_is_invalid(c):
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v2", "zone": "z1"}))  # pending only
    base = "/cluster/sdn/vnets/v2/firewall"
    for answer in (c.get(base + "/options"), c.put(base + "/options", data={"enable": 1}), c.get(base + "/rules"),
                   c.post(base + "/rules", data={"type": "forward", "action": "ACCEPT"}), c.get(base + "/rules/0"),
                   c.delete(base + "/rules/0")):
        assert refused(answer, 500) == INVALID_VNET
    assert refused(c.get("/cluster/sdn/vnets/nope/firewall/rules"), 500) == INVALID_VNET
    # A schema error comes first.
    assert refused(c.post(base + "/rules", data={"type": "forward"})) == {"action": "property is missing and it is not optional"}


def test_lock_token_refused_and_the_sdn_lock_does_not_block(c, remote):
    token = ok(c.post("/cluster/sdn/lock"))
    assert refused(c.post(FW + "/rules", data={"type": "forward", "action": "ACCEPT", "lock-token": token})) == \
        {"lock-token": NOT_IN_SCHEMA}
    assert refused(c.put(FW + "/options", data={"enable": 1, "lock-token": token})) == {"lock-token": NOT_IN_SCHEMA}
    # Held SDN lock: firewall writes go through, nothing becomes pending.
    add(c, comment="while locked")
    ok(c.put(FW + "/options", data={"enable": 1}))
    assert refused(c.put(FW + "/rules/0", data={"comment": "x", "lock-token": token})) == {"lock-token": NOT_IN_SCHEMA}
    assert refused(c.delete(FW + "/rules/0", params={"lock-token": token})) == {"lock-token": NOT_IN_SCHEMA}
    ok(c.delete(FW + "/rules/0"))
    state = remote.control.state()
    assert state["lock"]["held"] and not state["has_pending_changes"]


def test_permissions(c, remote):
    control = remote.control
    control.add_user("fw@pve", "secret-password")
    made = control.add_token("fw@pve", "tk", privsep=False)
    user = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    assert refused(user.get(FW + "/options"), 403) == "Permission check failed (/sdn/zones/z1/v1, SDN.Allocate|SDN.Audit)\n"
    assert refused(user.get(FW + "/rules"), 403) == "Permission check failed (/sdn/zones/z1/v1, SDN.Audit|SDN.Allocate)\n"
    control.add_acl("/sdn/zones/z1/v1", "PVEAuditor", users=["fw@pve"])
    assert ok(user.get(FW + "/options")) == {"digest": EMPTY_DIGEST}
    assert ok(user.get(FW + "/rules")) == []
    allocate = "Permission check failed (/sdn/zones/z1/v1, SDN.Allocate)\n"
    assert refused(user.post(FW + "/rules", data={"type": "forward", "action": "ACCEPT"}), 403) == allocate
    assert refused(user.put(FW + "/options", data={"enable": 1}), 403) == allocate
    add(c, comment="by root")
    assert refused(user.put(FW + "/rules/0", data={"comment": "x"}), 403) == allocate
    assert refused(user.delete(FW + "/rules/0"), 403) == allocate
    control.add_acl("/sdn/zones/z1/v1", "PVESDNAdmin", users=["fw@pve"])
    ok(user.post(FW + "/rules", data={"type": "forward", "action": "ACCEPT", "source": "+sdn/v1-all"}))
    # The directory index has no permissions in its schema: root@pam only (not even root's token).
    assert refused(user.get(FW), 403) == "Permission check failed (user != root@pam)\n"
    assert refused(c.get(FW), 403) == "Permission check failed (user != root@pam)\n"
    base = f"https://{remote.host}:{remote.port}/api2/json"
    tls = ssl.create_default_context(cafile=remote.ca_path)
    login = ok(httpx.post(base + "/access/ticket", data={"username": "root@pam", "password": remote.password}, verify=tls))
    assert ok(httpx.get(base + FW, cookies={"PVEAuthCookie": login["ticket"]}, verify=tls)) == \
        [{"name": "rules"}, {"name": "options"}]


def test_ipsets_are_those_of_the_vnets_the_caller_may_read(c, remote):
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v3", "zone": "z1"}))
    apply(c)
    control = remote.control
    control.add_user("fw@pve", "secret-password")
    made = control.add_token("fw@pve", "tk", privsep=False)
    control.add_acl("/sdn/zones/z1/v1", "PVESDNAdmin", users=["fw@pve"])
    user = client(remote, f"PVEAPIToken={made['full-tokenid']}={made['value']}")
    answer = user.post(FW + "/rules", data={"type": "forward", "action": "ACCEPT", "source": "+sdn/v3-all"})
    assert refused(answer) == {"source": "no such ipset 'v3-all'"}
    add(c, source="+sdn/v3-all")  # root may name any vnet's


def test_sdn_rollback_apply_and_vnet_delete_leave_the_firewall(c, remote):
    add(c, proto="tcp", dport="22")
    ok(c.put(FW + "/options", data={"enable": 1}))
    before = remote.control.state()["vnet_firewalls"]
    ok(c.put("/cluster/sdn/vnets/v1", data={"alias": "changed"}))
    token = ok(c.post("/cluster/sdn/lock", data={"allow-pending": 1}))
    ok(c.post("/cluster/sdn/rollback", data={"lock-token": token, "release-lock": 1}))
    assert remote.control.state()["vnet_firewalls"] == before
    apply(c)
    assert remote.control.state()["vnet_firewalls"] == before
    # A deleted vnet keeps its file (pve-network does not remove it), but is no longer valid here.
    ok(c.delete("/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"))
    ok(c.delete("/cluster/sdn/vnets/v1"))
    apply(c)
    assert refused(c.get(FW + "/rules"), 500) == INVALID_VNET
    assert remote.control.state()["vnet_firewalls"] == before
    ok(c.post("/cluster/sdn/vnets", data={"vnet": "v1", "zone": "z1"}))
    apply(c)
    assert rules(c)[0]["dport"] == "22"
    # A reset removes it.
    remote.control.reset()
    assert remote.control.state()["vnet_firewalls"] == {}


def test_options_round_trip_with_delete_and_digest(c, remote, emulator):
    assert ok(c.get(FW + "/options")) == {"digest": EMPTY_DIGEST}
    ok(c.put(FW + "/options", data={"enable": 1, "policy_forward": "DROP", "log_level_forward": "info"}))
    options = ok(c.get(FW + "/options"))
    lines = "enable:1\nlog_level_forward:info\npolicy_forward:DROP\n"
    assert options == {"enable": 1, "policy_forward": "DROP", "log_level_forward": "info",
                       "digest": hashlib.sha1(lines.encode()).hexdigest()}
    assert fw_file(emulator) == "[OPTIONS]\n\nenable: 1\nlog_level_forward: info\npolicy_forward: DROP\n\n"
    assert refused(c.put(FW + "/options", data={"enable": 0, "digest": "0" * 40}), 500) == DIGEST_MISMATCH
    assert refused(c.put(FW + "/options", data={"delete": "nope"})) == {"delete": "no such option 'nope'"}
    assert refused(c.put(FW + "/options", data={"policy_forward": "REJECT"})) == \
        {"policy_forward": "value 'REJECT' does not have a value in the enumeration 'ACCEPT, DROP'"}
    ok(c.put(FW + "/options", data={"delete": "log_level_forward,policy_forward", "enable": 0, "digest": options["digest"]}))
    assert ok(c.get(FW + "/options")) == {"enable": 0, "digest": hashlib.sha1(b"enable:0\n").hexdigest()}
    add(c, comment="rule")
    assert fw_file(emulator) == "[OPTIONS]\n\nenable: 0\n\n[RULES]\n\n|FORWARD ACCEPT # rule\n\n"
    assert remote.control.state()["vnet_firewalls"]["v1"]["options"] == {"enable": 0}
    ok(c.put(FW + "/options", data={"delete": "enable"}))
    assert fw_file(emulator) == "[RULES]\n\n|FORWARD ACCEPT # rule\n\n"


def test_parse_and_render_round_trip():
    text = ("[OPTIONS]\n\nenable: 1\npolicy_forward: ACCEPT\n\n[RULES]\n\n"
            "FORWARD DROP -source 10.0.0.0/8 -dest 10.1.0.0/16 -p udp -dport 53 -sport 1024:65535 -log warning # dns\n"
            "|FORWARD SSH(ACCEPT) -source +sdn/v1-all\n"
            "FORWARD ACCEPT -p icmpv6 -icmp-type echo-request\n"
            "GROUP servers # a group\n\n")
    conf = firewall.parse(text, ["v1-all"])
    assert firewall.render(conf) == text
    assert conf.options == {"enable": 1, "policy_forward": "ACCEPT"}
    assert conf.rules[0] == {"comment": "dns", "enable": 1, "type": "forward", "action": "DROP", "source": "10.0.0.0/8",
                             "dest": "10.1.0.0/16", "proto": "udp", "dport": "53", "sport": "1024:65535", "log": "warning",
                             "ipversion": 4}
    assert conf.rules[1]["macro"] == "SSH" and conf.rules[1]["enable"] == 0
    assert conf.rules[2]["ipversion"] == 6
    # What PVE's parser tolerates: any case of section and option names, spacing, unknown lines skipped.
    loose = firewall.parse("[options]\nENABLE:  0\nnonsense: 1\n[rules]\n  forward accept  \nnot a rule\n")
    assert loose.options == {"enable": 0}
    assert loose.rules == [{"enable": 1, "type": "forward", "action": "accept",
                            "errors": {"action": "unknown action 'accept'"}}]
