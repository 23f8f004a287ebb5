"""Documents for people are PDF/A with Chinese fonts embedded, read back with poppler's own tools.

A court record whose Chinese depends on the reader's fonts is not an archival record (A2 Art.16
asks for the burned evidence to carry the officers' names and case facts; the reader must see them).
"""

from __future__ import annotations

import subprocess

from archive.documents import pdf_from_html, render_html


def test_base_template_is_chinese_html_with_escaped_title():
    html = render_html("base.html", title="案件 <C-1>")
    assert '<html lang="zh-CN">' in html
    assert "<title>案件 &lt;C-1&gt;</title>" in html  # text from people is escaped, never raw markup


def test_pdf_is_pdf_a_with_embedded_cjk_fonts(tmp_path):
    html = render_html("base.html", title="刻录登记表").replace(
        "<body>", "<body><h1>执法记录仪 案件 HB-2026-001</h1><p>执法人员：张三、李四</p>")
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(pdf_from_html(html))
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "执法记录仪 案件 HB-2026-001" in text
    assert "张三、李四" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows, fonts
    assert any("CJK" in r for r in rows), fonts
    for row in rows:  # columns: name type encoding emb sub uni object ID
        assert row.split()[-5] == "yes", f"font not embedded: {row}"
    meta = subprocess.run(["pdfinfo", "-meta", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, meta
