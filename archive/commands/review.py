"""Legal review of major decisions: classify, submit, clock, checklist, outcome, opinion (A3).

Every act — classification, intake, supplement, pause, extension, judgement, outcome, approval and
the written opinion — is a signed entry in the archive ledger; the evidence items of the checklist
are checked automatically against the ledger.
"""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import KeyRef, TimeParam, app_config, echo_json, json_option, signed_by, signer_options
from bodycam.errors import RefusedError
from bodycam.formats import printable
from bodycam.i18n import N_, Message, _, tr
from bodycam.tables import table
from ledger.store import Ledger

now_option = click.option("--now", "now_ns", type=TimeParam(), default=None, hidden=True)
ITEM_NAMES = ("draft_decision", "investigation_report", "facts_evidence_basis", "hearing_record", "opinions", "other")


def _cfg(ctx: click.Context):
    return app_config(ctx).archive


def _ledger(ctx: click.Context) -> Ledger:
    cfg = _cfg(ctx)
    return Ledger.open(cfg.path(cfg.ledger), create=False)


def _blobs(ctx: click.Context) -> Path:
    cfg = _cfg(ctx)
    return cfg.path(cfg.blob_dir)


def _calendar(ctx: click.Context):
    from archive.workdays import WorkCalendar

    cfg = _cfg(ctx)
    return WorkCalendar.from_file(cfg.path(cfg.holidays_file) if cfg.holidays_file else None)


def _catalogue(ctx: click.Context):
    from archive.review.catalogue import load_catalogue

    cfg = _cfg(ctx)
    return load_catalogue(cfg.path(cfg.review_catalogue) if cfg.review_catalogue else None)


def _items(values: tuple[str, ...]) -> list[tuple[str, Path]]:
    out = []
    for v in values:
        kind, sep, file = v.partition("=")
        if not sep or kind not in ITEM_NAMES or not file:
            raise click.UsageError(_("--item {value!r}: write KIND=FILE with KIND one of {kinds}").format(
                value=v, kinds=", ".join(ITEM_NAMES)))
        path = Path(file)
        if not path.is_file():
            raise click.UsageError(_("--item {kind}: {file} is not a file").format(kind=kind, file=path))
        out.append((kind, path))
    return out


@click.group()
def review() -> None:
    """Legal review of major decisions: classify, submit, clock, checklist, outcome, opinion (A3).

    Every act — classification, intake, supplement, pause, extension, judgement, outcome, approval and
    the written opinion — is a signed entry in the archive ledger; the evidence items of the checklist
    are checked automatically against the ledger.
    """


@review.command("classify")
@click.argument("case_id")
@click.option("--measure", "measures", multiple=True, help="Catalogue code of a proposed measure; repeat for several.")
@click.option("--fine", "fine_yuan", type=click.IntRange(min=0), default=None, help="Proposed fine, in yuan.")
@click.option("--party-kind", type=click.Choice(("individual", "organisation")), default=None,
              help="Kind of party the fine is on.")
@click.option("--hearing", is_flag=True, help="The decision is made after a hearing (A3 Art.3(3)).")
@click.option("--public-interest", default="", help="Why the decision bears on a major public interest (A3 Art.3(1)).")
@click.option("--legal-relations", default="", help="The several legal relations involved (A3 Art.3(4)).")
@click.option("--transfer", type=click.Choice(("police", "judiciary")), default=None,
              help="Transfer for criminal liability (A3 Art.3(5)).")
@click.option("--opinions-sought", is_flag=True, help="Opinions of other departments had to be gathered (A3 Art.6).")
@click.option("--record", is_flag=True, help="Record the facts and the classification in the ledger (needs --by).")
@signed_by(help="Enrolled person recording the classification.",
           what=N_("the person recording the classification"), required=False)
@now_option
@json_option
@click.pass_context
def review_classify(ctx: click.Context, case_id: str, measures: tuple[str, ...], fine_yuan: int | None,
                    party_kind: str | None, hearing: bool, public_interest: str, legal_relations: str,
                    transfer: str | None, opinions_sought: bool, record: bool, person_id: str | None,
                    key: KeyRef | None, now_ns: int | None, as_json: bool) -> None:
    """Show which A3 Art.3 criteria make a case major, and why; --record keeps them in the ledger.

    Without fact options: the classification last recorded for the case.
    """
    from archive.review.acts import case_facts, classify_case
    from archive.review.catalogue import CRITERIA, classify, refuse_unknown
    from archive.review.state import case_review
    from ledger.records.review import CaseFacts

    given = bool(measures or fine_yuan is not None or party_kind or hearing or public_interest or legal_relations
                 or transfer or opinions_sought)
    if fine_yuan is not None and party_kind is None:
        raise click.UsageError(_("--fine needs --party-kind (the catalogue's threshold depends on it)"))
    catalogue = _catalogue(ctx)
    facts = CaseFacts(measures=list(measures), fine_yuan=fine_yuan, party_kind=party_kind, hearing=hearing,
                      public_interest=public_interest, legal_relations=legal_relations, transfer=transfer,
                      opinions_sought=opinions_sought)
    recorded = None
    with _ledger(ctx) as ledger:
        if record:
            if person_id is None or key is None:
                raise click.UsageError(_("--record needs --by and --key"))
            entry = classify_case(ledger, key.load(), person_id, case_id, facts, catalogue, now_ns=now_ns)
            recorded = entry.entry_hash
            facts = entry.record.facts
        elif not given:
            rv = case_review(ledger, case_id)
            if rv.classification is not None:
                recorded = rv.classification[0]
                facts = rv.classification[1].facts
            else:
                facts = case_facts(ledger, case_id, facts)
        else:
            refuse_unknown(facts, catalogue)
            facts = case_facts(ledger, case_id, facts)
    met = classify(facts, catalogue)
    if as_json:
        echo_json({"case_id": case_id, "major": bool(met), "recorded": recorded, "catalogue": catalogue.sha256,
                   "catalogue_source": catalogue.source, "facts": facts.model_dump(mode="json"),
                   "criteria": [{"criterion": m.criterion, "text": CRITERIA[m.criterion], "why": str(m.why)}
                                for m in met]})
        return
    if met:
        click.echo(_("case {case_id} is major (A3 Art.3):").format(case_id=case_id))
        for m in met:
            click.echo(_("  ({n}) {text}: {why}").format(n=m.criterion, text=_(CRITERIA[m.criterion]), why=tr(m.why)))
    else:
        click.echo(_("case {case_id} meets none of the A3 Art.3 criteria: not major").format(case_id=case_id))
    click.echo(_("catalogue: {source} ({sha}…)").format(source=catalogue.source, sha=catalogue.sha256[:16]))
    if recorded:
        click.echo(_("recorded as entry {entry}").format(entry=recorded))
    else:
        click.echo(_("not recorded: add --record --by P --key K to keep it in the ledger"))


@review.command("submit")
@click.argument("case_id")
@click.option("--item", "items", multiple=True, required=True,
              help="An A3 Art.7 item as KIND=FILE (PDF or image): draft_decision, investigation_report, "
                   "facts_evidence_basis, hearing_record, opinions, other; repeat for each.")
@signed_by(help="Enrolled person of the handling unit submitting.", what=N_("the person submitting"))
@now_option
@json_option
@click.pass_context
def review_submit(ctx: click.Context, case_id: str, items: tuple[str, ...], person_id: str, key: KeyRef,
                  now_ns: int | None, as_json: bool) -> None:
    """Submit a case for legal review with the A3 Art.7 items; incomplete: refused, missing items listed."""
    from archive.review.acts import IncompleteSubmission, submit

    files = _items(items)
    signer = key.load()
    with _ledger(ctx) as ledger:
        try:
            entry = submit(ledger, _blobs(ctx), signer, person_id, case_id, files, _calendar(ctx), now_ns=now_ns)
        except IncompleteSubmission as exc:
            if as_json:
                echo_json({"case_id": case_id, "entry": exc.entry.entry_hash, "round": exc.entry.body["round_no"],
                           "complete": False, "missing": exc.missing})
            raise
    if as_json:
        echo_json({"case_id": case_id, "entry": entry.entry_hash, "round": entry.body["round_no"], "complete": True,
                   "missing": []})
    else:
        click.echo(_("round {round} of case {case_id} received complete as entry {idx}; the review period starts "
                     "the next working day (A3 Art.10)").format(round=entry.body["round_no"], case_id=case_id,
                                                                 idx=entry.idx))


@review.command("supplement")
@click.argument("case_id")
@click.option("--request", "action", flag_value="request", help="A reviewer asks for more material.")
@click.option("--receive", "action", flag_value="receive", help="The material asked for arrives.")
@click.option("--want", "wanted", multiple=True, type=click.Choice(ITEM_NAMES),
              help="--request: the item wanted (default: the missing ones); repeat for several.")
@click.option("--item", "items", multiple=True, help="--receive: an item as KIND=FILE; repeat for each.")
@click.option("--note", default="", help="What is asked for or what arrived, in words.")
@signed_by(help="The reviewer (--request) or the submitter (--receive).", what=N_("the person acting"))
@now_option
@json_option
@click.pass_context
def review_supplement(ctx: click.Context, case_id: str, action: str | None, wanted: tuple[str, ...],
                      items: tuple[str, ...], note: str, person_id: str, key: KeyRef, now_ns: int | None,
                      as_json: bool) -> None:
    """Record a request for supplementary material, or its arrival (A3 Art.7, 10)."""
    from archive.review.acts import receive_supplement, request_supplement

    if action is None:
        raise click.UsageError(_("say --request or --receive"))
    signer = key.load()
    with _ledger(ctx) as ledger:
        if action == "request":
            entry = request_supplement(ledger, signer, person_id, case_id, list(wanted), note, now_ns=now_ns)
        else:
            if not items:
                raise click.UsageError(_("--receive needs at least one --item KIND=FILE"))
            entry = receive_supplement(ledger, _blobs(ctx), signer, person_id, case_id, _items(items), note,
                                       now_ns=now_ns)
    if as_json:
        echo_json({"case_id": case_id, "entry": entry.entry_hash, "action": action,
                   "complete": entry.body.get("complete", False)})
    elif action == "request":
        click.echo(_("supplement requested for case {case_id} as entry {idx}").format(case_id=case_id, idx=entry.idx))
    else:
        click.echo(_("supplement received for case {case_id} as entry {idx}").format(case_id=case_id, idx=entry.idx))


@review.command("pause")
@click.argument("case_id")
@click.option("--reason", type=click.Choice(("supplement", "expert", "consultation", "interpretation")),
              required=True, help="Why the time does not count (A3 Art.10).")
@click.option("--note", default="", help="In words.")
@signed_by(help="The reviewer.", what=N_("the reviewer"))
@now_option
@json_option
@click.pass_context
def review_pause(ctx: click.Context, case_id: str, reason: str, note: str, person_id: str, key: KeyRef,
                 now_ns: int | None, as_json: bool) -> None:
    """Pause the review clock: supplement, expert opinion, consultation or interpretation (A3 Art.10)."""
    from archive.review.acts import pause

    with _ledger(ctx) as ledger:
        entry = pause(ledger, key.load(), person_id, case_id, reason, note, _calendar(ctx), now_ns=now_ns)
    _done(as_json, case_id, entry, _("review clock of case {case_id} paused as entry {idx}"))


@review.command("resume")
@click.argument("case_id")
@click.option("--note", default="", help="In words.")
@signed_by(help="The reviewer.", what=N_("the reviewer"))
@now_option
@json_option
@click.pass_context
def review_resume(ctx: click.Context, case_id: str, note: str, person_id: str, key: KeyRef, now_ns: int | None,
                  as_json: bool) -> None:
    """Resume the review clock (A3 Art.10)."""
    from archive.review.acts import resume

    with _ledger(ctx) as ledger:
        entry = resume(ledger, key.load(), person_id, case_id, note, _calendar(ctx), now_ns=now_ns)
    _done(as_json, case_id, entry, _("review clock of case {case_id} resumed as entry {idx}"))


@review.command("extend")
@click.argument("case_id")
@click.option("--note", default="", help="Why the case is complex.")
@signed_by(help="The leader in charge of legal affairs (enrolled as head).",
           what=N_("the leader in charge of legal affairs"))
@now_option
@json_option
@click.pass_context
def review_extend(ctx: click.Context, case_id: str, note: str, person_id: str, key: KeyRef, now_ns: int | None,
                  as_json: bool) -> None:
    """Extend the review period by 3 working days: once, before the 7th day ends (A3 Art.10)."""
    from archive.review.acts import extend

    with _ledger(ctx) as ledger:
        entry = extend(ledger, key.load(), person_id, case_id, _calendar(ctx), note, now_ns=now_ns)
    _done(as_json, case_id, entry, _("review period of case {case_id} extended by 3 working days as entry {idx}"))


def _done(as_json: bool, case_id: str, entry, text: str) -> None:
    if as_json:
        echo_json({"case_id": case_id, "entry": entry.entry_hash, "idx": entry.idx})
    else:
        click.echo(text.format(case_id=case_id, idx=entry.idx))


def _pause_reason(reason: str) -> str:
    from archive.review.clock import PAUSE_REASONS

    return _(PAUSE_REASONS.get(reason, reason))


@review.command("status")
@click.argument("case_id")
@now_option
@json_option
@click.pass_context
def review_status(ctx: click.Context, case_id: str, now_ns: int | None, as_json: bool) -> None:
    """The review of a case: round, intake, days used, paused, remaining, due date, overdue (A3 Art.10)."""
    import time

    from archive.review.state import ITEMS, case_review

    now = time.time_ns() if now_ns is None else now_ns
    with _ledger(ctx) as ledger:
        rv = case_review(ledger, case_id)
        r = rv.latest
        st = r.clock_status(_calendar(ctx), now) if r is not None else None
    out = {"case_id": case_id, "major": rv.major, "classified": rv.classification is not None,
           "rounds": len(rv.rounds), "round": r.number if r else None,
           "missing": r.missing if r else [], "outcome": r.outcome[1].outcome if r and r.outcome else None,
           "approved": r.concluded if r else False, "passed": r.passed if r else False,
           "clock": st.to_json() if st else None}
    if as_json:
        echo_json(out)
        return
    if r is None or st is None:
        click.echo(_("case {case_id} was never submitted for legal review").format(case_id=case_id))
        return
    click.echo(_("case {case_id}, round {round}").format(case_id=case_id, round=r.number))
    if r.missing:
        click.echo(_("  intake refused, missing: {items}; the review period has not started").format(
            items=", ".join(f"{m} ({_(ITEMS[m])})" for m in r.missing)))
        return
    states = {"running": _("running"), "paused": _("paused"), "concluded": _("concluded"),
              "not_started": _("not started")}
    click.echo(_("  state: {state}; working days used {used} of {limit}, paused {paused}, remaining "
                 "{remaining}").format(state=states.get(st.state, st.state), used=st.used, limit=st.limit,
                                       paused=st.paused_days, remaining=st.remaining))
    click.echo(_("  received {received}, due {due}{overdue}").format(
        received=st.received.isoformat() if st.received else "-", due=st.due.isoformat() if st.due else "-",
        overdue=_(" (OVERDUE)") if st.overdue else ""))
    for p in st.pauses:
        click.echo(_("  paused {start} to {end} for {reason}: {days} working day(s) not counted").format(
            start=p.start.isoformat(), end=p.end.isoformat() if p.end else "…", reason=_pause_reason(p.reason),
            days=p.days))
    if st.extended_on:
        click.echo(_("  extended by 3 working days on {day}").format(day=st.extended_on.isoformat()))
    if r.outcome:
        from archive.review.outcome import OUTCOMES

        click.echo(_("  outcome: {outcome}{approved}").format(
            outcome=_(OUTCOMES[r.outcome[1].outcome]),
            approved=_(" (approved)") if r.concluded else _(" (awaiting the leader's approval)")))
    click.echo(_("  calendar: {sources}").format(sources="; ".join(st.sources)))


@review.command("checklist")
@click.argument("case_id")
@json_option
@click.pass_context
def review_checklist(ctx: click.Context, case_id: str, as_json: bool) -> None:
    """The A3 Art.8 checklist: automatic evidence findings from the ledger and the reviewers' judgements."""
    from archive.review.acts import findings_of
    from archive.review.findings import ART8_ITEMS
    from archive.review.outcome import VERDICTS
    from archive.review.state import case_review

    with _ledger(ctx) as ledger:
        findings = findings_of(ledger, _blobs(ctx), case_id)
        r = case_review(ledger, case_id).latest
        judged = r.latest_judgements() if r else {}
    if as_json:
        echo_json({"case_id": case_id, "findings": [f.to_json() for f in findings],
                   "judgements": {str(i): {"entry": h, "verdict": j.verdict, "note": j.note, "by": j.by}
                                  for i, (h, j) in judged.items()}})
        return
    for item, title in ART8_ITEMS.items():
        mine = [f for f in findings if f.item == item]
        j = judged.get(item)
        verdict = _(VERDICTS[j[1].verdict]) if j else (_("not judged") if item in (3, 4, 5, 6) else "")
        click.echo(_("({item}) {title}: {verdict}").format(item=item, title=_(title), verdict=verdict))
        for f in mine:
            click.echo(_("    [{code}] {message}").format(code=f.code, message=tr(f.message)))
            click.echo(_("        entries: {entries}").format(entries=", ".join(f.entries)))
    click.echo(_("{n} automatic finding(s)").format(n=len(findings)))


@review.command("judge")
@click.argument("case_id")
@click.option("--item", type=click.IntRange(1, 7), required=True, help="A3 Art.8 item, 1-7.")
@click.option("--verdict", type=click.Choice(("ok", "flawed", "failed")), required=True, help="The judgement.")
@click.option("--note", default="", help="Why (required unless ok).")
@signed_by(help="The reviewer (qualified).", what=N_("the reviewer"))
@now_option
@json_option
@click.pass_context
def review_judge(ctx: click.Context, case_id: str, item: int, verdict: str, note: str, person_id: str, key: KeyRef,
                 now_ns: int | None, as_json: bool) -> None:
    """Record a reviewer's signed judgement on one A3 Art.8 item."""
    from archive.review.acts import judge

    with _ledger(ctx) as ledger:
        entry = judge(ledger, key.load(), person_id, case_id, item, verdict, note, now_ns=now_ns)
    _done(as_json, case_id, entry, _("judgement on case {case_id} recorded as entry {idx}"))


@review.command("conclude")
@click.argument("case_id")
@click.option("--outcome", type=click.Choice(("lawful", "correct", "reinvestigate", "transfer")), required=True,
              help="A3 Art.11: lawful, correct, reinvestigate (or supplement, or do not decide), transfer.")
@click.option("--recommendation", default="", help="Recommendations to the handling unit.")
@signed_by(help="The reviewer (qualified).", what=N_("the reviewer"))
@click.option("--second-reviewer", default=None, help="A second reviewer signing the outcome too.")
@signer_options("second", what=N_("the second reviewer"), required=False)
@now_option
@json_option
@click.pass_context
def review_conclude(ctx: click.Context, case_id: str, outcome: str, recommendation: str, person_id: str,
                    key: KeyRef, second_reviewer: str | None, second_key: KeyRef | None, now_ns: int | None,
                    as_json: bool) -> None:
    """Conclude the review (A3 Art.11), signed by the reviewer(s); refused while its criteria are not met."""
    from archive.review.acts import conclude

    signers = [(person_id, key.load())]
    if second_reviewer is not None:
        if second_key is None:
            raise click.UsageError(_("--second-reviewer needs --second-key"))
        signers.append((second_reviewer, second_key.load()))
    with _ledger(ctx) as ledger:
        entry = conclude(ledger, _blobs(ctx), signers, case_id, outcome, recommendation, now_ns=now_ns)
    if as_json:
        echo_json({"case_id": case_id, "entry": entry.entry_hash, "idx": entry.idx, "outcome": outcome,
                   "criteria": entry.body["criteria"]})
    else:
        click.echo(_("case {case_id} concluded as entry {idx}; it needs the approval of the leader in charge of legal "
                     "affairs: bodycam review approve {case_id} --by LEADER --key KEY").format(case_id=case_id,
                                                                                               idx=entry.idx))


@review.command("approve")
@click.argument("case_id")
@click.option("--refuse", is_flag=True, help="Refuse the outcome (the reviewers conclude again).")
@click.option("--note", default="", help="In words.")
@signed_by(help="The leader in charge of legal affairs (enrolled as head).",
           what=N_("the leader in charge of legal affairs"))
@now_option
@json_option
@click.pass_context
def review_approve(ctx: click.Context, case_id: str, refuse: bool, note: str, person_id: str, key: KeyRef,
                   now_ns: int | None, as_json: bool) -> None:
    """Approve (or refuse) the outcome; an approval issues the opinion PDF into the case file (A3 Art.11, 13)."""
    from archive.review.acts import approve

    cfg = _cfg(ctx)
    with _ledger(ctx) as ledger:
        approval, opinion = approve(ledger, _blobs(ctx), key.load(), person_id, case_id, _calendar(ctx),
                                    refuse=refuse, note=note, now_ns=now_ns, work_dir=cfg.path(cfg.blob_dir).parent)
    if as_json:
        echo_json({"case_id": case_id, "approval": approval.entry_hash, "decision": approval.body["decision"],
                   "opinion": opinion.entry_hash if opinion else None,
                   "number": opinion.body["number"] if opinion else None,
                   "sha256": opinion.body["sha256"] if opinion else None})
    elif opinion is None:
        click.echo(_("outcome of case {case_id} refused as entry {idx}").format(case_id=case_id, idx=approval.idx))
    else:
        click.echo(_("outcome of case {case_id} approved; opinion {number} stored as entry {idx} (PDF {sha}…); export "
                     "it with bodycam review opinion {case_id} --out FILE").format(
            case_id=case_id, number=opinion.body["number"], idx=opinion.idx, sha=opinion.body["sha256"][:16]))


@review.command("opinion")
@click.argument("case_id")
@click.option("--round", "round_no", type=click.IntRange(min=1), default=None, help="Which round (default: latest).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="New file to write.")
@click.pass_context
def review_opinion(ctx: click.Context, case_id: str, round_no: int | None, out: Path) -> None:
    """Write the stored opinion PDF of a round (法制审核意见书, A3 Art.13) to a new file, re-hashed."""
    import hashlib

    from archive.review.state import case_review
    from ledger.blobs import BlobStore

    with _ledger(ctx) as ledger:
        rounds = [r for r in case_review(ledger, case_id).rounds if r.opinion and (round_no in (None, r.number))]
    if not rounds:
        raise RefusedError(Message(N_("case {case_id} has no opinion yet"), case_id=case_id))
    rec = rounds[-1].opinion[1]
    data = BlobStore(_blobs(ctx)).blob_path(rec.sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != rec.sha256:
        raise RefusedError(Message(N_("the stored opinion {sha}… no longer hashes to what the ledger names: run "
                                      "`bodycam archive verify`"), sha=rec.sha256[:16]))
    if out.exists():
        raise click.UsageError(_("{file} exists; name a new file").format(file=out))
    out.write_bytes(data)
    click.echo(_("opinion {number} written to {file}").format(number=rec.number, file=out))


@review.command("stats")
@click.option("--year", type=click.IntRange(1900, 2200), default=None, help="Outcomes concluded in this year.")
@json_option
@click.pass_context
def review_stats_cmd(ctx: click.Context, year: int | None, as_json: bool) -> None:
    """Recurring problems (A3 Art.14): findings by kind and handling unit across reviewed cases."""
    from archive.review.outcome import OUTCOMES
    from archive.review.stats import review_stats

    with _ledger(ctx) as ledger:
        stats = review_stats(ledger, year)
    if as_json:
        echo_json(stats)
        return
    click.echo(_("{rounds} review outcome(s)").format(rounds=stats["rounds"]) + (
        _(" in {year}").format(year=year) if year else ""))
    for outcome, n in stats["outcomes"].items():
        click.echo(f"  {_(OUTCOMES.get(outcome, outcome))}: {n}")
    if stats["findings"]:
        header = [_("FINDING"), _("A3 ART.8 ITEM"), _("UNIT"), _("CASES"), _("WHICH")]
        for line in table(header, [(r["code"], r["item"], printable(r["unit"] or "-"), r["count"],
                                    printable(", ".join(r["cases"]))) for r in stats["findings"]]):
            click.echo(line)
    else:
        click.echo(_("no findings"))


COMMAND = review
