"""Failures mid-transfer, each against a real Mosquitto: the dock process killed, the broker
restarted, the archive killed, the TCP link cut mid-chunk, a chunk altered in flight. Each ends
with exactly one blob whose SHA-256 matches, one ledger entry and no part files (A2 Art.8:
footage complete and unaltered; A2 Art.16: custody survives failures)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time

from tests.fixtures.sync import CHUNK, sha256_file

SIZE = 8 << 20  # 32 chunks of 256 KiB
CHUNKS = SIZE // CHUNK


def throttle(relay, rate_bps: float) -> None:
    """Slow the dock's upload through the relay so a test can act mid-file."""
    def slow(data: bytes) -> bytes:
        time.sleep(len(data) / rate_bps)
        return data
    relay.tamper = slow


def wait_for(cond, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def assert_delivered(w, sha: str) -> None:
    blobs = w.blobs()
    assert [b.name for b in blobs] == [sha]
    assert sha256_file(blobs[0]) == sha
    with w.archive_ledger() as lg:
        segs = list(lg.entries(kind="segment"))
    assert len(segs) == 1 and segs[0].body["media"]["sha256"] == sha
    assert w.parts() == []


def stored_in(db_path, dock: str = "dock-a") -> int:
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT count(*) FROM chunks WHERE dock=?", (dock,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def run_in_thread(up):
    box: dict = {}

    def target():
        try:
            box["result"] = up.run(once=True)
        finally:
            up.close()
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def test_kill_syncd_mid_file_then_restart_sends_only_missing(sync_world, tcp_relay):
    w = sync_world()
    a = w.docks["dock-a"]
    relay = tcp_relay(w.broker.host, w.broker.plain_port)
    w.set_broker_port(a, relay.port)
    (sha,) = a.add_segments([SIZE])
    throttle(relay, 6e6)
    db = w.archive.path(w.archive.state_db)
    with w.receiver() as r:
        first = w.sync_process("dock-a", "--once")
        wait_for(lambda: stored_in(db) >= CHUNKS // 3, what="a third of the file at the archive")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        stored_at_kill = stored_in(db)
        assert stored_at_kill < CHUNKS
        relay.tamper = None
        second = w.sync_process("dock-a", "--once", "--json")
        assert second.wait(60) == 0, w.log("sync-dock-a.log")
        assert r.stats.commits == 2
    out = w.log("sync-dock-a.log")
    result = json.loads(out[out.index("{\n"):out.rindex("}") + 1])
    # the restarted dock sent only what the archive reported missing, not the whole file again
    assert 0 < result["chunks_sent"] <= CHUNKS - stored_at_kill
    assert_delivered(w, sha)


def test_broker_restart_mid_file(sync_world, tcp_relay):
    w = sync_world()
    a = w.docks["dock-a"]
    relay = tcp_relay(w.broker.host, w.broker.plain_port)
    w.set_broker_port(a, relay.port)
    (sha,) = a.add_segments([SIZE])
    throttle(relay, 8e6)
    with w.receiver() as r:
        t, box = run_in_thread(w.uploader("dock-a"))
        wait_for(lambda: r.stats.chunks >= CHUNKS // 3, what="a third of the file")
        w.broker.restart()
        relay.tamper = None
        t.join(60)
        assert not t.is_alive()
        assert box["result"].rejected == [] and box["result"].queued == 0
        assert r.stats.chunks < 2 * CHUNKS
    assert w.broker.starts == 2
    assert_delivered(w, sha)


def test_kill_archive_mid_file(sync_world, tcp_relay):
    w = sync_world()
    a = w.docks["dock-a"]
    relay = tcp_relay(w.broker.host, w.broker.plain_port)
    w.set_broker_port(a, relay.port)
    (sha,) = a.add_segments([SIZE])
    throttle(relay, 6e6)
    db = w.archive.path(w.archive.state_db)
    archive = w.archive_process()
    t, box = run_in_thread(w.uploader("dock-a"))
    wait_for(lambda: stored_in(db) >= CHUNKS // 3, what="a third of the file at the archive")
    os.killpg(archive.pid, signal.SIGKILL)
    archive.wait(10)
    assert len(w.parts()) == 1  # the part file survives the crash
    relay.tamper = None
    time.sleep(0.5)
    archive = w.archive_process()
    t.join(60)
    assert not t.is_alive(), w.log("archive.log")
    assert box["result"].rejected == [] and box["result"].queued == 0
    archive.send_signal(signal.SIGTERM)
    assert archive.wait(15) == 0
    assert_delivered(w, sha)


def test_tcp_cut_mid_chunk(sync_world, tcp_relay):
    w = sync_world()
    a = w.docks["dock-a"]
    relay = tcp_relay(w.broker.host, w.broker.plain_port)
    w.set_broker_port(a, relay.port)
    (sha,) = a.add_segments([SIZE])
    relay.cut_after(3 * CHUNK + CHUNK // 2)  # in the middle of the fourth chunk
    with w.receiver():
        up = w.uploader("dock-a")
        try:
            res = up.run(once=True)
        finally:
            up.close()
    assert res.rejected == [] and res.queued == 0
    assert relay.connections >= 2
    assert_delivered(w, sha)


def test_chunk_altered_in_flight_is_caught_by_the_file_hash_and_the_file_resent(sync_world, tcp_relay):
    """A chunk arriving in order is hashed once, into the running file hash (issue 18 item 5):
    altered in flight, it is caught when ``fin`` compares that hash with the announced one; the
    file is rejected (nothing committed, part file removed, see test_receiver) and the dock, whose
    own copy still matches, sends the whole file again."""
    w = sync_world()
    a = w.docks["dock-a"]
    relay = tcp_relay(w.broker.host, w.broker.plain_port)
    w.set_broker_port(a, relay.port)
    (sha,) = a.add_segments([SIZE])
    blob = a.store().blob_path(sha).read_bytes()
    # byte runs from inside chunk 5: whichever the relay sees whole first is altered, once
    markers = [blob[5 * CHUNK + off: 5 * CHUNK + off + 32] for off in (1000, 70_000, 140_000, 210_000)]
    state = {"done": False}

    def flip(data: bytes) -> bytes:
        if state["done"]:
            return data
        for m in markers:
            at = data.find(m)
            if at >= 0:
                state["done"] = True
                return data[:at + 5] + bytes([data[at + 5] ^ 0xFF]) + data[at + 6:]
        return data
    relay.tamper = flip
    with w.receiver() as r:
        up = w.uploader("dock-a")
        try:
            res = up.run(once=True)
        finally:
            up.close()
        assert state["done"]
        assert r.stats.rejections == 1  # the file, refused at fin by its SHA-256
    assert res.rejected == [] and res.queued == 0
    assert res.chunks_sent == 2 * CHUNKS  # the whole file was sent again
    assert_delivered(w, sha)


def test_a_damaged_dock_copy_is_reported_not_resent(sync_world):
    """The archive finds the bytes do not hash to the announced SHA-256 and the dock's own copy
    does not either: the file is reported refused (file_hash) after one attempt, nothing is
    committed and no part file is left (A2 Art.8: altered footage never enters the archive)."""
    w = sync_world()
    a = w.docks["dock-a"]
    (sha,) = a.add_segments([SIZE])
    path = a.store().blob_path(sha)
    mode = path.stat().st_mode
    path.chmod(0o600)
    with open(path, "r+b") as f:
        f.seek(7 * CHUNK + 3)
        byte = f.read(1)
        f.seek(7 * CHUNK + 3)
        f.write(bytes([byte[0] ^ 1]))
    path.chmod(mode & 0o777)
    with w.receiver():
        up = w.uploader("dock-a")
        try:
            res = up.run(once=True)
        finally:
            up.close()
        assert w.blobs() == []
    assert [x["code"] for x in res.rejected] == ["file_hash"]
    assert res.chunks_sent == CHUNKS
    assert w.blobs() == [] and w.parts() == []
    with w.archive_ledger() as lg:
        assert list(lg.entries(kind="segment")) == []
