"""Footage recorded before a recorder's clock was set keeps its true time (A2 Art.13; issue 12,
item 1). A recorder days or minutes slow records, is armed (its clock set), records again, and
is docked: every segment's corrected start lies within its stated uncertainty of the true start
the emulator recorded at. A clock set again behind the dock's back gives ``time_uncertain``.
Real pty emulators, a real chronyd reference, real dock ledgers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from agent.emulator.state import RecordingSpec
from agent.emulator.videogen import plan_segments, segment_name
from bodycam.cli import cli
from ledger.store import Ledger

NS = 1_000_000_000
PROFILE = "zfy-e12-gat947"  # 1-s clock, local time +08:00, names to the second
DAY_S = 86400.0
CLIP = {"duration_s": 1, "count": 2, "gap_after_s": 30, "width": 160, "height": 120, "fps": 5}
READY = {"storage_total_mib": 64000, "storage_free_mib": 60000, "battery_pct": 100, "clock_drift_ppm": 40}


@pytest.fixture
def dock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("BODYCAM_ZFY_PASSWORD", "000000")
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-t"]).exit_code == 0
    return d


def run(dock_dir, *args):
    return CliRunner().invoke(cli, ["--config", str(dock_dir / "bodycam.toml"), *args])


def truth(rec, specs: list[dict], offset_s: float) -> dict[str, int]:
    """File name → true start (ns), as the emulator wrote the card."""
    planned = plan_segments([RecordingSpec.model_validate(s) for s in specs])
    return {segment_name(rec.profile, p, offset_s): round(p.true_start.timestamp() * 1e6) * 1000 for p in planned}


def arm_then_record(dock_dir, ntp: str, emulated_recorder, tmp_path, offset_s: float,
                    later_offset_s: float | None = None):
    """A recorder ``offset_s`` off records two clips two hours ago, is armed, records two more
    (its clock then ``later_offset_s`` off when given: set again without the dock), and is docked.
    Returns the segments as ``segments --json`` lists them and the true start of each file."""
    card = tmp_path / "card"
    earlier = [{**CLIP, "start": (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()}]
    rec = emulated_recorder(PROFILE, {"clock_offset_s": offset_s, "recordings": earlier, **READY},
                            storage_dir=card, mount_root=dock_dir / "mnt")
    enrolled = run(dock_dir, "device", "enroll", "--port", rec.port, "--profile", PROFILE)
    assert enrolled.exit_code == 0, enrolled.output
    armed = run(dock_dir, "device", "arm", "--port", rec.port, "--profile", PROFILE, "--ntp-server", ntp, "--json")
    assert armed.exit_code == 0, armed.output
    set_to = rec.emulator.clock.offset_s()  # the truth after the set
    true_starts = truth(rec, earlier, offset_s)
    rec.stop()

    # Recorded after arming, on the clock as it stands (or as someone set it since).
    now = later_offset_s if later_offset_s is not None else set_to
    later = [{**CLIP, "gap_after_s": 0, "start": (datetime.now(UTC) + timedelta(seconds=0.2)).isoformat()}]
    time.sleep(2.5)  # let them end before the recorder is docked
    again = emulated_recorder(PROFILE, {"clock_offset_s": now, "recordings": later, **READY},
                              storage_dir=card, mount_root=dock_dir / "mnt")
    true_starts |= truth(again, later, now)
    docked = run(dock_dir, "dock", "--port", again.port, "--profile", PROFILE, "--activity", "patrol",
                 "--ntp-server", ntp, "--json")
    assert docked.exit_code == 0, docked.output
    assert json.loads(docked.stdout)["segments"] == 4
    listed = run(dock_dir, "segments", "--json")
    assert listed.exit_code == 0, listed.output
    assert run(dock_dir, "ledger", "verify", str(dock_dir / "ledger.db")).exit_code == 0
    return json.loads(listed.stdout)["segments"], true_starts, docked


@pytest.fixture
def ntp(ntp_server) -> str:
    return ntp_server().address


def error_s(seg: dict, true_starts: dict[str, int]) -> float:
    name = seg["source_name"].rsplit("/", 1)[-1]
    return (seg["start_ns"] - true_starts[name]) / NS


@pytest.mark.parametrize("offset_s", [-3 * DAY_S, -180.0], ids=["3 days slow", "180 s slow (the demo)"])
def test_every_file_before_and_after_arming_is_within_its_stated_uncertainty(dock_dir, ntp, emulated_recorder,
                                                                             tmp_path, offset_s):
    segs, true_starts, _ = arm_then_record(dock_dir, ntp, emulated_recorder, tmp_path, offset_s)
    assert len(segs) == 4
    for seg in segs:
        assert "time_uncertain" not in seg["flags"], seg
        unc = seg["time_uncertainty_ms"]
        assert unc is not None and abs(error_s(seg, true_starts)) * 1000 <= unc, (seg, error_s(seg, true_starts))
        assert unc < 3000  # a second of name stamp, the measurements, 2 h at 100 ppm
    before, after = segs[:2], segs[2:]
    # Before the set: corrected by the offset in force then (days or minutes), flagged so.
    assert all(s["flags"][:2] == ["time_corrected", "clock_drifted"] for s in before)
    # After it: the clock was right; a correction below its resolution is no correction.
    assert all(s["flags"] == [] for s in after), after
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        seg = next(ledger.entries(kind="segment"))
        assert seg.record.time_corrected and seg.record.time_uncertainty_ms == before[0]["time_uncertainty_ms"]


def test_a_clock_set_again_without_the_dock_gives_time_uncertain(dock_dir, ntp, emulated_recorder, tmp_path):
    """Armed, then set an hour back by hand (no calibration between the two sets): the history
    cannot say which clock stamped which file, so every file is flagged, and any bound it states
    still holds."""
    segs, true_starts, docked = arm_then_record(dock_dir, ntp, emulated_recorder, tmp_path, -3 * DAY_S,
                                                later_offset_s=-3600.0)
    assert len(segs) == 4
    assert all("time_uncertain" in s["flags"] for s in segs), segs
    for seg in segs:
        if seg["time_uncertainty_ms"] is not None:
            assert abs(error_s(seg, true_starts)) * 1000 <= seg["time_uncertainty_ms"], seg
    # the best guess for what was recorded after the hidden set is the clock as the dock found it
    assert all(abs(error_s(s, true_starts)) < 2 for s in segs[2:]), segs
    problems = json.loads(docked.stdout)["problems"]
    assert any("flagged time_uncertain: the clock moved" in p and "without the dock" in p for p in problems), problems
