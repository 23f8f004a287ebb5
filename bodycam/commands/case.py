"""``bodycam case``: long-term cases (A2 Art.10), on either side (dock or archive ledger, by role)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import KeyRef, echo_json, json_option, numbered_help, option_help, signer_options
from bodycam.commands.common import ledger_option, open_ledger
from bodycam.i18n import N_, Message, _
from ledger.cases import ART10_REASONS, case_retention, case_segments, flag_case, long_term_cases

# --- case ------------------------------------------------------------------------------------------

@click.group()
def case() -> None:
    """Cases and their retention class (A2 Art.10: long-term)."""


@case.command("flag")
@click.argument("case_id")
@click.option("--reason", type=click.IntRange(1, 5), required=True,
              help=option_help(Message(N_("A2 Art.10 reason: {reasons}."), reasons=numbered_help(ART10_REASONS))))
@click.option("--by", "person_id", required=True, help="Enrolled person flagging the case.")
@signer_options(what=N_("the person flagging the case"))
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


def _retention(retention: str) -> str:
    """A retention class in words (``--json`` keeps the name)."""
    return {"long_term": _("long_term"), "standard": _("standard")}.get(retention, retention)


COMMAND = case
