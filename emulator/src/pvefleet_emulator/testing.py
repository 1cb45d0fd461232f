"""Run the emulator as a subprocess for a test: start, wait for `ready`, read the inventory, stop."""
from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from pvefleet_emulator.control import EmulatorControl


@dataclass
class RemoteInfo:
    name: str
    vars: dict

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.vars["pvefleet_emulator_url"], self.vars["pvefleet_sdn_ca_path"])

    @property
    def host(self) -> str:
        return self.vars["pvefleet_sdn_api_host"]

    @property
    def port(self) -> int:
        return self.vars["pvefleet_sdn_api_port"]

    @property
    def token_secret(self) -> str:
        return self.vars["pvefleet_sdn_api_token_secret"]

    @property
    def token_id(self) -> str:
        """The inventory's full token ID, `user@realm!name`."""
        return f"{self.vars['pvefleet_sdn_api_user']}!{self.vars['pvefleet_sdn_api_token_id']}"

    @property
    def authorization(self) -> str:
        """The Authorization header of the inventory's token."""
        return f"PVEAPIToken={self.token_id}={self.token_secret}"

    @property
    def root_token_secret(self) -> str:
        """root@pam!fleet's secret (the inventory's token unless the emulator got --token-role)."""
        return self.vars.get("pvefleet_emulator_root_token_secret", self.token_secret)

    @property
    def password(self) -> str:
        return self.vars["pvefleet_emulator_password"]

    @property
    def ca_path(self) -> str:
        return self.vars["pvefleet_sdn_ca_path"]


class EmulatorProcess:
    """`with EmulatorProcess(remotes=3) as emu: emu.inventory, emu.remotes["remote001"].control.state()`"""

    def __init__(self, remotes: int = 3, nodes: int = 1, *, task_seconds: float = 0.3, latency_ms: float = 0.0,
                 auth_fail_delay: float = 0.0, pve8: tuple[str, ...] = (), workdir: Optional[Path] = None,
                 base_address: Optional[str] = None, extra_args: tuple[str, ...] = (),
                 token_role: Optional[str] = None, token_role_path: str = "/", token_privsep: bool = True,
                 token_user: str = "fleet@pve", roles: Optional[dict[str, list[str] | tuple[str, ...]]] = None):
        """`token_role` and the rest: the command line's --token-role options (the inventory's token
        then carries that role on that path) and custom roles (--role)."""
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="pvefleet-emu-"))
        self._own_workdir = workdir is None
        self.inventory = self.workdir / "inventory.yml"
        self.state_dir = self.workdir / "state"
        # A loopback range of its own, so that emulators of tests running at the same time never meet.
        self.base_address = base_address or f"127.{random.randint(16, 250)}.{random.randint(0, 255)}.2"
        self.command = [sys.executable, "-m", "pvefleet_emulator.cli", "--remotes", str(remotes), "--nodes", str(nodes),
                        "--base-address", self.base_address,
                        "--task-seconds", str(task_seconds), "--latency-ms", str(latency_ms),
                        "--auth-fail-delay", str(auth_fail_delay), "--inventory", str(self.inventory),
                        "--state-dir", str(self.state_dir), *extra_args]
        for name in pve8:
            self.command += ["--pve8", name]
        for name, privs in (roles or {}).items():
            self.command += ["--role", f"{name}:{','.join(privs)}"]
        if token_role is not None:
            self.command += ["--token-role", token_role, "--token-role-path", token_role_path,
                             "--token-privsep", str(int(token_privsep)), "--token-user", token_user]
        self.process: Optional[subprocess.Popen] = None
        self.remotes: dict[str, RemoteInfo] = {}

    def start(self) -> EmulatorProcess:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "ready":
                break
        else:
            errors = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"the emulator exited before it was ready: {errors}")
        hosts = yaml.safe_load(self.inventory.read_text())["all"]["children"]["remotes"]["hosts"]
        self.remotes = {name: RemoteInfo(name, variables) for name, variables in hosts.items()}
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
