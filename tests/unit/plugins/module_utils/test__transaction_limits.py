"""The fleet engine raises its own limit of open files when the fleet needs more."""
from __future__ import annotations

import pytest

from ansible_collections.pvefleet.sdn.plugins.module_utils import _transaction

INFINITY = -1


class FakeResource:
    RLIMIT_NOFILE = 7
    RLIM_INFINITY = INFINITY

    def __init__(self, soft: int, hard: int):
        self.limits = (soft, hard)

    def getrlimit(self, which):
        assert which == self.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which, limits):
        assert which == self.RLIMIT_NOFILE
        self.limits = limits


@pytest.mark.parametrize("soft, hard, needed, expected", [
    (1024, 524288, 2064, (2064, 524288)),       # raised to what the fleet needs
    (1024, 1500, 2064, (1500, 1500)),           # up to the hard limit, not beyond
    (4096, 524288, 2064, (4096, 524288)),       # enough already: left alone
    (1024, INFINITY, 2064, (2064, INFINITY)),
    (INFINITY, INFINITY, 2064, (INFINITY, INFINITY)),
])
def test_the_soft_limit_is_raised_up_to_the_hard_limit(monkeypatch, soft, hard, needed, expected):
    fake = FakeResource(soft, hard)
    monkeypatch.setattr(_transaction, "resource", fake)
    _transaction.raise_open_files_limit(needed)
    assert fake.limits == expected


def test_without_the_resource_module_nothing_happens(monkeypatch):
    monkeypatch.setattr(_transaction, "resource", None)
    _transaction.raise_open_files_limit(10**6)
