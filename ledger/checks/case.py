"""``ledger verify`` checks for cases: a long-term flag is signed by a person who may set it
(A2 Art.10); a case opened, an activity or an attachment is signed by the enrolled person it names,
its officers hold a valid certificate (A2 Art.14) and an activity's or attachment's case was opened.
The rules are ``ledger.cases``', called with the verifier's signer set."""

from __future__ import annotations

from ledger.cases import case_record_problems, flag_problems
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.records import Activity, Attachment, CaseFlag, CaseOpen

_OPENED = "case.opened"


def check_case_flag(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, CaseFlag)
    return flag_problems(rec, e.signers, enrolled_records(ctx))


def check_case_record(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, (CaseOpen, Activity, Attachment))
    opened = ctx.state.setdefault(_OPENED, set())
    problems = case_record_problems(rec, e.signers, enrolled_records(ctx), opened)
    if isinstance(rec, CaseOpen):
        opened.add(rec.case_id)
    return problems
