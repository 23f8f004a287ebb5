"""bodycam.files: key and secret files are whole or absent, private from their first instant,
never written through a symlink, and never overwritten when ``exclusive``."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bodycam.errors import KeyFileError
from bodycam.files import write_file, write_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a small tmpfs under tmp_path (root only); skip the test where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        # A real filesystem (needs root, as the suite runs here and in CI), like tests.fixtures.media.
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=True)


def test_secret_is_0600_and_public_file_has_the_given_mode(tmp_path: Path) -> None:
    write_secret(tmp_path / "k.key", b"secret\n")
    write_file(tmp_path / "k.crt", "certificate\n")
    write_file(tmp_path / "group.conf", b"x", mode=0o640)
    assert _mode(tmp_path / "k.key") == 0o600
    assert _mode(tmp_path / "k.crt") == 0o644
    assert _mode(tmp_path / "group.conf") == 0o640
    assert (tmp_path / "k.key").read_bytes() == b"secret\n"
    assert (tmp_path / "k.crt").read_text(encoding="utf-8") == "certificate\n"  # str is written as UTF-8
    assert sorted(os.listdir(tmp_path)) == ["group.conf", "k.crt", "k.key"]  # no temporary file left


@pytest.mark.parametrize("umask", [0o000, 0o002, 0o077])
def test_umask_neither_loosens_a_secret_nor_changes_a_given_mode(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_secret(tmp_path / "k.key", b"s")
        write_file(tmp_path / "k.pub", b"p", mode=0o644)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k.key") == 0o600
    assert _mode(tmp_path / "k.pub") == 0o644


def test_secret_is_private_while_it_is_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the data reaches the disk, only a hidden 0600 temporary file exists, never the target."""
    seen: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            seen.extend((p.name, _mode(p)) for p in tmp_path.iterdir())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    old = os.umask(0)
    try:
        write_secret(tmp_path / "k.key", b"s" * 100_000)
    finally:
        os.umask(old)
    assert len(seen) == 1
    name, mode = seen[0]
    assert name.startswith(".k.key.") and name.endswith(".tmp")
    assert mode == 0o600


def test_file_and_directory_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kinds: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        kinds.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_secret(tmp_path / "k.key", b"s", exclusive=True)
    write_file(tmp_path / "k.crt", b"c")
    assert kinds == ["file", "dir", "file", "dir"]


def test_replaces_atomically_when_not_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    write_secret(path, b"old\n")
    write_secret(path, b"new\n")
    assert path.read_bytes() == b"new\n" and _mode(path) == 0o600
    assert os.listdir(tmp_path) == ["passwd"]


def test_exclusive_refuses_and_keeps_the_old_content(tmp_path: Path) -> None:
    path = tmp_path / "ca.key"
    write_secret(path, b"the only CA key\n", exclusive=True)
    with pytest.raises(KeyFileError, match="already exists") as info:
        write_secret(path, b"another key\n", exclusive=True)
    assert str(path) in str(info.value) and "move it away" in str(info.value)
    assert path.read_bytes() == b"the only CA key\n"
    assert os.listdir(tmp_path) == ["ca.key"]


@pytest.mark.parametrize("dangling", [True, False])
def test_exclusive_does_not_follow_a_symlink_at_the_target(tmp_path: Path, dangling: bool) -> None:
    elsewhere = tmp_path / "elsewhere"
    if not dangling:
        elsewhere.write_bytes(b"someone else's file\n")
    (tmp_path / "k.key").symlink_to(elsewhere)
    with pytest.raises(KeyFileError, match="already exists"):
        write_secret(tmp_path / "k.key", b"key\n", exclusive=True)
    assert (tmp_path / "k.key").is_symlink()
    if dangling:
        assert not elsewhere.exists()
    else:
        assert elsewhere.read_bytes() == b"someone else's file\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["k.key", *([] if dangling else ["elsewhere"])])


def test_replace_swaps_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"someone else's file\n")
    (tmp_path / "acl").symlink_to(elsewhere)
    write_secret(tmp_path / "acl", b"rules\n")
    assert not (tmp_path / "acl").is_symlink()
    assert (tmp_path / "acl").read_bytes() == b"rules\n" and _mode(tmp_path / "acl") == 0o600
    assert elsewhere.read_bytes() == b"someone else's file\n"


def test_full_file_system_leaves_old_content_and_no_temporary_file(tmpfs: Callable[[str], Path]) -> None:
    """A real ENOSPC mid-write: a 64 KiB tmpfs cannot take 200 KB."""
    fs = tmpfs("size=64k,mode=0700")
    path = fs / "passwd"
    write_secret(path, b"old\n")
    with pytest.raises(KeyFileError, match="full") as info:
        write_secret(path, b"x" * 200_000)
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"old\n"
    assert os.listdir(fs) == ["passwd"]
    with pytest.raises(KeyFileError, match="full"):
        write_secret(fs / "new.key", b"x" * 200_000, exclusive=True)
    assert os.listdir(fs) == ["passwd"]


def test_failure_mid_write_leaves_neither_target_nor_temporary_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a mountable tmpfs too: the second write fails with ENOSPC after a partial first one."""
    real_write = os.write
    calls = 0

    def write(fd: int, data) -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, bytes(data[:10]))

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(KeyFileError, match="full"):
        write_secret(tmp_path / "k.key", b"0123456789abcdef", exclusive=True)
    assert os.listdir(tmp_path) == []


def test_interruption_removes_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        write_secret(tmp_path / "k.key", b"key")
    assert os.listdir(tmp_path) == []


def test_unwritable_directory_is_reported_with_what_to_do(tmp_path: Path, tmpfs: Callable[[str], Path]) -> None:
    if os.geteuid() == 0:  # root writes into any directory: use a read-only file system instead
        d, hint = tmpfs("size=64k,ro"), "read-only"
    else:
        d, hint = tmp_path / "locked", "permission"
        d.mkdir(mode=0o500)
    with pytest.raises(KeyFileError, match=hint) as info:
        write_secret(d / "k.key", b"key")
    assert str(d / "k.key") in str(info.value)
    assert os.listdir(d) == []


def test_missing_directory_says_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist; create it first"):
        write_file(tmp_path / "nowhere" / "k.crt", b"c")
