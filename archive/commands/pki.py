"""``bodycam pki …``: the broker's certificate authority and certificates (run by the bureau)."""

from __future__ import annotations

from pathlib import Path

import click

from archive.broker import pki as pkilib
from bodycam.cliutil import echo_json, json_option
from bodycam.i18n import _

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
        click.echo(_("CA: {ca}\nbroker: {cert} ({hosts})").format(ca=paths.ca_cert, cert=paths.broker_cert,
                                                                  hosts=", ".join(out["hosts"])))
        click.echo(_("Next: bodycam pki issue --dir {dir} --name <dock-or-archive>").format(dir=directory))


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
        click.echo(_("{name}: {cert} (key {key}, mode 0600)").format(name=name, cert=cert, key=key))


@pki.command("show")
@click.option("--dir", "directory", type=DIR, required=True, help="The PKI directory.")
@json_option
def pki_show(directory: Path, as_json: bool) -> None:
    """List the CA, broker and client certificates with their expiry."""
    info = pkilib.describe(directory)
    if as_json:
        echo_json(info)
        return
    for label, item in ((_("CA"), info["ca"]), (_("broker"), info["broker"])):
        click.echo(_("{label}: {subject} until {until}").format(label=label, subject=item["subject"],
                                                                until=item["not_after"]) if item else
                   _("{label}: missing").format(label=label))
    for name, item in info["clients"].items():
        click.echo(_("client {name}: until {until}").format(name=name, until=item["not_after"]))


COMMAND = pki
