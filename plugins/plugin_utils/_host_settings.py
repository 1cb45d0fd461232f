# Private to pvefleet.sdn: not a public API.
"""The connection settings of any host of the play, as that host's own task would have them.

A task that acts for other hosts (the transaction-wide apply in sdn_apply, the rescue's
rolled_back, sdn_transaction) runs in one host's worker, with the task's arguments and
module_defaults templated for that host only: `api_host: "{{ pve_host }}"` says the current
host's address. Standing in for another host, those values would send its lock token and
credentials to the wrong remote. So for another host the task's connection arguments are
templated again from their raw form, with that host's variables, as Ansible would for it.

The raw form is read from the task (its data structure and module_defaults); ansible-core keeps it
in different places across releases. Before that is trusted, the current host's values are worked
out the same way and compared with what Ansible gave the task: where they differ, the settings of
the other hosts cannot be known for sure, and the caller is refused, naming the option.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.parsing.mod_args import ModuleArgsParser
from ansible.playbook.task import Task

from ansible_collections.pvefleet.sdn.plugins.module_utils._argspec import CONNECTION, CONNECTION_DEFAULTS
from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput

HOSTVAR_PREFIX = "pvefleet_sdn_"
# Set by the inventory plugin on a remote whose settings it could not make (remotes.py).
INVENTORY_ERROR = "pvefleet_sdn_inventory_error"
# ansible-core 2.19 keeps a task's module_defaults untemplated (they are templated with its args).
_RAW_MODULE_DEFAULTS = hasattr(Task, "_post_validate_module_defaults")
FIX = ("give per-remote connection settings as host variables (pvefleet_sdn_<option>, or the inventory "
       "plugin pvefleet.sdn.remotes), or as task options or module_defaults templated from host variables")


class HostSettings:
    """`args`: the task's validated arguments for the current host. `task_vars`: its variables.
    `per_host`: more arguments than the connection options that each host has its own value of (the
    fleet task's objects)."""

    def __init__(self, action, args: dict, task_vars: dict, per_host: tuple[str, ...] = ()):
        self.action = action
        self.args = args
        self.task_vars = task_vars
        self.per_host = tuple(per_host)
        self.host = task_vars.get("inventory_hostname", "localhost")
        self._raw: Optional[dict] = None  # the task's connection arguments untemplated, once needed
        self._templates: dict[str, dict] = {}  # host -> its templated arguments
        self._checked = False

    def for_host(self, host: str | None = None, fallback: dict | None = None) -> ConnectionSettings:
        """`fallback` (a journal entry) fills in what neither the task nor the host's variables
        give, for a host gone from the inventory."""
        host = host or self.host
        if host == self.host:
            given, variables = self.args, self.task_vars
        else:
            given, variables = self._args_for(host), self.task_vars.get("hostvars", {}).get(host, {})
        if variables.get(INVENTORY_ERROR):
            raise InvalidInput({host: f"{variables[INVENTORY_ERROR]}: its connection settings are incomplete"})
        params = {}
        for name in CONNECTION:
            value = given.get(name)
            if value is None:
                value = _convert(name, variables.get(HOSTVAR_PREFIX + name), f"host variable {HOSTVAR_PREFIX}{name}",
                                 host) if HOSTVAR_PREFIX + name in variables else None
            if value is None and fallback:
                value = fallback.get(name)
            if value is None:
                value = _from_environment(name)
            params[name] = value if value is not None else CONNECTION_DEFAULTS.get(name)
        return ConnectionSettings.from_params(params, remote=host)

    def check_derivable(self) -> None:
        """Refuse (before any lock) when the other hosts' settings could not be worked out for sure."""
        if self._templated():
            self._self_check()

    def args_for(self, host: str, names: tuple[str, ...]) -> dict:
        """The arguments `names` (among `per_host`) as `host`'s own task would have them."""
        given = self.args if host == self.host else self._args_for(host)
        return {name: given[name] if name in given else self.args.get(name) for name in names}

    # Templating for another host

    def _args_for(self, host: str) -> dict:
        if not self._templated():
            return self.args  # nothing templated: the same literal values for every host
        self._self_check()
        if host not in self._templates:
            self._templates[host] = self._template(host)
        return self._templates[host]

    def _templated(self) -> bool:
        return any(_is_template(value) for value in self._raw_args().values())

    def _self_check(self) -> None:
        if self._checked:
            return
        mine = self._template(self.host)
        for name in self._raw_args():
            ansible_gave = _converted(name, self.action._task.args.get(name), self.host)
            if mine.get(name) != ansible_gave:
                raise InvalidInput({name: (
                    f"is templated in a way this task cannot repeat for the other remotes of the transaction "
                    f"(for {self.host} it gives {_shown(name, mine.get(name))}, Ansible gave "
                    f"{_shown(name, ansible_gave)}); {FIX}")})
        self._checked = True

    def _template(self, host: str) -> dict:
        task = self.action._task
        manager = getattr(task, "_variable_manager", None)
        inventory_host = manager._inventory.get_host(host) if manager is not None else None
        if manager is None or inventory_host is None:
            raise InvalidInput({"connection": f"the settings of {host} cannot be worked out from here ({FIX})"})
        variables = manager.get_vars(play=task._parent._play, host=inventory_host, task=task,
                                     _hosts=self.task_vars.get("ansible_play_hosts"),
                                     _hosts_all=self.task_vars.get("ansible_play_hosts_all"))
        templar = self.action._templar.copy_with_new_env(available_variables=variables)
        omit = variables.get("omit")
        values = {}
        for name, raw in self._raw_args().items():
            try:
                value = templar.template(raw)
            except Exception as exc:  # noqa: BLE001 - Ansible's templating errors have no common base in 2.16-2.19
                raise InvalidInput({name: f"cannot be worked out for {host}: {exc}; {FIX}"}) from None
            if value is not None and value != omit:
                values[name] = _converted(name, value, host)
        return values

    def _raw_args(self) -> dict:
        """The task's connection options as written, over the module_defaults that apply to it."""
        if self._raw is None:
            task = self.action._task
            raw = _raw_module_defaults(task)
            try:
                _action, task_args, _delegate = ModuleArgsParser(task_ds=task._ds, collection_list=task.collections).parse()
            except Exception:  # noqa: BLE001 - a task built in code (tests) has no data structure
                task_args = {}
            raw.update(task_args or {})
            self._raw = {name: raw[name] for name in (*CONNECTION, *self.per_host) if raw.get(name) is not None}
        return self._raw


def _raw_module_defaults(task) -> dict:
    """The module_defaults of this task's action (its groups', then its own), untemplated."""
    if _RAW_MODULE_DEFAULTS:
        layers = list(task.module_defaults or [])
    else:
        # Older releases template the task's own copy; its parents' data structures keep the raw form.
        layers, node = [], task
        while node is not None:
            data = getattr(node, "_ds", None)
            if isinstance(data, dict) and data.get("module_defaults"):
                layers.append(data["module_defaults"])
            node = getattr(node, "_parent", None)
        play = getattr(getattr(task, "_parent", None), "_play", None)
        data = getattr(play, "_ds", None)
        if isinstance(data, dict) and data.get("module_defaults"):
            layers.append(data["module_defaults"])
        layers.reverse()
    merged: dict = {}
    for layer in layers:
        for item in layer if isinstance(layer, list) else [layer]:
            merged.update(item or {})
    action = getattr(task, "resolved_action", None) or task.action
    play = task._parent._play
    groups = (getattr(play, "_action_groups", None) or {}).get(action, [])
    result: dict = {}
    for key, values in merged.items():
        if key.startswith("group/") and key[len("group/"):] in groups:
            result.update(values or {})
    result.update(merged.get(action) or {})
    return result


def _is_template(value) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_is_template(key) or _is_template(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_is_template(item) for item in value)
    return False


def _plain(value):
    """A templated value without Ansible's tags and lazy containers, for comparing and storing."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _converted(name: str, value, host: str):
    """A connection option converted as its spec says; any other argument as plain data."""
    return _convert(name, _plain(value), "option", host) if name in CONNECTION else _plain(value)


def _shown(name: str, value: Any) -> str:
    spec = CONNECTION.get(name) or {}
    return "(a secret)" if spec.get("no_log") else repr(value)


def _convert(name: str, value: Any, source: str, host: str) -> Any:
    """A value from a variable or a template, converted as the argument spec converts options:
    strictly (`"false"` is false, `"maybe"` an error naming its source)."""
    if value is None:
        return None
    spec = CONNECTION[name]
    kind = spec.get("type", "str")
    try:
        if kind == "bool":
            return boolean(value, strict=True)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
    except (TypeError, ValueError):
        shown = "(a secret)" if spec.get("no_log") else repr(value)
        raise InvalidInput({name: f"{source} of {host} is {shown}, not a valid {kind}"}) from None
    text = str(value)
    return os.path.expanduser(text) if kind == "path" else text


def _from_environment(name: str):
    """The PROXMOX_* variable of a connection option, converted as the argument spec would.

    An empty variable counts as unset (AWX injects empty strings for blank inputs): an empty
    PROXMOX_VALIDATE_CERTS must not turn TLS verification off. A value that does not convert is
    an error naming the variable, before any request.
    """
    spec = CONNECTION[name]
    fallback = spec.get("fallback")
    if not fallback:
        return None
    for variable in fallback[1]:
        value = os.environ.get(variable, "").strip()
        if value:
            return _convert(name, value, f"environment variable {variable}", "this controller")
    return None
