"""Each remote's log of the API requests it answered, for GET /_emulator/requests: a fault
campaign records a transaction's requests once, then replays it with a fault on each in turn.
Kept cheap (an object and a list append per request): the emulator also serves 1000 remotes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(slots=True)
class LoggedRequest:
    seq: int
    method: str
    path: str  # after /api2/json (the whole path for one outside it), unescaped, no query string
    query: str
    status: Optional[int] = None  # the status line sent, if one was
    fault: Optional[str] = None  # the fault that replaced or cut the answer: "fail", "drop:<kind>"

    @property
    def answered(self) -> bool:
        return self.status is not None or self.fault is not None

    def describe(self) -> dict:
        entry: dict = {"seq": self.seq, "method": self.method, "path": self.path}
        if self.query:
            entry["query"] = self.query
        if self.status is not None:
            entry["status"] = self.status
        if self.fault is not None:
            entry["fault"] = self.fault
        return entry


class RequestLog:
    def __init__(self) -> None:
        self.entries: list[LoggedRequest] = []
        self.answered = 0  # how many entries describe() lists, without making the list

    def add(self, method: str, path: str, query: str) -> LoggedRequest:
        """A request as it arrives; answer() sets its status or fault."""
        entry = LoggedRequest(len(self.entries) + 1, method, path, query)
        self.entries.append(entry)
        return entry

    def answer(self, entry: LoggedRequest, status: Optional[int], fault: Optional[str]) -> None:
        entry.status, entry.fault = status, fault
        if entry.seq <= len(self.entries) and self.entries[entry.seq - 1] is entry:  # not cleared meanwhile
            self.answered += 1

    def clear(self) -> None:
        self.entries.clear()  # a request still in flight keeps its entry, out of the log
        self.answered = 0

    def describe(self) -> list[dict]:
        """The answered requests in the order they arrived (one still in flight is left out)."""
        return [entry.describe() for entry in self.entries if entry.answered]
