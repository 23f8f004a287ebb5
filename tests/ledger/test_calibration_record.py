"""The signed ``calibration`` record body (A2 Art.13): every attempt, passed or refused, must be a
valid ``ledger.records.Calibration`` in signed-JSON form (integers, no floats)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from agent.clock.calibrate import CalibrationResult, calibrate, calibration_body, calibration_point, datetime_to_ns
from agent.clock.measure import CalibrationPoint
from agent.clock.reference import ReferenceReading, SourceDetail
from ledger.records import make_body, validate_body
from tests.fixtures.clocksim import NS, SimRecorder, SimReference, SimWorld

CST = timezone(timedelta(hours=8))


def run(rec: SimRecorder, w: SimWorld, ref=None, **kw) -> CalibrationResult:
    return calibrate(rec, ref or SimReference(), resolution_ns=rec.resolution_ns, tz=rec.tz,
                     local_ns=w.now, sleep=w.sleep, **kw)


def _calibrated(**kw) -> CalibrationResult:
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-3 * 86400 * NS, drift_ppm=20, tz=CST, **kw)
    prev = [CalibrationPoint(w.t - 3600 * NS, 0)]
    sources = (SourceDetail("127.0.0.1:1123", 1234, 2000, 8), SourceDetail("10.0.0.9:123", error="x"))
    ref = ReferenceReading("ntp", True, 1234, 5678, sources)
    return calibrate(rec, ref, tz=CST, local_ns=w.now, sleep=w.sleep, previous=prev)


def no_floats(x) -> bool:
    if isinstance(x, dict):
        return all(no_floats(v) for v in x.values())
    if isinstance(x, list):
        return all(no_floats(v) for v in x)
    return not isinstance(x, float)


def test_calibration_body_validates_as_a_ledger_calibration_record():
    res = _calibrated()
    body = calibration_body(res, "rec-0001", dock_id="dock-1", profile="acme-x1", battery_pct=87,
                            storage_free_bytes=10**10)
    model = validate_body(body)
    assert make_body(model) == body  # already in signed-JSON form
    assert body["kind"] == "calibration" and body["result"] == "passed" and body["device_id"] == "rec-0001"
    assert body["offset_before_us"] == pytest.approx(-3 * 86400 * 10**6, abs=30_000)
    assert abs(body["offset_after_us"]) <= 30_000
    assert body["tolerance_us"] == 1_000_000 and 0 < body["uncertainty_us"] <= 25_000
    assert body["clock_set"] is True and body["samples"] >= 10
    reported = datetime_to_ns(datetime.fromisoformat(body["device_time"]), CST)  # as the recorder said it
    assert abs(reported - (res.before.measured_ns - 3 * 86400 * NS)) < 3 * NS
    assert body["measured_ns"] == str(res.measured_ns)
    assert body["reference"] == {
        "kind": "ntp", "synchronised": True, "uncertainty_us": 6,
        "servers": [{"server": "127.0.0.1:1123", "offset_us": 1, "delay_us": 2, "stratum": 8, "reachable": True},
                    {"server": "10.0.0.9:123", "reachable": False, "error": "x"}]}
    assert isinstance(body["drift_ppb"], int)
    assert no_floats(body)
    json.dumps(body)


def test_refused_bodies_validate_too():
    w = SimWorld()
    rejected = calibration_body(run(SimRecorder(w, reject_set=True), w), "rec-0001")
    validate_body(rejected)
    assert rejected["result"] == "refused" and "offset_after_us" not in rejected and rejected["reasons"]
    assert rejected["clock_set"] is False
    unhealthy = run(SimRecorder(w), w, SimReference(healthy=False, reasons=("no NTP server answered",)))
    body = calibration_body(unhealthy, "rec-0001")
    validate_body(body)
    assert "offset_before_us" not in body and body["uncertainty_us"] == 0 and "samples" not in body
    assert body["reference"]["synchronised"] is False


def test_drift_warning_is_kept_in_the_record():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=0, drift_ppm=60)
    w.t += 24 * 3600 * NS
    res = run(rec, w, previous=[CalibrationPoint(w.t - 24 * 3600 * NS, 0)])
    body = calibration_body(res, "rec-0001")
    validate_body(body)
    assert res.passed and body["result"] == "passed"
    assert len(body["reasons"]) == 1 and body["reasons"][0].startswith("warning: at +59.9")
    assert "8 h shift" in body["reasons"][0]


def test_passed_records_feed_the_next_drift_estimate():
    w = SimWorld()
    rec = SimRecorder(w, offset_ns=-3 * NS, drift_ppm=30)
    first = calibration_body(run(rec, w), "rec-0001")
    point = calibration_point(first)
    assert point.time_ns == int(first["measured_ns"]) and point.offset_after_ns == first["offset_after_us"] * 1000
    w.t += 12 * 3600 * NS
    second = run(rec, w, previous=[point])
    assert second.drift.ppb == pytest.approx(30_000, abs=2_000)
    refused = calibration_body(run(SimRecorder(w, reject_set=True), w), "rec-0001")
    assert calibration_point(refused) is None
