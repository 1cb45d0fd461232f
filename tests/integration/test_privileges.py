"""Least privilege, against remotes that check PVE's permissions (the emulator does, as pveproxy).

The guide's recipe (docs/docsite/rst/privileges.rst) is read and carried out on every remote: its
`pveum` commands become the emulator's access configuration. Then each documented playbook and
module runs with the recipe's change token, its audit token, the change role without one of its
privileges, and a privilege-separated token whose user has the rights but whose own ACL does not.
After every run, every remote's lock and pending configuration are read through the emulator.
"""
from __future__ import annotations

import re
import shlex

import pytest
import yaml
from playbook import REPO, run_playbook
from test_transaction import assert_clean, fleet_play, role_play

RECIPE = REPO / "docs" / "docsite" / "rst" / "privileges.rst"
USER = "fleet@pve"


def recipe_commands() -> list[list[str]]:
    """The `pveum` commands of the guide's "Two tokens" block, in order."""
    section = RECIPE.read_text().split("Two tokens", 1)[1]
    block = re.split(r"\.\. code-block:: \w+\n", section, maxsplit=1)[1]
    commands = []
    for line in block.splitlines():
        if line and not line.startswith(" "):
            break  # the end of the code block
        if line.strip().startswith("pveum "):
            commands.append(shlex.split(line.strip()))
    assert len(commands) >= 6, commands
    return commands


def carry_out(control, commands: list[list[str]]) -> dict[str, str]:
    """The commands as the emulator's access API; the secret of each token made, by token name."""
    secrets = {}
    for words in commands:
        options = dict(re.findall(r"--([\w-]+) (\S+)", " ".join(f"'{w}'" if " " in w else w for w in words[2:])))
        options = {key: value.strip("'") for key, value in options.items()}
        if words[1:3] == ["role", "add"]:
            control.add_role(words[3], re.split(r"[,\s]+", options["privs"]))
        elif words[1:3] == ["user", "add"]:
            control.add_user(words[3])
        elif words[1:4] == ["user", "token", "add"]:
            made = control.add_token(words[4], words[5], privsep=options.get("privsep", "1") == "1")
            secrets[words[5]] = made["value"]
        elif words[1:3] == ["acl", "modify"]:
            control.add_acl(words[3], options["roles"].split(","), users=[options["users"]] if "users" in options else [],
                            tokens=[options["tokens"]] if "tokens" in options else [],
                            propagate=options.get("propagate", "1") == "1")
        else:
            raise AssertionError(f"the test does not know this command of the recipe: {words}")
    return secrets


@pytest.fixture
def fleet_with_recipe(remotes, emulator):
    """Every remote set up as the guide says, plus the tokens that must fail; their secrets."""
    commands = recipe_commands()
    secrets = {}
    for remote in remotes:
        remote.control.reset_access()
        made = carry_out(remote.control, commands)
        # The change role minus its one privilege (an empty role), and a privsep token with no ACL
        # entry of its own while its user has every right.
        remote.control.add_role("PVEFleetSDNMinusOne", [])
        made["minusone"] = remote.control.add_token(USER, "minusone")["value"]
        remote.control.add_acl("/sdn", "PVEFleetSDNMinusOne", tokens=[f"{USER}!minusone"])
        made["bare"] = remote.control.add_token(USER, "bare")["value"]
        secrets[remote.name] = made
    yield secrets
    for remote in remotes:
        remote.control.reset_access()


def inventory_for(inventory, tmp_path, secrets, token: str):
    data = yaml.safe_load(inventory.read_text())
    for host, variables in data["all"]["children"]["remotes"]["hosts"].items():
        variables.update(pvefleet_sdn_api_user=USER, pvefleet_sdn_api_token_id=token,
                         pvefleet_sdn_api_token_secret=secrets[host][token])
    path = tmp_path / f"inventory-{token}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def no_lock_was_ever_taken(remotes):
    for remote in remotes:
        state = remote.control.state()
        assert state["issued_lock_tokens"] == [] and not state["lock"]["held"], remote.name


def example(name: str) -> str:
    return (REPO / "docs" / "examples" / name).read_text()


def test_the_recipes_change_token_runs_the_documented_playbooks(remotes, inventory, tmp_path, fleet_with_recipe):
    hosts = inventory_for(inventory, tmp_path, fleet_with_recipe, "change")
    for name in ("transaction_task_by_task.yml", "transaction_role.yml"):
        run = run_playbook(example(name), hosts, tmp_path / name)
        assert run.rc == 0, run.output
    assert_clean(remotes, applied=True)
    fleet = run_playbook(fleet_play(vnets=[{"vnet": "vnet2", "zone": "evpn1", "tag": 12000}]), hosts, tmp_path / "f")
    assert fleet.rc == 0, fleet.output
    info = run_playbook(example("inspect.yml"), hosts, tmp_path / "inspect")
    assert info.rc == 0, info.output
    assert "lock free, nothing pending" in info.output
    recover = run_playbook((REPO / "playbooks" / "recover.yml").read_text(), hosts, tmp_path / "recover")
    assert recover.rc == 0, recover.output


def test_the_audit_token_reads_and_plans_but_never_locks(remotes, inventory, tmp_path, fleet_with_recipe):
    hosts = inventory_for(inventory, tmp_path, fleet_with_recipe, "audit")
    info = run_playbook(example("inspect.yml"), hosts, tmp_path / "inspect")
    assert info.rc == 0, info.output
    assert "lock unknown, nothing pending" in info.output  # probing the lock needs SDN.Allocate
    for name, play in (("role", role_play()), ("fleet", fleet_play())):
        checked = run_playbook(play, hosts, tmp_path / f"{name}-check", check=True)
        assert checked.rc == 0, checked.output
        assert "check mode: a real run would fail (remote001: the API token lacks SDN.Allocate on /sdn" in checked.output
        real = run_playbook(play, hosts, tmp_path / name)
        assert real.rc != 0
        assert "lacks SDN.Allocate on /sdn" in real.output, real.output
    recover = run_playbook((REPO / "playbooks" / "recover.yml").read_text(), hosts, tmp_path / "recover")
    assert recover.rc == 0, recover.output
    assert "lock unknown before" in recover.output
    no_lock_was_ever_taken(remotes)
    assert_clean(remotes, applied=False)


@pytest.mark.parametrize("token", ["minusone", "bare"])
@pytest.mark.parametrize("style", ["fleet", "role", "block"])
def test_a_token_short_of_a_privilege_is_refused_before_any_lock(remotes, inventory, tmp_path, fleet_with_recipe,
                                                                 token, style):
    hosts = inventory_for(inventory, tmp_path, fleet_with_recipe, token)
    plays = {"fleet": fleet_play(), "role": role_play(),
             "block": yaml.safe_load(example("transaction_task_by_task.yml"))}
    run = run_playbook(plays[style], hosts, tmp_path)
    assert run.rc != 0
    assert "remote001: the API token lacks SDN.Allocate on /sdn" in run.output, run.output
    no_lock_was_ever_taken(remotes)


def test_a_zone_confined_token_is_told_what_it_lacks(remotes, inventory, tmp_path, fleet_with_recipe):
    # The guide's second recipe: the role on /sdn without propagation and on one zone; creating a
    # zone (on /sdn/zones) is then refused before any lock, naming that path.
    for remote in remotes:
        remote.control.remove_acl("/sdn", "PVEFleetSDN", tokens=[f"{USER}!change"])
        remote.control.add_acl("/sdn", "PVEFleetSDN", tokens=[f"{USER}!change"], propagate=False)
        remote.control.add_acl("/sdn/zones/evpn1", "PVEFleetSDN", tokens=[f"{USER}!change"])
    hosts = inventory_for(inventory, tmp_path, fleet_with_recipe, "change")
    run = run_playbook(fleet_play(), hosts, tmp_path)
    assert run.rc != 0
    assert "lacks SDN.Allocate on /sdn/controllers, SDN.Allocate on /sdn/zones" in run.output, run.output
    no_lock_was_ever_taken(remotes)
