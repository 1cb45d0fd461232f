# Private to pvefleet.sdn: not a public API.
"""SDN subnets (SubnetPlugin.pm, pve-sdn-objects.md §4.4) and the rule their vnet imposes.

PVE names a subnet `<zone>-<network>-<prefixlen>` (the CIDR as sent, `/` replaced by `-`, the
vnet's zone in front; pve-sdn-api.md §6.3) and reads it only by that name, so a subnet model
knows its zone: parse it with the zone of its vnet, read from the remote.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._vnets import Vnet
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    REMOTE,
    DnsName,
    IpAddress,
    RuleViolation,
    SdnObject,
    VnetId,
    WireValue,
    ZoneId,
    is_remote,
    parse_property_string,
)

if TYPE_CHECKING:
    from typing import Self

_CIDR_RULE = "must be a network in CIDR form, like 10.0.0.0/24 or fd00::/64"


def cidr(value: str, info: Any) -> str:
    """A subnet CIDR. Ours must be the network address itself, in canonical text.

    PVE stores whatever address it is given (`10.0.0.5/24` becomes the subnet
    `zone-10.0.0.5-24`); a typo there gives a subnet nobody meant, so we refuse it and say
    which network was probably meant. What the remote already has is kept as PVE wrote it,
    because that text is part of the subnet's ID.
    """
    text = value.strip()
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError(_CIDR_RULE) from None
    if "/" not in text:
        raise ValueError(_CIDR_RULE)
    if is_remote(info):
        return text
    network = interface.network
    if interface.ip != network.network_address:
        raise ValueError(f"has host bits set; the network is {network}")
    return str(network)


Cidr = Annotated[str, pydantic.AfterValidator(cidr)]


def subnet_id(zone: str, network: str) -> str:
    """PVE's ID of a subnet: `myzone-10.0.0.0-24`, `myzone-fd00::-64`."""
    return f"{zone}-{network.replace('/', '-')}"


class DhcpRange(WireValue):
    """One `dhcp-range` item: the property string `start-address=<ip>,end-address=<ip>`."""

    start_address: IpAddress
    end_address: IpAddress

    _from_text = pydantic.model_validator(mode="before")(parse_property_string)

    def addresses(self) -> tuple[Any, Any]:
        return ipaddress.ip_address(self.start_address), ipaddress.ip_address(self.end_address)


class Subnet(SdnObject):
    ID_FIELD: ClassVar[str] = "subnet"
    LABEL: ClassVar[str] = "subnet"
    IDENTITY: ClassVar[frozenset[str]] = frozenset({"type", "subnet", "vnet", "zone"})
    # vnet is in the request path; zone is derived from the vnet, never sent.
    PATH_ONLY: ClassVar[frozenset[str]] = frozenset({"vnet", "zone"})

    subnet: Cidr
    # PVE's schema marks `type` required on create (enum `subnet`), so it is always sent.
    type: Literal["subnet"] = "subnet"
    vnet: VnetId
    zone: Optional[ZoneId] = None
    gateway: Optional[IpAddress] = None
    snat: Optional[bool] = None
    dnszoneprefix: Optional[DnsName] = None
    dhcp_range: Optional[list[DhcpRange]] = None
    dhcp_dns_server: Optional[IpAddress] = None

    @property
    def object_id(self) -> str:
        if self.zone is None:
            raise ValueError(f"the zone of subnet {self.subnet} is unknown: parse it with the "
                             f"zone of vnet {self.vnet!r}")
        return subnet_id(self.zone, self.subnet)

    @property
    def parent_id(self) -> str:
        return self.vnet

    @property
    def network(self) -> Any:
        return ipaddress.ip_network(self.subnet, strict=False)

    def to_wire(self) -> dict[str, Any]:
        body = super().to_wire()
        body["type"] = "subnet"
        return body

    @pydantic.model_validator(mode="after")
    def _addresses_inside(self, info: Any) -> Subnet:
        if is_remote(info):
            return self
        errors = {**self._gateway_errors(), **self._dhcp_range_errors()}
        if errors:
            raise RuleViolation(errors)
        return self

    def _gateway_errors(self) -> dict[str, str]:
        if self.gateway is None:
            return {}
        gateway, network = ipaddress.ip_address(self.gateway), self.network
        # PVE lets an IPv4 /32 (point-to-point) have its gateway outside (SubnetPlugin).
        point_to_point = gateway.version == 4 and network.version == 4 and network.prefixlen == 32
        if (gateway.version != network.version or gateway not in network) and not point_to_point:
            return {"gateway": f"{self.gateway} is not inside {self.subnet}"}
        return {}

    def _dhcp_range_errors(self) -> dict[str, str]:
        # The checks of validate_dhcp_ranges, in its order (pve-sdn-objects.md §4.4).
        errors: dict[str, str] = {}
        network = self.network
        accepted: list[tuple[int, Any, Any]] = []
        for index, item in enumerate(self.dhcp_range or ()):
            field = f"dhcp_range[{index}]"
            start, end = item.addresses()
            outside = [str(ip) for ip in (start, end)
                       if ip.version != network.version or ip not in network]
            if start.version == end.version and start > end:
                errors[field] = f"start_address {start} must not be after end_address {end}"
            elif outside:
                verb = "is" if len(outside) == 1 else "are"
                errors[field] = f"{' and '.join(outside)} {verb} not inside {self.subnet}"
            else:
                overlapping = [other for other, low, high in accepted if start <= high and low <= end]
                if overlapping:
                    errors[field] = f"overlaps dhcp_range[{overlapping[0]}]; ranges must not overlap"
                accepted.append((index, start, end))
        return errors

    def in_zone(self, zone: str) -> Subnet:
        """This subnet with the zone of its vnet (which makes its PVE ID)."""
        return type(self).model_validate({**self.specified(), "zone": zone})

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """A subnet from a GET item: `subnet` there is the ID; `cidr` and `zone` are derived."""
        values = cls.wire_fields(data)
        given_id = str(data.get("id") or data.get("subnet") or "")
        zone, _sep, rest = given_id.partition("-")
        network, _sep, prefixlen = rest.rpartition("-")
        values["subnet"] = data.get("cidr") or f"{network}/{prefixlen}"
        values["zone"] = data.get("zone") or zone
        return cls.model_validate(values, context=REMOTE)


def parse_subnet(options: Mapping[str, Any], zone: str | None = None) -> Subnet:
    """The desired subnet from module options (`subnet` is the CIDR), in the vnet's zone."""
    given = {name: value for name, value in options.items() if value is not None}
    if zone is not None:
        given["zone"] = zone
    try:
        return Subnet.model_validate(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=Subnet.LABEL) from None


def subnet_from_wire(data: Mapping[str, Any]) -> Subnet:
    try:
        return Subnet.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=Subnet.LABEL) from None


def check_subnet_against_vnet(subnet: Subnet, vnet: Vnet) -> None:
    """PVE refuses subnets on vlan-aware vnets ("you can't add a subnet on a vlanaware vnet")."""
    if subnet.vnet != vnet.vnet:
        raise ValueError(f"subnet {subnet.subnet} is on vnet {subnet.vnet!r}, not {vnet.vnet!r}")
    errors: dict[str, str] = {}
    if vnet.vlanaware:
        errors["vnet"] = f"vnet {vnet.vnet!r} is VLAN-aware; PVE allows no subnets on it"
    if subnet.zone is not None and subnet.zone != vnet.zone:
        errors["zone"] = f"vnet {vnet.vnet!r} is in zone {vnet.zone!r}, not {subnet.zone!r}"
    if errors:
        raise InvalidInput(errors)
