"""The task-by-task transaction driven in process, through its action plugins' own code, as
ansible-playbook's linear strategy runs it: each task on every host (in parallel, up to `forks`), a
block with any_errors_fatal, and its rescue on every host once a task failed on any.

Much faster than ansible-playbook, so that a fault campaign can run the whole transaction hundreds
of times. Only what the plugins read of Ansible is stood in for: the task (arguments, check mode,
any_errors_fatal, the block with its rescue) and each host's variables.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.pvefleet.sdn.plugins.action.sdn_apply import ActionModule as ApplyAction
from ansible_collections.pvefleet.sdn.plugins.action.sdn_controller import ActionModule as ControllerAction
from ansible_collections.pvefleet.sdn.plugins.action.sdn_lock import ActionModule as LockAction
from ansible_collections.pvefleet.sdn.plugins.action.sdn_vnet import ActionModule as VnetAction
from ansible_collections.pvefleet.sdn.plugins.action.sdn_zone import ActionModule as ZoneAction

ACTIONS = {"sdn_lock": LockAction, "sdn_controller": ControllerAction, "sdn_zone": ZoneAction,
           "sdn_vnet": VnetAction, "sdn_apply": ApplyAction}


class _Shell:
    tmpdir = os.devnull  # never made: the plugins transfer no files


class _Connection:
    _shell = _Shell()


class _Play:
    _action_groups: dict = {}


class _Block:
    """The block the task is in: it has a rescue, as the modules require of a multi-remote transaction."""

    rescue = [{"name": "rescue"}]
    _parent = None
    _play = _Play()


class _Task:
    def __init__(self, action: str, args: dict, check_mode: bool):
        self.action = self.resolved_action = f"pvefleet.sdn.{action}"
        self.args = dict(args)
        self.async_val = 0
        self.check_mode = check_mode
        self.diff = False
        self.any_errors_fatal = True
        self.collections: list = []
        self.module_defaults: list = []
        self._ds = None
        self._parent = _Block()


@dataclass
class Step:
    action: str
    args: dict = field(default_factory=dict)


@dataclass
class BlockRun:
    results: dict[str, list[tuple[str, dict]]]  # host -> [(action, result)] in order
    rescued: bool

    def last(self, host: str, action: str) -> dict:
        return [result for name, result in self.results[host] if name == action][-1]


def run_task(action: str, args: dict, host: str, host_vars: dict[str, dict], *, check_mode: bool = False) -> dict:
    hosts = sorted(host_vars)
    task_vars = {"inventory_hostname": host, "ansible_play_hosts_all": hosts, "ansible_play_batch": hosts,
                 "ansible_play_hosts": hosts, "hostvars": host_vars, **host_vars[host]}
    plugin = ACTIONS[action](_Task(action, args, check_mode), _Connection(), None, None, None, None)
    plugin._load_name = f"pvefleet.sdn.{action}"
    return plugin.run(task_vars=task_vars)


def run_block(block: list[Step], rescue: list[Step], host_vars: dict[str, dict], *, forks: int = 5,
              check_mode: bool = False) -> BlockRun:
    """Every step on every host, in parallel up to `forks`; once a step failed on any host, the
    rest of the block is skipped and the rescue runs on every host (any_errors_fatal)."""
    hosts = sorted(host_vars)
    results: dict[str, list[tuple[str, dict]]] = {host: [] for host in hosts}

    def each(step: Step) -> bool:
        with ThreadPoolExecutor(max_workers=forks) as pool:
            outcomes = list(pool.map(lambda host: run_task(step.action, step.args, host, host_vars,
                                                           check_mode=check_mode), hosts))
        for host, outcome in zip(hosts, outcomes):
            results[host].append((step.action, outcome))
        return not any(outcome.get("failed") for outcome in outcomes)

    for step in block:
        if not each(step):
            for recovery in rescue:
                each(recovery)
            return BlockRun(results, rescued=True)
    return BlockRun(results, rescued=False)
