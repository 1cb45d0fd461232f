"""Fixtures of the ecosystem tests: the collection built and installed as Galaxy ships it, emulated remotes."""
from __future__ import annotations

import pytest
from ecosystem_support import build_and_install

from pvefleet_emulator.testing import EmulatorProcess

REMOTES = ("remote001", "remote002", "remote003")


@pytest.fixture(scope="session")
def collection(tmp_path_factory):
    """The checkout built with `ansible-galaxy collection build` and installed from the tarball into a fresh path."""
    return build_and_install(tmp_path_factory.mktemp("galaxy"))


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    with EmulatorProcess(remotes=len(REMOTES), nodes=2, task_seconds=0.3,
                         workdir=tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture
def remotes(emulator):
    """The emulated remotes, each with an empty SDN configuration, no lock and no faults."""
    for name in REMOTES:
        control = emulator.remotes[name].control
        control.clear_faults()
        control.reset()
    return [emulator.remotes[name] for name in REMOTES]
