"""``bodycam approve``: the supervising leader's review of a justification or fault (A2 Art.11)."""

from __future__ import annotations

from pathlib import Path

import click

from agent.commands.common import (
    checkpoint_dock_ledger,
    dock_ledger_option,
    open_dock_ledger,
)
from agent.justify import approve as approve_target
from bodycam.cliutil import KeyRef, echo_json, json_option, signer_options
from bodycam.i18n import N_, _


@click.command()
@click.argument("record_id", metavar="ID")
@click.option("--supervisor", "supervisor_id", required=True, help="Enrolled supervisor (or head) id.")
@signer_options(what=N_("the supervisor"))
@click.option("--note", default="", help="Review remarks.")
@click.option("--reject", is_flag=True, help="Record the review as rejected: the officer must justify again.")
@dock_ledger_option
@json_option
@click.pass_context
def approve(ctx: click.Context, record_id: str, supervisor_id: str, key: KeyRef,
            note: str, reject: bool, ledger_path: Path | None, as_json: bool) -> None:
    """Approve (or reject) a justification or fault record as the supervising leader (A2 Art.11).

    ID is the record's id as `bodycam gaps` shows it, or the gap's id when the gap has one
    justification or fault awaiting review.
    """
    signer = key.load()
    with open_dock_ledger(ctx, ledger_path) as ledger:
        entry = approve_target(ledger, record_id, supervisor_id=supervisor_id, supervisor=signer,
                               note=note, decision="rejected" if reject else "approved")
        checkpoint_dock_ledger(ctx, ledger)
    rec = entry.body
    if as_json:
        echo_json({"approval": entry.entry_hash, "idx": entry.idx, "target": rec["target"], "gap": rec["gap"],
                   "decision": rec["decision"], "supervisor_id": supervisor_id})
    else:
        msg = (_("approved {id} (gap {gap}) by {supervisor}: entry {idx}") if rec["decision"] == "approved"
               else _("rejected {id} (gap {gap}) by {supervisor}: entry {idx}"))
        click.echo(msg.format(id=rec["target"][:12], gap=rec["gap"][:12], supervisor=supervisor_id, idx=entry.idx))


COMMAND = approve
