# Private to pvefleet.sdn: not a public API.
"""Roll back what a task-by-task transaction left locked when ansible-playbook stops mid-way.

Between two tasks none of our code runs: a SIGINT or SIGTERM there ends ansible-playbook
without any rescue. So the first sdn_lock of a run starts one small watchdog process per
transaction. Each sdn_lock hands it its remote's connection settings over a Unix socket (0600,
secrets stay in memory). When the ansible-playbook process is gone and the journal still shows
remotes of that run as locked, the watchdog rolls them back and releases them, recording the
outcome in the journal. It ignores SIGINT and SIGTERM, so the signal that stopped the run does
not stop it; a SIGKILL of the whole controller leaves the journal for the recovery playbook.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import ACTIVE_PHASES, Journal, RunId

POLL_SECONDS = 0.5
CONNECT_SECONDS = 10.0


def socket_path(journal: Journal) -> Path:
    path = journal.path.with_suffix(".watchdog.sock")
    if len(str(path)) < 100:
        return path
    # Unix socket paths are limited to about 100 bytes: a long journal path gets a short alias.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"pvefleet-sdn-{os.getuid()}-{digest}.sock"


def register(journal: Journal, run: RunId, host: str, settings: ConnectionSettings) -> None:
    """Make sure the run's watchdog is up and knows how to reach `host`'s remote."""
    path = socket_path(journal)
    message = json.dumps({"run": run.as_dict(), "host": host, "settings": settings_to_dict(settings)}) + "\n"
    with open(journal.path.with_suffix(".watchdog.lock"), "a+") as gate:
        fcntl.flock(gate, fcntl.LOCK_EX)  # one spawner at a time
        if not _send(path, message):
            _spawn(journal, run)
            deadline = time.monotonic() + CONNECT_SECONDS
            while not _send(path, message):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the transaction watchdog did not start ({path})")
                time.sleep(0.05)


def settings_to_dict(settings: ConnectionSettings) -> dict:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def _send(path: Path, message: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_SECONDS)
            sock.connect(str(path))
            sock.sendall(message.encode())
            return sock.recv(16).startswith(b"ok")
    except OSError:
        return False


def _spawn(journal: Journal, run: RunId) -> None:
    # .../<root>/ansible_collections/pvefleet/sdn/plugins/plugin_utils/_watchdog.py; not resolved,
    # since the collection may be a symlink into a checkout
    collections_root = Path(os.path.abspath(__file__)).parents[5]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(collections_root), os.environ.get("PYTHONPATH")])))
    subprocess.Popen(
        [sys.executable, "-c", "from ansible_collections.pvefleet.sdn.plugins.plugin_utils._watchdog import main; main()",
         str(journal.path), json.dumps(run.as_dict())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env, close_fds=True)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    journal = Journal(Path(sys.argv[1]))
    run = RunId(**json.loads(sys.argv[2]))
    asyncio.run(_watch(journal, run))


async def _watch(journal: Journal, run: RunId) -> None:
    path = socket_path(journal)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    remotes: dict[str, dict] = {}

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            data = json.loads(await reader.readline())
            if data.get("run") == run.as_dict():
                remotes[data["host"]] = data["settings"]
                writer.write(b"ok\n")
            else:
                writer.write(b"no\n")
            await writer.drain()
        writer.close()

    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(accept, path=str(path))
    finally:
        os.umask(old_umask)
    async with server:
        while run.is_alive():
            await asyncio.sleep(POLL_SECONDS)
            if not _still_ours(journal, run):
                break
        else:
            await _roll_back_left(journal, run, remotes)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _still_ours(journal: Journal, run: RunId) -> bool:
    """Keep watching while the record belongs to this run (later transactions of the same run
    may still come, so an all-finished record keeps the watchdog up until the run ends)."""
    try:
        record = journal.read()
    except Exception:
        return False
    return not record or record.get("run") == run.as_dict()


async def _roll_back_left(journal: Journal, run: RunId, remotes: dict[str, dict]) -> None:
    # Imported here: only the watchdog's own process needs the API client.
    from ansible_collections.pvefleet.sdn.plugins.module_utils._client import PveClient
    from ansible_collections.pvefleet.sdn.plugins.module_utils._lock import LockSession
    from ansible_collections.pvefleet.sdn.plugins.module_utils._unwind import rollback_and_release

    record = journal.read()
    if record.get("run") != run.as_dict():
        return

    async def one(host: str, settings: dict) -> None:
        entry = journal.claim(host, ACTIVE_PHASES - {"rolling_back"}, "rolling_back")
        if entry is None or not entry.get("token"):
            if entry is not None:
                journal.update(host, phase=entry["phase"])  # unclaim: nothing we can undo safely
            return
        try:
            async with PveClient(ConnectionSettings(**settings)) as client:
                outcome = (await rollback_and_release(LockSession(client), entry["token"])).as_dict()
        except Exception as exc:  # the watchdog must record something for every remote
            outcome = {"state": "stuck", "ok": False, "errors": [str(exc)]}
        journal.update(host, phase=outcome["state"], unwind=outcome, error="the run stopped before applying")

    await asyncio.gather(*(one(host, settings) for host, settings in remotes.items()))
