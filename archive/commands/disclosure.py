"""``bodycam disclosure``: publish enforcement decisions on time, withhold only with a reason (A1).

Every act (a decision recorded, withheld, its text checked, published, withdrawn, corrected,
revoked) is a signed entry in the archive ledger, and the compliance report is read from it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from bodycam.cliutil import (
    KeyRef,
    TimeParam,
    app_config,
    echo_json,
    json_option,
    numbered_help,
    option_help,
    signed_by,
    signer_options,
)
from bodycam.formats import printable
from bodycam.i18n import N_, _
from bodycam.tables import table
from ledger.records.disclosure import DECISION_TYPES, WITHHOLD_REASONS
from ledger.store import Ledger

now_option = click.option("--now", "now_ns", type=TimeParam(), default=None, hidden=True)
TYPE_WORDS = {"penalty": N_("administrative penalty"), "coercion": N_("coercive measure"),
              "inspection": N_("administrative inspection")}
DATE = click.DateTime(formats=["%Y-%m-%d"])


def _cfg(ctx: click.Context):
    return app_config(ctx).archive


def _ledger(ctx: click.Context) -> Ledger:
    cfg = _cfg(ctx)
    return Ledger.open(cfg.path(cfg.ledger), create=False)


def _calendar(ctx: click.Context):
    from archive.workdays import WorkCalendar

    cfg = _cfg(ctx)
    return WorkCalendar.from_file(cfg.path(cfg.holidays_file) if cfg.holidays_file is not None else None)


def _site(ctx: click.Context, site: Path | None):
    from archive.disclosure.site import load_site

    return load_site(site if site is not None else _cfg(ctx).path(Path("disclosure.toml")))


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, text = v.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(_("give {what} as FIELD=TEXT, not {value!r}").format(what=what, value=v[:40]))
        out[name.strip()] = text
    return out


def _now(now_ns: int | None) -> int:
    import time

    return time.time_ns() if now_ns is None else now_ns


site_option = click.option("--site", type=click.Path(dir_okay=False, path_type=Path), default=None,
                           help="The portal configuration (default: disclosure.toml in the archive's data folder).")


@click.group()
def disclosure() -> None:
    """Enforcement disclosure: decisions, exemptions, the public portal and the compliance report (A1).

    Every act (a decision recorded, withheld, its text checked, published, withdrawn, corrected,
    revoked) is a signed entry in the archive ledger, and the compliance report is read from it.
    """


@disclosure.command("add")
@click.option("--type", "type_", required=True, type=click.Choice(DECISION_TYPES), help="The decision's type.")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The decision's fields (.json or .toml, one flat table).")
@click.option("--case", "case_id", default=None, help="The archive case the decision belongs to.")
@signed_by(help="Who records the decision (officer, supervisor, head).", what=N_("the person recording the decision"))
@now_option
@json_option
@click.pass_context
def disclosure_add(ctx: click.Context, type_: str, file: Path, case_id: str | None, person_id: str, key: KeyRef,
                   now_ns: int | None, as_json: bool) -> None:
    """Record a decision to publish, checked against A1 Art.9; its deadline follows A1 Art.14.

    Every missing or malformed field is named; a date no working-day data covers is refused (exit 3).
    """
    from archive.disclosure.decisions import add_decision, read_decision_file

    fields = read_decision_file(file)
    signer = key.load()
    calendar = _calendar(ctx)
    with _ledger(ctx) as ledger:
        e = add_decision(ledger, signer, person_id, type=type_, fields=fields, case_id=case_id, now_ns=now_ns,
                         calendar=calendar)
    dl = e.body["deadline"]
    if as_json:
        echo_json({"decision": e.entry_hash, "idx": e.idx, "deadline": dl})
    else:
        click.echo(_("decision {id} recorded; publish by {due} ({n} working days after {start}; calendar: {source})")
                   .format(id=e.entry_hash, due=dl["due"], n=dl["workdays"], start=dl["start"],
                           source="; ".join(dl["calendar"])))


@disclosure.command("withhold")
@click.argument("decision")
@click.option("--reason", required=True, type=click.IntRange(1, 5),
              help=option_help(numbered_help(WITHHOLD_REASONS)))
@click.option("--note", default="", help="Why, in words (required for reason 5).")
@signed_by(help="The supervisor or head deciding.", what=N_("the supervisor or head"))
@now_option
@json_option
@click.pass_context
def disclosure_withhold(ctx: click.Context, decision: str, reason: int, note: str, person_id: str, key: KeyRef,
                        now_ns: int | None, as_json: bool) -> None:
    """Withhold a decision from the portal for an A1 Art.10 reason; it stays in the report."""
    from archive.disclosure.decisions import withhold

    signer = key.load()
    with _ledger(ctx) as ledger:
        e = withhold(ledger, signer, person_id, decision, reason=reason, note=note, now_ns=now_ns)
    if as_json:
        echo_json({"withhold": e.entry_hash, "decision": e.body["decision"], "reason": reason})
    else:
        click.echo(_("decision {id} withheld: {reason}").format(id=e.body["decision"][:16],
                                                                reason=_(WITHHOLD_REASONS[reason])))


@disclosure.command("review-text")
@click.argument("decision")
@click.option("--approve", is_flag=True, help="Approve the texts shown (with the --text changes) for publication.")
@click.option("--text", "texts", multiple=True, metavar="FIELD=TEXT",
              help="The public wording of one free-text field (repeat); default: the automatically masked text.")
@signed_by(help="Who checked the texts (with --approve).", what=N_("the person checking the text"), required=False)
@site_option
@now_option
@json_option
@click.pass_context
def disclosure_review_text(ctx: click.Context, decision: str, approve: bool, texts: tuple[str, ...],
                           person_id: str | None, key: KeyRef | None, site: Path | None, now_ns: int | None,
                           as_json: bool) -> None:
    """Show a decision's free-text fields as they would be published, or approve them (--approve).

    Patterns remove ID numbers, phone numbers and account numbers, and names follow the portal's
    policy; an address or another person's name written in prose is for the checker to remove
    (--text FIELD=TEXT). Nothing with free text is published before this check.
    """
    from archive.disclosure.decisions import check_texts, find_decision
    from archive.disclosure.masking import mask_text, proposed_texts, replacements
    from archive.disclosure.state import decision_state

    policy = _site(ctx, site).portal.name_policy
    given = _pairs(texts, "--text")
    with _ledger(ctx) as ledger:
        e = find_decision(ledger, decision)
        st = decision_state(ledger, e.entry_hash)
        proposed = proposed_texts(st.type, st.fields, policy)
        unknown = sorted(set(given) - set(proposed))
        if unknown:
            raise click.UsageError(_("{fields} is not a free-text field of this decision ({free})").format(
                fields=", ".join(unknown), free=", ".join(proposed)))
        repl = replacements(st.type, st.fields, policy)
        final = {k: mask_text(given.get(k, v), repl) for k, v in proposed.items()}
        entry = None
        if approve:
            if person_id is None or key is None:
                raise click.UsageError(_("--approve needs --by and --key"))
            entry = check_texts(ledger, key.load(), person_id, e.entry_hash, final, now_ns=now_ns)
    if as_json:
        echo_json({"decision": e.entry_hash, "texts": final, "approved": entry.entry_hash if entry else None})
        return
    for k, v in final.items():
        click.echo(f"{k}: {printable(v)}")
    if entry is not None:
        click.echo(_("texts approved for publication by {by} (entry {entry})").format(by=person_id,
                                                                                     entry=entry.entry_hash[:16]))
    else:
        click.echo(_("not approved yet: read them, then bodycam disclosure review-text {id} --approve --by P --key K "
                     "[--text FIELD=TEXT]").format(id=e.entry_hash[:16]))


def _change_command(action: str):
    def run(ctx: click.Context, decision: str, note: str, sets: tuple[str, ...], changed_on: dt.datetime | None,
            person_id: str, key: KeyRef, now_ns: int | None, as_json: bool) -> None:
        from archive.disclosure.decisions import act

        signer = key.load()
        calendar = _calendar(ctx) if action in ("correct", "revoke") else None
        with _ledger(ctx) as ledger:
            e = act(ledger, signer, person_id, decision, action, note=note, changes=_pairs(sets, "--set"),
                    changed_on=changed_on.date() if changed_on else None, calendar=calendar, now_ns=now_ns)
        if as_json:
            echo_json({"act": e.entry_hash, "action": action, "decision": e.body["decision"],
                       "deadline": e.body.get("deadline")})
        else:
            click.echo(_("decision {id}: {action} recorded (entry {entry}); run bodycam disclosure publish to update "
                         "the portal").format(id=e.body["decision"][:16], action=action, entry=e.entry_hash[:16]))
    return run


_by = click.option("--by", "person_id", required=True, help="The publishing officer.")


@disclosure.command("correct")
@click.argument("decision")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", required=True,
              help="A corrected field (repeat).")
@click.option("--note", required=True, help="The explanation shown with the correction (A1 Art.17).")
@click.option("--changed-on", type=DATE, default=None,
              help="Day the decision was changed (default: today); due 3 working days later.")
@_by
@signer_options(what=N_("the publishing officer"))
@now_option
@json_option
@click.pass_context
def disclosure_correct(ctx: click.Context, **kw) -> None:
    """Correct a decision's published fields with an explanation (A1 Art.17, 行政处罚法 Art.48)."""
    _change_command("correct")(ctx, **kw)


@disclosure.command("revoke")
@click.argument("decision")
@click.option("--note", required=True, help="Why the decision was revoked (shown as a notice).")
@click.option("--changed-on", type=DATE, default=None,
              help="Day the decision was revoked (default: today); due 3 working days later.")
@_by
@signer_options(what=N_("the publishing officer"))
@now_option
@json_option
@click.pass_context
def disclosure_revoke(ctx: click.Context, **kw) -> None:
    """Mark a decision revoked; the portal shows a notice with the reason (A1 Art.17)."""
    _change_command("revoke")(ctx, sets=(), **kw)


@disclosure.command("withdraw")
@click.argument("decision")
@click.option("--note", required=True, help="Why it is taken off the portal.")
@_by
@signer_options(what=N_("the publishing officer"))
@now_option
@json_option
@click.pass_context
def disclosure_withdraw(ctx: click.Context, **kw) -> None:
    """Take a published decision off the portal (A1 Art.15: after its public period)."""
    _change_command("withdraw")(ctx, sets=(), changed_on=None, **kw)


@disclosure.command("publish")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The portal folder (rebuilt whole; new, empty, or one this command wrote).")
@_by
@signer_options(what=N_("the publishing officer"))
@site_option
@click.option("--now", "now_ns", type=TimeParam(), default=None,
              help="Publish as of this time (default: now); public periods end and acts are dated by it.")
@json_option
@click.pass_context
def disclosure_publish(ctx: click.Context, out: Path, person_id: str, key: KeyRef, site: Path | None,
                       now_ns: int | None, as_json: bool) -> None:
    """Publish what is ready, withdraw what expired, and render the static portal (A1 Art.5, 11, 15, 17).

    Each publication and withdrawal is a ledger entry signed by the publishing officer.
    """
    from archive.disclosure.portal import publish

    cfg_site = _site(ctx, site)
    signer = key.load()
    with _ledger(ctx) as ledger:
        res = publish(ledger, signer, person_id, cfg_site, out, now_ns=_now(now_ns), calendar=_calendar(ctx))
    if as_json:
        echo_json({"out": str(out), "published": res.published, "withdrawn": res.withdrawn, "held": res.held,
                   "pages": res.pages})
        return
    click.echo(_("portal written to {out}: {pages} pages; {published} newly published, {withdrawn} withdrawn")
               .format(out=out, pages=res.pages, published=len(res.published), withdrawn=len(res.withdrawn)))
    for h in res.held:
        click.echo(_("held: {id} has free text awaiting a check: bodycam disclosure review-text {id}").format(
            id=h[:16]))


@disclosure.command("serve")
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The portal folder written by publish.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0: any free port).")
def disclosure_serve(folder: Path, port: int) -> None:
    """Serve the portal folder on localhost for a look (Ctrl-C stops)."""
    import functools
    import http.server
    import sys

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # requests are not news on the terminal
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             functools.partial(Quiet, directory=str(folder)))
    click.echo(_("serving {folder} at http://127.0.0.1:{port}/ (Ctrl-C stops)").format(
        folder=folder, port=server.server_address[1]))
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


@disclosure.command("report")
@click.option("--year", type=click.IntRange(1900, 2200), default=None,
              help="Only decisions of this year, with the annual statistics (A1 Art.18).")
@click.option("--now", "now_ns", type=TimeParam(), default=None, help="Report as of this time (default: now).")
@json_option
@click.pass_context
def disclosure_report_cmd(ctx: click.Context, year: int | None, now_ns: int | None, as_json: bool) -> None:
    """Every decision accounted for: on time, late, overdue, withheld, withdrawn, corrected (A1 Art.18–19)."""
    from archive.disclosure.report import annual_statistics, disclosure_report

    calendar = _calendar(ctx)
    with _ledger(ctx) as ledger:
        rows = disclosure_report(ledger, calendar, _now(now_ns), year=year)
    stats = annual_statistics(rows)
    if as_json:
        echo_json({"decisions": rows, "statistics": stats})
        return
    status_words = {"published_on_time": _("published on time"), "published_late": _("published late"),
                    "overdue": _("overdue"), "pending": _("pending"), "withheld": _("withheld")}
    body = []
    for r in rows:
        detail = []
        if r["late_workdays"]:
            detail.append(_("{n} working days late").format(n=r["late_workdays"]))
        if r["overdue_workdays"]:
            detail.append(_("{n} working days overdue").format(n=r["overdue_workdays"]))
        if r["withheld_reason"]:
            detail.append(_(WITHHOLD_REASONS[r["withheld_reason"]]))
        if r["unaccounted"]:
            detail.append(_("neither published nor withheld"))
        if r["withdrawn_at"]:
            detail.append(_("withdrawn"))
        if r["corrections"]:
            detail.append(_("corrected"))
        if r["revoked"]:
            detail.append(_("revoked"))
        if not r["text_checked"] and r["status"] in ("pending", "overdue"):
            detail.append(_("free text not checked"))
        body.append([r["id"][:16], _(TYPE_WORDS[r["type"]]), r["unit"], r["decided"], r["deadline"],
                     status_words[r["status"]], _("; ").join(detail)])
    for line in table([_("DECISION"), _("TYPE"), _("UNIT"), _("DECIDED"), _("DEADLINE"), _("STATUS"), _("DETAIL")],
                      body):
        click.echo(line)
    if stats:
        click.echo("")
        click.echo(_("statistics") + (f" {year}" if year else ""))
        for line in table([_("TYPE"), _("UNIT"), _("DECISIONS"), _("ON TIME"), _("LATE"), _("OVERDUE"), _("PENDING"),
                           _("WITHHELD"), _("WITHDRAWN"), _("CORRECTED"), _("REVOKED")],
                          [[_(TYPE_WORDS[s["type"]]), s["unit"], s["decisions"], s["published_on_time"],
                            s["published_late"], s["overdue"], s["pending"], s["withheld"], s["withdrawn"],
                            s["corrected"], s["revoked"]]
                           for s in stats]):
            click.echo(line)


COMMAND = disclosure
