"""``bodycam segments``: what the dock ledger holds (A2 Art.15)."""

from __future__ import annotations

import click

from agent.commands.common import (
    open_dock_ledger,
)
from agent.segments import segment_rows
from bodycam.cliutil import echo_json, json_option
from bodycam.formats import local_time, printable


@click.command("segments")
@click.option("--device", "device_id", default=None, help="Only this recorder.")
@json_option
@click.pass_context
def segments(ctx: click.Context, device_id: str | None, as_json: bool) -> None:
    """What the dock ledger holds: every segment with its hash, probe and corrected times."""
    with open_dock_ledger(ctx, None) as ledger:
        rows = segment_rows(ledger, device_id)
    if as_json:
        echo_json({"segments": [r.as_dict() for r in rows]})
        return
    if not rows:
        click.echo("No segments yet: dock a recorder with `bodycam dock`.")
        return
    for r in rows:
        flags = ",".join(r.flags) or "-"
        click.echo(f"{r.device_id:<10} #{r.seq:<4} {r.shown_name[:28]:<28} {r.sha256[:12]} "
                   f"{printable(r.codec):<5} {r.duration_ms / 1000:7.1f}s "
                   f"{local_time(r.start_ns)} → {local_time(r.end_ns)} "
                   f"{'ok' if r.decodable else 'UNDECODABLE'} {flags}")


COMMAND = segments
