"""The archive receiver's admission logic, called directly (no broker): what a registered dock may
deliver, the one segment chain rule (``seq`` + 1, ``prev`` = the link before) with its reject
codes, and the transfer conversation (init → missing, seg → stored, fin → committed) driven
through :meth:`Receiver.handle` with the protocol's own messages (A2 Art.16: only registered
custodians deliver; A2 Art.8: nothing altered, nothing lost)."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archive.config import ArchiveConfig
from archive.docks import register_dock
from archive.receiver import Receiver
from ledger.checks.custody import chain_head
from ledger.enroll import create_rooted, enroll, public_of
from ledger.envelope import Envelope, body, seal
from ledger.keys import Signer
from ledger.records import make_body
from ledger.store import Ledger
from ledger.verify import verify_ledger
from syncd import protocol as p
from syncd.mqtt import Received
from tests.fixtures.ledger import enrollment, segment

T0 = 1_796_000_000 * 1_000_000_000
CHUNK = p.CHUNK_MIN


# -- the two sides, built with the project's own builders ------------------------------------------


@dataclass
class Dock:
    """A dock's keys and the records it would deliver (its own ledger is not needed here)."""

    name: str
    key: Signer = field(default_factory=Signer.generate)
    devices: dict[str, Signer] = field(default_factory=dict)

    def enrollment(self, device_id: str, device: Signer | None = None, signer: Signer | None = None) -> bytes:
        """A device enrollment signed by the dock key (as the dock's ``device enroll`` makes it)."""
        device = device or self.devices.get(device_id) or Signer.generate()
        self.devices[device_id] = device
        return seal(enrollment(device, "device", device_id, custodian="off-7"), signer or self.key).to_bytes()

    def segment(self, device_id: str, seq: int, prev: str, *, data: bytes | None = None,
                signer: Signer | None = None, case: str = "case-1") -> bytes:
        """A segment sealed by the device's key; with ``data``, its media names those bytes."""
        seg = segment(device_id, seq, prev, case=case)
        if data is not None:
            media = seg.media.model_copy(update={"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
            seg = seg.model_copy(update={"media": media})
        return seal(make_body(seg), signer or self.devices[device_id]).to_bytes()

    def chain(self, device_id: str, count: int) -> list[bytes]:
        """Enrollment, then ``count`` segments chained to it."""
        out = [self.enrollment(device_id)]
        for seq in range(count):
            out.append(self.segment(device_id, seq, p.envelope_hash(out[-1])))
        return out


@dataclass
class ArchiveSite:
    cfg: ArchiveConfig
    admin: Signer
    log_key: Signer

    def register(self, dock: Dock) -> None:
        with Ledger.open(self.cfg.path(self.cfg.ledger)) as lg:
            register_dock(lg, self.admin, dock.name, dock.key.public_key, now_ns=T0)

    def receiver(self) -> Receiver:
        return Receiver(self.cfg, self.log_key)


def make_archive(root: Path) -> ArchiveSite:
    """An archive folder as ``bodycam init --role archive`` leaves it: ledger rooted in the admin
    key, the log key enrolled as ``archive_log``."""
    root.mkdir(parents=True, exist_ok=True)
    cfg = ArchiveConfig(data_dir=root, origin="test.bodycam/archive", checkpoint_every=1000,
                        checkpoint_interval_s=300)
    admin, log_key = Signer.generate(), Signer.generate()
    with Ledger.open(cfg.path(cfg.ledger)) as lg:
        create_rooted(lg, admin, "archive-admin", now_ns=T0)
        enroll(lg, admin, "archive_log", "archive-log", public_of(log_key), now_ns=T0)
    return ArchiveSite(cfg, admin, log_key)


@pytest.fixture
def site(tmp_path: Path) -> ArchiveSite:
    return make_archive(tmp_path / "archive")


@pytest.fixture
def dock(site: ArchiveSite) -> Dock:
    d = Dock("dock-a")
    site.register(d)
    return d


@pytest.fixture
def receiver(site: ArchiveSite, dock: Dock) -> Iterator[Receiver]:
    r = site.receiver()
    yield r
    r.close()


def blob_of(envelope: bytes) -> tuple[str, int] | None:
    """The file a segment travels with (its media), as the transfer's init names it."""
    data = body(Envelope.from_bytes(envelope))
    return (data["media"]["sha256"], data["media"]["size"]) if data["kind"] == "segment" else None


def admit(r: Receiver, dock: str, envelope: bytes):
    """The receiver's one admission step (what ``fin`` and ``rec`` end in): verify, append."""
    return r._admit(dock, envelope, blob_of(envelope))


def refused(r: Receiver, dock: str, envelope: bytes) -> p.ProtocolError:
    size = r.ledger.size
    with pytest.raises(p.ProtocolError) as exc:
        admit(r, dock, envelope)
    assert r.ledger.size == size, "a refused record must not reach the ledger"
    return exc.value


# -- admission -------------------------------------------------------------------------------------


def test_enrollment_and_segment_chain_from_a_registered_dock_are_admitted(site, dock, receiver):
    records = dock.chain("cam-1", 3)
    start = receiver.ledger.size
    entries = [admit(receiver, "dock-a", env) for env in records]
    assert [e.kind for e in entries] == ["enrollment", "segment", "segment", "segment"]
    assert [e.idx for e in entries] == list(range(start, start + 4))
    assert [e.entry_hash for e in entries] == [p.envelope_hash(env) for env in records]
    assert receiver.trust.owner(dock.devices["cam-1"].keyid) == "dock-a"
    assert receiver.trust.devices["cam-1"].entry_hash == entries[0].entry_hash
    head = chain_head(receiver.ledger, "cam-1")
    assert (head.seq, head.entry_hash) == (2, entries[-1].entry_hash)
    # the same bytes again: the entry already there, nothing appended twice
    assert admit(receiver, "dock-a", records[2]).idx == entries[2].idx
    assert receiver.ledger.size == start + 4
    # the archive ledger the receiver built verifies as a whole
    report = verify_ledger(receiver.ledger, trusted_root=site.admin.public_key, workers=1)
    assert report.ok, [str(x) for x in report.problems]


def test_a_segment_that_skips_ahead_waits_for_its_predecessor(dock, receiver):
    enrollment_, seg0, seg1 = dock.chain("cam-1", 2)
    admit(receiver, "dock-a", enrollment_)
    err = refused(receiver, "dock-a", seg1)
    assert err.code is p.RejectCode.dependency and err.code.value in p.RETRY_CODES
    assert "seq 1 follows seq -1" in err.reason
    admit(receiver, "dock-a", seg0)
    assert admit(receiver, "dock-a", seg1).record.seq == 1  # sent again after its predecessor: admitted


def test_a_repeated_seq_is_a_broken_chain(dock, receiver):
    enrollment_, seg0, seg1 = dock.chain("cam-1", 2)
    for env in (enrollment_, seg0, seg1):
        admit(receiver, "dock-a", env)
    # another segment 1 after segment 0 (a fork), and another segment 0 (a replay with other bytes)
    fork = dock.segment("cam-1", 1, p.envelope_hash(seg0), case="case-2")
    replay = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), case="case-2")
    for env in (fork, replay):
        err = refused(receiver, "dock-a", env)
        assert err.code is p.RejectCode.chain and err.code.value not in p.RETRY_CODES
        assert "repeated or reordered seq" in err.reason


def test_a_wrong_prev_is_a_broken_chain(dock, receiver):
    enrollment_, seg0 = dock.chain("cam-1", 1)
    admit(receiver, "dock-a", enrollment_)
    admit(receiver, "dock-a", seg0)
    for prev in (hashlib.sha256(b"elsewhere").hexdigest(), p.envelope_hash(enrollment_)):
        err = refused(receiver, "dock-a", dock.segment("cam-1", 1, prev))
        assert err.code is p.RejectCode.chain
        assert "cut or spliced" in err.reason
    # a recorder's first segment must name that recorder's enrollment
    admit(receiver, "dock-a", dock.enrollment("cam-2"))
    err = refused(receiver, "dock-a", dock.segment("cam-2", 0, p.envelope_hash(seg0)))
    assert err.code is p.RejectCode.chain


def test_a_segment_signed_by_an_unenrolled_key_is_unknown_key(dock, receiver):
    enrollment_, seg0 = dock.chain("cam-1", 1)
    stranger = Signer.generate()
    # a recorder the dock never enrolled
    err = refused(receiver, "dock-a", dock.segment("cam-9", 0, p.envelope_hash(enrollment_), signer=stranger))
    assert err.code is p.RejectCode.unknown_key and stranger.keyid[:16] in err.reason
    # an enrolled recorder's segment signed by another key (before and after the enrollment arrived)
    imposter = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), signer=stranger)
    assert refused(receiver, "dock-a", imposter).code is p.RejectCode.unknown_key
    admit(receiver, "dock-a", enrollment_)
    assert refused(receiver, "dock-a", imposter).code is p.RejectCode.unknown_key
    # an enrollment signed by an unknown key instead of the dock key
    assert refused(receiver, "dock-a", dock.enrollment("cam-3", signer=stranger)).code is p.RejectCode.unknown_key
    admit(receiver, "dock-a", seg0)


def test_a_segment_signed_by_another_recorders_key_is_refused(dock, receiver):
    for device_id in ("cam-1", "cam-2"):
        admit(receiver, "dock-a", dock.enrollment(device_id))
    head = receiver.trust.devices["cam-1"].entry_hash
    err = refused(receiver, "dock-a", dock.segment("cam-1", 0, head, signer=dock.devices["cam-2"]))
    assert err.code is p.RejectCode.bad_signature and "cam-1" in err.reason


def test_a_dock_cannot_deliver_another_docks_records(site, dock, receiver):
    other = Dock("dock-b")
    site.register(other)
    receiver.trust.refresh(receiver.ledger)  # registered while the receiver runs
    enrollment_, seg0 = dock.chain("cam-1", 1)
    assert refused(receiver, "dock-b", enrollment_).code is p.RejectCode.dock_mismatch
    admit(receiver, "dock-a", enrollment_)
    assert refused(receiver, "dock-b", seg0).code is p.RejectCode.dock_mismatch


def test_an_unregistered_docks_own_records_are_unknown(receiver):
    """Without the admin's ``dock`` enrollment nothing a dock's key signed is trusted."""
    stray = Dock("dock-z")
    enrollment_, seg0 = stray.chain("cam-1", 1)
    assert refused(receiver, "dock-z", enrollment_).code is p.RejectCode.unknown_key
    assert refused(receiver, "dock-z", seg0).code is p.RejectCode.unknown_key


def test_a_dock_does_not_deliver_its_own_root(dock, receiver):
    root = seal(enrollment(dock.key, "ledger_root", "dock-a"), dock.key).to_bytes()
    err = refused(receiver, "dock-a", root)
    assert err.code is p.RejectCode.bad_envelope and "ledger_root" in err.reason


def test_a_segment_must_name_the_file_it_travels_with(dock, receiver):
    enrollment_, seg0 = dock.chain("cam-1", 1)
    admit(receiver, "dock-a", enrollment_)
    sha, size = blob_of(seg0)
    size_before = receiver.ledger.size
    cases = [((hashlib.sha256(b"other").hexdigest(), size), p.RejectCode.file_hash),
             ((sha, size + 1), p.RejectCode.file_size),
             (None, p.RejectCode.bad_message)]  # a segment never travels as a bare record
    for blob, code in cases:
        with pytest.raises(p.ProtocolError) as exc:
            receiver._admit("dock-a", seg0, blob)
        assert exc.value.code is code
    assert receiver.ledger.size == size_before


def test_garbage_is_a_bad_envelope(dock, receiver):
    for junk in (b'{"payload": "x"}', b"\xff" * 10, dock.chain("cam-1", 0)[0][:-2]):
        with pytest.raises(p.ProtocolError) as exc:
            receiver._admit("dock-a", junk, None)
        assert exc.value.code is p.RejectCode.bad_envelope


# -- the conversation through Receiver.handle --------------------------------------------------------


class AckLog:
    """Stands in for the MQTT client: records every ack the receiver publishes, decoded."""

    def __init__(self) -> None:
        self.acks: list[tuple[str, p.Ack]] = []
        self._cond = threading.Condition()

    def publish(self, topic: str, payload: bytes, *, correlation: bytes | None = None, **_kw) -> None:
        ack = p.decode_ack(payload, correlation)
        with self._cond:
            self.acks.append((topic, ack))
            self._cond.notify_all()

    def close(self) -> None:
        """Nothing to close: no socket behind this stand-in for the MQTT client."""

    def of(self, item: str) -> list[p.Ack]:
        with self._cond:
            return [a for _, a in self.acks if a.id == item]

    def last(self, item: str) -> p.Ack:
        return self.of(item)[-1]

    def wait(self, pred, timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: pred(self), timeout), self.acks


@contextlib.contextmanager
def serving(site: ArchiveSite) -> Iterator[tuple[Receiver, AckLog]]:
    """A receiver whose replies go to an AckLog, with its flusher thread running (what
    ``start()`` does, minus the broker connection)."""
    r = site.receiver()
    acks = AckLog()
    r.client = acks  # type: ignore[assignment]
    r._flusher.start()
    try:
        yield r, acks
    finally:
        r.close()


def msg(topic: str, payload: bytes, props: list[tuple[str, str]] | None = None) -> Received:
    return Received(topic=topic, payload=payload, qos=1, user_properties=tuple(props or ()))


def send_record(r: Receiver, dock: str, envelope: bytes) -> str:
    eh = p.envelope_hash(envelope)
    r.handle(msg(p.rec_topic(dock, eh), envelope))
    return eh


def send_init(r: Receiver, dock: str, init: p.Init) -> str:
    r.handle(msg(p.init_topic(dock, init.file_id), init.to_json()))
    return init.file_id


def send_chunk(r: Receiver, dock: str, init: p.Init, index: int, data: bytes, *, sha: str | None = None,
               plain: bool = False) -> None:
    piece = data[index * init.chunk_size:(index + 1) * init.chunk_size]
    hdr = p.ChunkHeader.in_order(index) if plain else p.ChunkHeader(index, sha or p.sha256_hex(piece))
    r.handle(msg(p.seg_topic(dock, init.file_id, index), piece, hdr.user_properties()))


def send_fin(r: Receiver, dock: str, init: p.Init) -> None:
    r.handle(msg(p.fin_topic(dock, init.file_id), p.Fin(init.size, init.sha256).to_json()))


def footage(size: int, seed: int = 0) -> bytes:
    out = bytearray()
    n = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{n}".encode()).digest()
        n += 1
    return bytes(out[:size])


def test_an_unregistered_dock_is_refused(site, dock):
    stray = Dock("dock-z")
    enrollment_ = stray.chain("cam-1", 0)[0]
    with serving(site) as (r, acks):
        size = r.ledger.size
        eh = send_record(r, "dock-z", enrollment_)
        (topic, ack), = acks.acks
        assert topic == p.ack_topic("dock-z")
        assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.unknown_dock and ack.index is None
        assert "bodycam archive dock add dock-z" in ack.reason
        assert r.ledger.size == size
        assert [(x["dock"], x["item"], x["code"]) for x in r.state.rejections()] == [("dock-z", eh, "unknown_dock")]


def test_records_are_committed_with_a_signed_proof_and_refusals_are_kept(site, dock):
    enrollment_, seg0 = dock.chain("cam-1", 1)
    with serving(site) as (r, acks):
        eh = send_record(r, "dock-a", enrollment_)
        ack = acks.last(eh)
        assert isinstance(ack, p.Committed)
        proof = p.verify_commit(ack.envelope, site.log_key.public_key, dock="dock-a", subject=p.Subject.rec, id=eh,
                                entry_hash=eh)
        assert r.ledger.by_hash(eh).idx == proof.ledger_index
        send_record(r, "dock-a", enrollment_)  # asked again: a fresh committed for the same entry
        assert isinstance(acks.last(eh), p.Committed) and r.ledger.size == proof.ledger_index + 1
        # a segment is footage: never a bare record
        seh = send_record(r, "dock-a", seg0)
        assert isinstance(acks.last(seh), p.Rejected) and acks.last(seh).code is p.RejectCode.bad_message
        assert r.state.rejections()[0]["code"] == "bad_message"


def test_a_segment_travels_as_a_transfer_and_is_committed_once(site, dock):
    data = footage(2 * CHUNK + 1000, seed=1)
    sha = hashlib.sha256(data).hexdigest()
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, sha, seg0)
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        fid = send_init(r, "dock-a", init)
        missing = acks.last(fid)
        assert isinstance(missing, p.Missing) and missing.missing == {0, 1, 2} and missing.chunks == 3
        for i in (2, 0, 1, 0):  # out of order, one twice
            send_chunk(r, "dock-a", init, i, data)
        acks.wait(lambda a: {x.index for x in a.of(fid) if isinstance(x, p.Stored)} == {0, 1, 2})
        send_fin(r, "dock-a", init)
        ack = acks.last(fid)
        assert isinstance(ack, p.Committed), ack
        proof = p.verify_commit(ack.envelope, site.log_key.public_key, dock="dock-a", subject=p.Subject.xfer,
                                id=fid, entry_hash=p.envelope_hash(seg0))
        assert r.ledger.get(proof.ledger_index).kind == "segment"
        assert r.blobs.blob_path(sha).read_bytes() == data and r.blobs.blobs.verify(sha)
        assert r.blobs.parts() == []
        assert r.state.get("dock-a", fid).status == "committed" and r.state.stored("dock-a", fid) == set()
        assert r.stats.duplicates == 1 and r.stats.commits == 2
        # init and fin again (the dock lost the ack): committed again, nothing stored twice
        size = r.ledger.size
        send_init(r, "dock-a", init)
        send_fin(r, "dock-a", init)
        assert all(isinstance(a, p.Committed) for a in acks.of(fid)[-2:])
        assert r.ledger.size == size and r.stats.commits == 2


def test_chunks_are_checked_and_fin_needs_them_all(site, dock):
    data = footage(2 * CHUNK, seed=2)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        fid = init.file_id
        send_chunk(r, "dock-a", init, 0, data)  # before init
        assert acks.last(fid).code is p.RejectCode.unknown_transfer
        send_init(r, "dock-a", init)
        send_chunk(r, "dock-a", init, 1, data, sha=hashlib.sha256(b"altered").hexdigest())
        bad = acks.last(fid)
        assert isinstance(bad, p.Rejected) and bad.code is p.RejectCode.chunk_hash and bad.index == 1
        send_chunk(r, "dock-a", init, 0, data)
        send_fin(r, "dock-a", init)
        incomplete = acks.last(fid)
        assert isinstance(incomplete, p.Rejected) and incomplete.code is p.RejectCode.incomplete
        assert "1 of 2 chunks" in incomplete.reason
        assert r.state.get("dock-a", fid).status == "open"  # retryable: the transfer stays open
        send_chunk(r, "dock-a", init, 1, data)
        send_fin(r, "dock-a", init)
        assert isinstance(acks.last(fid), p.Committed)


def test_a_file_whose_bytes_do_not_match_its_record_is_rejected(site, dock):
    data = footage(CHUNK, seed=3)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    damaged = bytes([data[0] ^ 1]) + data[1:]  # each chunk hashes right, the whole does not
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        fid = send_init(r, "dock-a", init)
        send_chunk(r, "dock-a", init, 0, damaged)
        send_fin(r, "dock-a", init)
        ack = acks.last(fid)
        assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.file_hash
        assert not r.blobs.has(init.sha256) and r.blobs.parts() == []
        assert r.state.get("dock-a", fid).status == "rejected"
        assert r.ledger.by_hash(p.envelope_hash(seg0)) is None


def test_a2_art8_an_altered_in_order_chunk_is_caught_at_fin_and_the_file_resent(site, dock):
    """In-order chunks are hashed once, into the running file hash (issue 18 item 5): an altered
    one (its header names the original bytes, as when damaged in flight) is stored, then ``fin``
    rejects the file: nothing committed, no part file; sent again, the file commits. A chunk out
    of order is still checked on its own."""
    data = footage(3 * CHUNK, seed=11)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    altered = data[:CHUNK + 9] + bytes([data[CHUNK + 9] ^ 0x40]) + data[CHUNK + 10:]
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        fid = send_init(r, "dock-a", init)
        for i in range(3):
            send_chunk(r, "dock-a", init, i, altered, sha=p.sha256_hex(data[i * CHUNK:(i + 1) * CHUNK]))
        r._drain()
        assert {a.index for a in acks.of(fid) if isinstance(a, p.Stored)} == {0, 1, 2}
        send_fin(r, "dock-a", init)
        ack = acks.last(fid)
        assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.file_hash and ack.index is None
        assert r.state.get("dock-a", fid).status == "rejected"
        assert not r.blobs.has(init.sha256) and r.blobs.parts() == []
        assert r.ledger.by_hash(p.envelope_hash(seg0)) is None
        # the dock sends it again: out of order this time, an altered chunk is refused on its own
        send_init(r, "dock-a", init)
        assert isinstance(acks.last(fid), p.Missing) and acks.last(fid).missing == {0, 1, 2}
        send_chunk(r, "dock-a", init, 2, data)
        r._drain()
        send_chunk(r, "dock-a", init, 1, altered, sha=p.sha256_hex(data[CHUNK:2 * CHUNK]))
        bad = acks.last(fid)
        assert isinstance(bad, p.Rejected) and bad.code is p.RejectCode.chunk_hash and bad.index == 1
        send_chunk(r, "dock-a", init, 0, data)
        send_chunk(r, "dock-a", init, 1, data)
        send_fin(r, "dock-a", init)
        assert isinstance(acks.last(fid), p.Committed)
        assert r.blobs.blob_path(init.sha256).read_bytes() == data and r.blobs.parts() == []


def test_chunks_without_a_sha256_are_taken_only_in_order(site, dock):
    """A dock sends the first pass of a fresh transfer without per-chunk SHA-256 (issue 18 item 5):
    in order, each goes into the running file hash; one out of order is refused with its index
    (bad_chunk) and, sent again with its SHA-256, taken; the file commits."""
    data = footage(3 * CHUNK + 5, seed=12)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        fid = send_init(r, "dock-a", init)
        send_chunk(r, "dock-a", init, 0, data, plain=True)
        r._drain()
        send_chunk(r, "dock-a", init, 2, data, plain=True)  # 1 was lost
        bad = acks.last(fid)
        assert isinstance(bad, p.Rejected) and bad.code is p.RejectCode.bad_chunk and bad.index == 2
        assert "out of order" in bad.reason
        send_chunk(r, "dock-a", init, 1, data, plain=True)
        send_chunk(r, "dock-a", init, 2, data)
        send_chunk(r, "dock-a", init, 3, data, plain=True)
        send_fin(r, "dock-a", init)
        assert isinstance(acks.last(fid), p.Committed)
        assert r.blobs.blob_path(init.sha256).read_bytes() == data and r.blobs.parts() == []


def test_a_transfer_that_skips_ahead_is_kept_for_later(site, dock):
    """``fin`` of a segment whose predecessor has not arrived: ``dependency``, the part file and
    its chunks are kept, and a later ``fin`` commits without sending anything again."""
    data0, data1 = footage(CHUNK, seed=4), footage(CHUNK, seed=5)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data0)
    seg1 = dock.segment("cam-1", 1, p.envelope_hash(seg0), data=data1)
    init0 = p.Init(len(data0), CHUNK, hashlib.sha256(data0).hexdigest(), seg0)
    init1 = p.Init(len(data1), CHUNK, hashlib.sha256(data1).hexdigest(), seg1)
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        send_init(r, "dock-a", init1)
        send_chunk(r, "dock-a", init1, 0, data1)
        send_fin(r, "dock-a", init1)
        ack = acks.last(init1.file_id)
        assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.dependency
        assert not r.blobs.has(init1.sha256) and len(r.blobs.parts()) == 1
        assert r.state.stored("dock-a", init1.file_id) == {0}
        send_init(r, "dock-a", init0)
        send_chunk(r, "dock-a", init0, 0, data0)
        send_fin(r, "dock-a", init0)
        assert isinstance(acks.last(init0.file_id), p.Committed)
        send_fin(r, "dock-a", init1)
        assert isinstance(acks.last(init1.file_id), p.Committed)
        assert r.stats.chunks == 2 and r.blobs.parts() == []


def test_a_restarted_receiver_asks_only_for_what_it_lacks(site, dock):
    data = footage(3 * CHUNK, seed=6)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        send_init(r, "dock-a", init)
        send_chunk(r, "dock-a", init, 1, data)
        acks.wait(lambda a: any(isinstance(x, p.Stored) for x in a.of(init.file_id)))
    # a part file no transfer owns (its commit finished just before a crash) goes at start-up
    stray = site.cfg.path(site.cfg.part_dir) / "dock-a" / f"{hashlib.sha256(b'gone').hexdigest()}.part"
    stray.write_bytes(b"leftover")
    with serving(site) as (r, acks):
        assert not stray.exists() and len(r.blobs.parts()) == 1
        send_init(r, "dock-a", init)
        missing = acks.last(init.file_id)
        assert isinstance(missing, p.Missing) and missing.missing == {0, 2}
        for i in (0, 2):
            send_chunk(r, "dock-a", init, i, data)
        send_fin(r, "dock-a", init)
        assert isinstance(acks.last(init.file_id), p.Committed)
        assert r.blobs.blob_path(init.sha256).read_bytes() == data


def test_abort_drops_the_part_file(site, dock):
    data = footage(CHUNK, seed=7)
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        send_init(r, "dock-a", init)
        assert len(r.blobs.parts()) == 1
        r.handle(msg(p.abort_topic("dock-a", init.file_id), p.Abort("copy unreadable").to_json()))
        assert r.blobs.parts() == [] and r.state.get("dock-a", init.file_id).status == "aborted"
        send_fin(r, "dock-a", init)
        assert acks.last(init.file_id).code is p.RejectCode.unknown_transfer


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 640 KiB tmpfs for the archive's blobs and parts (same filesystem: atomic rename)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640k", "tmpfs", str(mnt)], check=True)  # needs root, as CI
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_a_full_disk_acknowledges_nothing_it_did_not_store(tmp_path, small_disk):
    """Chunks that did not reach the disk get no ``stored`` ack; ``fin`` then finds the transfer
    incomplete and nothing reaches the blob store or the ledger."""
    site = make_archive(tmp_path / "archive")
    site.cfg = site.cfg.model_copy(update={"blob_dir": small_disk / "blobs", "part_dir": small_disk / "parts"})
    dock = Dock("dock-a")
    site.register(dock)
    data = footage(3 * CHUNK, seed=8)  # 768 KiB into 640 KiB
    enrollment_ = dock.enrollment("cam-1")
    seg0 = dock.segment("cam-1", 0, p.envelope_hash(enrollment_), data=data)
    init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), seg0)
    fid = init.file_id
    with serving(site) as (r, acks):
        send_record(r, "dock-a", enrollment_)
        send_init(r, "dock-a", init)
        for i in (0, 1):
            send_chunk(r, "dock-a", init, i, data)
            acks.wait(lambda a, i=i: any(isinstance(x, p.Stored) and x.index == i for x in a.of(fid)))
        send_chunk(r, "dock-a", init, 2, data)  # the disk fills up during this one
        send_fin(r, "dock-a", init)  # waits for the flusher first
        ack = acks.last(fid)
        assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.incomplete, ack
        assert {x.index for x in acks.of(fid) if isinstance(x, p.Stored)} == {0, 1}
        assert r.state.stored("dock-a", fid) == {0, 1}
        assert not r.blobs.has(init.sha256) and r.ledger.by_hash(p.envelope_hash(seg0)) is None
        send_init(r, "dock-a", init)  # the dock asks again: chunk 2 is still missing
        assert acks.last(fid).missing == {2}
