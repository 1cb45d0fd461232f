# Private to pvefleet.sdn: not a public API.
"""sdn_vnet_ip: one IP of a vnet reserved in its zone's IPAM, for a MAC or for none.

PVE's `/cluster/sdn/vnets/{vnet}/ips` (pve-network API2/Network/SDN/Ips.pm) is not lock-aware: it
takes no `lock-token`, writes the IPAM at once and has no pending state, so no SDN rollback undoes
it. It finds the address's subnet in the RUNNING configuration: the vnet and subnet must have been
applied. It has no GET: the pve IPAM's entries are read from `/cluster/sdn/ipams/pve/status`, which
lists only zones with `ipam` pve and `dhcp` (Ipams.pm). For other zones the module cannot see the
entry; it then relies on PVE's own answer ("already exist", "does not exist") and says so.
"""
from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput

# pve-mac-addr (pve-common JSONSchema.pm): a unicast MAC address.
_MAC = re.compile(r"[a-f0-9][02468ace](?::[a-f0-9]{2}){5}", re.IGNORECASE)


class NotRunning(InvalidInput):
    """The vnet is not in the running configuration, where PVE looks the address's subnet up."""


# The pve IPAM's status lists its entries only for zones with DHCP (Ipams.pm ipamindex).
_READABLE_IPAM = "pve"


def check_options(params: dict) -> tuple[str, Optional[str]]:
    """The address and MAC as PVE compares them, or InvalidInput naming the option."""
    errors: dict[str, str] = {}
    ip = str(params.get("ip") or "")
    try:
        address = str(ipaddress.ip_address(ip))
    except ValueError:
        errors["ip"] = f"must be an IPv4 or IPv6 address, without a prefix length (got {ip!r})"
        address = ip
    mac = params.get("mac")
    if mac is not None and not _MAC.fullmatch(mac):
        errors["mac"] = f"must be a unicast MAC address such as 'bc:24:11:00:00:01' (got {mac!r})"
    if errors:
        raise InvalidInput(errors)
    return address, mac.lower() if mac else None


async def run_vnet_ip_task(client, params: dict, check_mode: bool) -> dict:
    address, mac = check_options(params)
    vnet = params["vnet"]
    path = f"/cluster/sdn/vnets/{urllib.parse.quote(vnet, safe='')}/ips"
    try:
        zone = await _running_zone(client, vnet, params.get("zone"))
    except NotRunning:
        if not check_mode:
            raise
        # A check run before the apply that creates the vnet: what the write would do then.
        wanted = params.get("state", "present") == "present"
        return {**_done({"vnet": vnet, "zone": params.get("zone"), "ip": address, "ipam": None, "verified": False},
                        "create" if wanted else "none", {}, {"ip": address, "mac": mac} if wanted else {}),
                "warnings": [f"vnet {vnet!r} is not applied yet: its IPAM could not be read"]}
    ipam = zone.get("ipam")
    if not ipam:
        raise InvalidInput({"vnet": f"its zone {zone['zone']!r} has no IPAM: Proxmox VE accepts an IP mapping there "
                                    "and keeps nothing (set the zone's ipam first)"})
    readable = ipam == _READABLE_IPAM and bool(zone.get("dhcp"))
    current = await _current_entry(client, vnet, address) if readable else None
    result: dict[str, Any] = {"vnet": vnet, "zone": zone["zone"], "ip": address, "ipam": ipam, "verified": readable}
    body = {"zone": zone["zone"], "ip": address, **({"mac": mac} if mac else {})}
    before = {"ip": address, "mac": current.get("mac")} if current else {}
    wanted = params.get("state", "present") == "present"
    after = {"ip": address, "mac": mac} if wanted else {}
    if readable:
        same = current is not None and (mac is None or str(current.get("mac") or "").lower() == mac)
        action = ("none" if same else "update" if current else "create") if wanted else \
            ("delete" if current else "none")
    else:
        action = "create" if wanted else "delete"
    if not readable:
        result["warnings"] = [f"the {ipam!r} IPAM's entries cannot be read (Proxmox VE lists only the pve IPAM's, "
                              "for zones with DHCP): what is there was not compared, Proxmox VE's answer decides"]
    if check_mode or action == "none":
        return _done(result, action, before, after if action != "none" else before)
    if action in ("update", "delete"):
        try:
            await client.delete(path, params={"zone": zone["zone"], "ip": address,
                                              **({"mac": current["mac"]} if current and current.get("mac") else {})})
        except ApiError as error:
            if readable or "does not exist" not in error.message:
                raise
            return _done(result, "none", before, before)
    if action in ("create", "update"):
        try:
            await client.post(path, body)
        except ApiError as error:
            if readable or "already exist" not in error.message:
                raise
            return _done(result, "none", before, before)
    return _done(result, action, before, after)


def _done(result: dict, action: str, before: dict, after: dict) -> dict:
    return {**result, "changed": action != "none", "action": action, "diff": {"before": before, "after": after}}


async def _running_zone(client, vnet: str, zone_given: Optional[str]) -> dict:
    """The running zone of the vnet: PVE looks the address's subnet up in the running configuration."""
    try:
        found = await client.get(f"/cluster/sdn/vnets/{urllib.parse.quote(vnet, safe='')}", params={"running": 1})
    except ApiError as error:
        if error.status in (400, 404, 500) and "does not exist" in error.message:
            raise NotRunning({"vnet": f"{vnet!r} is not in the running SDN configuration: create and apply it "
                                      "(pvefleet.sdn.sdn_apply) before mapping IPs in it"}) from None
        raise
    zone_id = str((found or {}).get("zone") or "")
    if zone_given and zone_given != zone_id:
        raise InvalidInput({"zone": f"vnet {vnet!r} is in zone {zone_id!r}, not {zone_given!r}"})
    zone = await client.get(f"/cluster/sdn/zones/{urllib.parse.quote(zone_id, safe='')}", params={"running": 1})
    return {**(zone or {}), "zone": zone_id}


async def _current_entry(client, vnet: str, address: str) -> Optional[dict]:
    entries = await client.get(f"/cluster/sdn/ipams/{_READABLE_IPAM}/status") or []
    for entry in entries:
        if entry.get("vnet") == vnet and _same_address(entry.get("ip"), address) and not entry.get("gateway"):
            return entry
    return None


def _same_address(text: Any, address: str) -> bool:
    try:
        return str(ipaddress.ip_address(str(text))) == address
    except ValueError:
        return False
