"""`bodycam device arm|calibrate|enroll`, `bodycam dock` and `bodycam segments` end to end:
real pty emulators, a real chronyd on loopback as the reference, real dock ledger (A2 Art.8, 13, 15)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bodycam.cli import cli
from ledger.store import Ledger
from tests.fixtures.ntp import free_udp_port

T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


@pytest.fixture
def dock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BODYCAM_ZFY_PASSWORD", "000000")
    monkeypatch.setenv("BODYCAM_AMBA_PASSWORD", "000000")
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-t"]).exit_code == 0
    return d


def run(dock_dir, *args):
    return CliRunner().invoke(cli, ["--config", str(dock_dir / "bodycam.toml"), *args])


def ledger_of(dock_dir) -> Ledger:
    return Ledger.open(dock_dir / "ledger.db", create=False)


def enroll(dock_dir, rec) -> None:
    """The equipment manager enrolls the recorder: docking never does (issue 12, item 2)."""
    result = run(dock_dir, "device", "enroll", "--port", rec.port, "--profile", rec.profile.id)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("profile", "offset_s", "drift_ppm"), [
    ("zfy-e12-gat947", -3 * 86400, 40),
    ("jsonl-epoch-ms", 3600, -15),
    ("binary-aa55-crc16", -2.5, 0),
    ("ambarella-at-delimited", 95.3, 120),
])
def test_arm_sets_the_clock_within_tolerance_and_records_it(dock_dir, emulated_recorder, ntp_server, profile,
                                                            offset_s, drift_ppm):
    ntp = ntp_server()
    rec = emulated_recorder(profile, {"clock_offset_s": offset_s, "clock_drift_ppm": drift_ppm,
                                      "storage_total_mib": 64000, "storage_free_mib": 60000, "battery_pct": 100})
    result = run(dock_dir, "device", "arm", "--port", rec.port, "--profile", profile, "--ntp-server", ntp.address,
                 "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["armed"] is True
    assert abs(out["offset_before_s"] - offset_s) < 2
    assert abs(out["offset_after_s"]) <= out["tolerance_s"]
    with ledger_of(dock_dir) as ledger:
        cal = [e for e in ledger.entries(kind="calibration")]
        assert len(cal) == 1 and cal[0].body["result"] == "passed"
        assert cal[0].entry_hash == out["calibration_entry"]
        dev = [e for e in ledger.entries(kind="enrollment") if e.body["subject_type"] == "device"]
        assert dev[0].body["custodian"] == "010203"
    verify = run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db"))
    assert verify.exit_code == 0, verify.output


def test_arm_refuses_a_short_battery_but_still_records_the_calibration(dock_dir, emulated_recorder, ntp_server):
    ntp = ntp_server()
    rec = emulated_recorder("jsonl-epoch-ms", {"battery_pct": 20, "clock_offset_s": 30})
    result = run(dock_dir, "device", "arm", "--port", rec.port, "--profile", "jsonl-epoch-ms",
                 "--ntp-server", ntp.address, "--json")
    assert result.exit_code == 3, result.output
    out = json.loads(result.stdout)
    assert out["armed"] is False and out["calibrated"] is True
    assert any("battery 20%" in r for r in out["reasons"])
    fleet = json.loads(run(dock_dir, "fleet", "status", "--json").stdout)
    assert fleet["recorders"][0]["ready"] is False


def test_arm_refuses_when_the_reference_is_unreachable(dock_dir, emulated_recorder):
    rec = emulated_recorder("jsonl-epoch-ms", {"clock_offset_s": 30})
    dead = f"127.0.0.1:{free_udp_port()}"
    result = run(dock_dir, "device", "calibrate", "--port", rec.port, "--profile", "jsonl-epoch-ms",
                 "--ntp-server", dead)
    assert result.exit_code == 3
    assert "REFUSED" in result.stdout
    assert dead in result.stderr
    with ledger_of(dock_dir) as ledger:
        (cal,) = list(ledger.entries(kind="calibration"))
        assert cal.body["result"] == "refused"
        assert cal.body["clock_set"] is False


RECORDINGS = [
    {"start": T0.isoformat(), "duration_s": 2, "count": 2, "gap_after_s": 300, "width": 160, "height": 120,
     "fps": 10},
    {"duration_s": 2, "width": 160, "height": 120, "fps": 10},
]


def test_dock_offloads_signs_finds_the_gap_and_is_idempotent(dock_dir, emulated_recorder, ntp_server, tmp_path):
    ntp = ntp_server()
    storage = tmp_path / "card"
    rec = emulated_recorder("jsonl-epoch-ms", {"recordings": RECORDINGS}, storage_dir=storage,
                            mount_root=dock_dir / "mnt")
    enroll(dock_dir, rec)
    result = run(dock_dir, "dock", "--port", rec.port, "--profile", "jsonl-epoch-ms", "--case", "HB-2026-001",
                 "--ntp-server", ntp.address, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["segments"] == 3 and out["gaps"] == 1 and out["complete"] is True
    segs = json.loads(run(dock_dir, "segments", "--json").stdout)["segments"]
    assert [s["seq"] for s in segs] == [0, 1, 2]
    assert all(s["decodable"] and s["case_id"] == "HB-2026-001" for s in segs)
    rec.stop()

    # The same recorder docked again (same card): nothing new, nothing appended twice.
    again = emulated_recorder("jsonl-epoch-ms", {"recordings": []}, storage_dir=storage, mount_root=dock_dir / "mnt2")
    result = run(dock_dir, "dock", "--port", again.port, "--profile", "jsonl-epoch-ms", "--case", "HB-2026-001",
                 "--ntp-server", ntp.address, "--mount-root", str(dock_dir / "mnt2"), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["segments"] == 0 and out["already_offloaded"] == 3 and out["gaps"] == 0
    with ledger_of(dock_dir) as ledger:
        assert len(list(ledger.entries(kind="segment"))) == 3
        assert len(list(ledger.entries(kind="gap"))) == 1
    assert run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db")).exit_code == 0


def test_dock_corrects_and_flags_a_drifted_clock(dock_dir, emulated_recorder, ntp_server):
    ntp = ntp_server()
    rec = emulated_recorder("binary-aa55-crc16", {"clock_offset_s": 120, "recordings": RECORDINGS[:1]},
                            mount_root=dock_dir / "mnt")
    enroll(dock_dir, rec)
    result = run(dock_dir, "dock", "--port", rec.port, "--profile", "binary-aa55-crc16", "--activity", "patrol",
                 "--ntp-server", ntp.address, "--json")
    assert result.exit_code == 0, result.output
    assert abs(json.loads(result.stdout)["offset_s"] - 120) < 1
    segs = json.loads(run(dock_dir, "segments", "--json").stdout)["segments"]
    assert all("clock_drifted" in s["flags"] for s in segs)
    # Corrected start is the true time the emulator recorded at; the device's own time is kept too.
    # File names carry whole seconds, so the corrected time is exact to about a second.
    start = datetime.fromisoformat(segs[0]["start"])
    assert abs((start - T0).total_seconds()) <= 1.5
    assert segs[0]["device_start"] != segs[0]["start"]
    with ledger_of(dock_dir) as ledger:
        cal = list(ledger.entries(kind="calibration"))[-1]
        assert cal.body["result"] == "refused" and cal.body["clock_set"] is False
        seg = next(ledger.entries(kind="segment"))
        assert seg.body["calibration"] == cal.entry_hash


def test_dock_needs_a_case_or_activity_and_enroll_is_idempotent(dock_dir, emulated_recorder):
    rec = emulated_recorder("jsonl-epoch-ms")
    result = run(dock_dir, "dock", "--port", rec.port, "--profile", "jsonl-epoch-ms", "--no-clock")
    assert result.exit_code == 2
    assert "A2 Art.4" in result.output
    first = json.loads(run(dock_dir, "device", "enroll", "--port", rec.port, "--profile", "jsonl-epoch-ms",
                           "--custodian", "990001", "--json").stdout)
    second = json.loads(run(dock_dir, "device", "enroll", "--port", rec.port, "--profile", "jsonl-epoch-ms",
                            "--json").stdout)
    assert first["created"] is True and second["created"] is False
    assert first["keyid"] == second["keyid"] and second["custodian"] == "990001"
    key = dock_dir / "keys" / "devices" / f"{first['device_id']}.key"
    assert key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("serial", ["../../etc", "a/b", ".hidden", "x" * 65, "名字", ""])
def test_a_recorder_serial_never_becomes_a_path(serial):
    from agent.dock import device_id_for
    from agent.link.driver import Identity
    from bodycam.errors import BodycamError

    with pytest.raises(BodycamError, match="cannot be used as a device id"):
        device_id_for(Identity(serial=serial))
