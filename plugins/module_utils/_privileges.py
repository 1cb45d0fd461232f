# Private to pvefleet.sdn: not a public API.
"""What a transaction must be allowed on a remote, and what its token is allowed there.

PVE checks privileges on paths (pve-sdn-api.md §9, the schema's `permissions` in
pve-sdn-apidoc.json). The token's own effective privileges at a path come from
`GET /access/permissions?path=...`, which every user and token may ask about itself (privilege
separation and propagation already applied). So a missing privilege can be named, with its path,
before any lock is taken, instead of a 403 from PVE in the middle of the transaction.
"""
from __future__ import annotations

import asyncio
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, PveFleetError

ALLOCATE = "SDN.Allocate"
# Lock, release, rollback and apply (the schema's checks on /cluster/sdn/lock, /rollback, PUT /cluster/sdn).
# Reads need SDN.Audit or SDN.Allocate, so a change token needs nothing more; following the reload
# needs nothing (the token owns its task, and pve-network's node zone status is not filtered).
TRANSACTION = ("/sdn", ALLOCATE)


class MissingPrivileges(PveFleetError):
    """The token lacks privileges the transaction needs on a remote."""

    def __init__(self, remote: str, missing: list[tuple[str, str]]):
        self.remote, self.missing = remote, list(missing)
        super().__init__(f"{remote}: the API token lacks " + ", ".join(f"{priv} on {path}" for path, priv in missing)
                         + " (see the collection's guide for a least-privilege role)")

    def to_failure(self) -> dict:
        return {**super().to_failure(), "missing": [{"path": path, "privilege": priv} for path, priv in self.missing]}


def for_change(kind: str, action: str, object_id: str, *, zone: Optional[str] = None,
               parent: Optional[str] = None) -> list[tuple[str, str]]:
    """The privileges one planned write needs, each on the path PVE checks it on (the schema's check
    of that write); none for no write. `zone`: a vnet's zone, or a subnet's vnet's zone; `parent`: a
    subnet's vnet, a fabric node's fabric."""
    if action == "none":
        return []
    if kind == "controller":
        return [("/sdn/controllers", ALLOCATE)]
    if kind in ("ipam", "dns"):
        # Ipams.pm and Dns.pm check every write on the collection's path.
        return [(f"/sdn/{kind}s" if kind == "ipam" else "/sdn/dns", ALLOCATE)]
    if kind == "zone":
        return [("/sdn/zones", ALLOCATE) if action == "create" else (f"/sdn/zones/{object_id}", ALLOCATE)]
    if kind == "vnet":
        return [(f"/sdn/zones/{zone}", ALLOCATE) if action == "create" else (f"/sdn/zones/{zone}/{object_id}", ALLOCATE)]
    if kind == "subnet":
        return [(f"/sdn/zones/{zone}/{parent}", ALLOCATE)]
    if kind == "fabric":
        return [("/sdn/fabrics", ALLOCATE) if action == "create" else (f"/sdn/fabrics/{object_id}", ALLOCATE)]
    if kind == "fabric_node":
        # The schema's `and`: the fabric, and the node whose network it changes.
        return [(f"/sdn/fabrics/{parent}", ALLOCATE), (f"/nodes/{object_id}", "Sys.Modify")]
    if kind == "prefix_list":
        return [("/sdn/prefix-lists", ALLOCATE) if action == "create" else (f"/sdn/prefix-lists/{object_id}", ALLOCATE)]
    if kind == "route_map":
        # Entries are created on /sdn/route-maps, changed and removed on /sdn/route-maps/<id> (9.2's
        # schema); an update may do either.
        create, change = ("/sdn/route-maps", ALLOCATE), (f"/sdn/route-maps/{object_id}", ALLOCATE)
        return {"create": [create], "delete": [change]}.get(action, [create, change])
    raise ValueError(f"unknown kind {kind!r}")


async def missing(client, needed: set[tuple[str, str]]) -> Optional[list[tuple[str, str]]]:
    """The (path, privilege) pairs of `needed` that this client's token lacks, sorted; None when the
    remote cannot tell (no such endpoint): PVE itself will say, at the write."""
    paths = sorted({path for path, _priv in needed})
    try:
        answers = await asyncio.gather(*(client.get("/access/permissions", params={"path": path}) for path in paths))
    except ApiError as exc:
        if exc.status in (403, 501):
            return None
        raise
    held = {path: set((answer or {}).get(path) or {}) for path, answer in zip(paths, answers)}
    return sorted((path, priv) for path, priv in needed if priv not in held[path])
