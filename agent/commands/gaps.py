"""``bodycam gaps``: gaps in recording and their state; ``gaps fault`` records a technical cause (A2 Art.8, 11)."""

from __future__ import annotations

from pathlib import Path

import click

from agent.commands.common import (
    attachment_checker,
    checkpoint_dock_ledger,
    dock_ledger_option,
    open_dock_ledger,
)
from agent.justify import record_fault
from bodycam.cliutil import KeyRef, echo_json, json_option, signer_options
from bodycam.formats import local_time, printable
from ledger.gapstate import APPROVED_STATES, gap_statuses
from ledger.records import FAULT_CAUSES

# --- gaps ------------------------------------------------------------------------------------------

@click.group(invoke_without_command=True)
@click.option("--unjustified", is_flag=True, help="Only gaps not yet approved (bare, justified, fault, rejected).")
@click.option("--unapproved", is_flag=True, help="Only gaps explained but awaiting the supervisor.")
@click.option("--device", default=None, help="Only this device.")
@dock_ledger_option
@json_option
@click.pass_context
def gaps(ctx: click.Context, unjustified: bool, unapproved: bool, device: str | None, ledger_path: Path | None,
         as_json: bool) -> None:
    """Gaps in the dock ledger and their state: bare, justified, approved, fault, fault_approved, rejected.

    A record whose signatures do not verify does not count: its gap shows as not justified.
    """
    if ctx.invoked_subcommand is not None:
        ctx.meta["gaps.ledger"] = ledger_path
        return
    with open_dock_ledger(ctx, ledger_path) as ledger:
        statuses = gap_statuses(ledger, attachment_checker(ctx))
    statuses = [s for s in statuses if s.state != "not_required"]
    if device:
        statuses = [s for s in statuses if s.gap.device_id == device]
    if unjustified:
        statuses = [s for s in statuses if s.state not in APPROVED_STATES]
    if unapproved:
        statuses = [s for s in statuses if s.state in ("justified", "fault")]
    if as_json:
        echo_json([s.to_json() for s in statuses])
        return
    if not statuses:
        click.echo("no gaps" + (" matching" if unjustified or unapproved or device else ""))
    for s in statuses:
        g = s.gap
        why = [f"reason {s.reason}" if s.reason else "", f"cause {s.cause}" if s.cause else "",
               f"officer {s.officer_id}" if s.officer_id else "",
               f"supervisor {s.supervisor_id}" if s.supervisor_id else ""]
        detail = ", ".join(w for w in why if w)
        click.echo(printable(f"{s.entry_hash[:12]}  {g.device_id}  seq {g.after_seq}→{g.before_seq}  "
                             f"{local_time(g.start_ns)} – {local_time(g.end_ns)}  {s.state}"
                             + (f" ({detail})" if detail else "")))
        for p in s.problems:
            click.echo(f"    ! {printable(p)}")


@gaps.command("fault")
@click.argument("gap_id")
@click.option("--cause", type=click.Choice(FAULT_CAUSES), required=True,
              help="battery (died), storage (card full), device_fault, other (A2 Art.8).")
@click.option("--officer", "officer_id", required=True, help="Enrolled officer id.")
@signer_options("officer", what="the officer")
@click.option("--note", required=True, help="What failed and when.")
@dock_ledger_option
@json_option
@click.pass_context
def gaps_fault(ctx: click.Context, gap_id: str, cause: str, officer_id: str, officer_key: KeyRef,
               note: str, ledger_path: Path | None, as_json: bool) -> None:
    """Record a technical fault as the cause of a gap instead of a justification (A2 Art.8)."""
    officer = officer_key.load()
    ledger_path = ledger_path or ctx.meta.get("gaps.ledger")
    with open_dock_ledger(ctx, ledger_path) as ledger:
        entry = record_fault(ledger, gap_id, cause=cause, officer_id=officer_id, officer=officer, note=note)
        checkpoint_dock_ledger(ctx, ledger)
    if as_json:
        echo_json({"fault": entry.entry_hash, "idx": entry.idx, "gap": entry.body["gap"], "cause": cause})
    else:
        click.echo(f"fault {entry.entry_hash[:12]} ({cause}) recorded for gap {entry.body['gap'][:12]}; "
                   f"awaiting approval: `bodycam approve {entry.entry_hash[:12]} --supervisor ID --key FILE`")


COMMAND = gaps
