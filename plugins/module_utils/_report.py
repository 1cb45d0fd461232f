# Private to pvefleet.sdn: not a public API.
"""Plain-text progress lines, the per-remote summary table and the previews, readable in a terminal and an AWX log."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Optional

from ansible_collections.pvefleet.sdn.plugins.module_utils._phases import Phase

PROGRESS_ORDER = tuple(phase.value for phase in Phase)


# At most one progress line this often (a heartbeat), besides a phase's start, end and each tenth.
PROGRESS_SECONDS = 5.0


def progress_line(phase: str, counts: dict[str, int], total: int) -> str:
    parts = [f"{name} {counts[name]}" for name in PROGRESS_ORDER if counts.get(name)]
    parts += [f"{name} {n}" for name, n in sorted(counts.items()) if name not in PROGRESS_ORDER and n]
    return f"[{phase}] {total} remotes: " + ", ".join(parts)


class ProgressReporter:
    """Which progress calls of the fleet engine become lines: a phase's start and end, each tenth
    of its remotes, and at most every PROGRESS_SECONDS meanwhile (so a long reload wait says how
    far it is: "[apply] waiting for 100 reloads: 37 done, 12 s"); never the same line twice."""

    def __init__(self, total: int, write, clock=None):
        self.total, self.write = total, write
        self.clock = clock or time.monotonic
        self._last_line = ""
        self._last_time = float("-inf")
        self._last_tenth: tuple[str, int] = ("", -1)

    def __call__(self, phase: str, counts: Callable[[], dict], *, done: int, of: int, elapsed: float,
                 tick: bool = False) -> None:
        """`counts()`: how many remotes are in each phase, asked only for a line that is printed."""
        now = self.clock()
        tenth = (phase, (10 * done) // of if of else 10)
        due = done == 0 or done == of or tenth != self._last_tenth or now - self._last_time >= PROGRESS_SECONDS
        if not due or (tick and now - self._last_time < PROGRESS_SECONDS):
            return
        if phase == "apply" and 0 < of and done < of:
            line = f"[apply] waiting for {of} reloads: {done} done, {elapsed:.0f} s"
        else:
            line = progress_line(phase, counts(), self.total) + (f" ({done}/{of} done, {elapsed:.0f} s)" if of else "")
        if line == self._last_line:
            return
        self.write(line)
        self._last_line, self._last_time, self._last_tenth = line, now, tenth


def summary_table(report: dict, limit: int = 200) -> list[str]:
    """One line per remote, failures first, then by host; long fleets are cut at `limit` rows
    (every failure is always listed)."""
    rows = [("REMOTE", "ENDPOINT", "RESULT", "DETAIL")]
    for entry in report["failed"]:
        rows.append((entry["host"], entry["remote"], entry["phase"].upper(),
                     entry.get("error") or entry.get("recovery") or ""))
    shown = report["succeeded"][: max(0, limit - len(report["failed"]))]
    for entry in shown:
        rows.append((entry["host"], entry["remote"], entry["phase"], _detail(entry)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows]
    hidden = len(report["succeeded"]) - len(shown)
    if hidden:
        lines.append(f"... and {hidden} more remote(s) that succeeded")
    return lines


def _detail(entry: dict) -> str:
    apply = entry.get("apply") or {}
    changed = sum(1 for result in entry.get("objects", []) if result.get("changed"))
    text = f"{changed} object(s) changed"
    if apply:
        text += f", reload {apply.get('exitstatus')} in {apply.get('duration')}s"
    return text


def preview_summary(previews: dict[str, dict]) -> str:
    """One line for the previews of many remotes: "12 nodes on 4 remotes: FRR changes on 12,
    interfaces on 4", and the remotes that could not preview."""
    nodes = [files for preview in previews.values() for files in (preview.get("nodes") or {}).values()]
    frr = sum(1 for files in nodes if files.get("frr"))
    interfaces = sum(1 for files in nodes if files.get("interfaces"))
    shown = sum(1 for preview in previews.values() if "nodes" in preview)
    text = f"{len(nodes)} node(s) on {shown} remote(s): FRR changes on {frr}, interfaces on {interfaces}"
    unavailable = sorted(host for host, preview in previews.items() if preview.get("unavailable"))
    if unavailable:
        text += f"; no preview from {', '.join(unavailable)}"
    return text


def preview_diffs(host: str, preview: Optional[dict]) -> list[dict]:
    """A remote's preview as Ansible's --diff shows it: one prepared diff per node and file."""
    nodes = (preview or {}).get("nodes") or {}
    return [{"prepared": f"# {host}, node {node}\n{text}"} for node, files in sorted(nodes.items())
            for text in (files["interfaces"], files["frr"]) if text]
