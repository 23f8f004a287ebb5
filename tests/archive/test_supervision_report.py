"""Supervision report (A2 Art.20–22): `bodycam archive report` on a real archive (made by
`bodycam init`) whose ledger holds an undocked recorder, an unjustified gap older than the limit,
unbound footage, footage without a prior calibration, and one clean recorder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.config import ArchiveConfig
from archive.report import DAY_NS, supervision_report
from ledger.envelope import seal
from ledger.keys import Signer, load_signer
from ledger.records import Calibration, CaseOpen, Enrollment, Gap, Media, Segment
from ledger.records.custody import Reference
from ledger.store import Ledger

BODYCAM = str(Path(sys.executable).with_name("bodycam"))
DAY = "2026-06-10"
NOON = int(datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp()) * 10**9
HOUR = 3600 * 10**9


def _segment(device: str, seq: int, prev: str, start: int, *, case_id: str | None) -> Segment:
    return Segment(device_id=device, seq=seq, prev=prev,
                   media=Media(sha256=f"{seq + 1:064x}", size=2048, container="mp4", codec="h264", width=1920,
                               height=1080, fps="30/1", frames=18000, duration_ms=600_000),
                   device_start="2026-01-01 00:00:00", start_ns=start, end_ns=start + 600 * 10**9,
                   officer_id="off-" + device[-1], case_id=case_id, unit="Unit A", source_name=f"VID_{seq:05d}.MP4",
                   decodable=True)


def _calibration(device: str, at: int) -> Calibration:
    return Calibration(device_id=device, reference=Reference(kind="system", synchronised=True), uncertainty_us=1000,
                       tolerance_us=500_000, result="passed", measured_ns=at)


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    d = tmp_path / "archive"
    res = subprocess.run([BODYCAM, "init", "--role", "archive", "--dir", str(d)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    cfg = ArchiveConfig(data_dir=d)
    admin = load_signer(cfg.path(cfg.admin_key))
    h: dict[str, str] = {}
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        def add(body, signer=admin) -> str:
            return lg.append(seal(body, signer), require_trusted=True).entry_hash

        add(CaseOpen(case_id="case-1", title="t", unit="Unit A", case_type="inspection", officers=["off-1"],
                     opened_ns=NOON - 30 * DAY_NS, by="admin"))
        signers = {}
        for dev in ("cam-1", "cam-2", "cam-3", "cam-4", "cam-5"):  # 1 clean, 2 undocked, 3 gap, 4 unbound, 5 no cal.
            s = signers[dev] = Signer.generate()
            pub = s.public_key
            h["enr-" + dev] = add(Enrollment(subject_type="device", subject_id=dev, public_key=pub.b64,
                                             keyid=pub.keyid, enrolled_ns=NOON - 30 * DAY_NS,
                                             custodian="off-" + dev[-1], unit="Unit A"))
        for dev in ("cam-1", "cam-2", "cam-3", "cam-4"):
            h["cal-" + dev] = add(_calibration(dev, NOON - 20 * DAY_NS))
        when = {"cam-1": NOON - HOUR, "cam-2": NOON - 5 * DAY_NS, "cam-3": NOON - HOUR, "cam-4": NOON - HOUR,
                "cam-5": NOON - HOUR}
        for dev, start in when.items():
            h["seg-" + dev] = add(_segment(dev, 0, h["enr-" + dev], start,
                                           case_id="case-never-opened" if dev == "cam-4" else "case-1"), signers[dev])
        h["gap-cam-3"] = add(Gap(gap_type="gap", device_id="cam-3", after_seq=0, before_seq=1,
                                 start_ns=NOON - 10 * DAY_NS, end_ns=NOON - 9 * DAY_NS, officer_id="off-3"))
    return d / "bodycam.toml", h


def _run(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES")}
    return subprocess.run([BODYCAM, "--config", str(config), *args], capture_output=True, text=True, timeout=120,
                          env=env)


def test_a2_art20_22_report_finds_each_fault_with_its_entries_and_not_the_clean_recorder(archive):
    config, h = archive
    res = _run(config, "archive", "report", "--day", DAY, "--json")
    assert res.returncode == 0, res.stderr
    found = {(f["kind"], f["device"]): f for f in json.loads(res.stdout)["findings"]}
    assert set(found) == {("undocked", "cam-2"), ("gap", "cam-3"), ("unbound", "cam-4"),
                          ("no_calibration", "cam-5")}
    assert found["undocked", "cam-2"]["entries"] == [h["enr-cam-2"], h["seg-cam-2"]]
    assert found["gap", "cam-3"]["entries"] == [h["gap-cam-3"]]
    assert found["unbound", "cam-4"]["entries"] == [h["seg-cam-4"]]
    assert found["no_calibration", "cam-5"]["entries"] == [h["seg-cam-5"]]
    for f in found.values():
        assert f["fault"].startswith("A2 Art.22(") and f["unit"] == "Unit A"
    assert found["gap", "cam-3"]["officer"] == "off-3"
    assert not any(dev == "cam-1" for _k, dev in found)

    table = _run(config, "archive", "report", "--day", DAY)
    assert table.returncode == 0, table.stderr
    assert "4 finding(s)" in table.stdout and "A2 Art.22(3)" in table.stdout
    assert "cam-1" not in table.stdout


def test_a2_art20_22_limits_decide_what_is_old(archive):
    config, _h = archive
    cfg = ArchiveConfig(data_dir=config.parent)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        kinds = {f.kind for f in supervision_report(lg, NOON, undocked_days=10, gap_days=30)}
    assert kinds == {"unbound", "no_calibration"}
