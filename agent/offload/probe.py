"""What an offloaded file is, learnt without decoding all of it (A2 Art.8, 16).

Each segment record states the container, codec, size, frame rate, frame count and duration of
its footage, and whether its first and last frames decode: a truncated or corrupt file is still
evidence, so it is kept and signed with ``decodable: false`` and a reason, never dropped. The
probe runs on the copy in the dock store (the recorder is read once), opens it with OpenCV's
FFmpeg backend, reads the first frame, seeks to the last one, and stops: cost is independent of
the length of the footage. It never raises for bad media; only a failure to store the thumbnail
(the dock's own disk) is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2

from agent.store import DockStore, StoreError
from bodycam.i18n import N_, Message

log = logging.getLogger(__name__)

THUMB_WIDTH = 320
THUMB_QUALITY = 80
_MAGIC_READ = 512


@dataclass(frozen=True)
class ProbeResult:
    container: str
    codec: str
    width: int
    height: int
    fps: str | None          # a rational string ("25", "30000/1001"): signed bodies carry no floats
    frames: int | None
    duration_ms: int
    decodable: bool
    reason: str | None = None           # why not decodable, or what could not be checked
    thumbnail_sha256: str | None = None


def sniff_container(head: bytes) -> str:
    """The container format from the file's first bytes (names are never trusted for this)."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        if brand.startswith(b"3g"):
            return "3gp"
        return "mp4"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "matroska"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "mpeg-ps"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpeg-ts"
    if head[:3] == b"FLV":
        return "flv"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if head[:4] == b"OggS":
        return "ogg"
    if len(head) > 392 and head[4] == 0x47 and head[196] == 0x47 and head[388] == 0x47:
        return "m2ts"
    if head[:4] == b"\x00\x00\x00\x01" or head[:3] == b"\x00\x00\x01":
        return "annexb"  # raw H.264/H.265 elementary stream, as some recorders write
    return "unknown"


def fps_rational(fps: float) -> str | None:
    """OpenCV reports fps as a float; the ledger wants an exact rational (NTSC → 30000/1001)."""
    if not fps or fps != fps or fps <= 0 or fps > 10_000:
        return None
    frac = Fraction(fps).limit_denominator(1001)
    return str(frac.numerator) if frac.denominator == 1 else f"{frac.numerator}/{frac.denominator}"


def fourcc_text(value: float) -> str:
    code = int(value) & 0xFFFFFFFF
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    text = "".join(ch for ch in text if ch.isprintable() and not ch.isspace()).lower()
    return text or "unknown"


def probe(path: Path, store: DockStore | None = None) -> ProbeResult:
    """Describe the video at ``path``; save a first-frame JPEG thumbnail into ``store``.

    Corrupt, truncated and non-video files give ``decodable=False`` with a reason.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_MAGIC_READ)
    except OSError as exc:
        return ProbeResult("unknown", "unknown", 0, 0, None, None, 0, False,
                           Message(N_("cannot read: {error}"), error=str(exc.strerror)))
    container = sniff_container(head)
    if container == "unknown":
        # No video container starts like this: do not hand arbitrary bytes to FFmpeg's prober.
        why = Message(N_("not a video (no known container signature)")) if head else Message(N_("empty file"))
        return ProbeResult(container, "unknown", 0, 0, None, None, 0, False, why)
    try:
        return _probe_cv(path, container, store)
    except StoreError:
        raise
    except Exception as exc:  # OpenCV raises cv2.error and friends on hostile input
        log.warning("probe of %s failed: %s", path, exc)
        return ProbeResult(container, "unknown", 0, 0, None, None, 0, False,
                           Message(N_("probe failed: {error}"), error=str(exc)))


def _probe_cv(path: Path, container: str, store: DockStore | None) -> ProbeResult:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            why = Message(N_("not a video (unknown format)")) if container == "unknown" else Message(
                N_("{container} container cannot be opened: truncated or corrupt"), container=container)
            return ProbeResult(container, "unknown", 0, 0, None, None, 0, False, why)
        codec = fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        width = max(0, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)))
        height = max(0, int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        fps_f = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps_rational(fps_f)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frames = count if count > 0 else None
        duration_ms = int(Fraction(count) * 1000 / Fraction(fps)) if fps and count > 0 else 0

        ok, first = cap.read()
        if not ok or first is None:
            return ProbeResult(container, codec, width, height, fps, frames, duration_ms, False,
                               Message(N_("first frame not decodable")))
        thumb = _thumbnail(first, store)
        reason: Message | None = None
        if count > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, count - 1)
            ok, last = cap.read()
            # A seek past the readable data lands on an earlier frame and still "succeeds": the
            # position after the read tells whether the last frame itself was decoded.
            reached = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
            if not ok or last is None:
                reason = Message(N_("last frame ({frame}) not decodable: truncated or corrupt"), frame=count - 1)
            elif reached < count:
                reason = Message(N_("last frame ({frame}) not reachable (stopped at {reached}): truncated"),
                              frame=count - 1, reached=reached - 1)
        elif count <= 0:
            # A raw stream has no index to seek by; finding its end would mean decoding it all.
            return ProbeResult(container, codec, width, height, fps, None, 0, True,
                               Message(N_("no frame index (raw stream): only the first frame was checked")), thumb)
        return ProbeResult(container, codec, width, height, fps, frames, duration_ms, reason is None, reason,
                           thumb)
    finally:
        cap.release()


def _thumbnail(frame: object, store: DockStore | None) -> str | None:
    if store is None:
        return None
    h, w = frame.shape[:2]  # type: ignore[attr-defined]
    if w > THUMB_WIDTH:
        frame = cv2.resize(frame, (THUMB_WIDTH, max(1, h * THUMB_WIDTH // w)), interpolation=cv2.INTER_AREA)
    ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    if not ok:
        return None
    return store.ingest_bytes(jpg.tobytes()).sha256
