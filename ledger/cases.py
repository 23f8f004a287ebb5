"""Cases, their activities and text records (A2 Art.2–5, 7, 14), and the retention classes of
cases and their footage (A2 Art.10, 16).

A case is opened at the archive (``case_open``) with the officers who handle it, each an enrolled
officer whose enforcement certificate is valid when the case is opened (A2 Art.14); activities of
the A2 Art.5 types are added to an opened case with when the party was told (A2 Art.7); text
records (A2 Art.2) are attached as content-addressed files. Footage whose case was never opened
and whose activity was never added is bound to nothing (A2 Art.4) and is flagged.

Ordinary footage is kept at least 12 months (A2 Art.16). A case flagged ``long_term`` for one of
the five A2 Art.10 reasons is kept without expiry, and every segment bound to the case inherits the
class, including segments docked after the flag: the class is derived from the ledger when asked,
never copied onto segments. A flag counts only if it is signed by the enrolled key of the person it
names, in a role allowed to flag; nothing removes a flag.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.people import CASE_FLAG_ROLES, check_person_key, require_person_key, valid_signers
from ledger.records import Activity, Attachment, CaseClose, CaseFlag, CaseOpen, Enrollment, Segment
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


# --- cases and activities (A2 Art.2–5, 7, 14) ---------------------------------------------------

CASE_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "archivist", "admin")
_CASE_SIGNER = N_("case record signer")
CASE_TYPES: tuple[str, ...] = ("penalty", "coercion", "inspection", "licensing", "collection", "other")
#: A2 Art.5, in its order.
ACTIVITY_TYPES: dict[str, str] = {
    "complaint_report": N_("on-site complaint or report"),
    "inspection": N_("inspection"),
    "investigation": N_("investigation"),
    "coercive_measure": N_("coercive measure"),
    "evidence_preservation": N_("evidence preservation"),
    "sampling": N_("sampling"),
    "other": N_("other"),
}
#: A2 Art.2: the text records of a case.
ATTACHMENT_KINDS: dict[str, str] = {
    "notice": N_("notice"),
    "evidence_form": N_("evidence form"),
    "hearing_record": N_("hearing record"),
    "approval": N_("approval"),
    "service_receipt": N_("service receipt"),
    "other": N_("other"),
}
ATTACHMENT_TYPES: tuple[str, ...] = ("application/pdf", "image/jpeg", "image/png", "image/tiff", "image/gif",
                                     "image/webp", "image/bmp")


def officer_problems(officers: Iterable[str], at_ns: int, enrolled: Iterable[Enrollment]) -> list[Message]:
    """Why the named officers may not handle a case at ``at_ns`` (empty: they may): each must be an
    enrolled officer with an enforcement certificate valid then (A2 Art.14)."""
    by_id: dict[str, list[Enrollment]] = {}
    for rec in enrolled:
        if rec.subject_type == "person":
            by_id.setdefault(rec.subject_id, []).append(rec)
    out: list[Message] = []
    for officer in officers:
        recs = by_id.get(officer, [])
        if not recs:
            out.append(Message(N_("officer {officer} is not enrolled"), officer=officer))
        elif not any(r.role == "officer" for r in recs):
            out.append(Message(N_("{officer} is enrolled as {role}, not as an officer"), officer=officer,
                               role=Message(recs[0].role or "")))
        elif not any(r.role == "officer" and r.certificate_no for r in recs):
            out.append(Message(N_("officer {officer} has no enforcement certificate on record (A2 Art.14)"),
                               officer=officer))
        elif not any(r.role == "officer" and r.certificate_no
                     and (r.valid_from_ns is None or r.valid_from_ns <= at_ns)
                     and (r.valid_until_ns is None or at_ns <= r.valid_until_ns) for r in recs):
            out.append(Message(N_("the enforcement certificate of officer {officer} is not valid at that time "
                                  "(A2 Art.14)"), officer=officer))
    return out


def case_record_problems(rec: CaseOpen | Activity | Attachment | CaseClose, signers: Iterable[str],
                         enrolled: Mapping[str, Enrollment], opened: set[str],
                         closed: set[str] | None = None) -> list[Message]:
    """Why a ``case_open``, ``activity``, ``attachment`` or ``case_close`` does not hold (empty: it
    does): signed by the enrolled person it names, officers with valid certificates, the case
    opened before, a case closed once (``closed``: cases closed before)."""
    out: list[Message] = []
    first = None
    for keyid in signers:
        problem = check_person_key(enrolled, keyid, rec.by, CASE_ROLES, _CASE_SIGNER)
        if problem is None:
            break
        first = first or problem
    else:
        out.append(Message(N_("{kind} signature: {problem}"), kind=rec.kind,
                           problem=first or Message(N_("not signed by {person_id}"), person_id=rec.by)))
    if isinstance(rec, CaseOpen):
        if rec.case_id in opened:
            out.append(Message(N_("case {case_id} is opened twice"), case_id=rec.case_id))
        out += officer_problems(rec.officers, rec.opened_ns, enrolled.values())
    elif rec.case_id not in opened:
        out.append(Message(N_("{kind} of case {case_id}, which was never opened"), kind=rec.kind,
                           case_id=rec.case_id))
    if isinstance(rec, Activity):
        out += officer_problems(rec.officers, rec.start_ns, enrolled.values())
    if isinstance(rec, CaseClose) and closed is not None and rec.case_id in closed:
        out.append(Message(N_("case {case_id} is closed twice"), case_id=rec.case_id))
    return out


def _append_case_record(ledger: Ledger, body: CaseOpen | Activity | Attachment | CaseClose,
                        signer: Signer) -> Entry:
    from ledger.gapstate import enrollments

    require_person_key(ledger, signer, body.by, CASE_ROLES, _CASE_SIGNER)
    problems = case_record_problems(body, (signer.keyid,), enrollments(ledger), opened_cases(ledger),
                                    closed_cases(ledger))
    if problems:
        raise RefusedError(Message.join(Message(N_("; ")), problems))
    return ledger.append(seal(body, signer), require_trusted=True)


def opened_cases(ledger: Ledger) -> set[str]:
    return {e.body["case_id"] for e in ledger.entries(kind="case_open")}


def closed_cases(ledger: Ledger) -> set[str]:
    return {e.body["case_id"] for e in ledger.entries(kind="case_close")}


def close_case(ledger: Ledger, case_id: str, *, person_id: str, signer: Signer, note: str = "",
               at_ns: int | None = None) -> Entry:
    """Append a ``case_close`` of an opened case (refused: never opened, already closed); its footage
    is then due at the archive (A2 Art.20–22)."""
    body = CaseClose(case_id=case_id, closed_ns=time.time_ns() if at_ns is None else at_ns, by=person_id, note=note)
    return _append_case_record(ledger, body, signer)


def open_case(ledger: Ledger, case_id: str, *, title: str, unit: str, case_type: str, officers: list[str],
              person_id: str, signer: Signer, now_ns: int | None = None) -> Entry:
    """Append a ``case_open`` (refused: a case already opened, officers without a valid certificate)."""
    body = CaseOpen(case_id=case_id, title=title, unit=unit, case_type=case_type, officers=officers,
                    opened_ns=time.time_ns() if now_ns is None else now_ns, by=person_id)
    return _append_case_record(ledger, body, signer)


def add_activity(ledger: Ledger, *, activity_id: str, case_id: str, activity_type: str, place: str, start_ns: int,
                 end_ns: int, officers: list[str], party_notified_ns: int | None, person_id: str,
                 signer: Signer) -> Entry:
    """Append an ``activity`` of an opened case (A2 Art.5 type; A2 Art.7: when the party was told)."""
    if any(True for _ in ledger.entries(kind="activity", activity=activity_id)):
        raise RefusedError(Message(N_("activity {activity} already exists"), activity=activity_id))
    body = Activity(activity=activity_id, case_id=case_id, activity_type=activity_type, place=place,
                    start_ns=start_ns, end_ns=end_ns, officers=officers, party_notified_ns=party_notified_ns,
                    by=person_id)
    return _append_case_record(ledger, body, signer)


def attach_file(ledger: Ledger, blob_root: Path, case_id: str, attachment_kind: str, file: Path, *, person_id: str,
                signer: Signer, now_ns: int | None = None) -> Entry:
    """Store ``file`` content-addressed in the blob store at ``blob_root`` and append its signed
    ``attachment`` to ``case_id`` (A2 Art.2: PDF or image files)."""
    from ledger.blobs import BlobStore, hash_fd

    media_type = mimetypes.guess_type(file.name)[0] or ""
    if media_type not in ATTACHMENT_TYPES:
        raise RefusedError(Message(N_("{file}: a case's text record must be a PDF or image file, not {type}"),
                                   file=file, type=media_type or "?"))
    store = BlobStore(blob_root).ensure()
    fd, tmp = tempfile.mkstemp(dir=store.root, prefix=".attach-")
    tmp_path = Path(tmp)
    try:
        with open(file, "rb") as src:
            while chunk := src.read(1 << 20):
                os.write(fd, chunk)
        os.lseek(fd, 0, os.SEEK_SET)
        sha, size = hash_fd(fd)
        body = Attachment(case_id=case_id, attachment_kind=attachment_kind, sha256=sha, size=size,
                          media_type=media_type, file_name=file.name,
                          attached_ns=time.time_ns() if now_ns is None else now_ns, by=person_id)
        from ledger.gapstate import enrollments

        require_person_key(ledger, signer, person_id, CASE_ROLES, _CASE_SIGNER)
        problems = case_record_problems(body, (signer.keyid,), enrollments(ledger), opened_cases(ledger))
        if problems:
            raise RefusedError(Message.join(Message(N_("; ")), problems))
        store.commit(fd, tmp_path, sha)
        fd = -1
    finally:
        if fd >= 0:
            os.close(fd)
            tmp_path.unlink(missing_ok=True)
    return ledger.append(seal(body, signer), require_trusted=True)


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    opened: bool
    title: str | None
    unit: str | None
    case_type: str | None
    officers: tuple[str, ...]
    activities: int
    attachments: int
    segments: int

    def to_json(self) -> dict:
        return {"case_id": self.case_id, "opened": self.opened, "title": self.title, "unit": self.unit,
                "type": self.case_type, "officers": list(self.officers), "activities": self.activities,
                "attachments": self.attachments, "segments": self.segments}


def case_list(ledger: Ledger) -> list[CaseSummary]:
    """Cases opened here plus case ids seen on arrived segments (``opened`` False: known from a dock's
    ``--case`` only, not opened at the archive)."""
    opened = {e.body["case_id"]: e.record for e in ledger.entries(kind="case_open")}
    activities: dict[str, int] = {}
    act_case = {}
    for e in ledger.entries(kind="activity"):
        activities[e.body["case_id"]] = activities.get(e.body["case_id"], 0) + 1
        act_case[e.body["activity"]] = e.body["case_id"]
    attachments: dict[str, int] = {}
    for e in ledger.entries(kind="attachment"):
        attachments[e.body["case_id"]] = attachments.get(e.body["case_id"], 0) + 1
    segments: dict[str, int] = {}
    for e in ledger.entries(kind="segment"):
        cid = e.body.get("case_id") or act_case.get(e.body.get("activity") or "")
        if cid:
            segments[cid] = segments.get(cid, 0) + 1
    out = []
    for cid in sorted(set(opened) | set(segments)):
        rec = opened.get(cid)
        out.append(CaseSummary(cid, rec is not None, getattr(rec, "title", None), getattr(rec, "unit", None),
                               getattr(rec, "case_type", None), tuple(getattr(rec, "officers", ())),
                               activities.get(cid, 0), attachments.get(cid, 0), segments.get(cid, 0)))
    return out


def unbound_segments(ledger: Ledger) -> list[Entry]:
    """Segments bound to no case or activity known here (A2 Art.4): neither case id nor activity, or a
    case never opened and an activity never added."""
    opened = opened_cases(ledger)
    activities = {e.body["activity"] for e in ledger.entries(kind="activity")}
    return [e for e in ledger.entries(kind="segment")
            if not (e.body.get("case_id") in opened or e.body.get("activity") in activities)]
