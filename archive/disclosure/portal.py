"""Publishing: the signed acts of a publication run and the static portal it renders (A1 Art.5, 11,
15, 17).

``publish`` first appends what the run does to the ledger, signed by the publishing officer: a
``withdraw`` for each decision whose public period ended (A1 Art.15), a ``publish`` for each decision
newly put online (with the SHA-256 of its public record, so what the public saw can be shown
later). Only then is the portal rendered, from the ledger alone: withheld and withdrawn decisions
appear nowhere; revoked ones stay as a notice with the reason; corrected ones show their notes.

The portal is static HTML in Chinese (Jinja2 templates under ``archive/templates/portal/``,
autoescaped), usable without JavaScript and written for WCAG 2.0 AA / GB/T 37668-2019: a skip
link, one ``h1`` per page, tables with a caption and ``th scope``, ``<time datetime>``, text
colours of at least 4.5:1, no text in images; plain-link paging; ``feed.json`` (every published
record) and ``feed.csv`` (the 双公示 ``CF_*`` columns of penalties) for the credit platform. The
folder is rebuilt whole each time (a marker file says it is ours), so nothing withdrawn lingers.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from archive.disclosure.decisions import BUREAU_TZ, act, bureau_date
from archive.disclosure.masking import public_fields
from archive.disclosure.site import Site
from archive.disclosure.state import DecisionState, decision_states
from archive.documents import render_html
from archive.workdays import WorkCalendar
from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.canonical import canonical_json
from ledger.keys import Signer
from ledger.records.case import CASE_TYPE_NAMES
from ledger.records.disclosure import PENALTY_FIELDS, TYPE_FIELDS, decision_date
from ledger.store import Ledger

MARKER = ".bodycam-portal"
TYPE_NAMES = {t: CASE_TYPE_NAMES[t] for t in ("penalty", "coercion", "inspection")}
CSV_COLUMNS = [k for k in PENALTY_FIELDS if k.startswith("CF_")] + ["BZ"]
YEAR_NS = 365 * 86_400 * 10**9


@dataclass
class PublishResult:
    published: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # free text awaiting a person's check
    pages: int = 0
    out: Path | None = None


def public_record(st: DecisionState, site: Site) -> dict | None:
    """What the public sees of one decision (None while its free text awaits a check)."""
    texts = st.text_check[1].texts if st.text_check else None
    fields = public_fields(st.type, st.fields, texts, site.portal.name_policy)
    if fields is None:
        return None
    return {"id": st.id[:16], "type": st.type, "decided": decision_date(st.type, st.fields).isoformat(),
            "fields": fields}


def record_sha256(record: dict) -> str:
    return hashlib.sha256(canonical_json(record)).hexdigest()


def public_period_ns(st: DecisionState, site: Site) -> int:
    days = site.portal.public_days.get(st.fields.get("severity", ""), 365) if st.type == "penalty" else 365
    return days * 86_400 * 10**9


def publish(ledger: Ledger, signer: Signer, by: str, site: Site, out: Path, *, now_ns: int,
            calendar: WorkCalendar | None = None) -> PublishResult:
    """One publication run: withdraw what expired, publish what is ready, render the portal to ``out``."""
    _check_out(out)
    result = PublishResult(out=out)
    for st in decision_states(ledger).values():
        if st.withheld is not None or st.withdrawn is not None or st.record.added_ns > now_ns:
            continue
        if st.published is not None:
            if st.text_check is None:  # free text corrected since its check: off the portal until re-checked
                result.held.append(st.id)
            if now_ns - st.published[1].at_ns >= public_period_ns(st, site):
                act(ledger, signer, by, st.id, "withdraw", note="public period ended (A1 Art.15)", now_ns=now_ns)
                result.withdrawn.append(st.id)
            continue
        rec = public_record(st, site)
        if rec is None:
            result.held.append(st.id)
            continue
        act(ledger, signer, by, st.id, "publish", sha256=record_sha256(rec), now_ns=now_ns, calendar=calendar)
        result.published.append(st.id)
    result.pages = render_portal(ledger, site, out, now_ns=now_ns)
    return result


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise RefusedError(Message(N_("{out} exists and is not a portal folder this command wrote; give a new or "
                                      "empty folder (--out)"), out=out))


def _time(ns: int) -> dict:
    local = dt.datetime.fromtimestamp(ns / 1e9, BUREAU_TZ)
    return {"iso": local.isoformat(timespec="seconds"), "text": local.strftime("%Y年%m月%d日 %H:%M")}


def _date(day: str) -> dict:
    d = dt.date.fromisoformat(day)
    return {"iso": day, "text": f"{d.year}年{d.month}月{d.day}日"}


def portal_items(ledger: Ledger, site: Site, now_ns: int) -> list[dict]:
    """Every decision on the portal, newest decision first, with its notices."""
    items = []
    for st in decision_states(ledger).values():
        if not st.on_portal or st.published[1].at_ns > now_ns:  # type: ignore[index]
            continue
        rec = public_record(st, site)
        if rec is None:
            continue
        kinds = TYPE_FIELDS[st.type]
        rows = [{"name": kinds[k][0].split(" (")[0], "key": k, "value": rec["fields"][k]} for k in kinds
                if k in rec["fields"]]
        corrections = [{"note": a.note, "at": _time(a.at_ns), "changes": dict(a.changes)}
                       for _, a in st.corrections if a.at_ns <= now_ns]
        revoked = st.revoked[1] if st.revoked is not None and st.revoked[1].at_ns <= now_ns else None
        published_ns = st.published[1].at_ns  # type: ignore[index]
        until = bureau_date(published_ns + public_period_ns(st, site)).isoformat()
        items.append({
            "public_until": until,
            "id": rec["id"], "type": st.type, "type_name": TYPE_NAMES[st.type], "decided": _date(rec["decided"]),
            "title": rec["fields"].get("CF_WSH") or rec["fields"].get("document_no") or rec["id"],
            "party": rec["fields"].get("CF_XDR_MC") or rec["fields"].get("party") or rec["fields"].get("target", ""),
            "body": rec["fields"].get("CF_CFJG") or rec["fields"].get("body", ""),
            "rows": rows, "record": rec, "published": _time(st.published[1].at_ns),  # type: ignore[index]
            "corrections": corrections,
            "revoked": {"note": revoked.note, "at": _time(revoked.at_ns)} if revoked else None,
        })
    items.sort(key=lambda i: (i["decided"]["iso"], i["id"]), reverse=True)
    return items


def render_portal(ledger: Ledger, site: Site, out: Path, *, now_ns: int) -> int:
    """Write the whole portal to ``out`` (replaced as a whole); returns the number of HTML pages."""
    _check_out(out)
    items = portal_items(ledger, site, now_ns)
    stats = yearly_statistics(ledger, now_ns)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        pages = _write_all(tmp, items, stats, site, now_ns)
        os.chmod(tmp, 0o755)  # noqa: S103 - a public portal: the web server must read it
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return pages


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def yearly_statistics(ledger: Ledger, now_ns: int) -> list[dict]:
    """The annual statistics (A1 Art.18) of every year with decisions, newest first: counts only,
    so withheld decisions are counted without being shown."""
    from archive.disclosure.report import annual_statistics, disclosure_report

    rows = disclosure_report(ledger, None, now_ns)
    years = sorted({r["decided"][:4] for r in rows}, reverse=True)
    return [{"year": y, "rows": [{**s, "type_name": TYPE_NAMES[s["type"]]} for s in
                                 annual_statistics([r for r in rows if r["decided"][:4] == y])]} for y in years]


def _write_all(root: Path, items: list[dict], stats: list[dict], site: Site, now_ns: int) -> int:
    common = {"site": site.portal, "pages": site.pages, "generated": _time(now_ns)}
    (root / MARKER).write_text("written by bodycam disclosure publish; rebuilt whole on every run\n")
    _write(root / "style.css", render_html("portal/style.css"))
    size = site.portal.page_size
    chunks = [items[i:i + size] for i in range(0, len(items), size)] or [[]]
    n = 0

    def page_name(i: int) -> str:
        return "index.html" if i == 1 else f"page-{i}.html"

    for i, chunk in enumerate(chunks, 1):
        _write(root / page_name(i), render_html(
            "portal/list.html", title=f"{site.portal.title}（第{i}页）" if i > 1 else site.portal.title, root="",
            items=chunk, page=i, page_count=len(chunks), prev=page_name(i - 1) if i > 1 else None,
            next=page_name(i + 1) if i < len(chunks) else None, page_names=[page_name(j) for j in
                                                                             range(1, len(chunks) + 1)],
            total=len(items), **common))
        n += 1
    for item in items:
        _write(root / "d" / f"{item['id']}.html", render_html(
            "portal/decision.html", title=f"{item['title']} - {site.portal.title}", root="../", item=item,
            **common))
        n += 1
    _write(root / "statistics.html", render_html(
        "portal/statistics.html", title=f"年度统计 - {site.portal.title}", root="", years=stats, **common))
    n += 1
    for page in site.pages:
        _write(root / "before" / f"{page.slug}.html", render_html(
            "portal/before.html", title=f"{page.title} - {site.portal.title}", root="../", page=page, **common))
        n += 1
    feed = [{**it["record"], "url": f"d/{it['id']}.html", "published": it["published"]["iso"],
             "corrections": [{"note": c["note"], "at": c["at"]["iso"], "changes": c["changes"]}
                             for c in it["corrections"]],
             "revoked": {"note": it["revoked"]["note"], "at": it["revoked"]["at"]["iso"]} if it["revoked"] else None}
            for it in items]
    _write(root / "feed.json", json.dumps({"generated": _time(now_ns)["iso"], "decisions": feed},
                                          ensure_ascii=False, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["id", *CSV_COLUMNS, "CF_ZT"])
    for it in items:
        if it["type"] == "penalty":
            f = it["record"]["fields"]
            state = "撤销" if it["revoked"] else ("更正" if it["corrections"] else "有效")
            f = {**f, "CF_GSJZQ": f.get("CF_GSJZQ") or it["public_until"]}  # 公示截止期: the public period's end
            w.writerow([it["id"], *(f.get(c, "") for c in CSV_COLUMNS), state])
    _write(root / "feed.csv", "\ufeff" + buf.getvalue())  # BOM: spreadsheet programs read it as UTF-8
    return n
