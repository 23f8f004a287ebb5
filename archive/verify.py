"""``bodycam archive verify``: recompute everything the archive holds, trusting nothing it stored.

To live here: a whole-archive check that re-reads every blob and re-hashes it against the
SHA-256 its segment (or attachment) names, checks every envelope's signatures against keys
enrolled before it, walks every device's segment chain (``seq`` + 1, ``prev`` = the previous
segment or the enrollment) and every other per-kind rule through the one implementation in
``ledger.checks`` (the rule the dock, the receiver and ``ledger verify`` already use, so there is
never a third copy of it), rebuilds the RFC 9162 Merkle tree and checks it against every stored
checkpoint, the archive's own and those the docks sent, for consistency between successive ones.

Why: the archive's promise is that originals are never cut, edited, replaced or silently lost
(A2 Art.8, 9, 17) and that the record is complete, objective and accurate (A2 Art.3); a
falsification or a lost piece of evidence (A2 Art.22(3), (4)) must show up here, with the entry
and the blob it concerns, before a reviewer or a court relies on it. Findings are reasons, not
exceptions, so the CLI can list them all and exit 3.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from archive.config import ArchiveConfig
from archive.receiver import named_blobs
from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message
from bodycam.permissions import check_private
from ledger.blobs import READ_CHUNK, BlobStore, is_sha256
from ledger.envelope import Envelope, body
from ledger.keys import PublicKey
from ledger.records import attachment_hashes
from ledger.store import Ledger
from ledger.verify import VerifyReport, verify_ledger

RETENTION_KIND = "retention"
"""The record kind a purge appends (``archive retention run``); its ``sha256`` / ``blobs`` name
what it purged. Looked up by name: a ledger without such entries simply has nothing purged."""

WHAT = {"media": N_("media"), "thumbnail": N_("thumbnail"), "attachment": N_("attachment")}
"""What a blob is to the entry naming it (shown in the reader's language)."""

Progress = Callable[[int, int], None]
"""Called with (bytes hashed so far, bytes to hash in all) as blobs are re-hashed."""


@dataclass(frozen=True)
class Named:
    """Why a blob must be in the store: the first entry that names it, and as what."""

    idx: int
    entry_hash: str
    kind: str
    what: str  # "media", "thumbnail" or "attachment"


@dataclass(frozen=True)
class ArchiveProblem:
    """One thing wrong with the archive. ``message`` is English (``--json``); a
    ``bodycam.i18n.Message``, so the terminal shows it in the reader's language."""

    check: str
    message: str
    idx: int | None = None
    entry_hash: str | None = None
    blob: str | None = None

    def to_json(self) -> dict:
        return {"check": self.check, "idx": self.idx, "entry_hash": self.entry_hash, "blob": self.blob,
                "message": str(self.message)}


@dataclass
class ArchiveReport:
    ledger: VerifyReport
    blobs_checked: int = 0
    bytes_hashed: int = 0
    hash_elapsed_s: float = 0.0
    elapsed_s: float = 0.0
    jobs: int = 1
    purged: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)
    problems: list[ArchiveProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def mb_per_s(self) -> float | None:
        return round(self.bytes_hashed / 1e6 / self.hash_elapsed_s, 1) if self.hash_elapsed_s > 0 else None

    def to_json(self) -> dict:
        lg = self.ledger
        return {"ok": self.ok, "entries": lg.entries_checked, "signatures": lg.signatures_checked,
                "checkpoints": lg.checkpoints_checked, "root": lg.root, "blobs": self.blobs_checked,
                "bytes": self.bytes_hashed, "mb_per_s": self.mb_per_s, "jobs": self.jobs,
                "elapsed_s": round(self.elapsed_s, 3), "purged": self.purged, "unreferenced": self.unreferenced,
                "problems": [p.to_json() for p in self.problems]}


def _bodies(ledger: Ledger) -> Iterable[tuple[int, str, str, dict]]:
    """(idx, entry hash, kind, body) of every entry whose envelope still parses; one that does not
    is ``verify_ledger``'s to report, not a source of blob names."""
    for idx, h, kind, data in ledger.conn.execute("SELECT idx, entry_hash, kind, envelope FROM entries ORDER BY idx"):
        try:
            b = body(Envelope.from_bytes(bytes(data)))
        except (BodycamError, ValueError):
            continue
        if isinstance(b, dict):
            yield int(idx), h, kind, b


def purged_blobs(ledger: Ledger) -> dict[str, int]:
    """Blobs a ``retention`` entry says were purged, with that entry's index (none if the kind is
    unknown to this ledger)."""
    out: dict[str, int] = {}
    for idx, _h, kind, b in _bodies(ledger):
        if kind != RETENTION_KIND:
            continue
        named = b.get("blobs") or []
        shas = [b.get("sha256"), *(named.keys() if isinstance(named, dict) else named)]
        for sha in shas:
            if isinstance(sha, str) and is_sha256(sha):
                out.setdefault(sha, idx)
    return out


def expected_blobs(ledger: Ledger) -> dict[str, Named]:
    """Every blob the ledger names and the store must hold: segments' media and thumbnails and
    records' attachments (a justification's signature image), each with the first entry naming
    it; minus those a ``retention`` entry purged (purged, not missing: the entry and its hash stay
    verifiable, the bytes are gone by rule, A2 Art.16)."""
    purged = purged_blobs(ledger)
    out: dict[str, Named] = {}

    def add(sha: object, idx: int, h: str, kind: str, what: str) -> None:
        if isinstance(sha, str) and is_sha256(sha) and sha not in purged:
            out.setdefault(sha, Named(idx, h, kind, what))

    for idx, h, kind, b in _bodies(ledger):
        attachments = set(attachment_hashes(b))
        thumb = b.get("thumbnail_sha256")
        for sha in named_blobs(b):  # the receiver's one list of what a record names besides itself
            what = "attachment" if sha in attachments else "thumbnail" if sha == thumb else "media"
            add(sha, idx, h, kind, what)
    return out


def hash_file(path: str) -> tuple[str | None, int, str | None]:
    """(SHA-256, size, None) of a whole file read in 4 MiB pieces, or (None, 0, error)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, 0, exc.strerror or str(exc)
    try:
        h = hashlib.sha256()
        buf = bytearray(READ_CHUNK)
        view = memoryview(buf)
        total = 0
        with open(fd, "rb", buffering=0, closefd=False) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
                total += n
        return h.hexdigest(), total, None
    except OSError as exc:
        return None, 0, exc.strerror or str(exc)
    finally:
        os.close(fd)


def _hash_all(paths: list[str], jobs: int, progress: Progress | None, total: int) -> list[tuple]:
    done = 0
    out = []

    def step(res: tuple) -> None:
        nonlocal done
        out.append(res)
        done += res[1]
        if progress is not None:
            progress(done, total)

    if jobs <= 1 or len(paths) <= 1:
        for p in paths:
            step(hash_file(p))
        return out
    method = "fork" if threading.active_count() == 1 else "forkserver"
    with ProcessPoolExecutor(min(jobs, len(paths)), mp_context=multiprocessing.get_context(method)) as pool:
        for res in pool.map(hash_file, paths):
            step(res)
    return out


def _stored_blobs(store: BlobStore) -> set[str]:
    if not store.blob_dir.is_dir():
        return set()
    return {p.name for p in store.blob_dir.glob("*/*/*") if is_sha256(p.name) and p.is_file()}


def verify_archive(cfg: ArchiveConfig, jobs: int = 1, progress: Progress | None = None,
                   trusted_root: PublicKey | None = None) -> ArchiveReport:
    """Check the whole archive (see the module docstring); never raises for tampering, reports it.

    Blobs on disk that no entry names are listed as ``unreferenced``, not as problems: the
    receiver stores a file before it appends the record naming it, so a crash between the two
    leaves one, and its record arrives again with the next sync; nothing is lost or altered."""
    started = time.perf_counter()
    jobs = max(1, jobs)
    with Ledger.open(cfg.path(cfg.ledger), create=False) as lg:
        lreport = verify_ledger(lg, trusted_root, workers=jobs, origin=cfg.origin)
        expected = expected_blobs(lg)
        purged = purged_blobs(lg)
    report = ArchiveReport(ledger=lreport, jobs=jobs, purged=sorted(purged))
    for p in lreport.problems:
        report.problems.append(ArchiveProblem(p.check, p.message, p.idx, p.entry_hash))
    for loose in check_private(cfg.data_dir, cfg.private_trees()):
        report.problems.append(ArchiveProblem("permissions", loose.described()))
    store = BlobStore(cfg.path(cfg.blob_dir))
    on_disk = _stored_blobs(store)
    report.unreferenced = sorted(on_disk - set(expected) - set(purged))
    present, total = [], 0
    for sha in sorted(expected):
        named = expected[sha]
        if sha not in on_disk:
            report.problems.append(ArchiveProblem(
                "blob_missing",
                Message(N_("blob {blob}… ({what} of entry {idx}, {kind}) is missing from the blob store"),
                        blob=sha[:16], what=Message(WHAT[named.what]), idx=named.idx, kind=named.kind),
                named.idx, named.entry_hash, sha))
            continue
        path = store.blob_path(sha)
        present.append(sha)
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    t0 = time.perf_counter()
    results = _hash_all([str(store.blob_path(s)) for s in present], jobs, progress, total)
    report.hash_elapsed_s = time.perf_counter() - t0
    for sha, (actual, size, error) in zip(present, results, strict=True):
        named = expected[sha]
        report.blobs_checked += 1
        report.bytes_hashed += size
        if error is not None:
            report.problems.append(ArchiveProblem(
                "blob_unreadable", Message(N_("blob {blob}… ({what} of entry {idx}) cannot be read: {error}"),
                                           blob=sha[:16], what=Message(WHAT[named.what]), idx=named.idx, error=error),
                named.idx, named.entry_hash, sha))
        elif actual != sha:
            report.problems.append(ArchiveProblem(
                "blob_hash",
                Message(N_("blob {blob}… ({what} of entry {idx}) now hashes to {actual}…: its bytes were altered"),
                        blob=sha[:16], what=Message(WHAT[named.what]), idx=named.idx, actual=actual[:16]),
                named.idx, named.entry_hash, sha))
    report.problems.sort(key=lambda p: (p.idx is None, p.idx if p.idx is not None else 0, p.blob or ""))
    report.elapsed_s = time.perf_counter() - started
    return report
