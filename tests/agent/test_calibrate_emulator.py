"""Calibration end to end (A2 Art.13): real chronyd reference, RecorderLink over a real pty, the
recorder emulator with offsets from −3 days to +1 hour, drift, 1-s and ms clocks, and its faults."""

from __future__ import annotations

import pytest

from agent.clock.calibrate import calibrate, calibration_body, clock_params
from agent.clock.reference import NtpReference
from agent.link.driver import RecorderLink
from ledger.records import validate_body

NS = 1_000_000_000
DAY_S = 86400.0


@pytest.fixture
def reference(ntp_server):
    return NtpReference([ntp_server().address, ntp_server().address], quorum=2, timeout_s=1.0)


def link_for(rec) -> RecorderLink:
    return RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=1.0)


@pytest.mark.integration
@pytest.mark.parametrize(("profile", "offset_s", "drift_ppm"), [
    ("ambarella-at-delimited", -3 * DAY_S, 40.0),  # 1-s clock, local time +08:00, SetDate then SetTime
    ("zfy-e12-gat947", 3600.0, -25.0),  # 1-s clock, +08:00
    ("binary-aa55-crc16", -3 * DAY_S, 10.0),  # ms clock, epoch ms, binary frames
    ("jsonl-epoch-ms", 3600.0, 0.0),  # ms clock, JSON lines
])
def test_emulated_recorders_are_set_within_tolerance(emulated_recorder, reference, profile, offset_s, drift_ppm):
    rec = emulated_recorder(profile, {"clock_offset_s": offset_s, "clock_drift_ppm": drift_ppm})
    params = clock_params(rec.profile)
    with link_for(rec) as link:
        res = calibrate(link, reference, **params.as_kwargs())
    assert res.passed, res.as_dict()
    assert abs(res.offset_before_ns - offset_s * NS) < 200_000_000, res.as_dict()
    # The emulator knows the truth: the recorder is now within tolerance of true time.
    assert abs(rec.emulator.clock.offset_s()) * NS <= params.tolerance_ns
    assert abs(res.offset_after_ns) + res.uncertainty_ns <= params.tolerance_ns
    if params.resolution_ns >= NS:  # the tick was located: far better than the ±0.5 s of one sample
        assert res.after.method == "second-boundary", res.as_dict()
        assert res.uncertainty_ns < 200_000_000, res.as_dict()
    body = calibration_body(res, "rec-0001", profile=profile)
    assert validate_body(body).result == "passed"


def _faulty(emulated_recorder, fault: dict, offset_s: float = -3 * DAY_S):
    return emulated_recorder("jsonl-epoch-ms", {"clock_offset_s": offset_s, "faults": {"rules": [fault]}})


@pytest.mark.integration
def test_recorder_rejecting_set_time_is_refused(emulated_recorder, reference):
    rec = _faulty(emulated_recorder, {"kind": "refuse", "command": "set_time", "times": 0})
    with link_for(rec) as link:
        res = calibrate(link, reference, **clock_params(rec.profile).as_kwargs())
    assert not res.passed and res.reasons[0].startswith("recorder rejected set_time(")
    assert validate_body(calibration_body(res, "rec-0001")).result == "refused"


@pytest.mark.integration
def test_recorder_acking_without_setting_is_refused(emulated_recorder, reference):
    rec = _faulty(emulated_recorder, {"kind": "ack_without_effect", "command": "set_time", "times": 0})
    with link_for(rec) as link:
        res = calibrate(link, reference, **clock_params(rec.profile).as_kwargs())
    assert not res.passed and "did not change after set_time" in res.reasons[0]
    assert abs(rec.emulator.clock.offset_s() + 3 * DAY_S) < 1


@pytest.mark.integration
def test_recorder_clock_jumping_backwards_is_refused(emulated_recorder, reference):
    rec = _faulty(emulated_recorder, {"kind": "time_jump", "command": "get_time", "after": 2, "jump_s": -5.0},
                  offset_s=2.0)
    with link_for(rec) as link:
        res = calibrate(link, reference, **clock_params(rec.profile).as_kwargs())
    assert not res.passed and "jumped backwards" in res.reasons[0]
