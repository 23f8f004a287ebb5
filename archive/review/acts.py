"""Every act of a legal review, as a signed entry in the archive ledger (A3 Art.3–13).

Each function checks who acts (a qualified reviewer, the leader in charge of legal affairs, the
handling unit) with the same rule ``ledger verify`` applies (``ledger.checks.review``), then the
pure rule of the step (``catalogue.classify``, ``state.missing_items``, ``clock.extension_problems``,
``outcome.outcome_problems``), then appends. A refusal raises ``RefusedError`` (exit 3) with every
reason; a refused intake is still recorded (the material was handed in) and starts no clock.
"""

from __future__ import annotations

import time
from pathlib import Path

from archive.review.catalogue import Catalogue, classify, ensure_recorded, refuse_unknown
from archive.review.chinese import zh
from archive.review.clock import bureau_date, extension_problems
from archive.review.findings import Finding, evaluate, gather
from archive.review.outcome import criteria_for, outcome_problems
from archive.review.state import ATTACHMENT_KIND, ITEMS, CaseReview, Round, case_review, missing_items
from archive.workdays import WorkCalendar
from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.cases import attach_file, opened_cases
from ledger.checks.access import signer_problems
from ledger.checks.review import (
    CLASSIFY_ROLES,
    LEADER_ROLES,
    RECEIVE_ROLES,
    SUBMIT_ROLES,
    reviewer_problems,
)
from ledger.envelope import seal
from ledger.gapstate import enrollments
from ledger.keys import Signer
from ledger.records.review import (
    CaseFacts,
    FindingRef,
    HandedIn,
    ReviewApproval,
    ReviewClassification,
    ReviewClock,
    ReviewJudgement,
    ReviewOpinion,
    ReviewOutcome,
    ReviewSubmission,
    ReviewSupplement,
)
from ledger.store import Entry, Ledger


def _now(now_ns: int | None) -> int:
    return time.time_ns() if now_ns is None else now_ns


def _refuse(problems: list) -> None:
    if problems:
        raise RefusedError(Message.join(Message(N_("; ")), problems))


def require_reviewer(ledger: Ledger, signer: Signer, person_id: str) -> None:
    """A qualified reviewer (enrolled as reviewer, with a 法律职业资格 certificate number), or refused."""
    _refuse(reviewer_problems(person_id, (signer.keyid,), enrollments(ledger)))


def _require(ledger: Ledger, signer: Signer, person_id: str, roles: tuple[str, ...], what: str) -> None:
    _refuse(signer_problems(person_id, roles, what, (signer.keyid,), enrollments(ledger)))


def _opened(ledger: Ledger, case_id: str) -> None:
    if case_id not in opened_cases(ledger):
        raise RefusedError(Message(N_("case {case_id} was never opened at the archive (`bodycam case open`)"),
                                   case_id=case_id))


def _append(ledger: Ledger, body, signers) -> Entry:
    return ledger.append(seal(body, signers), require_trusted=True)


def hearing_held(ledger: Ledger, case_id: str) -> bool:
    """A hearing record among the case's text records means the decision follows a hearing (A3 Art.3(3))."""
    return any(e.body.get("attachment_kind") == "hearing_record" for e in ledger.entries(kind="attachment",
                                                                                          case_id=case_id))


def case_facts(ledger: Ledger, case_id: str, facts: CaseFacts) -> CaseFacts:
    """``facts`` with what the ledger itself says (a hearing record attached)."""
    if not facts.hearing and hearing_held(ledger, case_id):
        return facts.model_copy(update={"hearing": True})
    return facts


def classify_case(ledger: Ledger, signer: Signer, by: str, case_id: str, facts: CaseFacts, catalogue: Catalogue, *,
                  now_ns: int | None = None) -> Entry:
    """Record the facts of the proposed decision and the A3 Art.3 criteria they meet."""
    _opened(ledger, case_id)
    refuse_unknown(facts, catalogue)
    _require(ledger, signer, by, CLASSIFY_ROLES, N_("classification"))
    now = _now(now_ns)
    facts = case_facts(ledger, case_id, facts)
    cat = ensure_recorded(ledger, catalogue, signer, by, now)
    met = classify(facts, catalogue)
    body = ReviewClassification(case_id=case_id, facts=facts, criteria=[m.record() for m in met], major=bool(met),
                                catalogue=cat.entry_hash, by=by, classified_ns=now)
    return _append(ledger, body, signer)


def _hand_in(ledger: Ledger, blob_root: Path, signer: Signer, by: str, case_id: str,
             items: list[tuple[str, Path]], now: int) -> list[HandedIn]:
    out = []
    for item, _file in items:
        if item not in ITEMS:
            raise RefusedError(Message(N_("unknown submission item {item}; use one of {items}"), item=item,
                                       items=", ".join(ITEMS)))
    for item, file in items:
        e = attach_file(ledger, blob_root, case_id, ATTACHMENT_KIND[item], file, person_id=by, signer=signer,
                        now_ns=now)
        out.append(HandedIn(item=item, attachment=e.entry_hash, sha256=e.body["sha256"]))
    return out


class IncompleteSubmission(RefusedError):
    """The intake is refused: items are missing (recorded, the clock does not start)."""

    def __init__(self, message: Message, entry: Entry, missing: list[str]):
        super().__init__(message)
        self.entry = entry
        self.missing = missing


def submit(ledger: Ledger, blob_root: Path, signer: Signer, by: str, case_id: str, items: list[tuple[str, Path]],
           cal: WorkCalendar, *, now_ns: int | None = None) -> Entry:
    """Hand in a round's material (A3 Art.6–7) as case attachments; a new round after a failed one
    (A3 Art.12). Incomplete: recorded, then refused (``IncompleteSubmission``) with the missing items."""
    _opened(ledger, case_id)
    _require(ledger, signer, by, SUBMIT_ROLES, N_("review submission"))
    rv = case_review(ledger, case_id)
    if rv.classification is None:
        raise RefusedError(Message(N_("case {case_id} is not classified yet: run `bodycam review classify {case_id} "
                                      "... --record` first (A3 Art.3)"), case_id=case_id))
    latest = rv.latest
    if latest is not None:
        if latest.passed:
            raise RefusedError(Message(N_("round {round} of case {case_id} already passed the legal review"),
                                       round=latest.number, case_id=case_id))
        if not latest.concluded:
            raise RefusedError(Message(N_("round {round} of case {case_id} is still under review; hand in more with "
                                          "`bodycam review supplement {case_id} --receive`"),
                                       round=latest.number, case_id=case_id))
    number = 1 if latest is None else latest.number + 1
    now = _now(now_ns)
    handed = _hand_in(ledger, blob_root, signer, by, case_id, items, now)
    facts = rv.classification[1].facts
    missing = missing_items(facts, [h.item for h in handed])
    day = bureau_date(now)
    body = ReviewSubmission(case_id=case_id, round_no=number, classification=rv.classification[0], items=handed,
                            missing=missing, complete=not missing, calendar_source=cal.source(day.year),
                            by=by, submitted_ns=now)
    entry = _append(ledger, body, signer)
    if missing:
        raise IncompleteSubmission(Message(N_("intake of round {round} refused: missing {items} (A3 Art.7); the review "
                                              "period does not start until they arrive (`bodycam review supplement "
                                              "{case_id} --receive --item KIND=FILE`)"),
                                           round=number, case_id=case_id,
                                           items=Message.join(Message(N_(", ")), [
                                               Message("{code} ({text})", code=m, text=Message(ITEMS[m]))
                                               for m in missing])), entry, missing)
    return entry


def _open_round(rv: CaseReview) -> Round:
    r = rv.latest
    if r is None:
        raise RefusedError(Message(N_("case {case_id} was never submitted for legal review"), case_id=rv.case_id))
    if r.concluded:
        raise RefusedError(Message(N_("round {round} of case {case_id} is concluded"), round=r.number,
                                   case_id=rv.case_id))
    return r


def request_supplement(ledger: Ledger, signer: Signer, by: str, case_id: str, wanted: list[str], note: str, *,
                       now_ns: int | None = None) -> Entry:
    """A reviewer asks for more material (A3 Art.7); once the clock runs this pauses it (A3 Art.10)."""
    require_reviewer(ledger, signer, by)
    r = _open_round(case_review(ledger, case_id))
    body = ReviewSupplement(case_id=case_id, round_no=r.number, action="request", wanted=wanted or r.missing,
                            note=note, by=by, at_ns=_now(now_ns))
    return _append(ledger, body, signer)


def receive_supplement(ledger: Ledger, blob_root: Path, signer: Signer, by: str, case_id: str,
                       items: list[tuple[str, Path]], note: str = "", *, now_ns: int | None = None) -> Entry:
    """More material arrives (as case attachments); it completes an intake (the clock starts) or
    ends a supplement pause."""
    _require(ledger, signer, by, RECEIVE_ROLES, N_("supplement"))
    r = _open_round(case_review(ledger, case_id))
    now = _now(now_ns)
    handed = _hand_in(ledger, blob_root, signer, by, case_id, items, now)
    complete = not missing_items(r.facts, [i.item for i in r.items + handed])
    body = ReviewSupplement(case_id=case_id, round_no=r.number, action="receive", items=handed, complete=complete,
                            note=note, by=by, at_ns=now)
    return _append(ledger, body, signer)


def _started(r: Round, case_id: str) -> None:
    if r.received_ns is None:
        raise RefusedError(Message(N_("the review period of case {case_id} has not started: the submission is not "
                                      "complete (A3 Art.7, 10)"), case_id=case_id))


def pause(ledger: Ledger, signer: Signer, by: str, case_id: str, reason: str, note: str, cal: WorkCalendar, *,
          now_ns: int | None = None) -> Entry:
    """Stop the review clock for a supplement, an expert opinion, a consultation or an interpretation."""
    require_reviewer(ledger, signer, by)
    r = _open_round(case_review(ledger, case_id))
    _started(r, case_id)
    now = _now(now_ns)
    if r.clock_status(cal, now).state == "paused":
        raise RefusedError(Message(N_("the review clock of case {case_id} is already paused"), case_id=case_id))
    body = ReviewClock(case_id=case_id, round_no=r.number, action="pause", reason=reason, note=note,
                       calendar_source=cal.source(bureau_date(now).year), by=by, at_ns=now)
    return _append(ledger, body, signer)


def resume(ledger: Ledger, signer: Signer, by: str, case_id: str, note: str, cal: WorkCalendar, *,
           now_ns: int | None = None) -> Entry:
    require_reviewer(ledger, signer, by)
    r = _open_round(case_review(ledger, case_id))
    now = _now(now_ns)
    if r.clock_status(cal, now).state != "paused":
        raise RefusedError(Message(N_("the review clock of case {case_id} is not paused"), case_id=case_id))
    body = ReviewClock(case_id=case_id, round_no=r.number, action="resume", note=note,
                       calendar_source=cal.source(bureau_date(now).year), by=by, at_ns=now)
    return _append(ledger, body, signer)


def extend(ledger: Ledger, signer: Signer, by: str, case_id: str, cal: WorkCalendar, note: str = "", *,
           now_ns: int | None = None) -> Entry:
    """The leader in charge of legal affairs extends the period by 3 working days: once, before the
    7th working day ends (A3 Art.10)."""
    _require(ledger, signer, by, LEADER_ROLES, N_("extension"))
    r = _open_round(case_review(ledger, case_id))
    now = _now(now_ns)
    st = r.clock_status(cal, now)
    _refuse(extension_problems(st, bureau_date(now), cal))
    assert st.received is not None
    seventh = st.due if st.due is not None else bureau_date(now)
    body = ReviewClock(case_id=case_id, round_no=r.number, action="extend", due_date=seventh.isoformat(), note=note,
                       calendar_source="; ".join(st.sources), by=by, at_ns=now)
    return _append(ledger, body, signer)


def judge(ledger: Ledger, signer: Signer, by: str, case_id: str, item: int, verdict: str, note: str, *,
          now_ns: int | None = None) -> Entry:
    """A reviewer's signed judgement on one A3 Art.8 item."""
    require_reviewer(ledger, signer, by)
    r = _open_round(case_review(ledger, case_id))
    _started(r, case_id)
    if verdict != "ok" and not note.strip():
        raise RefusedError(Message(N_("a judgement other than ok says why (--note)")))
    body = ReviewJudgement(case_id=case_id, round_no=r.number, item=item, verdict=verdict, note=note, by=by,
                           at_ns=_now(now_ns))
    return _append(ledger, body, signer)


def findings_of(ledger: Ledger, blob_root: Path, case_id: str) -> list[Finding]:
    """The automatic evidence findings of ``case_id`` as the ledger and the blob store stand now."""
    rv = case_review(ledger, case_id)
    return evaluate(gather(ledger, blob_root, case_id, major=rv.major))


def conclude(ledger: Ledger, blob_root: Path, signers: list[tuple[str, Signer]], case_id: str, outcome: str,
             recommendations: str = "", *, now_ns: int | None = None) -> Entry:
    """The reviewers' conclusion (A3 Art.11), refused while its criteria are not met (a finding
    standing against "lawful", a judgement missing), signed by every reviewer named."""
    for by, signer in signers:
        require_reviewer(ledger, signer, by)
    rv = case_review(ledger, case_id)
    r = _open_round(rv)
    _started(r, case_id)
    findings = evaluate(gather(ledger, blob_root, case_id, major=rv.major))
    latest = r.latest_judgements()
    verdicts = {item: j.verdict for item, (_h, j) in latest.items()}
    _refuse(outcome_problems(outcome, findings, verdicts))
    body = ReviewOutcome(case_id=case_id, round_no=r.number, submission=r.submission[0], outcome=outcome,
                         criteria=criteria_for(outcome, findings, verdicts),
                         findings=[FindingRef(code=f.code, item=f.item, message=str(f.message),
                                              message_zh=zh(f.message), entries=list(f.entries))
                                   for f in findings],
                         judgements=[h for _i, (h, _j) in sorted(latest.items())],
                         recommendations=recommendations, reviewers=[by for by, _s in signers],
                         concluded_ns=_now(now_ns))
    return _append(ledger, body, [s for _b, s in signers])


def approve(ledger: Ledger, blob_root: Path, signer: Signer, by: str, case_id: str, cal: WorkCalendar, *,
            refuse: bool = False, note: str = "", now_ns: int | None = None,
            work_dir: Path | None = None) -> tuple[Entry, Entry | None]:
    """The leader in charge of legal affairs approves (or refuses) the latest outcome (A3 Art.11);
    an approval issues the written opinion (法制审核意见书, A3 Art.13): the PDF is stored as a case
    attachment and a ``review_opinion`` entry. Returns (approval, opinion or None)."""
    from archive.review.opinion import issue_opinion

    _require(ledger, signer, by, LEADER_ROLES, N_("review approval"))
    rv = case_review(ledger, case_id)
    r = _open_round(rv)
    out = r.outcome
    if out is None:
        raise RefusedError(Message(N_("round {round} of case {case_id} has no outcome to approve yet"),
                                   round=r.number, case_id=case_id))
    if r.approval is not None:
        raise RefusedError(Message(N_("the latest outcome of case {case_id} was already decided; the reviewers "
                                      "conclude again first"), case_id=case_id))
    now = _now(now_ns)
    body = ReviewApproval(case_id=case_id, round_no=r.number, outcome=out[0],
                          decision="refused" if refuse else "approved", note=note, by=by, at_ns=now)
    approval = _append(ledger, body, signer)
    if refuse:
        return approval, None
    opinion = issue_opinion(ledger, blob_root, signer, by, case_id, cal, now_ns=now, work_dir=work_dir)
    return approval, opinion


def opinion_body(case_id: str, round_no: int, number: str, outcome: str, approval: str, attachment: Entry, by: str,
                 now: int) -> ReviewOpinion:
    return ReviewOpinion(case_id=case_id, round_no=round_no, number=number, outcome=outcome, approval=approval,
                         attachment=attachment.entry_hash, sha256=attachment.body["sha256"], by=by, at_ns=now)
