"""Who may view, copy or release what, and the one place every access is recorded.

To live here: access policies as small composable objects, each answering a request with the
reasons it refuses (an empty list grants), combined without special cases: a bureau head's
approval for viewers from outside the bureau, a release approval for parties, outside units
or the public, a stricter level for classified cases. And one ``record_access()`` that every
viewer calls (the CLI now, the web console later, which only holds routes calling
``archive.*``): it checks the ``access_request`` and its ``access_grant`` in the ledger and
appends the ``access`` entry (who, why, when, what) before any byte is served.

Why: no release without approval (A2 Art.17); outside bodies view only with the bureau head's
approval and the custodian registers who viewed, why and when (A2 Art.18); unauthorised
copying or leaking is forbidden (A2 Art.9), secret material is handled under secrecy rules
(A2 Art.19). One function means no viewer can forget the log.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.blobs import BlobStore
from ledger.checks.access import GRANT_ROLES, REQUEST_ROLES, SECRECY_ROLES, VIEW_ROLES, signer_problems
from ledger.envelope import seal
from ledger.gapstate import enrollments
from ledger.keys import Signer
from ledger.people import require_person_key, valid_signers
from ledger.records import Segment, make_body
from ledger.records.access import SECRECY_LEVELS, Access, AccessGrant, AccessRequest, Secrecy
from ledger.store import Entry, Ledger

_CHUNK = 1 << 20


class AccessRefused(RefusedError):
    """A view the policy refuses (exit 3); the refused attempt is already in the ledger."""

    def __init__(self, reasons: list[str], entry: Entry | None = None):
        self.reasons = reasons
        self.entry = entry
        super().__init__(Message(N_("access refused: {reasons}"), reasons=Message.join(Message(N_("; ")), reasons)))


# --- policies: each answers with the reasons it refuses (empty: it grants) --------------------------


@dataclass(frozen=True)
class AccessContext:
    """What a policy looks at: the request and its standing decision, the segment asked for, the
    secrecy levels that apply to it, and the time of the view."""

    request: AccessRequest | None
    grant: AccessGrant | None
    segment: Segment | None
    segment_hash: str | None
    levels: frozenset[str] = field(default_factory=frozenset)
    now_ns: int = 0


class Policy(Protocol):
    def check(self, ctx: AccessContext) -> list[str]: ...


class RequestKnown:
    """A view names a request the ledger holds (A2 Art.18)."""

    def check(self, ctx: AccessContext) -> list[str]:
        return [] if ctx.request is not None else [Message(N_("no such access request in the archive ledger"))]


class Approved:
    """The bureau head approved the request (A2 Art.17–18)."""

    def check(self, ctx: AccessContext) -> list[str]:
        if ctx.request is None:
            return []
        if ctx.grant is None:
            return [Message(N_("the request is not approved by the bureau head (A2 Art.18)"))]
        if ctx.grant.decision != "approved":
            return [Message(N_("the bureau head refused the request (A2 Art.18)"))]
        return []


@dataclass(frozen=True)
class NotExpired:
    """The request (and its approval) still runs at ``now_ns``."""

    def check(self, ctx: AccessContext) -> list[str]:
        ends = [t for t in (ctx.request and ctx.request.until_ns, ctx.grant and ctx.grant.until_ns) if t]
        if ends and ctx.now_ns > min(ends):
            return [Message(N_("the request expired at {until}"), until=_rfc3339(min(ends)))]
        return []


class CoversSegment:
    """The request's scope (its case or its one segment) covers the segment viewed."""

    def check(self, ctx: AccessContext) -> list[str]:
        if ctx.segment is None:
            return [Message(N_("no such segment in the archive ledger"))]
        req = ctx.request
        if req is None:
            return []
        if req.segment is not None and req.segment == ctx.segment_hash:
            return []
        if req.case_id is not None and req.case_id == ctx.segment.case_id:
            return []
        return [Message(N_("the request's scope ({scope}) does not cover this segment"), scope=scope_text(req))]


class SecrecyLevelNamed:
    """Secret material needs a grant that names every secrecy level set on it (A2 Art.19)."""

    def check(self, ctx: AccessContext) -> list[str]:
        granted = set(ctx.grant.levels) if ctx.grant is not None else set()
        missing = [lvl for lvl in SECRECY_LEVELS if lvl in ctx.levels and lvl not in granted]
        if not missing:
            return []
        return [Message(N_("the material is classified {levels} and the approval does not name that level "
                           "(A2 Art.19)"), levels=", ".join(missing))]


@dataclass(frozen=True)
class AllOf:
    """Every policy's reasons, in order (empty: all grant)."""

    policies: tuple[Policy, ...]

    def __init__(self, *policies: Policy):
        object.__setattr__(self, "policies", policies)

    def check(self, ctx: AccessContext) -> list[str]:
        return [r for p in self.policies for r in p.check(ctx)]


VIEW_POLICY = AllOf(RequestKnown(), CoversSegment(), Approved(), NotExpired(), SecrecyLevelNamed())
"""What a view needs (A2 Art.17–19)."""


# --- reading the ledger -------------------------------------------------------------------------------


def _rfc3339(ns: int) -> str:
    from bodycam.formats import rfc3339

    return rfc3339(ns)


def scope_text(req: AccessRequest) -> str:
    return f"case {req.case_id}" if req.case_id is not None else f"segment {(req.segment or '')[:16]}"


def _record(ledger: Ledger, entry_hash: str | None, kind: str):
    if not entry_hash:
        return None
    e = ledger.by_hash(entry_hash)
    return e if e is not None and e.kind == kind else None


def find_request(ledger: Ledger, ref: str) -> Entry | None:
    """The access request by its entry hash (or an unambiguous prefix of at least 8 digits)."""
    return _find(ledger, "access_request", ref)


def find_segment(ledger: Ledger, ref: str) -> Entry | None:
    """A segment by its entry hash (or an unambiguous prefix of at least 8 digits)."""
    return _find(ledger, "segment", ref)


def _find(ledger: Ledger, kind: str, ref: str) -> Entry | None:
    ref = ref.strip().lower()
    e = _record(ledger, ref, kind)
    if e is not None or len(ref) < 8:
        return e
    found = [e for e in ledger.entries(kind=kind) if e.entry_hash.startswith(ref)]
    return found[0] if len(found) == 1 else None


def standing_grant(ledger: Ledger, request_hash: str) -> tuple[Entry, AccessGrant] | None:
    """The latest decision on a request signed by an enrolled head (earlier ones are replaced)."""
    keyring, enrolled = ledger.keyring(), enrollments(ledger)
    found = None
    for e in ledger.entries(kind="access_grant", ref=request_hash):
        rec = e.record
        assert isinstance(rec, AccessGrant)
        if rec.request == request_hash and not signer_problems(rec.head_id, GRANT_ROLES, N_("access decision"),
                                                               valid_signers(e.envelope, keyring), enrolled):
            found = (e, rec)
    return found


def secrecy_levels(ledger: Ledger, case_id: str | None, segment_hash: str | None) -> frozenset[str]:
    """Secrecy levels set (by a head or an archivist) on a case or on one segment (A2 Art.19)."""
    keyring, enrolled = ledger.keyring(), enrollments(ledger)
    levels = set()
    for e in ledger.entries(kind="secrecy"):
        rec = e.record
        assert isinstance(rec, Secrecy)
        hit = (case_id is not None and rec.case_id == case_id) or (
            segment_hash is not None and rec.segment == segment_hash)
        if hit and not signer_problems(rec.by, SECRECY_ROLES, N_("secrecy level"),
                                       valid_signers(e.envelope, keyring), enrolled):
            levels.add(rec.level)
    return frozenset(levels)


def _request_levels(ledger: Ledger, req: AccessRequest) -> frozenset[str]:
    """Levels a grant of ``req`` must name: of its case, or of its segment and the segment's case."""
    if req.case_id is not None:
        return secrecy_levels(ledger, req.case_id, None)
    seg = _record(ledger, req.segment, "segment")
    case_id = seg.record.case_id if seg is not None else None
    return secrecy_levels(ledger, case_id, req.segment)


# --- acts ------------------------------------------------------------------------------------------------


def _now(now_ns: int | None) -> int:
    return time.time_ns() if now_ns is None else now_ns


def request_access(ledger: Ledger, signer: Signer, by: str, *, requester: str, org: str, reason: str,
                   case_id: str | None = None, segment: str | None = None, until_ns: int | None = None,
                   now_ns: int | None = None) -> Entry:
    """Register an outside body's request (A2 Art.18), signed by the archivist ``by``."""
    require_person_key(ledger, signer, by, REQUEST_ROLES, N_("archivist"))
    seg_hash = None
    if segment is not None:
        seg = find_segment(ledger, segment)
        if seg is None:
            raise RefusedError(Message(N_("no such segment in the archive ledger: {segment}"), segment=segment))
        seg_hash = seg.entry_hash
    if not reason.strip():
        raise RefusedError(Message(N_("say why the footage is needed (--reason; A2 Art.18)")))
    body = AccessRequest(case_id=case_id, segment=seg_hash, requester=requester, org=org, reason=reason,
                         until_ns=until_ns, by=by, requested_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def decide(ledger: Ledger, signer: Signer, head_id: str, request: str, *, approve: bool = True,
           levels: Iterable[str] = (), until_ns: int | None = None, note: str = "",
           now_ns: int | None = None) -> Entry:
    """The bureau head's decision (A2 Art.18); an approval of classified material must name its
    secrecy levels (A2 Art.19)."""
    require_person_key(ledger, signer, head_id, GRANT_ROLES, N_("bureau head"))
    e = find_request(ledger, request)
    if e is None:
        raise RefusedError(Message(N_("no such access request in the archive ledger: {request}"), request=request))
    req = e.record
    assert isinstance(req, AccessRequest)
    levels = sorted(set(levels), key=SECRECY_LEVELS.index)
    missing = [lvl for lvl in SECRECY_LEVELS if lvl in _request_levels(ledger, req) and lvl not in levels]
    if approve and missing:
        raise RefusedError(Message(N_("{scope} is classified {levels}: an approval must name that level (--level "
                                      "{level}; A2 Art.19)"), scope=scope_text(req), levels=", ".join(missing),
                                   level=missing[-1]))
    body = AccessGrant(request=e.entry_hash, head_id=head_id, decision="approved" if approve else "refused",
                       levels=levels, until_ns=until_ns, note=note, decided_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def classify(ledger: Ledger, signer: Signer, by: str, level: str, *, case_id: str | None = None,
             segment: str | None = None, note: str = "", now_ns: int | None = None) -> Entry:
    """Give a case or a segment a secrecy level (A2 Art.19)."""
    require_person_key(ledger, signer, by, SECRECY_ROLES, N_("head or archivist"))
    seg_hash = None
    if segment is not None:
        seg = find_segment(ledger, segment)
        if seg is None:
            raise RefusedError(Message(N_("no such segment in the archive ledger: {segment}"), segment=segment))
        seg_hash = seg.entry_hash
    body = Secrecy(case_id=case_id, segment=seg_hash, level=level, by=by, note=note, set_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def record_access(ledger: Ledger, signer: Signer, by: str, *, request: str | None, segment: Entry | None,
                  outcome: str, reasons: list[str], out_name: str = "", purpose: str | None = None,
                  now_ns: int | None = None) -> Entry:
    """The one place every view and every refused attempt is logged (A2 Art.18), before any byte
    is served. Reasons are kept in English (they are ledger data). ``purpose`` says what was handed
    out when it was not a copy of the footage (``contact_sheet``, ``export``)."""
    seg = segment.record if segment is not None else None
    body = Access(request=request, segment=segment.entry_hash if segment is not None else None,
                  sha256=seg.media.sha256 if isinstance(seg, Segment) else None,
                  case_id=seg.case_id if isinstance(seg, Segment) else None, outcome=outcome, purpose=purpose,
                  reasons=[str(r) for r in reasons], by=by, out_name=out_name[-255:], accessed_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def check_view(ledger: Ledger, segment: str, request: str, policy: Policy, now_ns: int
               ) -> tuple[Entry | None, str | None, list[str]]:
    """The segment entry, the request's entry hash and the policy's reasons for a view of
    ``segment`` under ``request`` at ``now_ns``: what every way of showing footage (a copy, a
    contact sheet) decides the same way (A2 Art.17–19)."""
    seg_e = find_segment(ledger, segment)
    req_e = find_request(ledger, request)
    req = req_e.record if req_e is not None else None
    grant = standing_grant(ledger, req_e.entry_hash) if req_e is not None else None
    seg = seg_e.record if seg_e is not None else None
    assert seg is None or isinstance(seg, Segment)
    assert req is None or isinstance(req, AccessRequest)
    levels = secrecy_levels(ledger, seg.case_id, seg_e.entry_hash) if seg is not None and seg_e else frozenset()
    ctx = AccessContext(req, grant[1] if grant else None, seg, seg_e.entry_hash if seg_e else None, levels, now_ns)
    return seg_e, (req_e.entry_hash if req_e is not None else None), policy.check(ctx)


def view(ledger: Ledger, blobs: BlobStore, signer: Signer, by: str, segment: str, request: str, out: Path, *,
         policy: Policy = VIEW_POLICY, now_ns: int | None = None) -> Entry:
    """Copy a segment's footage to ``out`` (0600) for an approved, unexpired request covering it;
    the view is logged first. Refused: the attempt is logged and AccessRefused raised."""
    require_person_key(ledger, signer, by, VIEW_ROLES, N_("archivist"))
    now = _now(now_ns)
    seg_e, req_hash, reasons = check_view(ledger, segment, request, policy, now)
    seg = seg_e.record if seg_e is not None else None
    blob = blobs.blob_path(seg.media.sha256) if isinstance(seg, Segment) else None
    if not reasons and (blob is None or not blob.is_file()):
        reasons = [Message(N_("the footage is not in the archive's blob store"))]
    if not reasons and out.exists():
        reasons = [Message(N_("{file} already exists; a copy never overwrites a file"), file=out)]
    if reasons:
        entry = record_access(ledger, signer, by, request=req_hash, segment=seg_e, outcome="refused",
                              reasons=reasons, out_name=out.name, now_ns=now)
        raise AccessRefused(reasons, entry)
    assert seg is not None and blob is not None
    entry = record_access(ledger, signer, by, request=req_hash, segment=seg_e, outcome="viewed", reasons=[],
                          out_name=out.name, now_ns=now)
    _copy(blob, out, seg.media.sha256)
    return entry


def _copy(blob: Path, out: Path, sha256: str) -> None:
    h = hashlib.sha256()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with open(blob, "rb") as src, os.fdopen(fd, "wb", closefd=False) as dst:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(fd)
    finally:
        os.close(fd)
    if h.hexdigest() != sha256:
        out.unlink(missing_ok=True)
        raise RefusedError(Message(N_("the stored footage does not match its hash {sha256}; run `bodycam archive "
                                      "verify`"), sha256=sha256[:16]))


def access_log(ledger: Ledger, case_id: str | None = None) -> list[dict]:
    """Who saw what, why, when, approved by whom (A2 Art.18), oldest first."""
    rows = []
    for e in ledger.entries(kind="access"):
        rec = e.record
        assert isinstance(rec, Access)
        if case_id is not None and rec.case_id != case_id:
            continue
        req_e = _record(ledger, rec.request, "access_request")
        req = req_e.record if req_e is not None else None
        grant = standing_grant(ledger, rec.request) if rec.request else None
        rows.append({
            "entry": e.entry_hash, "idx": e.idx, "at": _rfc3339(rec.accessed_ns), "at_ns": rec.accessed_ns,
            "by": rec.by, "outcome": rec.outcome, "segment": rec.segment, "sha256": rec.sha256, "case_id": rec.case_id,
            "request": rec.request, "requester": req.requester if req else None, "org": req.org if req else None,
            "reason": req.reason if req else None, "approved_by": grant[1].head_id if grant and
            grant[1].decision == "approved" else None, "reasons": list(rec.reasons), "out_name": rec.out_name,
            "purpose": rec.purpose,
        })
    return rows
