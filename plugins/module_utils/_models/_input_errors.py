# Private to pvefleet.sdn: not a public API.
"""Turn a model validation failure into InvalidInput: one "option: rule (got value)" per field.

Users wrote module options, so fields are named as options (snake_case, `dhcp_range[1].start_address`),
and rules are said in words, never in the validation library's terms.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import OBJECT_OPTIONS
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    RuleViolation,
    option_name,
)

# Error kinds whose rule is about the value itself, so quoting the value helps.
_TYPE_RULES = {
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be a mapping of options",
    "model_attributes_type": "must be a mapping of options",
    "dict_type": "must be a mapping of options",
}
_GOT_LIMIT = 60
# Options whose values are secrets (an IPAM's token, a DNS plugin's key): never quoted.
NEVER_QUOTED = frozenset({"token", "key", "password"})


def with_article(label: str) -> str:
    return f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"


def invalid_input(error: Any, *, label: str, tagged: Mapping[str, str] | None = None,
                  type_field: str = "type") -> InvalidInput:
    """InvalidInput for a pydantic ValidationError.

    `label` names the object type in messages ("vnet"). For a union on `type`, `tagged` maps
    each type to its label ("vlan" -> "vlan zone"); the type leads each error location there
    and is taken off; `type_field` is the option that picks the type (a fabric's `protocol`).
    """
    errors: dict[str, list[str]] = {}
    for item in error.errors():
        for field, rule in _describe(item, label, tagged or {}, type_field):
            errors.setdefault(field, [])
            if rule not in errors[field]:
                errors[field].append(rule)
    return InvalidInput({field: "; ".join(rules) for field, rules in errors.items()})


def _describe(item: Mapping[str, Any], label: str, tagged: Mapping[str, str],
              type_field: str) -> list[tuple[str, str]]:
    loc = tuple(item.get("loc", ()))
    if loc and isinstance(loc[0], str) and loc[0] in tagged:
        label, loc = tagged[loc[0]], loc[1:]
    kind = item.get("type", "")
    ctx = item.get("ctx") or {}
    field = _field_name(loc)
    if field.rsplit(".", 1)[-1] in NEVER_QUOTED:
        item = {**item, "input": None}

    cause = ctx.get("error")
    if isinstance(cause, RuleViolation):
        # Raised by a list item's model (one route map entry): its rules are that item's fields.
        return [(f"{field}.{name}" if field else name, rule) for name, rule in cause.errors.items()]
    # Inside a list item (a dhcp_range entry) the object's label would mislead.
    nested = any(isinstance(part, int) for part in loc)
    if kind == "missing":
        return [(field, "required" if nested else f"required for {with_article(label)}")]
    if kind == "extra_forbidden":
        return [(field, ("not a known key here" if nested else f"not an option of {with_article(label)}")
                 + _did_you_mean(field))]
    if kind == "union_tag_not_found":
        return [(type_field, f"required, one of {', '.join(sorted(tagged))}")]
    if kind == "union_tag_invalid":
        expected = ", ".join(sorted(_quoted(ctx.get("expected_tags", ""))))
        return [(type_field, f"must be one of {expected}{_got(ctx.get('tag'))}")]
    if kind == "literal_error":
        expected = ", ".join(_quoted(ctx.get("expected", "")))
        return [(field, f"must be one of {expected}{_got(item.get('input'))}")]
    if kind == "value_error" and cause is not None:
        return [(field or "value", f"{cause}{_got(item.get('input'))}")]
    if kind in _TYPE_RULES:
        return [(field or label, f"{_TYPE_RULES[kind]}{_got(item.get('input'))}")]
    # Anything else: the library's sentence, without its "Value error, " style prefix.
    message = re.sub(r"^[A-Z][a-z]+ error, ", "", str(item.get("msg", "is not valid")))
    return [(field or label, f"{message[:1].lower()}{message[1:]}{_got(item.get('input'))}")]


def _did_you_mean(field: str) -> str:
    """A typo's likely option ("vrf_vxaln" -> "vrf_vxlan"), among every object's options."""
    name = field.rsplit(".", 1)[-1]
    known = sorted({option for options in OBJECT_OPTIONS.values() for option in options})
    if name in known:
        return ""  # an option of another type: not a typo
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def _field_name(loc: tuple[Any, ...]) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            # A BeforeValidator or Annotated step can add its own name to the location.
            text = option_name(str(part))
            if "[" in text or "(" in text:
                continue
            name += f".{text}" if name else text
    return name


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _got(value: Any) -> str:
    if value is None or isinstance(value, Mapping) or value == []:
        return ""
    text = repr(value)
    if len(text) > _GOT_LIMIT:
        text = text[: _GOT_LIMIT - 3] + "..."
    return f" (got {text})"
