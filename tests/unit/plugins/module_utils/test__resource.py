"""The resource state machine: read, plan and apply against a fake PVE client."""
from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import Any, Optional

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._subnets import parse_subnet
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._vnets import parse_vnet
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._zones import parse_zone
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import (
    CONTROLLER,
    KINDS,
    SUBNET,
    VNET,
    ZONE,
    Plan,
    RemoteObject,
    apply,
    complete_from_current,
    plan,
    read,
)

DIGEST = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "01890a5d-ac96-774b-bcce-b302099a8057"


class FakeClient:
    """The four coroutines of PveClient over a dict of GET answers; records every call."""

    def __init__(self, items: Optional[Mapping[str, Any]] = None) -> None:
        self.items = dict(items or {})
        self.calls: list[tuple[str, str, Any]] = []

    async def get(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        self.calls.append(("GET", path, params))
        if path not in self.items and path in (ZONE.collection, CONTROLLER.collection):
            # Zones and controllers are read through their listing: made of the items under it.
            listed = [answer for item, answer in self.items.items() if item.rsplit("/", 1)[0] == path]
            for answer in listed:
                if isinstance(answer, Exception):
                    raise answer
            return copy.deepcopy(listed)
        if path not in self.items:
            raise ApiError(500, f"sdn '{path.rsplit('/', 1)[-1]}' does not exist\n", None,
                           method="GET", path=path)
        answer = self.items[path]
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)

    async def post(self, path: str, data: Optional[Mapping[str, Any]] = None) -> Any:
        self.calls.append(("POST", path, dict(data or {})))

    async def put(self, path: str, data: Optional[Mapping[str, Any]] = None) -> Any:
        self.calls.append(("PUT", path, dict(data or {})))

    async def delete(self, path: str, params: Optional[Mapping[str, Any]] = None) -> Any:
        self.calls.append(("DELETE", path, dict(params) if params is not None else None))

    @property
    def writes(self) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] != "GET"]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


VLAN_ZONE = {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "mtu": 1500, "nodes": "pve1,pve2",
             "digest": DIGEST}
ZONE_PATH = "/cluster/sdn/zones/vlan1"


def vlan(**options: Any) -> Any:
    return parse_zone({"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", **options})


def current_zone() -> RemoteObject:
    found = run(read(FakeClient({ZONE_PATH: VLAN_ZONE}), ZONE, "vlan1"))
    assert found is not None
    return found


# --- read ---------------------------------------------------------------------------------


def test_read_returns_model_and_digest_from_the_pending_files() -> None:
    client = FakeClient({ZONE_PATH: VLAN_ZONE})
    found = run(read(client, ZONE, "vlan1"))
    assert client.calls == [("GET", ZONE.collection, None)]  # the listing: SDN.Audit suffices
    assert found is not None and found.digest == DIGEST
    assert found.model == vlan(mtu=1500, nodes=["pve1", "pve2"])


def test_read_not_found_is_none() -> None:
    assert run(read(FakeClient(), ZONE, "nope")) is None


def test_read_subnet_of_another_vnet_is_none() -> None:
    path = "/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"
    client = FakeClient({path: ApiError(400, "Parameter verification failed.\n",
                                        {"vnet": "wrong vnet"}, method="GET", path=path)})
    assert run(read(client, SUBNET, "z1-10.0.0.0-24", parent="v1")) is None


def test_read_other_errors_propagate() -> None:
    client = FakeClient({ZONE_PATH: ApiError(403, "Permission check failed\n", None, method="GET",
                                             path=ZONE_PATH)})
    with pytest.raises(ApiError):
        run(read(client, ZONE, "vlan1"))


def test_read_running_view() -> None:
    client = FakeClient({ZONE_PATH: {**VLAN_ZONE, "digest": None}})
    found = run(read(client, ZONE, "vlan1", view="running"))
    assert client.calls == [("GET", ZONE.collection, {"running": 1})]
    assert found is not None and found.digest is None


def test_read_pending_view_merges_what_apply_would_do() -> None:
    item = {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "mtu": 1500, "nodes": "pve1",
            "digest": None, "state": "changed",
            "pending": {"mtu": 9000, "nodes": "deleted", "bridge-disable-mac-learning": 1}}
    client = FakeClient({ZONE_PATH: item})
    found = run(read(client, ZONE, "vlan1", view="pending"))
    assert client.calls == [("GET", ZONE.collection, {"pending": 1})]
    assert found is not None and found.state == "changed"
    assert found.model == vlan(mtu=9000, bridge_disable_mac_learning=True)
    assert found.pending == item["pending"]


def test_read_pending_view_of_a_new_vnet() -> None:
    # A new object's options are only inside `pending` (pve-sdn-api.md §5.2).
    path = "/cluster/sdn/vnets/v1"
    client = FakeClient({path: {"vnet": "v1", "type": "vnet", "digest": None, "state": "new",
                                "pending": {"zone": "z1", "tag": 100}}})
    found = run(read(client, VNET, "v1", view="pending"))
    assert found is not None and found.state == "new"
    assert found.model == parse_vnet({"vnet": "v1", "zone": "z1", "tag": 100})


def test_read_unknown_view() -> None:
    with pytest.raises(ValueError):
        run(read(FakeClient(), ZONE, "vlan1", view="bogus"))  # type: ignore[arg-type]


def test_read_subnet_path() -> None:
    path = "/cluster/sdn/vnets/v1/subnets/z1-fd00::-64"
    client = FakeClient({path: {"subnet": "z1-fd00::-64", "cidr": "fd00::/64", "zone": "z1",
                                "vnet": "v1", "type": "subnet", "digest": DIGEST,
                                "dhcp-range": []}})
    found = run(read(client, SUBNET, "z1-fd00::-64", parent="v1"))
    assert found is not None and found.model.object_id == "z1-fd00::-64"


# --- plan ---------------------------------------------------------------------------------


def test_plan_create() -> None:
    the_plan = plan(ZONE, vlan(mtu=1400), None)
    assert the_plan.action == "create"
    assert the_plan.changes == {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "mtu": 1400}
    assert the_plan.before is None
    assert the_plan.after == {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "mtu": 1400}


def test_plan_no_op_when_desired_matches() -> None:
    the_plan = plan(ZONE, vlan(mtu=1500, nodes=["pve2", "pve1"]), current_zone())
    assert the_plan.action == "none" and not the_plan.changed
    assert the_plan.before == the_plan.after


def test_plan_update_keeps_unspecified_options() -> None:
    the_plan = plan(ZONE, vlan(mtu=9000), current_zone())
    assert the_plan.action == "update"
    assert the_plan.changes == {"mtu": 9000}
    assert the_plan.delete_keys == ()
    assert the_plan.digest == DIGEST
    assert the_plan.before == {"zone": "vlan1", "type": "vlan", "nodes": ["pve1", "pve2"],
                               "bridge": "vmbr0", "mtu": 1500}
    assert the_plan.after == {"zone": "vlan1", "type": "vlan", "nodes": ["pve1", "pve2"],
                              "bridge": "vmbr0", "mtu": 9000}


def test_plan_update_with_deleted_keys() -> None:
    the_plan = plan(ZONE, vlan(nodes=[]), current_zone())
    assert (the_plan.action, the_plan.changes, the_plan.delete_keys) == ("update", {}, ("nodes",))
    assert the_plan.after is not None and "nodes" not in the_plan.after


def test_plan_purge() -> None:
    the_plan = plan(ZONE, vlan(), current_zone(), purge=True)
    assert the_plan.delete_keys == ("mtu", "nodes")


def test_plan_delete() -> None:
    the_plan = plan(ZONE, None, current_zone())
    assert the_plan.action == "delete"
    assert the_plan.object_id == "vlan1"
    assert the_plan.before is not None and the_plan.after is None


def test_plan_absent_and_absent_is_no_op() -> None:
    the_plan = plan(ZONE, None, None, object_id="gone1")
    assert (the_plan.action, the_plan.object_id) == ("none", "gone1")


def test_plan_type_change_is_an_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        plan(ZONE, parse_zone({"zone": "vlan1", "type": "simple"}), current_zone())
    assert "delete it first" in caught.value.errors["type"]


def test_plan_checks_the_whole_object_on_create() -> None:
    with pytest.raises(InvalidInput) as caught:
        plan(ZONE, parse_zone({"zone": "vx1", "type": "vxlan"}), None)
    assert caught.value.errors == {"peers": "one of peers or fabric is required"}


def test_plan_checks_the_whole_object_after_merging_an_update() -> None:
    client = FakeClient({"/cluster/sdn/zones/vx1": {"zone": "vx1", "type": "vxlan",
                                                    "peers": "10.0.0.1", "digest": DIGEST}})
    current = run(read(client, ZONE, "vx1"))
    # Leaving peers out keeps them: the merged zone is complete.
    assert plan(ZONE, parse_zone({"zone": "vx1", "type": "vxlan", "mtu": 1400}), current).action == "update"
    # Removing them leaves neither peers nor fabric.
    with pytest.raises(InvalidInput) as caught:
        plan(ZONE, parse_zone({"zone": "vx1", "type": "vxlan", "peers": []}), current)
    assert caught.value.errors == {"peers": "one of peers or fabric is required"}


def test_plan_dnszone_needs_dns_judged_with_the_remote_dns() -> None:
    client = FakeClient({ZONE_PATH: {**VLAN_ZONE, "dns": "pdns"}})
    current = run(read(client, ZONE, "vlan1"))
    assert plan(ZONE, vlan(dnszone="example.com"), current).changes == {"dnszone": "example.com"}
    with pytest.raises(InvalidInput):
        plan(ZONE, vlan(dnszone="example.com"), current_zone())


def test_plan_checks_the_referenced_zone_of_a_vnet() -> None:
    zone = parse_zone({"zone": "z1", "type": "simple"})
    with pytest.raises(InvalidInput) as caught:
        plan(VNET, parse_vnet({"vnet": "v1", "zone": "z1", "tag": 5}), None, referenced=zone)
    assert caught.value.errors == {"tag": "not allowed on a vnet in simple zone 'z1' (got 5)"}
    assert plan(VNET, parse_vnet({"vnet": "v1", "zone": "z1"}), None, referenced=zone).action == "create"


def test_plan_checks_vnet_rules_on_the_merged_vnet() -> None:
    path = "/cluster/sdn/vnets/v1"
    current = run(read(FakeClient({path: {"vnet": "v1", "type": "vnet", "zone": "z1", "tag": 10,
                                          "digest": DIGEST}}), VNET, "v1"))
    zone = parse_zone({"zone": "z1", "type": "vlan", "bridge": "vmbr0"})
    # The tag is not repeated in the desired state, but the vnet keeps it: valid.
    the_plan = plan(VNET, parse_vnet({"vnet": "v1", "zone": "z1", "alias": "web"}), current,
                    referenced=zone)
    assert the_plan.changes == {"alias": "web"}


def test_plan_checks_the_referenced_vnet_of_a_subnet() -> None:
    vnet = parse_vnet({"vnet": "v1", "zone": "z1", "vlanaware": True})
    subnet = parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1"}, zone="z1")
    with pytest.raises(InvalidInput):
        plan(SUBNET, subnet, None, referenced=vnet)


# --- apply --------------------------------------------------------------------------------


def test_apply_create_posts_to_the_collection_with_lock_token() -> None:
    client = FakeClient()
    result = run(apply(client, plan(ZONE, vlan(mtu=1400), None), TOKEN))
    assert client.writes == [("POST", "/cluster/sdn/zones", {
        "zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "mtu": 1400, "lock-token": TOKEN})]
    assert result == {"changed": True, "action": "create", "kind": "zone", "id": "vlan1",
                      "diff": {"before": {}, "after": {"zone": "vlan1", "type": "vlan",
                                                       "bridge": "vmbr0", "mtu": 1400}}}


def test_apply_update_puts_digest_delete_and_lock_token() -> None:
    client = FakeClient()
    run(apply(client, plan(ZONE, vlan(mtu=9000, nodes=[]), current_zone()), TOKEN))
    assert client.writes == [("PUT", ZONE_PATH, {"mtu": 9000, "delete": "nodes", "digest": DIGEST,
                                                 "lock-token": TOKEN})]


def test_apply_delete_sends_lock_token_as_parameter() -> None:
    client = FakeClient()
    result = run(apply(client, plan(ZONE, None, current_zone()), TOKEN))
    assert client.writes == [("DELETE", ZONE_PATH, {"lock-token": TOKEN})]
    assert result["diff"]["after"] == {} and result["diff"]["before"]["zone"] == "vlan1"


def test_apply_without_lock_token_sends_none() -> None:
    client = FakeClient()
    run(apply(client, plan(ZONE, vlan(mtu=9000), current_zone())))
    run(apply(client, plan(ZONE, None, current_zone())))
    run(apply(client, plan(ZONE, vlan(), None)))
    assert [call[2] for call in client.writes] == [
        {"mtu": 9000, "digest": DIGEST}, None, {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0"}]


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_every_write_carries_the_lock_token(action: str) -> None:
    desired = {"create": vlan(), "update": vlan(mtu=1), "delete": None}[action]
    current = None if action == "create" else current_zone()
    client = FakeClient()
    run(apply(client, plan(ZONE, desired, current), TOKEN))
    assert len(client.writes) == 1 and client.writes[0][2]["lock-token"] == TOKEN


@pytest.mark.parametrize("action", ["create", "update", "delete"])
def test_check_mode_sends_nothing_but_reports_the_change(action: str) -> None:
    desired = {"create": vlan(), "update": vlan(mtu=1), "delete": None}[action]
    current = None if action == "create" else current_zone()
    client = FakeClient()
    the_plan = plan(ZONE, desired, current)
    result = run(apply(client, the_plan, TOKEN, check_mode=True))
    assert client.calls == []
    assert result["changed"] is True and result["action"] == action
    assert result["diff"] == {"before": dict(the_plan.before or {}), "after": dict(the_plan.after or {})}


def test_no_op_sends_nothing() -> None:
    client = FakeClient()
    result = run(apply(client, plan(ZONE, vlan(mtu=1500), current_zone()), TOKEN))
    assert client.calls == []
    assert result["changed"] is False and result["action"] == "none"


def test_result_has_no_digest_or_lock_token() -> None:
    result = run(apply(FakeClient(), plan(ZONE, vlan(mtu=9000), current_zone()), TOKEN))
    text = repr(result)
    assert DIGEST not in text and TOKEN not in text


def test_subnet_create_and_update_paths() -> None:
    client = FakeClient()
    subnet = parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1", "gateway": "10.0.0.1"}, zone="z1")
    result = run(apply(client, plan(SUBNET, subnet, None), TOKEN))
    assert client.writes[-1] == ("POST", "/cluster/sdn/vnets/v1/subnets", {
        "subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1", "lock-token": TOKEN})
    assert result["id"] == "z1-10.0.0.0-24" and result["vnet"] == "v1"

    path = "/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"
    client.items[path] = {"subnet": "z1-10.0.0.0-24", "cidr": "10.0.0.0/24", "zone": "z1",
                          "vnet": "v1", "type": "subnet", "gateway": "10.0.0.1",
                          "dhcp-range": [], "digest": DIGEST}
    current = run(read(client, SUBNET, subnet.object_id, parent="v1"))
    changed = parse_subnet({"subnet": "10.0.0.0/24", "vnet": "v1", "gateway": "10.0.0.254"}, zone="z1")
    run(apply(client, plan(SUBNET, changed, current), TOKEN))
    assert client.writes[-1] == ("PUT", path, {"gateway": "10.0.0.254", "digest": DIGEST,
                                               "lock-token": TOKEN})


def test_controller_delete_path() -> None:
    path = "/cluster/sdn/controllers/evpnctl"
    client = FakeClient({path: {"controller": "evpnctl", "type": "evpn", "asn": 65000,
                                "peers": "10.0.0.1", "digest": DIGEST}})
    current = run(read(client, CONTROLLER, "evpnctl"))
    run(apply(client, plan(CONTROLLER, None, current), TOKEN))
    assert client.writes == [("DELETE", path, {"lock-token": TOKEN})]


# --- kinds --------------------------------------------------------------------------------


def test_kind_table() -> None:
    assert set(KINDS) == {"zone", "vnet", "subnet", "controller", "fabric", "fabric_node", "prefix_list", "route_map",
                          "ipam", "dns"}
    assert ZONE.item_path("z1") == "/cluster/sdn/zones/z1"
    assert VNET.collection_path() == "/cluster/sdn/vnets"
    assert SUBNET.item_path("z1-10.0.0.0-24", "v1") == "/cluster/sdn/vnets/v1/subnets/z1-10.0.0.0-24"
    assert SUBNET.describe("z1-10.0.0.0-24", "v1") == "subnet 'z1-10.0.0.0-24' of vnet 'v1'"
    with pytest.raises(ValueError):
        SUBNET.collection_path()


def test_kind_parse_and_plan_from_module_options() -> None:
    # How a module drives it: options (None = not given) -> model -> plan.
    options = {"zone": "vlan1", "type": "vlan", "bridge": "vmbr0", "mtu": None, "nodes": None}
    the_plan = KINDS["zone"].parse(options)
    assert isinstance(plan(ZONE, the_plan, current_zone()), Plan)


# --- updates that name only what changes ----------------------------------------------------


def test_complete_from_current_fills_type_and_required_options() -> None:
    options = complete_from_current({"zone": "vlan1", "mtu": 9000, "nodes": None}, current_zone())
    assert options == {"zone": "vlan1", "mtu": 9000, "type": "vlan", "bridge": "vmbr0"}
    the_plan = plan(ZONE, ZONE.parse(options), current_zone())
    assert (the_plan.action, the_plan.changes) == ("update", {"mtu": 9000})


def test_complete_from_current_keeps_given_values_and_a_different_type() -> None:
    assert complete_from_current({"zone": "vlan1", "bridge": "vmbr1"}, current_zone())["bridge"] == "vmbr1"
    options = complete_from_current({"zone": "vlan1", "type": "simple"}, current_zone())
    assert options == {"zone": "vlan1", "type": "simple"}
    with pytest.raises(InvalidInput):
        plan(ZONE, ZONE.parse(options), current_zone())


def test_complete_from_current_without_a_current_object_only_drops_none() -> None:
    assert complete_from_current({"zone": "z1", "mtu": None}, None) == {"zone": "z1"}


def test_complete_from_current_fills_a_vnets_zone() -> None:
    path = "/cluster/sdn/vnets/v1"
    current = run(read(FakeClient({path: {"vnet": "v1", "type": "vnet", "zone": "z1", "tag": 10}}),
                       VNET, "v1"))
    assert complete_from_current({"vnet": "v1", "alias": "x"}, current) == {
        "vnet": "v1", "alias": "x", "type": "vnet", "zone": "z1"}
