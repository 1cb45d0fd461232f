# Private to pvefleet.sdn: not a public API.
"""The controller-side record of a transaction: which remotes, their lock tokens, each one's phase.

Ansible runs an action plugin once per host, each in its own worker process, so what the hosts of
one transaction share lives in a file. The file is rewritten atomically under an advisory lock, is
readable only by its owner (it holds lock tokens), and outlives a controller that was killed, so
that a recovery run knows what was left locked.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import ACTIVE, Phase

DEFAULT_DIR = "~/.ansible/pvefleet_sdn"
# A remote in one of these phases may hold our lock or pending changes, or be half applied.
UNSETTLED = ACTIVE | {Phase.APPLYING}


class JournalConflict(PveFleetError):
    """The record belongs to another run that is alive, or a dead run left remotes locked."""


@dataclass(frozen=True)
class RunId:
    """Identifies one ansible-playbook run: workers are children of its main process."""

    controller: str
    pid: int
    started: str

    @classmethod
    def current(cls) -> RunId:
        pid = os.getppid()
        return cls(socket.gethostname(), pid, _process_start(pid))

    @classmethod
    def this_process(cls) -> RunId:
        """This very process, for one that is no worker of a run (the watchdog)."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_start(pid))

    def as_dict(self) -> dict:
        return {"controller": self.controller, "pid": self.pid, "started": self.started}

    def is_alive(self) -> bool:
        if self.controller != socket.gethostname():
            return True  # cannot tell from here: assume it may still run
        return _process_start(self.pid) == self.started and self.started != ""


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks (Linux), so a reused PID is not mistaken for it;
    "" for a process that has ended, including one its parent has not reaped yet (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return "" if fields[0] in ("Z", "X") else fields[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return ""
        return "unknown"


def journal_path(transaction: str, journal_dir: str | None) -> Path:
    if not transaction or "/" in transaction or transaction.startswith("."):
        raise PveFleetError(f"transaction: must be a plain name (got {transaction!r})")
    directory = Path(os.path.expanduser(journal_dir or DEFAULT_DIR))
    return directory / f"{transaction}.json"


class Journal:
    """Read-modify-write access to one transaction's record file."""

    def __init__(self, path: Path):
        self.path = path
        self._swept = False

    @contextlib.contextmanager
    def _locked(self, changes: bool = False) -> Iterator[dict]:
        """The record, under the file lock; written back if it changed (`changes`: it does, so
        it is not compared, which for a thousand remotes costs more than the write)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_suffix(".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not self._swept:
                self._sweep()
            record = self._load()
            before = None if changes else json.dumps(record, sort_keys=True)
            yield record
            if changes or json.dumps(record, sort_keys=True) != before:
                if record:
                    self._store(record)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise PveFleetError(f"the transaction record {self.path} is not valid JSON: {exc}") from exc

    def _tmp_prefix(self) -> str:
        return f".{self.path.stem}.journal-"

    def _sweep(self) -> None:
        """Under the lock, a rewrite's temporary file is left only by a process killed mid-way:
        it may hold lock tokens, so it goes."""
        self._swept = True
        for leftover in self.path.parent.glob(self._tmp_prefix() + "*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def _store(self, record: dict) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self._tmp_prefix(), suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                # Without indent: json's C encoder, several times faster than its Python one.
                json.dump(record, handle, sort_keys=True, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read(self) -> dict:
        with self._locked() as record:
            return json.loads(json.dumps(record))

    def join(self, run: RunId, host: str, remote: dict) -> None:
        """Add a host to this run's transaction, refusing to overwrite another run's live record.
        The host enters as `planned`; the lock step records `locking` before its request leaves."""
        self.join_many(run, {host: remote})

    def join_many(self, run: RunId, remotes: dict[str, dict], phase: Phase = Phase.PLANNED) -> None:
        with self._locked() as record:
            owner = record.get("run")
            if owner and owner != run.as_dict():
                self._refuse_foreign(RunId(**owner), _active_hosts(record))
                record.clear()
            if not record:
                record.update({"transaction": self.path.stem, "run": run.as_dict(), "created": time.time(),
                               "remotes": {}})
            record.pop("verification", None)  # a host joined: the locks are to be checked again
            now = time.time()
            for host, remote in remotes.items():
                entry = record["remotes"].get(host)
                if entry and entry.get("phase") in UNSETTLED:
                    raise JournalConflict(
                        f"{host} is already in transaction '{self.path.stem}' (phase {entry['phase']}); "
                        "lock each remote once per transaction")
                record["remotes"][host] = {**remote, "phase": phase, "updated": now}

    def _refuse_foreign(self, previous: RunId, left: list[str]) -> None:
        if not left:
            return
        if previous.is_alive():
            raise JournalConflict(
                f"transaction '{self.path.stem}' is in use by another run "
                f"(controller {previous.controller}, pid {previous.pid}); "
                "give this run another transaction name")
        raise JournalConflict(
            f"an earlier run that did not finish left these remotes of transaction "
            f"'{self.path.stem}' possibly locked or with pending changes: {', '.join(left)}. "
            "Run the recovery playbook (pvefleet.sdn.recover) first; the record is "
            f"{self.path}")

    def update(self, host: str, **fields) -> dict:
        with self._locked() as record:
            entry = record.setdefault("remotes", {}).setdefault(host, {})
            entry.update(fields, updated=time.time())
            return dict(entry)

    def update_many(self, updates: dict[str, dict]) -> None:
        """One rewrite for many hosts (the fleet engine records a thousand remotes at once)."""
        now = time.time()
        with self._locked(changes=True) as record:
            remotes = record.setdefault("remotes", {})
            for host, fields in updates.items():
                remotes.setdefault(host, {}).update(fields, updated=now)

    def set_field(self, name: str, value) -> None:
        """A top-level field of the record (such as the transaction-wide lock verification)."""
        with self._locked() as record:
            record[name] = value

    @contextlib.contextmanager
    def exclusive(self, purpose: str) -> Iterator[None]:
        """Serialise a step that one host does for the whole transaction (others wait, then read)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_suffix(f".{purpose}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def claim(self, host: str, from_phases: frozenset, to_phase: str, claimer: RunId | None = None) -> dict | None:
        """Move host to to_phase if it is in one of from_phases; the entry as it was, or None.

        The claimer (a run) is recorded with the phase it claimed from: an entry left claimed by
        a run that is gone can be claimed again, as it was, but never one a live run holds."""
        claimer = claimer or RunId.current()
        with self._locked() as record:
            entry = record.get("remotes", {}).get(host)
            if not entry or entry.get("phase") not in from_phases:
                return None
            claimed = dict(entry)
            if entry.get("phase") == to_phase and entry.get("claimed_by"):
                holder = RunId(**entry["claimed_by"])
                if holder == claimer or holder.is_alive():
                    return None
                claimed["phase"] = entry.get("claimed_from") or entry["phase"]
            entry.update(phase=to_phase, claimed_by=claimer.as_dict(), claimed_from=claimed["phase"],
                         updated=time.time())
            return claimed

    def forget(self) -> None:
        """Remove the record once nothing in it is active any more."""
        with self._locked() as record:
            if record and not _active_hosts(record):
                record.clear()


def _active_hosts(record: dict) -> list[str]:
    return sorted(h for h, e in record.get("remotes", {}).items() if e.get("phase") in UNSETTLED)
