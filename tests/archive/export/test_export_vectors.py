"""The committed export test vectors (issue 14; regenerate with scripts/make_export_vectors.py):
the good package verifies, and each systematic tampering (flipped byte, swapped signature,
truncated proof, checkpoint of another origin, missing file) makes ``verify.py`` — the one in the
vector and the current ``archive/export/verify_package.py`` — exit 3 naming the file and the
failure, run by the system's bare ``python3 -I``. A2 Art.16; 民事诉讼证据规定 Art.93–94."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors" / "export"
CURRENT = ROOT / "archive" / "export" / "verify_package.py"
TAMPERINGS = sorted(p.name for p in (VECTORS / "tampered").iterdir())


def verify(script: Path, pkg: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/usr/bin/python3", "-I", str(script), str(pkg)], capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin"}, cwd=pkg.parent)


def test_the_five_tamperings_the_issue_names_are_shipped():
    assert TAMPERINGS == ["flipped_byte", "missing_file", "other_origin", "swapped_signature", "truncated_proof"]


@pytest.mark.parametrize("script", ["shipped", "current"])
def test_a2_art16_the_good_vector_verifies(script):
    res = verify(VECTORS / "good" / "verify.py" if script == "shipped" else CURRENT, VECTORS / "good")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("OK: 2 original(s)")


@pytest.mark.parametrize("name", TAMPERINGS)
@pytest.mark.parametrize("script", ["shipped", "current"])
def test_a2_art16_each_tampered_vector_fails_naming_the_file(tmp_path, name, script):
    over = VECTORS / "tampered" / name
    spec = json.loads((over / "tamper.json").read_text("utf-8"))
    pkg = tmp_path / "pkg"
    shutil.copytree(VECTORS / "good", pkg)
    for path in over.rglob("*"):
        if path.is_file() and path.name != "tamper.json":
            dest = pkg / path.relative_to(over)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    for rel in spec["remove"]:
        (pkg / rel).unlink()
    res = verify(pkg / "verify.py" if script == "shipped" else CURRENT, pkg)
    assert res.returncode == 3, res.stdout + res.stderr
    for want in spec["expect"]:
        lines = [line for line in res.stdout.splitlines() if line.startswith(f"FAILED {want['file']}: ")]
        assert any(want["says"] in line for line in lines), (want, res.stdout)
