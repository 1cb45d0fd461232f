"""Progress lines of the fleet task: few, never twice the same, and a heartbeat during long phases."""
from __future__ import annotations

from ansible_collections.pvefleet.sdn.plugins.module_utils._report import PROGRESS_SECONDS, ProgressReporter


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_hundred_remotes_give_a_line_a_tenth_not_one_per_remote():
    lines, clock = [], Clock()
    report = ProgressReporter(100, lines.append, clock)
    for phase in ("lock", "change"):
        report(phase, lambda: {"locking": 100}, done=0, of=100, elapsed=0.0)
        for done in range(1, 101):
            clock.now += 0.001
            report(phase, lambda done=done: {"locked": done, "locking": 100 - done}, done=done, of=100, elapsed=clock.now)
    assert len(lines) <= 2 * 11 + 2
    assert len(lines) == len(set(lines))  # never the same line twice
    assert lines[0].startswith("[lock] 100 remotes:") and "(100/100 done" in lines[-1]


def test_a_long_reload_wait_gets_a_heartbeat_at_most_every_few_seconds():
    lines, clock = [], Clock()
    report = ProgressReporter(100, lines.append, clock)
    report("apply", lambda: {"applying": 100}, done=0, of=100, elapsed=0.0)
    for second in range(1, 31):  # the engine ticks every second; nothing ends for 30 s
        clock.now = float(second)
        report("apply", lambda: {"applying": 100}, done=0, of=100, elapsed=clock.now, tick=True)
    beats = [line for line in lines if line.startswith("[apply] waiting for 100 reloads: 0 done")]
    assert 30 / PROGRESS_SECONDS - 1 <= len(beats) <= 30 / PROGRESS_SECONDS + 1
    assert beats[-1].endswith("30 s") or beats[-1].endswith("25 s")


def test_every_tenth_and_the_end_are_told_however_fast():
    lines = []
    report = ProgressReporter(10, lines.append, Clock())
    report("apply", lambda: {"applying": 10}, done=0, of=10, elapsed=0.0)
    for done in range(1, 11):
        report("apply", lambda done=done: {"applied": done, "applying": 10 - done}, done=done, of=10, elapsed=0.0)
    assert [line for line in lines if "waiting for" in line][-1] == "[apply] waiting for 10 reloads: 9 done, 0 s"
    assert lines[-1].startswith("[apply] 10 remotes: applied 10")
