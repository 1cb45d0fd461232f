# Private to pvefleet.sdn: not a public API.
"""Following PVE tasks (UPIDs) to their end, and checking that every node reloaded.

Polling starts fast and backs off to a small ceiling, so that a finished task is noticed within
a quarter of a second without flooding the remote (PDM polls every 3 s).
"""
from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import urllib.parse
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import ApiError, InvalidInput, TaskTimeout
from ansible_collections.pvefleet.sdn.plugins.module_utils._pace import CLOSE_MAX, PATIENT_FIRST, PATIENT_MAX, FleetPace

# pve-sdn-api.md §8.1
_UPID = re.compile(
    r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):"
    r"([^:\s/]+):([^:\s/]*):([^:\s/]+):$")


@dataclasses.dataclass(frozen=True)
class Upid:
    text: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str

    @classmethod
    def parse(cls, text: str) -> Upid:
        match = _UPID.match(text or "")
        if not match:
            raise InvalidInput({"upid": f"is not a PVE task ID (UPID:node:pid:pstart:starttime:type:id:user:), got {text!r}"})
        return cls(text, match.group(1), int(match.group(3), 16), int(match.group(4), 16),
                   int(match.group(5), 16), match.group(6), match.group(7), match.group(8))

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass
class TaskResult:
    upid: str
    node: str
    status: str
    exitstatus: str
    duration: float
    log_tail: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        # "WARNINGS: n" is success in PVE's own terms (pve-sdn-api.md §8.2).
        return self.exitstatus == "OK" or self.exitstatus.startswith("WARNINGS:")


def _doubling(first: float, ceiling: float):
    interval = first
    while True:
        yield interval
        interval = min(ceiling, interval * 2)


class TaskFollower:
    # A finished task is noticed within MAX_INTERVAL (plus a round trip) of its end; a task
    # that ends at once costs one poll after FIRST_INTERVAL.
    FIRST_INTERVAL = 0.05
    MAX_INTERVAL = 0.25
    BACKOFF = 1.5

    def __init__(self, client, *, first_interval: float = FIRST_INTERVAL, max_interval: float = MAX_INTERVAL,
                 backoff: float = BACKOFF, log_lines: int = 20):
        self.client = client
        self.first_interval, self.max_interval, self.backoff = first_interval, max_interval, backoff
        self.log_lines = log_lines

    def _intervals(self, ceiling: Optional[float] = None):
        interval, ceiling = self.first_interval, ceiling or self.max_interval
        while True:
            yield interval
            interval = min(ceiling, interval * self.backoff)

    async def wait(self, upid: Upid | str, *, timeout: float = 600.0, pace: Optional[FleetPace] = None,
                   started: Optional[float] = None) -> TaskResult:
        """Poll until the task stops, at most `timeout` seconds from `started` (default: now). With
        `pace` (a fleet's), this task's polls follow the fleet's: scout, or poll rarely and then when
        the task should end (_pace.py)."""
        upid = upid if isinstance(upid, Upid) else Upid.parse(upid)
        path = f"/nodes/{upid.node}/tasks/{urllib.parse.quote(upid.text, safe='')}"
        started = time.monotonic() if started is None else started
        close = pace is None or pace.enrol()
        # In a fleet, the few that poll closely can afford to poll closer still.
        ceiling = CLOSE_MAX if pace is not None else None
        intervals = self._intervals(ceiling) if close else _doubling(PATIENT_FIRST, PATIENT_MAX)
        # A patient poller's task cannot have ended within a round trip of its start: its first
        # poll waits too (for a scout's news, or its first interval).
        if not close and pace is not None and await self._sleep_patiently(pace, next(intervals), started):
            close, intervals = True, self._intervals(ceiling)
        while True:
            status = await self.client.get(path + "/status")
            now = time.monotonic()
            if not isinstance(status, dict) or "status" not in status:
                raise ApiError(200, f"the status of task {upid.text} has no `status` (got {status!r})",
                               method="GET", path=path + "/status", remote=getattr(getattr(self.client, "settings", None), "remote", ""))
            if status.get("status") == "stopped":
                if pace is not None:
                    # By now at the latest: the others then poll once, when theirs has ended,
                    # rather than a moment early and again.
                    pace.learned(now - started)
                result = TaskResult(upid.text, upid.node, "stopped", str(status.get("exitstatus", "unexpected status")),
                                    now - started)
                if not result.ok:
                    result.log_tail = await self._log_tail(path)
                return result
            interval = next(intervals)
            if not close and pace is not None and pace.expected is not None:
                # Poll when this task should end, and closely from then on.
                close, intervals = True, self._intervals(ceiling)
                interval = max(0.0, started + pace.expected - now) or next(intervals)
            if now - started + interval > timeout:
                raise TaskTimeout(upid.text, timeout)
            if close or pace is None:
                await asyncio.sleep(interval)
            elif await self._sleep_patiently(pace, interval, started):
                close, intervals = True, self._intervals(ceiling)

    @staticmethod
    async def _sleep_patiently(pace: FleetPace, interval: float, started: float) -> bool:
        """Sleep `interval` or until a scout's task ends; then, if the fleet now knows how long a
        reload takes, until this task should end. Whether it knows (then poll closely)."""
        await pace.sleep(interval)
        if pace.expected is None:
            return False
        await asyncio.sleep(max(0.0, started + pace.expected - time.monotonic()))
        return True

    async def _log_tail(self, path: str) -> list[str]:
        try:
            lines = await self.client.get(path + "/log", params={"start": 0, "limit": 1000}) or []
            return [str(line.get("t", "")) for line in lines[-self.log_lines:]]
        except ApiError:
            return []

    async def node_zone_status(self, node: str) -> list[dict]:
        return await self.client.get(f"/nodes/{urllib.parse.quote(node)}/sdn/zones") or []

    async def wait_nodes_applied(self, nodes: list[str], *, timeout: float = 600.0,
                                 since: Optional[int] = None) -> dict[str, str]:
        """Per node: "ok" when no zone is pending any more, "error: ..." when a zone is in error or
        the node's reload task failed, "pending" when the timeout ran out first."""
        started = time.monotonic()
        results: dict[str, str] = {}

        async def one(node: str) -> None:
            for interval in self._intervals():
                zones = await self.node_zone_status(node)
                broken = sorted(z.get("zone", "?") for z in zones if z.get("status") == "error")
                if broken:
                    results[node] = "error: zone(s) " + ", ".join(broken)
                    return
                if not any(z.get("status") == "pending" for z in zones):
                    results[node] = "ok"
                    return
                failed = await self._failed_reload(node, since)
                if failed:
                    results[node] = f"error: network reload failed: {failed}"
                    return
                if time.monotonic() - started + interval > timeout:
                    results[node] = "pending"
                    return
                await asyncio.sleep(interval)

        await asyncio.gather(*(one(node) for node in nodes))
        return dict(sorted(results.items()))

    async def _failed_reload(self, node: str, since: Optional[int]) -> str:
        """The exit status of the node's newest finished srvreload task since `since`, if it failed."""
        params = {"typefilter": "srvreload", "source": "all", "limit": 5}
        if since is not None:
            params["since"] = since
        try:
            tasks = await self.client.get(f"/nodes/{urllib.parse.quote(node)}/tasks", params=params) or []
        except ApiError:
            return ""
        finished = [t for t in tasks if t.get("status") and t.get("status") != "running" and "endtime" in t]
        if not finished:
            return ""
        newest = max(finished, key=lambda t: t.get("starttime", 0))
        status = str(newest.get("status"))
        return "" if status == "OK" or status.startswith("WARNINGS") else status
