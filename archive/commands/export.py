"""``bodycam export``: evidence packages for court that any expert can verify offline (A2 Art.16–17)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import (
    KeyRef,
    TimeParam,
    app_config,
    echo_json,
    json_option,
    option_help,
    signed_by,
    signer_options,
)
from bodycam.formats import printable
from bodycam.i18n import N_, Message, _

now_option = click.option("--now", "now_ns", type=TimeParam(), default=None, hidden=True)
log_passphrase_option = click.option(
    "--log-passphrase-env", default=None, metavar="VAR",
    help=option_help(Message(N_("Environment variable holding the passphrase of {what} (never the passphrase "
                                "itself)."), what=Message(N_("the log key")))))

# What ``export verify`` says of each kind of problem ``verify_package`` finds, in the reader's
# language (``verify.py`` prints the English of the same codes).
PROBLEMS = {
    "missing": N_("missing"),
    "unreadable": N_("cannot be read: {detail}"),
    "malformed": N_("malformed: {detail}"),
    "sum_mismatch": N_("{algo} does not match {sums}"),
    "sum_missing": N_("listed in {sums} but missing"),
    "sum_unlisted": N_("not listed in {sums}"),
    "sum_unavailable": N_("{algo} is available neither in Python's hashlib nor in openssl"),
    "unsafe_path": N_("names a path outside the package: {detail}"),
    "bad_signature": N_("signature by key {keyid} does not verify"),
    "unknown_key": N_("signed by key {keyid}, which keys/ does not hold"),
    "not_enrolled": N_("signed by key {keyid}, which no enrollment entry in the package enrolls"),
    "differs": N_("differs from {other}"),
    "key_name": N_("is not named by its key id {keyid}"),
    "fingerprint": N_("fingerprint does not match keys/FINGERPRINTS"),
    "proof": N_("inclusion proof does not lead to the checkpoint's root"),
    "checkpoint_signature": N_("checkpoint signature by {name} does not verify"),
    "checkpoint_origin": N_("checkpoint origin {origin!r} is not the archive's {expected!r} the manifest names"),
    "checkpoint_key": N_("the checkpoint's verifier key is not the archive log key the manifest names"),
    "no_export": N_("no export entry in ledger/ names this manifest (SHA-256 {sha256})"),
    "item": N_("item {path}: {detail}"),
    "chain": N_("recorder {device}: {detail}"),
    "signoff": N_("sign-off by key {keyid} is not an export_signoff entry in ledger/"),
    "record": N_("{detail}"),
    "stopped": N_("the check {step} stopped on unexpected input: {detail}"),
}


def _archive(ctx: click.Context):
    return app_config(ctx).archive


def _ledger(ctx: click.Context):
    from ledger.store import Ledger

    cfg = _archive(ctx)
    return Ledger.open(cfg.path(cfg.ledger), create=False)


def _log_signer(ctx: click.Context, passphrase_env: str | None):
    from ledger.keys import load_signer

    cfg = _archive(ctx)
    return load_signer(cfg.path(cfg.log_key), passphrase_env)


def _proves_for(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        seg, sep, text = v.partition("=")
        if not sep or not seg.strip() or not text.strip():
            raise click.BadParameter(_("give SEGMENT=TEXT"), param_hint="--proves-for")
        out[seg.strip()] = text.strip()
    return out


@click.group()
def export() -> None:
    """Evidence packages for court that any expert can verify offline (A2 Art.16–17).

    `export create` makes the package for an approved access request (bit-exact originals, sums, a
    signed manifest, the ledger entries they depend on with inclusion proofs, keys, instructions and
    a standalone verify.py); `export sign` adds a supervisor's or an officer's sign-off; `export
    verify` checks a package folder or its ISO image.
    """


@export.command("create")
@click.option("--case", "case_id", required=True, help="The case whose footage is exported.")
@click.option("--request", required=True, help="The approved access request (its entry hash).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The package folder to make (new or empty).")
@click.option("--segments", default=None, help="Only these segments (entry hashes, comma-separated); default: "
                                               "every segment of the case.")
@click.option("--proves", default="", help="What the footage proves (证明对象, 行政诉讼证据规定 Art.12); needed unless "
                                          "--proves-for names every segment.")
@click.option("--proves-for", multiple=True, metavar="SEGMENT=TEXT",
              help="What one segment proves, when it differs from --proves; repeat for several.")
@click.option("--iso", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the package's ISO 9660 image here (its SHA-256 goes into the ledger).")
@signed_by(help="Archivist making the package.", what=N_("the archivist"))
@log_passphrase_option
@now_option
@json_option
@click.pass_context
def export_create(ctx: click.Context, case_id: str, request: str, out: Path, segments: str | None, proves: str,
                  proves_for: tuple[str, ...], iso: Path | None, person_id: str, key: KeyRef,
                  log_passphrase_env: str | None, now_ns: int | None, as_json: bool) -> None:
    """Make the evidence package of a case for an approved, unexpired access request (A2 Art.16–17).

    Every segment exported is logged as an access (purpose export) before a byte is copied; without
    an approval covering them: exit 3, and the refused attempt is logged too.
    """
    from archive.access import AccessRefused
    from archive.export.package import create_export, make_disc
    from ledger.blobs import BlobStore

    signer = key.load()
    log_signer = _log_signer(ctx, log_passphrase_env)
    cfg = _archive(ctx)
    refs = [s for s in segments.split(",")] if segments else None
    if iso is not None and iso.exists():
        raise click.UsageError(_("{iso} exists; an image is never overwritten").format(iso=printable(str(iso))))
    with _ledger(ctx) as ledger:
        try:
            made = create_export(ledger, BlobStore(cfg.path(cfg.blob_dir)), signer, person_id, log_signer, cfg.origin,
                                 case_id=case_id, request=request, out=out, segments=refs, proves=proves,
                                 proves_for=_proves_for(proves_for), now_ns=now_ns)
        except AccessRefused as exc:
            if as_json:
                echo_json({"outcome": "refused", "reasons": [str(r) for r in exc.reasons]})
                ctx.exit(3)
            raise
        disc = make_disc(ledger, out, iso, signer, person_id, now_ns=now_ns) if iso is not None else None
    if as_json:
        echo_json({"outcome": "exported", "export": made.entry.entry_hash, "idx": made.entry.idx,
                   "manifest_sha256": made.manifest_sha256, "out": str(out), "items": made.items,
                   "entries": made.entries, "iso": str(iso) if disc else None,
                   "iso_sha256": disc[1] if disc else None})
        return
    click.echo(_("evidence package of case {case} written to {out}: {items} original(s), {entries} ledger entries; "
                 "export entry {entry}, manifest SHA-256 {sha256}").format(
        case=case_id, out=printable(str(out)), items=made.items, entries=made.entries, entry=made.entry.entry_hash,
        sha256=made.manifest_sha256))
    if disc is not None:
        _say_disc(iso, disc[1])


def _say_disc(iso: Path, sha256: str) -> None:
    click.echo(_("disc image {iso} (SHA-256 {sha256}) made and logged; sign-offs made later need a new image: "
                 "bodycam export iso DIR --out FILE").format(iso=printable(str(iso)), sha256=sha256))


@export.command("sign")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--person", "person_id", required=True, help="The supervisor or officer signing off (A2 Art.16).")
@signer_options(what=N_("the person signing off"))
@log_passphrase_option
@now_option
@json_option
@click.pass_context
def export_sign(ctx: click.Context, package: Path, person_id: str, key: KeyRef, log_passphrase_env: str | None,
                now_ns: int | None, as_json: bool) -> None:
    """Sign off an evidence package as its supervisor or one of its officers (A2 Art.16).

    The signature over the manifest is added to the package (signatures/) and to the ledger; the
    package's ledger/ is brought to a new checkpoint and its sums, instructions and custody record
    rewritten.
    """
    from archive.export.package import sign_export

    signer = key.load()
    log_signer = _log_signer(ctx, log_passphrase_env)
    with _ledger(ctx) as ledger:
        e = sign_export(ledger, package, signer, person_id, log_signer, _archive(ctx).origin, now_ns=now_ns)
    if as_json:
        echo_json({"signoff": e.entry_hash, "idx": e.idx, "person": person_id, "role": e.body["role"]})
    else:
        click.echo(_("{person} signed off the package {out} as {role}; entry {entry}").format(
            person=person_id, out=printable(str(package)), role=_(e.body["role"]), entry=e.entry_hash))


@export.command("iso")
@click.argument("package", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "iso", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The ISO 9660 image to write (a new file).")
@signed_by(help="Archivist making the disc image.", what=N_("the archivist"))
@now_option
@json_option
@click.pass_context
def export_iso(ctx: click.Context, package: Path, iso: Path, person_id: str, key: KeyRef, now_ns: int | None,
               as_json: bool) -> None:
    """Make the ISO 9660 image of a package that verifies, for burning (A2 Art.16).

    Volume id from the case number, Joliet and Rock Ridge names; its SHA-256 goes into the ledger.
    """
    from archive.export.package import make_disc

    signer = key.load()
    with _ledger(ctx) as ledger:
        e, sha = make_disc(ledger, package, iso, signer, person_id, now_ns=now_ns)
    if as_json:
        echo_json({"iso": str(iso), "iso_sha256": sha, "entry": e.entry_hash, "volume_id": e.body["volume_id"]})
    else:
        _say_disc(iso, sha)


@export.command("burn")
@click.argument("iso", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", required=True, help="The optical drive, /dev/srN.")
def export_burn(iso: Path, device: str) -> None:
    """Burn a disc image with xorriso and check the burned medium against it (MD5 tags, SHA-256).

    A disc that does not verify must not be filed: exit 3.
    """
    from archive.export.iso import burn

    burn(iso, device)
    click.echo(_("{iso} burned to {device} and the medium verified").format(iso=printable(str(iso)),
                                                                           device=printable(device)))


@export.command("verify")
@click.argument("package", type=click.Path(exists=True, path_type=Path))
@json_option
@click.pass_context
def export_verify(ctx: click.Context, package: Path, as_json: bool) -> None:
    """Check an evidence package (a folder or its ISO image) offline: sums, signatures, proofs, chain.

    The same checks as the package's own verify.py, with our own Ed25519 and Merkle code; exit 3
    names each problem and its file. An image is extracted (osirrox) into a temporary folder first.
    """
    import tempfile

    from archive.export.check import verify_export

    if package.is_file():
        from archive.export.iso import extract_iso

        tmp = Path(ctx.with_resource(tempfile.TemporaryDirectory(prefix="bodycam-export-")))
        extract_iso(package, tmp / "package")
        package = tmp / "package"
    pkg, problems = verify_export(package)
    if as_json:
        echo_json({"ok": not problems, "problems": [{"file": p.file, "code": p.code, "text": p.text()}
                                                    for p in problems]})
    else:
        for p in problems:
            text = _(PROBLEMS[p.code]).format(**p.params)
            click.echo(_("FAILED {file}: {problem}").format(file=printable(p.file), problem=printable(text)))
        if problems:
            click.echo(_("{n} problem(s): the package does not verify").format(n=len(problems)), err=True)
        else:
            origin, size, _root = pkg.checkpoint or ("-", 0, b"")
            click.echo(_("OK: {items} original(s), {entries} ledger entries included in checkpoint {size} of "
                         "{origin}, {keys} key(s)").format(items=len((pkg.manifest or {}).get("items", [])),
                                                          entries=len(pkg.entries), size=size,
                                                          origin=printable(origin), keys=len(pkg.keys)))
    if problems:
        ctx.exit(3)


COMMAND = export
