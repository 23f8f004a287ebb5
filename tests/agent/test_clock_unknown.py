"""A recorder whose clock is wildly wrong is "clock unknown", never a crash (A2 Art.8, 13): an
offset beyond the ±285 years a calibration record holds, a time past what a record holds
(2262), or a reply that is no time at all (year 10000 in a profile's fixed-width format). `device
calibrate` refuses it with a signed record saying so (and sets the clock, so the next attempt
passes); `dock` and the unattended `agent run` offload its footage, flagged `clock_unknown`, with
the recorder's own times where a record holds them and the dock's receive time otherwise. Real
pty emulators, a real chronyd reference, real dock ledgers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.clock.measure import MAX_OFFSET_NS, ClockUnknown, measure_offset, representable_offset, representable_time
from agent.emulator.farclock import recorder_time_values
from agent.link.profiles import get_profile
from agent.offload.continuity import device_start_from
from bodycam.cli import cli
from bodycam.errors import FormatError
from ledger.records import validate_body
from ledger.store import Ledger

NS = 1_000_000_000
YEAR_S = 365.2425 * 86400
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
RECORDINGS = [{"start": T0.isoformat(), "duration_s": 2, "count": 2, "width": 160, "height": 120, "fps": 10}]
BODYCAM = str(Path(sys.executable).with_name("bodycam"))


def at_end_of_9999(profile: str) -> float:
    """The offset that puts the recorder's clock at 9999-12-31T23:59:59 in its own zone (then past it)."""
    tz = get_profile(profile).tzinfo
    return (datetime(9999, 12, 31, 23, 59, 59, tzinfo=tz) - datetime.now(UTC)).total_seconds()


CLOCKS = {
    "300 years ahead": ("jsonl-epoch-ms", 300 * YEAR_S),
    "300 years behind": ("zfy-e12-gat947", -300 * YEAR_S),
    "at 9999-12-31T23:59:59": ("ambarella-at-delimited", None),
    "in year 11026, a reply the profile cannot parse": ("zfy-e12-gat947", 9000 * YEAR_S),
    "in year 11026, epoch ms past any date": ("binary-aa55-crc16", 9000 * YEAR_S),
}


def offset_of(profile: str, offset_s: float | None) -> float:
    return at_end_of_9999(profile) if offset_s is None else offset_s


@pytest.fixture
def dock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BODYCAM_ZFY_PASSWORD", "000000")
    monkeypatch.setenv("BODYCAM_AMBA_PASSWORD", "000000")
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-t"]).exit_code == 0
    return d


def run(dock_dir, *args):
    return CliRunner().invoke(cli, ["--config", str(dock_dir / "bodycam.toml"), *args])


def entries(dock_dir: Path, kind: str) -> list:
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        return list(ledger.entries(kind=kind))


# --- the bounds, defined once --------------------------------------------------------------------


def test_offsets_beyond_285_years_and_times_beyond_a_record_are_not_representable():
    assert representable_offset(MAX_OFFSET_NS) and representable_offset(-MAX_OFFSET_NS)
    assert not representable_offset(MAX_OFFSET_NS + 1) and not representable_offset(-MAX_OFFSET_NS - 1)
    assert 285 * YEAR_S * NS < MAX_OFFSET_NS < 286 * YEAR_S * NS
    assert representable_time(0) and representable_time(2**63 - 1) and representable_time(-(2**63))
    assert not representable_time(2**63) and not representable_time(-(2**63) - 1)


def test_a_record_refuses_a_time_it_cannot_hold():
    body = {"v": 1, "kind": "dock_session", "session_id": "s-1", "dock_id": "dock-t", "device_id": "rec-1",
            "officer_id": "o-1", "activity": "patrol", "started_ns": str(2**63), "status": "open"}
    with pytest.raises(FormatError, match="outside the times a record holds"):
        validate_body(body)
    assert validate_body({**body, "started_ns": str(2**63 - 1)}).started_ns == 2**63 - 1


def test_measuring_a_clock_beyond_the_record_range_says_clock_unknown():
    from agent.clock.measure import DeviceReading

    now = [1_800_000_000 * NS]

    def tick() -> int:
        now[0] += 1_000_000
        return now[0]

    far = DeviceReading(now[0] + 300 * 31_556_952 * NS, "2327-01-01T00:00:00")
    with pytest.raises(ClockUnknown, match="beyond the times a record holds|outside the times a record holds"):
        measure_offset(lambda: far, tick, samples=2, resolution_ns=1_000_000, sleep=lambda s: None)
    behind = DeviceReading(now[0] - 290 * 31_556_952 * NS, "1736-01-01T00:00:00")
    with pytest.raises(ClockUnknown, match=r"about -290 years off, beyond the ±285 years") as caught:
        measure_offset(lambda: behind, tick, samples=2, resolution_ns=1_000_000, sleep=lambda s: None)
    assert caught.value.device_time == "1736-01-01T00:00:00"


def test_a_file_time_no_record_holds_is_left_to_the_dock():
    text, ns = device_start_from("DCIM/100ZFY/110261203_121222_0001.mp4", 15_032_385_535 * NS, 2000)
    assert ns is None and text.startswith("mtime:")
    text, ns = device_start_from("DCIM/100ZFY/17261202_221055_0001.mp4", -2_147_483_648 * NS, 2000)
    assert ns == -2_147_483_650 * NS and text.startswith("mtime:1901-12-13T20:45:50")


def test_the_emulator_speaks_times_past_year_9999_in_every_profile_format():
    ns = int((11026 - 1970) * YEAR_S) * NS
    zfy = recorder_time_values(get_profile("zfy-e12-gat947"), ns)
    assert zfy["year"] == 11026 and zfy["datetime"].startswith("11026-")
    amba = recorder_time_values(get_profile("ambarella-at-delimited"), ns)
    assert amba["datetime"].startswith("11026/")
    assert recorder_time_values(get_profile("jsonl-epoch-ms"), ns)["epoch_ms"] == ns // 1_000_000


# --- device calibrate ----------------------------------------------------------------------------


@pytest.mark.parametrize("clock", list(CLOCKS))
def test_calibrate_refuses_an_unknown_clock_records_why_and_sets_it(dock_dir, emulated_recorder, ntp_server, clock):
    profile, offset_s = CLOCKS[clock]
    ntp = ntp_server()
    rec = emulated_recorder(profile, {"clock_offset_s": offset_of(profile, offset_s)})
    args = ("device", "calibrate", "--port", rec.port, "--profile", profile, "--ntp-server", ntp.address)
    result = run(dock_dir, *args, "--json")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    out = json.loads(result.stdout)
    assert out["calibrated"] is False and out["offset_before_s"] is None
    assert out["reasons"][0].startswith("clock unknown: ")
    (cal,) = entries(dock_dir, "calibration")
    assert cal.body["result"] == "refused" and cal.body["reasons"][0].startswith("clock unknown: ")
    assert "offset_before_us" not in cal.body and cal.body["clock_set"] is True
    assert cal.entry_hash == out["calibration_entry"]
    # its clock was set while refusing: the next calibration proves it and passes
    again = run(dock_dir, *args, "--json")
    assert again.exit_code == 0, again.output
    assert abs(json.loads(again.stdout)["offset_before_s"]) < 2
    assert run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db")).exit_code == 0


def test_arm_refuses_an_unknown_clock_with_exit_3_naming_it(dock_dir, emulated_recorder, ntp_server):
    ntp = ntp_server()
    rec = emulated_recorder("jsonl-epoch-ms", {"clock_offset_s": -300 * YEAR_S, "storage_total_mib": 64000,
                                               "storage_free_mib": 60000, "battery_pct": 100})
    result = run(dock_dir, "device", "arm", "--port", rec.port, "--profile", "jsonl-epoch-ms",
                 "--ntp-server", ntp.address)
    assert result.exit_code == 3, result.output
    assert "REFUSED" in result.stdout and "clock unknown: " in result.output
    assert "beyond the ±285 years a calibration record can hold" in result.output


# --- dock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("clock", list(CLOCKS))
def test_dock_offloads_the_footage_of_an_unknown_clock_flagged(dock_dir, emulated_recorder, ntp_server, clock):
    profile, offset_s = CLOCKS[clock]
    ntp = ntp_server()
    rec = emulated_recorder(profile, {"clock_offset_s": offset_of(profile, offset_s), "recordings": RECORDINGS},
                            mount_root=dock_dir / "mnt")
    enrolled = run(dock_dir, "device", "enroll", "--port", rec.port, "--profile", profile)  # docking never enrolls
    assert enrolled.exit_code == 0, enrolled.output
    before = time.time_ns()
    result = run(dock_dir, "dock", "--port", rec.port, "--profile", profile, "--activity", "patrol",
                 "--ntp-server", ntp.address, "--json")
    after = time.time_ns()
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["segments"] == 2 and out["complete"] is True
    assert out["clock_unknown"] is True and out["offset_s"] is None
    assert any(p.startswith("clock unknown at docking: ") for p in out["problems"])
    (cal,) = entries(dock_dir, "calibration")
    assert cal.body["result"] == "refused" and cal.body["clock_set"] is False
    assert cal.body["reasons"][0].startswith("clock unknown at docking: ") and "offset_before_us" not in cal.body
    assert out["clock_entry"] == cal.entry_hash
    for seg in entries(dock_dir, "segment"):
        body = seg.record
        assert "clock_unknown" in body.flags and body.calibration == cal.entry_hash and not body.time_corrected
        if "dock_receive_time" in body.flags:  # the file's own time is none a record holds
            assert before <= body.start_ns <= after
        else:
            assert representable_time(body.start_ns)
    listed = run(dock_dir, "segments", "--json")
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.stdout)["segments"]) == 2
    assert run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db")).exit_code == 0


# --- agent run -----------------------------------------------------------------------------------


def test_agent_run_offloads_a_recorder_whose_clock_is_unknown(tmp_path, emulated_recorder, ntp_server):
    ntp = ntp_server()
    rec = emulated_recorder("jsonl-epoch-ms", {"clock_offset_s": 300 * YEAR_S, "recordings": RECORDINGS},
                            mount_root=tmp_path / "dock" / "mnt")
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-u"]).exit_code == 0
    cfg = d / "bodycam.toml"
    cfg.write_text(cfg.read_text().replace('data_dir = "."', f'data_dir = "."\nports = ["{rec.port}=jsonl-epoch-ms"]\n'
                                                             'poll_interval_s = 0.1\nmount_wait_s = 10.0'))
    enrolled = CliRunner().invoke(cli, ["--config", str(cfg), "device", "enroll", "--port", rec.port, "--profile",
                                        "jsonl-epoch-ms"])  # agent run docks enrolled recorders only
    assert enrolled.exit_code == 0, enrolled.output
    proc = subprocess.Popen([BODYCAM, "--config", str(cfg), "agent", "run", "--ntp-server", ntp.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (d / "ledger.db").exists() or not [
                e for e in entries(d, "dock_session") if e.body["status"] != "open"]:
            assert time.monotonic() < deadline and proc.poll() is None, "agent did not dock the recorder"
            time.sleep(0.1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "clock unknown at docking" in err and "Traceback" not in err
    segs = entries(d, "segment")
    assert len(segs) == 2 and all(s.body["flags"][:1] == ["clock_unknown"] for s in segs)
    (cal,) = entries(d, "calibration")
    assert cal.body["result"] == "refused" and cal.body["reasons"][0].startswith("clock unknown at docking: ")
