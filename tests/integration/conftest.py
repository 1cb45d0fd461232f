"""Integration tests: ansible-playbook against emulated PVE remotes."""
from __future__ import annotations

import pytest

from pvefleet_emulator.testing import EmulatorProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=4, nodes=2, task_seconds=0.3,
                         workdir=tmp_path_factory.mktemp("emulator"), pve8=("remote004",)) as emu:
        yield emu


@pytest.fixture
def remotes(emulator):
    """The three PVE 9 remotes, reset to an empty SDN configuration with no faults."""
    names = ["remote001", "remote002", "remote003"]
    for name in names + ["remote004"]:
        control = emulator.remotes[name].control
        control.clear_faults()
        control.reset()
    return [emulator.remotes[name] for name in names]


@pytest.fixture
def inventory(emulator, tmp_path):
    """The emulator's inventory without the PVE 8 remote (its own group `pve8`)."""
    import yaml

    data = yaml.safe_load(emulator.inventory.read_text())
    hosts = data["all"]["children"]["remotes"]["hosts"]
    old = hosts.pop("remote004")
    data["all"]["children"]["pve8"] = {"hosts": {"remote004": old}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def secrets_of(emulator) -> list[str]:
    """Every secret a run could leak: token secrets, passwords, every lock token issued."""
    values = []
    for remote in emulator.remotes.values():
        values += [remote.token_secret, remote.password]
        values += remote.control.state()["issued_lock_tokens"]
    return [v for v in values if v]


def pytest_terminal_summary(terminalreporter):
    """The summaries tests recorded (record_property("summary", ...)), such as the fault campaign's counts."""
    lines = [value for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
             if report.when == "call" for name, value in report.user_properties if name == "summary"]
    if lines:
        terminalreporter.section("summaries")
        for line in lines:
            terminalreporter.write_line(line)
