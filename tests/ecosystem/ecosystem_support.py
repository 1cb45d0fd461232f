"""The collection as Galaxy ships it, and jobs run the way AWX runs them (ansible-runner, credential injectors)."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
TARBALL_NAME = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
# Where `make` and tests/conftest.py point Ansible at the checkout: it must not reach a job.
CHECKOUT_COLLECTIONS = REPO / ".build" / "collections"


def clean_env(**extra: str) -> dict:
    """The environment without anything that could point Ansible at the checkout or set connection defaults."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "PROXMOX_", "PVEFLEET_")) and k != "PYTHONPATH"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def galaxy(*args: str | Path, collections_path: Path, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    env = clean_env(ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_HOME=str(collections_path.parent / "ansible-home"),
                    ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(BIN / "ansible-galaxy"), *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=cwd or REPO, stdin=subprocess.DEVNULL, timeout=120, check=False)
    assert proc.returncode == 0, f"ansible-galaxy {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}"
    return proc


@dataclass
class BuiltCollection:
    tarball: Path
    collections_path: Path  # the fresh tree it is installed in (has ansible_collections/ inside)

    @property
    def root(self) -> Path:
        return self.collections_path / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]


def build_and_install(workdir: Path) -> BuiltCollection:
    """`ansible-galaxy collection build` on the checkout, then install the tarball into a fresh path, offline."""
    dist, collections = workdir / "dist", workdir / "collections"
    dist.mkdir(parents=True)
    galaxy("collection", "build", "--output-path", dist, REPO, collections_path=collections)
    tarball = dist / TARBALL_NAME
    assert tarball.is_file(), sorted(p.name for p in dist.iterdir())
    galaxy("collection", "install", "--offline", "-p", collections, tarball, collections_path=collections)
    return BuiltCollection(tarball, collections)


# Jobs through ansible-runner, the engine AWX runs every job with.

@dataclass
class Job:
    status: str
    rc: int
    stdout: str
    events: list[dict]
    env: dict
    artifacts: Path

    def of(self, event: str, task: Optional[str] = None) -> list[dict]:
        """The event_data of every `event` (of the task named `task`, if given)."""
        return [e["event_data"] for e in self.events if e["event"] == event
                and (task is None or e["event_data"].get("task") == task)]

    def hosts(self, event: str, task: str) -> list[str]:
        return sorted(data["host"] for data in self.of(event, task))

    def stats(self) -> dict:
        found = self.of("playbook_on_stats")
        assert len(found) == 1, self.stdout
        return found[0]

    def everything_recorded(self) -> str:
        """Everything AWX would keep of the job: its stdout and every event, as text."""
        return "\n".join([self.stdout] + [json.dumps(e, default=str) for e in self.events])


def job_env(collection: BuiltCollection, workdir: Path, **extra: str) -> dict:
    """The environment variables a job gets on top of the (cleaned) process environment."""
    return {
        "ANSIBLE_COLLECTIONS_PATH": str(collection.collections_path),
        "ANSIBLE_HOME": str(workdir / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": "10",
        "PVEFLEET_SDN_JOURNAL_DIR": str(workdir / "journal"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **extra,
    }


def run_job(workdir: Path, playbook: str, inventory: Path, envvars: dict, *, extravars: Optional[dict] = None,
            event_handler: Optional[Callable[[dict], Any]] = None,
            cancel_callback: Optional[Callable[[], bool]] = None) -> Job:
    """ansible_runner.run() the way AWX's task runner calls it (private data dir, project dir, env vars).

    The caller cleans os.environ first (clean_os_environ): ansible-runner seeds the job's
    environment with it, and only then applies `envvars`."""
    import ansible_runner

    private = workdir / "private"
    (private / "project").mkdir(parents=True, exist_ok=True)
    result = ansible_runner.run(
        private_data_dir=str(private), playbook=playbook, inventory=str(inventory), envvars=envvars,
        extravars=extravars or {}, quiet=True, event_handler=event_handler, cancel_callback=cancel_callback,
        # how often the cancel callback is asked (AWX asks about once a second)
        settings={"pexpect_timeout": 0.1}, timeout=240,
    )
    stdout = result.stdout.read()
    if envvars.get("PVEFLEET_SDN_JOURNAL_DIR"):
        wait_for_watchdogs(Path(envvars["PVEFLEET_SDN_JOURNAL_DIR"]))
    return Job(result.status, result.rc, stdout, list(result.events), dict(result.config.env),
               Path(result.config.artifact_dir))


def watchdog_running(journal: Path) -> bool:
    """Whether the watchdog of the transaction recorded in `journal` still listens (its private
    directory, named in the journal, goes with it)."""
    from ansible_collections.pvefleet.sdn.plugins.module_utils._journal import Journal
    from ansible_collections.pvefleet.sdn.plugins.plugin_utils._watchdog import socket_of

    path = socket_of(Journal(journal)) if journal.exists() else None
    return path is not None and path.exists()


def wait_for_watchdogs(journal_dir: Path, timeout: float = 20.0) -> None:
    """Wait until the watchdog of every transaction in journal_dir is gone: each one ends by itself
    once its ansible-playbook run has ended (after rolling back what that run left locked)."""
    deadline = time.monotonic() + timeout
    for journal in sorted(journal_dir.glob("*.json")) if journal_dir.is_dir() else []:
        while watchdog_running(journal):
            assert time.monotonic() < deadline, f"the watchdog of {journal} is still running"
            time.sleep(0.1)


def clean_os_environ(monkeypatch, checkout_leak: bool = True) -> None:
    """Remove from os.environ what could point a job at the checkout, and, as `make test` does,
    point ANSIBLE_COLLECTIONS_PATH at the checkout so that a test proves the job overrides it."""
    for name in list(os.environ):
        if name.startswith(("ANSIBLE_", "PROXMOX_", "PVEFLEET_")) or name == "PYTHONPATH":
            monkeypatch.delenv(name)
    if checkout_leak:
        monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(CHECKOUT_COLLECTIONS))


# AWX custom credential types: validation and injection, as AWX does them.

# Environment variables AWX refuses to inject (awx.main.fields.CredentialTypeInjectorField), besides ANSIBLE_*.
AWX_ENV_BLOCKLIST = frozenset({
    "VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
    "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES", "CALLBACK_QUEUE", "CALLBACK_CONNECTION",
    "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS", "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH",
})


class _Namespace:
    pass


def _file_labels(injectors: dict) -> list[str]:
    return [label.split(".", 1)[1] if "." in label else "" for label in injectors.get("file", {})]


def awx_validate(credential_type: dict) -> None:
    """The checks AWX makes when a custom credential type is created (inputs schema, injector templates)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    assert credential_type.get("kind") in ("cloud", "net"), "custom credential types are of kind cloud or net"
    fields = credential_type["inputs"]["fields"]
    ids = [f["id"] for f in fields]
    assert len(ids) == len(set(ids)), f"duplicate input ids: {ids}"
    for f in fields:
        assert set(f) <= {"id", "label", "type", "help_text", "secret", "multiline", "default", "choices", "format",
                          "ask_at_runtime"}, f
        assert f.get("label") and f.get("type", "string") in ("string", "boolean"), f
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", f["id"]), f
    assert set(credential_type["inputs"].get("required", [])) <= set(ids)
    injectors = credential_type["injectors"]
    assert set(injectors) <= {"env", "extra_vars", "file"}, injectors
    labels = list(injectors.get("file", {}))
    assert all(label == "template" or label.startswith("template.") for label in labels), labels
    assert not ("template" in labels and len(labels) > 1), "single and multi-file syntax cannot be mixed"
    for name in injectors.get("env", {}):
        assert not name.startswith("ANSIBLE_") and name not in AWX_ENV_BLOCKLIST, f"AWX refuses to inject {name}"
    # Every template must render with every field set (AWX renders them with StrictUndefined).
    namespace: dict = {f["id"]: (True if f.get("type") == "boolean" else "EXAMPLE") for f in fields}
    tower = _Namespace()
    if "template" in labels:
        tower.filename = "/tmp/EXAMPLE"
    elif labels:
        tower.filename = _Namespace()
        for label in _file_labels(injectors):
            setattr(tower.filename, label, f"/tmp/EXAMPLE-{label}")
    namespace["tower"] = tower
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for templates in injectors.values():
        for _key, template in _leaves(templates):
            sandbox.from_string(template).render(**namespace)


def _leaves(node: Any, prefix: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, f"{prefix}[{index}]")
    else:
        yield prefix, node


def awx_inject(credential_type: dict, inputs: dict, private_data_dir: Path) -> tuple[dict, dict]:
    """What a job gets from one credential: (environment variables, extra vars), rendered as AWX's
    CredentialType.inject_credential does: an input left empty is undefined in the templates, a
    boolean left out is false, and every file injector writes a 0600 file under the job's env/."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    namespace: dict = {}
    for name, value in inputs.items():
        if isinstance(value, bool) or len(value):
            namespace[name] = value
    for f in credential_type["inputs"]["fields"]:
        if f.get("type") == "boolean" and f["id"] not in inputs:
            namespace[f["id"]] = False
    injectors = credential_type["injectors"]
    sandbox = ImmutableSandboxedEnvironment()
    tower = _Namespace()
    namespace["tower"] = tower
    env_dir = private_data_dir / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    for label, template in injectors.get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as out:
            out.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split(".", 1)[1], path)
    env = {name: sandbox.from_string(template).render(**namespace) for name, template in injectors.get("env", {}).items()}

    def render(node: Any) -> Any:
        if isinstance(node, dict):
            return {render(k): render(v) for k, v in node.items()}
        if isinstance(node, list):
            return [render(x) for x in node]
        return sandbox.from_string(node).render(**namespace)

    return env, render(injectors.get("extra_vars", {}))


@dataclass
class CredentialType:
    path: Path
    data: dict = field(init=False)

    def __post_init__(self) -> None:
        self.data = yaml.safe_load(self.path.read_text())

    @property
    def fields(self) -> dict[str, dict]:
        return {f["id"]: f for f in self.data["inputs"]["fields"]}
