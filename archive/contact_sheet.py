"""Contact sheets: a grid of frames sampled evenly across a segment, each labelled with its
corrected time, for archivists who would rather look than read (A2 Art.15).

Showing frames is showing footage: a sheet is made only under the same policy as a copy
(:func:`archive.access.check_view`: an approved, unexpired request covering the segment, its
secrecy levels named) and logged through :func:`archive.access.record_access` with purpose
``contact_sheet`` before the PNG is written (A2 Art.18). The blob is re-hashed before it is
decoded, so a sheet never shows bytes that are not the signed footage.

The pure parts (which frames, what labels, the grid) are separate functions so that they are
tested on real video without a ledger. OpenCV is imported inside the functions that need it:
importing this module (or the CLI) does not load it. Labels are ASCII: ``cv2.putText`` draws
only Hershey fonts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bodycam.errors import RefusedError
from bodycam.formats import local_time
from bodycam.i18n import N_, Message
from ledger.blobs import BlobStore
from ledger.keys import Signer
from ledger.records import Segment
from ledger.store import Entry, Ledger

#: Bounds: a sheet is for a look, not a re-encoding of the footage.
MAX_FRAMES = 100
MAX_COLS = 12
CELL_WIDTH = 320
_FONT_SCALE = 0.45
_LINE = 18
_PAD = 6


class Undecodable(RefusedError):
    """The footage cannot be decoded into frames (exit 3)."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its index in the file, its offset from the file's start, the image (BGR)."""

    index: int
    offset_ms: int
    image: Any


def sample_indices(frame_count: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly from the first frame to the last (fewer when the file
    has fewer frames), ascending and distinct."""
    if frame_count <= 0 or n <= 0:
        return []
    n = min(n, frame_count)
    if n == 1:
        return [0]
    return [i * (frame_count - 1) // (n - 1) for i in range(n)]


def ascii_text(text: str) -> str:
    """What ``cv2.putText`` can draw: printable ASCII, anything else as ``?``."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)


def frame_label(seg: Segment, frame: Frame) -> str:
    """``#index  YYYY-MM-DD HH:MM:SS TZ``: the segment's corrected start plus the frame's offset."""
    return ascii_text(f"#{frame.index}  {local_time(seg.start_ns + frame.offset_ms * 1_000_000)}")


def time_note(seg: Segment) -> str:
    """How far the times can be trusted: corrected or not, its ± bound, its flags (A2 Art.13)."""
    parts = ["time corrected" if seg.time_corrected else "device clock, not corrected"]
    if seg.time_uncertainty_ms is not None:
        parts.append(f"+/-{seg.time_uncertainty_ms} ms")
    for flag in ("time_uncertain", "clock_unknown", "dock_receive_time"):
        if flag in seg.flags:
            parts.append(flag.upper())
    return ", ".join(parts)


def header_text(seg: Segment, entry_hash: str) -> str:
    """The sheet's header: which footage, whose, when (corrected) and how sure that time is."""
    return ascii_text(
        f"{seg.device_id} seq {seg.seq}  officer {seg.officer_id}  case {seg.case_id or '-'}  "
        f"{local_time(seg.start_ns)} - {local_time(seg.end_ns)}  [{time_note(seg)}]  entry {entry_hash[:16]}")


def read_frames(path: Path, n: int, frame_count_hint: int | None = None) -> list[Frame]:
    """``n`` frames sampled evenly across the video at ``path``; Undecodable when it yields none.

    The frame count is the container's, else ``frame_count_hint`` (the segment record's); each
    frame's offset is its index over the stream's rate, else the decoder's position."""
    # FFmpeg's and OpenCV's own complaints about a damaged file are not for the terminal: the
    # refusal says it once, in the reader's language.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise Undecodable(Message(N_("the footage cannot be decoded (no video stream OpenCV can open)")))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if count <= 0:
            count = frame_count_hint or 0
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = []
        for idx in sample_indices(count, n):
            if idx and not cap.set(cv2.CAP_PROP_POS_FRAMES, idx):
                continue
            ok, img = cap.read()
            if not ok or img is None or img.size == 0:
                continue
            offset = round(idx * 1000 / fps) if fps > 0 else int(cap.get(cv2.CAP_PROP_POS_MSEC) or 0)
            frames.append(Frame(idx, offset, img))
    finally:
        cap.release()
        cv2.utils.logging.setLogLevel(level)
    if not frames:
        raise Undecodable(Message(N_("the footage cannot be decoded (no frame could be read)")))
    return frames


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines that fit ``width`` pixels, broken at double spaces, then single ones."""
    import cv2

    def fits(s: str) -> bool:
        return cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, 1)[0][0] <= width

    lines: list[str] = []
    cur = ""
    for word in text.split(" "):
        trial = f"{cur} {word}" if cur else word
        if fits(trial) or not cur:
            cur = trial
        else:
            lines.append(cur.strip())
            cur = word
    if cur.strip():
        lines.append(cur.strip())
    return lines


def compose(frames: Sequence[Frame], labels: Sequence[str], header: str, cols: int,
            cell_width: int = CELL_WIDTH) -> Any:
    """The grid as one BGR image: the header lines on top, then the frames ``cols`` to a row,
    each scaled to ``cell_width`` pixels wide with its label underneath."""
    import cv2
    import numpy as np

    if not frames:
        raise ValueError("no frames to compose")
    cols = max(1, min(cols, len(frames)))
    rows = -(-len(frames) // cols)
    h0, w0 = frames[0].image.shape[:2]
    cell_h = max(1, round(cell_width * h0 / max(w0, 1)))
    width = cols * cell_width + (cols + 1) * _PAD
    head = _wrap(header, width - 2 * _PAD)
    head_h = _PAD + len(head) * _LINE + _PAD
    row_h = cell_h + _LINE + _PAD
    sheet = np.full((head_h + rows * row_h + _PAD, width, 3), 32, np.uint8)
    for i, line in enumerate(head):
        cv2.putText(sheet, line, (_PAD, _PAD + (i + 1) * _LINE - 5), cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE,
                    (255, 255, 255), 1, cv2.LINE_AA)
    for i, (frame, label) in enumerate(zip(frames, labels, strict=True)):
        r, c = divmod(i, cols)
        x = _PAD + c * (cell_width + _PAD)
        y = head_h + r * row_h
        sheet[y:y + cell_h, x:x + cell_width] = cv2.resize(frame.image, (cell_width, cell_h),
                                                           interpolation=cv2.INTER_AREA)
        cv2.putText(sheet, _wrap(label, cell_width)[0], (x, y + cell_h + _LINE - 4), cv2.FONT_HERSHEY_SIMPLEX,
                    _FONT_SCALE, (230, 230, 230), 1, cv2.LINE_AA)
    return sheet


def png_bytes(image: Any) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise RefusedError(Message(N_("OpenCV could not encode the contact sheet as PNG")))
    return buf.tobytes()


def write_new(out: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``out``, 0600; an existing file is never overwritten."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(fd)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Sheet:
    """What was made: the access entry, the segment, the frames shown (index, offset) and the size."""

    access: Entry
    segment: Entry
    frames: tuple[tuple[int, int], ...]
    width: int
    height: int


def contact_sheet(ledger: Ledger, blobs: BlobStore, signer: Signer, by: str, segment: str, request: str,
                  out: Path, *, cols: int = 4, frames: int = 12, now_ns: int | None = None,
                  cell_width: int = CELL_WIDTH) -> Sheet:
    """Make ``out`` (a new PNG, 0600): ``frames`` frames of ``segment`` in ``cols`` columns, for an
    approved, unexpired request covering it. Refused (policy, missing or altered blob, footage
    that cannot be decoded, ``out`` exists): the attempt is logged and AccessRefused raised,
    nothing is written. Granted: the access (purpose ``contact_sheet``) is logged, then written."""
    from archive.access import VIEW_POLICY, AccessRefused, _now, check_view, record_access
    from archive.verify import hash_file
    from ledger.checks.access import VIEW_ROLES
    from ledger.people import require_person_key

    require_person_key(ledger, signer, by, VIEW_ROLES, N_("archivist"))
    now = _now(now_ns)
    seg_e, req_hash, reasons = check_view(ledger, segment, request, VIEW_POLICY, now)
    seg = seg_e.record if seg_e is not None else None
    blob = blobs.blob_path(seg.media.sha256) if isinstance(seg, Segment) else None
    if not reasons and (blob is None or not blob.is_file()):
        reasons = [Message(N_("the footage is not in the archive's blob store"))]
    if not reasons and out.exists():
        reasons = [Message(N_("{file} already exists; a contact sheet never overwrites a file"), file=out)]
    shown: list[Frame] = []
    if not reasons:
        assert isinstance(seg, Segment) and blob is not None
        digest, _size, error = hash_file(str(blob))
        if digest != seg.media.sha256:
            reasons = [Message(N_("the stored footage does not match its hash {sha256} ({error}); nothing is shown: "
                                  "run `bodycam archive verify`"), sha256=seg.media.sha256[:16],
                               error=error or "altered")]
    if not reasons:
        assert isinstance(seg, Segment) and blob is not None
        try:
            shown = read_frames(blob, frames, seg.media.frames)
        except Undecodable as exc:
            reasons = [exc.args[0] if exc.args else Message(N_("the footage cannot be decoded"))]
    if reasons:
        entry = record_access(ledger, signer, by, request=req_hash, segment=seg_e, outcome="refused",
                              reasons=reasons, out_name=out.name, purpose="contact_sheet", now_ns=now)
        raise AccessRefused(reasons, entry)
    assert isinstance(seg, Segment) and seg_e is not None
    image = compose(shown, [frame_label(seg, f) for f in shown], header_text(seg, seg_e.entry_hash), cols,
                    cell_width)
    data = png_bytes(image)
    entry = record_access(ledger, signer, by, request=req_hash, segment=seg_e, outcome="viewed", reasons=[],
                          out_name=out.name, purpose="contact_sheet", now_ns=now)
    try:
        write_new(out, data)
    except FileExistsError:
        raise RefusedError(Message(N_("{file} already exists; a contact sheet never overwrites a file"),
                                   file=out)) from None
    return Sheet(entry, seg_e, tuple((f.index, f.offset_ms) for f in shown), int(image.shape[1]),
                 int(image.shape[0]))
