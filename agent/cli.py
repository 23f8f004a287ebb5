"""``bodycam device …``, ``bodycam fleet …`` and ``bodycam emulate``: thin click layers over
agent.device_check, agent.fleet and agent.emulator.server. ``device`` is exported for the clock-gate and dock
commands (arm, calibrate, enroll) to attach to."""

from __future__ import annotations

import signal
import sys
import threading
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import click

from agent.config import AgentConfig
from agent.device_check import check_device
from agent.emulator.server import RecorderEmulator
from agent.emulator.state import load_state
from agent.fleet import StateDB
from agent.link.driver import RecorderLink, discover
from agent.link.profiles import Profile, get_profile, load_profiles
from agent.readiness import human_bytes
from bodycam.cliutil import app_config, echo_json, json_option


def agent_config(ctx: click.Context) -> AgentConfig:
    return app_config(ctx).agent


def profile_from(ctx: click.Context, profile_id: str) -> Profile:
    cfg = agent_config(ctx)
    extra = cfg.path(cfg.profiles_dir) if cfg.profiles_dir else None
    return get_profile(profile_id, extra)


def state_db(ctx: click.Context) -> StateDB:
    cfg = agent_config(ctx)
    return StateDB(cfg.path(cfg.state_db))


@click.group("device")
def device() -> None:
    """Talk to one docked recorder through its firmware profile."""


@device.command("status")
@click.option("--port", required=True, help="Serial port of the recorder, e.g. /dev/ttyACM0.")
@click.option("--profile", "profile_id", required=True, help="Firmware profile id (see firmware_profiles/).")
@json_option
@click.pass_context
def device_status(ctx: click.Context, port: str, profile_id: str, as_json: bool) -> None:
    """Battery, card, clock and custodian of a recorder, and whether it is ready for a shift
    (A2 Art.12–13). The check is remembered for `bodycam fleet status`."""
    cfg = agent_config(ctx)
    profile = profile_from(ctx, profile_id)
    with RecorderLink(port, profile) as link:
        st = check_device(link, cfg)
    state_db(ctx).record_check(st.as_check())
    if as_json:
        echo_json(st.as_dict())
        return
    officer = " ".join(x for x in (st.officer_id, st.officer_name) if x) or "(not reported)"
    rows = [
        ("serial", f"{st.serial} ({st.model or profile.model}, profile {st.profile})"),
        ("officer", officer),
        ("battery", "unknown" if st.battery_pct is None else f"{st.battery_pct}%"),
        ("card", "unknown" if st.storage_free_bytes is None else
         f"{human_bytes(st.storage_free_bytes)} free of {human_bytes(st.storage_total_bytes)}"),
        ("clock offset", "unknown" if st.clock_offset_s is None else
         f"{st.clock_offset_s:+.3f} s (±{st.clock_uncertainty_s:.3f} s, vs this dock's clock)"),
        ("recording", "unknown" if st.recording is None else ("yes" if st.recording else "no")),
        ("verdict", "READY" if st.ready else "NOT READY"),
    ]
    for k, v in rows:
        click.echo(f"{k:<13} {v}")
    for r in st.reasons:
        click.echo(f"  - {r}")


@device.command("ports")
@json_option
@click.pass_context
def device_ports(ctx: click.Context, as_json: bool) -> None:
    """Serial ports whose USB VID/PID match a firmware profile (recorders plugged into this dock)."""
    cfg = agent_config(ctx)
    profiles = load_profiles(cfg.path(cfg.profiles_dir) if cfg.profiles_dir else None)
    found = discover(profiles.values())
    if as_json:
        echo_json({"ports": [{"port": port, "profile": prof.id, "vendor": prof.vendor, "model": prof.model}
                             for port, prof in found]})
        return
    if not found:
        click.echo("No recorder found on any serial port (check the cable; `lsusb` shows its VID:PID).")
    for port, prof in found:
        click.echo(f"{port}  {prof.id}  ({prof.vendor}, {prof.model})")


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
    rows = [(e.serial, e.profile, e.custodian, e.last_check or "-", e.verdict.upper()) for e in entries]
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        click.echo("  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(r, widths, strict=True)).rstrip())
    for e in entries:
        for reason in e.reasons:
            click.echo(f"{e.serial}: {reason}")
    click.echo(f"{sum(e.ready for e in entries)} of {len(entries)} ready")


def _width(text: str) -> int:
    """Terminal columns: officers' names are often CJK, two columns per character."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@click.command("emulate")
@click.option("--profile", "profile_id", required=True, help="Firmware profile id to speak.")
@click.option("--state", "state_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Emulator state TOML (see README: Emulator state file).")
@click.option("--mount-root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the card appears as <mount-root>/<serial>/ after enter_mass_storage.")
@click.option("--media", "media_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Extra files to put on the card as they are.")
@click.option("--storage", "storage_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The card's folder (default: <mount-root>/.<serial>.storage).")
@click.pass_context
def emulate(ctx: click.Context, profile_id: str, state_path: Path, mount_root: Path, media_dir: Path | None,
            storage_dir: Path | None) -> None:
    """Serve an emulated recorder on a pseudo-terminal until killed. Prints `PORT <path>` first,
    then `MOUNTED <path>` when it switches to mass storage."""
    profile = profile_from(ctx, profile_id)
    emu = RecorderEmulator(profile, load_state(state_path), mount_root, storage_dir=storage_dir,
                           media_dir=media_dir)
    emu.prepare_storage()
    port = emu.open_port()
    stop = emu.stop_event

    def _stop(_signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"PORT {port}")
    sys.stdout.flush()
    server = threading.Thread(target=emu.serve, name="emulator", daemon=True)
    server.start()
    while not stop.is_set():
        if emu.mounted.wait(0.1):
            click.echo(f"MOUNTED {emu.mount_path}")
            sys.stdout.flush()
            stop.wait()
    emu.stop()


COMMANDS = [device, fleet, emulate]
