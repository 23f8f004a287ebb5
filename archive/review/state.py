"""Where a case's review stands, read from the ledger: its classification and its rounds (A3 Art.12:
a failed review is resubmitted as a new round; earlier rounds stay), each with its intake,
supplements, clock events, judgements, outcome, approval and opinion.

Also the pure intake rule (A3 Art.7): which items a submission must hold, and what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.review.clock import ClockEvent, ClockStatus, bureau_date, clock_status
from archive.workdays import WorkCalendar
from bodycam.i18n import N_
from ledger.records.review import (
    CaseFacts,
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

#: A3 Art.7 items (1)–(6).
ITEMS: dict[str, str] = {
    "draft_decision": N_("draft decision"),
    "investigation_report": N_("investigation report, approvals and procedural material"),
    "facts_evidence_basis": N_("facts, evidence and legal basis"),
    "hearing_record": N_("hearing record or report, evaluation or expert opinion"),
    "opinions": N_("opinions gathered"),
    "other": N_("other material"),
}
#: Where each item is kept among a case's text records (A2 Art.2 attachment kinds).
ATTACHMENT_KIND = {"draft_decision": "other", "investigation_report": "approval", "facts_evidence_basis":
                   "evidence_form", "hearing_record": "hearing_record", "opinions": "other", "other": "other"}


def required_items(facts: CaseFacts) -> list[str]:
    """The A3 Art.7 items a submission must hold: (1)–(3) always, (4) after a hearing, (5) when
    opinions had to be gathered."""
    out = ["draft_decision", "investigation_report", "facts_evidence_basis"]
    if facts.hearing:
        out.append("hearing_record")
    if facts.opinions_sought:
        out.append("opinions")
    return out


def missing_items(facts: CaseFacts, handed_in: list[str]) -> list[str]:
    return [i for i in required_items(facts) if i not in handed_in]


@dataclass
class Round:
    number: int
    submission: tuple[str, ReviewSubmission]
    facts: CaseFacts
    items: list[HandedIn] = field(default_factory=list)
    supplements: list[tuple[str, ReviewSupplement]] = field(default_factory=list)
    clock: list[tuple[str, ReviewClock]] = field(default_factory=list)
    judgements: list[tuple[str, ReviewJudgement]] = field(default_factory=list)
    outcomes: list[tuple[str, ReviewOutcome]] = field(default_factory=list)
    approvals: list[tuple[str, ReviewApproval]] = field(default_factory=list)
    opinion: tuple[str, ReviewOpinion] | None = None
    received_ns: int | None = None

    @property
    def missing(self) -> list[str]:
        return missing_items(self.facts, [i.item for i in self.items])

    @property
    def outcome(self) -> tuple[str, ReviewOutcome] | None:
        return self.outcomes[-1] if self.outcomes else None

    @property
    def approval(self) -> tuple[str, ReviewApproval] | None:
        """The leader's approval of the latest outcome, if any."""
        out = self.outcome
        if out is None:
            return None
        mine = [a for a in self.approvals if a[1].outcome == out[0]]
        return mine[-1] if mine else None

    @property
    def concluded(self) -> bool:
        """An outcome approved by the leader ends the round."""
        a = self.approval
        return a is not None and a[1].decision == "approved"

    @property
    def passed(self) -> bool:
        """A3 Art.12: passed = concluded "lawful", approved by the legal-affairs leader."""
        out = self.outcome
        return self.concluded and out is not None and out[1].outcome == "lawful"

    def latest_judgements(self) -> dict[int, tuple[str, ReviewJudgement]]:
        out: dict[int, tuple[str, ReviewJudgement]] = {}
        for h, j in self.judgements:
            out[j.item] = (h, j)
        return out

    def clock_events(self) -> list[ClockEvent]:
        """Pauses, resumptions and the extension, in ledger order; after complete receipt a supplement
        request pauses the clock (reason: supplement) and the arrival resumes it (A3 Art.10)."""
        evs: list[tuple[int, ClockEvent]] = []
        for h, c in self.clock:
            evs.append((c.at_ns, ClockEvent(c.action, bureau_date(c.at_ns), c.reason, h)))
        if self.received_ns is not None:
            for h, s in self.supplements:
                if s.at_ns <= self.received_ns:
                    continue
                action = "pause" if s.action == "request" else "resume"
                evs.append((s.at_ns, ClockEvent(action, bureau_date(s.at_ns), "supplement", h)))
        return [e for _t, e in sorted(evs, key=lambda x: x[0])]

    def clock_status(self, cal: WorkCalendar, now_ns: int) -> ClockStatus:
        received = bureau_date(self.received_ns) if self.received_ns is not None else None
        concluded = None
        if self.concluded:
            out = self.outcome
            assert out is not None
            concluded = bureau_date(out[1].concluded_ns)
        return clock_status(received, self.clock_events(), bureau_date(now_ns), cal, concluded)


@dataclass
class CaseReview:
    case_id: str
    classification: tuple[str, ReviewClassification] | None
    rounds: list[Round]

    @property
    def major(self) -> bool:
        return self.classification is not None and self.classification[1].major

    @property
    def latest(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None


def case_review(ledger: Ledger, case_id: str) -> CaseReview:
    """The classification and every round of ``case_id``, from the ledger; a record counts only if
    it is signed by who may make it (``ledger.checks.review.signature_problems``, the rule ``ledger
    verify`` applies)."""
    from ledger.checks.review import signature_problems
    from ledger.gapstate import enrollments
    from ledger.people import valid_signers

    keyring = ledger.keyring()
    enrolled = enrollments(ledger)

    def _of(kind: str, case: str) -> list[Entry]:
        return [e for e in ledger.entries(kind=kind, case_id=case)
                if not signature_problems(e.record, valid_signers(e.envelope, keyring), enrolled)]

    classes = _of("review_classification", case_id)
    classification = (classes[-1].entry_hash, classes[-1].record) if classes else None
    by_class = {e.entry_hash: e.record for e in classes}
    rounds: dict[int, Round] = {}
    for e in _of("review_submission", case_id):
        sub = e.record
        assert isinstance(sub, ReviewSubmission)
        cls = by_class.get(sub.classification)
        facts = cls.facts if cls is not None else CaseFacts()
        r = Round(sub.round_no, (e.entry_hash, sub), facts, items=list(sub.items))
        if sub.complete:
            r.received_ns = sub.submitted_ns
        rounds[sub.round_no] = r
    for e in _of("review_supplement", case_id):
        s = e.record
        r = rounds.get(s.round_no)
        if r is None:
            continue
        r.supplements.append((e.entry_hash, s))
        if s.action == "receive":
            r.items += s.items
            if r.received_ns is None and not r.missing:
                r.received_ns = s.at_ns
    for kind, attr in (("review_clock", "clock"), ("review_judgement", "judgements"), ("review_outcome", "outcomes"),
                       ("review_approval", "approvals")):
        for e in _of(kind, case_id):
            r = rounds.get(e.record.round_no)
            if r is not None:
                getattr(r, attr).append((e.entry_hash, e.record))
    for e in _of("review_opinion", case_id):
        r = rounds.get(e.record.round_no)
        if r is not None:
            r.opinion = (e.entry_hash, e.record)
    return CaseReview(case_id, classification, [rounds[n] for n in sorted(rounds)])
