"""The dock signs a checkpoint of its own ledger after every docking, justification, fault and
approval, and `agent run` on a timer (issue 11, hole 3: without one, a ledger rebuilt minus
chosen entries verifies as well as the real one). Each is a C2SP note by the dock key, origin
``bodycam/<dock>``, stored in the dock ledger and checked by `ledger verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from bodycam.cli import cli
from ledger.checkpoint import dock_origin, verify_checkpoint
from ledger.keys import load_signer, write_private_key
from ledger.store import Ledger

BODYCAM = str(Path(sys.executable).with_name("bodycam"))
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
RECORDINGS = [  # three short files, a pause of five minutes after the second: a gap
    {"start": T0.isoformat(), "duration_s": 2, "count": 2, "gap_after_s": 300, "width": 160, "height": 120,
     "fps": 10},
    {"duration_s": 2, "width": 160, "height": 120, "fps": 10},
]


def covers_everything(ledger_path: Path, dock_key: Path, dock: str) -> bool:
    with Ledger.open(ledger_path, create=False) as lg:
        latest = lg.latest_checkpoint()
        if latest is None or latest.size != lg.size:
            return False
        c = verify_checkpoint(latest.note, load_signer(dock_key).public_key, origins=[dock_origin(dock)])
        return c.root == lg.root(lg.size)


def test_the_dock_signs_a_checkpoint_after_docking(tmp_path, emulated_recorder, monkeypatch):
    monkeypatch.setenv("BODYCAM_AMBA_PASSWORD", "000000")
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-t"]).exit_code == 0
    rec = emulated_recorder("jsonl-epoch-ms", {"recordings": RECORDINGS}, mount_root=d / "mnt")
    enrolled = CliRunner().invoke(cli, ["--config", str(d / "bodycam.toml"), "device", "enroll", "--port", rec.port,
                                        "--profile", "jsonl-epoch-ms"])
    assert enrolled.exit_code == 0, enrolled.output
    result = CliRunner().invoke(cli, ["--config", str(d / "bodycam.toml"), "dock", "--port", rec.port, "--profile",
                                      "jsonl-epoch-ms", "--case", "HB-2026-001", "--no-clock", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["segments"] == 3
    assert covers_everything(d / "ledger.db", d / "keys" / "dock.key", "dock-t")
    verify = CliRunner().invoke(cli, ["ledger", "verify", str(d / "ledger.db"), "--json"])
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["checkpoints_checked"] == 1


def test_justification_fault_and_approval_are_each_followed_by_a_checkpoint(gap_dock):
    key = gap_dock.root / "keys" / "dock.key"
    res = gap_dock.run("justify", gap_dock.gaps[0][:12], "--reason", "2", *gap_dock.officer_args(),
                       "--note", "battery swap", "--json")
    assert res.exit_code == 0, res.output
    assert covers_everything(gap_dock.ledger_path, key, "dock-j")
    res = gap_dock.run("gaps", "fault", gap_dock.gaps[1][:12], "--cause", "battery", *gap_dock.officer_args(),
                       "--note", "battery died")
    assert res.exit_code == 0, res.output
    assert covers_everything(gap_dock.ledger_path, key, "dock-j")
    with gap_dock.ledger() as lg:
        just = lg.latest("stop_justification")
    res = gap_dock.run("approve", just.entry_hash[:12], "--supervisor", "super-1", "--key",
                       str(gap_dock.keys["super-1"]))
    assert res.exit_code == 0, res.output
    assert covers_everything(gap_dock.ledger_path, key, "dock-j")
    with gap_dock.ledger() as lg:
        assert [c.size for c in lg.checkpoints()] == [lg.size - 2, lg.size - 1, lg.size]
    assert gap_dock.run("ledger", "verify", str(gap_dock.ledger_path)).exit_code == 0


def test_a_passphrase_protected_dock_key_defers_the_checkpoint_and_says_so(gap_dock, monkeypatch):
    key = gap_dock.root / "keys" / "dock.key"
    plain = load_signer(key)
    key.unlink()
    monkeypatch.setenv("DOCK_PASS", "dock secret")
    write_private_key(key, plain, passphrase_env="DOCK_PASS")
    res = gap_dock.run("justify", gap_dock.gaps[0][:12], "--reason", "2", *gap_dock.officer_args(),
                       "--note", "battery swap")
    assert res.exit_code == 0, res.output
    assert "agent run` signs one within 300 s" in res.output
    with gap_dock.ledger() as lg:
        assert lg.latest_checkpoint() is None


def test_agent_run_signs_a_checkpoint_on_its_timer(tmp_path):
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-u"]).exit_code == 0
    cfg = d / "bodycam.toml"
    cfg.write_text(cfg.read_text().replace('data_dir = "."', 'data_dir = "."\npoll_interval_s = 0.1\n'
                                                             'checkpoint_interval_s = 0.3'))
    proc = subprocess.Popen([BODYCAM, "--config", str(cfg), "agent", "run", "--no-clock"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        key = d / "keys" / "dock.key"
        assert _wait(lambda: covers_everything(d / "ledger.db", key, "dock-u")), "no checkpoint at start-up"
        person = tmp_path / "officer.key"
        assert CliRunner().invoke(cli, ["keys", "generate", "--out", str(person)]).exit_code == 0
        res = CliRunner().invoke(cli, ["--config", str(cfg), "person", "enroll", "--id", "officer-1", "--name", "Li",
                                       "--role", "officer", "--pubkey", f"{person}.pub"])
        assert res.exit_code == 0, res.output
        with Ledger.open(d / "ledger.db", create=False) as lg:
            assert lg.size == 2
        assert _wait(lambda: covers_everything(d / "ledger.db", key, "dock-u")), "the timer signed nothing"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    with Ledger.open(d / "ledger.db", create=False) as lg:
        assert [c.size for c in lg.checkpoints()] == [1, 2]  # nothing signed twice for the same tree


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
