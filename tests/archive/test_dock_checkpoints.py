"""The archive's copy of each dock's tree (archive.dock_checkpoints, issue 11 hole 3): a dock's
checkpoint is accepted only when the dock ledger's leaves, appended to the tree of the checkpoint
acknowledged before, give its signed root; anything else (a shorter tree, another root, a forked
history) is kept as inconsistent and answered so, signed by the log key; what an acknowledged
checkpoint covers and never arrived is listed. The ``ckpt`` message and its ack on the wire."""

from __future__ import annotations

import json

import pytest

from archive.dock_checkpoints import DockCheckpoints
from archive.docks import Trust, register_dock
from bodycam.errors import VerificationError
from ledger.checkpoint import Checkpoint, dock_origin, sign_checkpoint
from ledger.enroll import create_rooted, enroll, public_of
from ledger.keys import Signer
from ledger.store import Ledger
from syncd import checkpoints as dock_side
from syncd import protocol as p

DOCK = "dock-a"


@pytest.fixture
def world(tmp_path):
    admin, log_key, dock_key = Signer.generate(), Signer.generate(), Signer.generate()
    archive = Ledger.open(tmp_path / "archive.db")
    create_rooted(archive, admin, "archive-admin")
    enroll(archive, admin, "archive_log", "archive-log", public_of(log_key))
    register_dock(archive, admin, DOCK, dock_key.public_key)
    dock = Ledger.open(tmp_path / "dock.db")
    create_rooted(dock, dock_key, DOCK)
    state = DockCheckpoints(tmp_path / "receiver.db")
    yield archive, dock, dock_key, log_key, state
    state.close()
    dock.close()
    archive.close()


def grow(dock: Ledger, dock_key: Signer, n: int, tag: str = "rec") -> None:
    for i in range(n):
        enroll(dock, dock_key, "device", f"{tag}-{dock.size}-{i}", public_of(Signer.generate()))


def offer(world, note: str, start: int, *, complete: bool = False, dock_ledger: Ledger | None = None,
          dock: str = DOCK) -> p.CheckpointVerdict | p.Rejected:
    """One ``ckpt`` message as the dock's uploader builds it, answered as the receiver does."""
    archive, dock_lg, _, log_key, state = world
    size = dock_side.checkpoint_of(note).size
    lg = dock_ledger or dock_lg
    page = dock_side.leaves(lg, start, min(size, start + p.MAX_CHECKPOINT_LEAVES)) if start < size else ()
    msg = p.CheckpointMessage(note, start, page, complete)
    keys = [archive.keyring()[k.keyid] for k in Trust.load(archive).docks().get(dock, [])]
    ack = state.answer(dock, msg.id, msg.to_json(), keys=keys, ledger=archive, log_key=log_key)
    ack = p.decode_ack(*p.encode_ack(ack))  # as it travels
    if isinstance(ack, p.Rejected):
        return ack
    return p.verify_checkpoint_ack(ack.envelope, log_key.public_key, dock=dock, id=msg.id)


def settle(world, note: str, *, complete: bool = False, dock_ledger: Ledger | None = None) -> p.CheckpointVerdict:
    """Send pages from where the archive says until it decides."""
    start = 0
    for _ in range(100):
        v = offer(world, note, start, complete=complete, dock_ledger=dock_ledger)
        assert isinstance(v, p.CheckpointVerdict), v
        if v.status is not p.CheckpointStatus.more:
            return v
        start = v.next
    raise AssertionError("never settled")


def test_a_checkpoint_is_accepted_page_by_page_and_each_extension_is_checked(world, monkeypatch):
    archive, dock, dock_key, _, state = world
    monkeypatch.setattr(p, "MAX_CHECKPOINT_LEAVES", 3)
    grow(dock, dock_key, 9)
    note = dock.checkpoint(dock_key, dock_origin(DOCK))
    first = offer(world, note, 0)
    assert first.status is p.CheckpointStatus.more and first.next == 3 and first.acknowledged == ""
    again = offer(world, note, 7)  # not where the archive is: it says where to go on
    assert again.status is p.CheckpointStatus.more and again.next == 3
    v = settle(world, note)
    assert v.status is p.CheckpointStatus.accepted and v.next == 10 and v.acknowledged == note
    assert v.missing == 9  # nothing but the root arrived, and the root never travels
    grow(dock, dock_key, 4)
    later = dock.checkpoint(dock_key, dock_origin(DOCK))
    v = settle(world, later)
    assert v.status is p.CheckpointStatus.accepted and v.acknowledged == later and v.next == 14
    assert offer(world, later, 14).status is p.CheckpointStatus.accepted  # the same again: nothing to do
    assert [h["status"] for h in state.history(DOCK)] == ["accepted", "accepted"]
    s = state.summary(DOCK, archive)
    assert s["size"] == 14 and s["consistent"] and s["note"] == later


def test_a_forked_dock_ledger_is_inconsistent_and_the_acknowledged_checkpoint_stays(world, tmp_path):
    archive, dock, dock_key, _, state = world
    grow(dock, dock_key, 5)
    acknowledged = dock.checkpoint(dock_key, dock_origin(DOCK))
    assert settle(world, acknowledged).status is p.CheckpointStatus.accepted
    # the same envelopes minus entry 3, then more facts: a bigger tree that is not an extension
    forked = Ledger.open(tmp_path / "forked.db")
    for e in dock.entries():
        if e.idx != 3:
            forked.append(e.envelope)
    grow(forked, dock_key, 4, tag="later")
    note = forked.checkpoint(dock_key, dock_origin(DOCK))
    v = settle(world, note, dock_ledger=forked)
    assert v.status is p.CheckpointStatus.inconsistent and v.acknowledged == acknowledged
    assert "do not give the signed root of size 9" in v.reason and "checkpoint of size 6" in v.reason
    # another root at the acknowledged size is a rewrite too
    same_size = Ledger.open(tmp_path / "same.db")
    for e in forked.entries(stop=5):
        same_size.append(e.envelope)
    grow(same_size, dock_key, 1, tag="other")
    v = settle(world, same_size.checkpoint(dock_key, dock_origin(DOCK)), dock_ledger=same_size)
    assert v.status is p.CheckpointStatus.inconsistent and "another root at the size 6" in v.reason
    # the genuine ledger's next checkpoint still extends the acknowledged one
    grow(dock, dock_key, 2)
    v = settle(world, dock.checkpoint(dock_key, dock_origin(DOCK)))
    assert v.status is p.CheckpointStatus.accepted and v.next == 8
    s = state.summary(DOCK, archive)
    assert s["consistent"] and s["inconsistent_checkpoints"] == 2 and "another root" in s["last_problem"]
    forked.close()
    same_size.close()


def test_covered_entries_are_missing_until_they_arrive(world):
    archive, dock, dock_key, _, state = world
    grow(dock, dock_key, 3)
    note = dock.checkpoint(dock_key, dock_origin(DOCK))
    v = settle(world, note, complete=True)
    entries = list(dock.entries())
    assert v.missing == 3 and list(v.missing_entries) == [e.entry_hash for e in entries[1:]]
    for e in entries[1:3]:  # two arrive, byte for byte
        archive.append(e.envelope)
    v = offer(world, note, 4, complete=True)
    assert v.status is p.CheckpointStatus.accepted and v.missing == 1
    assert list(v.missing_entries) == [entries[3].entry_hash]
    assert state.summary(DOCK, archive)["missing_entries"] == [{"idx": 3, "entry_hash": entries[3].entry_hash}]
    assert state.tree(DOCK).complete_ns is not None


@pytest.mark.parametrize("case", ["foreign key", "other origin", "unregistered dock", "altered note"])
def test_a_checkpoint_not_signed_by_the_registered_dock_key_is_rejected(world, case):
    archive, dock, dock_key, log_key, state = world
    grow(dock, dock_key, 1)
    signer, origin, dock_name = dock_key, dock_origin(DOCK), DOCK
    if case == "foreign key":
        signer = Signer.generate()
    elif case == "other origin":
        origin = dock_origin("dock-b")
    elif case == "unregistered dock":
        dock_name = "dock-x"
    note = sign_checkpoint(Checkpoint(origin, dock.size, dock.root()), signer)
    if case == "altered note":
        note = note.replace(f"\n{dock.size}\n", f"\n{dock.size - 1}\n")
    res = offer(world, note, 0, dock=dock_name)
    assert isinstance(res, p.Rejected)
    assert res.code is (p.RejectCode.unknown_dock if case == "unregistered dock" else p.RejectCode.bad_signature)
    assert state.history(DOCK) == []


def test_checkpoint_messages_and_acks_round_trip_and_refuse_garbage(world):
    _, dock, dock_key, log_key, _ = world
    grow(dock, dock_key, 2)
    note = dock.checkpoint(dock_key, dock_origin(DOCK))
    msg = p.CheckpointMessage(note, 1, dock_side.leaves(dock, 1, 3), True)
    topic = p.ckpt_topic(DOCK, msg.id)
    assert p.parse_topic(topic) == p.Topic(DOCK, p.TopicKind.ckpt, checkpoint_id=msg.id)
    assert str(p.parse_topic(topic)) == topic
    assert p.decode_dock_message(topic, msg.to_json()).body == msg
    with pytest.raises(p.ProtocolError) as err:
        p.decode_dock_message(p.ckpt_topic(DOCK, "0" * 64), msg.to_json())
    assert err.value.code is p.RejectCode.record_hash
    obj = json.loads(msg.to_json())
    for bad in ({"start": 2}, {"complete": "yes"}, {"note": "not a note"}, {"leaves": "AAAA"}):
        with pytest.raises(p.ProtocolError):
            p.CheckpointMessage.from_json(json.dumps(obj | bad).encode())
    verdict = p.CheckpointVerdict(dock=DOCK, id=msg.id, status=p.CheckpointStatus.accepted, next=3,
                                  acknowledged=note, missing=0, missing_entries=(), reason="", at_ns=1)
    env = p.sign_checkpoint_verdict(verdict, log_key)
    assert p.verify_checkpoint_ack(env, log_key.public_key, dock=DOCK, id=msg.id) == verdict
    with pytest.raises(VerificationError):
        p.verify_checkpoint_ack(env, Signer.generate().public_key, dock=DOCK, id=msg.id)
    with pytest.raises(VerificationError):
        p.verify_checkpoint_ack(env, log_key.public_key, dock="dock-b", id=msg.id)
