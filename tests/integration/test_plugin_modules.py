"""sdn_ipam and sdn_dns through ansible-playbook against the emulator: create, rerun, update, delete,
check mode, bad input; honest `changed` for their secrets (PVE returns them, so a new secret is a change
and the same one is not), which never appear in output; and the compensating writes that undo them when a
transaction rolls back (PVE's rollback leaves ipams.cfg and dns.cfg as they are). Outcomes are read back
through the emulator's inspection API (state["ipams"], state["dns"])."""
from __future__ import annotations

import json

import pytest
from playbook import run_playbook
from test_recovery import kill_run, playbook_file, start_killable_run, wait_until

WRITES = ("POST", "PUT", "DELETE")
NETBOX_TOKEN = "nb-0123456789abcdef"
PDNS_KEY = "pdns-fedcba9876543210"


def play(tasks, hosts="remote001"):
    return [{"name": "test", "hosts": hosts, "gather_facts": False, "tasks": tasks}]


def task(name: str, module: str, **options) -> dict:
    return {"name": name, f"pvefleet.sdn.{module}": options}


def writes(remote) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in remote.control.requests() if r["method"] in WRITES]


NETBOX = task("ipam", "sdn_ipam", ipam="netbox", type="netbox", url="https://netbox.example/api",
              token=NETBOX_TOKEN)
POWERDNS = task("dns", "sdn_dns", dns="pdns", url="http://192.0.2.10:8081/api/v1/servers/localhost",
                key=PDNS_KEY, ttl=300)
CASES = {
    "ipam": (NETBOX, "ipam", "ipams", "netbox", "token", "nb-new-secret-0001",
             {"type": "netbox", "url": "https://netbox.example/api", "token": NETBOX_TOKEN}),
    "dns": (POWERDNS, "dns", "dns", "pdns", "key", "pdns-new-secret-0001",
            {"type": "powerdns", "url": "http://192.0.2.10:8081/api/v1/servers/localhost", "key": PDNS_KEY,
             "ttl": 300}),
}


def with_options(t: dict, **options) -> dict:
    module = next(k for k in t if k.startswith("pvefleet.sdn."))
    return {"name": t["name"], module: {**t[module], **options}}


def absent(t: dict, id_option: str) -> dict:
    module = next(k for k in t if k.startswith("pvefleet.sdn."))
    return {"name": t["name"], module: {id_option: t[module][id_option], "state": "absent"}}


@pytest.mark.parametrize("case", sorted(CASES))
def test_create_rerun_secret_change_delete(remotes, inventory, tmp_path, case):
    create, id_option, section, plugin, secret, new_secret, stored = CASES[case]
    remote = remotes[0]
    created = run_playbook(play([create]), inventory, tmp_path / "create", diff=True)
    assert created.rc == 0, created.output
    result = created.one(create["name"], "remote001")["result"]
    assert result["changed"] and result["action"] == "create" and result["kind"] == case, result
    assert result["diff"]["after"][secret] == "(secret)", result["diff"]
    state = remote.control.state()
    assert state[section][plugin] == stored
    assert state["pending"] == state["running"], "a plugin is not pending configuration"
    assert not state["lock"]["held"]

    remote.control.clear_requests()
    again = run_playbook(play([create]), inventory, tmp_path / "rerun", diff=True)
    assert again.rc == 0, again.output
    result = again.one(create["name"], "remote001")["result"]
    assert not result["changed"] and result["action"] == "none", result  # the same secret is no change
    assert writes(remote) == []

    changed = run_playbook(play([with_options(create, **{secret: new_secret})]), inventory, tmp_path / "secret",
                           diff=True)
    assert changed.rc == 0, changed.output
    result = changed.one(create["name"], "remote001")["result"]
    assert result["changed"] and result["action"] == "update", result
    assert result["diff"]["before"][secret] == "(secret)"
    assert result["diff"]["after"][secret] == "(secret, changed)"
    assert remote.control.state()[section][plugin][secret] == new_secret
    for run in (created, again, changed):
        for value in (stored[secret], new_secret):
            assert value not in run.output and value not in json.dumps(run.results)

    gone = run_playbook(play([absent(create, id_option)]), inventory, tmp_path / "delete")
    assert gone.rc == 0, gone.output
    assert gone.one(create["name"], "remote001")["result"]["action"] == "delete"
    assert plugin not in remote.control.state()[section]
    again = run_playbook(play([absent(create, id_option)]), inventory, tmp_path / "delete again")
    assert again.rc == 0 and not again.one(create["name"], "remote001")["result"]["changed"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_mode_writes_nothing(remotes, inventory, tmp_path, case):
    create, id_option, section, plugin, secret, new_secret, _stored = CASES[case]
    remote = remotes[0]
    checked = run_playbook(play([create]), inventory, tmp_path / "check", check=True, diff=True)
    assert checked.rc == 0, checked.output
    result = checked.one(create["name"], "remote001")["result"]
    assert result["changed"] and result["action"] == "create"
    assert plugin not in remote.control.state()[section]
    assert run_playbook(play([create]), inventory, tmp_path / "create").rc == 0
    before = remote.control.state()[section]
    remote.control.clear_requests()
    for name, t in (("update", with_options(create, **{secret: new_secret})), ("delete", absent(create, id_option))):
        run = run_playbook(play([t]), inventory, tmp_path / name, check=True, diff=True)
        assert run.rc == 0, run.output
        assert run.one(create["name"], "remote001")["result"]["action"] == name
    assert remote.control.state()[section] == before
    assert writes(remote) == []


# Required for a new plugin only (an update keeps what is not given): known once the plugin is read, still
# before any write.
NEW_PLUGIN_BAD = {
    "netbox without token": (task("bad", "sdn_ipam", ipam="netbox", type="netbox", url="https://nb/api"),
                             "token: required"),
    "phpipam without section": (task("bad", "sdn_ipam", ipam="php", type="phpipam", url="https://php/api",
                                     token="t0ken"), "section: required"),
    "powerdns without key": (task("bad", "sdn_dns", dns="pdns", url="http://x"), "key: required"),
}


@pytest.mark.parametrize("case", sorted(NEW_PLUGIN_BAD))
def test_a_new_plugin_without_a_required_option_is_refused_before_any_write(remotes, inventory, tmp_path, case):
    bad, message = NEW_PLUGIN_BAD[case]
    remotes[0].control.clear_requests()
    run = run_playbook(play([bad]), inventory, tmp_path)
    assert run.rc != 0
    assert message in run.one("bad", "remote001")["result"]["msg"]
    assert writes(remotes[0]) == []


BAD = {
    "pve ipam with a url": (task("bad", "sdn_ipam", ipam="pve2", type="pve", url="https://x"), "url"),
    "ipam id": (task("bad", "sdn_ipam", ipam="1x", type="pve"), "ipam: must be at least 2 characters"),
    "dns fingerprint": (task("bad", "sdn_dns", dns="pdns", url="http://x", key="k3y", fingerprint="ab:cd"),
                        "fingerprint: must be a SHA-256 fingerprint"),
    "dns key with a space": (task("bad", "sdn_dns", dns="pdns", url="http://x", key="a secret"), "key: must not"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_before_anything_is_sent(remotes, inventory, tmp_path, case):
    bad, message = BAD[case]
    remotes[0].control.fail("*", ".", nth=1, times=None, status=599, message="no request expected")
    run = run_playbook(play([bad]), inventory, tmp_path)
    assert run.rc != 0
    result = run.one("bad", "remote001")["result"]
    assert message in result["msg"], result["msg"]
    assert "a secret" not in result["msg"]
    assert remotes[0].control.state()["faults"]["rules"][0]["seen"] == 0


TX_OBJECTS = {
    "ipams": [{"ipam": "netbox", "type": "netbox", "url": "https://nb/api", "token": NETBOX_TOKEN},
              {"ipam": "oldipam", "state": "absent"}],
    "dns_plugins": [{"dns": "pdns", "url": "http://192.0.2.10:8081", "key": "pdns-other-0002"}],
    "zones": [{"zone": "z1", "type": "simple", "ipam": "netbox"}],
    "vnets": [{"vnet": "v1", "zone": "z1"}],
}


def transaction_play(style: str) -> list[dict]:
    if style == "fleet task":
        return play([task("tx", "sdn_transaction", **TX_OBJECTS)], hosts="remotes")
    return [{"name": "tx", "hosts": "remotes", "gather_facts": False, "roles": [{
        "role": "pvefleet.sdn.sdn_transaction",
        "vars": {f"sdn_transaction_{key}": value for key, value in TX_OBJECTS.items()}}]}]


@pytest.mark.parametrize("style", ["fleet task", "role"])
def test_a_transaction_that_rolls_back_undoes_its_plugin_writes(remotes, inventory, tmp_path, style):
    """PVE writes ipams.cfg and dns.cfg at once: a failure later in the change phase must leave neither the
    new IPAM, nor the changed DNS key, nor the deletion of the old IPAM on any remote."""
    setup = run_playbook(play([
        task("old ipam", "sdn_ipam", ipam="oldipam", type="phpipam", url="https://php/api", token="php-t0ken",
             section=3),
        task("dns", "sdn_dns", dns="pdns", url="http://192.0.2.10:8081", key=PDNS_KEY)], hosts="remotes"),
        inventory, tmp_path / "setup")
    assert setup.rc == 0, setup.output
    before = {r.name: (r.control.state()["ipams"], r.control.state()["dns"]) for r in remotes}
    remotes[2].control.fail("POST", "/cluster/sdn/vnets$", nth=1, status=500, message="vnet write refused")
    run = run_playbook(transaction_play(style), inventory, tmp_path / "tx", extra_args=["-vvv"])
    assert run.rc != 0
    assert "vnet write refused" in run.output
    for remote in remotes:
        state = remote.control.state()
        assert (state["ipams"], state["dns"]) == before[remote.name], remote.name
        assert not state["lock"]["held"] and not state["has_pending_changes"], remote.name
    for secret in (NETBOX_TOKEN, "pdns-other-0002", PDNS_KEY, "php-t0ken"):
        assert secret not in run.output and secret not in json.dumps(run.results), secret


def test_recovery_after_a_killed_run_undoes_its_plugin_writes(remotes, inventory, tmp_path):
    """A controller killed after writing plugins under the lock: the recovery playbook undoes them from the
    journal (created deleted, updated restored) and releases every remote."""
    setup = run_playbook(play([task("dns", "sdn_dns", dns="pdns", url="http://192.0.2.10:8081", key=PDNS_KEY)],
                              hosts="remotes"), inventory, tmp_path / "setup")
    assert setup.rc == 0, setup.output
    before = {r.name: (r.control.state()["ipams"], r.control.state()["dns"]) for r in remotes}
    journal_dir = tmp_path / "journal"
    changes = [NETBOX, with_options(POWERDNS, ttl=60, key="pdns-other-0003")]
    proc = start_killable_run(inventory, tmp_path / "run", journal_dir, changes=changes)
    wait_until(lambda: all(r.control.state()["dns"]["pdns"].get("ttl") == 60 for r in remotes))
    kill_run(proc, journal_dir)
    assert all(r.control.state()["lock"]["held"] and "netbox" in r.control.state()["ipams"] for r in remotes)

    run = run_playbook(playbook_file("recover.yml"), inventory, tmp_path / "recover",
                       env={"PVEFLEET_SDN_JOURNAL_DIR": str(journal_dir)})
    assert run.rc == 0, run.output
    for remote in remotes:
        state = remote.control.state()
        assert (state["ipams"], state["dns"]) == before[remote.name], remote.name
        assert not state["lock"]["held"], remote.name
    for secret in (NETBOX_TOKEN, PDNS_KEY, "pdns-other-0003"):
        assert secret not in run.output
