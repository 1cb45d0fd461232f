# Private to pvefleet.sdn: not a public API.
"""One run of sdn_zone, sdn_vnet, sdn_subnet or sdn_controller: options in, result out.

Validation happens before anything is sent; the object a vnet or subnet refers to is read from
the remote's pending configuration so that PVE's cross-object rules fail here, with the field
named, rather than as a 500 from inside PVE's lock.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._resource import (
    KINDS,
    SUBNET,
    VNET,
    Plan,
    ResourceKind,
    apply,
    complete_from_current,
    plan,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._snapshot import LiveReader


async def run_object_task(client, kind_name: str, options: Mapping[str, Any], *, state: str,
                          purge: bool, lock_token: Optional[str], check_mode: bool, reader=None,
                          on_write: Optional[Callable[[Plan], None]] = None) -> dict:
    """`reader` reads the remote's objects (_snapshot.py); by default, live, one GET each.
    `on_write` is called with the plan just before a write is sent: a transaction records that the
    remote may now hold its changes, so that a run killed during the write is rolled back, not just
    released (and, for a kind PVE's rollback does not cover, how to undo it: _undo.py)."""
    kind = KINDS[kind_name]
    reader = reader or LiveReader(client)
    if on_write is not None:
        reader.on_write = on_write
    given = without_none(options)
    if kind is SUBNET:
        return await _run_subnet(client, reader, given, state=state, purge=purge, lock_token=lock_token,
                                 check_mode=check_mode)
    if state == "present":
        check_offline(kind, given)
    object_id = given[kind.id_option]
    parent = given.get(kind.parent) if kind.parent else None
    found = {}
    if parent is not None:
        found[kind.parent] = await reader.read(KINDS[str(kind.parent)], parent)
        if found[kind.parent] is None:
            # A fabric node of a fabric the remote does not have.
            if state == "absent":
                return plan(kind, None, None, object_id=object_id, parent=parent).result()
            return _missing_reference(kind, given, None, check_mode and not reader.simulates)
    current = await reader.read(kind, object_id, parent)
    if state == "absent":
        return await _apply(client, reader, plan(kind, None, current, object_id=object_id, parent=parent),
                            lock_token, check_mode)
    given = complete_from_current(given, current)
    referenced = None
    if kind.referenced and given.get(kind.referenced):
        if kind.referenced not in found:
            found[kind.referenced] = await reader.read(KINDS[kind.referenced], given[kind.referenced])
        if found[kind.referenced] is None:
            return _missing_reference(kind, given, current, check_mode and not reader.simulates)
        referenced = found[kind.referenced].model
        given = {**given, **_inherited_type(kind, given, referenced)}
    if current is None and kind.type_option and kind.type_option not in given:
        raise InvalidInput({kind.type_option: f"required to create {kind.describe(object_id)}"})
    desired = kind.parse(given)
    return await _apply(client, reader, plan(kind, desired, current, purge=purge, referenced=referenced),
                        lock_token, check_mode)


def _inherited_type(kind: ResourceKind, given: Mapping[str, Any], referenced) -> dict[str, Any]:
    """A fabric node's protocol is its fabric's (PVE refuses another: "node has a different
    protocol than the referenced fabric"), so the user need not repeat it."""
    if kind.offline_type is None:
        return {}
    name, value = referenced.TYPE_FIELD, referenced.type_value
    if given.get(name) not in (None, value):
        raise InvalidInput({name: f"must be the {name} of {kind.referenced} {referenced.object_id!r}, "
                                  f"{value!r} (got {given[name]!r})"})
    return {name: value}


async def _apply(client, reader, the_plan, lock_token: Optional[str], check_mode: bool) -> dict:
    if the_plan.changed and not check_mode and reader.on_write is not None:
        reader.on_write(the_plan)
    result = await apply(client, the_plan, lock_token, check_mode)
    if the_plan.changed and (not check_mode or reader.simulates):
        reader.wrote(the_plan.kind, str(the_plan.object_id), the_plan.parent, the_plan.model)
    return result


def without_none(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options without the unset ones, in list items too: Ansible fills every sub-option left
    out (an interface's `ip6`) with None, which a model without that option would refuse."""
    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: clean(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    return clean({name: value for name, value in options.items() if value is not None})


def check_offline(kind: ResourceKind, given: Mapping[str, Any]) -> None:
    """Fail on bad option values before any request. A missing required option is left for
    later: on an update it comes from the remote (complete_from_current)."""
    if kind.offline_type is not None and kind.type_option not in given:
        given = {**given, str(kind.type_option): kind.offline_type}
    try:
        kind.parse(given)
    except InvalidInput as exc:
        # Only a top-level option may be left out for the remote to fill in; inside a list item
        # (a route map entry's clause) a missing value is an error here and now.
        errors = {name: rule for name, rule in exc.errors.items()
                  if not rule.startswith("required") or "." in name or "[" in name}
    else:
        errors = {}
    errors.update({name: rule for name, rule in kind.always_required if not given.get(name)})
    if errors:
        raise InvalidInput(errors)


async def _run_subnet(client, reader, given: dict, *, state: str, purge: bool, lock_token: Optional[str],
                      check_mode: bool) -> dict:
    # A subnet's PVE ID starts with its vnet's zone, so the vnet is read first.
    if state == "present":
        check_offline(SUBNET, given)
    vnet = await reader.read(VNET, given["vnet"])
    if vnet is None:
        if state == "absent":
            return plan(SUBNET, None, None, object_id=given["subnet"], parent=given["vnet"]).result()
        return _missing_reference(SUBNET, given, None, check_mode and not reader.simulates)
    desired = SUBNET.parse(given, zone=vnet.model.zone)
    current = await reader.read(SUBNET, desired.object_id, given["vnet"])
    the_plan = (plan(SUBNET, None, current, object_id=desired.object_id, parent=given["vnet"])
                if state == "absent" else plan(SUBNET, desired, current, purge=purge, referenced=vnet.model))
    return await _apply(client, reader, the_plan, lock_token, check_mode)


def _missing_reference(kind: ResourceKind, given: Mapping[str, Any], current, assume_created: bool) -> dict:
    """A vnet whose zone, or a subnet whose vnet, is not in the remote's pending config.

    A task-by-task check mode expects that when an earlier task of the same run would have created
    it (`assume_created`), so the result says what would happen; otherwise PVE would fail without
    a clear message.
    """
    referenced = str(kind.referenced)  # only kinds that refer to another have missing references
    missing = given[referenced]
    if not assume_created:
        raise InvalidInput({referenced: f"{referenced} {missing!r} does not exist on the remote "
                                        "(create it first, in an earlier task or item of the transaction)"})
    return {"changed": True, "action": "update" if current else "create", "kind": kind.name,
            "id": given.get(kind.name), "diff": {"before": {}, "after": dict(given)},
            "warnings": [f"check mode: {referenced} {missing!r} does not exist yet; assuming an "
                         "earlier task would create it"]}
