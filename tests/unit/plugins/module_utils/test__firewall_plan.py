"""The vnet firewall rule planner: PVE's position semantics, explicit plans, and properties over
random current/desired lists (convergence, idempotence, fewest moves, created rules disabled
until in place)."""
from __future__ import annotations

import itertools
from bisect import bisect_left
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pvefleet.sdn.plugins.module_utils._firewall_plan import (
    Create,
    Delete,
    Move,
    Update,
    match_rules,
    plan_options,
    plan_rules,
    simulate,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._firewall import (
    FirewallRule,
    options_from_wire,
    parse_options,
    parse_rule,
)


def rule(name: Optional[str] = None, action: str = "ACCEPT", **options: Any) -> FirewallRule:
    return parse_rule({"action": action, "comment": name, **options}, 0)


A, B, C, D = (rule(name, proto="tcp", dport=str(port)) for name, port in zip("abcd", (21, 22, 23, 24)))
N = rule("n", "DROP", proto="udp", dport="53")


def views(rules: list[FirewallRule]) -> list[dict[str, Any]]:
    return [item.values() for item in rules]


def converges(current: list[FirewallRule], desired: list[FirewallRule], *, exclusive: bool, match: str) -> list[Any]:
    """The plan, checked to leave nothing to do."""
    ops = plan_rules(current, desired, exclusive=exclusive, match=match)
    assert plan_rules(simulate(current, ops), desired, exclusive=exclusive, match=match) == []
    return ops


# --- PVE's semantics ---------------------------------------------------------------------


def test_moveto_is_before_the_element_that_was_there() -> None:
    rules = [A, B, C, D]
    assert simulate(rules, [Move(0, 2)]) == [B, A, C, D]  # moving down lands at moveto - 1
    assert simulate(rules, [Move(3, 1)]) == [A, D, B, C]
    assert simulate(rules, [Move(0, 4)]) == [B, C, D, A]  # moveto >= length appends
    assert simulate(rules, [Move(1, 99)]) == [A, C, D, B]
    assert simulate(rules, [Move(2, 2)]) == rules


def test_create_at_top_update_and_delete() -> None:
    assert simulate([A], [Create(B)]) == [B, A]
    assert simulate([A, B], [Delete(0)]) == [B]
    changed = simulate([rule("x", proto="icmp", icmp_type="any", log="info")],
                       [Update(0, {"proto": "tcp", "dport": "22", "comment": "-"}, ["icmp-type", "log"])])
    assert views(changed) == views([parse_rule({"action": "ACCEPT", "proto": "tcp", "dport": "22"}, 0)])


@pytest.mark.parametrize("op", [Move(4, 0), Update(4, {}, []), Delete(4), Move(0, -1), Update(0, {}, ["action"])])
def test_invalid_operations_raise(op: Any) -> None:
    with pytest.raises(ValueError):
        simulate([A, B, C, D], [op])


def test_operation_requests() -> None:
    assert (Create(N).method, Create(N).path) == ("POST", "rules")
    assert Create(N).params()["dport"] == "53"
    assert (Move(3, 0).method, Move(3, 0).path, Move(3, 0).params()) == ("PUT", "rules/3", {"moveto": 0})
    assert Update(1, {"enable": 1}, ["log", "icmp-type"]).params() == {"enable": 1, "delete": "log,icmp-type"}
    assert Update(1, {"enable": 1}, []).params() == {"enable": 1}
    assert (Delete(2).method, Delete(2).path, Delete(2).params()) == ("DELETE", "rules/2", {})


# --- explicit plans ----------------------------------------------------------------------


@pytest.mark.parametrize("exclusive", [True, False])
def test_insert_in_the_middle(exclusive: bool) -> None:
    ops = converges([A, B], [A, N, B], exclusive=exclusive, match="comment")
    assert ops == [Create(N.model_copy(update={"enable": False})), Move(0, 2), Update(1, {"enable": 1}, [])]
    assert simulate([A, B], ops) == [A, N, B]


def test_new_first_rule_stays_at_the_top() -> None:
    ops = converges([A, B], [N, A, B], exclusive=True, match="rule")
    assert ops == [Create(N.model_copy(update={"enable": False})), Update(0, {"enable": 1}, [])]


def test_new_disabled_rule_is_not_enabled() -> None:
    off = N.model_copy(update={"enable": False})
    assert converges([A], [A, off], exclusive=True, match="comment") == [Create(off), Move(0, 2)]


def test_move_one_rule_up_and_down() -> None:
    assert converges([A, B, C, D], [A, D, B, C], exclusive=True, match="comment") == [Move(3, 1)]
    assert converges([A, B, C, D], [B, C, A, D], exclusive=True, match="comment") == [Move(0, 3)]
    assert simulate([A, B, C, D], [Move(0, 3)]) == [B, C, A, D]


def test_reorder_with_fewest_moves() -> None:
    ops = converges([A, B, C, D], [D, C, B, A], exclusive=True, match="rule")
    assert len(ops) == 3 and all(isinstance(op, Move) for op in ops)
    assert simulate([A, B, C, D], ops) == [D, C, B, A]


def test_delete_only_when_exclusive() -> None:
    assert converges([A, B, C], [A, C], exclusive=True, match="comment") == [Delete(1)]
    assert converges([A, B, C], [A, C], exclusive=False, match="comment") == []
    assert converges([A, B, C], [], exclusive=True, match="rule") == [Delete(2), Delete(1), Delete(0)]


def test_not_exclusive_keeps_unmanaged_rules_in_place() -> None:
    ops = converges([A, B, C], [C, N, A], exclusive=False, match="comment")
    assert not any(isinstance(op, Delete) for op in ops)
    # C moves to the top (the first declared rule); N goes right after C; B stays where it was.
    result = simulate([A, B, C], ops)
    assert result == [C, N, A, B]


def test_comment_match_updates_in_place() -> None:
    changed = rule("b", "DROP", proto="tcp", dport="2222", log="info")
    ops = converges([A, B, C], [A, changed, C], exclusive=True, match="comment")
    assert ops == [Update(1, {"action": "DROP", "dport": "2222", "log": "info"}, [])]


def test_rule_match_replaces_a_changed_rule() -> None:
    changed = rule("b", "DROP", proto="tcp", dport="2222")
    ops = converges([A, B, C], [A, changed, C], exclusive=True, match="rule")
    # created disabled at the top, moved into place, enabled, and the old rule deleted last
    assert ops == [Create(changed.model_copy(update={"enable": False})), Move(0, 2), Update(1, {"enable": 1}, []),
                   Delete(2)]
    assert converges([A, B, C], [A, changed, C], exclusive=False, match="rule")[-1] == Update(1, {"enable": 1}, [])


def test_rule_match_updates_comment_and_enable() -> None:
    renamed = B.model_copy(update={"comment": "ssh", "enable": False})
    assert converges([A, B], [A, renamed], exclusive=True, match="rule") == [
        Update(1, {"enable": 0, "comment": "ssh"}, [])]


def test_comment_match_takes_an_uncommented_rule_but_never_another_comment() -> None:
    bare = B.model_copy(update={"comment": None})
    assert converges([A, bare], [A, B], exclusive=True, match="comment") == [Update(1, {"comment": "b"}, [])]
    other = B.model_copy(update={"comment": "someone else's"})
    ops = converges([A, other], [A, B], exclusive=False, match="comment")
    assert simulate([A, other], ops) == [A, B, other]


def test_converged_lists_need_nothing() -> None:
    for how in itertools.product((True, False), ("comment", "rule")):
        assert plan_rules([A, B, N, C], [A, B, N, C], exclusive=how[0], match=how[1]) == []
    assert plan_rules([A, B, N, C], [B, C], exclusive=False, match="comment") == []


def test_match_rules_pairs_in_list_order() -> None:
    twin = A.model_copy(update={"comment": None})
    assert match_rules([twin, B, twin], [twin, twin], "rule") == [0, 2]
    assert match_rules([B, A], [A, B], "comment") == [1, 0]
    with pytest.raises(ValueError):
        match_rules([], [], "position")


def test_plan_options() -> None:
    current = options_from_wire({"enable": 1, "policy_forward": "ACCEPT"})
    assert plan_options(current, parse_options({"enable": True})) is None
    assert plan_options(current, parse_options({"policy_forward": "DROP", "log_level_forward": "info"})) == {
        "policy_forward": "DROP", "log_level_forward": "info"}


# --- properties --------------------------------------------------------------------------

# A small pool, so that lists share rules, comments and effects (the hard cases for matching).
EFFECTS = [{"action": "ACCEPT"}, {"action": "DROP"}, {"action": "ACCEPT", "proto": "tcp", "dport": "22"},
           {"action": "DROP", "proto": "udp", "dport": "53", "log": "info"}]
POOL = [parse_rule({**effect, "comment": comment, "enable": enable}, 0)
        for effect in EFFECTS for comment in (None, "a", "b", "c") for enable in (True, False)]
rule_lists = st.lists(st.sampled_from(POOL), max_size=7)
modes = st.sampled_from(["comment", "rule"])


def lis(sequence: list[int]) -> int:
    tails: list[int] = []
    for value in sequence:
        at = bisect_left(tails, value)
        tails[at:at + 1] = [value]
    return len(tails)


def tokens_through(current: list[FirewallRule], ops: list[Any]) -> list[list[tuple[str, int]]]:
    """Where each rule is after each operation, worked out apart from `simulate`: ("c", i) for
    current rule i, ("n", k) for the k-th created one."""
    live = [("c", i) for i in range(len(current))]
    created = 0
    steps = []
    for op in ops:
        if isinstance(op, Create):
            live.insert(0, ("n", created))
            created += 1
        elif isinstance(op, Move):
            moving = live[op.pos]
            anchor = live[op.moveto] if op.moveto < len(live) else None
            live.remove(moving)
            if anchor is None:
                live.append(moving)
            elif anchor != moving:
                live.insert(live.index(anchor), moving)
            else:
                live.insert(op.pos, moving)
        elif isinstance(op, Delete):
            del live[op.pos]
        steps.append(list(live))
    return steps


@settings(max_examples=400, deadline=None, derandomize=True)
@given(current=rule_lists, desired=rule_lists, match=modes)
def test_exclusive_plan_makes_the_list_the_desired_one(current, desired, match) -> None:
    ops = plan_rules(current, desired, exclusive=True, match=match)
    result = simulate(current, ops)
    assert views(result) == views(desired)
    assert plan_rules(result, desired, exclusive=True, match=match) == []
    # deletions last
    kinds = [type(op) for op in ops]
    assert kinds == sorted(kinds, key=lambda kind: kind is Delete)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(current=rule_lists, desired=rule_lists, match=modes)
def test_plan_that_is_not_exclusive_keeps_the_other_rules(current, desired, match) -> None:
    ops = plan_rules(current, desired, exclusive=False, match=match)
    assert not any(isinstance(op, Delete) for op in ops)
    result = simulate(current, ops)
    final = tokens_through(current, ops)[-1] if ops else [("c", i) for i in range(len(current))]
    unmanaged = set(range(len(current))) - {pair for pair in match_rules(current, desired, match) if pair is not None}
    left = [index for kind, index in final if kind == "c" and index in unmanaged]
    assert left == sorted(unmanaged)  # all there, in their relative order
    assert all(views([result[pos]]) == views([current[index]])
               for pos, (kind, index) in enumerate(final) if kind == "c" and index in unmanaged)
    declared = [result[pos] for pos, (kind, index) in enumerate(final) if not (kind == "c" and index in unmanaged)]
    assert views(declared) == views(desired)
    assert plan_rules(result, desired, exclusive=False, match=match) == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rules=rule_lists, exclusive=st.booleans(), match=modes)
def test_converged_plan_is_empty(rules, exclusive, match) -> None:
    assert plan_rules(rules, rules, exclusive=exclusive, match=match) == []


@settings(max_examples=400, deadline=None, derandomize=True)
@given(current=rule_lists, desired=rule_lists, exclusive=st.booleans(), match=modes)
def test_fewest_moves(current, desired, exclusive, match) -> None:
    pairs = match_rules(current, desired, match)
    ops = plan_rules(current, desired, exclusive=exclusive, match=match)
    moves = sum(isinstance(op, Move) for op in ops)
    declared_at = {index: j for j, index in enumerate(pairs) if index is not None}
    matched_order = [declared_at[i] for i in range(len(current)) if i in declared_at]
    new = [j for j, index in enumerate(pairs) if index is None]
    # New rules start at the top in declared order; nothing can need fewer moves than that.
    assert moves == len(desired) - lis(new + matched_order)
    if not new:
        assert moves == len(matched_order) - lis(matched_order)
    assert moves <= len(matched_order) - lis(matched_order) + len(new)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(current=rule_lists, desired=rule_lists, exclusive=st.booleans(), match=modes)
def test_created_rules_stay_disabled_until_in_place(current, desired, exclusive, match) -> None:
    ops = plan_rules(current, desired, exclusive=exclusive, match=match)
    steps = tokens_through(current, ops)
    for at, _op in enumerate(ops):
        rules = simulate(current, ops[:at + 1])
        placing_left = any(isinstance(later, (Create, Move)) for later in ops[at + 1:])
        for pos, (kind, _index) in enumerate(steps[at]):
            if kind == "n" and placing_left:
                assert not rules[pos].enable, (at, ops)
