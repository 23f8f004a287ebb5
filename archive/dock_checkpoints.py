"""Each dock's checkpoints at the archive: a dock ledger may only grow (issue 11, hole 3).

A dock signs checkpoints of its own ledger (origin ``bodycam/<dock>``, its dock key) after every
docking, justification and approval, and on a timer; its uploader sends the latest with every
sync (``ckpt`` messages, :class:`syncd.protocol.CheckpointMessage`). Here the archive:

* checks the note's signature by the dock key registered here (``bodycam archive dock add``);
* keeps its own copy of the dock's tree: every leaf (entry hash and RFC 9162 leaf hash) up to the
  checkpoint it acknowledged last, and that tree's frontier. A new checkpoint is accepted only if
  the leaves the dock sends, appended to that tree, give exactly the signed root: the leaves are
  the consistency proof from the acknowledged checkpoint to the new one. A checkpoint of a smaller
  tree, another root at the same size, or leaves that do not give its root mean the dock ledger
  shrank, was rewritten or forked: the checkpoint is kept with its reason, logged as an ERROR and
  answered ``inconsistent``; the acknowledged one stays the base, and the dock is shown as
  inconsistent (``bodycam archive dock list``) until a consistent checkpoint arrives;
* reports the entries the acknowledged checkpoint covers that have not arrived (the dock's entry
  0, its self-signed root, excepted: the admin's ``dock`` enrollment stands for it). An entry has
  arrived when the archive ledger holds its entry hash with the same leaf hash. When the dock says
  it has delivered everything (``complete``) and some are still missing, they never arrived: that
  is logged as an ERROR and answered to the dock.

Kept in the receiver's state database (``[archive] state_db``), in tables of their own; the dock's
signed notes are kept verbatim, so each verdict can be checked again from them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bodycam.errors import BodycamError, FormatError, VerificationError
from bodycam.i18n import _
from bodycam.statedb import connect_state
from ledger import checkpoint as cp
from ledger import merkle
from ledger.keys import PublicKey, Signer
from ledger.store import Ledger
from syncd import protocol as p

log = logging.getLogger(__name__)

ACCEPTED, INCONSISTENT = "accepted", "inconsistent"

SCHEMA = """
CREATE TABLE IF NOT EXISTS dock_checkpoints (
    id INTEGER PRIMARY KEY, dock TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', received_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dock_checkpoints_by_dock ON dock_checkpoints (dock, id);
CREATE TABLE IF NOT EXISTS dock_trees (
    dock TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, frontier BLOB NOT NULL,
    note TEXT NOT NULL, accepted_ns INTEGER NOT NULL, complete_ns INTEGER);
CREATE TABLE IF NOT EXISTS dock_leaves (
    dock TEXT NOT NULL, idx INTEGER NOT NULL, entry_hash TEXT NOT NULL, leaf BLOB NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0, arrived INTEGER,
    PRIMARY KEY (dock, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dock_leaves_not_arrived ON dock_leaves (dock, idx) WHERE arrived IS NULL;
"""
NOT_COPIED = -1
"""``arrived`` of the dock's entry 0: its self-signed root never travels."""


@dataclass(frozen=True)
class DockTree:
    """The dock's tree as of the checkpoint the archive acknowledged last."""

    size: int
    root: bytes
    frontier: list[tuple[int, bytes]]
    note: str
    accepted_ns: int
    complete_ns: int | None


@dataclass(frozen=True)
class Verdict:
    status: p.CheckpointStatus
    next: int
    reason: str = ""


def _fold(frontier: Sequence[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    h = frontier[-1][1]
    for _size, left in reversed(frontier[:-1]):
        h = merkle.node_hash(left, h)
    return h


def _extend(frontier: list[tuple[int, bytes]], leaves: Sequence[bytes]) -> list[tuple[int, bytes]]:
    out = list(frontier)
    for leaf in leaves:
        h, level = leaf, 0
        while out and out[-1][0] == level:
            h = merkle.node_hash(out.pop()[1], h)
            level += 1
        out.append((level, h))
    return out


class DockCheckpoints:
    """The ``dock_*`` tables of the receiver's state database (one connection, one lock)."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        try:
            self._conn = connect_state(self.path, readonly=readonly, schema=SCHEMA)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise BodycamError(_("{path}: cannot open the docks' checkpoints: {error}").format(path=path, error=exc)
                               ) from None
        self._lock = threading.Lock()
        self.readonly = readonly

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _has_tables(self) -> bool:
        return self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'dock_trees'").fetchone() is not None

    # -- reading -----------------------------------------------------------------------------------

    def tree(self, dock: str) -> DockTree | None:
        with self._lock:
            if self.readonly and not self._has_tables():
                return None
            r = self._conn.execute("SELECT size, root, frontier, note, accepted_ns, complete_ns FROM dock_trees "
                                   "WHERE dock = ?", (dock,)).fetchone()
        if r is None:
            return None
        raw = bytes(r[2])
        levels = [level for level, _ in merkle.perfect_subtrees(r[0])]
        frontier = [(level, raw[32 * i:32 * i + 32]) for i, level in enumerate(levels)]
        return DockTree(r[0], bytes(r[1]), frontier, r[3], r[4], r[5])

    def history(self, dock: str) -> list[dict]:
        with self._lock:
            if self.readonly and not self._has_tables():
                return []
            rows = self._conn.execute("SELECT id, size, root, note, status, reason, received_ns FROM "
                                      "dock_checkpoints WHERE dock = ? ORDER BY id", (dock,)).fetchall()
        return [{"id": r[0], "size": r[1], "root": bytes(r[2]).hex(), "note": r[3], "status": r[4], "reason": r[5],
                 "received_ns": r[6]} for r in rows]

    def missing(self, dock: str, ledger: Ledger) -> list[tuple[int, str]]:
        """Entries the acknowledged checkpoint covers that the archive ledger does not hold
        (``(dock index, entry hash)``), noting those that arrived since the last look."""
        with self._lock:
            if self.readonly and not self._has_tables():
                return []
            rows = self._conn.execute("SELECT idx, entry_hash, leaf FROM dock_leaves WHERE dock = ? AND verified = 1 "
                                      "AND arrived IS NULL ORDER BY idx", (dock,)).fetchall()
        out, arrived = [], []
        for idx, entry_hash, leaf in rows:
            row = ledger.conn.execute("SELECT idx, leaf_hash FROM entries WHERE entry_hash = ?",
                                      (entry_hash,)).fetchone()
            if row is not None and bytes(row[1]) == bytes(leaf):
                arrived.append((row[0], dock, idx))
            else:
                out.append((idx, entry_hash))
        if arrived and not self.readonly:
            with self._lock:
                self._conn.executemany("UPDATE dock_leaves SET arrived = ? WHERE dock = ? AND idx = ?", arrived)
        return out

    def summary(self, dock: str, ledger: Ledger) -> dict:
        """What ``bodycam archive dock list`` shows of a dock's checkpoints."""
        tree = self.tree(dock)
        history = self.history(dock)
        last = history[-1] if history else None
        missing = self.missing(dock, ledger) if tree is not None else []
        return {
            "size": tree.size if tree else None,
            "root": tree.root.hex() if tree else None,
            "note": tree.note if tree else None,
            "acknowledged_ns": tree.accepted_ns if tree else None,
            "consistent": last is None or last["status"] != INCONSISTENT,
            "inconsistent_checkpoints": sum(1 for h in history if h["status"] == INCONSISTENT),
            "last_problem": next((h["reason"] for h in reversed(history) if h["status"] == INCONSISTENT), None),
            "missing": len(missing),
            "missing_entries": [{"idx": i, "entry_hash": h} for i, h in missing[:p.MAX_MISSING_LISTED]],
            "complete_reported_ns": tree.complete_ns if tree else None,
        }

    # -- a dock's ``ckpt`` message -----------------------------------------------------------------

    def answer(self, dock: str, item: str, payload: bytes, *, keys: Sequence[PublicKey], ledger: Ledger,
               log_key: Signer, now_ns: int | None = None) -> p.Ack:
        """The ack for one ``ckpt`` message from ``dock`` (``keys``: its registered dock keys).
        Never raises for what the dock sent: a malformed or foreign message is ``rejected``."""
        now = time.time_ns() if now_ns is None else now_ns
        try:
            msg = p.decode_dock_message(p.ckpt_topic(dock, item), payload).body
            assert isinstance(msg, p.CheckpointMessage)
            checkpoint = self._verify_note(dock, msg.note, keys)
            verdict = self._receive(dock, msg, checkpoint, now)
        except p.ProtocolError as exc:
            log.warning("rejected checkpoint %s from %s: %s", item[:16], dock, exc)
            return p.Rejected(p.Subject.ckpt, item, exc.code, exc.reason)
        tree = self.tree(dock)
        missing = self.missing(dock, ledger) if tree is not None else []
        if msg.complete and missing and verdict.status is p.CheckpointStatus.accepted and tree is not None:
            log.error("dock %s reports everything delivered, but its checkpoint at size %d covers %d entr%s that "
                      "never arrived: %s", dock, tree.size, len(missing), "y" if len(missing) == 1 else "ies",
                      ", ".join(f"{i}:{h[:16]}…" for i, h in missing[:p.MAX_MISSING_LISTED]))
            with self._lock:
                self._conn.execute("UPDATE dock_trees SET complete_ns = ? WHERE dock = ?", (now, dock))
        body = p.CheckpointVerdict(dock=dock, id=item, status=verdict.status, next=verdict.next,
                                   acknowledged=tree.note if tree else "", missing=len(missing),
                                   missing_entries=tuple(h for _, h in missing[:p.MAX_MISSING_LISTED]),
                                   reason=verdict.reason[:p.MAX_REASON_CHARS], at_ns=now)
        return p.CheckpointAck(p.Subject.ckpt, item, p.sign_checkpoint_verdict(body, log_key))

    @staticmethod
    def _verify_note(dock: str, note: str, keys: Sequence[PublicKey]) -> cp.Checkpoint:
        if not keys:
            raise p.ProtocolError(p.RejectCode.unknown_dock, f"dock {dock} has no registered key here")
        origin = cp.dock_origin(dock)
        problem = "no key"
        for pub in keys:
            try:
                return cp.verify_checkpoint(note, pub, origins=[origin])
            except (VerificationError, FormatError) as exc:
                problem = str(exc)
        raise p.ProtocolError(p.RejectCode.bad_signature,
                              f"checkpoint is not signed by dock {dock}'s registered key for {origin}: {problem}")

    def _record(self, dock: str, checkpoint: cp.Checkpoint, note: str, status: str, reason: str, now: int) -> None:
        last = self._conn.execute("SELECT note, status FROM dock_checkpoints WHERE dock = ? ORDER BY id DESC LIMIT 1",
                                  (dock,)).fetchone()
        if last is not None and tuple(last) == (note, status):
            return  # the same checkpoint again (a dock retrying): one row
        self._conn.execute("INSERT INTO dock_checkpoints (dock, size, root, note, status, reason, received_ns) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (dock, checkpoint.size, checkpoint.root, note, status, reason, now))

    def _inconsistent(self, dock: str, checkpoint: cp.Checkpoint, note: str, reason: str, now: int,
                      next_leaf: int) -> Verdict:
        log.error("dock %s: INCONSISTENT checkpoint at size %d: %s", dock, checkpoint.size, reason)
        self._conn.execute("DELETE FROM dock_leaves WHERE dock = ? AND verified = 0", (dock,))
        self._record(dock, checkpoint, note, INCONSISTENT, reason, now)
        return Verdict(p.CheckpointStatus.inconsistent, next_leaf, reason)

    def _receive(self, dock: str, msg: p.CheckpointMessage, checkpoint: cp.Checkpoint, now: int) -> Verdict:
        tree = self.tree(dock)
        m = tree.size if tree else 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                verdict = self._receive_locked(dock, msg, checkpoint, tree, m, now)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return verdict

    def _receive_locked(self, dock: str, msg: p.CheckpointMessage, checkpoint: cp.Checkpoint,
                        tree: DockTree | None, m: int, now: int) -> Verdict:
        n = checkpoint.size
        if tree is not None and n < m:
            return self._inconsistent(
                dock, checkpoint, msg.note, f"the dock's latest checkpoint covers {n} entries, fewer than the {m} "
                f"of the checkpoint it sent before: the dock ledger lost entries (rewritten or restored from an "
                f"older copy)", now, m)
        if tree is not None and n == m:
            if checkpoint.root != tree.root:
                return self._inconsistent(
                    dock, checkpoint, msg.note, f"another root at the size {m} the archive acknowledged: the dock "
                    f"ledger was rewritten", now, m)
            return Verdict(p.CheckpointStatus.accepted, m)
        pending = [(r[0], r[1], bytes(r[2])) for r in self._conn.execute(
            "SELECT idx, entry_hash, leaf FROM dock_leaves WHERE dock = ? AND verified = 0 AND idx >= ? ORDER BY idx",
            (dock, m))]
        if any(idx != m + k for k, (idx, _, _) in enumerate(pending)):  # not contiguous: start over
            self._conn.execute("DELETE FROM dock_leaves WHERE dock = ? AND verified = 0", (dock,))
            pending = []
        have = m + len(pending)
        if have < n and msg.start == have and msg.leaves:
            take = msg.leaves[: n - have]
            self._conn.executemany(
                "INSERT OR REPLACE INTO dock_leaves (dock, idx, entry_hash, leaf, verified) VALUES (?, ?, ?, ?, 0)",
                [(dock, have + k, h, leaf) for k, (h, leaf) in enumerate(take)])
            pending += [(have + k, h, leaf) for k, (h, leaf) in enumerate(take)]
            have += len(take)
        if have < n:
            return Verdict(p.CheckpointStatus.more, have)
        leaves = [leaf for _, _, leaf in pending[: n - m]]
        frontier = _extend(tree.frontier if tree else [], leaves)
        if _fold(frontier) != checkpoint.root:
            base = f"the checkpoint of size {m} the archive acknowledged" if tree else "an empty tree"
            return self._inconsistent(
                dock, checkpoint, msg.note, f"the dock ledger's entries {m}..{n - 1} do not give the signed root "
                f"of size {n}: not an extension of {base}; the dock ledger was rewritten or forked", now, m)
        self._conn.execute("UPDATE dock_leaves SET verified = 1 WHERE dock = ? AND verified = 0 AND idx < ?",
                           (dock, n))
        self._conn.execute("DELETE FROM dock_leaves WHERE dock = ? AND verified = 0", (dock,))
        self._conn.execute("UPDATE dock_leaves SET arrived = ? WHERE dock = ? AND idx = 0", (NOT_COPIED, dock))
        self._conn.execute(
            "INSERT INTO dock_trees (dock, size, root, frontier, note, accepted_ns) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (dock) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "frontier = excluded.frontier, note = excluded.note, accepted_ns = excluded.accepted_ns",
            (dock, n, checkpoint.root, b"".join(h for _, h in frontier), msg.note, now))
        self._record(dock, checkpoint, msg.note, ACCEPTED, "", now)
        log.info("%s", _("dock {dock}: checkpoint at size {size} accepted (consistent with size {previous})").format(
            dock=dock, size=n, previous=m))
        return Verdict(p.CheckpointStatus.accepted, n)


def dock_keys(trust, ledger: Ledger, dock: str) -> list[PublicKey]:
    """The public keys registered for ``dock`` (its ``dock`` enrollments at the archive)."""
    keyring = ledger.keyring()
    return [keyring[k.keyid] for k in trust.docks().get(dock, []) if k.keyid in keyring]
