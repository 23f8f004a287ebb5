"""The custody record of an export (A2 Art.16, 18; 行政诉讼证据规定 Art.12; 民事诉讼证据规定 Art.93–94):
custody.jsonl for programs and a Chinese PDF/A for the court, read back with poppler's own tools."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.export.custody_doc import CustodyEvent, context, custody_jsonl, document_zone, write_custody
from bodycam import formats
from bodycam.errors import BodycamError, RefusedError

SHANGHAI = ZoneInfo("Asia/Shanghai")
MANIFEST = "3f" * 32
FINGERPRINTS = {
    "档案库台账密钥 archive-log": "SHA256:" + "a1" * 32,
    "主管领导 王五 (supervisor)": "SHA256:" + "b2" * 32,
    "执法人员 张三 (officer)": "SHA256:" + "c3" * 32,
}


def ns(*args: int) -> int:
    """UTC wall time → nanoseconds."""
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1_000_000_000


CASE = {
    "id": "HB-2026-001",
    "title": "某化工厂超标排放废水案 <script>alert(1)</script>",
    "unit": "市生态环境保护综合行政执法支队",
    "type": "行政处罚",
    "officers": [
        {"id": "P-001", "name": "张三", "certificate": "42010020260001", "valid_until": "2028-12-31"},
        {"id": "P-002", "name": "李四", "certificate": "42010020260002", "valid_until": None},
    ],
}


def item(n: int, **over) -> dict:
    base = {
        "device_id": "DEV-0001", "brand": "海康威视", "model": "DSJ-X1", "serial": "SN2026000" + str(n),
        "firmware": "V1.2.3", "file_name": f"执法记录_20261202_08{n}000.mp4",
        "start_ns": ns(2026, 12, 2, 0, 30 + n), "end_ns": ns(2026, 12, 2, 0, 40 + n),
        "device_start_ns": ns(2026, 12, 2, 0, 30 + n) - 1_250_000_000, "offset_ms": 1250,
        "place": "某化工厂排污口", "operator": "张三", "container": "mp4", "codec": "h264",
        "size": 734_003_200 + n, "sha256": f"{n:02d}" * 32,
        "seq": n, "prev": None,  # the manifest's other fields: ignored here
    }
    base.update(over)
    return base


def event(minute: int, kind: str, who: str, n: int, **over) -> CustodyEvent:
    fields = {"at_ns": ns(2026, 12, 2, 2, minute), "kind": kind, "who": who, "approved_by": None,
              "request": None, "detail": "", "entry_hash": f"{n:x}".rjust(2, "0") * 32}
    fields.update(over)
    return CustodyEvent(**fields)


REQUEST = "9e" * 32
EVENTS = [  # given out of order: the record orders them by time
    event(50, "export", "档案管理员 周八", 7, approved_by="局长 赵六", request=REQUEST, detail="导出证据包"),
    event(1, "ingest", "采集站 dock-1", 1, detail="入库 2 个视频片段"),
    event(0, "calibration", "张三", 2, detail="校时偏差 +1250 ms"),
    event(20, "view", "检察院 孙七", 3, approved_by="局长 赵六", request=REQUEST, detail="查看原始视频"),
    event(25, "refused", "律师 吴九", 4, detail="无审批的查看被拒绝并记录"),
    event(30, "view", "法院 郑十", 5, approved_by="局长 赵六", request=REQUEST, detail="查看\x1b[2J 视频"),
    event(40, "contact_sheet", "档案管理员 周八", 6, approved_by="局长 赵六", request=REQUEST, detail="联系表"),
    event(55, "sign", "主管领导 王五", 8, detail="签名确认"),
    event(58, "new_kind", "系统", 9, detail="未知事项照样记录"),
]
ITEMS = [item(1), item(2, device_id="DEV-0002", brand="执法仪厂", model="ZF-9", place=None, operator="李四")]


def write(tmp_path: Path, **over) -> tuple[Path, Path]:
    args = {"case": CASE, "items": ITEMS, "events": EVENTS, "manifest_sha256": MANIFEST,
            "fingerprints": FINGERPRINTS, "tz": SHANGHAI}
    args.update(over)
    out = tmp_path / "package"
    out.mkdir(exist_ok=True)
    return write_custody(out, **args)


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, Path]:
    return write(tmp_path_factory.mktemp("custody"))


def test_a2_art16_custody_pdf_names_the_case_officers_every_view_and_the_burn_sheet(written):
    _, pdf = written
    text = run("pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-")
    flat = "".join(text.split())  # table cells wrap: compare without the layout's spaces and line breaks
    assert "执法音像记录证据保管链记录" in text
    assert "HB-2026-001" in text
    for name in ("张三", "李四"):
        assert name in text
    assert "42010020260001" in text and "42010020260002" in text
    for e in EVENTS:
        if e.kind == "view":
            assert "".join(e.who.split()) in flat, e.who
    for kind in ("入库", "校时", "查看", "拒绝查看", "联系表", "导出", "签名", "new_kind"):
        assert kind in flat, kind
    assert "刻录登记表" in text
    assert MANIFEST in flat
    for fp in FINGERPRINTS.values():
        assert fp in flat
    for e in EVENTS:
        assert e.entry_hash in flat  # every ledger entry hash in full, in small print
    for it in ITEMS:
        assert it["sha256"] in flat and it["file_name"] in flat
    assert "2026-12-0208:31:00CST" in flat  # 00:31 UTC as Shanghai reads it, with the zone
    for label in ("执法人员签名", "监督人员签名", "归档人签名", "摄录人", "设备品牌型号", "录制格式", "地点"):
        assert label in text, label


def test_text_from_devices_and_people_is_escaped_not_obeyed(written):
    _, pdf = written
    text = run("pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-")
    flat = "".join(text.split())
    assert "<script>alert(1)</script>" in flat  # shown as text, not taken as markup
    assert "\x1b" not in text and "\\x1b[2J" in flat  # the escape shown, never obeyed


def test_pdf_is_pdf_a_3b_with_every_font_embedded(written):
    _, pdf = written
    fonts = run("pdffonts", str(pdf)).splitlines()[2:]
    assert fonts
    for row in fonts:
        assert row.split()[-5] == "yes", f"font not embedded: {row}"
    meta = run("pdfinfo", "-meta", str(pdf))
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, meta
    info = run("pdfinfo", str(pdf))
    assert "执法音像记录证据保管链记录 HB-2026-001" in info
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 2


def test_burn_sheet_is_on_its_own_page_after_the_trail(written, tmp_path):
    _, pdf = written
    info = run("pdfinfo", str(pdf))
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    last = run("pdftotext", "-enc", "UTF-8", "-f", str(pages), "-l", str(pages), str(pdf), "-")
    assert "刻录登记表" in last and "保管链（" not in last
    assert MANIFEST in "".join(last.split())
    first = run("pdftotext", "-enc", "UTF-8", "-f", "1", "-l", "1", str(pdf), "-")
    assert "刻录登记表" not in first
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "page")],
                   check=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 10_000 for p in pngs)


def test_custody_jsonl_has_every_field_in_time_order(written):
    jsonl, _ = written
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len(EVENTS)
    assert [r["at_ns"] for r in rows] == sorted(e.at_ns for e in EVENTS)
    assert set(rows[0]) == {"at", "at_ns", "kind", "who", "approved_by", "request", "detail", "entry_hash"}
    assert rows[0]["kind"] == "calibration" and rows[0]["at"] == "2026-12-02T02:00:00.000Z"
    view = next(r for r in rows if r["who"] == "检察院 孙七")
    assert view == {"at": "2026-12-02T02:20:00.000Z", "at_ns": ns(2026, 12, 2, 2, 20), "kind": "view",
                    "who": "检察院 孙七", "approved_by": "局长 赵六", "request": REQUEST, "detail": "查看原始视频",
                    "entry_hash": "03" * 32}
    assert "检察院" in lines[2]  # UTF-8, not \\u escapes
    assert any("\\u001b[2J" in line for line in lines)  # the JSON keeps the original, escaped by JSON itself


def test_events_at_the_same_instant_keep_the_ledger_order():
    a = event(5, "view", "甲", 1)
    b = event(5, "copy", "乙", 2)
    assert [json.loads(x)["who"] for x in custody_jsonl([b, a]).splitlines()] == ["乙", "甲"]


def test_an_existing_record_is_never_overwritten(tmp_path):
    out = tmp_path / "package"
    out.mkdir()
    (out / "custody.pdf").write_bytes(b"older")
    with pytest.raises(RefusedError, match="never overwritten"):
        write_custody(out, case=CASE, items=ITEMS, events=EVENTS, manifest_sha256=MANIFEST,
                      fingerprints=FINGERPRINTS, tz=SHANGHAI)
    assert (out / "custody.pdf").read_bytes() == b"older" and not (out / "custody.jsonl").exists()


@pytest.mark.parametrize("change, message", [
    (lambda a: a["case"].pop("unit"), "case lacks 'unit'"),
    (lambda a: a["case"]["officers"][0].pop("certificate"), r"case.officers\[0\] lacks 'certificate'"),
    (lambda a: a["items"][1].update(size="big"), r"items\[1\].size has the wrong type"),
    (lambda a: a["items"][0].update(start_ns=True), r"items\[0\].start_ns has the wrong type"),
    (lambda a: a["items"][0].update(sha256="ABC"), r"items\[0\].sha256 must be a SHA-256"),
    (lambda a: a.update(manifest_sha256="0" * 63), "manifest_sha256 must be a SHA-256"),
    (lambda a: a["events"].append(event(1, "view", "x", 1, entry_hash="short")), r"entry_hash must be a SHA-256"),
    (lambda a: a["events"].append(event(1, "", "x", 1)), "needs a time"),
    (lambda a: a["events"].append("view"), "not a CustodyEvent"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, change, message):
    args = {"case": json.loads(json.dumps(CASE)), "items": json.loads(json.dumps(ITEMS)), "events": list(EVENTS),
            "manifest_sha256": MANIFEST}
    change(args)
    out = tmp_path / "package"
    out.mkdir()
    with pytest.raises(BodycamError, match=message):
        write_custody(out, fingerprints=FINGERPRINTS, tz=SHANGHAI, **args)
    assert list(out.iterdir()) == []


def test_times_are_in_the_configured_zone_else_shanghai_never_the_machines(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.setattr(formats, "_configured_zone", None)
    assert document_zone() == SHANGHAI
    ctx = context(case=CASE, items=ITEMS, events=EVENTS, manifest_sha256=MANIFEST, fingerprints={})
    assert ctx["items"][0]["start"] == "2026-12-02 08:31:00 CST"
    assert ctx["zone"] == "Asia/Shanghai（CST，UTC+08:00）"
    formats.use_display_zone("Europe/Berlin")
    ctx = context(case=CASE, items=ITEMS, events=EVENTS, manifest_sha256=MANIFEST, fingerprints={})
    assert ctx["items"][0]["start"] == "2026-12-02 01:31:00 CET"
    tokyo = ZoneInfo("Asia/Tokyo")
    assert context(case=CASE, items=ITEMS, events=EVENTS, manifest_sha256=MANIFEST, fingerprints={},
                   tz=tokyo)["items"][0]["start"] == "2026-12-02 09:31:00 JST"


def test_burn_sheet_sums_up_the_a2_art16_fields():
    sheet = context(case=CASE, items=ITEMS, events=EVENTS, manifest_sha256=MANIFEST, fingerprints={},
                    tz=SHANGHAI)["sheet"]
    assert sheet["officers"] == "张三（执法证号 42010020260001）、李四（执法证号 42010020260002）"
    assert sheet["operators"] == "张三、李四"
    assert sheet["start"] == "2026-12-02 08:31:00 CST" and sheet["end"] == "2026-12-02 08:42:00 CST"
    assert sheet["places"] == "某化工厂排污口"  # the second item's unknown place adds nothing
    assert sheet["devices"] == "海康威视 DSJ-X1（序列号 SN20260001）；执法仪厂 ZF-9（序列号 SN20260002）"
    assert sheet["formats"] == "mp4 / h264" and sheet["count"] == 2
