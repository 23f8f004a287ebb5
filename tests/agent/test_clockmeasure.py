"""Offset measurement and drift estimation (A2 Art.13): pure, on a simulated timeline."""

from __future__ import annotations

import pytest

from agent.clock.calibrate import datetime_to_ns
from agent.clock.measure import (
    CalibrationPoint,
    ClockError,
    DeviceReading,
    DriftEstimate,
    estimate_drift_ppm,
    forecast_drift,
    measure_offset,
    round_div,
)
from tests.fixtures.clocksim import NS, SimRecorder, SimWorld

MS = 1_000_000


def reader(rec: SimRecorder):
    return lambda: DeviceReading(datetime_to_ns(rec.get_time(), rec.tz))


@pytest.mark.parametrize("offset_ns", [-3 * 86400 * NS, -1234 * MS, -1, 0, 437 * MS, 3600 * NS + 999 * MS])
def test_ms_clock_offset_is_bounded_and_true_value_inside(offset_ns):
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=offset_ns, resolution_ns=MS, rtt_ns=12 * MS)
    est = measure_offset(reader(rec), w.now, samples=5, resolution_ns=MS, sleep=w.sleep)
    assert est.method == "midpoint"
    assert est.samples == 5
    assert est.lo_ns <= offset_ns <= est.hi_ns
    assert abs(est.offset_ns - offset_ns) <= est.uncertainty_ns
    # Half the round trip plus half a resolution step.
    assert est.uncertainty_ns <= 6 * MS + MS // 2 + 1
    assert est.min_rtt_ns == 12 * MS


@pytest.mark.parametrize("offset_ns", [-3 * 86400 * NS + 250 * MS, -700 * MS, 0, 1, 999 * MS,
                                       3600 * NS + 5 * MS])
def test_one_second_clock_locates_the_second_boundary(offset_ns):
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=offset_ns, resolution_ns=NS, rtt_ns=20 * MS)
    est = measure_offset(reader(rec), w.now, samples=5, resolution_ns=NS, sleep=w.sleep)
    assert est.method == "second-boundary"
    # Far below the ±0.5 s a single 1-s sample gives: the two polls bracketing the tick.
    assert est.uncertainty_ns <= 20 * MS + 1
    assert abs(est.offset_ns - offset_ns) <= est.uncertainty_ns
    assert est.span_ns <= NS + 100 * MS


def test_one_second_clock_with_drift_still_bounded():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-42 * NS - 300 * MS, drift_ppm=80, resolution_ns=NS)
    est = measure_offset(reader(rec), w.now, samples=3, resolution_ns=NS, sleep=w.sleep)
    true_now = rec.true_device_ns() - w.now()
    assert abs(est.offset_ns - true_now) <= est.uncertainty_ns + MS


def test_polling_is_bounded_when_polls_are_too_slow_to_see_a_tick():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, resolution_ns=NS, rtt_ns=5 * MS)
    est = measure_offset(reader(rec), w.now, samples=2, resolution_ns=NS, sleep=w.sleep, max_polls=3)
    assert est.samples == 3
    assert est.method == "coarse"
    assert est.uncertainty_ns >= 400 * MS  # honest: one second resolution, no tick seen


def test_poll_interval_sleeps_between_polls():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, resolution_ns=NS, rtt_ns=5 * MS)
    est = measure_offset(reader(rec), w.now, samples=3, resolution_ns=NS, sleep=w.sleep, poll_interval_s=0.05)
    assert w.slept_ns >= 45 * MS * (est.samples - 1)
    assert est.method == "second-boundary"
    assert est.uncertainty_ns <= (55 + 5) * MS // 2 + 1


def test_clock_jumping_backwards_between_samples_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=10 * NS, resolution_ns=MS, jump_back_on_read=2, jump_back_ns=3 * NS)
    with pytest.raises(ClockError, match=r"jumped backwards by 2\.98"):
        measure_offset(reader(rec), w.now, samples=5, resolution_ns=MS, sleep=w.sleep)


def test_stalled_clock_is_refused():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, resolution_ns=MS, stalled=True)
    with pytest.raises(ClockError, match="stalled"):
        measure_offset(reader(rec), w.now, samples=5, resolution_ns=MS, sleep=w.sleep)


def test_stalled_one_second_clock_is_refused_within_bounded_time():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, resolution_ns=NS, stalled=True)
    start = w.now()
    with pytest.raises(ClockError, match="stalled"):
        measure_offset(reader(rec), w.now, samples=5, resolution_ns=NS, sleep=w.sleep)
    assert w.now() - start < 1_100 * MS


def test_clock_leaping_ahead_is_refused():
    w = SimWorld()
    values = iter([0, 1 * NS, 9 * NS])
    times = iter(range(0, 100 * MS, 10 * MS))

    def read():
        return DeviceReading(next(values))

    with pytest.raises(ClockError, match="jumped ahead"):
        measure_offset(read, lambda: next(times), samples=3, resolution_ns=MS, sleep=w.sleep)


def test_reference_going_backwards_is_refused():
    times = iter([0, 1000, 500])
    with pytest.raises(ClockError, match="reference clock went backwards"):
        measure_offset(lambda: DeviceReading(0), lambda: next(times), samples=1, resolution_ns=MS)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        measure_offset(lambda: DeviceReading(0), lambda: 0, samples=0)
    with pytest.raises(ValueError):
        measure_offset(lambda: DeviceReading(0), lambda: 0, resolution_ns=0)


# --- drift ------------------------------------------------------------------------------------

H = 3600 * NS


def test_drift_from_the_last_calibration():
    prev = [CalibrationPoint(time_ns=0, offset_after_ns=10 * MS, uncertainty_ns=MS)]
    # 24 h later the clock is 10 ms + 864 ms ahead: 10 ppm.
    d = estimate_drift_ppm(prev, 874 * MS, 24 * H, current_uncertainty_ns=MS)
    assert d.ppb == 10_000
    assert d.ppm == 10.0
    assert d.intervals == 1
    assert d.uncertainty_ppb == round_div(2 * MS * NS, 24 * H)


def test_drift_is_time_weighted_over_several_calibrations():
    prev = [
        CalibrationPoint(0, offset_after_ns=0),
        CalibrationPoint(10 * H, offset_after_ns=0, offset_before_ns=-360 * MS),  # -10 ppm over 10 h
        CalibrationPoint(20 * H, offset_after_ns=5 * MS, offset_before_ns=None),  # no before: skipped pair
    ]
    d = estimate_drift_ppm(prev, 5 * MS - 360 * MS, 30 * H)  # -10 ppm over the last 10 h
    assert d.intervals == 2
    assert d.ppb == -10_000


def test_drift_needs_history_and_long_enough_intervals():
    assert estimate_drift_ppm([], 5 * NS, 10 * H) is None
    assert estimate_drift_ppm([CalibrationPoint(0, 0)], 1 * MS, 30 * NS) is None


def test_forecast_within_and_beyond_tolerance():
    ok = forecast_drift(DriftEstimate(5_000, 0, H, 1), 10 * MS, NS, 8)
    assert ok.within_tolerance
    assert ok.predicted_offset_ns == 10 * MS + 144 * MS
    bad = forecast_drift(DriftEstimate(-50_000, 0, H, 1), -100 * MS, NS, 8)
    assert not bad.within_tolerance
    assert bad.predicted_offset_ns == -100 * MS - 1440 * MS
    assert bad.hours_until_out == pytest.approx(5.0)
    assert "-50.000 ppm" in bad.reason and "8 h shift" in bad.reason and "after about 5.0 h" in bad.reason


def test_round_div_rounds_half_away_from_zero():
    assert [round_div(a, 1000) for a in (1499, 1500, -1499, -1500, 0)] == [1, 2, -1, -2, 0]
    assert round_div(7, -2) == -4
