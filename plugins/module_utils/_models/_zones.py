# Private to pvefleet.sdn: not a public API.
"""SDN zones: one model per zone type with exactly the options PVE allows for it.

The option sets and the required ones are each zone plugin's `options()` (pve-sdn-objects.md
§4.2 table, pve-sdn-api.md §6.1); constraints come from the API schema. Checks that need other
objects (does the controller exist, is vrf-vxlan unique) are PVE's to make.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    ControllerId,
    DnsName,
    FabricId,
    IpList,
    MacAddress,
    NodeList,
    NodeName,
    RouteTargetList,
    RuleViolation,
    SdnObject,
    ZoneId,
    int_between,
    is_remote,
    sorted_unique,
)

# vrf-vxlan: 1-16777215 (a 24-bit VNI).
VrfVxlan = Annotated[int, pydantic.AfterValidator(int_between(1, 16777215))]
# vxlan-port: the schema says 1-65536 (sic, pve-sdn-api.md §6.1); we follow it.
VxlanPort = Annotated[int, pydantic.AfterValidator(int_between(1, 65536))]
# The qinq service VLAN: the schema only says >= 0. The <= 4096 rule is for the *vnet* tag of
# a qinq zone (QinQPlugin vnet_update_hook), not this one, and PVE does not check it here.
ServiceVlan = Annotated[int, pydantic.AfterValidator(int_between(0))]


class _Zone(SdnObject):
    """Options every zone type has (Zones/Plugin.pm, plus the DNS/IPAM options all types list)."""

    ID_FIELD: ClassVar[str] = "zone"

    zone: ZoneId
    nodes: Optional[NodeList] = None
    ipam: Optional[str] = None
    dns: Optional[str] = None
    reversedns: Optional[str] = None
    dnszone: Optional[DnsName] = None

    def completeness_errors(self) -> dict[str, str]:
        # PVE: `dnszone: missing dns server` (pve-sdn-objects.md §4.2).
        if self.dnszone is not None and self.dns is None:
            return {"dnszone": "needs dns (the DNS server of the zone) to be set as well"}
        return {}


class SimpleZone(_Zone):
    LABEL: ClassVar[str] = "simple zone"

    type: Literal["simple"] = "simple"
    mtu: Optional[int] = None
    dhcp: Optional[Literal["dnsmasq"]] = None


class VlanZone(_Zone):
    LABEL: ClassVar[str] = "vlan zone"

    type: Literal["vlan"] = "vlan"
    bridge: str
    bridge_disable_mac_learning: Optional[bool] = None
    mtu: Optional[int] = None


class QinqZone(_Zone):
    LABEL: ClassVar[str] = "qinq zone"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"vlan_protocol": "802.1q"}

    type: Literal["qinq"] = "qinq"
    tag: ServiceVlan
    bridge: str
    bridge_disable_mac_learning: Optional[bool] = None
    mtu: Optional[int] = None
    vlan_protocol: Optional[Literal["802.1q", "802.1ad"]] = None


class VxlanZone(_Zone):
    LABEL: ClassVar[str] = "vxlan zone"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"vxlan_port": 4789}
    EXCLUSIVE: ClassVar[tuple[tuple[str, ...], ...]] = (("peers", "fabric"),)

    type: Literal["vxlan"] = "vxlan"
    peers: Optional[IpList] = None
    fabric: Optional[FabricId] = None
    vxlan_port: Optional[VxlanPort] = None
    mtu: Optional[int] = None

    @pydantic.model_validator(mode="after")
    def _peers_or_fabric(self, info: Any) -> VxlanZone:
        # "must have exactly one of peers / fabric defined" (VxlanPlugin on_update_hook).
        if not is_remote(info) and self.peers and self.fabric is not None:
            raise RuleViolation(_BOTH_PEERS_AND_FABRIC)
        return self

    def completeness_errors(self) -> dict[str, str]:
        errors = super().completeness_errors()
        if not self.peers and self.fabric is None:
            errors.update(_NEITHER_PEERS_NOR_FABRIC)
        return errors


class EvpnZone(_Zone):
    LABEL: ClassVar[str] = "evpn zone"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"vxlan_port": 4789}
    # PVE stores a random MAC when none is given (EvpnPlugin on_update_hook, §4.2).
    GENERATED: ClassVar[frozenset[str]] = frozenset({"mac"})

    # PVE 9.2: an array (repeated form keys), not a comma list.
    ARRAYS: ClassVar[frozenset[str]] = frozenset({"secondary_controllers"})

    type: Literal["evpn"] = "evpn"
    vrf_vxlan: VrfVxlan
    # Must name an existing evpn controller; PVE checks that, we check the ID form.
    controller: ControllerId
    # PVE 9.2: further evpn controllers the zone is announced through.
    secondary_controllers: Optional[Annotated[list[ControllerId], pydantic.AfterValidator(sorted_unique)]] = None
    exitnodes: Optional[NodeList] = None
    exitnodes_local_routing: Optional[bool] = None
    # Not checked against `exitnodes`: PVE does not require it to be one of them.
    exitnodes_primary: Optional[NodeName] = None
    advertise_subnets: Optional[bool] = None
    disable_arp_nd_suppression: Optional[bool] = None
    bridge_disable_mac_learning: Optional[bool] = None
    rt_import: Optional[RouteTargetList] = None
    vxlan_port: Optional[VxlanPort] = None
    mtu: Optional[int] = None
    mac: Optional[MacAddress] = None


class FaucetZone(_Zone):
    LABEL: ClassVar[str] = "faucet zone"

    type: Literal["faucet"] = "faucet"
    dp_id: int
    # PVE does not check a faucet zone's controller (pve-sdn-objects.md §4.5).
    controller: str


ZoneModel = Union[SimpleZone, VlanZone, QinqZone, VxlanZone, EvpnZone, FaucetZone]
Zone = Annotated[ZoneModel, pydantic.Field(discriminator="type")]

# Written out rather than read from the models: with pydantic missing, the stand-in classes
# have no field metadata, and this module must still import (collection-design.md §4).
ZONE_TYPES: Mapping[str, type[_Zone]] = {
    "evpn": EvpnZone, "faucet": FaucetZone, "qinq": QinqZone, "simple": SimpleZone,
    "vlan": VlanZone, "vxlan": VxlanZone,
}
_LABELS = {zone_type: model.LABEL for zone_type, model in ZONE_TYPES.items()}

_BOTH_PEERS_AND_FABRIC = {
    "peers": "set either peers or fabric, not both",
    "fabric": "set either peers or fabric, not both",
}
_NEITHER_PEERS_NOR_FABRIC = {"peers": "one of peers or fabric is required"}

_adapter: Any = None


def _zone_adapter() -> Any:
    # Built on first use: the stand-ins used when pydantic is missing need not support it.
    global _adapter
    if _adapter is None:
        _adapter = pydantic.TypeAdapter(Zone)
    return _adapter


def parse_zone(options: Mapping[str, Any]) -> ZoneModel:
    """The desired zone from module options; unset (None) options are left out.

    Raises InvalidInput naming each bad option and the rule it breaks.
    """
    given = {name: value for name, value in options.items() if value is not None}
    try:
        return _zone_adapter().validate_python(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="zone", tagged=_LABELS) from None


def zone_from_wire(data: Mapping[str, Any]) -> _Zone:
    """A zone from a PVE GET item (any view, after the pending view was merged)."""
    zone_type = data.get("type")
    model = ZONE_TYPES.get(str(zone_type))
    if model is None:
        raise InvalidInput({"type": f"the remote has zone {data.get('zone')!r} of type "
                                    f"{zone_type!r}, which this collection does not know"})
    try:
        return model.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=model.LABEL) from None
