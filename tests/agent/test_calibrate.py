"""The calibration procedure (A2 Art.13): measure → set → re-measure → within tolerance or refused.

Pure: a simulated recorder clock on an injected timeline (tests/fixtures/clocksim.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from agent.clock.calibrate import (
    CalibrationResult,
    calibrate,
    clock_params,
    datetime_to_ns,
    default_tolerance_ns,
    measure_recorder,
    ns_to_datetime,
    parse_tz,
)
from agent.clock.measure import CalibrationPoint, ClockError
from agent.clock.reference import ReferenceReading
from agent.config import ClockConfig
from agent.link.profiles import Profile, get_profile
from bodycam.errors import ConfigError, RefusedError
from tests.fixtures.clocksim import NS, SimRecorder, SimReference, SimWorld

MS = 1_000_000
CST = timezone(timedelta(hours=8))


def run(rec: SimRecorder, w: SimWorld, ref=None, **kw) -> CalibrationResult:
    return calibrate(rec, ref or SimReference(), resolution_ns=rec.resolution_ns, tz=rec.tz,
                     local_ns=w.now, sleep=w.sleep, **kw)


@pytest.mark.parametrize("offset_ns", [-3 * 86400 * NS, -86400 * NS + 1, -37 * NS - 999 * MS, -1, 0,
                                       600 * MS, 3600 * NS])
@pytest.mark.parametrize("drift_ppm", [0.0, -45.0, 120.0])
def test_one_second_recorders_end_within_tolerance(offset_ns, drift_ppm):
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=offset_ns, drift_ppm=drift_ppm, resolution_ns=NS, tz=CST)
    res = run(rec, w)
    assert res.passed, res.reasons
    assert res.tolerance_ns == NS
    assert abs(res.offset_before_ns - offset_ns) <= res.before.uncertainty_ns + MS
    # The estimate is honest: the simulated truth lies within the stated uncertainty.
    true_after = rec.true_device_ns() - w.now()
    assert abs(res.offset_after_ns - true_after) <= res.uncertainty_ns + MS
    assert abs(res.offset_after_ns) + res.uncertainty_ns <= res.tolerance_ns
    assert res.uncertainty_ns <= 25 * MS  # second boundary located, not ±0.5 s
    assert res.before.method == res.after.method == "second-boundary"
    # set_time got a whole second in the recorder's zone.
    assert len(rec.sets) == 1 and rec.sets[0].microsecond == 0
    assert rec.sets[0].utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("offset_ns", [-3 * 86400 * NS, -2 * MS, 3600 * NS])
def test_millisecond_recorders_get_a_tight_tolerance(offset_ns):
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=offset_ns, drift_ppm=30, resolution_ns=MS, rtt_ns=8 * MS)
    res = run(rec, w)
    assert res.passed, res.reasons
    assert res.tolerance_ns == 50 * MS
    assert abs(res.offset_after_ns) <= 5 * MS
    assert res.uncertainty_ns <= 5 * MS
    assert res.before.method == "midpoint"


def test_tolerance_override_can_refuse_what_the_default_accepts():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-5 * NS, resolution_ns=NS, rtt_ns=40 * MS)
    res = run(rec, w, tolerance_ns=10 * MS)
    assert not res.passed
    assert "beyond the 0.01 s tolerance" in res.reasons[0]


def test_unhealthy_reference_refuses_without_touching_the_recorder():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=100 * NS)
    ref = SimReference(healthy=False, reasons=("NTP servers disagree by more than 0.5 s",))
    res = run(rec, w, ref)
    assert not res.passed
    assert res.reasons == ("reference clock (ntp) unhealthy: NTP servers disagree by more than 0.5 s",)
    assert rec.reads == 0 and rec.sets == []
    assert res.offset_before_ns is None and res.uncertainty_ns is None


def test_recorder_rejecting_set_time_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-3 * 86400 * NS, reject_set=True)
    res = run(rec, w)
    assert not res.passed
    assert res.reasons[0].startswith("recorder rejected set_time(")
    assert "NAK" in res.reasons[0]
    assert res.offset_before_ns is not None and res.offset_after_ns is None


def test_recorder_ignoring_set_time_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-3 * 86400 * NS, ignore_set=True)
    res = run(rec, w)
    assert not res.passed
    assert "did not change after set_time" in res.reasons[0]
    assert res.offset_after_ns == pytest.approx(res.offset_before_ns, abs=30 * MS)


def test_clock_jumping_backwards_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=3 * NS, resolution_ns=MS, jump_back_on_read=3)
    res = run(rec, w)
    assert not res.passed
    assert "jumped backwards" in res.reasons[0] and res.reasons[0].startswith("measuring before setting")


def test_clock_jumping_backwards_after_setting_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=3 * NS, resolution_ns=MS, jump_back_on_read=7)
    res = run(rec, w, samples=5)
    assert not res.passed
    assert res.reasons[0].startswith("re-measuring after setting") and "jumped backwards" in res.reasons[0]


def test_stalled_clock_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, resolution_ns=NS, stalled=True)
    res = run(rec, w)
    assert not res.passed and "stalled" in res.reasons[0]


def test_recorder_keeping_its_subsecond_phase_still_ends_within_a_second():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-7 * NS - 400 * MS, reset_subsecond_on_set=False)
    res = run(rec, w)
    assert abs(res.offset_after_ns) < NS


def test_unreadable_recorder_is_refused():
    from tests.fixtures.clocksim import SimRefused

    class Dead:
        def get_time(self):
            raise SimRefused("port /dev/sim: no answer")

        def set_time(self, dt):
            raise AssertionError("must not be called")

    w = SimWorld()
    res = calibrate(Dead(), SimReference(), local_ns=w.now, sleep=w.sleep)
    assert not res.passed and res.reasons[0].startswith("could not read the recorder's clock")


def test_drift_is_estimated_and_a_risky_shift_is_flagged():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, drift_ppm=50, resolution_ns=NS)
    # The previous calibration left it 0 s off, 24 h ago; it gained 4.32 s since (50 ppm).
    w.t += 24 * 3600 * NS
    prev = [CalibrationPoint(time_ns=w.t - 24 * 3600 * NS, offset_after_ns=0, uncertainty_ns=20 * MS)]
    res = run(rec, w, previous=prev, shift_hours=8)
    assert res.passed
    assert res.drift.ppb == pytest.approx(50_000, abs=1_000)
    assert len(res.warnings) == 1 and "8 h shift" in res.warnings[0] and "tolerance" in res.warnings[0]
    calm = run(SimRecorder(w, offset_ns=0, drift_ppm=1), w,
               previous=[CalibrationPoint(w.t - 24 * 3600 * NS, 0, uncertainty_ns=20 * MS)])
    assert calm.passed and calm.warnings == ()


def test_reference_offset_is_applied():
    """The dock's own clock is 2 s slow; the reference says so; the recorder must get true time."""
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-50 * NS, resolution_ns=MS)
    local_slow = lambda: w.now() - 2 * NS  # noqa: E731
    reading = ReferenceReading("ntp", True, 2 * NS, MS)
    res = calibrate(rec, reading, resolution_ns=MS, local_ns=local_slow, sleep=w.sleep)
    assert res.passed
    assert abs(rec.true_device_ns() - w.now()) <= 5 * MS


def test_multi_step_set_time_latency_is_compensated():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-86400 * NS, resolution_ns=MS, rtt_ns=30 * MS, set_steps=2)
    naive = run(rec, w)
    assert naive.offset_after_ns == pytest.approx(-30 * MS, abs=2 * MS)  # landed one round trip late
    rec2 = SimRecorder(w, offset_ns=-86400 * NS, resolution_ns=MS, rtt_ns=30 * MS, set_steps=2)
    res = run(rec2, w, set_steps=2)
    assert res.passed and abs(res.offset_after_ns) <= 2 * MS


def test_as_dict_has_the_cli_fields():
    w = SimWorld()
    d = run(SimRecorder(w, offset_ns=5 * NS), w).as_dict()
    for key in ("passed", "offset_before_s", "offset_after_s", "uncertainty_s", "reasons"):
        assert key in d
    assert d["offset_before_s"] == pytest.approx(5.0, abs=0.03)


def test_time_zone_helpers():
    assert parse_tz(None) is UTC and parse_tz("UTC") is UTC
    assert parse_tz("+08:00").utcoffset(None) == timedelta(hours=8)
    assert parse_tz("-0530").utcoffset(None) == -timedelta(hours=5, minutes=30)
    assert parse_tz("Asia/Shanghai").utcoffset(datetime(2026, 1, 1)) == timedelta(hours=8)
    with pytest.raises(ConfigError, match="unknown time zone"):
        parse_tz("Mars/Olympus")
    naive_local = datetime(2026, 11, 30, 17, 0, 0)
    assert datetime_to_ns(naive_local, CST) == datetime_to_ns(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    ns = 1_796_000_000_123_456_789
    assert datetime_to_ns(ns_to_datetime(ns, CST)) == ns - 789


def test_default_tolerances():
    assert default_tolerance_ns(NS) == NS
    assert default_tolerance_ns(MS) == 50 * MS
    assert default_tolerance_ns(100 * MS) == NS
    assert default_tolerance_ns(40 * MS) == 80 * MS


def test_clock_params_come_from_the_profile_unless_configured():
    ms = get_profile("jsonl-epoch-ms")
    p = clock_params(ms)
    assert (p.resolution_ns, p.tolerance_ns, p.set_steps, p.samples) == (MS, 100 * MS, 1, 5)
    assert clock_params(ms, ClockConfig(tolerance_s=0.02, samples=9)).tolerance_ns == 20 * MS
    amba = clock_params(get_profile("ambarella-at-delimited"))
    assert (amba.resolution_ns, amba.tolerance_ns, amba.set_steps) == (NS, NS, 2)
    assert amba.tz.utcoffset(None) == timedelta(hours=8)
    unset = Profile.model_validate(ms.model_dump(exclude={"clock_tolerance_s"}))
    assert clock_params(unset).tolerance_ns == 50 * MS  # profile silent: the per-resolution default
    assert set(clock_params(ms).as_kwargs()) == {"resolution_ns", "tz", "tolerance_ns", "set_steps",
                                                 "samples"}


def test_measure_recorder_reads_without_setting():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-2 * NS - 300 * MS, tz=CST)
    reading, est = measure_recorder(rec, SimReference(), local_ns=w.now, sleep=w.sleep,
                                    **clock_params(get_profile("zfy-e12-gat947")).as_kwargs())
    assert reading.healthy and rec.sets == []
    assert abs(est.offset_ns - (-2 * NS - 300 * MS)) <= est.uncertainty_ns
    with pytest.raises(RefusedError) as exc:
        measure_recorder(rec, SimReference(healthy=False, reasons=("no NTP server answered",)))
    assert exc.value.reasons == ["no NTP server answered"] and exc.value.exit_code == 3
    with pytest.raises(ClockError, match="stalled"):
        measure_recorder(SimRecorder(w, stalled=True, resolution_ns=MS), SimReference(), resolution_ns=MS,
                         local_ns=w.now, sleep=w.sleep)


def test_a_clock_just_over_tolerance_that_was_set_is_not_taken_for_unchanged():
    w = SimWorld()
    res = run(SimRecorder(w, offset_ns=NS + 10 * MS, rtt_ns=4 * MS), w)
    assert res.passed, res.reasons
