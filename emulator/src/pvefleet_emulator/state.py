"""One remote's files in the state directory, laid out like the PVE paths they stand for:

    <state-dir>/<remote>/sdn/{zones,vnets,subnets,controllers,ipams,dns}.cfg   section config text
    <state-dir>/<remote>/sdn/.running-config                                   JSON, as apply writes it
    <state-dir>/<remote>/sdn/.lock                                             the lock token, no newline
    <state-dir>/<remote>/priv/credentials.json                                 password, token secret, ticket key
    <state-dir>/<remote>/priv/access.json                                      users, tokens, groups, roles, ACL
                                                                               (once the control API changed them)
    <state-dir>/<remote>/priv/ipam.db                                          the pve IPAM's entries
    <state-dir>/<remote>/local/pve-ssl.pem, pve-ssl.key                        certificate and key
    <state-dir>/<remote>/tasks.json                                            the task list

Every write goes to a temporary file first and is renamed into place. Only files whose text
changed are written, so a thousand remotes persist cheaply.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

from pvefleet_emulator import schema, section_config
from pvefleet_emulator.sdn_config import FILE_KINDS, SdnConfig

# The create call whose parameter schema types each file's values.
_CREATE_CALLS = {
    "zones": "/cluster/sdn/zones",
    "vnets": "/cluster/sdn/vnets",
    "subnets": "/cluster/sdn/vnets/{vnet}/subnets",
    "controllers": "/cluster/sdn/controllers",
    "ipams": "/cluster/sdn/ipams",
    "dns": "/cluster/sdn/dns",
}


class RemoteFiles:
    def __init__(self, directory: Path):
        self.directory = directory
        self.sdn = directory / "sdn"
        self.cert = directory / "local" / "pve-ssl.pem"
        self.key = directory / "local" / "pve-ssl.key"
        self._written: dict[Path, Optional[str]] = {}
        self._directories: set[Path] = set()  # made already: mkdir costs a system call per write

    # SDN configuration

    def load_config(self) -> SdnConfig:
        pending = {}
        for kind in FILE_KINDS:
            text = self._read(self.sdn / f"{kind}.cfg")
            types = schema.option_types(_CREATE_CALLS[kind])
            pending[kind] = section_config.parse(text or "", types)
        running_text = self._read(self.sdn / ".running-config")
        running = SdnConfig.running_from_document(json.loads(running_text)) if running_text else None
        lock = self._read(self.sdn / ".lock")
        return SdnConfig(pending, running, lock if lock else None)

    def save_config(self, config: SdnConfig) -> None:
        for kind in FILE_KINDS:
            path = self.sdn / f"{kind}.cfg"
            text = config.file_text(kind)
            if text or self._known(path) is not None:  # an empty kind gets no file until it had one
                self._write(path, text)
        document = config.running_document()
        self._write_or_remove(self.sdn / ".running-config",
                              None if document is None else json.dumps(document, sort_keys=True))
        self._write_or_remove(self.sdn / ".lock", config.lock)

    def remove_config(self) -> None:
        for kind in FILE_KINDS:
            self._write_or_remove(self.sdn / f"{kind}.cfg", None)
        self._write_or_remove(self.sdn / ".running-config", None)
        self._write_or_remove(self.sdn / ".lock", None)

    # Other JSON documents

    def load_json(self, name: str) -> Any:
        text = self._read(self.directory / name)
        return None if text is None else json.loads(text)

    def save_json(self, name: str, data: Any, *, private: bool = False) -> None:
        self._write(self.directory / name, json.dumps(data, sort_keys=True), mode=0o600 if private else 0o644)

    def remove_json(self, name: str) -> None:
        self._write_or_remove(self.directory / name, None)

    # Files
    #
    # The emulator is the only writer of its state directory, so what it read or wrote last is
    # what each file holds (None: no file); a write that changes nothing costs no system call.

    def _read(self, path: Path) -> Optional[str]:
        try:
            text: Optional[str] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = None
        self._written[path] = text
        return text

    def _known(self, path: Path) -> Optional[str]:
        return self._written[path] if path in self._written else self._read(path)

    def _write(self, path: Path, text: str, *, mode: int = 0o644) -> None:
        if self._known(path) == text:
            return
        if path.parent not in self._directories:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._directories.add(path.parent)
        tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        self._written[path] = text

    def _write_or_remove(self, path: Path, text: Optional[str]) -> None:
        if text is not None:
            self._write(path, text)
        elif self._known(path) is not None:
            path.unlink(missing_ok=True)
            self._written[path] = None
