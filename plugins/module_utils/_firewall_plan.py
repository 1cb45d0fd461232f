# Private to pvefleet.sdn: not a public API.
"""Plan the requests that turn a vnet's firewall rules into the declared ones.

A pure planner: it reads two lists of rules and returns operations; the executor sends them in
order, and `simulate` applies them the way PVE does, for check mode, diffs and tests.

PVE's rule list (pve-firewall `PVE/API2/Firewall/Rules.pm`) is edited by position, 0 at the top:
- POST `rules` inserts the new rule at the top (position 0); without `enable` it is disabled;
- PUT `rules/{pos}` with `moveto=m` takes the rule out and puts it before the rule that was at
  index m in the list as it was (so moving down lands at m - 1; m >= the length appends); the
  other parameters are then ignored;
- PUT `rules/{pos}` without `moveto` changes the rule in place (`delete` lists options to remove);
- DELETE `rules/{pos}` takes the rule out.
Each operation's positions are those of the list just before it, so the plan's order matters.

Matching (`match_rules`): each declared rule is matched with at most one current rule, in list
order: first the longest in-order alignment of the two lists, then each declared rule left with
the first current rule left that it can pair with (those will move). What can pair:
- match="rule": a current rule with the same effect (`same_effect`: all options but comment and
  enable); a rule that differs otherwise is a new rule (and, when exclusive, the old one goes);
- match="comment": a declared rule with a comment pairs with the current rule with that comment
  (preferred), or with an *uncommented* current rule with the same effect; a declared rule without
  comment pairs with an uncommented current rule with the same effect. A commented current rule
  is matched by its comment only: its comment is its name. A matched rule that differs is updated
  in place (options, comment, enable).
The alignment is what makes plans converge when not exclusive: a list that holds the declared
rules in order, whatever stands between them, is matched exactly with them (a greedy match could
pick an unmanaged twin that a move had put in between, and plan again).

Order of the operations, chosen so that every rule keeps its meaning for as long as possible:
1. create the new rules at the top, disabled (`enable=0`): they change nothing yet;
2. move the rules into the declared order with the fewest moves: the longest increasing
   subsequence of the declared rules (matched and new, in their current order) stays where it is,
   each other one goes right after the declared rule before it (the first to the top);
3. update matched rules in place (options, comment, enable);
4. enable the created rules that are to be enabled, now that they are in place;
5. (exclusive only) delete the current rules that were not matched, from the bottom up.
Deletions come last: deleting an unwanted ACCEPT early could cut traffic that the new list also
accepts (through a rule not yet enabled), and deleting an unwanted DROP early would let through
traffic that stays blocked until the new rules are in place. Until its deletion, an unwanted rule
acts as it did before the change. (No order keeps every packet's fate during a reordering; this
one never adds an effect before its rule is in its final place.)

Not exclusive: the current rules that were not matched are left alone, in their relative order;
the declared rules end in the declared relative order among them, a rule that has to move (or a
new one) right after the declared rule before it, or at the top if it is the first. Nothing is
deleted.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional, Union

from ansible_collections.pvefleet.sdn.plugins.module_utils._models._firewall import (
    FirewallOptions,
    FirewallRule,
    rule_changes,
    rule_from_wire,
    same_effect,
    same_rule,
)

MATCH_MODES = ("comment", "rule")


# --- operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    """POST `rules`: `rule` (as created, disabled) goes to the top."""

    rule: FirewallRule
    method: ClassVar[str] = "POST"

    @property
    def path(self) -> str:
        return "rules"

    def params(self) -> dict[str, Any]:
        return self.rule.to_wire()


@dataclass(frozen=True)
class Move:
    """PUT `rules/{pos}` with `moveto`."""

    pos: int
    moveto: int
    method: ClassVar[str] = "PUT"

    @property
    def path(self) -> str:
        return f"rules/{self.pos}"

    def params(self) -> dict[str, Any]:
        return {"moveto": self.moveto}


@dataclass(frozen=True)
class Update:
    """PUT `rules/{pos}`: `set` the values (PVE's keys and form) and `delete` the keys listed."""

    pos: int
    set: dict[str, Any] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    method: ClassVar[str] = "PUT"

    @property
    def path(self) -> str:
        return f"rules/{self.pos}"

    def params(self) -> dict[str, Any]:
        params = dict(self.set)
        if self.delete:
            params["delete"] = ",".join(self.delete)
        return params


@dataclass(frozen=True)
class Delete:
    """DELETE `rules/{pos}`."""

    pos: int
    method: ClassVar[str] = "DELETE"

    @property
    def path(self) -> str:
        return f"rules/{self.pos}"

    def params(self) -> dict[str, Any]:
        return {}


Operation = Union[Create, Move, Update, Delete]


# --- matching ----------------------------------------------------------------------------


def _accepts(match: str) -> Callable[[FirewallRule, FirewallRule], tuple[int, int]]:
    """The pairing rule of a match mode: for (declared, current), (0, 0) if they cannot pair,
    else (1, 1 when the pair is by identity: the same comment, in comment mode)."""
    def by_rule(declared: FirewallRule, other: FirewallRule) -> tuple[int, int]:
        return (1, 0) if same_effect(declared, other) else (0, 0)

    def by_comment(declared: FirewallRule, other: FirewallRule) -> tuple[int, int]:
        if declared.comment is not None and other.comment == declared.comment:
            return (1, 1)
        return (1, 0) if other.comment is None and same_effect(declared, other) else (0, 0)

    return by_comment if match == "comment" else by_rule


def match_rules(current: Sequence[FirewallRule], desired: Sequence[FirewallRule], match: str) -> list[Optional[int]]:
    """For each declared rule, the index of the current rule it is matched with, or None (new).

    Each current rule is matched at most once: first the longest in-order alignment of the two
    lists (preferring, among the longest, pairs by comment, then pairs that need no update), then
    each declared rule left with the first current rule left that it can pair with (pairs by
    comment first). A list that holds the declared rules in order, other rules between them,
    is therefore matched exactly with them, which makes a plan's result converged.
    """
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {', '.join(MATCH_MODES)}, not {match!r}")
    accepts = _accepts(match)
    rows, cols = len(desired), len(current)
    pairing = [[accepts(desired[i], current[j]) for j in range(cols)] for i in range(rows)]
    # best[i][j]: the best (pairs, pairs by comment, pairs already the same) aligning desired[i:] with current[j:].
    best = [[(0, 0, 0)] * (cols + 1) for _row in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            score = max(best[i + 1][j], best[i][j + 1])
            if pairing[i][j][0]:
                after = best[i + 1][j + 1]
                paired = (after[0] + 1, after[1] + pairing[i][j][1],
                          after[2] + int(same_rule(desired[i], current[j])))
                score = max(score, paired)
            best[i][j] = score
    pairs: list[Optional[int]] = [None] * rows
    taken = [False] * cols
    i = j = 0
    while i < rows and j < cols:
        if pairing[i][j][0]:
            after = best[i + 1][j + 1]
            paired = (after[0] + 1, after[1] + pairing[i][j][1], after[2] + int(same_rule(desired[i], current[j])))
            if paired == best[i][j]:
                pairs[i], taken[j] = j, True
                i, j = i + 1, j + 1
                continue
        if best[i][j + 1] == best[i][j]:
            j += 1
        else:
            i += 1
    # The rest, out of order (each will move): pairs by comment first.
    for wanted in (1, 0):
        for i in range(rows):
            if pairs[i] is not None:
                continue
            found = next((j for j in range(cols) if not taken[j] and pairing[i][j][0]
                          and pairing[i][j][1] >= wanted), None)
            if found is not None:
                pairs[i], taken[found] = found, True
    return pairs


def _kept(sequence: Sequence[tuple[int, bool]]) -> set[int]:
    """The declared indices of a longest increasing subsequence of `sequence` (declared index,
    whether the rule is a current one), preferring current rules among the longest: those stay."""
    best: list[tuple[int, int]] = []
    back: list[int] = []
    for i, (index, is_current) in enumerate(sequence):
        score, link = (1, int(is_current)), -1
        for j in range(i):
            if sequence[j][0] < index:
                candidate = (best[j][0] + 1, best[j][1] + int(is_current))
                if candidate > score:
                    score, link = candidate, j
        best.append(score)
        back.append(link)
    if not sequence:
        return set()
    end = max(range(len(sequence)), key=lambda i: best[i])
    kept: set[int] = set()
    while end >= 0:
        kept.add(sequence[end][0])
        end = back[end]
    return kept


# --- planning ----------------------------------------------------------------------------


def plan_rules(current: Sequence[FirewallRule], desired: Sequence[FirewallRule], *, exclusive: bool,
               match: str) -> list[Operation]:
    """The operations, in order, that make `current` hold `desired` (see the module docstring);
    an empty list when it already does."""
    pairs = match_rules(current, desired, match)
    # The list as PVE will have it, one token per rule: ("c", current index) or ("n", declared index).
    live: list[tuple[str, int]] = [("c", i) for i in range(len(current))]
    token: list[tuple[str, int]] = [("c", pair) if pair is not None else ("n", j) for j, pair in enumerate(pairs)]
    ops: list[Operation] = []

    # 1. New rules at the top, disabled, created bottom first so that they stand in declared order.
    new = [j for j, pair in enumerate(pairs) if pair is None]
    for j in reversed(new):
        ops.append(Create(desired[j].model_copy(update={"enable": False})))
        live.insert(0, ("n", j))

    # 2. Moves: the declared rules in order; the longest increasing run stays.
    declared_at = {token[j]: j for j in range(len(desired))}
    kept = _kept([(declared_at[item], item[0] == "c") for item in live if item in declared_at])
    for j in range(len(desired)):
        if j in kept:
            continue
        pos = live.index(token[j])
        target = live.index(token[j - 1]) + 1 if j else 0
        if pos == target:
            continue
        ops.append(Move(pos, target))
        live = _moved(live, pos, target)

    # 3. Matched rules updated in place.
    for j, pair in enumerate(pairs):
        if pair is None:
            continue
        changed, removed = rule_changes(current[pair], desired[j])
        if changed or removed:
            ops.append(Update(live.index(token[j]), changed, removed))

    # 4. The new rules enabled, now in place.
    for j in new:
        if desired[j].enable:
            ops.append(Update(live.index(token[j]), {"enable": 1}, []))

    # 5. Unmatched current rules deleted, last and from the bottom up.
    if exclusive:
        matched = {pair for pair in pairs if pair is not None}
        for pos in range(len(live) - 1, -1, -1):
            kind, index = live[pos]
            if kind == "c" and index not in matched:
                ops.append(Delete(pos))
                del live[pos]
    return ops


def plan_options(current: FirewallOptions, desired: FirewallOptions) -> Optional[dict[str, Any]]:
    """The PUT `options` parameters that make `current` what `desired` manages, or None."""
    return desired.changes_from(current) or None


# --- simulation --------------------------------------------------------------------------


def _moved(rules: list[Any], pos: int, moveto: int) -> list[Any]:
    """PVE's update_rule with `moveto`: before the element that was at `moveto`, or last."""
    if moveto == pos:
        return list(rules)
    moving = rules[pos]
    result: list[Any] = []
    for i, rule in enumerate(rules):
        if i == pos:
            continue
        if i == moveto:
            result.append(moving)
        result.append(rule)
    if moveto >= len(rules):
        result.append(moving)
    return result


def _updated(rule: FirewallRule, changed: dict[str, Any], removed: list[str]) -> FirewallRule:
    """PVE's copy_rule_data then delete_rule_properties: set ('' or '-' removes), then delete."""
    wire = rule.to_wire()
    for key, value in changed.items():
        if value in ("", "-"):
            wire.pop(key, None)
        else:
            wire[key] = value
    for key in removed:
        if key in ("type", "action"):
            raise ValueError(f"unable to delete required property '{key}'")
        wire.pop(key, None)
    return rule_from_wire(wire)


def _check(rules: Sequence[FirewallRule], pos: int) -> None:
    if not 0 <= pos < len(rules):
        raise ValueError(f"no rule at position {pos}")


def simulate(current: Sequence[FirewallRule], ops: Sequence[Operation]) -> list[FirewallRule]:
    """The rule list after PVE has applied `ops` in order; ValueError for a position PVE refuses."""
    rules = list(current)
    for op in ops:
        if isinstance(op, Create):
            rules.insert(0, op.rule)
        elif isinstance(op, Move):
            _check(rules, op.pos)
            if op.moveto < 0:
                raise ValueError(f"moveto must be at least 0, not {op.moveto}")
            rules = _moved(rules, op.pos, op.moveto)
        elif isinstance(op, Update):
            _check(rules, op.pos)
            rules[op.pos] = _updated(rules[op.pos], op.set, op.delete)
        elif isinstance(op, Delete):
            _check(rules, op.pos)
            del rules[op.pos]
        else:
            raise TypeError(f"not a rule operation: {op!r}")
    return rules
