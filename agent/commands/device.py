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
from bodycam.i18n import N_, _, shown
from bodycam.tables import width


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
    officer = " ".join(x for x in (st.officer_id, st.officer_name) if x) or _("(not reported)")
    unknown = _("unknown")
    rows = [
        (_("serial"), _("{serial} ({model}, profile {profile})").format(
            serial=st.serial, model=st.model or profile.model, profile=st.profile)),
        (_("officer"), officer),
        (_("battery"), unknown if st.battery_pct is None else f"{st.battery_pct}%"),
        (_("card"), unknown if st.storage_free_bytes is None else _("{free} free of {total}").format(
            free=human_bytes(st.storage_free_bytes), total=human_bytes(st.storage_total_bytes))),
        (_("clock offset"), unknown if st.clock_offset_s is None else
         _("{offset:+.3f} s (±{uncertainty:.3f} s, vs this dock's clock)").format(
             offset=st.clock_offset_s, uncertainty=st.clock_uncertainty_s)),
        (_("recording"), unknown if st.recording is None else (_("yes") if st.recording else _("no"))),
        (_("verdict"), _("READY") if st.ready else _("NOT READY")),
    ]
    _echo_fields(rows)  # serial, model, officer come from the recorder: shown, never obeyed
    for r in st.reasons:
        click.echo(f"  - {printable(shown(r))}")


def _echo_fields(rows: list[tuple[str, str]]) -> None:
    """``label  value`` lines, the values aligned whatever the labels' script (CJK takes two columns)."""
    pad = max(13, *(width(k) for k, _v in rows))
    for k, v in rows:
        click.echo(f"{k}{' ' * (pad - width(k))} {printable(v)}")


@device.command("udev-rules")
@click.option("--group", default="bodycam", show_default=True, help="Group of the agent's user.")
@click.pass_context
def device_udev_rules(ctx: click.Context, group: str) -> None:
    """Print udev rules giving GROUP the recorders' serial ports (by the profiles' VID/PID).

    Install the output as /etc/udev/rules.d/90-bodycam-recorders.rules; each port also gets a
    stable name /dev/bodycam/<profile>-<USB serial> (docs/deploy.md).
    """
    from agent.udev import udev_rules

    cfg = ctx.find_root().obj.optional_config.agent  # reads profiles only: no deployment needed
    profiles = load_profiles(cfg.path(cfg.profiles_dir) if cfg.profiles_dir else None)
    try:
        click.echo(udev_rules(profiles.values(), group), nl=False)
    except ValueError:
        raise click.BadParameter(_("not a valid group name"), param_hint="--group") from None


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
        click.echo(_("No recorder found on any serial port (check the cable; `lsusb` shows its VID:PID)."))
    for port, prof in found:
        click.echo(f"{port}  {prof.id}  ({prof.vendor}, {prof.model})")



def _report_arm(res: ArmResult, as_json: bool, what: str) -> None:
    if as_json:
        echo_json(res.as_dict())
    else:
        cal = res.calibration
        rows = [(_("recorder"), res.device_id)]
        if cal is not None:
            def fmt(ns):
                return _("unknown") if ns is None else f"{ns / 1e9:+.3f} s"
            rows.append((_("offset before"), fmt(cal.offset_before_ns)))
            rows.append((_("offset after"), _("{offset} (±{uncertainty:.3f} s, tolerance {tolerance:g} s)").format(
                offset=fmt(cal.offset_after_ns), uncertainty=(cal.uncertainty_ns or 0) / 1e9,
                tolerance=cal.tolerance_ns / 1e9)))
        verdict = (_("ARMED") if what == "armed" else _("CALIBRATED")) if res.armed else _("REFUSED")
        rows.append((_("verdict"), verdict))
        _echo_fields(rows)
        for w in res.warnings:
            click.echo("  " + _("warning: {warning}").format(warning=printable(shown(w))))
    if not res.armed:
        message = (_("recorder {device_id} is not armed (A2 Art.13)") if what == "armed"
                   else _("recorder {device_id} is not calibrated (A2 Art.13)"))
        raise RefusedError(message.format(device_id=res.device_id), [shown(r) for r in res.reasons])


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
@passphrase_option(N_("the dock and device keys"))
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
@passphrase_option(N_("the dock and device keys"))
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
@passphrase_option(N_("the dock and device keys"))
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
        msg = (_("{device_id}: enrolled, key {keyid}…, custodian {custodian}") if dev.created
               else _("{device_id}: already enrolled, key {keyid}…, custodian {custodian}"))
        click.echo(msg.format(device_id=dev.device_id, keyid=dev.signer.keyid[:16],
                              custodian=printable(dev.custodian or "-")))


@device.command("transfer")
@click.argument("device_id")
@click.option("--to", "to_dock", required=True,
              help="Dock that takes the recorder over (this dock's own name: a new key for it here).")
@click.option("--reason", required=True, help="Why, in words (moved to another station, key compromised, …).")
@passphrase_option(N_("the dock key"))
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
        click.echo(_("{device_id} handed over to {dock} after seq {seq} (entry {idx}); enroll it at {dock} with "
                     "`bodycam device enroll`").format(device_id=device_id, dock=to_dock, seq=rec["last_seq"],
                                                        idx=entry.idx))


COMMAND = device
