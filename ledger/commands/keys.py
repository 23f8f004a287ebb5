"""``bodycam keys …``: Ed25519 key files (generate, show)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import echo_json, json_option, passphrase_option
from bodycam.errors import BodycamError
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
@passphrase_option("the key file")
@json_option
def keys_generate(out: Path, passphrase_env: str | None, as_json: bool) -> None:
    """Create a new key; refuses to overwrite an existing file."""
    pub_path = out.with_name(out.name + ".pub")
    if pub_path.exists():
        raise BodycamError(f"{pub_path} already exists; refusing to overwrite (move it away first)")
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
        click.echo(f"keyid       {signer.keyid}")
        click.echo(f"public key  {signer.public_key.b64}")
        click.echo(f"written     {out} (0600), {pub_path}")


@keys.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Key name for the signed-note verifier key (default: none shown).")
@passphrase_option("the key file")
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
        click.echo(f"keyid       {pub.keyid}")
        click.echo(f"public key  {pub.b64}")
        if name:
            click.echo(f"vkey        {info['vkey']}")


COMMAND = keys
