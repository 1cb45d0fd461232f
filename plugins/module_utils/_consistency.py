# Private to pvefleet.sdn: not a public API.
"""The consistency check of a transaction: its desired change against the whole fleet of the
transaction, after every remote's preflight and before any lock.

Each remote of the transaction is judged as the apply will leave it: its zones, vnets and
controllers in the pending view (what is applied, with the changes not applied yet laid over, since
the apply commits those too; an object pending removal is gone), then this transaction's planned
results laid over that (a create or update: the object as planned; a delete: gone). Then the rules
run over every remote at once. A rule reports only what involves an object this transaction
creates or updates (or, for a vnet, its zone; for an EVPN zone, its controller): a clash the
fleet had before is not this change's to refuse.

The rules, each with what it stands for (the guide, fleet-view.rst, says the same):

* `vni` - one VNI (a vnet's tag in a vxlan or evpn zone) for vnets of different names: a VNI is one
  layer-2 segment wherever VXLAN carries it; in one EVPN domain VNIs must be unique.
* `vrf_vni` - one VRF VNI (an evpn zone's `vrf_vxlan`) for zones of different names, or equal to a
  vnet's VNI: a VRF VNI is one IP-VRF, and L3 and L2 VNIs share one VNI space.
* `asn` - the evpn zones of one VRF VNI (one zone stretched over remotes, whose controllers peer)
  with controllers of different ASNs, unless every one of those controllers has `bgp_mode`
  external: iBGP needs one ASN.
* `route_target` - an evpn zone importing (`rt_import`) the route target of a zone of another VRF
  VNI: PVE's FRR config gives a zone's VRF the route target ASN:VRF-VNI, so the import takes in that
  zone's routes.
* `vnet` - one vnet name with different tags, or in zones of different types, on different remotes.

Everything here is O(number of objects): dicts keyed by value, never a comparison of each pair.
The merges are _fleet_view's (merge_vnets, merge_evpn_zones).
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import wire_key

__all__ = ["CHECKED_KINDS", "RULES", "Clash", "Inconsistent", "allowed", "as_applied", "check", "find_clashes", "laid_over", "needed",
           "not_allowed", "read_remote", "refusal"]

RULES = ("vni", "vrf_vni", "asn", "route_target", "vnet")
# kind -> (the key of its listing in a fleet entry, the listing's path); the three GETs per remote.
CHECKED_KINDS = {"zone": ("zones", "/cluster/sdn/zones"), "vnet": ("vnets", "/cluster/sdn/vnets"),
                 "controller": ("controllers", "/cluster/sdn/controllers")}
VNI_ZONES = ("vxlan", "evpn")
# What a message lists of one clash: this many variants, each with this many remotes.
SHOWN_VARIANTS = 5
SHOWN_REMOTES = 3
_DELETED = "deleted"


@dataclass
class Clash:
    rule: str
    value: Any
    message: str
    remotes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"consistency ({self.rule} {self.value})"

    def as_dict(self) -> dict:
        return {"rule": self.rule, "value": self.value, "remotes": list(self.remotes), "message": self.message}


class Inconsistent(InvalidInput):
    """The change clashes with what the fleet has: bad input, found before any lock. `errors`: one
    entry per rule and value; `clashes`: each Clash."""

    def __init__(self, clashes: Iterable[Clash]):
        self.clashes = list(clashes)
        errors: dict[str, str] = {}
        for clash in self.clashes:
            errors[clash.key] = f"{errors[clash.key]}; also {clash.message}" if clash.key in errors else clash.message
        super().__init__(errors)


# The options


def allowed(allow: Optional[Iterable[Any]]) -> list[tuple[str, Optional[str]]]:
    """The `allow` option as (rule, value) pairs; a value of None accepts every clash of the rule.
    Checked before anything is sent."""
    pairs: list[tuple[str, Optional[str]]] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(allow or []):
        where = f"allow[{index}]"
        if not isinstance(item, Mapping):
            errors[where] = f"must be a dict with `rule` and `value` (got {item!r})"
            continue
        unknown = sorted(set(item) - {"rule", "value"})
        if unknown:
            errors[where] = f"unknown key(s) {', '.join(map(str, unknown))}; use rule and value"
            continue
        if item.get("rule") not in RULES:
            errors[f"{where}.rule"] = f"must be one of {', '.join(RULES)} (got {item.get('rule')!r})"
            continue
        value = item.get("value")
        pairs.append((str(item["rule"]), None if value is None else _text(value)))
    if errors:
        raise InvalidInput(errors)
    return pairs


def needed(remotes: Iterable[Any]) -> bool:
    """Whether the transaction creates or updates a zone, vnet or controller anywhere (`remotes`
    with their preflight's results): otherwise nothing it does can clash, and nothing is read."""
    return any(result.get("kind") in CHECKED_KINDS and result.get("action") in ("create", "update")
               for remote in remotes for result in remote.results)


# Reading one remote


async def read_remote(client, snapshot=None) -> dict[str, list]:
    """The three listings. Those the preflight's `snapshot` (_snapshot.py) holds already are taken
    from it: its default view is the pending config files, the objects as an apply leaves them,
    which is what `as_applied` makes of the pending view. The others are read at once, in the
    pending view (sdn_info's and sdn_fleet_info's view)."""
    known = {kind: snapshot.listing(kind) if snapshot is not None else None for kind in CHECKED_KINDS}
    missing = [kind for kind, items in known.items() if items is None]
    answers = await asyncio.gather(*(client.get(CHECKED_KINDS[kind][1], params={"pending": 1}) for kind in missing))
    known.update({kind: list(answer or []) for kind, answer in zip(missing, answers)})
    return {CHECKED_KINDS[kind][0]: list(items or []) for kind, items in known.items()}


def as_applied(item: Mapping[str, Any]) -> Optional[dict]:
    """An item of the pending view as the apply leaves it: its pending values laid over the running
    ones (a key pending removal gone); None for an object pending removal."""
    if item.get("state") == _DELETED:
        return None
    values = {key: value for key, value in item.items() if key not in ("pending", "state", "digest")}
    for key, value in (item.get("pending") or {}).items():
        if value == _DELETED:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def laid_over(listings: Mapping[str, list], results: Iterable[Mapping[str, Any]]) -> tuple[dict, set[tuple[str, str]]]:
    """One remote as this transaction leaves it: a fleet entry (`ok`, `zones`, `vnets`,
    `controllers`, PVE's keys, as _fleet_view reads them) and the (kind, ID) pairs it creates or
    updates. `results`: the preflight's planned results (kind, id, action, diff.after as options)."""
    objects: dict[str, dict[str, dict]] = {}
    for kind, (name, _path) in CHECKED_KINDS.items():
        items = (as_applied(item) for item in listings.get(name) or [] if isinstance(item, Mapping))
        objects[kind] = {str(item.get(kind)): item for item in items if item is not None}
    touched: set[tuple[str, str]] = set()
    for result in results:
        kind, action = str(result.get("kind")), result.get("action")
        if kind not in CHECKED_KINDS:
            continue
        object_id = str(result.get("id"))
        if action == "delete":
            objects[kind].pop(object_id, None)
        elif action in ("create", "update"):
            after = (result.get("diff") or {}).get("after") or {}
            objects[kind][object_id] = {**{wire_key(str(key)): value for key, value in after.items()}, kind: object_id}
            touched.add((kind, object_id))
    entry: dict[str, Any] = {"ok": True}
    entry.update({name: list(objects[kind].values()) for kind, (name, _path) in CHECKED_KINDS.items()})
    return entry, touched


# The rules


def find_clashes(fleet: Mapping[str, dict], touched: Mapping[str, set[tuple[str, str]]]) -> list[Clash]:
    """Every clash of the rules that involves an object in `touched` (host -> (kind, ID) pairs).
    `fleet`: host -> entry as laid_over gives it."""
    # _fleet_view builds on _transaction, which calls this module: imported when first needed.
    from ansible_collections.pvefleet.sdn.plugins.module_utils._fleet_view import merge_evpn_zones, merge_vnets

    fleet = {host: entry for host, entry in fleet.items() if entry.get("ok")}
    zones = {host: {str(z.get("zone")): z for z in entry.get("zones") or []} for host, entry in fleet.items()}
    controllers = {host: {str(c.get("controller")): c for c in entry.get("controllers") or []}
                   for host, entry in fleet.items()}

    def changed(host: str, *objects: tuple[str, Optional[str]]) -> bool:
        mine = touched.get(host) or set()
        return any((kind, str(name)) in mine for kind, name in objects if name)

    def vnet_changed(carrier: dict) -> bool:
        return changed(carrier["remote"], ("vnet", carrier["vnet"]), ("zone", carrier["zone"]))

    def zone_changed(carrier: dict) -> bool:
        return changed(carrier["remote"], ("zone", carrier["zone"]), ("controller", carrier.get("controller")))

    vnet_groups = merge_vnets(fleet, node_status=False)
    by_vrf: dict[int, list[dict]] = {}
    for group in merge_evpn_zones(fleet, node_status=False):
        if group["vrf_vxlan"] is not None:
            by_vrf.setdefault(group["vrf_vxlan"], []).extend({**c, "vrf": group["vrf_vxlan"]} for c in group["carriers"])
    by_vni = {group["vni"]: group["carriers"] for group in vnet_groups}
    clashes: list[Clash] = []

    # vni: one VNI, vnets of different names.
    for group in vnet_groups:
        carriers = group["carriers"]
        if len(group["vnets"]) > 1 and any(vnet_changed(c) for c in carriers):
            clashes.append(_clash(
                "vni", group["vni"], f"VNI {group['vni']} is the tag of ",
                ((f"vnet {c['vnet']}", c["remote"]) for c in carriers),
                "a VNI is one layer-2 segment, so in one EVPN or VXLAN domain each VNI must name one vnet",
                changed=[c["remote"] for c in carriers if vnet_changed(c)]))

    for vrf in sorted(by_vrf):
        carriers = by_vrf[vrf]
        # vrf_vni: one VRF VNI, zones of different names; or a VRF VNI that is also a vnet's VNI.
        if len({c["zone"] for c in carriers}) > 1 and any(zone_changed(c) for c in carriers):
            clashes.append(_clash(
                "vrf_vni", vrf, f"VRF VNI {vrf} is the vrf_vxlan of ",
                ((f"zone {c['zone']}", c["remote"]) for c in carriers),
                "a VRF VNI is one IP-VRF, so in one EVPN domain each VRF VNI must belong to one zone",
                changed=[c["remote"] for c in carriers if zone_changed(c)]))
        vnets = by_vni.get(vrf) or []
        if vnets and (any(zone_changed(c) for c in carriers) or any(vnet_changed(v) for v in vnets)):
            clashes.append(_clash(
                "vrf_vni", vrf, f"VNI {vrf} is ",
                [*((f"the VRF VNI of zone {c['zone']}", c["remote"]) for c in carriers),
                 *((f"the tag of vnet {v['vnet']}", v["remote"]) for v in vnets)],
                "EVPN's L3 VNIs (vrf_vxlan) and L2 VNIs (vnet tags) share one VNI space, so they must differ",
                changed=[c["remote"] for c in carriers if zone_changed(c)] + [v["remote"] for v in vnets if vnet_changed(v)]))
        # asn: the controllers of one stretched zone peer; iBGP needs one ASN.
        asns = {c["asn"] for c in carriers if c["asn"] is not None}
        if len(asns) > 1 and any(zone_changed(c) for c in carriers):
            modes = {str((controllers[c["remote"]].get(str(c.get("controller"))) or {}).get("bgp-mode") or "auto")
                     for c in carriers if c["asn"] is not None}
            if modes != {"external"}:
                clashes.append(_clash(
                    "asn", vrf, f"the EVPN zone of VRF VNI {vrf} has ",
                    ((f"ASN {c['asn']} (controller {c.get('controller')})", c["remote"]) for c in carriers
                     if c["asn"] is not None),
                    "its remotes' controllers peer, and iBGP needs one ASN; for eBGP between them set "
                    "bgp_mode: external on every one of those controllers",
                    changed=[c["remote"] for c in carriers if zone_changed(c)]))

    # route_target: a zone imports the route target (ASN:VRF-VNI) of a zone of another VRF VNI.
    owners: dict[str, list[dict]] = {}
    importers: dict[str, list[dict]] = {}
    for carriers in by_vrf.values():
        for carrier in carriers:
            if carrier["asn"] is not None:
                owners.setdefault(f"{carrier['asn']}:{carrier['vrf']}", []).append(carrier)
            for target in carrier["rt_import"]:
                importers.setdefault(target, []).append(carrier)
    for target in sorted(set(owners) & set(importers)):
        own = owners[target]
        vrf = own[0]["vrf"]
        taking = [c for c in importers[target] if c["vrf"] != vrf]
        if taking and (any(zone_changed(c) for c in taking) or any(zone_changed(c) for c in own)):
            clashes.append(_clash(
                "route_target", target, f"route target {target} is ",
                [*((f"zone {c['zone']}'s own (ASN {c['asn']}, VRF VNI {vrf})", c["remote"]) for c in own),
                 *((f"imported by zone {c['zone']} (VRF VNI {c['vrf']})", c["remote"]) for c in taking)],
                "PVE's FRR config gives an EVPN zone's VRF the route target ASN:VRF-VNI, so importing it takes in "
                "the other zone's routes",
                changed=[c["remote"] for c in taking + own if zone_changed(c)]))

    # vnet: one vnet name, different tags or zone types.
    meanings: dict[str, list[tuple[tuple, str, dict]]] = {}
    for host, entry in sorted(fleet.items()):
        for item in entry.get("vnets") or []:
            name = str(item.get("vnet"))
            zone_type = (zones[host].get(str(item.get("zone"))) or {}).get("type")
            carrier = {"remote": host, "vnet": name, "zone": str(item.get("zone"))}
            meanings.setdefault(name, []).append(((_int(item.get("tag")), zone_type), host, carrier))
    for name in sorted(meanings):
        found = meanings[name]
        if len({meaning for meaning, _host, _c in found}) > 1 and any(vnet_changed(c) for _m, _h, c in found):
            clashes.append(_clash(
                "vnet", name, f"vnet {name} is ",
                ((_meaning(meaning), host) for meaning, host, _c in found),
                "one vnet name should be one network across the fleet",
                changed=[host for _m, host, c in found if vnet_changed(c)]))
    return clashes


def _meaning(meaning: tuple) -> str:
    tag, zone_type = meaning
    article = "an" if str(zone_type)[:1] in ("a", "e", "i", "o", "u") else "a"
    where = f"in {article} {zone_type} zone" if zone_type else "in a zone the remote does not have"
    return f"{'untagged' if tag is None else f'tag {tag}'} {where}"


def _clash(rule: str, value: Any, opening: str, pairs: Iterable[tuple[str, str]], fact: str,
           changed: list[str]) -> Clash:
    """`opening` + what each variant is and where: "vnet a on r1, r2; vnet b on r3", then the fact."""
    variants: dict[str, list[str]] = {}
    for what, host in pairs:
        hosts = variants.setdefault(what, [])
        if host not in hosts:
            hosts.append(host)
    shown = [f"{what} on {_few(sorted(hosts))}" for what, hosts in list(variants.items())[:SHOWN_VARIANTS]]
    if len(variants) > SHOWN_VARIANTS:
        shown.append(f"{len(variants) - SHOWN_VARIANTS} more")
    remotes = sorted({host for hosts in variants.values() for host in hosts})
    listed = " and ".join(shown) if len(shown) == 2 else "; ".join(shown)
    text = (f"{opening}{listed}. {fact[:1].upper()}{fact[1:]}. This transaction's change is on "
            f"{_few(sorted(set(changed)))}; to accept it, allow {{rule: {rule}, value: {value}}}")
    return Clash(rule, value, text, remotes)


def _few(hosts: list[str]) -> str:
    extra = len(hosts) - SHOWN_REMOTES
    return ", ".join(hosts[:SHOWN_REMOTES]) + (f" and {extra} more" if extra > 0 else "")


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    return str(value).strip()


# The verdict


def not_allowed(clashes: Iterable[Clash], allow: Iterable[tuple[str, Optional[str]]]) -> list[Clash]:
    accepted = list(allow)
    return [clash for clash in clashes
            if not any(rule == clash.rule and value in (None, _text(clash.value)) for rule, value in accepted)]


def refusal(clashes: list[Clash]) -> Inconsistent:
    """The error a transaction with clashes fails with, before any lock."""
    return Inconsistent(clashes)


def check(remotes: Iterable[Any], listings: Mapping[str, Mapping[str, list]],
          allow: Iterable[tuple[str, Optional[str]]] = ()) -> list[Clash]:
    """The clashes `allow` does not accept, over `remotes` (host, results) and their `listings`
    (host -> read_remote's answer)."""
    fleet: dict[str, dict] = {}
    touched: dict[str, set[tuple[str, str]]] = {}
    for remote in remotes:
        if remote.host in listings:
            fleet[remote.host], touched[remote.host] = laid_over(listings[remote.host], remote.results)
    return not_allowed(find_clashes(fleet, touched), allow)
