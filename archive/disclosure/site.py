"""The portal's own configuration: its title, the name policy, the public periods and the A1 Art.5
"before" pages (``config/disclosure.example.toml`` documents every key).

A1 Art.5 asks the bureau to publish, before it enforces anything, its enforcement bodies and staff
roster (with certificate numbers), legal bases and discretion benchmarks, powers and procedures
with flowcharts, the random-inspection list, remedies and complaint channels. These change by
office decision, not by ledger entry, so they come from a file the bureau edits; a portal without
one of the six pages is refused, naming it. Flowcharts are written as ordered steps (text, not
images: WCAG 2.0 1.4.5).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from bodycam.configfile import StrictModel, read_text, validate_data
from bodycam.errors import ConfigError
from bodycam.formats import check_nesting
from bodycam.i18n import N_, Message

REQUIRED_PAGES: dict[str, str] = {
    "bodies": "执法主体及执法人员",
    "bases": "执法依据及裁量基准",
    "powers": "执法职责、权限及流程",
    "inspections": "随机抽查事项清单",
    "remedies": "救济途径",
    "complaints": "投诉举报方式",
}
MAX_SITE_FILE = 1 << 20


class SiteTable(StrictModel):
    caption: str = Field(min_length=1, max_length=200, description="The table's caption (WCAG: every table has one).")
    columns: list[str] = Field(min_length=1, max_length=20, description="Column headers.")
    rows: list[list[str]] = Field(default_factory=list, max_length=2000, description="Rows, one cell per column.")

    @field_validator("rows")
    @classmethod
    def _width(cls, rows: list[list[str]], info) -> list[list[str]]:
        width = len(info.data.get("columns") or [])
        for i, row in enumerate(rows, 1):
            if len(row) != width:
                raise ValueError(f"row {i} has {len(row)} cells; the table has {width} columns")
        return rows


class SitePage(StrictModel):
    slug: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="File name of the page (slug.html).")
    title: str = Field(min_length=1, max_length=100)
    paragraphs: list[str] = Field(default_factory=list, description="Paragraphs of text.")
    steps: list[str] = Field(default_factory=list, description="A procedure as ordered steps (the flowchart, "
                                                                 "as text).")
    tables: list[SiteTable] = Field(default_factory=list)


class Portal(StrictModel):
    title: str = Field(default="行政执法公示", max_length=100, description="The portal's name (every page's h1 "
                                                                              "starts from it).")
    bureau: str = Field(default="生态环境局", max_length=100, description="The enforcing bureau.")
    name_policy: str = Field(default="mou", pattern=r"^(full|mou|star)$",
                             description="A natural person's own name: full, mou (张某) or star (张*).")
    page_size: int = Field(default=20, ge=1, le=500, description="Decisions per list page.")
    public_days: dict[str, int] = Field(
        default_factory=lambda: {"轻微": 365, "一般": 365, "严重": 1095},
        description="Days a penalty stays online by severity class before it is withdrawn (A1 Art.15: one year); "
                    "other decisions: one year.")


class Site(StrictModel):
    portal: Portal = Field(default_factory=Portal)
    pages: list[SitePage] = Field(default_factory=list, description="The A1 Art.5 pages.")


def load_site(path: Path) -> Site:
    """The portal configuration; a missing A1 Art.5 page is a ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(Message(N_("{file}: no portal configuration; copy config/disclosure.example.toml there and "
                                     "fill it in"), file=path))
    if path.stat().st_size > MAX_SITE_FILE:
        raise ConfigError(Message(N_("{file}: larger than {n} KiB"), file=path, n=MAX_SITE_FILE >> 10))
    text = read_text(path)
    check_nesting(text, syntax="toml", what=str(path))
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(Message("{file}: {error}", file=path, error=e)) from None
    site = validate_data(path, data, Site, text)
    slugs = [p.slug for p in site.pages]
    missing = [f"{slug} ({title})" for slug, title in REQUIRED_PAGES.items() if slug not in slugs]
    if missing:
        raise ConfigError(Message(N_("{file}: the A1 Art.5 pages are missing: {pages}"), file=path,
                                  pages=", ".join(missing)))
    dup = sorted({s for s in slugs if slugs.count(s) > 1})
    if dup:
        raise ConfigError(Message(N_("{file}: pages named twice: {pages}"), file=path, pages=", ".join(dup)))
    return site
