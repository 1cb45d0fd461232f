from __future__ import annotations

import json
import multiprocessing
import os
import socket
import stat
import time

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import PveFleetError
from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import (
    Journal,
    JournalConflict,
    RunId,
    journal_path,
)

RUN = RunId(socket.gethostname(), os.getpid(), "1")


def make(tmp_path) -> Journal:
    return Journal(journal_path("t1", str(tmp_path / "j")))


def test_file_is_private_and_holds_the_token(tmp_path):
    journal = make(tmp_path)
    journal.join(RUN, "r1", {"api_host": "h"})
    journal.update("r1", phase="locked", token="secret-token")
    mode = stat.S_IMODE(os.stat(journal.path).st_mode)
    assert mode == 0o600
    assert json.loads(journal.path.read_text())["remotes"]["r1"]["token"] == "secret-token"


def test_join_starts_in_planned_phase(tmp_path):
    # The lock step records `locking` itself, before its request leaves.
    journal = make(tmp_path)
    journal.join(RUN, "r1", {})
    assert journal.read()["remotes"]["r1"]["phase"] == "planned"


@pytest.mark.parametrize("phase", ["locking", "locked", "changed", "failed", "applying"])
def test_same_host_twice_in_one_transaction_is_refused(tmp_path, phase):
    journal = make(tmp_path)
    journal.join(RUN, "r1", {})
    journal.update("r1", phase=phase)
    with pytest.raises(JournalConflict, match="already in transaction"):
        journal.join(RUN, "r1", {})


def test_a_rewrite_left_by_a_killed_process_is_swept(tmp_path):
    # A kill during a rewrite leaves its temporary file, which may hold lock tokens.
    journal = make(tmp_path)
    journal.join(RUN, "r1", {})
    leftover = journal.path.parent / f".{journal.path.stem}.journal-abc123.tmp"
    leftover.write_text('{"remotes": {"r1": {"token": "secret-token"}}}')
    other = journal.path.parent / ".other.journal-abc123.tmp"  # another transaction's: not ours to judge
    other.write_text("{}")
    Journal(journal.path).read()
    assert not leftover.exists() and other.exists()


def test_dead_run_with_locked_remotes_blocks_a_new_run(tmp_path):
    journal = make(tmp_path)
    dead = RunId(socket.gethostname(), 999999, "gone")
    journal.join(dead, "r1", {})
    journal.update("r1", phase="locked", token="t")
    with pytest.raises(JournalConflict, match="recovery playbook"):
        journal.join(RUN, "r2", {})


def test_dead_run_that_finished_is_replaced(tmp_path):
    journal = make(tmp_path)
    dead = RunId(socket.gethostname(), 999999, "gone")
    journal.join(dead, "r1", {})
    journal.update("r1", phase="applied")
    journal.join(RUN, "r2", {})
    record = journal.read()
    assert list(record["remotes"]) == ["r2"]
    assert record["run"] == RUN.as_dict()


def test_claim_happens_once(tmp_path):
    journal = make(tmp_path)
    journal.join(RUN, "r1", {})
    journal.update("r1", phase="locked", token="t")
    active = frozenset({"locked"})
    assert journal.claim("r1", active, "rolling_back")["token"] == "t"
    assert journal.claim("r1", active, "rolling_back") is None


def _claim_in_child(path: str, queue) -> None:
    queue.put(Journal(__import__("pathlib").Path(path)).claim("r1", frozenset({"locked"}), "rolling_back") is not None)


def test_concurrent_claims_from_processes_win_once(tmp_path):
    journal = make(tmp_path)
    journal.join(RUN, "r1", {})
    journal.update("r1", phase="locked", token="t")
    queue = multiprocessing.get_context("fork").Queue()
    children = [multiprocessing.get_context("fork").Process(target=_claim_in_child, args=(str(journal.path), queue))
                for _child in range(6)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    wins = [queue.get() for _child in children]
    assert wins.count(True) == 1


def test_forget_removes_a_finished_record_only(tmp_path):
    journal = make(tmp_path)
    journal.join(RUN, "r1", {})
    journal.update("r1", phase="locking")
    journal.forget()
    assert journal.path.exists()  # r1 is still locking
    journal.update("r1", phase="rolled_back")
    journal.forget()
    assert not journal.path.exists()


def test_update_many_writes_every_host(tmp_path):
    journal = make(tmp_path)
    journal.join_many(RUN, {"a": {}, "b": {}})
    journal.update_many({"a": {"phase": "locked"}, "b": {"phase": "lock_failed"}})
    remotes = journal.read()["remotes"]
    assert (remotes["a"]["phase"], remotes["b"]["phase"]) == ("locked", "lock_failed")


@pytest.mark.parametrize("name", ["", "../x", ".hidden", "a/b"])
def test_transaction_name_must_be_plain(tmp_path, name):
    with pytest.raises(PveFleetError, match="plain name"):
        journal_path(name, str(tmp_path))


def test_current_run_is_the_parent_process():
    run = RunId.current()
    assert run.pid == os.getppid()
    assert run.is_alive()


def test_a_run_whose_process_ended_unreaped_is_over():
    """A zombie keeps its PID and start time until its parent reaps it; the run is over anyway
    (a watchdog waiting for it would otherwise wait as long as the parent lives)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        for _attempt in range(200):
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        else:
            pytest.fail("the child did not end")
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            started = handle.read().rsplit(")", 1)[1].split()[19]
        assert not RunId(socket.gethostname(), pid, started).is_alive()
    finally:
        os.waitpid(pid, 0)
