"""The dock store: offloaded footage filed under its SHA-256, immutable (A2 Art.9, 17).

A file from the recorder is read exactly once: each chunk is hashed and written to a temporary
file in the store in the same pass, then the file is fsynced, made read-only and renamed
atomically to ``sha256/ab/cd/<hash>``. A crash, a full disk or an unplugged recorder therefore
leaves either the complete blob or nothing: there is no partial file the ledger could point to.
The path comes only from the content hash, never from the recorder's file name.

Speed matters because a shift's footage is many gigabytes: reading into reused buffers, hashing
on a worker thread while the main thread writes (``hashlib`` and ``os.write`` both release the
GIL), so the dock copies at least as fast as ``rsync -a`` while hashing. Memory is bounded by two
chunk buffers whatever the file size.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bodycam.errors import BodycamError

log = logging.getLogger(__name__)

CHUNK_SIZE = 4 * 1024 * 1024
#: Written bytes after which write-back to disk is started (not waited for) during a copy.
WRITEBACK_BYTES = 32 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FULL = (errno.ENOSPC, errno.EDQUOT)

Progress = Callable[[int], None]
"""Called with the number of bytes just copied (a delta), after each chunk."""


class StoreError(BodycamError):
    """The dock store could not take a file; nothing partial was kept."""


class DiskFullError(StoreError):
    """The dock's disk filled up mid-file. The partial copy was removed; free space and dock again."""


class SourceReadError(StoreError):
    """Reading from the recorder failed mid-file (unplugged, I/O error); the partial copy was removed."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    existed: bool  # the same bytes were already in the store; nothing was written twice


class DockStore:
    """Content-addressed, write-once blob folder. Safe to share between processes."""

    def __init__(self, root: Path, chunk_size: int = CHUNK_SIZE):
        self.root = Path(root)
        self.chunk_size = chunk_size
        self.tmp_dir = self.root / "tmp"
        self.blob_dir = self.root / "sha256"
        for d in (self.root, self.tmp_dir, self.blob_dir):
            d.mkdir(parents=True, exist_ok=True)

    # -- lookup ---------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        if not _HEX64.match(sha256):
            raise StoreError(f"not a lowercase hex SHA-256: {sha256!r}")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """Re-hash a stored blob: does it still hold the bytes its name promises?"""
        path = self.blob_path(sha256)
        fd = os.open(path, os.O_RDONLY)
        try:
            return hash_fd(fd, self.chunk_size)[0] == sha256
        finally:
            os.close(fd)

    def clean_tmp(self) -> int:
        """Remove temporary files left by a crash (they never became blobs). Returns how many."""
        n = 0
        for p in self.tmp_dir.glob("*.part"):
            p.unlink(missing_ok=True)
            n += 1
        return n

    # -- ingest ---------------------------------------------------------------------------------
    def ingest_bytes(self, data: bytes) -> StoredBlob:
        """Store a small derived artefact (a thumbnail) under its hash."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha)
        if path.is_file():
            return StoredBlob(sha, len(data), path, True)
        t = self._new_tmp()
        try:
            _write_all(t.fd, memoryview(data), t.path)
            return self._commit(t, sha, len(data))
        except BaseException:
            t.discard()
            raise

    def ingest_fd(self, src_fd: int, *, expected_size: int | None = None,
                  progress: Progress | None = None, what: str = "file") -> StoredBlob:
        """Copy everything readable from ``src_fd`` into the store, hashing in the same pass.

        ``expected_size`` (from the listing) lets the store reserve the space first, so a disk too
        small is found before any byte is copied. ``what`` names the file in error messages.
        """
        t = self._new_tmp()
        try:
            if expected_size:
                _reserve(t.fd, expected_size, t.path, what)
            with suppress(OSError):
                os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            sha, size = self._copy(src_fd, t.fd, t.path, progress, what)
            if expected_size and size < expected_size:
                os.ftruncate(t.fd, size)
            return self._commit(t, sha, size)
        except BaseException:
            t.discard()
            raise

    # -- internals ------------------------------------------------------------------------------
    def _new_tmp(self) -> _Tmp:
        tmp = self.tmp_dir / f"{os.getpid()}-{secrets.token_hex(8)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        return _Tmp(tmp, fd)

    def _copy(self, src: int, dst: int, tmp: Path, progress: Progress | None, what: str) -> tuple[str, int]:
        h = hashlib.sha256()
        bufs = (memoryview(bytearray(self.chunk_size)), memoryview(bytearray(self.chunk_size)))
        total = flushed = 0
        pending: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-hash") as pool:
            i = 0
            while True:
                buf = bufs[i & 1]
                try:
                    n = os.readv(src, [buf])
                except OSError as exc:
                    raise SourceReadError(
                        f"reading {what} from the recorder failed after {total} bytes: {exc.strerror}; "
                        "nothing partial was kept - re-dock the recorder to resume"
                    ) from exc
                if pending is not None:
                    pending.result()  # the hash of the other buffer is done: it may be reused
                    pending = None
                if n == 0:
                    break
                chunk = buf[:n]
                pending = pool.submit(h.update, chunk)
                _write_all(dst, chunk, tmp, what, total)
                total += n
                if total - flushed >= WRITEBACK_BYTES:
                    _start_writeback(dst, flushed, total - flushed)
                    flushed = total
                if progress is not None:
                    progress(n)
                i += 1
            if pending is not None:
                pending.result()
        return h.hexdigest(), total

    def _commit(self, t: _Tmp, sha: str, size: int) -> StoredBlob:
        path, tmp = self.blob_path(sha), t.path
        try:
            os.fsync(t.fd)
        except OSError as exc:
            _raise_write(exc, tmp, "file", size)
        with suppress(OSError):
            os.posix_fadvise(t.fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean now; free the page cache
        os.fchmod(t.fd, 0o444)
        t.close()
        if path.is_file():
            tmp.unlink(missing_ok=True)
            return StoredBlob(sha, size, path, True)
        created = []
        for d in (path.parent.parent, path.parent):
            if not d.is_dir():
                d.mkdir(exist_ok=True)
                created.append(d)
        os.rename(tmp, path)
        # The rename is durable once the blob's folder is synced (and any folder just created, in
        # its parent). The temporary folder is not: a name left there by a crash is swept by
        # ``clean_tmp`` and never referenced.
        for d in {path.parent, *(c.parent for c in created)}:
            _fsync_dir(d)
        log.debug("stored %s (%d bytes)", sha, size)
        return StoredBlob(sha, size, path, False)


def _load_sync_file_range() -> Callable[[int, int, int], None] | None:
    """``sync_file_range(2)`` (Linux; not in ``os``): starts write-back of a range without waiting."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def start(fd: int, offset: int, nbytes: int) -> None:
        fn(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)  # best effort: fsync at the end is what counts

    return start


_SYNC_FILE_RANGE_WRITE = 2
_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Let the disk work while we copy, so the final fsync only waits for the last stretch."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, nbytes)


def hash_fd(fd: int, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None) -> tuple[str, int]:
    """SHA-256 and length of everything readable from ``fd``, without copying it anywhere."""
    h = hashlib.sha256()
    buf = memoryview(bytearray(chunk_size))
    total = 0
    while True:
        try:
            n = os.readv(fd, [buf])
        except OSError as exc:
            raise SourceReadError(f"reading failed after {total} bytes: {exc.strerror}; re-dock the "
                                  "recorder to resume") from exc
        if n == 0:
            return h.hexdigest(), total
        h.update(buf[:n])
        total += n
        if progress is not None:
            progress(n)


def _reserve(fd: int, size: int, tmp: Path, what: str) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):
            return  # the filesystem cannot reserve; ENOSPC will show up while writing instead
        _raise_write(exc, tmp, what, 0, size)


def _write_all(fd: int, data: memoryview, tmp: Path, what: str = "file", done: int = 0) -> None:
    off = 0
    while off < len(data):
        try:
            off += os.write(fd, data[off:])
        except OSError as exc:
            _raise_write(exc, tmp, what, done + off)


def _raise_write(exc: OSError, tmp: Path, what: str, done: int, need: int | None = None) -> None:
    store = tmp.parent.parent
    if exc.errno in _FULL:
        need_s = f" ({need} bytes needed)" if need else ""
        raise DiskFullError(
            f"the dock store {store} is full: {what} stopped after {done} bytes{need_s}; "
            "the partial copy was removed and nothing was ledgered - free space on the dock and dock "
            "the recorder again to resume"
        ) from exc
    raise StoreError(
        f"writing {what} into the dock store {store} failed after {done} bytes: {exc.strerror}; "
        "the partial copy was removed - check the dock's disk and dock again"
    ) from exc


class _Tmp:
    """A temporary file in the store; closed at most once, removed unless it became a blob."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def discard(self) -> None:
        with suppress(OSError):
            self.close()
        self.path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
