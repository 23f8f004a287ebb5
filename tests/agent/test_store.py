"""The dock store: one pass, hashed, fsynced, atomic, content-addressed, read-only (A2 Art.9)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from agent.store import DiskFullError, DockStore, SourceReadError, StoreError, hash_fd
from bodycam.errors import BodycamError
from tests.fixtures.media import fill_with


def _ingest(store: DockStore, path: Path, **kw):
    fd = os.open(path, os.O_RDONLY)
    try:
        return store.ingest_fd(fd, **kw)
    finally:
        os.close(fd)


def test_copy_is_hashed_content_addressed_and_read_only(tmp_path):
    src = fill_with(tmp_path / "src.bin", 3 * 1024 * 1024 + 17, seed=1)
    store = DockStore(tmp_path / "store", chunk_size=1 << 20)
    seen: list[int] = []
    blob = _ingest(store, src, expected_size=src.stat().st_size, progress=seen.append)
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    assert blob.sha256 == want and blob.size == src.stat().st_size and not blob.existed
    assert blob.path == tmp_path / "store" / "sha256" / want[:2] / want[2:4] / want
    assert blob.path.read_bytes() == src.read_bytes()
    assert stat.S_IMODE(blob.path.stat().st_mode) == 0o400  # read-only, the service user's only
    assert sum(seen) == blob.size and max(seen) <= 1 << 20
    assert list(store.tmp_dir.iterdir()) == []
    assert store.has(want) and store.verify(want)


def test_same_bytes_are_not_stored_twice(tmp_path):
    src = fill_with(tmp_path / "a.bin", 100_000, seed=2)
    store = DockStore(tmp_path / "store")
    first = _ingest(store, src)
    mtime = first.path.stat().st_mtime_ns
    again = _ingest(store, src)
    assert again.existed and again.path == first.path
    assert first.path.stat().st_mtime_ns == mtime
    assert store.ingest_bytes(src.read_bytes()).existed
    assert list(store.tmp_dir.iterdir()) == []


def test_empty_file_and_small_bytes(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    store = DockStore(tmp_path / "store")
    assert _ingest(store, empty).sha256 == hashlib.sha256(b"").hexdigest()
    blob = store.ingest_bytes(b"thumbnail")
    assert blob.path.read_bytes() == b"thumbnail" and not blob.existed


def test_disk_full_mid_file_keeps_nothing_partial(tiny_fs, tmp_path):
    """A real 2 MiB tmpfs fills up while a 3 MiB file is copied (size not announced)."""
    src = fill_with(tmp_path / "big.bin", 3 * 1024 * 1024, seed=3)
    store = DockStore(tiny_fs / "store", chunk_size=256 * 1024)
    with pytest.raises(DiskFullError, match="full.*free space") as info:
        _ingest(store, src)
    assert isinstance(info.value, BodycamError)
    assert list(store.tmp_dir.iterdir()) == []
    assert not any(p.is_file() for p in store.blob_dir.rglob("*"))
    # a smaller file still fits afterwards: the store is usable, nothing was leaked
    small = fill_with(tmp_path / "small.bin", 500_000, seed=4)
    assert _ingest(store, small).size == 500_000


def test_disk_full_is_found_before_copying_when_size_is_known(tiny_fs, tmp_path):
    src = fill_with(tmp_path / "big.bin", 3 * 1024 * 1024, seed=5)
    store = DockStore(tiny_fs / "store")
    copied: list[int] = []
    with pytest.raises(DiskFullError, match="bytes needed"):
        _ingest(store, src, expected_size=src.stat().st_size, progress=copied.append)
    assert copied == []
    assert list(store.tmp_dir.iterdir()) == []


def test_read_error_from_recorder_removes_the_partial_copy(tmp_path):
    store = DockStore(tmp_path / "store")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # reading a directory fails with EISDIR
    try:
        with pytest.raises(SourceReadError, match="re-dock"):
            store.ingest_fd(fd, what="VID0001.MP4")
    finally:
        os.close(fd)
    assert list(store.tmp_dir.iterdir()) == []


def test_stale_temp_files_are_cleaned_and_bad_hashes_refused(tmp_path):
    store = DockStore(tmp_path / "store")
    (store.tmp_dir / "123-dead.part").write_bytes(b"left by a crash")
    assert store.clean_tmp() == 1
    with pytest.raises(StoreError):
        store.blob_path("../../etc/passwd")


def test_hash_fd_reads_without_copying(tmp_path):
    src = fill_with(tmp_path / "x.bin", 1_234_567, seed=6)
    fd = os.open(src, os.O_RDONLY)
    try:
        assert hash_fd(fd, 65536) == (hashlib.sha256(src.read_bytes()).hexdigest(), 1_234_567)
    finally:
        os.close(fd)
