"""``bodycam ledger …``: show, verify, checkpoint and prove a ledger file.

Everything a verifier needs works on the ledger file and public keys alone, without a bodycam.toml."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import click

from bodycam.cliutil import KeyRef, echo_json, json_option, signer_options
from bodycam.errors import BodycamError, FormatError, VerificationError
from bodycam.formats import check_nesting, human_bytes, local_time, printable
from bodycam.i18n import N_, _, tr
from bodycam.tables import width
from ledger import merkle
from ledger.checkpoint import verify_checkpoint, vkey
from ledger.keys import load_public_key
from ledger.store import Ledger
from ledger.verify import Problem, VerifyReport, verify_ledger

DB = click.Path(exists=True, dir_okay=False, path_type=Path)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _verdict(ok: bool) -> str:
    return _("OK") if ok else _("FAILED")


def _problem_line(p: Problem) -> str:
    """A problem as ``ledger verify`` prints it: where and what in the reader's language, the check's
    name as in ``--json`` (which keeps the English message)."""
    if p.idx is None:
        where = _("ledger")
    elif p.entry_hash:
        where = _("entry {idx} ({hash}…)").format(idx=p.idx, hash=p.entry_hash[:16])
    else:
        where = _("entry {idx}").format(idx=p.idx)
    return "  " + _("{where}: {check}: {message}").format(where=where, check=p.check, message=printable(tr(p.message)))


def _counts(report: VerifyReport) -> str:
    return _("{entries} entries, {signatures} signatures, {checkpoints} checkpoints").format(
        entries=report.entries_checked, signatures=report.signatures_checked, checkpoints=report.checkpoints_checked)



# --- ledger ----------------------------------------------------------------------------------------


@click.group("ledger")
def ledger() -> None:
    """The signed, append-only ledger: show, verify, checkpoints and proofs."""


def _open(db: Path) -> Ledger:
    return Ledger.open(db, create=False, readonly=True)


@ledger.command("show")
@click.argument("db", type=DB)
@click.option("--kind", help="Only entries of this kind (segment, gap, enrollment, ...).")
@click.option("--device", "device_id", help="Only entries about this device.")
@click.option("--start", default=0, show_default=True, help="First entry index.")
@click.option("--limit", type=int, help="At most this many entries.")
@json_option
def ledger_show(
    db: Path, kind: str | None, device_id: str | None, start: int, limit: int | None, as_json: bool
) -> None:
    """List entries (index, kind, hash, signers, body)."""
    out = []
    with _open(db) as lg:
        for n, e in enumerate(lg.entries(kind, start=start, device_id=device_id)):
            if limit is not None and n >= limit:
                break
            if as_json:
                out.append(
                    {
                        "idx": e.idx,
                        "kind": e.kind,
                        "entry_hash": e.entry_hash,
                        "received_ns": e.received_ns,
                        "keyids": e.envelope.keyids,
                        "body": e.body,
                    }
                )
            else:
                b = e.body
                about = printable(" ".join(
                    f"{k}={b[k]}" for k in ("subject_id", "device_id", "seq", "officer_id", "case_id") if k in b
                ))
                click.echo(f"{e.idx:>7}  {e.kind:<18} {e.entry_hash[:16]}  {local_time(e.received_ns)}  {about}")
        size = lg.size
    if as_json:
        echo_json({"size": size, "entries": out})


@ledger.command("verify")
@click.argument("db", type=DB)
@click.option(
    "--trust",
    "trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key file the ledger's root (entry 0) must be enrolled with.",
)
@click.option("--workers", type=int, help="Verification processes (default: one per CPU).")
@click.option("--origin", default=None, help="The log's checkpoint origin every checkpoint must name "
                                            "(default: that of its first checkpoint).")
@click.option("--checkpoint", "checkpoint_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A signed checkpoint note from outside the ledger (for a dock ledger: the last one the archive "
                   "acknowledged, from `sync status --json` or `archive dock list --json`); the ledger must still "
                   "hold the tree it signed. Repeatable.")
@json_option
def ledger_verify(db: Path, trust: Path | None, workers: int | None, origin: str | None,
                  checkpoint_files: tuple[Path, ...], as_json: bool) -> None:
    """Recompute every hash, signature, Merkle node and checkpoint. Exit 3 names each failing entry,
    or a given checkpoint the ledger no longer holds (it lost entries since)."""
    root = load_public_key(trust) if trust else None
    notes = [f.read_text(encoding="utf-8") for f in checkpoint_files]
    _warn_wal(db)
    with _open(db) as lg:
        report = verify_ledger(lg, root, workers=workers, origin=origin, checkpoints=notes)
    if as_json:
        d = report.to_json()
        d["problems"] = [
            {"idx": p.idx, "entry_hash": p.entry_hash, "check": p.check, "message": p.message} for p in report.problems
        ]
        echo_json(d)
    else:
        click.echo(_("{verdict}: {counts}, root {root} ({seconds:.2f} s)").format(
            verdict=_verdict(report.ok), counts=_counts(report), root=report.root, seconds=report.elapsed_s))
        for p in report.problems:
            click.echo(_problem_line(p))
    if not report.ok:
        named = sorted({p.idx for p in report.problems if p.idx is not None})
        if named:
            msg = _("{db}: {n} problem(s); entries {entries}. Do not trust this ledger; compare it with a copy and "
                    "the last signed checkpoint.")
        else:
            msg = _("{db}: {n} problem(s). Do not trust this ledger; compare it with a copy and the last signed "
                    "checkpoint.")
        raise VerificationError(msg.format(db=db, n=len(report.problems), entries=", ".join(map(str, named[:20]))))


def _warn_wal(db: Path) -> None:
    """On stderr: entries may sit in ``DB-wal`` that a copy of ``DB`` alone lacks (issue 12)."""
    wal = Path(f"{db}-wal")
    try:
        wal_size = wal.stat().st_size
    except OSError:
        return
    if wal_size:
        click.echo(_("warning: {wal} ({size}) sits beside {db}: entries may be in it that a copy of {name} alone "
                     "does not hold (a live ledger's newest entries are). This check reads both; to copy a ledger "
                     "in use, run `bodycam ledger backup {db} OUT`.").format(
            wal=wal, size=human_bytes(wal_size), db=db, name=db.name), err=True)


@ledger.command("backup")
@click.argument("db", type=DB)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workers", type=int, help="Verification processes (default: one per CPU).")
@json_option
def ledger_backup(db: Path, out: Path, workers: int | None, as_json: bool) -> None:
    """Copy a ledger, even one in use, with every entry (SQLite's online backup: entries still in
    its -wal too) to the new file OUT (mode 0600; never overwritten), then check the copy: it holds
    the source's tree and latest checkpoint and verifies in full. Exit 3 when it does not."""
    with _open(db) as lg:
        b = lg.backup(out)
    with _open(out) as copy:
        report = verify_ledger(copy, workers=workers)
    cp = b.checkpoint
    if as_json:
        echo_json({"source": str(db), "backup": str(out), "size": b.size, "root": b.root.hex(),
                   "checkpoint": {"size": cp.size, "root": cp.root.hex(), "origin": cp.origin} if cp else None,
                   "verify": report.to_json()})
    else:
        if cp:
            held = _("holds the source's latest checkpoint (size {size}, {origin})").format(
                size=cp.size, origin=printable(cp.origin))
        else:
            held = _("the source has no checkpoint to compare with")
        click.echo(_("{out}: {n} entries copied from {db}, root {root}…; {checkpoint}").format(
            out=out, n=b.size, db=db, root=b.root.hex()[:16], checkpoint=held))
        click.echo(_("{verdict}: {counts} verified ({seconds:.2f} s)").format(
            verdict=_verdict(report.ok), counts=_counts(report), seconds=report.elapsed_s))
        for p in report.problems:
            click.echo(_problem_line(p))
    if not report.ok:
        raise VerificationError(_("{out}: the copy does not verify ({n} problem(s)); it is a page-for-page copy, so "
                                  "check the source: `bodycam ledger verify {db}`").format(
            out=out, n=len(report.problems), db=db))


@ledger.command("checkpoint")
@click.argument("db", type=click.Path(dir_okay=False, path_type=Path))
@signer_options(what=N_("the ledger root or the archive log"))
@click.option("--origin", help="Checkpoint origin line (default: the log's own; for a first checkpoint "
                                "bodycam/<ledger root subject id>).")
@json_option
def ledger_checkpoint(db: Path, key: KeyRef, origin: str | None, as_json: bool) -> None:
    """Sign and store a checkpoint of the current tree; prints the signed note."""
    if not db.exists():
        raise BodycamError(_("{db}: no such ledger").format(db=db))
    signer = key.load()
    with Ledger.open(db, create=False) as lg:
        if origin is None:  # one log, one origin: the one it has, else a name from its root
            origin = lg.origin or (f"bodycam/{lg.get(0).body.get('subject_id', 'ledger')}" if lg.size
                                   else "bodycam/ledger")
        note = lg.checkpoint(signer, origin)
        size = lg.size
    if as_json:
        echo_json({"origin": origin, "size": size, "note": note, "vkey": vkey(origin, signer.public_key)})
    else:
        click.echo(note, nl=False)


@ledger.command("proof")
@click.argument("db", type=DB)
@click.option("--index", "index", required=True, type=int, help="Leaf (entry) index.")
@click.option("--size", "size", type=int, help="Tree size (default: current size).")
@json_option
def ledger_proof(db: Path, index: int, size: int | None, as_json: bool) -> None:
    """RFC 9162 inclusion proof of one entry (hashes base64)."""
    with _open(db) as lg:
        size = lg.size if size is None else size
        path = lg.inclusion_proof(index, size)
        root = lg.root(size)
        entry = lg.get(index)
    ok = merkle.verify_inclusion(entry.leaf_hash, index, size, path, root)
    if not ok:
        raise VerificationError(_("inclusion proof for entry {index} does not verify: run `bodycam ledger "
                                  "verify`").format(index=index))
    info = {
        "leaf_index": index,
        "tree_size": size,
        "entry_hash": entry.entry_hash,
        "leaf_hash": _b64(entry.leaf_hash),
        "root_hash": _b64(root),
        "inclusion_path": [_b64(p) for p in path],
        "verified": ok,
    }
    if as_json:
        echo_json(info)
    else:
        click.echo(json.dumps(info, indent=2))


@ledger.command("consistency")
@click.argument("db", type=DB)
@click.option("--old", "old", required=True, type=int, help="Earlier tree size.")
@click.option("--new", "new", type=int, help="Later tree size (default: current size).")
@json_option
def ledger_consistency(db: Path, old: int, new: int | None, as_json: bool) -> None:
    """RFC 9162 consistency proof between two tree sizes (hashes base64)."""
    with _open(db) as lg:
        new = lg.size if new is None else new
        if old > new:
            raise click.UsageError(_("--old {old} is larger than --new {new}").format(old=old, new=new))
        proof = lg.consistency_proof(old, new)
        old_root, new_root = lg.root(old), lg.root(new)
    ok = merkle.verify_consistency(old, new, old_root, new_root, proof)
    if not ok:
        raise VerificationError(_("consistency proof {old}→{new} does not verify: run `bodycam ledger "
                                  "verify`").format(old=old, new=new))
    info = {
        "tree_size_1": old,
        "tree_size_2": new,
        "first_hash": _b64(old_root),
        "second_hash": _b64(new_root),
        "consistency_path": [_b64(p) for p in proof],
        "verified": ok,
    }
    if as_json:
        echo_json(info)
    else:
        click.echo(json.dumps(info, indent=2))


@ledger.command("check-proof")
@click.argument("proof_file", metavar="PROOF.json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--envelope",
    "envelope_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The entry's envelope (canonical JSON); its leaf hash must be the proof's.",
)
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signed checkpoint note whose size and root the proof must match.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key that signed the checkpoint (required with --checkpoint).",
)
@json_option
def ledger_check_proof(
    proof_file: Path, envelope_file: Path | None, checkpoint_file: Path | None, key_file: Path | None, as_json: bool
) -> None:
    """Verify an inclusion proof offline, without the ledger: hashes, optionally the envelope and a
    signed checkpoint. Exit 3 if anything does not verify."""
    try:
        text = proof_file.read_text(encoding="utf-8")
        check_nesting(text, what="the proof")
        proof = json.loads(text)
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
        leaf = base64.b64decode(proof["leaf_hash"], validate=True)
        root = base64.b64decode(proof["root_hash"], validate=True)
        path = [base64.b64decode(p, validate=True) for p in proof["inclusion_path"]]
    except (OSError, ValueError, KeyError, TypeError, FormatError) as exc:
        raise BodycamError(_("{file}: not a proof from `bodycam ledger proof --json`: {error}").format(
            file=proof_file, error=tr(exc))) from None
    checks = {"inclusion": merkle.verify_inclusion(leaf, index, size, path, root)}
    if envelope_file is not None:
        checks["envelope"] = merkle.leaf_hash(envelope_file.read_bytes()) == leaf
    if checkpoint_file is not None:
        if key_file is None:
            raise click.UsageError(_("--checkpoint needs --key (the log's public key)"))
        try:
            cp = verify_checkpoint(checkpoint_file.read_text(encoding="utf-8"), load_public_key(key_file))
            checks["checkpoint"] = cp.size == size and cp.root == root
        except VerificationError:
            checks["checkpoint"] = False
    ok = all(checks.values())
    if as_json:
        echo_json({"ok": ok, "leaf_index": index, "tree_size": size, "checks": checks})
    else:
        wide = max(11, *(width(_(_CHECKS[name])) for name in checks))
        for name, good in checks.items():
            label = _(_CHECKS[name])
            click.echo(f"{label}{' ' * (wide - width(label))} {_verdict(good)}")
    if not ok:
        failed = ", ".join(_(_CHECKS[k]) for k, v in checks.items() if not v)
        raise VerificationError(_("{file}: {failed} does not verify; the entry is not proven to be in the log").format(
            file=proof_file, failed=failed))


# The checks of ``check-proof`` (their names are --json's keys), in words.
_CHECKS = {"inclusion": N_("inclusion"), "envelope": N_("envelope"), "checkpoint": N_("checkpoint")}


COMMAND = ledger
