"""The review family: legal review of major enforcement decisions (A3).

Every act of a review is its own signed entry in the archive ledger, so that "was this decision
reviewed, by whom, on what evidence, within the time allowed" is read from the ledger like the
footage itself:

- ``review_catalogue``: a version of the catalogue of major decisions (A3 Art.3(6)), recorded the
  first time a classification uses it;
- ``review_classification``: the facts of a proposed decision and the A3 Art.3 criteria they meet;
- ``review_submission``: one round's intake (A3 Art.6–7): the items handed in as case attachments
  and the items still missing (an incomplete intake is refused and starts no clock);
- ``review_supplement``: a request for more material, or its arrival (A3 Art.7, 10);
- ``review_clock``: a pause, a resumption or the one extension of the review period (A3 Art.10);
- ``review_judgement``: a reviewer's signed judgement on one A3 Art.8 item;
- ``review_outcome``: the conclusion (A3 Art.11) with its criteria and findings;
- ``review_approval``: the legal-affairs leader's approval of an outcome (A3 Art.11);
- ``review_opinion``: the written opinion (法制审核意见书, A3 Art.13), a PDF stored as a case attachment.

A decision of a major case is then gated on a passed review of its latest round (A3 Art.5).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ledger.records.base import Body, Ident, NonNeg, Ns, Part, Sha256Hex, Text

_Short = Annotated[str, StringConstraints(min_length=1, max_length=256)]
_Date = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Round = Annotated[int, Field(ge=1, le=1000)]
Art8Item = Annotated[int, Field(ge=1, le=7)]
Criterion = Annotated[int, Field(ge=1, le=6)]

#: A3 Art.7 items a submission hands in.
SubmissionItem = Literal["draft_decision", "investigation_report", "facts_evidence_basis", "hearing_record",
                         "opinions", "other"]
PauseReason = Literal["supplement", "expert", "consultation", "interpretation"]
Outcome = Literal["lawful", "correct", "reinvestigate", "transfer"]
Verdict = Literal["ok", "flawed", "failed"]
PartyKind = Literal["individual", "organisation"]


class CatalogueItem(Part):
    code: Ident
    label: _Short
    criterion: Criterion


class FineThreshold(Part):
    party_kind: PartyKind
    yuan: NonNeg


class ReviewCatalogue(Body):
    """One version of the catalogue of major decisions (A3 Art.3(6): kept by the policy section and
    updated as needed), identified by the SHA-256 of its canonical content."""

    kind: Literal["review_catalogue"] = "review_catalogue"
    sha256: Sha256Hex
    source: Text = Field(default="", description="where it came from (the configured file, or built in)")
    items: list[CatalogueItem] = Field(max_length=500)
    fines: list[FineThreshold] = Field(max_length=10)
    by: Ident
    set_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class CaseFacts(Part):
    """What the proposed decision does, as far as A3 Art.3 asks."""

    measures: list[Ident] = Field(default=[], max_length=50, description="catalogue codes of the measures")
    fine_yuan: NonNeg | None = None
    party_kind: PartyKind | None = None
    hearing: bool = False
    public_interest: Text = ""
    legal_relations: Text = ""
    transfer: Literal["police", "judiciary"] | None = None
    opinions_sought: bool = False


class CriterionMet(Part):
    criterion: Criterion
    why: Text
    why_zh: Text = Field(default="", description="the same in Chinese, as the opinion shows it")


class ReviewClassification(Body):
    """The facts of a case's proposed decision and the A3 Art.3 criteria they meet (major or not)."""

    kind: Literal["review_classification"] = "review_classification"
    case_id: Ident
    facts: CaseFacts
    criteria: list[CriterionMet] = Field(max_length=50)
    major: bool
    catalogue: Sha256Hex = Field(description="entry hash of the review_catalogue used")
    by: Ident
    classified_ns: Ns

    @model_validator(mode="after")
    def _major(self) -> ReviewClassification:
        if self.major != bool(self.criteria):
            raise ValueError("major must be true exactly when a criterion is met (A3 Art.3)")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.catalogue}


class HandedIn(Part):
    """One A3 Art.7 item handed in: the case attachment holding it."""

    item: SubmissionItem
    attachment: Sha256Hex = Field(description="entry hash of the attachment")
    sha256: Sha256Hex


class ReviewSubmission(Body):
    """One round's intake (A3 Art.6–7): what was handed in and what is missing. ``complete`` false:
    the intake is refused and no clock starts until a supplement completes it."""

    kind: Literal["review_submission"] = "review_submission"
    case_id: Ident
    round_no: Round
    classification: Sha256Hex
    items: list[HandedIn] = Field(max_length=100)
    missing: list[SubmissionItem] = Field(max_length=6)
    complete: bool
    calendar_source: Text = ""
    by: Ident
    submitted_ns: Ns

    @model_validator(mode="after")
    def _complete(self) -> ReviewSubmission:
        if self.complete == bool(self.missing):
            raise ValueError("complete must be true exactly when nothing is missing (A3 Art.7)")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.classification}


class ReviewSupplement(Body):
    """A request for more material (reviewer) or its arrival (A3 Art.7, 10)."""

    kind: Literal["review_supplement"] = "review_supplement"
    case_id: Ident
    round_no: Round
    action: Literal["request", "receive"]
    wanted: list[SubmissionItem] = Field(default=[], max_length=6)
    items: list[HandedIn] = Field(default=[], max_length=100)
    complete: bool = Field(default=False, description="a receipt after which nothing is missing")
    note: Text = ""
    by: Ident
    at_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class ReviewClock(Body):
    """A pause (supplement, expert, consultation, interpretation), a resumption, or the one
    extension by the leader in charge of legal affairs (A3 Art.10)."""

    kind: Literal["review_clock"] = "review_clock"
    case_id: Ident
    round_no: Round
    action: Literal["pause", "resume", "extend"]
    reason: PauseReason | None = None
    due_date: _Date | None = Field(default=None, description="extend: the due date it was granted before")
    calendar_source: Text = ""
    note: Text = ""
    by: Ident
    at_ns: Ns

    @model_validator(mode="after")
    def _fields(self) -> ReviewClock:
        if (self.action == "pause") != (self.reason is not None):
            raise ValueError("a pause, and only a pause, names its reason (A3 Art.10)")
        if (self.action == "extend") != (self.due_date is not None):
            raise ValueError("an extension, and only an extension, names the due date it was granted before")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class ReviewJudgement(Body):
    """A reviewer's judgement on one A3 Art.8 item (1 body, jurisdiction and officers; 2 facts and
    evidence; 3 legal basis; 4 discretion; 5 procedure; 6 crime to transfer; 7 other)."""

    kind: Literal["review_judgement"] = "review_judgement"
    case_id: Ident
    round_no: Round
    item: Art8Item
    verdict: Verdict
    note: Text
    by: Ident
    at_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class FindingRef(Part):
    """A finding as the outcome records it: its code, A3 Art.8 item, message and entries."""

    code: Ident
    item: Art8Item
    message: Text
    message_zh: Text = Field(default="", description="the same in Chinese, as the opinion shows it")
    entries: list[Sha256Hex] = Field(max_length=1000)


class ReviewOutcome(Body):
    """The conclusion of a round (A3 Art.11) with the criteria behind it, the findings and judgements
    it rests on, signed by every reviewer it names."""

    kind: Literal["review_outcome"] = "review_outcome"
    case_id: Ident
    round_no: Round
    submission: Sha256Hex
    outcome: Outcome
    criteria: list[_Short] = Field(max_length=20)
    findings: list[FindingRef] = Field(max_length=1000)
    judgements: list[Sha256Hex] = Field(max_length=100)
    recommendations: Text = ""
    reviewers: list[Ident] = Field(min_length=1, max_length=10)
    concluded_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.reviewers[0], "ref": self.submission}


class ReviewApproval(Body):
    """The legal-affairs leader's approval (or refusal) of an outcome (A3 Art.11)."""

    kind: Literal["review_approval"] = "review_approval"
    case_id: Ident
    round_no: Round
    outcome: Sha256Hex = Field(description="entry hash of the review_outcome")
    decision: Literal["approved", "refused"]
    note: Text = ""
    by: Ident
    at_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.outcome}


class ReviewOpinion(Body):
    """The written opinion (法制审核意见书, A3 Art.13): the PDF stored as a case attachment."""

    kind: Literal["review_opinion"] = "review_opinion"
    case_id: Ident
    round_no: Round
    number: _Short
    outcome: Sha256Hex
    approval: Sha256Hex
    attachment: Sha256Hex = Field(description="entry hash of the attachment holding the PDF")
    sha256: Sha256Hex
    by: Ident
    at_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.outcome}


REVIEW_KINDS: tuple[type[Body], ...] = (ReviewCatalogue, ReviewClassification, ReviewSubmission, ReviewSupplement,
                                        ReviewClock, ReviewJudgement, ReviewOutcome, ReviewApproval, ReviewOpinion)
