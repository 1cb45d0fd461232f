"""The built-in `pve` IPAM's database (/etc/pve/priv/ipam.db), reduced to subnets and gateways.

Subnet writes in a zone with an IPAM register or remove the subnet and its gateway at once,
outside the pending model, so a rollback does not undo them (pve-sdn-api.md §6.3). Only the
`pve` IPAM keeps entries here; external IPAMs (netbox, phpipam) are not contacted.
"""
from __future__ import annotations

from typing import Any, Optional


class IpamDb:
    def __init__(self, data: Optional[dict] = None):
        # zone -> cidr -> {"vnet": ..., "gateway": ip or None}
        self.zones: dict[str, dict[str, dict[str, Any]]] = (data or {}).get("zones", {})

    def add_subnet(self, zone: str, cidr: str, vnet: str, gateway: Optional[str]) -> None:
        self.zones.setdefault(zone, {})[cidr] = {"vnet": vnet, "gateway": gateway}

    def remove_subnet(self, zone: str, cidr: str) -> None:
        self.zones.get(zone, {}).pop(cidr, None)
        if zone in self.zones and not self.zones[zone]:
            del self.zones[zone]

    def status(self) -> list[dict]:
        """What `GET /cluster/sdn/ipams/pve/status` lists: each subnet, and its gateway."""
        entries = []
        for zone, subnets in sorted(self.zones.items()):
            for cidr, info in sorted(subnets.items()):
                entries.append({"zone": zone, "vnet": info["vnet"], "subnet": cidr})
                if info.get("gateway"):
                    entries.append({"zone": zone, "vnet": info["vnet"], "subnet": cidr, "ip": info["gateway"],
                                    "gateway": 1})
        return entries

    def to_dict(self) -> dict:
        return {"zones": self.zones}
