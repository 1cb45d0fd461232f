"""The cross-remote consistency check through ansible-playbook: a change that clashes with what another
remote of the transaction has is refused before any lock (judged from the emulator: no lock token
was ever issued), in the fleet task, its check mode and the role's preflight; `allow` accepts it, and
a consistent change goes through."""
from __future__ import annotations

import pytest
from playbook import run_playbook
from test_transaction import CONTROLLERS, ZONES, fleet_play, role_play

VNET1 = {"vnet": "vnet1", "zone": "evpn1", "tag": 11000}
# Another vnet with vnet1's VNI, for remote002 only.
VNET2 = {"vnet": "vnet2", "zone": "evpn1", "tag": 11000}


def no_lock_was_ever_taken(remotes) -> None:
    for remote in remotes:
        state = remote.control.state()
        assert state["issued_lock_tokens"] == [] and not state["lock"]["held"], remote.name


@pytest.fixture
def seeded(remotes, inventory, tmp_path):
    """Every remote with the EVPN controller and zone, remote001 with vnet1 (VNI 11000) too, applied
    one remote at a time with the object modules and sdn_apply, without a lock: so that any lock
    token the emulator issued afterwards was the transaction's."""
    tasks = [{"name": "controller", "pvefleet.sdn.sdn_controller": dict(CONTROLLERS[0])},
             {"name": "zone", "pvefleet.sdn.sdn_zone": dict(ZONES[0])},
             {"name": "vnet", "pvefleet.sdn.sdn_vnet": dict(VNET1), "when": "inventory_hostname == 'remote001'"},
             {"name": "apply", "pvefleet.sdn.sdn_apply": {}}]
    run = run_playbook([{"name": "seed", "hosts": "remotes", "gather_facts": False, "tasks": tasks}], inventory,
                       tmp_path / "seed")
    assert run.rc == 0, run.output
    for remote in remotes:
        state = remote.control.state()
        assert not state["has_pending_changes"] and "evpn1" in state["running"]["zones"], remote.name
    assert list(remotes[0].control.state()["running"]["vnets"]) == ["vnet1"]
    no_lock_was_ever_taken(remotes)
    return remotes


def vnet_on_remote002(vnet: dict, **options) -> list[dict]:
    """The fleet task over every remote, the vnet for remote002 alone."""
    return fleet_play(vnets=[], remote_objects={"remote002": {"vnets": [dict(vnet)]}}, **options)


def assert_refused(run, remotes) -> None:
    assert run.rc != 0
    assert "consistency (vni 11000)" in run.output, run.output
    assert "vnet vnet1 on remote001" in run.output and "vnet vnet2 on remote002" in run.output, run.output
    no_lock_was_ever_taken(remotes)
    for remote in remotes:
        state = remote.control.state()
        assert "vnet2" not in state["pending"]["vnets"] and not state["has_pending_changes"], remote.name


def test_a_vni_another_remote_has_is_refused_before_any_lock(seeded, inventory, tmp_path):
    run = run_playbook(vnet_on_remote002(VNET2), inventory, tmp_path / "run")
    assert_refused(run, seeded)
    result = run.one("fleet", "remote001")["result"]
    assert result["msg"].startswith("not going on to lock: consistency (vni 11000): VNI 11000 is the tag of vnet vnet1")
    assert [(c["rule"], c["value"], c["remotes"]) for c in result["clashes"]] == [("vni", 11000, ["remote001", "remote002"])]
    assert not (tmp_path / "run" / "journal" / "default.json").exists()  # nothing to recover: no record left
    # Check mode says the same, as an error: the transaction would refuse.
    assert_refused(run_playbook(vnet_on_remote002(VNET2), inventory, tmp_path / "check", check=True), seeded)


def test_allow_accepts_the_known_clash(seeded, inventory, tmp_path):
    off = run_playbook(vnet_on_remote002(VNET2, consistency=False), inventory, tmp_path / "off", check=True)
    assert off.rc == 0, off.output
    run = run_playbook(vnet_on_remote002(VNET2, allow=[{"rule": "vni", "value": 11000}]), inventory, tmp_path / "allow")
    assert run.rc == 0, run.output
    assert "vnet2" in seeded[1].control.state()["running"]["vnets"]


@pytest.mark.parametrize("engine", ["tasks", "fleet"])
def test_the_roles_preflight_refuses_it_too(seeded, inventory, tmp_path, engine):
    vnets = f"{{{{ [{VNET2!r}] if inventory_hostname == 'remote002' else [] }}}}"
    run = run_playbook(role_play(vnets=(), sdn_transaction_vnets=vnets, sdn_transaction_engine=engine), inventory, tmp_path)
    assert_refused(run, seeded)
    if engine == "tasks":
        assert {r["host"] for r in run.task("Lock the SDN configuration")} == set()  # never got that far


def test_a_consistent_change_goes_through(seeded, inventory, tmp_path):
    # vnet1 stretched to remote002 with its own VNI, and another vnet with a VNI nobody has.
    vnets = f"{{{{ [{VNET1!r}, {({**VNET2, 'tag': 11001})!r}] if inventory_hostname == 'remote002' else [] }}}}"
    run = run_playbook(role_play(vnets=(), sdn_transaction_vnets=vnets), inventory, tmp_path)
    assert run.rc == 0, run.output
    running = seeded[1].control.state()["running"]["vnets"]
    assert running["vnet1"]["tag"] == 11000 and running["vnet2"]["tag"] == 11001
