"""The evidence disc (A2 Art.16): a real ISO 9660 image made and read back by Debian's xorriso,
Chinese names intact in both Joliet and Rock Ridge, reproducible, and burned with an MD5 check
that a single flipped byte on the medium fails. There is no burner here: the burn is written to
an xorriso ``stdio:`` pseudo-drive (a regular file), the same code path past the device check."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from archive.export import iso
from bodycam.errors import BodycamError, RefusedError, VerificationError

FILES = {
    "核验说明.txt": "按步骤核验：sha256sum -c SHA256SUMS\n".encode(),
    "VERIFY.txt": b"sha256sum -c SHA256SUMS\n",
    "originals/DEV-0001/执法记录_20261202_083000.mp4": os.urandom(70_000),
    "originals/DEV-0001/执法记录_20261202_090000.mp4": os.urandom(3_000),
    "originals/设备-二号/REC0001.MP4": os.urandom(5_000),
    "ledger/entries.jsonl": b'{"seq": 1}\n',
    "ledger/keys/深层/目录/名称很长的一个文件名称用于检查长名称是否完整保留在光盘上.pem": b"-----BEGIN KEY-----\n",
}


def write_tree(root: Path, files: dict[str, bytes], order=None) -> Path:
    root.mkdir()
    for name in order or files:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(files[name])
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def xorriso_listing(image: Path, *read_fs: str) -> dict[str, str]:
    """Path → ls -l mode column, as xorriso reads the tree (Rock Ridge by default; ``norock``: Joliet)."""
    args = ["xorriso", "-no_rc", *(("-read_fs", read_fs[0]) if read_fs else ()), "-indev", str(image),
            "-find", "/", "-exec", "lsdl", "--"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        mode, _, rest = line.partition(" ")
        rows[rest[rest.index("'") + 1:-1]] = mode
    return rows


def joliet_escape(image: Path) -> bytes | None:
    """The UCS-2 escape sequence of the Joliet supplementary volume descriptor, read from the image's
    bytes (ECMA-119 §8.5): independent of xorriso."""
    data = image.read_bytes()
    for sector in range(16, 32):
        vd = data[sector * 2048:(sector + 1) * 2048]
        if vd[1:6] != b"CD001" or vd[0] == 255:
            break
        if vd[0] == 2 and vd[88:91] in (b"%/@", b"%/C", b"%/E"):
            return vd[88:91]
    return None


@pytest.fixture
def package(tmp_path) -> Path:
    return write_tree(tmp_path / "package", FILES)


def test_a2_art16_image_keeps_chinese_names_in_joliet_and_rock_ridge(package, tmp_path):
    image = tmp_path / "HB-2026-001.iso"
    digest = iso.make_iso(package, image, "HB_2026_001")
    assert digest == hashlib.sha256(image.read_bytes()).hexdigest()
    wanted = {"/" + name for name in FILES}
    rock_ridge = xorriso_listing(image)
    joliet = xorriso_listing(image, "norock")
    assert wanted <= set(rock_ridge), sorted(rock_ridge)
    assert wanted <= set(joliet), sorted(joliet)
    assert "/originals/设备-二号" in rock_ridge and "/originals/设备-二号" in joliet
    assert {rock_ridge[p] for p in wanted} == {"-r--r--r--"}  # Rock Ridge modes: read-only, as on a disc
    assert joliet_escape(image) is not None
    pvd = subprocess.run(["xorriso", "-no_rc", "-indev", str(image), "-pvd_info"], capture_output=True, text=True,
                         check=True).stdout
    assert "Volume Id    : HB_2026_001" in pvd
    assert image.read_bytes()[16 * 2048 + 40:16 * 2048 + 72].rstrip(b" ") == b"HB_2026_001"


def test_a2_art16_extracted_image_is_byte_exact(package, tmp_path):
    image = tmp_path / "disc.iso"
    iso.make_iso(package, image, "HB_2026_001")
    out = tmp_path / "copy"
    iso.extract_iso(image, out)
    assert tree(out) == tree(package)
    modes = {p.stat().st_mode & 0o777 for p in out.rglob("*")}
    assert modes == {0o755, 0o644}  # the disc's read-only modes would make the copy unremovable


def test_extract_into_an_existing_empty_directory(package, tmp_path):
    image = tmp_path / "disc.iso"
    iso.make_iso(package, image, "C1")
    (tmp_path / "empty").mkdir()
    iso.extract_iso(image, tmp_path / "empty")
    assert tree(tmp_path / "empty") == tree(package)


def test_same_content_same_image_whatever_the_order_and_dates(package, tmp_path):
    first = iso.make_iso(package, tmp_path / "1.iso", "HB_2026_001")
    assert iso.make_iso(package, tmp_path / "2.iso", "HB_2026_001") == first
    other = write_tree(tmp_path / "again", FILES, order=sorted(FILES, reverse=True))
    for p in other.rglob("*"):
        os.utime(p, (1_800_000_000, 1_800_000_000))
    assert iso.make_iso(other, tmp_path / "3.iso", "HB_2026_001") == first
    (other / "VERIFY.txt").write_bytes(b"changed\n")
    assert iso.make_iso(other, tmp_path / "4.iso", "HB_2026_001") != first


def test_existing_image_is_never_overwritten(package, tmp_path):
    image = tmp_path / "disc.iso"
    image.write_bytes(b"an older image")
    with pytest.raises(RefusedError, match="never overwritten"):
        iso.make_iso(package, image, "HB_2026_001")
    assert image.read_bytes() == b"an older image"


def test_xorriso_failure_names_its_last_lines_and_leaves_no_partial_image(tmp_path, tiny_fs):
    big = write_tree(tmp_path / "big", {"originals/D/a.mp4": os.urandom(3 << 20)})
    image = tiny_fs / "disc.iso"
    with pytest.raises(BodycamError, match=r"making the image .*disc\.iso failed \(xorriso exit") as err:
        iso.make_iso(big, image, "C1")
    assert "xorriso" in str(err.value).split("\n", 1)[1]  # xorriso's own words follow
    assert list(tiny_fs.iterdir()) == []


def test_symlinks_and_fifos_do_not_go_onto_a_disc(package, tmp_path):
    (package / "originals" / "link.mp4").symlink_to("/etc/passwd")
    with pytest.raises(RefusedError, match="symlink"):
        iso.make_iso(package, tmp_path / "disc.iso", "C1")
    (package / "originals" / "link.mp4").unlink()
    os.mkfifo(package / "fifo")
    with pytest.raises(RefusedError, match="fifo"):
        iso.make_iso(package, tmp_path / "disc.iso", "C1")
    assert not (tmp_path / "disc.iso").exists()


def test_an_image_holding_a_symlink_is_not_extracted(tmp_path):
    src = write_tree(tmp_path / "src", {"a/f.txt": b"x"})
    (src / "a" / "escape").symlink_to("../../../../etc")
    image = tmp_path / "foreign.iso"  # made by someone else's tool, not by make_iso
    subprocess.run(["xorriso", "-no_rc", "-outdev", f"stdio:{image}", "-map", str(src), "/", "-commit"],
                   capture_output=True, check=True)
    out = tmp_path / "out"
    with pytest.raises(RefusedError, match="/a/escape"):
        iso.extract_iso(image, out)
    assert not out.exists()


def test_extract_refuses_a_non_empty_destination(package, tmp_path):
    image = tmp_path / "disc.iso"
    iso.make_iso(package, image, "C1")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    with pytest.raises(RefusedError, match="not an empty directory"):
        iso.extract_iso(image, dest)
    assert tree(dest) == {"mine.txt": b"keep"}


def test_extract_of_a_damaged_image_fails_and_leaves_nothing(tmp_path):
    image = tmp_path / "junk.iso"
    image.write_bytes(os.urandom(100_000))
    with pytest.raises(BodycamError, match="junk.iso"):
        iso.extract_iso(image, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("volume_id, ok", [
    ("HB_2026_001", True), ("A", True), ("X" * 32, True),
    ("X" * 33, False), ("", False), ("hb_2026", False), ("HB-2026", False), ("案件", False), ("A B", False),
])
def test_volume_id_is_iso9660_d_characters_up_to_32(volume_id, ok):
    if ok:
        assert iso.check_volume_id(volume_id) == volume_id
    else:
        with pytest.raises(BodycamError, match="not an ISO 9660 volume id"):
            iso.check_volume_id(volume_id)


@pytest.mark.parametrize("case_id, expected", [
    ("HB-2026-001", "HB_2026_001"),
    ("hb/2026/001", "HB_2026_001"),
    ("ＨＢ－２０２６－００１", "HB_2026_001"),  # full-width forms typed on a Chinese keyboard
    ("  C 1 ", "C_1"),
    ("鄂公(2026)123号", "2026_123_" + hashlib.sha256("鄂公(2026)123号".encode()).hexdigest()[:8].upper()),
    ("A" * 40, "A" * 23 + "_" + hashlib.sha256(b"A" * 40).hexdigest()[:8].upper()),
    ("案件", hashlib.sha256("案件".encode()).hexdigest()[:8].upper()),
])
def test_volume_id_for_case_maps_case_numbers_reproducibly(case_id, expected):
    assert iso.volume_id_for_case(case_id) == expected
    assert iso.check_volume_id(expected) == expected


def test_two_lossy_case_numbers_get_different_labels():
    assert iso.volume_id_for_case("鄂公(2026)123号") != iso.volume_id_for_case("湘公(2026)123号")


# ---- burning ----------------------------------------------------------------------------------
@pytest.fixture
def image(package, tmp_path) -> Path:
    out = tmp_path / "disc.iso"
    iso.make_iso(package, out, "HB_2026_001")
    return out


def test_burn_command_is_an_argument_list_for_one_closed_session(image):
    argv = iso.burn_command(image, "/dev/sr0")
    assert argv[:4] == ["xorriso", "-no_rc", "-as", "cdrecord"]
    assert "dev=/dev/sr0" in argv and "-dao" in argv and argv[-1] == str(image)
    check = iso.check_command("/dev/sr0")
    assert check[check.index("-indev") + 1] == "/dev/sr0"
    assert check[check.index("-md5"):check.index("-md5") + 2] == ["-md5", "on"]
    assert "-check_media" in check and "-check_md5_r" in check


@pytest.mark.parametrize("device", ["regular", "missing", "/dev/null", "stdio:/tmp/x.img", "sr0", "/dev/../tmp/x"])
def test_burn_refuses_anything_but_a_block_device(image, tmp_path, device):
    target = tmp_path / "not-a-drive"
    target.write_bytes(b"precious")
    device = {"regular": str(target), "missing": "/dev/sr97"}.get(device, device)
    with pytest.raises(RefusedError):
        iso.burn(image, device)
    assert target.read_bytes() == b"precious"


def test_a2_art16_written_medium_verifies_by_md5_and_hash(image, tmp_path):
    medium = tmp_path / "medium.img"
    iso.write_and_verify(image, f"stdio:{medium}")
    assert medium.read_bytes()[:image.stat().st_size] == image.read_bytes()
    iso.verify_medium(image, f"stdio:{medium}")  # and again, as an examiner would later


def test_a2_art16_a_flipped_byte_in_a_file_on_the_medium_fails_verification(image, tmp_path):
    medium = tmp_path / "medium.img"
    iso.write_and_verify(image, f"stdio:{medium}")
    data = bytearray(medium.read_bytes())
    at = data.find(FILES["originals/DEV-0001/执法记录_20261202_083000.mp4"][:64]) + 1000
    data[at] ^= 0x01
    medium.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="MD5") as err:
        iso.verify_medium(image, f"stdio:{medium}")
    assert "执法记录_20261202_083000.mp4" in str(err.value)


def test_a2_art16_a_flipped_byte_in_the_volume_descriptor_fails_verification(image, tmp_path):
    medium = tmp_path / "medium.img"
    iso.write_and_verify(image, f"stdio:{medium}")
    data = bytearray(medium.read_bytes())
    data[16 * 2048 + 41] ^= 0x01  # the volume id: no file's content, only the image's bytes change
    medium.write_bytes(bytes(data))
    with pytest.raises(VerificationError):
        iso.verify_medium(image, f"stdio:{medium}")


def test_a_medium_with_another_image_fails_verification(image, package, tmp_path):
    other = tmp_path / "other.iso"
    (package / "VERIFY.txt").write_bytes(b"another package\n")
    iso.make_iso(package, other, "HB_2026_001")
    medium = tmp_path / "medium.img"
    iso.write_and_verify(other, f"stdio:{medium}")
    with pytest.raises(VerificationError, match="SHA-256 differs"):
        iso.verify_medium(image, f"stdio:{medium}")
