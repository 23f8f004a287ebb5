"""What every record body is made of: strict pydantic parts, the field types of signed JSON
(no floats; nanoseconds as decimal strings), validation with every bad field named.

Numbers: no floats anywhere (see ``ledger.canonical``). Durations and offsets are integers in
explicit units (``*_us``, ``*_ms``, ``*_ppb``). Nanosecond timestamps since the Unix epoch
exceed the JSON safe-integer range, so ``Ns`` fields are Python ``int`` in the model and decimal
strings in the signed JSON: read them through the model (``validate_body``), not the raw dict.
The kinds themselves live in the family modules beside this one and are registered, all in one
place, by ``ledger/records/__init__.py``.
"""

from __future__ import annotations

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
)

from bodycam.errors import FormatError

_INT_RE = re.compile(r"-?(0|[1-9][0-9]*)\Z")



MIN_NS, MAX_NS = -(2**63), 2**63 - 1
"""The times a record holds: a signed 64-bit count of nanoseconds (the ledger indexes them as
SQLite INTEGERs), 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z."""


def _ns(value: Any) -> int:
    if type(value) is str and value.isdigit() and value.isascii() and (value[0] != "0" or len(value) == 1):
        ns = int(value)
    elif isinstance(value, bool):
        raise ValueError("must be an integer number of nanoseconds")
    elif isinstance(value, int):
        ns = value
    elif isinstance(value, str) and _INT_RE.match(value):
        ns = int(value)
    else:
        raise ValueError("must be nanoseconds since the Unix epoch (UTC) as a decimal integer string")
    if not MIN_NS <= ns <= MAX_NS:
        raise ValueError("is outside the times a record holds (1677-09-21 to 2262-04-11 UTC, 64-bit nanoseconds)")
    return ns


Ns = Annotated[int, PlainValidator(_ns), PlainSerializer(str, return_type=str)]
"""Nanoseconds since 1970-01-01 UTC: ``int`` in Python, decimal string in signed JSON; within
``MIN_NS``..``MAX_NS``."""

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$")]
Text = Annotated[str, StringConstraints(max_length=4000)]
Rational = Annotated[str, StringConstraints(pattern=r"^[0-9]+(/[1-9][0-9]*)?$")]
NonNeg = Annotated[int, Field(ge=0)]

Reason = Annotated[int, Field(ge=1, le=5)]
"""An item number of an article (A2 Art.10 and Art.11 each list five)."""

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
