"""``ledger verify`` checks for retention (A2 Art.9, 10, 16): a purge refers to segments that exist
earlier in the ledger and whose media is the purged blob, and is signed by the archive's log key
or an archivist; a legal hold is placed and released by an enrolled person who may, and a release
ends a hold that is in force. The archive's retention job applies the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bodycam.i18n import N_, Message
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.people import check_person_key
from ledger.records import Enrollment, LegalHold, Retention, Segment

HOLD_ROLES: tuple[str, ...] = ("supervisor", "head", "reviewer", "archivist")
PURGE_ROLES: tuple[str, ...] = ("archivist",)
_HOLD_SIGNER = N_("legal hold signer")
_PURGE_SIGNER = N_("retention signer")
_HOLDS = "retention.holds"  # case_id → number of holds in force


def purge_signer_problems(rec: Retention, signers: tuple[str, ...] | set[str],
                          enrolled: Mapping[str, Enrollment]) -> list[str]:
    """Why the signers of a ``retention`` entry may not purge (empty: they may): the archive's log
    key (``by`` its subject id) or an archivist (``by`` the person id)."""
    first = None
    for keyid in signers:
        e = enrolled.get(keyid)
        if e is not None and e.subject_type == "archive_log" and e.subject_id == rec.by:
            return []
        problem = check_person_key(enrolled, keyid, rec.by, PURGE_ROLES, _PURGE_SIGNER)
        if problem is None:
            return []
        first = first or problem
    return [Message(N_("retention entry signature: {problem}"),
                    problem=first or Message(N_("not signed by the archive log key or archivist {by}"), by=rec.by))]


def purge_target_problems(rec: Retention, idx: int, lookup: Callable[[str], tuple[int, Segment | None] | None]
                          ) -> list[str]:
    """Why a ``retention`` entry does not refer to its segments (empty: it does). ``lookup`` gives
    the ledger index and record (None if not a segment) of an entry hash."""
    out: list[str] = []
    for h in rec.segments:
        found = lookup(h)
        if found is None or found[0] >= idx:
            out.append(Message(N_("retention entry names segment {entry}…, which is not earlier in the ledger"),
                               entry=h[:16]))
        elif found[1] is None:
            out.append(Message(N_("retention entry names {entry}…, which is not a segment"), entry=h[:16]))
        elif found[1].media.sha256 != rec.sha256:
            out.append(Message(N_("retention entry purges blob {sha256}…, but segment {entry}… holds {media}…"),
                               sha256=rec.sha256[:16], entry=h[:16], media=found[1].media.sha256[:16]))
    return out


def hold_problems(rec: LegalHold, signers: tuple[str, ...] | set[str], enrolled: Mapping[str, Enrollment],
                  open_holds: int) -> list[str]:
    """Why a ``legal_hold`` entry does not count (empty: it does); ``open_holds`` is the number of
    holds in force on its case before it."""
    out: list[str] = []
    problems = [check_person_key(enrolled, k, rec.by, HOLD_ROLES, _HOLD_SIGNER) for k in signers]
    if not signers or all(p is not None for p in problems):
        first = next((p for p in problems if p is not None), None)
        out.append(Message(N_("legal hold signature: {problem}"),
                           problem=first or Message(N_("not signed by {person_id}"), person_id=rec.by)))
    if rec.action == "release" and open_holds <= 0:
        out.append(Message(N_("legal hold release for case {case_id} without a hold in force"), case_id=rec.case_id))
    return out


def check_retention(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Retention)

    def lookup(h: str) -> tuple[int, Segment | None] | None:
        entry = ctx.ledger.by_hash(h)
        if entry is None:
            return None
        seg = entry.record
        return entry.idx, seg if isinstance(seg, Segment) else None

    return purge_signer_problems(rec, e.signers, enrolled_records(ctx)) + purge_target_problems(rec, e.idx, lookup)


def check_legal_hold(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, LegalHold)
    holds: dict[str, int] = ctx.state.setdefault(_HOLDS, {})
    n = holds.get(rec.case_id, 0)
    problems = hold_problems(rec, e.signers, enrolled_records(ctx), n)
    if not problems:
        holds[rec.case_id] = n + 1 if rec.action == "add" else n - 1
    return problems
