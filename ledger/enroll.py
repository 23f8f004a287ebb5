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
            from bodycam.i18n import N_, Message

            raise RefusedError(Message(N_("{ledger} is already rooted in another key ({keyid}…); use its own key"),
                                       ledger=ledger.path, keyid=str(first.body.get("keyid"))[:16]))
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


def hand_over(ledger: Ledger, signer: Signer, device_id: str, to_dock: str, reason: str, *,
              now_ns: int | None = None) -> Entry:
    """Append a ``handover`` ending ``device_id``'s chain so that ``to_dock`` may enroll it (with
    a new key). ``signer`` is the owning dock's key, or an administrator's when that dock is lost;
    the rule is ``ledger.checks.custody.handover_problems``, the one every verifier applies."""
    from bodycam.errors import RefusedError
    from bodycam.i18n import N_, Message
    from ledger.checks.custody import chain_head, custody_of, handover_problems
    from ledger.records import Handover

    current = custody_of(ledger, device_id)
    if current is None:
        raise RefusedError(Message(N_("recorder {device_id} is not enrolled in {ledger}: nothing to hand over"),
                                   device_id=device_id, ledger=ledger.path))
    head = chain_head(ledger, device_id)
    record = ledger.key_record(signer.keyid)
    me = record.enrollment if record is not None else None
    docks = {me.subject_id} if me is not None and me.subject_type in ("ledger_root", "dock") else set()
    by_admin = me is not None and (me.subject_type == "ledger_root" or me.role == "admin")
    body = Handover(device_id=device_id, keyid=current.keyid, from_dock=current.owner, to_dock=to_dock,
                    last_seq=head.seq if head is not None else -1, reason=reason,
                    handed_ns=time.time_ns() if now_ns is None else now_ns)
    problems = handover_problems(body, docks, by_admin, current, head)
    if problems:
        raise RefusedError(Message(N_("hand-over of {device_id} refused"), device_id=device_id), problems)
    return ledger.append(seal(make_body(body), signer), require_trusted=True)
