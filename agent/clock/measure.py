"""Estimate a recorder clock's offset from a reference, with an honest uncertainty (A2 Art.13).

Footage times are evidence only if the recorder's clock was proven right before the shift, so
an offset without a bound is worthless. Every poll of the recorder gives a hard constraint:
the device answered at some instant between ``t0`` (just before the request) and ``t1`` (just
after the reply), and a clock that reports value ``v`` at resolution ``r`` was then somewhere in
``[v, v + r)``. Hence ``offset = device - reference`` lies in ``[v - t1, v + r - t0]``. The
estimate is the intersection of all those intervals (midpoint, half-width as uncertainty).

For clocks with a 1-second resolution a single poll says little (±0.5 s); polling until the
reported second ticks over brackets the tick between two polls, which narrows the interval to
about half the round trip of those two polls. An empty intersection means the clock is not
behaving like a clock (jumped, stalled), which is refused rather than averaged away.

Conventions: all times are integer nanoseconds since the Unix epoch (UTC); ``offset_ns`` is
*device minus reference* (positive: the recorder is ahead).

What the dock can carry is bounded here, from the record model's own bounds: a recorder time
must fit a record's 64-bit nanoseconds (``ledger.records.base.MAX_NS``: 1677-09-21 to
2262-04-11 UTC, well inside the years 1–9999 that RFC 3339 and ``datetime`` hold), and an offset
must fit a calibration record's JSON integer of microseconds (RFC 8785: ±(2^53−1) µs, about
±285 years). A clock read outside these bounds, or whose reply is not a time at all, is
*unknown* (``ClockUnknown``): it is recorded as such, never carried as a number that overflows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message, SaidError
from ledger.canonical import MAX_SAFE_INT
from ledger.records.base import MAX_NS, MIN_NS

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
#: Resolutions at or above this are "coarse": a single poll cannot beat them, so the tick is located.
COARSE_RESOLUTION_NS = 100_000_000

#: The recorder times the dock represents: what a record's ``Ns`` field holds (64-bit nanoseconds,
#: as the ledger indexes them), 1677-09-21 to 2262-04-11 UTC.
MIN_TIME_NS, MAX_TIME_NS = MIN_NS, MAX_NS
#: The largest offset a calibration record holds: its ``*_us`` fields are JSON-safe integers.
MAX_OFFSET_NS = MAX_SAFE_INT * 1000
YEAR_NS = 31_556_952 * NS_PER_S  # a Gregorian year on average, for messages


def representable_time(ns: int) -> bool:
    """Whether ``ns`` (since the epoch, UTC) is a time the dock can record (and write as a date)."""
    return MIN_TIME_NS <= ns <= MAX_TIME_NS


def representable_offset(ns: int) -> bool:
    """Whether a clock offset of ``ns`` fits a calibration record (about ±285 years)."""
    return -MAX_OFFSET_NS <= ns <= MAX_OFFSET_NS


class ClockError(SaidError, BodycamError):
    """A clock did not behave like a clock (jumped backwards, stalled, leapt ahead) while measured."""


class ClockUnknown(ClockError):
    """The recorder's clock cannot be read as a time the dock can represent: its reply is not a
    time, or the time or the offset lies beyond what a record holds (see the module notes).
    ``device_time`` is what the recorder said, when it said something; ``reference`` the
    reference reading it was measured against, when one was taken."""

    def __init__(self, message: str, device_time: str = ""):
        super().__init__(message)
        self.device_time = device_time
        self.reference = None


@dataclass(frozen=True)
class DeviceReading:
    """One answer of the recorder: its clock as UTC ns (already converted from its time zone)."""

    time_ns: int
    raw: str = ""


@dataclass(frozen=True)
class Poll:
    t0_ns: int
    t1_ns: int
    device_ns: int
    raw: str = ""

    @property
    def rtt_ns(self) -> int:
        return self.t1_ns - self.t0_ns


@dataclass(frozen=True)
class OffsetEstimate:
    """Offset of the device vs the reference, bounded: the truth lies in ``[lo_ns, hi_ns]``."""

    offset_ns: int
    uncertainty_ns: int
    samples: int
    method: str  # "midpoint" | "second-boundary" | "coarse"
    lo_ns: int
    hi_ns: int
    min_rtt_ns: int
    span_ns: int  # reference time the measurement took
    measured_ns: int  # reference time at the end of the measurement
    device_time: str = ""  # the first reading as the recorder reported it (its own format and zone)

    def as_dict(self) -> dict:
        return {"offset_ns": self.offset_ns, "uncertainty_ns": self.uncertainty_ns, "samples": self.samples,
                "method": self.method, "min_rtt_ns": self.min_rtt_ns, "span_ns": self.span_ns,
                "measured_ns": self.measured_ns, "device_time": self.device_time}


def _fmt_s(ns: int) -> str:
    return f"{ns / NS_PER_S:+.3f} s"


def measure_offset(
    read_device: Callable[[], DeviceReading],
    now_ns: Callable[[], int],
    samples: int = 5,
    resolution_ns: int = 1_000_000,
    *,
    sleep: Callable[[float], None] = time.sleep,
    poll_interval_s: float = 0.002,
    max_polls: int = 2000,
    max_duration_ns: int | None = None,
    slack_ns: int = 2_000_000,
) -> OffsetEstimate:
    """Measure the offset of ``read_device`` against ``now_ns`` (the reference clock).

    ``samples`` polls are always taken. For coarse clocks (resolution >= 100 ms) polling goes on
    until the reported value ticks over, bounded by ``max_polls`` and ``max_duration_ns``
    (default: one resolution step plus 2 s); without a tick the estimate is marked ``coarse``.
    ``slack_ns`` absorbs the drift of a healthy clock during the measurement when checking that
    the polls agree. ``poll_interval_s`` is the least time between the starts of two polls: on a
    fast link it keeps the dock from flooding the recorder while bounding how far apart the two
    polls bracketing a tick can be; on a slow link the round trip itself spaces them.
    Raises ClockError when the clock jumps backwards, stalls or leaps ahead.
    """
    if samples < 1:
        raise ValueError("samples must be >= 1")
    if resolution_ns < 1:
        raise ValueError("resolution_ns must be >= 1")
    coarse = resolution_ns >= COARSE_RESOLUTION_NS
    if max_duration_ns is None:
        max_duration_ns = resolution_ns + 2 * NS_PER_S
    polls: list[Poll] = []
    first_raw = ""
    lo, hi = None, None
    ticked = False
    start = now_ns()

    while True:
        t0 = now_ns()
        reading = read_device()
        t1 = now_ns()
        if t1 < t0:
            raise ClockError(Message(N_("the dock's reference clock went backwards by {seconds:.3f} s during the "
                                     "measurement; check that nothing else steps the system clock, then retry"),
                                  seconds=(t0 - t1) / NS_PER_S))
        poll = Poll(t0, t1, reading.time_ns, reading.raw)
        if not representable_time(reading.time_ns):
            raise ClockUnknown(Message(N_("the recorder reports {time}, outside the times a record holds "
                                       "(1677-09-21 to 2262-04-11 UTC)"), time=str(reading.raw or reading.time_ns)),
                               reading.raw)
        if not polls:
            first_raw = reading.raw
        else:
            prev = polls[-1]
            if poll.device_ns < prev.device_ns:
                raise ClockError(Message(
                    N_("recorder clock jumped backwards by {seconds:.3f} s between samples (reported {first} "
                       "then {then}); its clock is not trustworthy: check its clock battery or firmware and do "
                       "not arm it"),
                    seconds=(prev.device_ns - poll.device_ns) / NS_PER_S, first=str(prev.raw or prev.device_ns),
                    then=str(poll.raw or poll.device_ns)))
            if poll.device_ns > prev.device_ns:
                ticked = True
        p_lo, p_hi = poll.device_ns - t1, poll.device_ns + resolution_ns - t0
        if lo is None:
            lo, hi = p_lo, p_hi
        else:
            _check_consistent(polls, poll, lo, hi, p_lo, p_hi, slack_ns)
            lo, hi = max(lo, p_lo), min(hi, p_hi)
            if lo > hi:  # within slack: healthy drift; collapse onto the crossing point
                lo = hi = (lo + hi) // 2
        polls.append(poll)

        if len(polls) >= samples and (not coarse or ticked):
            break
        if len(polls) >= max(samples, max_polls) or t1 - start >= max_duration_ns:
            if coarse and not ticked:
                log.warning("recorder clock did not tick over within %d polls / %.1f s; offset is coarse",
                            len(polls), (t1 - start) / NS_PER_S)
            break
        wait_ns = int(poll_interval_s * NS_PER_S) - (now_ns() - t0)
        if wait_ns > 0:
            sleep(wait_ns / NS_PER_S)

    method = "second-boundary" if coarse and ticked else ("coarse" if coarse else "midpoint")
    end = polls[-1].t1_ns
    if not (representable_offset(lo) and representable_offset(hi)):
        raise ClockUnknown(Message(N_("the recorder's clock ({time}) is about {years:+,.0f} years off, beyond the "
                                   "±{limit} years a calibration record can hold"),
                                time=str(first_raw or polls[0].device_ns), years=(lo + hi) // 2 / YEAR_NS,
                                limit=MAX_OFFSET_NS // YEAR_NS), first_raw)
    return OffsetEstimate(
        offset_ns=(lo + hi) // 2,
        uncertainty_ns=(hi - lo + 1) // 2,
        samples=len(polls),
        method=method,
        lo_ns=lo,
        hi_ns=hi,
        min_rtt_ns=min(p.rtt_ns for p in polls),
        span_ns=end - start,
        measured_ns=end,
        device_time=first_raw,
    )


def _check_consistent(polls: Sequence[Poll], poll: Poll, lo: int, hi: int, p_lo: int, p_hi: int,
                      slack_ns: int) -> None:
    """Refuse a poll that contradicts the earlier ones: a real clock cannot produce it."""
    first = polls[0]
    elapsed_ref = poll.t1_ns - first.t0_ns
    advanced = poll.device_ns - first.device_ns
    if p_hi < lo - slack_ns:
        raise ClockError(Message(
            N_("recorder clock stalled or runs slow: it advanced {advanced} while the reference advanced "
               "{elapsed} over {samples} samples; a recorder whose clock does not run cannot be armed: check "
               "its clock battery or firmware"),
            advanced=_fmt_s(advanced), elapsed=_fmt_s(elapsed_ref), samples=len(polls) + 1))
    if p_lo > hi + slack_ns:
        raise ClockError(Message(
            N_("recorder clock jumped ahead: it advanced {advanced} while the reference advanced {elapsed} over "
               "{samples} samples; its clock is not trustworthy: check its clock battery or firmware and do not "
               "arm it"),
            advanced=_fmt_s(advanced), elapsed=_fmt_s(elapsed_ref), samples=len(polls) + 1))


# --- drift between calibrations ---------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationPoint:
    """What an earlier calibration left behind: when, and the offsets it measured (ns)."""

    time_ns: int
    offset_after_ns: int
    offset_before_ns: int | None = None
    uncertainty_ns: int = 0


@dataclass(frozen=True)
class DriftEstimate:
    """Rate at which the recorder's clock gains (+) or loses (−) time, in parts per billion."""

    ppb: int
    uncertainty_ppb: int
    interval_ns: int
    intervals: int

    @property
    def ppm(self) -> float:
        return self.ppb / 1000

    def as_dict(self) -> dict:
        return {"ppb": self.ppb, "uncertainty_ppb": self.uncertainty_ppb, "interval_ns": self.interval_ns,
                "intervals": self.intervals}


def estimate_drift_ppm(previous: Sequence[CalibrationPoint], current_offset_before_ns: int, now_ns: int,
                       current_uncertainty_ns: int = 0, min_interval_ns: int = 60 * NS_PER_S,
                       ) -> DriftEstimate | None:
    """Drift from how far the clock wandered since each calibration left it.

    Each interval runs from one calibration's offset *after* setting to the next one's offset
    *before* setting (the current measurement closes the last interval). The estimate is the
    time-weighted mean (total wander / total time); intervals shorter than ``min_interval_ns``
    are skipped because their uncertainty would swamp the rate. None when nothing usable exists.
    Despite the name (the unit people quote), the result carries ppb as an integer; ``.ppm`` converts.
    """
    pts = sorted(previous, key=lambda p: p.time_ns)
    pairs: list[tuple[CalibrationPoint, int, int, int]] = []  # (start, end_time, end_before, end_unc)
    for a, b in zip(pts, pts[1:], strict=False):
        if b.offset_before_ns is not None:
            pairs.append((a, b.time_ns, b.offset_before_ns, b.uncertainty_ns))
    if pts:
        pairs.append((pts[-1], now_ns, current_offset_before_ns, current_uncertainty_ns))
    wander = total = unc = 0
    used = 0
    for start, end_time, end_before, end_unc in pairs:
        dt = end_time - start.time_ns
        if dt < min_interval_ns:
            continue
        wander += end_before - start.offset_after_ns
        unc += start.uncertainty_ns + end_unc
        total += dt
        used += 1
    if not used:
        return None
    return DriftEstimate(ppb=round_div(wander * NS_PER_S, total),
                         uncertainty_ppb=round_div(unc * NS_PER_S, total), interval_ns=total, intervals=used)


@dataclass(frozen=True)
class DriftForecast:
    within_tolerance: bool
    predicted_offset_ns: int
    hours_until_out: float | None
    reason: str


def forecast_drift(drift: DriftEstimate, offset_after_ns: int, tolerance_ns: int, shift_hours: float,
                   ) -> DriftForecast:
    """Would the clock leave the tolerance before the shift ends? Say so in words people act on."""
    shift_ns = int(shift_hours * 3600 * NS_PER_S)
    predicted = offset_after_ns + round_div(drift.ppb * shift_ns, NS_PER_S)
    if abs(predicted) <= tolerance_ns:
        return DriftForecast(True, predicted, None,
                             Message(N_("at {ppm:+.3f} ppm the clock is predicted at {predicted} after a {hours:g} h "
                                     "shift, within the {tolerance:g} s tolerance"),
                                  ppm=drift.ppm, predicted=_fmt_s(predicted), hours=shift_hours,
                                  tolerance=tolerance_ns / NS_PER_S))
    room = tolerance_ns - offset_after_ns if drift.ppb > 0 else tolerance_ns + offset_after_ns
    hours = max(room, 0) / abs(drift.ppb) / 3600 if drift.ppb else 0.0
    return DriftForecast(
        False, predicted, hours,
        Message(N_("at {ppm:+.3f} ppm the recorder's clock would drift to {predicted} over a {hours:g} h shift, "
                "leaving the {tolerance:g} s tolerance after about {after:.1f} h; recalibrate it mid-shift or "
                "have its clock serviced"),
             ppm=drift.ppm, predicted=_fmt_s(predicted), hours=shift_hours, tolerance=tolerance_ns / NS_PER_S,
             after=hours))


def round_div(a: int, b: int) -> int:
    """Integer division rounding half away from zero (signed bodies carry no floats)."""
    q, r = divmod(abs(a), abs(b))
    if 2 * r >= abs(b):
        q += 1
    return q if (a >= 0) == (b > 0) else -q
