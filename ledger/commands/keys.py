"""``bodycam keys …``: Ed25519 key files (generate, show)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import echo_json, json_option, passphrase_option
from bodycam.errors import BodycamError
from bodycam.i18n import N_, _
from bodycam.tables import width
from ledger.checkpoint import vkey
from ledger.keys import generate_key_file, load_public_key, write_public_key

# --- keys ------------------------------------------------------------------------------------------


@click.group("keys")
def keys() -> None:
    """Ed25519 key files: generate, show."""


@keys.command("generate")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Private key file to create (mode 0600); the public key goes to OUT.pub.",
)
@passphrase_option(N_("the key file"))
@json_option
def keys_generate(out: Path, passphrase_env: str | None, as_json: bool) -> None:
    """Create a new key; refuses to overwrite an existing file."""
    pub_path = out.with_name(out.name + ".pub")
    if pub_path.exists():
        raise BodycamError(_("{file} already exists; refusing to overwrite (move it away first)").format(file=pub_path))
    signer = generate_key_file(out, passphrase_env)
    write_public_key(pub_path, signer.public_key)
    info = {
        "keyid": signer.keyid,
        "public_key": signer.public_key.b64,
        "private_key_file": str(out),
        "public_key_file": str(pub_path),
        "encrypted": bool(passphrase_env),
    }
    if as_json:
        echo_json(info)
    else:
        _show([(_("keyid"), signer.keyid), (_("public key"), signer.public_key.b64),
               (_("written"), _("{private} (0600), {public}").format(private=out, public=pub_path))])


@keys.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Key name for the signed-note verifier key (default: none shown).")
@passphrase_option(N_("the key file"))
@json_option
def keys_show(file: Path, name: str | None, passphrase_env: str | None, as_json: bool) -> None:
    """Key id and public key of a public or private key file."""
    pub = load_public_key(file, passphrase_env)
    info = {"keyid": pub.keyid, "public_key": pub.b64, "file": str(file)}
    if name:
        info["vkey"] = vkey(name, pub)
    if as_json:
        echo_json(info)
    else:
        rows = [(_("keyid"), pub.keyid), (_("public key"), pub.b64)]
        if name:
            rows.append((_("vkey"), info["vkey"]))
        _show(rows)


def _show(rows: list[tuple[str, str]]) -> None:
    """``label  value`` lines, the values aligned (a Chinese label is two columns a character)."""
    wide = max(width(label) for label, _value in rows)
    for label, value in rows:
        click.echo(f"{label}{' ' * (wide - width(label))}  {value}")


COMMAND = keys
