"""The paper of the demo's cases, as real PDF/A files with embedded Chinese fonts: the inspection
record attached to the major case (A2 Art.2), the items its legal review is submitted with (A3
Art.7), and the decisions' fields (A1 Art.9) as TOML for ``bodycam case decide``.

Usage: python scripts/demo_documents.py OUT_DIR YYYY-MM-DD     (called by scripts/demo.sh)

Demo data only: the companies, people and numbers are invented."""

from __future__ import annotations

import html
import sys
from datetime import date
from pathlib import Path

from archive.documents import pdf_from_html

MAJOR = "HB-2026-117"
MINOR = "HB-2026-118"

PAPERS = {
    "inspection-record.pdf": ("现场检查（勘察）笔录", [
        f"案号：{MAJOR}",
        "检查地点：某化工公司废水总排放口",
        "执法人员：张三（执法证号 44010000203）、王五（执法证号 44010000205），已出示执法证件，"
        "并告知当事人执法全过程使用执法记录仪记录。",
        "检查情况：废水总排放口正在排放，现场采集水样一份，经快速检测化学需氧量超过排放标准。",
        "当事人签名：（见原件）        执法人员签名：（见原件）",
    ]),
    "draft-decision.pdf": ("行政处罚决定书（草案）", [
        f"案号：{MAJOR}",
        "当事人：某化工有限公司",
        "违法事实：超标排放水污染物。",
        "依据：《中华人民共和国水污染防治法》第八十三条第二项。",
        "拟处罚：责令停产整治，并处罚款人民币叁拾万元整。",
    ]),
    "investigation-report.pdf": ("案件调查终结报告", [
        f"案号：{MAJOR}",
        "调查经过：现场检查、采样监测、询问当事人，执法记录仪视频两段已上传局档案系统。",
        "调查结论：违法事实清楚，证据确实充分，建议按草案作出决定。",
    ]),
    "evidence-list.pdf": ("证据材料清单", [
        f"案号：{MAJOR}",
        "1. 现场检查（勘察）笔录一份；2. 监测报告一份；3. 执法记录仪视频两段（见局档案系统，检索案号）。",
    ]),
}


def paper(title: str, lines: list[str], day: date) -> str:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>@page { size: A4; margin: 25mm } body { font-family: 'Noto Serif CJK SC', 'Noto Sans CJK SC',"
            " serif; font-size: 12pt; line-height: 1.7 } h1 { text-align: center; font-size: 18pt }</style>"
            f"</head><body><h1>{html.escape(title)}</h1>{body}<p>日期：{day.year}年{day.month}月{day.day}日</p>"
            "<p><small>演示数据（demo data）</small></p></body></html>")


def decisions(day: date) -> dict[str, str]:
    """The fields of each case's decision (A1 Art.9), TOML, dated ``day``."""
    until = date(day.year + 1, day.month, min(day.day, 28)).isoformat()
    common = (f'CF_JDRQ = "{day.isoformat()}"\nCF_YXQ = "{until}"\n'
              'CF_CFJG = "某市生态环境局"\nCF_CFJGDM = "11440100MB2C921623"\n'
              'CF_SJLY = "某市生态环境局"\nCF_SJLYDM = "11440100MB2C921623"\n')
    minor = (f'CF_WSH = "某环罚〔{day.year}〕118号"\nCF_XDR_MC = "赵六"\nCF_XDR_LB = "自然人"\n'
             'CF_WFXW = "露天焚烧产生有毒有害烟尘的物质"\n'
             f'CF_SY = "当事人赵六（电话13912345678）于{day.year}年{day.month}月{day.day}日'
             '在住所旁露天焚烧废旧轮胎。"\n'
             'CF_YJ = "《中华人民共和国大气污染防治法》第一百一十九条第二款"\nCF_CFLB = "罚款"\n'
             'CF_NR = "罚款人民币壹万元整"\nCF_NR_FK = "1"\n' + common
             + 'evidence = "现场照片、询问笔录、执法记录仪视频"\nexecution = "未履行"\nseverity = "轻微"\n'
               'unit = "第一执法大队"\n')
    return {f"decision-{MINOR}.toml": minor}


def main(out: Path, day: date) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (title, lines) in PAPERS.items():
        (out / name).write_bytes(pdf_from_html(paper(title, lines, day)))
    for name, text in decisions(day).items():
        (out / name).write_text(text, encoding="utf-8")
    print(" ".join(sorted([*PAPERS, *decisions(day)])))


if __name__ == "__main__":
    main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]))
