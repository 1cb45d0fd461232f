# Private to pvefleet.sdn: not a public API.
"""SDN fabrics and their nodes (PVE 9): one model per protocol, openfabric and ospf.

PVE keeps them in fabrics.cfg through Rust code (proxmox-ve-config `sdn/fabric`), and its API
keys keep their `_` (`ip_prefix`, `hello_interval`, pve-sdn-apidoc.json). A fabric is named by
`id`, a node by `fabric_id` and `node_id`; both carry `protocol`, which picks the model, cannot
change, and every write must send (the schema does not make it optional). A node's protocol is
its fabric's: the user names the fabric, the node task reads it from there.

The rules here are those of the Rust validation that one object shows on its own (an OSPF
fabric needs `ip_prefix` and `area` and has no IPv6) or that a node shows against its fabric
(an IP inside the fabric's prefix, an IP for every prefix). Fabric-wide rules (duplicate IPs or
interfaces across nodes, overlapping prefixes of two fabrics) are left to PVE.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    UNDERSCORE_CONFIG,
    FabricId,
    InterfaceName,
    NodeName,
    RuleViolation,
    SdnObject,
    WireValue,
    int_between,
    is_remote,
    matches,
    parse_property_string,
    unique_by,
)


def _network(version: int):
    rule = f"must be an IPv{version} network in CIDR form, like " + ("10.0.0.0/24" if version == 4 else "fd00::/64")

    def check(value: str, info: Any) -> str:
        try:
            network = ipaddress.ip_network(value.strip(), strict=not is_remote(info))
        except ValueError as error:
            raise ValueError(f"{rule} ({error})" if "host bits" in str(error) else rule) from None
        if network.version != version or "/" not in value:
            raise ValueError(rule)
        return str(network)

    return check


def _interface_address(version: int):
    """An interface's address with its prefix length (format CIDRv4 / CIDRv6): host bits allowed."""
    rule = f"must be an IPv{version} address with a prefix length, like " + (
        "10.0.0.1/31" if version == 4 else "fd00::1/127")

    def check(value: str) -> str:
        try:
            interface = ipaddress.ip_interface(value.strip())
        except ValueError:
            raise ValueError(rule) from None
        if interface.version != version or "/" not in value:
            raise ValueError(rule)
        return str(interface)

    return check


def _address(version: int):
    rule = f"must be an IPv{version} address"

    def check(value: str) -> str:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError(rule) from None
        if address.version != version:
            raise ValueError(rule)
        return str(address)

    return check


def _area(value: Any) -> str:
    """An OSPF area: an IPv4 address or a 32-bit number (proxmox-sdn-types `ospf::Area`)."""
    text = str(value).strip()
    if text.isdigit() and int(text) <= 4294967295:
        return str(int(text))
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError("must be an IPv4 address or a number between 0 and 4294967295") from None


def _interval(value: Any) -> Union[int, float]:
    # The schema's type `number`, 1-600; whole numbers travel and compare as integers.
    number = float(value)
    if not 1 <= number <= 600:
        raise ValueError("must be between 1 and 600")
    return int(number) if number.is_integer() else number


Ip4Prefix = Annotated[str, pydantic.AfterValidator(_network(4))]
Ip6Prefix = Annotated[str, pydantic.AfterValidator(_network(6))]
Ip4Address = Annotated[str, pydantic.AfterValidator(_address(4))]
Ip6Address = Annotated[str, pydantic.AfterValidator(_address(6))]
Ip4Interface = Annotated[str, pydantic.AfterValidator(_interface_address(4))]
Ip6Interface = Annotated[str, pydantic.AfterValidator(_interface_address(6))]
Area = Annotated[str, pydantic.BeforeValidator(_area)]
Interval = Annotated[Union[int, float], pydantic.BeforeValidator(_interval)]
HelloMultiplier = Annotated[int, pydantic.AfterValidator(int_between(2, 100))]
# pve-iface, and at most 15 characters (Linux's limit; the Rust InterfaceName checks it).
FabricInterfaceName = Annotated[InterfaceName, pydantic.AfterValidator(matches(
    r".{1,15}", "must be at most 15 characters (a Linux interface name)"))]


# --- fabrics -----------------------------------------------------------------------------


class _Fabric(SdnObject):
    model_config = UNDERSCORE_CONFIG
    ID_FIELD: ClassVar[str] = "fabric"
    TYPE_FIELD: ClassVar[str] = "protocol"
    IDENTITY: ClassVar[frozenset[str]] = frozenset({"protocol"})
    ALWAYS_SEND: ClassVar[frozenset[str]] = frozenset({"protocol"})
    DELETE_AS_LIST: ClassVar[bool] = True
    NOT_DELETABLE: ClassVar[frozenset[str]] = frozenset({"ip_prefix", "ip6_prefix", "area"})

    fabric: FabricId = pydantic.Field(alias="id")
    ip_prefix: Optional[Ip4Prefix] = None
    ip6_prefix: Optional[Ip6Prefix] = None


class OpenfabricFabric(_Fabric):
    LABEL: ClassVar[str] = "openfabric fabric"

    protocol: Literal["openfabric"] = "openfabric"
    hello_interval: Optional[Interval] = None
    csnp_interval: Optional[Interval] = None

    def completeness_errors(self) -> dict[str, str]:
        if self.ip_prefix is None and self.ip6_prefix is None:
            # Node IPs must lie in a prefix of the fabric (FabricNoIpPrefixForNode).
            return {"ip_prefix": "one of ip_prefix or ip6_prefix is required"}
        return {}


class OspfFabric(_Fabric):
    LABEL: ClassVar[str] = "ospf fabric"

    protocol: Literal["ospf"] = "ospf"
    area: Area

    @pydantic.model_validator(mode="after")
    def _ipv4_only(self, info: Any) -> OspfFabric:
        # "IPv6 is currently not supported for protocol ospf" (FabricSection<OspfProperties>::validate).
        if not is_remote(info) and self.ip6_prefix is not None:
            raise RuleViolation({"ip6_prefix": "OSPF fabrics have no IPv6 in PVE; leave ip6_prefix out"})
        return self

    def completeness_errors(self) -> dict[str, str]:
        if self.ip_prefix is None:
            return {"ip_prefix": "required for an ospf fabric (the prefix its node IPs come from)"}
        return {}


FabricModel = Union[OpenfabricFabric, OspfFabric]
FABRIC_TYPES: Mapping[str, type[_Fabric]] = {"openfabric": OpenfabricFabric, "ospf": OspfFabric}


# --- fabric nodes ------------------------------------------------------------------------


class OpenfabricInterface(WireValue):
    """One `interfaces` item of an openfabric node: `name=ens19,ip=10.0.0.1/31,hello_multiplier=3`."""

    model_config = UNDERSCORE_CONFIG

    name: FabricInterfaceName
    ip: Optional[Ip4Interface] = None
    ip6: Optional[Ip6Interface] = None
    hello_multiplier: Optional[HelloMultiplier] = None

    _from_text = pydantic.model_validator(mode="before")(parse_property_string)


class OspfInterface(WireValue):
    """One `interfaces` item of an ospf node: `name=ens19,ip=10.0.0.1/31`."""

    model_config = UNDERSCORE_CONFIG

    name: FabricInterfaceName
    ip: Optional[Ip4Interface] = None

    _from_text = pydantic.model_validator(mode="before")(parse_property_string)


_unique_names = unique_by("name", "names an interface twice")


class _FabricNode(SdnObject):
    model_config = UNDERSCORE_CONFIG
    ID_FIELD: ClassVar[str] = "node"
    TYPE_FIELD: ClassVar[str] = "protocol"
    IDENTITY: ClassVar[frozenset[str]] = frozenset({"protocol", "fabric"})
    # The fabric is in the request path (POST /fabrics/node/{fabric_id}).
    PATH_ONLY: ClassVar[frozenset[str]] = frozenset({"fabric"})
    ALWAYS_SEND: ClassVar[frozenset[str]] = frozenset({"protocol"})
    DELETE_AS_LIST: ClassVar[bool] = True

    node: NodeName = pydantic.Field(alias="node_id")
    fabric: FabricId = pydantic.Field(alias="fabric_id")
    ip: Optional[Ip4Address] = None
    ip6: Optional[Ip6Address] = None

    @property
    def parent_id(self) -> str:
        return self.fabric

    def completeness_errors(self) -> dict[str, str]:
        if self.ip is None and self.ip6 is None:
            return {"ip": "one of ip or ip6 is required (the node's router address in the fabric)"}
        return {}


class OpenfabricNode(_FabricNode):
    LABEL: ClassVar[str] = "openfabric fabric node"

    protocol: Literal["openfabric"] = "openfabric"
    interfaces: Optional[Annotated[list[OpenfabricInterface], pydantic.AfterValidator(_unique_names)]] = None


class OspfNode(_FabricNode):
    LABEL: ClassVar[str] = "ospf fabric node"

    protocol: Literal["ospf"] = "ospf"
    interfaces: Optional[Annotated[list[OspfInterface], pydantic.AfterValidator(_unique_names)]] = None

    @pydantic.model_validator(mode="after")
    def _ipv4_only(self, info: Any) -> OspfNode:
        if not is_remote(info) and self.ip6 is not None:
            raise RuleViolation({"ip6": "OSPF fabrics have no IPv6 in PVE; leave ip6 out"})
        return self


FabricNodeModel = Union[OpenfabricNode, OspfNode]
NODE_TYPES: Mapping[str, type[_FabricNode]] = {"openfabric": OpenfabricNode, "ospf": OspfNode}


def check_node_against_fabric(node: _FabricNode, fabric: _Fabric) -> None:
    """A node's IPs against its fabric's prefixes, as proxmox-ve-config validates a fabric:
    every IP inside the prefix of its family, and an IP for every prefix the fabric has."""
    errors: dict[str, str] = {}
    for option, prefix_option in (("ip", "ip_prefix"), ("ip6", "ip6_prefix")):
        address, prefix = getattr(node, option, None), getattr(fabric, prefix_option, None)
        if address is not None and prefix is None:
            errors[option] = f"fabric {fabric.fabric!r} has no {prefix_option} for this address"
        elif address is not None and ipaddress.ip_address(address) not in ipaddress.ip_network(str(prefix), strict=False):
            errors[option] = f"{address} is outside the fabric's {prefix_option} {prefix}"
        elif address is None and prefix is not None:
            errors[option] = f"required: fabric {fabric.fabric!r} has the {prefix_option} {prefix}"
    if errors:
        raise InvalidInput(errors)


# --- parsing -----------------------------------------------------------------------------

_adapters: dict[str, Any] = {}


def _adapter(name: str, union: Any) -> Any:
    # Built on first use: the stand-ins used when pydantic is missing need not support it.
    if name not in _adapters:
        _adapters[name] = pydantic.TypeAdapter(Annotated[union, pydantic.Field(discriminator="protocol")])
    return _adapters[name]


def _labels(models: Mapping[str, type[SdnObject]]) -> dict[str, str]:
    return {protocol: model.LABEL for protocol, model in models.items()}


def parse_fabric(options: Mapping[str, Any]) -> FabricModel:
    given = {name: value for name, value in options.items() if value is not None}
    try:
        return _adapter("fabric", FabricModel).validate_python(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="fabric", tagged=_labels(FABRIC_TYPES), type_field="protocol") from None


def parse_fabric_node(options: Mapping[str, Any]) -> FabricNodeModel:
    """A node's protocol is its fabric's: the node task fills it in from the fabric it read."""
    given = {name: value for name, value in options.items() if value is not None}
    try:
        return _adapter("node", FabricNodeModel).validate_python(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="fabric node", tagged=_labels(NODE_TYPES), type_field="protocol") from None


def _from_wire(models: Mapping[str, type[SdnObject]], what: str, data: Mapping[str, Any]) -> Any:
    model = models.get(str(data.get("protocol")))
    if model is None:
        raise InvalidInput({"protocol": f"the remote has {what} {data.get('id') or data.get('node_id')!r} with "
                                        f"protocol {data.get('protocol')!r}, which this collection does not know"})
    try:
        return model.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=model.LABEL) from None


def fabric_from_wire(data: Mapping[str, Any]) -> _Fabric:
    return _from_wire(FABRIC_TYPES, "fabric", data)


def fabric_node_from_wire(data: Mapping[str, Any]) -> _FabricNode:
    return _from_wire(NODE_TYPES, "fabric node", data)
