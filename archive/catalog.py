"""The archive's catalogue: find footage and documents by case, handling unit, officer, device
and time of use.

To live here: queries over the archive ledger's index columns (case id or activity, unit,
officer id, device id, start/end time) returning entries with their blobs' hashes, for the CLI
now and the web console later. Read-only: finding something is not viewing it; opening a blob
goes through :mod:`archive.access`, which records who looked.

Why: A2 Art.15 requires the archive to be classified by case name, handling unit and officers,
device number and time of use; footage not bound to a case or activity (A2 Art.4) and the text
records of a case (A2 Art.2) must be findable the same way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ledger.records import CaseOpen, Enrollment
from ledger.store import Entry, Ledger


@dataclass
class _Derived:
    """What the index columns do not hold, kept per ledger and brought up to date from the entries
    appended since (the ledger only grows): units' officers and cases, and the longest segment."""

    root: str
    upto: int = 0
    last: str = ""
    officers: dict[str, set[str]] = field(default_factory=dict)
    cases: dict[str, set[str]] = field(default_factory=dict)
    longest_ns: int = 0


_DERIVED: dict[str, _Derived] = {}
_LOCK = threading.Lock()


def _derived(ledger: Ledger) -> _Derived:
    """The derived facts of ``ledger`` as of now: built once per ledger file and process, then only
    the entries appended since are read (a different or rebuilt ledger at the same path starts over)."""
    size = ledger.size
    if size == 0:
        return _Derived("")
    root = ledger.get(0).entry_hash
    key = str(ledger.path)
    with _LOCK:
        d = _DERIVED.get(key)
        if d is None or d.root != root or d.upto > size or (d.upto and ledger.get(d.upto - 1).entry_hash != d.last):
            d = _DERIVED[key] = _Derived(root)
        if d.upto == size:
            return d
        for e in ledger.entries(kind="enrollment", start=d.upto, stop=size):
            rec = e.record
            if isinstance(rec, Enrollment) and rec.subject_type == "person" and rec.unit:
                d.officers.setdefault(rec.unit, set()).add(rec.subject_id)
        for e in ledger.entries(kind="case_open", start=d.upto, stop=size):
            rec = e.record
            if isinstance(rec, CaseOpen):
                d.cases.setdefault(rec.unit, set()).add(rec.case_id)
        row = ledger.conn.execute("SELECT max(end_ns - start_ns) FROM entries WHERE kind = 'segment' AND idx >= ? "
                                  "AND idx < ?", (d.upto, size)).fetchone()
        d.longest_ns = max(d.longest_ns, row[0] or 0)
        d.upto, d.last = size, ledger.get(size - 1).entry_hash
        return d


def unit_members(ledger: Ledger, unit: str) -> tuple[set[str], set[str]]:
    """The officers enrolled with ``unit`` and the cases opened with ``unit`` as handling unit."""
    d = _derived(ledger)
    return set(d.officers.get(unit, ())), set(d.cases.get(unit, ()))


def segment_indices(ledger: Ledger, *, case: str | None = None, unit: str | None = None,
                    officer: str | None = None, device: str | None = None,
                    start_ns: int | None = None, end_ns: int | None = None) -> list[int]:
    """Ledger indices of the segment entries matching every given filter, ascending: one SQL
    statement over the ledger's index columns. ``kind`` is written ``+kind`` so that SQLite walks
    the index of the filter (case, officer, device, time) rather than every segment's; a time
    range is bounded below by its start minus the longest segment, so the ``start_ns`` index
    reads only segments that can overlap it."""
    clauses, params = ["+kind = ?"], ["segment"]
    for column, value in (("case_id", case), ("officer_id", officer), ("device_id", device)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if start_ns is not None:
        clauses.append("end_ns >= ?")
        params.append(start_ns)
        clauses.append("start_ns >= ?")
        params.append(start_ns - _derived(ledger).longest_ns)
    if end_ns is not None:
        clauses.append("start_ns <= ?")
        params.append(end_ns)
    if unit is not None:
        officers, cases = unit_members(ledger, unit)
        if not officers and not cases:
            return []
        alternatives = []
        for column, values in (("officer_id", officers), ("case_id", cases)):
            if values:
                alternatives.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(sorted(values))
        clauses.append("(" + " OR ".join(alternatives) + ")")
    # Column names are constants above; values are bound parameters.
    sql = "SELECT idx FROM entries WHERE " + " AND ".join(clauses) + " ORDER BY idx"  # noqa: S608
    return [idx for (idx,) in ledger.conn.execute(sql, params)]


def find_segments(ledger: Ledger, *, case: str | None = None, unit: str | None = None,
                  officer: str | None = None, device: str | None = None,
                  start_ns: int | None = None, end_ns: int | None = None) -> list[Entry]:
    """Segment entries matching every given filter, in ledger order, by the ledger's index
    columns. ``unit`` matches footage of the unit's officers or of the cases it handles; the
    time range keeps segments overlapping ``[start_ns, end_ns]`` (A2 Art.15)."""
    return ledger.get_many(segment_indices(ledger, case=case, unit=unit, officer=officer, device=device,
                                           start_ns=start_ns, end_ns=end_ns))


def case_timeline(ledger: Ledger, case_id: str) -> list[dict]:
    """The case's record, by time (A2 Art.15): its opening, activities, segments with their
    corrected times, gaps with their justification and approval state, calibrations of the
    recorders used (up to the end of the case's last segment), attachments and access history.
    Each item: ``at_ns``, ``kind``, ``entry`` and the kind's facts."""
    from archive.access import access_log
    from ledger.gapstate import gap_statuses

    items: list[dict] = []
    for e in ledger.entries(kind="case_open"):
        rec = e.record
        if isinstance(rec, CaseOpen) and rec.case_id == case_id:
            items.append({"at_ns": rec.opened_ns, "kind": "case_open", "entry": e.entry_hash, "idx": e.idx,
                          "title": rec.title, "unit": rec.unit, "officers": list(rec.officers), "by": rec.by})
    for e in ledger.entries(kind="activity", case_id=case_id):
        rec = e.record
        items.append({"at_ns": rec.start_ns, "kind": "activity", "entry": e.entry_hash, "idx": e.idx,
                      "end_ns": rec.end_ns, "activity": rec.activity, "activity_type": rec.activity_type,
                      "officers": list(rec.officers), "party_notified_ns": rec.party_notified_ns})
    devices: dict[str, int] = {}
    for e in find_segments(ledger, case=case_id):
        rec = e.record
        devices[rec.device_id] = max(devices.get(rec.device_id, 0), rec.end_ns)
        items.append({"at_ns": rec.start_ns, "kind": "segment", "entry": e.entry_hash, "idx": e.idx,
                      "end_ns": rec.end_ns, "device_id": rec.device_id, "seq": rec.seq,
                      "officer_id": rec.officer_id, "activity": rec.activity, "sha256": rec.media.sha256,
                      "time_corrected": rec.time_corrected, "time_uncertainty_ms": rec.time_uncertainty_ms})
    for g in gap_statuses(ledger):
        if g.gap.case_id != case_id:
            continue
        items.append({"at_ns": g.gap.start_ns, "kind": "gap", "entry": g.entry_hash, "idx": g.idx,
                      "end_ns": g.gap.end_ns, "device_id": g.gap.device_id, "gap_type": g.gap.gap_type,
                      "state": g.state, "approved": g.approved, "explanation": g.explanation,
                      "approval": g.approval, "supervisor_id": g.supervisor_id})
    for device, last_end in sorted(devices.items()):
        for e in ledger.entries(kind="calibration", device_id=device):
            rec = e.record
            if rec.measured_ns <= last_end:
                items.append({"at_ns": rec.measured_ns, "kind": "calibration", "entry": e.entry_hash, "idx": e.idx,
                              "device_id": device, "result": rec.result, "offset_after_us": rec.offset_after_us,
                              "uncertainty_us": rec.uncertainty_us})
    for e in ledger.entries(kind="attachment", case_id=case_id):
        rec = e.record
        items.append({"at_ns": rec.attached_ns, "kind": "attachment", "entry": e.entry_hash, "idx": e.idx,
                      "attachment_kind": rec.attachment_kind, "sha256": rec.sha256, "file_name": rec.file_name,
                      "by": rec.by})
    for row in access_log(ledger, case_id):
        items.append({"at_ns": row["at_ns"], "kind": "access", "entry": row["entry"], "idx": row["idx"],
                      "by": row["by"], "outcome": row["outcome"], "request": row["request"],
                      "approved_by": row["approved_by"]})
    rank = {"case_open": 0, "activity": 1}  # at the same instant: the case, then the activity, then the rest
    items.sort(key=lambda i: (i["at_ns"] if i["at_ns"] is not None else 0, rank.get(i["kind"], 2), i["idx"]))
    return items
