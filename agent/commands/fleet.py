"""``bodycam fleet status``: every recorder this dock has seen, for equipment managers (A2 Art.12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from agent.commands.common import (
    agent_config,
    state_db,
)
from agent.fleet import FleetEntry, armed_since, with_arming
from bodycam.cliutil import echo_json, json_option
from bodycam.errors import BodycamError
from bodycam.formats import display_zone, human_bytes, local_time, ns_to_datetime, printable
from bodycam.i18n import N_, _, shown
from bodycam.tables import table
from ledger.store import Ledger

VERDICTS = {"ready": N_("READY"), "not ready": N_("NOT READY"), "stale": N_("STALE"),
            "never checked": N_("NEVER CHECKED")}
"""The verdict column (``--json`` keeps the verdict as it is)."""

NOT_READY_EXIT = 3
"""Any recorder not ready (not ready, stale or never checked): refused by a rule, for a dashboard
or a cron mail."""


@click.group("fleet")
def fleet() -> None:
    """Every recorder this dock has seen (for equipment managers)."""


@fleet.command("status")
@json_option
@click.option("--at", "at", default=None, hidden=True, help="Evaluate staleness and 'today' as of this RFC 3339 time.")
@click.pass_context
def fleet_status(ctx: click.Context, as_json: bool, at: str | None) -> None:
    """Custodian, battery, free card space, arming today, last readiness check and verdict of
    every recorder; checks older than agent.readiness_max_age_s count as not ready (A2 Art.12).

    Exits 3 when any recorder is not ready (for a dashboard or a cron mail), 0 when all are.
    ARMED TODAY: a passed calibration that set the clock since local midnight (`device arm`).
    """
    cfg = agent_config(ctx)
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter(_("not an RFC 3339 time"), param_hint="--at") from None
        if now.tzinfo is None:
            raise click.BadParameter(_("needs a UTC offset"), param_hint="--at")
    else:
        now = datetime.now(UTC)
    now_ns = int(now.timestamp() * 1e9)
    entries = state_db(ctx).fleet(now_ns, cfg.readiness_max_age_s)
    entries = with_arming(entries, _armed_today(ctx, now, now_ns) if entries else None)
    not_ready = sum(not e.ready for e in entries)
    if as_json:
        echo_json({"recorders": [e.as_dict() for e in entries], "ready": len(entries) - not_ready,
                   "total": len(entries)})
        ctx.exit(NOT_READY_EXIT if not_ready else 0)
    if not entries:
        click.echo(_("No recorders seen yet: run `bodycam device status --port P --profile ID` on one."))
        return
    header = (_("SERIAL"), _("PROFILE"), _("CUSTODIAN"), _("BATTERY"), _("FREE CARD"), _("ARMED TODAY"),
              _("LAST CHECK"), _("VERDICT"))
    # Custodian names come from recorders: ``table`` escapes them before measuring their width.
    for line in table(header, [(e.serial, e.profile, shown(e.custodian),
                                "-" if e.battery_pct is None else f"{e.battery_pct}%",
                                "-" if e.storage_free_bytes is None else human_bytes(e.storage_free_bytes),
                                _armed(e), _shown_time(e.last_check),
                                _(VERDICTS.get(e.verdict, e.verdict.upper())))
                               for e in entries]):
        click.echo(line)
    for e in entries:
        for reason in e.reasons:
            click.echo(f"{printable(e.serial)}: {printable(shown(reason))}")
    click.echo(_("{ready} of {total} ready").format(ready=len(entries) - not_ready, total=len(entries)))
    ctx.exit(NOT_READY_EXIT if not_ready else 0)


def _armed_today(ctx: click.Context, now: datetime, now_ns: int) -> dict[str, int] | None:
    """Armings since local midnight (the display zone's) from the dock ledger; None when this
    machine has no readable dock ledger (the column then shows ``-``)."""
    cfg = agent_config(ctx)
    path = cfg.path(cfg.ledger)
    if not path.is_file():
        return None
    midnight = now.astimezone(display_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
    since_ns = (midnight - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
    try:
        with Ledger.open(path, create=False) as ledger:
            return armed_since(ledger, since_ns, now_ns)
    except BodycamError as exc:
        click.echo(_("note: armed today unknown: {error}").format(error=printable(exc)), err=True)
        return None


def _armed(e: FleetEntry) -> str:
    if e.armed_today is None:
        return "-"
    if e.armed_ns is None:
        return _("no")
    return _("yes") + " " + ns_to_datetime(e.armed_ns).astimezone(display_zone()).strftime("%H:%M")  # today, local


def _shown_time(rfc3339: str | None) -> str:
    """A check's time (RFC 3339, as --json gives it) in the display zone, for people."""
    if rfc3339 is None:
        return "-"
    since_epoch = datetime.fromisoformat(rfc3339) - datetime(1970, 1, 1, tzinfo=UTC)
    return local_time(since_epoch // timedelta(microseconds=1) * 1000)


COMMAND = fleet
