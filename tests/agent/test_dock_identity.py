"""Docking never enrolls a recorder, `--serial` docks only the expected one, and Ctrl-C mid-offload
exits 130 telling the officer the recorder is in mass-storage mode and what to do (issue 12, item 2).

The incident: after Ctrl-C in `bodycam dock` the recorder's serial port vanished (mass storage);
re-running the command reached another recorder that had taken the reused port, enrolled it
silently with the first officer's case, and it synced to the archive. Real pty emulators, real
dock ledgers; the Ctrl-C tests run `bodycam dock` as a subprocess and send it SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodycam.cli import cli
from ledger.store import Ledger

T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
RECORDINGS = [{"start": T0.isoformat(), "duration_s": 2, "count": 2, "width": 160, "height": 120, "fps": 10}]
BODYCAM = str(Path(sys.executable).with_name("bodycam"))
PROFILE = "jsonl-epoch-ms"


@pytest.fixture
def dock_dir(tmp_path):
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-t"]).exit_code == 0
    return d


def run(dock_dir: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(dock_dir / "bodycam.toml"), *args])


def dock(dock_dir: Path, port: str, *extra: str):
    return run(dock_dir, "dock", "--port", port, "--profile", PROFILE, "--case", "HB-2026-001", "--no-clock",
               *extra)


def enroll(dock_dir: Path, port: str) -> None:
    res = run(dock_dir, "device", "enroll", "--port", port, "--profile", PROFILE)
    assert res.exit_code == 0, res.output


def size_of(dock_dir: Path) -> int:
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        return ledger.size


def count(dock_dir: Path, kind: str) -> int:
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        return len(list(ledger.entries(kind=kind)))


def checkpoints(dock_dir: Path) -> int:
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        return len(list(ledger.checkpoints()))


def set_policy(dock_dir: Path, line: str) -> None:
    cfg = dock_dir / "bodycam.toml"
    cfg.write_text(cfg.read_text().replace('data_dir = "."', f'data_dir = "."\n{line}'))


def test_docking_an_unknown_recorder_is_refused_and_writes_nothing(dock_dir, emulated_recorder):
    rec = emulated_recorder(PROFILE, {"serial": "EMU0777", "recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    before, cps = size_of(dock_dir), checkpoints(dock_dir)
    result = dock(dock_dir, rec.port)
    assert result.exit_code == 3, result.output
    assert "recorder EMU0777" in result.output and "is not enrolled on dock dock-t" in result.output
    assert f"enroll it with `bodycam device enroll --port {rec.port} --profile {PROFILE}`" in result.output
    assert size_of(dock_dir) == before, "a refused docking writes nothing to the ledger"
    assert checkpoints(dock_dir) == cps, "nor a checkpoint"
    assert not (dock_dir / "keys" / "devices" / "EMU0777.key").exists(), "no key made for it"
    assert not rec.emulator.mounted.is_set(), "the recorder was not switched to mass storage"
    fleet = run(dock_dir, "fleet", "status", "--json")
    assert "EMU0777" not in fleet.output

    # Once the equipment manager enrolled it, the same command docks it.
    enroll(dock_dir, rec.port)
    result = dock(dock_dir, rec.port)
    assert result.exit_code == 0, result.output
    assert count(dock_dir, "segment") == 2
    assert "next: review with `bodycam segments`" in result.output
    assert "`bodycam sync run --once`" in result.output


def test_the_equipment_managers_policy_lets_docking_enroll(dock_dir, emulated_recorder):
    set_policy(dock_dir, "enroll_on_dock = true")
    rec = emulated_recorder(PROFILE, {"recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    result = dock(dock_dir, rec.port, "--json")
    assert result.exit_code == 0, result.output
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        (dev,) = [e for e in ledger.entries(kind="enrollment") if e.body["subject_type"] == "device"]
        assert dev.body["subject_id"] == "EMU0001" and dev.body["custodian"] == "010203"
        assert len(list(ledger.entries(kind="segment"))) == 2


def test_serial_docks_only_the_expected_recorder(dock_dir, emulated_recorder):
    # Recorder A is enrolled; recorder B (enrolled too, another officer's) took the port.
    a = emulated_recorder(PROFILE, {"serial": "EMU0001"}, mount_root=dock_dir / "mnt")
    b = emulated_recorder(PROFILE, {"serial": "EMU0002", "officer_id": "010299", "recordings": RECORDINGS},
                          mount_root=dock_dir / "mnt")
    enroll(dock_dir, a.port)
    enroll(dock_dir, b.port)
    before = size_of(dock_dir)
    result = dock(dock_dir, b.port, "--serial", "EMU0001")
    assert result.exit_code == 3, result.output
    assert f"the recorder on {b.port} is EMU0002, not EMU0001 (--serial)" in result.output
    assert "--serial EMU0002" in result.output  # how to dock B instead, if that was meant
    assert size_of(dock_dir) == before and not b.emulator.mounted.is_set()

    # An unknown recorder with the expected serial absent: still refused, still nothing written.
    c = emulated_recorder(PROFILE, {"serial": "EMU0003"}, mount_root=dock_dir / "mnt")
    result = dock(dock_dir, c.port, "--serial", "EMU0001")
    assert result.exit_code == 3 and "EMU0003, not EMU0001" in result.output
    assert size_of(dock_dir) == before

    result = dock(dock_dir, b.port, "--serial", "EMU0002")
    assert result.exit_code == 0, result.output
    assert count(dock_dir, "segment") == 2


def test_a_recorder_handed_over_is_not_docked_until_enrolled_again(dock_dir, emulated_recorder):
    away = emulated_recorder(PROFILE, {"recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    here = emulated_recorder(PROFILE, {"serial": "EMU0002", "recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    enroll(dock_dir, away.port)
    enroll(dock_dir, here.port)
    for device, to in (("EMU0001", "dock-x"), ("EMU0002", "dock-t")):  # moved; a new key on this dock
        res = run(dock_dir, "device", "transfer", device, "--to", to, "--reason", "moved or key rotated")
        assert res.exit_code == 0, res.output
    before = size_of(dock_dir)
    result = dock(dock_dir, away.port)
    assert result.exit_code == 3 and "was handed over to dock dock-x; dock it there" in result.output
    result = dock(dock_dir, here.port)
    assert result.exit_code == 3 and "recorder EMU0002" in result.output
    assert "is not enrolled on dock dock-t" in result.output
    assert size_of(dock_dir) == before
    assert (dock_dir / "keys" / "devices" / "EMU0002.key").exists(), "its old key is left where it was"
    enroll(dock_dir, here.port)  # the new chain starts when the equipment manager enrolls it
    assert dock(dock_dir, here.port).exit_code == 0


# --- Ctrl-C ---------------------------------------------------------------------------------------


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def start_dock(dock_dir: Path, port: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([BODYCAM, "--config", str(dock_dir / "bodycam.toml"), "dock", "--port", port,
                             "--profile", PROFILE, "--case", "HB-2026-001", "--no-clock", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def sessions(dock_dir: Path) -> list[str]:
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        return [e.body["status"] for e in ledger.entries(kind="dock_session")]


def assert_mass_storage_message(err: str, dock_dir: Path, port: str) -> None:
    assert "recorder EMU0001 is now in mass-storage mode: its serial port is gone" in err, err
    assert "Nothing partial was kept" in err
    assert "unplug recorder EMU0001 and plug it back into the dock" in err
    assert (f"bodycam --config {dock_dir / 'bodycam.toml'} dock --port {port} --profile {PROFILE} "
            "--serial EMU0001 --case HB-2026-001 --no-clock") in err
    assert "It resumes where it stopped" in err
    assert "Traceback" not in err


def test_ctrl_c_mid_offload_exits_130_says_mass_storage_and_the_next_dock_resumes(dock_dir, emulated_recorder,
                                                                                  tmp_path):
    card = tmp_path / "card"
    many = [{"start": T0.isoformat(), "duration_s": 3, "count": 16, "width": 640, "height": 480, "fps": 15}]
    rec = emulated_recorder(PROFILE, {"recordings": many}, storage_dir=card, mount_root=dock_dir / "mnt")
    enroll(dock_dir, rec.port)
    proc = start_dock(dock_dir, rec.port)
    try:
        assert wait_for(lambda: count(dock_dir, "segment") >= 1 or proc.poll() is not None)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, out, err)
    first = count(dock_dir, "segment")
    assert 1 <= first < 16
    assert "Interrupted: the offload was stopped on request" in err
    assert_mass_storage_message(err, dock_dir, rec.port)
    assert sessions(dock_dir) == ["open", "aborted"]  # the session record says where it stopped
    assert not list((dock_dir / "store" / "tmp").glob("*.part")), "nothing partial is kept"
    assert run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db")).exit_code == 0
    rec.stop()

    # Re-plugged (a new port, the same card), the suggested command finishes the offload.
    os.rename(dock_dir / "mnt", tmp_path / "old-mnt")
    again = emulated_recorder(PROFILE, {"recordings": []}, storage_dir=card, mount_root=dock_dir / "mnt")
    result = dock(dock_dir, again.port, "--serial", "EMU0001", "--json")
    assert result.exit_code == 0, result.output
    assert count(dock_dir, "segment") == 16
    assert run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db")).exit_code == 0


def test_ctrl_c_while_waiting_for_the_storage_exits_130_with_the_mass_storage_message(dock_dir, emulated_recorder,
                                                                                      tmp_path):
    # The storage appears somewhere the dock does not look: it waits (after enter_mass_storage).
    rec = emulated_recorder(PROFILE, {"recordings": RECORDINGS}, mount_root=tmp_path / "elsewhere")
    enroll(dock_dir, rec.port)
    (dock_dir / "mnt").mkdir()
    proc = start_dock(dock_dir, rec.port)
    try:
        assert wait_for(rec.emulator.mounted.is_set, timeout=30)
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert_mass_storage_message(err, dock_dir, rec.port)
    assert count(dock_dir, "segment") == 0
    assert sessions(dock_dir) == ["open", "aborted"]


def test_an_error_after_mass_storage_says_what_to_do(dock_dir, emulated_recorder, tmp_path):
    rec = emulated_recorder(PROFILE, {"recordings": RECORDINGS}, mount_root=tmp_path / "elsewhere")
    enroll(dock_dir, rec.port)
    result = dock(dock_dir, rec.port, "--mount-root", str(tmp_path / "missing"))
    assert result.exit_code == 1, result.output
    assert "Error: mount root " in result.stderr and "does not exist" in result.stderr
    assert "recorder EMU0001 is now in mass-storage mode" in result.stderr
    assert f"--serial EMU0001 --case HB-2026-001 --mount-root {tmp_path / 'missing'} --no-clock" in result.stderr
    assert sessions(dock_dir) == ["open", "aborted"]


def test_ctrl_c_on_the_serial_side_exits_130(dock_dir):
    # No recorder answers on this port: once the dock has asked (identify), it is on the serial
    # side waiting for a reply.
    import pty
    import select

    master, slave = pty.openpty()
    try:
        port = os.ttyname(slave)
        proc = start_dock(dock_dir, port)
        assert select.select([master], [], [], 30)[0], "the dock never asked the recorder anything"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Interrupted (Ctrl-C)." in err and "Aborted!" not in err and "Traceback" not in err
    assert "mass-storage" not in err


def test_ctrl_c_anywhere_exits_130_not_clicks_1(monkeypatch):
    import agent.commands.device as device_cmd

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(device_cmd, "discover", interrupted)
    result = CliRunner().invoke(cli, ["device", "ports"])
    assert result.exit_code == 130, result.output
    assert "Interrupted (Ctrl-C)." in result.stderr and "Aborted!" not in result.output


# --- agent run ------------------------------------------------------------------------------------


def test_agent_run_refuses_an_unknown_recorder_logs_it_and_enrolls_nothing(dock_dir, emulated_recorder):
    rec = emulated_recorder(PROFILE, {"serial": "EMU0666", "recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    set_policy(dock_dir, f'ports = ["{rec.port}={PROFILE}"]\npoll_interval_s = 0.1\nmount_wait_s = 10.0')
    before = size_of(dock_dir)
    proc = subprocess.Popen([BODYCAM, "--config", str(dock_dir / "bodycam.toml"), "agent", "run", "--no-clock"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # many polls: it is refused once per appearance, never docked
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"recorder on {rec.port} refused: recorder EMU0666" in err
    assert err.count("refused: recorder EMU0666") == 1
    assert "bodycam device enroll" in err
    assert size_of(dock_dir) == before
    assert not rec.emulator.mounted.is_set()
