"""Calibrate a recorder's clock against the dock's reference, or refuse (A2 Art.13).

The procedure is measure → set → re-measure → accept only if the residual offset, *including
its uncertainty*, is within tolerance. Nothing may be armed on an unproven clock, and every
attempt — passed or refused — becomes a ``calibration`` record, so this returns a result for
every outcome instead of raising: the refusal reasons are part of the evidence.

The recorder is reached through ``RecorderClock`` (``get_time``/``set_time``), which the serial
``RecorderLink`` satisfies; tests drive a simulated clock through the same protocol.

A clock that cannot be read as a time, or only as one beyond what a record holds
(``agent.clock.measure.ClockUnknown``), is "clock unknown": the attempt is refused with that
reason, and its time is still set and re-measured (blind: there is no offset to schedule by), so
that the next calibration can pass.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.clock.measure import (
    COARSE_RESOLUTION_NS,
    NS_PER_S,
    CalibrationPoint,
    ClockError,
    ClockUnknown,
    DeviceReading,
    DriftEstimate,
    OffsetEstimate,
    estimate_drift_ppm,
    forecast_drift,
    measure_offset,
    round_div,
)
from agent.clock.reference import ReferenceClock, ReferenceReading
from agent.config import ClockConfig
from agent.link.errors import FramingError
from agent.link.profiles import Profile
from bodycam.errors import BodycamError, ConfigError, RefusedError
from bodycam.i18n import N_, Message, SaidError, _, english

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: How long before the target second ``set_time`` is scheduled, beyond the measured one-way latency.
SET_LEAD_NS = 50_000_000


class RecorderClock(Protocol):
    """What calibration needs from a recorder. ``get_time`` may return a naive datetime in the
    recorder's own time zone (as most firmwares report it); ``set_time`` receives an aware
    datetime in that zone."""

    def get_time(self) -> datetime: ...

    def set_time(self, dt: datetime) -> object: ...


def parse_tz(spec: str | None) -> tzinfo:
    """A recorder's time zone from a profile: ``"UTC"``, ``"+08:00"`` or an IANA name."""
    if spec is None or spec.upper() in ("UTC", "Z", ""):
        return UTC
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", spec)
    if m:
        delta = timedelta(hours=int(m[2]), minutes=int(m[3]))
        return timezone(delta if m[1] == "+" else -delta)
    try:
        return ZoneInfo(spec)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(_("unknown time zone {spec!r}: use UTC, +HH:MM or an IANA name like "
                            "Asia/Shanghai").format(spec=spec)) from None


def datetime_to_ns(dt: datetime, tz: tzinfo = UTC) -> int:
    """UTC ns of a recorder datetime; naive ones are read in the recorder's zone ``tz``."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return (dt - EPOCH) // timedelta(microseconds=1) * 1000


def ns_to_datetime(ns: int, tz: tzinfo = UTC) -> datetime:
    """Aware datetime in ``tz`` for UTC ns (microsecond precision, truncated)."""
    return (EPOCH + timedelta(microseconds=ns // 1000)).astimezone(tz)


def device_reader(clock: RecorderClock, tz: tzinfo) -> Callable[[], DeviceReading]:
    """``measure_offset``'s reader for ``clock``. A time reply the dock cannot read is ClockUnknown:
    a time beyond the calendar (``TimeUnreadable``), or a reply the profile cannot parse at all
    (``FramingError``, e.g. a five-digit year a fixed-width pattern does not match); other link
    errors (no answer, refused) pass through."""
    def read_device() -> DeviceReading:
        try:
            dt = clock.get_time()
        except FramingError as exc:
            raise ClockUnknown(Message(N_("its time cannot be read: {error}"), error=exc)) from None
        return DeviceReading(datetime_to_ns(dt, tz), dt.isoformat())

    return read_device


def default_tolerance_ns(resolution_ns: int) -> int:
    """1 s for recorders with 1-s clocks; 50 ms (or two resolution steps) for finer clocks."""
    if resolution_ns >= COARSE_RESOLUTION_NS:
        return max(NS_PER_S, resolution_ns)
    return max(50_000_000, 2 * resolution_ns)


@dataclass(frozen=True)
class ClockParams:
    """How to calibrate one recorder model: what its profile and ``[agent.clock]`` say."""

    resolution_ns: int
    tz: tzinfo
    tolerance_ns: int
    set_steps: int
    samples: int

    def as_kwargs(self) -> dict:
        return {"resolution_ns": self.resolution_ns, "tz": self.tz, "tolerance_ns": self.tolerance_ns,
                "set_steps": self.set_steps, "samples": self.samples}


def clock_params(profile: Profile, cfg: ClockConfig | None = None) -> ClockParams:
    """Profile resolution, zone and tolerance; ``[agent.clock] tolerance_s`` overrides the tolerance."""
    cfg = cfg or ClockConfig()
    resolution = max(1, round(profile.clock_resolution_s * NS_PER_S))
    if cfg.tolerance_s is not None:
        tol = round(cfg.tolerance_s * NS_PER_S)
    elif "clock_tolerance_s" in profile.model_fields_set:
        tol = round(profile.clock_tolerance_s * NS_PER_S)
    else:
        tol = default_tolerance_ns(resolution)
    steps = len(profile.steps("set_time")) if profile.supports("set_time") else 1
    return ClockParams(resolution, profile.tzinfo, tol, max(1, steps), cfg.samples)


@dataclass(frozen=True)
class CalibrationResult:
    """One calibration attempt, passed or refused; the body of its ledger record comes from this."""

    passed: bool
    reference: ReferenceReading
    tolerance_ns: int
    resolution_ns: int
    offset_before_ns: int | None = None
    offset_after_ns: int | None = None
    uncertainty_ns: int | None = None  # of the offset after when measured, else of the offset before
    before: OffsetEstimate | None = None
    after: OffsetEstimate | None = None
    set_to: str | None = None  # what set_time was given (ISO 8601, recorder zone)
    clock_set: bool = False  # set_time was accepted by the recorder
    drift: DriftEstimate | None = None
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    measured_ns: int = 0  # reference time when the attempt ended
    clock_unknown: bool = False  # the clock could not be read or represented (see the module notes)
    device_time: str | None = None  # what the recorder said when nothing could be measured from it

    def as_dict(self) -> dict:
        """JSON-able summary (for ``--json`` output and logs; the signed body is ``calibration_body``)."""
        def s(ns: int | None) -> float | None:
            return None if ns is None else ns / NS_PER_S

        return {"passed": self.passed, "offset_before_s": s(self.offset_before_ns),
                "offset_after_s": s(self.offset_after_ns), "uncertainty_s": s(self.uncertainty_ns),
                "tolerance_s": s(self.tolerance_ns), "resolution_s": s(self.resolution_ns),
                "drift_ppm": None if self.drift is None else self.drift.ppm, "set_to": self.set_to,
                "clock_set": self.clock_set, "clock_unknown": self.clock_unknown,
                "reasons": list(self.reasons), "warnings": list(self.warnings),
                "reference": self.reference.as_dict(), "measured_ns": self.measured_ns,
                "before": None if self.before is None else self.before.as_dict(),
                "after": None if self.after is None else self.after.as_dict()}


@dataclass
class _Attempt:
    reference: ReferenceReading
    tolerance_ns: int
    resolution_ns: int
    now_ns: Callable[[], int]
    values: dict = field(default_factory=dict)

    def refuse(self, *reasons: str, **kw) -> CalibrationResult:
        self.values.update(kw)
        log.warning("calibration refused: %s", "; ".join(reasons))
        return self._result(False, reasons)

    def _result(self, passed: bool, reasons: Sequence[str],
                warnings: Sequence[str] = ()) -> CalibrationResult:
        v = self.values
        after, before = v.get("after"), v.get("before")
        unc = after.uncertainty_ns if after else (before.uncertainty_ns if before else None)
        return CalibrationResult(
            passed=passed, reference=self.reference, tolerance_ns=self.tolerance_ns,
            resolution_ns=self.resolution_ns,
            offset_before_ns=before.offset_ns if before else None,
            offset_after_ns=after.offset_ns if after else None, uncertainty_ns=unc,
            before=before, after=after, set_to=v.get("set_to"),
            clock_set=v.get("clock_set", False), drift=v.get("drift"),
            reasons=tuple(reasons), warnings=tuple(warnings), measured_ns=self.now_ns(),
            clock_unknown=v.get("clock_unknown", False), device_time=v.get("device_time"))


def calibrate(
    clock: RecorderClock,
    reference: ReferenceClock | ReferenceReading,
    *,
    resolution_ns: int = NS_PER_S,
    tz: tzinfo = UTC,
    tolerance_ns: int | None = None,
    samples: int = 5,
    previous: Sequence[CalibrationPoint] = (),
    shift_hours: float = 8.0,
    local_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
    poll_interval_s: float = 0.002,
    set_steps: int = 1,
) -> CalibrationResult:
    """Measure, set, re-measure the recorder's clock; passed only within tolerance.

    ``resolution_ns`` is the recorder clock's resolution (its profile says so); ``tz`` the zone
    its firmware speaks. ``tolerance_ns`` defaults to ``default_tolerance_ns(resolution_ns)``
    (override from ``[agent.clock] tolerance_s``). ``previous`` are earlier calibrations of this
    recorder, for the drift estimate. ``set_steps`` is how many request/reply exchanges the
    profile's ``set_time`` takes (e.g. SetDate then SetTime): the time lands in the last one.
    ``local_ns``/``sleep`` are injectable for tests.
    """
    tol = tolerance_ns if tolerance_ns is not None else default_tolerance_ns(resolution_ns)
    reading = reference.read() if not isinstance(reference, ReferenceReading) else reference
    offset = reading.offset_ns

    def now_ns() -> int:
        return local_ns() + offset

    att = _Attempt(reading, tol, resolution_ns, now_ns)
    if not reading.healthy:
        return att.refuse(*(Message(N_("reference clock ({kind}) unhealthy: {reason}"), kind=reading.kind, reason=r)
                            for r in reading.reasons))

    read_device = device_reader(clock, tz)

    def measure() -> OffsetEstimate:
        return measure_offset(read_device, now_ns, samples, resolution_ns, sleep=sleep,
                              poll_interval_s=poll_interval_s)

    try:
        before = measure()
    except ClockUnknown as exc:
        return _set_unknown_clock(att, clock, Message(N_("clock unknown: {error}"), error=exc), exc.device_time,
                                  measure, tz, resolution_ns, now_ns, sleep)
    except ClockError as exc:
        return att.refuse(Message(N_("measuring before setting: {error}"), error=exc))
    except BodycamError as exc:
        return att.refuse(Message(N_("could not read the recorder's clock: {error}"), error=exc))
    att.values["before"] = before
    log.info("recorder offset before: %+.6f s ± %.6f s (%s, %d samples)", before.offset_ns / NS_PER_S,
             before.uncertainty_ns / NS_PER_S, before.method, before.samples)

    drift = estimate_drift_ppm(previous, before.offset_ns, before.measured_ns, before.uncertainty_ns)
    att.values["drift"] = drift

    latency = (max(1, set_steps) - 1) * before.min_rtt_ns + before.min_rtt_ns // 2
    target_ns = _schedule_set(latency, resolution_ns, now_ns, sleep)
    set_to = ns_to_datetime(target_ns, tz)
    att.values["set_to"] = set_to.isoformat()
    try:
        clock.set_time(set_to)
    except BodycamError as exc:
        return att.refuse(_rejected(set_to, exc))
    att.values["clock_set"] = True

    try:
        after = measure()
    except ClockError as exc:
        return att.refuse(Message(N_("re-measuring after setting: {error}"), error=exc))
    except BodycamError as exc:
        return att.refuse(Message(N_("could not read the recorder's clock after setting it: {error}"), error=exc))
    att.values["after"] = after
    log.info("recorder offset after: %+.6f s ± %.6f s", after.offset_ns / NS_PER_S,
             after.uncertainty_ns / NS_PER_S)

    reasons = []
    moved = abs(after.offset_ns - before.offset_ns)
    unchanged = moved <= before.uncertainty_ns + after.uncertainty_ns + 1_000_000
    if unchanged and abs(before.offset_ns) > tol:
        reasons.append(Message(
            N_("recorder clock did not change after set_time: offset {offset:+.3f} s before and after; the "
               "recorder ignores the command (check the profile's set_time format and time zone, and that the "
               "recorder is not locked)"), offset=after.offset_ns / NS_PER_S))
    worst = abs(after.offset_ns) + after.uncertainty_ns
    if worst > tol and not reasons:
        reasons.append(Message(
            N_("offset after setting is {offset:+.3f} s ± {uncertainty:.3f} s, beyond the {tolerance:g} s "
               "tolerance; retry, and if it persists the recorder cannot hold its time (service its clock)"),
            offset=after.offset_ns / NS_PER_S, uncertainty=after.uncertainty_ns / NS_PER_S,
            tolerance=tol / NS_PER_S))
    if reasons:
        return att.refuse(*reasons)
    warnings = []
    if drift is not None:
        fc = forecast_drift(drift, after.offset_ns, tol, shift_hours)
        if not fc.within_tolerance:
            warnings.append(fc.reason)
    return att._result(True, (), warnings)


def _set_unknown_clock(att: _Attempt, clock: RecorderClock, unknown: Message, device_time: str,
                       measure: Callable[[], OffsetEstimate], tz: tzinfo, resolution_ns: int,
                       now_ns: Callable[[], int], sleep: Callable[[float], None]) -> CalibrationResult:
    """Refuse an attempt on an unknown clock, after setting it (the cure) and re-measuring it."""
    att.values.update(clock_unknown=True, device_time=device_time[:64] or None)
    set_to = ns_to_datetime(_schedule_set(0, resolution_ns, now_ns, sleep), tz)
    att.values["set_to"] = set_to.isoformat()
    try:
        clock.set_time(set_to)
    except BodycamError as exc:
        return att.refuse(unknown, _rejected(set_to, exc))
    att.values["clock_set"] = True
    try:
        after = measure()
    except ClockError as exc:
        return att.refuse(unknown, Message(N_("re-measuring after setting: {error}"), error=exc))
    except BodycamError as exc:
        return att.refuse(unknown, Message(N_("could not read the recorder's clock after setting it: {error}"),
                                        error=exc))
    att.values["after"] = after
    return att.refuse(unknown, Message(N_("its clock was set and now reads {offset:+.3f} s ± {uncertainty:.3f} s "
                                       "off: calibrate it again to arm it"),
                                    offset=after.offset_ns / NS_PER_S, uncertainty=after.uncertainty_ns / NS_PER_S))


def _rejected(set_to: datetime, exc: BodycamError) -> Message:
    return Message(N_("recorder rejected set_time({time}): {error}"), time=set_to.isoformat(), error=exc)


class ClockRefused(SaidError, RefusedError):
    """The recorder's clock cannot be measured now (the reference is unhealthy); the reasons say why."""


def measure_recorder(
    clock: RecorderClock,
    reference: ReferenceClock | ReferenceReading,
    *,
    resolution_ns: int = NS_PER_S,
    tz: tzinfo = UTC,
    samples: int = 5,
    local_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
    poll_interval_s: float = 0.002,
    **_ignored: object,
) -> tuple[ReferenceReading, OffsetEstimate]:
    """Measure without setting: how far off a docking recorder came back (its footage times
    are corrected by this offset; both are kept). Accepts ``ClockParams.as_kwargs()``.

    RefusedError when the reference is unhealthy (an offset against an unproven clock proves
    nothing); ClockUnknown (carrying the reference reading) when the recorder's clock cannot be
    read or represented; ClockError when it misbehaves; link errors pass through.
    """
    reading = reference.read() if not isinstance(reference, ReferenceReading) else reference
    if not reading.healthy:
        raise ClockRefused(Message(N_("reference clock ({kind}) unhealthy; cannot measure the recorder's clock"),
                                kind=reading.kind), list(reading.reasons))
    try:
        est = measure_offset(device_reader(clock, tz), lambda: local_ns() + reading.offset_ns, samples,
                             resolution_ns, sleep=sleep, poll_interval_s=poll_interval_s)
    except ClockUnknown as exc:
        exc.reference = reading
        raise
    return reading, est


def _schedule_set(one_way: int, resolution_ns: int, now_ns: Callable[[], int],
                  sleep: Callable[[float], None]) -> int:
    """Reference time to give ``set_time``, waiting first so that it lands when it is true.

    The time reaches the recorder ``one_way`` after the call (half a round trip, plus a whole
    round trip per earlier step of a multi-step ``set_time``). A 1-s clock
    keeps only whole seconds, so the command is sent just before a second boundary with that
    second as its value: the recorder's new second then starts within a latency of the true one.
    Finer clocks get the current reference time plus the one-way latency.
    """
    if resolution_ns >= COARSE_RESOLUTION_NS:
        now = now_ns()
        step = max(resolution_ns, NS_PER_S)
        target = -(-(now + one_way + SET_LEAD_NS) // step) * step
        wait = target - one_way - now_ns()
        if wait > 0:
            sleep(wait / NS_PER_S)
        return target
    t = now_ns() + one_way
    return t - t % resolution_ns


# --- the ledger record body ----------------------------------------------------------------------


def _us(ns: int | None) -> int | None:
    return None if ns is None else round_div(ns, 1000)


def calibration_point(body: dict) -> CalibrationPoint | None:
    """An earlier ``calibration`` record body as a drift-estimate input; None unless it passed."""
    if body.get("kind") != "calibration" or body.get("result") != "passed" or body.get("offset_after_us") is None:
        return None
    before = body.get("offset_before_us")
    return CalibrationPoint(time_ns=int(body["measured_ns"]), offset_after_ns=int(body["offset_after_us"]) * 1000,
                            offset_before_ns=None if before is None else int(before) * 1000,
                            uncertainty_ns=int(body.get("uncertainty_us", 0)) * 1000)


def calibration_body(result: CalibrationResult, device_id: str, *, dock_id: str | None = None,
                     profile: str | None = None, battery_pct: int | None = None,
                     storage_free_bytes: int | None = None) -> dict:
    """Body of the ``calibration`` record (``ledger.records.Calibration``) for ``result``.

    In signed-JSON form: integers only (offsets in µs, drift in ppb), ``measured_ns`` as a decimal
    string (beyond the JSON safe-integer range), absent optionals omitted. The model has no
    field for warnings, so a drift forecast is kept in ``reasons`` as ``"warning: …"``; a passed
    record's reasons are therefore warnings only. ``uncertainty_us`` is 0 when nothing could be
    measured (refused before reading the recorder; both offsets are then absent).
    ``battery_pct``/``storage_free_bytes`` come from the readiness check when ``arm`` runs both.
    """
    ref = result.reference
    servers = []
    for s in ref.sources:
        srv = {"server": s.server, "offset_us": _us(s.offset_ns), "delay_us": _us(s.delay_ns),
               "stratum": s.stratum, "reachable": s.offset_ns is not None,
               "error": None if s.error is None else english(s.error)}
        servers.append({k: v for k, v in srv.items() if v is not None})
    reference = {"kind": ref.kind, "servers": servers, "synchronised": ref.healthy,
                 "uncertainty_us": _us(ref.uncertainty_ns)}
    measured = result.after or result.before
    samples = sum(m.samples for m in (result.before, result.after) if m is not None)
    body = {
        "v": 1,
        "kind": "calibration",
        "device_id": device_id,
        "dock_id": dock_id,
        "profile": profile,
        "reference": reference,
        "device_time": (result.before.device_time if result.before and result.before.device_time
                        else result.device_time),
        "offset_before_us": _us(result.offset_before_ns),
        "offset_after_us": _us(result.offset_after_ns),
        "uncertainty_us": _us(result.uncertainty_ns) if measured else 0,
        "tolerance_us": _us(result.tolerance_ns),
        "drift_ppb": None if result.drift is None else result.drift.ppb,
        "samples": samples if measured else None,
        "clock_set": result.clock_set,
        "battery_pct": battery_pct,
        "storage_free_bytes": storage_free_bytes,
        "result": "passed" if result.passed else "refused",
        "reasons": [english(r) for r in result.reasons] + [f"warning: {english(w)}" for w in result.warnings],
        "measured_ns": str(result.measured_ns),
    }
    return {k: v for k, v in body.items() if v is not None}
