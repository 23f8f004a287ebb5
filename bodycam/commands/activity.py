"""``bodycam activity``: law-enforcement activities of a case (A2 Art.5, 7), on either side (dock or
archive ledger, by role)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import KeyRef, TimeParam, echo_json, json_option, signed_by
from bodycam.commands.common import ledger_option, open_ledger
from bodycam.i18n import N_, _
from ledger.cases import ACTIVITY_TYPES, add_activity

# --- activity ------------------------------------------------------------------------------------

@click.group()
def activity() -> None:
    """Activities of a case: type, place, time, officers, when the party was told (A2 Art.5, 7)."""


@activity.command("add")
@click.option("--case", "case_id", required=True, help="The opened case the activity belongs to.")
@click.option("--id", "activity_id", default=None,
              help="Activity id, as officers give it at docking with --activity (default: CASE/N).")
@click.option("--type", "activity_type", type=click.Choice(tuple(ACTIVITY_TYPES)), required=True,
              help="A2 Art.5 type of the activity.")
@click.option("--place", required=True, help="Where it took place.")
@click.option("--start", type=TimeParam(), required=True, help="When it began (RFC 3339, or local time).")
@click.option("--end", type=TimeParam(), required=True, help="When it ended (RFC 3339, or local time).")
@click.option("--officers", required=True, help="Officers present, comma-separated person ids.")
@click.option("--party-notified-at", "party_notified", type=TimeParam(), default=None,
              help="When the party was told the activity is recorded (A2 Art.7).")
@signed_by(help="Enrolled person recording the activity.", what=N_("the person recording the activity"))
@ledger_option
@json_option
@click.pass_context
def activity_add(ctx: click.Context, case_id: str, activity_id: str | None, activity_type: str, place: str,
                 start: int, end: int, officers: str, party_notified: int | None, person_id: str, key: KeyRef,
                 ledger_path: Path | None, as_json: bool) -> None:
    """Add an activity to an opened case (A2 Art.5), with when the party was notified (A2 Art.7)."""
    if end < start:
        raise click.BadParameter(_("the end is before the start"), param_hint="--end")
    signer = key.load()
    with open_ledger(ctx, ledger_path) as ledger:
        if activity_id is None:
            activity_id = f"{case_id}/{sum(1 for _e in ledger.entries(kind='activity', case_id=case_id)) + 1}"
        entry = add_activity(ledger, activity_id=activity_id, case_id=case_id, activity_type=activity_type,
                             place=place, start_ns=start, end_ns=end,
                             officers=[o.strip() for o in officers.split(",") if o.strip()],
                             party_notified_ns=party_notified, person_id=person_id, signer=signer)
    if as_json:
        echo_json({"activity": activity_id, "case_id": case_id, "entry": entry.entry_hash, "idx": entry.idx})
    else:
        click.echo(_("added {type} {activity} to case {case_id} as entry {idx}").format(
            type=_(ACTIVITY_TYPES[activity_type]), activity=activity_id, case_id=case_id, idx=entry.idx))


COMMAND = activity
