"""``bodycam fleet status``: every recorder this dock has seen, for equipment managers (A2 Art.12)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import click

from agent.commands.common import (
    agent_config,
    state_db,
)
from bodycam.cliutil import echo_json, json_option
from bodycam.formats import local_time, printable


@click.group("fleet")
def fleet() -> None:
    """Every recorder this dock has seen (for equipment managers)."""


@fleet.command("status")
@json_option
@click.option("--at", "at", default=None, hidden=True, help="Evaluate staleness as of this RFC 3339 time.")
@click.pass_context
def fleet_status(ctx: click.Context, as_json: bool, at: str | None) -> None:
    """Custodian, last readiness check and verdict of every recorder; checks older than
    agent.readiness_max_age_s count as not ready (A2 Art.12)."""
    cfg = agent_config(ctx)
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter("not an RFC 3339 time", param_hint="--at") from None
        if now.tzinfo is None:
            raise click.BadParameter("needs a UTC offset", param_hint="--at")
    else:
        now = datetime.now(UTC)
    now_ns = int(now.timestamp() * 1e9)
    entries = state_db(ctx).fleet(now_ns, cfg.readiness_max_age_s)
    if as_json:
        echo_json({"recorders": [e.as_dict() for e in entries], "ready": sum(e.ready for e in entries),
                   "total": len(entries)})
        return
    if not entries:
        click.echo("No recorders seen yet: run `bodycam device status --port P --profile ID` on one.")
        return
    header = ("SERIAL", "PROFILE", "CUSTODIAN", "LAST CHECK", "VERDICT")
    # Custodian names come from recorders: escaped before their width is measured and printed.
    rows = [tuple(printable(c) for c in (e.serial, e.profile, e.custodian, _shown_time(e.last_check),
                                         e.verdict.upper()))
            for e in entries]
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        click.echo("  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(r, widths, strict=True)).rstrip())
    for e in entries:
        for reason in e.reasons:
            click.echo(f"{printable(e.serial)}: {printable(reason)}")
    click.echo(f"{sum(e.ready for e in entries)} of {len(entries)} ready")


def _shown_time(rfc3339: str | None) -> str:
    """A check's time (RFC 3339, as --json gives it) in the display zone, for people."""
    if rfc3339 is None:
        return "-"
    since_epoch = datetime.fromisoformat(rfc3339) - datetime(1970, 1, 1, tzinfo=UTC)
    return local_time(since_epoch // timedelta(microseconds=1) * 1000)


def _width(text: str) -> int:
    """Terminal columns: officers' names are often CJK, two columns per character."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


COMMAND = fleet
