"""Parameter validation driven by PVE's own API schema (data/pve-sdn-apidoc.json).

What pve-common's JSON schema check does, as the reference describes it (pve-sdn-api.md §2.3,
§2.4): no defaults are filled in; booleans from a form must be exactly 1 or 0; unknown
parameters are refused when the schema says `additionalProperties: 0`; each value is checked in
the order format, pattern, maxLength, minLength, minimum/maximum, enum; every failing parameter
gets one text in `errors`.
"""
from __future__ import annotations

import copy
import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Optional

from pvefleet_emulator.errors import ParamError
from pvefleet_emulator.formats import ID_FORMATS_KEPT, ID_RULES, FormatError, verify

INTEGER = re.compile(r"[+-]?\d+")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
NOT_IN_SCHEMA = "property is not defined in schema and the schema does not allow additional properties"

# Endpoints the emulator serves that the extract of PVE's schema does not cover (it holds only
# the SDN, task, ticket, network, version and resources subtrees). None take parameters.
_EXTRA_SCHEMAS = {
    ("/nodes", "GET"): {},
    ("/nodes/{node}", "GET"): {"node": {"type": "string", "format": "pve-node"}},
    ("/cluster/status", "GET"): {},
    # pve-access-control API2/AccessControl.pm `permissions`: `userid` has the pattern of
    # AccessControl.pm $userid_or_token_regex, `path` is the standard option acl-path (a string).
    ("/access/permissions", "GET"): {
        "userid": {"type": "string", "optional": 1,
                   "pattern": r"^[^\s:/]+@[A-Za-z][A-Za-z0-9\.\-_]+(?:![A-Za-z][A-Za-z0-9\.\-_]+)?$"},
        "path": {"type": "string", "optional": 1},
    },
}
# Their `permissions` entries: pve-manager API2/Nodes.pm (index of /nodes and of /nodes/{node}:
# user all), API2/Cluster.pm get_status (Sys.Audit on /), pve-access-control
# API2/AccessControl.pm permissions (user all; the handler checks the rest).
_EXTRA_PERMISSIONS = {
    ("/nodes", "GET"): {"user": "all"},
    ("/nodes/{node}", "GET"): {"user": "all"},
    ("/cluster/status", "GET"): {"check": ["perm", "/", ["Sys.Audit"]]},
    ("/access/permissions", "GET"): {"user": "all"},
}


# PVE 9.2's additions (data/pve-sdn-apidoc-9.2-overlay.json, each entry naming where it came from):
# whole endpoints under "paths", new parameters of existing endpoints under "properties".
OVERLAY_92 = "data/pve-sdn-apidoc-9.2-overlay.json"


def _data(name: str) -> dict:
    return json.loads(resources.files("pvefleet_emulator").joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _index() -> dict[str, dict]:
    index: dict[str, dict] = {}

    def walk(node: dict) -> None:
        if "path" in node:
            index[node["path"]] = node.get("info") or {}
        for child in node.get("children") or []:
            walk(child)

    for tree in _data("data/pve-sdn-apidoc.json")["subtrees"].values():
        walk(tree)
    overlay = _data(OVERLAY_92)
    for path, methods in overlay["paths"].items():
        index.setdefault(path, {}).update({m: info for m, info in methods.items() if not m.startswith("_")})
    for path, methods in overlay["properties"].items():
        for method, added in methods.items():
            if not method.startswith("_"):
                info = index[path][method] = copy.deepcopy(index[path][method])
                info["parameters"]["properties"].update(copy.deepcopy(added))
    return index


@cache
def pve92_only(template: str, method: str) -> tuple[str, ...]:
    """The parameters PVE 9.2 added to METHOD template (none for an endpoint that is new in 9.2,
    which an older remote does not have at all)."""
    return tuple(sorted((_data(OVERLAY_92)["properties"].get(template) or {}).get(method) or {}))


def _as_current_master(prop: dict) -> dict:
    """An SDN ID format written as pattern and lengths, as pve-network master does (§7.1)."""
    rule = ID_RULES.get(prop.get("format", "")) if isinstance(prop.get("format"), str) else None
    if rule is None:
        return prop
    pattern, low, high = rule
    prop = {k: v for k, v in prop.items() if k != "format" or v in ID_FORMATS_KEPT}
    prop.update(pattern=pattern, minLength=low)
    if high is not None:
        prop["maxLength"] = high
    return prop


@cache
def parameters(template: str, method: str) -> dict:
    """The parameter schema of METHOD template: {"properties": {...}, "additionalProperties": 0|1}."""
    info = _index().get(template, {}).get(method)
    if info is None:
        extra = _EXTRA_SCHEMAS.get((template, method))
        if extra is None:
            return {"properties": {}, "additionalProperties": 1}
        return {"properties": copy.deepcopy(extra), "additionalProperties": 0}
    params = info.get("parameters") or {}
    properties = {name: _as_current_master(prop) for name, prop in (params.get("properties") or {}).items()}
    return {"properties": properties, "additionalProperties": params.get("additionalProperties", 1)}


def method_info(template: str, method: str) -> dict:
    """The schema entry of METHOD template (permissions, allowtoken, returns, ...); {} if none."""
    return _index().get(template, {}).get(method) or {}


def permissions(template: str, method: str) -> Optional[dict]:
    """The `permissions` entry of METHOD template (RPCEnvironment.pm check_api2_permissions reads
    it); None if the endpoint has none (then only root@pam may call it)."""
    info = _index().get(template, {}).get(method)
    found = _EXTRA_PERMISSIONS.get((template, method)) if info is None else info.get("permissions")
    return found if isinstance(found, dict) else None


def properties_of(template: str, method: str) -> dict[str, dict]:
    return parameters(template, method)["properties"]


def validate(template: str, method: str, params: dict[str, Any], *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check `params` against the schema of METHOD template and return them with integers and
    booleans as numbers. `without` removes parameters from the schema (a PVE 8 node has no
    `lock-token`). Raises ParamError with every failing parameter."""
    properties, closed, checks = _checked(template, method, without)
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}
    for name, value in params.items():
        prop = properties.get(name)
        if prop is None:
            if closed:
                errors[name] = NOT_IN_SCHEMA
            else:
                result[name] = value
            continue
        try:
            result[name] = check_value(for_instance(prop, params), value, name)
        except ItemErrors as exc:
            errors.update(exc.errors)
        except ValueError as exc:
            errors[name] = str(exc)
    for name, required, needed in checks:
        if required and name not in params:
            errors[name] = "property is missing and it is not optional"
        if needed is not None and name in params and needed not in params:
            errors.setdefault(needed, f"missing property required by '{name}'")
    if errors:
        raise ParamError(errors)
    return result


@cache
def _checked(template: str, method: str, without: tuple[str, ...]) -> tuple[dict, bool, tuple]:
    """What validate checks, made once per call kind: the properties, whether others are refused,
    and in the schema's order the properties that are required or require another one."""
    schema = parameters(template, method)
    properties = {name: prop for name, prop in schema["properties"].items() if name not in without}
    closed = schema["additionalProperties"] == 0 or bool(without)
    checks = []
    for name, prop in properties.items():
        needed = prop.get("requires")
        needed = needed if isinstance(needed, str) else None
        # A typed property (`type-property`) is optional where its type's variant says so; every
        # variant of the emulated schema is optional (pve-common JSONSchema.pm check_prop).
        required = not prop.get("optional") and not prop.get("type-property")
        if required or needed is not None:
            checks.append((name, required, needed))
    return properties, closed, tuple(checks)


class ItemErrors(ValueError):
    """The errors of an array's items, keyed as pve-common's check_prop names them: `name[i]`."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())))
        self.errors = errors


def for_instance(prop: dict, params: dict[str, Any]) -> dict:
    """A `oneOf` property with a `type-property` checked as the variant whose `instance-types`
    has the type parameter's value; without such a variant only the outer schema applies
    (pve-common JSONSchema.pm check_prop)."""
    if "oneOf" not in prop or not prop.get("type-property"):
        return prop
    instance = params.get(prop["type-property"])
    for variant in prop["oneOf"]:
        if isinstance(instance, str) and instance in (variant.get("instance-types") or ()):
            return variant
    return {k: v for k, v in prop.items() if k != "oneOf"}


def check_value(prop: dict, value: Any, path: str = "") -> Any:
    """One value against its property schema; the converted value, or ValueError with PVE's text.
    `path` names the value in errors inside it (an array's items, a property string's keys)."""
    kind = prop.get("type", "string")
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        if not prop.get("items"):
            return [_scalar_text(item) for item in items]  # no item schema: nothing to check
        checked: list[Any] = []
        errors: dict[str, str] = {}
        for index, item in enumerate(items):
            try:
                checked.append(check_value(prop["items"], item, f"{path}[{index}]"))
            except ValueError as exc:
                errors[f"{path}[{index}]"] = str(exc)
        if errors:
            raise ItemErrors(errors)
        return checked
    if isinstance(value, list):
        fmt = prop.get("format")
        if kind == "string" and isinstance(fmt, str) and fmt.endswith("-list"):
            value = ",".join(_scalar_text(item) for item in value)  # a list format sent as an array (§2.3)
        else:
            raise ValueError(f"type check ('{kind}') failed - got ARRAY")
    if kind == "boolean":
        return _boolean(value)
    if kind in ("integer", "number"):
        number = _number(value, kind)
        if prop.get("minimum") is not None and number < prop["minimum"]:
            raise ValueError(f"value must have a minimum value of {prop['minimum']}")
        if prop.get("maximum") is not None and number > prop["maximum"]:
            raise ValueError(f"value must have a maximum value of {prop['maximum']}")
        return number
    if isinstance(value, dict):
        raise ValueError(f"type check ('{kind}') failed - got HASH")
    text = _scalar_text(value)
    fmt = prop.get("format")
    if isinstance(fmt, str):
        try:
            verify(fmt, text)
        except FormatError as exc:
            raise ValueError(f"invalid format - {exc}\n") from None
    elif isinstance(fmt, dict):
        _property_string(fmt, text, path)
    if prop.get("pattern") and not perl_regex(prop["pattern"]).fullmatch(text):
        raise ValueError("value does not match the regex pattern")
    if prop.get("maxLength") is not None and len(text) > prop["maxLength"]:
        raise ValueError(f"value may only be {prop['maxLength']} characters long")
    if prop.get("minLength") is not None and len(text) < prop["minLength"]:
        raise ValueError(f"value must be at least {prop['minLength']} characters long")
    if prop.get("enum") and text not in prop["enum"]:
        raise ValueError(f"value '{text}' does not have a value in the enumeration '{', '.join(prop['enum'])}'")
    return text


def _property_string(fmt: dict, text: str, path: str) -> None:
    """A property string (`key=value,...`) against a format given as a hash of properties:
    pve-common JSONSchema.pm parse_property_string, then check_object with no additional keys.
    Its errors become one text, as PVE::Exception prints the "format error" it raises."""
    values: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, raw = part.partition("=")
        if not sep:
            raise ValueError("invalid format - value without key, but schema does not define a default key\n")
        if not key or not raw:
            raise ValueError("invalid format - missing key in comma-separated list property\n")
        if key in values:
            raise ValueError(f"invalid format - duplicate key in comma-separated list property: {key}\n")
        if key not in fmt:
            raise ValueError(f"invalid format - invalid key in comma-separated list property: {key}\n")
        values[key] = raw
    errors: dict[str, str] = {}
    for key in sorted(fmt):
        if key not in values:
            if not fmt[key].get("optional"):
                errors[f"{path}.{key}"] = "property is missing and it is not optional"
            continue
        try:
            check_value(fmt[key], values[key], f"{path}.{key}")
        except ValueError as exc:
            errors[f"{path}.{key}"] = str(exc)
    if errors:
        lines = "".join(f"{name}: {error}\n" for name, error in sorted(errors.items()))
        raise ValueError(f"invalid format - format error\n{lines}")


def _scalar_text(value: Any) -> str:
    if value is True or value is False:
        return "1" if value else "0"  # what a JSON boolean reads as in Perl
    return str(value)


@cache
def perl_regex(pattern: str) -> re.Pattern:
    """A schema pattern as Python regex: Perl's `(?^i:...)` (flags reset, then i) is `(?i:...)`."""
    return re.compile(re.sub(r"\(\?\^(\w*):", lambda m: f"(?{m.group(1)}:" if m.group(1) else "(?:", pattern))


def _boolean(value: Any) -> int:
    """1 or 0; a JSON body may also say true/false (§2.3)."""
    if value is True or value is False:
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value in ("0", "1"):
        return int(value)
    raise ValueError(f"type check ('boolean') failed - got '{_scalar_text(value)}'")


def _number(value: Any, kind: str) -> int | float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"type check ('{kind}') failed - got '{_scalar_text(value)}'")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if kind == "integer" and not value.is_integer():
            raise ValueError(f"type check ('{kind}') failed - got '{value}'")
        return int(value) if kind == "integer" else value
    text = str(value)
    if kind == "integer" and INTEGER.fullmatch(text):
        return int(text)
    if kind == "number" and NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() else number
    raise ValueError(f"type check ('{kind}') failed - got '{text}'")


def option_types(template: str, method: str = "POST") -> dict[str, dict]:
    """Property schemas of a create call, used to read section config values back with types."""
    return {name: prop for name, prop in properties_of(template, method).items() if name != "lock-token"}


def is_optional(template: str, method: str, name: str) -> Optional[bool]:
    prop = properties_of(template, method).get(name)
    return None if prop is None else bool(prop.get("optional"))
