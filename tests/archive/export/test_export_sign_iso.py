"""Sign-offs, the disc image and the custody record of an export (issue 14 items 1–4, A2 Art.16:
burned to disc with the officers' and the supervisor's signatures; 民事诉讼证据规定 Art.93–94: an
unbroken custody record). Sign-offs are checked by all three verifiers; the ISO, extracted,
verifies the same way; the custody PDF names the case, the officers and every view."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.export.iso import extract_iso, sha256_file
from ledger.verify import verify_ledger
from tests.archive.export.test_export_package import run_export_verify, run_instructions, run_verify_py
from tests.archive.export.world import ExportArchive


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[ExportArchive, Path, Path]:
    root = tmp_path_factory.mktemp("signed")
    world = ExportArchive(root / "archive")
    req = world.request("--case", "case-1")
    world.approve(req)
    pkg = root / "pkg"
    res = world.create(pkg, req)
    assert res.returncode == 0, res.stderr
    for pid in ("sup-1", "off-7"):
        res = world.run("export", "sign", str(pkg), "--person", pid, "--key", str(world.keys[pid]))
        assert res.returncode == 0, res.stderr
    iso = root / "case-1.iso"
    res = world.run("export", "iso", str(pkg), "--out", str(iso), "--by", "arch-1", "--key", str(world.keys["arch-1"]),
                    "--json")
    assert res.returncode == 0, res.stderr
    return world, pkg, iso


def test_a2_art16_signoffs_of_the_supervisor_and_an_officer_verify_three_ways(signed, tmp_path):
    world, pkg, _iso = signed
    assert sorted(p.name for p in (pkg / "signatures").iterdir()) == [
        "off-7.dsse.json", "off-7.sig", "sup-1.dsse.json", "sup-1.sig"]
    for res in (run_export_verify(pkg), run_verify_py(pkg, tmp_path)):
        assert res.returncode == 0, res.stdout + res.stderr
    res = run_instructions(pkg)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "signatures/sup-1.sig" in (pkg / "VERIFY.txt").read_text()
    with world.ledger() as lg:
        signoffs = [(e.body["person_id"], e.body["role"]) for e in lg.entries(kind="export_signoff")]
        assert verify_ledger(lg).ok
    assert signoffs == [("sup-1", "supervisor"), ("off-7", "officer")]
    rows = [json.loads(line) for line in (pkg / "custody.jsonl").read_text("utf-8").splitlines()]
    assert sorted(r["who"] for r in rows if r["kind"] == "sign") == ["off-7", "sup-1"]  # both at the injected --now


def test_a2_art16_only_a_supervisor_officer_or_head_signs_off_and_only_once(signed, tmp_path):
    world, good, _iso = signed
    pkg = tmp_path / "pkg"
    shutil.copytree(good, pkg)
    res = world.run("export", "sign", str(pkg), "--person", "arch-1", "--key", str(world.keys["arch-1"]))
    assert res.returncode == 3 and "arch-1 is enrolled as archivist" in res.stderr
    res = world.run("export", "sign", str(pkg), "--person", "sup-1", "--key", str(world.keys["sup-1"]))
    assert res.returncode == 3 and "sup-1 has already signed this package" in res.stderr
    res = world.run("export", "sign", str(pkg), "--person", "off-8", "--key", str(world.keys["off-7"]))
    assert res.returncode == 3 and "enrolled for 'off-7', not 'off-8'" in res.stderr


def test_a2_art16_a_swapped_signoff_signature_fails_all_three_naming_the_file(signed, tmp_path):
    _world, good, _iso = signed
    pkg = tmp_path / "pkg"
    shutil.copytree(good, pkg)
    sup = json.loads((pkg / "signatures/sup-1.dsse.json").read_text())
    off = json.loads((pkg / "signatures/off-7.dsse.json").read_text())
    sup["signatures"][0]["sig"] = off["signatures"][0]["sig"]
    (pkg / "signatures/sup-1.dsse.json").write_text(json.dumps(sup, indent=2, sort_keys=True) + "\n")
    for res in (run_export_verify(pkg), run_verify_py(pkg, tmp_path)):
        assert res.returncode == 3 and "FAILED signatures/sup-1.dsse.json:" in res.stdout, res.stdout
        assert "does not verify" in res.stdout
    res = run_instructions(pkg)
    assert res.returncode != 0 and "signatures/sup-1.dsse.json: FAILED" in res.stdout


def test_a2_art16_the_iso_image_is_logged_and_extracted_verifies_the_same_way(signed, tmp_path):
    world, _pkg, iso = signed
    with world.ledger() as lg:
        [entry] = list(lg.entries(kind="export_iso"))
        [export] = list(lg.entries(kind="export"))
    assert entry.body["iso_sha256"] == sha256_file(iso) and entry.body["export"] == export.entry_hash
    assert iso.stat().st_mode & 0o777 == 0o600  # it holds the footage: the archive's user only
    assert entry.body["volume_id"] == "CASE_1"
    res = run_export_verify(iso)
    assert res.returncode == 0, res.stdout + res.stderr
    out = tmp_path / "disc"
    extract_iso(iso, out)
    assert (out / "核验说明.txt").is_file()
    res = run_verify_py(out, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run_instructions(out)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a2_art16_a_flipped_byte_in_the_image_fails_export_verify_naming_the_original(signed, tmp_path):
    world, _pkg, iso = signed
    data = bytearray(iso.read_bytes())
    original = world.blobs[world.segments[1]]
    at = bytes(data).find(original)
    assert at > 0
    data[at + 100] ^= 0xFF
    bad = tmp_path / "bad.iso"
    bad.write_bytes(bytes(data))
    res = run_export_verify(bad)
    assert res.returncode == 3 and "FAILED originals/cam-1/VID_0001.MP4:" in res.stdout, res.stdout + res.stderr


def test_a2_art16_custody_pdf_names_the_case_the_officers_and_every_view(signed):
    world, pkg, _iso = signed
    text = subprocess.run(["pdftotext", "-layout", str(pkg / "custody.pdf"), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert "case-1" in text and "李明" in text and "张华" in text and "刻录登记表" in text
    flat = "".join(text.split())
    assert "行政处罚" in flat and "penalty" not in flat  # the case type as Chinese documents name it
    assert "1994-03-24至2057-08-08" in flat  # each officer's certificate validity (A2 Art.14), local days
    with world.ledger() as lg:
        accesses = [e.entry_hash for e in lg.entries(kind="access")]
    assert accesses and all(h[:12] in flat for h in accesses)
    manifest_sha = subprocess.run(["sha256sum", str(pkg / "manifest.json")], capture_output=True, text=True,
                                  check=True).stdout[:64]
    assert manifest_sha in flat
    rows = [json.loads(line) for line in (pkg / "custody.jsonl").read_text("utf-8").splitlines()]
    assert {r["entry_hash"] for r in rows if r["kind"] == "copy"} == set(accesses)


def test_a2_art16_export_create_with_iso_writes_and_logs_the_image(tmp_path):
    world = ExportArchive(tmp_path / "archive", segments=1)
    req = world.request("--case", "case-1")
    world.approve(req)
    iso = tmp_path / "disc.iso"
    res = world.create(tmp_path / "pkg", req, "--iso", str(iso), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["iso_sha256"] == sha256_file(iso)
    with world.ledger() as lg:
        assert [e.body["iso_sha256"] for e in lg.entries(kind="export_iso")] == [out["iso_sha256"]]
    assert run_export_verify(iso).returncode == 0
