# Private to pvefleet.sdn: not a public API.
"""sdn_vnet_firewall: a vnet's firewall options and rule list, converged with the fewest moves.

pve-firewall's `/cluster/sdn/vnets/{vnet}/firewall` (API2/Firewall/Vnet.pm, Rules.pm) is not part
of SDN's pending configuration: it takes no lock token, writes the vnet's `.fw` file at once, and
answers only for a vnet in the RUNNING configuration ("invalid vnet specified"). Rules are
addressed by position, so the plan (_firewall_plan.py) is sent one request at a time, each with the
digest of the list it was planned on: a list changed by someone else meanwhile makes PVE refuse
the request instead of the module editing the wrong rule. After each request the list is read
back and compared with the plan's simulation of it.
"""
from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput, PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._firewall_plan import (
    MATCH_MODES,
    Operation,
    plan_options,
    plan_rules,
    simulate,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._firewall import (
    FirewallOptions,
    FirewallRule,
    options_from_wire,
    parse_options,
    parse_rules,
    rule_from_wire,
    same_rule,
)

OPTION_NAMES = ("enable", "policy_forward", "log_level_forward")


class FirewallChanged(PveFleetError):
    """The rule list is not what the plan made of it: someone else changed it meanwhile."""


class NotRunning(InvalidInput):
    """The vnet is not in the running configuration: PVE has no firewall for it yet."""


def check_firewall_options(params: dict) -> tuple[FirewallOptions, Optional[list[FirewallRule]]]:
    """The desired options (those given) and rules (None: not managed), or InvalidInput naming the option."""
    errors: dict[str, str] = {}
    if params.get("match", "comment") not in MATCH_MODES:
        errors["match"] = f"must be one of {', '.join(MATCH_MODES)} (got {params.get('match')!r})"
    try:
        options = parse_options({name: params.get(name) for name in OPTION_NAMES})
    except InvalidInput as exc:
        errors.update(exc.errors)
        options = FirewallOptions()
    try:
        rules = None if params.get("rules") is None else parse_rules(params["rules"])
    except InvalidInput as exc:
        errors.update(exc.errors)
        rules = None
    if errors:
        raise InvalidInput(errors)
    return options, rules


async def run_vnet_firewall_task(client, params: dict, check_mode: bool) -> dict:
    desired_options, desired_rules = check_firewall_options(params)
    vnet = params["vnet"]
    base = f"/cluster/sdn/vnets/{urllib.parse.quote(vnet, safe='')}/firewall"
    try:
        wire_options, wire_rules = await _read(client, base, vnet)
    except NotRunning:
        if not check_mode:
            raise
        # A check run before the apply that creates the vnet: planned from an empty firewall.
        wire_options, wire_rules = {}, []
        warnings = [f"vnet {vnet!r} is not applied yet: planned as if its firewall were empty"]
    else:
        warnings = []
    current_options = options_from_wire(wire_options)
    current_rules = _rules_of(wire_rules)
    option_changes = plan_options(current_options, desired_options) or {}
    ops = [] if desired_rules is None else plan_rules(
        current_rules, desired_rules, exclusive=params.get("exclusive", True), match=params.get("match", "comment"))
    final_rules = simulate(current_rules, ops)
    final_options = options_from_wire({**wire_options, **option_changes,
                                       **{key: None for key in str(option_changes.get("delete", "")).split(",")
                                          if key}})
    result: dict[str, Any] = {
        "changed": bool(option_changes or ops), "action": "update" if option_changes or ops else "none",
        "vnet": vnet, "requests": [_describe(op) for op in ops],
        "options": final_options.user_view(), "rules": [rule.user_view() for rule in final_rules],
        "diff": {"before": _view(current_options, current_rules), "after": _view(final_options, final_rules)},
    }
    if option_changes:
        result["requests"].insert(0, f"PUT options {_shown(option_changes)}")
    if warnings:
        result["warnings"] = warnings
    if check_mode or not result["changed"]:
        return result
    # Turning the firewall off goes first, turning it on last: the rules are in place before they act.
    options_first = option_changes.get("enable") == 0
    if option_changes and options_first:
        await client.put(f"{base}/options", {**option_changes, **_digest(wire_options)})
    await _send_rules(client, base, current_rules, ops, wire_rules)
    if option_changes and not options_first:
        now = await client.get(f"{base}/options") or {}
        await client.put(f"{base}/options", {**option_changes, **_digest(now)})
    return result


async def _read(client, base: str, vnet: str) -> tuple[dict, list]:
    try:
        options, rules = await asyncio.gather(client.get(f"{base}/options"), client.get(f"{base}/rules"))
    except ApiError as error:
        if "invalid vnet" in error.message:
            raise NotRunning({"vnet": f"{vnet!r} is not in the running SDN configuration (Proxmox VE has a "
                                      "firewall only for applied vnets): create and apply it (pvefleet.sdn.sdn_apply) "
                                      "first"}) from None
        raise
    return options or {}, rules or []


def _rules_of(wire_rules: list) -> list[FirewallRule]:
    return [rule_from_wire(item) for item in sorted(wire_rules, key=lambda item: int(item.get("pos", 0)))]


async def _send_rules(client, base: str, current: list[FirewallRule], ops: list[Operation], wire_rules: list) -> None:
    """Each operation with the digest of the list it was planned on, then the list read back."""
    digest = _digest(wire_rules[0] if wire_rules else {})
    for done, op in enumerate(ops, start=1):
        path = f"{base}/{op.path}"
        params = {**op.params(), **digest}
        if op.method == "POST":
            await client.post(path, params)
        elif op.method == "PUT":
            await client.put(path, params)
        else:
            await client.delete(path, params=params)
        wire_rules = await client.get(f"{base}/rules") or []
        expected = simulate(current, ops[:done])
        seen = _rules_of(wire_rules)
        if len(seen) != len(expected) or not all(same_rule(a, b) for a, b in zip(seen, expected)):
            raise FirewallChanged(f"the firewall rules of this vnet are not what {done} of the {len(ops)} planned "
                                  "request(s) should have made of them: someone else changed them meanwhile; "
                                  "run the task again")
        digest = _digest(wire_rules[0] if wire_rules else {})


def _digest(item: dict) -> dict:
    return {"digest": item["digest"]} if item.get("digest") else {}


def _view(options: FirewallOptions, rules: list[FirewallRule]) -> dict:
    return {"options": options.user_view(), "rules": [rule.user_view() for rule in rules]}


def _describe(op: Operation) -> str:
    params = op.params()
    return f"{op.method} {op.path}" + (f" {_shown(params)}" if params else "")


def _shown(params: dict) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())
