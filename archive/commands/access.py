"""``bodycam access``: outside bodies see footage only with the bureau head's approval (A2 Art.17–19)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import KeyRef, TimeParam, app_config, echo_json, json_option, signed_by, signer_options
from bodycam.formats import local_time, printable
from bodycam.i18n import N_, _
from bodycam.tables import table
from ledger.records.access import SECRECY_LEVELS
from ledger.store import Ledger

now_option = click.option("--now", "now_ns", type=TimeParam(), default=None, hidden=True)


def _ledger(ctx: click.Context) -> Ledger:
    cfg = app_config(ctx).archive
    return Ledger.open(cfg.path(cfg.ledger), create=False)


@click.group()
def access() -> None:
    """Access to footage: requests, the bureau head's approval, views and their log (A2 Art.17–19).

    Every request, decision, view and refused attempt is a signed entry in the archive ledger.
    """


@access.command("request")
@click.option("--case", "case_id", default=None, help="The case whose footage is asked for.")
@click.option("--segment", default=None, help="The one segment asked for (its entry hash).")
@click.option("--requester", required=True, help="Who asks (the person outside the bureau).")
@click.option("--org", required=True, help="The body the requester acts for.")
@click.option("--reason", required=True, help="Why the footage is needed.")
@click.option("--until", "until_ns", type=TimeParam(end_of_day=True), default=None,
              help="Last day (or time) the request may be used.")
@signed_by(help="Archivist registering the request.", what=N_("the archivist"))
@now_option
@json_option
@click.pass_context
def access_request(ctx: click.Context, case_id: str | None, segment: str | None, requester: str, org: str,
                   reason: str, until_ns: int | None, person_id: str, key: KeyRef, now_ns: int | None,
                   as_json: bool) -> None:
    """Register a request to view a case's or a segment's footage (A2 Art.18)."""
    from archive.access import request_access

    if (case_id is None) == (segment is None):
        raise click.UsageError(_("name exactly one of --case or --segment"))
    signer = key.load()
    with _ledger(ctx) as ledger:
        e = request_access(ledger, signer, person_id, requester=requester, org=org, reason=reason,
                           case_id=case_id, segment=segment, until_ns=until_ns, now_ns=now_ns)
    if as_json:
        echo_json({"request": e.entry_hash, "idx": e.idx})
    else:
        click.echo(_("access request {request} registered; it needs the bureau head's approval: bodycam access "
                     "approve {request} --head HEAD --key KEY").format(request=e.entry_hash))


@access.command("approve")
@click.argument("request")
@click.option("--head", "head_id", required=True, help="The bureau head deciding (enrolled with role head).")
@signer_options(what=N_("the bureau head"))
@click.option("--level", "levels", multiple=True, type=click.Choice(SECRECY_LEVELS),
              help="Secrecy level the approval covers (A2 Art.19); repeat for several.")
@click.option("--until", "until_ns", type=TimeParam(end_of_day=True), default=None,
              help="Last day (or time) the approval holds.")
@click.option("--refuse", is_flag=True, help="Refuse the request instead.")
@click.option("--note", default="", help="Why, in words.")
@now_option
@json_option
@click.pass_context
def access_approve(ctx: click.Context, request: str, head_id: str, key: KeyRef, levels: tuple[str, ...],
                   until_ns: int | None, refuse: bool, note: str, now_ns: int | None, as_json: bool) -> None:
    """Approve (or refuse) an access request as the bureau head (A2 Art.18)."""
    from archive.access import decide

    signer = key.load()
    with _ledger(ctx) as ledger:
        e = decide(ledger, signer, head_id, request, approve=not refuse, levels=levels, until_ns=until_ns,
                   note=note, now_ns=now_ns)
    if as_json:
        echo_json({"grant": e.entry_hash, "idx": e.idx, "decision": e.body["decision"]})
    elif refuse:
        click.echo(_("access request {request} refused by {head}").format(request=e.body["request"], head=head_id))
    else:
        click.echo(_("access request {request} approved by {head}").format(request=e.body["request"], head=head_id))


@access.command("classify")
@click.option("--case", "case_id", default=None, help="The case to classify.")
@click.option("--segment", default=None, help="The segment to classify (its entry hash).")
@click.option("--level", required=True, type=click.Choice(SECRECY_LEVELS), help="Secrecy level (A2 Art.19).")
@signed_by(help="Head or archivist setting the level.", what=N_("the head or archivist"))
@click.option("--note", default="", help="Why, in words.")
@now_option
@json_option
@click.pass_context
def access_classify(ctx: click.Context, case_id: str | None, segment: str | None, level: str, person_id: str,
                    key: KeyRef, note: str, now_ns: int | None, as_json: bool) -> None:
    """Give a case or a segment a secrecy level; approvals must then name it (A2 Art.19)."""
    from archive.access import classify

    if (case_id is None) == (segment is None):
        raise click.UsageError(_("name exactly one of --case or --segment"))
    signer = key.load()
    with _ledger(ctx) as ledger:
        e = classify(ledger, signer, person_id, level, case_id=case_id, segment=segment, note=note, now_ns=now_ns)
    if as_json:
        echo_json({"secrecy": e.entry_hash, "idx": e.idx, "level": level})
    else:
        click.echo(_("{what} is now classified {level}").format(what=case_id or e.body["segment"], level=level))


@access.command("view")
@click.argument("segment")
@click.option("--request", required=True, help="The approved access request (its entry hash).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to copy the footage (a new file, mode 0600).")
@signed_by(help="Archivist handing the footage out.", what=N_("the archivist"))
@now_option
@json_option
@click.pass_context
def access_view(ctx: click.Context, segment: str, request: str, out: Path, person_id: str, key: KeyRef,
                now_ns: int | None, as_json: bool) -> None:
    """Copy a segment's footage out for an approved, unexpired request covering it (A2 Art.17–19).

    Without one: exit 3, and the refused attempt is logged too.
    """
    from archive.access import AccessRefused, view
    from ledger.blobs import BlobStore

    signer = key.load()
    cfg = app_config(ctx).archive
    with _ledger(ctx) as ledger:
        try:
            e = view(ledger, BlobStore(cfg.path(cfg.blob_dir)), signer, person_id, segment, request, out,
                     now_ns=now_ns)
        except AccessRefused as exc:
            if as_json:
                echo_json({"outcome": "refused", "access": exc.entry.entry_hash if exc.entry else None,
                           "reasons": [str(r) for r in exc.reasons]})
                ctx.exit(3)
            raise
    if as_json:
        echo_json({"outcome": "viewed", "access": e.entry_hash, "idx": e.idx, "out": str(out),
                   "sha256": e.body.get("sha256")})
    else:
        click.echo(_("footage copied to {out} (SHA-256 {sha256}); the view is logged").format(
            out=out, sha256=e.body.get("sha256")))


@access.command("log")
@click.option("--case", "case_id", default=None, help="Only this case.")
@json_option
@click.pass_context
def access_log_cmd(ctx: click.Context, case_id: str | None, as_json: bool) -> None:
    """Who saw what, why, when, approved by whom (A2 Art.18)."""
    from archive.access import access_log

    with _ledger(ctx) as ledger:
        rows = access_log(ledger, case_id)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(_("no access logged"))
        return
    outcome = {"viewed": _("viewed"), "refused": _("refused")}
    purpose = {"contact_sheet": _("contact sheet"), "export": _("export")}
    lines = table([_("WHEN"), _("BY"), _("OUTCOME"), _("AS"), _("SEGMENT"), _("CASE"), _("REQUESTER"), _("WHY"),
                   _("APPROVED BY")],
                  [(local_time(r["at_ns"]), r["by"], outcome[r["outcome"]],
                    purpose.get(r.get("purpose") or "", _("copy")), (r["segment"] or "-")[:16],
                    r["case_id"] or "-",
                    printable(f"{r['requester']} ({r['org']})") if r["requester"] else "-",
                    printable(r["reason"] or "; ".join(r["reasons"]) or "-"), r["approved_by"] or "-")
                   for r in rows])
    for line in lines:
        click.echo(line)


COMMAND = access
