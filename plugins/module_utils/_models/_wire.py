# Private to pvefleet.sdn: not a public API.
"""The base of every SDN model, the field types they share, and PVE's wire form.

Python field names are the module options (snake_case); the PVE key is the alias: the same name
with `-` for `_` (`vrf_vxlan` <-> `vrf-vxlan`), except in the fabric models, whose PVE keys keep
their `_` (`ip_prefix`, pve-sdn-apidoc.json) and name a few fields differently (a fabric's `id`). Values go out the way PVE's form
decoder wants them (pve-sdn-api.md §2.3): booleans as 1/0, `*-list` formats as one comma string,
array parameters (`dhcp-range`) as a list the client repeats as form keys. Values come back as
PVE's JSON prints them (§2.4): numbers for integers and booleans, comma strings for lists.

Validators raise ValueError with a rule written for the user ("must be between 1 and 16777215");
`_input_errors.py` turns them into InvalidInput. Rules that look at several fields raise
RuleViolation, which names the fields itself.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, get_args

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic

if TYPE_CHECKING:
    from typing import Self

# Validation context for data read from a remote. Rules that look at several fields are what
# *we* check before sending; PVE's own config is taken as it is, so that reading an object that
# was written by other tools (or older PVE) never fails on our stricter pre-checks.
REMOTE: Mapping[str, Any] = {"source": "remote"}


def wire_key(option: str) -> str:
    """PVE's name for a model field (`vrf_vxlan` -> `vrf-vxlan`)."""
    return option.replace("_", "-")


def option_name(key: str) -> str:
    """The module option for a PVE key (`vrf-vxlan` -> `vrf_vxlan`)."""
    return key.replace("-", "_")


def is_remote(info: Any) -> bool:
    """Whether a validator runs on data read from PVE (see REMOTE)."""
    context = getattr(info, "context", None)
    return context is not None and context.get("source") == REMOTE["source"]


class RuleViolation(ValueError):
    """A rule over several fields failed; `errors` maps option names to the broken rule."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {rule}" for field, rule in errors.items()))
        self.errors = dict(errors)


# --- rule builders -----------------------------------------------------------------------


def int_between(low: int, high: int | None = None) -> Callable[[int], int]:
    """Check an integer against PVE's schema minimum/maximum."""
    rule = f"must be between {low} and {high}" if high is not None else f"must be at least {low}"

    def check(value: int) -> int:
        if value < low or (high is not None and value > high):
            raise ValueError(rule)
        return value

    return check


def matches(pattern: str, rule: str, *, min_len: int = 0, max_len: int | None = None,
            flags: int = 0) -> Callable[[str], str]:
    """Check a string against an anchored pattern and a length, with one rule text for both."""
    compiled = re.compile(pattern, flags)

    def check(value: str) -> str:
        too_long = max_len is not None and len(value) > max_len
        if len(value) < min_len or too_long or not compiled.fullmatch(value):
            raise ValueError(rule)
        return value

    return check


def split_list(value: Any) -> Any:
    """Accept a list, or PVE's `*-list` string: items split on `,`, `;` or whitespace (§2.3)."""
    if isinstance(value, str):
        return [item for item in re.split(r"[,;\s]+", value) if item]
    return value


def parse_property_string(cls: Any, value: Any) -> Any:
    """A `before` model validator for WireValue models: PVE's property string
    `key=value,key=value` (the pending view and request bodies, §6.3) as a mapping."""
    if isinstance(value, str):
        parts = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
        return parts or value
    return value


def sorted_unique(items: list[str]) -> list[str]:
    """Lists that are sets to PVE compare and travel sorted (pve-sdn-objects.md §1.8)."""
    return sorted(set(items))


def ip_address(value: str) -> str:
    """One IPv4 or IPv6 address, in its canonical text (so `fd00::0001` equals `fd00::1`)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address") from None


def sorted_ips(items: list[str]) -> list[str]:
    unique = {ipaddress.ip_address(item) for item in items}
    return [str(ip) for ip in sorted(unique, key=lambda ip: (ip.version, int(ip)))]


def route_target(value: str) -> str:
    """`ASN:NN`, both parts 0-4294967295 (format pve-sdn-bgp-rt, pve-sdn-api.md §7.2)."""
    parts = value.strip().split(":")
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        numbers = [int(part) for part in parts]
        if all(number <= 4294967295 for number in numbers):
            return f"{numbers[0]}:{numbers[1]}"
    raise ValueError("must be a route target ASN:NN, both numbers between 0 and 4294967295")


def sorted_route_targets(items: list[str]) -> list[str]:
    return sorted(set(items), key=lambda rt: tuple(int(part) for part in rt.split(":")))


def unique_by(name: str, rule: str) -> Callable[[list[Any]], list[Any]]:
    """List items with each `name` given once (a node's interface names, a route map's entry
    orders), sorted by it."""
    def check(items: list[Any]) -> list[Any]:
        keys = [getattr(item, name) for item in items]
        if len(keys) != len(set(keys)):
            raise ValueError(rule)
        return sorted(items, key=lambda item: getattr(item, name))

    return check


def not_empty(items: list[Any]) -> list[Any]:
    if not items:
        raise ValueError("must not be empty")
    return items


def lower(value: str) -> str:
    return value.lower()


# --- shared field types (formats from pve-sdn-api.md §6 and §7.2) -------------------------

# Zone and vnet IDs: pve-sdn-zone-id / pve-sdn-vnet-id (pve-sdn-objects.md §4.1).
_SHORT_ID = r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]"
ZoneId = Annotated[str, pydantic.AfterValidator(matches(
    _SHORT_ID, "must be 2 to 8 characters, a letter then letters or digits",
    min_len=2, max_len=8))]
VnetId = ZoneId
ControllerId = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]",
    "must be 2 to 64 characters: a letter, then letters, digits, '_' or '-', "
    "ending with a letter or digit", min_len=2, max_len=64))]
# pve-sdn-route-map-id / pve-sdn-prefix-list-id (PVE 9.2, proxmox-ve-config sdn/route_map.rs,
# prefix_list.rs): 1 to 32 characters.
POLICY_ID_PATTERN = r"[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,30}[a-zA-Z0-9])?"
PolicyId = Annotated[str, pydantic.AfterValidator(matches(
    POLICY_ID_PATTERN,
    "must be 1 to 32 characters: letters, digits, '-' or '_', starting and ending with a letter or digit"))]
# pve-configid.
ConfigId = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-z][a-z0-9_-]+", "must be a letter, then letters, digits, '_' or '-' (at least 2 characters)",
    flags=re.IGNORECASE))]
# pve-sdn-fabric-id (pve-sdn-api.md §6.6).
FabricId = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]",
    "must be 2 to 8 characters: letters, digits or '-', not starting or ending with '-'"))]
NodeName = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?",
    "must be a node name: letters, digits and '-', not starting or ending with '-'"))]
NodeList = Annotated[list[NodeName], pydantic.BeforeValidator(split_list),
                     pydantic.AfterValidator(sorted_unique)]
DnsName = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*",
    "must be a DNS name: dot-separated labels of letters, digits and '-'"))]
IpAddress = Annotated[str, pydantic.AfterValidator(ip_address)]
IpList = Annotated[list[IpAddress], pydantic.BeforeValidator(split_list),
                   pydantic.AfterValidator(sorted_ips)]
# mac-addr: unicast only, the second hex digit even (pve-sdn-api.md §6.1). Lower-cased so
# that the upper-case MAC PVE generates compares equal to the same MAC written in lower case.
MacAddress = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-f0-9][02468ace](:[a-f0-9]{2}){5}",
    "must be a unicast MAC address like 02:00:00:00:00:01", flags=re.IGNORECASE)),
    pydantic.AfterValidator(lower)]
RouteTargetList = Annotated[list[Annotated[str, pydantic.AfterValidator(route_target)]],
                            pydantic.BeforeValidator(split_list),
                            pydantic.AfterValidator(sorted_route_targets)]
# pve-iface (pve-sdn-api.md §7.2).
InterfaceName = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-z][a-z0-9_]{1,20}([:.]\d+)?",
    "must be an interface name: a letter, 1 to 20 letters, digits or '_', "
    "optionally .N or :N", flags=re.IGNORECASE))]
InterfaceList = Annotated[list[InterfaceName], pydantic.BeforeValidator(split_list),
                          pydantic.AfterValidator(sorted_unique), pydantic.AfterValidator(not_empty)]

_CONFIG = pydantic.ConfigDict(
    alias_generator=wire_key,
    populate_by_name=True,
    # An option another type does not have is an error, as in PVE ("unexpected property").
    extra="forbid",
    frozen=True,
    # PVE prints config strings that look like numbers as JSON strings, but be safe.
    coerce_numbers_to_str=True,
)


# The fabric models: PVE's keys are the field names themselves, unless a field gives an alias.
UNDERSCORE_CONFIG = pydantic.ConfigDict(**{**_CONFIG, "alias_generator": None})


class _Wired(pydantic.BaseModel):
    """What maps a model's field names to PVE's keys, both ways."""

    @classmethod
    def wire_name(cls, name: str) -> str:
        """PVE's key for a field."""
        field = cls.model_fields.get(name)
        return (field.alias if field is not None and field.alias else None) or name

    @classmethod
    def field_for(cls, key: str) -> str:
        """The field (module option) for one of PVE's keys."""
        return next((name for name in cls.model_fields if cls.wire_name(name) == key), option_name(key))


class WireValue(_Wired):
    """A value made of named parts (PVE's property strings, such as one dhcp-range)."""

    model_config = _CONFIG

    def to_property_string(self) -> str:
        return ",".join(f"{self.wire_name(name)}={wire_value(value)}" for name, value in self.user_view().items())

    def user_view(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields
                if getattr(self, name) is not None}


class SdnObject(_Wired):
    """One zone, vnet, subnet or controller as the user wants it or as PVE has it.

    Only the options present in the input count as specified (`specified()`): what a user
    leaves out is left alone on the remote (see `_compare.changes`).
    """

    model_config = _CONFIG

    # The field that names the object (`zone`, `vnet`, `subnet`, `controller`).
    ID_FIELD: ClassVar[str]
    # The field that picks the model, which an update cannot change (a fabric's `protocol`).
    TYPE_FIELD: ClassVar[str] = "type"
    # Fields every update sends, changed or not (PVE's fabric PUT requires `protocol`).
    ALWAYS_SEND: ClassVar[frozenset[str]] = frozenset()
    # Whether an update's `delete` goes as a list (repeated form keys: the fabric endpoints' array)
    # rather than one comma string (pve-configid-list).
    DELETE_AS_LIST: ClassVar[bool] = False
    # List options PVE's schema types as arrays (repeated form keys), not `*-list` comma strings.
    ARRAYS: ClassVar[frozenset[str]] = frozenset()
    # How messages name the object type ("vlan zone", "vnet").
    LABEL: ClassVar[str]
    # Fields an update cannot change: PVE cannot change a type (pve-sdn-objects.md §0).
    IDENTITY: ClassVar[frozenset[str]] = frozenset({"type"})
    # Fields that travel in the request path, never in a body.
    PATH_ONLY: ClassVar[frozenset[str]] = frozenset()
    # The value PVE uses when an option is unset (schema `default`); booleans default to false.
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    # Options PVE fills in itself when unset (evpn zone `mac`): never removed by a purge.
    GENERATED: ClassVar[frozenset[str]] = frozenset()
    # Options an update can change but not remove (a fabric's prefixes: not in its `delete` enum).
    NOT_DELETABLE: ClassVar[frozenset[str]] = frozenset()
    # Groups of options of which at most one may be set: setting one removes the others.
    EXCLUSIVE: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @property
    def object_id(self) -> str:
        """The ID PVE uses in the item path."""
        return str(getattr(self, self.ID_FIELD))

    @property
    def parent_id(self) -> str | None:
        """The ID of the object whose path this one lives under (a subnet's vnet)."""
        return None

    @property
    def type_value(self) -> Any:
        return getattr(self, self.TYPE_FIELD, None)

    def specified(self) -> dict[str, Any]:
        """The options the input set, plus ID and type; unset (None) options left out."""
        # (A prefix list has no type.)
        first = tuple(name for name in (self.ID_FIELD, self.TYPE_FIELD) if name in type(self).model_fields)
        names = set(self.model_fields_set) | set(first)
        # ID and type first: diffs read better that way.
        order = [*first, *(name for name in type(self).model_fields if name not in first)]
        return {name: getattr(self, name) for name in order
                if name in names and getattr(self, name) is not None}

    def to_wire(self) -> dict[str, Any]:
        """The body of a create (POST): every specified option in PVE's form."""
        body: dict[str, Any] = {}
        for name in self.specified():
            if name in self.PATH_ONLY:
                continue
            encoded = self.wire_of(name)
            if encoded is not None:
                body[self.wire_name(name)] = encoded
        return body

    def wire_of(self, name: str) -> Any:
        """One option's value in PVE's form (see wire_value)."""
        value = getattr(self, name)
        if name in self.ARRAYS and isinstance(value, (list, tuple)):
            return [str(item) for item in value] or None
        return wire_value(value)

    def user_view(self) -> dict[str, Any]:
        """The object as module options (snake_case, lists as lists): what diffs show."""
        return {name: user_value(value) for name, value in self.specified().items()}

    def completeness_errors(self) -> dict[str, str]:
        """Rules that need the whole object (create, or the result of an update).

        A desired state names only what the user wants to change, so a rule such as "exactly
        one of peers / fabric" can only be judged after the current options are merged in.
        """
        return {}

    @classmethod
    def wire_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Keep the options of this model from a GET item, keyed by option name.

        Drops what is not an option: `digest`, `state`, `pending` (pve-sdn-api.md §5.2) and
        anything PVE adds that we do not model (a vnet's generated `mac` in a simple zone).
        """
        known = {cls.wire_name(name): name for name in cls.model_fields}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = known.get(key)
            if name is None or value is None or value == []:
                continue
            values[name] = value
        return values

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """Parse one item of a PVE GET (see `wire_fields`)."""
        return cls.model_validate(cls.wire_fields(data), context=REMOTE)


def wire_value(value: Any) -> Any:
    """One value in PVE's form: 1/0, comma string, or a list of property strings."""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, WireValue):
        return value.to_property_string()
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        if isinstance(value[0], WireValue):
            return [item.to_property_string() for item in value]
        return ",".join(str(item) for item in value)
    return value


def user_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [user_value(item) for item in value]
    if isinstance(value, (WireValue, SdnObject)):
        return value.user_view()
    return value


def is_bool_field(model: type[pydantic.BaseModel], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    return annotation is bool or bool in get_args(annotation)
