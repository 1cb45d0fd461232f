"""One remote's files in the state directory, laid out like the PVE paths they stand for:

    <state-dir>/<remote>/sdn/{zones,vnets,subnets,controllers,ipams,dns}.cfg   section config text
    <state-dir>/<remote>/sdn/{prefix-lists,route-maps}.cfg                     (PVE 9.2) the same
    <state-dir>/<remote>/sdn/fabrics.cfg                                       (PVE 9) the same (fabrics.py)
    <state-dir>/<remote>/sdn/.running-config                                   JSON, as apply writes it
    <state-dir>/<remote>/sdn/.lock                                             the lock token, no newline
    <state-dir>/<remote>/priv/credentials.json                                 password, token secret, ticket key
    <state-dir>/<remote>/priv/access.json                                      users, tokens, groups, roles, ACL
                                                                               (once the control API changed them)
    <state-dir>/<remote>/sdn/pve-ipam-state.json                               the pve IPAM's entries (ipam.py)
    <state-dir>/<remote>/sdn/mac-cache.json                                    the MAC cache (ipam.py)
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
    "prefix-lists": "/cluster/sdn/prefix-lists",  # PVE 9.2 (schema.py's overlay)
    "route-maps": "/cluster/sdn/route-maps/entries",
    # A node's schema types `interfaces` as a list; fabrics.py reads the fabrics' numbers itself.
    "fabrics": "/cluster/sdn/fabrics/node/{fabric_id}",
}


class RemoteFiles:
    def __init__(self, directory: Path):
        self.directory = directory
        self.sdn = directory / "sdn"
        self.cert = directory / "local" / "pve-ssl.pem"
        self.key = directory / "local" / "pve-ssl.key"
        # Paths as text, made once: a persist looks each one up, and pathlib's joins, hashes and
        # comparisons cost more than the writes they lead to.
        self._config_files = {kind: os.path.join(self.sdn, f"{kind}.cfg") for kind in FILE_KINDS}
        self._running_file = os.path.join(self.sdn, ".running-config")
        self._lock_file = os.path.join(self.sdn, ".lock")
        self._written: dict[str, Optional[str]] = {}
        self._directories: set[str] = set()  # made already: mkdir costs a system call per write
        # The running config last saved: apply replaces it (SdnConfig.commit), nothing changes it
        # in place, so an unchanged one is not serialized again.
        self._saved_running: Optional[dict] = None

    # SDN configuration

    def load_config(self) -> SdnConfig:
        pending = {}
        for kind in FILE_KINDS:
            text = self._read(self._config_files[kind])
            types = schema.option_types(_CREATE_CALLS[kind])
            pending[kind] = section_config.parse(text or "", types)
        running_text = self._read(self._running_file)
        running = SdnConfig.running_from_document(json.loads(running_text)) if running_text else None
        lock = self._read(self._lock_file)
        self._saved_running = running
        return SdnConfig(pending, running, lock if lock else None)

    def save_config(self, config: SdnConfig) -> None:
        for kind in FILE_KINDS:
            path = self._config_files[kind]
            text = config.file_text(kind)
            if text or self._known(path) is not None:  # an empty kind gets no file until it had one
                self._write(path, text)
        if config.running is not self._saved_running or config.running is None:
            document = config.running_document()
            self._write_or_remove(self._running_file, None if document is None else json.dumps(document, sort_keys=True))
            self._saved_running = config.running
        self._write_or_remove(self._lock_file, config.lock)

    def remove_config(self) -> None:
        for kind in FILE_KINDS:
            self._write_or_remove(self._config_files[kind], None)
        self._write_or_remove(self._running_file, None)
        self._write_or_remove(self._lock_file, None)
        self._saved_running = None

    # Other JSON documents

    def load_json(self, name: str) -> Any:
        text = self._read(os.path.join(self.directory, name))
        return None if text is None else json.loads(text)

    def save_json(self, name: str, data: Any, *, private: bool = False) -> None:
        self._write(os.path.join(self.directory, name), json.dumps(data, sort_keys=True),
                    mode=0o600 if private else 0o644)

    def remove_json(self, name: str) -> None:
        self._write_or_remove(os.path.join(self.directory, name), None)

    # Files
    #
    # The emulator is the only writer of its state directory, so what it read or wrote last is
    # what each file holds (None: no file); a write that changes nothing costs no system call.

    def _read(self, path: str) -> Optional[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                text: Optional[str] = handle.read()
        except FileNotFoundError:
            text = None
        self._written[path] = text
        return text

    def _known(self, path: str) -> Optional[str]:
        return self._written[path] if path in self._written else self._read(path)

    def _write(self, path: str, text: str, *, mode: int = 0o644) -> None:
        """Into a temporary file, renamed into place: a stop never leaves half a file. The
        temporary file is made with `mode` (the umask applies), not changed to it afterwards."""
        if self._known(path) == text:
            return
        directory = os.path.dirname(path)
        if directory not in self._directories:
            os.makedirs(directory, exist_ok=True)
            self._directories.add(directory)
        tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp.{os.getpid()}")
        data = text.encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._written[path] = text

    def _write_or_remove(self, path: str, text: Optional[str]) -> None:
        if text is not None:
            self._write(path, text)
        elif self._known(path) is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            self._written[path] = None
