"""`make demo`: start three emulated PVE remotes, run the demo playbook against them, stop them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def start_emulator(workdir: Path) -> tuple[subprocess.Popen, Path]:
    inventory = workdir / "inventory.yml"
    proc = subprocess.Popen(
        [str(BIN / "pvefleet-emulator"), "--remotes", "3", "--nodes", "2", "--task-seconds", "1",
         "--inventory", str(inventory), "--state-dir", str(workdir / "state")],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, inventory
    raise SystemExit(f"the emulator stopped before it was ready (exit {proc.wait()})")


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="pvefleet-demo-"))
    proc, inventory = start_emulator(workdir)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               PVEFLEET_SDN_JOURNAL_DIR=str(workdir / "journal"), ANSIBLE_FORCE_COLOR="0")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    try:
        print(f"--- three emulated remotes are up; inventory: {inventory}", flush=True)
        return subprocess.call([str(BIN / "ansible-playbook"), "-i", str(inventory),
                                str(REPO / "demo" / "demo.yml")], env=env, cwd=REPO)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
