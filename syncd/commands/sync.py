"""``bodycam sync …``: push what the archive has not committed, over MQTT; status; the dock key export."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from bodycam.cliutil import app_config, echo_json, json_option, passphrase_option, show_status_logs
from bodycam.errors import BodycamError, RefusedError
from bodycam.formats import human_bytes, local_time, printable
from bodycam.i18n import N_, _, tr
from bodycam.signals import stop_on_signals

ONCE_CONNECT_TIMEOUT_S = 60.0
"""`sync run --once` started while the archive or its broker is down says so and exits after this
(the --connect-timeout help names it: a literal, so that the catalogue finds and translates it)."""
CHECKPOINT_STATUS = {"accepted": N_("accepted"), "continue": N_("continue"), "inconsistent": N_("inconsistent"),
                     "rejected": N_("rejected")}
"""The archive's verdicts on the dock's checkpoint, as ``sync status`` says them."""


def _progress_line(prog) -> None:
    if not prog.file_id:
        return
    pct = 100.0 * prog.stored / prog.chunks if prog.chunks else 100.0
    line = _("{kind} {role} {file}… {pct:5.1f}% of {size}, {in_flight} in flight, {rate}/s, item {n}/{total}").format(
        kind=prog.kind, role=prog.role, file=prog.file_id[:12], pct=pct, size=human_bytes(prog.size),
        in_flight=prog.in_flight, rate=human_bytes(prog.rate_bps), n=prog.items_done + 1, total=prog.items_total)
    click.echo(f"\r\x1b[2K{line}", nl=False, err=True)


@click.group("sync")
def sync() -> None:
    """Ship the dock ledger and its footage to the archive (MQTT 5, resumable, archive-acknowledged)."""


def _sync_configs(ctx: click.Context):
    cfg = app_config(ctx)
    agent = cfg.agent
    syncd = cfg.syncd.model_copy(update={"broker": cfg.syncd.broker.resolved(agent.data_dir)})
    return agent, syncd


@sync.command("run")
@click.option("--once", is_flag=True, help="One pass; exit 0 when everything is committed, 3 if refused, if "
              "queued entries are missing from the dock ledger, or if its checkpoints show it lost entries.")
@click.option("--connect-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --once: give up (exit 1; nothing is lost) when the broker cannot be reached, or the "
                   "archive has not answered, within this many seconds (default 60; 0: wait for ever).")
@json_option
@click.pass_context
def sync_run(ctx: click.Context, once: bool, connect_timeout: float | None, as_json: bool) -> None:
    """Send every dock ledger entry the archive has not committed, in ledger order.

    Refuses to start (exit 1) while footage, ledger or state can be read by other local users,
    naming each path and the chmod that fixes it, or while another `sync run` (with or without
    --once) uses the folder."""
    from bodycam.locks import exclusive_lock
    from bodycam.permissions import require_private, sqlite_files
    from syncd.uploader import Uploader

    agent, cfg = _sync_configs(ctx)
    if once and connect_timeout is None:
        connect_timeout = ONCE_CONNECT_TIMEOUT_S
    if connect_timeout == 0:
        connect_timeout = None
    show_status_logs("syncd")  # connecting, waiting for the archive, committed, reconnecting in N s
    ctx.with_resource(exclusive_lock(agent.data_dir, "sync", "bodycam sync run"))  # held until it returns
    require_private("bodycam sync run", agent.data_dir, [*agent.private_trees(),
                                                          *sqlite_files(agent.path(cfg.state_db))])
    stop = threading.Event()
    stop_on_signals(stop)
    tty = sys.stderr.isatty() and not as_json
    up = Uploader(agent, cfg, stop_event=stop, on_progress=_progress_line if tty else None)
    try:
        result = up.run(once=once, connect_timeout=connect_timeout)
    finally:
        up.close()
        if tty:
            click.echo("", err=True)
    if as_json:
        echo_json(result.to_json())
    else:
        line = _("committed {committed}, queued {queued}, refused {refused}, ").format(
            committed=result.committed, queued=result.queued, refused=len(result.rejected))
        if result.missing:
            line += _("missing from the dock ledger {missing}, ").format(missing=len(result.missing))
        line += _("sent {chunks} chunks ({size})").format(chunks=result.chunks_sent,
                                                          size=human_bytes(result.bytes_sent))
        click.echo(line + (_(" (stopped)") if result.stopped else ""))
    from syncd.checkpoints import problems as checkpoint_problems

    lost = checkpoint_problems(result.checkpoint, result.checkpoint_problem)
    if result.rejected or result.missing or lost:
        problems = []
        if lost:
            problems.append(_("the dock ledger lost entries a checkpoint of it covered (its checkpoints do not "
                              "agree with the archive's)"))
        if result.missing:
            missing = (_("{count} queued entry is missing from the dock ledger (it lost entries: compare it with the "
                         "archive's copy)") if len(result.missing) == 1 else
                       _("{count} queued entries are missing from the dock ledger (it lost entries: compare it with "
                         "the archive's copy)"))
            problems.append(missing.format(count=len(result.missing)))
        if result.rejected:
            problems.append(_("{count} item(s) refused by the archive; they stay on the dock").format(
                count=len(result.rejected)))
        # the archive's codes and reasons are its words (protocol data): quoted as they came
        raise RefusedError(_("{problems}; the rest was sent (see `bodycam sync status`)").format(
                               problems=_("; ").join(problems)),
                           [printable(line) for line in lost]
                           + [_("missing {kind} {entry}: not in the dock ledger any more").format(
                               kind=m["kind"], entry=m["entry_hash"]) for m in result.missing]
                           + [f"{r['kind']} {r['entry_hash'][:16]}…: {r['code']}: {r['reason']}"
                              for r in result.rejected])
    if once and (result.queued or result.stopped):
        raise BodycamError(_("{count} item(s) not yet committed; run `bodycam sync run` again").format(
            count=result.queued))


@sync.command("dock-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write this dock's public key (for `bodycam archive dock add --pubkey`).")
@passphrase_option(N_("the dock key"))
@json_option
@click.pass_context
def sync_dock_key(ctx: click.Context, out: Path, passphrase_env: str | None, as_json: bool) -> None:
    """Export the public half of the dock key, which the archivist registers."""
    from ledger.keys import load_public_key, write_public_key

    agent = app_config(ctx).agent
    pub = load_public_key(agent.path(agent.key_file), passphrase_env)
    write_public_key(out, pub)
    if as_json:
        echo_json({"dock": agent.dock_id, "keyid": pub.keyid, "file": str(out)})
    else:
        click.echo(_("dock {dock} key {keyid}… written to {out}; the archivist runs "
                     "`bodycam archive dock add {dock} --pubkey {file}`").format(
            dock=agent.dock_id, keyid=pub.keyid[:16], out=out, file=out.name))


@sync.command("status")
@json_option
@click.pass_context
def sync_status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Queued files and bytes, what is in flight, last commit, last error, refused items."""
    from syncd.uploader import sync_status

    agent, cfg = _sync_configs(ctx)
    st = sync_status(agent, cfg)
    if as_json:
        echo_json(st)
        return
    items = st["items"]
    line = _("dock {dock}: {committed} committed, {queued} queued (+{new} new ledger entries), {refused} "
             "refused").format(dock=st["dock"], committed=items.get("committed", 0), queued=items.get("queued", 0),
                               new=st["unscanned_entries"], refused=items.get("rejected", 0))
    if st["missing"]:
        line += _(", {missing} missing from the dock ledger").format(missing=len(st["missing"]))
    click.echo(line)
    click.echo(_("files to send: {files} ({size})").format(files=st["queued_files"],
                                                           size=human_bytes(st["queued_bytes"])))
    fl = st["in_flight"]
    if fl and fl.get("file_id"):
        pct = 100.0 * fl["stored"] / fl["chunks"] if fl["chunks"] else 100.0
        click.echo(_("in flight: {kind} {role} {file}… {pct:.1f}% of {size}, {in_flight} chunks unacknowledged, "
                     "{rate}/s").format(kind=fl["kind"], role=fl["role"], file=fl["file_id"][:16], pct=pct,
                                        size=human_bytes(fl["size"]), in_flight=fl["in_flight"],
                                        rate=human_bytes(fl["rate_bps"])))
    else:
        click.echo(_("in flight: nothing"))
    lc = st["last_commit"]
    click.echo(_("last commit: {kind} {entry}… at {at}").format(kind=lc["kind"], entry=lc["entry_hash"][:16],
                                                                at=local_time(lc["at_ns"])) if lc else
               _("last commit: never"))
    le = st["last_error"]
    # error messages and refusal reasons quote the archive (and are kept in sync.db as said, in English):
    # shown, never obeyed by the terminal
    click.echo(_("last error: {message} ({at})").format(message=printable(le["message"]), at=local_time(le["at_ns"]))
               if le else _("last error: none"))
    for r in st["rejected"]:
        click.echo(printable(_("  refused {kind} {entry}…: {code}: {reason}").format(
            kind=r["kind"], entry=r["entry_hash"][:16], code=r["code"], reason=r["reason"])))
    for m in st["missing"]:
        click.echo(_("  missing {kind} {entry}…: queued, then gone from the dock ledger (inconsistency: compare the "
                     "ledger with the archive's copy)").format(kind=m["kind"], entry=m["entry_hash"][:16]))
    ck = st["checkpoint"]
    if ck is not None:
        v = ck["last_verdict"]
        if ck["latest_size"] is None:
            line = _("checkpoint: none signed yet (the agent signs one after each docking)")
        else:
            line = _("checkpoint: latest signed at size {latest}").format(latest=ck["latest_size"])
        if ck["acknowledged_size"] is None:
            line += _(", not yet acknowledged by the archive")
        else:
            line += _(", acknowledged by the archive at size {acknowledged}").format(
                acknowledged=ck["acknowledged_size"])
        if v:
            line += _("; last answer {status} ({missing} covered entries not arrived)").format(
                status=_(CHECKPOINT_STATUS.get(v["status"], v["status"])), missing=v["missing"])
        else:
            line += _("; never sent")
        click.echo(line)
        if v and v["status"] in ("inconsistent", "rejected"):
            click.echo(printable(_("  ! {status}: {reason}").format(status=_(CHECKPOINT_STATUS[v["status"]]),
                                                                     reason=v["reason"])))
        if ck["ledger_problem"]:
            click.echo(f"  ! {tr(ck['ledger_problem'])}")


COMMAND = sync
