"""Run ansible-playbook against the emulator and read back what happened, per host and task."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent


@dataclass
class PlaybookRun:
    rc: int
    output: str
    results: list[dict] = field(default_factory=list)

    def task(self, name: str, host: str | None = None) -> list[dict]:
        """Results of the task called `name` (for `host` only, if given)."""
        return [r for r in self.results if (r["task"] == name or r["task"].endswith(" : " + name))
                and (host is None or r["host"] == host)]

    def one(self, name: str, host: str) -> dict:
        found = self.task(name, host)
        assert len(found) == 1, f"expected one result of {name!r} on {host}, got {len(found)}:\n{self.output}"
        return found[0]

    def statuses(self, name: str) -> dict[str, str]:
        return {r["host"]: r["status"] for r in self.task(name)}

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP, per host: {"ok": 3, "changed": 0, "failed": 1, ...}."""
        lines = self.output.split("PLAY RECAP", 1)[1].splitlines()[1:]
        return {line.split()[0]: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}
                for line in lines if ":" in line and "=" in line}


def run_playbook(plays: list[dict] | str, inventory: Path, workdir: Path, *, check: bool = False,
                 diff: bool = False, extra_args: list[str] | None = None, env: dict | None = None,
                 timeout: float = 300) -> PlaybookRun:
    """Write `plays` (YAML text or data) to a playbook in workdir and run it."""
    workdir.mkdir(parents=True, exist_ok=True)
    playbook = workdir / "playbook.yml"
    playbook.write_text(plays if isinstance(plays, str) else yaml.safe_dump(plays, sort_keys=False))
    record = workdir / "results.jsonl"
    record.unlink(missing_ok=True)
    command = [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)]
    command += ["--check"] if check else []
    command += ["--diff"] if diff else []
    command += extra_args or []
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build" / "collections"),
        "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
        "ANSIBLE_FORKS": run_env.get("ANSIBLE_FORKS", "10"),
        "PVEFLEET_SDN_JOURNAL_DIR": str(workdir / "journal"),
        "RECORD_RESULTS_FILE": str(record),
        "PATH": f"{BIN}{os.pathsep}{run_env.get('PATH', '')}",
    })
    run_env.update(env or {})
    proc = subprocess.run(command, capture_output=True, text=True, env=run_env, cwd=workdir,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    results = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, results)
