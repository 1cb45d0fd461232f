# Private to pvefleet.sdn: not a public API.
"""Prefix lists and route maps (PVE 9.2), the routing policy the BGP and EVPN controllers use.

PVE keeps them through Rust code (proxmox-ve-config `sdn/prefix_list.rs`, `sdn/route_map.rs`):
- a prefix list is one object, `id` and an ordered `entries` array of property strings
  `action=permit,prefix=10.0.0.0/8,le=24,ge=16,seq=10`; an update replaces the whole array;
- a route map is not an object of its own: it is the set of its entries, each one object named
  `<route-map-id>_<order>` with `action`, `match` and `set` arrays of `key=..,value=..` property
  strings, `call` and `exit-action`. The collection manages a route map as a whole (every entry
  the user does not declare is removed), entry by entry on the wire (`_resource.py`).

A `seq` left out gets PVE's next number, the highest so far plus 5 (`next_seq_number`), worked out
here the same way so that a rerun compares equal.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    POLICY_ID_PATTERN,
    REMOTE,
    PolicyId,
    RuleViolation,
    SdnObject,
    WireValue,
    int_between,
    is_remote,
    matches,
    parse_property_string,
    unique_by,
)

Sequence = Annotated[int, pydantic.AfterValidator(int_between(1, 4294967295))]
Order = Annotated[int, pydantic.AfterValidator(int_between(0, 65535))]


def _prefix(value: str, info: Any) -> str:
    text = str(value).strip()
    try:
        network = ipaddress.ip_network(text, strict=not is_remote(info))
    except ValueError as error:
        detail = f" ({error})" if "host bits" in str(error) else ""
        raise ValueError(f"must be a network in CIDR form, like 10.0.0.0/8 or fd00::/48{detail}") from None
    return str(network)


# --- prefix lists ------------------------------------------------------------------------


class PrefixListEntry(WireValue):
    """One entry: `action=permit,prefix=10.0.0.0/8,le=24,ge=16,seq=10`."""

    action: Literal["permit", "deny"]
    prefix: Annotated[str, pydantic.AfterValidator(_prefix)]
    le: Optional[Annotated[int, pydantic.AfterValidator(int_between(0, 128))]] = None
    ge: Optional[Annotated[int, pydantic.AfterValidator(int_between(0, 128))]] = None
    seq: Optional[Sequence] = None

    _from_text = pydantic.model_validator(mode="before")(parse_property_string)

    @pydantic.model_validator(mode="after")
    def _lengths(self, info: Any) -> PrefixListEntry:
        # prefix length <= ge <= le <= 32 or 128 (PrefixListEntry::validate).
        if is_remote(info):
            return self
        network = ipaddress.ip_network(self.prefix, strict=False)
        errors: dict[str, str] = {}
        for name in ("ge", "le"):
            value = getattr(self, name)
            if value is not None and not network.prefixlen <= value <= network.max_prefixlen:
                errors[name] = f"must be between {network.prefixlen} and {network.max_prefixlen} for {self.prefix}"
        if not errors and self.ge is not None and self.le is not None and self.ge > self.le:
            errors["ge"] = f"must not be greater than le ({self.le})"
        if errors:
            raise RuleViolation(errors)
        return self


def _numbered(entries: list[PrefixListEntry]) -> list[PrefixListEntry]:
    """Every entry with its `seq`, as PVE numbers the ones without (the highest so far + 5)."""
    seqs = [entry.seq for entry in entries if entry.seq is not None]
    if len(seqs) != len(set(seqs)):
        raise ValueError("gives one seq to two entries; each seq must be unique")
    numbered: list[PrefixListEntry] = []
    for entry in entries:
        if entry.seq is None:
            taken = [item.seq for item in numbered if item.seq is not None]
            entry = entry.model_copy(update={"seq": max(taken) + 5 if taken else 5})
            if entry.seq in seqs:
                raise ValueError(f"the entry without seq would get seq {entry.seq}, which another entry has; "
                                 "give every entry its seq")
        numbered.append(entry)
    return sorted(numbered, key=lambda item: item.seq or 0)


def _not_reserved(names: tuple[str, ...], prefix: str = "") -> Callable[[str], str]:
    """IDs PVE keeps for the FRR configuration it generates itself (PrefixListId / RouteMapId)."""
    def check(value: str) -> str:
        if value in names or (prefix and value.startswith(prefix)):
            raise ValueError(f"is reserved by Proxmox VE ({', '.join(names + ((prefix + '*',) if prefix else ()))})")
        return value

    return check


class PrefixList(SdnObject):
    ID_FIELD: ClassVar[str] = "prefix_list"
    LABEL: ClassVar[str] = "prefix list"
    IDENTITY: ClassVar[frozenset[str]] = frozenset()

    prefix_list: Annotated[PolicyId, pydantic.AfterValidator(_not_reserved(
        ("only_default", "only_default_v6", "loopbacks_ips")))] = pydantic.Field(alias="id")
    entries: Optional[Annotated[list[PrefixListEntry], pydantic.AfterValidator(_numbered)]] = None


# --- route maps --------------------------------------------------------------------------

def _address(version: Optional[int]) -> Callable[[str], str]:
    label = f"an IPv{version} address" if version else "an IP address"

    def check(text: str) -> str:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(f"must be {label}") from None
        if version and address.version != version:
            raise ValueError(f"must be {label}")
        return str(address)  # as PVE prints it: IPv6 compressed, lower case

    return check


def _number(*, signed: bool = False, words: tuple[str, ...] = (), high: int = 4294967295) -> Callable[[str], str]:
    """A u32 (with `signed`, also +N or -N, relative to the route's value), or one of `words`."""
    parts = [f"a number between 0 and {high}", "(+N or -N to add or subtract)" if signed else "",
             f"or one of {', '.join(words)}" if words else ""]
    shape = " ".join(part for part in parts if part)

    def check(text: str) -> str:
        if text in words:
            return text
        sign = text[0] if signed and text[:1] in "+-" else ""
        digits = text[len(sign):]
        if not digits.isdigit() or int(digits) > high:
            raise ValueError(f"must be {shape}")
        return f"{sign}{int(digits)}"

    return check


def _one_of(*values: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in values:
            raise ValueError(f"must be one of {', '.join(values)}")
        return text

    return check


def _prefix_list_name(text: str) -> str:
    try:
        return matches(POLICY_ID_PATTERN, "x")(text)
    except ValueError:
        raise ValueError("must name a prefix list (1 to 32 letters, digits, '-' or '_')") from None


# The keys of proxmox-ve-config's SetAction and MatchAction and what each value must be (None: it
# takes none); values are kept as PVE prints them, so that a rerun compares equal.
SET_VALUES: Mapping[str, Optional[Callable[[str], str]]] = {
    "ip-next-hop-peer-address": None, "ip-next-hop-unchanged": None, "ip6-next-hop-peer-address": None,
    "ip6-next-hop-prefer-global": None,
    "ip-next-hop": _address(4), "ip6-next-hop": _address(6), "src": _address(None),
    "weight": _number(), "tag": _number(words=("untagged",)),
    "metric": _number(signed=True, words=("rtt", "+rtt", "-rtt", "igp", "aigp")),
    "local-preference": _number(signed=True),
}
MATCH_VALUES: Mapping[str, Callable[[str], str]] = {
    "route-type": _one_of("ead", "macip", "multicast", "es", "prefix"),
    "vni": _number(high=16777215),
    "ip-address-prefix-list": _prefix_list_name, "ip6-address-prefix-list": _prefix_list_name,
    "ip-next-hop-prefix-list": _prefix_list_name, "ip6-next-hop-prefix-list": _prefix_list_name,
    "ip-next-hop-address": _address(4), "ip6-next-hop-address": _address(6),
    "metric": _number(), "local-preference": _number(), "tag": _number(words=("untagged",)),
    "peer": str,
}
SET_KEYS = tuple(SET_VALUES)
MATCH_KEYS = tuple(MATCH_VALUES)


def _value_text(value: Any) -> Any:
    return None if value is None else str(value)


class _KeyValue(WireValue):
    key: str
    value: Optional[Annotated[Optional[str], pydantic.BeforeValidator(_value_text)]] = None

    _from_text = pydantic.model_validator(mode="before")(parse_property_string)

    def _checked(self, verb: str, rule: Optional[Callable[[str], str]], info: Any) -> Any:
        if is_remote(info):
            return self
        if rule is None:
            if self.value is not None:
                raise RuleViolation({"value": f"{verb} {self.key} takes no value"})
            return self
        if self.value is None:
            raise RuleViolation({"value": f"required for {verb} {self.key}"})
        try:
            canonical = rule(self.value.strip())
        except ValueError as error:
            raise RuleViolation({"value": f"{error} for {verb} {self.key} (got {self.value!r})"}) from None
        return self.model_copy(update={"value": canonical})


class SetClause(_KeyValue):
    """One `set` item: `key=local-preference,value=200`."""

    key: Literal[SET_KEYS]  # type: ignore[valid-type]

    @pydantic.model_validator(mode="after")
    def _value(self, info: Any) -> Any:
        return self._checked("set", SET_VALUES[self.key], info)


class MatchClause(_KeyValue):
    """One `match` item: `key=ip-address-prefix-list,value=tenants`."""

    key: Literal[MATCH_KEYS]  # type: ignore[valid-type]

    @pydantic.model_validator(mode="after")
    def _value(self, info: Any) -> Any:
        return self._checked("match", MATCH_VALUES[self.key], info)


class ExitAction(_KeyValue):
    """`exit-action`: `key=on-match-next`, `key=on-match-goto,value=20` or `key=continue,value=20`."""

    key: Literal["on-match-next", "on-match-goto", "continue"]

    @pydantic.model_validator(mode="after")
    def _value(self, info: Any) -> ExitAction:
        if is_remote(info):
            return self
        if self.key == "on-match-next" and self.value is not None:
            raise RuleViolation({"value": "on-match-next takes no value"})
        if self.key != "on-match-next" and not (self.value or "").isdigit():
            raise RuleViolation({"value": f"required for {self.key}: the order of an entry (0 to 65535)"})
        return self


def _none_if_empty(value: Any) -> Any:
    return None if value == [] else value


class RouteMapEntry(SdnObject):
    """One entry of a route map, the unit PVE stores and writes (`<route-map-id>_<order>`)."""

    ID_FIELD: ClassVar[str] = "order"
    # An entry has no type: its action can change (PUT), its route map cannot.
    TYPE_FIELD: ClassVar[str] = "route_map"
    LABEL: ClassVar[str] = "route map entry"
    IDENTITY: ClassVar[frozenset[str]] = frozenset({"route_map", "order"})
    DELETE_AS_LIST: ClassVar[bool] = True

    route_map: PolicyId = pydantic.Field(alias="route-map-id")
    order: Order
    action: Literal["permit", "deny"]
    match: Optional[Annotated[Optional[list[MatchClause]], pydantic.BeforeValidator(_none_if_empty)]] = None
    set: Optional[Annotated[Optional[list[SetClause]], pydantic.BeforeValidator(_none_if_empty)]] = None
    call: Optional[PolicyId] = None
    exit_action: Optional[ExitAction] = None

    @property
    def parent_id(self) -> str:
        return self.route_map


_entries_unique = unique_by("order", "gives one order to two entries; each order must be unique")


class RouteMap(SdnObject):
    """A route map as the user declares it: its entries, the whole of them."""

    ID_FIELD: ClassVar[str] = "route_map"
    LABEL: ClassVar[str] = "route map"
    IDENTITY: ClassVar[frozenset[str]] = frozenset()

    route_map: Annotated[PolicyId, pydantic.AfterValidator(_not_reserved(
        ("MAP_VTEP_IN", "MAP_VTEP_OUT", "correct_src"), prefix="pve_"))] = pydantic.Field(alias="route-map-id")
    entries: Optional[Annotated[list[RouteMapEntry], pydantic.AfterValidator(_entries_unique)]] = None

    @pydantic.model_validator(mode="before")
    @classmethod
    def _entries_of_this_map(cls, value: Any) -> Any:
        # Each entry belongs to this route map: the user gives `route_map` once, not per entry.
        if isinstance(value, Mapping) and isinstance(value.get("entries"), list):
            name = value.get("route_map", value.get("route-map-id"))
            value = {**value, "entries": [{**entry, "route_map": name} if isinstance(entry, Mapping) else entry
                                          for entry in value["entries"]]}
        return value

    def user_view(self) -> dict[str, Any]:
        view = super().user_view()
        for entry in view.get("entries") or ():
            entry.pop("route_map", None)
        return view


# --- parsing -----------------------------------------------------------------------------


def parse_prefix_list(options: Mapping[str, Any]) -> PrefixList:
    try:
        return PrefixList.model_validate({k: v for k, v in options.items() if v is not None})
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="prefix list") from None


def prefix_list_from_wire(data: Mapping[str, Any]) -> PrefixList:
    try:
        return PrefixList.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="prefix list") from None


def parse_route_map(options: Mapping[str, Any]) -> RouteMap:
    try:
        return RouteMap.model_validate({k: v for k, v in options.items() if v is not None})
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="route map") from None


def route_map_from_wire(data: Mapping[str, Any]) -> RouteMap:
    """`data`: {"route-map-id": ..., "entries": [the entry items PVE lists for this route map]}."""
    try:
        entries = [RouteMapEntry.from_wire(item) for item in data.get("entries") or ()]
        return RouteMap.model_validate({"route_map": data.get("route-map-id"), "entries": entries}, context=REMOTE)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="route map") from None
