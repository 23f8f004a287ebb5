"""``bodycam device …``: one docked recorder — status, ports, calibrate, arm, enroll (A2 Art.12–13).

Refusals by a rule exit 3 with their reasons."""

from __future__ import annotations

import click

from agent.commands.common import (
    agent_config,
    dock_context,
    ntp_option,
    port_option,
    profile_from,
    profile_option,
    reference_from,
    state_db,
)
from agent.device_check import check_device
from agent.dock import ArmResult, arm_device, calibrate_device, ensure_linked_device
from agent.link.driver import RecorderLink, discover
from agent.link.profiles import load_profiles
from bodycam.cliutil import echo_json, json_option, passphrase_option
from bodycam.errors import RefusedError
from bodycam.formats import human_bytes, printable


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
    for k, v in rows:  # serial, model, officer come from the recorder: shown, never obeyed
        click.echo(f"{k:<13} {printable(v)}")
    for r in st.reasons:
        click.echo(f"  - {printable(r)}")


@device.command("ports")
@json_option
@click.pass_context
def device_ports(ctx: click.Context, as_json: bool) -> None:
    """Serial ports whose USB VID/PID match a firmware profile (recorders plugged into this dock)."""
    cfg = ctx.find_root().obj.optional_config.agent  # reads profiles only: no deployment needed
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
            click.echo(f"  warning: {printable(w)}")
    if not res.armed:
        raise RefusedError(f"recorder {res.device_id} is not {what} (A2 Art.13)", res.reasons)


def _clock_gate(ctx: click.Context, port: str, profile_id: str, ntp_servers: tuple[str, ...],
                passphrase_env: str | None, as_json: bool, flow, what: str) -> None:
    profile = profile_from(ctx, profile_id)
    reference = reference_from(ctx, ntp_servers)
    with dock_context(ctx, passphrase_env) as dock, RecorderLink(port, profile) as link:
        res = flow(dock, link, reference)
    _report_arm(res, as_json, what)


@device.command("calibrate")
@port_option
@profile_option
@ntp_option
@passphrase_option("the dock and device keys")
@json_option
@click.pass_context
def device_calibrate(ctx: click.Context, port: str, profile_id: str, ntp_servers: tuple[str, ...],
                     passphrase_env: str | None, as_json: bool) -> None:
    """Set the recorder's clock from the reference and prove it: measure, set, re-measure.
    Every attempt is a signed calibration record. Exit 3 when refused."""
    _clock_gate(ctx, port, profile_id, ntp_servers, passphrase_env, as_json, calibrate_device, "calibrated")


@device.command("arm")
@port_option
@profile_option
@ntp_option
@passphrase_option("the dock and device keys")
@json_option
@click.pass_context
def device_arm(ctx: click.Context, port: str, profile_id: str, ntp_servers: tuple[str, ...],
               passphrase_env: str | None, as_json: bool) -> None:
    """Arm a recorder for a shift: battery and card enough for a working day, no fault, and a
    passed clock calibration (A2 Art.12–13). Exit 0 when armed, 3 with reasons when refused."""
    _clock_gate(ctx, port, profile_id, ntp_servers, passphrase_env, as_json, arm_device, "armed")


@device.command("enroll")
@port_option
@profile_option
@click.option("--custodian", default=None, help="Officer id of the custodian (default: the officer the recorder "
                                                  "reports) (A2 Art.12).")
@passphrase_option("the dock and device keys")
@json_option
@click.pass_context
def device_enroll(ctx: click.Context, port: str, profile_id: str, custodian: str | None,
                  passphrase_env: str | None, as_json: bool) -> None:
    """Create the recorder's own signing key on this dock and enroll it, naming its custodian."""
    profile = profile_from(ctx, profile_id)
    with dock_context(ctx, passphrase_env) as dock, RecorderLink(port, profile) as link:
        dev = ensure_linked_device(dock, link, custodian)
    out = {"device_id": dev.device_id, "keyid": dev.signer.keyid, "enrollment": dev.enrollment.entry_hash,
           "custodian": dev.custodian, "created": dev.created}
    if as_json:
        echo_json(out)
    else:
        state = "enrolled" if dev.created else "already enrolled"
        click.echo(f"{dev.device_id}: {state}, key {dev.signer.keyid[:16]}…, "
                   f"custodian {printable(dev.custodian or '-')}")


@device.command("transfer")
@click.argument("device_id")
@click.option("--to", "to_dock", required=True,
              help="Dock that takes the recorder over (this dock's own name: a new key for it here).")
@click.option("--reason", required=True, help="Why, in words (moved to another station, key compromised, …).")
@passphrase_option("the dock key")
@json_option
@click.pass_context
def device_transfer(ctx: click.Context, device_id: str, to_dock: str, reason: str, passphrase_env: str | None,
                    as_json: bool) -> None:
    """Hand a recorder over to another dock, or to a new key on this one: its chain ends here.

    The receiving dock enrolls it afterwards (`bodycam device enroll`) and a new chain starts;
    sync this dock first, so that the archive knows of the hand-over before the new enrollment."""
    from ledger.enroll import hand_over

    with dock_context(ctx, passphrase_env) as dock:
        entry = hand_over(dock.ledger, dock.signer, device_id, to_dock, reason)
    rec = entry.body
    if as_json:
        echo_json({"handover": entry.entry_hash, "idx": entry.idx, "device_id": device_id, "to_dock": to_dock,
                   "last_seq": rec["last_seq"]})
    else:
        click.echo(f"{device_id} handed over to {to_dock} after seq {rec['last_seq']} (entry {entry.idx}); "
                   f"enroll it at {to_dock} with `bodycam device enroll`")


COMMAND = device
