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
    assert res.exit_code == 0, res.output
    fleet = {r["serial"]: r for r in json.loads(res.output)["recorders"]}
    assert {k: v["verdict"] for k, v in fleet.items()} == {
        "DRIFT01": "not ready", "FULLSD1": "not ready", "GOOD001": "ready", "LOWBAT1": "not ready"}
    assert fleet["GOOD001"]["custodian"] == "010203 张三 (from device)"
    assert fleet["LOWBAT1"]["reasons"][0].startswith("battery 23%")

    table = run(dock, "fleet", "status")
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["SERIAL", "PROFILE", "CUSTODIAN", "LAST", "CHECK", "VERDICT"]
    assert any(line.startswith("GOOD001") and line.endswith("READY") for line in lines)
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
    assert res.exit_code == 0 and "No recorders seen yet" in res.output


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
