"""Faults a test injects into one remote, through the control API or the command line.

A fault spec is a JSON object; any of these keys may be combined:

    {"latency_ms": 20}                       the round-trip time of the modelled network to this
                                             remote (net.py); 0 models none
    {"fail": RULE} or {"fail": [RULE, ...]}  fail matching requests (see FailRule): an error
                                             answer, or with "drop" one of DROP_KINDS
    {"reload": "fail" | "hang" | "node:pve2" | "node:pve2:error" | null}
                                             what the next apply's reload does
    {"reload_message": "text"}               the exit status of a failing reload (optional)
    {"answering": false | true}              stop answering (connections are accepted, requests
                                             never answered) or answer again
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, Optional

DEFAULT_RELOAD_FAILURE = "cluster not ready - no quorum?"
RELOAD_KINDS = re.compile(r"fail|hang|node:[a-zA-Z0-9-]+(:error)?")
# What a rule with "drop" does instead of answering (FailRule's docstring says what each means).
DROP_KINDS = ("before", "after", "hang", "truncate")


class FaultSpecError(ValueError):
    """A fault spec the emulator does not understand."""


@dataclass
class FailRule:
    """Fail the Nth request matching method and path (counted from when the rule was set), and
    the `times - 1` matching requests after it (every one from the Nth on if `times` is None).

    The answer is `status` with `message` in PVE's error envelope, or, with `drop`, no whole answer:
      "before"    closes the connection without doing anything;
      "after"     does the request, then closes the connection: the change happened but the
                  client never hears of it;
      "hang"      does nothing and never answers, holding the request until the client closes
                  the connection (it times out);
      "truncate"  does the request and sends the status line and headers of its answer, with the
                  full Content-Length, but only the first half of the body, then aborts the
                  connection (no TLS close_notify): the client reads a cut answer."""

    path: str  # a regular expression searched in the path after /api2/json
    method: str = "*"
    nth: int = 1
    times: Optional[int] = 1
    status: int = 500
    message: str = "injected failure"
    drop: Optional[str] = None
    seen: int = 0  # matching requests so far
    fired: int = 0  # requests failed so far

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        try:
            re.compile(self.path)
        except re.error as exc:
            raise FaultSpecError(f"bad path pattern {self.path!r}: {exc}") from None
        if self.drop is not None and self.drop not in DROP_KINDS:
            raise FaultSpecError(f"drop must be one of {', '.join(repr(kind) for kind in DROP_KINDS)}")
        if self.nth < 1 or (self.times is not None and self.times < 1):
            raise FaultSpecError("nth and times count from 1")

    def hit(self, method: str, path: str) -> bool:
        """Count a request; True if this one is to fail."""
        if self.method not in ("*", method) or not re.search(self.path, path):
            return False
        self.seen += 1
        if self.seen < self.nth or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in ("method", "path", "nth", "times", "status", "message", "drop",
                                              "seen", "fired")}


@dataclass
class Faults:
    latency_ms: float = 0.0
    rules: list[FailRule] = field(default_factory=list)
    next_reload: Optional[str] = None
    reload_message: str = DEFAULT_RELOAD_FAILURE
    answering: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.answering.set()

    def match(self, method: str, path: str) -> Optional[FailRule]:
        """The rule failing this request, if any (every rule counts the request)."""
        chosen = None
        for rule in self.rules:
            if rule.hit(method, path) and chosen is None:
                chosen = rule
        return chosen

    def take_reload(self) -> tuple[Optional[str], str]:
        """The reload fault for this apply, used up."""
        kind, self.next_reload = self.next_reload, None
        return kind, self.reload_message

    def apply(self, spec: dict[str, Any]) -> None:
        if not isinstance(spec, dict):
            raise FaultSpecError("a fault spec is a JSON object")
        unknown = set(spec) - {"latency_ms", "fail", "reload", "reload_message", "answering"}
        if unknown:
            raise FaultSpecError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        if "latency_ms" in spec:
            self.latency_ms = max(0.0, float(spec["latency_ms"]))
        if "fail" in spec:
            rules = spec["fail"] if isinstance(spec["fail"], list) else [spec["fail"]]
            for rule in rules:
                if not isinstance(rule, dict) or "path" not in rule:
                    raise FaultSpecError("a fail rule is an object with at least 'path'")
                unknown = set(rule) - {"method", "path", "nth", "times", "status", "message", "drop"}
                if unknown:
                    raise FaultSpecError(f"unknown fail rule keys: {', '.join(sorted(unknown))}")
                self.rules.append(FailRule(**rule))
        if "reload" in spec:
            kind = spec["reload"]
            if kind is not None and not RELOAD_KINDS.fullmatch(str(kind)):
                raise FaultSpecError("reload is 'fail', 'hang', 'node:<node>', 'node:<node>:error' or null")
            self.next_reload = kind
        if "reload_message" in spec:
            self.reload_message = str(spec["reload_message"])
        if "answering" in spec:
            if spec["answering"]:
                self.answering.set()
            else:
                self.answering.clear()

    def clear(self) -> None:
        self.latency_ms = 0.0
        self.rules.clear()
        self.next_reload = None
        self.reload_message = DEFAULT_RELOAD_FAILURE
        self.answering.set()

    def describe(self) -> dict:
        return {"latency_ms": self.latency_ms, "next_reload": self.next_reload,
                "reload_message": self.reload_message, "answering": self.answering.is_set(),
                "rules": [rule.describe() for rule in self.rules]}
