"""The receiver's operational state on its own (archive.transfers.TransferState): transfers opened
and resumed, which chunks are durably stored (so a restarted receiver answers ``init`` with the
right ``missing`` list), the end of a transfer, rejections and docks' last contact, all surviving
a re-opened database."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from archive.transfers import TransferRow, TransferState
from bodycam.errors import BodycamError

CHUNK = 256 << 10
SIZE = 5 * CHUNK + 100  # 6 chunks, the last one short
CHUNKS = 6
ENVELOPE = b'{"payload":"...","signatures":[]}'


def hexid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


F1, F2, SHA1, SHA2 = hexid("file 1"), hexid("file 2"), hexid("blob 1"), hexid("blob 2")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "receiver.db"


@pytest.fixture
def state(db: Path):
    st = TransferState(db)
    yield st
    st.close()


def missing(st: TransferState, dock: str, file_id: str, chunks: int = CHUNKS) -> set[int]:
    """What the receiver answers ``init`` with: every chunk not durably stored."""
    return set(range(chunks)) - st.stored(dock, file_id)


def test_begin_opens_a_transfer(state):
    assert state.get("dock-a", F1) is None
    assert state.chunks_received("dock-a", F1) == 0
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    row = state.get("dock-a", F1)
    assert row == TransferRow("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE, "open", None, 0)
    assert isinstance(row.envelope, bytes)
    assert state.open_transfers() == [row]
    assert state.stored("dock-a", F1) == set()
    assert missing(state, "dock-a", F1) == set(range(CHUNKS))
    assert state.get("dock-b", F1) is None  # a transfer belongs to its dock


def test_stored_chunks_and_what_is_missing(state):
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.add_chunks([("dock-a", F1, 5), ("dock-a", F1, 0)])
    state.add_chunks([("dock-a", F1, 3)])
    assert state.stored("dock-a", F1) == {0, 3, 5}
    assert missing(state, "dock-a", F1) == {1, 2, 4}
    assert state.chunks_received("dock-a", F1) == 3
    state.add_chunks([("dock-a", F1, 3)])  # the same chunk flushed again: still stored once
    assert state.stored("dock-a", F1) == {0, 3, 5}
    state.add_chunks([])  # an empty flush is a no-op
    assert state.stored("dock-a", F1) == {0, 3, 5}


def test_one_flush_covers_several_transfers_and_docks(state):
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.begin("dock-a", F2, CHUNK, CHUNK, SHA2, ENVELOPE)
    state.begin("dock-b", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.add_chunks([("dock-a", F1, 1), ("dock-a", F2, 0), ("dock-b", F1, 4), ("dock-a", F1, 2)])
    assert state.stored("dock-a", F1) == {1, 2}
    assert state.stored("dock-a", F2) == {0}
    assert state.stored("dock-b", F1) == {4}
    assert [state.chunks_received(*k) for k in (("dock-a", F1), ("dock-a", F2), ("dock-b", F1))] == [2, 1, 1]
    assert {(r.dock, r.file_id) for r in state.open_transfers()} == {("dock-a", F1), ("dock-a", F2), ("dock-b", F1)}


def test_begin_again_resumes_an_open_transfer(state):
    """A dock that reconnects sends ``init`` again: the chunks stored before are kept."""
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.add_chunks([("dock-a", F1, i) for i in (0, 1, 2)])
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    assert state.get("dock-a", F1).status == "open"
    assert missing(state, "dock-a", F1) == {3, 4, 5}
    assert len(state.open_transfers()) == 1


def test_state_survives_reopening_the_database(db):
    st = TransferState(db)
    st.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    st.begin("dock-a", F2, CHUNK, CHUNK, SHA2, ENVELOPE)
    st.add_chunks([("dock-a", F1, 0), ("dock-a", F1, 4)])
    st.finish("dock-a", F2, "committed", entry_hash=SHA2)
    st.reject("dock-a", "rec", SHA1, "chain", "seq 3 follows seq 1")
    st.touch({"dock-a": (1_000, 3)})
    st.close()

    again = TransferState(db)
    try:
        assert [r.file_id for r in again.open_transfers()] == [F1]
        assert again.get("dock-a", F1) == TransferRow("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE, "open", None, 2)
        assert missing(again, "dock-a", F1) == {1, 2, 3, 5}
        assert again.get("dock-a", F2).status == "committed" and again.get("dock-a", F2).entry_hash == SHA2
        assert [(r["code"], r["item"]) for r in again.rejections()] == [("chain", SHA1)]
        assert again.contacts() == {"dock-a": (1_000, 3)}
    finally:
        again.close()


def test_a_second_connection_sees_each_flush(db, state):
    """Rows are committed as they are written (no transaction left open between calls)."""
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.add_chunks([("dock-a", F1, 2)])
    reader = TransferState(db)
    try:
        assert reader.stored("dock-a", F1) == {2}
    finally:
        reader.close()


@pytest.mark.parametrize("status", ["committed", "rejected", "aborted", "reset"])
def test_finish_ends_a_transfer_and_drops_its_chunks(state, status):
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.begin("dock-a", F2, SIZE, CHUNK, SHA2, ENVELOPE)
    state.add_chunks([("dock-a", F1, 0), ("dock-a", F1, 1), ("dock-a", F2, 0)])
    entry = hexid("entry") if status == "committed" else None
    code = None if status == "committed" else "file_hash"
    state.finish("dock-a", F1, status, entry_hash=entry, code=code, reason=code and "damaged copy")
    row = state.get("dock-a", F1)
    assert (row.status, row.entry_hash) == (status, entry)
    assert state.stored("dock-a", F1) == set()
    assert [r.file_id for r in state.open_transfers()] == [F2]
    assert state.stored("dock-a", F2) == {0}  # the other transfer is untouched


def test_a_finished_transfer_can_be_opened_again(state):
    """After a rejection (say the dock's copy hashed wrong), a new ``init`` starts from nothing."""
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    state.add_chunks([("dock-a", F1, i) for i in range(CHUNKS)])
    state.finish("dock-a", F1, "rejected", code="file_hash", reason="hashes to something else")
    state.begin("dock-a", F1, SIZE, CHUNK, SHA1, ENVELOPE)
    row = state.get("dock-a", F1)
    assert row.status == "open" and row.entry_hash is None
    assert missing(state, "dock-a", F1) == set(range(CHUNKS))


def test_rejections_newest_first_limited_and_reason_bounded(state):
    for n in range(5):
        state.reject("dock-a", "xfer", hexid(f"item {n}"), "dependency", f"reason {n}")
    state.reject("dock-b", "rec", SHA1, "unknown_key", "x" * 5000)
    rows = state.rejections()
    assert [r["dock"] for r in rows] == ["dock-b"] + ["dock-a"] * 5
    assert rows[0] == {"dock": "dock-b", "subject": "rec", "item": SHA1, "code": "unknown_key",
                       "reason": "x" * 1000, "at_ns": rows[0]["at_ns"]}
    assert isinstance(rows[0]["at_ns"], int) and rows[0]["at_ns"] >= rows[-1]["at_ns"]
    assert [r["reason"] for r in state.rejections(limit=2)] == ["x" * 1000, "reason 4"]


def test_contacts_keep_the_latest_time_and_add_up_messages(state):
    assert state.contacts() == {}
    state.touch({})
    state.touch({"dock-a": (2_000, 5), "dock-b": (1_000, 1)})
    state.touch({"dock-a": (1_500, 2)})  # an older timestamp never moves last contact back
    state.touch({"dock-b": (3_000, 4)})
    assert state.contacts() == {"dock-a": (2_000, 7), "dock-b": (3_000, 5)}


def test_flushes_from_several_threads(state):
    """The flusher and the network thread share one TransferState."""
    files = [hexid(f"file {n}") for n in range(4)]
    for f in files:
        state.begin("dock-a", f, 64 * CHUNK, CHUNK, SHA1, ENVELOPE)

    def flush(f: str) -> None:
        for i in range(0, 64, 4):
            state.add_chunks([("dock-a", f, i + k) for k in range(4)])
            state.stored("dock-a", f)

    threads = [threading.Thread(target=flush, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    for f in files:
        assert state.stored("dock-a", f) == set(range(64))
        assert state.chunks_received("dock-a", f) == 64


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    bad = tmp_path / "receiver.db"
    bad.write_bytes(b"this is not sqlite\n" * 512)
    with pytest.raises(BodycamError, match="cannot open the receiver's state"):
        TransferState(bad)
