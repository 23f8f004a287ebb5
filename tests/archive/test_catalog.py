"""Finding footage (A2 Art.15): segments classified by case, handling unit, officer, device and
time of use, found through the ledger's index columns."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.catalog import case_timeline, find_segments
from bodycam.cli import cli
from bodycam.formats import rfc3339
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import Activity, Attachment, Calibration, CaseOpen, Gap, Reference
from ledger.store import Ledger
from tests.fixtures.ledger import T0_NS, enrollment, segment

TEN_MIN = 600_000_000_000


def _build(path: Path) -> Signer:
    root, cam1, cam2 = Signer.generate(), Signer.generate(), Signer.generate()
    envs = [seal(enrollment(root, "ledger_root", "archive-1"), root),
            seal(enrollment(Signer.generate(), "person", "off-7", role="officer", unit="patrol-1"), root),
            seal(enrollment(Signer.generate(), "person", "off-8", role="officer", unit="traffic-2"), root)]
    for device, signer, officer, cases in (("cam-1", cam1, "off-7", ["case-1", "case-1", "case-2"]),
                                           ("cam-2", cam2, "off-8", ["case-2", "case-3"])):
        dev = seal(enrollment(signer, "device", device, custodian=officer), root)
        envs.append(dev)
        prev = hashlib.sha256(dev.to_bytes()).hexdigest()
        for seq, case in enumerate(cases):
            env = seal(segment(device, seq, prev, officer=officer, case=case), signer)
            prev = hashlib.sha256(env.to_bytes()).hexdigest()
            envs.append(env)
    envs += [seal(r, root) for r in _case_records()]
    with Ledger.open(path) as lg:
        lg.append_many(envs, require_trusted=True)
    return root


def _case_records() -> list:
    at = T0_NS - TEN_MIN
    return [
        CaseOpen(case_id="case-1", title="Street vending", unit="patrol-1", case_type="penalty",
                 officers=["off-7"], opened_ns=at, by="clerk-1"),
        Activity(activity="act-1", case_id="case-1", activity_type="inspection", place="Market St",
                 start_ns=T0_NS, end_ns=T0_NS + 2 * TEN_MIN, officers=["off-7"], by="clerk-1"),
        Calibration(device_id="cam-1", reference=Reference(kind="ntp"), uncertainty_us=800, tolerance_us=1000,
                    result="passed", measured_ns=at + 1),
        Calibration(device_id="cam-1", reference=Reference(kind="ntp"), uncertainty_us=800, tolerance_us=1000,
                    result="passed", measured_ns=T0_NS + 9 * TEN_MIN),
        Calibration(device_id="cam-2", reference=Reference(kind="ntp"), uncertainty_us=800, tolerance_us=1000,
                    result="passed", measured_ns=at + 2),
        Gap(gap_type="gap", device_id="cam-1", after_seq=0, before_seq=1, start_ns=T0_NS + TEN_MIN,
            end_ns=T0_NS + TEN_MIN, officer_id="off-7", case_id="case-1"),
        Attachment(case_id="case-1", attachment_kind="notice", sha256="a" * 64, size=10, media_type="application/pdf",
                   file_name="notice.pdf", attached_ns=T0_NS + 3 * TEN_MIN, by="clerk-1"),
    ]


@pytest.fixture
def catalog(tmp_path: Path):
    _build(tmp_path / "ledger.db")
    with Ledger.open(tmp_path / "ledger.db", create=False) as lg:
        yield lg


def _found(lg: Ledger, **filters) -> list[tuple[str, int]]:
    return [(e.record.device_id, e.record.seq) for e in find_segments(lg, **filters)]


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, [("cam-1", 0), ("cam-1", 1), ("cam-1", 2), ("cam-2", 0), ("cam-2", 1)]),
    ({"case": "case-2"}, [("cam-1", 2), ("cam-2", 0)]),
    ({"officer": "off-8"}, [("cam-2", 0), ("cam-2", 1)]),
    ({"device": "cam-1", "case": "case-1"}, [("cam-1", 0), ("cam-1", 1)]),
    ({"unit": "patrol-1"}, [("cam-1", 0), ("cam-1", 1), ("cam-1", 2)]),
    ({"unit": "nobody"}, []),
    ({"start_ns": T0_NS + TEN_MIN + 1}, [("cam-1", 1), ("cam-1", 2), ("cam-2", 1)]),
    ({"end_ns": T0_NS + TEN_MIN - 1}, [("cam-1", 0), ("cam-2", 0)]),
    ({"start_ns": T0_NS + 2 * TEN_MIN + 1, "end_ns": T0_NS + 3 * TEN_MIN, "officer": "off-7"}, [("cam-1", 2)]),
])
def test_a2_art15_segments_are_found_by_case_unit_officer_device_and_time(catalog, filters, expected):
    assert _found(catalog, **filters) == expected


def _archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    res = CliRunner().invoke(cli, ["init", "--role", "archive", "--dir", str(root)])
    assert res.exit_code == 0, res.output
    for leftover in root.glob("ledger.db*"):
        leftover.unlink()
    _build(root / "ledger.db")
    return root


def test_a2_art15_archive_segments_command_filters_and_answers_in_json(tmp_path):
    root = _archive(tmp_path)

    def run(*args: str):
        res = CliRunner().invoke(cli, ["--config", str(root / "bodycam.toml"), "archive", "segments", *args])
        assert res.exit_code == 0, res.output
        return res.output

    out = json.loads(run("--unit", "traffic-2", "--from", rfc3339(T0_NS + TEN_MIN + 2_000_000_000), "--json"))
    assert [(s["device_id"], s["seq"], s["case_id"]) for s in out] == [("cam-2", 1, "case-3")]
    assert out[0]["start"] == rfc3339(T0_NS + TEN_MIN)
    text = run("--case", "case-1")
    assert "cam-1" in text and "cam-2" not in text and "2 segment(s)" in text
    assert "no footage matches" in run("--officer", "nobody")


def test_a2_art15_case_timeline_merges_activities_footage_gaps_calibrations_and_attachments(catalog):
    items = case_timeline(catalog, "case-1")
    assert [(i["kind"], i.get("device_id"), i.get("seq")) for i in items] == [
        ("case_open", None, None), ("calibration", "cam-1", None), ("activity", None, None),
        ("segment", "cam-1", 0), ("segment", "cam-1", 1), ("gap", "cam-1", None), ("attachment", None, None)]
    gap = next(i for i in items if i["kind"] == "gap")
    assert gap["state"] == "bare" and gap["approved"] is False
    assert case_timeline(catalog, "case-9") == []


def test_a2_art15_archive_case_command_shows_the_timeline(tmp_path):
    root = _archive(tmp_path)
    res = CliRunner().invoke(cli, ["--config", str(root / "bodycam.toml"), "archive", "case", "case-1", "--json"])
    assert res.exit_code == 0, res.output
    items = json.loads(res.output)
    assert items[0]["kind"] == "case_open" and items[0]["at"] == rfc3339(T0_NS - TEN_MIN)
    res = CliRunner().invoke(cli, ["--config", str(root / "bodycam.toml"), "archive", "case", "case-1"])
    assert res.exit_code == 0, res.output
    assert "7 item(s) in case case-1" in res.output and "notice.pdf" in res.output


def test_a2_art15_what_is_appended_after_a_query_is_found_by_the_next(tmp_path):
    """The catalogue keeps units' officers and cases and the longest segment up to date per ledger:
    a case opened, a long segment and a ledger rebuilt at the same path after a first query."""
    path = tmp_path / "ledger.db"
    root = _build(path)
    with Ledger.open(path, create=False) as lg:
        assert _found(lg, unit="traffic-2") == [("cam-2", 0), ("cam-2", 1)]
        assert _found(lg, start_ns=T0_NS + 30 * TEN_MIN) == []
        clerk_key, dev_key = Signer.generate(), Signer.generate()
        envs = [seal(enrollment(clerk_key, "person", "clerk-9", role="archivist"), root),
                seal(enrollment(dev_key, "device", "cam-9", custodian="off-9"), root)]
        lg.append_many(envs, require_trusted=True)
        prev = hashlib.sha256(envs[1].to_bytes()).hexdigest()
        long_one = segment("cam-9", 0, prev, officer="off-9", case="case-9").model_copy(
            update={"end_ns": T0_NS + 40 * TEN_MIN})  # 40 segments long: reaches far past every other
        lg.append_many([seal(CaseOpen(case_id="case-9", title="Late", unit="traffic-2", case_type="other",
                                      officers=["off-9"], opened_ns=T0_NS, by="clerk-9"), clerk_key),
                        seal(long_one, dev_key)], require_trusted=True)
        assert _found(lg, unit="traffic-2") == [("cam-2", 0), ("cam-2", 1), ("cam-9", 0)]
        assert _found(lg, start_ns=T0_NS + 30 * TEN_MIN, end_ns=T0_NS + 31 * TEN_MIN) == [("cam-9", 0)]
    path.unlink()
    for side in tmp_path.glob("ledger.db-*"):
        side.unlink()
    _build(path)  # another ledger at the same path: nothing of the first one is remembered
    with Ledger.open(path, create=False) as lg:
        assert _found(lg, unit="traffic-2") == [("cam-2", 0), ("cam-2", 1)]
        assert _found(lg, start_ns=T0_NS + 30 * TEN_MIN) == []
