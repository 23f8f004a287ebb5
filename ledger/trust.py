"""Who a key is: the ledger's rules about keys, written once and applied by ``Ledger.append``,
``ledger verify`` and the archive's admission alike.

One key, one identity: a keyid is enrolled once per ledger, whatever it was enrolled as, and a
second enrollment of it is refused naming the first. Without this rule the dock, the archive and
a verifier could each pick a different enrollment of the same key ("first wins" in one place,
"last wins" in another) and read the same signature as different people's. Rotation is explicit:
the party that enrolled a key revokes it, and a new key is enrolled; signatures by a revoked key
do not count in entries after its revocation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bodycam.i18n import N_, Message
from ledger.records import Enrollment, Revocation


@dataclass(frozen=True)
class KeyRecord:
    """What a ledger knows of one enrolled key: where, as what, by whom, and whether revoked."""

    idx: int
    enrollment: Enrollment
    enrolled_by: tuple[str, ...]  # keyids that signed the enrollment
    revoked_at: int | None = None


def reenrollment_problem(keyid: str, existing: KeyRecord | None) -> str | None:
    """A keyid is enrolled once per ledger, whatever it was enrolled as, revoked or not: one key
    is one identity, so nothing signed by it can be read as someone else's."""
    if existing is None:
        return None
    old = existing.enrollment
    return Message(N_("key {keyid}… is already enrolled in this ledger as {subject_type} {subject_id} (entry {idx}); a "
                      "key is enrolled once per ledger: to rotate, revoke the old key (a revocation signed by who "
                      "enrolled it) and enroll a new one"),
                   keyid=keyid[:16], subject_type=old.subject_type, subject_id=old.subject_id, idx=existing.idx)


def revocation_problems(rev: Revocation, target: KeyRecord | None, signers: tuple[str, ...]) -> list[str]:
    """A revocation names an enrolled, unrevoked key truthfully and is signed by its enroller."""
    if target is None:
        return [Message(N_("revocation of key {keyid}… which is not enrolled in this ledger"), keyid=rev.keyid[:16])]
    old = target.enrollment
    problems = []
    if (old.subject_type, old.subject_id) != (rev.subject_type, rev.subject_id):
        problems.append(Message(N_("revocation names {subject_type} {subject_id} but key {keyid}… is enrolled as "
                                   "{old_type} {old_id}"),
                                subject_type=rev.subject_type, subject_id=rev.subject_id, keyid=rev.keyid[:16],
                                old_type=old.subject_type, old_id=old.subject_id))
    if old.subject_type == "ledger_root":
        problems.append(Message(N_("the ledger's root key cannot be revoked: start a new ledger")))
    if target.revoked_at is not None:
        problems.append(Message(N_("key {keyid}… was already revoked at entry {idx}"), keyid=rev.keyid[:16],
                                idx=target.revoked_at))
    if not set(signers) & set(target.enrolled_by):
        problems.append(Message(N_("revocation of {subject_type} {subject_id} is not signed by the key that enrolled "
                                   "it (entry {idx})"),
                                subject_type=old.subject_type, subject_id=old.subject_id, idx=target.idx))
    return problems


def signed_by_revoked(keyids: Iterable[str], known: dict[str, KeyRecord], idx: int) -> list[str]:
    """Signatures that no longer count at entry ``idx``: by keys revoked before it."""
    return [k for k in keyids if (r := known.get(k)) is not None and r.revoked_at is not None and r.revoked_at < idx]


