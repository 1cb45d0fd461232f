# Private to pvefleet.sdn: not a public API.
"""Refuse multi-remote transactions that Ansible would not protect.

Ansible runs a block's rescue only on the host that failed unless the block has
any_errors_fatal: the healthy hosts would go on and apply while the failed one rolls back. And
`serial` runs the play in batches, so a transaction would be split into several that do not see
each other. Both are checked before any lock is taken and again before applying.
"""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput

FIX = (
    "Put the transaction in a block with `any_errors_fatal: true` and a `rescue:` that runs "
    "`pvefleet.sdn.sdn_lock: {state: rolled_back}` (the role pvefleet.sdn.sdn_transaction does "
    "this), and do not use `serial` on the play, or use the fleet task pvefleet.sdn.sdn_transaction."
)


def transaction_hosts(task_vars: dict) -> list[str]:
    return list(task_vars.get("ansible_play_hosts_all") or [task_vars.get("inventory_hostname")])


def check_batch(task_vars: dict, action: str) -> None:
    """Raise InvalidInput when `serial` runs the play's remotes in several batches."""
    hosts = transaction_hosts(task_vars)
    batch = task_vars.get("ansible_play_batch") or hosts
    if set(batch) != set(hosts):
        raise InvalidInput({"serial": (
            f"{action} would run on {len(batch)} of the play's {len(hosts)} remotes at a time "
            f"because `serial` splits the play into batches; a transaction must cover all its "
            f"remotes at once. {FIX}")})


def check_protected(task, task_vars: dict, action: str) -> None:
    """Raise InvalidInput when a multi-host transaction is not protected by any_errors_fatal."""
    hosts = transaction_hosts(task_vars)
    if len(hosts) < 2:
        return
    check_batch(task_vars, action)
    if not task.any_errors_fatal:
        raise InvalidInput({"any_errors_fatal": (
            f"{action} runs on {len(hosts)} remotes but the task is not protected by "
            f"any_errors_fatal: if one remote failed, the others would go on and apply. {FIX}")})
    if not _in_block_with_rescue(task):
        raise InvalidInput({"rescue": (
            f"{action} runs on {len(hosts)} remotes outside a block with a rescue: a failure "
            f"would stop the play with the other remotes still locked. {FIX}")})


def _in_block_with_rescue(task) -> bool:
    parent = getattr(task, "_parent", None)
    while parent is not None:
        if getattr(parent, "rescue", None):
            return True
        parent = getattr(parent, "_parent", None)
    return False
