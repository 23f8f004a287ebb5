"""``bodycam segments``: what the dock ledger holds (A2 Art.15)."""

from __future__ import annotations

import click

from agent.commands.common import (
    open_dock_ledger,
)
from agent.segments import segment_rows
from bodycam.cliutil import echo_json, json_option
from bodycam.formats import duration, local_time
from bodycam.i18n import _
from bodycam.tables import table


@click.command("segments")
@click.option("--device", "device_id", default=None, help="Only this recorder.")
@json_option
@click.pass_context
def segments(ctx: click.Context, device_id: str | None, as_json: bool) -> None:
    """What the dock ledger holds: every segment with its hash, probe and corrected times.

    A table with a header row; file names are shown whole, never shortened.
    """
    with open_dock_ledger(ctx, None) as ledger:
        rows = segment_rows(ledger, device_id)
    if as_json:
        echo_json({"segments": [r.as_dict() for r in rows]})
        return
    if not rows:
        click.echo(_("No segments yet: dock a recorder with `bodycam dock`."))
        return
    header = (_("DEVICE"), _("SEQ"), _("FILE"), "SHA-256", _("CODEC"), _("LENGTH"), _("START"), _("END"),
              _("DECODES"), _("FLAGS"))
    # File names are shown whole (a name cut short can match another file); a wide table wraps.
    for line in table(header, [(r.device_id, r.seq, r.shown_name, r.sha256[:12], r.codec,
                                duration(r.duration_ms / 1000), local_time(r.start_ns), local_time(r.end_ns),
                                _("yes") if r.decodable else _("UNDECODABLE"), ",".join(r.flags) or "-")
                               for r in rows]):
        click.echo(line)


COMMAND = segments
