"""Who may deliver what, against a real Mosquitto and the real archive receiver: unknown keys,
one dock posing as another, oversize messages, forged receipts, unregistered docks, retries
(A2 Art.16: only registered custodians deliver evidence, and a receipt proves custody)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time

import pytest

from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import DockSession, make_body
from ledger.store import Ledger
from syncd import protocol as p
from syncd.mqtt import MessageTooLarge, MqttClient, PublishRefused, Received
from syncd.outbox import Outbox
from tests.fixtures.sync import BODYCAM, T0, sync_once


class Acks:
    def __init__(self) -> None:
        self.q: queue.Queue[p.Ack] = queue.Queue()

    def __call__(self, msg: Received) -> None:
        if msg.topic.endswith("/ack"):
            self.q.put(p.decode_ack(msg.payload, msg.correlation))

    def get(self, item_id: str, timeout: float = 10.0) -> p.Ack:
        deadline = time.monotonic() + timeout
        while True:
            ack = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            if ack.id == item_id:
                return ack


def dock_client(w, name: str, acks: Acks | None = None) -> MqttClient:
    c = MqttClient(w.broker.client_config(name, auth="plain"), name, on_message=acks, clean_start=True)
    c.connect()
    c.subscribe([p.ack_topic(name)])
    return c


def session_record(signer: Signer, dock: str = "dock-a") -> bytes:
    body = DockSession(session_id="s-x", dock_id=dock, device_id="rec-1", officer_id="officer-7", case_id="case-1",
                       started_ns=T0, status="open")
    return seal(make_body(body), signer).to_bytes()


def test_envelope_signed_by_unknown_key_is_refused_and_kept(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([300 << 10])
    stranger = Signer.generate()
    with Ledger.open(a.ledger_path) as lg:
        bad = lg.append(session_record(stranger))  # the dock ledger took it without a trust check
    with w.receiver():
        out = sync_once(w, "dock-a")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "unknown_key" in out.stderr and "not enrolled at the archive" in out.stderr
    st = subprocess.run([BODYCAM, "--config", str(a.config_path), "sync", "status", "--json"],
                        capture_output=True, text=True, check=True)
    status = json.loads(st.stdout)
    assert [r["entry_hash"] for r in status["rejected"]] == [bad.entry_hash]
    assert status["rejected"][0]["code"] == "unknown_key"
    assert status["items"] == {"committed": 2, "rejected": 1, "skipped": 1}
    with w.archive_ledger() as lg:
        assert lg.by_hash(bad.entry_hash) is None
        assert len(list(lg.entries(kind="segment"))) == 1  # the rest went through
    with Ledger.open(a.ledger_path) as lg:
        assert lg.by_hash(bad.entry_hash) is not None  # kept on the dock


def test_dock_a_cannot_publish_as_dock_b(sync_world):
    w = sync_world(("dock-a", "dock-b"))
    b = w.docks["dock-b"]
    b.add_segments([100 << 10])
    with w.receiver():
        up = w.uploader("dock-b")
        try:
            assert up.run(once=True).rejected == []
        finally:
            up.close()
        b_entries = b.entries()
        b_device_enrollment, b_segment = b_entries[1][2], b_entries[2][2]
        acks = Acks()
        c = dock_client(w, "dock-a", acks)
        try:
            # 1. the broker's ACL: dock-a may not write under dock-b's prefix
            h = c.publish(p.rec_topic("dock-b", p.envelope_hash(b_device_enrollment)), b_device_enrollment)
            with pytest.raises(PublishRefused) as err:
                h.wait(5)
            assert err.value.reason.value == 0x87
            # 2. the archive: under its own prefix, dock-a may not deliver records rooted in dock-b
            for env in (b_device_enrollment, session_record(b.dock_key, "dock-b")):
                eh = p.envelope_hash(env)
                c.publish(p.rec_topic("dock-a", eh), env).wait(5)
                ack = acks.get(eh)
                assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.dock_mismatch, ack
                assert "dock-b" in ack.reason
            # ... nor dock-b's footage
            init = p.Init(100 << 10, p.CHUNK_MIN, json.loads(b_segment_body(b_segment))["media"]["sha256"],
                          b_segment)
            c.publish(p.init_topic("dock-a", init.file_id), init.to_json()).wait(5)
            ack = acks.get(init.file_id)
            assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.dock_mismatch
        finally:
            c.close()


def b_segment_body(envelope: bytes) -> str:
    from ledger.envelope import Envelope, body

    return json.dumps(body(Envelope.from_bytes(envelope)))


def test_oversize_messages_are_refused(sync_world):
    w = sync_world()
    with w.receiver():
        acks = Acks()
        c = dock_client(w, "dock-a", acks)
        try:
            with pytest.raises(MessageTooLarge):  # beyond the broker's maximum packet size
                c.publish(p.seg_topic("dock-a", "ab" * 32, 0), os.urandom(p.CHUNK_MAX + (8 << 10)))
            big = os.urandom(p.MAX_RECORD_BYTES + 1)  # fits the broker, too large for a record
            eh = p.envelope_hash(big)
            c.publish(p.rec_topic("dock-a", eh), big).wait(5)
            ack = acks.get(eh)
            assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.too_large
        finally:
            c.close()


def test_unregistered_dock_is_refused(sync_world):
    w = sync_world(("dock-a",), broker_docks=("dock-a", "dock-z"))
    z = w.add_dock("dock-z", register=False)
    z.add_segments([10 << 10])
    with w.receiver():
        up = w.uploader("dock-z")
        try:
            res = up.run(once=True)
        finally:
            up.close()
    assert {r["code"] for r in res.rejected} == {"unknown_dock"}
    assert "bodycam archive dock add dock-z" in res.rejected[0]["reason"]


def test_forged_committed_reply_never_marks_anything(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([10 << 10])
    impostor_key = Signer.generate()
    fake = MqttClient(w.broker.client_config("archive", auth="plain"), "archive", clean_start=True)

    def forge(msg: Received) -> None:
        t = p.parse_topic(msg.topic)
        item = t.entry_hash if t.kind is p.TopicKind.rec else t.file_id
        if t.kind in (p.TopicKind.rec, p.TopicKind.init):
            proof = p.CommitProof(dock="dock-a", subject=p.Subject.rec if t.kind is p.TopicKind.rec else p.Subject.xfer,
                                  id=item, entry_hash=item, ledger_index=0, checkpoint="x\n1\n" + "A" * 44 + "\n",
                                  committed_ns=T0)
            payload, corr = p.encode_ack(p.Committed(proof.subject, item, p.sign_commit(proof, impostor_key)))
            fake.publish(p.ack_topic("dock-a"), payload, correlation=corr)
    fake._on_message = forge
    fake.connect()
    fake.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
    stop = threading.Event()
    up = w.uploader("dock-a", stop_event=stop)
    threading.Timer(2.0, stop.set).start()
    try:
        res = up.run(once=True)
    finally:
        up.close()
        fake.close()
    assert res.committed == 0 and res.stopped
    with Outbox(a.agent.path(a.syncd.state_db)) as ob:
        assert "committed" not in ob.counts()
        assert "does not verify" in ob.get_meta("last_error")
    with w.receiver():  # the real archive then commits it all
        up = w.uploader("dock-a")
        try:
            assert up.run(once=True).committed == 2
        finally:
            up.close()


def test_retry_never_makes_a_second_blob_or_entry(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([700 << 10, 300 << 10])
    with w.receiver() as r:
        for _ in range(2):
            up = w.uploader("dock-a")
            try:
                assert up.run(once=True).rejected == []
            finally:
                up.close()
            with w.archive_ledger() as lg:
                size = lg.size
            (a.agent.path(a.syncd.state_db)).unlink()  # the dock forgets what was committed
        assert r.stats.chunks == 5  # 3 + 2 chunks, sent once: the second run found everything committed
    with w.archive_ledger() as lg:
        assert lg.size == size == 2 + 1 + 3  # root, log key, dock, device, 2 segments
    assert len(w.blobs()) == 2 and w.parts() == []


def test_segment_before_its_predecessor_waits(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([10 << 10, 20 << 10])
    entries = a.entries()
    with w.receiver():
        acks = Acks()
        c = dock_client(w, "dock-a", acks)
        try:
            enrollment = entries[1][2]
            eh = p.envelope_hash(enrollment)
            c.publish(p.rec_topic("dock-a", eh), enrollment).wait(5)
            assert isinstance(acks.get(eh), p.Committed)
            second = entries[3][2]
            sha = json.loads(b_segment_body(second))["media"]["sha256"]
            data = a.store().blob_path(sha).read_bytes()
            init = p.Init(len(data), p.CHUNK_MIN, sha, second)
            c.publish(p.init_topic("dock-a", init.file_id), init.to_json()).wait(5)
            assert isinstance(acks.get(init.file_id), p.Missing)
            hdr = p.ChunkHeader.for_data(0, data)
            c.publish(p.seg_topic("dock-a", init.file_id, 0), data, user_properties=hdr.user_properties()).wait(5)
            assert isinstance(acks.get(init.file_id), p.Stored)
            c.publish(p.fin_topic("dock-a", init.file_id), p.Fin(len(data), sha).to_json()).wait(5)
            ack = acks.get(init.file_id)
            assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.dependency
        finally:
            c.close()
        up = w.uploader("dock-a")
        try:
            res = up.run(once=True)
        finally:
            up.close()
    assert res.rejected == [] and res.committed == 3
    assert w.parts() == []
