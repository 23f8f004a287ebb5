"""The disclosure portal and report end to end (A1 Art.5, 9–11, 14–19), through the installed
``bodycam disclosure`` commands on a real archive ledger, and the portal looked at in a real
headless chromium (the ``browser`` fixture of tests/fixtures/browser.py) served by ``bodycam disclosure serve``.

The story, on the 2026 calendar: a penalty (A) decided before the Spring Festival, published on
time, later corrected; a penalty against a natural person (B, personal data planted in every
field that could leak it) decided before National Day and published 3 working days late; a coercive
measure withheld for trade secrets (C); an inspection published then withdrawn (D); an inspection
never published nor withheld (E); a coercive measure published then revoked (G)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.fixtures.disclosure import ADDRESS, BANK, ID_NUMBER, PHONE, WITNESS, decision, disclosure_archive
from tests.fixtures.sync import BODYCAM

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = os.environ.get("BODYCAM_SCREENSHOTS")  # a folder to copy the screenshots to, for a person to look at


class Portal:
    def __init__(self, tmp_path: Path):
        self.arc = disclosure_archive(tmp_path / "archive", holidays_file=tmp_path / "archive" / "holidays.toml")
        self.site = tmp_path / "disclosure.toml"
        text = (ROOT / "config" / "disclosure.example.toml").read_text(encoding="utf-8")
        self.site.write_text(text.replace("page_size = 20", "page_size = 2"), encoding="utf-8")
        self.out = tmp_path / "portal"
        self.tmp = tmp_path
        self.ids: dict[str, str] = {}

    def run(self, *args: str, now: str | None = None, check: bool = True, lang: str = "C"
            ) -> subprocess.CompletedProcess:
        when = ["--now", now] if now else []
        res = subprocess.run([BODYCAM, "--config", str(self.arc.config), "disclosure", *args, *when],
                             capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": lang})
        if check:
            assert res.returncode == 0, (args, res.stdout, res.stderr)
        return res

    def signed(self, who: str) -> list[str]:
        return ["--by", who, "--key", str(self.arc.keys[who])]

    def add(self, name: str, type_: str, fields: dict, now: str) -> str:
        f = self.tmp / f"{name}.json"
        f.write_text(json.dumps(fields, ensure_ascii=False), encoding="utf-8")
        res = self.run("add", "--type", type_, "--file", str(f), *self.signed("off-1"), "--json", now=now)
        self.ids[name] = json.loads(res.stdout)["decision"]
        return self.ids[name]

    def approve(self, name: str, *texts: str, now: str) -> None:
        self.run("review-text", self.ids[name], "--approve", *texts, *self.signed("sup-1"), "--site", str(self.site),
                 now=now)

    def publish(self, now: str) -> dict:
        res = self.run("publish", "--out", str(self.out), *self.signed("arch-1"), "--site", str(self.site), "--json",
                       now=now)
        return json.loads(res.stdout)


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Portal:
    p = Portal(tmp_path_factory.mktemp("disclosure"))
    a = p.add("A", "penalty", decision("penalty"), now="2026-02-13T10:00:00+08:00")
    p.add("G", "coercion", decision("coercion", document_no="穗环封〔2026〕5号", party="广州市某某五金有限公司",
                                      decision="查封决定书（穗环封〔2026〕5号）：对违法排放污染物的设施予以查封"),
          now="2026-02-14T10:00:00+08:00")
    p.add("C", "coercion", decision("coercion"), now="2026-02-14T11:00:00+08:00")
    p.approve("A", now="2026-02-20T10:00:00+08:00")
    p.approve("G", now="2026-02-20T10:00:00+08:00")
    p.run("withhold", p.ids["C"], "--reason", "2", "--note", "涉及商业秘密", *p.signed("head-1"),
          now="2026-02-20T11:00:00+08:00")
    first = p.publish("2026-02-24T09:00:00+08:00")
    assert sorted(first["published"]) == sorted([a, p.ids["G"]]) and first["held"] == []

    p.add("B", "penalty", decision("penalty_person"), now="2026-09-30T16:00:00+08:00")
    p.add("D", "inspection", decision("inspection", target="广州市某某印染有限公司"), now="2026-09-29T16:00:00+08:00")
    p.add("E", "inspection", decision("inspection", date="2026-09-30", target="广州市某某纺织有限公司"),
          now="2026-09-30T17:00:00+08:00")
    # the checker reads B's facts: the witness's name and the address stay out of the public wording
    p.approve("B", "--text", "CF_SY=当事人于2026年9月3日在住所旁露天焚烧废旧轮胎，有证人在场。",
              now="2026-10-19T10:00:00+08:00")
    p.approve("D", now="2026-10-19T10:00:00+08:00")
    second = p.publish("2026-10-20T09:00:00+08:00")
    assert sorted(second["published"]) == sorted([p.ids["B"], p.ids["D"]])
    assert second["held"] == [p.ids["E"]]  # free text nobody checked

    p.run("withdraw", p.ids["D"], "--note", "整改完成，撤下", *p.signed("arch-1"), now="2026-10-21T09:00:00+08:00")
    p.run("correct", a, "--set", "execution=已全部缴纳罚款及加处罚款", "--note", "更正执行情况：当事人已缴清罚款",
          "--changed-on", "2026-10-20", *p.signed("arch-1"), now="2026-10-21T09:00:00+08:00")
    p.run("revoke", p.ids["G"], "--note", "经行政复议撤销原查封决定", "--changed-on", "2026-10-19",
          *p.signed("arch-1"), now="2026-10-26T09:00:00+08:00")
    p.publish("2026-12-01T09:00:00+08:00")
    return p


def _all_output(out: Path) -> str:
    return "\n".join(f.read_text(encoding="utf-8") for f in sorted(out.rglob("*")) if f.is_file())


def test_a1_art9_art11_art17_ledger_holds_every_act_signed_and_verifies(story):
    res = subprocess.run([BODYCAM, "--config", str(story.arc.config), "ledger", "verify", str(story.arc.ledger_path)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    with story.arc.open() as lg:
        acts = [(e.body["action"], e.body["decision"]) for e in lg.entries(kind="disclosure_act")]
    assert ("publish", story.ids["A"]) in acts and ("withdraw", story.ids["D"]) in acts
    assert ("correct", story.ids["A"]) in acts and ("revoke", story.ids["G"]) in acts


def test_a1_art10_art15_withheld_and_withdrawn_decisions_appear_nowhere(story):
    everything = _all_output(story.out)
    for name in ("C", "D"):
        assert story.ids[name][:16] not in everything, name
    assert "穗环封〔2026〕3号" not in everything  # C's document number
    assert "广州市某某印染有限公司" not in everything  # D's target
    assert "广州市某某纺织有限公司" not in everything  # E: never published
    feed = json.loads((story.out / "feed.json").read_text(encoding="utf-8"))
    assert sorted(d["id"] for d in feed["decisions"]) == sorted(story.ids[n][:16] for n in ("A", "B", "G"))
    csv_text = (story.out / "feed.csv").read_text(encoding="utf-8-sig")
    rows = csv_text.strip().splitlines()
    assert rows[0].startswith("id,CF_WSH,CF_XDR_MC,CF_XDR_LB,CF_XDR_SHXYM")
    assert len(rows) == 3 and all(story.ids[n][:16] in csv_text for n in ("A", "B"))  # penalties only
    assert not list(story.out.rglob("*.js")) and "<script" not in everything  # works without JavaScript


def test_a1_personal_data_never_reaches_the_portal(story):
    everything = _all_output(story.out)
    for secret in (ID_NUMBER, PHONE, ADDRESS, BANK, WITNESS, "020-83331234", "83331234", "张三丰", "王大明",
                   "体育西路"):
        assert secret not in everything, secret
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", everything)
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", everything)
    assert "张某" in everything and "王某" in everything  # name policy mou; the legal representative


def test_a1_art14_art18_art19_report_flags_late_overdue_and_unaccounted(story):
    res = story.run("report", "--json", now="2026-12-01T12:00:00+08:00")
    rows = {r["id"]: r for r in json.loads(res.stdout)["decisions"]}
    a, b, c, d, e, g = (rows[story.ids[n]] for n in "ABCDEG")
    assert a["status"] == "published_on_time" and a["corrections"][0]["note"] == "更正执行情况：当事人已缴清罚款"
    assert a["corrections"][0]["late_workdays"] is None  # 10/21 within 3 working days of 10/20
    assert b["status"] == "published_late" and b["late_workdays"] == 3  # due 10/15; 10/16, 10/19, 10/20
    assert b["calendar"] and b["calendar"][0].startswith("chinese-calendar")
    assert c["status"] == "withheld" and c["withheld_reason"] == 2 and not c["unaccounted"]
    assert d["withdrawn_at"] is not None and d["status"] == "published_on_time"
    assert e["status"] == "overdue" and e["unaccounted"] and e["deadline"] == "2026-11-03"
    assert e["overdue_workdays"] == 20 and not e["text_checked"]
    assert g["revoked"]["note"] == "经行政复议撤销原查封决定" and g["revoked"]["late_workdays"] == 2  # due 10/22
    stats = json.loads(story.run("report", "--json", "--year", "2026", now="2026-12-01T12:00:00+08:00").stdout)
    by = {(s["type"], s["unit"]): s for s in stats["statistics"]}
    assert by[("penalty", "第一执法大队")]["published_on_time"] == 1
    assert by[("penalty", "第二执法大队")]["published_late"] == 1
    assert by[("inspection", "第二执法大队")]["overdue"] == 1
    assert by[("coercion", "第一执法大队")]["withheld_reason_2"] == 1
    # as of the day B was due, nothing was late yet and B was merely pending
    early = {r["id"]: r for r in json.loads(story.run("report", "--json", now="2026-10-15T12:00:00+08:00").stdout)
             ["decisions"]}
    assert early[story.ids["B"]]["status"] == "pending"
    text = story.run("report", now="2026-12-01T12:00:00+08:00", lang="zh_CN.UTF-8").stdout
    assert "逾期" in text and "既未公示也未决定不予公示" in text


def test_a1_art10_refusals_name_what_is_wrong(story, tmp_path):
    res = story.run("withhold", story.ids["E"], "--reason", "5", *story.signed("head-1"), check=False)
    assert res.returncode == 3 and "reason 5 (other) needs --note" in res.stderr
    res = story.run("withhold", story.ids["E"], "--reason", "1", *story.signed("off-1"), check=False)
    assert res.returncode == 3 and "enrolled as officer" in res.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('CF_WSH = "x"\nCF_JDRQ = "2026-13-01"\n', encoding="utf-8")
    res = story.run("add", "--type", "penalty", "--file", str(bad), *story.signed("off-1"), check=False)
    assert res.returncode == 1 and "CF_JDRQ: '2026-13-01' is not a date" in res.stderr
    assert "CF_YJ (处罚依据 (legal basis)) is missing" in res.stderr
    f = tmp_path / "y2027.json"
    f.write_text(json.dumps(decision("coercion", date="2027-01-11"), ensure_ascii=False), encoding="utf-8")
    res = story.run("add", "--type", "coercion", "--file", str(f), *story.signed("off-1"), check=False)
    assert res.returncode == 3 and "no working-day data for 2027" in res.stderr and "holidays.toml" in res.stderr


@pytest.fixture
def served(story):
    proc = subprocess.Popen([BODYCAM, "--config", str(story.arc.config), "disclosure", "serve", "--dir",
                             str(story.out), "--port", "0"], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        yield f"http://127.0.0.1:{m.group(1)}/"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _contrast(rgb1, rgb2) -> float:
    def lum(c):
        def ch(v):
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        r, g, b = (ch(x) for x in c[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    hi, lo = sorted((lum(rgb1), lum(rgb2)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


_COLOURS = """
const out = [];
for (const el of document.querySelectorAll(arguments[0])) {
  let bg = null, node = el;
  while (node && node.nodeType === 1) {
    const c = getComputedStyle(node).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
    node = node.parentElement;
  }
  out.push([getComputedStyle(el).color, bg || 'rgb(255, 255, 255)', el.tagName]);
}
return out;
"""


def _rgb(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def test_a1_art11_portal_in_a_real_browser_is_accessible_and_complete(story, served, browser, tmp_path):
    b = browser
    b.get(served)
    assert b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert len(b.find_elements(By.TAG_NAME, "h1")) == 1
    # the skip link: the first thing Tab reaches, a link by its computed role, to the main content
    b.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = b.switch_to.active_element
    assert skip.aria_role == "link" and skip.accessible_name == "跳到主要内容"
    assert skip.get_attribute("href").endswith("#main") and skip.is_displayed()
    b.save_screenshot(str(tmp_path / "skip-link.png"))
    skip.send_keys(Keys.ENTER)
    # the decisions table: a caption, column headers and row headers found by their roles
    table = b.find_element(By.CSS_SELECTOR, "table.decisions")
    assert table.find_element(By.TAG_NAME, "caption").text.startswith("执法决定")
    cols = [th for th in table.find_elements(By.TAG_NAME, "th") if th.aria_role == "columnheader"]
    assert [c.text for c in cols] == ["决定书文号", "类别", "当事人", "执法机关", "决定日期", "状态"]
    rows = [th for th in table.find_elements(By.TAG_NAME, "th") if th.aria_role == "rowheader"]
    assert len(rows) == 2  # page_size 2
    assert b.find_elements(By.CSS_SELECTOR, "time[datetime]")
    listed = [r.text for r in rows]
    # plain-link paging to the rest
    b.find_element(By.LINK_TEXT, "下一页").click()
    listed += [th.text for th in b.find_elements(By.CSS_SELECTOR, "table.decisions th")
               if th.aria_role == "rowheader"]
    assert sorted(listed) == sorted(["穗环罚〔2026〕12号", "穗环罚〔2026〕31号", "穗环封〔2026〕5号"])
    # the corrected decision shows its note; the revoked one its notice
    b.get(served + f"d/{story.ids['A'][:16]}.html")
    assert "更正执行情况：当事人已缴清罚款" in b.find_element(By.CSS_SELECTOR, ".corrected").text
    assert "已全部缴纳罚款及加处罚款" in b.find_element(By.CSS_SELECTOR, "table.fields").text
    assert len(b.find_elements(By.TAG_NAME, "h1")) == 1
    fields = b.find_element(By.CSS_SELECTOR, "table.fields")
    assert all(th.aria_role == "rowheader" for th in fields.find_elements(By.TAG_NAME, "th"))
    b.save_screenshot(str(tmp_path / "decision.png"))
    b.get(served + f"d/{story.ids['G'][:16]}.html")
    assert "经行政复议撤销原查封决定" in b.find_element(By.CSS_SELECTOR, ".revoked").text
    # a before page (A1 Art.5) with its roster table and the procedure as text
    b.get(served + "before/powers.html")
    assert b.find_element(By.TAG_NAME, "h1").text == "执法职责、权限及流程"
    assert len(b.find_elements(By.CSS_SELECTOR, "ol.steps li")) == 8
    # the annual statistics (A1 Art.18), reached by the plain link in every page's navigation
    b.find_element(By.LINK_TEXT, "年度统计").click()
    stats = b.find_element(By.TAG_NAME, "table")
    assert stats.find_element(By.TAG_NAME, "caption").text == "2026年执法决定公示情况"
    cells = {tuple(td.text for td in tr.find_elements(By.XPATH, "./*"))
             for tr in stats.find_elements(By.CSS_SELECTOR, "tbody tr")}
    # type, unit, decisions, on time, late, overdue, pending, withheld, withdrawn, corrected, revoked
    assert ("行政强制", "第一执法大队", "2", "1", "0", "0", "0", "1", "0", "0", "1") in cells, cells
    assert ("行政检查", "第二执法大队", "2", "1", "0", "1", "0", "0", "1", "0", "0") in cells, cells
    assert all(th.aria_role == "rowheader" for th in stats.find_elements(By.CSS_SELECTOR, "tbody th"))
    b.save_screenshot(str(tmp_path / "statistics.png"))
    # contrast of text against its background, as the browser computed them (WCAG 2.0 1.4.3)
    for url in (served, served + f"d/{story.ids['G'][:16]}.html"):
        b.get(url)
        for fg, bg, tag in b.execute_script(_COLOURS, "p, a, th, td, caption, h1, h2, li, time"):
            assert _contrast(_rgb(fg), _rgb(bg)) >= 4.5, (url, tag, fg, bg)
    b.get(served)
    shot = tmp_path / "index.png"
    b.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if SCREENSHOTS:
        for f in tmp_path.glob("*.png"):
            shutil.copy(f, Path(SCREENSHOTS) / f.name)
