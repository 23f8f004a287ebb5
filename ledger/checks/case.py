"""``ledger verify`` checks for cases: a long-term flag is signed by a person who may set it
(A2 Art.10); a case opened, an activity, an attachment or a case closed is signed by the enrolled
person it names, its officers hold a valid certificate (A2 Art.14), an activity's, attachment's or
closing's case was opened, and a case is closed once.
The rules are ``ledger.cases``', called with the verifier's signer set."""

from __future__ import annotations

from ledger.cases import case_record_problems, flag_problems
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.records import Activity, Attachment, CaseClose, CaseFlag, CaseOpen

_OPENED = "case.opened"
_CLOSED = "case.closed"


def check_case_flag(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, CaseFlag)
    return flag_problems(rec, e.signers, enrolled_records(ctx))


def check_case_record(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, (CaseOpen, Activity, Attachment, CaseClose))
    opened = ctx.state.setdefault(_OPENED, set())
    closed = ctx.state.setdefault(_CLOSED, set())
    problems = case_record_problems(rec, e.signers, enrolled_records(ctx), opened, closed)
    if isinstance(rec, CaseOpen):
        opened.add(rec.case_id)
    elif isinstance(rec, CaseClose):
        closed.add(rec.case_id)
    return problems
