"""The append-only ledger: SQLite (WAL) holding envelopes and the RFC 9162 Merkle tree.

Append-only is enforced three ways: the API has no update or delete, ``BEFORE UPDATE`` /
``BEFORE DELETE`` triggers abort any attempt through SQL, and ``ledger.verify`` recomputes
every hash from the stored envelopes so that an edit made after dropping the triggers still
shows. The tree is stored as the hash of every complete, aligned subtree (``merkle_nodes``,
level ≥ 1; level 0 is ``entries.leaf_hash``), filled incrementally on append, so any root,
inclusion proof or consistency proof for any tree size reads O(log n) stored nodes.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlite_utils

from bodycam.errors import BodycamError, FormatError, RefusedError, VerificationError
from bodycam.i18n import N_, Message
from bodycam.permissions import create_private_file, sqlite_files
from ledger import checkpoint as cp
from ledger import merkle
from ledger.envelope import Envelope, body, verify_signatures
from ledger.keys import PublicKey, Signer
from ledger.records import Body, Enrollment, Revocation, validate_body
from ledger.trust import KeyRecord, reenrollment_problem, revocation_problems, signed_by_revoked

log = logging.getLogger(__name__)

APPEND_ONLY_TABLES = ("entries", "merkle_nodes", "checkpoints")
INDEX_COLUMNS = ("device_id", "officer_id", "case_id", "activity", "seq", "start_ns", "end_ns", "subject_id", "ref")
CHECKPOINT_KEY_TYPES = ("ledger_root", "archive_log")
_EXISTS = N_("{file}: already exists; a backup never overwrites a file (choose a new OUT)")
_SELECT = "SELECT idx, kind, envelope, entry_hash, leaf_hash, received_ns FROM entries"
_INSERT = "INSERT INTO entries (idx, kind, envelope, entry_hash, leaf_hash, received_ns, {}) VALUES ({})".format(  # noqa: S608, E501 - constant column names, bound values
    ", ".join(INDEX_COLUMNS), ", ".join("?" * (6 + len(INDEX_COLUMNS)))
)


@dataclass(frozen=True)
class Entry:
    idx: int
    kind: str
    entry_hash: str
    envelope: Envelope
    leaf_hash: bytes
    received_ns: int
    body: dict = field(repr=False)

    @property
    def record(self) -> Body:
        """The typed body (``Ns`` fields as ints)."""
        return validate_body(self.body)


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    size: int
    root: bytes
    origin: str
    note: str
    created_ns: int


@dataclass(frozen=True)
class Backup:
    """What ``Ledger.backup`` copied: the copy's tree and the source's latest checkpoint it holds."""

    path: Path
    size: int
    root: bytes
    checkpoint: StoredCheckpoint | None  # the source's latest when the copy was taken; None: it had none


def entry_hash_of(envelope_bytes: bytes) -> str:
    return hashlib.sha256(envelope_bytes).hexdigest()


_FIELDS_CACHE: dict[type, tuple[tuple[str, ...], str | None, bool]] = {}


def _index_plan(cls: type) -> tuple[tuple[str, ...], str | None, bool]:
    """Which index columns a body class has, where its start time is, whether it has a hook."""
    plan = _FIELDS_CACHE.get(cls)
    if plan is None:
        fields = cls.model_fields
        direct = tuple(name for name in INDEX_COLUMNS if name in fields)
        start_alt = None
        if "start_ns" not in fields:
            start_alt = next((a for a in ("started_ns", "measured_ns", "enrolled_ns") if a in fields), None)
        plan = _FIELDS_CACHE[cls] = (direct, start_alt, callable(getattr(cls, "ledger_index", None)))
    return plan


def index_columns(model: Body) -> dict[str, Any]:
    """Columns the ledger indexes a record by (A2 Art.15: case, officer, device, time).

    A body model may define ``ledger_index()`` returning extra or different values; this is
    how later kinds choose their own index columns without touching the store.
    """
    direct, start_alt, hook = _index_plan(type(model))
    values = model.__dict__
    cols: dict[str, Any] = {}
    for name in direct:
        value = values[name]
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            cols[name] = value
    if start_alt is not None and isinstance(values[start_alt], int):
        cols["start_ns"] = values[start_alt]
    if "end_ns" not in cols and isinstance(values.get("ended_ns"), int):
        cols["end_ns"] = values["ended_ns"]
    if isinstance(model, Enrollment) and model.subject_type == "device":
        cols["device_id"] = model.subject_id
    if hook:
        cols.update({k: v for k, v in model.ledger_index().items() if k in INDEX_COLUMNS})  # type: ignore[attr-defined]
    return cols


# --- schema migrations ---------------------------------------------------------------------------


def _m0001_initial(db: sqlite_utils.Database) -> None:
    db["entries"].create(
        {
            "idx": int,
            "kind": str,
            "envelope": bytes,
            "entry_hash": str,
            "leaf_hash": bytes,
            "received_ns": int,
            "device_id": str,
            "officer_id": str,
            "case_id": str,
            "activity": str,
            "seq": int,
            "start_ns": int,
            "end_ns": int,
            "subject_id": str,
            "ref": str,
        },
        pk="idx",
        not_null={"kind", "envelope", "entry_hash", "leaf_hash", "received_ns"},
    )
    db["entries"].create_index(["entry_hash"], unique=True)
    db["entries"].create_index(["kind"])
    db["entries"].create_index(["device_id", "seq"])
    db["entries"].create_index(["officer_id"])
    db["entries"].create_index(["case_id"])
    db["entries"].create_index(["start_ns"])
    db["entries"].create_index(["ref"])
    db.execute(
        "CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
        "PRIMARY KEY (level, idx)) WITHOUT ROWID"
    )
    db["checkpoints"].create(
        {"id": int, "size": int, "root": bytes, "origin": str, "note": str, "created_ns": int},
        pk="id",
        not_null={"size", "root", "origin", "note"},
    )
    db["checkpoints"].create_index(["size"])
    for table in APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _m0001_initial),
]


def _apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply each named migration not yet recorded, each in its own transaction."""
    db = sqlite_utils.Database(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_ns INTEGER NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                if conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    conn.execute("ROLLBACK")
                continue
            fn(db)
            conn.execute("INSERT INTO migrations (name, applied_ns) VALUES (?, ?)", (name, time.time_ns()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                conn.execute("ROLLBACK")
            raise
        applied.append(name)
        log.info("applied ledger migration %s", name)
    return applied


# --- the ledger ----------------------------------------------------------------------------------


@dataclass
class _Prepared:
    data: bytes
    envelope: Envelope
    body: dict
    model: Body
    entry_hash: str
    leaf: bytes


class Ledger:
    """One ledger file. Use ``Ledger.open(path)``, preferably as a context manager.

    All access goes through one connection guarded by a lock, so a Ledger may be shared by
    threads; other processes may read concurrently (WAL).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Callable[[], int] = time.time_ns):
        self._conn = conn
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._keyring: dict[str, PublicKey] = {}
        self._enrollments: dict[str, Enrollment] = {}
        self._keys: dict[str, KeyRecord] = {}  # keyid → first enrollment, its signers, revocation
        self._keyring_upto = 0

    @classmethod
    def open(
        cls, path: Path | str, create: bool = True, readonly: bool = False, clock: Callable[[], int] = time.time_ns
    ) -> Ledger:
        path = Path(path)
        if not path.exists() and (readonly or not create):
            raise BodycamError(Message(N_("{ledger}: no such ledger (create it by appending to it, or check the path)"),
                                       ledger=path))
        try:
            if readonly:
                uri = path.resolve().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
            else:
                create_private_file(path)  # 0600; SQLite gives its -wal and -shm the same mode
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                # FULL: a commit is on disk before append returns, since callers acknowledge
                # evidence (to a dock, to an officer) on the strength of it.
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                _apply_migrations(conn)
            elif not conn.execute("SELECT 1 FROM sqlite_master WHERE name='entries'").fetchone():
                raise BodycamError(Message(N_("{ledger}: not a bodycam ledger (no entries table)"), ledger=path))
        except sqlite3.DatabaseError as exc:
            raise BodycamError(Message(N_("{ledger}: cannot open ledger: {error}"), ledger=path, error=exc)) from None
        except OSError as exc:
            raise BodycamError(Message(N_("{ledger}: cannot create ledger: {error} (check the folder exists and is "
                                          "writable)"), ledger=path, error=exc.strerror)) from None
        return cls(conn, path, clock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The underlying connection, for read-only queries by tools and tests."""
        return self._conn

    # -- reading ----------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT max(idx) FROM entries").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def _entry(self, row: tuple) -> Entry:
        idx, kind, data, entry_hash, leaf, received = row
        env = Envelope.from_bytes(data)
        return Entry(idx, kind, entry_hash, env, bytes(leaf), received, body(env))

    def get(self, idx: int) -> Entry:
        with self._lock:
            row = self._conn.execute(_SELECT + " WHERE idx = ?", (idx,)).fetchone()
        if row is None:
            raise BodycamError(Message(N_("no entry {idx} in {ledger} (size {size})"), idx=idx, ledger=self.path,
                                       size=self.size))
        return self._entry(row)

    def get_many(self, idxs: Iterable[int]) -> list[Entry]:
        """The entries at ``idxs`` in ledger order, read in a few statements rather than one per
        entry (a catalogue answer of thousands of segments); indices not in the ledger are skipped."""
        wanted = sorted(set(idxs))
        out: list[Entry] = []
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            with self._lock:
                rows = self._conn.execute(
                    _SELECT + f" WHERE idx IN ({','.join('?' * len(chunk))}) ORDER BY idx", chunk  # noqa: S608
                ).fetchall()
            out += [self._entry(row) for row in rows]
        return out

    def by_hash(self, entry_hash: str) -> Entry | None:
        with self._lock:
            row = self._conn.execute(_SELECT + " WHERE entry_hash = ?", (entry_hash,)).fetchone()
        return None if row is None else self._entry(row)

    def entries(
        self, kind: str | None = None, *, start: int = 0, stop: int | None = None, batch: int = 1000, **where: Any
    ) -> Iterator[Entry]:
        """Entries in ledger order, filtered by kind and index columns (``device_id=...``)."""
        unknown = set(where) - set(INDEX_COLUMNS)
        if unknown:
            raise BodycamError(
                f"cannot filter entries by {', '.join(sorted(unknown))}; index columns are {', '.join(INDEX_COLUMNS)}"
            )
        clauses, params = ["idx >= ?"], [start]
        if stop is not None:
            clauses.append("idx < ?")
            params.append(stop)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        for name, value in where.items():
            if value is not None:
                clauses.append(f"{name} = ?")
                params.append(value)
        # Column names come from INDEX_COLUMNS (checked above), values are bound parameters.
        sql = _SELECT + " WHERE " + " AND ".join(clauses) + " AND idx >= ? ORDER BY idx LIMIT ?"
        cursor_idx = start
        while True:
            with self._lock:
                rows = self._conn.execute(sql, [*params, cursor_idx, batch]).fetchall()
            for row in rows:
                yield self._entry(row)
            if len(rows) < batch:
                return
            cursor_idx = rows[-1][0] + 1

    def latest(self, kind: str, **where: Any) -> Entry | None:
        """The last entry of ``kind`` matching the index columns, or None."""
        unknown = set(where) - set(INDEX_COLUMNS)
        if unknown:
            raise BodycamError(f"cannot filter entries by {', '.join(sorted(unknown))}")
        clauses, params = ["kind = ?"], [kind]
        for name, value in where.items():
            clauses.append(f"{name} = ?")
            params.append(value)
        sql = _SELECT + " WHERE " + " AND ".join(clauses) + " ORDER BY idx DESC LIMIT 1"
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else self._entry(row)

    # -- Merkle tree ------------------------------------------------------------------------------

    def _node(self, level: int, index: int, memo: dict | None = None) -> bytes:
        key = (level, index)
        if memo is not None and key in memo:
            return memo[key]
        if level == 0:
            row = self._conn.execute("SELECT leaf_hash FROM entries WHERE idx = ?", (index,)).fetchone()
        else:
            row = self._conn.execute(
                "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", (level, index)
            ).fetchone()
        if row is None:
            raise VerificationError(Message(
                N_("Merkle node ({level}, {index}) is missing from {ledger}; the ledger was tampered with: run "
                   "`bodycam ledger verify`"), level=level, index=index, ledger=self.path))
        if memo is not None:
            memo[key] = bytes(row[0])
        return bytes(row[0])

    def _range_hash(self, start: int, end: int, memo: dict) -> bytes:
        """MTH of leaves [start, end), where start is aligned as in RFC 9162's recursion."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            return self._node(level, start >> level, memo)
        k = merkle.largest_power_of_two_below(n)
        return merkle.node_hash(self._range_hash(start, start + k, memo), self._range_hash(start + k, end, memo))

    def _check_size(self, size: int | None) -> int:
        current = self.size
        if size is None:
            return current
        if not 0 <= size <= current:
            raise BodycamError(Message(N_("tree size {size} is outside 0..{current} (the ledger's size)"), size=size,
                                       current=current))
        return size

    def root(self, size: int | None = None) -> bytes:
        with self._lock:
            size = self._check_size(size)
            if size == 0:
                return merkle.EMPTY_ROOT
            return self._range_hash(0, size, {})

    def inclusion_proof(self, idx: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 PATH(idx, D[size]) from O(log n) stored nodes."""
        with self._lock:
            size = self._check_size(size)
            if not 0 <= idx < size:
                raise BodycamError(Message(N_("entry {idx} is not in a tree of size {size}"), idx=idx, size=size))
            memo: dict = {}
            path = []
            start, end = 0, size
            while end - start > 1:
                k = merkle.largest_power_of_two_below(end - start)
                if idx < start + k:
                    path.append(self._range_hash(start + k, end, memo))
                    end = start + k
                else:
                    path.append(self._range_hash(start, start + k, memo))
                    start += k
            return path[::-1]

    def consistency_proof(self, m: int, n: int | None = None) -> list[bytes]:
        """RFC 9162 PROOF(m, D[n]) from O(log n) stored nodes."""
        with self._lock:
            n = self._check_size(n)
            if not 0 <= m <= n:
                raise BodycamError(Message(N_("old size {old} is outside 0..{size}"), old=m, size=n))
            if m == 0 or m == n:
                return []
            memo: dict = {}
            proof = []
            start, end, rel, complete = 0, n, m, True
            while True:
                width = end - start
                if rel == width:
                    if not complete:
                        proof.append(self._range_hash(start, end, memo))
                    break
                k = merkle.largest_power_of_two_below(width)
                if rel <= k:
                    proof.append(self._range_hash(start + k, end, memo))
                    end = start + k
                else:
                    proof.append(self._range_hash(start, start + k, memo))
                    rel -= k
                    start += k
                    complete = False
            return proof[::-1]

    # -- keys enrolled in this ledger -------------------------------------------------------------

    def _refresh_keyring(self) -> None:
        rows = self._conn.execute(
            "SELECT idx, envelope FROM entries WHERE kind IN ('enrollment', 'revocation') AND idx >= ? ORDER BY idx",
            (self._keyring_upto,),
        ).fetchall()
        for idx, data in rows:
            env = Envelope.from_bytes(data)
            model = validate_body(body(env))
            if isinstance(model, Revocation):
                old = self._keys.get(model.keyid)
                if old is not None and old.revoked_at is None:
                    self._keys[model.keyid] = replace(old, revoked_at=idx)
            else:
                assert isinstance(model, Enrollment)
                # One key, one identity: the first enrollment counts (a later one is refused on
                # append, and reported by verify if written behind the ledger's back).
                self._keyring.setdefault(model.keyid, PublicKey.from_b64(model.public_key))
                self._enrollments.setdefault(model.keyid, model)
                self._keys.setdefault(model.keyid, KeyRecord(idx, model, tuple(env.keyids)))
            self._keyring_upto = idx + 1

    def key_record(self, keyid: str) -> KeyRecord | None:
        """Where and as what ``keyid`` is enrolled here, by whom, and whether it was revoked."""
        with self._lock:
            self._refresh_keyring()
            return self._keys.get(keyid)

    def keyring(self) -> dict[str, PublicKey]:
        """Public keys enrolled in this ledger, by keyid (cached, refreshed incrementally)."""
        with self._lock:
            self._refresh_keyring()
            return dict(self._keyring)

    def enrollment(self, keyid: str) -> Enrollment | None:
        with self._lock:
            self._refresh_keyring()
            return self._enrollments.get(keyid)

    # -- appending --------------------------------------------------------------------------------

    @staticmethod
    def _prepare(envelope: Envelope | bytes) -> _Prepared:
        data = envelope.to_bytes() if isinstance(envelope, Envelope) else bytes(envelope)
        env = Envelope.from_bytes(data)
        b = body(env)
        model = validate_body(b)
        return _Prepared(data, env, b, model, hashlib.sha256(data).hexdigest(), merkle.leaf_hash(data))

    def _check_trusted(self, p: _Prepared, pending: dict[str, PublicKey], is_first: bool) -> None:
        m = p.model
        if is_first:
            if not (isinstance(m, Enrollment) and m.subject_type == "ledger_root"):
                raise RefusedError(Message(N_("the first entry of a ledger must be the self-signed ledger_root "
                                              "enrollment")))
            verify_signatures(p.envelope, {m.keyid: PublicKey.from_b64(m.public_key)})
            pending[m.keyid] = PublicKey.from_b64(m.public_key)
            return
        keyring = {**self._keyring, **pending}
        try:
            verify_signatures(p.envelope, keyring)
        except VerificationError as exc:
            raise RefusedError(Message(N_("entry {entry}… ({kind}) refused: {error}"), entry=p.entry_hash[:16],
                                       kind=p.envelope.kind, error=exc)) from None
        unknown = [k[:16] + "…" for k in p.envelope.keyids if k not in keyring]
        if unknown:
            raise RefusedError(Message(N_("entry {entry}… is also signed by keys not enrolled here: {keys}; enroll "
                                          "them first"), entry=p.entry_hash[:16], keys=", ".join(unknown)))
        if isinstance(m, Enrollment):
            pending[m.keyid] = PublicKey.from_b64(m.public_key)

    def _check_keys(self, p: _Prepared, idx: int, pending: dict[str, KeyRecord], trusted: bool) -> None:
        """The key rules (``ledger.trust``), on every append: a keyid is enrolled once; a
        revocation names an enrolled key and is signed by its enroller; and, when signatures
        are to be trusted, none is by a key revoked before this entry."""
        m = p.model
        if trusted:
            revoked = signed_by_revoked(p.envelope.keyids, {**self._keys, **pending}, idx)
            if revoked:
                rec = ({**self._keys, **pending})[revoked[0]].enrollment
                raise RefusedError(Message(N_("entry {entry}… ({kind}) is signed by the key of {subject_type} "
                                              "{subject_id}, which was revoked: sign with its new key"),
                                           entry=p.entry_hash[:16], kind=p.envelope.kind,
                                           subject_type=rec.subject_type, subject_id=rec.subject_id))
        if isinstance(m, Enrollment):
            problem = reenrollment_problem(m.keyid, pending.get(m.keyid) or self._keys.get(m.keyid))
            if problem:
                raise RefusedError(problem)
            pending[m.keyid] = KeyRecord(idx, m, tuple(p.envelope.keyids))
        elif isinstance(m, Revocation):
            target = pending.get(m.keyid) or self._keys.get(m.keyid)
            problems = revocation_problems(m, target, tuple(p.envelope.keyids))
            if problems:
                raise RefusedError(Message(N_("revocation {entry}… refused: {problems}"), entry=p.entry_hash[:16],
                                           problems=Message.join("; ", problems)))
            pending[m.keyid] = replace(target, revoked_at=idx)

    def append(
        self, envelope: Envelope | bytes, received_ns: int | None = None, require_trusted: bool = False
    ) -> Entry:
        """Append one envelope (idempotent: the same envelope again returns its existing entry)."""
        return self.append_many([envelope], received_ns=received_ns, require_trusted=require_trusted)[0]

    def append_many(
        self, envelopes: Iterable[Envelope | bytes], received_ns: int | None = None, require_trusted: bool = False
    ) -> list[Entry]:
        """Validate and append envelopes in one transaction; all or nothing."""
        prepared = []
        for n, e in enumerate(envelopes):
            try:
                prepared.append(self._prepare(e))
            except FormatError as exc:
                raise FormatError(f"envelope #{n} of the batch refused (nothing appended): {exc}") from None
        if not prepared:
            return []
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = self._append_locked(prepared, received_ns, require_trusted)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    conn.execute("ROLLBACK")
                self._keyring_upto = min(self._keyring_upto, self._size_locked())
                raise
        return out

    def _size_locked(self) -> int:
        row = self._conn.execute("SELECT max(idx) FROM entries").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def _append_locked(self, prepared: list[_Prepared], received_ns: int | None, require_trusted: bool) -> list[Entry]:
        conn = self._conn
        size = self._size_locked()
        now = self._clock() if received_ns is None else received_ns
        if require_trusted or any(isinstance(p.model, (Enrollment, Revocation)) for p in prepared):
            self._refresh_keyring()
        pending_keys: dict[str, KeyRecord] = {}
        # Frontier: hashes of the perfect subtrees of the current tree, left to right.
        frontier = [(level, self._node(level, index)) for level, index in merkle.perfect_subtrees(size)]
        results: list[Entry] = []
        batch_seen: dict[str, Entry] = {}
        rows: list[tuple] = []
        nodes: list[tuple] = []
        pending: dict[str, PublicKey] = {}
        existing: dict[str, tuple[int, int]] = {}
        hashes = list({p.entry_hash for p in prepared})
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for h, idx0, rec in conn.execute(
                f"SELECT entry_hash, idx, received_ns FROM entries WHERE entry_hash IN ({marks})",  # noqa: S608
                chunk,
            ):
                existing[h] = (idx0, rec)
        for p in prepared:
            dup = batch_seen.get(p.entry_hash)
            if dup is None:
                row = existing.get(p.entry_hash)
                if row is not None:
                    dup = Entry(row[0], p.envelope.kind, p.entry_hash, p.envelope, p.leaf, row[1], p.body)
            if dup is not None:
                results.append(dup)
                continue
            self._check_keys(p, size, pending_keys, require_trusted)
            if require_trusted:
                self._check_trusted(p, pending, size == 0)
            idx = size
            cols = index_columns(p.model)
            rows.append(
                (idx, p.envelope.kind, p.data, p.entry_hash, p.leaf, now, *(cols.get(c) for c in INDEX_COLUMNS))
            )
            # Fold the new leaf into the frontier, storing every subtree it completes.
            h, level, pos = p.leaf, 0, idx
            while frontier and frontier[-1][0] == level:
                h = merkle.node_hash(frontier.pop()[1], h)
                level += 1
                pos >>= 1
                nodes.append((level, pos, h))
            frontier.append((level, h))
            entry = Entry(idx, p.envelope.kind, p.entry_hash, p.envelope, p.leaf, now, p.body)
            batch_seen[p.entry_hash] = entry
            results.append(entry)
            size += 1
        if rows:
            conn.executemany(_INSERT, rows)
        if nodes:
            conn.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        return results

    # -- checkpoints ------------------------------------------------------------------------------

    def checkpoint(self, signer: Signer, origin: str) -> str:
        """Sign and store a checkpoint of the current tree; returns the signed note text.

        The signer must be enrolled here as the ledger root or the archive's log key, so a
        verifier holding the ledger can check every checkpoint without outside keys.
        """
        enrolled = self.enrollment(signer.keyid)
        if enrolled is None or enrolled.subject_type not in CHECKPOINT_KEY_TYPES:
            raise RefusedError(Message(
                N_("key {keyid}… is not enrolled in {ledger} as ledger_root or archive_log; only those keys sign "
                   "checkpoints"), keyid=signer.keyid[:16], ledger=self.path))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                first = self._conn.execute("SELECT origin FROM checkpoints ORDER BY id LIMIT 1").fetchone()
                if first is not None and first[0] != origin:
                    raise RefusedError(Message(
                        N_("{ledger}: this log's checkpoints are signed under the origin {first!r}, not {origin!r}; "
                           "one log has one origin (a verifier trusts a name and a key): use {first!r} (`--origin`, "
                           "or [archive] origin in bodycam.toml)"), ledger=self.path, first=first[0], origin=origin))
                size = self._size_locked()
                root = self.root(size)
                note = cp.sign_checkpoint(cp.Checkpoint(origin, size, root), signer, origin)
                self._conn.execute(
                    "INSERT INTO checkpoints (size, root, origin, note, created_ns) VALUES (?, ?, ?, ?, ?)",
                    (size, root, origin, note, self._clock()),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a COMMIT interrupted after it landed leaves none
                    self._conn.execute("ROLLBACK")
                raise
        return note

    @property
    def origin(self) -> str | None:
        """The name this log's checkpoints are signed under (that of its first), None before any."""
        with self._lock:
            row = self._conn.execute("SELECT origin FROM checkpoints ORDER BY id LIMIT 1").fetchone()
        return None if row is None else row[0]

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, size, root, origin, note, created_ns FROM checkpoints ORDER BY id"
            ).fetchall()
        return [StoredCheckpoint(r[0], r[1], bytes(r[2]), r[3], r[4], r[5]) for r in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, size, root, origin, note, created_ns FROM checkpoints ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else StoredCheckpoint(row[0], row[1], bytes(row[2]), row[3], row[4], row[5])

    # -- copying a live ledger --------------------------------------------------------------------

    def backup(self, out: Path | str) -> Backup:
        """Copy this ledger to ``out`` while it may be in use, and check the copy.

        A copy of the file alone misses whatever is still in its ``-wal``; SQLite's online backup
        copies one consistent snapshot of the database as its connections see it, WAL included.
        The copy is one self-contained file (rollback journal, no ``-wal``), created with mode
        0600; an existing ``out`` (or its journal files) is refused, never overwritten. The copy
        is then opened read-only and must hold the snapshot's tree (same size, same root) and so
        the source's latest checkpoint (size at least the checkpoint's, root at that size the
        checkpoint's root); VerificationError otherwise (the copy is left for inspection). Its
        entries' signatures are for ``ledger.verify.verify_ledger`` to check."""
        out = Path(out)
        for f in sqlite_files(out):
            if f.exists() or f.is_symlink():
                raise BodycamError(Message(_EXISTS, file=f))
        try:
            created = create_private_file(out)
        except OSError as exc:
            raise BodycamError(Message(N_("{file}: cannot create the backup: {error}"), file=out,
                                       error=exc.strerror)) from None
        if not created:
            raise BodycamError(Message(_EXISTS, file=out))
        try:
            with self._lock:
                own = not self._conn.in_transaction
                if own:
                    self._conn.execute("BEGIN")  # the snapshot that is copied is the one described
                try:
                    size = self._size_locked()
                    root = self.root(size)
                    latest = self.latest_checkpoint()
                    dst = sqlite3.connect(out, isolation_level=None)
                    try:
                        self._conn.backup(dst)
                        dst.execute("PRAGMA journal_mode=DELETE")  # one file: nothing left in a -wal
                    finally:
                        dst.close()
                finally:
                    if own:
                        self._conn.execute("COMMIT")
        except BaseException as exc:
            for f in sqlite_files(out):
                f.unlink(missing_ok=True)
            if isinstance(exc, sqlite3.Error | OSError):
                raise BodycamError(Message(N_("{file}: backup of {ledger} failed, nothing kept: {error}"), file=out,
                                           ledger=self.path, error=exc)) from None
            raise
        with Ledger.open(out, readonly=True) as copy:
            copy_size = copy.size
            problems = []
            if copy_size != size or copy.root(size) != root:
                problems.append(Message(N_("it holds {n} entries, the source {size} when copied"), n=copy_size,
                                        size=size))
            if latest is not None:
                if copy_size < latest.size:
                    problems.append(Message(N_("it holds {n} entries, fewer than the source's latest checkpoint "
                                               "({size})"), n=copy_size, size=latest.size))
                elif copy.root(latest.size) != latest.root:
                    problems.append(Message(N_("its root at size {size} is not that of the source's latest "
                                               "checkpoint"), size=latest.size))
        if problems:
            raise VerificationError(Message(N_("{file}: the copy of {ledger} is not complete: {problems} (the copy is "
                                               "kept for inspection; do not use it as a backup)"),
                                            file=out, ledger=self.path, problems=Message.join("; ", problems)))
        return Backup(out, size, root, latest)


__all__ = ["Backup", "Entry", "Ledger", "StoredCheckpoint", "entry_hash_of", "index_columns", "MIGRATIONS"]
