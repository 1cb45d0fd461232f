"""sdn_vnet_firewall through ansible-playbook against the emulator: options and ordered rules, rerun,
check mode, --diff, the ordering cases (insert, move up and down, delete, reverse, exclusive or not, match by
comment or by rule), a change interrupted half way, the vnet not applied, bad input. Every outcome is read
back from the vnet's .fw file as the emulator keeps it (state["vnet_firewalls"]), never from the module's
own report."""
from __future__ import annotations

import pytest
from playbook import run_playbook

WRITES = ("POST", "PUT", "DELETE")


def play(tasks, hosts="remote001"):
    return [{"name": "test", "hosts": hosts, "gather_facts": False, "tasks": tasks}]


def firewall(name="fw", **options) -> dict:
    return {"name": name, "pvefleet.sdn.sdn_vnet_firewall": {"vnet": "v1", **options}}


LAYOUT = [{"name": "zone", "pvefleet.sdn.sdn_zone": {"zone": "z1", "type": "simple"}},
          {"name": "vnet", "pvefleet.sdn.sdn_vnet": {"vnet": "v1", "zone": "z1"}},
          {"name": "apply", "pvefleet.sdn.sdn_apply": {}}]


def rule(comment: str, **options) -> dict:
    return {"comment": comment, "action": "ACCEPT", "proto": "tcp", **options}


A, B, C, D, E = (rule(name, dport=str(port)) for name, port in
                 (("a", 22), ("b", 80), ("c", 443), ("d", 8080), ("e", 9100)))


def state_of(remote) -> dict:
    return remote.control.state()["vnet_firewalls"].get("v1") or {"options": {}, "rules": []}


def comments(remote) -> list:
    return [r.get("comment") for r in state_of(remote)["rules"]]


def writes(remote) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in remote.control.requests() if r["method"] in WRITES]


@pytest.fixture
def applied(remotes, inventory, tmp_path):
    run = run_playbook(play(LAYOUT), inventory, tmp_path / "layout")
    assert run.rc == 0, run.output
    return remotes[0]


def converge(inventory, path, rules, **options):
    run = run_playbook(play([firewall(rules=rules, **options)]), inventory, path, diff=True)
    assert run.rc == 0, run.output
    return run.one("fw", "remote001")["result"]


def test_options_and_rules_then_a_rerun_changes_nothing(applied, inventory, tmp_path):
    remote = applied
    result = converge(inventory, tmp_path / "1", [A, B, {**C, "enable": False}], enable=True, policy_forward="DROP",
                      log_level_forward="info")
    assert result["changed"] and result["action"] == "update", result
    fw = state_of(remote)
    assert fw["options"] == {"enable": 1, "policy_forward": "DROP", "log_level_forward": "info"}, fw
    assert [(r["comment"], r["dport"], r["enable"]) for r in fw["rules"]] == [("a", "22", 1), ("b", "80", 1),
                                                                              ("c", "443", 0)], fw
    assert all(r["type"] == "forward" and r["action"] == "ACCEPT" for r in fw["rules"])
    assert result["diff"]["before"] == {"options": {}, "rules": []}
    assert [r["comment"] for r in result["diff"]["after"]["rules"]] == ["a", "b", "c"]
    assert not remote.control.state()["lock"]["held"]

    remote.control.clear_requests()
    again = converge(inventory, tmp_path / "2", [A, B, {**C, "enable": False}], enable=True, policy_forward="DROP",
                     log_level_forward="info")
    assert not again["changed"] and again["requests"] == [], again
    assert writes(remote) == []

    # Options alone: the rules are not managed, and stay as they are.
    rules = state_of(remote)["rules"]
    run = run_playbook(play([firewall(enable=False)]), inventory, tmp_path / "3")
    assert run.rc == 0, run.output
    assert run.one("fw", "remote001")["result"]["changed"]
    assert state_of(remote)["options"]["enable"] == 0 and state_of(remote)["rules"] == rules


# (start, declared, exclusive, match, the list after, the most rule moves allowed)
ORDERING = {
    "insert in the middle": ([A, B, D], [A, B, C, D], True, "comment", ["a", "b", "c", "d"], 1),
    "append": ([A, B], [A, B, C], True, "comment", ["a", "b", "c"], 1),
    "move one up": ([A, B, C, D], [A, D, B, C], True, "comment", ["a", "d", "b", "c"], 1),
    "move one down": ([A, B, C, D], [B, C, A, D], True, "comment", ["b", "c", "a", "d"], 1),
    "delete one": ([A, B, C, D], [A, C, D], True, "comment", ["a", "c", "d"], 0),
    "reverse": ([A, B, C, D], [D, C, B, A], True, "comment", ["d", "c", "b", "a"], 3),
    "replace all": ([A, B], [C, D], True, "comment", ["c", "d"], 2),
    "an empty list removes them all": ([A, B, C], [], True, "comment", [], 0),
    "not exclusive keeps the others": ([A, B, C], [C, E], False, "comment", ["a", "b", "c", "e"], 1),
    # d, the first declared, goes to the top; a, not declared, stays where it is among the others
    "not exclusive reorders only its own": ([A, B, C, D], [D, B], False, "comment", ["d", "a", "b", "c"], 1),
    "match by rule": ([A, B, C], [{**C, "comment": "c"}, A], True, "rule", ["c", "a"], 1),
}


@pytest.mark.parametrize("case", sorted(ORDERING))
def test_the_rule_list_converges_with_few_moves(applied, inventory, tmp_path, case):
    start, declared, exclusive, match, expected, most_moves = ORDERING[case]
    remote = applied
    converge(inventory, tmp_path / "start", start)
    assert comments(remote) == [r["comment"] for r in start]
    before = {r["comment"]: r for r in state_of(remote)["rules"]}

    remote.control.clear_requests()
    result = converge(inventory, tmp_path / "change", declared, exclusive=exclusive, match=match)
    assert result["changed"]
    assert comments(remote) == expected
    assert all(r["enable"] == 1 for r in state_of(remote)["rules"])
    moves = [req for req in remote.control.requests() if req["method"] == "PUT" and "moveto" in (req.get("params") or {})]
    assert len(moves) <= most_moves, remote.control.requests()
    kept = [c for c in expected if c in before]
    for c in kept:  # a rule kept is the same rule, not one deleted and made again
        assert {k: v for k, v in state_of(remote)["rules"][expected.index(c)].items() if k != "pos"} == \
            {k: v for k, v in before[c].items() if k != "pos"}, c
    remote.control.clear_requests()
    again = converge(inventory, tmp_path / "again", declared, exclusive=exclusive, match=match)
    assert not again["changed"], again
    assert writes(remote) == []


def test_an_updated_rule_changes_in_place(applied, inventory, tmp_path):
    remote = applied
    converge(inventory, tmp_path / "1", [A, B, C])
    remote.control.clear_requests()
    result = converge(inventory, tmp_path / "2", [A, {**B, "dport": "8080", "source": "192.0.2.0/24"}, C])
    assert result["changed"]
    assert writes(remote) == [("PUT", "/cluster/sdn/vnets/v1/firewall/rules/1")], writes(remote)
    rules = state_of(remote)["rules"]
    assert (rules[1]["comment"], rules[1]["dport"], rules[1]["source"]) == ("b", "8080", "192.0.2.0/24")


def test_check_mode_plans_and_writes_nothing(applied, inventory, tmp_path):
    remote = applied
    converge(inventory, tmp_path / "1", [A, B, C])
    before = state_of(remote)
    remote.control.clear_requests()
    run = run_playbook(play([firewall(rules=[C, A, D], enable=True)]), inventory, tmp_path / "2", check=True,
                       diff=True)
    assert run.rc == 0, run.output
    result = run.one("fw", "remote001")["result"]
    assert result["changed"] and result["requests"], result
    assert [r["comment"] for r in result["rules"]] == ["c", "a", "d"]
    assert result["options"]["enable"] is True
    assert state_of(remote) == before
    assert writes(remote) == []


def test_a_change_stopped_half_way_is_finished_by_a_rerun(applied, inventory, tmp_path):
    remote = applied
    converge(inventory, tmp_path / "1", [A, B, C, D])
    remote.control.fail("PUT", "/firewall/rules/", nth=2, status=500, message="injected: disk full")
    run = run_playbook(play([firewall(rules=[D, C, B, A])]), inventory, tmp_path / "2")
    assert run.rc != 0
    assert "injected: disk full" in run.one("fw", "remote001")["result"]["msg"]
    assert sorted(comments(remote)) == ["a", "b", "c", "d"], "no rule lost or doubled half way"
    remote.control.clear_faults()
    result = converge(inventory, tmp_path / "3", [D, C, B, A])
    assert result["changed"] and comments(remote) == ["d", "c", "b", "a"]


def test_a_failed_read_back_stops_the_module_and_a_rerun_finishes(applied, inventory, tmp_path):
    """The list is read back after each write; when that read fails the module stops rather than send the
    next request by positions it can no longer trust."""
    remote = applied
    converge(inventory, tmp_path / "1", [A, B])
    remote.control.clear_requests()
    remote.control.fail("GET", "/firewall/rules$", nth=2, status=500, message="injected: read failed")
    run = run_playbook(play([firewall(rules=[B, A, C])]), inventory, tmp_path / "2")
    assert run.rc != 0
    assert "injected: read failed" in run.one("fw", "remote001")["result"]["msg"]
    assert len(writes(remote)) == 1, writes(remote)
    remote.control.clear_faults()
    result = converge(inventory, tmp_path / "3", [B, A, C])
    assert comments(remote) == ["b", "a", "c"] and result["changed"]


def test_a_vnet_not_applied_is_refused_before_any_write(remotes, inventory, tmp_path):
    remote = remotes[0]
    assert run_playbook(play(LAYOUT[:2]), inventory, tmp_path / "layout").rc == 0
    remote.control.clear_requests()
    run = run_playbook(play([firewall(rules=[A], enable=True)]), inventory, tmp_path / "fw")
    assert run.rc != 0
    message = run.one("fw", "remote001")["result"]["msg"]
    assert "'v1' is not in the running SDN configuration" in message and "sdn_apply" in message, message
    assert writes(remote) == []


BAD = {
    "reject on forward": ([{"action": "REJECT", "proto": "tcp"}], "rules[0].action"),
    "port without proto": ([A, {"action": "ACCEPT", "dport": "22"}], "rules[1].dport"),
    "iface": ([{"action": "ACCEPT", "iface": "net0"}], "iface"),
    "unknown macro": ([{"action": "ACCEPT", "macro": "NoSuchMacro"}], "rules[0].macro"),
    "mixed address families": ([{"action": "ACCEPT", "source": "10.0.0.1", "dest": "fd00::1"}], "rules[0]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rules_are_refused_before_anything_is_sent(remotes, inventory, tmp_path, case):
    rules, where = BAD[case]
    remotes[0].control.fail("*", ".", nth=1, times=None, status=599, message="no request expected")
    run = run_playbook(play([firewall(rules=rules)]), inventory, tmp_path)
    assert run.rc != 0
    message = run.one("fw", "remote001")["result"]["msg"]
    assert where in message, message
    assert remotes[0].control.state()["faults"]["rules"][0]["seen"] == 0
