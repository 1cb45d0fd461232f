"""PVE worker tasks of one cluster: UPIDs, status over time, logs (pve-sdn-api.md §8).

A task's state is computed from the clock when asked, so nothing runs in the background: an
apply's `reloadnetworkall` task lasts the configured time, and each node's `srvreload` task runs
in turn inside it (§3.5, apply phase 2); a node's generated config version moves on when its
own reload ends well.
"""
from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Optional

_pids = itertools.count(0x1A2B00)


@dataclass
class Task:
    upid: str
    node: str
    type: str
    id: str
    user: str
    starttime: int
    started: float  # monotonic
    duration: Optional[float]  # None: never stops (a hung task)
    exitstatus: str = "OK"
    lines: list[str] = field(default_factory=list)
    version: int = 0  # srvreload: the config version it generates

    def stopped(self, now: float) -> bool:
        return self.duration is not None and now >= self.started + self.duration

    def status(self, now: float) -> dict:
        pid, pstart = int(self.upid.split(":")[2], 16), int(self.upid.split(":")[3], 16)
        data = {"upid": self.upid, "node": self.node, "pid": pid, "pstart": pstart, "starttime": self.starttime,
                "type": self.type, "id": self.id, "user": self.user.split("!")[0],
                "status": "stopped" if self.stopped(now) else "running"}
        if "!" in self.user:
            data["tokenid"] = self.user.split("!", 1)[1]
        if self.stopped(now):
            data["exitstatus"] = self.exitstatus
        return data

    def log(self, now: float) -> list[str]:
        lines = list(self.lines)
        if self.stopped(now):
            lines.append("TASK OK" if self.exitstatus == "OK" else f"TASK ERROR: {self.exitstatus}")
        return lines

    def list_item(self, now: float) -> dict:
        item = {"upid": self.upid, "node": self.node, "pid": int(self.upid.split(":")[2], 16),
                "pstart": int(self.upid.split(":")[3], 16), "starttime": self.starttime, "type": self.type,
                "id": self.id, "user": self.user}
        if self.stopped(now):
            item["endtime"] = self.starttime + int(self.duration or 0)
            item["status"] = self.exitstatus
        return item


def make_upid(node: str, task_type: str, task_id: str, user: str, starttime: int) -> str:
    return (f"UPID:{node}:{next(_pids) ^ os.getpid() & 0xFFFF:08X}:{0x00C0FFEE:08X}:{starttime:08X}:"
            f"{task_type}:{task_id}:{user}:")


class TaskBook:
    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}

    def start(self, node: str, task_type: str, task_id: str, user: str, duration: Optional[float],
              *, delay: float = 0.0, exitstatus: str = "OK", lines: Optional[list[str]] = None,
              version: int = 0) -> Task:
        starttime = int(time.time() + delay)
        task = Task(make_upid(node, task_type, task_id, user, starttime), node, task_type, task_id, user,
                    starttime, time.monotonic() + delay, duration, exitstatus, list(lines or []), version)
        self.tasks[task.upid] = task
        return task

    def find(self, node: str, upid: str) -> Optional[Task]:
        task = self.tasks.get(upid)
        return task if task is not None and task.node == node else None

    def for_node(self, node: str) -> list[Task]:
        now = time.monotonic()
        return [t for t in self.tasks.values() if t.node == node and t.started <= now]

    def node_version(self, node: str) -> int:
        """The config version the node last generated: its newest srvreload that ended OK."""
        now = time.monotonic()
        done = [t.version for t in self.tasks.values()
                if t.node == node and t.type == "srvreload" and t.stopped(now) and t.exitstatus == "OK"]
        return max(done, default=0)
