"""The case family: cases, their activities and text records (A2 Art.2–5, 7, 14), and what a case is
kept as (A2 Art.10: long-term for five reasons)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ledger.records.base import Body, Ident, NonNeg, Ns, Reason, Sha256Hex, Text


class CaseFlag(Body):
    """A case whose footage must be kept long-term, with the A2 Art.10 item (1–5) that requires it.
    Every segment of the case inherits the retention class; nothing un-flags a case."""

    kind: Literal["case_flag"] = "case_flag"
    case_id: Ident
    retention: Literal["long_term"] = "long_term"
    reason: Reason
    by: Ident = Field(description="person id of who flagged the case")
    note: Text = ""
    flagged_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


# --- cases and activities (A2 Art.2–5, 7, 14) ---------------------------------------------------

CaseType = Literal["penalty", "coercion", "inspection", "licensing", "collection", "other"]
# What Chinese documents call each type (the custody record, the portal): 行政处罚, 行政强制, ….
CASE_TYPE_NAMES = {"penalty": "行政处罚", "coercion": "行政强制", "inspection": "行政检查", "licensing": "行政许可",
                   "collection": "行政征收", "other": "其他"}
#: A2 Art.5: the activities that are recorded on site.
ActivityType = Literal["complaint_report", "inspection", "investigation", "coercive_measure",
                       "evidence_preservation", "sampling", "other"]
#: A2 Art.2: the text records of a case.
AttachmentKind = Literal["notice", "evidence_form", "hearing_record", "approval", "service_receipt", "other"]
_Short = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class CaseOpen(Body):
    """A case opened at the archive: its title, handling unit, type and the officers who handle it
    (A2 Art.14: each with an enforcement certificate valid when the case is opened)."""

    kind: Literal["case_open"] = "case_open"
    case_id: Ident
    title: _Short
    unit: _Short
    case_type: CaseType
    officers: list[Ident] = Field(min_length=1)
    opened_ns: Ns
    by: Ident = Field(description="person id of who opened the case")

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class CaseClose(Body):
    """A case closed at the archive: from then on all its footage is due at the archive, and
    footage of its activities not handed in within the supervision limit is reported (A2 Art.20–22)."""

    kind: Literal["case_close"] = "case_close"
    case_id: Ident
    closed_ns: Ns
    by: Ident = Field(description="person id of who closed the case")
    note: Text = ""

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class Activity(Body):
    """One law-enforcement activity of a case (A2 Art.5 type), where and when, by which officers, and
    when the party was told it is being recorded (A2 Art.7)."""

    kind: Literal["activity"] = "activity"
    activity: Ident
    case_id: Ident
    activity_type: ActivityType
    place: _Short
    start_ns: Ns
    end_ns: Ns
    officers: list[Ident] = Field(min_length=1)
    party_notified_ns: Ns | None = None
    by: Ident = Field(description="person id of who recorded the activity")

    @model_validator(mode="after")
    def _times(self) -> Activity:
        if self.end_ns < self.start_ns:
            raise ValueError("end_ns is before start_ns")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}


class Attachment(Body):
    """A text record of a case (A2 Art.2: notice, evidence form, hearing record, approval, service
    receipt), a PDF or image file stored content-addressed like footage and signed by who attached it."""

    kind: Literal["attachment"] = "attachment"
    case_id: Ident
    attachment_kind: AttachmentKind
    sha256: Sha256Hex
    size: NonNeg
    media_type: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    file_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    attached_ns: Ns
    by: Ident = Field(description="person id of who attached the file")

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}
