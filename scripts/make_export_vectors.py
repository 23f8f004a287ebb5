#!/usr/bin/env python3
"""Regenerate the export test vectors in tests/vectors/export/ (issue 14).

    .venv/bin/python scripts/make_export_vectors.py

``good/`` is a complete evidence package (two tiny H.264 originals, signed off by a supervisor)
made by a throw-away archive through the installed ``bodycam`` command; ``tampered/<name>/`` holds
only what one systematic tampering changes (the files it overwrites, and ``tamper.json``: the files
it removes, what was done, and the failure a verifier must name). ``tests/archive/export/
test_export_vectors.py`` lays each over a copy of ``good/`` and runs ``verify.py`` on it. The keys
are new on every run, so a regeneration changes every file; commit the result as a whole.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.export import verify_package as vp  # noqa: E402
from ledger.checkpoint import Checkpoint, sign_checkpoint, vkey  # noqa: E402
from ledger.keys import Signer  # noqa: E402
from tests.archive.export.world import ExportArchive  # noqa: E402

OUT = ROOT / "tests" / "vectors" / "export"


def _rows(pkg: Path) -> list[dict]:
    return [json.loads(line) for line in (pkg / vp.ENTRIES).read_text("ascii").splitlines()]


def flipped_byte(pkg: Path, over: Path) -> dict:
    rel = "originals/cam-1/VID_0000.MP4"
    data = bytearray((pkg / rel).read_bytes())
    data[len(data) // 2] ^= 0x01
    _put(over, rel, bytes(data))
    return {"what": "one bit of an original flipped", "expect": [
        {"file": rel, "says": "SHA256 does not match SHA256SUMS"},
        {"file": rel, "says": "SHA-256 is not the one its segment entry signs"}]}


def swapped_signature(pkg: Path, over: Path) -> dict:
    segs = [r for r in _rows(pkg) if r["kind"] == "segment"]
    a, b = segs[0], segs[1]
    env = dict(a["envelope"])
    env["signatures"] = b["envelope"]["signatures"]  # the same recorder key's signature over another segment
    rel = vp.entry_file(a["idx"])
    _put(over, rel, json.dumps(env, sort_keys=True, separators=(",", ":")).encode("ascii"))
    return {"what": "a segment envelope carrying the signature of another segment by the same key", "expect": [
        {"file": rel, "says": "does not verify"}]}


def truncated_proof(pkg: Path, over: Path) -> dict:
    seg = next(r for r in _rows(pkg) if r["kind"] == "segment")
    rel = vp.proof_file(seg["idx"])
    proof = json.loads((pkg / rel).read_text("ascii"))
    proof["path"] = proof["path"][:-1]
    proof["sides"] = proof["sides"][:-1]
    _put(over, rel, (json.dumps(proof, indent=2) + "\n").encode("ascii"))
    return {"what": "an inclusion proof with its last hash cut off", "expect": [
        {"file": rel, "says": "inclusion proof does not lead to the checkpoint's root"}]}


def other_origin(pkg: Path, over: Path) -> dict:
    """A checkpoint of the same tree, signed by another log under another origin, with that log's
    verifier key beside it: consistent in itself, but not the archive the manifest names."""
    text = (pkg / vp.CHECKPOINT_TEXT).read_text("utf-8")
    cp = Checkpoint.from_text(text)
    other = Signer.generate()
    origin = "evil.example/archive"
    note = sign_checkpoint(Checkpoint(origin, cp.size, cp.root), other, origin)
    _put(over, vp.CHECKPOINT_NOTE, note.encode("utf-8"))
    _put(over, vp.VKEY, (vkey(origin, other.public_key) + "\n").encode("ascii"))
    new_text = note[: note.rfind("\n\n") + 1]
    _put(over, vp.CHECKPOINT_TEXT, new_text.encode("utf-8"))
    blob = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])
    _put(over, vp.CHECKPOINT_SIG, blob[4:])
    return {"what": "the checkpoint replaced by one of another origin, signed by that log's key", "expect": [
        {"file": vp.CHECKPOINT_NOTE, "says": "checkpoint origin 'evil.example/archive' is not the archive's"},
        {"file": vp.VKEY, "says": "not the archive log key the manifest names"}]}


def missing_file(pkg: Path, over: Path) -> dict:
    rel = "originals/cam-1/VID_0001.MP4"
    return {"what": "an original removed", "remove": [rel], "expect": [
        {"file": rel, "says": "listed in SHA256SUMS but missing"}, {"file": rel, "says": "missing"}]}


TAMPERINGS = (flipped_byte, swapped_signature, truncated_proof, other_origin, missing_file)


def _put(over: Path, rel: str, data: bytes) -> None:
    path = over.joinpath(*rel.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bodycam-vectors-") as tmp:
        world = ExportArchive(Path(tmp) / "archive")
        req = world.request("--case", "case-1")
        world.approve(req)
        pkg = Path(tmp) / "pkg"
        for args in (("create",), ("sign",)):
            res = (world.create(pkg, req) if args == ("create",) else
                   world.run("export", "sign", str(pkg), "--person", "sup-1", "--key", str(world.keys["sup-1"])))
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                return 1
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(pkg, OUT / "good")
        for tamper in TAMPERINGS:
            over = OUT / "tampered" / tamper.__name__
            over.mkdir(parents=True)
            spec = tamper(OUT / "good", over)
            spec.setdefault("remove", [])
            (over / "tamper.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", "utf-8")
    for path in OUT.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    print(f"wrote {OUT.relative_to(ROOT)}: good/ and {len(TAMPERINGS)} tamperings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
