"""Framers and reply parsers: known CRC values, streams split anywhere, malformed frames, and
hypothesis fuzzing. A recorder's bytes are untrusted, so nothing but the project's protocol
errors may escape (A2 Art.13: a faulty device must be reported, not crash the dock)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.link.errors import ChecksumError, FramingError, LinkError
from agent.link.framing import Framer, crc16
from agent.link.parsers import classify, match_request, parse_reply
from agent.link.profiles import FramingSpec, load_profiles

PROFILES = load_profiles()
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("variant", "check"), [("crc16-modbus", 0x4B37), ("crc16-ccitt-false", 0x29B1),
                                                ("crc16-xmodem", 0x31C3)])
def test_crc16_check_values(variant, check):
    assert crc16(b"123456789", variant) == check


def test_modbus_crc_known_frame():
    # Modbus RTU "read holding registers" 01 03 00 00 00 0A -> CRC C5 CD (low byte first)
    assert crc16(bytes.fromhex("01030000000A"), "crc16-modbus").to_bytes(2, "little") == bytes.fromhex("C5CD")


@pytest.mark.parametrize("pid", sorted(PROFILES))
def test_stream_split_at_every_byte(pid):
    p = PROFILES[pid]
    framer = Framer(p.framing, p.encoding)
    payloads = [b"R" + bytes([65 + i]) * (i + 1) for i in range(3)]
    if p.framing.kind == "delimited":
        payloads = [b"R;" + bytes([65 + i]) * (i + 1) for i in range(3)]
    stream = b"".join(framer.encode(x) for x in payloads)
    for cut in range(len(stream) + 1):
        dec = framer.decoder()
        got = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
        assert got == payloads and dec.pending == 0


def test_line_garbage_and_overlong():
    spec = FramingSpec(kind="line", terminator="\n", max_length=8)
    dec = Framer(spec).decoder()
    with pytest.raises(FramingError, match="longer than 8"):
        dec.feed(b"0123456789")
    assert dec.feed(b"ok\n") == [b"ok"]


def test_delimited_length_mismatch_and_stray_bytes():
    spec = FramingSpec(kind="delimited", start="@", end=";#", separator=";", length_field=True)
    framer = Framer(spec, "utf-8")
    assert framer.encode(b"RBatt;64") == b"@RBatt;2;64;#"
    with pytest.raises(FramingError, match="length field says 5"):
        framer.decoder().feed(b"@RBatt;5;64;#;;;;")
    dec = framer.decoder()
    with pytest.raises(FramingError, match="stray bytes"):
        dec.feed(b"xx@RBatt;2;64;#")
    assert dec.feed(b"") == [b"RBatt;64"]  # resynchronised on the next start marker


def test_length_prefixed_bad_crc_oversize_and_garbage():
    spec = FramingSpec(kind="length_prefixed", magic_hex="AA55", checksum="crc16-modbus", max_length=16)
    framer = Framer(spec)
    frame = bytearray(framer.encode(b"\x83\x00\x57"))
    frame[-1] ^= 0xFF
    with pytest.raises(ChecksumError):
        framer.decoder().feed(bytes(frame))
    with pytest.raises(FramingError, match="exceeds"):
        framer.decoder().feed(b"\xaa\x55\x10\x00")
    dec = framer.decoder()
    with pytest.raises(FramingError, match="stray"):
        dec.feed(b"\x01\x02" + framer.encode(b"\x81"))
    assert dec.feed(b"") == [b"\x81"]
    with pytest.raises(FramingError):
        framer.encode(b"x" * 17)


@pytest.mark.parametrize("pid", sorted(PROFILES))
@FUZZ
@given(chunks=st.lists(st.binary(max_size=64), max_size=8))
def test_fuzz_decoder(pid, chunks):
    p = PROFILES[pid]
    dec = Framer(p.framing, p.encoding).decoder()
    for chunk in chunks:
        try:
            frames = dec.feed(chunk)
        except LinkError:
            continue
        assert all(isinstance(f, bytes) for f in frames)


def _mutations(p):
    """Valid reply payloads of a profile, to mutate: fuzzing near valid input finds more."""
    framer = Framer(p.framing, p.encoding)
    out = []
    for v in p.test_vectors:
        raw = bytes.fromhex(v.reply_hex) if v.reply_hex else v.reply.encode(p.encoding)
        out.append(framer.decode_one(raw))
    return out


@pytest.mark.parametrize("pid", sorted(PROFILES))
@FUZZ
@given(data=st.data())
def test_fuzz_every_parser(pid, data):
    p = PROFILES[pid]
    seeds = _mutations(p)
    seed = data.draw(st.sampled_from(seeds))
    mode = data.draw(st.sampled_from(["random", "flip", "truncate", "extend"]))
    if mode == "random":
        payload = data.draw(st.binary(max_size=128))
    elif mode == "flip" and seed:
        i = data.draw(st.integers(0, len(seed) - 1))
        payload = seed[:i] + bytes([data.draw(st.integers(0, 255))]) + seed[i + 1:]
    elif mode == "truncate":
        payload = seed[: data.draw(st.integers(0, len(seed)))]
    else:
        payload = seed + data.draw(st.binary(max_size=16))
    classify(p.status, payload)
    steps = [s for c in p.commands.values() for s in c.steps]
    if p.auth.login:
        steps.append(p.auth.login)
    for step in steps:
        try:
            fields = parse_reply(step.parse, payload, p.encoding)
        except LinkError:
            continue
        assert set(fields) == set(step.parse.fields)
        match_request(step.request, payload, p.encoding)


@FUZZ
@given(text=st.text(max_size=80))
def test_fuzz_json_parser_with_text(text):
    p = PROFILES["jsonl-epoch-ms"]
    for c in p.commands.values():
        for step in c.steps:
            with contextlib.suppress(LinkError):
                parse_reply(step.parse, text.encode("utf-8"), "utf-8")


def test_deeply_nested_json_is_a_framing_error():
    p = PROFILES["jsonl-epoch-ms"]
    with pytest.raises(FramingError):
        parse_reply(p.commands["get_time"].steps[0].parse, b"[" * 100000, "utf-8")


@pytest.mark.parametrize("pid", sorted(PROFILES))
@FUZZ
@given(data=st.data())
def test_fuzz_time_and_storage_conversions(pid, data):
    """What the driver does after parsing (time assembly, unit conversion) is fuzzed too."""
    from agent.link.driver import storage_bytes
    from agent.link.parsers import time_from_fields

    p = PROFILES[pid]
    seeds = _mutations(p)
    seed = data.draw(st.sampled_from(seeds))
    i = data.draw(st.integers(0, max(0, len(seed) - 1)))
    payload = seed[:i] + data.draw(st.binary(max_size=8)) + seed[i + data.draw(st.integers(0, 3)):]
    for name in ("get_time", "get_storage"):
        if not p.supports(name):
            continue
        try:
            fields = parse_reply(p.commands[name].steps[0].parse, payload, p.encoding)
            if name == "get_time":
                time_from_fields(p, fields)
            else:
                storage_bytes(fields, "total")
                storage_bytes(fields, "free")
        except LinkError:
            continue
