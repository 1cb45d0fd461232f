# Private to pvefleet.sdn: not a public API.
"""SDN vnets (VnetPlugin.pm, pve-sdn-objects.md §4.3) and the rules their zone imposes."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    SdnObject,
    VnetId,
    ZoneId,
    int_between,
    matches,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import ZoneModel

# tag: 1-16777215 in the schema (a VLAN ID or a VXLAN VNI, depending on the zone).
VnetTag = Annotated[int, pydantic.AfterValidator(int_between(1, 16777215))]
# alias: PVE's pattern `[\(\)-_.\w\d\s]{0,256}`, case-insensitive. `\)-_` is a range from `)`
# to `_`, so most ASCII punctuation passes (pve-sdn-api.md §6.2); the same pattern here.
Alias = Annotated[str, pydantic.AfterValidator(matches(
    r"[\(\)-_.\w\d\s]{0,256}",
    "must be at most 256 letters, digits, spaces or characters among ( ) * + , - . / : ; "
    "< = > ? @ [ \\ ] ^ _", max_len=256, flags=re.IGNORECASE))]

# The largest 802.1Q VLAN ID PVE accepts on vlan and qinq vnets (Vlan/QinQ vnet_update_hook).
MAX_VLAN_TAG = 4096


class Vnet(SdnObject):
    ID_FIELD: ClassVar[str] = "vnet"
    LABEL: ClassVar[str] = "vnet"

    vnet: VnetId
    type: Literal["vnet"] = "vnet"
    # Must name a zone of the *pending* config; PVE gives no clean error otherwise (§4.3).
    zone: ZoneId
    tag: Optional[VnetTag] = None
    alias: Optional[Alias] = None
    vlanaware: Optional[bool] = None
    isolate_ports: Optional[bool] = None


def parse_vnet(options: Mapping[str, Any]) -> Vnet:
    """The desired vnet from module options; unset (None) options are left out."""
    given = {name: value for name, value in options.items() if value is not None}
    try:
        return Vnet.model_validate(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=Vnet.LABEL) from None


def vnet_from_wire(data: Mapping[str, Any]) -> Vnet:
    try:
        return Vnet.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=Vnet.LABEL) from None


def check_vnet_against_zone(vnet: Vnet, zone: ZoneModel) -> None:
    """The rules each zone type's vnet hook enforces (pve-sdn-objects.md §4.3 table).

    Give the vnet as it will be (a create, or the merged result of an update) and its zone as
    the pending config has it. Uniqueness of tags across vnets is left to PVE.
    """
    if vnet.zone != zone.zone:
        raise ValueError(f"vnet {vnet.vnet!r} is in zone {vnet.zone!r}, not {zone.zone!r}")
    where = f"in {zone.type} zone {zone.zone!r}"
    errors: dict[str, str] = {}
    if zone.type == "simple" and vnet.tag is not None:
        errors["tag"] = f"not allowed on a vnet {where} (got {vnet.tag})"
    elif zone.type == "vlan" and vnet.tag is None:
        errors["tag"] = f"required on a vnet {where}: the VLAN ID, 1 to {MAX_VLAN_TAG}"
    elif zone.type in ("vlan", "qinq") and vnet.tag is not None and vnet.tag > MAX_VLAN_TAG:
        errors["tag"] = f"must be at most {MAX_VLAN_TAG} on a vnet {where} (got {vnet.tag})"
    elif zone.type in ("vxlan", "evpn") and vnet.tag is None:
        errors["tag"] = f"required on a vnet {where}: the VXLAN VNI, 1 to 16777215"
    if zone.type == "evpn" and vnet.vlanaware:
        errors["vlanaware"] = f"cannot be enabled on a vnet {where}"
    if errors:
        raise InvalidInput(errors)
