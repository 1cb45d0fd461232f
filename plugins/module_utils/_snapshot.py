# Private to pvefleet.sdn: not a public API.
"""How the object tasks read a remote's pending config: one GET per object, or one snapshot.

`LiveReader` reads each object when it is needed (the object modules do this: another client
may write between two tasks). `Snapshot` serves a transaction that holds the remote's lock:
nobody else can write meanwhile (pve-sdn-api.md §3.2), so the listings read once after locking
stay true, and an object absent from them is known to be absent without asking. That turns a
read per object (and PVE's 500 for a missing one, which also closes the connection, §2.4)
into one round of listing GETs per remote.

An object this transaction wrote is served as the write left it, and the digest of a file it
wrote is dropped: it changed under the snapshot. Sending no digest is safe only because the
lock is held.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import (
    KINDS,
    RemoteObject,
    ResourceKind,
    listing,
    read,
)


class LiveReader:
    # Whether check-mode plans are laid over what it serves (see Snapshot.simulate).
    simulates = False
    # Called just before a write (run_object_task's on_write).
    on_write = None

    def __init__(self, client):
        self.client = client

    async def read(self, kind: ResourceKind, object_id: str, parent: Optional[str] = None) -> Optional[RemoteObject]:
        return await read(self.client, kind, object_id, parent)

    def wrote(self, kind: ResourceKind, object_id: str, parent: Optional[str], model) -> None:
        """Nothing is cached, so nothing goes stale."""


class Snapshot(LiveReader):
    """The pending config files of the kinds a transaction touches, as one round of listings."""

    def __init__(self, client, simulate: bool = False):
        super().__init__(client)
        self.simulates = simulate
        # (kind name, parent) -> object ID -> the listing's item, as PVE sent it
        self._items: dict[tuple[str, Optional[str]], dict[str, dict]] = {}
        # (kind name, parent, object ID) -> the object as this run's write left it; None: deleted
        self._written: dict[tuple[str, Optional[str], str], Optional[RemoteObject]] = {}
        self._stale_digest: set[str] = set()

    @classmethod
    async def load(cls, client, kinds: Iterable[str], parents: Optional[Mapping[str, Iterable[str]]] = None, *,
                   simulate: bool = False) -> Snapshot:
        """Listings of `kinds`; a kind under a parent (subnets of a vnet, nodes of a fabric) is
        listed per parent, for the parents in `parents[kind]` that exist.

        `simulate`: a transaction's preflight, in check mode and without the lock, plans every
        change against this snapshot; each planned change is laid over it as if made, so that a
        later object sees the earlier ones (a vnet its new zone), and a reference that resolves
        nowhere is an error rather than "an earlier task may create it"."""
        snapshot = cls(client, simulate)
        wanted = {KINDS[name] for name in kinds}
        wanted |= {KINDS[kind.parent] for kind in wanted if kind.parent}  # which parents exist
        top_level = sorted((kind for kind in wanted if kind.parent is None), key=lambda kind: kind.name)
        listings = await asyncio.gather(*(listing(client, kind, kind.collection, kind.list_params) for kind in top_level))
        for kind, items in zip(top_level, listings):
            snapshot._items[(kind.name, None)] = kind.by_id(items)
        children = [(kind, parent) for kind in sorted(wanted - set(top_level), key=lambda kind: kind.name)
                    for parent in sorted(set((parents or {}).get(kind.name, ())) & set(snapshot._items[(str(kind.parent), None)]))]
        child_lists = await asyncio.gather(*(listing(client, kind, kind.collection_path(parent)) for kind, parent in children))
        for (kind, parent), items in zip(children, child_lists):
            snapshot._items[(kind.name, parent)] = kind.by_id(items)
        return snapshot

    def listing(self, kind_name: str) -> Optional[list[dict]]:
        """A top-level kind's items as its listing gave them (the pending config files, what an apply
        commits; none of this run's writes), or None if the snapshot did not list that kind."""
        items = self._items.get((kind_name, None))
        return None if items is None else list(items.values())

    async def read(self, kind: ResourceKind, object_id: str, parent: Optional[str] = None) -> Optional[RemoteObject]:
        written = (kind.name, parent if kind.parent else None, object_id)
        if written in self._written:
            return self._written[written]
        listed = self._items.get((kind.name, parent if kind.parent else None))
        if listed is None:
            return await super().read(kind, object_id, parent)
        item = listed.get(object_id)
        if item is None:
            return None
        current = RemoteObject(model=kind.from_wire(item), digest=item.get("digest"))
        if kind.name in self._stale_digest:
            current = dataclasses.replace(current, digest=None)
        return current

    def wrote(self, kind: ResourceKind, object_id: str, parent: Optional[str], model) -> None:
        """`model`: the object as the write left it (None: deleted)."""
        key = (kind.name, parent if kind.parent else None, object_id)
        self._written[key] = None if model is None else RemoteObject(model=model)
        self._stale_digest.add(kind.name)  # one file per kind: every digest of it changed
        for child in KINDS.values():
            # A vnet or fabric we created has no subnets or nodes yet.
            if child.parent == kind.name and object_id not in self._items.get((kind.name, None), {object_id: None}):
                self._items.setdefault((child.name, object_id), {})


def snapshot_scope(objects: Iterable[Any]) -> tuple[set[str], dict[str, set[str]]]:
    """The kinds a list of desired objects (with .kind and .options) touches, and the parents of
    the ones listed per parent (the vnets of its subnets, the fabrics of its fabric nodes), for
    Snapshot.load. A vnet is checked against its zone, a subnet against its vnet, a fabric node
    against its fabric, so those kinds are read too."""
    kinds: set[str] = set()
    parents: dict[str, set[str]] = {}
    for obj in objects:
        kind = KINDS[obj.kind]
        kinds.update(name for name in (kind.name, kind.referenced, kind.parent) if name)
        if kind.parent and obj.options.get(kind.parent):
            parents.setdefault(kind.name, set()).add(str(obj.options[kind.parent]))
    return kinds, parents
