# Private to pvefleet.sdn: not a public API.
"""Roll back what a task-by-task transaction left locked when ansible-playbook stops mid-way.

Between two tasks none of our code runs: a SIGINT or SIGTERM there ends ansible-playbook
without any rescue. So the first sdn_lock of a run starts one small watchdog process per
transaction. Each sdn_lock hands it its remote's connection settings, its own as its task had
them. When the ansible-playbook process is gone and the journal still shows remotes of that run
as locked, the watchdog rolls them back and releases them (steps.unwind, as a rescue would),
recording the outcome in the journal. It ignores SIGINT and SIGTERM, so the signal that stopped
the run does not stop it; a SIGKILL of the whole controller leaves the journal for the recovery
playbook.

The settings hold secrets, so they travel only to a watchdog proven to be ours: its Unix socket
is in a directory of its own (mode 0700, a random name, created by mkdtemp) whose path and the
watchdog's process ID are kept in the transaction's journal (mode 0600), and each side checks
the other's user ID (SO_PEERCRED) before anything is sent. No name in a shared directory is
ever guessed or trusted.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._connection import ConnectionSettings
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import ACTIVE, Phase

POLL_SECONDS = 0.5
CONNECT_SECONDS = 10.0
SOCKET_NAME = "watchdog.sock"


def register(journal: Journal, run: RunId, host: str, settings: ConnectionSettings) -> None:
    """Make sure the run's watchdog is up and knows how to reach `host`'s remote."""
    message = json.dumps({"run": run.as_dict(), "host": host, "settings": settings_to_dict(settings)}) + "\n"
    with open(journal.path.with_suffix(".watchdog.lock"), "a+") as gate:
        fcntl.flock(gate, fcntl.LOCK_EX)  # one spawner at a time
        known = journal.read().get("watchdog") or {}
        if known.get("run") == run.as_dict() and _send(known, message):
            return
        known = _spawn(journal, run)
        deadline = time.monotonic() + CONNECT_SECONDS
        while not _send(known, message):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the transaction watchdog did not start ({known['socket']})")
            time.sleep(0.05)


def socket_of(journal: Journal) -> Optional[Path]:
    """Where the watchdog of the transaction recorded in `journal` listens, if one was started."""
    known = journal.read().get("watchdog") or {}
    return Path(known["socket"]) if known.get("socket") else None


def settings_to_dict(settings: ConnectionSettings) -> dict:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def _peer_uid(sock: socket.socket) -> int:
    pid_uid_gid = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", pid_uid_gid)[1]


def _private(directory: Path) -> bool:
    """A directory only this user can enter (so nobody else can have put a socket in it)."""
    try:
        info = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700


def _send(known: dict, message: str) -> bool:
    path = known.get("socket")
    if not path or not _private(Path(path).parent):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_SECONDS)
            sock.connect(path)
            if _peer_uid(sock) != os.getuid():
                return False  # not our watchdog: the settings stay here
            sock.sendall(message.encode())
            return sock.recv(16).startswith(b"ok")
    except OSError:
        return False


def _spawn(journal: Journal, run: RunId) -> dict:
    """Start a watchdog in a private directory of its own and record where it listens."""
    directory = tempfile.mkdtemp(prefix="pvefleet-sdn-")  # 0700, a name nobody could have guessed
    path = os.path.join(directory, SOCKET_NAME)
    # .../<root>/ansible_collections/pvefleet/sdn/plugins/plugin_utils/_watchdog.py; not resolved,
    # since the collection may be a symlink into a checkout
    collections_root = Path(os.path.abspath(__file__)).parents[5]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(collections_root), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(
        [sys.executable, "-c", "from ansible_collections.pvefleet.sdn.plugins.plugin_utils._watchdog import main; main()",
         str(journal.path), json.dumps(run.as_dict()), path],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env, close_fds=True)
    known = {"run": run.as_dict(), "socket": path, "pid": process.pid}
    journal.set_field("watchdog", known)
    return known


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    journal = Journal(Path(sys.argv[1]))
    run = RunId(**json.loads(sys.argv[2]))
    asyncio.run(_watch(journal, run, Path(sys.argv[3])))


async def _watch(journal: Journal, run: RunId, path: Path) -> None:
    remotes: dict[str, dict] = {}

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            sock = writer.get_extra_info("socket")
            data = json.loads(await reader.readline()) if _peer_uid(sock) == os.getuid() else {}
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
    try:
        async with server:
            while run.is_alive():
                await asyncio.sleep(POLL_SECONDS)
                if not _still_ours(journal, run):
                    break
            else:
                await _roll_back_left(journal, run, remotes)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


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
    from ansible_collections.pvefleet.sdn.plugins.module_utils import _steps as steps
    from ansible_collections.pvefleet.sdn.plugins.module_utils._remote import Remote
    from ansible_collections.pvefleet.sdn.plugins.module_utils._transaction import fleet_client, run_phase

    if journal.read().get("run") != run.as_dict():
        return
    claimed = []
    me = RunId.this_process()

    def pen(remote: Remote, _fields: dict) -> None:
        journal.update(remote.host, **remote.record())

    for host, settings in remotes.items():
        entry = journal.claim(host, ACTIVE - {Phase.ROLLING_BACK}, Phase.ROLLING_BACK, claimer=me)
        if entry is not None:
            remote = Remote.from_entry(host, ConnectionSettings(**settings), entry, by="watchdog")
            remote.on_change = pen
            claimed.append(remote)

    async def unwind(remote: Remote) -> None:
        async with fleet_client(remote.settings, remote.identity) as client:
            remote.client = client
            await steps.unwind(remote, cause="the run stopped before applying")

    await run_phase(unwind, claimed)  # a failure is recorded too (Remote.failed moves the phase)
