"""Typed bodies of ledger records, one pydantic model per ``kind``.

Every signed body is validated on the way in (``seal``, ``Ledger.append``) and on the way out
(``verify``), so a record that does not have its kind's exact shape can neither be written nor
pass verification. Models forbid unknown keys and coerce nothing (strict mode): a signed body
means exactly what its bytes say.

Numbers: no floats anywhere (see ``ledger.canonical``). Durations and offsets are integers in
explicit units (``*_us``, ``*_ms``, ``*_ppb``). Nanosecond timestamps since the Unix epoch
exceed the JSON safe-integer range, so ``Ns`` fields are Python ``int`` in the model and decimal
strings in the signed JSON: read them through the model (``validate_body``), not the raw dict.

Later kinds (access_request, retention, disclosure.*, review.*) are added with ``@register``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationError,
    model_validator,
)

from bodycam.errors import FormatError

_INT_RE = re.compile(r"-?(0|[1-9][0-9]*)\Z")


def _ns(value: Any) -> int:
    if type(value) is str and value.isdigit() and value.isascii() and (value[0] != "0" or len(value) == 1):
        return int(value)
    if isinstance(value, bool):
        raise ValueError("must be an integer number of nanoseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    raise ValueError("must be nanoseconds since the Unix epoch (UTC) as a decimal integer string")


Ns = Annotated[int, PlainValidator(_ns), PlainSerializer(str, return_type=str)]
"""Nanoseconds since 1970-01-01 UTC: ``int`` in Python, decimal string in signed JSON."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$")]
Text = Annotated[str, StringConstraints(max_length=4000)]
Rational = Annotated[str, StringConstraints(pattern=r"^[0-9]+(/[1-9][0-9]*)?$")]
NonNeg = Annotated[int, Field(ge=0)]

Role = Literal["officer", "supervisor", "head", "reviewer", "archivist", "admin"]


class Part(BaseModel):
    """Nested object inside a body: same strictness as bodies."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Body(Part):
    """Base of every record body: format version ``v`` and the ``kind`` it declares."""

    v: Literal[1] = 1
    kind: str


KIND_MODELS: dict[str, type[Body]] = {}

B = TypeVar("B", bound=type[Body])


def register(model: B) -> B:
    """Add a body model to the registry under the default of its ``kind`` field."""
    kind = model.model_fields["kind"].default
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{model.__name__}.kind needs a Literal default naming the kind")
    if kind in KIND_MODELS and KIND_MODELS[kind] is not model:
        raise TypeError(f"record kind {kind!r} is already registered")
    KIND_MODELS[kind] = model
    return model


def _errors(kind: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(body)"
        msg = "unknown field" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid")
        parts.append(f"{loc}: {msg}")
    return f"invalid {kind} record: " + "; ".join(parts)


def validate_body(data: dict) -> Body:
    """The typed model of a body dict; FormatError naming each bad field."""
    if not isinstance(data, dict):
        raise FormatError("record body must be a JSON object")
    kind = data.get("kind")
    model = KIND_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise FormatError(f"unknown record kind {kind!r}; known kinds: {', '.join(sorted(KIND_MODELS))}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FormatError(_errors(kind, exc)) from None


def make_body(model: Body) -> dict:
    """The JSON-ready dict that is canonicalised and signed (absent optionals are omitted)."""
    if not isinstance(model, Body):
        raise FormatError(f"{type(model).__name__} is not a record body model")
    return model.model_dump(mode="json", exclude_none=True)


def _activity_required(case_id: str | None, activity: str | None, what: str) -> None:
    if not case_id and not activity:
        raise ValueError(f"a {what} must name its case_id or its activity (A2 Art.4)")


# --- enrollment -------------------------------------------------------------------------------

SubjectType = Literal["ledger_root", "dock", "device", "person", "archive_log"]


@register
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


@register
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


@register
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

    @model_validator(mode="after")
    def _check(self) -> Segment:
        _activity_required(self.case_id, self.activity, "segment")
        if self.end_ns < self.start_ns:
            raise ValueError("end_ns is before start_ns")
        return self


# --- gap (A2 Art.8, 11) -------------------------------------------------------------------------

GapType = Literal["gap", "overlap", "missing_seq", "duplicate", "altered", "out_of_order"]


@register
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


# --- stop-recording justification (A2 Art.11) ----------------------------------------------------


class Requester(Part):
    name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    signature_image_sha256: Sha256Hex | None = None
    keyid: Sha256Hex | None = None


@register
class StopJustification(Body):
    """Why recording stopped (reason 1–5, A2 Art.11), signed by the officer; the supervisor's
    approval is a separate ``stop_approval`` record (the log keeps one entry per body).
    Reasons 1 and 3 need the requester's signature or seal."""

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


# --- dock session (A2 Art.14) --------------------------------------------------------------------


@register
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


# Kinds defined in their own modules, imported here so that every reader of bodies knows them.
from ledger import justify_records  # noqa: E402,F401  (stop_approval, gap_fault, case_flag)
