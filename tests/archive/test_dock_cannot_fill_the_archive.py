"""One dock cannot fill the archive's disk with transfers it never finishes (issue 11, hole 5).

The bytes a dock's open transfers announce count against ``[archive] max_open_bytes_per_dock``:
an ``init`` beyond is refused with the retryable ``quota`` code while other docks' syncs go on;
a transfer with no ``init`` or chunk for ``transfer_idle_s`` (the receiver's injected clock) is
dropped with its part file, at start-up and by the receiver's loop; ``bodycam archive transfers``
lists what is open and ``drop ID`` removes one; the rejection log keeps the newest
``max_rejections`` rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.config import ArchiveConfig
from archive.docks import register_dock
from archive.receiver import Receiver
from archive.transfers import TransferState, idle_expired, over_quota
from bodycam.cli import cli
from ledger.enroll import create_rooted, enroll, public_of
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import Media, Segment, make_body
from ledger.store import Ledger
from syncd import protocol as p
from syncd.mqtt import Received
from tests.fixtures.ledger import enrollment, segment

T0 = 1_796_000_000 * 1_000_000_000
S = 1_000_000_000
CHUNK = p.CHUNK_MIN
KIB = 1 << 10


# -- the decisions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("open_bytes", "open_count", "size", "limit", "refused"), [
    (0, 0, 100, 1000, False),        # nothing open
    (0, 0, 5000, 1000, False),       # nothing open: one file larger than the quota still goes, alone
    (600, 1, 400, 1000, False),      # exactly at the limit
    (600, 1, 401, 1000, True),       # one byte beyond
    (900, 3, 50, 1000, False),
    (1000, 2, 1, 1000, True),
    (0, 1, 1001, 1000, True),        # an open empty file still counts as one open transfer
])
def test_over_quota(open_bytes, open_count, size, limit, refused):
    assert over_quota(open_bytes, open_count, size, limit) is refused


@pytest.mark.parametrize(("last", "now", "idle_s", "expired"), [
    (T0, T0, 60, False),
    (T0, T0 + 59 * S, 60, False),
    (T0, T0 + 60 * S, 60, True),
    (T0, T0 + 3600 * S, 60, True),
    (T0, T0 - 10 * S, 60, False),    # a clock set back never expires anything early
    (0, T0, 24 * 3600, True),
])
def test_idle_expired(last, now, idle_s, expired):
    assert idle_expired(last, now, idle_s) is expired


def test_the_rejection_log_keeps_only_the_newest_rows(tmp_path):
    st = TransferState(tmp_path / "receiver.db", max_rejections=5)
    try:
        for n in range(12):
            st.reject("dock-a", "xfer", f"item-{n}", "bad_message", "junk")
        assert [r["item"] for r in st.rejections(limit=100)] == [f"item-{n}" for n in range(11, 6, -1)]
    finally:
        st.close()


def test_open_bytes_and_idle_are_counted_per_dock_by_the_injected_clock(tmp_path):
    now = [T0]
    st = TransferState(tmp_path / "receiver.db", clock=lambda: now[0])
    f1, f2, f3 = (hashlib.sha256(x).hexdigest() for x in (b"1", b"2", b"3"))
    try:
        st.begin("dock-a", f1, 1000, CHUNK, f1, b"e1")
        now[0] += 10 * S
        st.begin("dock-a", f2, 500, CHUNK, f2, b"e2")
        st.begin("dock-b", f3, 7, CHUNK, f3, b"e3")
        assert st.open_bytes("dock-a") == (1500, 2)
        assert st.open_bytes("dock-a", exclude=f1) == (500, 1)
        assert st.open_bytes("dock-c") == (0, 0)
        st.finish("dock-b", f3, "committed")
        assert st.open_bytes("dock-b") == (0, 0)  # finished transfers no longer count
        now[0] += 55 * S
        assert st.idle(now[0], 60) == [("dock-a", f1)]
        st.add_chunks([("dock-a", f1, 0)])  # a stored chunk is activity
        assert st.idle(now[0], 60) == []
        assert st.drop("dock-a", f1) and not st.drop("dock-a", f1)
        assert st.get("dock-a", f1) is None and st.stored("dock-a", f1) == set()
    finally:
        st.close()


# -- the receiver, driven through handle() ------------------------------------------------------------


@dataclass
class Dock:
    name: str
    key: Signer = field(default_factory=Signer.generate)
    device: Signer = field(default_factory=Signer.generate)

    @property
    def device_id(self) -> str:
        return f"cam-{self.name}"  # a recorder belongs to one dock

    def enrollment(self) -> bytes:
        return seal(enrollment(self.device, "device", self.device_id, custodian="off-7"), self.key).to_bytes()

    def transfer(self, seq: int, data: bytes) -> p.Init:
        """A segment of the dock's recorder whose media is ``data``, as the dock's init announces it."""
        seg = segment(self.device_id, seq, p.envelope_hash(self.enrollment()))
        media = seg.media.model_copy(update={"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        env = seal(make_body(seg.model_copy(update={"media": media})), self.device).to_bytes()
        return p.Init(len(data), CHUNK, media.sha256, env)


class AckLog:
    """Stands in for the MQTT client: the acks the receiver publishes, decoded."""

    def __init__(self) -> None:
        self.acks: list[p.Ack] = []
        self._cond = threading.Condition()

    def publish(self, topic: str, payload: bytes, *, correlation: bytes | None = None, **_kw) -> None:
        with self._cond:
            self.acks.append(p.decode_ack(payload, correlation))
            self._cond.notify_all()

    def close(self) -> None:
        """Nothing to close: no socket behind this stand-in for the MQTT client."""

    def last(self, item: str) -> p.Ack:
        with self._cond:
            return [a for a in self.acks if a.id == item][-1]

    def wait_stored(self, item: str, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: sum(isinstance(a, p.Stored) and a.id == item
                                                   for a in self.acks) >= count, 5), self.acks


@dataclass
class Site:
    root: Path
    cfg: ArchiveConfig
    admin: Signer
    log_key: Signer
    now: list[int] = field(default_factory=lambda: [T0])

    def clock(self) -> int:
        return self.now[0]

    def register(self, dock: Dock) -> Dock:
        with Ledger.open(self.cfg.path(self.cfg.ledger)) as lg:
            register_dock(lg, self.admin, dock.name, dock.key.public_key, now_ns=T0)
        return dock

    @contextlib.contextmanager
    def serving(self) -> Iterator[tuple[Receiver, AckLog]]:
        """A receiver on this site's clock, replies to an AckLog, its flusher running."""
        r = Receiver(self.cfg, self.log_key, clock=self.clock)
        acks = AckLog()
        r.client = acks  # type: ignore[assignment]
        r._flusher.start()
        try:
            yield r, acks
        finally:
            r.close()

    def parts(self) -> list[Path]:
        return sorted(self.cfg.path(self.cfg.part_dir).rglob("*.part"))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    root = tmp_path / "archive"
    root.mkdir()
    cfg = ArchiveConfig(data_dir=root, origin="test.bodycam/archive", max_open_bytes_per_dock=1000 * KIB,
                        transfer_idle_s=3600, max_rejections=20)
    admin, log_key = Signer.generate(), Signer.generate()
    with Ledger.open(cfg.path(cfg.ledger)) as lg:
        create_rooted(lg, admin, "archive-admin", now_ns=T0)
        enroll(lg, admin, "archive_log", "archive-log", public_of(log_key), now_ns=T0)
    (root / "bodycam.toml").write_text(f'[archive]\ndata_dir = "{root}"\norigin = "test.bodycam/archive"\n'
                                       f"max_open_bytes_per_dock = {1000 * KIB}\ntransfer_idle_s = 3600\n")
    return Site(root, cfg, admin, log_key)


def handle(r: Receiver, topic: str, payload: bytes, props: tuple = ()) -> None:
    r.handle(Received(topic=topic, payload=payload, qos=1, user_properties=props))


def send_init(r: Receiver, dock: str, init: p.Init) -> str:
    handle(r, p.init_topic(dock, init.file_id), init.to_json())
    return init.file_id


def send_chunks(r: Receiver, dock: str, init: p.Init, data: bytes, indexes) -> None:
    for i in indexes:
        piece = data[i * CHUNK:(i + 1) * CHUNK]
        handle(r, p.seg_topic(dock, init.file_id, i), piece, p.ChunkHeader(i, p.sha256_hex(piece)).user_properties())


def footage(size: int, seed: int) -> bytes:
    out = bytearray()
    n = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{n}".encode()).digest()
        n += 1
    return bytes(out[:size])


def test_a_dock_beyond_its_quota_is_refused_while_another_docks_transfer_completes(site):
    a, b = site.register(Dock("dock-a")), site.register(Dock("dock-b"))
    held = [a.transfer(seq, footage(400 * KIB, seed=seq)) for seq in (0, 1)]
    over = a.transfer(2, footage(400 * KIB, seed=2))
    data_b = footage(2 * CHUNK, seed=9)
    init_b = b.transfer(0, data_b)
    with site.serving() as (r, acks):
        for dock in (a, b):
            handle(r, p.rec_topic(dock.name, p.envelope_hash(dock.enrollment())), dock.enrollment())
        for init in held:  # 800 KiB open of 1000 KiB: admitted, never finished
            send_init(r, "dock-a", init)
            assert isinstance(acks.last(init.file_id), p.Missing)
        send_init(r, "dock-a", over)
        refusal = acks.last(over.file_id)
        assert isinstance(refusal, p.Rejected) and refusal.code is p.RejectCode.quota
        assert refusal.code.value in p.RETRY_CODES  # the dock tries again later; not refused for good
        assert "2 unfinished transfer(s) holding 800.0 KiB (819200 bytes)" in refusal.reason, refusal.reason
        assert "max_open_bytes_per_dock" in refusal.reason
        assert r.state.get("dock-a", over.file_id) is None and len(site.parts()) == 2
        # an open transfer announced again (a resume) is not refused
        send_init(r, "dock-a", held[0])
        assert isinstance(acks.last(held[0].file_id), p.Missing)
        # dock-b's own quota is untouched: its transfer goes through to the ledger
        send_init(r, "dock-b", init_b)
        send_chunks(r, "dock-b", init_b, data_b, (0, 1))
        acks.wait_stored(init_b.file_id, 2)
        handle(r, p.fin_topic("dock-b", init_b.file_id), p.Fin(init_b.size, init_b.sha256).to_json())
        assert isinstance(acks.last(init_b.file_id), p.Committed), acks.last(init_b.file_id)
        assert r.blobs.has(init_b.sha256)
        assert [x["code"] for x in r.state.rejections()] == ["quota"]


def test_an_idle_transfer_expires_with_its_part_file_and_a_restart_keeps_it_until_then(site):
    a = site.register(Dock("dock-a"))
    data = footage(3 * CHUNK, seed=1)
    init = a.transfer(0, data)
    fid = init.file_id
    with site.serving() as (r, acks):
        handle(r, p.rec_topic("dock-a", p.envelope_hash(a.enrollment())), a.enrollment())
        send_init(r, "dock-a", init)
        site.now[0] += 3000 * S
        send_chunks(r, "dock-a", init, data, (0,))  # activity: the hour starts again
        acks.wait_stored(fid, 1)
        site.now[0] += 3000 * S
        assert r.expire_idle() == [] and len(site.parts()) == 1
    # restarted 50 minutes after the last chunk: the transfer and its stored chunk are kept
    with site.serving() as (r, acks):
        assert r.state.get("dock-a", fid).status == "open" and len(site.parts()) == 1
        send_init(r, "dock-a", init)  # a resume is activity too
        assert acks.last(fid).missing == {1, 2}
        site.now[0] += 3599 * S
        assert r.expire_idle() == [] and len(site.parts()) == 1
        site.now[0] += 1 * S
        assert r.expire_idle() == [("dock-a", fid)]
        assert site.parts() == [] and r.state.get("dock-a", fid) is None and r.transfers == {}
        assert r.state.open_bytes("dock-a") == (0, 0)
        # the dock comes back: it starts afresh
        send_init(r, "dock-a", init)
        assert acks.last(fid).missing == {0, 1, 2}
    # restarted after the archive was down longer than transfer_idle_s: expired at start-up
    site.now[0] += 7200 * S
    with site.serving() as (r, _acks):
        assert site.parts() == [] and r.state.get("dock-a", fid) is None


def test_rejection_rows_stay_within_the_bound(site):
    with site.serving() as (r, acks):
        for n in range(50):  # a stranger sending records in a loop
            eh = hashlib.sha256(f"junk {n}".encode()).hexdigest()
            handle(r, p.rec_topic("dock-z", eh), b"{}")
        assert acks.last(eh).code is p.RejectCode.unknown_dock
        rows = r.state.rejections(limit=1000)
        assert len(rows) == site.cfg.max_rejections == 20
        assert rows[0]["item"] == eh


def invoke(site: Site, *args: str):
    return CliRunner().invoke(cli, ["--config", str(site.root / "bodycam.toml"), "archive", "transfers", *args])


def test_archive_transfers_lists_open_transfers_and_drop_removes_one(site):
    a = site.register(Dock("dock-a"))
    data = footage(2 * CHUNK + 10, seed=3)
    inits = [a.transfer(0, data), a.transfer(1, footage(CHUNK, seed=4))]
    site.now[0] = time.time_ns() - 120 * S  # last active two minutes ago, by the wall clock the command uses
    with site.serving() as (r, acks):
        handle(r, p.rec_topic("dock-a", p.envelope_hash(a.enrollment())), a.enrollment())
        for init in inits:
            send_init(r, "dock-a", init)
        send_chunks(r, "dock-a", inits[0], data, (0, 2))
        acks.wait_stored(inits[0].file_id, 2)
    out = invoke(site, "--json")
    assert out.exit_code == 0, out.output
    rows = {row["file_id"]: row for row in json.loads(out.output)}
    assert set(rows) == {i.file_id for i in inits}
    row = rows[inits[0].file_id]
    assert (row["dock"], row["size"], row["chunks"], row["stored_chunks"]) == ("dock-a", 2 * CHUNK + 10, 3, 2)
    assert 120 <= row["idle_s"] < 600 and row["expired"] is False
    assert rows[inits[1].file_id]["stored_chunks"] == 0
    text = invoke(site)
    assert text.exit_code == 0 and inits[0].file_id[:12] in text.output and "2/3 chunks" in text.output
    assert "dock-a: " in text.output and "open of its 1000.0 KiB quota" in text.output
    # drop by a unique prefix: rows and part file go
    gone = inits[0].file_id
    out = invoke(site, "drop", gone[:10])
    assert out.exit_code == 0, out.output
    assert f"dropped transfer {gone[:12]} of dock-a" in out.output
    assert [json.loads(invoke(site, "--json").output)[0]["file_id"]] == [inits[1].file_id]
    assert [x.stem for x in site.parts()] == [inits[1].file_id]
    for bad in (gone, "zz", "12"):
        out = invoke(site, "drop", bad)
        assert out.exit_code == 1 and "bodycam archive transfers" in out.output, out.output
    # the receiver, restarted, asks for the dropped file from the start
    with site.serving() as (r, acks):
        send_init(r, "dock-a", inits[0])
        assert acks.last(gone).missing == {0, 1, 2}


# -- with the real broker, the dock's uploader and the receiver's loop ----------------------------------


def rogue_init(dock, seq: int, size: int) -> p.Init:
    """A transfer ``dock`` announces and never finishes: a segment of its recorder naming a
    file it never sends."""
    sha = hashlib.sha256(f"never sent {seq}".encode()).hexdigest()
    body = Segment(device_id="rec-1", seq=seq, prev=hashlib.sha256(b"x").hexdigest(),
                   media=Media(sha256=sha, size=size, container="mp4", codec="h264", width=1280, height=720,
                               fps="25", frames=1500, duration_ms=60_000),
                   device_start="2026-11-30 08:00:00", start_ns=T0, end_ns=T0 + 60 * S, officer_id="officer-7",
                   case_id="case-1", source_name=f"VID_{seq:04d}.MP4", decodable=True)
    return p.Init(size, dock.syncd.chunk_size, sha, seal(make_body(body), dock.devices["rec-1"]).to_bytes())


def test_a_rogue_dock_over_quota_does_not_stall_another_docks_sync(sync_world):
    w = sync_world(docks=("dock-a", "dock-b"), max_open_bytes_per_dock=1 << 20, transfer_idle_s=3600)
    a, b = w.docks["dock-a"], w.docks["dock-b"]
    a.add_segments([300 * KIB])
    b.add_segments([300 * KIB, 200 * KIB], device_id="rec-2")  # a recorder belongs to one dock
    offset = [0]
    with w.receiver(clock=lambda: time.time_ns() + offset[0]) as r:
        # dock-a's recorder reaches the archive, then dock-a opens two 400 KiB transfers and stops
        enrollment_ = a.entries()[1][2]  # after the dock's root: its recorder's enrollment
        handle(r, p.rec_topic("dock-a", p.envelope_hash(enrollment_)), enrollment_)
        rogue = [rogue_init(a, 100 + n, 400 * KIB) for n in range(2)]
        for init in rogue:
            send_init(r, "dock-a", init)
        assert r.state.open_bytes("dock-a") == (800 * KIB, 2)
        started = time.monotonic()
        result_b = w.uploader("dock-b").run(once=True, connect_timeout=10)
        assert result_b.committed == 3 and result_b.rejected == [], result_b
        result_a = w.uploader("dock-a").run(once=True, connect_timeout=10)
        assert [x["code"] for x in result_a.rejected] == ["quota"], result_a
        assert "holding 800.0 KiB" in result_a.rejected[0]["reason"]
        assert time.monotonic() - started < 30
        # the operator drops one (the running receiver forgets it); the other expires by the clock
        out = CliRunner().invoke(cli, ["--config", str(w.archive_config_path), "archive", "transfers", "--json"])
        assert sorted(x["file_id"] for x in json.loads(out.output)) == sorted(i.file_id for i in rogue)
        out = CliRunner().invoke(cli, ["--config", str(w.archive_config_path), "archive", "transfers", "drop",
                                       rogue[0].file_id])
        assert out.exit_code == 0, out.output
        offset[0] = 3600 * S
        deadline = time.monotonic() + 10
        while (w.parts() or r.transfers) and time.monotonic() < deadline:
            time.sleep(0.1)  # the receiver's loop sweeps every couple of seconds
        assert w.parts() == [] and r.transfers == {} and r.state.open_transfers() == []
        # dock-a's refused segment is retried (quota is retryable) and goes through
        result_a = w.uploader("dock-a").run(once=True, connect_timeout=10)
        assert result_a.rejected == [] and result_a.committed == 1, result_a
