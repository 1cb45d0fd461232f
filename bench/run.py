"""`make bench`: one SDN transaction over N emulated remotes, run by each method, timed.

    python bench/run.py [--sizes 1,10,100,1000] [--latency-ms 20] [--task-seconds 2] [--out bench/results]

For every size it starts a fresh emulator (N remotes, one node each, the given round-trip latency
and reload-task duration) per method, runs the method as its own process, samples the memory of
that process and its children (the controller), checks that every remote ended with the vnet
applied and no lock, and stops the emulator. It writes results.json, results.md and wall_time.png.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from fleet_change import PROTOCOL_ROUND_TRIPS  # noqa: E402
from report import write_reports  # noqa: E402

from pvefleet_emulator.testing import EmulatorProcess  # noqa: E402

BIN = Path(sys.executable).parent


@dataclass
class Method:
    name: str
    label: str
    playbook: Optional[str] = None  # in bench/playbooks, for the methods ansible-playbook runs
    forks: Optional[str] = None  # "5" or "N" for the role
    max_size: int = 1_000_000  # larger fleets are not run (see --role-max)

    def command(self, inventory: Path, size: int, task_seconds: float) -> list[str]:
        if self.name.startswith("coordinator-inprocess"):
            return [sys.executable, str(HERE / "coordinator.py"), str(inventory)]
        if self.name == "pdm-baseline":
            return [sys.executable, str(HERE / "pdm_baseline.py"), str(inventory)]
        if self.name == "minimal-client":
            return [sys.executable, str(HERE / "minimal_client.py"), str(inventory), "--task-seconds", str(task_seconds)]
        forks = size if self.forks == "N" else int(self.forks or 5)
        return [str(BIN / "ansible-playbook"), "-i", str(inventory), "-f", str(forks),
                str(HERE / "playbooks" / str(self.playbook))]


METHODS = {
    "coordinator-inprocess": Method("coordinator-inprocess", "coordinator, in process"),
    "coordinator-playbook": Method("coordinator-playbook", "coordinator, ansible-playbook", "coordinator.yml"),
    "role-fleet": Method("role-fleet", "role, engine=fleet, forks=5", "role_fleet.yml", forks="5"),
    "role-forks5": Method("role-forks5", "role, forks=5", "role.yml", forks="5"),
    "role-forksN": Method("role-forksN", "role, forks=N", "role.yml", forks="N"),
    "pdm-baseline": Method("pdm-baseline", "PDM-style baseline"),
    "minimal-client": Method("minimal-client", "minimal client (protocol only)"),
}
# With --pin, the controller runs on this CPU and the emulated remotes on the other, so that each
# side's cost shows on its own (real remotes have their own CPUs).
CONTROLLER_CPU, EMULATOR_CPU = 0, 1


@dataclass
class Result:
    method: str
    label: str
    size: int
    wall: Optional[float] = None
    peak_rss_mib: Optional[float] = None
    ok: bool = False
    skipped: Optional[str] = None
    detail: dict = field(default_factory=dict)


class TreeMemory:
    """The peak of the summed resident memory of a process and all its descendants."""

    def __init__(self, pid: int, every: float = 0.05):
        self.pid, self.every, self.peak_kib = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in _tree(self.pid)))
            self._stop.wait(self.every)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_one(method: Method, size: int, args: argparse.Namespace) -> Result:
    result = Result(method.name, method.label, size)
    if size > method.max_size:
        result.skipped = f"not run above N={method.max_size} (see --role-max)"
        return result
    state_root = Path("/dev/shm") if Path("/dev/shm").is_dir() else None  # the emulator's files in memory
    workdir = Path(tempfile.mkdtemp(prefix="pvefleet-bench-", dir=state_root))
    try:
        with EmulatorProcess(remotes=size, nodes=1, task_seconds=args.task_seconds, latency_ms=args.latency_ms,
                             workdir=workdir / "emulator") as emulator:
            pin = _pinning(args)
            if pin:
                os.sched_setaffinity(emulator.process.pid, {EMULATOR_CPU})
            env = dict(os.environ,
                       ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
                       PYTHONPATH=str(REPO / ".build" / "collections"),
                       PVEFLEET_SDN_JOURNAL_DIR=str(workdir / "journal"),
                       ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_HOST_KEY_CHECKING="0",
                       ANSIBLE_DISPLAY_SKIPPED_HOSTS="0")
            env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
            log = workdir / "method.log"
            emulator_cpu, controller_cpu = _cpu_seconds(emulator.process.pid), _children_cpu()
            started = time.monotonic()
            with open(log, "w", encoding="utf-8") as output:
                process = subprocess.Popen(method.command(emulator.inventory, size, args.task_seconds), env=env,
                                           cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
                                           preexec_fn=(lambda: os.sched_setaffinity(0, {CONTROLLER_CPU})) if pin else None)
                with TreeMemory(process.pid) as memory:
                    returncode = process.wait(timeout=args.timeout)
            result.wall = round(time.monotonic() - started, 3)
            result.peak_rss_mib = round(memory.peak_kib / 1024, 1)
            # All remotes share this machine's CPUs (real ones have their own): how much they took.
            result.detail["emulator_cpu"] = round(_cpu_seconds(emulator.process.pid) - emulator_cpu, 2)
            result.detail["controller_cpu"] = round(_children_cpu() - controller_cpu, 2)
            text = log.read_text(encoding="utf-8", errors="replace")
            if text.lstrip().startswith("{"):
                # The in-process methods time the transaction itself, after their imports.
                result.detail.update(json.loads(text.strip().splitlines()[-1]))
                result.detail["process_wall"], result.wall = result.wall, result.detail["wall"]
            states = [remote.control.state() for remote in emulator.remotes.values()]
            accepted = [state.get("connections", {}).get("accepted") for state in states]
            if all(isinstance(count, int) for count in accepted):
                result.detail["connections_per_remote"] = round(sum(accepted) / size, 2)
            applied = _applied_everywhere(states)
            result.ok = returncode == 0 and applied
            if not result.ok:
                result.detail["error"] = f"exit {returncode}, applied everywhere: {applied}; log: {text[-1500:]}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _applied_everywhere(states: list[dict]) -> bool:
    return all("vnet1" in state["running"]["vnets"] and not state["lock"]["held"] and not state["has_pending_changes"]
               for state in states)


def _pinning(args: argparse.Namespace) -> bool:
    return args.pin and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--task-seconds", type=float, default=2.0)
    parser.add_argument("--role-max", type=int, default=100,
                        help="largest N the task-by-task role runs at (its time grows with N/forks)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one run may take")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="the controller on one CPU and the emulator on another (default: on, with 2 CPUs or more)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    methods = [METHODS[name] for name in args.methods.split(",")]
    for method in methods:
        if method.name.startswith("role-forks"):
            method.max_size = args.role_max
    lower_bound = round(PROTOCOL_ROUND_TRIPS * args.latency_ms / 1000 + args.task_seconds, 3)
    results = []
    started = time.monotonic()
    for size in sizes:
        for method in methods:
            result = run_one(method, size, args)
            results.append(result)
            shown = "skipped" if result.skipped else f"{result.wall:.2f}s ({result.wall / lower_bound:.2f}x), " \
                f"{result.peak_rss_mib} MiB, {'ok' if result.ok else 'FAILED'}"
            print(f"N={size:<5} {method.label:<32} {shown}", flush=True)
    config = {"sizes": sizes, "latency_ms": args.latency_ms, "task_seconds": args.task_seconds,
              "protocol_round_trips": PROTOCOL_ROUND_TRIPS, "lower_bound": lower_bound, "cpus": os.cpu_count(),
              "pinned": _pinning(args),
              "python": sys.version.split()[0], "total_seconds": round(time.monotonic() - started, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    data = {"config": config, "results": [asdict(result) for result in results]}
    (args.out / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    write_reports(data, args.out)
    print(f"wrote {args.out}/results.json, results.md, wall_time.png in {config['total_seconds']}s")
    return 0 if all(r.ok or r.skipped for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
