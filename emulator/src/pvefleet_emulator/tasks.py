"""PVE worker tasks of one cluster: UPIDs, status, log and lists (pve-sdn-api.md §8).

A task's state follows from the wall clock whenever it is asked for, so nothing runs in the
background and a task list written to the state directory still makes sense after a restart.
Each task knows when it starts and ends (never, for a hung task), its exit status and its log
lines, each with the second it appears.
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

# The UPID parser's pattern (§8.1); the node is the second field.
UPID = re.compile(r"UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
                  r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):")
TICKS_PER_SECOND = 100


def is_success(exitstatus: str) -> bool:
    return exitstatus == "OK" or exitstatus.startswith("WARNINGS: ")


def status_class(exitstatus: str) -> str:
    """The task status types `statusfilter` selects (pve-task-status-type)."""
    if exitstatus == "OK":
        return "ok"
    if exitstatus.startswith("WARNINGS: "):
        return "warning"
    if exitstatus == "unexpected status":
        return "unknown"
    return "error"


@dataclass
class Task:
    upid: str
    node: str
    type: str
    id: str
    user: str  # for a token task the full token id, user@realm!tokenid
    start: float  # Unix time
    end: Optional[float]  # Unix time; None: it never ends (a hung task)
    exitstatus: str = "OK"
    log: list[list[Any]] = field(default_factory=list)  # [seconds after start, text]
    # srvreload only: the running config version the node generates, and what the reload left:
    # "ok", "pending" (nothing generated) or "error" (generated, but the interfaces failed).
    version: int = 0
    outcome: str = "ok"

    def stopped(self, now: float) -> bool:
        return self.end is not None and now >= self.end

    def started(self, now: float) -> bool:
        return now >= self.start

    def _fields(self) -> tuple[int, int]:
        parts = self.upid.split(":")
        return int(parts[2], 16), int(parts[3], 16)

    def status(self, now: float) -> dict:
        pid, pstart = self._fields()
        user, _sep, token = self.user.partition("!")
        data: dict[str, Any] = {"upid": self.upid, "node": self.node, "pid": pid, "pstart": pstart,
                                "starttime": int(self.start), "type": self.type, "id": self.id, "user": user,
                                "status": "stopped" if self.stopped(now) else "running"}
        if token:
            data["tokenid"] = token
        if self.stopped(now):
            data["exitstatus"] = self.exitstatus
        return data

    def list_item(self, now: float) -> dict:
        pid, pstart = self._fields()
        item: dict[str, Any] = {"upid": self.upid, "node": self.node, "pid": pid, "pstart": pstart,
                                "starttime": int(self.start), "type": self.type, "id": self.id, "user": self.user}
        if self.stopped(now):
            item["endtime"] = int(self.end or self.start)
            item["status"] = self.exitstatus
        return item

    def log_lines(self, now: float) -> list[str]:
        lines = [text for offset, text in self.log if self.start + offset <= now]
        if self.stopped(now):
            if self.exitstatus == "OK":
                lines.append("TASK OK")
            elif self.exitstatus.startswith("WARNINGS: "):
                lines.append(f"TASK {self.exitstatus}")
            else:
                lines.append(f"TASK ERROR: {self.exitstatus}")
        return lines

    def to_dict(self) -> dict:
        return asdict(self)


class TaskBook:
    """The tasks of every node of one cluster."""

    def __init__(self, nodes: list[str]):
        self.tasks: dict[str, Task] = {}
        self._boot = {node: time.time() - random.randint(3600, 30 * 86400) for node in nodes}
        self._pids = {node: random.randint(0x1000, 0x3FFFFF) for node in nodes}

    def _upid(self, node: str, task_type: str, task_id: str, user: str, start: float) -> str:
        self._pids[node] = self._pids.get(node, 0x1000) + random.randint(1, 64)
        boot = self._boot.setdefault(node, start - 3600)
        pstart = int((start - boot) * TICKS_PER_SECOND)
        return (f"UPID:{node}:{self._pids[node] & 0xFFFFFFFF:08X}:{pstart:08X}:{int(start):08X}:"
                f"{task_type}:{task_id}:{user}:")

    def start(self, node: str, task_type: str, task_id: str, user: str, *, start: float, end: Optional[float],
              exitstatus: str = "OK", log: Optional[list[list[Any]]] = None, version: int = 0,
              outcome: str = "ok") -> Task:
        task = Task(self._upid(node, task_type, task_id, user, start), node, task_type, task_id, user, start, end,
                    exitstatus, list(log or []), version, outcome)
        self.tasks[task.upid] = task
        return task

    def find(self, node: str, upid: str) -> Optional[Task]:
        task = self.tasks.get(upid)
        return task if task is not None and task.node == node else None

    def on_node(self, node: str, now: float) -> list[Task]:
        """The node's tasks that have started, newest first."""
        return sorted((t for t in self.tasks.values() if t.node == node and t.started(now)),
                      key=lambda t: t.start, reverse=True)

    def stop(self, task: Task, now: float) -> None:
        """Stop a running task, as `DELETE /nodes/{node}/tasks/{upid}` does."""
        if not task.stopped(now):
            task.end, task.exitstatus = now, "interrupted by signal"

    def clear(self) -> None:
        self.tasks.clear()

    def to_list(self) -> list[dict]:
        return [task.to_dict() for task in self.tasks.values()]

    def load(self, items: list[dict], now: float) -> None:
        """Tasks from the state directory. A task that never ends lost its worker in the restart:
        it is stopped now, with the status PVE gives a task whose process vanished."""
        for item in items:
            task = Task(**item)
            if task.end is None:
                task.end, task.exitstatus = now, "unexpected status"
            self.tasks[task.upid] = task
