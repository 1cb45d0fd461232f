# Private to pvefleet.sdn: not a public API.
"""What a transaction writes after its apply: vnet IP mappings and vnet firewalls.

Proxmox VE's `/cluster/sdn/vnets/{vnet}/ips` and `.../firewall` endpoints take no lock token and
write at once (pve-network Ips.pm; pve-firewall Vnet.pm), and both need the vnet (and for an IP its
subnet) in the RUNNING configuration: they can only follow the apply, where nothing is rolled back.
A failure here is that remote's, reported with what was written and how to finish; the SDN change
itself stays applied.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import InvalidInput
from ansible_collections.pvefleet.sdn.plugins.module_utils._firewall_task import (
    check_firewall_options,
    run_vnet_firewall_task,
)
from ansible_collections.pvefleet.sdn.plugins.module_utils._vnet_ip_task import check_options, run_vnet_ip_task


@dataclass(frozen=True)
class AfterKind:
    option: str  # the sdn_transaction option (and role variable suffix) that lists them
    id_options: tuple[str, ...]
    check: Callable[[dict], Any]  # InvalidInput for bad options, before anything is sent
    run: Callable[[Any, dict, bool], Awaitable[dict]]  # (client, options, check_mode) -> the module's result


# Firewalls first: a guest given its address should find its vnet's rules in place.
AFTER_KINDS = {
    "vnet_firewall": AfterKind("vnet_firewalls", ("vnet",), check_firewall_options, run_vnet_firewall_task),
    "vnet_ip": AfterKind("vnet_ips", ("vnet", "ip"), check_options, run_vnet_ip_task),
}
AFTER_OPTIONS = tuple(kind.option for kind in AFTER_KINDS.values())


def check_after(kind: str, options: dict) -> None:
    """The item's options as its module would check them, before any lock."""
    spec = AFTER_KINDS[kind]
    missing = [name for name in spec.id_options if not options.get(name)]
    if missing:
        raise InvalidInput({name: "required" for name in missing})
    spec.check(options)


def item_id(kind: str, options: dict) -> str:
    return "/".join(str(options.get(name)) for name in AFTER_KINDS[kind].id_options)


def label(kind: str, options: dict) -> str:
    return f"{kind.replace('_', ' ')} {item_id(kind, options)}"


class AfterApplyFailed(Exception):
    """An item failed: `label` names it, `cause` is its error, `written` the results of the items before it."""

    def __init__(self, label: str, cause: Exception, written: list[dict]):
        super().__init__(f"{label}: {cause}")
        self.label, self.cause, self.written = label, cause, written


async def write_after(client, items: list[tuple[str, dict]]) -> list[dict]:
    """Each item, in the order given (firewalls, then IP mappings), as its module would; stops at the
    first failure (AfterApplyFailed)."""
    results: list[dict] = []
    for kind, options in items:
        try:
            result = await AFTER_KINDS[kind].run(client, options, False)
        except Exception as exc:  # noqa: BLE001 - reported with the item, whatever it is
            raise AfterApplyFailed(label(kind, options), exc, results) from exc
        results.append({"kind": kind, "id": item_id(kind, options), **result})
    return results
