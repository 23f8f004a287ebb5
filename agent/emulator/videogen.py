"""Real video files for the emulator's card, written with OpenCV.

The dock must hash, probe and sign genuine containers, so an emulated recorder holds genuine
files: deterministic frames (same state → same pixels) with the recorder-clock time burned in,
as a body camera overlays it, named and dated by the recorder's clock.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from agent.emulator.farclock import NS, far_time, local_ns
from agent.emulator.state import RecordingSpec
from agent.link.profiles import Profile
from bodycam.errors import BodycamError

log = logging.getLogger(__name__)


class VideoWriteError(BodycamError):
    """OpenCV could not write a video (codec missing or disk full)."""


@dataclass(frozen=True)
class PlannedSegment:
    index: int
    true_start: datetime
    duration_s: float
    width: int
    height: int
    fps: float


def plan_segments(recordings: list[RecordingSpec]) -> list[PlannedSegment]:
    """Segments in order, with true start times (back-to-back within a recording)."""
    out: list[PlannedSegment] = []
    cursor: datetime | None = None
    index = 1
    for rec in recordings:
        start = rec.start if rec.start is not None else cursor
        for i in range(rec.count):
            out.append(PlannedSegment(index, start + timedelta(seconds=i * rec.duration_s), rec.duration_s,
                                      rec.width, rec.height, rec.fps))
            index += 1
        cursor = start + timedelta(seconds=rec.count * rec.duration_s + rec.gap_after_s)
    return out


def _recorder_ns(seg: PlannedSegment, offset_s: float, after_s: float = 0.0) -> int:
    """The recorder clock's reading ``after_s`` into ``seg`` (ns; any year, see ``farclock``)."""
    return local_ns(seg.true_start) + round((offset_s + after_s) * NS)


def segment_name(profile: Profile, seg: PlannedSegment, offset_s: float) -> str:
    t = far_time(_recorder_ns(seg, offset_s), profile.tzinfo)
    local = t.local
    stem = profile.storage.file_name.format(year=t.year, month=local.month, day=local.day,
                                            hour=local.hour, minute=local.minute, second=local.second,
                                            index=seg.index)
    return f"{stem}.{profile.storage.extension}"


def write_segment(path: Path, profile: Profile, seg: PlannedSegment, offset_s: float, label: str) -> None:
    """Write one segment to ``path`` (via a temporary name), mtime = its end in the recorder clock."""
    frames = max(1, round(seg.duration_s * seg.fps))
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")  # OpenCV picks the container by suffix
    fourcc = cv2.VideoWriter_fourcc(*profile.storage.fourcc)
    writer = cv2.VideoWriter(str(tmp), fourcc, seg.fps, (seg.width, seg.height))
    if not writer.isOpened():
        raise VideoWriteError(f"{path}: OpenCV cannot write {profile.storage.fourcc} video here "
                              "(check the codec and free space)")
    scale = max(0.3, seg.width / 640)
    try:
        for n in range(frames):
            t = far_time(_recorder_ns(seg, offset_s, n / seg.fps), profile.tzinfo)
            shade = (seg.index * 37 + n * 3) % 200
            frame = np.full((seg.height, seg.width, 3), (40 + shade // 2, 60, 40 + shade), dtype=np.uint8)
            x = int((n * 7) % max(1, seg.width - 20))
            cv2.rectangle(frame, (x, seg.height // 2), (x + 16, seg.height // 2 + 16), (255, 255, 255), -1)
            cv2.putText(frame, t.strftime("%Y-%m-%d %H:%M:%S"), (4, int(18 * scale) + 2),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 255, 255), 1, cv2.LINE_AA)
            cv2.putText(frame, f"{label} #{seg.index} f{n}", (4, seg.height - 6),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, (255, 255, 0), 1, cv2.LINE_AA)
            writer.write(frame)
    finally:
        writer.release()
    if not tmp.exists() or tmp.stat().st_size == 0:
        raise VideoWriteError(f"{path}: OpenCV wrote nothing (codec {profile.storage.fourcc} unavailable?)")
    end = _recorder_ns(seg, offset_s, seg.duration_s) / NS  # the file system may clamp it to its range
    os.utime(tmp, (end, end))
    os.replace(tmp, path)


def populate(media_dir: Path, profile: Profile, recordings: list[RecordingSpec], offset_s: float,
             label: str) -> list[Path]:
    """Write every planned segment not already present; returns all segment paths in order."""
    media_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for seg in plan_segments(recordings):
        path = media_dir / segment_name(profile, seg, offset_s)
        if not path.exists():
            write_segment(path, profile, seg, offset_s, label)
            log.debug("wrote %s", path)
        paths.append(path)
    return paths
