"""Record kinds that close a gap or keep a case: the supervisor's review, technical faults, long-term
cases (A2 Art.8, 10, 11).

An approval is its own record referencing the justification's entry hash rather than a second
signature on the justification envelope: the ledger is append-only and deduplicates by envelope
hash, so a countersigned copy would be a second entry with the same body and "which one counts"
would have to be decided by every reader. A separate record keeps one fact per entry and says
who reviewed, when and with what decision. A technical fault (A2 Art.8: battery died, card full)
is a different claim from a decision to stop (A2 Art.11), so it has its own kind with a cause
instead of abusing a reason code.

Imported at the end of ``ledger.records`` so that these kinds are known wherever bodies are
validated (dock, sync, archive).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ledger.records import Body, Ident, Ns, Sha256Hex, Text, register

Reason = Annotated[int, Field(ge=1, le=5)]
FaultCause = Literal["battery", "storage", "device_fault", "other"]
FAULT_CAUSES: tuple[str, ...] = ("battery", "storage", "device_fault", "other")


@register
class StopApproval(Body):
    """The supervising leader's review of a stop justification or a fault record (A2 Art.11)."""

    kind: Literal["stop_approval"] = "stop_approval"
    target: Sha256Hex = Field(description="entry hash of the stop_justification or gap_fault reviewed")
    target_kind: Literal["stop_justification", "gap_fault"]
    gap: Sha256Hex = Field(description="entry hash of the gap the reviewed record explains")
    supervisor_id: Ident
    decision: Literal["approved", "rejected"] = "approved"
    note: Text = ""
    reviewed_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.supervisor_id, "ref": self.target}


@register
class GapFault(Body):
    """A gap caused by a technical fault rather than a decision to stop (A2 Art.8), recorded by the
    officer who carried the recorder."""

    kind: Literal["gap_fault"] = "gap_fault"
    gap: Sha256Hex
    device_id: Ident
    after_seq: Annotated[int, Field(ge=0)] | None = None
    before_seq: Annotated[int, Field(ge=0)] | None = None
    start_ns: Ns | None = None
    end_ns: Ns | None = None
    cause: FaultCause
    officer_id: Ident
    note: Text

    @model_validator(mode="after")
    def _note(self) -> GapFault:
        if not self.note.strip():
            raise ValueError("note (what failed and when) must not be empty (A2 Art.8)")
        return self

    def ledger_index(self) -> dict:
        return {"ref": self.gap}


@register
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


def attachment_hashes(body: dict) -> list[str]:
    """SHA-256 of the files a record's body names besides itself (a requester's signature image),
    which must travel with it to the archive (the sync uploads them as blobs)."""
    if body.get("kind") == "stop_justification":
        sha = (body.get("requester") or {}).get("signature_image_sha256")
        return [sha] if sha else []
    return []
