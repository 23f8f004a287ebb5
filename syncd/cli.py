"""``bodycam pki`` and ``bodycam broker``: the credentials and broker files of a deployment.

A thin layer over :mod:`archive.broker.pki` and :mod:`archive.broker.config`, and ``bodycam sync`` over
:mod:`syncd.uploader`.
"""

from __future__ import annotations

import getpass
import signal
import sys
import threading
from pathlib import Path

import click

from archive.broker import pki as pkilib
from archive.broker.config import BrokerDeployment, Listener, write_deployment
from bodycam.cliutil import app_config, echo_json, json_option
from bodycam.errors import BodycamError, RefusedError
from syncd.config import BrokerConfig

DIR = click.Path(file_okay=False, path_type=Path)


@click.group("pki")
def pki() -> None:
    """Certificates for the MQTT broker: a CA, the broker's, one per dock and the archive."""


@pki.command("init")
@click.option("--dir", "directory", type=DIR, required=True, help="Where the CA and broker files go.")
@click.option("--broker-host", "hosts", multiple=True,
              help="Name or IP docks use to reach the broker (repeatable); localhost is always included.")
@json_option
def pki_init(directory: Path, hosts: tuple[str, ...], as_json: bool) -> None:
    """Create the CA and the broker's server certificate (keys 0600)."""
    paths = pkilib.init_pki(directory, list(hosts))
    out = {"ca": str(paths.ca_cert), "broker_cert": str(paths.broker_cert), "broker_key": str(paths.broker_key),
           "hosts": [*pkilib.DEFAULT_HOSTS, *hosts]}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"CA: {paths.ca_cert}\nbroker: {paths.broker_cert} ({', '.join(out['hosts'])})")
        click.echo(f"Next: bodycam pki issue --dir {directory} --name <dock-or-archive>")


@pki.command("issue")
@click.option("--dir", "directory", type=DIR, required=True, help="The directory `pki init` created.")
@click.option("--name", required=True, help="Dock id (or the archive's identity): the certificate's CN.")
@click.option("--replace", is_flag=True, help="Re-issue if a certificate for NAME exists.")
@json_option
def pki_issue(directory: Path, name: str, replace: bool, as_json: bool) -> None:
    """Issue a client certificate; the broker takes its CN as the user name."""
    cert, key = pkilib.issue_client(directory, name, replace=replace)
    if as_json:
        echo_json({"name": name, "cert": str(cert), "key": str(key)})
    else:
        click.echo(f"{name}: {cert} (key {key}, mode 0600)")


@pki.command("show")
@click.option("--dir", "directory", type=DIR, required=True, help="The PKI directory.")
@json_option
def pki_show(directory: Path, as_json: bool) -> None:
    """List the CA, broker and client certificates with their expiry."""
    info = pkilib.describe(directory)
    if as_json:
        echo_json(info)
        return
    for label, item in (("CA", info["ca"]), ("broker", info["broker"])):
        click.echo(f"{label}: {item['subject']} until {item['not_after']}" if item else f"{label}: missing")
    for name, item in info["clients"].items():
        click.echo(f"client {name}: until {item['not_after']}")


@click.group("broker")
def broker() -> None:
    """Mosquitto configuration for a deployment (TLS, per-dock ACL, password file)."""


@broker.command("render")
@click.option("--dir", "directory", type=DIR, required=True, help="Deployment directory of the broker.")
@click.option("--dock", "docks", multiple=True, help="A registered dock id (repeatable).")
@click.option("--archive", "archive", default="archive", show_default=True, help="The archive's identity.")
@click.option("--pki-dir", type=DIR, default=None, help="PKI directory (default: DIR/pki).")
@click.option("--port", default=8883, show_default=True, type=click.IntRange(1, 65535),
              help="TLS port authenticated by client certificate.")
@click.option("--password-port", default=None, type=click.IntRange(1, 65535),
              help="Also a TLS port authenticated by password.")
@click.option("--bind", default="0.0.0.0", show_default=True, help="Address the TLS listeners bind.")  # noqa: S104
@click.option("--plain-port", default=None, type=click.IntRange(1, 65535),
              help="Loopback port without TLS (tests and benchmarks only).")
@click.option("--run-as", default=None, help="Account mosquitto drops to when started as root.")
@json_option
def broker_render(directory: Path, docks: tuple[str, ...], archive: str, pki_dir: Path | None, port: int,
                  password_port: int | None, bind: str, plain_port: int | None, run_as: str | None,
                  as_json: bool) -> None:
    """Write mosquitto.conf, acl and passwd (random passwords for new identities, 0600).

    After adding a dock, re-run and send the broker SIGHUP to reload the ACL and passwords.
    """
    listeners = [Listener(port, bind=bind, client_certs=True)]
    if password_port:
        listeners.append(Listener(password_port, bind=bind, client_certs=False))
    if plain_port:
        listeners.append(Listener(plain_port, bind="127.0.0.1", tls=False, client_certs=False))
    dep = BrokerDeployment(dir=directory, docks=docks, archive=archive, pki_dir=pki_dir,
                           listeners=tuple(listeners), run_as=run_as or getpass.getuser())
    files = write_deployment(dep)
    out = {"conf": str(files.conf), "acl": str(files.acl), "passwd": str(files.passwd),
           "identities": list(dep.identities),
           "passwords": {n: str(dep.password_path(n)) for n in dep.identities}}
    if as_json:
        echo_json(out)
    else:
        click.echo(f"wrote {files.conf}, {files.acl}, {files.passwd}")
        click.echo(f"start: mosquitto -c {files.conf}")


def resolve_broker(cfg: BrokerConfig, base: Path) -> BrokerConfig:
    """Relative credential paths in a [broker] section are relative to the section's data_dir."""
    fields = {}
    for name in ("ca_file", "cert_file", "key_file", "password_file"):
        value = getattr(cfg, name)
        if value is not None and not value.is_absolute():
            fields[name] = base / value
    return cfg.model_copy(update=fields)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT end the daemon cleanly: the current chunk is finished, nothing is lost."""
    def handler(signum, frame) -> None:  # noqa: ARG001
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


def _progress_line(prog) -> None:
    if not prog.file_id:
        return
    pct = 100.0 * prog.stored / prog.chunks if prog.chunks else 100.0
    click.echo(f"\r\x1b[2K{prog.kind} {prog.role} {prog.file_id[:12]}… {pct:5.1f}% of {_human(prog.size)}, "
               f"{prog.in_flight} in flight, {_human(prog.rate_bps)}/s, item {prog.items_done + 1}/{prog.items_total}",
               nl=False, err=True)


@click.group("sync")
def sync() -> None:
    """Ship the dock ledger and its footage to the archive (MQTT 5, resumable, archive-acknowledged)."""


def _sync_configs(ctx: click.Context):
    cfg = app_config(ctx)
    agent = cfg.agent
    syncd = cfg.syncd.model_copy(update={"broker": resolve_broker(cfg.syncd.broker, agent.data_dir)})
    return agent, syncd


@sync.command("run")
@click.option("--once", is_flag=True, help="One pass; exit 0 when everything is committed, 3 if refused.")
@click.option("--connect-timeout", type=float, default=None,
              help="With --once: give up if the broker cannot be reached for this many seconds.")
@json_option
@click.pass_context
def sync_run(ctx: click.Context, once: bool, connect_timeout: float | None, as_json: bool) -> None:
    """Send every dock ledger entry the archive has not committed, in ledger order."""
    from syncd.uploader import Uploader

    agent, cfg = _sync_configs(ctx)
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
                   f"sent {result.chunks_sent} chunks ({_human(result.bytes_sent)})"
                   + (" (stopped)" if result.stopped else ""))
    if result.rejected:
        raise RefusedError(f"{len(result.rejected)} item(s) refused by the archive; they stay on the dock "
                           "(see `bodycam sync status`)",
                           [f"{r['kind']} {r['entry_hash'][:16]}…: {r['code']}: {r['reason']}"
                            for r in result.rejected])
    if once and (result.queued or result.stopped):
        raise BodycamError(f"{result.queued} item(s) not yet committed; run `bodycam sync run` again")


@sync.command("dock-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write this dock's public key (for `bodycam archive dock add --pubkey`).")
@click.option("--passphrase-env", default=None, help="Environment variable holding the dock key's passphrase.")
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
               f"(+{st['unscanned_entries']} new ledger entries), {items.get('rejected', 0)} refused")
    click.echo(f"files to send: {st['queued_files']} ({_human(st['queued_bytes'])})")
    fl = st["in_flight"]
    if fl and fl.get("file_id"):
        pct = 100.0 * fl["stored"] / fl["chunks"] if fl["chunks"] else 100.0
        click.echo(f"in flight: {fl['kind']} {fl['role']} {fl['file_id'][:16]}… {pct:.1f}% of "
                   f"{_human(fl['size'])}, {fl['in_flight']} chunks unacknowledged, {_human(fl['rate_bps'])}/s")
    else:
        click.echo("in flight: nothing")
    lc = st["last_commit"]
    click.echo(f"last commit: {lc['kind']} {lc['entry_hash'][:16]}… at {_when(lc['at_ns'])}" if lc else
               "last commit: never")
    le = st["last_error"]
    click.echo(f"last error: {le['message']} ({_when(le['at_ns'])})" if le else "last error: none")
    for r in st["rejected"]:
        click.echo(f"  refused {r['kind']} {r['entry_hash'][:16]}…: {r['code']}: {r['reason']}")


def _when(ns: int | None) -> str:
    if not ns:
        return "?"
    import datetime as dt

    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


COMMANDS: list[click.Command] = [pki, broker, sync]
