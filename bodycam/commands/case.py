"""``bodycam case``: cases, their officers and text records (A2 Art.2–4, 14) and long-term cases
(A2 Art.10), on either side (dock or archive ledger, by role); text records are stored at the archive."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import KeyRef, TimeParam, app_config, echo_json, json_option, numbered_help, option_help, signed_by
from bodycam.commands.common import deployment_role, ledger_option, open_ledger
from bodycam.errors import RefusedError
from bodycam.formats import local_time, printable, rfc3339
from bodycam.i18n import N_, Message, _
from bodycam.tables import table
from ledger.cases import (
    ART10_REASONS,
    ATTACHMENT_KINDS,
    CASE_TYPES,
    attach_file,
    case_list,
    case_retention,
    case_segments,
    close_case,
    flag_case,
    long_term_cases,
    open_case,
    unbound_segments,
)

# --- case ------------------------------------------------------------------------------------------

@click.group()
def case() -> None:
    """Cases: open, attach text records, list, and their retention class (A2 Art.2-4, 10)."""


def _officers(value: str) -> list[str]:
    return [o.strip() for o in value.split(",") if o.strip()]


@case.command("open")
@click.argument("case_id")
@click.option("--title", required=True, help="Title of the case.")
@click.option("--unit", required=True, help="Handling unit.")
@click.option("--type", "case_type", type=click.Choice(CASE_TYPES), required=True, help="Type of the case.")
@click.option("--officers", required=True,
              help="Officers handling the case, comma-separated person ids (each with a valid certificate).")
@signed_by(help="Enrolled person opening the case.", what=N_("the person opening the case"))
@ledger_option
@json_option
@click.pass_context
def case_open(ctx: click.Context, case_id: str, title: str, unit: str, case_type: str, officers: str,
              person_id: str, key: KeyRef, ledger_path: Path | None, as_json: bool) -> None:
    """Open a case with its handling officers (A2 Art.3, 14), signed by who opens it."""
    signer = key.load()
    with open_ledger(ctx, ledger_path) as ledger:
        entry = open_case(ledger, case_id, title=title, unit=unit, case_type=case_type, officers=_officers(officers),
                          person_id=person_id, signer=signer)
    if as_json:
        echo_json({"case_id": case_id, "entry": entry.entry_hash, "idx": entry.idx})
    else:
        click.echo(_("opened case {case_id} as entry {idx}").format(case_id=case_id, idx=entry.idx))


@case.command("close")
@click.argument("case_id")
@signed_by(help="Enrolled person closing the case.", what=N_("the person closing the case"))
@click.option("--at", "at_ns", type=TimeParam(), default=None, help="When the case was closed (default: now).")
@click.option("--note", default="", help="Why, in words.")
@ledger_option
@json_option
@click.pass_context
def case_close(ctx: click.Context, case_id: str, person_id: str, key: KeyRef, at_ns: int | None, note: str,
               ledger_path: Path | None, as_json: bool) -> None:
    """Close an opened case, signed by who closes it: from then on all its footage is due at the
    archive, and `bodycam archive report` names each officer of its activities whose footage is
    not handed in within the limit (A2 Art.20–22)."""
    signer = key.load()
    with open_ledger(ctx, ledger_path) as ledger:
        entry = close_case(ledger, case_id, person_id=person_id, signer=signer, note=note, at_ns=at_ns)
    if as_json:
        echo_json({"case_id": case_id, "closed": rfc3339(entry.record.closed_ns), "entry": entry.entry_hash,
                   "idx": entry.idx})
    else:
        click.echo(_("closed case {case_id} at {time} as entry {idx}").format(
            case_id=case_id, time=local_time(entry.record.closed_ns), idx=entry.idx))


@case.command("attach")
@click.argument("case_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", "attachment_kind", type=click.Choice(tuple(ATTACHMENT_KINDS)), required=True,
              help="Which text record of the case (A2 Art.2).")
@signed_by(help="Enrolled person attaching the file.", what=N_("the person attaching the file"))
@ledger_option
@json_option
@click.pass_context
def case_attach(ctx: click.Context, case_id: str, file: Path, attachment_kind: str, person_id: str, key: KeyRef,
                ledger_path: Path | None, as_json: bool) -> None:
    """Attach a text record of a case (A2 Art.2: a PDF or image file), stored content-addressed at the
    archive and signed by who attaches it."""
    if deployment_role(ctx) != "archive":
        raise RefusedError(Message(N_("text records of a case are stored at the archive: run `bodycam case attach` "
                                      "there")))
    cfg = app_config(ctx)
    signer = key.load()
    with open_ledger(ctx, ledger_path) as ledger:
        entry = attach_file(ledger, cfg.archive.path(cfg.archive.blob_dir), case_id, attachment_kind, file,
                            person_id=person_id, signer=signer)
    if as_json:
        echo_json({"case_id": case_id, "sha256": entry.body["sha256"], "size": entry.body["size"],
                   "entry": entry.entry_hash, "idx": entry.idx})
    else:
        click.echo(_("attached {kind} {sha}… to case {case_id} as entry {idx}").format(
            kind=_(ATTACHMENT_KINDS[attachment_kind]), sha=entry.body["sha256"][:16], case_id=case_id,
            idx=entry.idx))


@case.command("list")
@click.option("--unbound", is_flag=True, help="List the footage bound to no case or activity (A2 Art.4) instead.")
@ledger_option
@json_option
@click.pass_context
def case_list_cmd(ctx: click.Context, unbound: bool, ledger_path: Path | None, as_json: bool) -> None:
    """Cases opened here and cases seen on arrived footage but not opened here."""
    with open_ledger(ctx, ledger_path) as ledger:
        if unbound:
            segs = unbound_segments(ledger)
        else:
            cases = case_list(ledger)
    if unbound:
        if as_json:
            echo_json([{"entry": e.entry_hash, "device_id": e.body["device_id"], "seq": e.body["seq"],
                        "officer_id": e.body["officer_id"], "case_id": e.body.get("case_id"),
                        "activity": e.body.get("activity"), "start": rfc3339(int(e.body["start_ns"]))}
                       for e in segs])
            return
        if not segs:
            click.echo(_("no footage bound to nothing"))
            return
        header = [_("ENTRY"), _("DEVICE"), _("SEQ"), _("OFFICER"), _("CASE"), _("ACTIVITY"), _("START")]
        for line in table(header, [(e.entry_hash[:16] + "…", printable(e.body["device_id"]), e.body["seq"],
                                    printable(e.body["officer_id"]), printable(e.body.get("case_id") or "-"),
                                    printable(e.body.get("activity") or "-"), local_time(int(e.body["start_ns"])))
                                   for e in segs]):
            click.echo(line)
        click.echo(_("{n} segments bound to no opened case or added activity (A2 Art.4)").format(n=len(segs)))
        return
    if as_json:
        echo_json([c.to_json() for c in cases])
        return
    if not cases:
        click.echo(_("no cases; open one with `bodycam case open`"))
        return
    header = [_("CASE"), _("TITLE"), _("UNIT"), _("TYPE"), _("OFFICERS"), _("ACTIVITIES"), _("ATTACHMENTS"),
              _("SEGMENTS")]
    rows = [(printable(c.case_id), printable(c.title) if c.opened else _("not opened at the archive"),
             printable(c.unit or "-"), c.case_type or "-", printable(",".join(c.officers) or "-"), c.activities,
             c.attachments, c.segments) for c in cases]
    for line in table(header, rows):
        click.echo(line)


@case.command("flag")
@click.argument("case_id")
@click.option("--reason", type=click.IntRange(1, 5), required=True,
              help=option_help(Message(N_("A2 Art.10 reason: {reasons}."), reasons=numbered_help(ART10_REASONS))))
@signed_by(help="Enrolled person flagging the case.", what=N_("the person flagging the case"))
@click.option("--note", default="", help="Why, in words.")
@ledger_option
@json_option
@click.pass_context
def case_flag(ctx: click.Context, case_id: str, reason: int, person_id: str, key: KeyRef,
              note: str, ledger_path: Path | None, as_json: bool) -> None:
    """Mark a case long_term (A2 Art.10); all its segments inherit the retention class."""
    signer = key.load()
    with open_ledger(ctx, ledger_path) as ledger:
        entry = flag_case(ledger, case_id, reason, person_id, signer, note=note)
        ret = case_retention(ledger, case_id)
        n = len(case_segments(ledger, case_id))
    if as_json:
        echo_json({"flag": entry.entry_hash, "idx": entry.idx, **ret.to_json(), "segments": n})
    else:
        click.echo(_("case {case_id} is {retention} (A2 Art.10({reason}): {reason_text}); {n} segments inherit "
                     "it").format(case_id=case_id, retention=_retention(ret.retention), reason=reason,
                                  reason_text=_(ART10_REASONS[reason]), n=n))


@case.command("show")
@click.argument("case_id", required=False)
@ledger_option
@json_option
@click.pass_context
def case_show(ctx: click.Context, case_id: str | None, ledger_path: Path | None, as_json: bool) -> None:
    """Retention class of a case and its segments (without CASE: every long-term case)."""
    with open_ledger(ctx, ledger_path) as ledger:
        if case_id is None:
            rets = list(long_term_cases(ledger).values())
            segs = {r.case_id: [e.entry_hash for e in case_segments(ledger, r.case_id)] for r in rets}
        else:
            rets = [case_retention(ledger, case_id)]
            segs = {case_id: [e.entry_hash for e in case_segments(ledger, case_id)]}
    out = [{**r.to_json(), "segments": segs[r.case_id]} for r in rets]
    if as_json:
        echo_json(out if case_id is None else out[0])
        return
    for r in out:
        retention = _retention(r["retention"])
        if r["reasons"]:
            line = _("{case_id}: {retention} (A2 Art.10 {reasons}), {n} segments")
        else:
            line = _("{case_id}: {retention}, {n} segments")
        click.echo(line.format(case_id=r["case_id"], retention=retention, reasons=", ".join(map(str, r["reasons"])),
                               n=len(r["segments"])))


@case.command("decide")
@click.argument("case_id")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The decision's fields (.json or .toml), as `bodycam disclosure add` reads them (A1 Art.9).")
@click.option("--type", "decision_type", type=click.Choice(("penalty", "coercion", "inspection")), required=True,
              help="Type of the decision.")
@signed_by(help="Enrolled person recording the decision.", what=N_("the person recording the decision"))
@click.option("--now", "now_ns", type=TimeParam(), default=None, hidden=True)
@json_option
@click.pass_context
def case_decide(ctx: click.Context, case_id: str, file: Path, decision_type: str, person_id: str, key: KeyRef,
                now_ns: int | None, as_json: bool) -> None:
    """Make the case's decision: a major case needs a passed legal review of its latest round (A3 Art.5);
    the decision is then due for disclosure (A1 Art.9, 14)."""
    from archive.disclosure.decisions import read_decision_file
    from archive.review.gate import decide
    from archive.workdays import WorkCalendar

    if deployment_role(ctx) != "archive":
        raise RefusedError(Message(N_("decisions are recorded at the archive: run `bodycam case decide` there")))
    cfg = app_config(ctx).archive
    fields = read_decision_file(file)
    signer = key.load()
    calendar = WorkCalendar.from_file(cfg.path(cfg.holidays_file) if cfg.holidays_file else None)
    with open_ledger(ctx, None) as ledger:
        entry = decide(ledger, signer, person_id, case_id, type=decision_type, fields=fields, calendar=calendar,
                       now_ns=now_ns)
    if as_json:
        echo_json({"case_id": case_id, "decision": entry.entry_hash, "idx": entry.idx,
                   "deadline": entry.body["deadline"]["due"]})
    else:
        click.echo(_("decision of case {case_id} recorded as entry {idx}; to be published by {due} (A1 Art.14)").format(
            case_id=case_id, idx=entry.idx, due=entry.body["deadline"]["due"]))


def _retention(retention: str) -> str:
    """A retention class in words (``--json`` keeps the name)."""
    return {"long_term": _("long_term"), "standard": _("standard")}.get(retention, retention)


COMMAND = case
