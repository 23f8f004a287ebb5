"""``bodycam device calibrate|arm|enroll``, ``bodycam dock`` and ``bodycam segments``: thin click
layers over ``agent.dock``. Refusals by a rule exit 3 with their reasons (A2 Art.13)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from agent.cli import agent_config, device, profile_from
from agent.clock.reference import reference_from_config
from agent.dock import ArmResult, DockContext, arm_device, calibrate_device, dock_recorder, ensure_linked_device
from agent.link.driver import RecorderLink
from agent.offload.files import Progress
from agent.readiness import human_bytes
from bodycam.cliutil import echo_json, json_option
from bodycam.errors import RefusedError
from ledger.store import Ledger

_port = click.option("--port", required=True, help="Serial port of the recorder, e.g. /dev/ttyACM0.")
_profile = click.option("--profile", "profile_id", required=True, help="Firmware profile id (see firmware_profiles/).")
_ntp = click.option("--ntp-server", "ntp_servers", multiple=True, metavar="HOST:PORT",
                    help="NTP server to use as the reference (repeatable); overrides [agent.clock].")
_passphrase = click.option("--passphrase-env", default=None, metavar="VAR",
                           help="Environment variable holding the passphrase of the dock and device keys.")


def _context(ctx: click.Context, passphrase_env: str | None) -> DockContext:
    return DockContext.open(agent_config(ctx), passphrase_env)


def _reference(ctx: click.Context, ntp_servers: tuple[str, ...]):
    return reference_from_config(agent_config(ctx).clock, list(ntp_servers) or None)


def _report_arm(res: ArmResult, as_json: bool, what: str) -> None:
    if as_json:
        echo_json(res.as_dict())
    else:
        cal = res.calibration
        click.echo(f"recorder      {res.device_id}")
        if cal is not None:
            def fmt(ns):
                return "unknown" if ns is None else f"{ns / 1e9:+.3f} s"
            click.echo(f"offset before {fmt(cal.offset_before_ns)}")
            click.echo(f"offset after  {fmt(cal.offset_after_ns)} (±{(cal.uncertainty_ns or 0) / 1e9:.3f} s, "
                       f"tolerance {cal.tolerance_ns / 1e9:g} s)")
        click.echo(f"verdict       {what.upper() if res.armed else 'REFUSED'}")
        for w in res.warnings:
            click.echo(f"  warning: {w}")
    if not res.armed:
        raise RefusedError(f"recorder {res.device_id} is not {what} (A2 Art.13)", res.reasons)


def _clock_gate(ctx: click.Context, port: str, profile_id: str, ntp_servers: tuple[str, ...],
                passphrase_env: str | None, as_json: bool, flow, what: str) -> None:
    profile = profile_from(ctx, profile_id)
    reference = _reference(ctx, ntp_servers)
    with _context(ctx, passphrase_env) as dock, RecorderLink(port, profile) as link:
        res = flow(dock, link, reference)
    _report_arm(res, as_json, what)


@device.command("calibrate")
@_port
@_profile
@_ntp
@_passphrase
@json_option
@click.pass_context
def device_calibrate(ctx: click.Context, port: str, profile_id: str, ntp_servers: tuple[str, ...],
                     passphrase_env: str | None, as_json: bool) -> None:
    """Set the recorder's clock from the reference and prove it: measure, set, re-measure.
    Every attempt is a signed calibration record. Exit 3 when refused."""
    _clock_gate(ctx, port, profile_id, ntp_servers, passphrase_env, as_json, calibrate_device, "calibrated")


@device.command("arm")
@_port
@_profile
@_ntp
@_passphrase
@json_option
@click.pass_context
def device_arm(ctx: click.Context, port: str, profile_id: str, ntp_servers: tuple[str, ...],
               passphrase_env: str | None, as_json: bool) -> None:
    """Arm a recorder for a shift: battery and card enough for a working day, no fault, and a
    passed clock calibration (A2 Art.12–13). Exit 0 when armed, 3 with reasons when refused."""
    _clock_gate(ctx, port, profile_id, ntp_servers, passphrase_env, as_json, arm_device, "armed")


@device.command("enroll")
@_port
@_profile
@click.option("--custodian", default=None, help="Officer id of the custodian (default: the officer the recorder "
                                                  "reports) (A2 Art.12).")
@_passphrase
@json_option
@click.pass_context
def device_enroll(ctx: click.Context, port: str, profile_id: str, custodian: str | None,
                  passphrase_env: str | None, as_json: bool) -> None:
    """Create the recorder's own signing key on this dock and enroll it, naming its custodian."""
    profile = profile_from(ctx, profile_id)
    with _context(ctx, passphrase_env) as dock, RecorderLink(port, profile) as link:
        dev = ensure_linked_device(dock, link, custodian)
    out = {"device_id": dev.device_id, "keyid": dev.signer.keyid, "enrollment": dev.enrollment.entry_hash,
           "custodian": dev.custodian, "created": dev.created}
    if as_json:
        echo_json(out)
    else:
        state = "enrolled" if dev.created else "already enrolled"
        click.echo(f"{dev.device_id}: {state}, key {dev.signer.keyid[:16]}…, custodian {dev.custodian or '-'}")


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
@_port
@_profile
@click.option("--officer", default=None, help="Officer handing the recorder in (default: the one it reports).")
@click.option("--case", "case_id", default=None, help="Case the footage belongs to (A2 Art.4, 15).")
@click.option("--activity", default=None, help="Enforcement activity, when there is no case yet (e.g. patrol).")
@click.option("--mount-root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the recorder's storage appears (overrides [agent] mount_root).")
@_ntp
@click.option("--no-clock", is_flag=True, help="Do not measure the clock at docking (no reference reachable).")
@_passphrase
@json_option
@click.pass_context
def dock(ctx: click.Context, port: str, profile_id: str, officer: str | None, case_id: str | None,
         activity: str | None, mount_root: Path | None, ntp_servers: tuple[str, ...], no_clock: bool,
         passphrase_env: str | None, as_json: bool) -> None:
    """Offload a docked recorder: every new file copied once, hashed, probed, signed with the
    recorder's own key and ledgered; gaps recorded (A2 Art.8, 15). Nothing is deleted from it."""
    if not case_id and not activity:
        raise click.UsageError("bind the footage to --case C or --activity A (A2 Art.4)")
    profile = profile_from(ctx, profile_id)
    reference = None if no_clock else _reference(ctx, ntp_servers)
    bar = _Bar(enabled=not as_json and sys.stderr.isatty())
    with _context(ctx, passphrase_env) as dockctx, RecorderLink(port, profile) as link:
        try:
            res = dock_recorder(dockctx, link, officer_id=officer, case_id=case_id, activity=activity,
                                reference=reference, mount_root=mount_root, progress=bar)
        finally:
            bar.close()
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


def _t(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@click.command("segments")
@click.option("--device", "device_id", default=None, help="Only this recorder.")
@json_option
@click.pass_context
def segments(ctx: click.Context, device_id: str | None, as_json: bool) -> None:
    """What the dock ledger holds: every segment with its hash, probe and corrected times."""
    cfg = agent_config(ctx)
    rows = []
    with Ledger.open(cfg.path(cfg.ledger), create=False) as ledger:
        for e in ledger.entries(kind="segment", device_id=device_id):
            b = e.record
            rows.append({
                "entry": e.entry_hash, "device_id": b.device_id, "seq": b.seq, "source_name": b.source_name,
                "sha256": b.media.sha256, "size": b.media.size, "codec": b.media.codec,
                "duration_ms": b.media.duration_ms, "device_start": b.device_start,
                "start": _t(b.start_ns), "end": _t(b.end_ns), "decodable": b.decodable,
                "flags": list(b.flags), "case_id": b.case_id, "activity": b.activity, "officer_id": b.officer_id,
            })
    if as_json:
        echo_json({"segments": rows})
        return
    if not rows:
        click.echo("No segments yet: dock a recorder with `bodycam dock`.")
        return
    for r in rows:
        flags = ",".join(r["flags"]) or "-"
        click.echo(f"{r['device_id']:<10} #{r['seq']:<4} {r['source_name'][:28]:<28} {r['sha256'][:12]} "
                   f"{r['codec']:<5} {r['duration_ms'] / 1000:7.1f}s {r['start']} → {r['end']} "
                   f"{'ok' if r['decodable'] else 'UNDECODABLE'} {flags}")


COMMANDS = [dock, segments]


@click.group("agent")
def agent_group() -> None:
    """The unattended dock daemon."""


@agent_group.command("run")
@click.option("--no-clock", is_flag=True, help="Do not measure recorder clocks at docking.")
@_ntp
@_passphrase
@click.pass_context
def agent_run(ctx: click.Context, no_clock: bool, ntp_servers: tuple[str, ...], passphrase_env: str | None) -> None:
    """Watch for recorders ([agent] ports and USB discovery) and dock each one as it appears,
    for its custodian. Stops cleanly on SIGTERM or Ctrl-C."""
    import logging
    import signal

    from agent.daemon import AgentDaemon

    cfg = agent_config(ctx)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a daemon logs each step
    daemon = AgentDaemon(cfg, None if no_clock else _reference(ctx, ntp_servers), passphrase_env)

    def stop(signum, _frame):
        logging.getLogger("agent.daemon").info("signal %d: stopping after the current file", signum)
        daemon.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.run()


COMMANDS.append(agent_group)
