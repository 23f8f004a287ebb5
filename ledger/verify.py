"""Recompute and check everything a ledger claims, trusting nothing stored but the envelopes.

Trust model: entry 0 is the self-signed ``ledger_root`` enrollment of the ledger owner's key
(the dock key on a dock, the admin/log key at the archive); if the caller supplies the key it
expects (``trusted_root``) the two must match. Every later enrollment must be signed by a key
enrolled before it, and every other entry by at least one key enrolled before it; every
signature on an entry must verify and be by an enrolled key. Entry and leaf hashes, the
stored Merkle nodes and every stored checkpoint (its signature by an enrolled ledger_root or
archive_log key, and its root) are recomputed from the envelopes. Rows removed or edited
with raw SQL, non-canonical payloads, foreign signatures and forged checkpoints all show up
as problems naming the entry.

Per-kind semantic checks (segment chains, justifications, approvals, case flags) are the
table ``ledger.checks.CHECKERS``; a caller may pass its own table (``checkers``).

A checkpoint given from outside (``checkpoints``: for a dock ledger, the last one the archive
acknowledged) is checked the same way: the ledger must still hold the tree it signed, else it lost
entries since (issue 11: a ledger rebuilt from the same envelopes minus some verifies otherwise).

Ed25519 verification dominates the cost, so rows are parsed, hashed and their signatures
checked in batches by worker processes (against every key enrolled anywhere in the ledger);
the main process then applies the order-dependent rules (enrolled *before*, continuity,
Merkle tree, checkpoints) to their small results.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message
from ledger import checkpoint as cp
from ledger import merkle
from ledger.checks import CHECKERS, CheckedEntry, Checker, VerifyContext
from ledger.checks.custody import revoked_signers
from ledger.envelope import Envelope, body
from ledger.keys import PublicKey
from ledger.records import Enrollment, validate_body
from ledger.store import APPEND_ONLY_TABLES, CHECKPOINT_KEY_TYPES, Ledger, StoredCheckpoint

BATCH = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing wrong. ``message`` is English (``--json``, logs); a ``bodycam.i18n.Message``, so
    ``ledger verify``'s text output shows it in the reader's language."""

    idx: int | None
    entry_hash: str | None
    check: str
    message: str

    def __str__(self) -> str:
        where = f"entry {self.idx}" if self.idx is not None else "ledger"
        if self.entry_hash:
            where += f" ({self.entry_hash[:16]}…)"
        return f"{where}: {self.check}: {self.message}"


@dataclass
class VerifyReport:
    path: str
    size: int = 0
    entries_checked: int = 0
    signatures_checked: int = 0
    checkpoints_checked: int = 0
    root: str = ""
    elapsed_s: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        d["entries_per_s"] = round(self.entries_checked / self.elapsed_s) if self.elapsed_s else None
        return d


# --- per-row checks (run in worker processes for large ledgers) --------------------------------

_WORKER_KEYS: dict[str, PublicKey] = {}


def _init_worker(keyring: dict[str, bytes]) -> None:
    _WORKER_KEYS.clear()
    _WORKER_KEYS.update({k: PublicKey.from_raw(raw) for k, raw in keyring.items()})


class _RowResult(NamedTuple):
    """What a worker learned about one row; small, so it pickles cheaply."""

    idx: int
    entry_hash: str
    leaf: bytes
    problems: tuple[tuple[str, str], ...]
    kind: str | None  # None: the envelope or body could not be parsed
    signatures: tuple[tuple[str, bool | None], ...]  # (keyid, verified; None = key unknown to the worker)
    enrollment: tuple[str, str, str] | None  # (keyid, public_key b64, subject_type)


def _check_row(idx: int, kind: str, data: bytes, stored_hash: str, stored_leaf: bytes) -> _RowResult:
    h = hashlib.sha256(data).hexdigest()
    leaf = merkle.leaf_hash(data)
    problems: list[tuple[str, str]] = []
    if h != stored_hash:
        problems.append(
            ("entry_hash", Message(N_("stored entry hash differs from the envelope's ({hash}…): envelope bytes "
                                      "edited"), hash=h[:16]))
        )
    if leaf != stored_leaf:
        problems.append(("leaf_hash", Message(N_("stored leaf hash differs from the envelope's"))))
    try:
        env = Envelope.from_bytes(data)
    except BodycamError as exc:
        problems.append(("envelope", Message(N_("malformed or non-canonical envelope: {error}"), error=exc)))
        return _RowResult(idx, h, leaf, tuple(problems), None, (), None)
    if env.kind != kind:
        problems.append(("kind", Message(N_("kind column {column!r} differs from payloadType kind {kind!r}"),
                                         column=kind, kind=env.kind)))
    try:
        record = validate_body(body(env))
    except BodycamError as exc:
        problems.append(("payload", Message(N_("payload is not a canonical, valid {kind} body: {error}"),
                                            kind=env.kind, error=exc)))
        return _RowResult(idx, h, leaf, tuple(problems), None, (), None)
    message = env.pae()
    sigs = []
    for keyid, sig in env.signatures:
        pub = _WORKER_KEYS.get(keyid)
        sigs.append((keyid, None if pub is None else pub.verify(sig, message)))
    enrollment = None
    if isinstance(record, Enrollment):
        enrollment = (record.keyid, record.public_key, record.subject_type)
    return _RowResult(idx, h, leaf, tuple(problems), env.kind, tuple(sigs), enrollment)


def _check_rows(rows: list[tuple]) -> list[_RowResult]:
    return [_check_row(*row) for row in rows]


class _Verifier:
    def __init__(self, ledger: Ledger, trusted_root: PublicKey | None, checkers: dict[str, tuple[Checker, ...]],
                 origin: str | None = None):
        self.ledger = ledger
        self.origin = origin
        self.checkers = checkers
        self.trusted_root = trusted_root
        self.report = VerifyReport(path=str(ledger.path))
        self.ctx = VerifyContext(ledger)
        self.keys: dict[str, PublicKey] = {}
        self.leaves = bytearray()
        self.frontier: list[tuple[int, bytes]] = []
        self.roots_at: dict[int, bytes] = {}
        self.expected = 0

    def problem(self, idx: int | None, h: str | None, check: str, message: str) -> None:
        self.report.problems.append(Problem(idx, h, check, message))

    def result(self, r: _RowResult, data: bytes, checkpoint_sizes: set[int]) -> None:
        """Apply the ledger-order rules (trust, continuity) to one worker result."""
        idx, h = r.idx, r.entry_hash
        if idx != self.expected:
            missing = f"{self.expected}" if idx == self.expected + 1 else f"{self.expected}..{idx - 1}"
            self.problem(self.expected, None, "missing", Message(N_("entries {which} are missing (rows deleted)"),
                                                                 which=missing))
        self.expected = idx + 1
        self.report.entries_checked += 1
        self.add_leaf(r.leaf, checkpoint_sizes)
        for check, msg in r.problems:
            self.problem(idx, h, check, msg)
        if r.kind is None:
            return
        if self.report.entries_checked == 1:
            if r.enrollment is None or r.enrollment[2] != "ledger_root":
                self.problem(idx, h, "trust", Message(N_("entry 0 must be the self-signed ledger_root enrollment")))
                return
            keyid = r.enrollment[0]
            if self.trusted_root is not None and keyid != self.trusted_root.keyid:
                self.problem(
                    idx,
                    h,
                    "trust",
                    Message(N_("ledger root key {keyid}… is not the trusted key {trusted}…"), keyid=keyid[:16],
                            trusted=self.trusted_root.keyid[:16]),
                )
            self.keys[keyid] = PublicKey.from_b64(r.enrollment[1])
        env = None
        signers = []
        for keyid, ok in r.signatures:
            pub = self.keys.get(keyid)
            if pub is None:
                self.problem(idx, h, "trust", Message(N_("signed by key {keyid}… which is not enrolled before this "
                                                         "entry"), keyid=keyid[:16]))
                continue
            if ok is None:  # the worker did not know the key (kind column altered): check here
                env = env or Envelope.from_bytes(data)
                ok = pub.verify(dict(env.signatures)[keyid], env.pae())
            self.report.signatures_checked += 1
            if not ok:
                self.problem(
                    idx, h, "signature", Message(N_("signature by key {keyid}… does not verify (body or signature "
                                                    "altered)"), keyid=keyid[:16])
                )
                continue
            signers.append(keyid)
        for keyid in revoked_signers(self.ctx, idx, signers):
            self.problem(idx, h, "trust", Message(N_("signed by key {keyid}… which was revoked before this entry"),
                                                  keyid=keyid[:16]))
            signers.remove(keyid)
        if not signers:
            self.problem(idx, h, "trust", Message(N_("no valid signature by a key enrolled in this ledger")))
        if r.enrollment is not None:
            keyid, b64, _ = r.enrollment
            self.keys.setdefault(keyid, PublicKey.from_b64(b64))
        if r.enrollment is not None or r.kind in self.checkers:
            env = env or Envelope.from_bytes(data)
            b = body(env)
            record = validate_body(b)
            if isinstance(record, Enrollment):
                self.ctx.enrolled.setdefault(record.keyid, (idx, record))  # one key, one identity: the first
            for check in self.checkers.get(r.kind, ()):
                for msg in check(self.ctx, CheckedEntry(idx, h, env, b, record, tuple(signers))):
                    self.problem(idx, h, r.kind, msg)

    def add_leaf(self, leaf: bytes, checkpoint_sizes: set[int]) -> None:
        self.leaves += leaf
        h, level = leaf, 0
        while self.frontier and self.frontier[-1][0] == level:
            h = merkle.node_hash(self.frontier.pop()[1], h)
            level += 1
        self.frontier.append((level, h))
        n = len(self.leaves) // 32
        if n in checkpoint_sizes:
            self.roots_at[n] = self.frontier_root()

    def frontier_root(self) -> bytes:
        if not self.frontier:
            return merkle.EMPTY_ROOT
        h = self.frontier[-1][1]
        for _, left in reversed(self.frontier[:-1]):
            h = merkle.node_hash(left, h)
        return h

    def check_tree(self, size: int) -> None:
        """Every stored node must hash its stored children; level 0 is the recomputed leaves.

        By induction every stored node then equals the node recomputed from the envelopes, so
        proofs served from the stored tree are proofs about these envelopes."""
        conn = self.ledger.conn
        below = self.leaves
        level = 1
        while size >> level:
            count = size >> level
            current = bytearray()
            expect = 0
            rows = conn.execute(
                "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx < ? ORDER BY idx", (level, count)
            )
            for i, node in rows:
                if i != expect:
                    break
                left, right = bytes(below[64 * i : 64 * i + 32]), bytes(below[64 * i + 32 : 64 * i + 64])
                if bytes(node) != merkle.node_hash(left, right):
                    self.problem(
                        None,
                        None,
                        "merkle",
                        Message(N_("stored node (level {level}, index {index}) does not hash its children (covers "
                                   "entries {first}..{last})"),
                                level=level, index=i, first=i << level, last=((i + 1) << level) - 1),
                    )
                    return
                current += node
                expect += 1
            if expect != count:
                self.problem(
                    None,
                    None,
                    "merkle",
                    Message(N_("stored node (level {level}, index {index}) is missing (covers entries "
                               "{first}..{last})"),
                            level=level, index=expect, first=expect << level, last=((expect + 1) << level) - 1),
                )
                return
            below = current
            level += 1
        extra = conn.execute(
            "SELECT count(*) FROM merkle_nodes WHERE level < 1 OR idx >= (? >> level)", (size,)
        ).fetchone()[0]
        if extra:
            self.problem(None, None, "merkle", Message(N_("{n} stored nodes lie outside the tree of size {size}"),
                                                       n=extra, size=size))

    def check_checkpoints(self, stored: list, size: int, given: Sequence[StoredCheckpoint] = ()) -> None:
        log_keys = [(idx, rec) for idx, rec in self.ctx.enrolled.values() if rec.subject_type in CHECKPOINT_KEY_TYPES]
        origin = self.origin or (stored[0].origin if stored else given[0].origin if given else None)
        outside = {id(c) for c in given}
        for c in [*stored, *given]:
            self.report.checkpoints_checked += 1
            what = (Message(N_("the given checkpoint (size {size})"), size=c.size) if id(c) in outside
                    else Message(N_("checkpoint #{id} (size {size})"), id=c.id, size=c.size))
            try:
                text, sigs = cp.parse_note(c.note)
                parsed = cp.Checkpoint.from_text(text)
            except BodycamError as exc:
                self.problem(None, None, "checkpoint", Message(N_("{what}: malformed note: {error}"), what=what,
                                                               error=exc))
                continue
            if parsed.origin != origin:
                self.problem(None, None, "checkpoint", Message(N_("{what}: signed for the origin {origin!r}, but this "
                                                                  "log's origin is {expected!r} (one log, one origin)"),
                                                               what=what, origin=parsed.origin, expected=origin))
            good = False
            for idx, rec in log_keys:
                if idx >= max(parsed.size, 1):
                    continue
                pub = self.keys[rec.keyid]
                try:
                    cp.verify_note(c.note, parsed.origin, pub)
                    good = True
                    break
                except BodycamError:
                    continue
            if not good:
                self.problem(
                    None, None, "checkpoint", Message(N_("{what}: not signed by an enrolled ledger_root or "
                                                         "archive_log key"), what=what)
                )
            if parsed.size != c.size or parsed.root != c.root:
                self.problem(None, None, "checkpoint", Message(N_("{what}: stored size/root differ from the signed "
                                                                  "note"), what=what))
            if parsed.size > size:
                self.problem(
                    None,
                    None,
                    "checkpoint",
                    Message(N_("{what}: covers {covered} entries but the ledger has {size}: entries were removed "
                               "since it was signed") if id(c) in outside else
                            N_("{what}: covers {covered} entries but the ledger has {size}: entries were removed"),
                            what=what, covered=parsed.size, size=size),
                )
                continue
            root = self.roots_at.get(parsed.size, merkle.EMPTY_ROOT if parsed.size == 0 else None)
            if root != parsed.root:
                first_bad = next(
                    (p.idx for p in self.report.problems if p.idx is not None and p.idx < parsed.size), None
                )
                if first_bad is not None:
                    msg = Message(N_("{what}: signed root differs from the root recomputed from the envelopes; first "
                                     "altered entry: {idx}"), what=what, idx=first_bad)
                else:
                    msg = Message(N_("{what}: signed root differs from the root recomputed from the envelopes"),
                                  what=what)
                self.problem(None, None, "checkpoint", msg)


PROCESS_THRESHOLD = 20_000


def _prepass_keyring(ledger: Ledger) -> dict[str, bytes]:
    """Every key enrolled anywhere in the ledger, for the workers. Only an optimisation: trust
    (enrolled *before* the entry) is decided in ledger order by the main process, and a key
    this misses (kind column altered) is verified there instead."""
    keyring: dict[str, bytes] = {}
    for (data,) in ledger.conn.execute("SELECT envelope FROM entries WHERE kind = 'enrollment'"):
        try:
            record = validate_body(body(Envelope.from_bytes(bytes(data))))
        except BodycamError:
            continue
        if isinstance(record, Enrollment):
            keyring[record.keyid] = PublicKey.from_b64(record.public_key).raw
    return keyring


def verify_ledger(
    ledger: Ledger,
    trusted_root: PublicKey | None = None,
    workers: int | None = None,
    process_threshold: int = PROCESS_THRESHOLD,
    checkers: dict[str, tuple[Checker, ...]] | None = None,
    origin: str | None = None,
    checkpoints: Sequence[str] = (),
) -> VerifyReport:
    """Check the whole ledger (see the module docstring); never raises for tampering, reports it.

    Every checkpoint must be signed for one origin: ``origin`` when given, else that of the
    ledger's first checkpoint. ``checkpoints`` are signed notes from outside (e.g. the last one
    the archive acknowledged for a dock ledger), checked like the stored ones. Ledgers of
    ``process_threshold`` entries or more are checked by ``workers`` processes
    (default: one per CPU), since Ed25519 verification is CPU-bound. Everything is read in one
    read transaction, so a ledger that is being appended to is checked as one consistent snapshot.
    """
    workers = workers if workers is not None else (os.cpu_count() or 1)
    conn = ledger.conn
    own_snapshot = not conn.in_transaction
    if own_snapshot:
        conn.execute("BEGIN")
    try:
        count = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        if workers > 1 and count >= process_threshold:
            try:
                return _verify(ledger, trusted_root, workers, checkers or CHECKERS, origin, checkpoints)
            except BrokenProcessPool:
                log.warning("verification worker processes failed to start; verifying in this process")
        return _verify(ledger, trusted_root, 1, checkers or CHECKERS, origin, checkpoints)
    finally:
        if own_snapshot:
            conn.execute("ROLLBACK")


def _verify(ledger: Ledger, trusted_root: PublicKey | None, workers: int,
            checkers: dict[str, tuple[Checker, ...]], origin: str | None = None,
            given: Sequence[str] = ()) -> VerifyReport:
    started = time.perf_counter()
    v = _Verifier(ledger, trusted_root, checkers, origin)
    conn = ledger.conn
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for table in APPEND_ONLY_TABLES:
        for op in ("update", "delete"):
            if f"{table}_no_{op}" not in triggers:
                v.problem(None, None, "schema", Message(N_("append-only trigger {trigger} is missing"),
                                                        trigger=f"{table}_no_{op}"))
    stored_cps = ledger.checkpoints()
    given_cps = []
    for note in given:
        try:
            parsed = cp.Checkpoint.from_text(cp.parse_note(note)[0])
        except BodycamError as exc:
            v.problem(None, None, "checkpoint", Message(N_("the given checkpoint: malformed note: {error}"), error=exc))
            continue
        given_cps.append(StoredCheckpoint(0, parsed.size, parsed.root, parsed.origin, note, 0))
    cp_sizes = {c.size for c in [*stored_cps, *given_cps]}
    keyring = _prepass_keyring(ledger)
    cursor = conn.execute("SELECT idx, kind, envelope, entry_hash, leaf_hash FROM entries ORDER BY idx")

    def batches():
        while True:
            rows = cursor.fetchmany(BATCH)
            if not rows:
                return
            yield [(r[0], r[1], bytes(r[2]), r[3], bytes(r[4])) for r in rows]

    def apply(rows: list[tuple], results: list[_RowResult]) -> None:
        for row, res in zip(rows, results, strict=True):
            v.result(res, row[2], cp_sizes)

    if workers > 1:
        # fork is cheap and needs no importable __main__, but is only safe without other threads.
        method = "fork" if threading.active_count() == 1 else "forkserver"
        ctx = multiprocessing.get_context(method)
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(keyring,)) as pool:
            pending: deque[tuple[list, Future]] = deque()
            for rows in batches():
                pending.append((rows, pool.submit(_check_rows, rows)))
                if len(pending) >= 4 * workers:
                    done_rows, fut = pending.popleft()
                    apply(done_rows, fut.result())
            while pending:
                done_rows, fut = pending.popleft()
                apply(done_rows, fut.result())
    else:
        _init_worker(keyring)
        for rows in batches():
            apply(rows, _check_rows(rows))
    size = v.report.entries_checked
    v.report.size = size
    v.report.root = v.frontier_root().hex()
    v.check_tree(size)
    v.check_checkpoints(stored_cps, size, given_cps)
    v.report.problems.sort(key=lambda p: (p.idx is None, p.idx if p.idx is not None else 0))
    v.report.elapsed_s = time.perf_counter() - started
    return v.report
