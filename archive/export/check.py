"""``bodycam export verify``: the package's checks (``verify_package``, the same rules ``verify.py``
runs) with our own Ed25519 code instead of `openssl`, plus what only the ledger's own parsers can
say: every entry is the one canonical envelope encoding of a record of its kind's exact shape, and
the checkpoint verifies with ``ledger.checkpoint`` and every proof with ``ledger.merkle``.

Two implementations of the signature and proof arithmetic (this one, and `openssl` under
``verify.py``) checking the same package is the point: an examiner does not have to trust either.
"""

from __future__ import annotations

from pathlib import Path

from archive.export import verify_package as vp
from bodycam.errors import BodycamError
from ledger.checkpoint import parse_vkey, verify_checkpoint
from ledger.envelope import Envelope, body
from ledger.keys import PublicKey
from ledger.merkle import verify_inclusion
from ledger.records import validate_body


def _ed25519(pem_path: str, sig: bytes, data: bytes) -> bool:
    try:
        return PublicKey.from_pem(Path(pem_path).read_bytes()).verify(sig, data)
    except (OSError, BodycamError):
        return False


def verify_export(root: Path) -> tuple[vp.Package, list[vp.Problem]]:
    pkg = vp.Package(str(root), verify=_ed25519)
    problems = pkg.check()
    for e in pkg.entries:
        rel = vp.entry_file(e["idx"])
        try:
            validate_body(body(Envelope.from_bytes(e["bytes"])))
        except BodycamError as exc:
            problems.append(vp.Problem(rel, "record", detail=str(exc)[:200]))
    if pkg.checkpoint is not None and not any(p.file in (vp.CHECKPOINT_NOTE, vp.VKEY) for p in problems):
        try:
            name, pub = parse_vkey((root / vp.VKEY).read_text("utf-8"))
            cp = verify_checkpoint((root / vp.CHECKPOINT_NOTE).read_text("utf-8"), pub, name)
        except (OSError, BodycamError) as exc:
            problems.append(vp.Problem(vp.CHECKPOINT_NOTE, "record", detail=str(exc)[:200]))
        else:
            import json

            for e in pkg.entries:
                rel = vp.proof_file(e["idx"])
                try:
                    proof = json.loads((root / rel).read_text("ascii"))
                    ok = verify_inclusion(bytes.fromhex(proof["leaf_hash"]), e["idx"], cp.size,
                                          [bytes.fromhex(h) for h in proof["path"]], cp.root)
                except (OSError, ValueError, KeyError, TypeError):
                    ok = False
                if not ok and not any(p.file == rel for p in problems):
                    problems.append(vp.Problem(rel, "proof"))
    return pkg, problems
