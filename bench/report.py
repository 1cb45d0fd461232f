"""The benchmark's Markdown table, its ratios against the targets, and the plot, from the data
run.py collected.

    python bench/report.py [bench/results]    # write them again from results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

FLEET = "coordinator-inprocess"  # the fleet engine, its own cost without Ansible's
FLEET_PLAYBOOK = "coordinator-playbook"  # the same as one task of a playbook: what the role is compared with
MINIMAL = "minimal-client"
PDM = "pdm-baseline"
ROLES = ("role-fleet", "role-forks5", "role-forksN")
# The fleet engine's methods: the ones the connection bound is about.
ENGINE = (FLEET, FLEET_PLAYBOOK, "role-fleet")


def write_reports(data: dict, out: Path) -> None:
    (out / "results.md").write_text(markdown(data), encoding="utf-8")
    plot(data, out / "wall_time.png")


def markdown(data: dict) -> str:
    config, bound = data["config"], data["config"]["lower_bound"]
    placement = ("the controller pinned to one CPU, the emulator to the other" if config.get("pinned")
                 else f"{config['cpus']} CPUs shared by the controller and the emulator")
    lines = [
        f"Transaction: lock, create an EVPN controller, zone and vnet, apply, wait; modelled round trip "
        f"{config['latency_ms']:g} ms (TCP and TLS handshakes charged), reload task {config['task_seconds']:g} s, "
        f"one node per remote; {placement}. Strict lower bound: {config['protocol_round_trips']} round trips "
        f"x latency + task = {bound:g} s (bench/README.md).",
        "",
        "| N | method | wall time (s) | x lower bound | TLS connections per remote | controller CPU per remote (ms) "
        "| emulator CPU (s) | emulator's share of the CPU | controller peak memory (MiB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in config["sizes"]:
        lines.append(f"| {size} | lower bound | {bound:.2f} | 1.00 | | | | | |")
        for result in (r for r in data["results"] if r["size"] == size):
            if result["skipped"]:
                lines.append(f"| {size} | {result['label']} | {result['skipped']} | | | | | | |")
                continue
            failed = "" if result["ok"] else " (FAILED)"
            detail = result["detail"]
            controller, emulator = detail.get("controller_cpu"), detail.get("emulator_cpu")
            share = f"{emulator / (emulator + controller):.0%}" if controller and emulator else ""
            lines.append(f"| {size} | {result['label']}{failed} | {result['wall']:.2f} | {result['wall'] / bound:.2f} | "
                         f"{_shown(detail.get('connections_per_remote'))} | {_shown(_cpu_per_remote_ms(result), 1)} | "
                         f"{_shown(emulator)} | {share} | {result['peak_rss_mib']:.0f} |")
    lines += ["", "Controller CPU per remote: the transaction's own CPU time for the in-process methods (their "
              "imports left out), the whole process tree's for the others (Ansible's start and forks included).",
              "", "## Against the targets", ""]
    lines += [f"- {line}" for line in target_lines(data)]
    return "\n".join(lines) + "\n"


def target_lines(data: dict) -> list[str]:
    """Each target's ratio, per N, side by side from this one run."""
    bound, sizes, lines = data["config"]["lower_bound"], data["config"]["sizes"], []

    def per_size(text: str, figure) -> None:
        shown = [f"N={size}: {value}" for size in sizes if (value := figure(size)) is not None]
        if shown:
            lines.append(f"{text}: " + ", ".join(shown))

    per_size("Fleet task / strict lower bound (target 1.3x at N=100, 2x at N=1000 pinned)",
             lambda size: _ratio(_wall(data, FLEET, size), bound))
    per_size("Minimal client / strict lower bound (what the machine and the emulator allow at all)",
             lambda size: _ratio(_wall(data, MINIMAL, size), bound))
    per_size("Fleet task / minimal client, wall time",
             lambda size: _ratio(_wall(data, FLEET, size), _wall(data, MINIMAL, size)))
    per_size("Controller CPU per remote, fleet task / minimal client (target 3x at N=1000)",
             lambda size: _ratio(_cpu(data, FLEET, size), _cpu(data, MINIMAL, size)))
    per_size("Most TLS connections per remote, fleet engine (target 2.0)",
             lambda size: _most_connections(data, size))
    per_size("Fleet task / PDM-style baseline, wall time (target below 1)",
             lambda size: _ratio(_wall(data, FLEET, size), _wall(data, PDM, size)))
    for role in ROLES:
        label = next((r["label"] for r in data["results"] if r["method"] == role), None)
        if label:
            per_size(f"{label} / fleet task in a playbook (target 2x at N=10, 5x at N=100)",
                     lambda size, role=role: _ratio(_wall(data, role, size), _wall(data, FLEET_PLAYBOOK, size)))
    return lines


def _find(data: dict, method: str, size: int) -> Optional[dict]:
    return next((r for r in data["results"] if r["method"] == method and r["size"] == size and r["wall"]), None)


def _wall(data: dict, method: str, size: int) -> Optional[float]:
    result = _find(data, method, size)
    return result["wall"] if result else None


def _cpu(data: dict, method: str, size: int) -> Optional[float]:
    result = _find(data, method, size)
    return _cpu_per_remote_ms(result) if result else None


def _cpu_per_remote_ms(result: dict) -> Optional[float]:
    detail = result["detail"]
    seconds = detail.get("cpu", detail.get("controller_cpu"))
    return seconds * 1000 / result["size"] if seconds is not None else None


def _most_connections(data: dict, size: int) -> Optional[str]:
    counts = [r["detail"].get("connections_per_remote") for r in data["results"]
              if r["method"] in ENGINE and r["size"] == size and r["wall"]]
    counts = [count for count in counts if count is not None]
    return f"{max(counts):.2f}" if counts else None


def _ratio(value: Optional[float], base: Optional[float]) -> Optional[str]:
    return f"{value / base:.2f}x" if value is not None and base else None


def _shown(value: Optional[float], digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = data["config"]
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    labels = list(dict.fromkeys(r["label"] for r in data["results"]))
    for label in labels:
        points = sorted((r["size"], r["wall"]) for r in data["results"] if r["label"] == label and r["wall"])
        if points:
            axes.plot(*zip(*points), marker="o", label=label)
    axes.plot(config["sizes"], [config["lower_bound"]] * len(config["sizes"]), linestyle="--", color="grey",
              label="strict lower bound")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("remotes (N)")
    axes.set_ylabel("wall time (s)")
    axes.set_title(f"One SDN transaction over N remotes ({config['latency_ms']:g} ms RTT, "
                   f"{config['task_seconds']:g} s reload task)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    results = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results")
    write_reports(json.loads((results / "results.json").read_text(encoding="utf-8")), results)
