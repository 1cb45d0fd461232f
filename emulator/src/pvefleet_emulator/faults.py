"""Faults a test can inject into one remote, through the control API or the command line."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class FailRule:
    """Fail the Nth request (counted from when the rule was set) matching method and path."""

    method: str
    path: str  # a regex searched in the path after /api2/json
    nth: int = 1
    status: int = 500
    message: str = "injected failure"
    times: Optional[int] = 1  # how many matching requests fail from the Nth on; None: all
    drop: Optional[str] = None  # "before" / "after": close the connection instead of answering
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method) or not re.search(self.path, path):
            return False
        self.seen += 1
        if self.seen < self.nth or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


@dataclass
class Faults:
    latency_ms: float = 0.0
    rules: list[FailRule] = field(default_factory=list)
    # The next apply's reload: None, "fail", "hang", or "node:<name>" (that node's reload fails).
    next_reload: Optional[str] = None
    answering: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.answering.set()

    def match(self, method: str, path: str) -> Optional[FailRule]:
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    def describe(self) -> dict:
        return {"latency_ms": self.latency_ms, "next_reload": self.next_reload,
                "answering": self.answering.is_set(),
                "rules": [{k: getattr(r, k) for k in ("method", "path", "nth", "status", "message", "times", "drop",
                                                      "seen", "fired")} for r in self.rules]}
