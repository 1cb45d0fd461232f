"""The benchmark's Markdown table and plot, from the data run.py collected.

    python bench/report.py [bench/results]    # write them again from results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def write_reports(data: dict, out: Path) -> None:
    (out / "results.md").write_text(markdown(data), encoding="utf-8")
    plot(data, out / "wall_time.png")


def markdown(data: dict) -> str:
    config, bound = data["config"], data["config"]["lower_bound"]
    lines = [
        f"Transaction: lock, create an EVPN controller, zone and vnet, apply, wait; round-trip latency "
        f"{config['latency_ms']:g} ms, reload task {config['task_seconds']:g} s, one node per remote; "
        f"{config['cpus']} CPUs shared by the controller and the emulated remotes. Lower bound: "
        f"{config['protocol_round_trips']} round trips x latency + task = {bound:g} s.",
        "",
        "| N | method | wall time (s) | x lower bound | controller peak memory (MiB) | controller CPU (s) "
        "| emulated remotes' CPU (s) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in config["sizes"]:
        lines.append(f"| {size} | lower bound | {bound:.2f} | 1.00 | | | |")
        for result in (r for r in data["results"] if r["size"] == size):
            if result["skipped"]:
                lines.append(f"| {size} | {result['label']} | {result['skipped']} | | | | |")
                continue
            failed = "" if result["ok"] else " (FAILED)"
            detail = result["detail"]
            lines.append(f"| {size} | {result['label']}{failed} | {result['wall']:.2f} | "
                         f"{result['wall'] / bound:.2f} | {result['peak_rss_mib']:.0f} | "
                         f"{detail.get('controller_cpu', '')} | {detail.get('emulator_cpu', '')} |")
    overhead = per_remote_overhead(data)
    if overhead:
        lines += ["", "Task-by-task overhead per remote ((wall time - lower bound) / N):", ""]
        lines += [f"- {label}, N={size}: {seconds * 1000:.0f} ms" for label, size, seconds in overhead]
    return "\n".join(lines) + "\n"


def per_remote_overhead(data: dict) -> list[tuple[str, int, float]]:
    bound = data["config"]["lower_bound"]
    return [(r["label"], r["size"], (r["wall"] - bound) / r["size"]) for r in data["results"]
            if r["method"].startswith("role") and r["wall"] and r["size"] > 1]


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
              label="lower bound")
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
