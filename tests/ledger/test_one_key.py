"""One key, one identity (ledger.trust): a keyid is enrolled once per ledger; rotation is a
revocation signed by who enrolled the key, then a new key. The ledger refuses, ``ledger verify``
reports what was written behind its back."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.errors import RefusedError
from ledger.enroll import create_rooted, enroll, enrollment_body, public_of
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import Revocation, make_body
from ledger.store import Ledger
from ledger.verify import verify_ledger

T0 = 1_796_000_000 * 1_000_000_000


@pytest.fixture
def dock(tmp_path: Path):
    root = Signer.generate()
    lg = Ledger.open(tmp_path / "l.db")
    create_rooted(lg, root, "dock-1", now_ns=T0)
    yield lg, root
    lg.close()


def _revocation(key: Signer, subject_type: str, subject_id: str, by: Signer):
    return seal(make_body(Revocation(keyid=key.keyid, subject_type=subject_type, subject_id=subject_id,
                                     reason="rotated", revoked_ns=T0 + 5)), by)


def test_a_key_enrolled_as_a_person_cannot_be_enrolled_again_as_a_recorder(dock) -> None:
    lg, root = dock
    officer = Signer.generate()
    first = enroll(lg, root, "person", "officer-1", public_of(officer), now_ns=T0, role="officer")
    with pytest.raises(RefusedError, match=r"already enrolled in this ledger as person officer-1 \(entry 1\)"):
        enroll(lg, root, "device", "rec-1", public_of(officer), now_ns=T0, custodian="officer-1")
    assert enroll(lg, root, "person", "officer-1", public_of(officer), role="officer").entry_hash == first.entry_hash
    assert lg.size == 2


def test_the_ledgers_own_root_key_cannot_be_enrolled_as_anything_else(dock) -> None:
    lg, root = dock
    body = enrollment_body("person", "mallory", public_of(root), now_ns=T0, role="admin")
    with pytest.raises(RefusedError, match="already enrolled in this ledger as ledger_root dock-1"):
        lg.append(seal(body, root))  # refused even without require_trusted: a rule of the ledger itself


def test_a_reenrollment_written_behind_the_ledgers_back_is_reported_by_verify(dock, tmp_path: Path) -> None:
    lg, root = dock
    officer = Signer.generate()
    enroll(lg, root, "person", "officer-1", public_of(officer), now_ns=T0, role="officer")
    forged = seal(enrollment_body("device", "rec-9", public_of(officer), now_ns=T0, custodian="x"), root)
    # An insider copies the ledger and appends with a tool that does not know the rule.
    copy = tmp_path / "copy.db"
    with Ledger.open(copy) as lg2:
        for e in lg.entries():
            lg2.append(e.envelope.to_bytes())
    with Ledger.open(copy) as lg2:
        lg2._keys.clear()  # a writer that never loaded the key table (an older bodycam)
        lg2._keyring_upto = 10**9
        lg2.append(forged.to_bytes())
        problems = [str(p) for p in verify_ledger(lg2).problems]
    assert any("entry 2" in p and "already enrolled in this ledger as person officer-1 (entry 1)" in p
               for p in problems), problems


def test_rotation_is_a_revocation_by_the_enroller_then_a_new_key(dock) -> None:
    lg, root = dock
    old, new, stranger = Signer.generate(), Signer.generate(), Signer.generate()
    enroll(lg, root, "person", "officer-1", public_of(old), now_ns=T0, role="officer")
    enroll(lg, root, "person", "stranger", public_of(stranger), now_ns=T0, role="admin")
    with pytest.raises(RefusedError, match="not signed by the key that enrolled it"):
        lg.append(_revocation(old, "person", "officer-1", stranger), require_trusted=True)
    lg.append(_revocation(old, "person", "officer-1", root), require_trusted=True)
    with pytest.raises(RefusedError, match="already enrolled"):  # even revoked, a key is never enrolled again
        enroll(lg, root, "person", "officer-1", public_of(old), now_ns=T0, role="officer")
    enroll(lg, root, "person", "officer-1b", public_of(new), now_ns=T0, role="officer")
    # The revoked key signs nothing more.
    with pytest.raises(RefusedError, match="which was revoked"):
        lg.append(seal(enrollment_body("person", "p2", public_of(Signer.generate()), now_ns=T0, role="officer"),
                       old), require_trusted=True)
    report = verify_ledger(lg)
    assert report.ok, report.problems


def test_verify_does_not_count_a_signature_by_a_revoked_key(dock, tmp_path: Path) -> None:
    lg, root = dock
    officer = Signer.generate()
    enroll(lg, root, "person", "officer-1", public_of(officer), now_ns=T0, role="admin")
    lg.append(_revocation(officer, "person", "officer-1", root), require_trusted=True)
    late = seal(enrollment_body("person", "p9", public_of(Signer.generate()), now_ns=T0, role="officer"), officer)
    lg.append(late)  # appended without the trust check (as a careless tool would)
    problems = [str(p) for p in verify_ledger(lg).problems]
    assert any("entry 3" in p and "revoked before this entry" in p for p in problems), problems
