"""Options of the fault campaign: ``pytest tests/faults --seed N --trials N [--faults N]``."""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("faults", "fault campaign (tests/faults)")
    group.addoption("--seed", type=int, default=None, help="campaign seed (default: the CI seed)")
    group.addoption("--trials", type=int, default=None, help="campaign trials (default: the CI's short run)")
    group.addoption("--faults", type=int, default=None, help="faults per trial")
