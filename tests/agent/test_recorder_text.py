"""What a recorder reports is data, shown to people and never obeyed by their terminal: an
officer name carrying escape sequences or a bidi override is printed escaped by `device status`
and `fleet status` (text and --json), and a serial that cannot be a device id is refused before
anything is stored (A2 Art.12, 15)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.emulator.state import EmulatorState
from agent.fleet import CheckRecord, StateDB
from agent.link.profiles import BUILTIN_PROFILES_DIR
from bodycam.cli import cli
from bodycam.errors import BodycamError
from bodycam.formats import printable, printable_json
from tests.fixtures.recorder import DEFAULT_STATE

HOSTILE_NAME = "\x1b[2J\x1b]0;pwned\x07张三\u202eevil\u2066"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066")
BIG = {"battery_pct": 100, "storage_total_mib": 61000, "storage_free_mib": 60000}


@pytest.fixture
def dock(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    src = (BUILTIN_PROFILES_DIR / "jsonl-epoch-ms.toml").read_text(encoding="utf-8")
    (profiles / "fast-json.toml").write_text(
        src.replace("reply_timeout_s = 1.0\nretries = 2", "reply_timeout_s = 0.2\nretries = 0"), encoding="utf-8")
    cfg = tmp_path / "bodycam.toml"
    cfg.write_text(f'[agent]\ndata_dir = "data"\nprofiles_dir = "{profiles}"\n', encoding="utf-8")
    return cfg


def run(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def stored_recorders(cfg: Path) -> list[tuple]:
    db = cfg.parent / "data" / "state.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        if "recorders" not in tables:
            return []
        return conn.execute("select serial, officer_name from recorders").fetchall()


def assert_no_raw_controls(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"{ch!r} reached the terminal: {text!r}"


def test_printable_escapes_what_a_terminal_would_obey_and_keeps_names_in_any_script():
    assert printable("张三 环境执法支队") == "张三 环境执法支队"
    assert printable("王\u3000五") == "王\u3000五"  # an ideographic space is a space, not a control
    shown = printable(HOSTILE_NAME + "\x9b31m\x7f\r\n\u200b\U000e0041")
    assert shown == ("\\x1b[2J\\x1b]0;pwned\\x07张三\\u202eevil\\u2066\\x9b31m\\x7f\\x0d\\x0a\\u200b\\U000e0041")
    assert shown.isprintable()
    assert printable("line one\nline two\x1b", multiline=True) == "line one\nline two\\x1b"
    assert printable(None) == "None"


def test_json_output_keeps_the_value_and_escapes_what_a_terminal_would_obey():
    obj = {"officer_name": HOSTILE_NAME + "\x9b\x7f\U000e0041", "unit": "环境执法支队"}
    text = printable_json(json.dumps(obj, indent=2, ensure_ascii=False))
    assert_no_raw_controls(text)
    assert "\x7f" not in text and "\U000e0041" not in text
    assert "环境执法支队" in text  # CJK stays readable
    assert json.loads(text) == obj


def test_escape_sequences_from_a_recorder_never_reach_the_terminal(dock, emulated_recorder):
    rec = emulated_recorder("jsonl-epoch-ms", {"serial": "HOSTILE1", "officer_name": HOSTILE_NAME,
                                               "officer_id": "0102\x1b[31m03", **BIG})

    res = run(dock, "device", "status", "--port", rec.port, "--profile", "jsonl-epoch-ms")
    assert res.exit_code == 0, res.output
    assert_no_raw_controls(res.output)
    assert "\\x1b[2J\\x1b]0;pwned\\x07张三\\u202eevil" in res.output  # shown, readable, inert

    res = run(dock, "device", "status", "--port", rec.port, "--profile", "jsonl-epoch-ms", "--json")
    assert res.exit_code == 0, res.output
    assert_no_raw_controls(res.output)
    assert json.loads(res.output)["officer_name"] == HOSTILE_NAME  # --json keeps the value exactly

    # Stored as reported: it is data (what the recorder said), escaped only when shown.
    assert ("HOSTILE1", HOSTILE_NAME) in stored_recorders(dock)

    res = run(dock, "fleet", "status")
    assert res.exit_code == 0, res.output
    assert_no_raw_controls(res.output)
    assert "HOSTILE1" in res.output and "张三" in res.output

    res = run(dock, "fleet", "status", "--json")
    assert res.exit_code == 0, res.output
    assert_no_raw_controls(res.output)
    (entry,) = json.loads(res.output)["recorders"]
    assert HOSTILE_NAME in entry["custodian"]


@pytest.mark.parametrize("serial", ["AB\x1b[31mC", "../x", "x" * 65, "-rf", "A B"])
def test_a_recorder_reporting_a_malformed_serial_is_refused_and_nothing_is_stored(
        dock, emulated_recorder, tmp_path, serial):
    # The emulator's state file holds serials to the device-id alphabet itself; a recorder that
    # lies is staged by replacing the validated serial, as its firmware would report it.
    state = EmulatorState.model_validate({**DEFAULT_STATE, **BIG}).model_copy(update={"serial": serial})
    rec = emulated_recorder("jsonl-epoch-ms", state, storage_dir=tmp_path / "card")

    for args in (("device", "status"), ("device", "status", "--json")):
        res = run(dock, *args, "--port", rec.port, "--profile", "jsonl-epoch-ms")
        assert res.exit_code == 1, res.output
        assert "cannot be a device id" in res.output and "nothing was stored" in res.output
        assert "Traceback" not in res.output
        assert_no_raw_controls(res.output)
    assert stored_recorders(dock) == []

    res = run(dock, "fleet", "status", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["recorders"] == []


def test_the_fleet_database_itself_refuses_a_malformed_serial(tmp_path):
    db = StateDB(tmp_path / "state.db")
    with pytest.raises(BodycamError, match="not a device id"):
        db.record_check(CheckRecord(serial="AB\x1b[31mC", profile="p", port="/dev/x", checked_at_ns=1,
                                    ready=False, reasons=[]))
    with pytest.raises(BodycamError, match="not a device id"):
        db.set_custodian("../x", "010203", "张三")
    assert db.fleet(2, 3600) == []
