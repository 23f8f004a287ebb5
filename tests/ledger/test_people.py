"""People and their keys (A2 Art.11, 14): enrolled by an administrator key, verifiable anywhere the
ledger travels."""

from __future__ import annotations

import json

from ledger.enroll import enrollment_body
from ledger.envelope import seal
from ledger.keys import generate_key_file, load_public_key, load_signer, write_public_key
from ledger.people import enroll_person, people
from ledger.verify import verify_ledger
from tests.fixtures.justify import OFFICER, OFFICER_PASS_ENV, PEOPLE


def _new_key(d, name: str, passphrase_env: str | None = None):
    key = d.root / "people" / f"{name}.key"
    signer = generate_key_file(key, passphrase_env)
    write_public_key(d.root / "people" / f"{name}.pub", signer.public_key)
    return key, d.root / "people" / f"{name}.pub", signer


def test_person_list_shows_everyone_enrolled_by_the_dock_key(gap_dock):
    d = gap_dock
    res = d.run("person", "list", "--json")
    assert res.exit_code == 0, res.output
    listed = {p["id"]: p for p in json.loads(res.stdout)}
    assert {k: (p["role"], p["name"]) for k, p in listed.items()} == {k: v[:2] for k, v in PEOPLE.items()}
    dock_keyid = load_public_key(d.root / "keys" / "dock.key").keyid
    assert all(p["enrolled_by"] == dock_keyid for p in listed.values())
    assert listed[OFFICER]["keyid"] == d.signer(OFFICER).keyid
    text = d.run("person", "list").output
    assert "super-1" in text and "supervisor" in text
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0


def test_officer_key_is_passphrase_protected(gap_dock):
    d = gap_dock
    assert b"ENCRYPTED PRIVATE KEY" in d.keys[OFFICER].read_bytes()
    assert d.keys[OFFICER].stat().st_mode & 0o777 == 0o600
    res = d.run("justify", d.gaps[0][:12], "--reason", "2", "--officer", OFFICER, "--officer-key",
                str(d.keys[OFFICER]), "--note", "bus")
    assert res.exit_code == 1 and "passphrase-protected" in res.output
    d.env[OFFICER_PASS_ENV] = "wrong passphrase"
    res = d.run("justify", d.gaps[0][:12], "--reason", "2", *d.officer_args(), "--note", "bus")
    assert res.exit_code == 1 and "wrong passphrase" in res.output


def test_separate_admin_person_may_enroll(gap_dock):
    d = gap_dock
    admin_key, admin_pub, _ = _new_key(d, "admin-1")
    assert d.run("person", "enroll", "--id", "admin-1", "--name", "Admin", "--role", "admin",
                 "--pubkey", str(admin_pub)).exit_code == 0
    _, pub, signer = _new_key(d, "officer-9")
    res = d.run("person", "enroll", "--id", "officer-9", "--name", "Qian Bo", "--role", "officer",
                "--pubkey", str(pub), "--admin-key", str(admin_key), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["keyid"] == signer.keyid
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0


def test_non_admin_keys_and_reused_keys_are_refused(gap_dock):
    d = gap_dock
    _, pub, _ = _new_key(d, "officer-9")
    res = d.run("person", "enroll", "--id", "officer-9", "--name", "Qian Bo", "--role", "officer",
                "--pubkey", str(pub), "--admin-key", str(d.keys["super-1"]))
    assert res.exit_code == 3 and "may not enroll people" in res.output
    stranger_key, _, _ = _new_key(d, "stranger")
    res = d.run("person", "enroll", "--id", "officer-9", "--name", "Qian Bo", "--role", "officer",
                "--pubkey", str(pub), "--admin-key", str(stranger_key))
    assert res.exit_code == 3 and "may not enroll people" in res.output
    res = d.run("person", "enroll", "--id", "officer-10", "--name", "Copy", "--role", "officer",
                "--pubkey", str(d.root / "people" / "super-1.key.pub"))
    assert res.exit_code == 3 and "already enrolled as person 'super-1'" in res.output
    res = d.run("person", "enroll", "--id", "super-1", "--name", "Chen Jing", "--role", "head",
                "--pubkey", str(pub))
    assert res.exit_code == 3 and "already enrolled as supervisor" in res.output
    res = d.run("person", "enroll", "--id", "x", "--name", "X", "--role", "janitor", "--pubkey", str(pub))
    assert res.exit_code == 2


def test_enrolling_the_same_key_again_is_harmless(gap_dock):
    d = gap_dock
    with d.ledger() as lg:
        size = lg.size
        dock = load_signer(d.root / "keys" / "dock.key")
        again = enroll_person(lg, dock, "super-1", "supervisor", d.signer("super-1").public_key, name="Chen Jing")
        assert lg.size == size and again.body["subject_id"] == "super-1"
        assert len([p for p in people(lg) if p.person_id == "super-1"]) == 1


def test_person_enrolled_by_an_officer_key_is_reported_by_verify(gap_dock):
    """Written around the library (an officer's key is enrolled, so the store accepts the signature):
    only the people rule in ``ledger verify`` sees that officers do not admit people."""
    d = gap_dock
    _, _, signer = _new_key(d, "ghost")
    body = enrollment_body("person", "ghost", signer.public_key, role="supervisor", name="Ghost")
    with d.ledger() as lg:
        lg.append(seal(body, d.signer("officer-8")), require_trusted=True)
        report = verify_ledger(lg)
    assert not report.ok
    assert [p.message for p in report.problems] == [
        "person ghost was enrolled by a key that may not enroll people "
        "(only the ledger's root, a dock or an admin person may)"]
    res = d.run("ledger", "verify", str(d.ledger_path))
    assert res.exit_code == 3 and "may not enroll people" in res.output


def test_person_enrollments_verify_at_the_archive_too(gap_dock, tmp_path):
    """The dock's person enrollments travel verbatim: at the archive the dock key is enrolled as a dock,
    and the same envelopes (same bytes, same entry hashes) verify there and name the same people."""
    from ledger.enroll import create_rooted, enroll, public_of
    from ledger.keys import Signer
    from ledger.people import require_person_key
    from ledger.store import Ledger

    d = gap_dock
    admin = Signer.generate()
    dock = load_signer(d.root / "keys" / "dock.key")
    with Ledger.open(tmp_path / "archive.db") as archive, d.ledger() as lg:
        create_rooted(archive, admin, "archive-admin")
        enroll(archive, admin, "dock", "dock-j", public_of(dock))
        envelopes = [e.envelope for e in lg.entries(kind="enrollment") if e.body["subject_type"] == "person"]
        copied = archive.append_many(envelopes, require_trusted=True)
        assert {e.entry_hash for e in copied} == {p.entry_hash for p in people(lg)}
        assert [p.person_id for p in people(archive)] == list(PEOPLE)
        assert require_person_key(archive, d.signer("super-1"), "super-1", ("supervisor",), "supervisor")
        assert verify_ledger(archive).ok
