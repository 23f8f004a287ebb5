"""``bodycam pki`` and ``bodycam broker``: the credentials and broker files of a deployment.

A thin layer over :mod:`syncd.pki` and :mod:`syncd.brokerconf`; more groups (``sync``) are
appended to ``COMMANDS``.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from ledger.cliutil import echo_json, json_option
from syncd import pki as pkilib
from syncd.brokerconf import BrokerDeployment, Listener, write_deployment

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


COMMANDS: list[click.Command] = [pki, broker]
