"""The custody family: who holds which key, what the clock said, what was recorded, where it
stops, who docked it (A2 Art.8, 12–15).

Enrollments admit keys (entry 0 is the ledger owner's self-signed root); calibrations record
every clock measurement and set; segments are the footage, chained per recorder; gaps are what
continuity analysis found between them; dock sessions say who handed a recorder in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ledger.records.base import Body, Ident, NonNeg, Ns, Part, Rational, Role, Sha256Hex, Text, _activity_required

# --- enrollment -------------------------------------------------------------------------------

SubjectType = Literal["ledger_root", "dock", "device", "person", "archive_log"]


class Enrollment(Body):
    """A public key admitted to this ledger. Entry 0 is the ledger owner's self-signed root;
    later enrollments must be signed by an already enrolled key. Devices name a custodian
    officer (A2 Art.12)."""

    kind: Literal["enrollment"] = "enrollment"
    subject_type: SubjectType
    subject_id: Ident
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    keyid: Sha256Hex
    role: Role | None = None
    custodian: Ident | None = None
    profile: Ident | None = None
    serial: Annotated[str, StringConstraints(max_length=128)] | None = None
    name: Annotated[str, StringConstraints(max_length=256)] | None = None
    unit: Annotated[str, StringConstraints(max_length=256)] | None = None
    certificate_no: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="a person's enforcement certificate number (A2 Art.14)")
    legal_qualification_no: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="a reviewer's legal professional qualification certificate number (法律职业资格, "
                                  "行政处罚法 Art.58; A3 Art.8)")
    valid_from_ns: Ns | None = None
    valid_until_ns: Ns | None = None
    enrolled_ns: Ns

    @model_validator(mode="after")
    def _consistent(self) -> Enrollment:
        try:
            raw = base64.b64decode(self.public_key, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("public_key is not base64") from None
        if len(raw) != 32:
            raise ValueError("public_key must be a raw 32-byte Ed25519 key")
        if hashlib.sha256(raw).hexdigest() != self.keyid:
            raise ValueError("keyid is not the SHA-256 of public_key")
        if self.subject_type == "person" and self.role is None:
            raise ValueError("a person enrollment needs a role")
        if self.subject_type != "person" and self.role is not None:
            raise ValueError("only persons have a role")
        return self


class Revocation(Body):
    """A key withdrawn from this ledger: entries after this one may not rely on its signature.
    Signed by who enrolled it (the enrollment's signer), so only the party that vouched for a key
    can withdraw it; rotating a key is a revocation followed by the enrollment of a new key (a
    key is enrolled once per ledger, even after its revocation)."""

    kind: Literal["revocation"] = "revocation"
    keyid: Sha256Hex
    subject_type: SubjectType
    subject_id: Ident
    reason: Text
    revoked_ns: Ns


class Handover(Body):
    """A recorder let go by the dock that holds it, to another dock (or to a new key on the same
    dock): its chain ends at ``last_seq`` and the next enrollment of ``device_id`` by ``to_dock``
    starts a new one. Signed by the owning dock, or by an archive administrator when that dock
    is lost or stolen."""

    kind: Literal["handover"] = "handover"
    device_id: Ident
    keyid: Sha256Hex = Field(description="the recorder key whose chain ends here")
    from_dock: Ident
    to_dock: Ident
    last_seq: Annotated[int, Field(ge=-1)] = Field(description="last segment of the ended chain; -1: none")
    reason: Text
    handed_ns: Ns


# --- calibration (A2 Art.13) --------------------------------------------------------------------


class ServerSample(Part):
    server: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    offset_us: int | None = None
    delay_us: int | None = None
    stratum: int | None = None
    reachable: bool | None = None
    error: Text | None = None


class Reference(Part):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] = Field(
        description="ntp, system (the OS's synchronised state), gps, ..."
    )
    servers: list[ServerSample] = []
    synchronised: bool | None = None
    uncertainty_us: NonNeg | None = None


class Calibration(Body):
    """One attempt to arm a recorder: its clock offset before and after setting it, against
    which reference, with what uncertainty; ``refused`` attempts are recorded too."""

    kind: Literal["calibration"] = "calibration"
    device_id: Ident
    dock_id: Ident | None = None
    profile: Ident | None = None
    reference: Reference
    device_time: Annotated[str, StringConstraints(max_length=64)] | None = None
    offset_before_us: int | None = None
    offset_after_us: int | None = None
    uncertainty_us: NonNeg
    tolerance_us: NonNeg
    drift_ppb: int | None = None
    samples: NonNeg | None = None
    clock_set: bool = False
    battery_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    storage_free_bytes: NonNeg | None = None
    result: Literal["passed", "refused"]
    reasons: list[Text] = []
    measured_ns: Ns

    @model_validator(mode="after")
    def _reasons(self) -> Calibration:
        if self.result == "refused" and not self.reasons:
            raise ValueError("a refused calibration must give its reasons")
        return self


# --- segment (A2 Art.8, 15) ---------------------------------------------------------------------


class Media(Part):
    sha256: Sha256Hex
    size: NonNeg
    container: Annotated[str, StringConstraints(max_length=64)]
    codec: Annotated[str, StringConstraints(max_length=64)]
    width: NonNeg
    height: NonNeg
    fps: Rational | None = Field(default=None, description='frame rate as "30", "30000/1001"; no floats')
    frames: NonNeg | None = None
    duration_ms: NonNeg


class Segment(Body):
    """One recorded file, hash-chained per device (``seq`` +1, ``prev`` = previous segment's
    entry hash, the device's enrollment hash for the first) so that deletions, insertions
    and edits show (A2 Art.8)."""

    kind: Literal["segment"] = "segment"
    device_id: Ident
    seq: NonNeg
    prev: Sha256Hex
    media: Media
    device_start: Annotated[str, StringConstraints(max_length=64)]
    start_ns: Ns
    end_ns: Ns
    calibration: Sha256Hex | None = None
    officer_id: Ident
    case_id: Ident | None = None
    activity: Ident | None = None
    unit: Annotated[str, StringConstraints(max_length=256)] | None = None
    source_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    decodable: bool
    flags: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]] = []
    dock_session: Ident | None = None
    thumbnail_sha256: Sha256Hex | None = None
    time_corrected: bool = False
    time_uncertainty_ms: NonNeg | None = Field(
        default=None, description="± bound on the corrected start_ns/end_ns, from the recorder's clock history "
        "(absent: not stated); flag time_uncertain: that history cannot say which offset was in force")

    @model_validator(mode="after")
    def _check(self) -> Segment:
        _activity_required(self.case_id, self.activity, "segment")
        if self.end_ns < self.start_ns:
            raise ValueError("end_ns is before start_ns")
        return self


# --- gap (A2 Art.8, 11) -------------------------------------------------------------------------

GapType = Literal["gap", "overlap", "missing_seq", "duplicate", "altered", "out_of_order"]


class Gap(Body):
    """A continuity finding between two segments of one device. (Named ``gap_type`` because
    ``kind`` is the record kind.)"""

    kind: Literal["gap"] = "gap"
    gap_type: GapType
    device_id: Ident
    after_seq: NonNeg | None = None
    before_seq: NonNeg | None = None
    start_ns: Ns | None = None
    end_ns: Ns | None = None
    officer_id: Ident | None = None
    case_id: Ident | None = None
    activity: Ident | None = None
    segments: list[Sha256Hex] = []
    needs_justification: bool = True
    detail: Text = ""



# --- dock session (A2 Art.14) --------------------------------------------------------------------


class DockSession(Body):
    """A recorder docked by an officer: who handed it in, for which case or activity."""

    kind: Literal["dock_session"] = "dock_session"
    session_id: Ident
    dock_id: Ident
    device_id: Ident
    officer_id: Ident
    case_id: Ident | None = None
    activity: Ident | None = None
    started_ns: Ns
    ended_ns: Ns | None = None
    status: Literal["open", "completed", "aborted", "failed"]
    files: NonNeg | None = None
    detail: Text | None = None

    @model_validator(mode="after")
    def _check(self) -> DockSession:
        if self.ended_ns is not None and self.ended_ns < self.started_ns:
            raise ValueError("ended_ns is before started_ns")
        return self
