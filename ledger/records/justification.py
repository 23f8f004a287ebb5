"""The justification family: why recording stopped, the supervisor's review, technical faults
(A2 Art.8, 11).

An approval is its own record referencing the justification's entry hash rather than a second
signature on the justification envelope: the ledger is append-only and deduplicates by envelope
hash, so a countersigned copy would be a second entry with the same body and "which one counts"
would have to be decided by every reader. A separate record keeps one fact per entry and says
who reviewed, when and with what decision. A technical fault (A2 Art.8: battery died, card full)
is a different claim from a decision to stop (A2 Art.11), so it has its own kind with a cause
instead of abusing a reason code.

Imported at the end of ``ledger.records`` so that these kinds are known wherever bodies are
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ledger.records.base import Body, Ident, NonNeg, Ns, Part, Sha256Hex, Text

FaultCause = Literal["battery", "storage", "device_fault", "other"]
FAULT_CAUSES: tuple[str, ...] = ("battery", "storage", "device_fault", "other")


# --- stop-recording justification (A2 Art.11) ----------------------------------------------------


class Requester(Part):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    signature_image_sha256: Sha256Hex | None = None
    keyid: Sha256Hex | None = None


class StopJustification(Body):
    """Why recording stopped (reason 1–5, A2 Art.11), signed by the officer; the supervisor's
    approval is a separate ``stop_approval`` record (the log keeps one entry per body).
    Reasons 1 and 3 need the requester's signature or seal. A gap has one standing explanation:
    a second justification names the one it replaces in ``supersedes`` (optional, so ledgers
    written before it existed stay valid)."""

    kind: Literal["stop_justification"] = "stop_justification"
    gap: Sha256Hex = Field(description="entry hash of the gap record this explains")
    device_id: Ident
    after_seq: NonNeg | None = None
    before_seq: NonNeg | None = None
    start_ns: Ns | None = None
    end_ns: Ns | None = None
    reason: Annotated[int, Field(ge=1, le=5)]
    officer_id: Ident
    note: Text
    basis: Text | None = None
    requester: Requester | None = None
    technical_fault: bool = False
    supersedes: Sha256Hex | None = Field(
        default=None, description="entry hash of the earlier justification or fault of the same gap this replaces "
                                  "(absent: the gap has no other explanation still standing)")

    @model_validator(mode="after")
    def _requester(self) -> StopJustification:
        signed = self.requester is not None and bool(self.requester.signature_image_sha256 or self.requester.keyid)
        if self.reason in (1, 3) and not self.technical_fault and not signed:
            raise ValueError(
                f"reason {self.reason} needs the requester's signature or seal "
                "(signature_image_sha256 or keyid) (A2 Art.11)"
            )
        if not self.note.strip():
            raise ValueError("note (the officer's work record) must not be empty (A2 Art.11)")
        return self


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


def attachment_hashes(body: dict) -> list[str]:
    """SHA-256 of the files a record's body names besides itself (a requester's signature image, a
    case's attached text record),
    which must travel with it to the archive (the sync uploads them as blobs)."""
    if body.get("kind") == "stop_justification":
        sha = (body.get("requester") or {}).get("signature_image_sha256")
        return [sha] if sha else []
    if body.get("kind") == "attachment":  # a case's text record (A2 Art.2)
        return [body["sha256"]] if body.get("sha256") else []
    return []
