"""Supervision report of the archive (A2 Art.20–22): what a bureau head's daily check and the policy
section's supervision look at, read from the archive ledger, per unit and officer.

Each finding kind is one pure function over facts read from the ledger; every finding names the
A2 Art.22 fault it may indicate and the ledger entries behind it:

- ``undocked``: an enrolled recorder whose last dock session or segment is older than the limit
  (footage kept on a recorder can be lost: Art.22(3));
- ``gap``: a gap still unjustified or unapproved after the limit (not recording: Art.22(1), (2));
- ``unbound``: footage bound to no case or activity (recording unrelated activity, A2 Art.4, 9;
  Art.22(2));
- ``no_calibration``: footage from a recorder with no passed calibration before capture (A2 Art.13;
  time of the record uncertain: Art.22(4));
- ``not_handed_in``: a closed case whose activity an officer took part in, with none of that
  officer's footage overlapping the activity at the archive by the close + N days (Art.22(3));
- ``not_decodable``: footage the dock's probe could not decode (Art.22(3));
- ``time``: footage whose time was corrected by more than the tolerance, is uncertain by more than
  it, or is flagged ``time_uncertain``/``clock_unknown`` (Art.22(4));
- ``access_refused``: an attempt to view footage that the access policy refused (A2 Art.18;
  Art.22(3)).

Besides findings, :func:`access_summary` counts the ``access`` entries per unit and officer of the
footage, by outcome and purpose (copy, contact sheet, export).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bodycam.i18n import N_, Message
from ledger.cases import unbound_segments
from ledger.gapstate import APPROVED_STATES, GapStatus, gap_statuses
from ledger.records import Activity, Calibration, CaseClose, CaseOpen, DockSession, Enrollment, Segment
from ledger.records.access import Access
from ledger.store import Entry, Ledger

DAY_NS = 86_400 * 10**9
UNDOCKED_DAYS = 2
GAP_DAYS = 7
CLOSE_DAYS = 3
TIME_TOLERANCE_MS = 1000

#: The A2 Art.22 fault a finding may indicate.
FAULTS = {
    "undocked": Message(N_("A2 Art.22(3): poor custody losing evidence")),
    "gap": Message(N_("A2 Art.22(1)/(2): not recording when required")),
    "unbound": Message(N_("A2 Art.22(2): recording unrelated to enforcement")),
    "no_calibration": Message(N_("A2 Art.22(4): time of the footage cannot be trusted")),
    "not_handed_in": Message(N_("A2 Art.22(3): footage not handed in after the case closed; evidence may be "
                                "lost")),
    "not_decodable": Message(N_("A2 Art.22(3): footage that cannot be played back; evidence may be lost")),
    "time": Message(N_("A2 Art.22(4): time of the footage cannot be trusted")),
    "access_refused": Message(N_("A2 Art.22(3): poor custody: footage asked for without a valid approval "
                                 "(A2 Art.18)")),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    unit: str | None
    officer: str | None
    device: str | None
    message: Message
    entries: tuple[str, ...]

    @property
    def fault(self) -> Message:
        return FAULTS[self.kind]

    def to_json(self) -> dict:
        return {"kind": self.kind, "unit": self.unit, "officer": self.officer, "device": self.device,
                "message": str(self.message), "fault": str(self.fault), "entries": list(self.entries)}


def undocked(devices: Mapping[str, tuple[str, Enrollment]], last_seen: Mapping[str, tuple[int, str]], now_ns: int,
             days: int = UNDOCKED_DAYS) -> list[Finding]:
    """Recorders (device id → enrollment hash and record) whose last dock session or segment
    (device id → time and entry hash) is more than ``days`` before ``now_ns``, or never docked and
    enrolled that long ago."""
    out = []
    for dev, (h, rec) in sorted(devices.items()):
        seen = last_seen.get(dev)
        at, entry = seen if seen is not None else (rec.enrolled_ns, h)
        if now_ns - at > days * DAY_NS:
            out.append(Finding("undocked", rec.unit, rec.custodian, dev,
                               Message(N_("recorder {device} not docked for {days} day(s)"), device=dev,
                                       days=(now_ns - at) // DAY_NS), (h, entry) if entry != h else (h,)))
    return out


def stale_gaps(statuses: Iterable[GapStatus], now_ns: int, units: Mapping[str, str | None],
               days: int = GAP_DAYS) -> list[Finding]:
    """Gaps still unjustified or unapproved more than ``days`` after they ended."""
    out = []
    for st in statuses:
        g = st.gap
        if st.state in APPROVED_STATES:
            continue
        at = g.end_ns if g.end_ns is not None else g.start_ns
        if at is None or now_ns - at <= days * DAY_NS:
            continue
        what = (Message(N_("gap on {device} unjustified after {days} day(s)"), device=g.device_id,
                        days=(now_ns - at) // DAY_NS) if st.explanation is None else
                Message(N_("gap on {device} not approved after {days} day(s)"), device=g.device_id,
                        days=(now_ns - at) // DAY_NS))
        entries = tuple(h for h in (st.entry_hash, st.explanation) if h is not None)
        out.append(Finding("gap", units.get(g.device_id), g.officer_id or st.officer_id, g.device_id, what, entries))
    return out


def unbound(segments: Iterable[Entry]) -> list[Finding]:
    """Footage bound to no case or activity known here."""
    return [Finding("unbound", e.record.unit, e.record.officer_id, e.record.device_id,
                    Message(N_("segment {seq} of {device} bound to no case or activity"), seq=e.record.seq,
                            device=e.record.device_id), (e.entry_hash,))
            for e in segments]


def uncalibrated(segments: Iterable[Entry], calibrations: Mapping[str, list[tuple[int, str]]]) -> list[Finding]:
    """Segments whose recorder has no passed calibration (device id → measured time and entry hash)
    measured before the segment's start."""
    out = []
    for e in segments:
        dev, start = e.record.device_id, e.record.start_ns
        if any(t <= start for t, _h in calibrations.get(dev, ())):
            continue
        out.append(Finding("no_calibration", e.record.unit, e.record.officer_id, dev,
                           Message(N_("segment {seq} of {device} recorded without a prior calibration"),
                                   seq=e.record.seq, device=dev), (e.entry_hash,)))
    return out


@dataclass(frozen=True)
class Closure:
    """A closed case with its unit and its activities (entry hash, record)."""

    case_id: str
    unit: str | None
    closed_ns: int
    entry: str
    activities: tuple[tuple[str, Activity], ...]


def not_handed_in(closures: Iterable[Closure], footage: Mapping[str, Sequence[tuple[int, int, int]]], now_ns: int,
                  days: int = CLOSE_DAYS) -> list[Finding]:
    """For each case closed more than ``days`` before ``now_ns``: each officer of each of its
    activities none of whose footage (officer id → start, end and arrival at the archive of the
    segments recorded by the officer or on the officer's recorders) overlaps the activity and
    arrived by the close + ``days``."""
    out = []
    for c in closures:
        deadline = c.closed_ns + days * DAY_NS
        if now_ns <= deadline:
            continue
        for act_hash, act in c.activities:
            for officer in act.officers:
                if any(s <= act.end_ns and e >= act.start_ns and arrived <= deadline
                       for s, e, arrived in footage.get(officer, ())):
                    continue
                out.append(Finding("not_handed_in", c.unit, officer, None, Message(
                    N_("no footage of {officer} for activity {activity} of case {case}, closed {days} day(s) ago"),
                    officer=officer, activity=act.activity, case=c.case_id, days=(now_ns - c.closed_ns) // DAY_NS),
                    (c.entry, act_hash)))
    return out


def undecodable(segments: Iterable[Entry]) -> list[Finding]:
    """Footage the dock's probe could not decode (``decodable`` false or flagged ``not_decodable``)."""
    return [Finding("not_decodable", e.record.unit, e.record.officer_id, e.record.device_id,
                    Message(N_("segment {seq} of {device} cannot be decoded"), seq=e.record.seq,
                            device=e.record.device_id), (e.entry_hash,))
            for e in segments if not e.record.decodable or "not_decodable" in e.record.flags]


_MTIME = re.compile(r"^mtime:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})([+-]\d{4})$")


def correction_ns(seg: Segment, calibration: Calibration | None) -> int | None:
    """How far the segment's start was moved from the recorder's own clock: corrected start minus
    the device time when the dock wrote an absolute one (``mtime:…±zzzz``), else the clock offset
    the docking's calibration measured before setting it; None when neither is known (a time
    stamped in a file name has no zone here)."""
    m = _MTIME.match(seg.device_start)
    if m:
        try:
            dt = datetime.strptime(m.group(1) + m.group(3), "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            dt = None
        if dt is not None:
            return seg.start_ns - (int(dt.timestamp()) * 10**9 + int(m.group(2)))
    if calibration is not None and calibration.offset_before_us is not None:
        return calibration.offset_before_us * 1000
    return None


def time_flagged(segments: Iterable[tuple[Entry, int | None]], tolerance_ms: int = TIME_TOLERANCE_MS
                 ) -> list[Finding]:
    """Segments (with their correction in ns, or None) whose time was corrected by more than
    ``tolerance_ms``, is uncertain by more than it, or is flagged ``time_uncertain`` or
    ``clock_unknown``."""
    out = []
    for e, corr in segments:
        rec = e.record
        why: list[Message] = []
        if corr is not None and abs(corr) > tolerance_ms * 1_000_000:
            why.append(Message(N_("corrected by {ms} ms (tolerance {tolerance} ms)"), ms=abs(corr) // 1_000_000,
                               tolerance=tolerance_ms))
        if rec.time_uncertainty_ms is not None and rec.time_uncertainty_ms > tolerance_ms:
            why.append(Message(N_("uncertain by ±{ms} ms (tolerance {tolerance} ms)"), ms=rec.time_uncertainty_ms,
                               tolerance=tolerance_ms))
        if "time_uncertain" in rec.flags:
            why.append(Message(N_("flagged time_uncertain: the recorder's clock history cannot say which offset "
                                  "applied")))
        if "clock_unknown" in rec.flags:
            why.append(Message(N_("flagged clock_unknown: the recorder's clock was not known at docking")))
        if why:
            out.append(Finding("time", rec.unit, rec.officer_id, rec.device_id,
                               Message(N_("time of segment {seq} of {device}: {why}"), seq=rec.seq,
                                       device=rec.device_id, why=Message.join(Message(N_("; ")), why)),
                               (e.entry_hash,)))
    return out


def refused_accesses(rows: Iterable[tuple[str, Access, Segment | None]], units: Mapping[str, str | None]
                     ) -> list[Finding]:
    """Each refused ``access`` entry (entry hash, record, the segment asked for if known), under
    the unit and officer of the footage."""
    out = []
    for h, acc, seg in rows:
        if acc.outcome != "refused":
            continue
        unit = (seg.unit or units.get(seg.device_id)) if seg is not None else None
        what = (Message(N_("segment {seq} of {device}"), seq=seg.seq, device=seg.device_id) if seg is not None
                else Message(N_("an unknown segment")))
        out.append(Finding("access_refused", unit, seg.officer_id if seg is not None else None,
                           seg.device_id if seg is not None else None,
                           Message(N_("access to {what} by {by} refused: {reasons}"), what=what, by=acc.by,
                                   reasons="; ".join(acc.reasons) or "-"), (h,)))
    return out


@dataclass(frozen=True)
class AccessCount:
    """How many ``access`` entries concern the footage of one unit and officer, by outcome and
    purpose (``copy``: the footage itself)."""

    unit: str | None
    officer: str | None
    outcome: str
    purpose: str
    count: int

    def to_json(self) -> dict:
        return {"unit": self.unit, "officer": self.officer, "outcome": self.outcome, "purpose": self.purpose,
                "count": self.count}


def count_accesses(rows: Iterable[tuple[Access, Segment | None]], units: Mapping[str, str | None]
                   ) -> list[AccessCount]:
    """Access entries counted per unit and officer of the footage, outcome and purpose."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for acc, seg in rows:
        unit = (seg.unit or units.get(seg.device_id)) if seg is not None else None
        key = (unit or "", seg.officer_id if seg is not None else "", acc.outcome, acc.purpose or "copy")
        counts[key] = counts.get(key, 0) + 1
    return [AccessCount(u or None, o or None, outcome, purpose, n)
            for (u, o, outcome, purpose), n in sorted(counts.items())]


def _access_rows(ledger: Ledger, now_ns: int) -> list[tuple[str, Access, Segment | None]]:
    segs: dict[str, Segment | None] = {}
    rows = []
    for e in ledger.entries(kind="access"):
        acc = e.record
        if not isinstance(acc, Access) or acc.accessed_ns > now_ns:
            continue
        if acc.segment and acc.segment not in segs:
            se = ledger.by_hash(acc.segment)
            segs[acc.segment] = se.record if se is not None and isinstance(se.record, Segment) else None
        rows.append((e.entry_hash, acc, segs.get(acc.segment) if acc.segment else None))
    return rows


def _device_units(ledger: Ledger) -> dict[str, str | None]:
    return {e.record.subject_id: e.record.unit for e in ledger.entries(kind="enrollment")
            if isinstance(e.record, Enrollment) and e.record.subject_type == "device"}


def access_summary(ledger: Ledger, now_ns: int) -> list[AccessCount]:
    """The access entries up to ``now_ns`` counted per unit and officer of the footage, by outcome
    and purpose (A2 Art.18, 20)."""
    return count_accesses(((acc, seg) for _h, acc, seg in _access_rows(ledger, now_ns)), _device_units(ledger))


def _closures(ledger: Ledger, now_ns: int) -> list[Closure]:
    units = {e.record.case_id: e.record.unit for e in ledger.entries(kind="case_open")
             if isinstance(e.record, CaseOpen)}
    out = []
    for e in ledger.entries(kind="case_close"):
        rec = e.record
        if not isinstance(rec, CaseClose) or rec.closed_ns > now_ns:
            continue
        acts = tuple((a.entry_hash, a.record) for a in ledger.entries(kind="activity", case_id=rec.case_id)
                     if isinstance(a.record, Activity))
        out.append(Closure(rec.case_id, units.get(rec.case_id), rec.closed_ns, e.entry_hash, acts))
    return out


def supervision_report(ledger: Ledger, now_ns: int, *, undocked_days: int = UNDOCKED_DAYS,
                       gap_days: int = GAP_DAYS, close_days: int = CLOSE_DAYS,
                       time_tolerance_ms: int = TIME_TOLERANCE_MS) -> list[Finding]:
    """Every finding of the archive ledger as of ``now_ns``, sorted by unit, officer, device."""
    devices: dict[str, tuple[str, Enrollment]] = {}
    for e in ledger.entries(kind="enrollment"):
        rec = e.record
        if isinstance(rec, Enrollment) and rec.subject_type == "device" and rec.enrolled_ns <= now_ns:
            devices[rec.subject_id] = (e.entry_hash, rec)
    last_seen: dict[str, tuple[int, str]] = {}
    segments = [e for e in ledger.entries(kind="segment") if isinstance(e.record, Segment)
                and e.record.start_ns <= now_ns]
    for e in segments:
        at = e.record.end_ns
        if at >= last_seen.get(e.record.device_id, (-1, ""))[0]:
            last_seen[e.record.device_id] = (at, e.entry_hash)
    for e in ledger.entries(kind="dock_session"):
        ds = e.record
        if not isinstance(ds, DockSession):
            continue
        at = ds.ended_ns or ds.started_ns
        if at <= now_ns and at >= last_seen.get(ds.device_id, (-1, ""))[0]:
            last_seen[ds.device_id] = (at, e.entry_hash)
    calibrations: dict[str, list[tuple[int, str]]] = {}
    for e in ledger.entries(kind="calibration"):
        cal = e.record
        if isinstance(cal, Calibration) and cal.result == "passed":
            calibrations.setdefault(cal.device_id, []).append((cal.measured_ns, e.entry_hash))
    units = {dev: rec.unit for dev, (_h, rec) in devices.items()}
    seg_hashes = {e.entry_hash for e in segments}
    footage: dict[str, list[tuple[int, int, int]]] = {}
    custodians = {dev: rec.custodian for dev, (_h, rec) in devices.items() if rec.custodian}
    for e in segments:
        rec = e.record
        for officer in {rec.officer_id, custodians.get(rec.device_id)} - {None}:
            footage.setdefault(officer, []).append((rec.start_ns, rec.end_ns, e.received_ns))
    cals: dict[str, Calibration | None] = {}
    corrections = []
    for e in segments:
        ref = e.record.calibration
        if ref and ref not in cals:
            ce = ledger.by_hash(ref)
            cals[ref] = ce.record if ce is not None and isinstance(ce.record, Calibration) else None
        corrections.append((e, correction_ns(e.record, cals.get(ref) if ref else None)))
    findings = (undocked(devices, last_seen, now_ns, undocked_days)
                + stale_gaps(gap_statuses(ledger), now_ns, units, gap_days)
                + unbound(e for e in unbound_segments(ledger) if e.entry_hash in seg_hashes)
                + uncalibrated(segments, calibrations)
                + not_handed_in(_closures(ledger, now_ns), footage, now_ns, close_days)
                + undecodable(segments)
                + time_flagged(corrections, time_tolerance_ms)
                + refused_accesses(_access_rows(ledger, now_ns), units))
    return sorted(findings, key=lambda f: (f.unit or "", f.officer or "", f.device or "", f.kind))
