"""``bodycam dock``: offload a docked recorder (A2 Art.8, 15), with a progress bar on a terminal.

Only a recorder enrolled on this dock is docked (``[agent] enroll_on_dock`` is the equipment
manager's policy otherwise), and with ``--serial`` only that recorder. Ctrl-C during the offload
stops it after the current chunk, closes the dock session record and exits 130; once the recorder
has switched to mass storage, any interruption says so and how to finish.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
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
from agent.offload.files import OffloadIncomplete, Progress
from bodycam.cliutil import echo_json, json_option, passphrase_option
from bodycam.errors import BodycamError
from bodycam.formats import human_bytes, printable
from bodycam.i18n import N_, _, shown

INTERRUPTED = 130


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
        sys.stderr.write(f"\r[{bar:<30}] " + _("{done}/{total} {rate}/s eta {eta} file {file}/{files}").format(
            done=human_bytes(p.done_bytes), total=human_bytes(p.total_bytes), rate=human_bytes(int(p.rate_bps)),
            eta=eta, file=p.files_done, files=p.files_total) + "  ")
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
@click.option("--serial", "expect_serial", default=None, metavar="SERIAL",
              help="Dock only the recorder with this serial; another recorder on the port is refused (exit 3). "
                   "Use it when docking again after an interruption: the port may have been taken by another "
                   "recorder.")
@click.option("--mount-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the recorder's storage appears (overrides [agent] mount_root).")
@ntp_option
@click.option("--no-clock", is_flag=True, help="Do not measure the clock at docking (no reference reachable).")
@passphrase_option(N_("the dock and device keys"))
@json_option
@click.pass_context
def dock(ctx: click.Context, port: str, profile_id: str, officer: str | None, case_id: str | None,
         activity: str | None, expect_serial: str | None, mount_root: Path | None, ntp_servers: tuple[str, ...],
         no_clock: bool, passphrase_env: str | None, as_json: bool) -> None:
    """Offload a docked recorder: copy once, hash, probe, sign with its own key, ledger (A2 Art.8, 15).

    Gaps between recordings are recorded for justification. Nothing is deleted from the recorder.
    A recorder not enrolled on this dock is refused (exit 3): enroll it with `bodycam device enroll`.
    Ctrl-C exits 130; what was completed stays ledgered and the next dock resumes."""
    if not case_id and not activity:
        raise click.UsageError(_("bind the footage to --case C or --activity A (A2 Art.4)"))
    profile = profile_from(ctx, profile_id)
    reference = None if no_clock else reference_from(ctx, ntp_servers)
    bar = _Bar(enabled=not as_json and sys.stderr.isatty())
    stop = threading.Event()
    mass_storage: list[str] = []  # the device id, once the recorder has left the serial side

    def on_sigint(signum, frame) -> None:  # noqa: ARG001
        # On the serial side Ctrl-C interrupts at once; during the offload it stops after the
        # current chunk, so the dock session record is closed. A second Ctrl-C does not wait.
        if not mass_storage or stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = _install_sigint(on_sigint)
    try:
        with dock_context(ctx, passphrase_env) as dockctx, RecorderLink(port, profile) as link:
            size = dockctx.ledger.size
            try:
                res = dock_recorder(dockctx, link, officer_id=officer, case_id=case_id, activity=activity,
                                    reference=reference, mount_root=mount_root, progress=bar, stop=stop,
                                    expect_serial=expect_serial, on_mass_storage=mass_storage.append)
            finally:
                bar.close()
                if dockctx.ledger.size != size:  # also after a failure; a refusal wrote nothing
                    try_sign_dock_checkpoint(dockctx.ledger, dockctx.signer, dockctx.cfg.dock_id)
    except KeyboardInterrupt:
        if mass_storage:
            click.echo(_mass_storage_hint(mass_storage[0], ctx), err=True)
        raise  # the root says "interrupted" and exits 130
    except BodycamError as exc:
        if not mass_storage:
            raise
        if isinstance(exc, OffloadIncomplete) and stop.is_set():
            click.echo(_("Interrupted: {error}").format(error=printable(exc)), err=True)
            click.echo(_mass_storage_hint(mass_storage[0], ctx), err=True)
            sys.exit(INTERRUPTED)
        raise _after_mass_storage(exc, mass_storage[0], ctx) from exc
    finally:
        _restore_sigint(previous)
    s = res.summary
    if as_json:
        echo_json(res.as_dict())
        return
    click.echo(_("recorder {device_id}: {segments} new segments ({size}), {already} already offloaded, {gaps} gap "
                 "records, session {session}").format(device_id=res.device_id, segments=s.segments,
                                                      size=human_bytes(s.bytes), already=s.already, gaps=s.gaps,
                                                      session=s.session_id))
    if res.offset_s is not None:
        click.echo(_("clock offset at docking {offset:+.3f} s").format(offset=res.offset_s))
    for p in s.problems:
        click.echo("  " + _("problem: {problem}").format(problem=printable(shown(p))))
    if s.gaps:
        click.echo(_("next: review with `bodycam segments`, see the gaps to justify with `bodycam gaps`, then send "
                     "to the archive with `bodycam sync run --once`"))
    else:
        click.echo(_("next: review with `bodycam segments`, then send to the archive with `bodycam sync run --once`"))


def _install_sigint(handler):
    """Our Ctrl-C handler while docking (only the main thread may install one)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)


def _restore_sigint(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _mass_storage_hint(device_id: str, ctx: click.Context) -> str:
    """What an officer does after an offload stopped once the recorder left the serial side."""
    again = _same_command(ctx, device_id)
    return _("recorder {device_id} is now in mass-storage mode: its serial port is gone, so it cannot be docked "
             "from here as it is. Nothing partial was kept: the files completed before the stop are ledgered, the "
             "rest are still on the recorder.\n"
             "To finish: unplug recorder {device_id} and plug it back into the dock, then run the same command "
             "again:\n  {command}\nIt resumes where it stopped (--serial makes sure it docks this recorder and not "
             "another one that took the port).").format(device_id=device_id, command=again)


def _same_command(ctx: click.Context, device_id: str) -> str:
    """This ``bodycam dock`` command line, with ``--serial`` naming the recorder it was docking."""
    p = ctx.params
    config = ctx.find_root().obj.config_path
    args = ["--config", str(config)] if config else []
    args += ["dock", "--port", p["port"], "--profile", p["profile_id"]]
    args += ["--serial", p["expect_serial"] or device_id]
    for opt, key in (("--officer", "officer"), ("--case", "case_id"), ("--activity", "activity"),
                     ("--mount-root", "mount_root")):
        if p.get(key):
            args += [opt, str(p[key])]
    for server in p.get("ntp_servers") or ():
        args += ["--ntp-server", server]
    if p.get("no_clock"):
        args.append("--no-clock")
    if p.get("passphrase_env"):
        args += ["--passphrase-env", p["passphrase_env"]]
    return "bodycam " + " ".join(printable(shlex.quote(a)) for a in args)


def _after_mass_storage(exc: BodycamError, device_id: str, ctx: click.Context) -> BodycamError:
    """The same error, its message followed by what to do now that the serial port is gone."""
    out = BodycamError(f"{exc}\n{_mass_storage_hint(device_id, ctx)}")
    out.exit_code = exc.exit_code
    return out


COMMAND = dock
