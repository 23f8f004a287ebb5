"""A transfer re-sent with another chunk size, and chunk counts: the transfer state takes what the
latest init announces (found by the direct receiver tests)."""
import hashlib

from archive.transfers import TransferState
from syncd import protocol as p
from tests.archive.test_receiver import (
    Dock,
    footage,
    make_archive,
    send_chunk,
    send_fin,
    send_init,
    send_record,
    serving,
)

CHUNK = p.CHUNK_MIN
F, SHA = "c" * 64, "d" * 64


def test_transfer_state_begin_after_finish_takes_the_new_chunk_size(tmp_path):
    st = TransferState(tmp_path / "r.db")
    f, sha = "a" * 64, "b" * 64
    st.begin("dock-a", f, 10 * CHUNK, CHUNK, sha, b"env")
    st.finish("dock-a", f, "reset")
    st.begin("dock-a", f, 10 * CHUNK, 2 * CHUNK, sha, b"env")
    assert st.get("dock-a", f).chunk_size == 2 * CHUNK


def test_receiver_resumes_with_a_changed_chunk_size(tmp_path):
    site = make_archive(tmp_path / "archive")
    dock = Dock("dock-a")
    site.register(dock)
    data = footage(4 * CHUNK, seed=1)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    sha = hashlib.sha256(data).hexdigest()
    small = p.Init(len(data), CHUNK, sha, seg0)
    big = p.Init(len(data), 2 * CHUNK, sha, seg0)
    assert small.file_id == big.file_id
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        send_init(r, "dock-a", small)
        send_chunk(r, "dock-a", small, 0, data)
        acks.wait(lambda a: any(isinstance(x, p.Stored) for x in a.of(small.file_id)))
        # the dock restarts with syncd.chunk_size doubled: same file_id, other chunk size
        send_init(r, "dock-a", big)
        m = acks.last(big.file_id)
        assert isinstance(m, p.Missing) and m.missing == {0, 1}
        for i in (0, 1):
            send_chunk(r, "dock-a", big, i, data)
        acks.wait(lambda a: sum(isinstance(x, (p.Stored, p.Rejected)) for x in a.of(big.file_id)) >= 3)
        rejected = [x for x in acks.of(big.file_id) if isinstance(x, p.Rejected)]
        assert rejected == [], rejected
        send_fin(r, "dock-a", big)
        assert isinstance(acks.last(big.file_id), p.Committed), acks.last(big.file_id)

def test_a_chunk_flushed_twice_is_counted_once(tmp_path):
    st = TransferState(tmp_path / "r.db")
    st.begin("dock-a", F, 4 << 18, 1 << 18, SHA, b"env")
    st.add_chunks([("dock-a", F, 0)])
    st.add_chunks([("dock-a", F, 0)])
    assert st.stored("dock-a", F) == {0}
    assert st.get("dock-a", F).chunks_received == 1


def test_a_reopened_transfer_counts_from_zero(tmp_path):
    st = TransferState(tmp_path / "r.db")
    st.begin("dock-a", F, 4 << 18, 1 << 18, SHA, b"env")
    st.add_chunks([("dock-a", F, i) for i in range(4)])
    st.finish("dock-a", F, "rejected", code="file_hash", reason="x")
    st.begin("dock-a", F, 4 << 18, 1 << 18, SHA, b"env")
    assert st.stored("dock-a", F) == set()
    assert st.get("dock-a", F).chunks_received == 0
