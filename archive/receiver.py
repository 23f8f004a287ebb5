"""``bodycam archive serve``: receive docks' segments and records, verify, store, ledger, acknowledge.

The archive is the only party whose word counts for delivery (a broker PUBACK is one hop): it
says ``stored`` for a chunk only once the bytes are flushed to the part file, and ``committed``
only once the blob is fsynced under its hash and the record is in the archive ledger (SQLite with
``synchronous=FULL``), signed by its log key with the ledger index and a checkpoint covering it
(A2 Art.16 custody; A2 Art.8: nothing altered, nothing lost).

What it checks before accepting anything from dock D (topic ``bodycam/v1/D/...``):

* D is registered (its key enrolled by the archive's admin, see :mod:`archive.docks`);
* every signer of the envelope is enrolled here and belongs to D (or to the archive), so D can
  deliver neither unknown keys nor another dock's records;
* a segment is signed by its device's enrolled key, continues that device's chain (``seq`` + 1,
  ``prev`` = previous segment, the enrollment for ``seq`` 0) and does not fork it; a segment whose
  predecessor has not arrived yet is refused with the retryable ``dependency`` code;
* a file's size and SHA-256 are those the envelope names (media of a segment, thumbnail, or an
  attachment such as a signature image), each chunk matches its own SHA-256.

Idempotent throughout: a blob is stored once per content hash, an entry once per envelope hash,
and asking again (``init``, ``fin`` or ``rec`` for something committed) returns a fresh
``committed``.

Threads: paho's network thread runs :meth:`Receiver.handle` (one message at a time, so the
protocol logic needs no locks of its own); one flusher thread writes the verified chunks
into their part files, extends each file's running SHA-256, and groups the flushes (fdatasync,
then the state rows, then the ``stored`` acks), so many chunks share one disk flush and the
network thread is never held up by the disk.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from archive.blobs import BlobStore, PartFile
from archive.config import ArchiveConfig
from archive.dock_checkpoints import DockCheckpoints, dock_keys
from archive.docks import ARCHIVE, Trust
from archive.transfers import TransferState, drop_transfer, over_quota
from bodycam import i18n
from bodycam.errors import BodycamError, FormatError, RefusedError, VerificationError
from bodycam.formats import duration, human_bytes
from bodycam.i18n import _
from ledger import checkpoint as cp
from ledger.checks.custody import (
    Link,
    chain_head,
    custody_of,
    enrollment_custody_problems,
    handover_problems,
    next_link,
)
from ledger.envelope import Envelope, body, verify_signatures
from ledger.keys import Signer
from ledger.records import Enrollment, Handover, Segment, attachment_hashes, validate_body
from ledger.store import Entry, Ledger
from ledger.trust import reenrollment_problem
from syncd import protocol as p
from syncd.mqtt import MqttClient, MqttError, Received, tune_allocator

log = logging.getLogger(__name__)

CONTACT_FLUSH_S = 2.0
PENDING_MAX_BYTES = 64 << 20
"""Chunks received but not yet written and flushed, across all docks (back-pressure beyond)."""


def named_blobs(record: dict) -> dict[str, int | None]:
    """The files a record names besides itself, with their size when the record states it:
    a segment's media (and thumbnail), a justification's signature image. These, and only these,
    may travel as file transfers carrying the record's envelope."""
    out: dict[str, int | None] = {}
    if record.get("kind") == "segment":
        media = record.get("media") or {}
        if isinstance(media.get("sha256"), str):
            out[media["sha256"]] = media.get("size")
        if isinstance(record.get("thumbnail_sha256"), str):
            out.setdefault(record["thumbnail_sha256"], None)
    for sha in attachment_hashes(record):
        out.setdefault(sha, None)
    return out


def _reject(code: p.RejectCode, reason: str) -> p.ProtocolError:
    return p.ProtocolError(code, reason)


@dataclass
class _Transfer:
    dock: str
    init: p.Init
    part: PartFile | None
    durable: set[int] = field(default_factory=set)
    written: set[int] = field(default_factory=set)
    hasher: object | None = None
    """The running SHA-256 of the file while its chunks have arrived in order from chunk 0 in
    this process (None: resumed from stored chunks, ``fin`` re-reads the part file)."""
    hash_next: int = 0
    """Chunks fed to ``hasher`` (on the flusher thread)."""
    feed_next: int = 0
    """The chunk that, arriving next, continues the in-order run (on the receiving thread):
    it is written and fed to ``hasher`` without a SHA-256 of its own."""

    @property
    def file_id(self) -> str:
        return self.init.file_id


@dataclass
class ReceiverStats:
    chunks: int = 0
    duplicates: int = 0
    commits: int = 0
    rejections: int = 0
    bytes: int = 0


class Receiver:
    """The archive's receiving daemon; ``run()`` until ``stop_event`` is set (SIGTERM)."""

    def __init__(self, cfg: ArchiveConfig, log_key: Signer, *, stop_event: threading.Event | None = None,
                 clock: Callable[[], int] = time.time_ns):
        self.cfg = cfg
        self.log_key = log_key
        self.stop_event = stop_event or threading.Event()
        self.clock = clock
        self.stats = ReceiverStats()
        tune_allocator()
        self.ledger = Ledger.open(cfg.path(cfg.ledger), create=False, clock=clock)
        # A ``committed`` ack is a promise: the entry must survive a power cut once it is sent.
        self.ledger.conn.execute("PRAGMA synchronous=FULL")
        enrolled = self.ledger.enrollment(log_key.keyid)
        if enrolled is None or enrolled.subject_type != "archive_log":
            raise RefusedError(_("{path}: the log key {keyid}… is not enrolled as archive_log; run `bodycam init "
                                 "--role archive` or fix archive.log_key").format(path=self.ledger.path,
                                                                                   keyid=log_key.keyid[:16]))
        if self.ledger.origin not in (None, cfg.origin):
            raise RefusedError(_("{path}: this log's checkpoints are signed under the origin {origin!r} but "
                                 "[archive] origin is {configured!r}; one log has one origin: set [archive] origin = "
                                 "{origin!r}").format(path=self.ledger.path, origin=self.ledger.origin,
                                                      configured=cfg.origin))
        self.trust = Trust.load(self.ledger)
        self.blobs = BlobStore(cfg.path(cfg.blob_dir), cfg.path(cfg.part_dir))
        self.state = TransferState(cfg.path(cfg.state_db), clock=clock, max_rejections=cfg.max_rejections)
        self.dock_checkpoints = DockCheckpoints(cfg.path(cfg.state_db))
        self.transfers: dict[tuple[str, str], _Transfer] = {}
        self._cond = threading.Condition()
        self._pending: list[tuple[_Transfer, int, bytes, bool]] = []
        self._pending_bytes = 0
        self._busy = False
        self._closing = False
        self._contacts: dict[str, tuple[int, int]] = {}
        last = self.ledger.latest_checkpoint()
        self._cp_size = last.size if last else 0
        self._cp_ns = last.created_ns if last else 0
        self.client: MqttClient | None = None
        self._flusher = threading.Thread(target=self._flush_loop, name="archive-flush", daemon=True)
        # handle() and the idle sweep of the main loop never run at once
        self._handling = threading.RLock()
        self._recover()
        self.expire_idle()

    # -- start-up ----------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Part files without an open transfer are leftovers of a crash after their commit."""
        for path in self.blobs.parts():
            dock, file_id = path.parent.name, path.stem
            row = self.state.get(dock, file_id)
            if row is None or row.status != "open":
                log.info("%s", _("removing leftover part file {path}").format(path=path))
                path.unlink(missing_ok=True)

    def start(self) -> None:
        """Connect (retrying until stopped) and subscribe to every dock's transfers and records."""
        self._flusher.start()
        broker = self.cfg.broker
        self.client = MqttClient(broker, broker.client_id or broker.username or "archive", on_message=self.handle)
        delay = 1.0
        # what `archive serve` says by default (its status lines): in the reader's language
        log.info("%s", _("connecting to broker {host}:{port}").format(host=broker.host, port=broker.port))
        while not self.stop_event.is_set():
            try:
                self.client.connect()
                self.client.subscribe(list(p.ARCHIVE_SUBSCRIPTIONS))
                log.info("%s", _("archive receiver listening on {host}:{port} for the docks' records and files").format(
                    host=broker.host, port=broker.port))
                return
            except MqttError as exc:  # one plain sentence: "broker …:8883 unreachable (connection refused)"
                log.warning("%s", _("{error}; retrying in {wait}").format(error=i18n.tr(exc), wait=duration(delay)))
                if self.stop_event.wait(delay):
                    return
                delay = min(delay * 2, 30.0)

    def run(self) -> None:
        self.start()
        try:
            while not self.stop_event.wait(CONTACT_FLUSH_S):
                self._flush_contacts()
                self.expire_idle()
        finally:
            self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._flusher.is_alive():
            self._flusher.join(10)
        self._flush_contacts()
        for tr in self.transfers.values():
            if tr.part is not None:
                tr.part.close()
        self.transfers.clear()
        self.state.close()
        self.dock_checkpoints.close()
        self.ledger.close()

    # -- replies -----------------------------------------------------------------------------------

    def _reply(self, dock: str, ack: p.Ack) -> None:
        payload, corr = p.encode_ack(ack)
        if self.client is None:
            return
        try:
            self.client.publish(p.ack_topic(dock), payload, correlation=corr)
        except MqttError as exc:
            # The dock times out and sends ``init`` again; nothing is lost.
            log.warning("ack to %s not sent: %s", dock, exc)

    def _rejected(self, dock: str, subject: p.Subject, item: str, err: p.ProtocolError,
                  index: int | None = None) -> None:
        self.stats.rejections += 1
        if index is None:
            log.warning("rejected %s %s from %s: %s", subject.value, item[:16], dock, err)
            self.state.reject(dock, subject.value, item, err.code.value, err.reason)
        self._reply(dock, p.Rejected(subject, item, err.code, err.reason, index))

    def _proof(self, dock: str, subject: p.Subject, item: str, entry: Entry) -> p.Committed:
        """A ``committed`` ack: the log key vouches for the entry and a checkpoint covering it.
        The checkpoint is stored in the ledger every ``checkpoint_every`` entries or
        ``checkpoint_interval_s`` seconds; in between the ack carries a signed note of the current
        tree that is not stored (the tree it names is, and any later checkpoint is consistent
        with it)."""
        now = self.clock()
        size = self.ledger.size
        due = (size - self._cp_size >= self.cfg.checkpoint_every
               or now - self._cp_ns >= self.cfg.checkpoint_interval_s * 1_000_000_000)
        if due:
            note = self.ledger.checkpoint(self.log_key, self.cfg.origin)
            self._cp_size, self._cp_ns = size, now
        else:
            note = cp.sign_checkpoint(cp.Checkpoint(self.cfg.origin, size, self.ledger.root(size)), self.log_key,
                                      self.cfg.origin)
        proof = p.CommitProof(dock=dock, subject=subject, id=item, entry_hash=entry.entry_hash,
                              ledger_index=entry.idx, checkpoint=note, committed_ns=now)
        return p.Committed(subject, item, p.sign_commit(proof, self.log_key))

    # -- the message handler (paho's thread) -------------------------------------------------------

    def handle(self, msg: Received) -> None:
        with self._handling:
            self._handle(msg)

    def _handle(self, msg: Received) -> None:
        try:
            topic = p.parse_topic(msg.topic)
        except p.ProtocolError as exc:
            log.warning("ignoring message on %r: %s", msg.topic[:120], exc)
            return
        dock = topic.dock
        if topic.kind is p.TopicKind.ack:
            return
        now = self.clock()
        last = self._contacts.get(dock, (0, 0))
        self._contacts[dock] = (now, last[1] + 1)
        if topic.kind is p.TopicKind.ckpt:  # the dock's own signed checkpoint (archive.dock_checkpoints)
            assert topic.checkpoint_id is not None
            self._reply(dock, self.dock_checkpoints.answer(
                dock, topic.checkpoint_id, msg.payload, keys=dock_keys(self.trust, self.ledger, dock),
                ledger=self.ledger, log_key=self.log_key, now_ns=now))
            return
        subject = p.Subject.rec if topic.kind is p.TopicKind.rec else p.Subject.xfer
        item = topic.entry_hash if subject is p.Subject.rec else topic.file_id
        assert item is not None
        # Revocations are appended by `archive dock revoke` from another process: read them (and
        # enrollments) before deciding, so a revoked dock's next message is already refused.
        self.trust.refresh(self.ledger)
        if not self.trust.is_dock(dock):
            self._rejected(dock, subject, item, _reject(
                p.RejectCode.unknown_dock, f"dock {dock} is not registered at the archive; an archivist runs "
                                           f"`bodycam archive dock add {dock} --pubkey <its dock key>`"))
            return
        try:
            incoming = p.decode_dock_message(msg.topic, msg.payload, msg.user_properties)
        except p.ProtocolError as exc:
            index = topic.index if topic.kind is p.TopicKind.seg and exc.code in (
                p.RejectCode.bad_chunk, p.RejectCode.chunk_hash, p.RejectCode.bad_index) else None
            self._rejected(dock, subject, item, exc, index)
            return
        b = incoming.body
        try:
            if isinstance(b, p.Chunk):
                self._on_chunk(dock, item, b)
            elif isinstance(b, p.Init):
                self._on_init(dock, item, b)
            elif isinstance(b, p.Fin):
                self._on_fin(dock, item, b)
            elif isinstance(b, p.Abort):
                self._on_abort(dock, item, b)
            elif isinstance(b, p.Record):
                self._on_record(dock, item, b)
        except p.ProtocolError as exc:
            index = topic.index if isinstance(b, p.Chunk) and exc.code in (
                p.RejectCode.bad_chunk, p.RejectCode.chunk_hash, p.RejectCode.bad_index) else None
            self._rejected(dock, subject, item, exc, index)
        except OSError as exc:
            log.exception("archive storage failed for %s %s", subject.value, item[:16])
            self._rejected(dock, subject, item, _reject(p.RejectCode.internal,
                                                        f"archive storage error ({exc.strerror}); retry later"))
        except BodycamError as exc:
            log.exception("archive could not process %s %s", subject.value, item[:16])
            self._rejected(dock, subject, item, _reject(p.RejectCode.internal, f"archive error: {exc}; retry later"))

    # -- records -----------------------------------------------------------------------------------

    def _parse(self, envelope: bytes) -> tuple[Envelope, dict]:
        try:
            env = Envelope.from_bytes(envelope)
            data = body(env)
            validate_body(data)
        except FormatError as exc:
            raise _reject(p.RejectCode.bad_envelope, f"not a valid signed record: {exc}") from None
        return env, data

    def _check_owner(self, dock: str, env: Envelope) -> None:
        signers = env.keyids
        known = [k for k in signers if k in self.trust.keys]
        unknown = [k for k in signers if k not in self.trust.keys]
        if not known:
            raise _reject(p.RejectCode.unknown_key,
                          f"signed by key {signers[0][:16]}… which is not enrolled at the archive: enroll the "
                          f"device or person at dock {dock} (and let that enrollment sync) or correct the record")
        owners = {self.trust.owner(k) for k in known}
        foreign = sorted(o for o in owners if o not in (dock, ARCHIVE) and o is not None)
        if foreign or dock not in owners:
            raise _reject(p.RejectCode.dock_mismatch,
                          f"signed by keys of {', '.join(foreign) or 'the archive'}, not of dock {dock}: a dock "
                          "may only deliver records rooted in its own dock key")
        if unknown:
            raise _reject(p.RejectCode.unknown_key,
                          f"also signed by key {unknown[0][:16]}… which is not enrolled at the archive")

    def _check_record(self, dock: str, envelope: bytes, blob: tuple[str, int] | None) -> tuple[Envelope, dict]:
        """Everything that can be decided before the bytes arrive (also run at ``init``)."""
        env, data = self._parse(envelope)
        self._check_owner(dock, env)
        if data["kind"] == "enrollment" and data.get("subject_type") in ("ledger_root", "dock", "archive_log"):
            raise _reject(p.RejectCode.bad_envelope,
                          f"a dock does not deliver {data['subject_type']} enrollments: the archive's own "
                          "`dock add` enrollment stands for the dock's ledger root")
        try:
            verify_signatures(env, self.trust_keyring())
        except VerificationError as exc:
            raise _reject(p.RejectCode.bad_signature, str(exc)) from None
        if blob is not None:
            sha, size = blob
            named = named_blobs(data)
            if sha not in named:
                raise _reject(p.RejectCode.file_hash,
                              f"the record ({data['kind']}) does not name a file with sha256 {sha[:16]}…")
            if named[sha] is not None and named[sha] != size:
                raise _reject(p.RejectCode.file_size,
                              f"the record names {named[sha]} bytes for this file, the transfer {size}")
        elif data["kind"] == "segment":
            raise _reject(p.RejectCode.bad_message, "a segment travels with its footage as a file transfer, "
                                                    "not as a bare record")
        return env, data

    def trust_keyring(self):
        return self.ledger.keyring()

    def _check_chain(self, dock: str, env: Envelope, data: dict, entry_hash: str) -> None:
        seg = validate_body(data)
        assert isinstance(seg, Segment)
        dev = self.trust.devices.get(seg.device_id)
        if dev is None or dev.keyid not in env.keyids:
            raise _reject(p.RejectCode.bad_signature,
                          f"segment of device {seg.device_id} is not signed by that device's enrolled key")
        if dev.owner != dock:
            raise _reject(p.RejectCode.dock_mismatch, f"device {seg.device_id} belongs to dock {dev.owner}")
        held = custody_of(self.ledger, seg.device_id)
        if held is not None and held.handover is not None:
            raise _reject(p.RejectCode.chain, f"segment of {seg.device_id} after its hand-over to "
                                              f"{held.handover.to_dock}: the chain of key {dev.keyid[:16]}… ended")
        # The one chain rule (ledger.checks.custody), applied to this ledger's head of the chain.
        for link, message in next_link(seg.device_id, seg.seq, seg.prev, chain_head(self.ledger, seg.device_id)):
            if link is Link.missing:
                raise _reject(p.RejectCode.dependency, f"{message}; it is sent again after its predecessors")
            if link is Link.no_enrollment:
                raise _reject(p.RejectCode.bad_signature, message)
            raise _reject(p.RejectCode.chain, message)

    def _admit(self, dock: str, envelope: bytes, blob: tuple[str, int] | None) -> Entry:
        """Verify a record completely and append it (or find it appended already)."""
        entry_hash = p.envelope_hash(envelope)
        env, data = self._check_record(dock, envelope, blob)
        existing = self.ledger.by_hash(entry_hash)
        if existing is not None:
            return existing
        if data["kind"] == "segment":
            self._check_chain(dock, env, data, entry_hash)
        if data["kind"] == "enrollment":
            rec = validate_body(data)
            assert isinstance(rec, Enrollment)
            problem = reenrollment_problem(rec.keyid, self.ledger.key_record(rec.keyid))
            if problem:
                raise _reject(p.RejectCode.key_reused, problem)
            if rec.subject_type == "device":
                problems = enrollment_custody_problems(rec.subject_id, dock, custody_of(self.ledger, rec.subject_id))
                if problems:
                    raise _reject(p.RejectCode.not_owner, problems[0])
        if data["kind"] == "handover":
            rec = validate_body(data)
            assert isinstance(rec, Handover)
            problems = handover_problems(rec, {dock}, False, custody_of(self.ledger, rec.device_id),
                                         chain_head(self.ledger, rec.device_id))
            if problems:
                raise _reject(p.RejectCode.not_owner, "; ".join(problems))
        try:
            entry = self.ledger.append(envelope, received_ns=self.clock(), require_trusted=True)
        except RefusedError as exc:
            raise _reject(p.RejectCode.bad_signature, str(exc)) from None
        except FormatError as exc:
            raise _reject(p.RejectCode.bad_envelope, str(exc)) from None
        if entry.kind == "enrollment":
            self.trust.add(entry)
        self.stats.commits += 1
        if blob:
            log.info("%s", _("committed {kind} {entry}… from {dock} at ledger index {idx} (file {file}…, "
                             "{size})").format(kind=entry.kind, entry=entry_hash[:16], dock=dock, idx=entry.idx,
                                               file=blob[0][:16], size=human_bytes(blob[1])))
        else:
            log.info("%s", _("committed {kind} {entry}… from {dock} at ledger index {idx}").format(
                kind=entry.kind, entry=entry_hash[:16], dock=dock, idx=entry.idx))
        return entry

    def _on_record(self, dock: str, entry_hash: str, rec: p.Record) -> None:
        log.debug("received record %s… from %s", entry_hash[:16], dock)
        entry = self._admit(dock, rec.envelope, None)
        self._reply(dock, self._proof(dock, p.Subject.rec, entry_hash, entry))

    # -- file transfers ----------------------------------------------------------------------------

    def _transfer(self, dock: str, file_id: str) -> _Transfer | None:
        tr = self.transfers.get((dock, file_id))
        if tr is not None:
            return tr
        row = self.state.get(dock, file_id)
        if row is None or row.status != "open":
            return None
        init = p.Init(row.size, row.chunk_size, row.sha256, row.envelope)
        part = None if self.blobs.has(row.sha256) else self.blobs.open_part(dock, file_id, row.size)
        tr = _Transfer(dock, init, part, durable=self.state.stored(dock, file_id))
        if not tr.durable:
            tr.hasher = hashlib.sha256()
        self.transfers[(dock, file_id)] = tr
        return tr

    def _end(self, tr: _Transfer, status: str, *, entry_hash: str | None = None,
             err: p.ProtocolError | None = None) -> None:
        self._drain()
        if tr.part is not None:
            tr.part.close()
            if status != "committed":
                tr.part.path.unlink(missing_ok=True)
        self.transfers.pop((tr.dock, tr.file_id), None)
        self.state.finish(tr.dock, tr.file_id, status, entry_hash=entry_hash,
                          code=err.code.value if err else None, reason=err.reason if err else None)

    def _on_init(self, dock: str, file_id: str, init: p.Init) -> None:
        if init.size > self.cfg.max_file_size:
            raise _reject(p.RejectCode.too_large, f"{init.size} bytes exceed the archive's max_file_size "
                                                  f"({self.cfg.max_file_size})")
        self._check_record(dock, init.envelope, (init.sha256, init.size))
        existing = self.ledger.by_hash(p.envelope_hash(init.envelope))
        if existing is not None and self.blobs.has(init.sha256):
            tr = self._transfer(dock, file_id)
            if tr is not None:
                self._end(tr, "committed", entry_hash=existing.entry_hash)
            self._reply(dock, self._proof(dock, p.Subject.xfer, file_id, existing))
            return
        row = self.state.get(dock, file_id)
        if row is not None and row.status == "open" and (row.size, row.chunk_size) != (init.size, init.chunk_size):
            self._end(self._transfer(dock, file_id), "reset")
            row = None
        if row is None or row.status != "open":
            self._forget(dock, file_id)  # dropped by `archive transfers drop` while cached here
            self._check_quota(dock, file_id, init.size)
            log.info("%s", _("receiving file {file}… ({size}, {chunks} chunks) from {dock}").format(
                file=init.sha256[:16], size=human_bytes(init.size), chunks=init.chunks, dock=dock))
        # opens it, or (the same init again: a resume) keeps its chunks and counts as activity
        self.state.begin(dock, file_id, init.size, init.chunk_size, init.sha256, init.envelope)
        tr = self._transfer(dock, file_id)
        assert tr is not None
        if tr.part is None:
            missing: set[int] = set()  # the same bytes are in the blob store already
        else:
            tr.durable = self.state.stored(dock, file_id)
            missing = set(range(init.chunks)) - tr.durable
            if tr.hasher is None and not tr.durable:
                self._drain()  # no chunk of it is still queued: the run starts over from chunk 0
                if not tr.written:
                    tr.hasher, tr.feed_next, tr.hash_next = hashlib.sha256(), 0, 0
        self._reply(dock, p.Missing(p.Subject.xfer, file_id, init.chunks, frozenset(missing)))

    def _check_quota(self, dock: str, file_id: str, size: int) -> None:
        """One dock's unfinished transfers cannot take the archive's disk from the others."""
        held, count = self.state.open_bytes(dock, exclude=file_id)
        limit = self.cfg.max_open_bytes_per_dock
        if over_quota(held, count, size, limit):
            raise _reject(p.RejectCode.quota,
                          f"dock {dock} has {count} unfinished transfer(s) holding {human_bytes(held)} ({held} "
                          f"bytes); this {human_bytes(size)} file would pass its quota of {human_bytes(limit)} "
                          f"([archive] max_open_bytes_per_dock); finish or abort them first (idle ones expire "
                          f"after {self.cfg.transfer_idle_s} s)")

    def _forget(self, dock: str, file_id: str) -> None:
        """Drop the in-memory side of a transfer (its rows and part file are gone or going)."""
        if (dock, file_id) not in self.transfers:
            return
        self._drain()  # no chunk of it is still being written when its file is closed
        tr = self.transfers.pop((dock, file_id))
        if tr.part is not None:
            tr.part.close()

    def expire_idle(self) -> list[tuple[str, str]]:
        """Drop open transfers idle for ``[archive] transfer_idle_s`` by the receiver's clock
        (rows, part file, memory), and forget cached transfers dropped from the command line.
        Run at start-up and by the main loop. Returns the expired ``(dock, file_id)``."""
        with self._handling:
            idle = self.state.idle(self.clock(), self.cfg.transfer_idle_s)
            for dock, file_id in idle:
                self._forget(dock, file_id)
                drop_transfer(self.state, self.blobs, dock, file_id)
                log.warning("transfer %s from %s expired: no init or chunk for %d s; part file removed",
                            file_id[:16], dock, self.cfg.transfer_idle_s)
            for dock, file_id in list(self.transfers):
                row = self.state.get(dock, file_id)
                if row is None or row.status != "open":
                    log.info("%s", _("transfer {file} from {dock} was dropped; forgetting it").format(
                        file=file_id[:16], dock=dock))
                    self._forget(dock, file_id)
            return idle

    def _on_chunk(self, dock: str, file_id: str, chunk: p.Chunk) -> None:
        tr = self._transfer(dock, file_id)
        index = chunk.header.index
        if tr is None:
            raise _reject(p.RejectCode.unknown_transfer, "no open transfer with this id; send init first")
        # Hash each byte once: a chunk continuing the in-order run goes only into the running file
        # hash, which ``fin`` compares with the announced SHA-256 before anything is committed (a
        # mismatch rejects the file, its part file is removed and the dock sends it again). Any
        # other chunk (out of order, resent, or after a restart) is checked on its own here, and
        # once one arrives out of order the running hash is given up (``fin`` re-reads the file).
        in_order = tr.hasher is not None and tr.part is not None and index == tr.feed_next
        p.verify_chunk(tr.init, chunk.header, chunk.data, check_hash=not in_order)
        if in_order:
            tr.feed_next += 1
        elif tr.hasher is not None:
            tr.hasher = None
        self.stats.chunks += 1
        with self._cond:
            # Back-pressure: a dock ignoring its window cannot fill the archive's memory; paho
            # stops reading (and the broker stops sending) while the disk catches up.
            self._cond.wait_for(lambda: self._pending_bytes < PENDING_MAX_BYTES or self._closing, timeout=60)
            self._pending.append((tr, index, chunk.data, in_order))
            self._pending_bytes += len(chunk.data)
            self._cond.notify_all()

    def _write(self, tr: _Transfer, index: int, data: bytes, in_order: bool) -> None:
        """On the flusher thread: write a chunk, extend the running hash with an in-order one."""
        if tr.part is None or index in tr.durable or index in tr.written:
            self.stats.duplicates += 1
            return
        tr.part.write_at(index * tr.init.chunk_size, data)
        tr.written.add(index)
        self.stats.bytes += len(data)
        hasher = tr.hasher
        if in_order and hasher is not None and index == tr.hash_next:
            hasher.update(data)  # type: ignore[attr-defined]
            tr.hash_next += 1

    def _on_fin(self, dock: str, file_id: str, fin: p.Fin) -> None:
        self._drain()
        tr = self._transfer(dock, file_id)
        if tr is None:
            row = self.state.get(dock, file_id)
            if row is not None and row.status == "committed" and row.entry_hash:
                entry = self.ledger.by_hash(row.entry_hash)
                if entry is not None and self.blobs.has(row.sha256):
                    self._reply(dock, self._proof(dock, p.Subject.xfer, file_id, entry))
                    return
            raise _reject(p.RejectCode.unknown_transfer, "no open transfer with this id; send init again")
        init = tr.init
        if (fin.size, fin.sha256) != (init.size, init.sha256):
            raise _reject(p.RejectCode.file_size if fin.size != init.size else p.RejectCode.file_hash,
                          "fin does not name the size and sha256 the init announced")
        if tr.part is not None:
            stored = self.state.stored(dock, file_id)
            if len(stored) < init.chunks:
                raise _reject(p.RejectCode.incomplete,
                              f"{init.chunks - len(stored)} of {init.chunks} chunks are not stored; send init again")
            if tr.hasher is not None and tr.hash_next == init.chunks:
                digest = tr.hasher.hexdigest()  # type: ignore[attr-defined]
            else:
                digest = tr.part.sha256()
            if digest != init.sha256:
                err = _reject(p.RejectCode.file_hash, f"the received file hashes to {digest[:16]}…, not the "
                                                      f"announced {init.sha256[:16]}…: damaged on the dock or "
                                                      f"in flight")
                self._end(tr, "rejected", err=err)
                raise err
        try:
            self._check_before_blob(dock, init)
            if tr.part is not None:
                part, tr.part = tr.part, None
                self.blobs.commit(part, init.sha256)
            entry = self._admit(dock, init.envelope, (init.sha256, init.size))
        except p.ProtocolError as exc:
            if exc.code.value not in p.RETRY_CODES:
                self._end(tr, "rejected", err=exc)
            raise
        self._end(tr, "committed", entry_hash=entry.entry_hash)
        self._reply(dock, self._proof(dock, p.Subject.xfer, file_id, entry))

    def _check_before_blob(self, dock: str, init: p.Init) -> None:
        """The record's checks (chain included) before the blob is moved into the store."""
        entry_hash = p.envelope_hash(init.envelope)
        env, data = self._check_record(dock, init.envelope, (init.sha256, init.size))
        if self.ledger.by_hash(entry_hash) is None and data["kind"] == "segment":
            self._check_chain(dock, env, data, entry_hash)

    def _on_abort(self, dock: str, file_id: str, abort: p.Abort) -> None:
        tr = self._transfer(dock, file_id)
        if tr is not None:
            log.info("%s", _("dock {dock} aborted transfer {file}: {reason}").format(dock=dock, file=file_id[:16],
                                                                                    reason=abort.reason))
            self._end(tr, "aborted", err=_reject(p.RejectCode.aborted, abort.reason or "aborted by the dock"))

    # -- flushing ----------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Wait until every written chunk is flushed and acknowledged."""
        with self._cond:
            self._cond.wait_for(lambda: not self._pending and not self._busy, timeout=60)

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing, timeout=1.0)
                if not self._pending:
                    if self._closing:
                        return
                    continue
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                for tr, i, data, in_order in batch:
                    self._write(tr, i, data, in_order)
                parts = {id(tr.part): tr.part for tr, *_ in batch if tr.part is not None}
                for part in parts.values():
                    part.flush()
                self.state.add_chunks((tr.dock, tr.file_id, i) for tr, i, *_ in batch)
                for tr, i, *_ in batch:
                    tr.durable.add(i)
                    self._reply(tr.dock, p.Stored(p.Subject.xfer, tr.file_id, i))
            except Exception:
                # Not acknowledged: the dock times out and sends init again; the chunk is re-sent.
                log.exception("flushing %d chunks failed", len(batch))
            finally:
                with self._cond:
                    self._pending_bytes -= sum(len(d) for _, _, d, _ in batch)
                    self._busy = False
                    self._cond.notify_all()

    def _flush_contacts(self) -> None:
        contacts, self._contacts = self._contacts, {}
        try:
            self.state.touch(contacts)
        except Exception:
            log.exception("recording docks' last contact failed")


def load_receiver(cfg: ArchiveConfig, passphrase_env: str | None = None, **kw) -> Receiver:
    from ledger.keys import load_signer

    return Receiver(cfg, load_signer(cfg.path(cfg.log_key), passphrase_env), **kw)


def archive_paths(cfg: ArchiveConfig) -> dict[str, Path]:
    return {"ledger": cfg.path(cfg.ledger), "blobs": cfg.path(cfg.blob_dir), "parts": cfg.path(cfg.part_dir),
            "state": cfg.path(cfg.state_db)}
