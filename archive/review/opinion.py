"""The written opinion of a legal review (重大行政执法决定法制审核意见书, A3 Art.13), in Chinese, as PDF/A.

Sections: header and number; the case and why it is major (A3 Art.3); the material received
(A3 Art.7); the proposed decision; the review period with its pauses and extension (A3 Art.10);
the findings per A3 Art.8 item, the automatic ones with the ledger entries behind them and the
reviewers' judgements; the conclusion with its A3 Art.11 criteria; recommendations; sign-off
lines; and the ledger hashes the opinion rests on — the signed outcome and the leader's approval,
which a reader can look up with ``bodycam ledger show``/``ledger proof``. (The opinion's own entry
cannot be printed inside the PDF it names; it records the PDF's SHA-256 instead.)

The PDF is rendered by ``archive.documents`` from ``archive/templates/review/opinion.html``, stored
as a case attachment (signed by the approving leader) and named by a ``review_opinion`` entry.
Every English message of the ledger (findings, criteria) is shown in Chinese through the same
catalogue the terminal uses, whatever the language of whoever issues it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from archive.review.acts import opinion_body
from archive.review.catalogue import CRITERIA as ART3
from archive.review.catalogue import TRANSFER_TO
from archive.review.chinese import zh
from archive.review.clock import PAUSE_REASONS, bureau_date
from archive.review.findings import ART8_ITEMS
from archive.review.outcome import CRITERIA as ART11
from archive.review.outcome import OUTCOMES, VERDICTS
from archive.review.state import ITEMS, case_review
from archive.workdays import WorkCalendar
from bodycam.i18n import Message
from ledger.cases import attach_file
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import CaseOpen
from ledger.store import Entry, Ledger


def _date(ns: int | None) -> str:
    if ns is None:
        return "—"
    d = bureau_date(ns)
    return f"{d.year}年{d.month}月{d.day}日"


def _day(d) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d is not None else "—"


def opinion_number(case_id: str, round_no: int, year: int) -> str:
    return f"法审〔{year}〕{case_id}-{round_no}号"


def _names(ledger: Ledger) -> dict[str, str]:
    from ledger.people import people

    return {p.person_id: p.name or p.person_id for p in people(ledger)}


def opinion_context(ledger: Ledger, case_id: str, cal: WorkCalendar, now_ns: int) -> dict:
    """Everything the template shows, in Chinese, for the latest round of ``case_id``."""
    rv = case_review(ledger, case_id)
    r = rv.latest
    assert r is not None and r.outcome is not None
    out_h, out = r.outcome
    appr = r.approval
    names = _names(ledger)
    case_open = next((e.record for e in ledger.entries(kind="case_open", case_id=case_id)), None)
    assert case_open is None or isinstance(case_open, CaseOpen)
    cls = rv.classification[1] if rv.classification else None
    catalogue = ledger.by_hash(cls.catalogue) if cls else None
    labels = {i["code"]: i["label"] for i in (catalogue.body.get("items", []) if catalogue else [])}
    files = {}
    for e in ledger.entries(kind="attachment", case_id=case_id):
        files[e.entry_hash] = e.body["file_name"]
    materials = [{"item": zh(ITEMS[i.item]), "file": files.get(i.attachment, "?"), "sha256": i.sha256,
                  "entry": i.attachment} for i in r.items]
    facts = r.facts
    proposal = []
    if facts.measures:
        proposal.append("拟采取的措施：" + "、".join(labels.get(m, m) for m in facts.measures))
    if facts.fine_yuan is not None:
        proposal.append(f"拟罚款：{facts.fine_yuan} 元（当事人：{zh(Message(_party(facts.party_kind)))}）")
    if facts.transfer:
        proposal.append("拟移送：" + zh(Message(TRANSFER_TO[facts.transfer])))
    drafts = [m["file"] for m in materials if m["item"] == zh(ITEMS["draft_decision"])]
    if drafts:
        proposal.append("决定文书（建议稿）：" + "、".join(drafts))
    st = r.clock_status(cal, now_ns)
    timeline = [("收到完整送审材料", _date(r.received_ns)), ("审核期限起算日", _day(st.first_day))]
    for p in st.pauses:
        timeline.append((f"中止计算（{zh(PAUSE_REASONS.get(p.reason, p.reason))}）",
                         f"{_day(p.start)} 至 {_day(p.end) if p.end else '—'}，不计入 {p.days} 个工作日"))
    if st.extended_on is not None:
        timeline.append(("经分管法规的局领导批准延长 3 个工作日", _day(st.extended_on)))
    timeline += [("审核期限届满日", _day(st.due)), ("作出审核结论", _date(out.concluded_ns)),
                 ("已用工作日", f"{st.used} / {st.limit}" + ("（超期）" if st.overdue else ""))]
    judgements = {}
    for h in out.judgements:
        e = ledger.by_hash(h)
        if e is not None:
            j = e.record
            judgements[j.item] = {"verdict": zh(VERDICTS[j.verdict]), "note": j.note,
                                  "by": names.get(j.by, j.by), "entry": h}
    sections = []
    for item, title in ART8_ITEMS.items():
        fs = [{"code": f.code, "text": f.message_zh or f.message, "entries": f.entries}
              for f in out.findings if f.item == item]
        sections.append({"item": item, "title": zh(title), "findings": fs, "judgement": judgements.get(item)})
    return {
        "number": opinion_number(case_id, r.number, bureau_date(out.concluded_ns).year),
        "case_id": case_id,
        "case_title": case_open.title if case_open else "",
        "unit": case_open.unit if case_open else "",
        "officers": "、".join(names.get(o, o) for o in case_open.officers) if case_open else "",
        "round": r.number,
        "earlier_rounds": [{"round": x.number, "outcome": zh(OUTCOMES[x.outcome[1].outcome]) if x.outcome else "—"}
                           for x in rv.rounds[:-1]],
        "major": [{"criterion": c.criterion, "text": zh(ART3[c.criterion]), "why": c.why_zh or c.why}
                  for c in (cls.criteria if cls else [])],
        "materials": materials,
        "proposal": proposal,
        "timeline": timeline,
        "calendar": "；".join(st.sources),
        "sections": sections,
        "outcome": zh(OUTCOMES[out.outcome]),
        "criteria": [f"{c}：{zh(ART11.get(c, c))}" for c in out.criteria],
        "recommendations": out.recommendations,
        "reviewers": [names.get(x, x) for x in out.reviewers],
        "concluded_on": _date(out.concluded_ns),
        "leader": names.get(appr[1].by, appr[1].by) if appr else "",
        "approved_on": _date(appr[1].at_ns) if appr else "",
        "outcome_entry": out_h,
        "approval_entry": appr[0] if appr else "",
        "submission_entry": r.submission[0],
    }


def _party(kind: str | None) -> str:
    from archive.review.catalogue import PARTY_KINDS

    return PARTY_KINDS.get(kind or "", kind or "—")


def issue_opinion(ledger: Ledger, blob_root: Path, signer: Signer, by: str, case_id: str, cal: WorkCalendar, *,
                  now_ns: int | None = None, work_dir: Path | None = None) -> Entry:
    """Render the opinion of the latest (approved) round, store it as a case attachment and append
    its ``review_opinion`` entry."""
    from archive.documents import render_pdf

    now = time.time_ns() if now_ns is None else now_ns
    ctx = opinion_context(ledger, case_id, cal, now)
    pdf = render_pdf("review/opinion.html", title=f"重大行政执法决定法制审核意见书 {ctx['number']}", **ctx)
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        path = Path(tmp) / f"legal-review-opinion-{case_id}-{ctx['round']}.pdf"
        path.write_bytes(pdf)
        att = attach_file(ledger, blob_root, case_id, "other", path, person_id=by, signer=signer, now_ns=now)
    rv = case_review(ledger, case_id)
    r = rv.latest
    assert r is not None and r.outcome is not None and r.approval is not None
    body = opinion_body(case_id, r.number, ctx["number"], r.outcome[0], r.approval[0], att, by, now)
    return ledger.append(seal(body, signer), require_trusted=True)
