"""Retention classes of cases and their footage (A2 Art.10, 16).

Ordinary footage is kept at least 12 months (A2 Art.16). A case flagged ``long_term`` for one of
the five A2 Art.10 reasons is kept without expiry, and every segment bound to the case inherits the
class, including segments docked after the flag: the class is derived from the ledger when asked,
never copied onto segments. A flag counts only if it is signed by the enrolled key of the person it
names, in a role allowed to flag; nothing removes a flag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.people import CASE_FLAG_ROLES, check_person_key, require_person_key, valid_signers
from ledger.records import CaseFlag, Enrollment, Segment
from ledger.store import Entry, Ledger

RetentionClass = Literal["standard", "long_term"]
_FLAG_SIGNER = N_("case flag signer")
STANDARD_MIN_MONTHS = 12

ART10_REASONS: dict[int, str] = {
    1: N_("sudden or mass incident"),
    2: N_("complex case involving personal safety"),
    3: N_("obstruction, refusal, abuse or assault of officers"),
    4: N_("the party objects and may seek reconsideration, litigation, complaint or petition"),
    5: N_("other sensitive, major or complex case"),
}


@dataclass(frozen=True)
class CaseRetention:
    case_id: str
    retention: RetentionClass
    reasons: tuple[int, ...]
    flags: tuple[str, ...]  # entry hashes of the counting case_flag records

    def to_json(self) -> dict:
        return {"case_id": self.case_id, "retention": self.retention, "reasons": list(self.reasons),
                "reason_texts": [ART10_REASONS[r] for r in self.reasons], "flags": list(self.flags)}


def flag_problems(rec: CaseFlag, signers: set[str] | tuple[str, ...], enrolled: dict[str, Enrollment]) -> list[str]:
    """Why a case flag does not count (empty: it does)."""
    first = None
    for keyid in signers:
        problem = check_person_key(enrolled, keyid, rec.by, CASE_FLAG_ROLES, _FLAG_SIGNER)
        if problem is None:
            return []
        first = first or problem
    return [Message(N_("case flag signature: {problem}"),
                    problem=first or Message(N_("not signed by {person_id}"), person_id=rec.by))]


def _valid_flags(ledger: Ledger, case_id: str | None = None) -> list[tuple[Entry, CaseFlag]]:
    from ledger.gapstate import enrollments

    keyring = ledger.keyring()
    enrolled = enrollments(ledger)
    out = []
    for e in ledger.entries(kind="case_flag"):
        rec = e.record
        assert isinstance(rec, CaseFlag)
        if case_id is not None and rec.case_id != case_id:
            continue
        if not flag_problems(rec, valid_signers(e.envelope, keyring), enrolled):
            out.append((e, rec))
    return out


def case_retention(ledger: Ledger, case_id: str) -> CaseRetention:
    flags = _valid_flags(ledger, case_id)
    if not flags:
        return CaseRetention(case_id, "standard", (), ())
    return CaseRetention(case_id, "long_term", tuple(sorted({r.reason for _, r in flags})),
                         tuple(e.entry_hash for e, _ in flags))


def retention_class(ledger: Ledger, case_id: str | None) -> RetentionClass:
    """``long_term`` if the case carries a valid A2 Art.10 flag, else ``standard`` (≥ 12 months)."""
    if not case_id:
        return "standard"
    return case_retention(ledger, case_id).retention


def long_term_cases(ledger: Ledger) -> dict[str, CaseRetention]:
    cases = sorted({r.case_id for _, r in _valid_flags(ledger)})
    return {c: case_retention(ledger, c) for c in cases}


def segment_retention(ledger: Ledger, segment: Entry | Segment) -> RetentionClass:
    """The retention class a segment inherits from its case."""
    rec = segment.record if isinstance(segment, Entry) else segment
    if not isinstance(rec, Segment):
        raise RefusedError(Message(N_("{entry}… is a {kind}, not a segment"),
                                   entry=getattr(segment, "entry_hash", "")[:16], kind=rec.kind))
    return retention_class(ledger, rec.case_id)


def case_segments(ledger: Ledger, case_id: str) -> list[Entry]:
    return list(ledger.entries(kind="segment", case_id=case_id))


def flag_case(ledger: Ledger, case_id: str, reason: int, person_id: str, signer: Signer, *, note: str = "",
              now_ns: int | None = None) -> Entry:
    """Append a ``case_flag`` marking ``case_id`` long-term for A2 Art.10 item ``reason``."""
    if reason not in ART10_REASONS:
        raise RefusedError(Message(N_("reason {reason} is not an A2 Art.10 item; use 1–5: {items}"), reason=reason,
                                   items=Message.join(Message(N_("; ")), (Message("{n} {text}", n=k, text=Message(v))
                                                             for k, v in ART10_REASONS.items()))))
    require_person_key(ledger, signer, person_id, CASE_FLAG_ROLES, _FLAG_SIGNER)
    body = CaseFlag(case_id=case_id, reason=reason, by=person_id, note=note,
                    flagged_ns=time.time_ns() if now_ns is None else now_ns)
    return ledger.append(seal(body, signer), require_trusted=True)
