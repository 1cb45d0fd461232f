"""One emulated remote: a PVE cluster of nodes pve1..pveM behind one address, with its SDN
configuration, credentials, certificate, tasks and injected faults."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from pvefleet_emulator import auth
from pvefleet_emulator.certs import ensure_certificate, fingerprint
from pvefleet_emulator.faults import Faults
from pvefleet_emulator.ipam import IpamDb
from pvefleet_emulator.lock import new_token
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
    task_seconds: float = 2.0
    auth_fail_delay: float = 3.0
    latency_ms: float = 0.0


class Remote:
    def __init__(self, settings: RemoteSettings, state_dir: Path):
        self.settings = settings
        self.name, self.address, self.port = settings.name, settings.address, settings.port
        self.nodes = [f"pve{i}" for i in range(1, settings.nodes + 1)]
        self.pve8 = settings.pve8
        self.files = RemoteFiles(state_dir / settings.name)
        ensure_certificate(self.files.cert, self.files.key, self.address, f"{self.name}.pve.invalid")
        self.fingerprint = fingerprint(self.files.cert)
        stored = self.files.load_json("priv/credentials.json")
        if stored is None:
            stored = auth.new_credentials()
            self.files.save_json("priv/credentials.json", stored, private=True)
        self.credentials = auth.Credentials(stored)
        self.config: SdnConfig = self.files.load_config()
        self.ipam = IpamDb(self.files.load_json("priv/ipam.db"))
        self.tasks = TaskBook(self.nodes)
        self.tasks.load(self.files.load_json("tasks.json") or [], time.time())
        self.faults = Faults(latency_ms=settings.latency_ms)
        self.requests = RequestLog()
        # pmxcfs' "domain-sdn" lock: one SDN write of this cluster at a time (pve-sdn-api.md §3.2).
        self.domain_lock = asyncio.Lock()
        self.issued_lock_tokens: list[str] = []

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
        self.files.save_json("priv/ipam.db", self.ipam.to_dict(), private=True)

    def save_tasks(self) -> None:
        self.files.save_json("tasks.json", self.tasks.to_list())

    def reset(self) -> None:
        """An empty SDN configuration, never applied, no lock, no tasks, an empty request log (faults
        stay as they are)."""
        self.config = SdnConfig()
        self.ipam = IpamDb()
        self.tasks.clear()
        self.issued_lock_tokens.clear()
        self.requests.clear()
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
            "lock": {"held": cfg.lock is not None, "token": cfg.lock},
            "issued_lock_tokens": list(self.issued_lock_tokens),
            "version": cfg.version,
            "pending": {kind: cfg.view(kind) for kind in MODEL_KINDS},
            "running": {kind: cfg.view(kind, running=True) for kind in MODEL_KINDS},
            "running_config": cfg.running_document(),
            "ipams": cfg.view("ipams"), "dns": cfg.view("dns"),
            "digests": {kind: cfg.digest(kind) for kind in MODEL_KINDS + ("ipams", "dns")},
            "has_pending_changes": cfg.has_pending_changes(),
            "node_versions": {node: state[0] for node, state in nodes.items()},
            "node_errors": {node: state[1] for node, state in nodes.items()},
            "tasks": [task.list_item(now) | {"status": "stopped" if task.stopped(now) else "running",
                                             "exitstatus": task.exitstatus if task.stopped(now) else None}
                      for task in sorted(self.tasks.tasks.values(), key=lambda t: t.start)],
            "ipam_db": self.ipam.to_dict(),
            "faults": self.faults.describe(),
        }
