# Private to pvefleet.sdn: not a public API.
"""The edge between Ansible and the core for every action plugin of the collection.

The action plugins run the core in-process on the controller: no module is shipped, nothing is
forked per task, and lock tokens never travel through a module's stdout. This base class turns
task arguments (plus host variables) into a ConnectionSettings, runs the plugin's coroutine, and
turns the core's exceptions into a failed result that names the remote and PVE's message.
"""
from __future__ import annotations

import asyncio
import os

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, CONNECTION_DEFAULTS
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._deps import require_deps
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput, PveFleetError

HOSTVAR_PREFIX = "pvefleet_sdn_"


class SdnAction(ActionBase):
    """Subclasses set ARGSPEC (and the other validator keywords) and implement execute()."""

    ARGSPEC: dict = {}
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.pop("invocation", None)  # never echo task args: they may hold secrets
        # The environment comes after host variables (connection_for), so it is not applied here.
        _validation, args = self.validate_argument_spec(argument_spec=_without_env_fallbacks(self.ARGSPEC))
        self.task_vars = task_vars
        self.host = task_vars.get("inventory_hostname", "localhost")
        self.check_mode = bool(self._task.check_mode)
        self.diff = bool(self._task.diff)
        try:
            require_deps()
            outcome = asyncio.run(self.execute(args))
        except PveFleetError as exc:
            failure = exc.to_failure()
            # API and transport errors name their remote already.
            message = str(exc) if getattr(exc, "remote", "") else f"{self.host}: {exc}"
            return {**result, "failed": True, "changed": False, "msg": message, "failure": failure}
        return {**result, **outcome}

    async def execute(self, args: dict) -> dict:
        raise NotImplementedError

    # Connection settings: task argument (or module_defaults), then host variable, then default.

    def connection_for(self, args: dict, host: str | None = None, fallback: dict | None = None) -> ConnectionSettings:
        """Settings for this task's host, or for another host of the transaction (rescue, recovery).

        For this host the task's arguments win over its host variables; for another host its own
        host variables win, and the task's arguments stand in for what is shared by the fleet.
        `fallback` (a journal entry) fills in what neither has, for a host gone from the inventory.
        """
        host = host or self.host
        # Another host's variables are computed whole on each access: fetched once per host.
        variables = self.task_vars if host == self.host else self.task_vars.get("hostvars", {}).get(host, {})
        params = {}
        for name in CONNECTION:
            from_args, from_vars = args.get(name), self._host_var(variables, HOSTVAR_PREFIX + name)
            first, second = (from_args, from_vars) if host == self.host else (from_vars, from_args)
            value = first if first is not None else second
            if value is None and fallback:
                value = fallback.get(name)
            if value is None:
                value = _from_environment(name)
            params[name] = value if value is not None else CONNECTION_DEFAULTS.get(name)
        return ConnectionSettings.from_params(params, remote=host)

    def _host_var(self, variables, name: str):
        if name not in variables:
            return None
        return self._templar.template(variables[name])


def _without_env_fallbacks(spec: dict) -> dict:
    return {name: {k: v for k, v in option.items() if not (name in CONNECTION and k == "fallback")}
            for name, option in spec.items()}


def _from_environment(name: str):
    """The PROXMOX_* variable of a connection option, converted as the argument spec would.

    An empty variable counts as unset (AWX injects empty strings for blank inputs): an empty
    PROXMOX_VALIDATE_CERTS must not turn TLS verification off. A value that does not convert is
    an error naming the variable, before any request.
    """
    fallback = CONNECTION[name].get("fallback")
    if not fallback:
        return None
    for variable in fallback[1]:
        value = os.environ.get(variable, "").strip()
        if not value:
            continue
        kind = CONNECTION[name].get("type")
        try:
            if kind == "bool":
                return boolean(value, strict=True)
            if kind in ("int", "float"):
                return {"int": int, "float": float}[kind](value)
        except (TypeError, ValueError):
            raise InvalidInput({name: f"environment variable {variable}={value!r} is not a valid {kind}"}) from None
        return value
    return None
