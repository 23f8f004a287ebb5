"""``bodycam broker render``: Mosquitto configuration with TLS, per-dock credentials and ACLs."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from archive.broker.config import BrokerDeployment, Listener, write_deployment
from bodycam.cliutil import echo_json, json_option
from bodycam.i18n import _

DIR = click.Path(file_okay=False, path_type=Path)



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
        click.echo(_("wrote {conf}, {acl}, {passwd}").format(conf=files.conf, acl=files.acl, passwd=files.passwd))
        click.echo(_("start: mosquitto -c {conf}").format(conf=files.conf))


COMMAND = broker
