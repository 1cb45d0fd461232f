"""The handlers of PVE 9.2's /cluster/sdn/prefix-lists and /cluster/sdn/route-maps (routing_policy.py
has the config and its checks).

pve-network (1.4+) src/PVE/API2/Network/SDN/PrefixLists.pm, PrefixLists/PrefixList.pm,
PrefixLists/PrefixListEntry.pm, RouteMaps.pm, RouteMaps/RouteMapEntries.pm, RouteMaps/RouteMap.pm and
RouteMaps/RouteMapEntry.pm: every write runs in lock_sdn_config (lock.py `locked`) with its own error
prefix, checks `digest` (also on create and delete, where the schema does not list it: these
endpoints leave additionalProperties unset) and writes the whole file again. Reads of one object
always read the pending file. A 9.1 or 8 remote has none of these paths (routes.py `pve92_only`).
"""
from __future__ import annotations

from typing import Any

from pvefleet_emulator.errors import Die, ParamError
from pvefleet_emulator.lock import locked, perl_true
from pvefleet_emulator.routes import Call, route
from pvefleet_emulator.routing_policy import (
    PREFIX_LIST,
    PrefixList,
    api_entry,
    check_prefix_list_references,
    check_route_map_references,
    entries_of,
    entry_object,
    pending_view,
    prefix_list_api,
    property_string,
    route_map_api,
    route_map_entry_id,
    route_map_ids,
    route_map_section,
    rust_error,
)
from pvefleet_emulator.sdn_api import DIGEST_MISMATCH, READ_PRIVS
from pvefleet_emulator.sdn_config import SdnConfig

PREFIX_LISTS, ROUTE_MAPS = "prefix-lists", "route-maps"
_ROUTE_MAP_CHANGES = ("action", "set", "match", "exit-action", "call")


def _check_digest(cfg: SdnConfig, kind: str, params: dict) -> None:
    """PVE::Tools::assert_if_modified against the config's digest (a SHA-256 of the file)."""
    if params.get("digest") and params["digest"] != cfg.digest(kind):
        raise Die(DIGEST_MISMATCH)


def _store(cfg: SdnConfig, kind: str, object_id: str, section: dict[str, Any]) -> None:
    """The object into the pending file (written sorted by ID)."""
    cfg.pending[kind][object_id] = section
    cfg.pending[kind] = dict(sorted(cfg.pending[kind].items()))


def _views(call: Call, kind: str, api: Any, only: Any = None) -> tuple[dict[str, dict], Any]:
    """The objects a list shows and its digest: with `pending` the merged view (Network/SDN.pm
    pending_config) and the pending file's digest, with `running` the running copy and no digest,
    else the pending file and its digest."""
    cfg, params = call.remote.config, call.params

    def objects(sections: dict[str, dict]) -> dict[str, dict]:
        chosen = sections if only is None else only(sections)
        return {object_id: api(object_id, section) for object_id, section in chosen.items()}

    if perl_true(params.get("pending")):
        return pending_view(objects(cfg.running_ids(kind)), objects(cfg.pending[kind])), cfg.digest(kind)
    if perl_true(params.get("running")):
        return objects(cfg.running_ids(kind)), None
    return objects(cfg.pending[kind]), cfg.digest(kind)


# Prefix lists


def _prefix_list_section(prefix_list: PrefixList) -> dict[str, Any]:
    texts = prefix_list.texts()
    return {"type": PREFIX_LIST, **({"entries": texts} if texts else {})}


def _api_entries(params: dict) -> list[dict]:
    """The `entries` parameter as api::PrefixListEntry values (perlmod's deserialization)."""
    return [api_entry(property_string(text)) for text in params.get("entries") or []]


def _seq(text: Any) -> int:
    return int(text) if str(text).isdigit() else -1  # not a u32: no entry has it


@route("GET", "/cluster/sdn/prefix-lists", pve92_only=True)
async def prefix_list_index(call: Call) -> list[dict]:
    """PrefixLists.pm list_prefix_lists: sorted by ID, only those with SDN.Audit or SDN.Allocate
    on /sdn/prefix-lists/<id>; each as `{id}` (and `state` with pending), all of it and the
    digest with `verbose`."""
    objects, digest = _views(call, PREFIX_LISTS, prefix_list_api)
    pending, verbose = perl_true(call.params.get("pending")), perl_true(call.params.get("verbose"))
    items = []
    for prefix_list_id, item in sorted(objects.items()):
        if not call.unrestricted and not call.may(f"/sdn/prefix-lists/{prefix_list_id}", READ_PRIVS):
            continue
        if verbose:
            items.append({**item, "digest": digest} if digest else item)
        else:
            items.append({"id": prefix_list_id, **({"state": item["state"]} if pending and item.get("state") else {})})
    return items


@route("GET", "/cluster/sdn/prefix-lists/{id}", pve92_only=True)
async def prefix_list_read(call: Call) -> dict:
    prefix_list_id = call.params["id"]
    section = call.remote.config.pending[PREFIX_LISTS].get(prefix_list_id)
    if section is None:
        raise ParamError({"id": f"{prefix_list_id} doesn't exist"})
    return prefix_list_api(prefix_list_id, section)


@route("POST", "/cluster/sdn/prefix-lists", pve92_only=True)
async def prefix_list_create(call: Call) -> None:
    remote, params = call.remote, call.params
    prefix_list_id = params["id"]

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, PREFIX_LISTS, params)
        entries = _api_entries(params)
        if prefix_list_id in cfg.pending[PREFIX_LISTS]:
            raise rust_error(f"prefix list already exists in configuration: {prefix_list_id}")
        prefix_list = PrefixList()
        prefix_list.set_api_entries(entries)
        _store(cfg, PREFIX_LISTS, prefix_list_id, _prefix_list_section(prefix_list))

    return await locked(remote, "creating prefix list failed", params.get("lock-token"), work)


@route("PUT", "/cluster/sdn/prefix-lists/{id}", pve92_only=True)
async def prefix_list_update(call: Call) -> None:
    """prefix_lists.rs `update` and PrefixListSection::try_update: `entries` replaces every entry,
    then `delete=entries` empties the list."""
    remote, params = call.remote, call.params
    prefix_list_id = params["id"]

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, PREFIX_LISTS, params)
        entries = _api_entries(params) if "entries" in params else None
        section = cfg.pending[PREFIX_LISTS].get(prefix_list_id)
        if section is None:
            raise rust_error(f"Could not find prefix list with id: {prefix_list_id}")
        prefix_list = PrefixList(section.get("entries") or [])
        if entries is not None:
            prefix_list.set_api_entries(entries)
        if "entries" in (params.get("delete") or []):
            prefix_list.entries = []
        _store(cfg, PREFIX_LISTS, prefix_list_id, _prefix_list_section(prefix_list))

    return await locked(remote, "updating prefix list failed", params.get("lock-token"), work)


@route("DELETE", "/cluster/sdn/prefix-lists/{id}", pve92_only=True)
async def prefix_list_delete(call: Call) -> None:
    """PrefixList.pm delete_prefix_list: the references first (PrefixLists.pm check_references),
    then the list."""
    remote, params = call.remote, call.params
    prefix_list_id = params["id"]

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, PREFIX_LISTS, params)
        check_prefix_list_references(cfg, prefix_list_id)
        if prefix_list_id not in cfg.pending[PREFIX_LISTS]:
            raise rust_error(f"could not find prefix list with id: {prefix_list_id}")
        del cfg.pending[PREFIX_LISTS][prefix_list_id]

    return await locked(remote, "deleting prefix list failed", params.get("lock-token"), work)


def _existing_prefix_list(cfg: SdnConfig, prefix_list_id: str) -> PrefixList:
    section = cfg.pending[PREFIX_LISTS].get(prefix_list_id)
    if section is None:
        raise rust_error(f"could not find prefix list with id {prefix_list_id}")
    return PrefixList(section.get("entries") or [])


@route("GET", "/cluster/sdn/prefix-lists/{id}/entries", pve92_only=True)
async def prefix_list_entries(call: Call) -> list[dict]:
    """prefix_lists.rs list_entries: the entries in their order (an unknown list: its error, no prefix)."""
    prefix_list_id = call.params["id"]
    section = call.remote.config.pending[PREFIX_LISTS].get(prefix_list_id)
    if section is None:
        raise rust_error(f"could not find prefix list with id: {prefix_list_id}")
    return [entry_object(text) for text in section.get("entries") or []]


@route("GET", "/cluster/sdn/prefix-lists/{id}/entries/{url_seq}", pve92_only=True)
async def prefix_list_entry_read(call: Call) -> dict:
    prefix_list_id, seq = call.params["id"], call.params["url_seq"]
    section = call.remote.config.pending[PREFIX_LISTS].get(prefix_list_id)
    entry = PrefixList(section.get("entries") or []).find(_seq(seq)) if section is not None else None
    if entry is None:
        raise ParamError({"id": f"entry {seq} in prefix list {prefix_list_id} doesn't exist"})
    return entry


@route("POST", "/cluster/sdn/prefix-lists/{id}/entries", pve92_only=True)
async def prefix_list_entry_create(call: Call) -> None:
    """prefix_lists.rs create_entry: a `seq` given must be new; without one it is the highest + 5."""
    remote, params = call.remote, call.params

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, PREFIX_LISTS, params)
        entry = api_entry(params)
        prefix_list = _existing_prefix_list(cfg, params["id"])
        prefix_list.insert_api_entry(entry)
        _store(cfg, PREFIX_LISTS, params["id"], _prefix_list_section(prefix_list))

    return await locked(remote, "creating prefix list entry failed", params.get("lock-token"), work)


@route("PUT", "/cluster/sdn/prefix-lists/{id}/entries/{url_seq}", pve92_only=True)
async def prefix_list_entry_update(call: Call) -> None:
    """prefix_lists.rs update_entry: the sent keys change the entry, `delete` drops `le` or `ge`
    (`seq`: the next free one); the entry moves to the end of the list."""
    remote, params = call.remote, call.params

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, PREFIX_LISTS, params)
        changes = api_entry(params, required=False)
        prefix_list = _existing_prefix_list(cfg, params["id"])
        prefix_list.update_entry(_seq(params["url_seq"]), changes, list(params.get("delete") or []))
        _store(cfg, PREFIX_LISTS, params["id"], _prefix_list_section(prefix_list))

    return await locked(remote, "updating prefix list entry failed", params.get("lock-token"), work)


@route("DELETE", "/cluster/sdn/prefix-lists/{id}/entries/{url_seq}", pve92_only=True)
async def prefix_list_entry_delete(call: Call) -> None:
    """prefix_lists.rs delete_entry (the last entry too: no reference check)."""
    remote, params = call.remote, call.params

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, PREFIX_LISTS, params)
        section = cfg.pending[PREFIX_LISTS].get(params["id"])
        prefix_list = PrefixList(section.get("entries") or []) if section is not None else None
        entry = prefix_list.find(_seq(params["url_seq"])) if prefix_list is not None else None
        if prefix_list is None or entry is None:
            raise rust_error(f"could not find prefix list entry with seq {params['url_seq']}")
        prefix_list.entries.remove(entry)
        _store(cfg, PREFIX_LISTS, params["id"], _prefix_list_section(prefix_list))

    return await locked(remote, "deleting prefix list entry failed", params.get("lock-token"), work)


# Route maps


@route("GET", "/cluster/sdn/route-maps", pve92_only=True)
async def route_map_index(call: Call) -> list[dict]:
    """RouteMaps.pm list_route_maps: each route map with an entry, as `{id}`, only those with
    SDN.Audit or SDN.Allocate on /sdn/route-maps/<id>; `running` reads the running copy."""
    cfg = call.remote.config
    sections = cfg.running_ids(ROUTE_MAPS) if perl_true(call.params.get("running")) else cfg.pending[ROUTE_MAPS]
    return [{"id": route_map_id} for route_map_id in route_map_ids(sections)
            if call.unrestricted or call.may(f"/sdn/route-maps/{route_map_id}", READ_PRIVS)]


@route("GET", "/cluster/sdn/route-maps/entries", pve92_only=True)
async def route_map_entries_index(call: Call) -> list[dict]:
    """RouteMapEntries.pm list_route_map_entries: every entry, sorted by section ID
    (`<route map>_<order>`, as text), with the digest unless `running`. The filter checks
    /sdn/route-maps/<section ID> (sic: the loop variable is the section ID)."""
    objects, digest = _views(call, ROUTE_MAPS, route_map_api)
    return [{**item, "digest": digest} if digest else item for entry_id, item in sorted(objects.items())
            if call.unrestricted or call.may(f"/sdn/route-maps/{entry_id}", READ_PRIVS)]


@route("GET", "/cluster/sdn/route-maps/entries/{route-map-id}", pve92_only=True)
async def route_map_read(call: Call) -> list[dict]:
    """RouteMap.pm list_route_map_entries: the entries of one route map (none: an empty list)."""
    route_map_id = call.params["route-map-id"]
    objects, digest = _views(call, ROUTE_MAPS, route_map_api, lambda sections: entries_of(sections, route_map_id))
    return [{**item, "digest": digest} if digest else item for _entry_id, item in sorted(objects.items())]


@route("POST", "/cluster/sdn/route-maps/entries", pve92_only=True)
async def route_map_entry_create(call: Call) -> None:
    remote, params = call.remote, call.params
    entry_id = route_map_entry_id(params["route-map-id"], params["order"])

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, ROUTE_MAPS, params)
        section = route_map_section(params)
        if entry_id in cfg.pending[ROUTE_MAPS]:
            raise rust_error(f"route map entry already exists in configuration: {entry_id}")
        _store(cfg, ROUTE_MAPS, entry_id, section)

    return await locked(remote, "creating route map entry failed", params.get("lock-token"), work)


@route("GET", "/cluster/sdn/route-maps/entries/{route-map-id}/entry/{order}", pve92_only=True)
async def route_map_entry_read(call: Call) -> dict:
    entry_id = route_map_entry_id(call.params["route-map-id"], call.params["order"])
    section = call.remote.config.pending[ROUTE_MAPS].get(entry_id)
    if section is None:
        raise ParamError({"route-map-id": f"{entry_id} doesn't exist"})
    return route_map_api(entry_id, section)


@route("PUT", "/cluster/sdn/route-maps/entries/{route-map-id}/entry/{order}", pve92_only=True)
async def route_map_entry_update(call: Call) -> None:
    """route_maps.rs `update`: nothing to change and nothing to delete is no error (not even for an
    entry that does not exist); each sent property replaces the old one, `delete` then drops
    `set`, `match`, `call` or `exit-action`."""
    remote, params = call.remote, call.params
    entry_id = route_map_entry_id(params["route-map-id"], params["order"])

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, ROUTE_MAPS, params)
        changes = {key: params[key] for key in _ROUTE_MAP_CHANGES if key in params}
        delete = list(params.get("delete") or [])
        route_map_section(changes)  # the updater's deserialization comes first
        if not changes and not delete:
            return
        old = cfg.pending[ROUTE_MAPS].get(entry_id)
        if old is None:
            raise rust_error(f"Could not find route map with id: {entry_id}")
        _store(cfg, ROUTE_MAPS, entry_id, route_map_section(changes, old, delete))

    return await locked(remote, "updating route map entry failed", params.get("lock-token"), work)


@route("DELETE", "/cluster/sdn/route-maps/entries/{route-map-id}/entry/{order}", pve92_only=True)
async def route_map_entry_delete(call: Call) -> None:
    """RouteMapEntry.pm delete_route_map_entry: when the route map's last entry goes, the route map
    goes, unless a controller names it (RouteMaps.pm check_references)."""
    remote, params = call.remote, call.params
    route_map_id = params["route-map-id"]
    entry_id = route_map_entry_id(route_map_id, params["order"])

    def work() -> None:
        cfg = remote.config
        _check_digest(cfg, ROUTE_MAPS, params)
        if entry_id not in cfg.pending[ROUTE_MAPS]:
            raise rust_error(f"could not find route map entry with id: {entry_id}")
        rest = {key: value for key, value in cfg.pending[ROUTE_MAPS].items() if key != entry_id}
        if not entries_of(rest, route_map_id):
            check_route_map_references(cfg, route_map_id)
        cfg.pending[ROUTE_MAPS] = rest

    return await locked(remote, "deleting route map entry failed", params.get("lock-token"), work)
