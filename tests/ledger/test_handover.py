"""A recorder belongs to the dock that enrolled it; moving it, or giving it a new key, is a
hand-over signed by that dock (or an administrator) that ends its chain; the next enrollment
starts a new one (A2 Art.12, 15). One rule (ledger.checks.custody) for the dock, the archive
and `ledger verify`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.errors import RefusedError
from ledger.enroll import enroll, hand_over, public_of
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import make_body
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.ledger import T0_NS, build_ledger, segment


def _problems(lg: Ledger) -> list[str]:
    return [str(p) for p in verify_ledger(lg).problems]


def _append_segments(lg: Ledger, device_id: str, key: Signer, seqs: range, prev: str) -> str:
    for seq in seqs:
        prev = lg.append(seal(make_body(segment(device_id, seq, prev)), key), require_trusted=True).entry_hash
    return prev


def test_a_new_key_for_a_recorder_after_its_hand_over_starts_a_new_chain(tmp_path: Path) -> None:
    setup = build_ledger(tmp_path / "l.db", segments=3)
    with setup.open() as lg:
        h = hand_over(lg, setup.root, "cam-1", "dock-1", "key rotated", now_ns=T0_NS)
        assert h.body["last_seq"] == 2 and h.body["from_dock"] == "dock-1"
        new = Signer.generate()
        e = enroll(lg, setup.root, "device", "cam-1", public_of(new), now_ns=T0_NS, custodian="off-7")
        _append_segments(lg, "cam-1", new, range(0, 2), e.entry_hash)
        assert _problems(lg) == []


def test_re_enrolling_a_recorder_without_a_hand_over_is_reported(tmp_path: Path) -> None:
    setup = build_ledger(tmp_path / "l.db", segments=2)
    with setup.open() as lg:
        e = enroll(lg, setup.root, "device", "cam-1", public_of(Signer.generate()), now_ns=T0_NS)
        problems = _problems(lg)
    assert any(f"entry {e.idx}" in p and "belongs to dock" in p and "needs a hand-over" in p for p in problems), \
        problems


def test_the_old_key_signs_nothing_into_the_chain_after_the_hand_over(tmp_path: Path) -> None:
    setup = build_ledger(tmp_path / "l.db", segments=2)
    with setup.open() as lg:
        hand_over(lg, setup.root, "cam-1", "dock-9", "moved to the north station", now_ns=T0_NS)
        last = list(lg.entries(kind="segment", device_id="cam-1"))[-1]
        late = lg.append(seal(make_body(segment("cam-1", 2, last.entry_hash)), setup.device))
        problems = _problems(lg)
    assert any(f"entry {late.idx}" in p and "after its hand-over to dock-9" in p for p in problems), problems


def test_only_the_owner_or_an_administrator_hands_a_recorder_over(tmp_path: Path) -> None:
    setup = build_ledger(tmp_path / "l.db", segments=1)
    with setup.open() as lg:
        clerk = Signer.generate()
        enroll(lg, setup.root, "person", "clerk-1", public_of(clerk), now_ns=T0_NS, role="archivist")
        with pytest.raises(RefusedError, match="hand-over of cam-1 refused") as exc:
            hand_over(lg, clerk, "cam-1", "dock-2", "mine now", now_ns=T0_NS)
        assert any("not signed by its owner dock dock-1" in r for r in exc.value.reasons)
        hand_over(lg, setup.root, "cam-1", "dock-2", "moved", now_ns=T0_NS)
        with pytest.raises(RefusedError) as exc:
            hand_over(lg, setup.root, "cam-1", "dock-3", "again", now_ns=T0_NS)
        assert any("already handed over to dock-2" in r for r in exc.value.reasons)
        assert _problems(lg) == []
