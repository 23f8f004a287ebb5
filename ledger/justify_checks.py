"""``ledger verify`` checks for people, gap explanations, approvals and case flags (A2 Art.8, 10, 11).

The verifier has already checked that every signature verifies and is by a key enrolled before
the entry; these checks add who those keys belong to. The rules are the ones ``ledger.gapstate``
and ``ledger.cases`` apply when they decide a state, called with the verifier's signer set, so a
record that verify reports is exactly a record that ``bodycam gaps`` does not count.

Imported at the end of ``ledger.verify`` so that the checks run wherever a ledger is verified.
"""

from __future__ import annotations

from ledger.cases import flag_problems
from ledger.gapstate import approval_problems, explanation_problems
from ledger.justify_records import CaseFlag, GapFault, StopApproval
from ledger.people import may_enroll_people
from ledger.records import Enrollment, Gap, StopJustification
from ledger.verify import CheckedEntry, VerifyContext, register_checker

_GAPS = "justify.gaps"            # entry hash → Gap
_EXPLAINED = "justify.explained"  # entry hash → (record, valid?)


def _enrolled(ctx: VerifyContext) -> dict[str, Enrollment]:
    return {k: rec for k, (_, rec) in ctx.enrolled.items()}


@register_checker("enrollment")
def check_person_enrollment(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    if not isinstance(rec, Enrollment) or rec.subject_type != "person":
        return []
    enrolled = ctx.enrolled
    if any(may_enroll_people(enrolled[k][1]) for k in e.signers if k in enrolled and enrolled[k][0] < e.idx):
        return []
    return [f"person {rec.subject_id} was enrolled by a key that may not enroll people "
            "(only the ledger's root, a dock or an admin person may)"]


@register_checker("gap")
def remember_gap(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    if isinstance(e.record, Gap):
        ctx.state.setdefault(_GAPS, {})[e.entry_hash] = e.record
    return []


def _check_explanation(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, (StopJustification, GapFault))
    gap = ctx.state.get(_GAPS, {}).get(rec.gap)
    problems = explanation_problems(rec, gap, e.signers, _enrolled(ctx))
    ctx.state.setdefault(_EXPLAINED, {})[e.entry_hash] = (rec, not problems)
    return problems


register_checker("stop_justification")(_check_explanation)
register_checker("gap_fault")(_check_explanation)


@register_checker("stop_approval")
def check_approval(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, StopApproval)
    target, ok = ctx.state.get(_EXPLAINED, {}).get(rec.target, (None, False))
    return approval_problems(rec, target, ok, e.signers, _enrolled(ctx))


@register_checker("case_flag")
def check_case_flag(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, CaseFlag)
    return flag_problems(rec, e.signers, _enrolled(ctx))
