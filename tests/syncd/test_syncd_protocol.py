"""The transfer protocol as data: topics, messages, bitmap, acks and the signed commit proof.

Everything a dock or the archive receives is hostile until validated; the parsers must refuse
garbage with ProtocolError (never another exception) so the receiver can answer ``rejected``
and keep running (A2 Art.16: custody of recordings must not depend on well-behaved peers).
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bodycam.errors import VerificationError
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.envelope import Envelope
from ledger.keys import Signer
from syncd import protocol as p

SHA = p.sha256_hex(b"the blob")
ENV = b'{"payloadType":"application/vnd.bodycam.segment+json","payload":"e30=","signatures":[]}'
FID = p.file_id_for(SHA, ENV)
EH = p.envelope_hash(ENV)


# -- topics -------------------------------------------------------------------------------------

def test_topic_builders_and_parser_agree():
    cases = {
        p.init_topic("dock-1", FID): p.Topic("dock-1", p.TopicKind.init, file_id=FID),
        p.seg_topic("dock-1", FID, 0): p.Topic("dock-1", p.TopicKind.seg, file_id=FID, index=0),
        p.seg_topic("dock-1", FID, 1234): p.Topic("dock-1", p.TopicKind.seg, file_id=FID, index=1234),
        p.fin_topic("dock-1", FID): p.Topic("dock-1", p.TopicKind.fin, file_id=FID),
        p.abort_topic("dock-1", FID): p.Topic("dock-1", p.TopicKind.abort, file_id=FID),
        p.rec_topic("dock-1", EH): p.Topic("dock-1", p.TopicKind.rec, entry_hash=EH),
        p.ack_topic("dock-1"): p.Topic("dock-1", p.TopicKind.ack),
    }
    for text, topic in cases.items():
        assert p.parse_topic(text) == topic
        assert str(topic) == text
    assert p.init_topic("dock-1", FID) == f"bodycam/v1/dock-1/xfer/{FID}/init"
    assert p.seg_topic("d", FID, 7).endswith("/seg/7")


@pytest.mark.parametrize("topic", [
    "", "bodycam/v1", "bodycam/v2/dock-1/ack", "bodycam/v1/Dock-1/ack", "bodycam/v1/-dock/ack",
    "bodycam/v1/+/ack", "bodycam/v1/#", "bodycam/v1/dock-1/ack/extra", "bodycam/v1/dock-1/rec/abc",
    f"bodycam/v1/dock-1/rec/{EH.upper()}", f"bodycam/v1/dock-1/xfer/{FID}", f"bodycam/v1/dock-1/xfer/{FID}/seg",
    f"bodycam/v1/dock-1/xfer/{FID}/seg/01", f"bodycam/v1/dock-1/xfer/{FID}/seg/-1",
    f"bodycam/v1/dock-1/xfer/{FID}/seg/{p.MAX_CHUNKS}", f"bodycam/v1/dock-1/xfer/{FID}/seg/1e3",
    f"bodycam/v1/dock-1/xfer/{FID}/done", "bodycam/v1/" + "d" * 64 + "/ack", "/bodycam/v1/dock-1/ack",
])
def test_bad_topics_are_refused(topic):
    with pytest.raises(p.ProtocolError) as err:
        p.parse_topic(topic)
    assert err.value.code is p.RejectCode.bad_topic


def test_builders_refuse_what_the_parser_would():
    for call in (lambda: p.ack_topic("A"), lambda: p.init_topic("d", "xyz"),
                 lambda: p.seg_topic("d", FID, p.MAX_CHUNKS), lambda: p.rec_topic("d/e", EH)):
        with pytest.raises(p.ProtocolError):
            call()


# -- dock → archive -----------------------------------------------------------------------------

def test_file_id_is_derived_from_content_only():
    assert p.file_id_for(SHA, ENV) == FID
    assert p.file_id_for(p.sha256_hex(b"other"), ENV) != FID
    assert p.file_id_for(SHA, ENV + b" ") != FID
    init = p.Init(size=10, chunk_size=p.CHUNK_DEFAULT, sha256=SHA, envelope=ENV)
    assert init.file_id == FID


def test_init_round_trip_and_chunk_geometry():
    size = 3 * p.CHUNK_MIN + 5
    init = p.Init(size=size, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV)
    assert init.chunks == 4
    assert [init.chunk_length(i) for i in range(4)] == [p.CHUNK_MIN] * 3 + [5]
    data = json.loads(init.to_json())
    assert data == {"v": 1, "size": size, "chunk_size": p.CHUNK_MIN, "chunks": 4, "sha256": SHA,
                    "envelope": base64.b64encode(ENV).decode()}
    assert p.Init.from_json(init.to_json()) == init
    msg = p.decode_dock_message(p.init_topic("dock-1", init.file_id), init.to_json())
    assert msg.body == init and msg.topic.dock == "dock-1"
    assert p.Init(size=0, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV).chunks == 0
    with pytest.raises(p.ProtocolError):
        init.chunk_length(4)


@pytest.mark.parametrize("change, code", [
    ({"chunk_size": p.CHUNK_MIN - 1}, p.RejectCode.bad_message),
    ({"chunk_size": p.CHUNK_MAX + 1}, p.RejectCode.bad_message),
    ({"chunk_size": True}, p.RejectCode.bad_message),
    ({"size": -1}, p.RejectCode.bad_message),
    ({"size": p.MAX_FILE_SIZE + 1}, p.RejectCode.bad_message),
    ({"chunks": 99}, p.RejectCode.bad_message),
    ({"sha256": SHA.upper()}, p.RejectCode.bad_message),
    ({"envelope": "not base64!"}, p.RejectCode.bad_message),
    ({"envelope": ""}, p.RejectCode.bad_envelope),
    ({"extra": 1}, p.RejectCode.bad_message),
    ({"v": 2}, p.RejectCode.bad_message),
])
def test_init_refuses_bad_fields(change, code):
    obj = json.loads(p.Init(size=10, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV).to_json()) | change
    with pytest.raises(p.ProtocolError) as err:
        p.Init.from_json(json.dumps(obj).encode())
    assert err.value.code is code


def test_init_too_many_chunks_and_wrong_file_id():
    assert p.Init(size=p.MAX_FILE_SIZE, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV).chunks == p.MAX_CHUNKS
    with pytest.raises(p.ProtocolError) as err:
        p.Init(size=p.MAX_FILE_SIZE + 1, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV)
    assert err.value.code is p.RejectCode.file_size
    init = p.Init(size=10, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV)
    with pytest.raises(p.ProtocolError) as err:
        p.decode_dock_message(p.init_topic("dock-1", "0" * 64), init.to_json())
    assert err.value.code is p.RejectCode.file_id


def test_chunks_are_checked_for_index_length_and_hash():
    init = p.Init(size=p.CHUNK_MIN + 3, chunk_size=p.CHUNK_MIN, sha256=SHA, envelope=ENV)
    last = b"xyz"
    header = p.ChunkHeader.for_data(1, last)
    msg = p.decode_dock_message(p.seg_topic("dock-1", FID, 1), last, header.user_properties())
    assert msg.body == p.Chunk(header, last)
    p.verify_chunk(init, msg.body.header, msg.body.data)
    with pytest.raises(p.ProtocolError) as err:
        p.verify_chunk(init, p.ChunkHeader.for_data(1, b"xyzw"), b"xyzw")
    assert err.value.code is p.RejectCode.bad_chunk
    with pytest.raises(p.ProtocolError) as err:  # altered in flight
        p.verify_chunk(init, header, b"xyZ")
    assert err.value.code is p.RejectCode.chunk_hash
    with pytest.raises(p.ProtocolError) as err:
        p.verify_chunk(init, p.ChunkHeader.for_data(2, last), last)
    assert err.value.code is p.RejectCode.bad_index
    for props in ([("sha256", header.sha256)] * 2, [("sha256", "zz")]):
        with pytest.raises(p.ProtocolError) as err:
            p.decode_dock_message(p.seg_topic("dock-1", FID, 1), last, props)
        assert err.value.code is p.RejectCode.bad_chunk
    # without a SHA-256 (sent in order on a fresh transfer): only a running file hash may take it
    for props in ([], None, p.ChunkHeader.in_order(1).user_properties()):
        plain = p.decode_dock_message(p.seg_topic("dock-1", FID, 1), last, props).body
        assert plain.header == p.ChunkHeader(1, None)
        p.verify_chunk(init, plain.header, last, check_hash=False)
        with pytest.raises(p.ProtocolError) as err:
            p.verify_chunk(init, plain.header, last)
        assert err.value.code is p.RejectCode.bad_chunk and "out of order" in err.value.reason
    with pytest.raises(p.ProtocolError) as err:
        p.decode_dock_message(p.seg_topic("dock-1", FID, 0), b"\0" * (p.CHUNK_MAX + 1), header.user_properties())
    assert err.value.code is p.RejectCode.too_large


def test_records_fin_abort():
    msg = p.decode_dock_message(p.rec_topic("dock-1", EH), ENV)
    assert msg.body == p.Record(ENV) and msg.body.entry_hash == EH
    with pytest.raises(p.ProtocolError) as err:
        p.decode_dock_message(p.rec_topic("dock-1", EH), ENV + b" ")
    assert err.value.code is p.RejectCode.record_hash
    with pytest.raises(p.ProtocolError) as err:
        p.decode_dock_message(p.rec_topic("dock-1", EH), b"x" * (p.MAX_RECORD_BYTES + 1))
    assert err.value.code is p.RejectCode.too_large
    fin = p.Fin(size=10, sha256=SHA)
    assert p.decode_dock_message(p.fin_topic("dock-1", FID), fin.to_json()).body == fin
    abort = p.Abort("store copy unreadable")
    assert p.decode_dock_message(p.abort_topic("dock-1", FID), abort.to_json()).body == abort
    with pytest.raises(p.ProtocolError):
        p.decode_dock_message(p.ack_topic("dock-1"), b"{}")
    with pytest.raises(p.ProtocolError) as err:
        p.decode_dock_message(p.fin_topic("dock-1", FID), b"{" * (p.MAX_CONTROL_BYTES + 1))
    assert err.value.code is p.RejectCode.too_large


# -- bitmap and acks ----------------------------------------------------------------------------

def test_bitmap_encoding_is_little_endian_bits():
    assert p.encode_bitmap([0, 9], 10) == base64.b64encode(bytes([0b00000001, 0b00000010])).decode()
    assert p.decode_bitmap(p.encode_bitmap([0, 9], 10), 10) == {0, 9}
    assert p.encode_bitmap([], 0) == ""
    with pytest.raises(p.ProtocolError):  # bit 10 set but only 10 chunks
        p.decode_bitmap(base64.b64encode(bytes([0, 0b100])).decode(), 10)
    with pytest.raises(p.ProtocolError):
        p.decode_bitmap(base64.b64encode(bytes([0])).decode(), 10)
    with pytest.raises(p.ProtocolError):
        p.encode_bitmap([10], 10)


@given(st.integers(0, 2000).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, max(n - 1, 0))))))
def test_bitmap_round_trip(case):
    n, indices = case
    indices = {i for i in indices if i < n}
    assert p.decode_bitmap(p.encode_bitmap(indices, n), n) == indices


ACKS = [
    p.Stored(p.Subject.xfer, FID, 3),
    p.Missing(p.Subject.xfer, FID, 20, frozenset({0, 5, 19})),
    p.Missing(p.Subject.xfer, FID, 20, frozenset()),
    p.Committed(p.Subject.rec, EH, ENV),
    p.Rejected(p.Subject.xfer, FID, p.RejectCode.unknown_key, "segment signed by an unenrolled device key"),
    p.Rejected(p.Subject.xfer, FID, p.RejectCode.chunk_hash, "chunk 4 does not match its sha256", index=4),
]


@pytest.mark.parametrize("ack", ACKS, ids=lambda a: type(a).__name__)
def test_acks_round_trip_with_correlation(ack):
    payload, corr = p.encode_ack(ack)
    assert corr == ack.id.encode()
    assert p.decode_ack(payload, corr) == ack
    with pytest.raises(p.ProtocolError):
        p.decode_ack(payload, EH.encode() if ack.id == FID else FID.encode())
    with pytest.raises(p.ProtocolError):
        p.decode_ack(payload, None)


def test_ack_kinds_are_closed():
    payload, corr = p.encode_ack(ACKS[0])
    obj = json.loads(payload)
    for change in ({"kind": "deleted"}, {"subject": "blob"}, {"index": -1}, {"extra": True}):
        with pytest.raises(p.ProtocolError):
            p.decode_ack(json.dumps(obj | change).encode(), corr)


# -- the signed commit proof --------------------------------------------------------------------

ORIGIN = "archive.test/log"


def _proof(log_key: Signer, size: int = 8, index: int = 7, **kw) -> p.CommitProof:
    note = sign_checkpoint(Checkpoint(ORIGIN, size, b"\1" * 32), log_key)
    fields = {"dock": "dock-1", "subject": p.Subject.xfer, "id": FID, "entry_hash": EH, "ledger_index": index,
              "checkpoint": note, "committed_ns": 1_796_000_000_000_000_000}
    return p.CommitProof(**(fields | kw))


def test_commit_proof_signed_by_the_log_key_verifies():
    log_key = Signer.generate()
    proof = _proof(log_key)
    env = p.sign_commit(proof, log_key)
    assert Envelope.from_bytes(env).kind == "ack.committed"
    got = p.verify_commit(env, log_key.public_key, dock="dock-1", subject=p.Subject.xfer, id=FID, entry_hash=EH)
    assert got == proof
    payload, corr = p.encode_ack(p.Committed(p.Subject.xfer, FID, env))
    assert p.decode_ack(payload, corr).envelope == env


def test_forged_or_misdirected_commit_is_refused():
    log_key, forger = Signer.generate(), Signer.generate()
    env = p.sign_commit(_proof(log_key), log_key)
    with pytest.raises(VerificationError, match="not signed by the archive"):
        p.verify_commit(p.sign_commit(_proof(forger), forger), log_key.public_key,
                        dock="dock-1", subject=p.Subject.xfer, id=FID)
    with pytest.raises(VerificationError, match="vouches for"):
        p.verify_commit(env, log_key.public_key, dock="dock-2", subject=p.Subject.xfer, id=FID)
    with pytest.raises(VerificationError, match="vouches for"):
        p.verify_commit(env, log_key.public_key, dock="dock-1", subject=p.Subject.xfer, id=EH)
    with pytest.raises(VerificationError, match="another ledger entry"):
        p.verify_commit(env, log_key.public_key, dock="dock-1", subject=p.Subject.xfer, id=FID, entry_hash=FID)
    with pytest.raises(VerificationError, match="does not cover"):
        p.verify_commit(p.sign_commit(_proof(log_key, size=7, index=7), log_key), log_key.public_key,
                        dock="dock-1", subject=p.Subject.xfer, id=FID)
    # Signed by the log key, but with a checkpoint some other key signed.
    mixed = _proof(log_key, checkpoint=_proof(forger).checkpoint)
    with pytest.raises(VerificationError):
        p.verify_commit(p.sign_commit(mixed, log_key), log_key.public_key,
                        dock="dock-1", subject=p.Subject.xfer, id=FID)
    # One altered byte of the signed body.
    tampered = Envelope.from_bytes(env)
    body = tampered.payload.replace(b'"ledger_index":7', b'"ledger_index":6')
    altered = Envelope(tampered.payload_type, body, tampered.signatures).to_bytes()
    with pytest.raises(VerificationError, match="does not verify"):
        p.verify_commit(altered, log_key.public_key, dock="dock-1", subject=p.Subject.xfer, id=FID)
    with pytest.raises(p.ProtocolError):
        p.verify_commit(b"garbage", log_key.public_key, dock="dock-1", subject=p.Subject.xfer, id=FID)


# -- garbage in: ProtocolError and nothing else -------------------------------------------------

_segments = st.one_of(st.sampled_from(["bodycam", "v1", "dock-1", "xfer", FID, "seg", "0", "17", "init", "fin",
                                       "abort", "rec", EH, "ack", "+", "#", "", "01", "Dock"]),
                      st.text(max_size=12))
_topics = st.one_of(st.text(max_size=300), st.lists(_segments, max_size=8).map("/".join))
_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                      max_size=4),
                            max_leaves=12)
_field_names = st.sampled_from(["v", "size", "chunk_size", "chunks", "sha256", "envelope", "reason", "kind",
                                "subject", "id", "index", "bitmap", "code", "x"])
_field_values = st.one_of(_json_values, st.sampled_from([1, SHA, FID, "stored", "missing", "committed",
                                                         "rejected", "xfer", "rec", "AA==", p.CHUNK_MIN]))
_json_payloads = st.dictionaries(_field_names, _field_values, max_size=8).map(lambda d: json.dumps(d).encode())
_payloads = st.one_of(st.binary(max_size=300), _json_payloads)
_props = st.one_of(st.none(), st.lists(st.tuples(st.sampled_from(["sha256", "x"]),
                                                 st.one_of(st.text(max_size=70), st.just(SHA))), max_size=3))


@settings(max_examples=400, deadline=None)
@given(_topics)
def test_parse_topic_raises_only_protocol_error(topic):
    try:
        t = p.parse_topic(topic)
    except p.ProtocolError:
        return
    assert str(t) == topic


@settings(max_examples=600, deadline=None)
@given(_topics, _payloads, _props)
def test_decode_dock_message_raises_only_protocol_error(topic, payload, props):
    try:
        msg = p.decode_dock_message(topic, payload, props)
    except p.ProtocolError:
        return
    assert msg.topic == p.parse_topic(topic) and msg.topic.kind is not p.TopicKind.ack


@settings(max_examples=600, deadline=None)
@given(_payloads, st.one_of(st.none(), st.binary(max_size=70), st.just(FID.encode())))
def test_decode_ack_raises_only_protocol_error(payload, corr):
    try:
        ack = p.decode_ack(payload, corr)
    except p.ProtocolError:
        return
    assert p.decode_ack(*p.encode_ack(ack)) == ack


@settings(max_examples=200, deadline=None)
@given(st.integers(0, p.MAX_FILE_SIZE), st.integers(p.CHUNK_MIN, p.CHUNK_MAX), st.binary(min_size=1, max_size=64),
       st.sampled_from(["dock-1", "a", "z9-x"]))
def test_init_round_trips_through_the_wire(size, chunk_size, envelope, dock):
    try:
        init = p.Init(size=size, chunk_size=chunk_size, sha256=SHA, envelope=envelope)
    except p.ProtocolError as err:
        assert err.code is p.RejectCode.file_size and p.chunk_count(size, chunk_size) > p.MAX_CHUNKS
        return
    msg = p.decode_dock_message(p.init_topic(dock, init.file_id), init.to_json())
    assert msg.body == init
    if init.chunks:
        last = init.chunks - 1
        assert last * chunk_size + init.chunk_length(last) == size
        assert 0 < init.chunk_length(last) <= chunk_size
