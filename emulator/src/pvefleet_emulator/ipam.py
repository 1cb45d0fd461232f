"""The IPAM side of pve-network, which lives outside the pending/running model: the built-in
`pve` IPAM's state file, the MAC cache, and the pve-network functions that change them.

- `sdn/pve-ipam-state.json` (Ipams/PVEPlugin.pm `$ipamdb_file`): `{"zones": {zone: {"subnets":
  {cidr: {"ips": {ip: entry}}}}}}`, an entry being `{"gateway": 1}` or any of `mac`, `vmid`,
  `hostname`. pve-network 0.10 (commit 0f48bc6, Nov 2024) moved it there from `priv/ipam.db`;
  1.1.5 (3245a20, for PVE 9) dropped the fallback to the old file, so PVE 9 has only this one.
- `sdn/mac-cache.json` (Ipams.pm `$macdb_filename`): `{"macs": {mac: {"ip4": ip, "ip6": ip}}}`.

Subnet writes (SubnetPlugin.pm on_update_hook, Subnets.pm add_subnet/del_subnet) and the vnet IP
calls (Vnets.pm, Subnets.pm add_ip/del_ip) change them at once, so a rollback leaves them
(pve-sdn-api.md §6.3). Every IPAM of type `pve` shares the one state file. External IPAMs
(netbox, phpipam) and DNS plugins (powerdns) are never contacted: their calls succeed without
effect and find nothing, while the MAC cache is kept as PVE keeps it. Where PVE's result follows
Perl's hash order, the emulator takes the order of insertion (or sorted order, where it lists).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from pvefleet_emulator.errors import ApiError, Die, perl_die
from pvefleet_emulator.formats import subnet_id_parts

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote
    from pvefleet_emulator.sdn_config import SdnConfig

STATE_FILE = "sdn/pve-ipam-state.json"
MAC_CACHE_FILE = "sdn/mac-cache.json"
# pve-network 1.3.0's lines of the dies without a newline.
_PVE_PLUGIN = "Network/SDN/Ipams/PVEPlugin.pm"


class IpamDb:
    """Ipams/PVEPlugin.pm's database and its plugin calls (each a cfs_lock_file of the state file)."""

    def __init__(self, data: Optional[dict] = None):
        self.zones: dict[str, dict[str, Any]] = dict((data or {}).get("zones") or {})

    def _subnet(self, zone: str, cidr: str) -> dict[str, Any]:
        """add_ip's lookup: the subnet's record, or its error."""
        dbzone = self.zones.get(zone)
        if dbzone is None:
            raise Die(f"zone '{zone}' doesn't exist in IPAM DB\n")
        dbsubnet = (dbzone.get("subnets") or {}).get(cidr)
        if dbsubnet is None:
            raise Die(f"subnet '{cidr}' doesn't exist in IPAM DB\n")
        return dbsubnet

    def add_subnet(self, zone: str, cidr: str) -> None:
        """add_subnet: the zone and the subnet, kept as they are if already there."""
        subnets = self.zones.setdefault(zone, {}).setdefault("subnets", {})
        subnets.setdefault(cidr, {"ips": {}})

    def del_subnet(self, zone: str, cidr: str) -> None:
        """del_subnet: refused while any entry but a lone gateway remains (only_gateway_remains)."""
        dbsubnet = self._subnet(zone, cidr)
        ips = dbsubnet.get("ips") or {}
        if ips and not (len(ips) == 1 and next(iter(ips.values())).get("gateway") == 1):
            raise Die(f"cannot delete subnet '{cidr}', not empty\n")
        del self.zones[zone]["subnets"][cidr]  # the zone stays, with its other subnets

    def add_ip(self, zone: str, cidr: str, ip: str, hostname: Optional[str], mac: Optional[str],
               vmid: Optional[str], is_gateway: bool) -> None:
        """add_ip: a gateway may replace a gateway entry, anything else no entry at all."""
        ips = self._subnet(zone, cidr).setdefault("ips", {})
        if ip in ips and (not is_gateway or "gateway" not in ips[ip]):
            raise Die(f"IP '{ip}' already exist\n")
        if is_gateway:
            ips[ip] = {"gateway": 1}
        else:
            ips[ip] = {key: value for key, value in (("vmid", vmid), ("hostname", hostname), ("mac", mac))
                       if value}

    def del_ip(self, zone: str, cidr: str, ip: str) -> None:
        """del_ip, with its own texts for a missing zone or subnet (Perl adds the line)."""
        if zone not in self.zones:
            raise perl_die(f"zone {zone} don't exist in ipam db", _PVE_PLUGIN, 263)
        dbsubnet = (self.zones[zone].get("subnets") or {}).get(cidr)
        if dbsubnet is None:
            raise perl_die(f"subnet {cidr} don't exist in ipam db", _PVE_PLUGIN, 265)
        if ip not in (dbsubnet.get("ips") or {}):
            raise Die(f"IP '{ip}' does not exist in IPAM DB\n")
        del dbsubnet["ips"][ip]

    def ips_from_mac(self, zone: str, mac: Optional[str]) -> tuple[Optional[str], Optional[str]]:
        """get_ips_from_mac: the zone's IPv4 and IPv6 entries with this MAC; no subnet is read
        once an IPv6 one is found (PVE's `next if $ip6`), and in a subnet the last match wins."""
        if zone not in self.zones:
            raise perl_die(f"zone {zone} don't exist in ipam db", _PVE_PLUGIN, 285)
        ip4 = ip6 = None
        for dbsubnet in (self.zones[zone].get("subnets") or {}).values():
            if ip6:
                continue
            for ip, entry in (dbsubnet.get("ips") or {}).items():
                if entry.get("mac") and entry.get("mac") == mac:
                    if ip_version(ip) == 4:
                        ip4 = ip
                    else:
                        ip6 = ip
            if ip4 and ip6:
                break
        return ip4, ip6

    def to_dict(self) -> dict:
        return {"zones": self.zones}


class MacCache:
    """Ipams.pm's MAC cache (add_cache_mac_ip, del_cache_mac_ip, get_ips_from_mac). A MAC looked
    up without result is cached with nulls, and then answers from the cache (as in PVE)."""

    def __init__(self, data: Optional[dict] = None):
        self.macs: dict[str, dict[str, Optional[str]]] = dict((data or {}).get("macs") or {})

    def add(self, mac: str, ip: str) -> None:
        self.macs.setdefault(mac, {})["ip4" if ip_version(ip) == 4 else "ip6"] = ip

    def delete(self, mac: str, ip: str) -> None:
        entry = self.macs.setdefault(mac, {})
        entry.pop("ip4" if ip_version(ip) == 4 else "ip6", None)
        if entry.get("ip4") is None and entry.get("ip6") is None:
            del self.macs[mac]

    def to_dict(self) -> dict:
        return {"macs": self.macs}


def ip_version(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def canonical(ip: str) -> str:
    """NetAddr::IP canon(), as Subnets.pm add_ip and del_ip apply it: IPv6 compressed, lower case."""
    return ipaddress.ip_address(ip).compressed


def _in_cidr(ip: Optional[str], cidr: str) -> bool:
    """Net::Subnet's subnet_matcher: no match for an address of the other family, or none."""
    try:
        address, network = ipaddress.ip_address(ip or ""), ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def subnet_view(subnet_id: str, section: dict) -> dict:
    """Subnets.pm sdn_subnets_config: the section with `id`, `cidr`, `zone`, `network`, `mask`."""
    zone, network, mask = subnet_id_parts(subnet_id) or ("", "", "")
    return {**section, "id": subnet_id, "cidr": f"{network}/{mask}", "zone": zone, "network": network, "mask": mask}


def pending_zone_of_vnet(cfg: SdnConfig, vnet_id: str) -> Optional[dict]:
    """The zone API2/Network/SDN/Subnets.pm hands the hooks: the pending vnet's pending zone."""
    zone_id = (cfg.pending["vnets"].get(vnet_id) or {}).get("zone")
    return cfg.pending["zones"].get(zone_id) if zone_id else None


def _plugin(cfg: SdnConfig, zone: Optional[dict]) -> Optional[str]:
    """The type of the zone's IPAM (Ipams.pm config() always has `pve`), None without one;
    SectionConfig's lookup dies for an IPAM that is gone."""
    ipam_id = (zone or {}).get("ipam")
    if not ipam_id:
        return None
    kind = (cfg.pending["ipams"].get(ipam_id) or {}).get("type")
    if kind not in ("pve", "netbox", "phpipam"):
        raise Die(f"unknown section type '{kind or ''}'\n")
    return str(kind)


# Subnets.pm and SubnetPlugin.pm: what subnet writes do to the IPAM


def subnet_written(remote: Remote, zone: Optional[dict], subnet_id: str, section: dict,
                   old: Optional[dict]) -> None:
    """SubnetPlugin.pm on_update_hook's IPAM part, after its checks: a new subnet registered
    (add_subnet; update_subnet does nothing in the pve plugin), then its gateway, unless IPv4 /32
    (point-to-point): added when new or changed (`<vnet>-gw`, an `is_gateway` entry), the old one
    removed when changed or deleted (errors of these removals are only warnings)."""
    kind = _plugin(remote.config, zone)
    if kind is None:
        return
    subnet = subnet_view(subnet_id, section)
    if old is None and kind == "pve":
        remote.ipam.add_subnet(subnet["zone"], subnet["cidr"])
    gateway, old_gateway = section.get("gateway"), (old or {}).get("gateway")
    if gateway and ip_version(gateway) == 4 and subnet["mask"] == "32":
        return
    old_subnet = subnet_view(subnet_id, old or {})
    if gateway is None and old_gateway:
        _warn_only(lambda: del_ip(remote, zone, old_subnet, old_gateway, None, None))
    if not old_gateway or (gateway and gateway != old_gateway):
        add_ip(remote, zone, subnet, gateway, f"{section.get('vnet')}-gw", None, None, is_gateway=True)
    if gateway and old_gateway and gateway != old_gateway:
        _warn_only(lambda: del_ip(remote, zone, old_subnet, old_gateway, None, None))


def subnet_deleted(remote: Remote, zone: Optional[dict], subnet_id: str, section: Optional[dict]) -> None:
    """Subnets.pm del_subnet, before the section goes: with a pve IPAM the subnet leaves the
    state file (an unknown subnet has no zone or CIDR: "zone '' doesn't exist in IPAM DB")."""
    if _plugin(remote.config, zone) != "pve":
        return
    subnet = subnet_view(subnet_id, section) if section is not None else {"zone": "", "cidr": ""}
    remote.ipam.del_subnet(subnet["zone"], subnet["cidr"])


def add_ip(remote: Remote, zone: Optional[dict], subnet: dict, ip: Optional[str], hostname: Optional[str],
           mac: Optional[str], vmid: Optional[str], *, is_gateway: bool = False) -> None:
    """Subnets.pm add_ip: the plugin's add_ip on the canonical address, then the MAC cached. The
    subnet's `dnszoneprefix` is appended to the hostname, even an empty one (so a mapping made
    through the API gets the hostname ".<prefix>"). The DNS steps are left out (not contacted)."""
    if not ip:
        return
    ip = canonical(ip)
    if subnet.get("dnszoneprefix"):
        hostname = f"{hostname or ''}.{subnet['dnszoneprefix']}"
    kind = _plugin(remote.config, zone)
    if kind is None:
        return
    if kind == "pve":
        remote.ipam.add_ip(subnet["zone"], subnet["cidr"], ip, hostname, mac, vmid, is_gateway)
    if mac:
        remote.mac_cache.add(mac, ip)


def del_ip(remote: Remote, zone: Optional[dict], subnet: dict, ip: Optional[str], hostname: Optional[str],
           mac: Optional[str]) -> None:
    """Subnets.pm del_ip: the plugin's del_ip, then the MAC's entry of that IP version uncached."""
    if not ip:
        return
    ip = canonical(ip)
    kind = _plugin(remote.config, zone)
    if kind is None:
        return
    if kind == "pve":
        remote.ipam.del_ip(subnet["zone"], subnet["cidr"], ip)
    if mac:
        remote.mac_cache.delete(mac, ip)


def _warn_only(step: Callable[[], None]) -> None:
    try:
        step()
    except ApiError:
        pass  # PVE: `eval { ... }; warn if $@;`


# Vnets.pm: the vnet IP calls' lookups


def find_ip_subnet(ip: Optional[str], subnets: dict[str, dict]) -> tuple[str, dict]:
    """Subnets.pm find_ip_subnet: the first subnet (by ID) holding the address."""
    for subnet_id in sorted(subnets):
        if _in_cidr(ip, subnets[subnet_id]["cidr"]):
            return subnet_id, subnets[subnet_id]
    raise perl_die(f"can't find any subnet for ip {ip or ''}", "Network/SDN/Subnets.pm", 115)


def subnet_from_vnet_ip(remote: Remote, vnet_id: str, ip: Optional[str]) -> tuple[Optional[dict], dict]:
    """Vnets.pm get_subnet_from_vnet_ip: the vnet's subnets from the RUNNING config, the vnet and
    its zone from the PENDING one (Zones.pm get_zone dies without a zone ID: a vnet that is not in
    the pending config), then the subnet of the address."""
    cfg = remote.config
    subnets = {subnet_id: subnet_view(subnet_id, section)
               for subnet_id, section in cfg.running_ids("subnets").items() if section.get("vnet") == vnet_id}
    zone_id = (cfg.pending["vnets"].get(vnet_id) or {}).get("zone")
    if not zone_id:
        raise Die("no sdn zone ID specified\n")
    zone = cfg.pending["zones"].get(zone_id)
    return zone, find_ip_subnet(ip, subnets)[1]


def vnet_add_ip(remote: Remote, vnet_id: str, ip: Optional[str], hostname: str, mac: Optional[str],
                vmid: Optional[str]) -> None:
    """Vnets.pm add_ip."""
    zone, subnet = subnet_from_vnet_ip(remote, vnet_id, ip)
    add_ip(remote, zone, subnet, ip, hostname, mac, vmid)


def vnet_del_ip(remote: Remote, vnet_id: str, ip: Optional[str], hostname: str, mac: Optional[str]) -> None:
    """Vnets.pm del_ip."""
    zone, subnet = subnet_from_vnet_ip(remote, vnet_id, ip)
    del_ip(remote, zone, subnet, ip, hostname, mac)


def vnet_ips_from_mac(remote: Remote, vnet_id: str, mac: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """Vnets.pm get_ips_from_mac: nothing unless the pending vnet's pending zone has an IPAM and
    DHCP; then Ipams.pm get_ips_from_mac: the MAC cache, else the plugin's answer, cached."""
    cfg = remote.config
    vnet = cfg.pending["vnets"].get(vnet_id)
    if vnet is None:
        return None, None
    zone_id = vnet.get("zone")
    if not zone_id:
        raise Die("no sdn zone ID specified\n")
    zone = cfg.pending["zones"].get(zone_id) or {}
    if not zone.get("ipam") or not zone.get("dhcp"):
        return None, None
    key = mac or ""
    if key in remote.mac_cache.macs:
        cached = remote.mac_cache.macs[key]
        return cached.get("ip4"), cached.get("ip6")
    kind = _plugin(cfg, zone)
    ip4, ip6 = remote.ipam.ips_from_mac(zone_id, mac) if kind == "pve" else (None, None)
    remote.mac_cache.macs[key] = {"ip4": ip4, "ip6": ip6}
    return ip4, ip6


# API2/Network/SDN/Ipams.pm ipamindex


def status_entries(remote: Remote) -> list[dict]:
    """The entries of `GET /cluster/sdn/ipams/pve/status` before its permission filter: only the
    zones whose RUNNING config has `ipam` = the ID `pve` and `dhcp`; each subnet of the state file
    named after the first running vnet of the zone whose running subnets hold its network address
    (get_subnet_from_vnet_ip; a vnet gone from the pending config finds none), a subnet no vnet
    holds left out; `vmid` as an integer."""
    cfg = remote.config
    running_vnets = cfg.running_ids("vnets")
    entries = []
    for zone_id in sorted(remote.ipam.zones):
        zone = cfg.running_ids("zones").get(zone_id)
        if not zone or zone.get("ipam") != "pve" or not zone.get("dhcp"):
            continue
        vnets = sorted(vnet_id for vnet_id, vnet in running_vnets.items() if vnet.get("zone") == zone_id)
        subnets = remote.ipam.zones[zone_id].get("subnets") or {}
        for cidr in sorted(subnets):
            vnet = None
            for vnet_id in vnets:
                try:
                    vnet = subnet_from_vnet_ip(remote, vnet_id, cidr.split("/")[0])[1].get("vnet")
                except ApiError:
                    continue
                if vnet:
                    break
            if not vnet:
                continue
            ips = subnets[cidr].get("ips") or {}
            for ip in sorted(ips, key=lambda text: (ip_version(text), ipaddress.ip_address(text).packed)):
                entry = {**ips[ip], "zone": zone_id, "subnet": cidr, "ip": ip, "vnet": vnet}
                if entry.get("vmid") is not None:
                    entry["vmid"] = _perl_int(entry["vmid"])
                entries.append(entry)
    return entries


def _perl_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
