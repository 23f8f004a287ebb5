"""``ledger verify`` checks for people, gap explanations and approvals (A2 Art.8, 11).

The verifier has already checked that every signature verifies and is by a key enrolled before
the entry; these checks add who those keys belong to. The rules are the ones ``ledger.gapstate``
and ``ledger.cases`` apply when they decide a state, called with the verifier's signer set, so a
record that verify reports is exactly a record that ``bodycam gaps`` does not count.
"""

from __future__ import annotations

from bodycam.i18n import N_, Message
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.gapstate import Explanations, approval_problems, explanation_problems
from ledger.people import may_enroll_people
from ledger.records import Enrollment, Gap, GapFault, StopApproval, StopJustification

_GAPS = "justify.gaps"            # entry hash → Gap
_EXPLAINED = "justify.explained"  # Explanations: records, replacements and reviews so far


def enrolled_records(ctx: VerifyContext) -> dict[str, Enrollment]:
    return {k: rec for k, (_, rec) in ctx.enrolled.items()}


def check_person_enrollment(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    if not isinstance(rec, Enrollment) or rec.subject_type != "person":
        return []
    enrolled = ctx.enrolled
    if any(may_enroll_people(enrolled[k][1]) for k in e.signers if k in enrolled and enrolled[k][0] < e.idx):
        return []
    return [Message(N_("person {person_id} was enrolled by a key that may not enroll people (only the ledger's "
                       "root, a dock or an admin person may)"), person_id=rec.subject_id)]


def remember_gap(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    if isinstance(e.record, Gap):
        ctx.state.setdefault(_GAPS, {})[e.entry_hash] = e.record
    return []


def _explained(ctx: VerifyContext) -> Explanations:
    return ctx.state.setdefault(_EXPLAINED, Explanations())


def check_explanation(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, (StopJustification, GapFault))
    gap = ctx.state.get(_GAPS, {}).get(rec.gap)
    seen = _explained(ctx)
    problems = explanation_problems(rec, gap, e.signers, enrolled_records(ctx)) + seen.order_problems(rec)
    seen.add(e.entry_hash, e.idx, rec, not problems)
    return problems


def check_approval(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, StopApproval)
    seen = _explained(ctx)
    target, ok = seen.target(rec)
    problems = approval_problems(rec, target, ok, e.signers, enrolled_records(ctx)) + seen.review_problems(rec)
    if not problems:
        seen.review(e.entry_hash, rec)
    return problems
