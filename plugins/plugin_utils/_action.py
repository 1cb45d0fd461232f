# Private to pvefleet.sdn: not a public API.
"""The edge between Ansible and the core for every action plugin of the collection.

The action plugins run the core in-process on the controller: no module is shipped, nothing is
forked per task, and lock tokens never travel through a module's stdout. This base class turns
task arguments (plus host variables) into a ConnectionSettings, runs the plugin's coroutine, and
turns the core's exceptions into a failed result that names the remote and PVE's message.
"""
from __future__ import annotations

import asyncio
import re
import traceback

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import require_deps
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.plugin_utils._host_settings import HostSettings


class SdnAction(ActionBase):
    """Subclasses set ARGSPEC (and the other validator keywords) and implement execute()."""

    ARGSPEC: dict = {}
    # Arguments besides the connection options that a task acting for many hosts templates per host.
    PER_HOST: tuple[str, ...] = ()
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.pop("invocation", None)  # never echo task args: they may hold secrets
        # The environment comes after host variables (connection_for), so it is not applied here.
        try:
            _validation, args = self.validate_argument_spec(argument_spec=_without_env_fallbacks(self.ARGSPEC))
        except AnsibleActionFail as exc:
            return {**result, "failed": True, "changed": False, "msg": _plain_validation_message(str(exc), self._task.args, self.ARGSPEC)}
        self.task_vars = task_vars
        self.host = task_vars.get("inventory_hostname", "localhost")
        self._host_settings = None
        self.check_mode = bool(self._task.check_mode)
        self.diff = bool(self._task.diff)
        try:
            require_deps()
            outcome = asyncio.run(self.execute(args))
        except PveFleetError as exc:
            failure = exc.to_failure()
            # API and transport errors name their remote already.
            message = str(exc) if getattr(exc, "remote", "") or str(exc).startswith(f"{self.host}:") \
                else f"{self.host}: {exc}"
            return {**result, "failed": True, "changed": False, "msg": message, "failure": failure}
        except Exception as exc:  # noqa: BLE001 - a bug: still a failed result, never a half-reported one
            return {**result, "failed": True, "changed": False, "exception": traceback.format_exc(),
                    "msg": f"{self.host}: internal error in pvefleet.sdn ({type(exc).__name__}: {exc}); "
                           "please report it with the exception shown at -vvv"}
        return {**result, **outcome}

    async def execute(self, args: dict) -> dict:
        raise NotImplementedError

    # Connection settings: task argument (or module_defaults), then host variable, then environment,
    # then default; for another host, the task's arguments as Ansible would template them for it.

    def connection_for(self, args: dict, host: str | None = None, fallback: dict | None = None) -> ConnectionSettings:
        """Settings for this task's host, or for another host of the transaction (apply, rescue,
        recovery): see _host_settings.py. `fallback` (a journal entry) fills in what neither the
        task nor the host's variables give, for a host gone from the inventory."""
        return self.host_settings(args).for_host(host, fallback)

    def host_settings(self, args: dict) -> HostSettings:
        if self._host_settings is None or self._host_settings.args is not args:
            self._host_settings = HostSettings(self, args, self.task_vars, self.PER_HOST)
        return self._host_settings

    def unknown_hosts(self, hosts: list[str]) -> dict[str, str]:
        """The `remotes` that are no inventory host, as an error: a typo would drop one silently."""
        known = set(self.task_vars.get("hostvars", {}).keys()) | {self.host}
        unknown = sorted(set(hosts) - known)
        return {"remotes": f"not in the inventory: {', '.join(unknown)}"} if unknown else {}

    def check_settings_derivable(self, args: dict) -> None:
        """Refuse, before any lock, a task whose connection options cannot be worked out for the
        other hosts of its transaction."""
        self.host_settings(args).check_derivable()


def _plain_validation_message(message: str, task_args: dict, spec: dict) -> str:
    """Ansible's conversion errors name the value's internal class (`<class '..._AnsibleTaggedStr'>`):
    say the value itself instead."""
    named = re.search(r"argument '([^']+)'", message)
    if named and named.group(1) in task_args:
        option = named.group(1)
        value = "(a secret)" if (spec.get(option) or {}).get("no_log") else repr(str(task_args[option]))
        return re.sub(r"<class '[^']+'>", value, message)
    return re.sub(r"<class '[^']*\.(?:_AnsibleTagged)?(\w+)'>", lambda match: match.group(1).lower(), message)


def _without_env_fallbacks(spec: dict) -> dict:
    return {name: {k: v for k, v in option.items() if not (name in CONNECTION and k == "fallback")}
            for name, option in spec.items()}
