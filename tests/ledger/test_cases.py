"""Long-term cases (A2 Art.10): a signed flag with one of the five reasons; every segment of the case,
including footage docked later, inherits the retention class."""

from __future__ import annotations

import json

import pytest

from agent.offload.files import offload, open_session
from agent.store import DockStore
from bodycam.errors import RefusedError
from ledger.cases import (
    ART10_REASONS,
    case_retention,
    flag_case,
    long_term_cases,
    retention_class,
    segment_retention,
)
from ledger.envelope import seal
from ledger.keys import Signer, load_signer
from ledger.records import CaseFlag
from ledger.verify import verify_ledger
from tests.fixtures.justify import DEVICE, OFFICER, OFFICER_PASS_ENV
from tests.fixtures.media import write_opencv_video


@pytest.mark.parametrize("reason", [1, 2, 3, 4, 5])
def test_flag_makes_the_case_and_its_segments_long_term(gap_dock, reason):
    d = gap_dock
    with d.ledger() as lg:
        assert retention_class(lg, "case-77") == "standard"
    res = d.run("case", "flag", "case-77", "--reason", str(reason), "--by", "super-1",
                "--key", str(d.keys["super-1"]), "--note", "party objects", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["retention"], out["reasons"], out["segments"]) == ("long_term", [reason], 4)
    assert out["reason_texts"] == [ART10_REASONS[reason]]
    with d.ledger() as lg:
        assert retention_class(lg, "case-77") == "long_term"
        assert retention_class(lg, "case-78") == "standard" and retention_class(lg, None) == "standard"
        segs = list(lg.entries(kind="segment"))
        assert len(segs) == 4 and {segment_retention(lg, e) for e in segs} == {"long_term"}
        assert set(long_term_cases(lg)) == {"case-77"}
    shown = json.loads(d.run("case", "show", "case-77", "--json").stdout)
    assert shown["retention"] == "long_term" and len(shown["segments"]) == 4
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0


def test_segments_docked_after_the_flag_inherit_it(gap_dock):
    d = gap_dock
    assert d.run("case", "flag", "case-77", "--reason", "3", "--by", OFFICER, "--key", str(d.keys[OFFICER]),
                 "--passphrase-env", OFFICER_PASS_ENV).exit_code == 0
    write_opencv_video(d.mount / "DCIM" / "100MEDIA" / "VID_20261130_081900_0009.mp4", frames=17, fps=10)
    dock = load_signer(d.root / "keys" / "dock.key")
    with d.ledger() as lg:
        session = open_session(lg, dock, session_id="s2", dock_id="dock-j", device_id=DEVICE,
                               officer_id=OFFICER, case_id="case-77")
        summary = offload(d.mount, device_id=DEVICE, device_signer=d.device, dock_signer=dock, ledger=lg,
                          store=DockStore(d.store_dir), session=session, officer_id=OFFICER, case_id="case-77",
                          mount_wait_s=2)
        assert summary.segments == 1
        newest = list(lg.entries(kind="segment"))[-1]
        assert newest.body["seq"] == 4 and segment_retention(lg, newest) == "long_term"


def test_flag_refusals(gap_dock):
    d = gap_dock
    res = d.run("case", "flag", "case-77", "--reason", "6", "--by", "super-1", "--key", str(d.keys["super-1"]))
    assert res.exit_code == 2
    res = d.run("case", "flag", "case-77", "--reason", "1", "--by", "witness-1", "--key", str(d.keys["witness-1"]))
    assert res.exit_code == 3 and "witness-1 is enrolled as reviewer" in res.output
    res = d.run("case", "flag", "case-77", "--reason", "1", "--by", "head-1", "--key", str(d.keys["super-1"]))
    assert res.exit_code == 3 and "enrolled for 'super-1', not 'head-1'" in res.output
    with d.ledger() as lg:
        with pytest.raises(RefusedError, match="not enrolled"):
            flag_case(lg, "case-77", 1, "super-1", Signer.generate())
        assert retention_class(lg, "case-77") == "standard"


def test_flag_by_the_wrong_person_does_not_count_and_is_reported(gap_dock):
    d = gap_dock
    with d.ledger() as lg:
        body = CaseFlag(case_id="case-77", reason=2, by="head-1", flagged_ns=1_796_000_000_000_000_000)
        lg.append(seal(body, d.signer("officer-8")), require_trusted=True)
        assert case_retention(lg, "case-77").retention == "standard"
        report = verify_ledger(lg)
    assert [p.check for p in report.problems] == ["case_flag"]
    assert "enrolled for 'officer-8', not 'head-1'" in report.problems[0].message
