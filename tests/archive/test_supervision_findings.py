"""Supervision report, custody findings (A2 Art.20–22): footage not handed in after a case closed,
footage that cannot be decoded, times corrected beyond tolerance, refused accesses, and the
accesses counted per unit and officer. Pure functions with tables; then `bodycam case close` and
`bodycam archive report` as installed on a real archive (made by `bodycam init`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.config import ArchiveConfig
from archive.report import (
    DAY_NS,
    Closure,
    correction_ns,
    count_accesses,
    not_handed_in,
    refused_accesses,
    time_flagged,
    undecodable,
)
from ledger.envelope import seal
from ledger.keys import Signer, load_signer, write_private_key
from ledger.people import enroll_person
from ledger.records import Activity, Calibration, CaseOpen, Enrollment, Media, Segment
from ledger.records.access import Access, AccessRequest
from ledger.records.custody import Reference
from ledger.store import Entry, Ledger
from ledger.verify import verify_ledger

BODYCAM = str(Path(sys.executable).with_name("bodycam"))
NOON = int(datetime(2026, 6, 10, 12, tzinfo=UTC).timestamp()) * 10**9
HOUR = 3600 * 10**9
MS = 1_000_000


def _seg(device: str = "cam-1", seq: int = 0, start: int = NOON, **extra) -> Segment:
    fields = {"device_id": device, "seq": seq, "prev": "0" * 64,
              "media": Media(sha256=f"{seq + 1:064x}", size=2048, container="mp4", codec="h264", width=1920,
                             height=1080, fps="30/1", frames=18000, duration_ms=600_000),
              "device_start": "2026-06-10 20:00:00", "start_ns": start, "end_ns": start + 600 * 10**9,
              "officer_id": "off-" + device[-1], "case_id": "case-1", "unit": "Unit A",
              "source_name": f"VID_{seq:05d}.MP4", "decodable": True}
    return Segment(**{**fields, **extra})


def _entry(rec, h: str = "e" * 64, received: int = NOON) -> Entry:
    return Entry(0, rec.kind, h, None, b"", received, rec.model_dump())  # type: ignore[arg-type]


ACT = Activity(activity="act-1", case_id="case-1", activity_type="inspection", place="Market St",
               start_ns=NOON - 6 * DAY_NS, end_ns=NOON - 6 * DAY_NS + HOUR, officers=["off-1", "off-2"], by="clerk-1")
CLOSED = Closure("case-1", "Unit A", NOON - 5 * DAY_NS, "c" * 64, (("a" * 64, ACT),))
DURING = (ACT.start_ns + HOUR // 2, ACT.start_ns + HOUR)


@pytest.mark.parametrize(("name", "footage", "now", "days", "missing"), [
    ("A2 Art.22(3) both handed in", {"off-1": [(*DURING, NOON - 5 * DAY_NS)], "off-2": [(*DURING, NOON - 4 * DAY_NS)]},
     NOON, 3, []),
    ("A2 Art.22(3) one officer has nothing", {"off-1": [(*DURING, NOON - 5 * DAY_NS)]}, NOON, 3, ["off-2"]),
    ("A2 Art.22(3) footage of another time does not count",
     {"off-1": [(ACT.end_ns + 1, ACT.end_ns + HOUR, NOON - 5 * DAY_NS)], "off-2": [(*DURING, NOON - 5 * DAY_NS)]},
     NOON, 3, ["off-1"]),
    ("A2 Art.22(3) handed in after the limit", {"off-1": [(*DURING, NOON - DAY_NS)], "off-2": [(*DURING, NOON)]},
     NOON, 3, ["off-1", "off-2"]),
    ("A2 Art.20 within the limit nothing is due yet", {}, NOON, 7, []),
    ("A2 Art.20 limit zero", {"off-1": [(*DURING, NOON - 5 * DAY_NS)]}, NOON, 0, ["off-2"]),
])
def test_a2_art22_footage_not_handed_in_after_a_case_closed(name, footage, now, days, missing):
    found = not_handed_in([CLOSED], footage, now, days)
    assert [f.officer for f in found] == missing, name
    for f in found:
        assert f.kind == "not_handed_in" and f.unit == "Unit A" and f.entries == ("c" * 64, "a" * 64)
        assert str(f.fault).startswith("A2 Art.22(3)") and "act-1" in str(f.message)


@pytest.mark.parametrize(("seg", "flagged"), [
    (_seg(), False),
    (_seg(decodable=False), True),
    (_seg(flags=["not_decodable"]), True),
    (_seg(flags=["last_frame_unchecked"]), False),
])
def test_a2_art22_footage_that_cannot_be_decoded_is_flagged(seg, flagged):
    found = undecodable([_entry(seg)])
    assert bool(found) is flagged
    if found:
        assert found[0].kind == "not_decodable" and found[0].device == "cam-1" and found[0].officer == "off-1"


def _cal(offset_us: int | None) -> Calibration:
    return Calibration(device_id="cam-1", reference=Reference(kind="ntp"), uncertainty_us=800, tolerance_us=1000,
                       result="passed", measured_ns=NOON, offset_before_us=offset_us)


@pytest.mark.parametrize(("seg", "cal", "expected"), [
    # the dock wrote an absolute device time: 20:00:00+0800 = 12:00:00Z, corrected to 12:00:05.5Z
    (_seg(start=NOON + 5_500 * MS, device_start="mtime:2026-06-10T20:00:00.000000000+0800"), None, 5_500 * MS),
    (_seg(start=NOON - 2 * MS, device_start="mtime:2026-06-10T12:00:00.000000000+0000"), _cal(9), -2 * MS),
    (_seg(), _cal(-3_000_000), -3_000 * MS),  # a name stamp has no zone: the docking's measured offset
    (_seg(), _cal(None), None),
    (_seg(), None, None),
    (_seg(device_start="mtime:1234ns"), None, None),
])
def test_a2_art13_the_correction_applied_to_a_segment(seg, cal, expected):
    assert correction_ns(seg, cal) == expected


@pytest.mark.parametrize(("seg", "corr", "tolerance", "why"), [
    (_seg(time_corrected=True), 900 * MS, 1000, []),
    (_seg(time_corrected=True), -1_500 * MS, 1000, ["corrected by 1500 ms"]),
    (_seg(time_uncertainty_ms=2500), None, 1000, ["uncertain by ±2500 ms"]),
    (_seg(time_uncertainty_ms=2500), None, 3000, []),
    (_seg(flags=["time_uncertain"]), None, 1000, ["time_uncertain"]),
    (_seg(flags=["clock_unknown", "dock_receive_time"]), None, 1000, ["clock_unknown"]),
    (_seg(time_uncertainty_ms=5000, flags=["time_uncertain"]), 9_000 * MS, 1000,
     ["corrected by 9000 ms", "uncertain by ±5000 ms", "time_uncertain"]),
])
def test_a2_art22_time_corrected_beyond_tolerance_is_flagged(seg, corr, tolerance, why):
    found = time_flagged([(_entry(seg), corr)], tolerance)
    if not why:
        assert found == []
        return
    [f] = found
    assert f.kind == "time" and str(f.fault).startswith("A2 Art.22(4)")
    text = str(f.message)
    for w in why:
        assert w in text, text


def _access(outcome: str, purpose: str | None = None, segment: str | None = "d" * 64) -> Access:
    reasons = ["the request is not approved by the bureau head (A2 Art.18)"] if outcome == "refused" else []
    return Access(request=None, segment=segment, outcome=outcome, purpose=purpose, reasons=reasons, by="arch-1",
                  accessed_ns=NOON)


def test_a2_art18_20_accesses_are_counted_per_unit_and_officer_and_refusals_are_findings():
    seg1, seg2 = _seg(), _seg("cam-2", unit=None)
    rows = [("1" * 64, _access("viewed"), seg1), ("2" * 64, _access("viewed", "contact_sheet"), seg1),
            ("3" * 64, _access("viewed", "contact_sheet"), seg1), ("4" * 64, _access("refused", "export"), seg2),
            ("5" * 64, _access("refused", segment=None), None)]
    units = {"cam-2": "Unit B"}
    counts = [(c.unit, c.officer, c.outcome, c.purpose, c.count) for c in
              count_accesses(((a, s) for _h, a, s in rows), units)]
    assert counts == [(None, None, "refused", "copy", 1), ("Unit A", "off-1", "viewed", "contact_sheet", 2),
                      ("Unit A", "off-1", "viewed", "copy", 1), ("Unit B", "off-2", "refused", "export", 1)]
    found = refused_accesses(rows, units)
    assert [(f.kind, f.unit, f.officer, f.device, f.entries) for f in found] == [
        ("access_refused", "Unit B", "off-2", "cam-2", ("4" * 64,)), ("access_refused", None, None, None, ("5" * 64,))]
    assert "by arch-1 refused: the request is not approved" in str(found[0].message)


# --- seeded archive, commands as installed ------------------------------------------------------------


def _run(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES")}
    return subprocess.run([BODYCAM, "--config", str(config), *args], capture_output=True, text=True, timeout=120,
                          env=env)


def test_a2_art20_22_report_finds_unhanded_footage_undecodable_bad_times_and_refused_access(tmp_path):
    d = tmp_path / "archive"
    res = subprocess.run([BODYCAM, "init", "--role", "archive", "--dir", str(d)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    config = d / "bodycam.toml"
    cfg = ArchiveConfig(data_dir=d)
    admin = load_signer(cfg.path(cfg.admin_key))
    clerk = Signer.generate()
    write_private_key(tmp_path / "clerk.key", clerk)
    h: dict[str, str] = {}
    arrived = iter(range(NOON - 5 * DAY_NS, NOON, 1000))  # everything here reached the archive 5 days ago
    with Ledger.open(cfg.path(cfg.ledger), create=False, clock=lambda: next(arrived)) as lg:
        enroll_person(lg, admin, "clerk-1", "archivist", clerk.public_key, now_ns=NOON - 30 * DAY_NS)
        for pid in ("off-1", "off-2"):
            enroll_person(lg, admin, pid, "officer", Signer.generate().public_key, now_ns=NOON - 30 * DAY_NS,
                          unit="Unit A", certificate_no=f"C-{pid}", valid_from_ns=NOON - 90 * DAY_NS,
                          valid_until_ns=NOON + 90 * DAY_NS)

        def add(body, signer=admin) -> str:
            return lg.append(seal(body, signer), require_trusted=True).entry_hash

        add(CaseOpen(case_id="case-1", title="t", unit="Unit A", case_type="inspection", officers=["off-1", "off-2"],
                     opened_ns=NOON - 30 * DAY_NS, by="clerk-1"), clerk)
        h["act"] = add(ACT, clerk)
        signers = {}
        for dev in ("cam-1", "cam-2", "cam-3"):
            s = signers[dev] = Signer.generate()
            h["enr-" + dev] = add(Enrollment(subject_type="device", subject_id=dev, public_key=s.public_key.b64,
                                             keyid=s.public_key.keyid, enrolled_ns=NOON - 30 * DAY_NS,
                                             custodian="off-1" if dev != "cam-2" else "off-2", unit="Unit A"))
            add(Calibration(device_id=dev, reference=Reference(kind="ntp"), uncertainty_us=800, tolerance_us=1000,
                            result="passed", measured_ns=NOON - 20 * DAY_NS))
        # cam-1 (off-1): the activity's footage, its clock 4.2 s off; cam-3 (off-1): footage nobody can decode
        h["seg-cam-1"] = add(_seg("cam-1", 0, DURING[0], prev=h["enr-cam-1"], time_corrected=True,
                                  device_start="mtime:2026-06-04T12:29:55.800000000+0000",
                                  activity="act-1"), signers["cam-1"])
        h["seg-cam-3"] = add(_seg("cam-3", 0, NOON - 4 * DAY_NS, prev=h["enr-cam-3"], decodable=False,
                                  flags=["not_decodable"]), signers["cam-3"])
        h["acc-refused"] = add(Access(segment=h["seg-cam-1"], outcome="refused", purpose="contact_sheet",
                                      reasons=["the request is not approved by the bureau head (A2 Art.18)"],
                                      by="clerk-1", accessed_ns=NOON - DAY_NS), clerk)
        req = add(AccessRequest(case_id="case-1", requester="Wang Li", org="District Court", reason="hearing",
                                by="clerk-1", requested_ns=NOON - 2 * HOUR), clerk)
        add(Access(request=req, segment=h["seg-cam-1"], outcome="viewed", by="clerk-1", accessed_ns=NOON - HOUR),
            clerk)

    res = _run(config, "case", "close", "case-1", "--by", "clerk-1", "--key", str(tmp_path / "clerk.key"),
               "--at", "2026-06-05T12:00:00Z", "--json")
    assert res.returncode == 0, res.stderr
    h["close"] = json.loads(res.stdout)["entry"]
    res = _run(config, "case", "close", "case-1", "--by", "clerk-1", "--key", str(tmp_path / "clerk.key"))
    assert res.returncode == 3 and "closed twice" in res.stderr

    res = _run(config, "archive", "report", "--day", "2026-06-10", "--undocked-days", "60", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    found = {(f["kind"], f["device"] or f["officer"]): f for f in report["findings"]}
    assert set(found) == {("not_handed_in", "off-2"), ("not_decodable", "cam-3"), ("time", "cam-1"),
                          ("access_refused", "cam-1")}
    assert found["not_handed_in", "off-2"]["entries"] == [h["close"], h["act"]]
    assert found["not_decodable", "cam-3"]["entries"] == [h["seg-cam-3"]]
    assert found["time", "cam-1"]["entries"] == [h["seg-cam-1"]]
    assert "corrected by 4200 ms" in found["time", "cam-1"]["message"]
    assert found["access_refused", "cam-1"]["entries"] == [h["acc-refused"]]
    for f in report["findings"]:
        assert f["fault"].startswith("A2 Art.22(") and f["unit"] == "Unit A"
    assert report["accesses"] == [
        {"unit": "Unit A", "officer": "off-1", "outcome": "refused", "purpose": "contact_sheet", "count": 1},
        {"unit": "Unit A", "officer": "off-1", "outcome": "viewed", "purpose": "copy", "count": 1}]

    # limits are options: a wider time tolerance and a longer hand-in limit drop those findings
    res = _run(config, "archive", "report", "--day", "2026-06-10", "--undocked-days", "60", "--close-days", "10",
               "--time-tolerance-ms", "5000", "--json")
    kinds = {f["kind"] for f in json.loads(res.stdout)["findings"]}
    assert kinds == {"not_decodable", "access_refused"}

    table = _run(config, "archive", "report", "--day", "2026-06-10", "--undocked-days", "60")
    assert table.returncode == 0, table.stderr
    for word in ("4 finding(s)", "no footage of off-2 for activity act-1", "cannot be decoded", "contact sheet",
                 "ACCESS", "COUNT", "refused", "viewed"):
        assert word in table.stdout, word
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        verified = verify_ledger(lg)
    assert verified.ok, verified.problems
