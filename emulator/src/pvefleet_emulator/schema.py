"""Parameter validation driven by PVE's own API schema (data/pve-sdn-apidoc.json).

Follows pve-common's JSONSchema checks as the reference describes them (pve-sdn-api.md §2.3,
§2.4): no defaults are filled in, booleans in forms must be 1 or 0, unknown parameters are
refused when the schema says so, and the checks run in the order format, pattern, maxLength,
minLength, minimum/maximum, enum. ID formats use the current-master style (§7.1): a pattern
and lengths, with the generic messages.
"""
from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

NODE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
CONFIGID = re.compile(r"^[a-z][a-z0-9_-]+$", re.I)
IFACE = re.compile(r"^[a-z][a-z0-9_]{1,20}([:.]\d+)?$", re.I)
DNS_LABEL = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
MAC_UNICAST = re.compile(r"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", re.I)
ISIS_NET = re.compile(r"^[a-fA-F0-9]{2}(\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}$")
LIST_SPLIT = re.compile(r"[,;\s]+")

# The ID formats as plain schema rules (pve-network after a8b6166; pve-sdn-objects.md §4.1).
ID_RULES = {
    "pve-sdn-zone-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, 8),
    "pve-sdn-vnet-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, 8),
    "pve-sdn-controller-id": (r"[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]", 2, 64),
    "pve-sdn-ipam-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, None),
    "pve-sdn-dns-id": (r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", 2, None),
    "pve-sdn-fabric-id": (r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]", 2, 8),
}


class ParamError(Exception):
    """400 "Parameter verification failed." with per-parameter texts."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("Parameter verification failed.")
        self.errors = errors


@lru_cache(maxsize=1)
def _schema_index() -> dict[str, dict]:
    data = json.loads(resources.files("pvefleet_emulator").joinpath("data/pve-sdn-apidoc.json").read_text())
    index: dict[str, dict] = {}

    def walk(node: dict) -> None:
        if "path" in node and "info" in node:
            index[node["path"]] = node["info"]
        for child in node.get("children") or []:
            walk(child)

    for tree in data["subtrees"].values():
        walk(tree)
    return index


def method_schema(template: str, method: str) -> dict | None:
    info = _schema_index().get(template)
    return None if info is None else info.get(method)


def validate(template: str, method: str, params: dict[str, Any], *, extra: dict[str, dict] | None = None,
             drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check `params` against the schema of METHOD template; returns them with types converted.

    `extra` adds parameters (a PVE 9 remote's lock-token on an endpoint the extract lacks) and
    `drop` removes some (a PVE 8 remote has no lock-token)."""
    schema = method_schema(template, method) or {"parameters": {"properties": {}}}
    parameters = schema.get("parameters") or {}
    properties = {k: v for k, v in (parameters.get("properties") or {}).items() if k not in drop}
    properties.update(extra or {})
    errors: dict[str, str] = {}
    result: dict[str, Any] = {}
    for name, value in params.items():
        if name not in properties:
            if parameters.get("additionalProperties", 1) == 0 or name in drop:
                errors[name] = "property is not defined in schema and the schema does not allow additional properties"
            else:
                result[name] = value
            continue
        try:
            result[name] = check_value(properties[name], value)
        except ValueError as exc:
            errors[name] = str(exc)
    for name, prop in properties.items():
        if not prop.get("optional") and name not in params and name not in errors:
            errors[name] = "property is missing and it is not optional"
    for name, prop in properties.items():
        for needed in [prop.get("requires")] if isinstance(prop.get("requires"), str) else []:
            if name in result and needed not in result:
                errors[name] = f"missing property required by '{needed}'"
    if errors:
        raise ParamError(errors)
    return result


def check_value(prop: dict, value: Any) -> Any:
    kind = prop.get("type", "string")
    if kind == "array":
        items = value if isinstance(value, list) else [value]
        return [check_value(prop.get("items") or {"type": "string"}, item) for item in items]
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)  # a JSON array given for a list format
    if kind == "boolean":
        return _boolean(value)
    if kind in ("integer", "number"):
        number = _number(value, kind)
        _range(prop, number)
        return number
    text = str(value)
    fmt = prop.get("format")
    if isinstance(fmt, str):
        check_format(fmt, text)
    if prop.get("pattern") and not re.fullmatch(perl_pattern(prop["pattern"]), text):
        raise ValueError("value does not match the regex pattern")
    if prop.get("maxLength") is not None and len(text) > prop["maxLength"]:
        raise ValueError(f"value may only be {prop['maxLength']} characters long")
    if prop.get("minLength") is not None and len(text) < prop["minLength"]:
        raise ValueError(f"value must be at least {prop['minLength']} characters long")
    if prop.get("enum") and text not in prop["enum"]:
        raise ValueError(f"value '{text}' does not have a value in the enumeration '{', '.join(prop['enum'])}'")
    return text


@lru_cache(maxsize=None)
def perl_pattern(pattern: str) -> re.Pattern:
    """Perl's `(?^i:...)` group (flags reset, then i) as Python's `(?i:...)`."""
    return re.compile(re.sub(r"\(\?\^(\w*):", lambda m: f"(?{m.group(1)}:" if m.group(1) else "(?:", pattern))


def _boolean(value: Any) -> int:
    if value is True or value is False:
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value in ("0", "1"):
        return int(value)
    raise ValueError(f"type check ('boolean') failed - got '{value}'")


def _number(value: Any, kind: str) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"type check ('{kind}') failed - got '{value}'")
    try:
        return int(str(value), 10) if kind == "integer" else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"type check ('{kind}') failed - got '{value}'") from None


def _range(prop: dict, number: float) -> None:
    if prop.get("minimum") is not None and number < prop["minimum"]:
        raise ValueError(f"value must have a minimum value of {prop['minimum']}")
    if prop.get("maximum") is not None and number > prop["maximum"]:
        raise ValueError(f"value must have a maximum value of {prop['maximum']}")


def split_list(text: str) -> list[str]:
    return [item for item in LIST_SPLIT.split(text.strip()) if item]


def check_format(fmt: str, text: str) -> None:
    if fmt in ID_RULES:
        pattern, low, high = ID_RULES[fmt]
        if not re.fullmatch(pattern, text):
            raise ValueError("value does not match the regex pattern")
        if high is not None and len(text) > high:
            raise ValueError(f"value may only be {high} characters long")
        if len(text) < low:
            raise ValueError(f"value must be at least {low} characters long")
        return
    if fmt.endswith("-list") and fmt not in ("pve-sdn-bgp-rt-list",):
        base = fmt[: -len("-list")]
        for item in split_list(text):
            check_format(base, item)
        return
    checker = _FORMATS.get(fmt)
    if checker is not None and not checker(text):
        raise ValueError(f"invalid format - {_FORMAT_MESSAGES.get(fmt, 'value does not match format ' + fmt)}\n")


def _ip(text: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def _cidr(text: str, version: int | None = None) -> bool:
    if "/" not in text:
        return False
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return version is None or network.version == version


def _dns_name(text: str) -> bool:
    return all(DNS_LABEL.match(label) for label in text.split("."))


def _route_targets(text: str) -> bool:
    for item in split_list(text):
        match = re.fullmatch(r"(\d+):(\d+)", item)
        if not match or int(match.group(1)) > 4294967295 or int(match.group(2)) > 4294967295:
            return False
    return True


def _subnet_id(text: str) -> bool:
    if _cidr(text):
        return True
    parts = text.split("-")
    return len(parts) >= 3 and _cidr(f"{'-'.join(parts[1:-1])}/{parts[-1]}")


def _dhcp_range(text: str) -> bool:
    parts = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    return set(parts) == {"start-address", "end-address"} and all(_ip(v) for v in parts.values())


_FORMATS = {
    "pve-node": lambda t: bool(NODE.match(t)),
    "pve-configid": lambda t: bool(CONFIGID.match(t)),
    "pve-iface": lambda t: bool(IFACE.match(t)),
    "ip": _ip,
    "ipv4": lambda t: _ip(t, 4),
    "ipv6": lambda t: _ip(t, 6),
    "CIDR": _cidr,
    "CIDRv4": lambda t: _cidr(t, 4),
    "CIDRv6": lambda t: _cidr(t, 6),
    "dns-name": _dns_name,
    "mac-addr": lambda t: bool(MAC_UNICAST.match(t)),
    "pve-sdn-bgp-rt-list": _route_targets,
    "pve-sdn-isis-net": lambda t: bool(ISIS_NET.match(t)),
    "pve-sdn-subnet-id": _subnet_id,
    "pve-sdn-dhcp-range": _dhcp_range,
}
_FORMAT_MESSAGES = {
    "pve-node": "value does not look like a valid node name",
    "ip": "value does not look like a valid IP address",
    "mac-addr": "value does not look like a valid unicast MAC address",
    "pve-sdn-bgp-rt-list": "value does not look like a valid bgp route-target",
    "pve-sdn-subnet-id": "value does not look like a valid CIDR network",
    "CIDR": "value does not look like a valid CIDR network",
    "dns-name": "value does not look like a valid DNS name",
}
