"""Legal review's pure rules, tested with tables: which decisions are major (A3 Art.3), what an intake
needs (A3 Art.7), the review clock in working days across the 2026 National Day (A3 Art.10), which
outcomes the findings allow (A3 Art.11) and the gate (A3 Art.5)."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.review.catalogue import BUILT_IN, classify, load_catalogue, unknown_measures
from archive.review.clock import ClockEvent, bureau_date, clock_status, extension_problems
from archive.review.findings import Finding
from archive.review.gate import gate_problems
from archive.review.outcome import criteria_for, outcome_problems
from archive.review.state import CaseReview, Round, missing_items, required_items
from archive.workdays import WorkCalendar
from bodycam.errors import ConfigError
from bodycam.i18n import Message
from ledger.records.review import (
    CaseFacts,
    ReviewApproval,
    ReviewClassification,
    ReviewOutcome,
    ReviewSubmission,
)

CAT = load_catalogue(None)
CAL = WorkCalendar()
D = dt.date


@pytest.mark.parametrize(("facts", "criteria"), [
    (CaseFacts(), []),
    (CaseFacts(measures=["order_production_halt"]), [2]),
    (CaseFacts(measures=["revoke_licence", "seal_or_seize"]), [2, 2]),
    (CaseFacts(fine_yuan=199_999, party_kind="organisation"), []),
    (CaseFacts(fine_yuan=200_000, party_kind="organisation"), [2]),
    (CaseFacts(fine_yuan=20_000, party_kind="individual"), [2]),
    (CaseFacts(hearing=True), [3]),
    (CaseFacts(public_interest="drinking-water source of 30 000 people"), [1]),
    (CaseFacts(legal_relations="permit, pollution and land use"), [4]),
    (CaseFacts(transfer="police"), [5]),
    (CaseFacts(measures=["transfer_crime"], hearing=True), [3, 5]),
])
def test_a3_art3_classification_by_criteria_and_catalogue(facts, criteria):
    met = classify(facts, CAT)
    assert [m.criterion for m in met] == criteria
    assert all(str(m.why) for m in met)


def test_a3_art3_catalogue_from_configuration_and_unknown_codes(tmp_path):
    f = tmp_path / "catalogue.toml"
    f.write_text('[[items]]\ncode = "demolish"\nlabel = "强制拆除"\ncriterion = 6\n\n[fines]\nindividual = 5000\n',
                 encoding="utf-8")
    cat = load_catalogue(f)
    assert cat.sha256 != CAT.sha256 and str(f) in cat.source
    assert [m.criterion for m in classify(CaseFacts(measures=["demolish"], fine_yuan=5000,
                                                    party_kind="individual"), cat)] == [2, 6]
    assert unknown_measures(CaseFacts(measures=["revoke_licence"]), cat) == ["revoke_licence"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[items]]\ncode = "x"\nlabel = "x"\ncriterion = 9\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_catalogue(bad)
    assert len(BUILT_IN["items"]) == len(CAT.items)


@pytest.mark.parametrize(("facts", "handed", "missing"), [
    (CaseFacts(), [], ["draft_decision", "investigation_report", "facts_evidence_basis"]),
    (CaseFacts(), ["draft_decision", "investigation_report", "facts_evidence_basis"], []),
    (CaseFacts(hearing=True), ["draft_decision", "investigation_report", "facts_evidence_basis"], ["hearing_record"]),
    (CaseFacts(opinions_sought=True), ["draft_decision", "investigation_report", "facts_evidence_basis", "other"],
     ["opinions"]),
    (CaseFacts(hearing=True, opinions_sought=True),
     ["draft_decision", "investigation_report", "facts_evidence_basis", "hearing_record", "opinions"], []),
])
def test_a3_art7_required_items(facts, handed, missing):
    assert missing_items(facts, handed) == missing
    assert set(missing) <= set(required_items(facts))


RECEIVED = D(2026, 9, 21)  # a Monday; Mid-Autumn 9-25..27 and National Day 10-1..7 off, 10-10 (Sat) worked
PAUSE = [ClockEvent("pause", D(2026, 9, 23), "supplement"), ClockEvent("resume", D(2026, 9, 28))]


@pytest.mark.parametrize(("events", "today", "state", "used", "paused", "remaining", "due", "overdue"), [
    ([], D(2026, 9, 21), "running", 0, 0, 7, D(2026, 10, 8), False),
    ([], D(2026, 10, 8), "running", 7, 0, 0, D(2026, 10, 8), False),
    ([], D(2026, 10, 9), "running", 8, 0, -1, D(2026, 10, 8), True),
    (PAUSE[:1], D(2026, 9, 30), "paused", 2, 4, 5, None, False),
    (PAUSE, D(2026, 9, 30), "running", 4, 2, 3, D(2026, 10, 10), False),
    (PAUSE + [ClockEvent("extend", D(2026, 10, 9))], D(2026, 10, 12), "running", 8, 2, 2, D(2026, 10, 14), False),
    (PAUSE + [ClockEvent("extend", D(2026, 10, 9))], D(2026, 10, 15), "running", 11, 2, -1, D(2026, 10, 14), True),
])
def test_a3_art10_clock_counts_working_days_across_the_national_day(events, today, state, used, paused, remaining,
                                                                      due, overdue):
    st = clock_status(RECEIVED, events, today, CAL)
    assert (st.state, st.used, st.paused_days, st.remaining, st.due, st.overdue) == (state, used, paused, remaining,
                                                                                       due, overdue)
    assert st.first_day == D(2026, 9, 22)
    assert st.sources and all("chinese-calendar" in s for s in st.sources)


def test_a3_art10_incomplete_submission_never_starts_the_clock():
    st = clock_status(None, [], D(2026, 10, 30), CAL)
    assert st.state == "not_started" and st.due is None and not st.overdue
    assert extension_problems(st, D(2026, 9, 22), CAL)


@pytest.mark.parametrize(("events", "day", "refused"), [
    (PAUSE, D(2026, 10, 9), None),                              # before the 7th day (10-10) ends
    (PAUSE, D(2026, 10, 10), None),                             # on the 7th day
    (PAUSE, D(2026, 10, 12), "has ended"),                      # after it
    ([], D(2026, 10, 9), "has ended"),                          # no pause: the 7th day was 10-08
    (PAUSE + [ClockEvent("extend", D(2026, 10, 9))], D(2026, 10, 9), "already extended"),  # a second one
    (PAUSE[:1], D(2026, 10, 20), None),                         # paused: the days do not run out
])
def test_a3_art10_one_extension_before_the_seventh_day_ends(events, day, refused):
    problems = extension_problems(clock_status(RECEIVED, events, day, CAL), day, CAL)
    if refused is None:
        assert problems == []
    else:
        assert len(problems) == 1 and refused in str(problems[0])


def test_bureau_date_is_china_standard_time():
    assert bureau_date(int(dt.datetime(2026, 9, 20, 16, 30, tzinfo=dt.UTC).timestamp()) * 10**9) == D(2026, 9, 21)


GAP = Finding("gap_unjustified", Message("gap"), ("a" * 64,))
ALTERED = Finding("blob_altered", Message("altered"), ("b" * 64,))
OK = {3: "ok", 4: "ok", 5: "ok", 6: "ok"}


@pytest.mark.parametrize(("outcome", "findings", "judgements", "allowed", "criteria"), [
    ("lawful", [], OK, True, ["A3 Art.11(1)"]),
    ("lawful", [GAP], OK, False, None),
    ("lawful", [], {**OK, 4: "flawed"}, False, None),
    ("lawful", [], {3: "ok"}, False, None),                       # items 4-6 not judged
    ("correct", [GAP], OK, True, ["A3 Art.11(2)1"]),
    ("correct", [], {**OK, 3: "flawed"}, True, ["A3 Art.11(2)2"]),
    ("correct", [GAP, ALTERED], OK, False, None),                 # altered evidence: correction is not enough
    ("correct", [], OK, False, None),                             # nothing to correct
    ("reinvestigate", [GAP, ALTERED], OK, True, ["A3 Art.11(3)3", "A3 Art.11(3)4"]),
    ("reinvestigate", [], OK, False, None),
    ("transfer", [], {**OK, 6: "failed"}, True, ["A3 Art.11(4)"]),
    ("transfer", [], OK, False, None),
])
def test_a3_art11_outcome_follows_findings_and_judgements(outcome, findings, judgements, allowed, criteria):
    problems = outcome_problems(outcome, findings, judgements)
    assert (problems == []) is allowed, problems
    if allowed:
        assert criteria_for(outcome, findings, judgements) == criteria


def _review(major: bool | None, rounds: list[tuple[str | None, str | None]]) -> CaseReview:
    h = "c" * 64
    cls = None if major is None else (h, ReviewClassification(
        case_id="C-1", facts=CaseFacts(hearing=major), criteria=[{"criterion": 3, "why": "hearing"}] if major else [],
        major=major, catalogue=h, by="off-1", classified_ns=1))
    out = []
    for n, (outcome, decision) in enumerate(rounds, 1):
        sub = ReviewSubmission(case_id="C-1", round_no=n, classification=h, items=[], missing=[], complete=True,
                               by="off-1", submitted_ns=1)
        r = Round(n, (f"{n:064x}", sub), CaseFacts())
        if outcome:
            r.outcomes.append((f"{n + 10:064x}", ReviewOutcome(
                case_id="C-1", round_no=n, submission=f"{n:064x}", outcome=outcome, criteria=[], findings=[],
                judgements=[], reviewers=["rev-1"], concluded_ns=1)))
        if decision:
            r.approvals.append((f"{n + 20:064x}", ReviewApproval(case_id="C-1", round_no=n, outcome=f"{n + 10:064x}",
                                                                 decision=decision, by="head-1", at_ns=1)))
        out.append(r)
    return CaseReview("C-1", cls, out)


@pytest.mark.parametrize(("major", "rounds", "passes"), [
    (None, [], False),                                            # not classified: cannot show it is ordinary
    (False, [], True),                                            # ordinary case: no review needed
    (True, [], False),                                            # major, never submitted
    (True, [(None, None)], False),                                # under review
    (True, [("lawful", None)], False),                            # not approved by the leader yet
    (True, [("lawful", "refused")], False),
    (True, [("lawful", "approved")], True),
    (True, [("correct", "approved")], False),                     # correct: fix and resubmit (A3 Art.12)
    (True, [("reinvestigate", "approved"), ("lawful", "approved")], True),   # a later round passed
    (True, [("lawful", "approved"), (None, None)], False),        # the latest round counts
])
def test_a3_art5_gate(major, rounds, passes):
    problems = gate_problems(_review(major, rounds))
    assert (problems == []) is passes, problems


# --- the automatic evidence findings (A3 Art.8), one rule at a time -----------------------------------

def _evidence(**changes):
    from dataclasses import replace

    from archive.review.findings import CaseEvidence
    from ledger.keys import Signer
    from ledger.records import Activity, CaseOpen, Enrollment, Media, Segment

    t = 1_790_000_000 * 10**9
    year = 365 * 86_400 * 10**9

    def officer(pid: str, until: int = t + year) -> Enrollment:
        pub = Signer.generate().public_key
        return Enrollment(subject_type="person", subject_id=pid, public_key=pub.b64, keyid=pub.keyid, role="officer",
                          certificate_no=f"HN-{pid}", valid_from_ns=t - year, valid_until_ns=until,
                          enrolled_ns=t - year)

    seg = Segment(device_id="cam-1", seq=0, prev="0" * 64,
                  media=Media(sha256="a" * 64, size=1, container="mp4", codec="h264", width=1, height=1, fps="30/1",
                              frames=1, duration_ms=600_000),
                  device_start="2026-09-10 09:00:00", start_ns=t, end_ns=t + 600 * 10**9, officer_id="off-1",
                  case_id="C-1", source_name="V.MP4", decodable=True)
    act = Activity(activity="A-1", case_id="C-1", activity_type="inspection", place="p", start_ns=t,
                   end_ns=t + 600 * 10**9, officers=["off-1", "off-2"], party_notified_ns=t, by="off-1")
    base = CaseEvidence(
        case_id="C-1", case_open=("c" * 64, CaseOpen(case_id="C-1", title="t", unit="u", case_type="penalty",
                                                    officers=["off-1", "off-2"], opened_ns=t - 86_400 * 10**9,
                                                    by="off-1")),
        activities=[("d" * 64, act)], segments=[("e" * 64, seg)], entry_problems={},
        blob_states={"e" * 64: ("a" * 64, "ok")}, gaps=[], calibrations={"cam-1": [(t - 3600 * 10**9, "passed",
                                                                                     "f" * 64)]},
        enrolled=[officer("off-1"), officer("off-2")], major=True, long_term=True, accesses=[])
    extra = changes.pop("_", None)
    ev = replace(base, **changes)
    if extra:
        extra(ev, t, officer, seg, act)
    return ev


def _expired(ev, t, officer, seg, act):
    ev.enrolled[0] = officer("off-1", until=t - 1)


def _alone(ev, t, officer, seg, act):
    ev.activities[0] = ("d" * 64, act.model_copy(update={"officers": ["off-2"]}))


def _elsewhere(ev, t, officer, seg, act):
    ev.activities[0] = ("d" * 64, act.model_copy(update={"start_ns": t + 10**13, "end_ns": t + 2 * 10**13}))


def _untold(ev, t, officer, seg, act):
    ev.activities[0] = ("d" * 64, act.model_copy(update={"party_notified_ns": None}))


def _late_cal(ev, t, officer, seg, act):
    ev.calibrations["cam-1"] = [(t + 1, "passed", "f" * 64)]


def _refused_cal(ev, t, officer, seg, act):
    ev.calibrations["cam-1"].append((t - 60 * 10**9, "refused", "9" * 64))


@pytest.mark.parametrize(("changes", "codes"), [
    ({}, []),
    ({"entry_problems": {"e" * 64: ["signature: does not verify"]}}, ["entry_invalid"]),
    ({"blob_states": {"e" * 64: ("a" * 64, "altered")}}, ["blob_altered"]),
    ({"blob_states": {"e" * 64: ("a" * 64, "missing")}}, ["blob_missing"]),
    ({"blob_states": {"e" * 64: ("a" * 64, "purged")}}, ["blob_purged"]),
    ({"gaps": [("1" * 64, "bare", None, "cam-1")]}, ["gap_unjustified"]),
    ({"gaps": [("1" * 64, "rejected", "2" * 64, "cam-1")]}, ["gap_unjustified"]),
    ({"gaps": [("1" * 64, "justified", "2" * 64, "cam-1")]}, ["gap_unapproved"]),
    ({"gaps": [("1" * 64, "approved", "2" * 64, "cam-1"), ("3" * 64, "fault", "4" * 64, "cam-1")]}, []),
    ({"_": _late_cal}, ["no_calibration"]),
    ({"_": _refused_cal}, ["calibration_failed"]),
    ({"_": _expired}, ["officer_unqualified", "officer_unqualified"]),   # on the footage and in the activity
    ({"_": _alone}, ["too_few_officers"]),
    ({"_": _elsewhere}, ["activity_without_footage"]),
    ({"_": _untold}, ["party_not_told"]),
    ({"long_term": False}, ["long_term_missing"]),
    ({"long_term": False, "major": False}, []),
    ({"accesses": [{"entry": "5" * 64, "by": "arch-1", "outcome": "viewed", "approved_by": None}]},
     ["access_unapproved"]),
    ({"accesses": [{"entry": "5" * 64, "by": "arch-1", "outcome": "viewed", "approved_by": "head-1"},
                   {"entry": "6" * 64, "by": "arch-1", "outcome": "refused", "approved_by": None}]}, []),
])
def test_a3_art8_each_evidence_rule(changes, codes):
    from archive.review.findings import evaluate

    found = evaluate(_evidence(**changes))
    assert sorted(f.code for f in found) == sorted(codes)
    for f in found:
        assert f.entries and all(len(h) == 64 for h in f.entries) and str(f.message)
