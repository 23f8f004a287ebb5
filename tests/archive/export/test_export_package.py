"""The evidence package (issue 14, A2 Art.16–17; 行政诉讼证据规定 Art.12; 民事诉讼证据规定 Art.93–94):
made only for an approved request and logged; it verifies three independent ways — ``bodycam
export verify``, its own ``verify.py`` under a bare ``python3 -I`` (no venv), and the commands of
``VERIFY.txt`` run literally with sha256sum and openssl — and altering any one file makes all three
fail, each naming the file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.export.instructions import EN, ZH, commands
from bodycam.formats import rfc3339
from ledger.verify import verify_ledger
from tests.archive.export.world import T0, ExportArchive, make_package
from tests.fixtures.sync import BODYCAM

SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[ExportArchive, Path]:
    root = tmp_path_factory.mktemp("export")
    world = make_package(root / "archive", root / "pkg")
    return world, root / "pkg"


def run_verify_py(pkg: Path, cwd: Path) -> subprocess.CompletedProcess:
    """verify.py as an examiner runs it: the system interpreter, isolated (-I: no site-packages, no
    PYTHONPATH, no venv), from another folder."""
    return subprocess.run([SYSTEM_PYTHON, "-I", str(pkg / "verify.py")], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin"})


def run_export_verify(pkg: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BODYCAM, "export", "verify", str(pkg)], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C"})


def run_instructions(pkg: Path, name: str = EN) -> subprocess.CompletedProcess:
    """Every command of VERIFY.txt, as written, one after another in a POSIX shell in the package."""
    script = "\n".join(commands((pkg / name).read_text("utf-8"))) + "\n"
    return subprocess.run(["sh", "-e", "-c", script], cwd=pkg, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C"})


def test_a2_art16_package_verifies_with_export_verify_verify_py_and_verify_txt(made, tmp_path):
    world, pkg = made
    res = run_export_verify(pkg)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK: 2 original(s)" in res.stdout
    res = run_verify_py(pkg, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK: 2 original(s)" in res.stdout
    res = run_instructions(pkg)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Signature Verified Successfully" in res.stdout and ": OK" in res.stdout
    # the Chinese instructions hold the same commands
    assert commands((pkg / ZH).read_text("utf-8")) == commands((pkg / EN).read_text("utf-8"))
    assert "核验" in (pkg / ZH).read_text("utf-8")
    with world.ledger() as lg:
        report = verify_ledger(lg)
    assert report.ok, report.problems


def test_a2_art16_originals_are_bit_exact_with_sums_in_every_form(made):
    world, pkg = made
    lines = (pkg / "SHA256SUMS").read_text().splitlines()
    names = {line.split("  ", 1)[1] for line in lines}
    for seg in world.segments[:2]:
        seq = world.segments.index(seg)
        assert (pkg / "originals" / "cam-1" / f"VID_{seq:04d}.MP4").read_bytes() == world.blobs[seg]
    assert "manifest.json" in names and "verify.py" in names and "SHA256SUMS" not in names
    assert len((pkg / "SM3SUMS").read_text().splitlines()) == len(lines)
    assert len((pkg / "MD5SUMS").read_text().splitlines()) == len(lines)
    # the case-2 segment is not exported
    assert not (pkg / "originals" / "cam-1" / "VID_0002.MP4").exists()


def test_a2_art16_and_evidence_rules_art12_fields_in_the_manifest(made):
    world, pkg = made
    m = json.loads((pkg / "manifest.json").read_text("utf-8"))
    assert m["case"]["case_id"] == "case-1"
    item = m["items"][0]
    assert item["camera_operator"] == {"id": "off-7", "name": "李明", "certificate_no": "执法证 4201-0007",
                                       "unit": "执法支队", "valid_from": rfc3339(T0 - 10**18),
                                       "valid_until": rfc3339(T0 + 10**18)}  # A2 Art.14: valid certificate
    approver = m["request"]["approved_by"]
    assert approver["valid_from"] is None and approver["valid_until"] is None  # a head has no certificate
    assert {o["id"] for o in item["officers"]} == {"off-7", "off-8"}
    assert item["place"] == "某化工厂排污口"
    assert item["device"]["serial"] == "ZFY0001" and item["device"]["profile"] == "zfy-e12-gat947"
    assert item["calibration"]["offset_us"] == 20 and item["device_start"] and item["start"] and item["end"]
    assert (item["container"], item["codec"], item["size"]) == ("mp4", "h264", len(world.blobs[world.segments[0]]))
    assert item["seq"] == 0 and item["prev"] and item["sha256"] and item["sm3"] and item["md5"]
    production = m["production"]  # 行政诉讼证据规定 Art.12: 制作方法, 制作时间, 制作人, 证明对象
    assert "never transcoded" in production["method"] and production["made_at"]
    assert production["made_by"]["id"] == "arch-1" and production["proves"] == "排污口偷排废水的事实"
    assert item["proves"] == "排污口偷排废水的事实"
    assert m["request"]["approved_by"]["id"] == "head-1"


def test_a2_art18_every_exported_segment_is_logged_with_purpose_export(made):
    world, _pkg = made
    rows = [r for r in world.access_log() if r["outcome"] == "viewed"]
    assert {r["segment"] for r in rows} == set(world.segments[:2])
    with world.ledger() as lg:
        purposes = [e.body.get("purpose") for e in lg.entries(kind="access")]
        [export] = list(lg.entries(kind="export"))
    assert purposes == ["export", "export"]
    assert export.body["segments"] == world.segments[:2] and export.body["by"] == "arch-1"


def _flip(path: Path, offset: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _manifest_field(pkg: Path) -> str:
    text = (pkg / "manifest.json").read_text("utf-8")
    (pkg / "manifest.json").write_text(text.replace("某化工厂排污口", "某化工厂排污囗"), "utf-8")
    return "manifest.json"


def _envelope(pkg: Path) -> str:
    rows = [json.loads(line) for line in (pkg / "ledger/entries.jsonl").read_text().splitlines()]
    seg = next(r for r in rows if r["kind"] == "segment")
    rel = f"ledger/entries/{seg['idx']:08d}.json"
    text = (pkg / rel).read_text()
    sig = seg["envelope"]["signatures"][0]["sig"]
    (pkg / rel).write_text(text.replace(sig, sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]))
    return rel


def _proof(pkg: Path) -> str:
    rel = sorted(p.relative_to(pkg).as_posix() for p in (pkg / "ledger/proofs").rglob("*.bin"))[3]
    _flip(pkg / rel, 5)
    return rel


def _key(pkg: Path) -> str:
    keys = sorted((pkg / "keys").glob("*.pem"))
    keys[0].write_bytes(keys[1].read_bytes())
    return keys[0].relative_to(pkg).as_posix()


def _media(pkg: Path) -> str:
    _flip(pkg / "originals/cam-1/VID_0001.MP4", 200)
    return "originals/cam-1/VID_0001.MP4"


@pytest.mark.parametrize("tamper", [_media, _manifest_field, _envelope, _proof, _key],
                         ids=["media_byte", "manifest_field", "envelope", "proof", "key"])
def test_a2_art16_altering_any_one_file_fails_all_three_verifiers_naming_it(made, tmp_path, tamper):
    _world, good = made
    pkg = tmp_path / "pkg"
    shutil.copytree(good, pkg)
    rel = tamper(pkg)
    res = run_export_verify(pkg)
    assert res.returncode == 3 and f"FAILED {rel}:" in res.stdout, res.stdout + res.stderr
    res = run_verify_py(pkg, tmp_path)
    assert res.returncode == 3 and f"FAILED {rel}:" in res.stdout, res.stdout + res.stderr
    res = run_instructions(pkg)
    assert res.returncode != 0 and f"{rel}: FAILED" in res.stdout, res.stdout + res.stderr


def test_a2_art16_a_consistent_forgery_with_new_sums_is_still_caught(made, tmp_path):
    """Whoever alters a manifest field and rewrites every sums file still fails: the log key's
    signature and the export entry's manifest hash do not follow."""
    _world, good = made
    pkg = tmp_path / "pkg"
    shutil.copytree(good, pkg)
    _manifest_field(pkg)
    from archive.export.package import write_sums

    write_sums(pkg)
    for res in (run_export_verify(pkg), run_verify_py(pkg, tmp_path)):
        assert res.returncode == 3, res.stdout
        assert "FAILED manifest.json: differs from the payload of manifest.dsse.json" in res.stdout
        assert "no export entry in ledger/ names this manifest" in res.stdout
    res = run_instructions(pkg)
    assert res.returncode != 0, res.stdout


def test_a2_art17_export_without_approval_exits_3_and_is_logged_as_refused(tmp_path):
    world = ExportArchive(tmp_path / "archive", segments=1)
    req = world.request("--case", "case-1")
    out = tmp_path / "pkg"
    res = world.create(out, req)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "not approved by the bureau head" in res.stderr
    assert not out.exists() or not any(out.iterdir())
    [row] = world.access_log()
    assert row["outcome"] == "refused" and row["segment"] == world.segments[0]
    with world.ledger() as lg:
        assert [e.body.get("purpose") for e in lg.entries(kind="access")] == ["export"]
        assert not list(lg.entries(kind="export"))
    # a request for another case does not cover this one's footage either
    other = world.request("--case", "case-2")
    world.approve(other)
    res = world.create(out, other)
    assert res.returncode == 3 and "does not cover this segment" in res.stderr
    # nor does an approved case-1 request cover a segment of case-2 named explicitly
    req1 = world.request("--case", "case-1")
    world.approve(req1)
    res = world.create(out, req1, "--segments", world.segments[1])
    assert res.returncode == 3, res.stderr
    assert len([r for r in world.access_log() if r["outcome"] == "refused"]) == 3
    with world.ledger() as lg:
        report = verify_ledger(lg)
    assert report.ok, report.problems


def test_a2_art16_originals_kept_in_recorder_folders_keep_their_path_and_verify(tmp_path):
    """Recorders name footage DCIM/100ZFY/…: the package keeps the folders under originals/<recorder>/."""
    world = ExportArchive(tmp_path / "archive", segments=1, folder="DCIM/100ZFY/")
    req = world.request("--case", "case-1")
    world.approve(req)
    pkg = tmp_path / "pkg"
    res = world.create(pkg, req)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (pkg / "originals" / "cam-1" / "DCIM" / "100ZFY" / "VID_0000.MP4").read_bytes() == \
        world.blobs[world.segments[0]]
    for res in (run_export_verify(pkg), run_verify_py(pkg, tmp_path)):
        assert res.returncode == 0, res.stdout + res.stderr
    # every folder of the package, the recorder's included, is the archive user's alone
    assert {p.stat().st_mode & 0o777 for p in [pkg, *pkg.rglob("*")] if p.is_dir()} == {0o700}


@pytest.mark.parametrize("folder", ["../", "DCIM/../../", "/abs/", "DCIM//", "a/b/c/d/e/f/g/h/"])
def test_a2_art16_an_original_name_that_climbs_out_or_is_too_deep_is_refused(tmp_path, folder):
    world = ExportArchive(tmp_path / "archive", segments=1, folder=folder)
    req = world.request("--case", "case-1")
    world.approve(req)
    pkg = tmp_path / "pkg"
    res = world.create(pkg, req)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "cannot be a file name" in res.stderr
    assert not pkg.exists() or not any(pkg.rglob("*.MP4"))
    assert not (tmp_path / "VID_0000.MP4").exists()


def test_export_refuses_to_write_into_a_folder_that_holds_files(made, tmp_path):
    world, _pkg = made
    out = tmp_path / "full"
    out.mkdir()
    (out / "x").write_text("keep me")
    with world.ledger() as lg:
        req = next(lg.entries(kind="access_request")).entry_hash
    res = world.create(out, req)
    assert res.returncode != 0 and "not an empty folder" in res.stderr
    assert (out / "x").read_text() == "keep me"


def test_a2_art17_ledger_verify_refuses_an_export_by_an_officer_or_of_an_unknown_request(tmp_path):
    from ledger.envelope import seal
    from ledger.keys import load_signer
    from ledger.records.export import Export

    world = ExportArchive(tmp_path / "archive", segments=1)
    req = world.request("--case", "case-1")
    with world.ledger() as lg:
        officer = load_signer(world.keys["off-7"])
        lg.append(seal(Export(case_id="case-1", request=req, segments=[world.segments[0]], manifest_sha256="0" * 64,
                              by="off-7", exported_ns=0), officer), require_trusted=True)
        arch = load_signer(world.keys["arch-1"])
        lg.append(seal(Export(case_id="case-1", request="1" * 64, segments=["2" * 64], manifest_sha256="0" * 64,
                              by="arch-1", exported_ns=0), arch), require_trusted=True)
        report = verify_ledger(lg)
    text = "\n".join(str(p) for p in report.problems)
    assert not report.ok
    assert "export signature" in text and "off-7 is enrolled as officer" in text
    assert "refers to access request 1111111111111111, which no earlier entry is" in text
    assert "export names segment 2222222222222222…, which no earlier entry is" in text


def test_evidence_rules_art12_what_the_footage_proves_is_required_per_item(tmp_path):
    world = ExportArchive(tmp_path / "archive")
    req = world.request("--case", "case-1")
    world.approve(req)
    base = ["export", "create", "--case", "case-1", "--request", req, "--by", "arch-1", "--key",
            str(world.keys["arch-1"])]
    res = world.run(*base, "--out", str(tmp_path / "a"), "--proves-for", f"{world.segments[0][:12]}=排污")
    assert res.returncode == 3 and "say what the footage proves" in res.stderr, res.stderr
    assert world.access_log() == []  # refused before anything is decided or logged
    res = world.run(*base, "--out", str(tmp_path / "b"), "--proves-for", f"{world.segments[0][:12]}=排污",
                    "--proves-for", f"{world.segments[1]}=停产")
    assert res.returncode == 0, res.stderr
    items = json.loads((tmp_path / "b" / "manifest.json").read_text("utf-8"))["items"]
    assert [i["proves"] for i in items] == ["排污", "停产"]
