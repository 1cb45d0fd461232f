# Private to pvefleet.sdn: not a public API.
"""Desired against current: which PVE keys an update sets and which it deletes.

Only the options the user gave are compared; an option left out is left alone, unless `purge`
asks to remove every option the user did not give. Values are compared normalised: lists are
sorted at validation (PVE compares them sorted too, pve-sdn-objects.md §1.8), an unset option
equals PVE's default for it (`vxlan-port` 4789, booleans false), and an empty list means unset.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._input_errors import with_article
from ansible_collections.pvefleet.sdn.plugins.module_utils._models._wire import (
    SdnObject,
    WireValue,
    is_bool_field,
)


@dataclass(frozen=True)
class ChangeSet:
    """An update: `updates` in PVE's form (wire keys), `deletes` the PVE keys to unset."""

    updates: dict[str, Any] = field(default_factory=dict)
    deletes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.updates or self.deletes)


def normalised(model: SdnObject, name: str) -> Any:
    """The value of an option as PVE behaves: unset means the default, [] means unset."""
    value = getattr(model, name, None)
    if isinstance(value, list):
        # Every list option is a set to PVE (it sorts nodes and dhcp-range before comparing,
        # §1.8); the order only needs to be the same on both sides.
        value = sorted(value, key=_sort_key) or None
    if value is None:
        value = model.DEFAULTS.get(name)
    if value is None and name in type(model).model_fields and is_bool_field(type(model), name):
        value = False
    return value


def _sort_key(item: Any) -> str:
    return item.to_property_string() if isinstance(item, WireValue) else str(item)


def check_same_type(desired: SdnObject, current: SdnObject) -> None:
    """PVE cannot change an object's type (pve-sdn-objects.md §0): say so before trying."""
    if desired.type_value != current.type_value:
        kind, what = desired.ID_FIELD, desired.TYPE_FIELD
        raise InvalidInput({what: (
            f"{kind} {current.object_id!r} exists as {with_article(current.LABEL)}; PVE cannot "
            f"change the {what} of a {kind}, so delete it first (state=absent) and then create it "
            f"as {with_article(desired.LABEL)}")})


def changes(desired: SdnObject, current: SdnObject, *, purge: bool = False) -> ChangeSet:
    """What a PUT must send to turn `current` into `desired`."""
    check_same_type(desired, current)
    wire_key = desired.wire_name
    given = {name for name in desired.specified() if name not in desired.IDENTITY}
    updates: dict[str, Any] = {}
    deletes: set[str] = set()
    for name in sorted(given):
        want = normalised(desired, name)
        if want == normalised(current, name):
            continue
        if want is None:
            # Only an empty list gets here: the user wants the option gone.
            deletes.add(wire_key(name))
        else:
            updates[wire_key(name)] = desired.wire_of(name)

    for group in desired.EXCLUSIVE:
        # Setting one of a group (vxlan peers / fabric) must remove the other the remote has.
        if any(name in given and normalised(desired, name) is not None for name in group):
            deletes.update(wire_key(name) for name in group
                           if name not in given and normalised(current, name) is not None)

    if purge:
        unwanted = set(current.specified()) - given - current.IDENTITY - current.GENERATED - current.NOT_DELETABLE
        deletes.update(wire_key(name) for name in unwanted if getattr(current, name) is not None)
    deletes -= set(updates)  # never set and delete one key ("cannot set and delete property", §6)
    if updates or deletes:
        updates.update({wire_key(name): desired.wire_of(name) for name in sorted(desired.ALWAYS_SEND)
                        if wire_key(name) not in updates})
    return ChangeSet(updates=updates, deletes=tuple(sorted(deletes)))
