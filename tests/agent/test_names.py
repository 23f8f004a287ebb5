"""Recorder file names are data, never paths (A2 Art.8, 9)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.offload.names import (
    HASH_PREFIX,
    MAX_SOURCE_NAME,
    MountError,
    UnsafeNameError,
    decode_source_name,
    display_name,
    encode_source_name,
    full_source_name,
    is_safe_name,
    list_recorder_files,
    name_problems,
    open_mount,
    open_recorder_file,
    require_safe_name,
)


@pytest.mark.parametrize("name, problem", [
    ("..", "dot component"),
    (".", "dot component"),
    ("", "empty or dot name"),
    ("/etc/passwd", "absolute path"),
    ("../../etc/passwd", "parent reference (..)"),
    ("DCIM/x.mp4", "path separator"),
    ("a\\b.mp4", "path separator"),
    ("evil\nname.mp4", "control character"),
    ("bell\x07.mp4", "control character"),
    ("esc\x1b[31m.mp4", "control character"),
    ("rtl\u202egnp.mp4", "control character"),
    (b"\xff\xfe.mp4", "not valid UTF-8"),
    (os.fsdecode(b"bad\xe9.mp4"), "not valid UTF-8"),  # surrogateescape str from listdir
    ("x" * 256, "longer than 255 bytes"),
    ("nul\x00.mp4", "NUL byte"),
])
def test_unsafe_names_are_refused_as_paths(name, problem):
    assert problem in name_problems(name)
    assert not is_safe_name(name)
    with pytest.raises(UnsafeNameError, match="kept only as data"):
        require_safe_name(name)


@pytest.mark.parametrize("name", ["VID_20261130_081500_0001.MP4", "录像 001.mp4", "a..b.mp4", "x" * 255])
def test_ordinary_names_are_safe(name):
    assert name_problems(name) == []
    assert require_safe_name(name) == name


@pytest.mark.parametrize("raw", [
    b"VID0001.MP4", b"DCIM/100MEDIA/VID0001.MP4", "录像.mp4".encode(), b"\xff\xfe.mp4",
    b"evil\nname.mp4", b"../../etc/passwd", b"/abs.mp4", b"b64:looks-encoded.mp4", b"sha256:x", b"x" * 186,
])
def test_source_name_keeps_the_original_bytes(raw):
    encoded = encode_source_name(raw)
    assert decode_source_name(encoded) == raw
    assert encoded.isprintable()
    assert display_name(encoded).isprintable()


def test_clean_names_stay_readable_and_dirty_ones_are_encoded():
    assert encode_source_name(b"DCIM/100MEDIA/VID0001.MP4") == "DCIM/100MEDIA/VID0001.MP4"
    assert encode_source_name(b"evil\nname.mp4").startswith("b64:")
    assert encode_source_name(b"../x.mp4").startswith("b64:")
    assert encode_source_name(b"b64:x").startswith("b64:")  # never ambiguous
    assert "\\n" in display_name(encode_source_name(b"evil\nname.mp4"))


def test_over_long_names_keep_their_hash_and_full_form():
    raw = "录".encode() * 85  # 255 bytes: a legal file name whose base64 does not fit a record
    assert encode_source_name(raw) == raw.decode()
    raw = b"\xff" * 250
    encoded = encode_source_name(raw)
    assert encoded.startswith(HASH_PREFIX) and len(encoded) <= MAX_SOURCE_NAME
    with pytest.raises(UnsafeNameError, match="over-long"):
        decode_source_name(encoded)
    assert decode_source_name(full_source_name(raw)) == raw
    assert display_name(encoded) == encoded


def _mount(tmp_path: Path) -> Path:
    m = tmp_path / "mnt" / "SN123"
    (m / "DCIM" / "100MEDIA").mkdir(parents=True)
    (m / "MISC").mkdir()
    (m / "VID0001.MP4").write_bytes(b"top")
    (m / "DCIM" / "100MEDIA" / "VID0002.MP4").write_bytes(b"nested")
    (m / "MISC" / "notes.txt").write_bytes(b"outside media folders")
    os.mkfifo(m / "fifo")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"dock secret")
    (m / "link.mp4").symlink_to(secret)
    (m / "DCIM" / "escape").symlink_to(tmp_path)
    with open(os.path.join(os.fsencode(m), b"bad\xff\nname.mp4"), "wb") as f:
        f.write(b"weird name")
    return m


def test_listing_reads_only_regular_files_and_reports_the_rest(tmp_path):
    m = _mount(tmp_path)
    listing = list_recorder_files(m)
    names = {f.source_name: f for f in listing.files}
    assert "VID0001.MP4" in names
    assert "DCIM/100MEDIA/VID0002.MP4" in names
    weird = [f for f in listing.files if f.source_name.startswith("b64:")]
    assert len(weird) == 1 and decode_source_name(weird[0].source_name) == b"bad\xff\nname.mp4"
    assert set(weird[0].problems) == {"not valid UTF-8", "control character"}
    assert len(listing.files) == 3
    skipped = {s.source_name: s.reason for s in listing.skipped}
    assert skipped["link.mp4"].startswith("symlink")
    assert skipped["DCIM/escape"].startswith("symlink")
    assert skipped["fifo"] == "not a regular file"
    assert "outside" in skipped["MISC"]


def test_files_are_opened_without_following_symlinks(tmp_path):
    m = _mount(tmp_path)
    listing = list_recorder_files(m)
    fd_m = open_mount(m)
    try:
        for f in listing.files:
            fd = open_recorder_file(fd_m, f.rel)
            os.close(fd)
        # a file swapped for a symlink after listing is not followed
        (m / "VID0001.MP4").unlink()
        (m / "VID0001.MP4").symlink_to(tmp_path / "secret.txt")
        with pytest.raises(OSError):
            open_recorder_file(fd_m, (b"VID0001.MP4",))
        with pytest.raises(UnsafeNameError):
            open_recorder_file(fd_m, (b"..", b"secret.txt"))
        with pytest.raises(UnsafeNameError):
            open_recorder_file(fd_m, (b"../secret.txt",))
        with pytest.raises(UnsafeNameError, match="not a regular file"):
            open_recorder_file(fd_m, (b"fifo",))
    finally:
        os.close(fd_m)


def test_missing_mount_is_a_clear_error_and_the_mount_point_may_be_a_link(tmp_path):
    with pytest.raises(MountError, match="mass-storage"):
        list_recorder_files(tmp_path / "absent")
    real = tmp_path / "volume"
    real.mkdir()
    (real / "VID0001.MP4").write_bytes(b"x")
    (tmp_path / "SN9").symlink_to(real)  # the automounter's (or emulator's) own link: trusted
    assert [f.source_name for f in list_recorder_files(tmp_path / "SN9").files] == ["VID0001.MP4"]
