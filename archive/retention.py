"""How long the archive keeps footage, and the job that purges what may go (A2 Art.9, 10, 16).

``decide`` is the one keep-or-purge decision over one blob's facts (its age, its cases' retention
class and ``long_term`` reasons, legal holds, open access requests, reviews), pure and tested from
a table. ``retention_run`` gathers the facts from the archive ledger and, for each blob the
decision releases, first appends a ``retention`` entry and then removes the blob, so a crash in
between leaves a purge to finish (the next run removes the blob without a second entry), never a
blob gone without a record. The hash stays in the ledger for ever; only the bytes go.

Why: ordinary footage is kept at least 12 months (A2 Art.16; ``[archive] retention_days`` >= 366);
footage of the five kinds of A2 Art.10 is kept long-term and never expires by itself; a legal
hold, an open access request or an unfinished review keeps footage whatever its age; deleting an
original any other way is forbidden (A2 Art.9). Low disk space raises an alert, never a purge.

Open access requests: entries of kind ``access_request`` (when that kind exists) that name the
case or the segment, whose ``until_ns`` (or ``expires_ns``) has not passed, and that no later
``access*`` decision referring to them closes (a view, ``access``, never does; a kind ending in
``_closed``/``_expired``, a ``decision``/``state``/``status``/``outcome`` of refused, closed,
expired, withdrawn, completed, or its own ``until_ns`` passed). Reviews: a case whose latest
legal-review round (``archive.review``, A3) has no outcome approved by the leader yet.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bodycam.errors import ConfigError, RefusedError
from bodycam.i18n import N_, Message
from ledger.cases import long_term_cases
from ledger.checks.retention import HOLD_ROLES, hold_problems
from ledger.envelope import seal
from ledger.gapstate import enrollments
from ledger.keys import Signer
from ledger.people import check_person_key, valid_signers
from ledger.records import KIND_MODELS, LegalHold, Retention, Segment
from ledger.store import Entry, Ledger

DAY_NS = 86_400 * 10**9
MIN_RETENTION_DAYS = 366  # 12 months (A2 Art.16), whatever the months

REASONS: dict[str, str] = {
    "expired": N_("expired: ordinary footage older than the retention period"),
    "not_expired": N_("within the retention period"),
    "long_term": N_("long-term case (A2 Art.10)"),
    "legal_hold": N_("legal hold"),
    "access_request": N_("open access request"),
    "under_review": N_("under review"),
    "already_purged": N_("already purged"),
}

_CLOSED_STATES = {"closed", "expired", "refused", "denied", "withdrawn", "completed", "done", "revoked"}


@dataclass(frozen=True)
class Policy:
    retention_days: int = MIN_RETENTION_DAYS

    def __post_init__(self) -> None:
        if self.retention_days < MIN_RETENTION_DAYS:
            raise ConfigError(Message(N_("retention_days = {days}: ordinary footage is kept at least 12 months "
                                         "({min} days, A2 Art.16)"), days=self.retention_days,
                                      min=MIN_RETENTION_DAYS))


@dataclass(frozen=True)
class BlobFacts:
    """What the decision needs about one blob and every segment that refers to it."""

    sha256: str
    segments: tuple[str, ...] = ()
    case_ids: tuple[str, ...] = ()
    device_id: str | None = None
    kept_since_ns: int = 0  # the latest end (or arrival) of its segments
    long_term_reasons: tuple[int, ...] = ()
    holds: tuple[str, ...] = ()  # cases under a legal hold
    access_requests: tuple[str, ...] = ()  # open request entry hashes
    reviews: tuple[str, ...] = ()
    purged: bool = False


@dataclass(frozen=True)
class Decision:
    action: Literal["keep", "purge"]
    reasons: tuple[str, ...]
    expires_ns: int | None = None

    def texts(self) -> list[Message]:
        return [Message(REASONS[r]) for r in self.reasons]


def decide(facts: BlobFacts, now_ns: int, policy: Policy) -> Decision:
    """Keep or purge one blob, with every reason (pure: no I/O, no clock)."""
    if facts.purged:
        return Decision("keep", ("already_purged",))
    expires = None if facts.long_term_reasons else facts.kept_since_ns + policy.retention_days * DAY_NS
    reasons = []
    if facts.long_term_reasons:
        reasons.append("long_term")
    if facts.holds:
        reasons.append("legal_hold")
    if facts.access_requests:
        reasons.append("access_request")
    if facts.reviews:
        reasons.append("under_review")
    if expires is not None and now_ns < expires:
        reasons.append("not_expired")
    if reasons:
        return Decision("keep", tuple(reasons), expires)
    return Decision("purge", ("expired",), expires)


# --- facts from the ledger ---------------------------------------------------------------------


def cases_on_hold(ledger: Ledger) -> dict[str, list[str]]:
    """case_id → entry hashes of the legal holds in force (counting only holds that verify)."""
    keyring, enrolled = ledger.keyring(), enrollments(ledger)
    holds: dict[str, list[str]] = {}
    for e in ledger.entries(kind="legal_hold"):
        rec = e.record
        assert isinstance(rec, LegalHold)
        open_ = holds.get(rec.case_id, [])
        if hold_problems(rec, valid_signers(e.envelope, keyring), enrolled, len(open_)):
            continue
        if rec.action == "add":
            holds[rec.case_id] = [*open_, e.entry_hash]
        else:
            holds[rec.case_id] = open_[:-1]
    return {c: h for c, h in holds.items() if h}


def _refers(body: object, target: str) -> bool:
    if isinstance(body, str):
        return body == target
    if isinstance(body, dict):
        return any(_refers(v, target) for v in body.values())
    if isinstance(body, list):
        return any(_refers(v, target) for v in body)
    return False


def _expired(body: dict, now_ns: int) -> bool:
    for key in ("until_ns", "expires_ns"):
        value = body.get(key)
        if isinstance(value, int | str) and str(value).isdigit() and int(value) <= now_ns:
            return True
    return False


def _closing(e: Entry, now_ns: int) -> bool:
    if e.kind.endswith(("_closed", "_close", "_expired")) or _expired(e.body, now_ns):
        return True
    return any(str(e.body.get(k, "")).lower() in _CLOSED_STATES
               for k in ("decision", "state", "status", "outcome", "action"))


def open_access_requests(ledger: Ledger, now_ns: int) -> list[Entry]:
    """``access_request`` entries still open at ``now_ns`` (none while that kind does not exist)."""
    if "access_request" not in KIND_MODELS:
        return []
    requests = [e for e in ledger.entries(kind="access_request") if not _expired(e.body, now_ns)]
    if not requests:
        return []
    later = [e for e in ledger.entries(start=requests[0].idx + 1)
             if e.kind.startswith("access") and e.kind not in ("access_request", "access")  # a view never closes
             and _closing(e, now_ns)]
    return [r for r in requests if not any(c.idx > r.idx and _refers(c.body, r.entry_hash) for c in later)]


def under_review(ledger: Ledger) -> dict[str, list[str]]:
    """Case → the submission entry of its unfinished legal-review round (A3 Art.6–11): the footage
    the reviewer checks is kept until the round's outcome is approved."""
    from archive.review.state import case_review

    out: dict[str, list[str]] = {}
    for case_id in sorted({e.body["case_id"] for e in ledger.entries(kind="review_submission")}):
        r = case_review(ledger, case_id).latest
        if r is not None and not r.concluded:
            out[case_id] = [r.submission[0]]
    return out


def blob_facts(ledger: Ledger, now_ns: int) -> list[BlobFacts]:
    long_term = long_term_cases(ledger)
    holds = cases_on_hold(ledger)
    requests = open_access_requests(ledger, now_ns)
    reviews = under_review(ledger)
    purged = {e.body.get("sha256") for e in ledger.entries(kind="retention")}
    groups: dict[str, list[Entry]] = {}
    for e in ledger.entries(kind="segment"):
        rec = e.record
        assert isinstance(rec, Segment)
        groups.setdefault(rec.media.sha256, []).append(e)
    out = []
    for sha, entries in groups.items():
        recs = [e.record for e in entries]
        hashes = tuple(e.entry_hash for e in entries)
        cases = tuple(sorted({r.case_id for r in recs if isinstance(r, Segment) and r.case_id}))
        reasons = tuple(sorted({x for c in cases if c in long_term for x in long_term[c].reasons}))
        reqs = tuple(r.entry_hash for r in requests if any(r.body.get("case_id") == c for c in cases)
                     or any(_refers(r.body, h) for h in (*hashes, sha)))
        revs = tuple(x for k in (*cases, *hashes) for x in reviews.get(k, ()))
        since = max(max(r.end_ns for r in recs if isinstance(r, Segment)), max(e.received_ns for e in entries))
        devices = {r.device_id for r in recs if isinstance(r, Segment)}
        out.append(BlobFacts(sha256=sha, segments=hashes, case_ids=cases,
                             device_id=next(iter(devices)) if len(devices) == 1 else None, kept_since_ns=since,
                             long_term_reasons=reasons, holds=tuple(c for c in cases if c in holds),
                             access_requests=reqs, reviews=revs, purged=sha in purged))
    return out


# --- the purge job -----------------------------------------------------------------------------


@dataclass
class RunReport:
    now_ns: int
    dry_run: bool
    purged: list[tuple[BlobFacts, Decision, str | None]] = field(default_factory=list)  # entry hash (None: dry run)
    kept: list[tuple[BlobFacts, Decision]] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # blobs of earlier retention entries removed now
    alert: Message | None = None

    def to_json(self) -> dict:
        return {
            "now_ns": str(self.now_ns), "dry_run": self.dry_run,
            "purged": [{"sha256": f.sha256, "segments": list(f.segments), "case_ids": list(f.case_ids),
                        "reasons": list(d.reasons), "entry_hash": h} for f, d, h in self.purged],
            "kept": [{"sha256": f.sha256, "case_ids": list(f.case_ids), "reasons": list(d.reasons),
                      "expires_ns": None if d.expires_ns is None else str(d.expires_ns)} for f, d in self.kept
                     if "already_purged" not in d.reasons],
            "finished": self.finished,
            "low_disk_alert": None if self.alert is None else str(self.alert),
        }


def low_disk_alert(path: Path, low_disk_pct: int) -> Message | None:
    """An alert when less than ``low_disk_pct`` % of the disk holding ``path`` is free. Only an alert:
    low disk never purges unexpired evidence."""
    usage = shutil.disk_usage(path)
    free_pct = usage.free * 100 / usage.total if usage.total else 100.0
    if free_pct >= low_disk_pct:
        return None
    return Message(N_("low disk: {free_pct:.1f}% free on {path} (alert below {limit}%); add storage, unexpired "
                      "evidence is never purged to make room"), free_pct=free_pct, path=str(path), limit=low_disk_pct)


def retention_run(ledger: Ledger, blob_path, signer: Signer | None, *, policy: Policy, now_ns: int | None = None,
                  dry_run: bool = False, by: str | None = None, disk: Path | None = None,
                  low_disk_pct: int = 0) -> RunReport:
    """Purge every blob ``decide`` releases: append its ``retention`` entry, then unlink the blob.
    ``blob_path(sha256) -> Path``. Idempotent: a blob already purged is skipped, and one whose
    entry exists but whose bytes remain (a crash in between) is removed without a second entry."""
    now = time.time_ns() if now_ns is None else now_ns
    report = RunReport(now, dry_run)
    if disk is not None:
        report.alert = low_disk_alert(disk, low_disk_pct)
    by_id = None
    if not dry_run:
        if signer is None:
            raise RefusedError(Message(N_("a retention run needs the archive's log key or an archivist's key")))
        by_id = _purger(ledger, signer, by)
    for facts in blob_facts(ledger, now):
        decision = decide(facts, now, policy)
        path = blob_path(facts.sha256)
        if facts.purged:
            if path.exists():
                if not dry_run:
                    path.unlink()
                report.finished.append(facts.sha256)
            report.kept.append((facts, decision))
            continue
        if decision.action == "keep":
            report.kept.append((facts, decision))
            continue
        if dry_run:
            report.purged.append((facts, decision, None))
            continue
        assert signer is not None and by_id is not None
        body = Retention(sha256=facts.sha256, segments=list(facts.segments), device_id=facts.device_id,
                         case_id=facts.case_ids[0] if len(facts.case_ids) == 1 else None,
                         reason=f"ordinary footage past {policy.retention_days} days (A2 Art.16)",
                         retention_days=policy.retention_days, purged_ns=now, by=by_id)
        entry = ledger.append(seal(body, signer), require_trusted=True)
        path.unlink(missing_ok=True)
        report.purged.append((facts, decision, entry.entry_hash))
    return report


def _purger(ledger: Ledger, signer: Signer, by: str | None) -> str:
    rec = ledger.enrollment(signer.keyid)
    if rec is not None and rec.subject_type == "archive_log" and by in (None, rec.subject_id):
        return rec.subject_id
    problem = check_person_key({signer.keyid: rec} if rec else {}, signer.keyid, by or "", ("archivist",),
                               N_("retention signer"))
    if problem is not None or by is None:
        raise RefusedError(problem or Message(N_("a retention run is signed by the archive's log key or an "
                                                 "archivist (--by)")))
    return by


# --- legal holds ---------------------------------------------------------------------------------


def legal_hold(ledger: Ledger, case_id: str, action: Literal["add", "release"], person_id: str, signer: Signer,
               reason: str, *, now_ns: int | None = None) -> Entry:
    """Append a ``legal_hold`` (add or release) for ``case_id``; refused when the signer may not, or
    when a release finds no hold in force."""
    if not reason.strip():
        raise RefusedError(Message(N_("a legal hold needs a reason (--reason)")))
    rec = LegalHold(case_id=case_id, action=action, reason=reason, by=person_id,
                    at_ns=time.time_ns() if now_ns is None else now_ns)
    enrolled = ledger.enrollment(signer.keyid)
    open_holds = len(cases_on_hold(ledger).get(case_id, []))
    problems = hold_problems(rec, {signer.keyid}, {signer.keyid: enrolled} if enrolled else {}, open_holds)
    if problems:
        raise RefusedError(Message.join(Message(N_("; ")), (Message("{p}", p=p) for p in problems)))
    return ledger.append(seal(rec, signer), require_trusted=True)


__all__ = ["HOLD_ROLES", "BlobFacts", "Decision", "Policy", "RunReport", "blob_facts", "cases_on_hold", "decide",
           "legal_hold", "low_disk_alert", "open_access_requests", "retention_run", "under_review"]
