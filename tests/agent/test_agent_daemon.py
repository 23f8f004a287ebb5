"""`bodycam agent run`: the unattended dock notices a recorder, docks it for its custodian, and
stops cleanly on SIGTERM with nothing half-written (A2 Art.12, 14)."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from bodycam.cli import cli
from ledger.store import Ledger

T0 = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
BODYCAM = str(Path(sys.executable).with_name("bodycam"))


def make_dock(tmp_path: Path, port: str, profile: str, *, enroll: bool = True, extra: str = "") -> Path:
    """A dock watching ``port``; the equipment manager enrolls its recorder first (``agent run``
    never enrolls one unless ``[agent] enroll_on_dock``, given in ``extra``, allows it)."""
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-u"]).exit_code == 0
    cfg = d / "bodycam.toml"
    text = cfg.read_text().replace('data_dir = "."', f'data_dir = "."\nports = ["{port}={profile}"]\n'
                                                    f'poll_interval_s = 0.1\nmount_wait_s = 10.0\n{extra}')
    cfg.write_text(text)
    if enroll:
        res = CliRunner().invoke(cli, ["--config", str(cfg), "device", "enroll", "--port", port, "--profile", profile])
        assert res.exit_code == 0, res.output
    return d


def start_agent(dock: Path) -> subprocess.Popen:
    return subprocess.Popen([BODYCAM, "--config", str(dock / "bodycam.toml"), "agent", "run", "--no-clock"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def count(dock: Path, kind: str) -> int:
    if not (dock / "ledger.db").exists():
        return 0
    with Ledger.open(dock / "ledger.db", create=False) as ledger:
        return len(list(ledger.entries(kind=kind)))


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


RECORDINGS = [{"start": T0.isoformat(), "duration_s": 2, "count": 8, "width": 320, "height": 240, "fps": 15}]


def test_agent_docks_a_recorder_for_its_custodian_and_stops_on_sigterm(tmp_path, emulated_recorder):
    rec = emulated_recorder("jsonl-epoch-ms", {"recordings": RECORDINGS[:1]}, mount_root=tmp_path / "dock" / "mnt")
    dock = make_dock(tmp_path, rec.port, "jsonl-epoch-ms")
    proc = start_agent(dock)
    try:
        assert wait_for(lambda: count(dock, "segment") == 8), proc.stderr.read() if proc.poll() is not None else ""
        assert wait_for(lambda: _closed_sessions(dock) == 1)
    finally:
        rc, err = stop(proc)
    assert rc == 0, err
    assert "docking" in err and "stopped cleanly" in err
    with Ledger.open(dock / "ledger.db", create=False) as ledger:
        seg = next(ledger.entries(kind="segment"))
        assert seg.body["officer_id"] == "010203"  # the custodian the recorder reported at enrolment
        assert seg.body["activity"] == "unassigned"
    result = CliRunner().invoke(cli, ["ledger", "verify", str(dock / "ledger.db"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


def _closed_sessions(dock: Path) -> int:
    with Ledger.open(dock / "ledger.db", create=False) as ledger:
        return sum(1 for e in ledger.entries(kind="dock_session") if e.body.get("status") != "open")


def test_sigterm_mid_offload_leaves_a_consistent_ledger_and_the_next_dock_completes(tmp_path, emulated_recorder):
    card = tmp_path / "card"
    many = [{**RECORDINGS[0], "count": 12, "width": 640, "height": 480, "duration_s": 3}]
    rec = emulated_recorder("jsonl-epoch-ms", {"recordings": many}, storage_dir=card,
                            mount_root=tmp_path / "dock" / "mnt")
    dock = make_dock(tmp_path, rec.port, "jsonl-epoch-ms")
    proc = start_agent(dock)
    assert wait_for(lambda: count(dock, "segment") >= 1)
    rc, err = stop(proc)
    assert rc == 0, err
    first = count(dock, "segment")
    assert 1 <= first <= 12
    assert CliRunner().invoke(cli, ["ledger", "verify", str(dock / "ledger.db")]).exit_code == 0
    assert not list((dock / "store" / "tmp").glob("*.part")), "no partial file is kept"
    rec.stop()

    # The recorder is docked again: the rest is offloaded, nothing twice.
    os.rename(tmp_path / "dock" / "mnt", tmp_path / "old-mnt")
    again = emulated_recorder("jsonl-epoch-ms", {"recordings": []}, storage_dir=card,
                              mount_root=tmp_path / "dock" / "mnt")
    cfg = dock / "bodycam.toml"
    cfg.write_text(cfg.read_text().replace(rec.port, again.port))
    proc = start_agent(dock)
    try:
        assert wait_for(lambda: count(dock, "segment") == 12)
        assert wait_for(lambda: _closed_sessions(dock) == 2)
    finally:
        rc, err = stop(proc)
    assert rc == 0, err
    assert count(dock, "segment") == 12
    assert CliRunner().invoke(cli, ["ledger", "verify", str(dock / "ledger.db")]).exit_code == 0
