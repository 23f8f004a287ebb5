"""``bodycam dock``: offload a docked recorder (A2 Art.8, 15), with a progress bar on a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from agent.checkpoints import try_sign_dock_checkpoint
from agent.commands.common import (
    dock_context,
    ntp_option,
    port_option,
    profile_from,
    profile_option,
    reference_from,
)
from agent.dock import dock_recorder
from agent.link.driver import RecorderLink
from agent.offload.files import Progress
from bodycam.cliutil import echo_json, json_option, passphrase_option
from bodycam.formats import human_bytes


class _Bar:
    """A one-line progress bar on a terminal (bytes, rate, time left); silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and p.done_bytes < p.total_bytes):
            return
        self.last = now
        frac = p.done_bytes / p.total_bytes if p.total_bytes else 1.0
        bar = "#" * int(frac * 30)
        eta = "-" if p.eta_s is None else f"{p.eta_s:.0f}s"
        sys.stderr.write(f"\r[{bar:<30}] {human_bytes(p.done_bytes)}/{human_bytes(p.total_bytes)} "
                         f"{human_bytes(int(p.rate_bps))}/s eta {eta} file {p.files_done}/{p.files_total}  ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\n")


@click.command("dock")
@port_option
@profile_option
@click.option("--officer", default=None, help="Officer handing the recorder in (default: the one it reports).")
@click.option("--case", "case_id", default=None, help="Case the footage belongs to (A2 Art.4, 15).")
@click.option("--activity", default=None, help="Enforcement activity, when there is no case yet (e.g. patrol).")
@click.option("--mount-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the recorder's storage appears (overrides [agent] mount_root).")
@ntp_option
@click.option("--no-clock", is_flag=True, help="Do not measure the clock at docking (no reference reachable).")
@passphrase_option("the dock and device keys")
@json_option
@click.pass_context
def dock(ctx: click.Context, port: str, profile_id: str, officer: str | None, case_id: str | None,
         activity: str | None, mount_root: Path | None, ntp_servers: tuple[str, ...], no_clock: bool,
         passphrase_env: str | None, as_json: bool) -> None:
    """Offload a docked recorder: copy once, hash, probe, sign with its own key, ledger (A2 Art.8, 15).

    Gaps between recordings are recorded for justification. Nothing is deleted from the recorder."""
    if not case_id and not activity:
        raise click.UsageError("bind the footage to --case C or --activity A (A2 Art.4)")
    profile = profile_from(ctx, profile_id)
    reference = None if no_clock else reference_from(ctx, ntp_servers)
    bar = _Bar(enabled=not as_json and sys.stderr.isatty())
    with dock_context(ctx, passphrase_env) as dockctx, RecorderLink(port, profile) as link:
        try:
            res = dock_recorder(dockctx, link, officer_id=officer, case_id=case_id, activity=activity,
                                reference=reference, mount_root=mount_root, progress=bar)
        finally:
            bar.close()
            try_sign_dock_checkpoint(dockctx.ledger, dockctx.signer, dockctx.cfg.dock_id)  # also after a failure
    s = res.summary
    if as_json:
        echo_json(res.as_dict())
        return
    click.echo(f"recorder {res.device_id}: {s.segments} new segments ({human_bytes(s.bytes)}), "
               f"{s.already} already offloaded, {s.gaps} gap records, session {s.session_id}")
    if res.offset_s is not None:
        click.echo(f"clock offset at docking {res.offset_s:+.3f} s")
    for p in s.problems:
        click.echo(f"  problem: {p}")


COMMAND = dock
