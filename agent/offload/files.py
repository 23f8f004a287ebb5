"""Offload a docked recorder: every file once, unaltered, signed by the recorder's key (A2 Art.8, 15).

The serial side (identify, calibrate, ``enter_mass_storage``) is the caller's; this module
starts when the recorder's storage is about to appear under the mount root. For each file not
yet in the dock ledger, in the recorder's time order: stream it once into the dock store (copy,
SHA-256, fsync, atomic rename), probe it, decide its place in the device's chain
(``agent.offload.continuity``), seal the ``segment`` body with the *device* key and append it, together
with any ``gap`` findings signed by the *dock* key, in one ledger transaction. A file is thus
either completely offloaded and ledgered or not at all.

Idempotent: a file whose (device, source name, SHA-256) is already ledgered is hashed (to see
it was not altered) and skipped. A full disk, an unplugged recorder or a stop request ends the
run after the last complete file; the closing ``dock_session`` record says what happened, and
the next dock continues where this one stopped. Nothing is ever deleted from the recorder here.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from pathlib import Path

from agent.clock.history import ClockHistory, ClockRecord
from agent.offload import continuity as cont
from agent.offload.mount import MountTimeoutError, wait_for_mount
from agent.offload.names import (
    MEDIA_DIRS,
    MountError,
    RecorderFile,
    UnsafeNameError,
    display_name,
    full_source_name,
    list_recorder_files,
    open_mount,
    open_recorder_file,
)
from agent.offload.probe import ProbeResult, probe
from agent.store import DiskFullError, DockStore, SourceReadError, StoreError, hash_fd
from bodycam.errors import BodycamError
from bodycam.formats import rfc3339
from bodycam.i18n import N_, Message, SaidError, english, joined, text_of
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.records import DockSession, Gap, Media, Segment, make_body
from ledger.store import Entry, Ledger

log = logging.getLogger(__name__)

_GONE = (errno.ENOENT, errno.ENODEV, errno.EIO, errno.ENXIO, errno.ESTALE, errno.ENOTDIR)
#: A time stamped in a file name shows whole seconds; a FAT mtime, two.
NAME_RESOLUTION_NS = cont.NS_PER_S
MTIME_RESOLUTION_NS = 2 * cont.NS_PER_S
#: Slack on the dock's own clock when bounding when new footage was recorded (see ``_recording_window``).
WINDOW_SLACK_NS = 300 * cont.NS_PER_S
_DETAIL_MAX = 4000


class OffloadError(SaidError, BodycamError):
    """The offload cannot start (device not enrolled, bad arguments)."""


class RecorderGoneError(SaidError, BodycamError):
    """The recorder's storage vanished mid-offload (unplugged)."""


class _FileVanished(SaidError, BodycamError):
    """One listed file could not be opened while the recorder is still there: noted, not fatal."""


def _same_dir(mount: Path, mount_fd: int) -> bool:
    """Is ``mount`` still the folder we opened (not removed, not an empty mount point)?"""
    try:
        a, b = os.stat(mount), os.fstat(mount_fd)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class OffloadIncomplete(SaidError, BodycamError):
    """The offload stopped before every file was ledgered; ``summary`` says how far it got.

    What was completed is ledgered and the ``dock_session`` record says why it stopped; docking
    the recorder again offloads the rest.
    """

    def __init__(self, message: str, summary: OffloadSummary):
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class Progress:
    """Handed to the progress callback after every chunk (for a bar: bytes, rate, time left)."""

    done_bytes: int
    total_bytes: int
    rate_bps: float
    eta_s: float | None
    files_done: int
    files_total: int
    current: str          # display form of the file being read


@dataclass(frozen=True)
class SessionRef:
    """The ``dock_session`` the caller opened (see ``open_session``); offload closes it."""

    session_id: str
    dock_id: str
    started_ns: int
    entry_hash: str | None = None


@dataclass
class OffloadSummary:
    session_id: str
    device_id: str
    segments: int = 0                 # segment records appended in this run
    already: int = 0                  # files found already ledgered (skipped)
    bytes: int = 0                    # bytes copied into the store
    gaps: int = 0                     # gap records appended (all gap types)
    problems: list[str] = field(default_factory=list)
    complete: bool = False
    status: str = "open"
    segment_hashes: list[str] = field(default_factory=list)
    gap_hashes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "dock_session": self.session_id, "device_id": self.device_id, "segments": self.segments,
            "already_offloaded": self.already, "bytes": self.bytes, "gaps": self.gaps,
            "problems": list(self.problems), "complete": self.complete, "status": self.status,
            "segment_entries": list(self.segment_hashes), "gap_entries": list(self.gap_hashes),
            "seconds": round(self.seconds, 3),
        }


def open_session(ledger: Ledger, dock_signer: Signer, *, session_id: str, dock_id: str, device_id: str,
                 officer_id: str, case_id: str | None = None, activity: str | None = None,
                 now_ns: int | None = None) -> SessionRef:
    """Append the opening ``dock_session`` record (status ``open``), signed by the dock (A2 Art.14)."""
    started = time.time_ns() if now_ns is None else now_ns
    body = DockSession(session_id=session_id, dock_id=dock_id, device_id=device_id, officer_id=officer_id,
                       case_id=case_id, activity=activity, started_ns=started, status="open")
    entry = ledger.append(seal(make_body(body), dock_signer), require_trusted=True)
    return SessionRef(session_id, dock_id, started, entry.entry_hash)


def device_genesis(ledger: Ledger, device_id: str, device_keyid: str) -> str:
    """Entry hash of the device's enrollment: the ``prev`` of its first segment."""
    for entry in ledger.entries(kind="enrollment", device_id=device_id):
        if entry.body.get("keyid") == device_keyid and entry.body.get("subject_type") == "device":
            return entry.entry_hash
    raise OffloadError(Message(
        N_("recorder {device_id} (key {keyid}…) is not enrolled in {ledger}: enroll it first (bodycam device "
           "enroll) so its segments can be verified"),
        device_id=device_id, keyid=device_keyid[:16], ledger=str(ledger.path)))


def prior_segments(ledger: Ledger, device_id: str) -> list[cont.PriorSegment]:
    out = []
    for e in ledger.entries(kind="segment", device_id=device_id):
        m = e.record
        assert isinstance(m, Segment)
        out.append(cont.PriorSegment(m.seq, e.entry_hash, m.source_name, m.media.sha256, m.start_ns, m.end_ns,
                                     _binding(m.case_id, m.activity), timed=cont.CLOCK_UNKNOWN not in m.flags))
    return out


def prior_findings(ledger: Ledger, device_id: str) -> set[tuple]:
    """Keys of the ``gap`` records already appended for a device, so a re-dock never repeats one."""
    return {_finding_key(e.body.get("gap_type"), e.body.get("segments", []), e.body.get("detail", ""))
            for e in ledger.entries(kind="gap", device_id=device_id)}


def clock_history(ledger: Ledger, device_id: str) -> ClockHistory | None:
    """The recorder's clock history from its ``calibration`` records; None when none measured it."""
    records = [r for e in ledger.entries(kind="calibration", device_id=device_id)
               if (r := ClockRecord.from_body(e.body, e.entry_hash)) is not None]
    history = ClockHistory(records, describe=lambda ns: rfc3339(ns) or str(ns))
    return None if history.empty else history


def _recording_window(ledger: Ledger, device_id: str, session: SessionRef) -> tuple[int | None, int]:
    """When footage first seen now can have been recorded: after the last *complete* docking of the
    recorder began (it offloaded everything the card held then) and before this one began (the
    recorder is docked), each with some slack for the dock's own clock."""
    after = None
    for e in ledger.entries(kind="dock_session", device_id=device_id):
        b = e.body
        if b.get("status") == "completed" and b.get("session_id") != session.session_id:
            started = int(b["started_ns"])
            after = started if after is None else max(after, started)
    return (None if after is None else after - WINDOW_SLACK_NS), session.started_ns + WINDOW_SLACK_NS


def _finding_key(gap_type: object, segments: Iterable[str], detail: str) -> tuple:
    return (gap_type, tuple(segments), detail)


def _binding(case_id: str | None, activity: str | None) -> str:
    return f"case:{case_id}" if case_id else f"activity:{activity}"


class _Meter:
    """Counts bytes for the progress bar, and is where a stop request interrupts a long file:
    raising inside the store's copy discards the partial temporary file."""

    def __init__(self, total: int, files_total: int, cb: Callable[[Progress], None] | None,
                 monotonic: Callable[[], float], stop: threading.Event | None, summary: OffloadSummary):
        self.total, self.files_total, self.cb, self.monotonic = total, files_total, cb, monotonic
        self.stop, self.summary = stop, summary
        self.done = 0
        self.files_done = 0
        self.t0 = monotonic()
        self.current = ""

    def check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise OffloadIncomplete(Message(N_("the offload was stopped on request; nothing partial was kept - "
                                            "dock again to finish")), self.summary)

    def add(self, n: int) -> None:
        self.done += n
        self.check_stop()
        if self.cb is None:
            return
        dt = max(self.monotonic() - self.t0, 1e-9)
        rate = self.done / dt
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.cb(Progress(self.done, self.total, rate, eta, self.files_done, self.files_total, self.current))


def offload(
    mount: Path,
    *,
    device_id: str,
    device_signer: Signer,
    dock_signer: Signer,
    ledger: Ledger,
    store: DockStore,
    session: SessionRef,
    officer_id: str,
    case_id: str | None = None,
    activity: str | None = None,
    unit: str | None = None,
    calibration: str | None = None,
    offset_ns: int = 0,
    clock_unknown: bool = False,
    resolution_ns: int = 1,
    tolerance_ns: int = cont.NS_PER_S,
    gap_bound_ns: int = cont.DEFAULT_GAP_BOUND_NS,
    recorder_tz: tzinfo = UTC,
    media_dirs: Iterable[str] = MEDIA_DIRS,
    mount_wait_s: float = 30.0,
    clock: Callable[[], int] = time.time_ns,
    monotonic: Callable[[], float] = time.monotonic,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> OffloadSummary:
    """Offload everything new on the recorder mounted at ``mount`` into ``store`` and ``ledger``.

    ``calibration`` is the entry hash of the latest calibration. Each file's times are corrected
    by the offset (device − reference) in force when it was recorded, from the recorder's clock
    history in ``ledger`` (its ``calibration`` records, the docking's measurement included;
    ``agent.clock.history``), with the uncertainty (``time_uncertainty_ms``) or, where the history
    cannot say, flagged ``time_uncertain``; ``offset_ns`` is applied to every file only when no
    record ever measured the clock. Beyond ``tolerance_ns`` segments are flagged ``clock_drifted``;
    a correction smaller than ``resolution_ns`` (the clock's) or than the file's stamp (whole
    seconds in a name) is applied but not flagged ``time_corrected``.
    ``clock_unknown``: the recorder's clock could not be read or represented;
    times stay as the recorder gives them, flagged ``clock_unknown`` (see ``continuity``).
    Returns the summary of a complete run; raises ``OffloadIncomplete``
    (carrying the summary) when it stopped early, after closing the session record.
    """
    if not case_id and not activity:
        raise OffloadError(Message(N_("an offload must be bound to a case (--case) or an activity (--activity) "
                                   "(A2 Art.4)")))
    genesis = device_genesis(ledger, device_id, device_signer.keyid)
    summary = OffloadSummary(session.session_id, device_id)
    t_start = monotonic()
    ctx = _Run(device_id, device_signer, dock_signer, ledger, store, session, officer_id, case_id, activity,
               unit, cont.Correction(offset_ns, tolerance_ns, calibration, clock_unknown, max(1, resolution_ns)),
               cont.Policy(gap_bound_ns=gap_bound_ns), recorder_tz, clock, summary)
    if not clock_unknown:
        ctx.history = clock_history(ledger, device_id)
        ctx.window = _recording_window(ledger, device_id, session)
    error: Exception | None = None
    try:
        wait_for_mount(mount, mount_wait_s, stop)
        listing = list_recorder_files(mount, media_dirs)
        for s in listing.skipped:
            summary.problems.append(Message(N_("not read: {name}: {reason}"), name=display_name(s.source_name),
                                         reason=s.reason))
        state, holes = cont.chain_state(prior_segments(ledger, device_id), genesis)
        if clock_unknown:
            state = cont.on_unknown_clock(state)
        for hole in holes:  # cannot happen in an intact ledger; `ledger verify` names the entries
            summary.problems.append(_finding_problem(hole.gap_type, hole.detail))
        ctx.seen_findings = prior_findings(ledger, device_id)
        meter = _Meter(sum(f.size for f in listing.files), len(listing.files), progress, monotonic, stop,
                       summary)
        mount_fd = open_mount(mount)
        try:
            for f in _time_order(listing.files, recorder_tz, ctx.correction):
                meter.check_stop()
                meter.current = display_name(f.source_name)
                try:
                    state = ctx.one_file(mount, mount_fd, f, state, meter)
                except (UnsafeNameError, _FileVanished) as exc:
                    summary.problems.append(text_of(exc))
                meter.files_done += 1
        finally:
            os.close(mount_fd)
        summary.complete = True
    except OffloadIncomplete as exc:
        error = exc
    except (DiskFullError, RecorderGoneError, SourceReadError, MountError, MountTimeoutError) as exc:
        error = exc
    except Exception as exc:  # a malfunction: still close the session, then let it surface as it is
        summary.status = "failed"
        summary.seconds = monotonic() - t_start
        _close_session(ctx, exc)
        raise
    summary.seconds = monotonic() - t_start
    _close_session(ctx, error)
    if error is None:
        log.info("offload of %s complete: %d segments, %d bytes, %d gap records", device_id,
                 summary.segments, summary.bytes, summary.gaps)
        return summary
    if isinstance(error, OffloadIncomplete):
        raise error
    done = (Message(N_("the {count} segments completed before it are ledgered"), count=summary.segments)
            if summary.segments else Message(N_("no new segment was ledgered")))
    raise OffloadIncomplete(Message(N_("{error} (offload of {device_id}: {done}; dock session {session} is recorded "
                                    "as aborted)"),
                                 error=error, device_id=device_id, done=done, session=session.session_id),
                            summary) from error


def _time_order(files: list[RecorderFile], tz: tzinfo,
                correction: Callable[[str, int | None], cont.Correction] | None = None) -> list[RecorderFile]:
    """The order before anything is read: by the time in the name (or the mtime), corrected (a file
    recorded before a set may show a later time than one recorded after it)."""
    def key(f: RecorderFile) -> tuple:
        text, ns = cont.device_start_from(_name_text(f), f.mtime_ns, 0, tz)
        if ns is not None and correction is not None:
            corr = correction(text, ns)
            if corr.placeable(ns, 0):
                ns = corr.correct(ns)
        return (ns is None, ns or 0, f.rel)

    return sorted(files, key=key)


def _name_text(f: RecorderFile) -> str:
    """The name as text for reading the time stamped in it (never used as a path)."""
    return b"/".join(f.rel).decode("utf-8", "replace")


@dataclass
class _Run:
    device_id: str
    device_signer: Signer
    dock_signer: Signer
    ledger: Ledger
    store: DockStore
    session: SessionRef
    officer_id: str
    case_id: str | None
    activity: str | None
    unit: str | None
    corr: cont.Correction
    policy: cont.Policy
    tz: tzinfo
    clock: Callable[[], int]
    summary: OffloadSummary
    seen_findings: set[tuple] = field(default_factory=set)
    history: ClockHistory | None = None
    window: tuple[int | None, int | None] = (None, None)  # when new footage can have been recorded
    uncertain: dict[str, int] = field(default_factory=dict)  # why times are uncertain → how many files
    _corrections: dict[tuple[int, int], cont.Correction] = field(default_factory=dict)

    def correction(self, device_start: str, device_ns: int | None) -> cont.Correction:
        """The correction for a file stamped ``device_ns`` (``device_start``: as the recorder gave it)."""
        if device_ns is None or self.history is None:
            return self.corr
        stamp = MTIME_RESOLUTION_NS if device_start.startswith("mtime:") else NAME_RESOLUTION_NS
        key = (device_ns, stamp)
        if key not in self._corrections:
            ft = self.history.at(device_ns, stamp, recorded_after_ns=self.window[0],
                                 recorded_before_ns=self.window[1])
            self._corrections[key] = replace(
                self.corr, offset_ns=ft.offset_ns, resolution_ns=max(self.corr.resolution_ns, stamp),
                uncertainty_ns=ft.uncertainty_ns, uncertain=ft.uncertain, reason=ft.reason)
        return self._corrections[key]

    @property
    def binding(self) -> str:
        return _binding(self.case_id, self.activity)

    def one_file(self, mount: Path, mount_fd: int, f: RecorderFile, state: cont.ChainState,
                 meter: _Meter) -> cont.ChainState:
        what = display_name(f.source_name)
        fd = self._open(mount, mount_fd, f)
        try:
            known = state.names.get(f.source_name)
            if known:
                # Seen before under this name: hash without copying; skip if unchanged.
                sha, _ = hash_fd(fd, self.store.chunk_size, meter.add)
                if sha in known:
                    self.summary.already += 1
                    return state
                os.lseek(fd, 0, os.SEEK_SET)
                meter.total += f.size  # read a second time, into the store
            blob = self.store.ingest_fd(fd, expected_size=f.size, progress=meter.add, what=what)
        finally:
            os.close(fd)
        if blob.size != f.size:
            self.summary.problems.append(Message(
                N_("{name}: size changed while reading ({listed} listed, {read} read)"),
                name=what, listed=f.size, read=blob.size))
        pr = probe(blob.path, self.store)
        text, dev_ns = cont.device_start_from(_name_text(f), f.mtime_ns, pr.duration_ms, self.tz)
        corr = self.correction(text, dev_ns)
        received = dev_ns is None or not corr.placeable(dev_ns, pr.duration_ms)
        if received:
            dev_ns = self.clock()
            self.summary.problems.append(Message(N_("{name}: its time ({time}) is not one a record holds; the dock's "
                                                 "receive time stands for it (flagged {flag})"),
                                              name=what, time=text, flag=cont.RECEIVE_TIME))
        cand = cont.Candidate(f.source_name, blob.sha256, dev_ns, pr.duration_ms, blob.size, received)
        d = cont.decide(state, cand, corr, self.policy, self.binding)
        if not d.append:
            if d.findings:
                self.append_findings([], list(d.findings))
            else:
                self.summary.already += 1
            return state
        flags = list(d.flags)
        if not pr.decodable:
            flags.append("not_decodable")
            self.summary.problems.append(Message(N_("{name}: not decodable ({reason}); kept and signed"), name=what,
                                              reason=pr.reason))
        elif pr.reason:
            flags.append("last_frame_unchecked")
            self.summary.problems.append(Message(N_("{name}: {reason}"), name=what, reason=pr.reason))
        if f.problems:
            flags.append("unsafe_name")
            self.summary.problems.append(Message(
                N_("{name}: name unsafe as a path ({problems}); kept as data only"),
                name=full_source_name(b"/".join(f.rel)), problems=joined(list(f.problems))))
        if cont.TIME_UNCERTAIN in flags:
            self.uncertain[corr.reason] = self.uncertain.get(corr.reason, 0) + 1
        seg = self._segment(d, pr, blob.size, text, flags, corr)
        env = seal(make_body(seg), self.device_signer)
        entries = self.append_findings([env], list(d.findings))
        self.summary.segments += 1
        self.summary.bytes += 0 if blob.existed else blob.size
        self.summary.segment_hashes.append(entries[0].entry_hash)
        log.info("segment %s seq %d: %s (%d bytes)", self.device_id, d.seq, what, blob.size)
        return cont.advance(state, d, entries[0].entry_hash, self.binding)

    def _open(self, mount: Path, mount_fd: int, f: RecorderFile) -> int:
        try:
            return open_recorder_file(mount_fd, f.rel)
        except UnsafeNameError:
            raise
        except OSError as exc:
            if exc.errno not in _GONE:
                raise
            if not _same_dir(mount, mount_fd):
                raise RecorderGoneError(Message(
                    N_("recorder storage {mount} vanished while offloading (unplugged?); re-dock the recorder to "
                       "offload the rest"), mount=str(mount))) from exc
            raise _FileVanished(Message(N_("{name}: listed but gone when read ({error}); not offloaded"),
                                     name=display_name(f.source_name), error=str(exc.strerror))) from exc

    def _segment(self, d: cont.Decision, pr: ProbeResult, size: int, device_start: str,
                 flags: list[str], corr: cont.Correction) -> Segment:
        media = Media(sha256=d.candidate.sha256, size=size, container=pr.container[:64], codec=pr.codec[:64],
                      width=pr.width, height=pr.height, fps=pr.fps, frames=pr.frames,
                      duration_ms=pr.duration_ms)
        assert d.seq is not None and d.prev is not None
        return Segment(device_id=self.device_id, seq=d.seq, prev=d.prev, media=media,
                       device_start=device_start[:64], start_ns=d.start_ns, end_ns=d.end_ns,
                       calibration=self.corr.calibration, officer_id=self.officer_id, case_id=self.case_id,
                       activity=self.activity, unit=self.unit, source_name=d.candidate.source_name,
                       decodable=pr.decodable, flags=list(dict.fromkeys(flags)),
                       dock_session=self.session.session_id, thumbnail_sha256=pr.thumbnail_sha256,
                       time_corrected=corr.corrected and not d.candidate.received,
                       time_uncertainty_ms=None if d.candidate.received or corr.uncertainty_ns is None
                       else -(-corr.uncertainty_ns // cont.NS_PER_MS))

    def append_findings(self, envelopes: list, findings: list[cont.Finding]) -> list[Entry]:
        """Append a segment (if any) and its findings as ``gap`` records in one transaction.

        A finding identical to one already ledgered (a duplicate file still on the recorder at
        the next dock) is not appended again.
        """
        new = []
        for fnd in findings:
            detail = _clip(_printable(fnd.detail))
            key = _finding_key(fnd.gap_type, fnd.segments, detail)
            if key in self.seen_findings:
                continue
            self.seen_findings.add(key)
            new.append(fnd)
            gap = Gap(gap_type=fnd.gap_type, device_id=self.device_id, after_seq=fnd.after_seq,
                      before_seq=fnd.before_seq, start_ns=fnd.start_ns, end_ns=fnd.end_ns,
                      officer_id=self.officer_id, case_id=self.case_id, activity=self.activity,
                      segments=list(fnd.segments), needs_justification=fnd.needs_justification,
                      detail=detail)
            envelopes.append(seal(make_body(gap), self.dock_signer))
            self.summary.problems.append(_finding_problem(fnd.gap_type, fnd.detail))
        if not envelopes:
            return []
        entries = self.ledger.append_many(envelopes, received_ns=self.clock(), require_trusted=True)
        n_seg = len(entries) - len(new)
        self.summary.gaps += len(new)
        self.summary.gap_hashes.extend(e.entry_hash for e in entries[n_seg:])
        return entries


def _finding_problem(gap_type: str, detail: str) -> Message:
    """A continuity finding as a problem of the docking summary: "gap: no footage for …"."""
    return Message(N_("{gap_type}: {detail}"), gap_type=cont.gap_type_name(gap_type), detail=detail)


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def _close_session(ctx: _Run, error: Exception | None) -> None:
    s = ctx.summary
    for reason, n in ctx.uncertain.items():
        s.problems.append(Message(N_("{count} files flagged {flag}: {reason}"), count=n, flag=cont.TIME_UNCERTAIN,
                               reason=reason) if n > 1 else
                          Message(N_("{count} file flagged {flag}: {reason}"), count=n, flag=cont.TIME_UNCERTAIN,
                               reason=reason))
    if error is None:
        s.status = "completed"
    elif s.status != "failed":
        s.status = "aborted"
    lines = [f"{s.segments} new segments, {s.already} already offloaded, {s.bytes} bytes copied, "
             f"{s.gaps} continuity records"]
    if error is not None:
        lines.append(f"stopped: {english(error)}")
    lines += s.problems
    body = DockSession(session_id=s.session_id, dock_id=ctx.session.dock_id, device_id=ctx.device_id,
                       officer_id=ctx.officer_id, case_id=ctx.case_id, activity=ctx.activity,
                       started_ns=ctx.session.started_ns, ended_ns=max(ctx.clock(), ctx.session.started_ns),
                       status=s.status, files=s.segments, detail=_clip("\n".join(_printable(line) for line in lines)))
    try:
        ctx.ledger.append(seal(make_body(body), ctx.dock_signer), received_ns=ctx.clock(), require_trusted=True)
    except BodycamError as exc:  # the ledger itself failing: report, keep the original error
        log.error("could not record the end of dock session %s: %s", s.session_id, exc)
        s.problems.append(Message(N_("session end not recorded: {error}"), error=exc))


__all__ = ["OffloadError", "OffloadIncomplete", "OffloadSummary", "Progress", "RecorderGoneError",
           "SessionRef", "StoreError", "device_genesis", "offload", "open_session", "prior_segments"]
