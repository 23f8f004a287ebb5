"""``bodycam sync run``: ship every dock ledger entry, and the files it names, to the archive.

In ledger order, one item at a time (so an enrollment always reaches the archive before what
its key signed, and a segment after its predecessor): records go as ``rec``, files as resumable
transfers (see :mod:`syncd.protocol`). Nothing counts as delivered on the broker's word: an item
is marked committed in ``sync.db`` only on a ``committed`` ack whose signature verifies with the
archive's log public key (``syncd.archive_pubkey``) and names this dock, this item and its entry;
a forged or replayed reply is logged and ignored, and the item is asked about again.

Memory is bounded whatever the file size: at most ``window`` (≤ 16) chunks are read and
unacknowledged at a time (:class:`syncd.window.SendWindow`), read with ``pread`` straight from
the dock store. After every (re)connect, a silence of ``ack_timeout_s`` or a ``fin`` left
unanswered, the dock pauses (exponential back-off up to ``backoff_max_s``), sends ``init`` again
and sends only what the archive's ``missing`` bitmap lists. The dock deletes nothing.

The daemon is one class with one stop event (SIGTERM sets it); ``run(once=True)`` returns after
one pass and reports what the archive refused.

The dock ledger is read by entry hash, never trusted to keep its indexes: an item queued for an
entry that is no longer in the ledger (the file was rewritten without it, or restored from an
older copy) is an inconsistency. It is logged and reported (``missing`` in the result and in
``sync status``), skipped, and asked about again on every pass (it goes out if the entry comes
back); everything else is still sent, and entries the rewritten ledger gained are still found.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from bodycam.errors import BodycamError, ConfigError, FormatError, VerificationError
from bodycam.formats import duration
from bodycam.i18n import N_, _, tr
from ledger.blobs import BlobStore
from ledger.envelope import Envelope, body
from ledger.keys import PublicKey, load_public_key
from ledger.store import Ledger
from syncd import checkpoints
from syncd import protocol as p
from syncd.config import DockSide, SyncdConfig
from syncd.mqtt import MessageTooLarge, MqttClient, MqttError, NotConnected, PublishRefused, Received, tune_allocator
from syncd.outbox import COMMITTED, MISSING, QUEUED, REJECTED, FileRef, Item, Outbox, files_of
from syncd.window import SendWindow

log = logging.getLogger(__name__)

ROOT_SKIP_REASON = ("the dock's self-signed ledger root is not copied: at the archive the admin's `dock` "
                    "enrollment (bodycam archive dock add) stands for it")
MISSING_REASON = ("queued for the archive but missing from the dock ledger: the ledger lost entries (rewritten "
                  "or restored from an older copy); compare it with the archive's copy")
PROGRESS_EVERY_S = 0.5
RESEND_DAMAGED = 2
"""Times a file is sent again after the archive found its bytes did not hash to the announced
SHA-256 while the dock's own copy still does (damaged in flight: the archive checks chunks that
arrive in order only through the whole file's hash, see archive.receiver)."""
POLL_ACK_S = 0.05


@dataclass
class Progress:
    """What the uploader is doing now; written to sync.db for ``sync status`` and shown on a tty."""

    entry_hash: str = ""
    kind: str = ""
    role: str = ""
    file_id: str = ""
    size: int = 0
    chunks: int = 0
    stored: int = 0
    in_flight: int = 0
    bytes_sent: int = 0
    rate_bps: float = 0.0
    items_done: int = 0
    items_total: int = 0
    pid: int = field(default_factory=os.getpid)
    at_ns: int = 0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str | None = None
    reason: str | None = None
    proof: p.CommitProof | None = None
    proof_envelope: bytes | None = None


@dataclass
class SyncResult:
    committed: int = 0
    rejected: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)  # queued items gone from the dock ledger
    queued: int = 0
    chunks_sent: int = 0
    bytes_sent: int = 0
    stopped: bool = False
    checkpoint: dict | None = None  # the archive's last verdict on the dock's checkpoint (syncd.checkpoints)
    checkpoint_problem: str | None = None  # the dock ledger no longer extends the acknowledged checkpoint

    def to_json(self) -> dict:
        return asdict(self)


class _Stop(Exception):
    """The stop event was set: leave the current item as it is (it resumes next time)."""


class ArchiveUnreachable(BodycamError):
    """``run(once=True)`` gave up: no broker, or no answer from the archive, within its timeout.
    Nothing is lost: every entry and file stays on the dock, queued for the next run."""


NOTHING_LOST = N_("Nothing is lost: the dock keeps every entry and file, and the next `bodycam sync run` "
                  "sends them")
"""Said (translated, ``_(NOTHING_LOST)``) when ``run(once=True)`` gives up."""


def load_archive_key(cfg: SyncdConfig, agent: DockSide) -> PublicKey:
    if cfg.archive_pubkey is None:
        raise ConfigError(_("syncd.archive_pubkey is not set: the dock needs the archive's log public key to "
                            "check `committed` replies (copy keys/log.pub from the archive)"))
    return load_public_key(agent.path(cfg.archive_pubkey))


class Uploader:
    def __init__(self, agent: DockSide, cfg: SyncdConfig, *, archive_key: PublicKey | None = None,
                 stop_event: threading.Event | None = None,
                 on_progress: Callable[[Progress], None] | None = None):
        self.agent = agent
        self.cfg = cfg
        self.dock = p.check_dock(agent.dock_id)
        tune_allocator()
        self.archive_key = archive_key or load_archive_key(cfg, agent)
        self.stop_event = stop_event or threading.Event()
        self.on_progress = on_progress
        self.ledger = Ledger.open(agent.path(agent.ledger), create=False)
        self.store = BlobStore(agent.path(agent.store_dir))
        self.outbox = Outbox(agent.path(cfg.state_db))
        self.acks: queue.Queue[p.Ack] = queue.Queue()
        self.client = MqttClient(cfg.broker, cfg.broker.client_id or self.dock, on_message=self._on_message)
        self.result = SyncResult()
        self.progress = Progress()
        self._progress_at = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._backoff = 1.0
        self._checkpoint_key: tuple = (None, False, 0.0)  # last checkpoint offered, answered?, retry when not
        self._heard = False  # the archive has answered since start
        self._give_up_at: float | None = None  # run(once=True): no answer from the archive by then: give up
        self._timeout_s: float | None = None
        self._last_pass: list[str] = []  # the items of the last pass, to say so only when they change

    # -- plumbing ----------------------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()
        self.outbox.close()
        self.ledger.close()

    def _on_message(self, msg: Received) -> None:
        if msg.topic != p.ack_topic(self.dock):
            return
        try:
            self.acks.put(p.decode_ack(msg.payload, msg.correlation))
        except p.ProtocolError as exc:
            log.warning("ignoring a malformed ack: %s", exc)

    def _meta(self, **values) -> None:
        """Notes for ``sync status`` (last error, progress): a full disk must not stop the daemon
        over them (what is delivered is decided by the outbox rows, written in the loop)."""
        try:
            self.outbox.set_meta(**values)
        except sqlite3.OperationalError as exc:
            log.debug("sync state note not written: %s", exc)

    def _error(self, message: str) -> None:
        log.warning("%s", message)
        self._meta(last_error=message, last_error_ns=time.time_ns())

    def _state_unwritable(self, exc: sqlite3.OperationalError, once: bool) -> None:
        """``sync.db`` refused a write (the dock's disk is full, or it is locked): nothing was
        marked, so nothing is lost; the daemon tries again, ``--once`` gives up (exit 1)."""
        delay, self._backoff = self._backoff, min(self._backoff * 2, self.cfg.backoff_max_s)
        where = self.agent.path(self.cfg.state_db)
        if once:
            raise BodycamError(_("the sync state {path} cannot be written ({error}): is the dock's disk full? "
                                 "{nothing_lost}").format(path=where, error=exc, nothing_lost=_(NOTHING_LOST)))
        log.error("%s", _("the sync state {path} cannot be written ({error}): is the dock's disk full? Nothing is "
                          "lost; trying again in {wait}").format(path=where, error=exc, wait=duration(delay)))
        if self.stop_event.wait(delay):
            raise _Stop

    def _check_stop(self) -> None:
        if self.stop_event.is_set():
            raise _Stop

    def _pause(self) -> None:
        """The archive did not answer: wait, longer each time, then ask again. With
        ``run(once=True)``, give up when it has not answered once within the timeout."""
        if not self._heard and self._give_up_at is not None and time.monotonic() >= self._give_up_at:
            queued = len(self.outbox.items(QUEUED))
            if queued:
                silent = _("the archive did not answer within {timeout} (the broker {where} is up: is `bodycam "
                           "archive serve` running and connected to it?). {nothing_lost} ({queued} item(s) queued).")
            else:
                silent = _("the archive did not answer within {timeout} (the broker {where} is up: is `bodycam "
                           "archive serve` running and connected to it?). {nothing_lost}.")
            raise ArchiveUnreachable(silent.format(timeout=duration(self._timeout_s), where=self.client.where,
                                                   nothing_lost=_(NOTHING_LOST), queued=queued))
        delay, self._backoff = self._backoff, min(self._backoff * 2, self.cfg.backoff_max_s)
        # a status line `sync run` shows by default: in the reader's language
        if self._heard:
            waiting = _("waiting for the archive: no answer for {waited}; asking again in {again}")
        else:
            waiting = _("waiting for the archive: no answer for {waited} (is `bodycam archive serve` running?); "
                        "asking again in {again}")
        log.warning("%s", waiting.format(waited=duration(self.cfg.ack_timeout_s), again=duration(delay)))
        if self.stop_event.wait(delay):
            raise _Stop

    def _answered(self) -> None:
        if not self._heard:
            self._heard = True
            log.info("%s", _("the archive is answering"))
        self._backoff = 1.0

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._progress_at < PROGRESS_EVERY_S:
            return
        t0, b0 = self._rate_mark
        if now - t0 >= 1.0:
            self.progress.rate_bps = (self.result.bytes_sent - b0) / (now - t0)
            self._rate_mark = (now, self.result.bytes_sent)
        self._progress_at = now
        self.progress.at_ns = time.time_ns()
        self.progress.bytes_sent = self.result.bytes_sent
        self._meta(progress=asdict(self.progress))
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def connect(self, timeout: float | None = None) -> None:
        """Connect and subscribe to our acks, retrying with back-off (until stopped, or until
        ``timeout`` seconds have passed: then ArchiveUnreachable, saying nothing was lost)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 1.0
        log.info("%s", _("connecting to the archive's broker {where}").format(where=self.client.where))
        while True:
            self._check_stop()
            try:
                if not self.client.connected:
                    self.client.connect()
                self.client.subscribe([p.ack_topic(self.dock)])
                return
            except MqttError as exc:
                self._meta(last_error=str(exc), last_error_ns=time.time_ns())
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise ArchiveUnreachable(_("{error}; gave up after {timeout}. {nothing_lost}. Is the broker "
                                               "running, and are [syncd.broker] host and port right?").format(
                        error=tr(exc), timeout=duration(timeout), nothing_lost=_(NOTHING_LOST))) from None
                wait = delay if left is None else min(delay, left)
                log.warning("%s", _("{error}; retrying in {wait}").format(error=tr(exc), wait=duration(wait)))
                if self.stop_event.wait(wait):
                    raise _Stop from None
                delay = min(delay * 2, self.cfg.backoff_max_s)

    def _wait_link(self) -> None:
        while not self.client.wait_connected(1.0):
            self._check_stop()

    # -- the plan ----------------------------------------------------------------------------------

    def scan(self) -> int:
        """Give every new dock ledger entry its item (and its files). Returns how many were added."""
        rows, position = new_entries(self.ledger, self.outbox)
        new = []
        next_idx = self.outbox.cursor
        for idx, kind, data, entry_hash in rows:
            record = body(Envelope.from_bytes(bytes(data)))
            skip = None
            if idx == 0 and kind == "enrollment" and record.get("subject_type") == "ledger_root":
                skip = ROOT_SKIP_REASON
            # the item's idx orders items; it is the ledger index unless a rewrite shortened the ledger
            item_idx = max(idx, next_idx)
            next_idx = item_idx + 1
            new.append((item_idx, entry_hash, kind, [] if skip else files_of(record), skip))
        if new:
            self.outbox.add_many(new)
        if position is not None and position != self.outbox.get_meta("ledger_scanned"):
            self.outbox.set_meta(ledger_scanned=position)
        return len(new)

    def _envelope(self, entry_hash: str) -> bytes | None:
        row = self.ledger.conn.execute("SELECT envelope FROM entries WHERE entry_hash = ?",
                                       (entry_hash,)).fetchone()
        return None if row is None else bytes(row[0])

    def _missing(self, item: Item) -> Outcome:
        """The item's entry is no longer in the dock ledger: report it once, skip it."""
        if item.status != MISSING:
            self.outbox.mark(item.entry_hash, status=MISSING, code=MISSING, reason=MISSING_REASON)
            self._error(f"inconsistency: {item.kind} {item.entry_hash} (dock ledger entry {item.idx} when queued) "
                        f"was {MISSING_REASON}; skipped, the rest is sent")
        return Outcome(False, MISSING, MISSING_REASON)

    # -- one item ----------------------------------------------------------------------------------

    def send_item(self, item: Item) -> Outcome:
        envelope = self._envelope(item.entry_hash)
        if envelope is None:
            return self._missing(item)
        if item.status == MISSING:
            log.warning("%s %s is back in the dock ledger; sending it", item.kind, item.entry_hash)
        self.progress.entry_hash, self.progress.kind = item.entry_hash, item.kind
        all_files = self.outbox.files(item.entry_hash)
        files = [f for f in all_files if f.status != COMMITTED]
        if not all_files:
            out = self._send_record(item.entry_hash, envelope)
        else:
            out = Outcome(True)
            for f in files:
                out = self._send_file(item.entry_hash, FileRef(f.sha256, f.size, f.role), envelope)
                if not out.ok:
                    self.outbox.mark_file(item.entry_hash, f.sha256, status=REJECTED, code=out.code, reason=out.reason)
                    break
                self.outbox.mark_file(item.entry_hash, f.sha256, status=COMMITTED, proof=out.proof_envelope)
        if out.ok:
            index = out.proof.ledger_index if out.proof else None
            self.outbox.mark(item.entry_hash, status=COMMITTED, archive_index=index, proof=out.proof_envelope)
            self.result.committed += 1
            log.info("%s", _("committed by the archive: {kind} {entry}… (archive ledger entry {index})").format(
                kind=item.kind, entry=item.entry_hash[:16], index=index))
        else:
            self.outbox.mark(item.entry_hash, status=REJECTED, code=out.code, reason=out.reason)
            self._error(f"{item.kind} {item.entry_hash[:16]}… refused: {out.code}: {out.reason}")
        return out

    def _verify(self, ack: p.Committed, subject: p.Subject, item_id: str, entry_hash: str) -> Outcome | None:
        try:
            proof = p.verify_commit(ack.envelope, self.archive_key, dock=self.dock, subject=subject, id=item_id,
                                    entry_hash=entry_hash)
        except (VerificationError, FormatError) as exc:
            self._error(f"ignored a `committed` reply that does not verify ({exc}); nothing marked committed")
            return None
        return Outcome(True, proof=proof, proof_envelope=ack.envelope)

    def _publish(self, topic: str, payload: bytes, **kw) -> bool:
        """False if the link is down (the caller re-sends after reconnecting)."""
        try:
            self.client.publish(topic, payload, **kw)
            return True
        except NotConnected:
            return False

    def _send_record(self, entry_hash: str, envelope: bytes) -> Outcome:
        topic = p.rec_topic(self.dock, entry_hash)
        while True:
            self._check_stop()
            self._wait_link()
            gen = self.client.generation
            try:
                if not self._publish(topic, envelope):
                    continue
            except (MessageTooLarge, PublishRefused) as exc:
                return Outcome(False, p.RejectCode.too_large.value if isinstance(exc, MessageTooLarge)
                               else "broker_refused", str(exc))
            sent = time.monotonic()
            while time.monotonic() - sent < self.cfg.ack_timeout_s and self.client.generation == gen:
                self._check_stop()
                try:
                    ack = self.acks.get(timeout=POLL_ACK_S * 4)
                except queue.Empty:
                    continue
                if ack.id != entry_hash or ack.subject is not p.Subject.rec:
                    continue
                self._answered()
                if isinstance(ack, p.Committed):
                    out = self._verify(ack, p.Subject.rec, entry_hash, entry_hash)
                    if out is not None:
                        return out
                elif isinstance(ack, p.Rejected):
                    return Outcome(False, ack.code.value, ack.reason)
            if self.client.generation == gen:
                self._pause()

    def _send_file(self, entry_hash: str, ref: FileRef, envelope: bytes) -> Outcome:
        path = self.store.blob_path(ref.sha256)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            return Outcome(False, "missing_file", f"{ref.role} {ref.sha256[:16]}… is not in the dock store "
                                                  f"({exc.strerror}); it cannot be sent")
        try:
            size = os.fstat(fd).st_size
            init = p.Init(size, self.cfg.chunk_size, ref.sha256, envelope)
            self.outbox.mark_file(entry_hash, ref.sha256, status=QUEUED, file_id=init.file_id, size=size)
            return self._transfer(fd, init, entry_hash, ref)
        finally:
            os.close(fd)

    def _transfer(self, fd: int, init: p.Init, entry_hash: str, ref: FileRef) -> Outcome:
        file_id = init.file_id
        dock = self.dock
        window = SendWindow(init.chunks, self.cfg.window)
        prog = self.progress
        prog.role, prog.file_id, prog.size, prog.chunks, prog.stored = ref.role, file_id, init.size, init.chunks, 0
        timeout = self.cfg.ack_timeout_s
        gen = -1
        need_init = True
        asked_at = 0.0
        fin_at: float | None = None
        last_heard = time.monotonic()
        resends = 0
        # Chunks sent in order on a fresh transfer carry no SHA-256 of their own: the archive
        # hashes them once, into the file's hash, checked at fin against ref.sha256 (known since
        # the offload). After a reconnect or a partial resume, every chunk carries its own.
        plain_ok, plain_next, inits = True, 0, 0
        while True:
            self._check_stop()
            now = time.monotonic()
            if need_init or self.client.generation != gen:
                self._wait_link()
                gen = self.client.generation
                window.restart()
                fin_at = None
                if not self._publish(p.init_topic(dock, file_id), init.to_json()):
                    continue
                inits += 1
                plain_ok = plain_ok and inits == 1
                need_init, asked_at, last_heard = False, now, now
            # Acknowledgements: block briefly only when there is nothing to send.
            idle = window.awaiting_missing or window.in_flight >= window.window or fin_at is not None
            acks: list[p.Ack] = []
            try:
                acks.append(self.acks.get(timeout=POLL_ACK_S) if idle else self.acks.get_nowait())
                while True:
                    acks.append(self.acks.get_nowait())
            except queue.Empty:
                pass
            for ack in acks:
                if ack.id != file_id or ack.subject is not p.Subject.xfer:
                    continue
                last_heard = time.monotonic()
                self._answered()
                if isinstance(ack, p.Missing):
                    if ack.chunks == init.chunks:
                        plain_ok = plain_ok and len(ack.missing) == init.chunks
                        window.on_missing(ack.missing)
                        log.info("%s", _("{file}: archive lacks {missing} of {chunks} chunks").format(
                            file=file_id[:16], missing=len(ack.missing), chunks=init.chunks))
                elif isinstance(ack, p.Stored):
                    if ack.index < init.chunks:
                        window.on_stored(ack.index)
                elif isinstance(ack, p.Committed):
                    out = self._verify(ack, p.Subject.xfer, file_id, entry_hash)
                    if out is not None:
                        prog.stored = init.chunks
                        self._report(force=True)
                        return out
                elif isinstance(ack, p.Rejected):
                    if ack.index is not None:
                        if ack.index < init.chunks:
                            log.warning("%s: chunk %d refused (%s); sending it again", file_id[:16], ack.index,
                                        ack.reason)
                            window.on_chunk_rejected(ack.index)
                    elif ack.code.value in ("incomplete", "unknown_transfer"):
                        need_init = True
                    elif ack.code.value == "internal":
                        self._error(f"archive: {ack.reason}")
                        self._pause()
                        need_init = True
                    elif (ack.code is p.RejectCode.file_hash and resends < RESEND_DAMAGED
                          and file_sha256(fd) == ref.sha256):
                        resends += 1
                        log.warning("%s", _("{file}: the archive received bytes that do not match; the dock's copy "
                                            "does, sending the file again").format(file=file_id[:16]))
                        window = SendWindow(init.chunks, self.cfg.window)
                        plain_ok, plain_next, inits = True, 0, 0
                        need_init = True
                    else:
                        return Outcome(False, ack.code.value, ack.reason)
            if need_init:
                continue
            now = time.monotonic()
            if window.complete and fin_at is None:
                if not self._publish(p.fin_topic(dock, file_id), p.Fin(init.size, init.sha256).to_json()):
                    need_init = True
                    continue
                fin_at = now
            for i in window.take(now):
                length = init.chunk_length(i)
                data = os.pread(fd, length, i * init.chunk_size)
                if len(data) != length:
                    return Outcome(False, "missing_file", f"{ref.role} {ref.sha256[:16]}… shrank in the dock store")
                if plain_ok and i == plain_next:
                    header = p.ChunkHeader.in_order(i)
                    plain_next += 1
                else:
                    header = p.ChunkHeader.for_data(i, data)
                if not self._publish(p.seg_topic(dock, file_id, i), data, user_properties=header.user_properties()):
                    need_init = True
                    break
                self.result.chunks_sent += 1
                self.result.bytes_sent += length
            prog.stored, prog.in_flight = window.stored, window.in_flight
            self._report()
            # Silence from the archive: back off, then ask again what it has.
            silent = now - last_heard >= timeout
            if ((window.awaiting_missing and now - asked_at >= timeout) or (fin_at is not None and silent)
                    or (window.in_flight and silent)):
                window.expire(now, 0)
                self._meta(last_error=f"no answer from the archive for {timeout:g} s about {file_id[:16]}…",
                           last_error_ns=time.time_ns())
                self._pause()  # says so
                need_init = True

    # -- the daemon --------------------------------------------------------------------------------

    def run(self, once: bool = False, connect_timeout: float | None = None) -> SyncResult:
        """Send everything not yet committed; with ``once`` return after one pass (plus passes while
        items waiting on a predecessor make progress), else keep watching the ledger until stopped."""
        started_ns = time.time_ns()
        if once and connect_timeout is not None:
            self._timeout_s = connect_timeout
            self._give_up_at = time.monotonic() + connect_timeout
        try:
            self.connect(connect_timeout)
            first = True
            retry_before = started_ns  # on start, everything refused before is offered again
            while not self.stop_event.is_set():
                try:
                    if first:
                        checkpoints.settle(self, after_pass=False)  # the dock's latest checkpoint first
                        first = False
                    self.scan()
                    items = self.outbox.pending(retry_rejected_before_ns=retry_before,
                                                retry_codes=p.RETRY_CODES if not once else frozenset())
                    items = sorted(items + self.outbox.items(MISSING), key=lambda i: i.idx)
                    progress = self._pass(items)
                    retry_before = time.time_ns() - int(self.cfg.retry_rejected_s * 1e9)
                    checkpoints.settle(self, after_pass=True)  # again, saying whether everything was delivered
                except sqlite3.OperationalError as exc:
                    self._state_unwritable(exc, once)
                    continue
                if once:
                    again = [i for i in self.outbox.items(REJECTED) if i.code in p.RETRY_CODES]
                    if progress and again:
                        retry_before = time.time_ns()
                        continue
                    break
                if self.stop_event.wait(self.cfg.poll_s):
                    break
        except _Stop:
            self.result.stopped = True
        finally:
            self.progress = Progress(at_ns=time.time_ns())
            self._meta(progress=None)
        self.result.rejected = [{"entry_hash": i.entry_hash, "kind": i.kind, "code": i.code, "reason": i.reason}
                                for i in self.outbox.items(REJECTED)]
        self.result.missing = missing_items(self.outbox)
        self.result.queued = len(self.outbox.items(QUEUED))
        self.result.stopped = self.result.stopped or self.stop_event.is_set()
        return self.result

    def _pass(self, items: list[Item]) -> int:
        done = 0
        self.progress.items_total = len(items)
        shown = [i.entry_hash for i in items]
        if items and shown != self._last_pass:
            log.info("%s", _("{count} item(s) to send to the archive").format(count=len(items)))
        self._last_pass = shown
        for n, item in enumerate(items):
            self._check_stop()
            self.progress.items_done = n
            if self.send_item(item).ok:
                done += 1
        return done


def file_sha256(fd: int) -> str:
    """The SHA-256 of an open file, read in 1 MiB blocks: only when the archive reports a file's
    bytes damaged, to tell damage in flight (send again) from a damaged dock copy (report it)."""
    h, off = hashlib.sha256(), 0
    while block := os.pread(fd, 1 << 20, off):
        h.update(block)
        off += len(block)
    return h.hexdigest()


def new_entries(ledger: Ledger, outbox: Outbox | None) -> tuple[list[tuple[int, str, bytes, str]], list | None]:
    """Dock ledger entries that have no item yet, in ledger order (``idx, kind, envelope,
    entry_hash``), and the ledger position they reach (``[size, last entry hash]``, None when
    the ledger is empty). Normally the entries past the position the last scan reached; when the
    ledger no longer holds the entry the last scan ended on (it was rewritten or shortened), or
    no position was kept, every entry is looked up by hash."""
    conn = ledger.conn
    last = conn.execute("SELECT idx, entry_hash FROM entries ORDER BY idx DESC LIMIT 1").fetchone()
    position = None if last is None else [int(last[0]) + 1, last[1]]
    seen = outbox.get_meta("ledger_scanned") if outbox is not None else [0, None]
    if seen and seen[0] == 0:
        start = 0
    elif seen and conn.execute("SELECT 1 FROM entries WHERE idx = ? AND entry_hash = ?",
                               (seen[0] - 1, seen[1])).fetchone():
        start = seen[0]
    else:  # no position kept (a sync.db from before it was), or the ledger was rewritten
        known = outbox.entry_hashes()
        rows = [r for r in conn.execute("SELECT idx, kind, envelope, entry_hash FROM entries ORDER BY idx")
                if r[3] not in known]
        return [(int(i), k, bytes(e), h) for i, k, e, h in rows], position
    rows = conn.execute("SELECT idx, kind, envelope, entry_hash FROM entries WHERE idx >= ? ORDER BY idx",
                        (start,)).fetchall()
    return [(int(i), k, bytes(e), h) for i, k, e, h in rows], position


def missing_items(outbox: Outbox) -> list[dict]:
    """Queued items whose entries left the dock ledger (see :data:`MISSING_REASON`)."""
    return [{"entry_hash": i.entry_hash, "kind": i.kind} for i in outbox.items(MISSING)]


def sync_status(agent: DockSide, cfg: SyncdConfig) -> dict:
    """What ``bodycam sync status`` shows: read-only, safe while the daemon runs."""
    path = agent.path(cfg.state_db)
    ledger_path = agent.path(agent.ledger)
    if not ledger_path.exists():
        raise BodycamError(_("{path}: no dock ledger; run `bodycam init --role dock` or check agent.data_dir").format(
            path=ledger_path))
    out: dict = {"dock": agent.dock_id, "state": str(path), "items": {}, "queued_files": 0, "queued_bytes": 0,
                 "unscanned_entries": 0, "in_flight": None, "last_commit": None, "last_error": None, "rejected": [],
                 "missing": [], "checkpoint": None}
    with contextlib.ExitStack() as stack:
        ob = stack.enter_context(Outbox(path, readonly=True)) if path.exists() else None
        lg = stack.enter_context(Ledger.open(ledger_path, readonly=True))
        for _idx, _kind, data, _hash in new_entries(lg, ob)[0]:
            out["unscanned_entries"] += 1
            for f in files_of(body(Envelope.from_bytes(data))):
                out["queued_files"] += 1
                out["queued_bytes"] += f.size or 0
        if ob is not None:
            out["items"] = ob.counts()
            files, size = ob.queued_files()
            out["queued_files"] += files
            out["queued_bytes"] += size
            last = ob.last_commit()
            if last:
                out["last_commit"] = {"at_ns": last[0], "entry_hash": last[1], "kind": last[2]}
            err = ob.get_meta("last_error")
            if err:
                out["last_error"] = {"message": err, "at_ns": ob.get_meta("last_error_ns")}
            prog = ob.get_meta("progress")
            if prog and time.time_ns() - int(prog.get("at_ns") or 0) < 10 * 1_000_000_000:
                out["in_flight"] = prog
            out["rejected"] = [{"entry_hash": i.entry_hash, "kind": i.kind, "code": i.code, "reason": i.reason}
                               for i in ob.items(REJECTED)]
            out["missing"] = missing_items(ob)
            acknowledged = ob.get_meta(checkpoints.ACKNOWLEDGED)
            latest = lg.latest_checkpoint()
            out["checkpoint"] = {
                "latest_size": latest.size if latest else None,
                "acknowledged": acknowledged,
                "acknowledged_size": checkpoints.checkpoint_of(acknowledged).size if acknowledged else None,
                "last_verdict": ob.get_meta(checkpoints.VERDICT),
                "ledger_problem": checkpoints.lost_since(lg, acknowledged)}
    return out
