"""The content-addressed blob layout, and the one way a file becomes a blob.

Footage, thumbnails and signature images are filed under their SHA-256 as
``<root>/sha256/ab/cd/<hash>`` at the dock and at the archive alike, and an export or an offline
verifier finds a blob from its hash alone. A file becomes a blob in one step: its bytes are
fsynced, it is made read-only, renamed atomically into place, and every folder the rename
touched (the blob's, any just created, and the one it came from) is fsynced. A crash therefore
leaves either the complete blob or the temporary file it came from, never a blob whose bytes
differ from its name, and a temporary name can never survive as a second name of a blob (the
archive resumes transfers into part files: such a name would let a resumed write reach a blob).
The path comes only from the content hash, never from a name a recorder or a network gave.
Blobs are the service user's only (A2 Art.17-18: every viewing goes through the access log):
0400 files in 0700 folders (``bodycam.permissions``), whatever the umask.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bodycam.errors import BodycamError
from bodycam.permissions import private_dir

log = logging.getLogger(__name__)

READ_CHUNK = 4 << 20
BLOB_MODE = 0o400  # read-only, and readable by the service user only
_HEX64 = re.compile(r"[0-9a-f]{64}")

Progress = Callable[[int], None]
"""Called with the number of bytes just read (a delta)."""


class BlobError(BodycamError):
    """A blob name or a blob folder is not what the layout requires."""


def is_sha256(value: str) -> bool:
    return bool(_HEX64.fullmatch(value or ""))


@dataclass(frozen=True)
class Committed:
    path: Path
    created: bool  # False: the same bytes were already stored; nothing was written twice


class BlobStore:
    """``<root>/sha256/ab/cd/<hash>``: look-up, re-hashing, and committing a finished file."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.blob_dir = self.root / "sha256"

    def ensure(self) -> BlobStore:
        private_dir(self.blob_dir)
        return self

    def blob_path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise BlobError(f"not a lowercase hex SHA-256: {sha256!r}")
        return self.blob_dir / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def verify(self, sha256: str) -> bool:
        """Re-hash a stored blob: does it still hold the bytes its name promises?"""
        fd = os.open(self.blob_path(sha256), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            return hash_fd(fd)[0] == sha256
        finally:
            os.close(fd)

    def commit(self, fd: int, tmp_path: Path, sha256: str) -> Committed:
        """Make the open, complete temporary file ``tmp_path`` (its descriptor ``fd``, which is
        closed here) the blob ``sha256``. The caller has checked the hash. An existing blob is
        kept as it is and the temporary file removed, so a retry never makes a second copy.
        OSError from fsync (a full disk, an I/O error) propagates for the caller to explain;
        the temporary file is then the caller's to discard."""
        try:
            path = self.blob_path(sha256)
            os.fsync(fd)
            with suppress(OSError):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean now: free the page cache
            os.fchmod(fd, BLOB_MODE)
        finally:
            os.close(fd)
        if path.is_file():
            tmp_path.unlink(missing_ok=True)
            return Committed(path, False)
        created = private_dir(path.parent)  # the fan-out folders, 0700
        os.rename(tmp_path, path)
        for d in {path.parent, tmp_path.parent, *(c.parent for c in created)}:
            fsync_dir(d)
        log.debug("blob %s committed", sha256)
        return Committed(path, True)


def hash_fd(fd: int, chunk_size: int = READ_CHUNK, progress: Progress | None = None) -> tuple[str, int]:
    """SHA-256 and length of everything readable from ``fd``, in bounded memory."""
    h = hashlib.sha256()
    buf = memoryview(bytearray(chunk_size))
    total = 0
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            return h.hexdigest(), total
        h.update(buf[:n])
        total += n
        if progress is not None:
            progress(n)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """``sync_file_range(2)`` (Linux; not in ``os``)."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Ask the kernel to start writing these bytes now, without waiting, so the disk works while
    the next chunks arrive and the final fsync finds little left to do. Only a hint: durability
    still comes from fsync."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)
