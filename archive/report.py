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
  time of the record uncertain: Art.22(4)).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bodycam.i18n import N_, Message
from ledger.cases import unbound_segments
from ledger.gapstate import APPROVED_STATES, GapStatus, gap_statuses
from ledger.records import Calibration, DockSession, Enrollment, Segment
from ledger.store import Entry, Ledger

DAY_NS = 86_400 * 10**9
UNDOCKED_DAYS = 2
GAP_DAYS = 7

#: The A2 Art.22 fault a finding may indicate.
FAULTS = {
    "undocked": Message(N_("A2 Art.22(3): poor custody losing evidence")),
    "gap": Message(N_("A2 Art.22(1)/(2): not recording when required")),
    "unbound": Message(N_("A2 Art.22(2): recording unrelated to enforcement")),
    "no_calibration": Message(N_("A2 Art.22(4): time of the footage cannot be trusted")),
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


def supervision_report(ledger: Ledger, now_ns: int, *, undocked_days: int = UNDOCKED_DAYS,
                       gap_days: int = GAP_DAYS) -> list[Finding]:
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
    findings = (undocked(devices, last_seen, now_ns, undocked_days)
                + stale_gaps(gap_statuses(ledger), now_ns, units, gap_days)
                + unbound(e for e in unbound_segments(ledger) if e.entry_hash in seg_hashes)
                + uncalibrated(segments, calibrations))
    return sorted(findings, key=lambda f: (f.unit or "", f.officer or "", f.device or "", f.kind))
