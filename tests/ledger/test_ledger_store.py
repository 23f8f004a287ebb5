"""The SQLite ledger: append-only by triggers, idempotent appends, migrations, checkpoints."""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bodycam.errors import BodycamError, FormatError, RefusedError
from ledger import merkle
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import Gap
from ledger.store import MIGRATIONS, Ledger
from tests.fixtures.ledger import T0_NS, build_ledger, enrollment, segment


def test_append_is_idempotent(ledger_setup) -> None:
    with ledger_setup.open() as lg:
        size = lg.size
        again = lg.append(ledger_setup.envelopes[3])
        assert again.idx == 3
        assert lg.size == size
        assert [e.idx for e in lg.append_many(ledger_setup.envelopes[:2] + ledger_setup.envelopes[:1])] == [0, 1, 0]
        assert lg.size == size


def test_entries_and_lookups(ledger_setup) -> None:
    with ledger_setup.open() as lg:
        assert lg.size == 7
        e = lg.get(2)
        assert e.kind == "segment" and e.record.seq == 0
        assert e.entry_hash == hashlib.sha256(e.envelope.to_bytes()).hexdigest()
        assert e.leaf_hash == merkle.leaf_hash(e.envelope.to_bytes())
        assert lg.by_hash(e.entry_hash).idx == 2
        assert lg.by_hash("0" * 64) is None
        assert [x.idx for x in lg.entries("segment")] == [2, 3, 4, 5, 6]
        assert [x.idx for x in lg.entries(device_id="cam-1", batch=2)] == [1, 2, 3, 4, 5, 6]
        assert [x.record.seq for x in lg.entries("segment", start=4, stop=6)] == [2, 3]
        assert lg.conn.execute("SELECT start_ns FROM entries WHERE idx = 2").fetchone()[0] == T0_NS
        with pytest.raises(BodycamError, match="cannot filter"):
            list(lg.entries(colour="red"))
        with pytest.raises(BodycamError, match="no entry 99"):
            lg.get(99)


@pytest.mark.parametrize("sql", [
    "UPDATE entries SET kind = 'gap' WHERE idx = 1",
    "DELETE FROM entries WHERE idx = 6",
    "UPDATE merkle_nodes SET hash = x'00' WHERE level = 1",
    "DELETE FROM merkle_nodes",
    "DELETE FROM checkpoints",
])
def test_triggers_abort_update_and_delete(ledger_setup, sql: str) -> None:
    with ledger_setup.open() as lg:
        lg.checkpoint(ledger_setup.root, "test/dock-1")
    conn = sqlite3.connect(ledger_setup.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute(sql)
    conn.close()


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_require_trusted_enforces_the_enrollment_chain(tmp_path: Path) -> None:
    root, dev, stranger = Signer.generate(), Signer.generate(), Signer.generate()
    with Ledger.open(tmp_path / "l.db") as lg:
        with pytest.raises(RefusedError, match="first entry"):
            lg.append(seal(segment("cam-1", 0, "0" * 64), dev), require_trusted=True)
        lg.append(seal(enrollment(root, "ledger_root", "dock-1"), root), require_trusted=True)
        with pytest.raises(RefusedError, match="trusted key"):
            lg.append(seal(enrollment(dev, "device", "cam-1"), stranger), require_trusted=True)
        lg.append(seal(enrollment(dev, "device", "cam-1"), root), require_trusted=True)
        lg.append(seal(segment("cam-1", 0, "0" * 64), dev), require_trusted=True)
        with pytest.raises(RefusedError, match="not enrolled"):
            lg.append(seal(segment("cam-1", 1, "0" * 64), [dev, stranger]), require_trusted=True)
        assert lg.size == 3
        # a rejected batch leaves nothing behind
        good = seal(segment("cam-1", 2, "0" * 64), dev)
        with pytest.raises(RefusedError):
            lg.append_many([good, seal(segment("cam-1", 3, "0" * 64), stranger)], require_trusted=True)
        assert lg.size == 3
        assert set(lg.keyring()) == {root.keyid, dev.keyid}


def test_append_refuses_malformed_envelopes(ledger_setup) -> None:
    with ledger_setup.open() as lg:
        with pytest.raises(FormatError):
            lg.append(b'{"payload":"e30=","payloadType":"application/vnd.bodycam.gap+json","signatures":[]}')
        with pytest.raises(FormatError):
            lg.append(ledger_setup.envelopes[2].to_bytes() + b" ")
        size = lg.size
        with pytest.raises(FormatError, match="envelope #1 of the batch"):
            lg.append_many([seal(segment("cam-1", 50, "0" * 64), ledger_setup.device).to_bytes(), b"{}"])
        assert lg.size == size


def test_checkpoint_signed_by_enrolled_key_only(ledger_setup) -> None:
    with ledger_setup.open() as lg:
        note = lg.checkpoint(ledger_setup.root, "bodycam.example/dock-1")
        cp = verify_checkpoint(note, ledger_setup.root.public_key)
        assert cp == Checkpoint("bodycam.example/dock-1", 7, lg.root())
        assert lg.latest_checkpoint().note == note
        with pytest.raises(RefusedError, match="not enrolled"):
            lg.checkpoint(Signer.generate(), "bodycam.example/dock-1")
        with pytest.raises(RefusedError, match="ledger_root or archive_log"):
            lg.checkpoint(ledger_setup.device, "bodycam.example/dock-1")


def test_roots_and_proofs_follow_appends(tmp_path: Path) -> None:
    """Appending one at a time and in batches builds the same stored tree as the reference."""
    setup = build_ledger(tmp_path / "a.db", segments=40)
    with Ledger.open(tmp_path / "b.db") as one_by_one, setup.open() as batched:
        for env in setup.envelopes:
            one_by_one.append(env)
        leaves = [e.leaf_hash for e in batched.entries()]
        for n in range(1, len(leaves) + 1):
            assert one_by_one.root(n) == batched.root(n) == merkle.root_from_leaves(leaves[:n])
        assert batched.root(0) == merkle.EMPTY_ROOT
        with pytest.raises(BodycamError, match="outside"):
            batched.root(len(leaves) + 1)


def test_gap_index_columns(ledger_setup) -> None:
    with ledger_setup.open() as lg:
        gap = Gap(gap_type="gap", device_id="cam-1", after_seq=1, before_seq=2, start_ns=T0_NS,
                  end_ns=T0_NS + 5, case_id="case-1")
        e = lg.append(seal(gap, ledger_setup.root))
        row = lg.conn.execute("SELECT kind, device_id, case_id, start_ns, end_ns FROM entries WHERE idx = ?",
                              (e.idx,)).fetchone()
        assert row == ("gap", "cam-1", "case-1", T0_NS, T0_NS + 5)


_ROOT, _DEV = Signer.generate(), Signer.generate()
_ENVS = [seal(enrollment(_ROOT, "ledger_root", "dock-1"), _ROOT)] + [
    seal(segment("cam-1", i, "0" * 64), _DEV) for i in range(40)
]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=12), st.data())
def test_any_batching_gives_the_reference_tree(batches: list[int], data: st.DataObject) -> None:
    """However appends are batched (and repeated), the stored tree is RFC 9162's tree."""
    with tempfile.TemporaryDirectory() as d, Ledger.open(Path(d) / "l.db") as lg:
        pos = 0
        for size in batches:
            chunk = _ENVS[pos : pos + size]
            if data.draw(st.booleans()) and pos:
                chunk = [_ENVS[data.draw(st.integers(0, pos - 1))], *chunk]  # a duplicate: no new entry
            lg.append_many(chunk)
            pos = min(pos + size, len(_ENVS))
        leaves = [merkle.leaf_hash(e.to_bytes()) for e in _ENVS[:pos]]
        assert lg.size == pos
        n = data.draw(st.integers(1, pos))
        assert lg.root(n) == merkle.root_from_leaves(leaves[:n])
        i, m = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n))
        assert lg.inclusion_proof(i, n) == merkle.inclusion_path_from_leaves(i, leaves[:n])
        assert lg.consistency_proof(m, n) == merkle.consistency_proof_from_leaves(m, leaves[:n])


def test_readonly_open_of_an_awkward_path(tmp_path: Path) -> None:
    setup = build_ledger(tmp_path / "dock 1 #?%.db", segments=1)
    with Ledger.open(setup.path, readonly=True) as lg:
        assert lg.size == 3
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            lg.conn.execute("INSERT INTO migrations (name, applied_ns) VALUES ('x', 0)")
    with pytest.raises(BodycamError, match="no such ledger"):
        Ledger.open(tmp_path / "missing.db", readonly=True)
