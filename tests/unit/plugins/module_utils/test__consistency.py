"""The cross-remote consistency check without a network: every rule with a fleet that clashes and one
that does not, what counts as this transaction's change, the pending view, `allow`, the error, the
three listings per remote, and the fleet engine's hook (a fake client: which requests, when)."""
from __future__ import annotations

import asyncio
import contextlib
import time
from types import SimpleNamespace
from typing import Any, Optional

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils import _consistency as cc
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._snapshot import Snapshot
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import DesiredObject, FleetTransaction, Remote

# What a remote has, as its pending-view listings show it (PVE's keys)


def controller(name="evpnctl", asn=65000, **extra) -> dict:
    return {"controller": name, "type": "evpn", "asn": asn, "peers": "10.0.0.1", **extra}


def evpn_zone(name="evpn1", vrf=10000, ctl="evpnctl", **extra) -> dict:
    return {"zone": name, "type": "evpn", "controller": ctl, "vrf-vxlan": vrf, **extra}


def vxlan_zone(name="vx1") -> dict:
    return {"zone": name, "type": "vxlan", "peers": "10.0.0.1"}


def vlan_zone(name="vl1") -> dict:
    return {"zone": name, "type": "vlan", "bridge": "vmbr0"}


def vnet(name="vnet1", zone="evpn1", tag: Optional[int] = 11000, **extra) -> dict:
    item = {"vnet": name, "zone": zone, "type": "vnet", **extra}
    if tag is not None:
        item["tag"] = tag
    return item


def listing(zones=(), vnets=(), controllers=()) -> dict:
    return {"zones": list(zones), "vnets": list(vnets), "controllers": list(controllers)}


def evpn_remote(vnets: Optional[tuple] = None, asn=65000, vrf=10000, zone="evpn1", **zone_extra) -> dict:
    """A remote with an EVPN controller, zone and vnets (by default vnet1, VNI 11000), all applied."""
    return listing([evpn_zone(zone, vrf, **zone_extra)], (vnet(),) if vnets is None else vnets, [controller(asn=asn)])


# What the preflight planned (a result per object; `after` as module options)


def planned(kind: str, object_id: str, action: str = "create", **after) -> dict:
    return {"kind": kind, "id": object_id, "action": action, "changed": action != "none",
            "diff": {"before": {}, "after": {kind: object_id, **after} if action != "delete" else {}}}


def create_vnet(name="vnet2", zone="evpn1", tag=11000, **extra) -> dict:
    return planned("vnet", name, zone=zone, tag=tag, **extra)


def create_zone(name="evpn2", vrf=20000, ctl="evpnctl", **extra) -> dict:
    return planned("zone", name, type="evpn", controller=ctl, vrf_vxlan=vrf, **extra)


def create_controller(name="evpnctl", asn=65000, **extra) -> dict:
    return planned("controller", name, type="evpn", asn=asn, peers=["10.0.0.1"], **extra)


def fleet_of(**remotes: tuple[dict, list[dict]]) -> tuple[list[SimpleNamespace], dict[str, dict]]:
    """host=(listings, results) -> the remotes (host, results) and their listings, as the hook has them."""
    return ([SimpleNamespace(host=host, results=results) for host, (_listings, results) in remotes.items()],
            {host: lists for host, (lists, _results) in remotes.items()})


def clashes(allow=(), **remotes) -> list[cc.Clash]:
    found, listings = fleet_of(**remotes)
    return cc.check(found, listings, cc.allowed(list(allow)))


def rules_of(found: list[cc.Clash]) -> list[tuple[str, Any]]:
    return sorted((clash.rule, str(clash.value)) for clash in found)


# vni


def test_a_vni_that_another_vnet_has_on_another_remote_clashes():
    found = clashes(remote001=(evpn_remote(), []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=11000)]))
    assert rules_of(found) == [("vni", "11000")]
    message = found[0].message
    assert "vnet vnet1 on remote001" in message and "vnet vnet2 on remote002" in message and "11000" in message
    assert "change is on remote002" in message and "allow {rule: vni, value: 11000}" in message
    assert found[0].remotes == ["remote001", "remote002"]


def test_the_same_vnet_with_the_same_vni_everywhere_is_consistent():
    assert clashes(remote001=(evpn_remote(), []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet1", tag=11000)]),
                   remote003=(evpn_remote(vnets=()), [create_vnet("vnet1", tag=11000)])) == []


def test_a_free_vni_is_consistent():
    assert clashes(remote001=(evpn_remote(), []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=11001)])) == []


def test_a_vni_clash_on_one_remote_counts_too():
    assert rules_of(clashes(remote001=(evpn_remote(), [create_vnet("vnet2", tag=11000)]))) == [("vni", "11000")]


def test_vxlan_and_evpn_vnis_are_one_space_vlan_tags_are_not():
    vx = listing([vxlan_zone(), vlan_zone()], [vnet("vxa", "vx1", 100), vnet("vla", "vl1", 200)])
    assert rules_of(clashes(remote001=(vx, []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=100)]))) == [
        ("vni", "100")]
    assert clashes(remote001=(vx, []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=200)])) == []


def test_a_clash_the_fleet_already_had_is_not_this_changes_to_refuse():
    old = evpn_remote(vnets=(vnet("vnetx", tag=11000),))
    assert clashes(remote001=(evpn_remote(), []), remote003=(old, []),
                   remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=12000)])) == []


def test_a_vnet_this_transaction_removes_clashes_no_more():
    assert clashes(remote001=(evpn_remote(), [planned("vnet", "vnet1", "delete")]),
                   remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=11000)])) == []


def test_an_update_is_judged_as_planned():
    # vnet1 moves from 11000 to 12000 on remote001, where remote002 has vnet2 with 12000.
    found = clashes(remote001=(evpn_remote(), [create_vnet("vnet1", tag=12000) | {"action": "update"}]),
                    remote002=(evpn_remote(vnets=(vnet("vnet2", tag=12000),)), []))
    assert ("vni", "12000") in rules_of(found)


def test_the_pending_view_counts_as_the_apply_leaves_it():
    pending_new = {"vnet": "vnetp", "type": "vnet", "state": "new", "pending": {"zone": "evpn1", "tag": 11000}}
    pending_gone = vnet("vnetg", tag=12000) | {"state": "deleted", "pending": {}}
    pending_moved = vnet("vnetm", tag=13000) | {"state": "changed", "pending": {"tag": 14000}}
    remote = evpn_remote(vnets=(pending_new, pending_gone, pending_moved))
    assert rules_of(clashes(remote001=(remote, []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=11000)]))) == [
        ("vni", "11000")]
    for free in (12000, 13000):
        assert clashes(remote001=(remote, []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=free)])) == []
    assert rules_of(clashes(remote001=(remote, []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet2", tag=14000)]))) == [
        ("vni", "14000")]


def test_as_applied_drops_a_key_pending_removal():
    item = {"vnet": "v", "zone": "z", "tag": 5, "alias": "x", "digest": "d", "state": "changed",
            "pending": {"alias": "deleted", "tag": 6}}
    assert cc.as_applied(item) == {"vnet": "v", "zone": "z", "tag": 6}
    assert cc.as_applied({"vnet": "v", "state": "deleted", "pending": {}}) is None


# vrf_vni


def test_a_vrf_vni_another_zone_has_clashes():
    found = clashes(remote001=(evpn_remote(), []),
                    remote002=(listing(controllers=[controller()]), [create_zone("evpn2", vrf=10000)]))
    assert rules_of(found) == [("vrf_vni", "10000")]
    assert "zone evpn1 on remote001" in found[0].message and "zone evpn2 on remote002" in found[0].message


def test_one_zone_stretched_with_one_vrf_vni_is_consistent():
    assert clashes(remote001=(evpn_remote(), []),
                   remote002=(listing(controllers=[controller()]), [create_zone("evpn1", vrf=10000)])) == []


def test_a_vrf_vni_that_is_a_vnets_vni_clashes():
    found = clashes(remote001=(evpn_remote(vnets=(vnet("vnet1", tag=20000),)), []),
                    remote002=(listing(controllers=[controller()]), [create_zone("evpn2", vrf=20000)]))
    assert rules_of(found) == [("vrf_vni", "20000")]
    assert "the VRF VNI of zone evpn2 on remote002" in found[0].message
    assert "the tag of vnet vnet1 on remote001" in found[0].message
    # The other way round: a new vnet whose tag is a zone's VRF VNI.
    assert rules_of(clashes(remote001=(evpn_remote(vnets=()), [create_vnet("vnet9", tag=10000)]))) == [("vrf_vni", "10000")]


# asn


def test_one_zone_whose_controllers_have_different_asns_clashes():
    found = clashes(remote001=(evpn_remote(asn=65000), []),
                    remote002=(listing(), [create_controller(asn=65001), create_zone("evpn1", vrf=10000)]))
    assert rules_of(found) == [("asn", "10000")]
    assert "ASN 65000 (controller evpnctl) on remote001" in found[0].message
    assert "ASN 65001 (controller evpnctl) on remote002" in found[0].message
    assert "iBGP needs one ASN" in found[0].message


def test_a_controllers_new_asn_clashes_with_the_zone_it_serves():
    found = clashes(remote001=(evpn_remote(asn=65000), []),
                    remote002=(evpn_remote(asn=65000, vnets=()), [create_controller(asn=65002) | {"action": "update"}]))
    assert rules_of(found) == [("asn", "10000")]


def test_one_asn_or_ebgp_everywhere_is_consistent():
    assert clashes(remote001=(evpn_remote(asn=65000), []),
                   remote002=(listing(), [create_controller(asn=65000), create_zone("evpn1", vrf=10000)])) == []
    external = listing([evpn_zone()], [], [controller(asn=65000, **{"bgp-mode": "external"})])
    assert clashes(remote001=(external, []),
                   remote002=(listing(), [create_controller(asn=65001, bgp_mode="external"),
                                          create_zone("evpn1", vrf=10000)])) == []
    # eBGP on one side only is no eBGP.
    assert rules_of(clashes(remote001=(evpn_remote(asn=65000), []),
                            remote002=(listing(), [create_controller(asn=65001, bgp_mode="external"),
                                                   create_zone("evpn1", vrf=10000)]))) == [("asn", "10000")]


def test_zones_of_different_vrf_vnis_may_have_different_asns():
    assert clashes(remote001=(evpn_remote(asn=65000), []),
                   remote002=(listing(), [create_controller(asn=65001), create_zone("evpn2", vrf=20000)])) == []


# route_target


def test_importing_another_zones_own_route_target_clashes():
    found = clashes(remote001=(evpn_remote(asn=65000, vrf=10000), []),
                    remote002=(listing(controllers=[controller()]), [create_zone("evpn2", vrf=20000, rt_import=["65000:10000"])]))
    assert rules_of(found) == [("route_target", "65000:10000")]
    message = found[0].message
    assert "zone evpn1's own (ASN 65000, VRF VNI 10000) on remote001" in message
    assert "imported by zone evpn2 (VRF VNI 20000) on remote002" in message


def test_route_targets_of_no_other_zone_are_consistent():
    assert clashes(remote001=(evpn_remote(asn=65000, vrf=10000), []),
                   remote002=(listing(controllers=[controller()]),
                              [create_zone("evpn2", vrf=20000, rt_import=["65000:20000", "65000:99999"])])) == []
    # The other side of an eBGP zone: its own VRF VNI under another ASN.
    assert clashes(remote001=(evpn_remote(asn=65001, vrf=10000), []),
                   remote002=(listing(controllers=[controller()]),
                              [create_zone("evpn9", vrf=30000, rt_import="65000:30000,65001:30000")])) == []


def test_a_new_zone_whose_own_route_target_another_zone_imports_clashes():
    importing = evpn_remote(zone="evpn2", vrf=20000, vnets=(), **{"rt-import": "65000:10000"})
    found = clashes(remote001=(importing, []), remote002=(listing(controllers=[controller()]), [create_zone("evpn1", vrf=10000)]))
    assert rules_of(found) == [("route_target", "65000:10000")]


# vnet


def test_one_vnet_name_with_another_tag_clashes():
    found = clashes(remote001=(evpn_remote(), []), remote002=(evpn_remote(vnets=()), [create_vnet("vnet1", tag=11001)]))
    assert rules_of(found) == [("vnet", "vnet1")]
    assert "tag 11000 in an evpn zone on remote001" in found[0].message
    assert "tag 11001 in an evpn zone on remote002" in found[0].message


def test_one_vnet_name_in_zones_of_another_type_clashes():
    vlan = listing([vlan_zone()], [vnet("web", "vl1", 100)])
    found = clashes(remote001=(vlan, []), remote002=(listing([vxlan_zone()]), [create_vnet("web", zone="vx1", tag=100)]))
    assert rules_of(found) == [("vnet", "web")]
    assert clashes(remote001=(vlan, []), remote002=(listing([vlan_zone("vl2")]), [create_vnet("web", zone="vl2", tag=100)])) == []


def test_a_vnet_moved_to_another_zone_of_its_zone_type_is_consistent():
    other = listing([evpn_zone("evpn3", 30000)], [], [controller()])
    assert clashes(remote001=(evpn_remote(), []), remote002=(other, [create_vnet("vnet1", zone="evpn3", tag=11000)])) == []


# What counts as this change


def test_only_creates_and_updates_of_zones_vnets_and_controllers_need_the_check():
    def remotes(*results):
        return [SimpleNamespace(host="r", results=list(results))]

    assert not cc.needed(remotes())
    assert not cc.needed(remotes(planned("subnet", "evpn1-10.0.0.0-24"), planned("fabric", "f1")))
    assert not cc.needed(remotes(planned("vnet", "v", "delete"), planned("zone", "z", "none")))
    assert cc.needed(remotes(planned("vnet", "v", "none"), planned("controller", "c", "update")))


# allow


def test_allow_accepts_a_known_clash_by_rule_and_value():
    fleet = {"remote001": (evpn_remote(), []), "remote002": (evpn_remote(vnets=()), [create_vnet("vnet2", tag=11000)])}
    assert clashes([{"rule": "vni", "value": 11000}], **fleet) == []
    assert clashes([{"rule": "vni", "value": "11000"}], **fleet) == []
    assert clashes([{"rule": "vni", "value": None}], **fleet) == []  # every clash of the rule
    assert rules_of(clashes([{"rule": "vni", "value": 11001}], **fleet)) == [("vni", "11000")]
    assert rules_of(clashes([{"rule": "vnet", "value": "vnet2"}], **fleet)) == [("vni", "11000")]


def test_allow_is_checked_before_anything_is_sent():
    assert cc.allowed(None) == [] and cc.allowed([{"rule": "route_target", "value": " 65000:1 "}]) == [
        ("route_target", "65000:1")]
    with pytest.raises(InvalidInput) as caught:
        cc.allowed([{"rule": "vlan", "value": 1}, "vni", {"rule": "vni", "tag": 5}])
    assert set(caught.value.errors) == {"allow[0].rule", "allow[1]", "allow[2]"}
    assert "must be one of vni, vrf_vni, asn, route_target, vnet" in caught.value.errors["allow[0].rule"]
    with pytest.raises(InvalidInput):
        FleetTransaction([], allow=[{"rule": "nope"}])


# The error


def test_the_refusal_names_every_clash_once_per_rule_and_value():
    found = clashes(remote001=(evpn_remote(vnets=(vnet("vnet1", tag=20000),)), []),
                    remote002=(listing(controllers=[controller()]), [create_zone("evpn2", vrf=20000), create_zone("evpn3", vrf=20000)]))
    assert [clash.rule for clash in found] == ["vrf_vni", "vrf_vni"]
    error = cc.refusal(found)
    assert isinstance(error, InvalidInput) and error.clashes == found
    assert error.to_failure()["type"] == "Inconsistent"
    assert [clash.as_dict()["remotes"] for clash in found] == [["remote002"], ["remote001", "remote002"]]
    assert list(error.errors) == ["consistency (vrf_vni 20000)"]
    assert "; also " in error.errors["consistency (vrf_vni 20000)"]
    assert str(error).startswith("consistency (vrf_vni 20000): VRF VNI 20000 is the vrf_vxlan of zone evpn2 on remote002")


def test_a_message_lists_a_few_remotes_of_a_large_fleet():
    fleet = {f"r{i:04}": (evpn_remote(), []) for i in range(50)}
    fleet["r9999"] = (evpn_remote(vnets=()), [create_vnet("vnet2", tag=11000)])
    found = clashes(**fleet)
    assert "vnet vnet1 on r0000, r0001, r0002 and 47 more" in found[0].message
    assert len(found[0].remotes) == 51


def test_a_thousand_remotes_are_checked_in_linear_time():
    def run(n: int) -> float:
        fleet = {f"r{i:05}": (evpn_remote(vnets=(vnet(), vnet(f"t{i}", tag=100000 + i))),
                              [create_vnet("vnet1", tag=11000) | {"action": "none"}, create_vnet(f"n{i}", tag=200000 + i)])
                 for i in range(n)}
        remotes, listings = fleet_of(**fleet)
        started = time.perf_counter()
        assert cc.check(remotes, listings) == []
        return time.perf_counter() - started

    run(100)
    small, large = run(500), run(4000)
    assert large < 2.0, large
    assert large < small * 8 * 3, (small, large)  # 8 times the fleet: far from 64 times the time


# Reading


class FakeClient:
    def __init__(self, answers: Optional[dict] = None, fail: Optional[Exception] = None):
        self.answers = answers or {}
        self.fail = fail
        self.gets: list[tuple[str, Any]] = []

    async def get(self, path, params=None):
        self.gets.append((path, params))
        if self.fail is not None:
            raise self.fail
        return self.answers.get(path, [])


def test_one_remote_is_three_listings_in_the_pending_view():
    client = FakeClient({"/cluster/sdn/vnets": [vnet()]})
    assert asyncio.run(cc.read_remote(client)) == {"zones": [], "vnets": [vnet()], "controllers": []}
    assert sorted(client.gets) == [("/cluster/sdn/controllers", {"pending": 1}), ("/cluster/sdn/vnets", {"pending": 1}),
                                   ("/cluster/sdn/zones", {"pending": 1})]


# The hook in the fleet engine: after every preflight, before any lock


def settings_of(host: str) -> ConnectionSettings:
    return ConnectionSettings(api_host=f"{host}.example", api_user="root@pam", api_token_id="fleet",
                              api_token_secret="s3cret-token-value", remote=host)


def engine(monkeypatch, fleet: dict[str, tuple[dict, list[dict]]], clients: Optional[dict] = None, **options):
    """A FleetTransaction whose preflight plans `results` per host, over fake clients answering `listings`."""
    clients = clients or {host: FakeClient({path: lists[name] for name, path in cc.CHECKED_KINDS.values()})
                          for host, (lists, _results) in fleet.items()}
    plans = {host: results for host, (_lists, results) in fleet.items()}

    async def preflight(self, remote):
        remote.results = plans[remote.host]
        if self.check_mode:
            remote.enter(Phase.CHECKED)

    monkeypatch.setattr(FleetTransaction, "_preflight_one", preflight)

    @contextlib.asynccontextmanager
    async def factory(settings, _identity):
        yield clients[settings.remote]

    remotes = [Remote(host, settings_of(host), [DesiredObject("zone", {"zone": "z1", "type": "simple"})]) for host in fleet]
    return FleetTransaction(remotes, client_factory=factory, **options), clients


CLASHING = {"remote001": (evpn_remote(), []), "remote002": (evpn_remote(vnets=()), [create_vnet("vnet2", tag=11000)])}


@pytest.mark.parametrize("check_mode", [True, False])
def test_the_engine_refuses_a_clash_before_any_lock(monkeypatch, check_mode):
    locked = []

    async def transact(self):
        locked.append(True)

    monkeypatch.setattr(FleetTransaction, "_transact_phases", transact)
    tx, clients = engine(monkeypatch, CLASHING, check_mode=check_mode)
    with pytest.raises(InvalidInput) as caught:
        asyncio.run(tx.run())
    assert "remote001" in str(caught.value) and "remote002" in str(caught.value) and "11000" in str(caught.value)
    assert locked == []
    assert all(len(client.gets) == 3 for client in clients.values())
    if not check_mode:
        assert {str(r.phase) for r in tx.remotes} == {"not_locked"}


def test_the_engine_goes_on_when_allowed_or_switched_off(monkeypatch):
    for options in ({"allow": [{"rule": "vni", "value": 11000}]}, {"consistency": False}):
        tx, clients = engine(monkeypatch, CLASHING, check_mode=True, **options)
        report = asyncio.run(tx.run())
        assert report["ok"], report
        reads = sum(len(client.gets) for client in clients.values())
        assert reads == (0 if options.get("consistency") is False else 6)


def test_the_engine_reads_nothing_when_no_zone_vnet_or_controller_changes(monkeypatch):
    fleet = {"remote001": (evpn_remote(), [planned("subnet", "evpn1-10.0.0.0-24")]),
             "remote002": (evpn_remote(), [create_vnet("vnet1", tag=11000) | {"action": "none"}])}
    tx, clients = engine(monkeypatch, fleet, check_mode=True)
    assert asyncio.run(tx.run())["ok"]
    assert all(client.gets == [] for client in clients.values())


def test_a_remote_whose_listings_cannot_be_read_fails_before_any_lock(monkeypatch):
    from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import TransportError

    clients = {"remote001": FakeClient(listing()), "remote002": FakeClient(fail=TransportError("cannot connect", sent=False))}
    tx, _clients = engine(monkeypatch, CLASHING, clients=clients, check_mode=True)
    report = asyncio.run(tx.run())
    assert not report["ok"] and "cannot connect" in report["aborted"]
    phases = {entry["host"]: entry["phase"] for entry in report["failed"] + report["succeeded"]}
    assert phases == {"remote001": "checked", "remote002": "not_locked"}
    assert "preflight" in report["timings"] and set(report["timings"]) == {"preflight"}


def test_the_listings_the_preflight_took_are_not_read_again():
    """A vnet change's preflight listed zones and vnets: only the controllers are read."""
    class Listings:
        def __init__(self):
            self.paths = []

        async def get(self, path, params=None):
            self.paths.append(path)
            return [{"zone": "evpn1", "type": "evpn"}] if path.endswith("/zones") else []

    client = Listings()
    snapshot = asyncio.run(Snapshot.load(client, {"vnet", "zone"}))
    client.paths.clear()
    read = asyncio.run(cc.read_remote(client, snapshot))
    assert client.paths == ["/cluster/sdn/controllers"]
    assert read == {"zones": [{"zone": "evpn1", "type": "evpn"}], "vnets": [], "controllers": []}
