"""One emulated remote: a PVE cluster of nodes pve1..pveM behind one address, with its SDN
configuration, credentials, certificate, tasks and injected faults."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from pvefleet_emulator import auth
from pvefleet_emulator.access import AccessConfig, AccessSetup, apply_setup, start_config
from pvefleet_emulator.certs import ensure_certificate, fingerprint
from pvefleet_emulator.faults import Faults
from pvefleet_emulator.firewall import VnetFirewallFiles, sdn_ipsets
from pvefleet_emulator.ipam import MAC_CACHE_FILE, STATE_FILE, IpamDb, MacCache
from pvefleet_emulator.lock import new_token
from pvefleet_emulator.net import ConnectionCounts
from pvefleet_emulator.node_reload import node_state
from pvefleet_emulator.request_log import RequestLog
from pvefleet_emulator.sdn_config import MODEL_KINDS, SdnConfig
from pvefleet_emulator.state import RemoteFiles
from pvefleet_emulator.tasks import TaskBook


@dataclass
class RemoteSettings:
    name: str
    address: str
    port: int
    nodes: int = 1
    pve8: bool = False
    pve91: bool = False  # PVE 9.1: no prefix lists, route maps or the other 9.2 additions
    task_seconds: float = 2.0
    auth_fail_delay: float = 3.0
    latency_ms: float = 0.0
    access: AccessSetup = field(default_factory=AccessSetup)


class Remote:
    def __init__(self, settings: RemoteSettings, state_dir: Path):
        self.settings = settings
        self.name, self.address, self.port = settings.name, settings.address, settings.port
        self.nodes = [f"pve{i}" for i in range(1, settings.nodes + 1)]
        self.pve8 = settings.pve8
        self.pve91 = settings.pve91 and not settings.pve8
        self.files = RemoteFiles(state_dir / settings.name)
        ensure_certificate(self.files.cert, self.files.key, self.address, f"{self.name}.pve.invalid")
        self.fingerprint = fingerprint(self.files.cert)
        stored = self.files.load_json("priv/credentials.json")
        if stored is None or (settings.access.token_role is not None and "setup_token_secret" not in stored):
            # The secrets of the command line's user and token are kept with root's, so that an
            # access reset gives them back unchanged (and the inventory stays right).
            stored = {**(stored or auth.new_credentials()), **auth.new_setup_secrets()}
            self.files.save_json("priv/credentials.json", stored, private=True)
        self.credentials = auth.Credentials(stored)
        self._secrets = {"root_password": stored["password"], "root_token_secret": stored["token_secret"],
                         "setup_password": stored.get("setup_password", ""),
                         "setup_token_secret": stored.get("setup_token_secret", "")}
        saved = self.files.load_json("priv/access.json")  # only there once the control API changed it
        if saved is None:
            self.access = start_config(settings.access, self._secrets)
        else:
            self.access = AccessConfig.from_dict(saved)
            apply_setup(self.access, settings.access, self._secrets)
        self.config: SdnConfig = self.files.load_config()
        # The pve IPAM's state file and the MAC cache (ipam.py), outside the pending model.
        self.ipam = IpamDb(self.files.load_json(STATE_FILE))
        self.mac_cache = MacCache(self.files.load_json(MAC_CACHE_FILE))
        # The vnets' firewall files (firewall.py), outside the pending model, written at once.
        self.firewalls = VnetFirewallFiles(self.files.sdn / "firewall")
        self.tasks = TaskBook(self.nodes)
        self.tasks.load(self.files.load_json("tasks.json") or [], time.time())
        self.faults = Faults(latency_ms=settings.latency_ms)
        self.requests = RequestLog()
        self.connections = ConnectionCounts()
        # pmxcfs' "domain-sdn" lock: one SDN write of this cluster at a time (pve-sdn-api.md §3.2).
        self.domain_lock = asyncio.Lock()
        self.issued_lock_tokens: list[str] = []

    @property
    def pve92(self) -> bool:
        """Whether this remote runs PVE 9.2 (the default), with its additions to the SDN API."""
        return not (self.pve8 or self.pve91)

    @property
    def api_node(self) -> str:
        """The node clients talk to: the one that runs an apply's reloadnetworkall task."""
        return self.nodes[0]

    @property
    def cert_path(self) -> Path:
        return self.files.cert

    @property
    def base_url(self) -> str:
        return f"https://{self.address}:{self.port}"

    def new_lock_token(self) -> str:
        token = new_token()
        self.issued_lock_tokens.append(token)
        return token

    def persist(self) -> None:
        self.files.save_config(self.config)
        self.files.save_json(STATE_FILE, self.ipam.to_dict())
        self.files.save_json(MAC_CACHE_FILE, self.mac_cache.to_dict())

    def save_tasks(self) -> None:
        self.files.save_json("tasks.json", self.tasks.to_list())

    @property
    def api_token(self) -> tuple[str, str, str]:
        """The inventory's token: user, token name, secret."""
        user, name = self.settings.access.token_id.split("!", 1)
        return user, name, self.access.users[user].tokens[name].secret

    def save_access(self) -> None:
        self.files.save_json("priv/access.json", self.access.to_dict(), private=True)

    def reset_access(self) -> None:
        """The access configuration the remote started with: root@pam and root@pam!fleet, and what
        the command line asked for (with the same secrets)."""
        self.access = start_config(self.settings.access, self._secrets)
        self.files.remove_json("priv/access.json")

    def reset(self, *, access: bool = False) -> None:
        """An empty SDN configuration, never applied, no lock, no vnet firewall files, no tasks, an
        empty request log, the connection counts from 0 (but for those open; faults stay as they
        are); with `access`, the access configuration it started with too (else it is kept)."""
        if access:
            self.reset_access()
        self.config = SdnConfig()
        self.ipam = IpamDb()
        self.mac_cache = MacCache()
        self.firewalls.clear()
        self.tasks.clear()
        self.issued_lock_tokens.clear()
        self.requests.clear()
        self.connections.accepted = self.connections.resumed = 0
        self.files.remove_config()
        self.persist()
        self.save_tasks()

    def inspect(self) -> dict:
        """What the control API's GET /_emulator/state reports."""
        now = time.time()
        cfg = self.config
        nodes = {node: node_state(self, node, now) for node in self.nodes}
        return {
            "name": self.name, "address": self.address, "port": self.port, "nodes": self.nodes, "pve8": self.pve8,
            "pve91": self.pve91,
            "lock": {"held": cfg.lock is not None, "token": cfg.lock},
            "issued_lock_tokens": list(self.issued_lock_tokens),
            "version": cfg.version,
            "pending": {kind: cfg.view(kind) for kind in MODEL_KINDS},
            "running": {kind: cfg.view(kind, running=True) for kind in MODEL_KINDS},
            "running_config": cfg.running_document(),
            "ipams": cfg.view("ipams"), "dns": cfg.view("dns"),
            # fabrics.cfg's sections as written, and the running copy's (fabrics.py)
            "fabrics": {"pending": cfg.view("fabrics"), "running": cfg.view("fabrics", running=True)},
            "digests": {kind: cfg.digest(kind) for kind in MODEL_KINDS + ("ipams", "dns")},
            "has_pending_changes": cfg.has_pending_changes(),
            "node_versions": {node: state[0] for node, state in nodes.items()},
            "node_errors": {node: state[1] for node, state in nodes.items()},
            "tasks": [task.list_item(now) | {"status": "stopped" if task.stopped(now) else "running",
                                             "exitstatus": task.exitstatus if task.stopped(now) else None}
                      for task in sorted(self.tasks.tasks.values(), key=lambda t: t.start)],
            "ipam_db": self.ipam.to_dict(),  # sdn/pve-ipam-state.json as PVE keeps it
            "mac_cache": self.mac_cache.to_dict(),
            # sdn/firewall/<vnet>.fw parsed: {vnet: {"options": {...}, "rules": [...]}} (firewall.py)
            "vnet_firewalls": self.firewalls.describe(sdn_ipsets(cfg.running_ids("vnets"))),
            "faults": self.faults.describe(),
            "connections": self.connections.describe(),
            "requests_answered": self.requests.answered,
        }
