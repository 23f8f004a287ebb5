"""``ledger verify`` checks for legal review (A3): each act is signed by a person who may do it and
refers to what it acts on, earlier in the ledger.

- a reviewer's act (a supplement request, a pause or resumption, a judgement, an outcome) is signed
  by an enrolled reviewer holding a legal professional qualification certificate (法律职业资格,
  行政处罚法 Art.58) — :func:`reviewer_problems`, the rule ``archive.review`` applies before signing;
- an outcome carries the signature of every reviewer it names;
- an extension (A3 Art.10: +3 working days, once) and an approval (A3 Art.11) are signed by a
  ``head`` (the leader in charge of legal affairs), and a round is extended at most once;
- a classification names an earlier catalogue, a submission an earlier classification of its case,
  later acts an earlier submission of their case and round, an approval an earlier outcome, an
  opinion an earlier approval and attachment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bodycam.i18n import N_, Message
from ledger.checks.access import signer_problems
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.people import check_person_key
from ledger.records import Body, Enrollment
from ledger.records.review import (
    ReviewApproval,
    ReviewCatalogue,
    ReviewClassification,
    ReviewClock,
    ReviewJudgement,
    ReviewOpinion,
    ReviewOutcome,
    ReviewSubmission,
    ReviewSupplement,
)

REVIEWER_ROLES: tuple[str, ...] = ("reviewer",)
LEADER_ROLES: tuple[str, ...] = ("head",)
CLASSIFY_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "reviewer")
CATALOGUE_ROLES: tuple[str, ...] = (*CLASSIFY_ROLES, "admin")
SUBMIT_ROLES: tuple[str, ...] = ("officer", "supervisor", "head")
RECEIVE_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "archivist")
OPINION_ROLES: tuple[str, ...] = ("reviewer", "head")
_SEEN = "review.seen"  # kind -> set of entry hashes (or (case, round) keys) seen so far
_REVIEWER = N_("reviewer")


def reviewer_problems(person_id: str, signers: Iterable[str], enrolled: Mapping[str, Enrollment]) -> list[str]:
    """Why no key among ``signers`` is ``person_id`` as a qualified reviewer (empty: one is): an
    enrolled reviewer with a legal professional qualification certificate number on record."""
    first = None
    for keyid in signers:
        problem = check_person_key(enrolled, keyid, person_id, REVIEWER_ROLES, _REVIEWER)
        if problem is None:
            if enrolled[keyid].legal_qualification_no:
                return []
            problem = Message(N_("reviewer {person_id} has no legal professional qualification certificate on "
                                 "record (行政处罚法 Art.58); enroll the reviewer with --legal-qualification"),
                              person_id=person_id)
        first = first or problem
    return [Message(N_("{what} signature: {problem}"), what=Message(_REVIEWER),
                    problem=first or Message(N_("not signed by {person_id}"), person_id=person_id))]


def signature_problems(rec: Body, signers: Iterable[str], enrolled: Mapping[str, Enrollment]) -> list[str]:
    """Why a review record is not signed by who may make it (empty: it is). One rule for ``ledger
    verify`` and for ``archive.review.state``, which counts only records that pass it."""
    signers = tuple(signers)
    if isinstance(rec, ReviewCatalogue):
        return signer_problems(rec.by, CATALOGUE_ROLES, N_("review catalogue"), signers, enrolled)
    if isinstance(rec, ReviewClassification):
        return signer_problems(rec.by, CLASSIFY_ROLES, N_("classification"), signers, enrolled)
    if isinstance(rec, ReviewSubmission):
        return signer_problems(rec.by, SUBMIT_ROLES, N_("review submission"), signers, enrolled)
    if isinstance(rec, ReviewSupplement):
        return (reviewer_problems(rec.by, signers, enrolled) if rec.action == "request" else
                signer_problems(rec.by, RECEIVE_ROLES, N_("supplement"), signers, enrolled))
    if isinstance(rec, ReviewClock):
        return (signer_problems(rec.by, LEADER_ROLES, N_("extension"), signers, enrolled) if rec.action == "extend"
                else reviewer_problems(rec.by, signers, enrolled))
    if isinstance(rec, ReviewJudgement):
        return reviewer_problems(rec.by, signers, enrolled)
    if isinstance(rec, ReviewOutcome):
        return [p for reviewer in rec.reviewers for p in reviewer_problems(reviewer, signers, enrolled)]
    if isinstance(rec, ReviewApproval):
        return signer_problems(rec.by, LEADER_ROLES, N_("review approval"), signers, enrolled)
    if isinstance(rec, ReviewOpinion):
        return signer_problems(rec.by, OPINION_ROLES, N_("review opinion"), signers, enrolled)
    return [Message(N_("{kind} is not a review record"), kind=rec.kind)]


def _seen(ctx: VerifyContext, key: str) -> set:
    return ctx.state.setdefault(_SEEN, {}).setdefault(key, set())


def _refers(ctx: VerifyContext, key: str, ref: object, what: str) -> list[str]:
    if ref in _seen(ctx, key):
        return []
    shown = ref[:16] if isinstance(ref, str) else str(ref)
    return [Message(N_("refers to {what} {ref}, which no earlier entry is"), what=Message(what), ref=shown)]


def check_catalogue(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewCatalogue)
    _seen(ctx, "catalogue").add(e.entry_hash)
    return signature_problems(rec, e.signers, enrolled_records(ctx))


def check_classification(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewClassification)
    _seen(ctx, "classification").add(e.entry_hash)
    return (signature_problems(rec, e.signers, enrolled_records(ctx))
            + _refers(ctx, "catalogue", rec.catalogue, N_("review catalogue")))


def check_submission(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewSubmission)
    _seen(ctx, "submission").add((rec.case_id, rec.round_no))
    return (signature_problems(rec, e.signers, enrolled_records(ctx))
            + _refers(ctx, "classification", rec.classification, N_("classification")))


def _round(ctx: VerifyContext, case_id: str, round_no: int) -> list[str]:
    if (case_id, round_no) in _seen(ctx, "submission"):
        return []
    return [Message(N_("round {round} of case {case_id} was never submitted for review"), round=round_no,
                    case_id=case_id)]


def check_supplement(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewSupplement)
    return signature_problems(rec, e.signers, enrolled_records(ctx)) + _round(ctx, rec.case_id, rec.round_no)


def check_clock(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewClock)
    out = signature_problems(rec, e.signers, enrolled_records(ctx))
    if rec.action == "extend":
        extended = _seen(ctx, "extended")
        if (rec.case_id, rec.round_no) in extended:
            out.append(Message(N_("round {round} of case {case_id} is extended a second time (A3 Art.10: once)"),
                               round=rec.round_no, case_id=rec.case_id))
        elif not out:  # only a valid extension uses the round's one extension
            extended.add((rec.case_id, rec.round_no))
    return out + _round(ctx, rec.case_id, rec.round_no)


def check_judgement(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewJudgement)
    return signature_problems(rec, e.signers, enrolled_records(ctx)) + _round(ctx, rec.case_id, rec.round_no)


def check_outcome(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewOutcome)
    _seen(ctx, "outcome").add(e.entry_hash)
    return signature_problems(rec, e.signers, enrolled_records(ctx)) + _round(ctx, rec.case_id, rec.round_no)


def check_approval(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewApproval)
    _seen(ctx, "approval").add(e.entry_hash)
    return (signature_problems(rec, e.signers, enrolled_records(ctx))
            + _refers(ctx, "outcome", rec.outcome, N_("review outcome")))


def check_opinion(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ReviewOpinion)
    out = (signature_problems(rec, e.signers, enrolled_records(ctx))
           + _refers(ctx, "approval", rec.approval, N_("review approval")))
    att = ctx.ledger.by_hash(rec.attachment)
    if att is None or att.idx >= e.idx or att.kind != "attachment" or att.body.get("sha256") != rec.sha256:
        out.append(Message(N_("the opinion's attachment {ref} is not an earlier attachment of its PDF"),
                           ref=rec.attachment[:16]))
    return out
