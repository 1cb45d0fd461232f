"""The inverse of a transaction (on_apply_failure=revert), and what changed since it committed."""
from __future__ import annotations

import asyncio
import copy
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils import _revert as revert
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import Phase
from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote


class RunningPve:
    """The running view of a remote: GET answers by path, a 500 "does not exist" for the others."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def get(self, path: str, params: Optional[dict] = None) -> Any:
        if path not in self.answers:
            raise ApiError(500, f"'{path.rsplit('/', 1)[-1]}' does not exist\n", method="GET", path=path)
        return copy.deepcopy(self.answers[path])


VNET_BEFORE = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000, "alias": "old"}
VNET_AFTER = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000, "alias": "new", "isolate_ports": True}
RESULTS = [
    {"kind": "vnet", "action": "update", "id": "vnet1", "diff": {"before": VNET_BEFORE, "after": VNET_AFTER}},
    {"kind": "subnet", "action": "create", "id": "evpn1-10.1.0.0-24", "vnet": "vnet1",
     "diff": {"before": {}, "after": {"subnet": "10.1.0.0/24", "vnet": "vnet1", "zone": "evpn1"}}},
    {"kind": "vnet", "action": "delete", "id": "vnet2",
     "diff": {"before": {"vnet": "vnet2", "zone": "evpn1", "tag": 12000}, "after": {}}},
    {"kind": "zone", "action": "none", "id": "evpn1", "diff": {"before": {}, "after": {}}},
]


def remote_with(results, running: dict, phase: Phase = Phase.APPLIED) -> Remote:
    remote = Remote("r1", ConnectionSettings(api_host="192.0.2.1", api_user="root@pam"), phase=phase)
    remote.results = [dict(result) for result in results]
    remote.client = RunningPve(running)
    return remote


def test_the_inverse_deletes_what_was_created_recreates_what_was_deleted_and_puts_back_updates():
    inverse = revert.inverse_objects(remote_with(RESULTS, {}))
    assert [(obj.kind, obj.state, obj.purge, obj.options) for obj in inverse] == [
        ("vnet", "present", True, VNET_BEFORE),
        ("subnet", "absent", False, {"subnet": "10.1.0.0/24", "vnet": "vnet1"}),
        ("vnet", "present", False, {"vnet": "vnet2", "zone": "evpn1", "tag": 12000})]


def test_a_remote_changed_since_the_commit_is_told_apart():
    subnet = {"subnet": "evpn1-10.1.0.0-24", "cidr": "10.1.0.0/24", "vnet": "vnet1", "zone": "evpn1", "type": "subnet"}
    as_committed = {"/cluster/sdn/vnets/vnet1": {**VNET_AFTER, "isolate-ports": 1, "type": "vnet"},
                    "/cluster/sdn/vnets/vnet1/subnets/evpn1-10.1.0.0-24": subnet}
    assert asyncio.run(revert.changed_since(remote_with(RESULTS, as_committed))) == []
    moved = {**as_committed, "/cluster/sdn/vnets/vnet1": {**VNET_AFTER, "alias": "someone else", "type": "vnet"},
             "/cluster/sdn/vnets/vnet2": {"vnet": "vnet2", "zone": "evpn1", "tag": 12000, "type": "vnet"}}
    assert asyncio.run(revert.changed_since(remote_with(RESULTS, moved))) == ["vnet 'vnet1'", "vnet 'vnet2'"]


def test_each_remote_s_outcome():
    applied = remote_with(RESULTS, {})
    assert revert.outcome(remote_with(RESULTS, {}, Phase.ROLLED_BACK), None, [], transaction="t-revert") == {
        "state": "not_committed"}
    assert revert.outcome(applied, None, ["vnet 'vnet1'"], transaction="t-revert")["state"] == "changed_since"
    done = remote_with([], {}, Phase.APPLIED)
    assert revert.outcome(applied, done, [], transaction="t-revert") == {"state": "reverted"}
    refused = remote_with([], {}, Phase.ROLLED_BACK)
    refused.error = "injected"
    failed = revert.outcome(applied, refused, [], transaction="t-revert")
    assert failed["state"] == "revert_failed" and failed["error"] == "injected"
    assert "keeps the change" in failed["recovery"]
