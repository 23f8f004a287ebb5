"""verify_ledger as a library: the report, the stored tree, per-kind checker hooks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.checks import CHECKERS, CheckedEntry, VerifyContext
from ledger.envelope import seal
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.ledger import LedgerSetup, build_ledger, segment


def _raw(path: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_honest_ledger_report(ledger_setup: LedgerSetup) -> None:
    with ledger_setup.open() as lg:
        lg.checkpoint(ledger_setup.root, "bodycam.example/dock-1")
        report = verify_ledger(lg, ledger_setup.root.public_key)
        assert report.ok, report.problems
        assert report.entries_checked == 7 and report.signatures_checked == 7
        assert report.checkpoints_checked == 1
        assert report.root == lg.root().hex()
        assert report.to_json()["ok"] is True


def test_missing_and_extra_tree_nodes(ledger_setup: LedgerSetup) -> None:
    _raw(ledger_setup.path, "DELETE FROM merkle_nodes WHERE level = 2 AND idx = 0")
    with Ledger.open(ledger_setup.path, readonly=True) as lg:
        problems = [str(p) for p in verify_ledger(lg).problems]
    assert any("level 2, index 0) is missing" in p for p in problems), problems
    assert any("trigger" in p for p in problems)


def test_nodes_beyond_the_tree(ledger_setup: LedgerSetup) -> None:
    _raw(ledger_setup.path, "INSERT INTO merkle_nodes (level, idx, hash) VALUES (1, 99, ?)", (bytes(32),))
    with Ledger.open(ledger_setup.path, readonly=True) as lg:
        problems = [str(p) for p in verify_ledger(lg).problems]
    assert any("outside the tree" in p for p in problems), problems


def test_checker_hooks_run_per_kind(tmp_path: Path) -> None:
    setup = build_ledger(tmp_path / "l.db", segments=4)
    seen: list[int] = []

    def odd_seq_is_suspicious(ctx: VerifyContext, entry: CheckedEntry) -> list[str]:
        seen.append(entry.idx)
        assert entry.signers == (setup.device.keyid,)
        assert setup.device.keyid in ctx.enrolled
        return [f"seq {entry.record.seq} is odd"] if entry.record.seq % 2 else []

    checkers = {**CHECKERS, "segment": (*CHECKERS["segment"], odd_seq_is_suspicious)}
    with Ledger.open(setup.path, readonly=True) as lg:
        report = verify_ledger(lg, checkers=checkers)
    assert seen == [2, 3, 4, 5]
    assert [(p.idx, p.check, p.message) for p in report.problems] == [
        (3, "segment", "seq 1 is odd"), (5, "segment", "seq 3 is odd")]


def test_empty_ledger_verifies(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "empty.db") as lg:
        report = verify_ledger(lg)
    assert report.ok and report.entries_checked == 0


def test_verification_reads_one_snapshot_while_appends_continue(tmp_path: Path) -> None:
    """A dock keeps appending while an auditor verifies: the report covers one consistent
    snapshot (no phantom 'nodes outside the tree' from rows committed meanwhile)."""
    setup = build_ledger(tmp_path / "l.db", segments=6)
    writer = setup.open()
    later = [seal(segment("cam-1", 100 + i, "0" * 64), setup.device) for i in range(9)]

    def append_meanwhile(ctx: VerifyContext, entry: CheckedEntry) -> list[str]:
        if later:
            writer.append_many(later)
            later.clear()
        return []

    checkers = {**CHECKERS, "segment": (*CHECKERS["segment"], append_meanwhile)}
    try:
        with Ledger.open(setup.path, readonly=True) as lg:
            report = verify_ledger(lg, checkers=checkers)
    finally:
        size = writer.size
        writer.close()
    assert report.ok, report.problems
    assert report.entries_checked == 8 and size == 17
