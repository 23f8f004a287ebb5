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

from ledger.records import CaseOpen, Enrollment
from ledger.store import Entry, Ledger


def unit_members(ledger: Ledger, unit: str) -> tuple[set[str], set[str]]:
    """The officers enrolled with ``unit`` and the cases opened with ``unit`` as handling unit."""
    officers = set()
    for e in ledger.entries(kind="enrollment"):
        rec = e.record
        if isinstance(rec, Enrollment) and rec.subject_type == "person" and rec.unit == unit:
            officers.add(rec.subject_id)
    cases = set()
    for e in ledger.entries(kind="case_open"):
        rec = e.record
        if isinstance(rec, CaseOpen) and rec.unit == unit:
            cases.add(rec.case_id)
    return officers, cases


def find_segments(ledger: Ledger, *, case: str | None = None, unit: str | None = None,
                  officer: str | None = None, device: str | None = None,
                  start_ns: int | None = None, end_ns: int | None = None) -> list[Entry]:
    """Segment entries matching every given filter, in ledger order, by the ledger's index
    columns. ``unit`` matches footage of the unit's officers or of the cases it handles; the
    time range keeps segments overlapping ``[start_ns, end_ns]`` (A2 Art.15)."""
    clauses, params = ["kind = ?"], ["segment"]
    for column, value in (("case_id", case), ("officer_id", officer), ("device_id", device)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if start_ns is not None:
        clauses.append("end_ns >= ?")
        params.append(start_ns)
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
    rows = ledger.conn.execute(sql, params).fetchall()
    return [ledger.get(idx) for (idx,) in rows]
