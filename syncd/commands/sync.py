"""``bodycam sync …``: push what the archive has not committed, over MQTT; status; the dock key export."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from bodycam.cliutil import app_config, echo_json, json_option, passphrase_option, show_status_logs
from bodycam.errors import BodycamError, RefusedError
from bodycam.formats import human_bytes, local_time, printable
from bodycam.signals import stop_on_signals

ONCE_CONNECT_TIMEOUT_S = 60.0
"""`sync run --once` started while the archive or its broker is down says so and exits after this."""


def _progress_line(prog) -> None:
    if not prog.file_id:
        return
    pct = 100.0 * prog.stored / prog.chunks if prog.chunks else 100.0
    click.echo(f"\r\x1b[2K{prog.kind} {prog.role} {prog.file_id[:12]}… {pct:5.1f}% of {human_bytes(prog.size)}, "
               f"{prog.in_flight} in flight, {human_bytes(prog.rate_bps)}/s, "
               f"item {prog.items_done + 1}/{prog.items_total}",
               nl=False, err=True)


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
              help=f"With --once: give up (exit 1; nothing is lost) when the broker cannot be reached, or the "
                   f"archive has not answered, within this many seconds (default {ONCE_CONNECT_TIMEOUT_S:g}; 0: "
                   "wait for ever).")
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
        click.echo(f"committed {result.committed}, queued {result.queued}, refused {len(result.rejected)}, "
                   + (f"missing from the dock ledger {len(result.missing)}, " if result.missing else "")
                   + f"sent {result.chunks_sent} chunks ({human_bytes(result.bytes_sent)})"
                   + (" (stopped)" if result.stopped else ""))
    from syncd.checkpoints import problems as checkpoint_problems

    lost = checkpoint_problems(result.checkpoint, result.checkpoint_problem)
    if result.rejected or result.missing or lost:
        problems = []
        if lost:
            problems.append("the dock ledger lost entries a checkpoint of it covered (its checkpoints do not "
                            "agree with the archive's)")
        if result.missing:
            problems.append(f"{len(result.missing)} queued entr{'y is' if len(result.missing) == 1 else 'ies are'} "
                            "missing from the dock ledger (it lost entries: compare it with the archive's copy)")
        if result.rejected:
            problems.append(f"{len(result.rejected)} item(s) refused by the archive; they stay on the dock")
        raise RefusedError("; ".join(problems) + "; the rest was sent (see `bodycam sync status`)",
                           [printable(line) for line in lost]
                           + [f"missing {m['kind']} {m['entry_hash']}: not in the dock ledger any more"
                              for m in result.missing]
                           + [f"{r['kind']} {r['entry_hash'][:16]}…: {r['code']}: {r['reason']}"
                              for r in result.rejected])
    if once and (result.queued or result.stopped):
        raise BodycamError(f"{result.queued} item(s) not yet committed; run `bodycam sync run` again")


@sync.command("dock-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write this dock's public key (for `bodycam archive dock add --pubkey`).")
@passphrase_option("the dock key")
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
        click.echo(f"dock {agent.dock_id} key {pub.keyid[:16]}… written to {out}; the archivist runs "
                   f"`bodycam archive dock add {agent.dock_id} --pubkey {out.name}`")


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
    click.echo(f"dock {st['dock']}: {items.get('committed', 0)} committed, {items.get('queued', 0)} queued "
               f"(+{st['unscanned_entries']} new ledger entries), {items.get('rejected', 0)} refused"
               + (f", {len(st['missing'])} missing from the dock ledger" if st["missing"] else ""))
    click.echo(f"files to send: {st['queued_files']} ({human_bytes(st['queued_bytes'])})")
    fl = st["in_flight"]
    if fl and fl.get("file_id"):
        pct = 100.0 * fl["stored"] / fl["chunks"] if fl["chunks"] else 100.0
        click.echo(f"in flight: {fl['kind']} {fl['role']} {fl['file_id'][:16]}… {pct:.1f}% of "
                   f"{human_bytes(fl['size'])}, {fl['in_flight']} chunks unacknowledged, "
                   f"{human_bytes(fl['rate_bps'])}/s")
    else:
        click.echo("in flight: nothing")
    lc = st["last_commit"]
    click.echo(f"last commit: {lc['kind']} {lc['entry_hash'][:16]}… at {local_time(lc['at_ns'])}" if lc else
               "last commit: never")
    le = st["last_error"]
    # error messages and refusal reasons quote the archive: shown, never obeyed by the terminal
    click.echo(f"last error: {printable(le['message'])} ({local_time(le['at_ns'])})" if le else "last error: none")
    for r in st["rejected"]:
        click.echo(printable(f"  refused {r['kind']} {r['entry_hash'][:16]}…: {r['code']}: {r['reason']}"))
    for m in st["missing"]:
        click.echo(f"  missing {m['kind']} {m['entry_hash'][:16]}…: queued, then gone from the dock ledger "
                   "(inconsistency: compare the ledger with the archive's copy)")
    ck = st["checkpoint"]
    if ck is not None:
        v = ck["last_verdict"]
        click.echo(f"checkpoint: latest signed at size {ck['latest_size']}, acknowledged by the archive at size "
                   f"{ck['acknowledged_size']}" + (f"; last answer {v['status']} ({v['missing']} covered entries not "
                                                   "arrived)" if v else "; never sent"))
        if v and v["status"] in ("inconsistent", "rejected"):
            click.echo(printable(f"  ! {v['status']}: {v['reason']}"))
        if ck["ledger_problem"]:
            click.echo(f"  ! {ck['ledger_problem']}")


COMMAND = sync
