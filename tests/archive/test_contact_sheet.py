"""Contact sheets (A2 Art.15, 18): frames sampled evenly across real video (written by OpenCV and
by Debian's ffmpeg), labelled with corrected times; made only under an approved request and
logged as an access with purpose ``contact_sheet``; altered or undecodable footage refused with
nothing written. The command runs as installed against a real archive ledger and blob store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import cv2
import pytest

from archive.contact_sheet import (
    Frame,
    Undecodable,
    ascii_text,
    compose,
    frame_label,
    header_text,
    read_frames,
    sample_indices,
    time_note,
)
from ledger.blobs import BlobStore
from ledger.envelope import seal
from ledger.keys import Signer, write_private_key
from ledger.people import enroll_person
from ledger.records import Media
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.ledger import T0_NS, build_ledger, segment
from tests.fixtures.media import write_ffmpeg_h264, write_opencv_video
from tests.fixtures.sync import BODYCAM, render_toml

NOW = 1_767_081_600 * 10**9  # 2025-12-30T08:00:00Z


@pytest.mark.parametrize(("count", "n", "expected"), [
    (0, 5, []), (10, 0, []), (10, 1, [0]), (10, 2, [0, 9]), (10, 4, [0, 3, 6, 9]), (3, 12, [0, 1, 2]),
    (50, 7, [0, 8, 16, 24, 32, 40, 49]),
])
def test_a2_art15_frames_are_sampled_evenly_from_first_to_last(count, n, expected):
    assert sample_indices(count, n) == expected


def _seg(**update):
    return segment("cam-1", 0, "0" * 64).model_copy(update=update)


@pytest.mark.parametrize(("update", "note"), [
    ({}, "device clock, not corrected"),
    ({"time_corrected": True, "time_uncertainty_ms": 250}, "time corrected, +/-250 ms"),
    ({"time_corrected": True, "flags": ["time_uncertain"]}, "time corrected, TIME_UNCERTAIN"),
    ({"flags": ["clock_unknown", "dock_receive_time"]}, "device clock, not corrected, CLOCK_UNKNOWN, "
                                                        "DOCK_RECEIVE_TIME"),
])
def test_a2_art13_15_the_header_says_how_far_the_times_can_be_trusted(update, note):
    seg = _seg(**update)
    assert time_note(seg) == note
    assert f"[{note}]" in header_text(seg, "ab" * 32)


def test_a2_art15_labels_are_corrected_start_plus_offset_in_ascii(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    seg = _seg()  # starts 2025-11-30T08:40:00.123Z = 16:40:00 CST
    assert frame_label(seg, Frame(75, 2_500, None)) == "#75  2025-11-30 16:40:02 CST"
    assert frame_label(seg, Frame(0, 61_000, None)).endswith("16:41:01 CST")
    assert ascii_text("案件 case-1\x1b[2J") == "?? case-1?[2J"


@pytest.mark.parametrize("make", ["opencv", "ffmpeg"])
def test_a2_art15_frames_are_read_from_real_video_with_their_offsets(tmp_path, make):
    if make == "opencv":
        path, count, rate = write_opencv_video(tmp_path / "v.mp4", frames=30, fps=10.0), 30, 10
    else:
        path, count, rate = write_ffmpeg_h264(tmp_path / "v.mp4", seconds=2, rate=25), 50, 25
    frames = read_frames(path, 5)
    assert [f.index for f in frames] == sample_indices(count, 5)
    assert [f.offset_ms for f in frames] == [round(i * 1000 / rate) for i in sample_indices(count, 5)]
    assert frames[0].image.shape == (120, 160, 3)
    sheet = compose(frames, [f"#{f.index}" for f in frames], "cam-1 seq 0", cols=2, cell_width=100)
    assert sheet.shape[1] == 2 * 100 + 3 * 6 and sheet.shape[0] > 3 * 75
    assert sheet.dtype.name == "uint8"


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500, "truncated"])
def test_a2_art15_undecodable_footage_raises_a_clear_refusal(tmp_path, content):
    path = tmp_path / "bad.mp4"
    if content == "truncated":
        path.write_bytes(write_ffmpeg_h264(tmp_path / "ok.mp4").read_bytes()[:3000])
    else:
        path.write_bytes(content)
    with pytest.raises(Undecodable, match="cannot be decoded"):
        read_frames(path, 4)


# --- the command, on a real archive ----------------------------------------------------------------


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).isoformat()


class Archive:
    """An archive ledger with an archivist and a head, and four segments whose blobs are: an H.264
    file by ffmpeg, an MPEG-4 file by OpenCV, bytes that are no video, and a video altered after
    it was signed."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(mode=0o700)
        self.config = root / "bodycam.toml"
        self.config.write_text(render_toml({"archive": {"data_dir": str(root)}}))
        setup = build_ledger(root / "ledger.db", segments=0)
        store = BlobStore(root / "blobs").ensure()
        media = root / "media"
        media.mkdir()
        files = [write_ffmpeg_h264(media / "0.mp4", seconds=2), write_opencv_video(media / "1.mp4", frames=30),
                 media / "2.mp4", write_opencv_video(media / "3.mp4", frames=20)]
        files[2].write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video" * 300)
        self.keys: dict[str, Path] = {}
        self.segments: list[str] = []
        with Ledger.open(root / "ledger.db") as lg:
            for pid, role in (("arch-1", "archivist"), ("head-1", "head")):
                s = Signer.generate()
                self.keys[pid] = root / f"{pid}.key"
                write_private_key(self.keys[pid], s)
                enroll_person(lg, setup.root, pid, role, s.public_key, now_ns=T0_NS)
            prev = lg.get(1).entry_hash
            for seq, f in enumerate(files):
                data = f.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
                seg = segment("cam-1", seq, prev).model_copy(update={
                    "media": Media(sha256=sha, size=len(data), container="mp4", codec="h264", width=160, height=120,
                                   fps="25", frames=None, duration_ms=2000),
                    "time_corrected": True, "time_uncertainty_ms": 250 if seq == 0 else None,
                    "decodable": seq != 2, "flags": ["not_decodable"] if seq == 2 else []})
                e = lg.append(seal(seg, setup.device), require_trusted=True)
                prev = e.entry_hash
                self.segments.append(e.entry_hash)
                blob = store.blob_path(sha)
                blob.parent.mkdir(parents=True, exist_ok=True)
                blob.write_bytes(data if seq != 3 else data[:-10] + b"X" * 10)

    def run(self, *args: str, now: int | None = NOW, lang: str = "C") -> subprocess.CompletedProcess:
        when = ["--now", iso(now)] if now is not None else []
        return subprocess.run([BODYCAM, "--config", str(self.config), *args, *when], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "LANG": lang, "LC_ALL": "", "LC_MESSAGES": "",
                                                "TZ": "Asia/Shanghai"})

    def request(self) -> str:
        res = self.run("access", "request", "--case", "case-1", "--requester", "Wang Li", "--org", "District Court",
                       "--reason", "hearing", "--by", "arch-1", "--key", str(self.keys["arch-1"]), "--json")
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["request"]

    def sheet(self, seq: int, req: str, out: Path, *extra: str, lang: str = "C") -> subprocess.CompletedProcess:
        return self.run("archive", "contact-sheet", self.segments[seq], "--request", req, "--out", str(out),
                        "--by", "arch-1", "--key", str(self.keys["arch-1"]), *extra, lang=lang)

    def log(self) -> list[dict]:
        res = self.run("access", "log", "--json", now=None)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "archive")


def test_a2_art18_contact_sheet_without_approval_exits_3_and_is_logged(archive, tmp_path):
    req = archive.request()
    out = tmp_path / "sheet.png"
    res = archive.sheet(0, req, out)
    assert res.returncode == 3, res.stderr
    assert "not approved by the bureau head" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()
    [row] = archive.log()
    assert (row["outcome"], row["purpose"], row["segment"]) == ("refused", "contact_sheet", archive.segments[0])


def test_a2_art15_18_approved_contact_sheet_is_logged_then_written_0600_and_never_overwritten(archive, tmp_path):
    req = archive.request()
    assert archive.run("access", "approve", req, "--head", "head-1", "--key", str(archive.keys["head-1"])
                       ).returncode == 0
    out = tmp_path / "sheet.png"
    res = archive.sheet(0, req, out, "--cols", "3", "--frames", "6", "--json")
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    assert [f["index"] for f in made["frames"]] == [0, 9, 19, 29, 39, 49]
    assert [f["offset_ms"] for f in made["frames"]] == [0, 360, 760, 1160, 1560, 1960]
    assert out.stat().st_mode & 0o777 == 0o600
    img = cv2.imread(str(out))
    assert img is not None and (img.shape[1], img.shape[0]) == (made["width"], made["height"])
    assert made["width"] == 3 * 320 + 4 * 6
    [row] = archive.log()
    assert (row["outcome"], row["purpose"], row["approved_by"]) == ("viewed", "contact_sheet", "head-1")
    assert row["entry"] == made["access"] and row["out_name"] == "sheet.png"

    before = out.read_bytes()
    res = archive.sheet(1, req, out)
    assert res.returncode == 3 and "never overwrites" in res.stderr
    assert out.read_bytes() == before
    res = archive.sheet(1, req, tmp_path / "opencv.png")
    assert res.returncode == 0, res.stderr
    assert "contact sheet of 12 frame(s)" in res.stdout
    assert [r["outcome"] for r in archive.log()] == ["viewed", "refused", "viewed"]
    table = archive.run("access", "log", now=None).stdout
    assert "AS" in table and "contact sheet" in table
    with Ledger.open(archive.root / "ledger.db") as lg:
        report = verify_ledger(lg)
    assert report.ok, report.problems


def test_a2_art15_altered_or_undecodable_footage_is_refused_and_nothing_written(archive, tmp_path):
    req = archive.request()
    assert archive.run("access", "approve", req, "--head", "head-1", "--key", str(archive.keys["head-1"])
                       ).returncode == 0
    out = tmp_path / "bad.png"
    res = archive.sheet(2, req, out)
    assert res.returncode == 3, res.stderr
    assert "cannot be decoded" in res.stderr and "Traceback" not in res.stderr
    assert "moov" not in res.stderr and "WARN" not in res.stderr
    assert not out.exists()
    res = archive.sheet(3, req, out)
    assert res.returncode == 3
    assert "does not match its hash" in res.stderr and "archive verify" in res.stderr
    assert not out.exists()
    rows = archive.log()
    assert [(r["outcome"], r["purpose"]) for r in rows] == [("refused", "contact_sheet")] * 2
    assert "cannot be decoded" in rows[0]["reasons"][0] and "does not match" in rows[1]["reasons"][0]


def test_a2_art15_contact_sheet_refusal_speaks_chinese(archive, tmp_path):
    req = archive.request()
    res = archive.sheet(0, req, tmp_path / "s.png", lang="zh_CN.UTF-8")
    assert res.returncode == 3
    assert "未经局负责人批准" in res.stderr, res.stderr
