"""The transaction's promise on every documented path: each way of giving connection settings, crossed
with each style of transaction, crossed with each outcome. After every run, every remote's lock,
pending and running configuration is read through the emulator's inspection API, not the
collection's own report, and the play's result is checked to say what happened.

    ways      task options | module_defaults templated from host vars | pvefleet_sdn_* host vars |
              PROXMOX_* environment | the inventory plugin
    styles    block/rescue (the README's quick start) | the role, with each of its engines (tasks,
              fleet) | sdn_transaction
    outcomes  success | a change failing on the first, a middle or the last remote | the apply
              request failing | a follow-up failing after the commit | SIGTERM mid-run
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from playbook import BIN, REPO, run_playbook

from pvefleet_emulator.testing import EmulatorProcess

pytestmark = [pytest.mark.integration, pytest.mark.exhaustive]

HOSTS = ("remote001", "remote002", "remote003")
CONTROLLERS = [{"controller": "evpnctl", "type": "evpn", "asn": 65000, "peers": ["10.0.0.1"]}]
ZONES = [{"zone": "evpn1", "type": "evpn", "controller": "evpnctl", "vrf_vxlan": 10000}]
VNETS = [{"vnet": "vnet1", "zone": "evpn1", "tag": 11000}]
# The kinds of PVE 9 and 9.2, in the same transaction: a prefix list and a route map matching it, a
# fabric and a node of it.
PREFIX_LISTS = [{"prefix_list": "tenants", "entries": [{"action": "permit", "prefix": "10.0.0.0/8", "le": 32}]}]
ROUTE_MAPS = [{"route_map": "evpn-in", "entries": [
    {"order": 10, "action": "permit", "match": [{"key": "ip-address-prefix-list", "value": "tenants"}]}]}]
FABRICS = [{"fabric": "underlay", "protocol": "openfabric", "ip_prefix": "10.255.0.0/16"}]
FABRIC_NODES = [{"fabric": "underlay", "node": "pve1", "ip": "10.255.0.1", "interfaces": [{"name": "ens19"}]}]
# The connection options, and the per-host variables the templated ways take them from.
TEMPLATED = {"api_host": "{{ pve_host }}", "api_port": "{{ pve_port }}", "api_user": "{{ pve_user }}",
             "api_token_id": "{{ pve_token }}", "api_token_secret": "{{ pve_secret }}", "ca_path": "{{ pve_ca }}"}
RENAMED = {"pvefleet_sdn_api_host": "pve_host", "pvefleet_sdn_api_port": "pve_port", "pvefleet_sdn_api_user": "pve_user",
           "pvefleet_sdn_api_token_id": "pve_token", "pvefleet_sdn_api_token_secret": "pve_secret",
           "pvefleet_sdn_ca_path": "pve_ca"}
WAYS = ("task", "module_defaults", "hostvars", "environment", "inventory_plugin")
STYLES = ("block", "role", "role_fleet", "fleet")
OUTCOMES = ("success", "change_fails_first", "change_fails_middle", "change_fails_last", "apply_fails",
            "followup_fails", "sigterm")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with EmulatorProcess(remotes=3, nodes=2, task_seconds=0.2, workdir=tmp_path_factory.mktemp("matrix")) as emu:
        yield emu


@dataclass
class Setup:
    """An inventory, the environment of the run, and what each task of the play gets."""

    inventory: Path
    env: dict = field(default_factory=dict)
    task_options: dict = field(default_factory=dict)
    play_keywords: dict = field(default_factory=dict)


def setup_for(way: str, fleet: EmulatorProcess, workdir: Path) -> Setup:
    workdir.mkdir(parents=True, exist_ok=True)
    hostvars = {name: dict(info.vars) for name, info in fleet.remotes.items()}
    for variables in hostvars.values():
        variables.pop("pvefleet_sdn_fingerprint", None)  # trusted through ca_path only, as each way can give it
    inventory = workdir / "inventory.yml"
    if way in ("task", "module_defaults"):
        for variables in hostvars.values():
            for old, new in RENAMED.items():
                variables[new] = variables.pop(old)
    if way == "environment":
        # What a fleet shares comes from the environment (as an AWX credential injects it), the
        # address and secret of each remote from its host variables.
        for variables in hostvars.values():
            del variables["pvefleet_sdn_api_user"], variables["pvefleet_sdn_api_token_id"]
    if way == "inventory_plugin":
        inventory = workdir / "fleet.pvefleet.yml"
        env = {"ANSIBLE_INVENTORY_ENABLED": "pvefleet.sdn.remotes"}
        remotes = []
        for index, (name, variables) in enumerate(sorted(hostvars.items())):
            env[f"PVE_SECRET_{index}"] = variables["pvefleet_sdn_api_token_secret"]
            remotes.append({"id": name, "host": variables["pvefleet_sdn_api_host"],
                            "port": variables["pvefleet_sdn_api_port"], "user": variables["pvefleet_sdn_api_user"],
                            "token_id": variables["pvefleet_sdn_api_token_id"], "token_secret_env": f"PVE_SECRET_{index}",
                            "ca_path": variables["pvefleet_sdn_ca_path"]})
        inventory.write_text(yaml.safe_dump({"plugin": "pvefleet.sdn.remotes", "remotes": remotes}))
        return Setup(inventory, env)
    inventory.write_text(yaml.safe_dump({"all": {"children": {"remotes": {"hosts": hostvars}}}}))
    if way == "task":
        return Setup(inventory, task_options=dict(TEMPLATED))
    if way == "module_defaults":
        return Setup(inventory, play_keywords={"module_defaults": {"group/pvefleet.sdn.sdn": dict(TEMPLATED)}})
    if way == "environment":
        return Setup(inventory, env={"PROXMOX_USER": "root@pam", "PROXMOX_TOKEN_ID": "fleet"})
    return Setup(inventory)


def play_for(style: str, setup: Setup) -> list[dict]:
    options = setup.task_options
    play = {"name": "transaction", "hosts": "remotes", "gather_facts": False, **setup.play_keywords}
    if style == "fleet":
        play["tasks"] = [{"name": "fleet", "pvefleet.sdn.sdn_transaction": {
            "prefix_lists": PREFIX_LISTS, "route_maps": ROUTE_MAPS, "fabrics": FABRICS, "fabric_nodes": FABRIC_NODES,
            "controllers": CONTROLLERS, "zones": ZONES, "vnets": VNETS, **options}}]
    elif style.startswith("role"):
        engine = {"sdn_transaction_engine": "fleet"} if style == "role_fleet" else {}
        play["roles"] = [{"role": "pvefleet.sdn.sdn_transaction", "vars": {
            "sdn_transaction_prefix_lists": PREFIX_LISTS, "sdn_transaction_route_maps": ROUTE_MAPS,
            "sdn_transaction_fabrics": FABRICS, "sdn_transaction_fabric_nodes": FABRIC_NODES,
            "sdn_transaction_controllers": CONTROLLERS, "sdn_transaction_zones": ZONES,
            "sdn_transaction_vnets": VNETS, **engine}}]
    else:
        play["tasks"] = [{
            "name": "Change SDN as one transaction", "any_errors_fatal": True,
            "block": [
                {"name": "lock", "pvefleet.sdn.sdn_lock": {"state": "locked", **options}},
                {"name": "prefix list", "pvefleet.sdn.sdn_prefix_list": {**PREFIX_LISTS[0], **options}},
                {"name": "route map", "pvefleet.sdn.sdn_route_map": {**ROUTE_MAPS[0], **options}},
                {"name": "fabric", "pvefleet.sdn.sdn_fabric": {**FABRICS[0], **options}},
                {"name": "fabric node", "pvefleet.sdn.sdn_fabric_node": {**FABRIC_NODES[0], **options}},
                {"name": "controller", "pvefleet.sdn.sdn_controller": {**CONTROLLERS[0], **options}},
                {"name": "zone", "pvefleet.sdn.sdn_zone": {**ZONES[0], **options}},
                {"name": "vnet", "pvefleet.sdn.sdn_vnet": {**VNETS[0], **options}},
                {"name": "apply", "pvefleet.sdn.sdn_apply": dict(options)}],
            "rescue": [
                {"name": "rollback", "pvefleet.sdn.sdn_lock": {"state": "rolled_back", **options},
                 "register": "rollback"},
                {"name": "fail", "ansible.builtin.fail": {"msg": "rolled back: {{ rollback.msg }}"}}]}]
    return [play]


def fabric_sections(sections: dict) -> dict:
    """fabrics.cfg's sections, comparable with the running copy's (which adds `id`, and `interfaces: []`)."""
    return {key: {k: v for k, v in value.items() if k != "id" and v != []} for key, value in sections.items()}


def remote_state(info) -> str:
    """What the emulator says of one remote: 'clean', 'applied', or what is wrong with it."""
    state = info.control.state()
    if state["lock"]["held"]:
        return "locked"
    fabrics = state["fabrics"]
    # has_pending_changes leaves fabrics out (as PVE's does): compare fabrics.cfg with its running copy.
    if state["has_pending_changes"] or fabric_sections(fabrics["pending"]) != fabric_sections(fabrics["running"]):
        return "pending"
    running = state["running"]
    ours = ("evpnctl" in running["controllers"], "evpn1" in running["zones"], "vnet1" in running["vnets"],
            "tenants" in running["prefix-lists"], "evpn-in_10" in running["route-maps"],
            "underlay" in fabrics["running"], "underlay_pve1" in fabrics["running"])
    if all(ours):
        return "applied"
    return "clean" if not any(ours) else f"partly applied {ours}"


def sigterm_mid_run(style: str, setup: Setup, fleet: EmulatorProcess, workdir: Path) -> tuple[int, str]:
    """Start the play, slowed down, and SIGTERM ansible-playbook once every remote is locked and
    holds a pending change (before any apply); then let the watchdog or the signal handler work."""
    for info in fleet.remotes.values():
        info.control.latency(150)
    playbook = workdir / "playbook.yml"
    playbook.write_text(yaml.safe_dump(play_for(style, setup), sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               PVEFLEET_SDN_JOURNAL_DIR=str(workdir / "journal"), ANSIBLE_NOCOLOR="1", **setup.env)
    proc = subprocess.Popen([str(BIN / "ansible-playbook"), "-i", str(setup.inventory), str(playbook)], env=env,
                            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True)
    try:
        deadline = time.monotonic() + 90
        while not all(state["lock"]["held"] and state["has_pending_changes"]
                      for state in (info.control.state() for info in fleet.remotes.values())):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=120)[0]
    finally:
        for info in fleet.remotes.values():
            info.control.clear_faults()
    # The watchdog works on after ansible-playbook is gone: give it the time a rollback takes.
    deadline = time.monotonic() + 30
    while any(remote_state(info) != "clean" for info in fleet.remotes.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return proc.returncode, output


def inject(outcome: str, fleet: EmulatorProcess) -> str | None:
    """Set the outcome's fault; the host it hits."""
    order = sorted(fleet.remotes)  # the lock order is by address, which follows the names here
    target = {"change_fails_first": order[0], "change_fails_middle": order[1], "change_fails_last": order[2],
              "apply_fails": order[1], "followup_fails": order[1]}.get(outcome)
    control = fleet.remotes[target].control if target else None
    if outcome.startswith("change_fails"):
        control.fail("POST", "^/cluster/sdn/vnets$", message="injected: disk full")
    elif outcome == "apply_fails":
        control.fail("PUT", "^/cluster/sdn$", message="injected: could not commit")
    elif outcome == "followup_fails":
        control.fail("GET", r"^/nodes/[^/]+/tasks/[^/]+/status$", times=None, message="injected: status lost")
    return target


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("way", WAYS)
def test_the_promise_holds(fleet, tmp_path, way, style, outcome):
    if way == "task" and style.startswith("role"):
        pytest.skip("the role's tasks take no connection options: it is given them through module_defaults, "
                    "host variables, the environment or the inventory plugin")
    for info in fleet.remotes.values():
        info.control.clear_faults()
        info.control.reset()
    setup = setup_for(way, fleet, tmp_path)
    if outcome == "sigterm":
        rc, output = sigterm_mid_run(style, setup, fleet, tmp_path)
        states = {name: remote_state(info) for name, info in fleet.remotes.items()}
        assert states == dict.fromkeys(HOSTS, "clean"), output
        assert rc != 0
        return
    target = inject(outcome, fleet)
    run = run_playbook(play_for(style, setup), setup.inventory, tmp_path, env=setup.env)
    for info in fleet.remotes.values():
        info.control.clear_faults()
    states = {name: remote_state(info) for name, info in fleet.remotes.items()}

    if outcome == "success":
        assert run.rc == 0, run.output
        assert states == dict.fromkeys(HOSTS, "applied"), run.output
        return
    assert run.rc != 0, run.output
    if outcome.startswith("change_fails"):
        # All or nothing: the change failed on one remote, so it is on none.
        assert states == dict.fromkeys(HOSTS, "clean"), run.output
        assert "injected: disk full" in run.output
        return
    # Applying had begun: the remote whose apply PVE refused was rolled back; each other remote is
    # wholly applied; the result names the failed remote and what became of it.
    expected = dict.fromkeys(HOSTS, "applied")
    if outcome == "apply_fails":
        expected[target] = "clean"
    assert states == expected, run.output
    assert target in run.output
    if outcome == "apply_fails":
        assert "injected: could not commit" in run.output and "rolled_back" in run.output.lower()
    else:
        assert "applied, but the reload's result is unknown" in run.output
        assert "pvesh get /nodes/" in run.output  # how to check it by hand
