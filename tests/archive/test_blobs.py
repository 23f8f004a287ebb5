"""The archive's blob store on its own: part files for transfers in progress, the one commit rule
of ``ledger.blobs`` (fsync, read-only, atomic rename under ``sha256/ab/cd/<hash>``), names that
cannot leave their folders, re-hashing, and a disk that fills up mid-transfer (A2 Art.8: nothing
altered, nothing lost)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.blobs import BlobStore, BlobStoreError
from ledger import blobs as kernel

CHUNK = 64 << 10
DOCK = "dock-a"


def fid(n: int) -> str:
    """A transfer id (64 lowercase hex digits), distinct per ``n``."""
    return hashlib.sha256(f"transfer {n}".encode()).hexdigest()


def payload(size: int, seed: int = 0) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def chunks(data: bytes, size: int = CHUNK) -> list[tuple[int, bytes]]:
    return [(i, data[off:off + size]) for i, off in enumerate(range(0, len(data), size))]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", tmp_path / "parts")


def write_part(store: BlobStore, file_id: str, data: bytes, order: list[int] | None = None):
    part = store.open_part(DOCK, file_id, len(data))
    pieces = chunks(data)
    for i in order if order is not None else range(len(pieces)):
        idx, piece = pieces[i]
        part.write_at(idx * CHUNK, piece)
    part.flush()
    return part


# -- part files ----------------------------------------------------------------------------------


def test_part_file_has_its_announced_size_before_any_write(store):
    part = store.open_part(DOCK, fid(1), 300_000)
    try:
        assert part.path == store.part_dir / DOCK / f"{fid(1)}.part"
        assert part.path.stat().st_size == 300_000
        assert store.parts() == [part.path]
        assert part.sha256() == hashlib.sha256(bytes(300_000)).hexdigest()
    finally:
        part.close()


def test_chunks_out_of_order_and_twice_give_the_file_hash(store):
    data = payload(5 * CHUNK + 1234)
    # last first, a middle one twice, the first one last: positional writes put each in its place
    order = [5, 2, 4, 2, 1, 3, 5, 0]
    part = write_part(store, fid(1), data, order)
    try:
        assert part.path.stat().st_size == len(data)  # a repeated chunk never grows the file
        assert part.path.read_bytes() == data
        assert part.sha256() == hashlib.sha256(data).hexdigest()
    finally:
        part.close()


def test_reopened_part_keeps_what_was_written(store):
    """After a restart the part file is opened again at the same size: earlier chunks stay."""
    data = payload(3 * CHUNK)
    part = store.open_part(DOCK, fid(1), len(data))
    part.write_at(0, data[:CHUNK])
    part.flush()
    part.close()
    part.close()  # closing twice is harmless
    again = store.open_part(DOCK, fid(1), len(data))
    try:
        assert again.path.read_bytes()[:CHUNK] == data[:CHUNK]
        for idx, piece in chunks(data)[1:]:
            again.write_at(idx * CHUNK, piece)
        assert again.sha256() == hashlib.sha256(data).hexdigest()
    finally:
        again.close()


def test_drop_part_removes_the_part_file(store):
    store.open_part(DOCK, fid(1), 10).close()
    store.drop_part(DOCK, fid(1))
    store.drop_part(DOCK, fid(1))  # already gone: no error
    assert store.parts() == []


# -- commit --------------------------------------------------------------------------------------


def test_commit_makes_a_read_only_blob_under_its_hash_and_removes_the_part(store):
    data = payload(2 * CHUNK + 7)
    sha = hashlib.sha256(data).hexdigest()
    part = write_part(store, fid(1), data)
    part_path = part.path
    assert not store.has(sha)
    path, created = store.commit(part, sha)
    assert created
    assert path == store.blob_dir / "sha256" / sha[:2] / sha[2:4] / sha == store.blob_path(sha)
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == kernel.BLOB_MODE and not path.stat().st_mode & 0o222
    assert not part_path.exists() and store.parts() == []
    assert part.fd == -1  # the part's descriptor went with it
    assert store.has(sha)
    assert files_under(store.blob_dir) == [path]


def test_same_content_twice_keeps_one_blob(store):
    data = payload(CHUNK + 99, seed=3)
    sha = hashlib.sha256(data).hexdigest()
    first, created = store.commit(write_part(store, fid(1), data), sha)
    assert created
    before = first.stat()
    second_part = write_part(store, fid(2), data)
    second, created = store.commit(second_part, sha)
    assert not created and second == first
    assert not second_part.path.exists() and store.parts() == []
    assert files_under(store.blob_dir) == [first]
    after = first.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # never rewritten


def test_empty_file_commits(store):
    sha = hashlib.sha256(b"").hexdigest()
    part = store.open_part(DOCK, fid(1), 0)
    assert part.sha256() == sha
    path, created = store.commit(part, sha)
    assert created and path.read_bytes() == b""


def test_kernel_commit_of_a_temporary_file(tmp_path):
    """``ledger.blobs`` directly (the dock store and the uploader use it too): the temporary file
    becomes the blob; a second commit of the same bytes drops its temporary file."""
    blobs = kernel.BlobStore(tmp_path / "store").ensure()
    data = payload(10_000, seed=9)
    sha = hashlib.sha256(data).hexdigest()
    for n, want_created in ((1, True), (2, False)):
        tmp = blobs.root / f"incoming-{n}.tmp"
        tmp.write_bytes(data)
        fd = os.open(tmp, os.O_RDWR)
        done = blobs.commit(fd, tmp, sha)
        assert done == kernel.Committed(blobs.blob_path(sha), want_created)
        assert not tmp.exists()
        with pytest.raises(OSError):
            os.fstat(fd)  # commit closed the descriptor
    assert files_under(blobs.root) == [blobs.blob_path(sha)]
    fd = os.open(blobs.blob_path(sha), os.O_RDONLY)
    try:
        assert kernel.hash_fd(fd, chunk_size=4096) == (sha, len(data))
    finally:
        os.close(fd)


# -- names ---------------------------------------------------------------------------------------

GOOD = "0" * 64
BAD_HASHES = [
    "",
    "ab" * 31,                     # 62 digits
    "ab" * 33,                     # 66 digits
    GOOD.upper().replace("0", "A"),
    "A" + GOOD[1:],                # one uppercase digit
    "g" + GOOD[1:],                # not hex
    "../" + GOOD[3:],
    GOOD[:2] + "/" + GOOD[3:],
    GOOD + "\n",
    " " + GOOD[1:],
]


@pytest.mark.parametrize("sha", BAD_HASHES)
def test_bad_hashes_are_refused(store, sha):
    with pytest.raises(BlobStoreError, match="SHA-256"):
        store.blob_path(sha)
    with pytest.raises(BlobStoreError):
        store.has(sha)
    with pytest.raises(kernel.BlobError):
        kernel.BlobStore(store.blob_dir).blob_path(sha)
    assert not kernel.is_sha256(sha)


def test_commit_under_a_bad_hash_is_refused_and_nothing_is_stored(store):
    data = payload(100)
    part = write_part(store, fid(1), data)
    # (the kernel's BlobError comes through here unwrapped; both are BodycamErrors)
    with pytest.raises((BlobStoreError, kernel.BlobError), match="SHA-256"):
        store.commit(part, "../" + hashlib.sha256(data).hexdigest()[3:])
    assert files_under(store.blob_dir) == []
    assert part.fd == -1 and store.parts() == [part.path]  # the part file is the caller's to drop


BAD_DOCKS = ["", "../x", "..", "x/../../y", "Dock-a", "DOCK", "-dock", "dock_a", "dock.a", "dock a", "dock/a",
             "a" * 64, "dock\n"]
BAD_FILE_IDS = ["", "../x", "../" + GOOD[3:], GOOD.upper().replace("0", "A"), "F" + GOOD[1:], GOOD[:63],
                GOOD + "0", GOOD[:62] + "/x", GOOD + "\n", "x" * 64]


@pytest.mark.parametrize("dock", BAD_DOCKS)
def test_bad_dock_names_are_refused(store, dock):
    for call in (lambda: store.part_path(dock, fid(1)), lambda: store.open_part(dock, fid(1), 10),
                 lambda: store.drop_part(dock, fid(1))):
        with pytest.raises(BlobStoreError, match="bad transfer name"):
            call()
    assert files_under(store.part_dir) == [] and list(store.part_dir.iterdir()) == []


@pytest.mark.parametrize("file_id", BAD_FILE_IDS)
def test_bad_file_ids_are_refused(store, file_id):
    for call in (lambda: store.part_path(DOCK, file_id), lambda: store.open_part(DOCK, file_id, 10),
                 lambda: store.drop_part(DOCK, file_id)):
        with pytest.raises(BlobStoreError, match="bad transfer name"):
            call()
    assert list(store.part_dir.iterdir()) == []


def test_longest_dock_name_is_accepted(store):
    name = "d" + "a" * 62  # 63 characters, the topic pattern's limit
    assert store.part_path(name, fid(1)) == store.part_dir / name / f"{fid(1)}.part"


# -- re-hashing ----------------------------------------------------------------------------------


def test_committed_blob_rehashes_and_an_altered_one_does_not(store):
    data = payload(3 * CHUNK, seed=5)
    sha = hashlib.sha256(data).hexdigest()
    path, _ = store.commit(write_part(store, fid(1), data), sha)
    verifier = kernel.BlobStore(store.blob_dir)  # found from the hash alone, as an offline verifier does
    assert verifier.verify(sha)
    assert not path.stat().st_mode & 0o222  # read-only: altering it takes a deliberate chmod
    path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    with path.open("r+b") as f:
        f.seek(CHUNK + 17)
        byte = f.read(1)
        f.seek(CHUNK + 17)
        f.write(bytes([byte[0] ^ 0x01]))
    assert not verifier.verify(sha)
    assert not store.blobs.verify(sha)


def test_verify_of_a_missing_blob_or_bad_name(store):
    with pytest.raises(FileNotFoundError):
        store.blobs.verify(GOOD)
    with pytest.raises(kernel.BlobError):
        store.blobs.verify("../" + GOOD[3:])


# -- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs: writes beyond it fail with ENOSPC as on a full archive disk."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)  # needs root, as CI
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def test_full_disk_during_part_writes_raises_enospc_and_leaves_no_blob(small_disk):
    store = BlobStore(small_disk / "blobs", small_disk / "parts")
    data = payload(8 * CHUNK, seed=11)  # 512 KiB into 256 KiB
    sha = hashlib.sha256(data).hexdigest()
    part = store.open_part(DOCK, fid(1), len(data))  # sparse: the size is announced, not allocated
    with pytest.raises(OSError) as exc:
        for idx, piece in chunks(data):
            part.write_at(idx * CHUNK, piece)
        part.flush()
    assert exc.value.errno == errno.ENOSPC
    assert part.sha256() != sha
    assert not store.has(sha) and files_under(store.blob_dir) == []
    part.close()
    store.drop_part(DOCK, fid(1))
    # the space comes back with the part file: a file that fits still commits
    small = payload(CHUNK, seed=12)
    path, created = store.commit(write_part(store, fid(2), small), hashlib.sha256(small).hexdigest())
    assert created and path.read_bytes() == small
    assert files_under(store.blob_dir) == [path] and store.parts() == []
