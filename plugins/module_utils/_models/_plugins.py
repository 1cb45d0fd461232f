# Private to pvefleet.sdn: not a public API.
"""IPAM and DNS plugins: one model per type (Ipams/*Plugin.pm, Dns/PowerdnsPlugin.pm in
pve-network; pve-sdn-api.md §6.5).

They are not part of SDN's pending configuration: PVE writes ipams.cfg and dns.cfg at once, under
the SDN lock but outside rollback (`IMMEDIATE` in `_resource.py` says what that means for a
transaction). Their secrets (`token`, `key`) are stored by PVE in those files as given and
returned by its GET, so a change of secret is seen like any other change; diffs and results show
`SECRET_SHOWN` in their place.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import pydantic
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import invalid_input
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    SdnObject,
    int_between,
    matches,
)

# pve-sdn-ipam-id / pve-sdn-dns-id: a letter, then letters or digits, at least 2 (§6.5).
PluginId = Annotated[str, pydantic.AfterValidator(matches(
    r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", "must be at least 2 characters, a letter then letters or digits"))]
# fingerprint-sha256: 32 colon-separated hex bytes.
Fingerprint = Annotated[str, pydantic.AfterValidator(matches(
    r"([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}", "must be a SHA-256 fingerprint: 32 hex bytes separated by ':'"))]
# PVE takes any string for these (the plugins' schema); an empty one cannot work.
Url = Annotated[str, pydantic.AfterValidator(matches(r"\S+", "must be the plugin's API URL, without spaces"))]
Secret = Annotated[str, pydantic.AfterValidator(matches(r"\S+", "must not be empty or contain spaces"))]

# What diffs and results show for a secret.
SECRET_SHOWN = "(secret)"
SECRET_CHANGED = "(secret, changed)"


class _Plugin(SdnObject):
    # Options whose values never leave the module but to PVE.
    SECRETS: ClassVar[frozenset[str]] = frozenset()

    def user_view(self) -> dict[str, Any]:
        view = super().user_view()
        return {name: SECRET_SHOWN if name in self.SECRETS else value for name, value in view.items()}


class _Ipam(_Plugin):
    ID_FIELD: ClassVar[str] = "ipam"

    ipam: PluginId


class PveIpam(_Ipam):
    """The built-in IPAM: no options; its entries live in the cluster's IPAM database."""

    LABEL: ClassVar[str] = "pve ipam"

    type: Literal["pve"] = "pve"


class NetboxIpam(_Ipam):
    LABEL: ClassVar[str] = "netbox ipam"
    SECRETS: ClassVar[frozenset[str]] = frozenset({"token"})

    type: Literal["netbox"] = "netbox"
    url: Url
    token: Secret
    fingerprint: Optional[Fingerprint] = None


class PhpIpam(_Ipam):
    LABEL: ClassVar[str] = "phpipam ipam"
    SECRETS: ClassVar[frozenset[str]] = frozenset({"token"})

    type: Literal["phpipam"] = "phpipam"
    url: Url
    token: Secret
    section: Annotated[int, pydantic.AfterValidator(int_between(0))]
    fingerprint: Optional[Fingerprint] = None


class PowerDns(_Plugin):
    ID_FIELD: ClassVar[str] = "dns"
    LABEL: ClassVar[str] = "powerdns dns"
    SECRETS: ClassVar[frozenset[str]] = frozenset({"key"})

    dns: PluginId
    type: Literal["powerdns"] = "powerdns"
    url: Url
    key: Secret
    ttl: Optional[Annotated[int, pydantic.AfterValidator(int_between(0))]] = None
    # "force a different netmask for the ipv6 reverse zone name" (PowerdnsPlugin.pm).
    reversemaskv6: Optional[Annotated[int, pydantic.AfterValidator(int_between(0, 128))]] = None
    fingerprint: Optional[Fingerprint] = None


IpamModel = Union[PveIpam, NetboxIpam, PhpIpam]
IPAM_TYPES: Mapping[str, type[_Ipam]] = {"netbox": NetboxIpam, "phpipam": PhpIpam, "pve": PveIpam}
DNS_TYPES: Mapping[str, type[_Plugin]] = {"powerdns": PowerDns}
# Every plugin option that holds a secret.
SECRET_OPTIONS = frozenset().union(*(model.SECRETS for model in (*IPAM_TYPES.values(), *DNS_TYPES.values())))

_adapters: dict[str, Any] = {}


def _adapter(kind: str) -> Any:
    # Built on first use: the stand-ins used when pydantic is missing need not support it.
    if kind not in _adapters:
        if kind == "ipam":
            _adapters[kind] = pydantic.TypeAdapter(Annotated[IpamModel, pydantic.Field(discriminator="type")])
        else:
            _adapters[kind] = pydantic.TypeAdapter(PowerDns)
    return _adapters[kind]


def _parse(kind: str, types: Mapping[str, type[_Plugin]], options: Mapping[str, Any]) -> _Plugin:
    given = {name: value for name, value in options.items() if value is not None}
    if kind == "dns":
        given.setdefault("type", "powerdns")
    try:
        return _adapter(kind).validate_python(given)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=kind, tagged={name: model.LABEL for name, model in types.items()}) from None


def parse_ipam(options: Mapping[str, Any]) -> _Plugin:
    """The desired IPAM from module options; unset (None) options are left out."""
    return _parse("ipam", IPAM_TYPES, options)


def parse_dns(options: Mapping[str, Any]) -> _Plugin:
    return _parse("dns", DNS_TYPES, options)


def _from_wire(kind: str, types: Mapping[str, type[_Plugin]], data: Mapping[str, Any]) -> _Plugin:
    model = types.get(str(data.get("type")))
    if model is None:
        raise InvalidInput({"type": f"the remote has {kind} {data.get(kind)!r} of type {data.get('type')!r}, "
                                    "which this collection does not know"})
    try:
        return model.from_wire(data)
    except pydantic.ValidationError as error:
        raise invalid_input(error, label=model.LABEL) from None


def ipam_from_wire(data: Mapping[str, Any]) -> _Plugin:
    return _from_wire("ipam", IPAM_TYPES, data)


def dns_from_wire(data: Mapping[str, Any]) -> _Plugin:
    return _from_wire("dns", DNS_TYPES, data)
