"""The handlers under /cluster/sdn: lock, rollback, apply, zones, vnets, subnets, controllers,
ipams and dns (pve-sdn-api.md §3, §6).

Every write runs through `locked()` (lock.py). What PVE checks before its lock (the schema,
and for zones, controllers, ipams and dns on create the type's option rules; the vnet lookup of
vnet and subnet calls) raises here without an operation prefix; everything inside gets one.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Optional

from pvefleet_emulator import ipam, routing_policy
from pvefleet_emulator import sdn_rules as rules
from pvefleet_emulator.dry_run import answer as dry_run_answer
from pvefleet_emulator.errors import Die, ParamError, perl_die
from pvefleet_emulator.formats import subnet_id_parts
from pvefleet_emulator.lock import locked, perl_true
from pvefleet_emulator.node_reload import start_apply_reload
from pvefleet_emulator.remote import Remote
from pvefleet_emulator.routes import Call, route
from pvefleet_emulator.sdn_config import ID_KEYS, SdnConfig

DIGEST_MISMATCH = "detected modified configuration - file changed by other user? Try again.\n"
# The privileges of pve-network's checks in code (API2/Network/SDN/*.pm): reads and list filters
# take either, writes need SDN.Allocate. The schema's own checks run before any handler (app.py).
READ_PRIVS = ("SDN.Audit", "SDN.Allocate")
WRITE_PRIVS = ("SDN.Allocate",)
# Keys of an update call that are not object options.
_UPDATE_CONTROL_KEYS = ("lock-token", "digest", "delete")


# Index, lock, rollback, apply, dry-run (§3.5)


@route("GET", "/cluster/sdn")
async def sdn_index(call: Call) -> list[dict]:
    names = ["vnets", "zones", "controllers", "ipams", "dns"] + ([] if call.remote.pve8 else ["fabrics"])
    # PVE 9.2 (pve-network 1.4+) adds its subclasses prefix-lists and route-maps (their order here
    # is an assumption: 9.2's index was not read).
    names += ["prefix-lists", "route-maps"] if call.remote.pve92 else []
    return [{"id": name} for name in names]


@route("POST", "/cluster/sdn/lock", pve9_only=True)
async def lock_acquire(call: Call) -> str:
    remote = call.remote

    def work() -> str:
        if not perl_true(call.params.get("allow-pending")) and remote.config.has_pending_changes():
            raise perl_die("configuration has pending changes", "API2/Network/SDN.pm")
        remote.config.lock = remote.new_lock_token()
        return remote.config.lock

    # This call has no token parameter, so a held lock always fails the token check: no re-entry.
    return await locked(remote, "could not acquire lock for SDN config", None, work)


@route("DELETE", "/cluster/sdn/lock", pve9_only=True)
async def lock_release(call: Call) -> None:
    remote = call.remote
    if perl_true(call.params.get("force")):
        remote.config.lock = None  # right away: no domain lock, no token check
        remote.persist()
        return None

    def work() -> None:
        remote.config.lock = None

    return await locked(remote, "could not release lock", call.params.get("lock-token"), work)


@route("POST", "/cluster/sdn/rollback", pve9_only=True)
async def rollback(call: Call) -> None:
    remote, token = call.remote, call.params.get("lock-token")

    def work() -> None:
        remote.config.rollback()
        # release-lock as sent: PVE fills in no default, so leaving it out keeps the lock.
        if perl_true(token) and perl_true(call.params.get("release-lock")):
            remote.config.lock = None

    return await locked(remote, "could not rollback SDN configuration", token, work)


@route("PUT", "/cluster/sdn")
async def apply(call: Call) -> str:
    remote, token = call.remote, call.params.get("lock-token")
    frr_before = remote.config.uses_frr()

    def work() -> int:
        version = remote.config.commit()
        if perl_true(token) and perl_true(call.params.get("release-lock")):
            remote.config.lock = None  # released before any node reloads
        return version

    version = await locked(remote, "could not commit SDN config", token, work)
    regenerate_frr = frr_before or remote.config.uses_frr()
    return start_apply_reload(remote, version, call.user, regenerate_frr, call.now).upid


@route("GET", "/cluster/sdn/dry-run", pve9_only=True)
async def dry_run(call: Call) -> dict:
    """The node's SDN interfaces and FRR files as the pending config would make them, diffed
    against those it has (dry_run.py)."""
    remote, node = call.remote, call.params["node"]
    require_node(remote, node)  # proxyto => 'node'
    return dry_run_answer(remote, node, call.now)


def require_node(remote: Remote, node: str) -> None:
    """A node name that is not in the cluster cannot be resolved for proxying."""
    if node not in remote.nodes:
        raise Die(f"hostname lookup '{node}' failed - failed to get address info for: {node}: "
                  "Name or service not known\n")


# Listings (§5.2): the pending files as they are, the running copy, or the merged view


def listing(remote: Remote, kind: str, params: dict, *, only: Optional[Callable[[dict], bool]] = None) -> list[dict]:
    running, pending = perl_true(params.get("running")), perl_true(params.get("pending"))
    digest = None if running or pending else remote.config.digest(kind)
    items = []
    for object_id, values in remote.config.view(kind, running=running, pending=pending).items():
        if params.get("type") and values.get("type") != params["type"]:
            continue
        if only is not None and not only(values):
            continue
        item = {**values, ID_KEYS[kind]: object_id, "digest": digest}
        items.append(subnet_output(object_id, item) if kind == "subnets" else item)
    return items


def read_one(remote: Remote, kind: str, object_id: str, params: dict, missing: str) -> dict:
    for item in listing(remote, kind, params):
        if item[ID_KEYS[kind]] == object_id:
            return item
    raise Die(missing)


def subnet_output(object_id: str, item: dict) -> dict:
    """A subnet as the API shows it: derived keys added, `dhcp-range` always a list of objects."""
    zone, network, mask = subnet_id_parts(object_id) or ("", "", "")
    item["dhcp-range"] = [rules.dhcp_range_parts(text) for text in item.get("dhcp-range") or []]
    if isinstance(item.get("pending"), dict) and isinstance(item["pending"].get("dhcp-range"), list):
        item["pending"]["dhcp-range"] = [rules.dhcp_range_parts(text) for text in item["pending"]["dhcp-range"]]
    item.update(id=object_id, subnet=object_id, cidr=f"{network}/{mask}", network=network, mask=mask, zone=zone)
    return item


# Zones, controllers, ipams and dns: typed section objects with the same five calls


class TypedKind:
    def __init__(self, kind: str, noun: str, types: dict, *, check: Optional[Callable] = None,
                 check_delete: Optional[Callable] = None, delete_prefix: Optional[str] = None,
                 check_pve92: Optional[Callable] = None):
        self.kind, self.noun, self.types = kind, noun, types
        self.acl_base = f"/sdn/{kind}/"  # the index lists an object if the caller may read /sdn/<kind>/<id>
        self.key = ID_KEYS[kind]
        self.check = check or (lambda cfg, object_id, section, old: None)
        # PVE 9.2's hooks where they differ (remote, cfg, object_id, section, old): routing_policy.py
        self.check_pve92 = check_pve92
        self.check_delete = check_delete or (lambda cfg, object_id: None)
        self.delete_prefix = delete_prefix or f"delete sdn {noun} object failed"

    def missing(self, object_id: str) -> str:
        return f"sdn '{object_id}' does not exist\n"

    def type_options(self, remote: Remote, type_name: str) -> tuple[set[str], set[str]]:
        """The type's options; on PVE 9.2 with those 9.2 added (routing_policy.PVE92_OPTIONS)."""
        options = self.types[type_name]
        return routing_policy.with_pve92_options(self.kind, type_name, options) if remote.pve92 else options

    def run_check(self, remote: Remote, cfg: SdnConfig, object_id: str, section: dict, old: Optional[dict]) -> None:
        if remote.pve92 and self.check_pve92 is not None:
            self.check_pve92(remote, cfg, object_id, section, old)
        else:
            self.check(cfg, object_id, section, old)

    def register(self) -> None:
        base = f"/cluster/sdn/{self.kind}"
        one = f"{base}/{{{self.key}}}"
        route("GET", base)(self.index)
        route("GET", one)(self.read)
        route("POST", base)(self.create)
        route("PUT", one)(self.update)
        route("DELETE", one)(self.delete)

    async def index(self, call: Call) -> list[dict]:
        """Zones.pm, Controllers.pm, Ipams.pm, Dns.pm index: only the objects with SDN.Audit or
        SDN.Allocate on /sdn/<kind>/<id>."""
        items = listing(call.remote, self.kind, call.params)
        if call.unrestricted:
            return items
        return [item for item in items if call.may(self.acl_base + item[self.key], READ_PRIVS)]

    async def read(self, call: Call) -> dict:
        object_id = call.params[self.key]
        return read_one(call.remote, self.kind, object_id, call.params, self.missing(object_id))

    async def create(self, call: Call) -> None:
        remote, params = call.remote, call.params
        object_id = params[self.key]
        section = rules.normalise({k: v for k, v in params.items() if k not in (self.key, "lock-token")})
        rules.check_options(self.type_options(remote, section["type"]), section, create=True)  # before the lock

        def work() -> None:
            cfg = remote.config
            if object_id in cfg.pending[self.kind]:
                raise Die(f"sdn {self.noun} object ID '{object_id}' already defined\n")
            self.run_check(remote, cfg, object_id, section, None)
            self._store(cfg, object_id, section)

        return await locked(remote, f"create sdn {self.noun} object failed", params.get("lock-token"), work)

    async def update(self, call: Call) -> None:
        remote, params = call.remote, call.params
        object_id = params[self.key]

        def work() -> None:
            cfg = remote.config
            if params.get("digest") and params["digest"] != cfg.digest(self.kind):
                raise Die(DIGEST_MISMATCH)
            old = cfg.pending[self.kind].get(object_id)
            if old is None:
                raise Die(self.missing(object_id))
            options = self.type_options(remote, old["type"])
            changes = {k: v for k, v in params.items() if k not in (self.key, *_UPDATE_CONTROL_KEYS)}
            rules.check_options(options, changes, create=False)
            section = rules.updated(old, changes, params.get("delete"), options)
            self.run_check(remote, cfg, object_id, section, old)
            self._store(cfg, object_id, section)

        return await locked(remote, f"update sdn {self.noun} object failed", params.get("lock-token"), work)

    async def delete(self, call: Call) -> None:
        remote, object_id = call.remote, call.params[self.key]

        def work() -> None:
            cfg = remote.config
            if object_id not in cfg.pending[self.kind]:
                raise Die(self.missing(object_id))
            self.check_delete(cfg, object_id)
            self._touch(cfg)
            del cfg.pending[self.kind][object_id]

        return await locked(remote, self.delete_prefix, call.params.get("lock-token"), work)

    def _store(self, cfg: SdnConfig, object_id: str, section: dict) -> None:
        self._touch(cfg)
        cfg.pending[self.kind][object_id] = section

    def _touch(self, cfg: SdnConfig) -> None:
        if self.kind == "ipams":
            cfg.implicit_pve_ipam = False  # the next write of ipams.cfg includes the built-in IPAM


ZONES = TypedKind("zones", "zone", rules.ZONE_TYPES,
                  check=lambda cfg, i, s, old: rules.check_zone(cfg, i, s, old=old),
                  check_delete=rules.check_zone_delete)
CONTROLLERS = TypedKind("controllers", "controller", rules.CONTROLLER_TYPES,
                        check=lambda cfg, i, s, old: rules.check_controller(cfg, i, s),
                        check_delete=rules.check_controller_delete,
                        check_pve92=routing_policy.check_controller_pve92)
# IPAM and DNS writes take effect at once; an IPAM delete reuses the zone text (sic, §3.2).
IPAMS = TypedKind("ipams", "ipam", rules.IPAM_TYPES, delete_prefix="delete sdn zone object failed")
DNS = TypedKind("dns", "dns", rules.DNS_TYPES)
for _kind in (ZONES, CONTROLLERS, IPAMS, DNS):
    _kind.register()


@route("GET", "/cluster/sdn/ipams/{ipam}/status")
async def ipam_status(call: Call) -> list[dict]:
    """Ipams.pm ipamindex (entries: ipam.py status_entries): only the entries of vnets with
    SDN.Audit or SDN.Allocate on /sdn/zones/<zone>/<vnet>."""
    if call.params["ipam"] != "pve":
        raise perl_die("Currently only PVE IPAM is supported!", "API2/Network/SDN/Ipams.pm", 319)
    entries = ipam.status_entries(call.remote)
    if call.unrestricted:
        return entries
    return [entry for entry in entries if call.may(f"/sdn/zones/{entry['zone']}/{entry['vnet']}", READ_PRIVS)]


# Vnets (§6.2)


def existing_vnet(remote: Remote, vnet_id: str) -> dict:
    """The vnet lookup of the permission check, before the lock: its error has no prefix. It
    reads the pending vnets.cfg whatever the call's `running` or `pending` (Vnets.pm and
    Subnets.pm check_vnet_access call Vnets::config() without its `running` argument)."""
    vnet = remote.config.pending["vnets"].get(vnet_id)
    if vnet is None:
        raise Die(f"sdn vnet '{vnet_id}' does not exist\n")
    return vnet


def check_vnet_access(call: Call, vnet_id: str, privs: tuple[str, ...]) -> dict:
    """Vnets.pm and Subnets.pm check_vnet_access: the vnet (an error if it does not exist), and a
    403 unless the caller has one of `privs` on /sdn/zones/<its zone>/<vnet>."""
    vnet = existing_vnet(call.remote, vnet_id)
    call.require_any(f"/sdn/zones/{vnet.get('zone') or ''}/{vnet_id}", privs)
    return vnet


def _vnet_zone(item: dict) -> str:
    """The zone the vnet index checks: `$scfg->{zone} // $scfg->{pending}->{zone}` (a new vnet
    has its zone only under `pending` in the pending view)."""
    zone = item.get("zone")
    if zone is None:
        zone = (item.get("pending") or {}).get("zone")
    return "" if zone is None else str(zone)


@route("GET", "/cluster/sdn/vnets")
async def vnet_index(call: Call) -> list[dict]:
    """Vnets.pm index: only the vnets with SDN.Audit or SDN.Allocate on /sdn/zones/<zone>/<vnet>."""
    items = listing(call.remote, "vnets", call.params)
    if call.unrestricted:
        return items
    return [item for item in items if call.may(f"/sdn/zones/{_vnet_zone(item)}/{item['vnet']}", READ_PRIVS)]


@route("GET", "/cluster/sdn/vnets/{vnet}")
async def vnet_read(call: Call) -> dict:
    vnet_id = call.params["vnet"]
    check_vnet_access(call, vnet_id, READ_PRIVS)
    return read_one(call.remote, "vnets", vnet_id, call.params, f"sdn vnet '{vnet_id}' does not exist\n")


@route("POST", "/cluster/sdn/vnets")
async def vnet_create(call: Call) -> None:
    remote, params = call.remote, call.params
    vnet_id = params["vnet"]
    section = {k: v for k, v in params.items() if k not in ("vnet", "lock-token")}
    section["type"] = "vnet"

    def work() -> None:
        cfg = remote.config
        if vnet_id in cfg.pending["vnets"]:
            raise Die(f"sdn vnet object ID '{vnet_id}' already defined\n")
        rules.check_vnet(cfg, vnet_id, section, old=None)
        cfg.pending["vnets"][vnet_id] = section

    return await locked(remote, "create sdn vnet object failed", params.get("lock-token"), work)


@route("PUT", "/cluster/sdn/vnets/{vnet}")
async def vnet_update(call: Call) -> None:
    remote, params = call.remote, call.params
    vnet_id = params["vnet"]
    check_vnet_access(call, vnet_id, WRITE_PRIVS)

    def work() -> None:
        cfg = remote.config
        if params.get("digest") and params["digest"] != cfg.digest("vnets"):
            raise Die(DIGEST_MISMATCH)
        old = cfg.pending["vnets"].get(vnet_id)
        if old is None:
            raise Die(f"sdn vnet '{vnet_id}' does not exist\n")
        if "zone" in rules.split_list(params.get("delete") or ""):
            raise ParamError({"zone": "cannot delete zone"})
        changes = {k: v for k, v in params.items() if k not in ("vnet", *_UPDATE_CONTROL_KEYS)}
        section = rules.updated(old, changes, params.get("delete"), rules.VNET_OPTIONS)
        rules.check_vnet(cfg, vnet_id, section, old=old)
        cfg.pending["vnets"][vnet_id] = section

    return await locked(remote, "update sdn vnet object failed", params.get("lock-token"), work)


@route("DELETE", "/cluster/sdn/vnets/{vnet}")
async def vnet_delete(call: Call) -> None:
    remote, vnet_id = call.remote, call.params["vnet"]
    check_vnet_access(call, vnet_id, WRITE_PRIVS)

    def work() -> None:
        cfg = remote.config
        if vnet_id not in cfg.pending["vnets"]:
            raise Die(f"sdn vnet '{vnet_id}' does not exist\n")
        rules.check_vnet_delete(cfg, vnet_id)
        del cfg.pending["vnets"][vnet_id]

    return await locked(remote, "delete sdn vnet object failed", call.params.get("lock-token"), work)


# Subnets (§6.3)


def _subnet_ref(zone_id: str, ref: str) -> str:
    """A `{subnet}` value (stored ID or CIDR) as the stored ID."""
    return rules.subnet_id(zone_id, ref) if "/" in ref else ref


def _of_vnet(vnet_id: str) -> Callable[[dict], bool]:
    return lambda values: values.get("vnet") == vnet_id


@route("GET", "/cluster/sdn/vnets/{vnet}/subnets")
async def subnet_index(call: Call) -> list[dict]:
    vnet_id = call.params["vnet"]
    check_vnet_access(call, vnet_id, READ_PRIVS)  # the vnet's subnets, all or none
    return listing(call.remote, "subnets", call.params, only=_of_vnet(vnet_id))


@route("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
async def subnet_read(call: Call) -> dict:
    remote, params = call.remote, call.params
    vnet = check_vnet_access(call, params["vnet"], READ_PRIVS)
    object_id = _subnet_ref(vnet.get("zone") or "", params["subnet"])
    item = read_one(remote, "subnets", object_id, params, f"sdn subnet '{object_id}' does not exist\n")
    if item.get("vnet") != params["vnet"]:
        raise ParamError({"vnet": "wrong vnet"})
    return item


@route("POST", "/cluster/sdn/vnets/{vnet}/subnets")
async def subnet_create(call: Call) -> None:
    remote, params = call.remote, call.params
    vnet_id = params["vnet"]
    zone_id = check_vnet_access(call, vnet_id, WRITE_PRIVS).get("zone") or ""
    ref = params["subnet"]
    if "/" not in ref:
        parts = subnet_id_parts(ref)
        ref = f"{parts[1]}/{parts[2]}" if parts else ref
    object_id = rules.subnet_id(zone_id, ref)
    section = {k: v for k, v in params.items() if k not in ("subnet", "lock-token")}
    section.update(type="subnet", vnet=vnet_id)

    def work() -> None:
        cfg = remote.config
        if object_id in cfg.pending["subnets"]:
            raise Die(f"sdn subnet object ID '{object_id}' already defined\n")
        rules.check_subnet(cfg, object_id, section)
        ipam.subnet_written(remote, ipam.pending_zone_of_vnet(cfg, vnet_id), object_id, section, None)
        cfg.pending["subnets"][object_id] = section

    return await _keeping_ipam(remote, locked(remote, "create sdn subnet object failed", params.get("lock-token"), work))


@route("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
async def subnet_update(call: Call) -> None:
    remote, params = call.remote, call.params
    zone_id = check_vnet_access(call, params["vnet"], WRITE_PRIVS).get("zone") or ""
    object_id = _subnet_ref(zone_id, params["subnet"])

    def work() -> None:
        cfg = remote.config
        if params.get("digest") and params["digest"] != cfg.digest("subnets"):
            raise Die(DIGEST_MISMATCH)
        old = cfg.pending["subnets"].get(object_id)
        if old is None:
            raise Die(f"sdn subnet '{object_id}' does not exist\n")
        changes = {k: v for k, v in params.items() if k not in ("subnet", "vnet", *_UPDATE_CONTROL_KEYS)}
        section = rules.updated(old, changes, params.get("delete"), rules.SUBNET_OPTIONS)
        rules.check_subnet(cfg, object_id, section)
        ipam.subnet_written(remote, ipam.pending_zone_of_vnet(cfg, params["vnet"]), object_id, section, old)
        cfg.pending["subnets"][object_id] = section

    return await _keeping_ipam(remote, locked(remote, "update sdn subnet object failed", params.get("lock-token"), work))


@route("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}")
async def subnet_delete(call: Call) -> None:
    remote, params = call.remote, call.params
    zone_id = check_vnet_access(call, params["vnet"], WRITE_PRIVS).get("zone") or ""
    object_id = _subnet_ref(zone_id, params["subnet"])

    def work() -> None:
        # An unknown subnet is no error in a zone without IPAM: the delete is a no-op (§6
        # "Exception"); with the pve IPAM, Subnets.pm del_subnet fails for it (ipam.py).
        cfg = remote.config
        section = cfg.pending["subnets"].get(object_id)
        ipam.subnet_deleted(remote, ipam.pending_zone_of_vnet(cfg, params["vnet"]), object_id, section)
        cfg.pending["subnets"].pop(object_id, None)

    return await _keeping_ipam(remote, locked(remote, "delete sdn subnet object failed", params.get("lock-token"), work))


async def _keeping_ipam(remote: Remote, write: Awaitable[None]) -> None:
    """A subnet write whose IPAM side may have changed the state file before an error (PVEPlugin.pm
    writes it at once): saved whatever the outcome."""
    try:
        return await write
    finally:
        remote.persist()
