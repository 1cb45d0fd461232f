"""Properties of the journal under concurrency: N processes sweeping a transaction's remotes at once
(as hosts running a rescue together do) claim each remote exactly once, and every update survives."""
from __future__ import annotations

import multiprocessing
import os
import socket
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal, RunId, journal_path
from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import ACTIVE, Phase

RUN = RunId(socket.gethostname(), os.getpid(), "1")
FORK = multiprocessing.get_context("fork")
CLAIMABLE = ACTIVE - {Phase.ROLLING_BACK}


def _sweep(path: str, order: list[str], start, queue) -> None:
    """One process of a rescue: claim every remote it can, in its own order, and say which."""
    journal = Journal(Path(path))
    start.wait()
    won = []
    for host in order:
        if journal.claim(host, CLAIMABLE, Phase.ROLLING_BACK) is not None:
            won.append(host)
            journal.update(host, phase=Phase.ROLLED_BACK, by=str(os.getpid()))
    queue.put(won)


phases = st.sampled_from([Phase.LOCKING, Phase.LOCKED, Phase.CHANGED, Phase.FAILED, Phase.APPLIED,
                          Phase.ROLLED_BACK, Phase.LOCK_FAILED, Phase.ROLLING_BACK])


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(remotes=st.dictionaries(st.from_regex(r"r[0-9]{1,3}", fullmatch=True), phases, min_size=1, max_size=12),
       workers=st.integers(min_value=2, max_value=6), data=st.data())
def test_concurrent_sweeps_claim_each_active_remote_exactly_once(tmp_path_factory, remotes, workers, data):
    journal = Journal(journal_path("t", str(tmp_path_factory.mktemp("j"))))
    journal.join_many(RUN, {host: {} for host in remotes})
    journal.update_many({host: {"phase": phase, "token": f"token-{host}"} for host, phase in remotes.items()})
    hosts = sorted(remotes)
    orders = [data.draw(st.permutations(hosts)) for _worker in range(workers)]
    start, queue = FORK.Event(), FORK.Queue()
    children = [FORK.Process(target=_sweep, args=(str(journal.path), order, start, queue)) for order in orders]
    for child in children:
        child.start()
    start.set()
    won = [host for _child in children for host in queue.get(timeout=60)]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0

    claimable = sorted(h for h, phase in remotes.items() if phase in CLAIMABLE)
    assert sorted(won) == claimable  # each exactly once: no remote twice, none left out
    entries = journal.read()["remotes"]
    for host, phase in remotes.items():
        # what was claimed ended rolled back (no update lost), the rest as it was
        assert entries[host]["phase"] == (Phase.ROLLED_BACK if host in claimable else phase)
        assert entries[host]["token"] == f"token-{host}"
