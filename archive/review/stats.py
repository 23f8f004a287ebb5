"""Recurring problems (A3 Art.14): findings by kind and handling unit across reviewed cases, so the
policy section can issue recommendations on what keeps coming back.

Read from the ``review_outcome`` entries (each outcome keeps the findings it rested on), counted
once per case, round and kind in the year the outcome was concluded.
"""

from __future__ import annotations

from archive.review.clock import bureau_date
from ledger.checks.review import signature_problems
from ledger.gapstate import enrollments
from ledger.people import valid_signers
from ledger.records.review import ReviewOutcome
from ledger.store import Ledger


def review_stats(ledger: Ledger, year: int | None = None) -> dict:
    """``{"findings": [{code, item, unit, count, cases}], "outcomes": {outcome: n},
    "judgements": [{item, verdict, count}], "rounds": n}`` for ``year`` (None: all years)."""
    units = {e.body["case_id"]: e.body.get("unit", "") for e in ledger.entries(kind="case_open")}
    findings: dict[tuple[str, int, str], set[str]] = {}
    outcomes: dict[str, int] = {}
    judgements: dict[tuple[int, str], int] = {}
    rounds = 0
    keyring, enrolled = ledger.keyring(), enrollments(ledger)
    for e in ledger.entries(kind="review_outcome"):
        rec = e.record
        assert isinstance(rec, ReviewOutcome)
        if signature_problems(rec, valid_signers(e.envelope, keyring), enrolled):
            continue  # not signed by its reviewers: not an outcome (ledger verify reports it)
        if year is not None and bureau_date(rec.concluded_ns).year != year:
            continue
        rounds += 1
        outcomes[rec.outcome] = outcomes.get(rec.outcome, 0) + 1
        unit = units.get(rec.case_id, "")
        for f in rec.findings:
            findings.setdefault((f.code, f.item, unit), set()).add(f"{rec.case_id}#{rec.round_no}")
        for h in rec.judgements:
            j = ledger.by_hash(h)
            if j is not None and j.body.get("verdict") != "ok":
                key = (int(j.body["item"]), j.body["verdict"])
                judgements[key] = judgements.get(key, 0) + 1
    rows = [{"code": code, "item": item, "unit": unit, "count": len(cases), "cases": sorted(cases)}
            for (code, item, unit), cases in findings.items()]
    rows.sort(key=lambda r: (-r["count"], r["code"], r["unit"]))
    return {"year": year, "rounds": rounds, "findings": rows, "outcomes": dict(sorted(outcomes.items())),
            "judgements": [{"item": i, "verdict": v, "count": n} for (i, v), n in sorted(judgements.items())]}
