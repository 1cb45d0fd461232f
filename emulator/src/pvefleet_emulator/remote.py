"""One emulated remote: a PVE cluster with its nodes, SDN config, credentials, tasks and faults.

Its state lives in `<state-dir>/<name>/` (like /etc/pve/sdn on pmxcfs), rewritten atomically
after every change, so a restarted emulator finds the same config, lock, credentials and
certificate.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional

from pvefleet_emulator.auth import Credentials
from pvefleet_emulator.certs import ensure_certificate, fingerprint
from pvefleet_emulator.faults import Faults
from pvefleet_emulator.sdn_config import SdnConfig
from pvefleet_emulator.tasks import TaskBook


def uuid7() -> str:
    """A UUIDv7 in its canonical lowercase form, as libuuid prints PVE's lock token (§3.1)."""
    millis = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


class Remote:
    def __init__(self, name: str, address: str, port: int, nodes: int, state_dir: Path, *,
                 task_seconds: float = 2.0, latency_ms: float = 0.0, pve8: bool = False,
                 auth_fail_delay: float = 3.0):
        self.name, self.address, self.port = name, address, port
        self.nodes = [f"pve{i}" for i in range(1, nodes + 1)]
        self.directory = state_dir / name
        self.task_seconds = task_seconds
        self.pve8 = pve8
        self.auth_fail_delay = auth_fail_delay
        self.faults = Faults(latency_ms=latency_ms)
        self.tasks = TaskBook()
        self.domain_lock = asyncio.Lock()  # pmxcfs "domain-sdn": one SDN write at a time (§3.2)
        self.issued_tokens: list[str] = []
        self.cert_path, self.key_path = ensure_certificate(self.directory, address, f"{name}.pve.invalid")
        self.fingerprint = fingerprint(self.cert_path)
        self.credentials = Credentials(self._load_json("auth.json") or self._new_credentials())
        self.config = SdnConfig(self._load_json("sdn.json"))

    @property
    def api_node(self) -> str:
        return self.nodes[0]

    def _new_credentials(self) -> dict:
        data = {"password": secrets.token_urlsafe(12), "token_secret": str(uuid.uuid4()),
                "key": secrets.token_hex(32)}
        self._write_json("auth.json", data)
        return data

    def _load_json(self, name: str) -> Optional[dict]:
        try:
            return json.loads((self.directory / name).read_text())
        except FileNotFoundError:
            return None

    def _write_json(self, name: str, data: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.directory / name)

    def save(self) -> None:
        self._write_json("sdn.json", self.config.to_dict())

    def new_lock_token(self) -> str:
        token = uuid7()
        self.issued_tokens.append(token)
        return token

    def reset(self) -> None:
        self.config = SdnConfig()
        self.tasks = TaskBook()
        self.issued_tokens.clear()
        self.faults.rules.clear()
        self.faults.next_reload = None
        self.save()

    def inspect(self) -> dict:
        from pvefleet_emulator.sdn_config import MODEL_KINDS

        return {
            "name": self.name, "nodes": self.nodes, "pve8": self.pve8,
            "lock": {"held": self.config.lock is not None, "token": self.config.lock},
            "issued_lock_tokens": list(self.issued_tokens),
            "version": self.config.version,
            "pending": {kind: self.config.pending[kind] for kind in MODEL_KINDS},
            "running": {kind: self.config.running_ids(kind) for kind in MODEL_KINDS},
            "has_pending_changes": self.config.has_pending_changes(),
            "node_versions": {node: self.tasks.node_version(node) for node in self.nodes},
            "tasks": [t.list_item(time.monotonic()) | {"exitstatus": t.exitstatus}
                      for t in self.tasks.tasks.values()],
            "faults": self.faults.describe(),
        }
