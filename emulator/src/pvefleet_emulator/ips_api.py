"""`/cluster/sdn/vnets/{vnet}/ips`: a MAC's IP mapping in a vnet's IPAM (pve-network 1.3.0
API2/Network/SDN/Ips.pm ipcreate, ipupdate, ipdelete; the work is ipam.py's).

Not lock-aware (pve-sdn-api.md §6.2): no `lock-token` parameter (the schema's additionalProperties
0 makes one a 400), no domain lock, no pending change; a held SDN lock does not stop them. The
permission is the schema's SDN.Allocate on `/sdn/zones/{zone}/{vnet}`, `zone` as sent: the
handlers never read it (the vnet's zone comes from the pending vnets.cfg). The subnet of the
address is looked up in the RUNNING config, so a subnet not yet applied gives "can't find any
subnet for ip ...". A zone without IPAM makes POST and DELETE a success without effect.
"""
from __future__ import annotations

from typing import Optional

from pvefleet_emulator import ipam
from pvefleet_emulator.errors import ApiError, Die, ParamError
from pvefleet_emulator.routes import Call, route


def _text(error: ApiError) -> str:
    """What `"$@"` reads in Perl: a parameter error as its flattened text."""
    return error.flattened() if isinstance(error, ParamError) else error.message


def _vmid(params: dict) -> Optional[str]:
    """The guest ID as PVE stores a form value: text (the status answer makes it an integer)."""
    return None if params.get("vmid") is None else str(params["vmid"])


@route("POST", "/cluster/sdn/vnets/{vnet}/ips")
async def ip_create(call: Call) -> None:
    """ipcreate: Vnets.pm add_ip with no hostname or vmid; its errors as they are."""
    remote, params = call.remote, call.params
    try:
        ipam.vnet_add_ip(remote, params["vnet"], params["ip"], "", params.get("mac"), None)
    finally:
        remote.persist()
    return None


@route("PUT", "/cluster/sdn/vnets/{vnet}/ips")
async def ip_update(call: Call) -> None:
    """ipupdate: the MAC's IP of the new address's version (Vnets.pm get_ips_from_mac: none
    unless the zone has an IPAM and DHCP, and then "can't find any subnet for ip " with nothing
    after "ip") is deleted (its errors as they are), the new one added; if that fails, the old
    one is added back (with the call's vmid; an error there is the answer instead) and the add's
    error is the answer, with one more newline."""
    remote, params = call.remote, call.params
    vnet, ip, mac, vmid = params["vnet"], params["ip"], params.get("mac"), _vmid(params)
    try:
        old_ip4, old_ip6 = ipam.vnet_ips_from_mac(remote, vnet, mac)
        old_ip = old_ip4 if ipam.ip_version(ip) == 4 else old_ip6
        ipam.vnet_del_ip(remote, vnet, old_ip, "", mac)
        try:
            ipam.vnet_add_ip(remote, vnet, ip, "", mac, vmid)
        except ApiError as error:
            ipam.vnet_add_ip(remote, vnet, old_ip, "", mac, vmid)
            raise Die(_text(error) + "\n") from None
    finally:
        remote.persist()
    return None


@route("DELETE", "/cluster/sdn/vnets/{vnet}/ips")
async def ip_delete(call: Call) -> None:
    """ipdelete: Vnets.pm del_ip (the IP goes whatever MAC it has); any error with one more
    newline (`die "$@\\n"`)."""
    remote, params = call.remote, call.params
    try:
        ipam.vnet_del_ip(remote, params["vnet"], params["ip"], "", params.get("mac"))
    except ApiError as error:
        raise Die(_text(error) + "\n") from None
    finally:
        remote.persist()
    return None
