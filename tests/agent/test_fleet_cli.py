"""`bodycam device status`, `bodycam fleet status` and `bodycam emulate` against emulated
recorders with a low battery, a nearly full card and a drifted clock (A2 Art.12–13): the right
verdicts and reasons, checks remembered in the dock's state DB, stale checks not ready."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.fleet import StateDB
from agent.link.driver import RecorderLink
from agent.link.profiles import BUILTIN_PROFILES_DIR, get_profile
from bodycam.cli import cli

BIG = {"battery_pct": 100, "storage_total_mib": 61000, "storage_free_mib": 60000}
BIN = Path(sys.executable).parent / "bodycam"


@pytest.fixture
def dock(tmp_path, monkeypatch):
    """A dock folder with a bodycam.toml and a site profiles dir whose timeouts are short."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    src = (BUILTIN_PROFILES_DIR / "jsonl-epoch-ms.toml").read_text(encoding="utf-8")
    (profiles / "fast-json.toml").write_text(
        src.replace("reply_timeout_s = 1.0\nretries = 2", "reply_timeout_s = 0.2\nretries = 0"), encoding="utf-8")
    cfg = tmp_path / "bodycam.toml"
    cfg.write_text(f'[agent]\ndata_dir = "data"\nprofiles_dir = "{profiles}"\n', encoding="utf-8")
    monkeypatch.setenv("BODYCAM_ZFY_PASSWORD", "000000")
    monkeypatch.setenv("BODYCAM_AMBA_PASSWORD", "000000")
    return cfg


def run(cfg: Path, *args: str):
    res = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    return res


def status(cfg, rec, pid):
    res = run(cfg, "device", "status", "--port", rec.port, "--profile", pid, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_device_and_fleet_status(dock, emulated_recorder):
    low = emulated_recorder("jsonl-epoch-ms", {"serial": "LOWBAT1", "battery_pct": 23})
    full = emulated_recorder("binary-aa55-crc16", {"serial": "FULLSD1", "storage_total_mib": 30000,
                                                   "storage_free_mib": 700})
    drift = emulated_recorder("ambarella-at-delimited", {"serial": "DRIFT01", "clock_offset_s": 3600.0, **BIG})
    good = emulated_recorder("zfy-e12-gat947", {"serial": "GOOD001", "clock_offset_s": 0.0, **BIG})

    s = status(dock, low, "jsonl-epoch-ms")
    assert s["serial"] == "LOWBAT1" and s["battery_pct"] == 23 and s["ready"] is False
    assert s["reasons"] == ["battery 23% < 74% needed for an 8 h shift at 8%/h + 10% margin: charge it"]
    for key in ("officer_id", "storage_free_bytes", "storage_total_bytes", "clock_offset_s", "recording"):
        assert key in s

    s = status(dock, full, "binary-aa55-crc16")
    assert s["storage_free_bytes"] == 700 << 20 and s["ready"] is False
    assert len(s["reasons"]) == 1 and s["reasons"][0].startswith("card has 700.0 MiB free < 18.4 GiB needed")

    s = status(dock, drift, "ambarella-at-delimited")
    assert s["clock_offset_s"] == pytest.approx(3600, abs=1.5) and s["ready"] is False
    assert len(s["reasons"]) == 1 and "s ahead of the dock" in s["reasons"][0]

    s = status(dock, good, "zfy-e12-gat947")
    assert s["ready"] is True and s["reasons"] == [] and s["recording"] is None  # unsupported on ZFY
    assert s["officer_name"] == "张三"

    res = run(dock, "fleet", "status", "--json")
    assert res.exit_code == 3, res.output  # three recorders not ready
    fleet = {r["serial"]: r for r in json.loads(res.output)["recorders"]}
    assert {k: v["verdict"] for k, v in fleet.items()} == {
        "DRIFT01": "not ready", "FULLSD1": "not ready", "GOOD001": "ready", "LOWBAT1": "not ready"}
    assert fleet["GOOD001"]["custodian"] == "010203 张三 (from device)"
    assert fleet["LOWBAT1"]["reasons"][0].startswith("battery 23%")

    assert (fleet["LOWBAT1"]["battery_pct"], fleet["FULLSD1"]["storage_free_bytes"]) == (23, 700 << 20)
    assert fleet["GOOD001"]["armed_today"] is None  # this dock folder has no ledger to read armings from

    table = run(dock, "fleet", "status")
    assert table.exit_code == 3
    lines = table.output.splitlines()
    assert lines[0].split() == ["SERIAL", "PROFILE", "CUSTODIAN", "BATTERY", "FREE", "CARD", "ARMED", "TODAY",
                                "LAST", "CHECK", "VERDICT"]
    assert any(line.startswith("GOOD001") and line.endswith("READY") for line in lines)
    assert "  23%  " in next(line for line in lines if line.startswith("LOWBAT1"))
    assert "  700.0 MiB  " in next(line for line in lines if line.startswith("FULLSD1"))
    assert "1 of 4 ready" in table.output

    # stale: a check older than agent.readiness_max_age_s (12 h) counts as not ready
    checked = fleet["GOOD001"]["last_check"]
    from datetime import datetime, timedelta
    later = (datetime.fromisoformat(checked) + timedelta(hours=13)).isoformat()
    res = run(dock, "fleet", "status", "--json", "--at", later)
    stale = {r["serial"]: r for r in json.loads(res.output)["recorders"]}
    assert stale["GOOD001"]["verdict"] == "stale" and stale["GOOD001"]["ready"] is False
    assert stale["GOOD001"]["reasons"][0].startswith("last check 13.0 h ago is older than 12.0 h")
    earlier = (datetime.fromisoformat(checked) + timedelta(hours=11)).isoformat()
    res = run(dock, "fleet", "status", "--json", "--at", earlier)
    assert {r["serial"]: r["verdict"] for r in json.loads(res.output)["recorders"]}["GOOD001"] == "ready"

    # enrollment (issue 5) names the custodian; it replaces the device-reported officer
    StateDB(dock.parent / "data" / "state.db").set_custodian("GOOD001", "010299", "Custodian Chen")
    res = run(dock, "fleet", "status", "--json")
    assert {r["serial"]: r["custodian"] for r in json.loads(res.output)["recorders"]}["GOOD001"] == \
        "010299 Custodian Chen"


def test_status_reports_a_failing_query_as_a_fault(dock, emulated_recorder):
    rec = emulated_recorder(get_profile("jsonl-epoch-ms", dock.parent / "profiles"),
                            {"serial": "FAULTY1", "faults": {"rules": [{"kind": "silence", "command": "get_storage",
                                                                        "times": 0}]}})
    s = status(dock, rec, "jsonl-epoch-ms")
    assert s["ready"] is False and s["storage_free_bytes"] is None
    assert any("free card space unknown" in r for r in s["reasons"])
    assert any(r.startswith("fault: get_storage failed (LinkTimeout") for r in s["reasons"])


def test_no_recorder_on_port_is_an_error_exit_1(dock, tmp_path):
    res = run(dock, "device", "status", "--port", str(tmp_path / "nope"), "--profile", "jsonl-epoch-ms")
    assert res.exit_code == 1 and "cannot open the port" in res.output
    res = run(dock, "fleet", "status")
    assert res.exit_code == 0 and "No recorders seen yet" in res.output  # nothing seen: nothing not ready


def test_device_ports_lists_matches_only(dock):
    res = run(dock, "device", "ports", "--json")
    assert res.exit_code == 0, res.output
    ports = json.loads(res.output)["ports"]
    assert all(p["profile"] for p in ports)  # a pty has no USB VID/PID: never listed as a recorder


def test_emulate_subprocess_serves_and_mounts(tmp_path):
    state = tmp_path / "state.toml"
    state.write_text('serial = "SUB0001"\nbattery_pct = 80\nstorage_total_mib = 1000\nstorage_free_mib = 900\n'
                     '[[recordings]]\nstart = "2026-11-30T00:30:00Z"\nduration_s = 1\nwidth = 64\nheight = 48\n'
                     'fps = 5\n', encoding="utf-8")
    mnt = tmp_path / "mnt"
    proc = subprocess.Popen([str(BIN), "emulate", "--profile", "binary-aa55-crc16", "--state", str(state),
                             "--mount-root", str(mnt)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={**os.environ, "BODYCAM_CONFIG": ""})
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "PORT" and first[1].startswith("/dev/pts/")
        with RecorderLink(first[1], get_profile("binary-aa55-crc16"), timeout_s=1.0) as link:
            assert link.identify().serial == "SUB0001"
            link.enter_mass_storage()
        mounted = proc.stdout.readline().split()
        assert mounted == ["MOUNTED", str(mnt / "SUB0001")]
        assert [p.name for p in (mnt / "SUB0001" / "RECORD").iterdir()] == ["20261130003000_00001.avi"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read()


# --- the fleet table for a dashboard or a cron mail (issue 12, "Tables people read") ---------------

NS = 1_000_000_000


def _check(db: StateDB, serial: str, at_ns: int, *, battery: int, free_mib: int, ready: bool) -> None:
    from agent.fleet import CheckRecord

    db.record_check(CheckRecord(serial=serial, profile="jsonl-epoch-ms", port="/dev/ttyACM0", checked_at_ns=at_ns,
                                ready=ready, reasons=[] if ready else [f"battery {battery}%: charge it"],
                                battery_pct=battery, storage_free_bytes=free_mib << 20,
                                storage_total_bytes=61000 << 20))


def _calibration(ledger, dock_key, serial: str, at_ns: int, *, passed: bool = True, clock_set: bool = True):
    from ledger.envelope import seal
    from ledger.records import Calibration, Reference

    cal = Calibration(device_id=serial, reference=Reference(kind="ntp"), offset_before_us=-180_000_000,
                      offset_after_us=2_000, uncertainty_us=1_500, tolerance_us=1_000_000, clock_set=clock_set,
                      result="passed" if passed else "refused", reasons=[] if passed else ["card full"],
                      measured_ns=at_ns)
    ledger.append(seal(cal, dock_key), require_trusted=True)


def test_fleet_status_columns_armed_today_and_exit_3_when_not_ready(tmp_path):
    """Battery, free card space and armed-today columns; ARMED TODAY is a passed calibration that
    set the clock since local midnight, read from the dock ledger; exit 3 while any recorder is
    not ready, 0 once all are."""
    from datetime import datetime

    from ledger.keys import load_signer
    from ledger.store import Ledger

    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-f"]).exit_code == 0
    cfg = d / "bodycam.toml"
    now = datetime.fromisoformat("2026-12-02T10:00:00+08:00")  # local midnight: 2026-12-01T16:00Z
    now_ns = int(now.timestamp()) * NS
    hour = 3600 * NS
    db = StateDB(d / "state.db")
    _check(db, "GOOD001", now_ns - hour, battery=96, free_mib=60000, ready=True)
    _check(db, "LOWBAT1", now_ns - hour, battery=23, free_mib=60000, ready=False)
    _check(db, "NOTSET1", now_ns - hour, battery=90, free_mib=60000, ready=True)
    dock_key = load_signer(d / "keys" / "dock.key")
    with Ledger.open(d / "ledger.db", create=False) as ledger:
        _calibration(ledger, dock_key, "GOOD001", now_ns - 2 * hour + 12 * 60 * NS)  # 08:12 today
        _calibration(ledger, dock_key, "LOWBAT1", now_ns - 11 * hour)                # 23:00 yesterday
        _calibration(ledger, dock_key, "LOWBAT1", now_ns - hour, passed=False)      # refused today
        _calibration(ledger, dock_key, "NOTSET1", now_ns - hour, clock_set=False)   # measured, clock not set
        _calibration(ledger, dock_key, "NOTSET1", now_ns + hour)                    # after --at: not yet
    env = {"TZ": "Asia/Shanghai"}
    at = ["--at", now.isoformat()]

    res = CliRunner().invoke(cli, ["--config", str(cfg), "fleet", "status", *at], env=env)
    assert res.exit_code == 3, res.output
    lines = res.output.splitlines()
    assert [h.strip() for h in lines[0].split("  ") if h.strip()] == \
        ["SERIAL", "PROFILE", "CUSTODIAN", "BATTERY", "FREE CARD", "ARMED TODAY", "LAST CHECK", "VERDICT"]
    rows = {line.split()[0]: line for line in lines[1:4]}
    armed_col = lines[0].index("ARMED TODAY")
    assert rows["GOOD001"][armed_col:].startswith("yes 08:12")
    assert rows["LOWBAT1"][armed_col:].startswith("no ") and rows["NOTSET1"][armed_col:].startswith("no ")
    assert "  96%  " in rows["GOOD001"] and "  58.6 GiB  " in rows["GOOD001"]
    assert rows["LOWBAT1"].endswith("NOT READY") and "2 of 3 ready" in res.output

    res = CliRunner().invoke(cli, ["--config", str(cfg), "fleet", "status", "--json", *at], env=env)
    assert res.exit_code == 3
    fleet = {r["serial"]: r for r in json.loads(res.stdout)["recorders"]}
    assert {k: v["armed_today"] for k, v in fleet.items()} == {"GOOD001": True, "LOWBAT1": False, "NOTSET1": False}
    assert fleet["GOOD001"]["armed_at"] == "2026-12-02T00:12:00Z"
    assert (fleet["LOWBAT1"]["battery_pct"], fleet["GOOD001"]["storage_total_bytes"]) == (23, 61000 << 20)

    _check(db, "LOWBAT1", now_ns - 60 * NS, battery=95, free_mib=60000, ready=True)  # charged
    res = CliRunner().invoke(cli, ["--config", str(cfg), "fleet", "status", *at], env=env)
    assert res.exit_code == 0 and "3 of 3 ready" in res.output
