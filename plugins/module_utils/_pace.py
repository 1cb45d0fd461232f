# Private to pvefleet.sdn: not a public API.
"""How often the remotes of one fleet poll their reload tasks.

Every remote's reload starts at about the same moment and, on similar clusters, takes about as
long. So a few scouts poll closely (from 50 ms up, at most every 0.1 s); the others poll
rarely until a scout's task ends, which tells everyone how long a reload takes; each of them
then polls when its own task should end, and closely after that. A fleet of a thousand then
costs a handful of polls per remote, yet every remote notices its task's end about as soon as
a scout would.
"""
from __future__ import annotations

import asyncio
from typing import Optional

SCOUTS = 5
# How far apart a scout polls at most, and a remote whose task should have ended by now.
CLOSE_MAX = 0.1
# The others' polls before anything is known: from PATIENT_FIRST, doubling up to PATIENT_MAX. A
# scout's news usually comes first; these polls only bound how late a remote whose scouts' tasks
# run long notices its own task's end.
PATIENT_FIRST = 2.0
PATIENT_MAX = 4.0


class FleetPace:
    def __init__(self, scouts: int = SCOUTS):
        self._scouts_left = scouts
        self.expected: Optional[float] = None  # seconds from the apply to a reload task's end
        self._learned = asyncio.Event()

    def enrol(self) -> bool:
        """Whether the caller is a scout (the first SCOUTS to ask)."""
        self._scouts_left -= 1
        return self._scouts_left >= 0

    def learned(self, duration: float) -> None:
        """A task was seen ended `duration` seconds after its apply (the shortest so far is kept)."""
        if self.expected is None or duration < self.expected:
            self.expected = duration
        self._learned.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake as soon as the first task's duration becomes known."""
        if self._learned.is_set():
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(self._learned.wait(), seconds)
        except asyncio.TimeoutError:
            pass
