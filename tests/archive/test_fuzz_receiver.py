"""Hostile MQTT traffic against the archive receiver's real message handling, fuzzed with
hypothesis (issue 17; A2 Art.8: nothing altered or lost; A2 Art.16: custody).

In-process: a real :class:`archive.receiver.Receiver` on a real archive folder (ledger, state
database, blob store, its flusher thread) gets each message through ``handle`` exactly as paho's
thread hands it over; its replies are collected instead of published. For any topic, payload and
user properties — malformed, oversized, truncated, altered records re-addressed so they pass the
topic check, every message type, another dock's name — ``handle`` never raises, the ledger gains
nothing and no blob appears. Then the real messages of a dock's delivery, replayed, reordered,
duplicated and sent under the wrong dock's topics, followed by a clean delivery (what the dock's
retries end with): exactly the dock's records are committed, once each, with their files, no
part file is left, and the ledger verifies. ``tests/archive/test_fuzz_broker.py`` sends such a
batch through a real Mosquitto to a running ``bodycam archive serve``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from archive.receiver import Receiver
from ledger.verify import verify_ledger
from syncd import protocol as p
from syncd.mqtt import Received
from tests.archive.test_receiver import Dock, make_archive
from tests.fixtures.fuzz import fuzz

CHUNK = p.CHUNK_MIN
HEX = "0123456789abcdef"


class Replies:
    """Stands in for the receiver's MQTT client: keeps what it would publish (the receiver's
    handling is what is tested; tests/archive/test_fuzz_broker.py uses the real broker)."""

    connected = True

    def __init__(self) -> None:
        self.acks: list[tuple[str, p.Ack]] = []

    def publish(self, topic: str, payload: bytes, *, correlation: bytes | None = None, **_kw) -> None:
        self.acks.append((topic, p.decode_ack(payload, correlation)))

    def close(self) -> None:
        """Nothing to close: no connection was opened."""


class Delivery:
    """One dock's real messages: a device enrollment record, then segments with media files
    (init, chunks, fin) chained after it."""

    def __init__(self, dock: Dock, device: str, sizes: list[int], seed: int):
        self.dock = dock
        self.records: list[bytes] = [dock.enrollment(device)]
        self.files: dict[str, bytes] = {}
        self.messages: list[Received] = [self.rec(self.records[0])]
        for n, size in enumerate(sizes):
            data = hashlib.shake_256(f"{seed}-{n}".encode()).digest(size)
            env = dock.segment(device, n, p.envelope_hash(self.records[-1]), data=data)
            self.records.append(env)
            self.files[hashlib.sha256(data).hexdigest()] = data
            self.messages += self.transfer(env, data)

    def rec(self, env: bytes, dock: str | None = None) -> Received:
        return msg(p.rec_topic(dock or self.dock.name, p.envelope_hash(env)), env)

    def transfer(self, env: bytes, data: bytes, dock: str | None = None) -> list[Received]:
        name = dock or self.dock.name
        init = p.Init(len(data), CHUNK, hashlib.sha256(data).hexdigest(), env)
        out = [msg(p.init_topic(name, init.file_id), init.to_json())]
        for i in range(init.chunks):
            chunk = data[i * CHUNK:(i + 1) * CHUNK]
            out.append(msg(p.seg_topic(name, init.file_id, i), chunk,
                           p.ChunkHeader.for_data(i, chunk).user_properties()))
        out.append(msg(p.fin_topic(name, init.file_id), p.Fin(init.size, init.sha256).to_json()))
        return out


def serving(site) -> tuple[Receiver, Replies]:
    r = Receiver(site.cfg, site.log_key)
    replies = Replies()
    r.client = replies
    r._flusher.start()
    return r, replies


def msg(topic: str, payload: bytes, props=None) -> Received:
    return Received(topic, payload, 1, user_properties=tuple(props or ()))


def blob_files(site) -> set[str]:
    root = site.cfg.path(site.cfg.blob_dir)
    return {x.name for x in root.rglob("*") if x.is_file()} if root.exists() else set()


def part_files(site) -> list[Path]:
    root = site.cfg.path(site.cfg.part_dir)
    return sorted(root.rglob("*.part")) if root.exists() else []


# -- hostile messages ---------------------------------------------------------------------------------


def hex64() -> st.SearchStrategy[str]:
    return st.text(HEX, min_size=64, max_size=64)


DOCK_NAMES = st.sampled_from(["dock-a", "dock-b", "dock-z", "Dock-A", "", "dock-a/..", "+", "#", "a" * 70])
TOPIC_KINDS = st.sampled_from(["xfer/{id}/init", "xfer/{id}/seg/{i}", "xfer/{id}/fin", "xfer/{id}/abort",
                               "rec/{id}", "ckpt/{id}", "ack", "xfer/{id}/seg/-1", "xfer/{id}/seg/99999999",
                               "xfer/{id}", "rec/{id}/extra", "xfer/{id}/seg/01"])


@st.composite
def topics(draw) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=300))
    kind = draw(TOPIC_KINDS).format(id=draw(st.one_of(hex64(), st.text(max_size=70))), i=draw(st.integers(0, 20)))
    return f"{draw(st.sampled_from(['bodycam/v1', 'bodycam/v2', 'bodycam/v1/']))}/{draw(DOCK_NAMES)}/{kind}"


def json_like() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=True),
                        st.text(max_size=40), hex64())
    return st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                     st.dictionaries(st.text(max_size=12), c, max_size=6)),
                        max_leaves=20)


@st.composite
def payloads(draw, real: list[bytes]) -> bytes:
    how = draw(st.integers(0, 7))
    if how == 0:
        return draw(st.binary(max_size=2048))
    if how == 1:
        return json.dumps(draw(json_like()), default=str).encode()
    if how == 2:  # a real message truncated or with a byte flipped
        base = draw(st.sampled_from(real))
        cut = draw(st.integers(0, len(base)))
        if draw(st.booleans()) and base:
            at = draw(st.integers(0, len(base) - 1))
            return base[:at] + bytes([base[at] ^ draw(st.integers(1, 255))]) + base[at + 1:]
        return base[:cut]
    if how == 3:  # a real JSON message with a field changed, a key added or duplicated
        base = draw(st.sampled_from(real))
        try:
            obj = json.loads(base)
        except ValueError:
            return base + b"\x00"
        if isinstance(obj, dict) and obj:
            key = draw(st.sampled_from(sorted(obj)))
            obj[draw(st.sampled_from([key, "extra", "v"]))] = draw(json_like())
            text = json.dumps(obj, default=str)
            if draw(st.booleans()):
                text = text[:-1] + f', "{key}": 1}}'  # a duplicate key
            return text.encode()
        return base
    if how == 4:  # deep nesting
        depth = draw(st.integers(50, 5000))
        return b"[" * depth + b"]" * depth
    if how == 5:
        return b""
    if how == 6:  # oversized, cheap to make
        return b"{" + b" " * (p.MAX_CONTROL_BYTES + draw(st.integers(0, 10))) + b"}"
    return draw(st.sampled_from(real))  # a real message, on whatever topic was drawn


def user_props() -> st.SearchStrategy:
    return st.one_of(st.none(), st.lists(st.tuples(st.sampled_from(["sha256", "x", "SHA256", ""]),
                                                   st.one_of(hex64(), st.text(max_size=80))), max_size=3))


def test_a2_art8_hostile_messages_never_crash_the_receiver_nor_reach_the_ledger(tmp_path):
    site = make_archive(tmp_path / "archive")
    dock, other = Dock("dock-a"), Dock("dock-b")
    site.register(dock)
    site.register(other)
    real = Delivery(dock, "cam-1", [CHUNK + 7, 3], seed=1)
    samples = [m.payload for m in real.messages]
    r, replies = serving(site)
    size, blobs = r.ledger.size, blob_files(site)
    try:
        @fuzz(300)
        @given(st.lists(st.tuples(topics(), payloads(samples), user_props()), min_size=1, max_size=6))
        def hostile(batch):
            for topic, payload, props in batch:
                r.handle(msg(topic, payload, props))
            r._drain()
            assert r.ledger.size == size, "a hostile message reached the ledger"
            assert blob_files(site) == blobs

        @fuzz(150)
        @given(st.integers(0, len(real.records) - 1), st.data())
        def altered_records(which, data):
            """A real record altered, re-addressed so it passes the topic check: refused."""
            env = real.records[which]
            obj = json.loads(env)
            field = data.draw(st.sampled_from(["payload", "payloadType", "signatures", "extra"]))
            if field == "payload":
                raw = bytearray(base64.b64decode(obj["payload"]))
                if raw:
                    at = data.draw(st.integers(0, len(raw) - 1))
                    raw[at] ^= data.draw(st.integers(1, 255))
                obj["payload"] = base64.b64encode(bytes(raw)).decode()
            elif field == "payloadType":
                obj["payloadType"] = data.draw(st.sampled_from(["application/json", "", "x" * 300,
                                                                "application/vnd.bodycam.ack.committed+json"]))
            elif field == "signatures":
                obj["signatures"] = data.draw(st.sampled_from([[], [{"keyid": "0" * 64, "sig": "AA=="}],
                                                               obj["signatures"] * 2, "none"]))
            else:
                obj[data.draw(st.text(min_size=1, max_size=8))] = data.draw(json_like())
            altered = json.dumps(obj, default=str).encode()
            target = data.draw(st.sampled_from(["dock-a", "dock-b"]))
            r.handle(msg(p.rec_topic(target, p.envelope_hash(altered)), altered))
            assert r.ledger.size == size

        hostile()
        altered_records()
    finally:
        r.close()
    assert {t for t, _ in replies.acks} <= {p.ack_topic(d) for d in ("dock-a", "dock-b", "dock-z")}


# -- replayed, reordered, duplicated, wrong dock ----------------------------------------------------------


def test_a2_art16_replayed_reordered_duplicated_messages_commit_exactly_the_dock_records(tmp_path_factory):
    counter = iter(range(10 ** 6))

    @fuzz(25)
    @given(st.data())
    def scramble(data):
        site = make_archive(tmp_path_factory.mktemp("fuzz") / f"archive-{next(counter)}")
        dock, other = Dock("dock-a"), Dock("dock-b")
        site.register(dock)
        site.register(other)
        good = Delivery(dock, "cam-1", [2 * CHUNK + 11, 5, CHUNK], seed=2)
        # the same messages as dock-b would be refused: dock-b did not sign them
        wrong = [msg(m.topic.replace("/dock-a/", "/dock-b/", 1), m.payload, m.user_properties) for m in good.messages]
        pool = good.messages + wrong
        batch = data.draw(st.lists(st.sampled_from(pool), max_size=40))
        r, replies = serving(site)
        try:
            for m in batch:
                r.handle(m)
            r._drain()
            # the dock's retries end with a clean delivery in order: everything is committed
            for m in good.messages:
                r.handle(m)
            r._drain()
            ledger = r.ledger
            held = [bytes(e) for (e,) in ledger.conn.execute("SELECT envelope FROM entries ORDER BY idx")]
            assert held[-len(good.records):] == good.records
            assert len(held) == 2 + 2 + len(good.records)  # root, log key, two docks, then dock-a's records
            assert blob_files(site) == set(good.files)
            for sha, content in good.files.items():
                assert r.blobs.blob_path(sha).read_bytes() == content
            assert not part_files(site)
            report = verify_ledger(ledger, trusted_root=site.admin.public_key, workers=1)
            assert report.ok, [str(x) for x in report.problems]
            # everything dock-b sent in dock-a's name was refused
            assert not any(isinstance(a, p.Committed) for t, a in replies.acks if t == p.ack_topic("dock-b"))
        finally:
            r.close()

    scramble()
