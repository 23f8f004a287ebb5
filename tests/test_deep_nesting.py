"""Deep nesting is refused, never a crash: every parser of data from outside (signed JSON and
envelopes, the transfer protocol on both ends, recorder replies, bodycam.toml, firmware profiles,
emulator state files) bounds nesting at ``bodycam.formats.MAX_NESTING`` before parsing, so a
document of 100,000 ``[`` is the parser's own error (FormatError, ProtocolError, FramingError,
ConfigError), the archive answers ``rejected`` and the CLI prints one line, not a traceback
(A2 Art.16: custody must not depend on well-behaved peers)."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from agent.emulator.state import load_state
from agent.link.errors import FramingError
from agent.link.parsers import match_request, parse_reply
from agent.link.profiles import get_profile, load_profile
from bodycam.cli import cli
from bodycam.errors import ConfigError, FormatError
from bodycam.formats import MAX_NESTING, check_nesting
from ledger.canonical import loads_strict, parse_canonical
from ledger.envelope import Envelope
from syncd import protocol as p
from syncd.mqtt import Received

DEEP = 100_000
DEEP_ARRAY = "[" * DEEP + "]" * DEEP
DEEP_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP
TOO_DEEP = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)


@pytest.mark.parametrize("doc", [DEEP_ARRAY, DEEP_OBJECT, "[" * DEEP, TOO_DEEP], ids=["array", "object",
                                                                                  "unclosed", "limit+1"])
def test_deeply_nested_json_is_refused_not_a_crash(doc):
    start = time.monotonic()
    for parse in (loads_strict, lambda d: loads_strict(d.encode()), lambda d: parse_canonical(d.encode()),
                  lambda d: Envelope.from_bytes(d.encode())):
        with pytest.raises(FormatError, match=f"deeper than {MAX_NESTING} levels"):
            parse(doc)
    assert time.monotonic() - start < 2.0  # refused by a linear scan, not after a recursion


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_accepted():
    at_limit = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert loads_strict(at_limit) == json.loads(at_limit)
    brackets_in_text = json.dumps({"note": "[" * DEEP, "q": '\\"[{' * 100, "list": [[1], [2]]})
    assert loads_strict(brackets_in_text)["note"] == "[" * DEEP
    check_nesting('a = "[[[["  # [[[[[[\nb = \'\'\'\n[[[[\n\'\'\'\n[t]\nc = [[1]]', syntax="toml", limit=3)


def test_a_deeply_nested_protocol_message_is_a_protocol_error_on_both_ends():
    fid = p.file_id_for(p.sha256_hex(b"x"), b"{}")
    with pytest.raises(p.ProtocolError) as exc:
        p.decode_dock_message(p.init_topic("dock-1", fid), DEEP_ARRAY.encode())
    assert exc.value.code is p.RejectCode.bad_message and f"deeper than {MAX_NESTING} levels" in exc.value.reason
    for payload in (DEEP_ARRAY.encode(), ("{\"a\":" * 50_000).encode()):
        with pytest.raises(p.ProtocolError, match=f"deeper than {MAX_NESTING} levels"):  # a dock reading an ack
            p.decode_ack(payload, None)
    from ledger.keys import Signer

    with pytest.raises(p.ProtocolError) as exc:  # the dock checking a receipt
        p.verify_commit(DEEP_ARRAY.encode(), Signer.generate().public_key, dock="dock-1",
                        subject=p.Subject.rec, id="0" * 64)
    assert exc.value.code is p.RejectCode.bad_envelope and f"{MAX_NESTING} levels" in exc.value.reason


def test_the_archive_answers_a_deeply_nested_record_with_rejected(tmp_path):
    from tests.archive.test_receiver import Dock, make_archive

    site = make_archive(tmp_path / "archive")
    dock = Dock("dock-a")
    site.register(dock)
    receiver = site.receiver()
    replies: list[p.Ack] = []
    receiver._reply = lambda _dock, ack: replies.append(ack)
    try:
        size = receiver.ledger.size
        depth = p.MAX_RECORD_BYTES // 2 - 8
        record = ("[" * depth + "]" * depth).encode()
        receiver.handle(Received(p.rec_topic("dock-a", p.envelope_hash(record)), record, qos=1))
        assert receiver.ledger.size == size
    finally:
        receiver.close()
    (ack,) = replies
    assert isinstance(ack, p.Rejected) and ack.code is p.RejectCode.bad_envelope
    assert f"deeper than {MAX_NESTING} levels" in ack.reason


def test_a_recorder_reply_nested_deeply_is_a_framing_error():
    profile = get_profile("jsonl-epoch-ms")
    step = profile.commands["identify"].steps[0]
    with pytest.raises(FramingError, match=f"deeper than {MAX_NESTING} levels"):
        parse_reply(step.parse, DEEP_OBJECT.encode(), profile.encoding)
    # the emulator reading a request: not one of its commands, not a crash
    assert match_request(step.request, DEEP_ARRAY.encode(), profile.encoding) is None


@pytest.mark.parametrize("value", ["[" * DEEP, "{a = " * DEEP, "[" * DEEP + "]" * DEEP], ids=["array", "inline-table",
                                                                                            "closed"])
def test_config_check_on_a_deeply_nested_toml_is_an_error_not_a_traceback(tmp_path, value):
    cfg = tmp_path / "bodycam.toml"
    cfg.write_text(f'[agent]\ndata_dir = "data"\nbattery_margin_pct = {value}\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "config", "check"])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), res.exception  # no RecursionError escaped
    assert "Traceback" not in res.output
    assert res.output.startswith(f"Error: {cfg}: not accepted: the file nests arrays/objects deeper than "
                                 f"{MAX_NESTING} levels")


def test_profiles_and_emulator_states_nested_deeply_are_config_errors(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("format = 1\nid = " + "[" * DEEP + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"deeper than {MAX_NESTING} levels"):
        load_profile(deep)
    deep.write_text('serial = "X1"\nrecordings = ' + "[" * DEEP + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"deeper than {MAX_NESTING} levels"):
        load_state(deep)
