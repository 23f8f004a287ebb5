"""The receiver's operational state: transfers in progress, chunks durably stored, docks' contact.

Not evidence (the ledger and the blobs are): it only lets a restarted receiver answer ``init``
with the right ``missing`` bitmap. Each row it holds is written *after* the bytes it describes
are on disk, so losing the last rows (a crash, ``synchronous=NORMAL``) can only make the archive
ask for a chunk again, never claim one it does not have.

It is also what bounds one dock's claim on the archive's disk (issue 11, hole 5): the bytes a
dock's open transfers announce count against ``[archive] max_open_bytes_per_dock``
(:func:`over_quota`), a transfer with no ``init`` or chunk for ``transfer_idle_s`` expires
(:func:`idle_expired`, :func:`drop_transfer`), and the rejection log keeps the newest
``max_rejections`` rows. Times are the receiver's clock, injected, so tests decide them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from archive.blobs import BlobStore
from bodycam.errors import BodycamError
from bodycam.i18n import _
from bodycam.statedb import connect_state

SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    dock TEXT NOT NULL, file_id TEXT NOT NULL, size INTEGER NOT NULL, chunk_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, envelope BLOB NOT NULL, status TEXT NOT NULL, entry_hash TEXT,
    code TEXT, reason TEXT, chunks_received INTEGER NOT NULL DEFAULT 0,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    PRIMARY KEY (dock, file_id));
CREATE TABLE IF NOT EXISTS chunks (
    dock TEXT NOT NULL, file_id TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (dock, file_id, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contacts (
    dock TEXT PRIMARY KEY, last_ns INTEGER NOT NULL, messages INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rejections (
    id INTEGER PRIMARY KEY, dock TEXT NOT NULL, subject TEXT NOT NULL, item TEXT NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, at_ns INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class TransferRow:
    dock: str
    file_id: str
    size: int
    chunk_size: int
    sha256: str
    envelope: bytes
    status: str  # open | committed | rejected
    entry_hash: str | None
    chunks_received: int
    # when it was opened and last active (init or stored chunk), by the receiver's clock
    created_ns: int = field(default=0, compare=False)
    updated_ns: int = field(default=0, compare=False)


def over_quota(open_bytes: int, open_count: int, size: int, limit: int) -> bool:
    """Would a new transfer of ``size`` bytes take a dock whose other open transfers announce
    ``open_bytes`` (``open_count`` of them) past ``limit``? A dock with nothing open may always
    start one transfer (a file larger than the quota still goes, one at a time; ``max_file_size``
    bounds it)."""
    return open_count > 0 and open_bytes + size > limit


def idle_expired(last_ns: int, now_ns: int, idle_s: float) -> bool:
    """Has a transfer last active at ``last_ns`` been idle for ``idle_s`` seconds at ``now_ns``?"""
    return now_ns - last_ns >= idle_s * 1_000_000_000


class TransferState:
    def __init__(self, path: Path, *, clock: Callable[[], int] = time.time_ns, max_rejections: int | None = None):
        self.path = Path(path)
        self.clock = clock
        self.max_rejections = max_rejections
        try:
            self._conn = connect_state(self.path, schema=SCHEMA, synchronous="NORMAL")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise BodycamError(_("{path}: cannot open the receiver's state: {error}").format(path=path, error=exc)
                               ) from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _row(self, r: tuple) -> TransferRow:
        return TransferRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7], r[8], r[9], r[10])

    _COLS = ("dock, file_id, size, chunk_size, sha256, envelope, status, entry_hash, chunks_received, created_ns, "
             "updated_ns")

    def get(self, dock: str, file_id: str) -> TransferRow | None:
        with self._lock:
            r = self._conn.execute(f"SELECT {self._COLS} FROM transfers WHERE dock=? AND file_id=?",  # noqa: S608
                                   (dock, file_id)).fetchone()
        return None if r is None else self._row(r)

    def open_transfers(self) -> list[TransferRow]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {self._COLS} FROM transfers WHERE status='open'").fetchall()  # noqa: S608
        return [self._row(r) for r in rows]

    def open_bytes(self, dock: str, exclude: str | None = None) -> tuple[int, int]:
        """Announced bytes and count of ``dock``'s open transfers (but ``exclude``)."""
        with self._lock:
            n, count = self._conn.execute("SELECT coalesce(sum(size), 0), count(*) FROM transfers WHERE dock=? AND "
                                          "status='open' AND file_id IS NOT ?", (dock, exclude)).fetchone()
        return int(n), int(count)

    def idle(self, now_ns: int, idle_s: float) -> list[tuple[str, str]]:
        """Open transfers idle for ``idle_s`` seconds at ``now_ns`` (:func:`idle_expired`)."""
        with self._lock:
            rows = self._conn.execute("SELECT dock, file_id, updated_ns FROM transfers WHERE status='open'").fetchall()
        return [(d, f) for d, f, last in rows if idle_expired(last, now_ns, idle_s)]

    def drop(self, dock: str, file_id: str) -> bool:
        """Forget an open transfer and its chunk rows (its part file is the caller's to remove)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                cur = self._conn.execute("DELETE FROM transfers WHERE dock=? AND file_id=? AND status='open'",
                                         (dock, file_id))
                self._conn.execute("DELETE FROM chunks WHERE dock=? AND file_id=?", (dock, file_id))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return cur.rowcount > 0

    def begin(self, dock: str, file_id: str, size: int, chunk_size: int, sha256: str, envelope: bytes) -> None:
        """Open (or re-open) a transfer. An open transfer announced again the same way keeps its
        stored chunks (a resume); anything else — a finished transfer sent again, or a different
        size, chunk size, hash or record — starts afresh with what this init announces, so a dock
        whose chunk size changed between attempts is never held to the old one."""
        now = self.clock()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                row = self._conn.execute(
                    "SELECT status, size, chunk_size, sha256, envelope FROM transfers WHERE dock=? AND file_id=?",
                    (dock, file_id)).fetchone()
                if row is not None and tuple(row) == ("open", size, chunk_size, sha256, envelope):
                    self._conn.execute("UPDATE transfers SET updated_ns=? WHERE dock=? AND file_id=?",
                                       (now, dock, file_id))
                else:
                    self._conn.execute("DELETE FROM chunks WHERE dock=? AND file_id=?", (dock, file_id))
                    self._conn.execute(
                        "INSERT INTO transfers (dock, file_id, size, chunk_size, sha256, envelope, status, "
                        "created_ns, updated_ns) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) "
                        "ON CONFLICT (dock, file_id) DO UPDATE SET size=excluded.size, "
                        "chunk_size=excluded.chunk_size, sha256=excluded.sha256, envelope=excluded.envelope, "
                        "status='open', entry_hash=NULL, code=NULL, reason=NULL, chunks_received=0, "
                        "updated_ns=excluded.updated_ns",
                        (dock, file_id, size, chunk_size, sha256, envelope, now, now))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def stored(self, dock: str, file_id: str) -> set[int]:
        with self._lock:
            rows = self._conn.execute("SELECT idx FROM chunks WHERE dock=? AND file_id=?", (dock, file_id))
            return {r[0] for r in rows}

    def add_chunks(self, items: Iterable[tuple[str, str, int]]) -> None:
        """Chunks whose bytes were flushed: recorded in one transaction per flush."""
        items = list(items)
        counts: dict[tuple[str, str], int] = {}
        for d, f, _chunk in items:
            counts[(d, f)] = counts.get((d, f), 0) + 1
        now = self.clock()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT OR IGNORE INTO chunks (dock, file_id, idx) VALUES (?, ?, ?)", items)
                self._conn.executemany(  # counted from the rows, so a chunk flushed twice counts once
                    "UPDATE transfers SET chunks_received = (SELECT count(*) FROM chunks c WHERE c.dock = ? AND "
                    "c.file_id = ?), updated_ns = ? WHERE dock=? AND file_id=?",
                    [(d, f, now, d, f) for d, f in counts])
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    self._conn.execute("ROLLBACK")
                raise

    def finish(self, dock: str, file_id: str, status: str, *, entry_hash: str | None = None,
               code: str | None = None, reason: str | None = None) -> None:
        """Committed or rejected: the chunk rows go (the part file is gone too)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute(
                    "UPDATE transfers SET status=?, entry_hash=?, code=?, reason=?, updated_ns=? "
                    "WHERE dock=? AND file_id=?", (status, entry_hash, code, reason, self.clock(), dock, file_id))
                self._conn.execute("DELETE FROM chunks WHERE dock=? AND file_id=?", (dock, file_id))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    self._conn.execute("ROLLBACK")
                raise

    def reject(self, dock: str, subject: str, item: str, code: str, reason: str) -> None:
        """Log a refusal; only the newest ``max_rejections`` rows are kept (a dock sending
        garbage in a loop cannot grow the file)."""
        with self._lock:
            cur = self._conn.execute("INSERT INTO rejections (dock, subject, item, code, reason, at_ns) VALUES "
                                     "(?, ?, ?, ?, ?, ?)", (dock, subject, item, code, reason[:1000], self.clock()))
            if self.max_rejections is not None:
                self._conn.execute("DELETE FROM rejections WHERE id <= ?", (cur.lastrowid - self.max_rejections,))

    def rejections(self, limit: int = 100) -> list[dict]:
        with self._lock:
            rows = self._conn.execute("SELECT dock, subject, item, code, reason, at_ns FROM rejections "
                                      "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("dock", "subject", "item", "code", "reason", "at_ns"), r, strict=True)) for r in rows]

    def touch(self, contacts: dict[str, tuple[int, int]]) -> None:
        """Docks' last contact (ns) and message counts since the last call."""
        if not contacts:
            return
        with self._lock:
            self._conn.executemany(
                "INSERT INTO contacts (dock, last_ns, messages) VALUES (?, ?, ?) ON CONFLICT (dock) DO UPDATE "
                "SET last_ns=max(last_ns, excluded.last_ns), messages=messages + excluded.messages",
                [(d, ns, n) for d, (ns, n) in contacts.items()])

    def contacts(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            return {r[0]: (r[1], r[2]) for r in self._conn.execute("SELECT dock, last_ns, messages FROM contacts")}

    def chunks_received(self, dock: str, file_id: str) -> int:
        row = self.get(dock, file_id)
        return 0 if row is None else row.chunks_received


def drop_transfer(state: TransferState, blobs: BlobStore, dock: str, file_id: str) -> bool:
    """Remove an open transfer: its rows, then its part file (a crash in between leaves a part
    file no transfer owns, which the receiver removes at start-up). False if none was open."""
    dropped = state.drop(dock, file_id)
    blobs.drop_part(dock, file_id)
    return dropped
