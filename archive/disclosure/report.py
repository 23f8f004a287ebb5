"""The disclosure compliance report (A1 Art.18–19): every decision accounted for, from the ledger.

Selective or late publication is itself a fault (A1 Art.19), so the report is computed from the
signed entries alone: each decision is published on time, published late (by how many working
days), overdue (deadline passed, neither published nor withheld), pending (not yet due), or
withheld with its A1 Art.10 reason; withdrawals, corrections (and whether they came within 行政处罚法
Art.48's three working days) and revocations are listed with their ledger references. Entries
after ``now`` do not count, so the report can be computed as of any day. The annual statistics
the bureau publishes each January are counts over the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from archive.disclosure.decisions import bureau_date
from archive.disclosure.state import DecisionState, decision_states
from archive.workdays import WorkCalendar
from bodycam.formats import rfc3339
from ledger.records.disclosure import WITHHOLD_REASONS, decision_date
from ledger.store import Ledger

STATUSES = ("published_on_time", "published_late", "overdue", "pending", "withheld")


def _unit(st: DecisionState, case_units: dict[str, str]) -> str:
    f = st.fields
    return (f.get("unit") or (case_units.get(st.record.case_id or "") if st.record.case_id else None)
            or f.get("CF_CFJG") or f.get("body") or "-")


def _before(pair, now_ns: int):
    return pair if pair is not None and _at(pair[1]) <= now_ns else None


def _at(rec) -> int:
    for name in ("at_ns", "withheld_ns", "checked_ns"):
        if hasattr(rec, name):
            return getattr(rec, name)
    raise AttributeError(rec)


def _between(calendar: WorkCalendar | None, a: dt.date, b: dt.date) -> int | None:
    return calendar.workdays_between(a, b) if calendar is not None else None


def decision_row(st: DecisionState, calendar: WorkCalendar | None, today: dt.date, now_ns: int,
                 case_units: dict[str, str]) -> dict:
    """One decision's standing at ``now_ns`` (pure over the state and the calendar; without a
    calendar the statuses are the same and the working-day counts are None)."""
    rec = st.record
    due = dt.date.fromisoformat(rec.deadline.due)
    published, withheld = _before(st.published, now_ns), _before(st.withheld, now_ns)
    withdrawn, revoked = _before(st.withdrawn, now_ns), _before(st.revoked, now_ns)
    text_check = _before(st.text_check, now_ns)
    row: dict = {
        "id": st.id, "type": rec.type, "case_id": rec.case_id, "unit": _unit(st, case_units),
        "document_no": st.fields.get("CF_WSH") or st.fields.get("document_no"),
        "decided": decision_date(rec.type, rec.fields).isoformat(), "deadline": rec.deadline.due,
        "deadline_workdays": rec.deadline.workdays, "calendar": list(rec.deadline.calendar),
        "status": "pending", "late_workdays": None, "overdue_workdays": None, "published_at": None,
        "withheld_reason": None, "withheld_note": None, "withdrawn_at": None, "corrections": [], "revoked": None,
        "text_checked": text_check is not None, "unaccounted": published is None and withheld is None,
        "refs": [h for h in st.refs],
    }
    if withheld is not None:
        row.update(status="withheld", withheld_reason=withheld[1].reason, withheld_note=withheld[1].note)
    elif published is not None:
        day = bureau_date(published[1].at_ns)
        row["published_at"] = rfc3339(published[1].at_ns)
        if day > due:
            row.update(status="published_late", late_workdays=_between(calendar, due, day))
        else:
            row["status"] = "published_on_time"
    elif today > due:
        row.update(status="overdue", overdue_workdays=_between(calendar, due, today))
    if withdrawn is not None:
        row["withdrawn_at"] = rfc3339(withdrawn[1].at_ns)
    for e, act in st.corrections:
        if act.at_ns > now_ns:
            continue
        row["corrections"].append(_change(e.entry_hash, act, calendar))
    if revoked is not None:
        row["revoked"] = _change(revoked[0].entry_hash, revoked[1], calendar)
    return row


def _change(entry_hash: str, act, calendar: WorkCalendar | None) -> dict:
    day = bureau_date(act.at_ns)
    due = dt.date.fromisoformat(act.deadline.due)
    return {"entry": entry_hash, "at": rfc3339(act.at_ns), "note": act.note, "changes": dict(act.changes),
            "changed_on": act.deadline.start, "deadline": act.deadline.due,
            "late_workdays": _between(calendar, due, day) if day > due else None}


def disclosure_report(ledger: Ledger, calendar: WorkCalendar | None, now_ns: int, year: int | None = None
                      ) -> list[dict]:
    """Every decision recorded by ``now_ns`` (decided in ``year`` when given), with its standing
    (A1 Art.18–19); oldest first. ``CalendarGap`` when a late count needs a year no data covers."""
    today = bureau_date(now_ns)
    case_units = {e.body["case_id"]: e.body["unit"] for e in ledger.entries(kind="case_open")}
    rows = []
    for st in decision_states(ledger).values():
        if st.record.added_ns > now_ns:
            continue
        if year is not None and decision_date(st.record.type, st.record.fields).year != year:
            continue
        rows.append(decision_row(st, calendar, today, now_ns, case_units))
    return rows


def annual_statistics(rows: list[dict]) -> list[dict]:
    """Counts by type and unit (A1 Art.18: what the bureau publishes each January), one row per
    (type, unit) with every status, withdrawals, corrections, revocations and withholding reasons."""
    groups: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for r in rows:
        c = groups[(r["type"], r["unit"])]
        c["decisions"] += 1
        c[r["status"]] += 1
        c["withdrawn"] += r["withdrawn_at"] is not None
        c["corrected"] += bool(r["corrections"])
        c["revoked"] += r["revoked"] is not None
        if r["withheld_reason"] is not None:
            c[f"withheld_reason_{r['withheld_reason']}"] += 1
    keys = ("decisions", *STATUSES, "withdrawn", "corrected", "revoked",
            *(f"withheld_reason_{n}" for n in WITHHOLD_REASONS))
    return [{"type": t, "unit": u, **{k: c.get(k, 0) for k in keys}} for (t, u), c in sorted(groups.items())]
