"""The action plugins' refusals that come before any request: run through each plugin's own run(),
with a stand-in for the Ansible task and a client that fails the test if it is ever used."""
from __future__ import annotations

import pytest

from ansible_collections.pvefleet.sdn.plugins.action import sdn_apply, sdn_lock, sdn_transaction
from ansible_collections.pvefleet.sdn.plugins.module_utils import _client

HOSTS = ("r1", "r2", "r3")


class Task:
    def __init__(self, args, *, any_errors_fatal=True, rescue=True, check_mode=False):
        self.args, self.async_val, self.check_mode, self.diff = dict(args), 0, check_mode, False
        self.any_errors_fatal, self.collections, self.module_defaults, self._ds = any_errors_fatal, [], [], None
        self.action = "pvefleet.sdn.test"
        play = type("Play", (), {"_action_groups": {}})()
        self._parent = type("Block", (), {"rescue": [{}] if rescue else [], "_parent": None, "_play": play})()


class Connection:
    _shell = type("Shell", (), {"tmpdir": "/dev/null"})()


@pytest.fixture(autouse=True)
def no_request(monkeypatch):
    class Refusing:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a request was attempted")

    monkeypatch.setattr(_client, "PveClient", Refusing)
    for module in (sdn_apply, sdn_lock, sdn_transaction):
        monkeypatch.setattr(module, "PveClient", Refusing, raising=False)


def run(plugin_module, args, host="r1", batch=HOSTS, hostvars=None, **task):
    variables = {h: {"pvefleet_sdn_api_host": f"{h}.example", "pvefleet_sdn_api_user": "root@pam",
                     "pvefleet_sdn_api_token_id": "fleet", "pvefleet_sdn_api_token_secret": "s"} for h in HOSTS}
    variables.update(hostvars or {})
    task_vars = {"inventory_hostname": host, "ansible_play_hosts_all": list(HOSTS), "ansible_play_batch": list(batch),
                 "ansible_play_hosts": list(batch), "hostvars": variables, **variables[host]}
    plugin = plugin_module.ActionModule(Task(args, **task), Connection(), None, None, None, None)
    plugin._load_name = "pvefleet.sdn.test"
    return plugin.run(task_vars=task_vars)


@pytest.mark.parametrize(("task", "rule"), [({"any_errors_fatal": False}, "any_errors_fatal"),
                                            ({"rescue": False}, "rescue")])
def test_an_unprotected_multi_remote_lock_is_refused(task, rule, tmp_path):
    result = run(sdn_lock, {"state": "locked", "journal_dir": str(tmp_path)}, **task)
    assert result["failed"] and rule in result["msg"] and "pvefleet.sdn.sdn_transaction" in result["msg"]


def test_a_play_split_by_serial_is_refused(tmp_path):
    result = run(sdn_lock, {"journal_dir": str(tmp_path)}, batch=("r1", "r2"))
    assert result["failed"] and "`serial` splits the play into batches" in result["msg"]


def test_an_empty_secret_is_named_before_any_request(tmp_path):
    result = run(sdn_lock, {"journal_dir": str(tmp_path)}, hostvars={"r1": {
        "pvefleet_sdn_api_host": "r1.example", "pvefleet_sdn_api_user": "root@pam", "pvefleet_sdn_api_token_id": "fleet",
        "pvefleet_sdn_api_token_secret": ""}})
    assert result["failed"] and "api_token_secret: is empty" in result["msg"]


def test_a_remote_the_inventory_could_not_complete_stops_the_fleet_task(tmp_path):
    result = run(sdn_transaction, {"journal_dir": str(tmp_path)},
                 hostvars={"r2": {"pvefleet_sdn_inventory_error": "the environment variable X is not set"}})
    assert result["failed"] and "r2: the environment variable X is not set" in result["msg"]


def test_the_fleet_task_refuses_remote_objects_for_a_stranger(tmp_path):
    result = run(sdn_transaction, {"journal_dir": str(tmp_path), "remote_objects": {"r9": {"zones": []}}})
    assert result["failed"] and "remote_objects: names r9, which is not a remote of this transaction" in result["msg"]


def test_a_value_that_does_not_convert_is_shown_plainly(tmp_path):
    result = run(sdn_apply, {"timeout": "soon", "journal_dir": str(tmp_path)})
    assert result["failed"] and "'soon'" in result["msg"] and "Tagged" not in result["msg"]


def test_a_boolean_host_variable_is_parsed_strictly(tmp_path):
    result = run(sdn_lock, {"journal_dir": str(tmp_path)},
                 hostvars={h: {"pvefleet_sdn_api_host": f"{h}.example", "pvefleet_sdn_api_user": "root@pam",
                               "pvefleet_sdn_api_token_id": "fleet", "pvefleet_sdn_api_token_secret": "s",
                               "pvefleet_sdn_validate_certs": "maybe"} for h in HOSTS})
    assert result["failed"] and "pvefleet_sdn_validate_certs of r1 is 'maybe', not a valid bool" in result["msg"]
