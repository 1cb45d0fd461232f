"""The transaction's snapshot reader: one round of listings, then live reads only where it wrote."""
from __future__ import annotations

import asyncio

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._object_task import run_object_task
from ansible_collections.pvefleet.sdn.plugins.module_utils._snapshot import Snapshot, snapshot_scope
from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import DesiredObject
from ansible_collections.pvefleet.sdn.tests.unit.plugins.module_utils.test__resource import FakeClient

DIGEST = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "01890a5d-ac96-774b-bcce-b302099a8057"


def listings(zones=(), vnets=(), controllers=()):
    return {"/cluster/sdn/zones": [dict(z, digest=DIGEST) for z in zones],
            "/cluster/sdn/vnets": [dict(v, digest=DIGEST) for v in vnets],
            "/cluster/sdn/controllers": [dict(c, digest=DIGEST) for c in controllers]}


def run_all(client, objects):
    async def go():
        reader = await Snapshot.load(client, *snapshot_scope(objects))
        return [await run_object_task(client, o.kind, o.options, state=o.state, purge=False, lock_token=TOKEN,
                                      check_mode=False, reader=reader) for o in objects]
    return asyncio.run(go())


def test_absent_objects_are_created_without_reading_each_one():
    client = FakeClient(listings())
    objects = [DesiredObject("zone", {"zone": "z1", "type": "simple"}),
               DesiredObject("vnet", {"vnet": "v1", "zone": "z1"})]
    results = run_all(client, objects)
    assert [r["action"] for r in results] == ["create", "create"]
    reads = [path for method, path, _params in client.calls if method == "GET"]
    # The listings once; the vnet's zone is the one this run just created, known without a read.
    assert sorted(reads) == ["/cluster/sdn/vnets", "/cluster/sdn/zones"]


def test_the_cross_check_sees_the_object_as_this_run_left_it():
    # A vlan zone needs a bridge; a vnet of a vlan zone needs a tag (PVE's on_update_hook).
    client = FakeClient(listings())
    objects = [DesiredObject("zone", {"zone": "z1", "type": "vlan", "bridge": "vmbr0"}),
               DesiredObject("vnet", {"vnet": "v1", "zone": "z1"})]
    with pytest.raises(PveFleetError, match="tag"):
        run_all(client, objects)
    assert [path for _method, path, _data in client.writes] == ["/cluster/sdn/zones"]


def test_a_deleted_object_is_absent_for_the_rest_of_the_run():
    client = FakeClient(listings(zones=[{"zone": "z1", "type": "simple"}]))
    with pytest.raises(PveFleetError, match="zone 'z1' does not exist"):
        run_all(client, [DesiredObject("zone", {"zone": "z1"}, state="absent"),
                         DesiredObject("vnet", {"vnet": "v1", "zone": "z1"})])
    assert [method for method, _path, _data in client.writes] == ["DELETE"]


def test_an_unchanged_object_costs_no_request_beyond_the_listing():
    client = FakeClient(listings(zones=[{"zone": "z1", "type": "simple"}]))
    results = run_all(client, [DesiredObject("zone", {"zone": "z1", "type": "simple"})])
    assert results[0]["changed"] is False
    assert client.calls == [("GET", "/cluster/sdn/zones", None)]


def test_the_digest_of_a_file_this_run_wrote_is_not_sent_again():
    client = FakeClient(listings(zones=[{"zone": "z1", "type": "simple"}, {"zone": "z2", "type": "simple"}]))
    run_all(client, [DesiredObject("zone", {"zone": "z1", "type": "simple", "mtu": 1400}),
                     DesiredObject("zone", {"zone": "z2", "type": "simple", "mtu": 1400})])
    first, second = client.writes
    assert first[2]["digest"] == DIGEST  # read with the listing
    assert "digest" not in second[2]  # zones.cfg changed since: the lock, not the digest, protects it


def test_scope_reads_what_cross_checks_need():
    kinds, parents = snapshot_scope([DesiredObject("subnet", {"subnet": "10.0.0.0/24", "vnet": "v1"}),
                                     DesiredObject("vnet", {"vnet": "v2", "zone": "z"}),
                                     DesiredObject("fabric_node", {"fabric": "f1", "node": "pve1"})])
    assert kinds == {"subnet", "vnet", "zone", "fabric", "fabric_node"}
    assert parents == {"subnet": {"v1"}, "fabric_node": {"f1"}}
