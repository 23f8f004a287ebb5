"""Hostile envelopes against the ledger, fuzzed with hypothesis (issue 17; A2 Art.8: nothing
altered is ever recorded).

A real dock ledger with an enrolled recorder; real segment envelopes are taken apart and put
back wrong: the body altered (with the recorder's own signature still on the old bytes, or
re-signed by the recorder so the signature is good), the payload type of another kind, unknown
keys in the envelope or the body, duplicate JSON keys, non-canonical encodings of an otherwise
valid envelope or body (spacing, key order, escapes, numbers), deep nesting. Whatever comes in,
``Envelope.from_bytes``/``body`` raise only the project's FormatError family and ``Ledger.append``
either refuses it with a BodycamError, leaving the ledger as it was, or appends exactly a
well-formed, correctly signed, canonical record (which then verifies)."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from bodycam.errors import BodycamError
from ledger.canonical import canonical_json
from ledger.envelope import Envelope, body, pae, payload_type_for, seal
from ledger.keys import Signer
from ledger.records import make_body
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.fuzz import fuzz
from tests.fixtures.ledger import enrollment, segment

KINDS = ["segment", "enrollment", "gap", "stop_approval", "retention", "nope", "Segment", "a" * 80]


def json_values() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
    return st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=3),
                                                     st.dictionaries(st.text(max_size=10), c, max_size=4)),
                        max_leaves=12)


def enc(obj) -> bytes:
    """Canonical JSON where it exists (no floats), else sorted compact JSON: the bytes a hostile
    sender would put on the wire."""
    try:
        return canonical_json(obj)
    except BodycamError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def non_canonical(obj: dict, how: int) -> bytes:
    """The same JSON value, encoded in a way RFC 8785 does not allow."""
    if how == 0:
        return json.dumps(obj, indent=1).encode()
    if how == 1:
        return json.dumps(obj, sort_keys=False, separators=(", ", ": ")).encode()
    if how == 2:
        return json.dumps(dict(reversed(list(obj.items()))), separators=(",", ":")).encode()
    if how == 3:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode().replace(b'"', b'"', 1) + b" "
    text = canonical_json(obj)
    key = b'"kind"' if b'"kind"' in text else b'"payload"'
    return text.replace(key, b'"\\u00' + format(key[1], "x").encode() + key[2:], 1)


def test_a2_art8_hostile_envelopes_are_refused_and_leave_the_ledger_unchanged(tmp_path):
    dock, device, stranger = Signer.generate(), Signer.generate(), Signer.generate()
    lg = Ledger.open(tmp_path / "ledger.db")
    from ledger.enroll import create_rooted
    create_rooted(lg, dock, "dock-a", now_ns=1)
    enroll_entry = lg.append(seal(enrollment(device, "device", "cam-1"), dock), require_trusted=True)
    seg0 = seal(make_body(segment("cam-1", 0, enroll_entry.entry_hash)), device)
    good_body = body(seg0)

    def sign(payload_type: str, payload: bytes, signer: Signer) -> dict:
        return {"payloadType": payload_type, "payload": base64.b64encode(payload).decode(),
                "signatures": [{"keyid": signer.keyid,
                                "sig": base64.b64encode(signer.sign(pae(payload_type, payload))).decode()}]}

    @fuzz(400)
    @given(st.integers(0, 11), st.data())
    def hostile(how, data):
        env_obj = json.loads(seg0.to_bytes())
        b = dict(good_body)
        if how == 0:  # body altered, the old signature kept
            raw = bytearray(seg0.payload)
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] ^= data.draw(st.integers(1, 255))
            env_obj["payload"] = base64.b64encode(bytes(raw)).decode()
            wire = canonical_json(env_obj)
        elif how == 1:  # re-signed by the recorder with an unknown field, or a field of the wrong type
            if data.draw(st.booleans()):
                extra = data.draw(st.sampled_from(["unknown", "extra_key", "Kind", " seq", "seq "]))
                b[extra] = data.draw(json_values())
            else:
                key = data.draw(st.sampled_from(["seq", "media", "start_ns", "device_id", "prev", "decodable"]))
                b[key] = data.draw(st.one_of(st.lists(st.integers(), max_size=2), st.dictionaries(
                    st.text(max_size=3), st.integers(), max_size=2), st.just(None), st.just("x" * 5000)))
            wire = canonical_json(sign(seg0.payload_type, enc(b), device))
        elif how == 2:  # another kind's payload type on the segment body (signed for that type)
            ptype = payload_type_for(data.draw(st.sampled_from(KINDS[:5]))) if data.draw(st.booleans()) \
                else data.draw(st.text(max_size=60))
            wire = canonical_json(sign(ptype, seg0.payload, device)) if ptype.isascii() else \
                json.dumps({"payloadType": ptype, "payload": env_obj["payload"],
                            "signatures": env_obj["signatures"]}).encode()
        elif how == 3:  # unknown keys in the envelope
            env_obj[data.draw(st.text(min_size=1, max_size=10))] = data.draw(json_values())
            wire = enc(env_obj) if set(env_obj) != {"payloadType", "payload", "signatures"} else enc(env_obj) + b" "
        elif how == 4:  # duplicate keys in the envelope JSON
            text = canonical_json(env_obj).decode()
            key = data.draw(st.sampled_from(["payloadType", "payload", "signatures"]))
            wire = (text[:-1] + f',"{key}":' + json.dumps(env_obj[key], separators=(",", ":")) + "}").encode()
        elif how == 5:  # duplicate keys in the body, correctly signed
            text = canonical_json(b).decode()
            key = data.draw(st.sampled_from(sorted(b)))
            dup = (text[:-1] + f',"{key}":' + json.dumps(data.draw(json_values())) + "}").encode()
            wire = canonical_json(sign(seg0.payload_type, dup, device))
        elif how == 6:  # a non-canonical envelope encoding
            wire = non_canonical(env_obj, data.draw(st.integers(0, 4)))
        elif how == 7:  # a non-canonical body encoding, correctly signed
            wire = canonical_json(sign(seg0.payload_type, non_canonical(b, data.draw(st.integers(0, 4))), device))
        elif how == 8:  # deep nesting, in the envelope or in the body
            depth = data.draw(st.integers(10, 3000))
            nested = b"[" * depth + b"]" * depth
            if data.draw(st.booleans()):
                wire = b'{"payload":' + nested + b',"payloadType":"x","signatures":[]}'
            else:
                wire = canonical_json(sign(seg0.payload_type, b'{"kind":"segment","x":' + nested + b"}", device))
        elif how == 9:  # signed by a key this ledger does not know, or by no key
            wire = canonical_json(sign(seg0.payload_type, seg0.payload, stranger)) if data.draw(st.booleans()) \
                else canonical_json({**env_obj, "signatures": []})
        elif how == 10:  # truncated or padded
            full = seg0.to_bytes()
            wire = full[:data.draw(st.integers(0, len(full) - 1))] + data.draw(st.binary(max_size=4))
        else:  # arbitrary bytes
            wire = data.draw(st.binary(max_size=400))
        size = lg.size
        try:
            env = Envelope.from_bytes(wire)
            body(env)
        except BodycamError:
            pass
        try:
            entry = lg.append(wire, require_trusted=True)
        except BodycamError:
            assert lg.size == size
            return
        # appended: only a well-formed, signed, canonical record of this ledger's keys
        stored = entry.envelope.to_bytes()
        assert stored == wire and Envelope.from_bytes(stored).keyids == [device.keyid]
        body(Envelope.from_bytes(stored))

    try:
        hostile()
        report = verify_ledger(lg, trusted_root=dock.public_key, workers=1)
        assert report.ok, [str(x) for x in report.problems]
    finally:
        lg.close()
