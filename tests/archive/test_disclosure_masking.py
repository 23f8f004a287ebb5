"""What the public may see (生态环境行政处罚办法 Art.64, A1 Art.10) as pure functions tested with
tables; the public period and automatic withdrawal (A1 Art.15); ``ledger verify`` on disclosure
entries that break their rules; a portal folder that is not ours is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.disclosure.decisions import act, add_decision, check_texts
from archive.disclosure.masking import mask_name, mask_patterns, proposed_texts, public_fields
from archive.disclosure.portal import publish
from archive.disclosure.site import load_site
from archive.disclosure.state import decision_state
from bodycam.errors import ConfigError, RefusedError
from ledger.envelope import seal
from ledger.records import make_body
from ledger.records.disclosure import DisclosureAct, DisclosureWithhold
from ledger.verify import verify_ledger
from tests.fixtures.disclosure import ADDRESS, BANK, ID_NUMBER, PHONE, decision, disclosure_archive

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400 * 10**9
T_ADD = 1_770_868_800 * 10**9  # 2026-02-12T04:00:00Z


@pytest.mark.parametrize(("name", "policy", "shown"), [
    ("张三丰", "full", "张三丰"), ("张三丰", "mou", "张某"), ("张三丰", "star", "张**"),
    ("欧阳修", "mou", "欧阳某"), ("欧阳修", "star", "欧阳*"), ("李四", "star", "李*"), ("王", "mou", "王某"),
])
def test_a1_natural_persons_name_by_policy(name, policy, shown):
    assert mask_name(name, policy) == shown


@pytest.mark.parametrize(("text", "kept"), [
    (f"身份证号{ID_NUMBER}。", "身份证号＊＊。"),
    ("旧证号440106850312253。", "旧证号＊＊。"),
    (f"手机{PHONE}，", "手机＊＊，"),
    ("手机 139 1234 5678。", "手机 ＊＊。"),
    ("电话020-83331234。", "电话＊＊。"),
    (f"账户{BANK}", "账户＊＊"),
    ("账户 6222 0210 0111 6245 702", "账户 ＊＊"),
    ("罚款人民币贰拾万元整（200000元）", "罚款人民币贰拾万元整（200000元）"),  # amounts stay
    ("2026年9月3日", "2026年9月3日"),
    ("统一社会信用代码91350100M000100Y43", "统一社会信用代码91350100M000100Y43"),  # a company's code is public
])
def test_personal_numbers_are_masked_by_pattern(text, kept):
    assert mask_patterns(text) == kept


def test_private_fields_and_names_are_masked_by_field_and_wherever_they_occur():
    f = decision("penalty_person")
    texts = proposed_texts("penalty", f, "mou")
    assert ADDRESS not in texts["CF_SY"] and "张三丰" not in texts["CF_SY"] and "张某" in texts["CF_SY"]
    assert public_fields("penalty", f, None, "mou") is None  # free text not checked yet: nothing to publish
    out = public_fields("penalty", f, texts, "full")
    assert out is not None and out["CF_XDR_MC"] == "张三丰"  # the bureau chose full names
    assert not {"id_number", "phone", "address", "bank_account"} & set(out)
    company = public_fields("penalty", decision("penalty"), proposed_texts("penalty", decision("penalty"), "mou"),
                            "mou")
    assert company["CF_XDR_MC"] == "广州市某某化工有限公司" and company["CF_FRDB"] == "王某"  # 法定代表人


def test_a1_art5_site_needs_the_six_before_pages(tmp_path):
    site = load_site(ROOT / "config" / "disclosure.example.toml")
    assert [p.slug for p in site.pages] == ["bodies", "bases", "powers", "inspections", "remedies", "complaints"]
    text = (ROOT / "config" / "disclosure.example.toml").read_text(encoding="utf-8")
    cut = text[:text.index('slug = "remedies"')].rsplit("[[pages]]", 1)[0]
    f = tmp_path / "site.toml"
    f.write_text(cut, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"missing: remedies \(救济途径\), complaints \(投诉举报方式\)"):
        load_site(f)
    f.write_text(text.replace('name_policy = "mou"', 'name_policy = "first"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="name_policy"):
        load_site(f)


@pytest.fixture
def ready(tmp_path):
    """One penalty of severity 一般, its text checked, published on 2026-02-24."""
    arc = disclosure_archive(tmp_path / "archive")
    site = load_site(ROOT / "config" / "disclosure.example.toml")
    with arc.open() as lg:
        e = add_decision(lg, arc.signers["off-1"], "off-1", type="penalty", fields=decision("penalty"), now_ns=T_ADD)
        check_texts(lg, arc.signers["sup-1"], "sup-1", e.entry_hash,
                    proposed_texts("penalty", decision("penalty"), "mou"), now_ns=T_ADD + DAY)
        res = publish(lg, arc.signers["arch-1"], "arch-1", site, tmp_path / "portal", now_ns=T_ADD + 12 * DAY)
    assert res.published == [e.entry_hash]
    return arc, site, e.entry_hash, tmp_path / "portal"


def test_a1_art15_publish_withdraws_a_decision_after_its_public_period(ready):
    arc, site, decision_id, out = ready
    with arc.open() as lg:
        res = publish(lg, arc.signers["arch-1"], "arch-1", site, out, now_ns=T_ADD + 300 * DAY)
        assert res.withdrawn == [] and decision_id[:16] in (out / "feed.json").read_text(encoding="utf-8")
        res = publish(lg, arc.signers["arch-1"], "arch-1", site, out, now_ns=T_ADD + 12 * DAY + 365 * DAY)
        assert res.withdrawn == [decision_id]
        st = decision_state(lg, decision_id)
        assert st.withdrawn is not None and st.withdrawn[1].note == "public period ended (A1 Art.15)"
        assert verify_ledger(lg).ok
    assert json.loads((out / "feed.json").read_text(encoding="utf-8"))["decisions"] == []
    assert not (out / "d").exists() or not any((out / "d").iterdir())


def test_a1_art11_a_folder_that_is_not_a_portal_is_never_overwritten(ready, tmp_path):
    arc, site, _, _ = ready
    other = tmp_path / "documents"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with arc.open() as lg, pytest.raises(RefusedError, match="is not a portal folder this command wrote"):
        publish(lg, arc.signers["arch-1"], "arch-1", site, other, now_ns=T_ADD + 20 * DAY)
    assert (other / "keep.txt").read_text() == "mine"


def test_a1_art10_art17_ledger_verify_reports_disclosure_entries_that_break_their_rules(ready):
    arc, _, decision_id, _ = ready
    with arc.open() as lg:
        # an officer may not withhold; an act must name a decision the ledger holds
        lg.append(seal(make_body(DisclosureWithhold(decision=decision_id, reason=2, by="off-1",
                                                    withheld_ns=T_ADD + 30 * DAY)), arc.signers["off-1"]),
                  require_trusted=True)
        lg.append(seal(make_body(DisclosureAct(decision="ab" * 32, action="withdraw", by="arch-1",
                                               at_ns=T_ADD + 30 * DAY)), arc.signers["arch-1"]), require_trusted=True)
        report = verify_ledger(lg)
        text = " ".join(str(p) for p in report.problems)
        assert not report.ok
        assert "off-1 is enrolled as officer" in text and "which no earlier entry is" in text
        # and the state readers do not count the officer's withholding
        assert decision_state(lg, decision_id).withheld is None


def test_a1_art17_a_correction_must_leave_a_valid_decision(ready):
    arc, _, decision_id, _ = ready
    with arc.open() as lg, pytest.raises(Exception, match="CF_NR_FK: 'x' is not an amount"):
        act(lg, arc.signers["arch-1"], "arch-1", decision_id, "correct", note="改正", changes={"CF_NR_FK": "x"},
            now_ns=T_ADD + 30 * DAY)


def test_a1_art17_corrected_free_text_leaves_the_portal_until_it_is_checked_again(ready):
    arc, site, decision_id, out = ready
    csv_text = (out / "feed.csv").read_text(encoding="utf-8-sig")
    assert ",2027-02-24," in csv_text  # CF_GSJZQ: published 2026-02-24, severity 一般, one year
    new_facts = "经复核，违法事实更正为：化学需氧量超标排放，联系人电话13800138000。"
    with arc.open() as lg:
        act(lg, arc.signers["arch-1"], "arch-1", decision_id, "correct", note="更正违法事实",
            changes={"CF_SY": new_facts}, now_ns=T_ADD + 40 * DAY)
        res = publish(lg, arc.signers["arch-1"], "arch-1", site, out, now_ns=T_ADD + 41 * DAY)
        assert res.held == [decision_id]
        assert decision_id[:16] not in (out / "feed.json").read_text(encoding="utf-8")
        texts = proposed_texts("penalty", decision_state(lg, decision_id).fields, "mou")
        assert "13800138000" not in texts["CF_SY"]
        check_texts(lg, arc.signers["sup-1"], "sup-1", decision_id, texts, now_ns=T_ADD + 42 * DAY)
        res = publish(lg, arc.signers["arch-1"], "arch-1", site, out, now_ns=T_ADD + 43 * DAY)
        assert res.held == []
    page = (out / "d" / f"{decision_id[:16]}.html").read_text(encoding="utf-8")
    assert "经复核，违法事实更正为" in page and "更正违法事实" in page and "13800138000" not in page
