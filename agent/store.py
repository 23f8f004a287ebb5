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

import errno
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message, SaidError
from bodycam.permissions import private_dir
from ledger import blobs
from ledger.blobs import BlobError, BlobStore, start_writeback

log = logging.getLogger(__name__)

CHUNK_SIZE = 4 * 1024 * 1024
#: Written bytes after which write-back to disk is started (not waited for) during a copy.
WRITEBACK_BYTES = 32 * 1024 * 1024
_FULL = (errno.ENOSPC, errno.EDQUOT)

Progress = Callable[[int], None]
"""Called with the number of bytes just copied (a delta), after each chunk."""


class StoreError(SaidError, BodycamError):
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
        self.blobs = BlobStore(self.root)
        self.blob_dir = self.blobs.blob_dir
        for d in (self.root, self.tmp_dir, self.blob_dir):
            private_dir(d)  # 0700: footage is the service user's only (A2 Art.17-18)

    # -- lookup (the layout is ledger.blobs') ----------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        try:
            return self.blobs.blob_path(sha256)
        except BlobError as exc:
            raise StoreError(str(exc)) from None

    def has(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """Re-hash a stored blob: does it still hold the bytes its name promises?"""
        self.blob_path(sha256)
        return self.blobs.verify(sha256)

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
                    raise SourceReadError(Message(
                        N_("reading {what} from the recorder failed after {count} bytes: {error}; nothing "
                           "partial was kept - re-dock the recorder to resume"),
                        what=what, count=total, error=str(exc.strerror))) from exc
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
                    start_writeback(dst, flushed, total - flushed)
                    flushed = total
                if progress is not None:
                    progress(n)
                i += 1
            if pending is not None:
                pending.result()
        return h.hexdigest(), total

    def _commit(self, t: _Tmp, sha: str, size: int) -> StoredBlob:
        try:
            fd, t.fd = t.fd, -1
            done = self.blobs.commit(fd, t.path, sha)
        except OSError as exc:
            _raise_write(exc, t.path, "file", size)
        log.debug("stored %s (%d bytes)", sha, size)
        return StoredBlob(sha, size, done.path, not done.created)


def hash_fd(fd: int, chunk_size: int = CHUNK_SIZE, progress: Progress | None = None) -> tuple[str, int]:
    """SHA-256 and length of everything readable from ``fd`` (a recorder's file), without copying it."""
    try:
        return blobs.hash_fd(fd, chunk_size, progress)
    except OSError as exc:
        raise SourceReadError(Message(N_("reading failed: {error}; re-dock the recorder to resume"),
                                   error=str(exc.strerror))) from exc


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
        need_s = Message(N_(" ({count} bytes needed)"), count=need) if need else ""
        raise DiskFullError(Message(
            N_("the dock store {store} is full: {what} stopped after {count} bytes{needed}; the partial copy was "
               "removed and nothing was ledgered - free space on the dock and dock the recorder again to resume"),
            store=str(store), what=what, count=done, needed=need_s)) from exc
    raise StoreError(Message(
        N_("writing {what} into the dock store {store} failed after {count} bytes: {error}; the partial copy was "
           "removed - check the dock's disk and dock again"),
        what=what, store=str(store), count=done, error=str(exc.strerror))) from exc


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
