"""DSSE v1 envelopes: PAE bytes, several signatures, strict parsing."""

from __future__ import annotations

import base64
import json

import pytest

from bodycam.errors import FormatError, VerificationError
from ledger.canonical import canonical_json
from ledger.envelope import Envelope, body, countersign, pae, seal, verify_signatures
from ledger.keys import Signer
from tests.fixtures.ledger import enrollment, segment


def test_pae_matches_dsse_spec_example() -> None:
    # secure-systems-lab/dsse protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_seal_roundtrip_and_verify() -> None:
    dev, officer = Signer.generate(), Signer.generate()
    env = seal(segment("cam-1", 0, "0" * 64), [dev, officer])
    assert env.payload_type == "application/vnd.bodycam.segment+json"
    assert env.kind == "segment"
    data = env.to_bytes()
    assert data == canonical_json(json.loads(data))
    again = Envelope.from_bytes(data)
    assert again == env
    b = body(again)
    assert b["start_ns"] == str(segment("cam-1", 0, "0" * 64).start_ns)  # ns as decimal strings
    keyring = {dev.keyid: dev.public_key, officer.keyid: officer.public_key}
    assert verify_signatures(again, keyring) == [dev.keyid, officer.keyid]
    assert verify_signatures(again, {dev.keyid: dev.public_key}) == [dev.keyid]


def test_countersign_adds_a_signature_over_the_same_pae() -> None:
    officer, supervisor = Signer.generate(), Signer.generate()
    env = seal(segment("cam-1", 0, "0" * 64), officer)
    both = countersign(env, supervisor)
    assert both.payload == env.payload
    assert both.keyids == [officer.keyid, supervisor.keyid]
    assert supervisor.public_key.verify(dict(both.signatures)[supervisor.keyid], env.pae())
    assert countersign(both, supervisor) is both


def test_bad_signature_raises() -> None:
    dev = Signer.generate()
    env = seal(segment("cam-1", 0, "0" * 64), dev)
    other = seal(segment("cam-1", 1, "0" * 64), dev)
    forged = Envelope(env.payload_type, other.payload, env.signatures)  # body swapped under the signature
    with pytest.raises(VerificationError, match="does not verify"):
        verify_signatures(forged, {dev.keyid: dev.public_key})
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        verify_signatures(env, {})
    # the payload type is signed too: the same payload as another kind does not verify
    retyped = Envelope("application/vnd.bodycam.gap+json", env.payload, env.signatures)
    with pytest.raises(VerificationError):
        verify_signatures(retyped, {dev.keyid: dev.public_key})


def _mutate(env: Envelope, **changes) -> bytes:
    obj = env.to_json()
    obj.update(changes)
    return canonical_json(obj)


def test_from_bytes_is_strict() -> None:
    s = Signer.generate()
    env = seal(enrollment(s, "ledger_root", "dock-1"), s)
    good = env.to_json()
    with pytest.raises(FormatError, match="canonical"):
        Envelope.from_bytes(json.dumps(good).encode())
    with pytest.raises(FormatError, match="exactly"):
        Envelope.from_bytes(_mutate(env, extra="x"))
    with pytest.raises(FormatError, match="payloadType"):
        Envelope.from_bytes(_mutate(env, payloadType="application/json"))
    with pytest.raises(FormatError, match="base64"):
        Envelope.from_bytes(_mutate(env, payload="***"))
    with pytest.raises(FormatError, match="at least one signature"):
        Envelope.from_bytes(_mutate(env, signatures=[]))
    sig = good["signatures"][0]
    with pytest.raises(FormatError, match="twice"):
        Envelope.from_bytes(_mutate(env, signatures=[sig, sig]))
    with pytest.raises(FormatError, match="64 lowercase hex"):
        Envelope.from_bytes(_mutate(env, signatures=[{"keyid": sig["keyid"].upper(), "sig": sig["sig"]}]))
    with pytest.raises(FormatError, match="64-byte"):
        Envelope.from_bytes(_mutate(env, signatures=[{"keyid": sig["keyid"], "sig": "AAAA"}]))


def test_body_must_be_canonical_and_of_the_declared_kind() -> None:
    s = Signer.generate()
    env = seal(enrollment(s, "ledger_root", "dock-1"), s)
    loose = json.dumps(json.loads(env.payload), indent=2).encode()
    with pytest.raises(FormatError, match="canonical"):
        body(Envelope(env.payload_type, loose, env.signatures))
    with pytest.raises(FormatError, match="does not match"):
        body(Envelope("application/vnd.bodycam.gap+json", env.payload, env.signatures))


def test_seal_validates_the_body() -> None:
    s = Signer.generate()
    with pytest.raises(FormatError, match="unknown record kind"):
        seal({"v": 1, "kind": "nonsense"}, s)
    with pytest.raises(FormatError, match="detail"):
        seal({"v": 1, "kind": "gap", "gap_type": "gap", "device_id": "cam-1", "detail": 1.5}, s)
    bad = segment("cam-1", 0, "0" * 64).model_dump(mode="json")
    bad["media"]["fps"] = 29.97
    with pytest.raises(FormatError, match="fps"):
        seal(bad, s)
    assert base64.b64decode(seal(segment("cam-1", 0, "0" * 64), s).to_json()["payload"])
