"""Probe: metadata and decodability without a full decode; bad media is kept, never an exception
(A2 Art.8: evidence is never thrown away)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import pytest

from agent.offload.probe import fourcc_text, fps_rational, probe, sniff_container
from agent.store import DockStore
from tests.fixtures.media import write_ffmpeg_h264, write_opencv_video


def test_opencv_mp4(opencv_video, tmp_path):
    store = DockStore(tmp_path / "store")
    r = probe(opencv_video, store)
    assert (r.container, r.codec, r.width, r.height) == ("mp4", "fmp4", 160, 120)
    assert (r.fps, r.frames, r.duration_ms) == ("10", 12, 1200)
    assert r.decodable and r.reason is None
    thumb = store.blob_path(r.thumbnail_sha256)
    img = cv2.imread(str(thumb))
    assert img is not None and img.shape[:2] == (120, 160)


def test_ffmpeg_h264_mp4_from_debian(ffmpeg_video, tmp_path):
    """Footage not written by this project: libx264 via Debian's ffmpeg."""
    r = probe(ffmpeg_video, DockStore(tmp_path / "store"))
    assert (r.container, r.codec, r.width, r.height) == ("mp4", "h264", 160, 120)
    assert (r.fps, r.frames, r.duration_ms) == ("25", 25, 1000)
    assert r.decodable and r.thumbnail_sha256


def test_ntsc_rate_is_an_exact_rational(tmp_path):
    v = write_ffmpeg_h264(tmp_path / "ntsc.mp4", seconds=1, size="64x48", rate="30000/1001")
    r = probe(v)
    assert r.fps == "30000/1001" and r.frames == 30 and r.duration_ms == 1001


def test_raw_h264_stream_has_no_index(tmp_path):
    raw = tmp_path / "v.h264"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=duration=1:size=160x120:rate=25", "-c:v", "libx264", "-f", "h264", str(raw)],
                   check=True, timeout=60)
    r = probe(raw, DockStore(tmp_path / "store"))
    assert (r.container, r.codec, r.width, r.decodable, r.frames) == ("annexb", "h264", 160, True, None)
    assert "only the first frame" in r.reason and r.thumbnail_sha256


def test_probe_does_not_need_the_file_name(opencv_video, tmp_path):
    """Blobs in the store have no extension; the format comes from the bytes."""
    blob = tmp_path / "0123abcd"
    blob.write_bytes(opencv_video.read_bytes())
    assert probe(blob).decodable


def test_mjpeg_avi(tmp_path):
    v = write_opencv_video(tmp_path / "x.avi", fourcc="MJPG")
    r = probe(v)
    assert (r.container, r.codec, r.frames, r.decodable) == ("avi", "mjpg", 12, True)


@pytest.mark.parametrize("faststart", [True, False])
def test_truncated_h264_is_not_decodable_but_described(tmp_path, faststart):
    v = write_ffmpeg_h264(tmp_path / "v.mp4", seconds=1, faststart=faststart)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(v.read_bytes()[: int(v.stat().st_size * 0.9)])
    r = probe(cut)
    assert r.decodable is False and r.container == "mp4"
    assert "truncated" in r.reason


def test_truncated_opencv_mp4_without_index(opencv_video, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = opencv_video.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.9)])  # OpenCV writes the index (moov) last
    r = probe(cut)
    assert r.decodable is False and "cannot be opened" in r.reason
    cut.write_bytes(data[:-200])  # index itself damaged
    r = probe(cut)
    assert r.decodable is False and r.reason


def test_corrupt_middle(ffmpeg_video, tmp_path):
    data = bytearray(ffmpeg_video.read_bytes())
    start = len(data) // 3
    data[start:start + 2000] = b"\x55" * 2000
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    r = probe(bad)
    assert r.decodable is False and r.reason


def test_text_file_named_mp4(tmp_path):
    t = tmp_path / "notes.mp4"
    t.write_text("this is not a video\n")
    r = probe(t, DockStore(tmp_path / "store"))
    assert (r.container, r.decodable, r.thumbnail_sha256) == ("unknown", False, None)
    assert "not a video" in r.reason
    blob = tmp_path / "random"
    blob.write_bytes(bytes(range(256)) * 100)
    assert probe(blob).reason == "not a video (no known container signature)"


def test_empty_and_unreadable(tmp_path):
    e = tmp_path / "empty.mp4"
    e.write_bytes(b"")
    assert probe(e).decodable is False
    r = probe(tmp_path / "missing.mp4")
    assert r.decodable is False and "cannot read" in r.reason


def test_helpers():
    assert sniff_container(b"\x00\x00\x00\x18ftypqt  ") == "mov"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(b"\x1a\x45\xdf\xa3....webm") == "webm"
    assert sniff_container(b"hello") == "unknown"
    assert fps_rational(29.97002997002997) == "30000/1001"
    assert fps_rational(25.0) == "25"
    assert fps_rational(0.0) is None and fps_rational(float("nan")) is None
    assert fourcc_text(cv2.VideoWriter_fourcc(*"avc1")) == "avc1"


def test_thumbnail_is_scaled_down(tmp_path):
    v = write_opencv_video(tmp_path / "big.mp4", frames=3, size=(640, 480))
    store = DockStore(tmp_path / "store")
    r = probe(v, store)
    img = cv2.imread(str(store.blob_path(r.thumbnail_sha256)))
    assert img.shape[:2] == (240, 320)


def test_probe_cost_does_not_depend_on_length(tmp_path):
    """A long clip is probed by seeking, not decoding: reading stays far below a full decode."""
    v = write_ffmpeg_h264(tmp_path / "long.mp4", seconds=60, size="64x48", rate=25)
    r = probe(Path(v))
    assert r.frames == 1500 and r.duration_ms == 60000 and r.decodable
