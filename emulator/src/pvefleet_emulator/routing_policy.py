"""PVE 9.2's prefix lists and route maps: their config, the checks of the Rust code that keeps
them, the references pve-network checks, and what 9.2 adds to controllers and zones.

Sources (facts, not code):

- proxmox-ve-rs proxmox-ve-config/src/sdn/prefix_list.rs and route_map.rs (ve-config 0.10.1): the
  section types (`prefix-list: <id>` with an `entries` array of property strings; `route-map-entry:
  <route map>_<order>`), the API types (`pub mod api`), the validation and its texts;
  proxmox-sdn-types/src/bgp.rs and lib.rs (EvpnRouteType, SetMetricValue, SetTagValue,
  ModifyNumber, Vni) for the values of match and set actions.
- proxmox-perl-rs pve-rs/src/bindings/sdn/prefix_lists.rs and route_maps.rs (PVE::RS::SDN::PrefixLists,
  PVE::RS::SDN::RouteMaps): what list, get, create, update and delete do and their texts. perlmod
  hands a Rust error to Perl as "{err:#}\\n", so these end in a newline, without " at FILE line N.".
- pve-network (libpve-network 1.4+, PVE 9.2) src/PVE/Network/SDN/PrefixLists.pm and RouteMaps.pm
  (check_references), src/PVE/Network/SDN/Controllers/EvpnPlugin.pm and Controllers/Plugin.pm
  (the 9.2 EVPN controller's options and on_update_hook, get_default_router_asn); pve-manager 9.2.11
  www/manager6/sdn/controllers/BgpEdit.js, zones/EvpnEdit.js for the options of the other types.

The pending files hold these objects in section form: a prefix list `{"type": "prefix-list",
"entries": [...]}` (no `entries` when empty), a route map entry `{"type": "route-map-entry",
"action": ..., "set": [...], "match": [...], "call": ..., "exit-action": ...}` (no empty `set` or
`match`). The API shows them in the shape of the Rust API types (prefix_list_api, route_map_api).
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Optional

from pvefleet_emulator import sdn_rules
from pvefleet_emulator.errors import Die, perl_die
from pvefleet_emulator.formats import POLICY_ID, split_list
from pvefleet_emulator.sdn_config import SdnConfig

if TYPE_CHECKING:
    from pvefleet_emulator.remote import Remote

PREFIX_LIST = "prefix-list"  # prefix_list.rs `PrefixList::PrefixList` (serde kebab-case tag)
ROUTE_MAP_ENTRY = "route-map-entry"  # route_map.rs `RouteMap::RouteMapEntry`
ENTRY_KEYS = ("action", "prefix", "le", "ge", "seq")  # PrefixListEntry's fields, in property string order
SEQ_STEP = 5  # prefix_list.rs next_seq_number: the highest sequence number + 5, or 5


def rust_error(text: str) -> Die:
    """An anyhow error of the Rust code, as perlmod dies with it."""
    return Die(f"{text}\n")


def property_string(text: str) -> dict[str, str]:
    """The keys of a property string already checked against its schema (schema.py)."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


# Prefix lists (prefix_list.rs)


def _prefix(text: str) -> str:
    """proxmox-network-types Cidr as it prints again: the address in its usual form."""
    address, _sep, length = text.partition("/")
    return f"{ipaddress.ip_address(address)}/{int(length)}"


def entry_text(entry: dict[str, Any]) -> str:
    """A PrefixListEntry as its property string: fields in struct order, `le` and `ge` only when set."""
    return ",".join(f"{key}={entry[key]}" for key in ENTRY_KEYS if entry.get(key) is not None)


def entry_object(text: str) -> dict[str, Any]:
    """A stored entry as the API shows it (list_entries, get_entry): numbers as numbers."""
    parts = property_string(text)
    entry: dict[str, Any] = {"action": parts["action"], "prefix": parts["prefix"]}
    for key in ("le", "ge", "seq"):
        if key in parts:
            entry[key] = int(parts[key])
    return entry


def prefix_list_api(prefix_list_id: str, section: dict[str, Any]) -> dict[str, Any]:
    """PrefixList as PVE::RS lists it (`list`, `get`): type and id, `entries` only when there are any."""
    item: dict[str, Any] = {"type": PREFIX_LIST, "id": prefix_list_id}
    if section.get("entries"):
        item["entries"] = list(section["entries"])
    return item


def validate_entry(entry: dict[str, Any]) -> None:
    """PrefixListEntry::validate: prefix length <= ge <= le <= 32 or 128."""
    address, _sep, length = entry["prefix"].partition("/")
    max_mask = 32 if ipaddress.ip_address(address).version == 4 else 128
    mask = int(length)
    le, ge = entry.get("le"), entry.get("ge")
    if le is not None:
        if le > max_mask:
            raise rust_error(f"Prefix <= must not be greater than {max_mask}")
        if mask > le:
            raise rust_error(f"Prefix <= must not be less than {mask}")
        if ge is not None and ge > le:
            raise rust_error(f"Prefix >= ({ge}) must not be greater than Prefix <= ({le})")
    if ge is not None:
        if ge > max_mask:
            raise rust_error(f"Prefix >= must not be greater than {max_mask}")
        if mask > ge:
            raise rust_error(f"Prefix >= must not be less than {mask}")


def api_entry(values: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """api::PrefixListEntry from a property string or the entry parameters (numbers as numbers).
    `action` and `prefix` are not optional in the Rust type even where PVE's schema lets an update's
    `entries` leave them out; the text for a missing one is the emulator's (proxmox-schema's is not
    in the sources read)."""
    entry: dict[str, Any] = {}
    for key in ENTRY_KEYS:
        value = values.get(key)
        if value is None:
            if required and key in ("action", "prefix"):
                raise rust_error(f"{key}: property is missing and it is not optional")
            continue
        entry[key] = _prefix(str(value)) if key == "prefix" else value if key == "action" else int(value)
    return entry


class PrefixList:
    """PrefixListSection and its methods, on the entries of one prefix list (their order kept)."""

    def __init__(self, entries: Iterable[str] = ()):
        self.entries = [entry_object(text) for text in entries]

    def texts(self) -> list[str]:
        return [entry_text(entry) for entry in self.entries]

    def next_seq(self) -> int:
        return max((entry["seq"] for entry in self.entries), default=0) + SEQ_STEP if self.entries else SEQ_STEP

    def find(self, seq: int) -> Optional[dict[str, Any]]:
        return next((entry for entry in self.entries if entry["seq"] == seq), None)

    def insert_api_entry(self, entry: dict[str, Any]) -> None:
        """try_insert_api_entry: a given sequence number must be new, a missing one is generated."""
        if entry.get("seq") is not None and self.find(entry["seq"]) is not None:
            raise rust_error(f"entry with sequence number {entry['seq']} already exists!")
        self.insert_entry({**entry, "seq": entry["seq"] if entry.get("seq") is not None else self.next_seq()})

    def insert_entry(self, entry: dict[str, Any]) -> None:
        """try_insert_entry (its text has no "!")."""
        if self.find(entry["seq"]) is not None:
            raise rust_error(f"entry with sequence number {entry['seq']} already exists")
        validate_entry(entry)
        self.entries.append({key: entry[key] for key in ENTRY_KEYS if entry.get(key) is not None})

    def set_api_entries(self, entries: Iterable[dict[str, Any]]) -> None:
        """try_set_api_entries: all entries replaced, in the order given."""
        self.entries = []
        for entry in entries:
            self.insert_api_entry(entry)

    def update_entry(self, old_seq: int, changes: dict[str, Any], delete: list[str]) -> None:
        """try_update_entry: the entry is taken out, changed and inserted again (so it moves to the
        end); `delete` of `seq` gives it the next free sequence number."""
        seq = changes.get("seq")
        if seq is not None and seq != old_seq and self.find(seq) is not None:
            raise rust_error(f"entry with sequence number {seq} already exists!")
        original = self.find(old_seq)
        if original is None:
            raise rust_error(f"entry with sequence number {old_seq} does not exist!")
        self.entries.remove(original)
        entry = {**original, **{key: value for key, value in changes.items() if value is not None}}
        for key in delete:
            entry[key] = self.next_seq() if key == "seq" else None
        self.insert_entry(entry)


# Route maps (route_map.rs)

# The keys of a match and a set action and what each takes as value (route_map.rs MatchAction,
# SetAction, ExitAction with proxmox-sdn-types): None for a unit variant (no value).
MODIFY_NUMBER = "modify-number"  # lib.rs ModifyNumber: u32, or +/- i32
MATCH_VALUES = {
    "route-type": ("ead", "macip", "multicast", "es", "prefix"),  # bgp.rs EvpnRouteType
    "vni": "vni", "ip-address-prefix-list": "prefix-list", "ip6-address-prefix-list": "prefix-list",
    "ip-next-hop-prefix-list": "prefix-list", "ip6-next-hop-prefix-list": "prefix-list",
    "ip-next-hop-address": "ipv4", "ip6-next-hop-address": "ipv6", "tag": "tag", "metric": "u32",
    "local-preference": "u32", "peer": "string",
}
SET_VALUES = {
    "ip-next-hop-peer-address": None, "ip-next-hop-unchanged": None, "ip-next-hop": "ipv4",
    "ip6-next-hop-peer-address": None, "ip6-next-hop-prefer-global": None, "ip6-next-hop": "ipv6",
    "weight": "u32", "tag": "tag", "metric": "metric", "local-preference": MODIFY_NUMBER, "src": "ip",
}
EXIT_VALUES = {"on-match-next": None, "on-match-goto": "u16", "continue": "u16"}
METRIC_WORDS = ("rtt", "+rtt", "-rtt", "igp", "aigp")  # bgp.rs SetMetricValue


def _value_ok(kind: Any, value: str) -> Optional[str]:
    """The value as the Rust type prints it again, or None if it does not parse."""
    try:
        if isinstance(kind, tuple):
            return value if value in kind else None
        if kind == "string":
            return value
        if kind in ("ipv4", "ipv6", "ip"):
            address = ipaddress.ip_address(value)
            return str(address) if kind == "ip" or address.version == int(kind[-1]) else None
        if kind == "prefix-list":
            return value if POLICY_ID.fullmatch(value) else None
        if kind == "tag":
            return value if value == "untagged" else _value_ok("u32", value)
        if kind == "metric":
            return value if value in METRIC_WORDS else _value_ok(MODIFY_NUMBER, value)
        if kind == MODIFY_NUMBER and value[:1] in ("+", "-"):
            number = int(value)
            return (f"+{number}" if number >= 0 else str(number)) if -(2 ** 31) <= number < 2 ** 31 else None
        number = int(value)
        limit = {"u16": 2 ** 16, "vni": 2 ** 24, "u32": 2 ** 32, MODIFY_NUMBER: 2 ** 32}[kind]
        low = 1 if kind == "vni" else 0
        return str(number) if low <= number < limit and value.lstrip("+").isdigit() else None
    except ValueError:
        return None


def action_text(what: str, kinds: dict[str, Any], text: str) -> str:
    """A match, set or exit action (already checked against its schema) as the Rust enum stores
    it: `key=...[,value=...]`. Its checks follow the Rust types; their texts are the emulator's
    (serde's are not in the sources read)."""
    parts = property_string(text)
    key, value = parts["key"], parts.get("value")
    kind = kinds[key]
    if kind is None:
        if value is not None:
            raise rust_error(f"{what} '{key}' takes no value")
        return f"key={key}"
    if value is None:
        raise rust_error(f"{what} '{key}' needs a value")
    printed = _value_ok(kind, value)
    if printed is None:
        raise rust_error(f"{what} '{key}': invalid value '{value}'")
    return f"key={key},value={printed}"


def route_map_entry_id(route_map_id: str, order: int) -> str:
    """RouteMapEntryId's Display: `<route map>_<order>`."""
    return f"{route_map_id}_{order}"


def split_entry_id(entry_id: str) -> tuple[str, int]:
    """RouteMapEntryId::from_str: split at the last `_`."""
    route_map_id, _sep, order = entry_id.rpartition("_")
    return route_map_id, int(order)


def route_map_api(entry_id: str, section: dict[str, Any]) -> dict[str, Any]:
    """api::RouteMapEntry as PVE::RS lists it: `set` and `match` always, `call` and `exit-action`
    when set."""
    route_map_id, order = split_entry_id(entry_id)
    item: dict[str, Any] = {"route-map-id": route_map_id, "order": order, "action": section.get("action"),
                            "set": list(section.get("set") or []), "match": list(section.get("match") or [])}
    for key in ("call", "exit-action"):
        if section.get(key) is not None:
            item[key] = section[key]
    return item


def route_map_section(values: dict[str, Any], old: Optional[dict[str, Any]] = None,
                      delete: Iterable[str] = ()) -> dict[str, Any]:
    """A route map entry after create (old None) or update (route_maps.rs `update`: each given
    property replaces the old one, then `delete` empties or drops its properties)."""
    section: dict[str, Any] = dict(old or {"type": ROUTE_MAP_ENTRY})
    if values.get("action") is not None:
        section["action"] = values["action"]
    for key, what, kinds in (("set", "set action", SET_VALUES), ("match", "match action", MATCH_VALUES)):
        if values.get(key) is not None:
            section[key] = [action_text(what, kinds, text) for text in values[key]]
    if values.get("exit-action") is not None:
        section["exit-action"] = action_text("exit action", EXIT_VALUES, values["exit-action"])
    if values.get("call") is not None:
        section["call"] = values["call"]
    for key in delete:
        section.pop(key, None)
    return {key: value for key, value in section.items() if value != []}


def route_map_ids(sections: dict[str, dict]) -> list[str]:
    """list_route_maps: each route map that has an entry, once (a HashSet in Rust; sorted here)."""
    return sorted({split_entry_id(entry_id)[0] for entry_id in sections})


def entries_of(sections: dict[str, dict], route_map_id: str) -> dict[str, dict]:
    """list_route_map: the entries of one route map."""
    return {entry_id: section for entry_id, section in sections.items()
            if split_entry_id(entry_id)[0] == route_map_id}


# The views of a GET: pve-network Network/SDN.pm pending_config, on the API objects


def _encoded(value: Any) -> Any:
    """encode_value, with arrays compared by their items: an assumption, as 9.2's encode_value
    was not read (1.3.0's compares `entries`, `set` and `match` as Perl references, which differ
    always); emulator/README.md."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def pending_view(running: dict[str, dict], pending: dict[str, dict]) -> dict[str, dict]:
    """Network/SDN.pm pending_config: running keys on top, `state` new/changed/deleted, what
    changed (or "deleted") under `pending`; `type` (and `vnet`) always on top."""
    merged: dict[str, dict[str, Any]] = {}
    for object_id in sorted(running):
        before, after = running[object_id], pending.get(object_id) or {}
        item = merged.setdefault(object_id, {})
        for key in sorted(before):
            item[key] = before[key]
            if not after:
                item["state"] = "deleted"
            elif after.get(key) is None:
                item.setdefault("pending", {})[key] = "deleted"
                item["state"] = "changed"
            elif _encoded(before[key]) != _encoded(after[key]):
                item["state"] = "changed"
        if item.get("state"):
            item.setdefault("pending", {})
    for object_id in sorted(pending):
        before, after = running.get(object_id) or {}, pending[object_id]
        item = merged.setdefault(object_id, {})
        for key in sorted(after):
            value, old = after[key], before.get(key)
            if key in ("type", "vnet"):
                item[key] = value
            elif old is None or _encoded(value) != _encoded(old):
                item.setdefault("pending", {})[key] = value
            if not before:
                item["state"] = "new"
            elif old is None:
                item["state"] = "changed"
        if item.get("state"):
            item.setdefault("pending", {})
    return merged


# References (pve-network Network/SDN/PrefixLists.pm and RouteMaps.pm check_references)


def check_prefix_list_references(cfg: SdnConfig, prefix_list_id: str) -> None:
    """A prefix list a fabric's `route_filter` or a route map entry's `*-prefix-list` match names
    cannot go (the pending config of both)."""
    where = "Network/SDN/PrefixLists.pm"
    for fabric_id, fabric in sorted((cfg.pending.get("fabrics") or {}).items()):
        if fabric.get("route_filter") == prefix_list_id:
            raise perl_die(f"prefix list {prefix_list_id} is still referenced by fabric {fabric_id}", where)
    for entry_id, section in sorted(cfg.pending["route-maps"].items()):
        for text in section.get("match") or []:
            parts = property_string(text)
            if parts.get("key", "").endswith("-prefix-list") and parts.get("value") == prefix_list_id:
                route_map_id, order = split_entry_id(entry_id)
                raise perl_die(f"prefix list {prefix_list_id} is still referenced by route map entry "
                               f"{route_map_id} #{order}", where)


def check_route_map_references(cfg: SdnConfig, route_map_id: str) -> None:
    """A route map whose last entry goes while a controller's route-map-in or -out names it."""
    for controller_id, controller in sorted(cfg.pending["controllers"].items()):
        if route_map_id in (controller.get("route-map-in"), controller.get("route-map-out")):
            raise perl_die(f"route map {route_map_id} still referenced by controller {controller_id}",
                           "Network/SDN/RouteMaps.pm")


# What 9.2 adds to controllers and zones

# The options 9.2 adds per type (each plugin's options()): EVPN controllers Controllers/EvpnPlugin.pm;
# BGP controllers route-map-in/-out as pve-manager's BgpEdit.js sends them (BgpPlugin.pm of 9.2 not
# read); EVPN zones secondary-controllers as zones/EvpnEdit.js sends it (only the EVPN zone has it).
PVE92_OPTIONS: dict[str, dict[str, set[str]]] = {
    "controllers": {
        "evpn": {"route-map-in", "route-map-out", "nodes", "peer-group-name", "ebgp-multihop", "bgp-mode"},
        "bgp": {"route-map-in", "route-map-out"},
    },
    "zones": {"evpn": {"secondary-controllers"}},
}


def with_pve92_options(kind: str, type_name: str, options: tuple[set[str], set[str]]) -> tuple[set[str], set[str]]:
    allowed, required = options
    return allowed | PVE92_OPTIONS.get(kind, {}).get(type_name, set()), required


def _check_route_maps(cfg: SdnConfig, section: dict[str, Any], where: str) -> None:
    """The route maps a controller names must have an entry in the pending route-maps.cfg."""
    for key in ("route-map-in", "route-map-out"):
        route_map_id = section.get(key)
        if route_map_id and not entries_of(cfg.pending["route-maps"], route_map_id):
            raise perl_die(f"route map {route_map_id} does not exist!", where)


def _find_bgp_controller(controllers: dict[str, dict], node: str) -> Optional[dict]:
    """EvpnPlugin.pm find_bgp_controller: the node's BGP controller (Perl's hash order; sorted here)."""
    return next((c for _cid, c in sorted(controllers.items()) if c.get("type") == "bgp" and c.get("node") == node), None)


def default_router_asn(controllers: dict[str, dict], node: str) -> Any:
    """Controllers/Plugin.pm get_default_router_asn: the checks only (it dies where the EVPN
    controllers on a node disagree)."""
    where = "Network/SDN/Controllers/Plugin.pm"
    bgp = _find_bgp_controller(controllers, node)
    auto_asn = evpn_asn = None
    ibgp_asn = bgp.get("asn") if bgp and not bgp.get("ebgp") else None
    for _cid, controller in sorted(controllers.items()):
        if controller.get("type") != "evpn":
            continue
        if controller.get("nodes") is not None and node not in split_list(str(controller["nodes"])):
            continue
        if evpn_asn is not None and str(evpn_asn) != str(controller.get("asn")):
            raise perl_die("all EVPN controllers on a node must have the same ASN configured", where)
        evpn_asn = controller.get("asn")
        mode = controller.get("bgp-mode") or "auto"
        if mode == "auto" and bgp:
            auto_asn = bgp.get("asn")
        if mode == "external":
            continue
        if ibgp_asn is not None and str(ibgp_asn) != str(controller.get("asn")):
            raise perl_die("cannot have two different ASNs for iBGP sessions configured", where)
        ibgp_asn = controller.get("asn")
    for asn in (auto_asn, evpn_asn, ibgp_asn):
        if asn is not None:
            return asn
    return bgp.get("asn") if bgp else None


def check_controller_pve92(remote: Remote, cfg: SdnConfig, controller_id: str, section: dict[str, Any],
                           old: Optional[dict[str, Any]]) -> None:
    """The controller hooks of 9.2, inside the lock. EVPN (Controllers/EvpnPlugin.pm on_update_hook):
    one default router ASN on each of its nodes, a peer group name of its own (there may be
    several EVPN controllers now), its route maps, exactly one of peers and fabric. BGP: 9.1's rule,
    then its route maps (an assumption: 9.2's BgpPlugin.pm was not read). Others: as in 9.1."""
    if section.get("type") != "evpn":
        sdn_rules.check_controller(cfg, controller_id, section)
        if section.get("type") == "bgp":
            _check_route_maps(cfg, section, "Network/SDN/Controllers/BgpPlugin.pm")
        return
    where = "Network/SDN/Controllers/EvpnPlugin.pm"
    controllers = {**cfg.pending["controllers"], controller_id: section}
    nodes = split_list(str(section["nodes"])) if section.get("nodes") is not None else remote.nodes
    for node in nodes:
        default_router_asn(controllers, node)
    own = section.get("peer-group-name") or "VTEP"
    for other_id, other in sorted(cfg.pending["controllers"].items()):
        if other_id != controller_id and other.get("type") == "evpn" and (other.get("peer-group-name") or "VTEP") == own:
            raise perl_die(f"cannot have two controllers with same peer-group-name configured ({own})", where)
    _check_route_maps(cfg, section, where)
    if bool(section.get("peers")) == bool(section.get("fabric")):
        raise perl_die("must have exactly one of peers / fabric defined", where)
