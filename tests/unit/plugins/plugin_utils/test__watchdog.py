"""The watchdog's channel: connection settings, secrets included, go only to a watchdog proven to be
this user's, listening in a private directory that the journal names."""
from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId, journal_path
from ansible_collections.pvefleet.sdn.plugins.plugin_utils import _watchdog as watchdog

SECRET = "5f0c4f6e-7a3b-4c3e-9d1e-2b8f9e1a6c42"


class Listener:
    """A Unix socket server that records what it receives and answers "ok"."""

    def __init__(self, path: Path):
        self.received = b""
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.server.settimeout(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _address = self.server.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(2)
            try:
                self.received = connection.recv(65536)
                connection.sendall(b"ok\n")
            except OSError:  # the client went away without sending: what these tests want
                pass

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)


def message() -> str:
    settings = ConnectionSettings("pve.example.com", "root@pam", api_token_id="fleet", api_token_secret=SECRET)
    return json.dumps({"host": "r1", "settings": watchdog.settings_to_dict(settings)}) + "\n"


def test_settings_go_to_a_watchdog_of_this_user_in_a_private_directory(tmp_path):
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    listener = Listener(directory / "watchdog.sock")
    assert watchdog._send({"socket": str(directory / "watchdog.sock")}, message()) is True
    listener.close()
    assert SECRET.encode() in listener.received


@pytest.mark.parametrize("mode", [0o755, 0o777, 0o710])
def test_nothing_is_sent_to_a_socket_in_a_directory_others_can_enter(tmp_path, mode):
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(mode)
    listener = Listener(directory / "watchdog.sock")
    assert watchdog._send({"socket": str(directory / "watchdog.sock")}, message()) is False
    listener.close()
    assert listener.received == b""


def test_nothing_is_sent_to_a_peer_of_another_user(tmp_path, monkeypatch):
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    listener = Listener(directory / "watchdog.sock")
    monkeypatch.setattr(watchdog, "_peer_uid", lambda sock: os.getuid() + 1)
    assert watchdog._send({"socket": str(directory / "watchdog.sock")}, message()) is False
    listener.close()
    assert listener.received == b""


def test_a_symlinked_directory_is_not_private(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert watchdog._private(real) and not watchdog._private(tmp_path / "link")


def test_spawn_records_a_fresh_private_directory_in_the_journal(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(watchdog.subprocess, "Popen", lambda *args, **kwargs: started.append(args) or
                        type("Process", (), {"pid": 4242})())
    journal = Journal(journal_path("t", str(tmp_path / "journal")))
    run = RunId.current()
    journal.join(run, "r1", {})
    known = watchdog._spawn(journal, run)
    path = Path(known["socket"])
    assert journal.read()["watchdog"] == known and known["pid"] == 4242
    assert watchdog._private(path.parent) and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert path.parent.parent == Path(tempfile.gettempdir()) and path.parent.name != "pvefleet-sdn-"
    assert watchdog.socket_of(journal) == path
    assert str(path) in started[0][0]  # the watchdog is told where to listen
    os.rmdir(path.parent)
