"""Admitting keys to a ledger: the root of trust first, then everything it vouches for.

One place builds enrollment records so that the dock (devices), the archive (docks, people,
its log key) and ``bodycam init`` cannot drift apart in how a key enters a ledger.
"""

from __future__ import annotations

import time

from ledger.envelope import seal
from ledger.keys import PublicKey, Signer
from ledger.records import Enrollment, make_body
from ledger.store import Entry, Ledger
from ledger.trust import reenrollment_problem


def enrollment_body(subject_type: str, subject_id: str, pub: PublicKey, *, now_ns: int | None = None,
                    **fields) -> dict:
    model = Enrollment(subject_type=subject_type, subject_id=subject_id, public_key=pub.b64,
                       keyid=pub.keyid, enrolled_ns=time.time_ns() if now_ns is None else now_ns, **fields)
    return make_body(model)


def public_of(signer: Signer) -> PublicKey:
    return PublicKey.from_raw(signer.public_key_raw)


def create_rooted(ledger: Ledger, root: Signer, subject_id: str, *, now_ns: int | None = None) -> Entry:
    """Make ``root`` the ledger's owner (entry 0, self-signed). Idempotent for the same key."""
    if ledger.size:
        first = ledger.get(0)
        if first.body.get("keyid") != root.keyid:
            from bodycam.errors import RefusedError

            raise RefusedError(f"{ledger.path} is already rooted in another key "
                               f"({str(first.body.get('keyid'))[:16]}…); use its own key")
        return first
    body = enrollment_body("ledger_root", subject_id, public_of(root), now_ns=now_ns)
    return ledger.append(seal(body, root))


def enroll(ledger: Ledger, enroller: Signer, subject_type: str, subject_id: str, pub: PublicKey, *,
           now_ns: int | None = None, **fields) -> Entry:
    """Append an enrollment of ``pub`` signed by ``enroller`` (which must be enrolled already).
    Returns the existing entry when that key is already enrolled as the same subject, so re-running
    is harmless; a key enrolled as anything else is refused (``ledger.trust``: one key, one identity)."""
    existing = ledger.key_record(pub.keyid)
    if existing is not None:
        old = existing.enrollment
        if (old.subject_type, old.subject_id) == (subject_type, subject_id) and existing.revoked_at is None:
            return ledger.get(existing.idx)
        from bodycam.errors import RefusedError

        raise RefusedError(reenrollment_problem(pub.keyid, existing))
    body = enrollment_body(subject_type, subject_id, pub, now_ns=now_ns, **fields)
    return ledger.append(seal(body, enroller))
