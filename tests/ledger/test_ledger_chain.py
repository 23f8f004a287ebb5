"""`ledger verify` proves the chain of custody, not only the signatures (A2 Art.8): a segment
removed, a segment signed by another recorder, or a recorder enrolled by a non-dock key is
reported even when the ledger around it was rebuilt so that every hash and signature holds."""

from ledger.enroll import create_rooted, enroll, public_of
from ledger.keys import Signer
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.offload import make_dock, recorder_card


def _rebuild(tmp_path, name, envelopes):
    """A fresh ledger holding exactly ``envelopes``: every Merkle node, hash and signature valid."""
    ledger = Ledger.open(tmp_path / name)
    ledger.append_many(envelopes)
    return ledger


def _docked(tmp_path):
    dock = make_dock(tmp_path)
    recorder_card(dock.mount)
    dock.run()
    return dock


def test_an_intact_chain_verifies(tmp_path):
    dock = _docked(tmp_path)
    report = verify_ledger(dock.ledger)
    assert report.ok, [str(p) for p in report.problems]
    dock.ledger.close()


def test_a_segment_left_out_breaks_the_chain(tmp_path):
    dock = _docked(tmp_path)
    entries = list(dock.ledger.entries())
    first_segment = next(e for e in entries if e.kind == "segment")
    kept = [e.envelope for e in entries if e.entry_hash != first_segment.entry_hash]
    forged = _rebuild(tmp_path, "forged.db", kept)
    problems = [str(p) for p in verify_ledger(forged).problems]
    assert any("missing segments" in p for p in problems), problems
    assert any("chain was cut or spliced" in p for p in problems), problems
    forged.close()
    dock.ledger.close()


def test_a_segment_signed_by_another_recorder_is_reported(tmp_path):
    from ledger.envelope import seal

    dock = _docked(tmp_path)
    other = Signer.generate()
    enroll(dock.ledger, dock.dock, "device", "rec-OTHER", public_of(other), now_ns=5)
    seg = list(dock.ledger.entries(kind="segment"))[-1]
    body = dict(seg.body, seq=seg.body["seq"] + 1, prev=seg.entry_hash, source_name="spliced.mp4")
    dock.ledger.append(seal(body, other))
    problems = [str(p) for p in verify_ledger(dock.ledger).problems]
    assert any("not signed by that recorder's enrolled key" in p for p in problems), problems
    dock.ledger.close()


def test_a_recorder_enrolled_by_a_person_is_reported(tmp_path):
    from ledger.people import enroll_person

    root = Signer.generate()
    admin = Signer.generate()
    ledger = Ledger.open(tmp_path / "l.db")
    create_rooted(ledger, root, "dock-x", now_ns=1)
    enroll_person(ledger, root, "adm-1", "admin", public_of(admin), name="Admin", now_ns=2)
    enroll(ledger, admin, "device", "rec-X", public_of(Signer.generate()), now_ns=3)
    problems = [str(p) for p in verify_ledger(ledger).problems]
    assert any("enrolled by a key that is not a dock's" in p for p in problems), problems
    ledger.close()
