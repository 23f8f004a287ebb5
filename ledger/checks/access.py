"""``ledger verify`` checks for access (A2 Art.17–19): a request is registered by an archivist, a
decision is signed by an enrolled bureau head and decides a request the ledger holds, a view
refers to a request the ledger holds, a secrecy level is set by a head or an archivist. The same
rules (``signer_problems``) are what ``archive.access`` applies when it counts a grant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bodycam.i18n import N_, Message
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.people import check_person_key
from ledger.records import Enrollment
from ledger.records.access import Access, AccessGrant, AccessRequest, Secrecy

REQUEST_ROLES: tuple[str, ...] = ("archivist", "head")
GRANT_ROLES: tuple[str, ...] = ("head",)
VIEW_ROLES: tuple[str, ...] = ("archivist", "head")
SECRECY_ROLES: tuple[str, ...] = ("head", "archivist")
_REQUESTS = "access.requests"  # entry hashes of access requests so far


def signer_problems(person_id: str, roles: Iterable[str], what: str, signers: Iterable[str],
                    enrolled: Mapping[str, Enrollment]) -> list[str]:
    """Why no key among ``signers`` may act as ``person_id`` in ``roles`` (empty: one may)."""
    first = None
    for keyid in signers:
        problem = check_person_key(enrolled, keyid, person_id, roles, what)
        if problem is None:
            return []
        first = first or problem
    return [Message(N_("{what} signature: {problem}"), what=Message(what),
                    problem=first or Message(N_("not signed by {person_id}"), person_id=person_id))]


def check_request(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, AccessRequest)
    ctx.state.setdefault(_REQUESTS, set()).add(e.entry_hash)
    return signer_problems(rec.by, REQUEST_ROLES, N_("access request"), e.signers, enrolled_records(ctx))


def _known_request(ctx: VerifyContext, request: str | None) -> list[str]:
    if request is not None and request in ctx.state.get(_REQUESTS, set()):
        return []
    return [Message(N_("refers to access request {request}, which no earlier entry is"),
                    request=(request or "-")[:16])]


def check_grant(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, AccessGrant)
    return (signer_problems(rec.head_id, GRANT_ROLES, N_("access decision"), e.signers, enrolled_records(ctx))
            + _known_request(ctx, rec.request))


def check_access(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Access)
    problems = signer_problems(rec.by, VIEW_ROLES, N_("access"), e.signers, enrolled_records(ctx))
    if rec.outcome == "viewed":
        problems += _known_request(ctx, rec.request)
    return problems


def check_secrecy(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Secrecy)
    return signer_problems(rec.by, SECRECY_ROLES, N_("secrecy level"), e.signers, enrolled_records(ctx))
