"""Offload at the dock: real folder as the recorder's mount, real store, real ledger
(A2 Art.8: everything once, unaltered, signed, ordered, gaps found; A2 Art.14-15)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from datetime import UTC
from pathlib import Path

import pytest

from agent.offload.files import (
    OffloadError,
    OffloadIncomplete,
    RecorderGoneError,
)
from agent.offload.mount import MountTimeoutError, wait_for_mount
from agent.offload.names import decode_source_name
from agent.segments import segment_rows
from agent.store import DiskFullError
from ledger.enroll import public_of
from ledger.envelope import verify_signatures
from ledger.keys import Signer
from ledger.verify import verify_ledger
from tests.fixtures.media import fill_with, write_ffmpeg_h264, write_opencv_video
from tests.fixtures.offload import DEVICE, NS, Dock, make_dock, recorder_card  # noqa: F401


def test_offload_signs_chains_and_finds_the_gap(dock):
    files = recorder_card(dock.mount)
    s = dock.run()
    assert (s.segments, s.already, s.gaps, s.complete, s.status) == (3, 0, 1, True, "completed")
    assert s.bytes == sum(p.stat().st_size for p in files.values())
    segs = dock.segments()
    bodies = [e.record for e in segs]
    assert [b.seq for b in bodies] == [0, 1, 2]
    assert bodies[0].prev == dock.enrollment
    assert [b.prev for b in bodies[1:]] == [segs[0].entry_hash, segs[1].entry_hash]
    assert [b.source_name for b in bodies] == [f"DCIM/100MEDIA/{p.name}" for p in files.values()]
    for e, b, p in zip(segs, bodies, files.values(), strict=True):
        # signed by the recorder's own key, not the dock's
        assert verify_signatures(e.envelope, {dock.device.keyid: public_of(dock.device)}) == [dock.device.keyid]
        assert dock.store.blob_path(b.media.sha256).read_bytes() == p.read_bytes()
        assert dock.store.has(b.thumbnail_sha256)
        assert b.decodable and b.calibration == "c" * 64 and b.dock_session == "s1"
        assert b.case_id == "case-42" and b.officer_id == "officer-7"
    assert bodies[1].media.codec == "h264" and bodies[1].media.fps == "25"
    assert (bodies[0].media.duration_ms, bodies[0].device_start) == (2000, "20261130_081500")
    assert bodies[0].end_ns - bodies[0].start_ns == 2 * NS
    gap = dock.gaps()[0]
    assert verify_signatures(gap.envelope, {dock.dock.keyid: public_of(dock.dock)})
    g = gap.record
    assert (g.gap_type, g.after_seq, g.before_seq, g.needs_justification) == ("gap", 1, 2, True)
    assert g.end_ns - g.start_ns == 58 * NS
    closed = dock.sessions_closed()
    assert closed[0]["status"] == "completed" and closed[0]["files"] == 3
    assert verify_ledger(dock.ledger).ok
    rows = segment_rows(dock.ledger, DEVICE)
    assert [(r.seq, r.codec, r.decodable) for r in rows] == [(0, "fmp4", True), (1, "h264", True),
                                                             (2, "fmp4", True)]
    assert rows[0].as_dict()["start"] == "2026-11-30T08:15:00.000Z"
    # the recorder is left untouched (nothing is deleted in this issue)
    assert all(p.exists() for p in files.values())


def test_redocking_offloads_only_what_is_new(dock):
    files = recorder_card(dock.mount)
    dock.run()
    size = dock.ledger.size
    s = dock.run()
    assert (s.segments, s.already, s.gaps, s.bytes) == (0, 3, 0, 0)
    assert len(dock.segments()) == 3 and dock.ledger.size == size + 2  # only the session open/close
    new = write_opencv_video(files["c"].parent / "VID_20261130_081602_0004.mp4", frames=11, fps=10)
    s = dock.run()
    assert (s.segments, s.already, s.gaps) == (1, 3, 0)
    last = dock.segments()[-1].record
    assert last.seq == 3 and last.source_name.endswith(new.name)
    assert last.prev == dock.segments()[2].entry_hash


def test_waits_for_the_mount_to_appear(dock, tmp_path):
    """The emulator's own ``expose`` makes the folder appear the way a recorder re-enumerates."""
    from agent.emulator.server import expose

    card = tmp_path / "card"
    (card / "DCIM").mkdir(parents=True)
    write_opencv_video(card / "DCIM" / "VID_20261130_090000_0001.mp4", frames=5)
    t = threading.Timer(0.3, expose, (card, dock.mount_root, dock.mount.name))
    t.start()
    try:
        s = dock.run(mount_wait_s=10)
    finally:
        t.join()
    assert s.segments == 1


def test_mount_timeout_names_the_path_and_the_wait(dock, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(MountTimeoutError, match=r"SN123 within 0.3 s.*mass-storage"):
        wait_for_mount(dock.mount, 0.3)
    assert time.monotonic() - t0 < 2
    with pytest.raises(MountTimeoutError, match="mount root .* does not exist"):
        wait_for_mount(tmp_path / "nowhere" / "SN1", 0.1)
    with pytest.raises(OffloadIncomplete, match="did not appear"):
        dock.run(mount_wait_s=0.2)
    assert dock.sessions_closed()[0]["status"] == "aborted"


def test_bad_media_is_kept_signed_and_flagged(dock):
    media = dock.mount / "DCIM"
    media.mkdir(parents=True)
    good = write_ffmpeg_h264(media / "VID_20261130_100000_0001.mp4", seconds=1)
    data = good.read_bytes()
    (media / "VID_20261130_100001_0002.mp4").write_bytes(data[: len(data) * 9 // 10])  # truncated
    (media / "VID_20261130_100002_0003.mp4").write_text("not a video at all\n")          # text as .mp4
    s = dock.run()
    assert s.segments == 3
    bodies = [e.record for e in dock.segments()]
    assert [b.decodable for b in bodies] == [True, False, False]
    assert all("not_decodable" in b.flags for b in bodies[1:])
    assert bodies[2].media.container == "unknown"
    assert sum("not decodable" in p for p in s.problems) == 2


def test_hostile_names_and_links_are_data_not_paths(dock, tmp_path):
    secret = tmp_path / "dock-secret.key"
    secret.write_bytes(b"PRIVATE")
    dock.mount.mkdir()
    write_opencv_video(dock.mount / "VID_20261130_110000_0001.mp4", frames=5)
    os.symlink(secret, dock.mount / "VID_20261130_110001_0002.mp4")
    os.symlink("/", dock.mount / "DCIM")
    raw = b"VID_20261130_110002\n\xff\x1b[2J.mp4"
    with open(os.path.join(os.fsencode(dock.mount), raw), "wb") as f:
        f.write(b"weird but evidence")
    s = dock.run()
    assert s.segments == 2
    bodies = [e.record for e in dock.segments()]
    weird = bodies[1]
    assert decode_source_name(weird.source_name) == raw and "unsafe_name" in weird.flags
    assert weird.source_name.isprintable()
    stored = {p.read_bytes() for p in dock.store.blob_dir.rglob("*") if p.is_file()}
    assert b"PRIVATE" not in stored
    assert any("symlink" in p for p in s.problems)
    detail = dock.sessions_closed()[0]["detail"]
    assert "symlink" in detail and "\x1b" not in detail


def test_disk_full_mid_file_stops_cleanly_and_a_later_dock_resumes(tmp_path):
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(tiny)], check=True)
    d = make_dock(tmp_path, store_dir=tiny / "store")
    try:
        media = d.mount / "DCIM"
        media.mkdir(parents=True)
        write_opencv_video(media / "VID_20261130_120000_0001.mp4", frames=5)
        fill_with(media / "VID_20261130_120001_0002.mp4", 3 * 1024 * 1024, seed=9)
        write_opencv_video(media / "VID_20261130_120002_0003.mp4", frames=6)
        with pytest.raises(OffloadIncomplete, match="full.*free space") as info:
            d.run()
        assert isinstance(info.value.__cause__, DiskFullError)
        assert info.value.summary.segments == 1 and not info.value.summary.complete
        assert len(d.segments()) == 1
        assert list(d.store.tmp_dir.iterdir()) == []
        closed = d.sessions_closed()
        assert closed[0]["status"] == "aborted" and "full" in closed[0]["detail"]
        # space is freed (the dock's disk grows); docking again completes
        subprocess.run(["mount", "-o", "remount,size=16m", str(tiny)], check=True)
        s = d.run()
        assert (s.segments, s.already, s.complete) == (2, 1, True)
        assert [e.record.seq for e in d.segments()] == [0, 1, 2]
        assert verify_ledger(d.ledger).ok
    finally:
        d.ledger.close()
        subprocess.run(["umount", "-l", str(tiny)], check=False)


def test_unplugged_mid_offload_records_a_partial_session_and_next_dock_completes(dock, tmp_path):
    card = tmp_path / "card"
    recorder_card(card)
    shutil.copytree(card, dock.mount)

    def unplug(p):
        if "0002" in p.current and dock.mount.exists():
            shutil.rmtree(dock.mount)  # the volume disappears under the dock

    with pytest.raises(OffloadIncomplete, match="vanished") as info:
        dock.run(progress=unplug)
    assert isinstance(info.value.__cause__, RecorderGoneError)
    assert info.value.summary.segments == 2
    assert dock.sessions_closed()[0]["status"] == "aborted"
    shutil.copytree(card, dock.mount)  # plugged in again
    s = dock.run()
    assert (s.segments, s.already, s.complete) == (1, 2, True)
    assert [e.record.seq for e in dock.segments()] == [0, 1, 2]
    assert len(dock.gaps()) == 1  # the 58 s gap, found once


def test_a_file_gone_while_the_recorder_stays_is_noted_and_the_rest_offloaded(dock):
    files = recorder_card(dock.mount)

    def delete_b(p):
        if files["b"].exists():
            files["b"].unlink()

    s = dock.run(progress=delete_b)
    assert (s.segments, s.complete) == (2, True)
    assert any("listed but gone" in p for p in s.problems)
    assert "listed but gone" in dock.sessions_closed()[0]["detail"]


def test_altered_file_is_appended_and_flagged(dock):
    files = recorder_card(dock.mount)
    dock.run()
    write_opencv_video(files["b"], frames=7, fps=10)  # same name, other bytes
    s = dock.run()
    assert s.segments == 1
    last = dock.segments()[-1].record
    assert "altered" in last.flags and last.seq == 3
    # re-recorded under an old name: altered, and older than footage already ledgered
    assert [g.record.gap_type for g in dock.gaps()][-2:] == ["altered", "out_of_order"]
    assert dock.run().segments == 0  # and only once


def test_duplicate_bytes_under_another_name_are_not_appended(dock):
    files = recorder_card(dock.mount)
    shutil.copy(files["a"], files["a"].parent / "VID_20261130_081700_0009.mp4")
    s = dock.run()
    assert s.segments == 3
    assert [g.record.gap_type for g in dock.gaps()] == ["gap", "duplicate"]
    s = dock.run()
    assert (s.segments, s.gaps) == (0, 0)


def test_drifted_clock_is_corrected_and_flagged(dock):
    recorder_card(dock.mount)
    dock.run(offset_ns=5 * NS, tolerance_ns=NS)
    b = dock.segments()[0].record
    assert "clock_drifted" in b.flags and "time_corrected" in b.flags and b.time_corrected
    from datetime import UTC, datetime
    assert b.start_ns == int(datetime(2026, 11, 30, 8, 14, 55, tzinfo=UTC).timestamp()) * NS


def test_progress_and_stop_mid_file_keeps_nothing_partial(dock):
    """SIGTERM in ``agent run`` sets the stop event: the file being copied is abandoned cleanly."""
    recorder_card(dock.mount)
    dock.store.chunk_size = 4096  # several chunks per file, so the stop lands inside one
    seen = []
    stop = threading.Event()

    def cb(p):
        seen.append(p)
        if p.files_done == 1:
            stop.set()

    with pytest.raises(OffloadIncomplete, match="stopped on request") as info:
        dock.run(progress=cb, stop=stop)
    assert info.value.summary.segments == 1 and len(dock.segments()) == 1
    assert list(dock.store.tmp_dir.iterdir()) == []
    assert dock.sessions_closed()[0]["status"] == "aborted"
    assert seen[-1].done_bytes <= seen[-1].total_bytes and seen[-1].files_total == 3
    assert seen[-1].rate_bps > 0 and seen[-1].current.endswith("0002.mp4")
    assert dock.run().segments == 2  # the next dock finishes


def test_unenrolled_device_and_unbound_offload_are_refused(dock):
    dock.mount.mkdir()
    with pytest.raises(OffloadError, match="not enrolled"):
        dock.run(device_signer=Signer.generate())
    with pytest.raises(OffloadError, match="case"):
        dock.run(case_id=None)


@pytest.mark.parametrize("profile_name", ["zfy-e12-gat947", "binary-aa55-crc16"])
def test_emulated_recorder_card_with_clock_offset(dock, tmp_path, profile_name):
    """The emulator's own card (recorder-local names, +08:00 or UTC, mtime = end, MP4 or MJPEG
    AVI) with a recorder clock 3 s fast: corrected times land on the true times."""
    from datetime import datetime

    from agent.emulator.server import expose
    from agent.emulator.state import RecordingSpec
    from agent.emulator.videogen import plan_segments, populate
    from agent.link.profiles import load_profile

    repo = Path(__file__).resolve().parents[2]
    profile = load_profile(repo / "agent" / "link" / "firmware_profiles" / f"{profile_name}.toml")
    t0 = datetime(2026, 11, 30, 1, 0, 0, tzinfo=UTC)
    recs = [RecordingSpec(start=t0, duration_s=2, count=2, gap_after_s=30, width=64, height=48, fps=5),
            RecordingSpec(duration_s=1, count=1, width=64, height=48, fps=5)]
    card = tmp_path / "card"
    populate(card / profile.storage.media_dir, profile, recs, offset_s=3.0, label="T")
    expose(card, dock.mount_root, dock.mount.name)
    media_dirs = (profile.storage.media_dir.split("/")[0],)
    s = dock.run(offset_ns=3 * NS, tolerance_ns=NS, recorder_tz=profile.tzinfo, media_dirs=media_dirs)
    assert (s.segments, s.gaps) == (3, 1)
    bodies = [e.record for e in dock.segments()]
    truth = [int(p.true_start.timestamp()) * NS for p in plan_segments(recs)]
    assert [b.start_ns for b in bodies] == truth
    assert all(b.flags[:2] == ["time_corrected", "clock_drifted"] and b.decodable for b in bodies)
    gap = dock.gaps()[0].record
    assert gap.end_ns - gap.start_ns == 30 * NS
