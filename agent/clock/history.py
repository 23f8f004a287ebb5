"""A recorder clock's history, and the offset in force when a file was recorded (A2 Art.13).

A recorder stamps its files with its own clock. That clock drifts, and every calibration that
*sets* it makes it jump, from ``offset_before`` to ``offset_after`` (device − reference, as
everywhere in ``agent.clock``). A file recorded before a set was stamped by the clock as it was
then: it is corrected with the offset in force then, never with the one measured at docking.

The history comes from the dock ledger's ``calibration`` records of the recorder
(``ClockRecord.from_body``): each measured the offset at ``measured_ns`` (reference time), and
with ``clock_set`` the clock jumped there. Between two consecutive records the clock runs free:
a *stretch*, opened by the offset the first left (``offset_after``, or a plain measurement,
such as the one ``bodycam dock`` makes) and closed by the offset the second found
(``offset_before``). The first stretch has no opening measurement and the last no closing one.

The model: between measurements the clock's rate error stays within ``MAX_DRIFT_PPM`` (100 ppm,
8.6 s a day; recorder crystals are typically 20–50 ppm). A measurement bounds the offset at its
time by its uncertainty (plus the reference's); with the rate bound it bounds it at any other
time: a cone around each measurement, and inside a stretch the intersection of the two cones.
From that follows the set of true times at which the clock could have shown a file's stamp
(``[device time, device time + resolution)``: names carry whole seconds). The corrected time is
the one the linear drift between the two measurements gives (the single measurement's offset
in a stretch that has only one), and the stated uncertainty covers that whole set; it grows
with the distance from the nearest measurement.

Where the history cannot say, ``FileTime.uncertain`` is set (the footage is flagged
``time_uncertain``); the corrected time is then the best guess (the latest sound stretch that
could have shown it) and the uncertainty, when finite, covers every possibility:

- the stamp could have been shown in more than one stretch: a set moved the clock backwards,
  so those times occurred twice;
- a stretch is *broken*: a measurement that should bound it is missing (a set without a
  measurement before it — the clock could not be read — or without one after it; a check that
  found the clock unknown), or its two measurements lie farther apart than the rate bound allows
  (the clock jumped, or was set without the dock). A broken stretch could have shown any time,
  so it is a possibility for every file, bounded only by its own start and end (unbounded when
  it is the first or the last);
- no stretch could have shown it (a time the clock never showed, under the model).

``recorded_after_ns``/``recorded_before_ns`` narrow the possibilities with what the dock knows
otherwise (the file was not on the card at the last complete docking; the recorder is docked
now); when nothing is left within them the bounds are dropped and the file is uncertain.

Limits: a jump inside the first stretch (the clock set by hand before its first calibration)
or one smaller than the rate bound allows cannot be seen. Pure: no I/O, no clock; integer ns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from bodycam.i18n import N_, Message

NS_PER_S = 1_000_000_000
NS_PER_US = 1000
PPM = 1_000_000
#: Bound on a recorder clock's rate error between two measurements (parts per million).
MAX_DRIFT_PPM = 100
#: A set happens during its calibration attempt, which ends at ``measured_ns``: within this much before.
SET_WINDOW_NS = 60 * NS_PER_S
#: Beyond any time a record holds (records hold 64-bit nanoseconds).
FAR = 2**63

#: Reasons of a refused calibration that mean the clock itself misbehaved, not the dock or the link.
_CLOCK_FAULTS = ("clock unknown", "measuring before setting:")


@dataclass(frozen=True)
class ClockRecord:
    """What one ``calibration`` record says of the clock (ns; offsets device − reference)."""

    measured_ns: int
    offset_before_ns: int | None = None
    offset_after_ns: int | None = None
    clock_set: bool = False
    uncertainty_ns: int = 0
    unreadable: bool = False   # the clock could not be read, or misbehaved, at measured_ns
    entry: str | None = None   # entry hash of the record

    @classmethod
    def from_body(cls, body: Mapping, entry: str | None = None) -> ClockRecord | None:
        """The record's facts; None when it says nothing of the clock (e.g. no reference answered)."""
        if body.get("kind") != "calibration":
            return None
        before, after = body.get("offset_before_us"), body.get("offset_after_us")
        clock_set = bool(body.get("clock_set", False))
        reasons = [str(r) for r in body.get("reasons", [])]
        faulty = any(r.startswith(_CLOCK_FAULTS) for r in reasons)
        unreadable = before is None and (faulty or clock_set or body.get("device_time") is not None)
        if before is None and after is None and not clock_set and not unreadable:
            return None
        ref = body.get("reference") or {}
        unc_us = int(body.get("uncertainty_us") or 0) + int(ref.get("uncertainty_us") or 0)
        return cls(int(body["measured_ns"]), None if before is None else int(before) * NS_PER_US,
                   None if after is None else int(after) * NS_PER_US, clock_set, unc_us * NS_PER_US,
                   unreadable, entry)


@dataclass(frozen=True)
class FileTime:
    """The correction for one file: true start = device start − ``offset_ns``, within ± ``uncertainty_ns``
    (None: no bound). ``uncertain``: the history cannot say which offset was in force (``reason``)."""

    offset_ns: int
    uncertainty_ns: int | None
    uncertain: bool = False
    reason: str = ""


@dataclass(frozen=True)
class _Point:
    t: int       # reference time of the measurement
    offset: int  # device − reference
    unc: int


@dataclass(frozen=True)
class _Stretch:
    start: int                # reference time it began (−FAR: the first)
    end: int                  # reference time it ended (FAR: the last)
    first: _Point | None      # measurement opening it
    last: _Point | None       # measurement closing it
    broken: str | None = None  # why its clock is not known between its ends
    continued: bool = False    # the next stretch is the same clock, only read in between (no set)


@dataclass(frozen=True)
class _Candidate:
    stretch: _Stretch
    t_min: int
    t_max: int
    estimate: int

    @property
    def bounded(self) -> bool:
        return self.t_min > -FAR and self.t_max < FAR


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _secs(ns: int) -> str:
    return f"{ns / NS_PER_S:+.3f} s"


class ClockHistory:
    """Stretches of one recorder's clock between calibrations, and the offset in force at any stamp."""

    def __init__(self, records: Iterable[ClockRecord], *, max_drift_ppm: int = MAX_DRIFT_PPM,
                 set_window_ns: int = SET_WINDOW_NS, describe: Callable[[int], str] = str):
        self.ppm = max_drift_ppm
        self.window = set_window_ns
        self.describe = describe  # a reference time for people (the caller's format)
        self.records = sorted(records, key=lambda r: r.measured_ns)
        self.stretches = self._stretches()

    @property
    def empty(self) -> bool:
        """No record measured the clock: nothing to correct with."""
        return not any(r.offset_before_ns is not None or r.offset_after_ns is not None for r in self.records)

    def _drift(self, dt: int) -> int:
        return _ceil_div(abs(dt) * self.ppm, PPM)

    def _stretches(self) -> list[_Stretch]:
        out: list[_Stretch] = []
        start, first, opened_by = -FAR, None, Message(N_("its first calibration"))
        for r in self.records:
            t = r.measured_ns
            unc = r.uncertainty_ns + (self._drift(self.window) if r.clock_set else 0)
            closing = None if r.offset_before_ns is None else _Point(t, r.offset_before_ns, unc)
            stretch = self._close(start, t, first, closing, opened_by, r)
            continuous = not r.clock_set and not r.unreadable
            out.append(replace(stretch, continued=continuous))
            if r.clock_set:
                start = t - self.window
                first = None if r.offset_after_ns is None else _Point(t, r.offset_after_ns, unc)
                opened_by = Message(N_("the set at {when}"), when=self.describe(t))
            else:
                start, first = t, closing
                opened_by = Message(N_("the check at {when}"), when=self.describe(t))
        out.append(_Stretch(start, FAR, first, None))
        return out

    def _close(self, start: int, end: int, first: _Point | None, last: _Point | None, opened_by: str,
               r: ClockRecord) -> _Stretch:
        when = self.describe(end)
        event = (Message(N_("the set at {when}"), when=when) if r.clock_set
                 else Message(N_("the check at {when}"), when=when))
        unread = Message(N_(" (it could not be read)")) if r.unreadable else ""
        if last is None and first is None and start != -FAR:
            return _Stretch(start, end, None, None,
                            Message(N_("nothing read the clock between {opened_by} and {event}{unread}"),
                                 opened_by=opened_by, event=event, unread=unread))
        if last is None:
            return _Stretch(start, end, first, None,
                            Message(N_("the clock was not read before {event}{unread}"), event=event, unread=unread))
        if first is None and start != -FAR:
            return _Stretch(start, end, None, last,
                            Message(N_("the clock was not read after {opened_by}"), opened_by=opened_by))
        if first is not None:
            moved, dt = last.offset - first.offset, last.t - first.t
            if abs(moved) > self._drift(dt) + first.unc + last.unc:
                return _Stretch(start, end, first, last,
                                Message(N_("the clock moved {moved} between {start} and {when}, more than a {ppm} ppm "
                                        "drift: it jumped or was set without the dock"),
                                     moved=_secs(moved), start=self.describe(first.t), when=when, ppm=self.ppm))
        return _Stretch(start, end, first, last)

    # -- one stamp ----------------------------------------------------------------------------

    def _bounds(self, s: _Stretch, t: int) -> tuple[int, int]:
        lo, hi = -FAR * 4, FAR * 4
        for p in (s.first, s.last):
            if p is not None:
                w = p.unc + self._drift(t - p.t)
                lo, hi = max(lo, p.offset - w), min(hi, p.offset + w)
        return lo, hi

    def _estimate(self, s: _Stretch, d: int) -> int:
        a, b = s.first, s.last
        if a is not None and b is not None and b.t > a.t and (b.t - a.t) + (b.offset - a.offset) > 0:
            # t + a.offset + (b.offset − a.offset)(t − a.t)/(b.t − a.t) = d, solved for t
            span, moved = b.t - a.t, b.offset - a.offset
            num = (d - a.offset) * span + moved * a.t
            return (2 * num + span + moved) // (2 * (span + moved))
        p = a or b
        return d if p is None else d - p.offset

    def _candidate(self, s: _Stretch, d_lo: int, d_hi: int, after: int, before: int) -> _Candidate | None:
        lo_t, hi_t = max(s.start, after), min(s.end, before)
        if lo_t > hi_t:
            return None
        if s.broken is not None:  # any time: the clock as last found is the best guess
            p = s.last or s.first
            return _Candidate(s, lo_t, hi_t, min(max(d_lo - (p.offset if p else 0), lo_t), hi_t))

        def upper(t: int) -> int:  # latest device time the clock could show at t (nondecreasing in t)
            return t + self._bounds(s, t)[1]

        def lower(t: int) -> int:
            return t + self._bounds(s, t)[0]

        if upper(hi_t) < d_lo or lower(lo_t) > d_hi:
            return None
        a, b = lo_t, hi_t  # smallest t with upper(t) >= d_lo
        while a < b:
            m = (a + b) // 2
            if upper(m) >= d_lo:
                b = m
            else:
                a = m + 1
        t_min = a
        a, b = lo_t, hi_t  # largest t with lower(t) <= d_hi
        while a < b:
            m = (a + b + 1) // 2
            if lower(m) <= d_hi:
                a = m
            else:
                b = m - 1
        t_max = a
        if t_min > t_max:
            return None
        return _Candidate(s, t_min, t_max, min(max(self._estimate(s, d_lo), t_min), t_max))

    def _candidates(self, d_lo: int, d_hi: int, after: int, before: int) -> list[list[_Candidate]]:
        """Candidates in stretch order, grouped: stretches joined by a mere reading are one clock."""
        groups: list[list[_Candidate]] = []
        joined = False
        for s in self.stretches:
            c = self._candidate(s, d_lo, d_hi, after, before)
            if c is not None:
                if joined and groups:
                    groups[-1].append(c)
                else:
                    groups.append([c])
            joined = c is not None and s.continued
        return groups

    def at(self, device_ns: int, resolution_ns: int = NS_PER_S, *, recorded_after_ns: int | None = None,
           recorded_before_ns: int | None = None) -> FileTime:
        """The offset in force when the clock showed ``device_ns`` (a stamp of ``resolution_ns``)."""
        d_lo, d_hi = device_ns, device_ns + max(1, resolution_ns) - 1
        after = -FAR if recorded_after_ns is None else recorded_after_ns
        before = FAR if recorded_before_ns is None else recorded_before_ns
        groups = self._candidates(d_lo, d_hi, after, before)
        note: str = ""
        if not groups and (recorded_after_ns is not None or recorded_before_ns is not None):
            groups = self._candidates(d_lo, d_hi, -FAR, FAR)
            if groups:
                note = Message(N_("it shows a time from before the last complete docking, yet was not on the card "
                               "then (or one after this docking began)"))
        if not groups:
            return FileTime(self._nearest_offset(device_ns), None, True,
                            Message(N_("the clock never showed this time between its calibrations: it jumped, or was "
                                    "set without the dock")))
        cands = [c for g in groups for c in g]
        sound = [c for c in cands if c.stretch.broken is None]
        best = (sound or cands)[-1]
        offset = device_ns - best.estimate
        unc: int | None = None
        if all(c.bounded for c in cands):
            unc = max(max(best.estimate - c.t_min, c.t_max - best.estimate) for c in cands)
        broken = [c.stretch.broken for c in cands if c.stretch.broken]
        if broken:
            return FileTime(offset, unc, True, broken[-1])
        if len(groups) > 1:
            return FileTime(offset, unc, True,
                            Message(N_("the clock showed this time more than once: a set moved it back")))
        if note:
            return FileTime(offset, unc, True, note)
        return FileTime(offset, unc)

    def _nearest_offset(self, device_ns: int) -> int:
        points = [p for s in self.stretches for p in (s.first, s.last) if p is not None]
        if not points:
            return 0
        return min(points, key=lambda p: abs(p.t + p.offset - device_ns)).offset


__all__ = ["MAX_DRIFT_PPM", "SET_WINDOW_NS", "ClockHistory", "ClockRecord", "FileTime"]
