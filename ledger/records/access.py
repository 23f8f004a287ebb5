"""The access family: who asked to see footage, who approved it, who saw it (A2 Art.17–19).

A request names its scope (one case or one segment), the outside requester, their body and their
reason; the bureau head's decision is its own record referencing the request's entry hash, and
every view or refused attempt is an ``access`` entry of its own, so that "who saw what, why, when,
approved by whom" is read from the ledger like the footage itself. A ``secrecy`` record gives a
case or a segment a secrecy level (A2 Art.19); a grant must then name that level.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ledger.records.base import Body, Ident, Ns, Sha256Hex, Text

SecrecyLevel = Literal["confidential", "secret", "top_secret"]
SECRECY_LEVELS: tuple[str, ...] = ("confidential", "secret", "top_secret")
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def _one_scope(case_id: str | None, segment: str | None, what: str) -> None:
    if (case_id is None) == (segment is None):
        raise ValueError(f"a {what} names exactly one of case_id or segment")


class AccessRequest(Body):
    """An outside body's request to view footage, registered by the archivist (A2 Art.18)."""

    kind: Literal["access_request"] = "access_request"
    case_id: Ident | None = None
    segment: Sha256Hex | None = Field(default=None, description="entry hash of the one segment asked for")
    requester: Name
    org: Name
    reason: Text
    until_ns: Ns | None = Field(default=None, description="the request expires after this (absent: no end)")
    by: Ident = Field(description="person id of the archivist who registered the request")
    requested_ns: Ns

    @model_validator(mode="after")
    def _check(self) -> AccessRequest:
        _one_scope(self.case_id, self.segment, "request")
        if not self.reason.strip():
            raise ValueError("reason must not be empty (A2 Art.18)")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.segment}


class AccessGrant(Body):
    """The bureau head's decision on an access request (A2 Art.17–18), naming the secrecy levels
    it covers (A2 Art.19)."""

    kind: Literal["access_grant"] = "access_grant"
    request: Sha256Hex = Field(description="entry hash of the access_request decided")
    head_id: Ident
    decision: Literal["approved", "refused"] = "approved"
    levels: list[SecrecyLevel] = []
    until_ns: Ns | None = None
    note: Text = ""
    decided_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.head_id, "ref": self.request}


class Access(Body):
    """One view of a segment, or one refused attempt, with the policy's reasons (A2 Art.18)."""

    kind: Literal["access"] = "access"
    request: Sha256Hex | None = Field(default=None, description="entry hash of the request shown (absent: none "
                                                                 "that the ledger holds)")
    segment: Sha256Hex | None = Field(default=None, description="entry hash of the segment (absent: not found)")
    sha256: Sha256Hex | None = None
    case_id: Ident | None = None
    outcome: Literal["viewed", "refused"]
    purpose: Literal["contact_sheet", "export"] | None = Field(
        default=None, description="what the footage was handed out as (absent: a copy of the footage itself); "
                                  "every form of access is logged in this one kind (A2 Art.18)")
    reasons: list[Text] = []
    by: Ident
    out_name: Annotated[str, StringConstraints(max_length=255)] = ""
    accessed_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.segment}


class Secrecy(Body):
    """A secrecy level on a case or a segment (A2 Art.19); it only ever adds a level."""

    kind: Literal["secrecy"] = "secrecy"
    case_id: Ident | None = None
    segment: Sha256Hex | None = None
    level: SecrecyLevel
    by: Ident
    note: Text = ""
    set_ns: Ns

    @model_validator(mode="after")
    def _check(self) -> Secrecy:
        _one_scope(self.case_id, self.segment, "secrecy level")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.segment}
