"""The offset in force when a file was recorded, from the recorder's clock history (A2 Art.13).

Pure table tests of ``agent.clock.history``: a simulated recorder clock (true offsets known
at every instant, drifting, set at arming) leaves the calibration records a dock would sign;
every file stamped by that clock (names carry whole seconds) must come back within the stated
uncertainty of its true time — or be flagged uncertain where the history cannot say."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent.clock.history import MAX_DRIFT_PPM, ClockHistory, ClockRecord

S = 1_000_000_000
MIN, H, DAY = 60 * S, 3600 * S, 86400 * S
T = 1_796_025_600 * S  # 2026-12-01T08:00:00Z: arming
MEAS_UNC = 100_000_000  # a measurement's uncertainty (second-boundary method: ~0.1 s)
MEAS_ERR = 37_000_000   # how far a measurement is off (within its uncertainty)


@dataclass
class Clock:
    """A recorder clock: piecewise (from true time ``since``: offset ``offset`` drifting ``ppm``)."""

    pieces: list[tuple[int, int, float]]  # (since, offset at since, ppm), by since

    def offset(self, t: int) -> int:
        since, off, ppm = [p for p in self.pieces if p[0] <= t][-1] if t >= self.pieces[0][0] else self.pieces[0]
        return off + round((t - since) * ppm / 1e6)

    def stamp(self, t: int) -> int:
        """The whole second a file name shows for a recording started at true ``t``."""
        return (t + self.offset(t)) // S * S

    def check(self, t: int) -> ClockRecord:
        """A docking: read, not set."""
        return ClockRecord(t, self.offset(t) + MEAS_ERR, None, False, MEAS_UNC)

    def arm(self, t: int, residual: int = 40_000_000) -> ClockRecord:
        """A calibration that sets the clock at ``t``; the clock runs on with the same rate."""
        before = self.offset(t - 1)
        ppm = [p for p in self.pieces if p[0] <= t][-1][2]
        self.pieces.append((t, residual, ppm))
        return ClockRecord(t, before - MEAS_ERR, residual + MEAS_ERR, True, MEAS_UNC)

    def jump(self, t: int, to_offset: int) -> None:
        """Set by someone else (a menu, a battery reset): the dock does not see it."""
        ppm = [p for p in self.pieces if p[0] <= t][-1][2]
        self.pieces.append((t, to_offset, ppm))


def assert_within(history: ClockHistory, clock: Clock, t: int, **kw) -> int:
    """The file recorded at true ``t`` is corrected to within its stated uncertainty; returns it."""
    d = clock.stamp(t)
    ft = history.at(d, S, **kw)
    assert ft.uncertainty_ns is not None, ft
    assert abs(d - ft.offset_ns - t) <= ft.uncertainty_ns, (ft, (d - ft.offset_ns - t) / S)
    return ft.uncertainty_ns


@pytest.mark.parametrize(("offset", "ppm"), [(-3 * DAY, 40.0), (-180 * S, 40.0), (-3 * DAY, -95.0),
                                              (7 * S, 0.0), (40 * S, 20.0)])
def test_files_before_and_after_arming_get_the_offset_in_force_when_recorded(offset, ppm):
    """3 days slow (the issue), 180 s slow (the demo), a fast and an accurate clock: files from
    two hours before arming to just before docking are all within their stated uncertainty."""
    clock = Clock([(T - 30 * DAY, offset, ppm)])
    arm = clock.arm(T)
    dock = clock.check(T + 10 * H)
    history = ClockHistory([dock, arm])  # any order: sorted by measured_ns
    for t in (T - 2 * H, T - 5 * MIN, T + 2 * MIN, T + H, T + 5 * H, T + 10 * H - 3 * MIN):
        ft = history.at(clock.stamp(t), S)
        assert not ft.uncertain, ft
        unc = assert_within(history, clock, t, recorded_before_ns=T + 10 * H + 5 * MIN)
        # the stamp's second + two measurements + at most the drift bound from the nearer one
        assert unc <= S + 2 * MEAS_UNC + 6_000_000 + 5 * H * MAX_DRIFT_PPM // 1_000_000, unc / S
    # What docking alone would say (the bug): footage before arming off by the whole set.
    t = T - 2 * H
    assert abs(clock.stamp(t) - dock.offset_before_ns - t) >= min(abs(offset), 7 * S) - 2 * S


def test_uncertainty_grows_with_the_distance_from_the_one_measurement_before_arming():
    clock = Clock([(T - 30 * DAY, -3 * DAY, 40.0)])
    history = ClockHistory([clock.arm(T), clock.check(T + 8 * H)])
    near = assert_within(history, clock, T - 10 * MIN)
    far = assert_within(history, clock, T - 2 * DAY)
    assert near < 1.3 * S < 10 * S < far < 19 * S  # 2 days at 100 ppm: 17.3 s


def test_a_fast_clock_set_back_repeats_times_which_are_uncertain():
    """+1 h fast, set back at 08:00, docked at 08:30: a stamp of 08:15 is 07:15 or 08:15."""
    clock = Clock([(T - DAY, H, 10.0)])
    history = ClockHistory([clock.arm(T), clock.check(T + 30 * MIN)])
    before = T + 35 * MIN
    ft = history.at(clock.stamp(T - 45 * MIN), S, recorded_before_ns=before)
    assert ft.uncertain and "more than once" in ft.reason
    assert 59 * MIN < ft.uncertainty_ns < 61 * MIN  # covers both possibilities
    assert_within(history, clock, T - 45 * MIN, recorded_before_ns=before)
    assert_within(history, clock, T + 15 * MIN, recorded_before_ns=before)
    # earlier than any time shown twice: certain
    assert not history.at(clock.stamp(T - 2 * H), S, recorded_before_ns=before).uncertain
    assert_within(history, clock, T - 2 * H, recorded_before_ns=before)
    # known to be newer than a docking at 08:01 (not on the card then): only after the set
    ft = history.at(clock.stamp(T + 15 * MIN), S, recorded_after_ns=T + MIN, recorded_before_ns=before)
    assert not ft.uncertain and ft.uncertainty_ns < 2 * S


def test_a_clock_set_without_the_dock_between_arming_and_docking_is_uncertain():
    """Armed (set to true time), then set an hour back by hand: the dock finds −1 h at docking.
    Every file could come from the stretch where the clock jumped: uncertain, bounded by it."""
    clock = Clock([(T - DAY, -3 * DAY, 40.0)])
    arm = clock.arm(T)
    clock.jump(T + 2 * H, -H)
    history = ClockHistory([arm, clock.check(T + 8 * H)])
    before = T + 8 * H + 5 * MIN
    for t in (T + H, T + 3 * H, T - 2 * H):
        ft = history.at(clock.stamp(t), S, recorded_before_ns=before)
        assert ft.uncertain and "jumped or was set without the dock" in ft.reason, ft
        assert ft.uncertainty_ns is not None and ft.uncertainty_ns <= 11 * H
        assert_within(history, clock, t, recorded_before_ns=before)
    # the best guess is the clock as the dock found it: right for what was recorded after the jump
    ft = history.at(clock.stamp(T + 3 * H), S, recorded_before_ns=before)
    assert abs(clock.stamp(T + 3 * H) - ft.offset_ns - (T + 3 * H)) < 2 * S


def test_a_clock_set_twice_without_a_reading_between_cannot_be_placed():
    """A set whose re-measurement failed, then a blind set of an unreadable clock: nothing read
    the clock between the two, so footage that may come from then is uncertain."""
    clock = Clock([(T - DAY, -3 * DAY, 40.0)])
    first = ClockRecord(T, -3 * DAY, None, True, MEAS_UNC)  # set; re-measuring failed
    blind = ClockRecord(T + 4 * H, None, 20_000_000, True, MEAS_UNC, unreadable=True)
    clock.pieces.append((T, 0, 40.0))
    clock.pieces.append((T + 4 * H, 20_000_000, 40.0))
    history = ClockHistory([first, blind, clock.check(T + 8 * H)])
    for t in (T + H, T + 5 * H):
        ft = history.at(clock.stamp(t), S, recorded_before_ns=T + 8 * H)
        assert ft.uncertain and ft.reason, ft
        assert_within(history, clock, t, recorded_before_ns=T + 8 * H)
    assert "nothing read the clock between the set at" in history.at(clock.stamp(T + H), S).reason


def test_a_clock_first_met_unreadable_leaves_earlier_footage_unbounded():
    blind = ClockRecord(T, None, 20_000_000, True, MEAS_UNC, unreadable=True)
    clock = Clock([(T, 20_000_000, 5.0)])
    history = ClockHistory([blind, clock.check(T + 8 * H)])
    ft = history.at(clock.stamp(T + H), S, recorded_before_ns=T + 8 * H)
    assert ft.uncertain and ft.uncertainty_ns is None
    assert "not read before the set" in ft.reason and "could not be read" in ft.reason
    assert abs(clock.stamp(T + H) - ft.offset_ns - (T + H)) < 2 * S  # the best guess is still the right one
    # once a complete docking after it shows the file is newer, the history can say
    assert not history.at(clock.stamp(T + H), S, recorded_after_ns=T + MIN, recorded_before_ns=T + 8 * H).uncertain
    assert_within(history, clock, T + H, recorded_after_ns=T + MIN, recorded_before_ns=T + 8 * H)


def test_readings_without_a_set_are_one_clock():
    """Two dockings and no arming: a file stamped right at the first docking is not ambiguous."""
    clock = Clock([(T - DAY, 95 * S, 50.0)])
    history = ClockHistory([clock.check(T), clock.check(T + 9 * H)])
    for t in (T - H, T - 1 * S, T, T + 2 * S, T + 4 * H):
        assert not history.at(clock.stamp(t), S).uncertain
        assert_within(history, clock, t)


def test_a_time_the_clock_never_showed_is_uncertain_and_unbounded():
    clock = Clock([(T - DAY, -3 * DAY, 0.0)])
    history = ClockHistory([clock.arm(T), clock.check(T + H)])
    ft = history.at(T - DAY, S, recorded_before_ns=T + 2 * H)  # in the 3 days the set skipped
    assert ft.uncertain and ft.uncertainty_ns is None and "never showed" in ft.reason


def test_records_are_read_from_calibration_bodies():
    ref = {"kind": "ntp", "servers": [], "synchronised": True, "uncertainty_us": 500}
    armed = {"v": 1, "kind": "calibration", "device_id": "R", "reference": ref, "offset_before_us": -259_200_000_000,
             "offset_after_us": 40_000, "uncertainty_us": 100_000, "tolerance_us": 1_000_000, "clock_set": True,
             "result": "passed", "reasons": [], "measured_ns": str(T)}
    r = ClockRecord.from_body(armed, "e" * 64)
    assert r == ClockRecord(T, -3 * DAY, 40_000_000, True, 100_500_000, False, "e" * 64)
    docked = {**armed, "offset_before_us": 1_200_000, "clock_set": False, "result": "refused",
              "reasons": ["clock found +1.200 s off at docking"]}
    del docked["offset_after_us"]
    assert ClockRecord.from_body(docked) == ClockRecord(T, 1_200_000_000, None, False, 100_500_000)
    unhealthy = {**docked, "uncertainty_us": 0, "reasons": ["reference clock (ntp) unhealthy: no server"]}
    del unhealthy["offset_before_us"]
    assert ClockRecord.from_body(unhealthy) is None
    unknown = {**unhealthy, "device_time": "11026-01-01T00:00:00", "reasons": ["clock unknown at docking: …"]}
    assert ClockRecord.from_body(unknown).unreadable
    blind = {**unhealthy, "clock_set": True, "offset_after_us": 30_000, "reasons": ["clock unknown: …"]}
    assert ClockRecord.from_body(blind) == ClockRecord(T, None, 30_000_000, True, 500_000, True)
    assert ClockRecord.from_body({"kind": "segment"}) is None
    assert ClockHistory([]).empty and ClockHistory([ClockRecord.from_body(unknown)]).empty
    assert not ClockHistory([r]).empty


def test_a_correction_below_what_the_stamp_shows_is_applied_but_not_flagged():
    from agent.offload.continuity import Correction

    after_set = Correction(offset_ns=40_000_000, resolution_ns=S, uncertainty_ns=S)
    assert after_set.correct(T) == T - 40_000_000 and after_set.flags == () and not after_set.corrected
    before_set = Correction(offset_ns=-3 * DAY, resolution_ns=S)
    assert before_set.flags == ("time_corrected", "clock_drifted") and before_set.corrected
    unsure = Correction(offset_ns=-H, resolution_ns=S, uncertain=True)
    assert unsure.flags == ("time_corrected", "clock_drifted", "time_uncertain")
    assert Correction(offset_ns=5, clock_unknown=True, uncertain=True).flags == ("clock_unknown",)
