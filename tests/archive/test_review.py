"""Legal review of a major case at a real archive (SQLite ledger, blob store, the installed
`bodycam` command): evidence findings from the ledger (A3 Art.8), the clock across the 2026
National Day (A3 Art.10), outcome and opinion (A3 Art.11, 13), resubmission (A3 Art.12), the gate
(A3 Art.5) handing the decision to disclosure (A1 Art.9, 14), recurring problems (A3 Art.14)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.disclosure.report import disclosure_report
from archive.review.acts import findings_of
from archive.workdays import WorkCalendar
from ledger.blobs import BlobStore
from ledger.cases import add_activity, open_case
from ledger.envelope import seal
from ledger.keys import Signer, write_private_key
from ledger.people import enroll_person
from ledger.records import Calibration, Enrollment, Gap, GapFault, Media, Segment
from ledger.records.custody import Reference
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.disclosure import decision
from tests.fixtures.sync import BODYCAM, render_toml

CST = dt.timezone(dt.timedelta(hours=8))
SCREENSHOTS = os.environ.get("BODYCAM_SCREENSHOTS")  # a folder to copy the page images to, for a person to look at


def ns(y: int, mo: int, d: int, h: int = 10, mi: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=CST).timestamp()) * 10**9


def iso(t: int) -> str:
    return dt.datetime.fromtimestamp(t / 1e9, CST).isoformat()


FOOTAGE = ns(2026, 9, 10, 9)
PEOPLE = {"off-1": "officer", "off-2": "officer", "rev-1": "reviewer", "rev-2": "reviewer", "rev-0": "reviewer",
          "head-1": "head"}
NAMES = {"off-1": "张三", "off-2": "李四", "rev-1": "王法审", "rev-2": "赵法审", "rev-0": "钱新人", "head-1": "孙局长"}


class World:
    """An archive folder: bodycam.toml, a ledger with people, a recorder and a case C-1 whose footage
    (three segments with real blobs) has an unjustified gap between segments 1 and 2."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(mode=0o700)
        self.config = root / "bodycam.toml"
        self.config.write_text(render_toml({"archive": {"data_dir": str(root)}}))
        self.ledger = root / "ledger.db"
        self.root_key = Signer.generate()
        self.keys: dict[str, Path] = {}
        self.signers: dict[str, Signer] = {}
        self.blobs = BlobStore(root / "blobs").ensure()
        device = Signer.generate()
        self.h: dict[str, str] = {}
        with Ledger.open(self.ledger) as lg:
            def add(body, signer) -> str:
                return lg.append(seal(body, signer), require_trusted=True).entry_hash

            pub = self.root_key.public_key
            add(Enrollment(subject_type="ledger_root", subject_id="archive", public_key=pub.b64, keyid=pub.keyid,
                           enrolled_ns=ns(2026, 1, 1)), self.root_key)
            for pid, role in PEOPLE.items():
                s = self.signers[pid] = Signer.generate()
                self.keys[pid] = root / f"{pid}.key"
                write_private_key(self.keys[pid], s)
                extra = {}
                if role == "officer":
                    extra = {"certificate_no": f"HN-{pid}", "valid_from_ns": ns(2026, 1, 1),
                             "valid_until_ns": ns(2027, 12, 31)}
                if pid in ("rev-1", "rev-2"):
                    extra = {"legal_qualification_no": f"A2026{pid[-1]}100001"}
                enroll_person(lg, self.root_key, pid, role, s.public_key, name=NAMES[pid], unit="第一执法大队",
                              now_ns=ns(2026, 1, 2), **extra)
            dpub = device.public_key
            prev = self.h["enr-cam"] = add(Enrollment(subject_type="device", subject_id="cam-1", public_key=dpub.b64,
                                                      keyid=dpub.keyid, enrolled_ns=ns(2026, 1, 3), custodian="off-1",
                                                      unit="第一执法大队"), self.root_key)
            self.h["cal"] = add(Calibration(device_id="cam-1", reference=Reference(kind="system", synchronised=True),
                                            uncertainty_us=1000, tolerance_us=500_000, result="passed",
                                            measured_ns=FOOTAGE - 3600 * 10**9), self.root_key)
            open_case(lg, "C-1", title="某化工公司超标排放案", unit="第一执法大队", case_type="penalty",
                      officers=["off-1", "off-2"], person_id="off-1", signer=self.signers["off-1"],
                      now_ns=ns(2026, 9, 1))
            self.h["act"] = add_activity(lg, activity_id="C-1-a1", case_id="C-1", activity_type="inspection",
                                         place="某化工公司废水总排放口", start_ns=FOOTAGE,
                                         end_ns=FOOTAGE + 3 * 600 * 10**9,
                                         officers=["off-1", "off-2"], party_notified_ns=FOOTAGE,
                                         person_id="off-1", signer=self.signers["off-1"]).entry_hash
            for seq in range(3):
                data = f"footage of C-1, segment {seq}".encode() * 100
                sha = hashlib.sha256(data).hexdigest()
                path = self.blobs.blob_path(sha)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(0o400)
                start = FOOTAGE + seq * 600 * 10**9 + (120 * 10**9 if seq == 2 else 0)
                seg = Segment(device_id="cam-1", seq=seq, prev=prev,
                              media=Media(sha256=sha, size=len(data), container="mp4", codec="h264", width=1920,
                                          height=1080, fps="30/1", frames=18000, duration_ms=600_000),
                              device_start="2026-09-10 09:00:00", start_ns=start, end_ns=start + 600 * 10**9,
                              officer_id="off-1", case_id="C-1", unit="第一执法大队",
                              source_name=f"VID_{seq:05d}.MP4", decodable=True)
                prev = self.h[f"seg{seq}"] = add(seg, device)
                self.h[f"sha{seq}"] = sha
            self.h["gap"] = add(Gap(gap_type="gap", device_id="cam-1", after_seq=1, before_seq=2,
                                    start_ns=FOOTAGE + 1200 * 10**9, end_ns=FOOTAGE + 1320 * 10**9,
                                    officer_id="off-1", case_id="C-1"), self.root_key)
        self.files = root / "files"
        self.files.mkdir()
        for name in ("draft", "report", "evidence", "hearing", "supplement"):
            (self.files / f"{name}.pdf").write_bytes(f"%PDF-1.4 {name} of C-1\n".encode())

    def file(self, name: str) -> str:
        return str(self.files / f"{name}.pdf")

    def run(self, *args: str, now: int | None = None, lang: str = "C") -> subprocess.CompletedProcess:
        when = ["--now", iso(now)] if now is not None else []
        env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
        env["LANG"] = lang
        return subprocess.run([BODYCAM, "--config", str(self.config), *args, *when], capture_output=True, text=True,
                              timeout=120, env=env)

    def as_(self, pid: str) -> list[str]:
        return ["--by", pid, "--key", str(self.keys[pid])]

    def ok(self, *args: str, now: int | None = None) -> dict | str:
        res = self.run(*args, now=now)
        assert res.returncode == 0, (args, res.stdout, res.stderr)
        return json.loads(res.stdout) if "--json" in args else res.stdout

    def alter(self, seq: int) -> None:
        path = self.blobs.blob_path(self.h[f"sha{seq}"])
        path.chmod(0o600)
        path.write_bytes(b"re-encoded after the fact")
        path.chmod(0o400)

    def open(self) -> Ledger:
        return Ledger.open(self.ledger, create=False)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "archive")


def classify(w: World, *extra: str) -> dict:
    return w.ok("review", "classify", "C-1", "--measure", "order_production_halt", "--fine", "300000", "--party-kind",
                "organisation", *extra, "--record", *w.as_("off-1"), "--json", now=ns(2026, 9, 18))


SUBMIT = ns(2026, 9, 21)  # Monday; Mid-Autumn (9-25..27) and National Day (10-1..7) follow


def submit_complete(w: World, now: int = SUBMIT) -> dict:
    return w.ok("review", "submit", "C-1", "--item", f"draft_decision={w.file('draft')}",
                "--item", f"investigation_report={w.file('report')}", "--item",
                f"facts_evidence_basis={w.file('evidence')}", *w.as_("off-1"), "--json", now=now)


def judge_all(w: World, now: int, **verdicts: str) -> None:
    for item in (1, 2, 3, 4, 5, 6, 7):
        v = verdicts.get(f"i{item}", "ok")
        w.ok("review", "judge", "C-1", "--item", str(item), "--verdict", v, "--note",
             "" if v == "ok" else f"item {item} judged {v}", *w.as_("rev-1"), "--json", now=now)


def test_a3_art3_classify_shows_criteria_and_why_and_records_the_catalogue(world):
    shown = world.ok("review", "classify", "C-1", "--measure", "order_production_halt", "--hearing")
    assert "is major" in shown and "(2)" in shown and "order_production_halt" in shown and "(3)" in shown
    assert "not recorded" in shown
    out = classify(world)
    assert out["major"] and [c["criterion"] for c in out["criteria"]] == [2, 2]
    assert "300000 yuan" in out["criteria"][1]["why"]
    with world.open() as lg:
        cats = list(lg.entries(kind="review_catalogue"))
        assert len(cats) == 1 and cats[0].body["sha256"] == out["catalogue"]
        assert verify_ledger(lg).ok
    again = world.ok("review", "classify", "C-1", "--json")
    assert again["recorded"] == out["recorded"] and again["major"]
    zh = world.run("review", "classify", "C-1", lang="zh_CN.UTF-8")
    assert zh.returncode == 0 and "重大" in zh.stdout, zh.stdout
    bad = world.run("review", "classify", "C-1", "--measure", "no_such_measure")
    assert bad.returncode == 3 and "no_such_measure" in bad.stderr


def test_a3_art7_art10_incomplete_submission_is_refused_and_never_starts_the_clock(world):
    classify(world, "--hearing")
    res = world.run("review", "submit", "C-1", "--item", f"draft_decision={world.file('draft')}",
                    *world.as_("off-1"), "--json", now=SUBMIT)
    assert res.returncode == 3, res.stderr
    assert json.loads(res.stdout)["missing"] == ["investigation_report", "facts_evidence_basis", "hearing_record"]
    assert "investigation_report" in res.stderr and "hearing_record" in res.stderr
    status = world.ok("review", "status", "C-1", "--json", now=ns(2026, 11, 30))
    assert status["clock"]["state"] == "not_started" and not status["clock"]["overdue"]
    assert status["missing"] == ["investigation_report", "facts_evidence_basis", "hearing_record"]
    # the reviewer asks, the unit hands in part: still not started
    world.ok("review", "supplement", "C-1", "--request", *world.as_("rev-1"), "--json", now=ns(2026, 9, 22))
    world.ok("review", "supplement", "C-1", "--receive", "--item", f"investigation_report={world.file('report')}",
             *world.as_("off-1"), "--json", now=ns(2026, 9, 23))
    assert world.ok("review", "status", "C-1", "--json", now=ns(2026, 9, 24))["clock"]["state"] == "not_started"
    ext = world.run("review", "extend", "C-1", *world.as_("head-1"), now=ns(2026, 9, 24))
    assert ext.returncode == 3 and "has not started" in ext.stderr
    # the rest arrives on 09-24: counting starts the next working day, 09-28 (after Mid-Autumn)
    done = world.ok("review", "supplement", "C-1", "--receive", "--item",
                    f"facts_evidence_basis={world.file('evidence')}", "--item",
                    f"hearing_record={world.file('hearing')}", *world.as_("off-1"), "--json", now=ns(2026, 9, 24))
    assert done["complete"]
    clock = world.ok("review", "status", "C-1", "--json", now=ns(2026, 9, 28))["clock"]
    assert (clock["received"], clock["first_day"], clock["used"], clock["due"]) == ("2026-09-24", "2026-09-28", 1,
                                                                                     "2026-10-12")


def test_a3_art10_pauses_and_one_extension_across_the_national_day(world):
    classify(world)
    submit_complete(world)
    world.ok("review", "supplement", "C-1", "--request", "--want", "other", "--note", "监测报告原件",
             *world.as_("rev-1"), "--json", now=ns(2026, 9, 23))
    world.ok("review", "supplement", "C-1", "--receive", "--item", f"other={world.file('supplement')}",
             *world.as_("off-1"), "--json", now=ns(2026, 9, 28))
    world.ok("review", "pause", "C-1", "--reason", "expert", "--note", "委托第三方检测", *world.as_("rev-1"), "--json",
             now=ns(2026, 9, 29))
    again = world.run("review", "pause", "C-1", "--reason", "consultation", *world.as_("rev-1"), now=ns(2026, 9, 29))
    assert again.returncode == 3 and "already paused" in again.stderr
    world.ok("review", "resume", "C-1", *world.as_("rev-1"), "--json", now=ns(2026, 9, 30))
    st = world.ok("review", "status", "C-1", "--json", now=ns(2026, 10, 9))["clock"]
    # received 09-21; paused 09-24, 09-28 (supplement) and 09-30 (expert); 7 days end on 10-12
    assert (st["paused_days"], st["used"], st["due"], st["overdue"]) == (3, 5, "2026-10-12", False)
    assert [p["reason"] for p in st["pauses"]] == ["supplement", "expert"]
    assert st["calendar"] and "chinese-calendar" in st["calendar"][0]
    unqualified = world.run("review", "extend", "C-1", *world.as_("rev-1"), now=ns(2026, 10, 9))
    assert unqualified.returncode == 3 and "head" in unqualified.stderr
    world.ok("review", "extend", "C-1", "--note", "情况复杂", *world.as_("head-1"), "--json", now=ns(2026, 10, 9))
    st = world.ok("review", "status", "C-1", "--json", now=ns(2026, 10, 12))["clock"]
    assert (st["limit"], st["used"], st["remaining"], st["due"], st["extended_on"]) == (10, 7, 3, "2026-10-15",
                                                                                        "2026-10-09")
    second = world.run("review", "extend", "C-1", *world.as_("head-1"), now=ns(2026, 10, 12))
    assert second.returncode == 3 and "already extended" in second.stderr
    text = world.ok("review", "status", "C-1", now=ns(2026, 10, 16))
    assert "OVERDUE" in text and "2026-10-15" in text
    with world.open() as lg:
        assert verify_ledger(lg).ok


def test_a3_art10_extension_after_the_seventh_day_is_refused(world):
    classify(world)
    submit_complete(world)
    late = world.run("review", "extend", "C-1", *world.as_("head-1"), now=ns(2026, 10, 9))  # 7th day was 10-08
    assert late.returncode == 3 and "2026-10-08" in late.stderr and "has ended" in late.stderr
    assert world.ok("review", "status", "C-1", "--json", now=ns(2026, 10, 9))["clock"]["overdue"]


def test_a3_art8_unjustified_gap_and_altered_blob_are_found_with_their_entries_and_block_lawful(world):
    w = world
    classify(w)
    submit_complete(w)
    w.alter(1)
    with w.open() as lg:
        found = {f.code: f for f in findings_of(lg, w.root / "blobs", "C-1")}
    assert found["gap_unjustified"].entries == (w.h["gap"],)
    assert found["blob_altered"].entries == (w.h["seg1"],)
    assert found["long_term_missing"].item == 5   # a major case is kept long-term (A2 Art.10(5))
    assert set(found) == {"gap_unjustified", "blob_altered", "long_term_missing"}
    checklist = w.ok("review", "checklist", "C-1", "--json")
    codes = {f["code"]: f for f in checklist["findings"]}
    assert codes["blob_altered"]["entries"] == [w.h["seg1"]] and codes["gap_unjustified"]["entries"] == [w.h["gap"]]
    text = w.run("review", "checklist", "C-1", lang="zh_CN.UTF-8")
    assert text.returncode == 0 and w.h["gap"] in text.stdout and "录制中断" in text.stdout, text.stdout
    judge_all(w, ns(2026, 9, 24))
    lawful = w.run("review", "conclude", "C-1", "--outcome", "lawful", *w.as_("rev-1"), now=ns(2026, 9, 25))
    assert lawful.returncode == 3
    assert "gap_unjustified" in lawful.stderr and "blob_altered" in lawful.stderr
    correct = w.run("review", "conclude", "C-1", "--outcome", "correct", *w.as_("rev-1"), now=ns(2026, 9, 25))
    assert correct.returncode == 3 and "correction is not enough" in correct.stderr
    unqualified = w.run("review", "conclude", "C-1", "--outcome", "reinvestigate", *w.as_("rev-0"),
                        now=ns(2026, 9, 25))
    assert unqualified.returncode == 3 and "legal professional qualification" in unqualified.stderr
    out = w.ok("review", "conclude", "C-1", "--outcome", "reinvestigate", "--recommendation",
               "补充调查取证，重新采集证据", *w.as_("rev-1"), "--second-reviewer", "rev-2", "--second-key",
               str(w.keys["rev-2"]), "--json", now=ns(2026, 9, 25))
    assert out["criteria"] == ["A3 Art.11(3)4", "A3 Art.11(3)3", "A3 Art.11(3)5"]
    with w.open() as lg:
        outcome = lg.by_hash(out["entry"])
        assert len(outcome.envelope.signatures) == 2
        assert verify_ledger(lg).ok


def test_a3_art11_to_13_opinion_pdf_resubmission_and_the_gate_to_disclosure(world, tmp_path):
    w = world
    dec = tmp_path / "decision.json"
    dec.write_text(json.dumps(decision("penalty", CF_JDRQ="2026-10-16", CF_YXQ="2027-10-16"), ensure_ascii=False),
                   encoding="utf-8")
    decide = ["case", "decide", "C-1", "--file", str(dec), "--type", "penalty", *w.as_("off-1"), "--json"]
    unclassified = w.run(*decide, now=ns(2026, 9, 18))
    assert unclassified.returncode == 3 and "not classified" in unclassified.stderr
    classify(w)
    never = w.run(*decide, now=ns(2026, 9, 18))
    assert never.returncode == 3 and "never submitted" in never.stderr
    # round 1: the unjustified gap stands -> correct, approved, opinion issued; the gate stays shut
    submit_complete(w)
    judge_all(w, ns(2026, 9, 22), i4="flawed")
    w.ok("review", "conclude", "C-1", "--outcome", "correct", "--recommendation", "补齐停止录制说明并报主管领导审核",
         *w.as_("rev-1"), "--json", now=ns(2026, 9, 23))
    under = w.run(*decide, now=ns(2026, 9, 23))
    assert under.returncode == 3 and "not concluded and approved" in under.stderr
    approved = w.ok("review", "approve", "C-1", *w.as_("head-1"), "--json", now=ns(2026, 9, 24))
    assert approved["decision"] == "approved" and approved["number"] == "法审〔2026〕C-1-1号"
    failed = w.run(*decide, now=ns(2026, 9, 24))
    assert failed.returncode == 3 and "not passed" in failed.stderr
    pdf1 = tmp_path / "opinion-1.pdf"
    w.ok("review", "opinion", "C-1", "--out", str(pdf1))
    text1 = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf1), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert "C-1" in text1 and "改正" in text1 and "录制中断" in text1 and w.h["gap"][:16] in text1.replace("\n", "")
    assert "裁量基准" in text1  # the flawed judgement on item 4
    # the unit fixes the gap: flag the case long-term; round 2 has no finding and concludes lawful
    w.ok("case", "flag", "C-1", "--reason", "5", *w.as_("off-1"), "--json")
    w.ok("review", "submit", "C-1", "--item", f"draft_decision={w.file('draft')}", "--item",
         f"investigation_report={w.file('report')}", "--item", f"facts_evidence_basis={w.file('supplement')}",
         *w.as_("off-1"), "--json", now=ns(2026, 10, 9))
    with w.open() as lg:
        assert [f.code for f in findings_of(lg, w.root / "blobs", "C-1")] == ["gap_unjustified"]
        signer, gap = w.signers["off-1"], w.h["gap"]
        fault = lg.append(seal(GapFault(gap=gap, device_id="cam-1", after_seq=1, before_seq=2, cause="battery",
                                        start_ns=FOOTAGE + 1200 * 10**9, end_ns=FOOTAGE + 1320 * 10**9,
                                        officer_id="off-1", note="电池耗尽，更换电池后继续录制"), signer),
                          require_trusted=True)  # a technical fault explains the gap (A2 Art.8)
        assert fault.entry_hash
        assert findings_of(lg, w.root / "blobs", "C-1") == []
    judge_all(w, ns(2026, 10, 12))
    w.ok("review", "conclude", "C-1", "--outcome", "lawful", *w.as_("rev-1"), "--json", now=ns(2026, 10, 12))
    early = w.run(*decide, now=ns(2026, 10, 12))
    assert early.returncode == 3
    w.ok("review", "approve", "C-1", *w.as_("head-1"), "--json", now=ns(2026, 10, 13))
    status = w.ok("review", "status", "C-1", "--json", now=ns(2026, 10, 13))
    assert status["rounds"] == 2 and status["passed"] and status["outcome"] == "lawful"
    pdf2 = tmp_path / "opinion-2.pdf"
    w.ok("review", "opinion", "C-1", "--out", str(pdf2))
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf2), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = text.replace("\n", "")
    for words in ("重大行政执法决定法制审核意见书", "法审〔2026〕C-1-2号", "C-1", "合法", "某化工公司超标排放案",
                  "责令停产整治", "第 1 轮", "王法审", "孙局长", "审核期限", "日期：2026年10月12日"):
        assert words in flat, words
    with w.open() as lg:
        rounds = list(lg.entries(kind="review_outcome", case_id="C-1"))
        assert len(rounds) == 2  # the earlier round is kept (A3 Art.12)
        assert rounds[-1].entry_hash in flat
        opinion = list(lg.entries(kind="review_opinion", case_id="C-1"))[-1]
        assert lg.by_hash(opinion.body["attachment"]).body["case_id"] == "C-1"
        assert verify_ledger(lg).ok
    fonts = subprocess.run(["pdffonts", str(pdf2)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and any("CJK" in r for r in rows), fonts
    for row in rows:
        assert row.split()[-5] == "yes", f"font not embedded: {row}"
    for n, pdf in ((1, pdf1), (2, pdf2)):  # page 1 of each opinion as a PNG, kept with the test run
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / f"opinion-{n}")],
                       check=True)
        png = tmp_path / f"opinion-{n}-1.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        if SCREENSHOTS:
            shutil.copy(png, Path(SCREENSHOTS) / f"review-{png.name}")
    # the gate opens; the decision is due for disclosure (A1 Art.14: a penalty within 7 working days)
    made = w.ok(*decide, now=ns(2026, 10, 16))
    assert made["deadline"] == "2026-10-27"
    with w.open() as lg:
        rows = disclosure_report(lg, WorkCalendar(), ns(2026, 10, 16))
    mine = [r for r in rows if r["case_id"] == "C-1"]
    assert len(mine) == 1 and mine[0]["status"] == "pending" and mine[0]["deadline"] == "2026-10-27"
    report = w.ok("disclosure", "report", "--now", iso(ns(2026, 10, 28)), "--json")  # as `disclosure report` shows it
    due = [r for r in report["decisions"] if r["case_id"] == "C-1"]
    assert [(r["id"], r["status"], r["unaccounted"]) for r in due] == [(made["decision"], "overdue", True)]
    stats = w.ok("review", "stats", "--year", "2026", "--json")
    assert stats["rounds"] == 2 and stats["outcomes"] == {"correct": 1, "lawful": 1}
    assert {(r["code"], r["unit"]) for r in stats["findings"]} == {("gap_unjustified", "第一执法大队"),
                                                                  ("long_term_missing", "第一执法大队")}
    assert w.ok("review", "stats", "--year", "2025", "--json")["rounds"] == 0


def test_a2_art16_a3_art10_footage_of_a_case_under_review_is_kept_until_the_outcome_is_approved(world):
    from archive.retention import Policy, blob_facts, decide

    w = world
    later = ns(2028, 1, 10)  # more than 12 months after the footage
    classify(w)
    submit_complete(w)
    with w.open() as lg:
        facts = {f.sha256: f for f in blob_facts(lg, later)}
    for i in range(3):
        d = decide(facts[w.h[f"sha{i}"]], later, Policy())
        assert d.action == "keep" and "under_review" in d.reasons
    w.ok("case", "flag", "C-1", "--reason", "5", *w.as_("off-1"), "--json")
    judge_all(w, ns(2026, 9, 22))
    w.ok("review", "conclude", "C-1", "--outcome", "correct", *w.as_("rev-1"), "--json", now=ns(2026, 9, 23))
    with w.open() as lg:
        assert blob_facts(lg, later)[0].reviews  # concluded, not approved yet: still under review
    w.ok("review", "approve", "C-1", *w.as_("head-1"), "--json", now=ns(2026, 9, 24))
    with w.open() as lg:
        assert not any(f.reviews for f in blob_facts(lg, later))


def test_a3_ledger_verify_reports_review_acts_by_the_wrong_people(world):
    """The same rules hold for entries appended around the commands: an unqualified reviewer's
    judgement, an extension signed by a reviewer, a second extension, an approval naming no outcome."""
    from ledger.records.review import ReviewApproval, ReviewClock, ReviewJudgement

    w = world
    classify(w)
    submit_complete(w)
    with w.open() as lg:
        assert verify_ledger(lg).ok

        def add(body, pid):
            return lg.append(seal(body, w.signers[pid]), require_trusted=True).entry_hash

        bad_judge = add(ReviewJudgement(case_id="C-1", round_no=1, item=3, verdict="ok", note="", by="rev-0",
                                        at_ns=ns(2026, 9, 22)), "rev-0")
        by_reviewer = add(ReviewClock(case_id="C-1", round_no=1, action="extend", due_date="2026-09-30", by="rev-1",
                                      at_ns=ns(2026, 9, 22)), "rev-1")
        first = add(ReviewClock(case_id="C-1", round_no=1, action="extend", due_date="2026-09-30", by="head-1",
                                at_ns=ns(2026, 9, 22)), "head-1")
        second = add(ReviewClock(case_id="C-1", round_no=1, action="extend", due_date="2026-09-30", by="head-1",
                                 at_ns=ns(2026, 9, 23)), "head-1")
        wrong_round = add(ReviewJudgement(case_id="C-1", round_no=2, item=3, verdict="ok", note="", by="rev-1",
                                          at_ns=ns(2026, 9, 22)), "rev-1")
        stray = add(ReviewApproval(case_id="C-1", round_no=1, outcome="f" * 64, decision="approved", by="head-1",
                                   at_ns=ns(2026, 9, 22)), "head-1")
        problems = {p.entry_hash: p.message for p in verify_ledger(lg).problems}
        from archive.review.state import case_review

        r = case_review(lg, "C-1").latest
        assert 3 not in r.latest_judgements() and [h for h, _c in r.clock] == [first, second]  # the state agrees
    assert "legal professional qualification" in problems[bad_judge]
    assert "head" in problems[by_reviewer]
    assert first not in problems and "second time" in problems[second]  # the reviewer's did not count
    assert "never submitted" in problems[wrong_round]
    assert "no earlier entry" in problems[stray]


def test_a3_review_speaks_chinese_under_zh_cn(world):
    """What reviewers and the handling unit read is Chinese under LANG=zh_CN.UTF-8: the refused intake
    with its missing items, the clock, the checklist, the refused conclusion."""
    from tests.fixtures.text import chinese, english_sentences

    w = world
    classify(w)
    zh = "zh_CN.UTF-8"
    refused = w.run("review", "submit", "C-1", "--item", f"draft_decision={w.file('draft')}", *w.as_("off-1"),
                    now=SUBMIT, lang=zh)
    assert refused.returncode == 3 and "缺少" in refused.stderr and "调查或审查报告" in refused.stderr
    w.ok("review", "supplement", "C-1", "--receive", "--item", f"investigation_report={w.file('report')}", "--item",
         f"facts_evidence_basis={w.file('evidence')}", *w.as_("off-1"), "--json", now=ns(2026, 9, 22))
    outs = [w.run("review", "status", "C-1", now=ns(2026, 9, 30), lang=zh),
            w.run("review", "checklist", "C-1", lang=zh),
            w.run("review", "conclude", "C-1", "--outcome", "lawful", *w.as_("rev-1"), now=ns(2026, 9, 30), lang=zh),
            w.run("review", "stats", lang=zh)]
    assert [o.returncode for o in outs] == [0, 0, 3, 0], [o.stderr for o in outs]
    for o in (refused, *outs):
        text = o.stdout + o.stderr
        assert chinese(text), text
        assert english_sentences(text.replace("chinese-calendar", "")) == [], text
