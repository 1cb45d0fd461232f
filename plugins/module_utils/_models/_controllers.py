# Private to pvefleet.sdn: not a public API.
"""SDN controllers: one model per type (Controllers/*Plugin.pm, pve-sdn-objects.md §4.5).

Cluster-wide limits ("only 1 global evpn controller", one bgp/isis controller per node) need
the other controllers and are left to PVE.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    ConfigId,
    ControllerId,
    FabricId,
    InterfaceList,
    IpList,
    NodeList,
    NodeName,
    PolicyId,
    RuleViolation,
    SdnObject,
    int_between,
    is_remote,
    matches,
    not_empty,
)

# asn: 0-4294967295 (the maximum fixed in pve-network 1.1.7, §4.5).
Asn = Annotated[int, pydantic.AfterValidator(int_between(0, 4294967295))]
# isis-net: a NET such as 49.0001.1921.6800.1001.00, 20 to 50 characters (§4.5).
IsisNet = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-fA-F0-9]{2}(\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}",
    "must be an IS-IS NET like 49.0001.1921.6800.1001.00 (20 to 50 characters)",
    min_len=20, max_len=50, flags=re.IGNORECASE))]
RequiredIpList = Annotated[IpList, pydantic.AfterValidator(not_empty)]


class _Controller(SdnObject):
    ID_FIELD: ClassVar[str] = "controller"

    controller: ControllerId


class EvpnController(_Controller):
    LABEL: ClassVar[str] = "evpn controller"
    EXCLUSIVE: ClassVar[tuple[tuple[str, ...], ...]] = (("peers", "fabric"),)
    DEFAULTS: ClassVar[Mapping[str, Any]] = {"peer_group_name": "VTEP", "bgp_mode": "auto"}

    type: Literal["evpn"] = "evpn"
    asn: Asn
    peers: Optional[IpList] = None
    fabric: Optional[FabricId] = None
    # PVE 9.2 (Controllers/EvpnPlugin.pm, Plugin.pm): where it runs, its peer group (unique among
    # the evpn controllers, which 9.2 allows several of), iBGP or eBGP, its route maps.
    nodes: Optional[NodeList] = None
    peer_group_name: Optional[ConfigId] = None
    bgp_mode: Optional[Literal["auto", "external", "internal"]] = None
    ebgp_multihop: Optional[int] = None
    route_map_in: Optional[PolicyId] = None
    route_map_out: Optional[PolicyId] = None

    @pydantic.model_validator(mode="after")
    def _peers_or_fabric(self, info: Any) -> EvpnController:
        # "must have exactly one of peers / fabric defined" (Controllers/EvpnPlugin).
        if not is_remote(info) and self.peers and self.fabric is not None:
            raise RuleViolation({"peers": "set either peers or fabric, not both",
                                 "fabric": "set either peers or fabric, not both"})
        return self

    def completeness_errors(self) -> dict[str, str]:
        if not self.peers and self.fabric is None:
            return {"peers": "one of peers or fabric is required"}
        return {}


class BgpController(_Controller):
    LABEL: ClassVar[str] = "bgp controller"

    type: Literal["bgp"] = "bgp"
    node: NodeName
    asn: Asn
    peers: RequiredIpList
    ebgp: Optional[bool] = None
    # No bounds in PVE's schema.
    ebgp_multihop: Optional[int] = None
    loopback: Optional[str] = None
    bgp_multipath_as_path_relax: Optional[bool] = None
    route_map_in: Optional[PolicyId] = None
    route_map_out: Optional[PolicyId] = None


class IsisController(_Controller):
    LABEL: ClassVar[str] = "isis controller"

    type: Literal["isis"] = "isis"
    isis_domain: str
    isis_net: IsisNet
    isis_ifaces: InterfaceList
    node: NodeName
    loopback: Optional[str] = None


class FaucetController(_Controller):
    LABEL: ClassVar[str] = "faucet controller"

    type: Literal["faucet"] = "faucet"


ControllerModel = Union[EvpnController, BgpController, IsisController, FaucetController]
Controller = Annotated[ControllerModel, pydantic.Field(discriminator="type")]

# Written out rather than read from the models: see ZONE_TYPES in _zones.py.
CONTROLLER_TYPES: Mapping[str, type[_Controller]] = {
    "bgp": BgpController, "evpn": EvpnController, "faucet": FaucetController,
    "isis": IsisController,
}
_LABELS = {controller_type: model.LABEL for controller_type, model in CONTROLLER_TYPES.items()}

_adapter: Any = None


def _controller_adapter() -> Any:
    # Built on first use: the stand-ins used when pydantic is missing need not support it.
    global _adapter
    if _adapter is None:
        _adapter = pydantic.TypeAdapter(Controller)
    return _adapter


def parse_controller(options: Mapping[str, Any]) -> ControllerModel:
    """The desired controller from module options; unset (None) options are left out."""
    given = {name: value for name, value in options.items() if value is not None}
    try:
        return _controller_adapter().validate_python(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label="controller", tagged=_LABELS) from None


def controller_from_wire(data: Mapping[str, Any]) -> _Controller:
    controller_type = data.get("type")
    model = CONTROLLER_TYPES.get(str(controller_type))
    if model is None:
        raise InvalidInput({"type": f"the remote has controller {data.get('controller')!r} of "
                                    f"type {controller_type!r}, which this collection does not know"})
    try:
        return model.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=model.LABEL) from None
