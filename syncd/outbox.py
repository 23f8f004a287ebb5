"""What the dock still owes the archive: the sync's own small state file (``sync.db``).

The dock ledger says *what* exists; this file says what the archive has *committed* (with the
archive's signed proof, kept so anyone can later ask for an inclusion proof), what it refused and
why. It is operational, not evidence: deleting it only makes the dock offer everything again,
and the archive answers ``committed`` for what it already has (idempotent by content).

Every dock ledger entry becomes one item, in ledger order:

* entry 0, the dock key's self-signed ``ledger_root``, is ``skipped``: at the archive the
  admin's ``dock`` enrollment (``bodycam archive dock add``) stands for it;
* a record naming files (a segment's media and thumbnail, a justification's signature image)
  becomes one file transfer per file, each carrying the record's envelope; the item is committed
  when all of them are;
* any other record travels as ``rec``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bodycam.errors import BodycamError
from bodycam.i18n import _
from bodycam.statedb import connect_state
from ledger.records import attachment_hashes

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    idx INTEGER PRIMARY KEY, entry_hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    status TEXT NOT NULL, code TEXT, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    archive_index INTEGER, committed_ns INTEGER, proof BLOB, updated_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS items_status ON items (status, idx);
CREATE TABLE IF NOT EXISTS files (
    entry_hash TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER, role TEXT NOT NULL,
    file_id TEXT, status TEXT NOT NULL, code TEXT, reason TEXT, committed_ns INTEGER, proof BLOB,
    PRIMARY KEY (entry_hash, sha256));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

QUEUED, COMMITTED, REJECTED, SKIPPED = "queued", "committed", "rejected", "skipped"
MISSING = "missing"  # queued, then gone from the dock ledger (rewritten or lost): an inconsistency


@dataclass(frozen=True)
class FileRef:
    sha256: str
    size: int | None
    role: str  # media | thumbnail | attachment


def files_of(record: dict) -> list[FileRef]:
    """The files a record names that must reach the archive with it (same rule as the archive's
    ``named_blobs``)."""
    out: list[FileRef] = []
    if record.get("kind") == "segment":
        media = record["media"]
        out.append(FileRef(media["sha256"], media["size"], "media"))
        if record.get("thumbnail_sha256"):
            out.append(FileRef(record["thumbnail_sha256"], None, "thumbnail"))
    for sha in attachment_hashes(record):
        if all(f.sha256 != sha for f in out):
            out.append(FileRef(sha, None, "attachment"))
    return out


@dataclass(frozen=True)
class Item:
    idx: int
    entry_hash: str
    kind: str
    status: str
    code: str | None
    reason: str | None
    attempts: int


@dataclass(frozen=True)
class FileRow:
    entry_hash: str
    sha256: str
    size: int | None
    role: str
    status: str
    code: str | None
    reason: str | None


class Outbox:
    """``sync.db``. One writer (the uploader); ``bodycam sync status`` reads it concurrently."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        try:
            self._conn = connect_state(self.path, readonly=readonly, schema=SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise BodycamError(_("{path}: cannot open the sync state: {error}; delete it to start over "
                                 "(the archive answers again for what it has)").format(path=path, error=exc)) from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ------------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, **values: Any) -> None:
        with self._lock:
            self._conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                                   "SET value=excluded.value", [(k, json.dumps(v)) for k, v in values.items()])

    # -- items -----------------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """Dock ledger entries below this index have an item."""
        with self._lock:
            row = self._conn.execute("SELECT max(idx) FROM items").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def add_many(self, rows: list[tuple[int, str, str, list[FileRef], str | None]]) -> None:
        """New items ``(idx, entry_hash, kind, files, skip_reason)`` in one transaction."""
        now = time.time_ns()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for idx, entry_hash, kind, files, skip_reason in rows:
                    status = SKIPPED if skip_reason else QUEUED
                    self._conn.execute("INSERT OR IGNORE INTO items (idx, entry_hash, kind, status, reason, "
                                       "updated_ns) VALUES (?, ?, ?, ?, ?, ?)",
                                       (idx, entry_hash, kind, status, skip_reason, now))
                    self._conn.executemany("INSERT OR IGNORE INTO files (entry_hash, sha256, size, role, status) "
                                           "VALUES (?, ?, ?, ?, ?)",
                                           [(entry_hash, f.sha256, f.size, f.role, QUEUED) for f in files])
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    self._conn.execute("ROLLBACK")
                raise

    def _item(self, r: tuple) -> Item:
        return Item(*r)

    _ICOLS = "idx, entry_hash, kind, status, code, reason, attempts"

    def pending(self, *, retry_rejected_before_ns: int | None = None, retry_codes: frozenset[str] = frozenset(),
                ) -> list[Item]:
        """Queued items in ledger order, plus refused ones due for another try."""
        q = f"SELECT {self._ICOLS} FROM items WHERE status=?"  # noqa: S608 - constant columns
        args: list[Any] = [QUEUED]
        if retry_rejected_before_ns is not None:
            marks = ",".join("?" * len(retry_codes)) or "''"
            q += f" OR (status=? AND (updated_ns < ? OR code IN ({marks})))"
            args += [REJECTED, retry_rejected_before_ns, *retry_codes]
        with self._lock:
            rows = self._conn.execute(q + " ORDER BY idx", args).fetchall()
        return [self._item(r) for r in rows]

    def items(self, status: str | None = None) -> list[Item]:
        q = f"SELECT {self._ICOLS} FROM items"  # noqa: S608
        args: list[Any] = []
        if status:
            q += " WHERE status=?"
            args.append(status)
        with self._lock:
            return [self._item(r) for r in self._conn.execute(q + " ORDER BY idx", args).fetchall()]

    def entry_hashes(self) -> set[str]:
        """Every entry hash that has an item (to find ledger entries not yet seen after a rewrite)."""
        with self._lock:
            return {r[0] for r in self._conn.execute("SELECT entry_hash FROM items")}

    def item(self, entry_hash: str) -> Item | None:
        with self._lock:
            r = self._conn.execute(f"SELECT {self._ICOLS} FROM items WHERE entry_hash=?",  # noqa: S608
                                   (entry_hash,)).fetchone()
        return None if r is None else self._item(r)

    def files(self, entry_hash: str | None = None) -> list[FileRow]:
        q = "SELECT entry_hash, sha256, size, role, status, code, reason FROM files"
        args: list[Any] = []
        if entry_hash:
            q += " WHERE entry_hash=?"
            args.append(entry_hash)
        with self._lock:
            return [FileRow(*r) for r in self._conn.execute(q, args).fetchall()]

    def mark_file(self, entry_hash: str, sha256: str, *, status: str, file_id: str | None = None,
                  size: int | None = None, code: str | None = None, reason: str | None = None,
                  proof: bytes | None = None) -> None:
        now = time.time_ns()
        with self._lock:
            self._conn.execute(
                "UPDATE files SET status=?, file_id=coalesce(?, file_id), size=coalesce(?, size), code=?, reason=?, "
                "proof=coalesce(?, proof), committed_ns=CASE WHEN ?='committed' THEN ? ELSE committed_ns END "
                "WHERE entry_hash=? AND sha256=?",
                (status, file_id, size, code, reason, proof, status, now, entry_hash, sha256))

    def mark(self, entry_hash: str, *, status: str, code: str | None = None, reason: str | None = None,
             archive_index: int | None = None, proof: bytes | None = None) -> None:
        now = time.time_ns()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute(
                    "UPDATE items SET status=?, code=?, reason=?, archive_index=coalesce(?, archive_index), "
                    "proof=coalesce(?, proof), attempts=attempts+1, updated_ns=?, "
                    "committed_ns=CASE WHEN ?='committed' THEN ? ELSE committed_ns END WHERE entry_hash=?",
                    (status, code, reason, archive_index, proof, now, status, now, entry_hash))
                if status == COMMITTED:
                    self._conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                                           "SET value=excluded.value",
                                           [("last_commit_ns", json.dumps(now)),
                                            ("last_commit", json.dumps(entry_hash))])
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    self._conn.execute("ROLLBACK")
                raise

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._conn.execute("SELECT status, count(*) FROM items GROUP BY status").fetchall())

    def queued_files(self) -> tuple[int, int]:
        """Files not yet committed and their bytes (sizes unknown until read count as 0)."""
        with self._lock:
            row = self._conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM files WHERE status != ?",
                                     (COMMITTED,)).fetchone()
        return int(row[0]), int(row[1])

    def last_commit(self) -> tuple[int, str, str] | None:
        with self._lock:
            row = self._conn.execute("SELECT committed_ns, entry_hash, kind FROM items WHERE status=? "
                                     "ORDER BY committed_ns DESC LIMIT 1", (COMMITTED,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])
