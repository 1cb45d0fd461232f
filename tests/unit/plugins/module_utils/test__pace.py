"""A fleet's reload polling: scouts poll closely, the others rarely until a scout's task ends."""
from __future__ import annotations

import asyncio
import time

from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import SCOUTS, FleetPace
from ansible_collections.pvefleet.sdn.plugins.module_utils._tasks import TaskFollower

UPID = "UPID:pve1:00001234:00005678:6745A1B2:reloadnetworkall::root@pam:"


class ReloadingRemote:
    """A remote whose reload task runs `seconds` from now (its apply); counts the polls."""

    def __init__(self, seconds: float):
        self.seconds, self.started, self.polls = seconds, time.monotonic(), 0

    async def get(self, path, params=None):
        self.polls += 1
        done = time.monotonic() - self.started >= self.seconds
        return {"status": "stopped", "exitstatus": "OK"} if done else {"status": "running"}


def follow_fleet(size: int, seconds: float) -> tuple[list[ReloadingRemote], list[float]]:
    remotes = [ReloadingRemote(seconds) for _index in range(size)]

    async def go():
        pace = FleetPace()
        return await asyncio.gather(*(TaskFollower(r).wait(UPID, pace=pace) for r in remotes))

    results = asyncio.run(go())
    return remotes, [result.duration for result in results]


def test_the_rest_of_the_fleet_polls_less_and_still_notices_the_end_about_as_soon():
    remotes, durations = follow_fleet(SCOUTS + 20, 0.6)
    scouts, others = remotes[:SCOUTS], remotes[SCOUTS:]
    assert max(r.polls for r in others) < min(r.polls for r in scouts)
    assert sum(r.polls for r in others) <= 2 * len(others)  # no poll at the start, one at the end
    # Woken by the first scout that saw its task end, at the time their own should end.
    assert max(durations[SCOUTS:]) < max(durations[:SCOUTS]) + 0.15


def test_without_a_fleet_a_follower_polls_closely():
    remote = ReloadingRemote(0.3)
    result = asyncio.run(TaskFollower(remote).wait(UPID))
    assert result.ok and remote.polls >= 4 and result.duration < 0.3 + TaskFollower.MAX_INTERVAL + 0.1
