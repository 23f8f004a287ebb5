"""Readiness as a pure function (A2 Art.12: battery for a working day; A2 Art.13: no fault,
battery, card space, clock) — every shortfall is a reason with numbers and an action."""

from __future__ import annotations

import pytest

from agent.link.profiles import load_profiles
from agent.readiness import Margins, evaluate_readiness, storage_needed_bytes
from bodycam.formats import human_bytes

ZFY = load_profiles()["zfy-e12-gat947"]  # 9 %/h, 8000 kbit/s
M = Margins(battery_pct=10, storage_pct=10, clock_tolerance_s=2.0)
PLENTY = 100 << 30


def test_ready_when_everything_suffices():
    r = evaluate_readiness(90, PLENTY, True, [], ZFY, 8, M, clock_offset_s=0.4)
    assert r.ready and r.reasons == []
    assert r.battery_needed_pct == 82


def test_low_battery_reason_has_numbers_and_action():
    r = evaluate_readiness(23, PLENTY, True, [], ZFY, 8, M)
    assert not r.ready
    assert r.reasons == ["battery 23% < 82% needed for an 8 h shift at 9%/h + 10% margin: charge it"]


def test_battery_exactly_enough_is_ready():
    assert evaluate_readiness(82, PLENTY, True, [], ZFY, 8, M).ready


def test_shift_longer_than_a_battery():
    r = evaluate_readiness(100, PLENTY, True, [], ZFY, 12, M)
    assert not r.ready and "a full battery is not enough: 118% needed" in r.reasons[0]
    assert "spare battery" in r.reasons[0]


def test_storage_for_the_shift():
    need = storage_needed_bytes(ZFY, 8, M)
    assert need == int(8000 * 1000 / 8 * 8 * 3600 * 1.1)
    r = evaluate_readiness(90, need - 1, True, [], ZFY, 8, M)
    assert not r.ready
    assert r.reasons[0].startswith(f"card has {human_bytes(need - 1)} free < {human_bytes(need)} needed "
                                   "for an 8 h shift at 8 Mbit/s + 10% margin: offload")
    assert evaluate_readiness(90, need, True, [], ZFY, 8, M).ready


def test_unknowns_are_not_ready():
    r = evaluate_readiness(None, None, False, [], ZFY, 8, M)
    assert not r.ready and len(r.reasons) == 3
    assert "battery level unknown" in r.reasons[0] and "82%" in r.reasons[0]
    assert "free card space unknown" in r.reasons[1]
    assert "clock offset unknown" in r.reasons[2] and "bodycam device calibrate" in r.reasons[2]


@pytest.mark.parametrize(("offset", "word"), [(3600.0, "ahead of"), (-259200.0, "behind")])
def test_drifted_clock(offset, word):
    r = evaluate_readiness(90, PLENTY, True, [], ZFY, 8, M, clock_offset_s=offset)
    assert not r.ready
    assert r.reasons == [f"clock is {abs(offset):.1f} s {word} the dock (tolerance 2.0 s): "
                         "set it with `bodycam device calibrate`"]


def test_clock_not_judged_without_tolerance():
    r = evaluate_readiness(90, PLENTY, True, [], ZFY, 8, Margins(), clock_offset_s=3600)
    assert r.ready


def test_faults_each_become_a_reason():
    r = evaluate_readiness(90, PLENTY, True, ["get_storage failed (LinkTimeout)", "x"], ZFY, 8, M)
    assert not r.ready and len(r.reasons) == 2
    assert r.reasons[0] == ("fault: get_storage failed (LinkTimeout): have the recorder checked "
                            "before issuing it")


def test_margins_and_shift_are_parameters():
    r = evaluate_readiness(50, PLENTY, True, [], ZFY, 4, Margins(battery_pct=15))
    assert r.battery_needed_pct == 51  # 4 h × 9 %/h + 15
    assert not r.ready and "51% needed for a 4 h shift at 9%/h + 15% margin" in r.reasons[0]
