"""People and their keys: who may sign what (A2 Art.11, 14, 18).

A person is an ``enrollment`` with ``subject_type = "person"``, a role, and the public half of a key
the person holds alone (a passphrase-protected file). The same rules decide at the dock and at the
archive, because person enrollments travel with the rest of the ledger: a person is enrolled by the
ledger's owner (the dock key on a dock, the administrator at the archive), by a dock key the archive
enrolled, or by a person with the ``admin`` role. Every question "is this signature the officer's?"
is answered from the ledger itself, never from a local list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.enroll import enrollment_body
from ledger.envelope import Envelope, seal
from ledger.keys import PublicKey, Signer
from ledger.records import Enrollment
from ledger.store import Entry, Ledger

PERSON_ROLES: tuple[str, ...] = (N_("officer"), N_("supervisor"), N_("head"), N_("reviewer"), N_("archivist"),
                                 N_("admin"))
#: Keys that may admit a person: the ledger's owner, a dock (at the archive), an administrator.
ENROLLER_TYPES: tuple[str, ...] = ("ledger_root", "dock")
JUSTIFY_ROLES: tuple[str, ...] = ("officer",)
APPROVE_ROLES: tuple[str, ...] = ("supervisor", "head")
CASE_FLAG_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "archivist")


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str | None
    role: str
    keyid: str
    unit: str | None
    enrolled_ns: int
    entry_hash: str
    enrolled_by: str  # keyid that signed the enrollment
    certificate_no: str | None = None  # enforcement certificate (A2 Art.14)
    valid_from_ns: int | None = None
    valid_until_ns: int | None = None
    legal_qualification_no: str | None = None  # a reviewer's 法律职业资格 certificate (行政处罚法 Art.58)

    def to_json(self) -> dict:
        return {"id": self.person_id, "name": self.name, "role": self.role, "keyid": self.keyid,
                "unit": self.unit, "enrolled_ns": self.enrolled_ns, "entry": self.entry_hash,
                "enrolled_by": self.enrolled_by, "certificate_no": self.certificate_no,
                "valid_from_ns": self.valid_from_ns, "valid_until_ns": self.valid_until_ns,
                "legal_qualification_no": self.legal_qualification_no}


def may_enroll_people(enrollment: Enrollment | None) -> bool:
    """Whether the key of ``enrollment`` may admit people (see the module docstring)."""
    if enrollment is None:
        return False
    if enrollment.subject_type in ENROLLER_TYPES:
        return True
    return enrollment.subject_type == "person" and enrollment.role == "admin"


def people(ledger: Ledger) -> list[Person]:
    """Every person key enrolled in ``ledger``, in ledger order."""
    out = []
    for e in ledger.entries(kind="enrollment"):
        rec = e.record
        assert isinstance(rec, Enrollment)
        if rec.subject_type != "person" or rec.role is None:
            continue
        out.append(Person(rec.subject_id, rec.name, rec.role, rec.keyid, rec.unit, rec.enrolled_ns,
                          e.entry_hash, e.envelope.keyids[0], rec.certificate_no, rec.valid_from_ns,
                          rec.valid_until_ns, rec.legal_qualification_no))
    return out


def person_for_key(ledger: Ledger, keyid: str) -> Enrollment | None:
    rec = ledger.enrollment(keyid)
    return rec if rec is not None and rec.subject_type == "person" else None


def _roles_text(roles: Iterable[str]) -> Message:
    """``officer``, ``supervisor or head``, ``officer, supervisor, head or archivist``."""
    words = [Message(r) for r in roles]
    if len(words) == 1:
        return words[0]
    return Message(N_("{roles} or {last}"), roles=Message.join(Message(N_(", ")), words[:-1]), last=words[-1])


def check_person_key(enrollments: Mapping[str, Enrollment], keyid: str, person_id: str,
                     roles: Iterable[str], what: str) -> Message | None:
    """Why ``keyid`` may not act as ``person_id`` in one of ``roles`` (None: it may).

    Pure over a keyid → enrollment map so the dock, the archive and the verifier share it.
    ``what`` names the signer (``"officer"``; mark it with ``N_``: it is shown translated).
    """
    roles = tuple(roles)
    rec = enrollments.get(keyid)
    signer = Message(what)
    if rec is None:
        return Message(N_("the {what} key {keyid}… is not enrolled in this ledger; enroll it with `bodycam person "
                          "enroll --id {person_id} --role {role} --pubkey FILE`"),
                       what=signer, keyid=keyid[:16], person_id=person_id, role=roles[0])
    if rec.subject_type != "person":
        return Message(N_("the {what} key {keyid}… is a {subject_type} key, not a person's"),
                       what=signer, keyid=keyid[:16], subject_type=rec.subject_type)
    if rec.subject_id != person_id:
        return Message(N_("the {what} key {keyid}… is enrolled for {enrolled!r}, not {person_id!r}; use {person}'s own "
                          "key"), what=signer, keyid=keyid[:16], enrolled=rec.subject_id, person_id=person_id,
                       person=person_id)
    if rec.role not in roles:
        return Message(N_("{person_id} is enrolled as {role}; a {what} must be {roles}"),
                       person_id=person_id, role=Message(rec.role or ""), what=signer, roles=_roles_text(roles))
    return None


def require_person_key(ledger: Ledger, signer: Signer | PublicKey, person_id: str, roles: Iterable[str],
                       what: str) -> Enrollment:
    """The enrollment of ``signer`` as ``person_id`` in one of ``roles``; RefusedError otherwise."""
    keyid = signer.keyid
    rec = ledger.enrollment(keyid)
    problem = check_person_key({keyid: rec} if rec is not None else {}, keyid, person_id, roles, what)
    if problem:
        raise RefusedError(problem)
    assert rec is not None
    return rec


def enroll_person(ledger: Ledger, admin: Signer, person_id: str, role: str, pub: PublicKey, *,
                  name: str | None = None, unit: str | None = None, now_ns: int | None = None,
                  certificate_no: str | None = None, valid_from_ns: int | None = None,
                  valid_until_ns: int | None = None, legal_qualification_no: str | None = None) -> Entry:
    """Append the enrollment of a person's key, signed by ``admin``.

    Refuses an administrator key the ledger does not know as one, a key already enrolled for
    something else, and a second role for the same person id (a person has one role; a new key
    for the same person and role is a key rotation and is allowed). An officer's enforcement
    certificate (A2 Art.14) is its number and validity dates; a reviewer's legal qualification
    (法律职业资格, 行政处罚法 Art.58) is its certificate number.
    """
    if role not in PERSON_ROLES:
        raise RefusedError(Message(N_("unknown role {role!r}; use one of {roles}"), role=role,
                                   roles=", ".join(PERSON_ROLES)))
    admin_rec = ledger.enrollment(admin.keyid)
    if not may_enroll_people(admin_rec):
        raise RefusedError(Message(N_("key {keyid}… may not enroll people in {ledger}: use the ledger's own key (the "
                                      "dock key) or an enrolled person with role admin"),
                                   keyid=admin.keyid[:16], ledger=ledger.path))
    existing = ledger.enrollment(pub.keyid)
    if existing is not None:
        if existing.subject_type == "person" and existing.subject_id == person_id and existing.role == role:
            for e in ledger.entries(kind="enrollment"):
                if e.body.get("keyid") == pub.keyid:
                    return e
        raise RefusedError(Message(N_("key {keyid}… is already enrolled as {subject_type} {subject_id!r}; every "
                                      "person needs a key of their own"),
                                   keyid=pub.keyid[:16], subject_type=existing.subject_type,
                                   subject_id=existing.subject_id))
    for p in people(ledger):
        if p.person_id == person_id and p.role != role:
            raise RefusedError(Message(N_("{person_id} is already enrolled as {role}; a person has one role (enroll "
                                          "the new role under another id)"), person_id=person_id, role=Message(p.role)))
    body = enrollment_body("person", person_id, pub, now_ns=time.time_ns() if now_ns is None else now_ns,
                           role=role, name=name, unit=unit,
                           **{k: v for k, v in (("certificate_no", certificate_no), ("valid_from_ns", valid_from_ns),
                                                ("valid_until_ns", valid_until_ns),
                                                ("legal_qualification_no", legal_qualification_no)) if v is not None})
    return ledger.append(seal(body, admin), require_trusted=True)


def valid_signers(env: Envelope, keyring: Mapping[str, PublicKey]) -> set[str]:
    """Key ids (enrolled in ``keyring``) whose signature on ``env`` verifies. Never raises: readers
    that decide a state (justified? approved?) count only signatures that verify."""
    message = env.pae()
    good = set()
    for keyid, sig in env.signatures:
        pub = keyring.get(keyid)
        if pub is not None and pub.verify(sig, message):
            good.add(keyid)
    return good


def signing_person(env: Envelope, enrollments: Mapping[str, Enrollment], good: set[str], person_id: str,
                   roles: Iterable[str]) -> str | None:
    """The keyid among ``good`` signatures that belongs to ``person_id`` in one of ``roles``."""
    roles = tuple(roles)
    for keyid in env.keyids:
        if keyid in good and check_person_key(enrollments, keyid, person_id, roles, N_("signer")) is None:
            return keyid
    return None
