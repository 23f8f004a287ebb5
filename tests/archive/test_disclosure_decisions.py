"""Decisions to publish (A1 Art.9) and their deadlines (A1 Art.14): each type's required fields,
the 双公示 fields of a penalty with the GB 32100-2015 checksum of unified social credit codes, every
missing or malformed field named at once, deadlines in working days on the real 2026 calendar with
the data recorded beside them, a year no data covers refused, decision files bounded."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from archive.disclosure.decisions import DecisionInvalid, add_decision, read_decision_file
from archive.disclosure.report import disclosure_report
from archive.workdays import CalendarGap, WorkCalendar
from bodycam.errors import FormatError, RefusedError
from ledger.records.disclosure import DisclosureDecision, decision_problems, uscc_check_char, uscc_problem
from ledger.verify import verify_ledger
from tests.fixtures.disclosure import decision, disclosure_archive

NOW = 1_796_083_200 * 10**9  # 2026-12-01T00:00:00Z
DECISION_DAY = 1_770_868_800 * 10**9  # 2026-02-12T04:00:00Z, noon in Guangzhou


@pytest.fixture
def arc(tmp_path: Path):
    return disclosure_archive(tmp_path / "archive")


@pytest.mark.parametrize(("type_", "sample"), [
    ("penalty", "penalty"), ("penalty", "penalty_person"), ("coercion", "coercion"), ("inspection", "inspection")])
def test_a1_art9_complete_decisions_of_each_type_are_accepted(type_, sample):
    assert [str(p) for p in decision_problems(type_, decision(sample))] == []


@pytest.mark.parametrize(("type_", "sample", "drop", "needle"), [
    ("penalty", "penalty", "CF_YJ", "CF_YJ (处罚依据 (legal basis)) is missing (A1 Art.9)"),
    ("penalty", "penalty", "execution", "execution (执行情况 (execution status)) is missing"),
    ("penalty", "penalty", "evidence", "evidence (证据 (evidence)) is missing"),
    ("penalty", "penalty", "severity", "severity"),
    ("penalty", "penalty", "CF_XDR_SHXYM", "CF_XDR_SHXYM is missing: a legal person"),
    ("penalty", "penalty", "CF_FRDB", "CF_FRDB (法定代表人) is missing"),
    ("penalty", "penalty", "CF_NR_FK", "CF_NR_FK (罚款金额，万元) is missing for a fine"),
    ("coercion", "coercion", "method", "method (强制方式 (method)) is missing"),
    ("coercion", "coercion", "result", "result (结果 (result)) is missing"),
    ("inspection", "inspection", "rectification", "rectification (整改情况 (rectification)) is missing"),
    ("inspection", "inspection", "sampled", "sampled (抽查内容 (sampled content)) is missing"),
])
def test_a1_art9_each_missing_field_is_named(type_, sample, drop, needle):
    problems = [str(p) for p in decision_problems(type_, decision(sample, **{drop: ""}))]
    assert any(needle in p for p in problems), problems


def test_a1_art9_every_missing_and_malformed_field_is_named_in_one_refusal(arc):
    bad = decision("penalty", CF_XDR_SHXYM="91350100M000100Y44", CF_JDRQ="2026-02-30", CF_NR_FK="二十",
                   severity="中等", CF_CFLB="罚金", CF_SY="", CF_YJ="", nickname="x")
    with arc.open() as lg, pytest.raises(DecisionInvalid) as exc:
        add_decision(lg, arc.signers["off-1"], "off-1", type="penalty", fields=bad, now_ns=NOW)
    text = str(exc.value)
    for needle in ("unknown fields for a penalty decision: nickname", "CF_SY (违法事实 (facts)) is missing",
                   "CF_YJ (处罚依据 (legal basis)) is missing", "CF_XDR_SHXYM: '91350100M000100Y44' check character "
                   "is wrong (GB 32100-2015 checksum): expected 3", "CF_JDRQ: '2026-02-30' is not a date",
                   "CF_NR_FK: '二十' is not an amount in 万元", "severity: must be one of 轻微/一般/严重",
                   "CF_CFLB: 罚金 is not a category of 行政处罚法 Art.9"):
        assert needle in text, text
    assert len(exc.value.problems) == 8
    with arc.open() as lg:
        assert list(lg.entries(kind="disclosure_decision")) == []


@pytest.mark.parametrize(("code", "ok"), [
    ("91350100M000100Y43", True),   # the standard's own example
    ("11440100MB2C921623", True),
    ("91350100M000100Y44", False),  # wrong check character
    ("91350100M000100Y4", False),   # 17 characters
    ("91350100M000100YI3", False),  # I never occurs
    ("9135010OM000100Y43", False),  # division code not digits
    ("91350100m000100y43", False),  # lowercase
])
def test_gb32100_unified_social_credit_code_checksum(code, ok):
    assert (uscc_problem(code) is None) is ok


def test_gb32100_check_character_weights():
    assert uscc_check_char("91350100M000100Y4") == "3"


def test_a1_art9_art14_decision_is_recorded_signed_verified_and_due_in_the_report(arc):
    cal = WorkCalendar()
    with arc.open() as lg:
        e = add_decision(lg, arc.signers["off-1"], "off-1", type="penalty", fields=decision("penalty"),
                         now_ns=DECISION_DAY, calendar=cal)
        rec = e.record
        assert isinstance(rec, DisclosureDecision)
        assert rec.deadline.start == "2026-02-12" and rec.deadline.due == "2026-02-28"
        assert rec.deadline.workdays == 7 and rec.deadline.calendar[0].startswith("chinese-calendar ")
        report = verify_ledger(lg)
        assert report.ok, report.problems
        [row] = disclosure_report(lg, cal, NOW)
        assert row["id"] == e.entry_hash and row["unaccounted"] and row["status"] == "overdue"
        assert row["deadline"] == "2026-02-28" and row["overdue_workdays"] > 150 and row["refs"] == [e.entry_hash]
        assert disclosure_report(lg, cal, NOW, year=2026) == [row]
        # as of the decision's own day it is merely due, and before it was recorded it is not there
        [row] = disclosure_report(lg, cal, DECISION_DAY)
        assert row["status"] == "pending" and row["unaccounted"] and row["overdue_workdays"] is None
        assert disclosure_report(lg, cal, DECISION_DAY - 1) == []
        assert disclosure_report(lg, cal, NOW, year=2025) == []


def test_a1_art9_a_decision_refers_only_to_an_opened_case_and_only_people_record_it(arc):
    with arc.open() as lg:
        with pytest.raises(RefusedError, match="case-9 is not opened at the archive"):
            add_decision(lg, arc.signers["off-1"], "off-1", type="inspection", fields=decision("inspection"),
                         case_id="case-9", now_ns=NOW)
        with pytest.raises(RefusedError, match="enrolled as archivist"):
            add_decision(lg, arc.signers["arch-1"], "arch-1", type="inspection", fields=decision("inspection"),
                         now_ns=NOW)


D = dt.date


@pytest.mark.parametrize(("type_", "sample", "changes", "start", "due", "why"), [
    ("penalty", "penalty", {"CF_JDRQ": "2026-02-12"}, "2026-02-12", "2026-02-28",
     "A1 Art.14: 7 working days from a penalty decided on the Thursday before the 2026 Spring Festival "
     "(2/13, make-up Saturday 2/14, then 2/24–2/28, 2/28 a make-up Saturday)"),
    ("penalty", "penalty", {"CF_JDRQ": "2026-09-30"}, "2026-09-30", "2026-10-15",
     "A1 Art.14: a penalty decided the day before National Day (10/1–10/7 off, Saturday 10/10 worked)"),
    ("coercion", "coercion", {"date": "2026-02-14"}, "2026-02-14", "2026-03-20",
     "A1 Art.14: 20 working days from a coercive measure decided on make-up working Saturday 2/14 (not counted)"),
    ("penalty", "penalty", {"CF_JDRQ": "2026-02-14", "CF_YXQ": "2027-02-14"}, "2026-02-14", "2026-03-03",
     "A1 Art.14: a penalty decided on the make-up Saturday"),
    ("inspection", "inspection", {"date": "2026-09-30"}, "2026-09-30", "2026-11-03",
     "A1 Art.14: an inspection result the day before National Day, 20 working days"),
])
def test_a1_art14_deadlines_on_the_real_calendar(arc, type_, sample, changes, start, due, why):
    with arc.open() as lg:
        e = add_decision(lg, arc.signers["off-1"], "off-1", type=type_, fields=decision(sample, **changes),
                         now_ns=NOW, calendar=WorkCalendar())
    assert (e.body["deadline"]["start"], e.body["deadline"]["due"]) == (start, due), why


def test_a1_art14_a_2027_decision_without_a_local_file_is_refused_naming_the_year_and_file(arc, tmp_path):
    holidays = tmp_path / "holidays.toml"
    cal = WorkCalendar.from_file(holidays)  # configured, not written yet
    fields = decision("penalty", CF_JDRQ="2027-03-10", CF_YXQ="2028-03-10")
    with arc.open() as lg, pytest.raises(CalendarGap) as exc:
        add_decision(lg, arc.signers["off-1"], "off-1", type="penalty", fields=fields, now_ns=NOW, calendar=cal)
    assert exc.value.exit_code == 3
    assert "no working-day data for 2027" in str(exc.value) and str(holidays) in str(exc.value)
    # a decision late in 2026 whose deadline runs into 2027 needs 2027 too
    with arc.open() as lg, pytest.raises(CalendarGap, match="2027"):
        add_decision(lg, arc.signers["off-1"], "off-1", type="penalty", now_ns=NOW, calendar=cal,
                     fields=decision("penalty", CF_JDRQ="2026-12-28", CF_YXQ="2027-12-28"))
    holidays.write_text('[2027]\nnotice = "test data, not the State Council\'s"\nholidays = ["2027-03-11"]\n')
    with arc.open() as lg:
        e = add_decision(lg, arc.signers["off-1"], "off-1", type="penalty", fields=fields, now_ns=NOW,
                         calendar=WorkCalendar.from_file(holidays))
    # 3/11 (Thu) declared off: 3/12, 3/15–3/19 → the 7th working day is 3/22
    assert e.body["deadline"]["due"] == "2027-03-22"
    assert e.body["deadline"]["calendar"][0].startswith("local holidays.toml sha256:")


def test_decision_files_are_bounded_and_flat(tmp_path):
    good = tmp_path / "d.toml"
    good.write_text('CF_JDRQ = 2026-02-12\nCF_NR_FK = 20\nCF_WSH = "x"\n')
    assert read_decision_file(good) == {"CF_JDRQ": dt.date(2026, 2, 12), "CF_NR_FK": 20, "CF_WSH": "x"}
    js = tmp_path / "d.json"
    js.write_text(json.dumps(decision("coercion"), ensure_ascii=False))
    assert read_decision_file(js)["method"] == "查封"
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"CF_SY": "x" * 300_000}))
    with pytest.raises(FormatError, match="larger than 256 KiB"):
        read_decision_file(big)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 50 + "]" * 50)
    with pytest.raises(FormatError, match="nests arrays/objects deeper than 4"):
        read_decision_file(deep)
    nested = tmp_path / "nested.toml"
    nested.write_text('CF_WSH = "x"\n[fields]\nCF_SY = "y"\n')
    with pytest.raises(FormatError, match="fields are plain texts, not tables or lists: fields"):
        read_decision_file(nested)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FormatError, match="not valid JSON"):
        read_decision_file(bad)
    with pytest.raises(FormatError, match="is .json or .toml"):
        read_decision_file(tmp_path / "d.yaml")
