"""`/cluster/sdn/vnets/{vnet}/firewall/...`: a vnet's firewall options and rules (pve-firewall 6.0.4
API2/Firewall/Vnet.pm, the VnetRules class of API2/Firewall/Rules.pm, API2/Firewall/Helpers.pm; the work is
firewall.py's).

Not lock-aware (pve-sdn-api.md §3.3): no `lock-token` parameter (the schema's additionalProperties 0
makes one a 400), no SDN domain lock, no pending change; a held SDN lock does not stop them (PVE takes
only the cfs lock `firewall-vnet-<vnet>`, which passes the errors of the work through unchanged).
Every call but the index first runs check_vnet_access: the vnet must be in the RUNNING config, else
"invalid vnet specified" (a die without newline), then SDN.Audit or SDN.Allocate (reads) or
SDN.Allocate (writes) on /sdn/zones/<its running zone>/<vnet>. The schema's permissions are
`user => 'all'`; the index has none, so only root@pam may read it.
"""
from __future__ import annotations

from typing import Any

from pvefleet_emulator import firewall
from pvefleet_emulator.errors import perl_die
from pvefleet_emulator.routes import Call, route

BASE = "/cluster/sdn/vnets/{vnet}/firewall"
# The privilege lists in the order the handlers pass them (check_any names them so in its 403).
OPTIONS_READ = ("SDN.Allocate", "SDN.Audit")  # Vnet.pm get_options
RULES_READ = ("SDN.Audit", "SDN.Allocate")  # Rules.pm VnetRules check_privileges_for_method
WRITE = ("SDN.Allocate",)
READ_ANY = ("SDN.Audit", "SDN.Allocate")  # Helpers.pm get_allowed_vnets
# API2/Firewall/Helpers.pm check_vnet_access: `get_vnet($vnetid, 1) or die "invalid vnet specified"`
HELPERS = "API2/Firewall/Helpers.pm"
HELPERS_DIE_LINE = 55


def check_vnet_access(call: Call, privs: tuple[str, ...]) -> None:
    vnet_id = call.params["vnet"]
    vnet = call.remote.config.running_ids("vnets").get(vnet_id)
    if vnet is None:
        raise perl_die("invalid vnet specified", HELPERS, HELPERS_DIE_LINE)
    call.require_any(f"/sdn/zones/{vnet.get('zone') or ''}/{vnet_id}", privs)


def _load(call: Call) -> firewall.FirewallConfig:
    """load_vnetfw_conf: the parser checks the rules with the SDN ipsets of every running vnet."""
    running = call.remote.config.running_ids("vnets")
    return call.remote.firewalls.load(call.params["vnet"], firewall.sdn_ipsets(running))


def _allowed_ipsets(call: Call) -> list[str]:
    """The ipsets a write may name: load_sdn_conf(get_allowed_vms(), get_allowed_vnets()), the vnets
    the caller has SDN.Audit or SDN.Allocate on."""
    running = call.remote.config.running_ids("vnets")
    if call.unrestricted:
        return firewall.sdn_ipsets(running)
    return firewall.sdn_ipsets(running, lambda zone, vnet: call.may(f"/sdn/zones/{zone}/{vnet}", READ_ANY))


def _save(call: Call, conf: firewall.FirewallConfig) -> None:
    call.remote.firewalls.save(call.params["vnet"], conf)


@route("GET", BASE)
async def firewall_index(call: Call) -> list[dict]:
    """Vnet.pm index: no checks of its own."""
    return [{"name": "rules"}, {"name": "options"}]


@route("GET", BASE + "/options")
async def options_read(call: Call) -> dict[str, Any]:
    check_vnet_access(call, OPTIONS_READ)
    return firewall.options_answer(_load(call))


@route("PUT", BASE + "/options")
async def options_write(call: Call) -> None:
    check_vnet_access(call, WRITE)
    conf = _load(call)
    firewall.set_options(conf, call.params)
    _save(call, conf)
    return None


@route("GET", BASE + "/rules")
async def rules_index(call: Call) -> list[dict[str, Any]]:
    check_vnet_access(call, RULES_READ)
    return firewall.list_rules(_load(call))


@route("POST", BASE + "/rules")
async def rule_create(call: Call) -> None:
    firewall.check_formats(call.params)
    check_vnet_access(call, WRITE)
    conf = _load(call)
    firewall.create_rule(conf, call.params, _allowed_ipsets(call))
    _save(call, conf)
    return None


@route("GET", BASE + "/rules/{pos}")
async def rule_read(call: Call) -> dict[str, Any]:
    check_vnet_access(call, RULES_READ)
    return firewall.rule_at(_load(call), call.params["pos"])


@route("PUT", BASE + "/rules/{pos}")
async def rule_update(call: Call) -> None:
    firewall.check_formats(call.params)
    check_vnet_access(call, WRITE)
    conf = _load(call)
    firewall.update_rule(conf, call.params["pos"], call.params, _allowed_ipsets(call))
    _save(call, conf)
    return None


@route("DELETE", BASE + "/rules/{pos}")
async def rule_delete(call: Call) -> None:
    check_vnet_access(call, WRITE)
    conf = _load(call)
    firewall.delete_rule(conf, call.params["pos"], call.params.get("digest"))
    _save(call, conf)
    return None
