"""The retention family: footage purged once its time is over, and legal holds (A2 Art.9, 10, 16).

A ``retention`` entry records that the bytes of one blob were removed because every segment that
refers to it had expired; the hash, the segment entries and the reason stay in the ledger for ever.
The archive appends it *before* it removes the blob, so a crash leaves a purge to finish, never a
blob gone without a record. ``archive verify`` reads ``sha256`` to report such a blob as purged,
not missing.

A ``legal_hold`` keeps every segment of a case, whatever its age, from ``add`` until a matching
``release``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ledger.records.base import Body, Ident, NonNeg, Ns, Sha256Hex, Text

_Why = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class Retention(Body):
    """One blob purged: its hash, the segment entries that referred to it, the rule that released
    it and who ran the purge (the archive's log key, ``by`` = its subject id, or an archivist)."""

    kind: Literal["retention"] = "retention"
    sha256: Sha256Hex = Field(description="hash of the purged blob (the segment's media.sha256)")
    segments: list[Sha256Hex] = Field(min_length=1, description="entry hashes of the segments of this blob")
    device_id: Ident | None = None
    case_id: Ident | None = None
    rule: Literal["expired"] = "expired"
    reason: Text = ""
    retention_days: NonNeg
    purged_ns: Ns
    by: Ident = Field(description="subject id of the archive log key, or person id of an archivist")

    def ledger_index(self) -> dict:
        return {"ref": self.sha256}


class LegalHold(Body):
    """A legal hold on a case (``add``) or its end (``release``), by an enrolled person."""

    kind: Literal["legal_hold"] = "legal_hold"
    case_id: Ident
    action: Literal["add", "release"]
    reason: _Why
    by: Ident = Field(description="person id of who placed or released the hold")
    at_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}
