# Private to pvefleet.sdn: not a public API.
"""Read, plan and apply one SDN object: the state machine every object module shares.

    current = await read(client, ZONE, "evpn1")            # the pending config file (+ digest)
    the_plan = plan(ZONE, parse_zone(options), current)    # create / update / delete / none
    result = await apply(client, the_plan, lock_token, check_mode)

Idempotency compares with the pending config files as they are (the default GET,
pve-sdn-api.md §5.2): that is what our writes change, and it carries the digest an update
sends back for optimistic concurrency (§5.3). Check mode and the before/after diff are
written here once, for zones, vnets, subnets and controllers alike.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Protocol

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._compare import (
    changes,
    check_same_type,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._controllers import (
    controller_from_wire,
    parse_controller,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._fabrics import (
    check_node_against_fabric,
    fabric_from_wire,
    fabric_node_from_wire,
    parse_fabric,
    parse_fabric_node,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._plugins import (
    SECRET_CHANGED,
    dns_from_wire,
    ipam_from_wire,
    parse_dns,
    parse_ipam,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._routing import (
    RouteMapEntry,
    parse_prefix_list,
    parse_route_map,
    prefix_list_from_wire,
    route_map_from_wire,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._subnets import (
    check_subnet_against_vnet,
    parse_subnet,
    subnet_from_wire,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._vnets import (
    check_vnet_against_zone,
    parse_vnet,
    vnet_from_wire,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    REMOTE,
    SdnObject,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import (
    parse_zone,
    zone_from_wire,
)

Action = Literal["create", "update", "delete", "none"]
View = Literal["pending-file", "running", "pending"]

# GET parameters of each view (pve-sdn-objects.md §1.8): the pending files as they are (with
# digest), the last applied config, or running merged with what an apply would change.
_VIEW_PARAMS: Mapping[str, Optional[Mapping[str, Any]]] = {
    "pending-file": None,
    "running": {"running": 1},
    "pending": {"pending": 1},
}
# A key removed in pending shows as this literal string in the pending view (§1.8).
_DELETED_MARK = "deleted"


class SdnClient(Protocol):
    """What this module needs of PveClient (`_client.py`)."""

    async def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        ...

    async def post(self, path: str, data: Optional[Mapping[str, Any]] = None) -> Any:
        ...

    async def put(self, path: str, data: Optional[Mapping[str, Any]] = None) -> Any:
        ...

    async def delete(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        ...


@dataclass(frozen=True)
class ResourceKind:
    """One kind of SDN object: where it lives in the API and which models describe it."""

    name: str
    # The list/create path; `{parent}` stands for the vnet of a subnet, the fabric of a node.
    collection: str
    parse: Callable[..., SdnObject]
    from_wire: Callable[[Mapping[str, Any]], SdnObject]
    # The rules an object of this kind must meet against the object it refers to (a vnet's
    # zone, a subnet's vnet), and that object's kind name.
    check_referenced: Optional[Callable[[Any, Any], None]] = None
    referenced: Optional[str] = None
    # The kind whose item path holds this kind's collection (a subnet's vnet).
    parent: Optional[str] = None
    # Read one object from its kind's listing instead of its own path: PVE wants SDN.Allocate to GET
    # one zone or controller, but only SDN.Audit to list them (pve-sdn-apidoc.json), so an audit
    # token can read them this way.
    read_by_listing: bool = False
    # The key that names an item in PVE's listings and bodies (a fabric's `id`), and the module
    # option that names the object (a fabric node's `node`); both default to the kind's name.
    wire_id: str = ""
    id_option: str = ""
    # What a listing needs to show whole objects (a prefix list's entries need `verbose`).
    list_params: Optional[Mapping[str, Any]] = field(default=None, hash=False, compare=False)
    # The option that picks the model, which a create must name (an update takes it from the
    # remote).
    type_option: Optional[str] = None
    # A fabric node takes its fabric's protocol: until the fabric is read, its own options are
    # checked against this type (the one with every option).
    offline_type: Optional[str] = None
    # Objects stored as several of PVE's objects (a route map, as its entries): how a listing
    # groups into objects, and how a plan is written.
    group_listing: Optional[Callable[[list], dict[str, dict]]] = None
    write: Optional[Callable[..., Awaitable[None]]] = None
    # Options every present object must give, even one that exists (a route map's entries are
    # the whole of it: leaving them out is no way to keep them).
    always_required: tuple[tuple[str, str], ...] = ()
    # The first Proxmox VE release that has this kind (a remote that lacks it answers 501), and
    # that of each option added later.
    since: Optional[tuple[int, int]] = None
    options_since: Mapping[str, tuple[int, int]] = field(default_factory=dict, hash=False, compare=False)
    # Not part of SDN's pending configuration (IPAM and DNS plugins, pve-sdn-api.md §6.5): a write
    # takes effect at once and PVE's rollback does not undo it, so a transaction undoes it itself
    # (steps.undo_immediate). Such a kind has one view only: its GET takes no running/pending.
    immediate: bool = False

    def release_needed(self, options: Mapping[str, Any]) -> Optional[tuple[tuple[int, int], str]]:
        """The newest release the given options need, and what needs it ("the option route_map_in needs")."""
        needs = [(release, f"the option {name} needs") for name, release in self.options_since.items()
                 if options.get(name) is not None]
        if self.since is not None:
            needs.append((self.since, f"{self.describe(None)}s need"))
        return max(needs, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire_id", self.wire_id or self.name)
        object.__setattr__(self, "id_option", self.id_option or self.name)

    def collection_path(self, parent: Optional[str] = None) -> str:
        if self.parent is not None:
            if not parent:
                raise ValueError(f"a {self.name} path needs its {self.parent}")
            return self.collection.format(parent=_segment(parent))
        return self.collection

    def item_path(self, object_id: str, parent: Optional[str] = None) -> str:
        return f"{self.collection_path(parent)}/{_segment(object_id)}"

    def describe(self, object_id: Optional[str], parent: Optional[str] = None) -> str:
        """How messages name one object: "subnet 'z1-10.0.0.0-24' of vnet 'v1'"."""
        label = self.name.replace("_", " ")
        text = f"{label} {object_id!r}" if object_id else label
        return f"{text} of {self.parent} {parent!r}" if self.parent and parent else text

    def by_id(self, items: Optional[list]) -> dict[str, dict]:
        """A listing's items by object ID."""
        if self.group_listing is not None:
            return self.group_listing(items or [])
        # A subnet is listed with `subnet` or only `id` depending on the view.
        return {str(item.get(self.wire_id) or item.get("id")): item for item in items or []}


async def _write_route_map(client: SdnClient, the_plan: Plan, token: Mapping[str, str]) -> None:
    """A route map's plan, entry by entry: PVE stores and writes each entry on its own."""
    before = {entry.order: entry for entry in _route_map_entries(the_plan.before)}
    declared = getattr(the_plan.model, "entries", None) or ()  # a RouteMap, or None when deleted
    after = {entry.order: entry for entry in declared}
    for order in sorted(set(before) | set(after)):
        old, new = before.get(order), after.get(order)
        if new is None:
            await client.delete(_entry_path(str(the_plan.object_id), order), params=token or None)
        elif old is None:
            await client.post(ROUTE_MAP.collection, data={**new.to_wire(), **token})
        else:
            change_set = changes(new, old, purge=True)
            if change_set:
                body = update_body(change_set.updates, change_set.deletes, as_list=new.DELETE_AS_LIST)
                await client.put(_entry_path(str(the_plan.object_id), order), data={**body, **token})


def _entry_path(route_map: str, order: int) -> str:
    return f"{ROUTE_MAP.collection}/{_segment(route_map)}/entry/{order}"


def _route_map_entries(view: Optional[Mapping[str, Any]]) -> list[RouteMapEntry]:
    if not view:
        return []
    return list(parse_route_map(view).entries or ())


def _group_route_map_entries(items: list) -> dict[str, dict]:
    grouped: dict[str, dict] = {}
    for item in items:
        name = str(item.get("route-map-id"))
        grouped.setdefault(name, {"route-map-id": name, "entries": []})["entries"].append(item)
    return grouped


_PVE_9_2 = (9, 2)
ZONE = ResourceKind("zone", "/cluster/sdn/zones", parse_zone, zone_from_wire, read_by_listing=True,
                    type_option="type", options_since={"secondary_controllers": _PVE_9_2})
VNET = ResourceKind("vnet", "/cluster/sdn/vnets", parse_vnet, vnet_from_wire,
                    check_referenced=check_vnet_against_zone, referenced="zone")
SUBNET = ResourceKind("subnet", "/cluster/sdn/vnets/{parent}/subnets", parse_subnet,
                      subnet_from_wire, check_referenced=check_subnet_against_vnet,
                      referenced="vnet", parent="vnet")
CONTROLLER = ResourceKind("controller", "/cluster/sdn/controllers", parse_controller,
                          controller_from_wire, read_by_listing=True, type_option="type",
                          options_since={name: _PVE_9_2 for name in (
                              "route_map_in", "route_map_out", "nodes", "peer_group_name", "bgp_mode")})
FABRIC = ResourceKind("fabric", "/cluster/sdn/fabrics/fabric", parse_fabric, fabric_from_wire, wire_id="id",
                      type_option="protocol", since=(9, 0))
FABRIC_NODE = ResourceKind("fabric_node", "/cluster/sdn/fabrics/node/{parent}", parse_fabric_node,
                           fabric_node_from_wire, check_referenced=check_node_against_fabric,
                           referenced="fabric", parent="fabric", wire_id="node_id", id_option="node",
                           type_option="protocol", offline_type="openfabric", since=(9, 0))
PREFIX_LIST = ResourceKind("prefix_list", "/cluster/sdn/prefix-lists", parse_prefix_list, prefix_list_from_wire,
                           wire_id="id", list_params={"verbose": 1}, since=_PVE_9_2)
ROUTE_MAP = ResourceKind("route_map", "/cluster/sdn/route-maps/entries", parse_route_map, route_map_from_wire,
                         read_by_listing=True, wire_id="route-map-id", group_listing=_group_route_map_entries,
                         write=_write_route_map, since=_PVE_9_2,
                         always_required=(("entries", "a route map needs at least one entry (PVE has no empty "
                                                      "route map); use state=absent to remove it"),))
# GET one IPAM or DNS plugin needs SDN.Allocate, listing them SDN.Audit (Ipams.pm, Dns.pm).
IPAM = ResourceKind("ipam", "/cluster/sdn/ipams", parse_ipam, ipam_from_wire, read_by_listing=True,
                    type_option="type", immediate=True)
DNS = ResourceKind("dns", "/cluster/sdn/dns", parse_dns, dns_from_wire, read_by_listing=True, immediate=True)
KINDS: Mapping[str, ResourceKind] = {kind.name: kind for kind in (
    ZONE, VNET, SUBNET, CONTROLLER, FABRIC, FABRIC_NODE, PREFIX_LIST, ROUTE_MAP, IPAM, DNS)}


@dataclass(frozen=True)
class RemoteObject:
    """An object as one view of the remote shows it."""

    model: SdnObject
    # The digest of the whole config file; only the default view has one (§5.3).
    digest: Optional[str] = None
    # Pending view only: "new", "changed" or "deleted" (None: unchanged since the last apply),
    # and PVE's `pending` member (key -> new value, or "deleted").
    state: Optional[str] = None
    pending: Optional[Mapping[str, Any]] = None


async def listing(client: SdnClient, kind: ResourceKind, path: str, params: Optional[Mapping[str, Any]] = None) -> list:
    """One of the kind's listings; a remote too old to have the kind is bad input, said before any lock."""
    try:
        return await client.get(path, params=params) or []
    except ApiError as error:
        if error.status == 501 and kind.since:
            raise InvalidInput({f"{kind.name}s": f"{kind.describe(None)}s need Proxmox VE "
                                                 f"{'.'.join(map(str, kind.since or ()))} or newer; "
                                                 f"{error.remote or 'the remote'} answered {error.message}"}) from None
        raise


async def read(client: SdnClient, kind: ResourceKind, object_id: str,
               parent: Optional[str] = None, view: View = "pending-file") -> Optional[RemoteObject]:
    """The object, or None when the remote does not have it.

    View "pending-file" is what idempotency compares with; "running" and "pending" serve
    info. In the "pending" view the model is the object as it will be after an apply (running
    values with the pending ones laid over), except that a deleted object keeps its running
    values and has state "deleted".
    """
    if view not in _VIEW_PARAMS:
        raise ValueError(f"unknown view {view!r}; use one of {', '.join(_VIEW_PARAMS)}")
    if kind.immediate:
        view = "pending-file"  # the config file is all there is
    if kind.read_by_listing:
        items = await listing(client, kind, kind.collection_path(parent), _VIEW_PARAMS[view])
        data = kind.by_id(items).get(object_id)
    else:
        try:
            data = await client.get(kind.item_path(object_id, parent), params=_VIEW_PARAMS[view])
        except ApiError as error:
            if is_not_found(error):
                return None
            if error.status == 501 and kind.since:
                await listing(client, kind, kind.collection_path(parent))  # says which release is needed
            raise
    if not data:
        return None
    pending = data.get("pending") if view == "pending" else None
    return RemoteObject(
        model=kind.from_wire(_with_pending(data) if view == "pending" else data),
        digest=data.get("digest"),
        state=data.get("state"),
        pending=pending,
    )


def is_not_found(error: ApiError) -> bool:
    """PVE answers a read of an unknown ID with a 500 "... does not exist" (pve-sdn-api.md §6),
    a prefix list's with a 400 "<id> doesn't exist".

    A subnet ID that belongs to another vnet is a 400 `vnet: wrong vnet` (§6.3): not on this
    vnet, so absent here as well.
    """
    status = getattr(error, "status", None)
    message = str(getattr(error, "message", "") or error)
    if status == 500 and "does not exist" in message:
        return True
    param_errors = getattr(error, "errors", None) or {}
    if status == 400 and "wrong vnet" in str(param_errors.get("vnet", "")):
        return True
    # The Rust-backed kinds of 9.2: a 400 `id: <id> doesn't exist` (a prefix list).
    return status == 400 and any("doesn't exist" in str(text) for text in param_errors.values())


def _with_pending(data: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: value for key, value in data.items() if key not in ("pending", "state")}
    for key, value in (data.get("pending") or {}).items():
        if value == _DELETED_MARK:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def complete_from_current(options: Mapping[str, Any], current: Optional[RemoteObject]) -> dict[str, Any]:
    """Options for an update, with what the user may leave out taken from the remote.

    A model requires what a create needs (a vlan zone's `bridge`, a vnet's `zone`, the `type`
    that picks the model). For an object that exists, leaving those out means "keep them", so
    they are filled in from the current object; unset (None) options are dropped. A different
    `type` is kept as given, for plan() to refuse with its own message.
    """
    given = {name: value for name, value in options.items() if value is not None}
    if current is None:
        return given
    model = current.model
    given.setdefault(model.TYPE_FIELD, model.type_value)
    if given[model.TYPE_FIELD] != model.type_value:
        return given
    for name, field_info in type(model).model_fields.items():
        if field_info.is_required() and name not in given:
            given[name] = getattr(model, name)
    return given


@dataclass(frozen=True)
class Plan:
    """What apply will do to one object, and the diff to show for it."""

    kind: ResourceKind
    action: Action
    object_id: Optional[str] = None
    parent: Optional[str] = None
    # Create: the whole body; update: the keys to set (PVE's form, wire keys).
    changes: Mapping[str, Any] = field(default_factory=dict)
    delete_keys: tuple[str, ...] = ()
    # The object before and after, as module options; None where it does not exist.
    before: Optional[Mapping[str, Any]] = None
    after: Optional[Mapping[str, Any]] = None
    # The digest read with the current object; an update sends it back (§5.3).
    digest: Optional[str] = None
    # The object as it will be in the pending config once the plan is carried out (None: absent).
    model: Optional[SdnObject] = None
    # The object as the remote has it now (None: absent): what undoes an immediate kind's write.
    previous: Optional[SdnObject] = None

    @property
    def changed(self) -> bool:
        return self.action != "none"

    def result(self) -> dict[str, Any]:
        """The module result for this plan (no digest, no lock token)."""
        result: dict[str, Any] = {
            "changed": self.changed,
            "action": self.action,
            "kind": self.kind.name,
            "id": self.object_id,
            "diff": {"before": dict(self.before or {}), "after": dict(self.after or {})},
        }
        if self.kind.parent:
            result[self.kind.parent] = self.parent
        return result


def plan(kind: ResourceKind, desired: Optional[SdnObject], current: Optional[RemoteObject], *,
         purge: bool = False, referenced: Optional[SdnObject] = None,
         object_id: Optional[str] = None, parent: Optional[str] = None) -> Plan:
    """Compare; nothing is sent. `desired` None means the object should be absent.

    `purge` removes options the user did not give (default: left alone). `referenced` is the
    object the desired one refers to, as the pending config has it (a vnet's zone, a subnet's
    vnet); when given, the kind's cross-object rules are checked. `object_id` and `parent` only
    label a plan where neither object exists.
    """
    if desired is not None:
        object_id, parent = desired.object_id, desired.parent_id
    elif current is not None:
        object_id, parent = current.model.object_id, current.model.parent_id

    if desired is None:
        if current is None:
            return Plan(kind, "none", object_id, parent)
        return Plan(kind, "delete", object_id, parent, before=current.model.user_view(), previous=current.model)

    if current is None:
        _check_whole(kind, desired, referenced)
        return Plan(kind, "create", object_id, parent, changes=desired.to_wire(),
                    after=desired.user_view(), model=desired)

    if current.model.object_id != object_id:
        raise ValueError(f"compared {kind.describe(object_id)} with {current.model.object_id!r}")
    check_same_type(desired, current.model)
    change_set = changes(desired, current.model, purge=purge)
    before = current.model.user_view()
    if not change_set:
        return Plan(kind, "none", object_id, parent, before=before, after=before,
                    digest=current.digest, model=current.model)
    after = _merged(desired, current.model, change_set.updates, change_set.deletes)
    _check_whole(kind, after, referenced)
    after_view = after.user_view()
    for name in getattr(after, "SECRETS", ()):
        if after.wire_name(name) in change_set.updates:
            after_view[name] = SECRET_CHANGED  # the diff says a secret changes, never what it was or is
    return Plan(kind, "update", object_id, parent, changes=change_set.updates,
                delete_keys=change_set.deletes, before=before, after=after_view,
                digest=current.digest, model=after, previous=current.model)


def _merged(desired: SdnObject, current: SdnObject, updates: Mapping[str, Any],
            deletes: tuple[str, ...]) -> SdnObject:
    """The object as it will be after the update: current, with the changes laid over."""
    values = current.specified()
    changed = {type(current).field_for(key) for key in updates}
    values.update({name: getattr(desired, name) for name in changed})
    for key in deletes:
        values.pop(type(current).field_for(key), None)
    # Field rules ran on both sides already; the merge is judged by _check_whole.
    return type(current).model_validate(values, context=REMOTE)


def _check_whole(kind: ResourceKind, model: SdnObject, referenced: Optional[SdnObject]) -> None:
    errors = model.completeness_errors()
    if errors:
        raise InvalidInput(errors)
    if referenced is not None and kind.check_referenced is not None:
        kind.check_referenced(model, referenced)


async def apply(client: SdnClient, the_plan: Plan, lock_token: Optional[str] = None,
                check_mode: bool = False) -> dict[str, Any]:
    """Carry out a plan; in check mode, or when nothing changes, send nothing.

    Every write carries `lock-token` when one is given (the SDN lock, pve-sdn-api.md §3).
    Updates send the digest read with the current object, so a concurrent edit of the same
    config file fails instead of being overwritten.
    """
    result = the_plan.result()
    if check_mode or not the_plan.changed:
        return result
    kind, token = the_plan.kind, ({"lock-token": lock_token} if lock_token else {})
    if kind.write is not None:
        await kind.write(client, the_plan, token)
        return result
    if the_plan.action == "create":
        await client.post(kind.collection_path(the_plan.parent), data={**the_plan.changes, **token})
        return result
    path = kind.item_path(str(the_plan.object_id), the_plan.parent)
    if the_plan.action == "delete":
        await client.delete(path, params=token or None)
        return result
    as_list = the_plan.model is not None and the_plan.model.DELETE_AS_LIST
    body = update_body(the_plan.changes, the_plan.delete_keys, as_list=as_list, digest=the_plan.digest)
    await client.put(path, data={**body, **token})
    return result


def update_body(updates: Mapping[str, Any], deletes: tuple[str, ...], *, as_list: bool,
                digest: Optional[str] = None) -> dict[str, Any]:
    """A PUT's body: the keys to set, the keys to delete (one comma string, or a list where PVE's
    schema makes `delete` an array), and the digest read with the object."""
    body: dict[str, Any] = dict(updates)
    if deletes:
        body["delete"] = list(deletes) if as_list else ",".join(deletes)
    if digest:
        body["digest"] = digest
    return body


def _segment(value: str) -> str:
    # IDs are validated; quoting keeps an odd one from changing the path. `:` stays for IPv6
    # subnet IDs such as `zone-fd00::-64`.
    return urllib.parse.quote(value, safe=":")
