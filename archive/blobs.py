"""The archive's blob store: part files for transfers in progress, then content-addressed blobs.

A segment arrives in chunks, possibly out of order, possibly twice, across crashes of either
end. Each transfer writes into one part file at ``chunk index × chunk size`` (so a repeated chunk
overwrites itself and the file never grows beyond its announced size); the receiver acknowledges
a chunk only after the part file is flushed. When the whole file is there and verified, it is
fsynced, made read-only and renamed atomically to ``blobs/sha256/ab/cd/<hash>``: a crash leaves
either the blob or the part file, never a blob with other bytes than its name. The part folder
and the blob folder are on the same filesystem (both under the archive's data_dir) so the
rename is atomic. The bytes of a blob are never rewritten: a second transfer of the same
content finds the blob and drops its own part file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from contextlib import suppress
from pathlib import Path

from bodycam.errors import BodycamError
from bodycam.i18n import _
from bodycam.permissions import private_dir
from ledger import blobs
from ledger.blobs import BlobError, start_writeback

log = logging.getLogger(__name__)

READ_CHUNK = blobs.READ_CHUNK
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DOCK = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class BlobStoreError(BodycamError):
    """The archive's blob or part folder cannot be written; check its disk and permissions."""


class PartFile:
    """One transfer's part file, open for positional writes."""

    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        if os.fstat(self.fd).st_size != size:
            os.ftruncate(self.fd, size)

    def write_at(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], offset + done)
        start_writeback(self.fd, offset, len(view))

    def flush(self) -> None:
        """Data on disk before a ``stored`` ack (fdatasync: the size is fixed at creation)."""
        os.fdatasync(self.fd)

    def sha256(self) -> str:
        """Hash of the whole part file, read back from disk (after a restart the in-memory
        running hash is gone; the disk is the truth)."""
        h = hashlib.sha256()
        buf = memoryview(bytearray(READ_CHUNK))
        offset = 0
        while offset < self.size:
            n = os.preadv(self.fd, [buf[: min(READ_CHUNK, self.size - offset)]], offset)
            if n <= 0:
                break
            h.update(buf[:n])
            offset += n
        with suppress(OSError):
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return h.hexdigest()

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class BlobStore:
    """``blob_dir/sha256/ab/cd/<hash>`` (read-only files) and ``part_dir/<dock>/<file_id>.part``."""

    def __init__(self, blob_dir: Path, part_dir: Path):
        self.blobs = blobs.BlobStore(blob_dir)
        self.blob_dir = self.blobs.root
        self.part_dir = Path(part_dir)
        try:
            for d in (self.blobs.root, self.blobs.blob_dir, self.part_dir):
                private_dir(d)  # 0700: footage is the service user's only (A2 Art.17-18)
        except OSError as exc:
            raise BlobStoreError(_("cannot create the archive's blob folders: {error}").format(error=exc)) from None

    def blob_path(self, sha256: str) -> Path:
        try:
            return self.blobs.blob_path(sha256)
        except BlobError as exc:
            raise BlobStoreError(str(exc)) from None

    def has(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def part_path(self, dock: str, file_id: str) -> Path:
        if not _DOCK.fullmatch(dock) or not _HEX64.fullmatch(file_id):
            raise BlobStoreError(f"bad transfer name {dock!r}/{file_id!r}")
        return self.part_dir / dock / f"{file_id}.part"

    def open_part(self, dock: str, file_id: str, size: int) -> PartFile:
        path = self.part_path(dock, file_id)
        private_dir(path.parent)
        return PartFile(path, size)

    def drop_part(self, dock: str, file_id: str) -> None:
        self.part_path(dock, file_id).unlink(missing_ok=True)

    def parts(self) -> list[Path]:
        return sorted(self.part_dir.glob("*/*.part"))

    def commit(self, part: PartFile, sha256: str) -> tuple[Path, bool]:
        """Make the verified part file the blob ``sha256`` (``ledger.blobs``' one commit rule).
        Returns (blob path, created); an existing blob is kept as it is and the part file
        removed, so a retried transfer never makes a second copy."""
        fd, part.fd = part.fd, -1
        done = self.blobs.commit(fd, part.path, sha256)
        if done.created:
            log.info("%s", _("blob {sha256} stored ({size} bytes)").format(sha256=sha256, size=part.size))
        return done.path, done.created
