"""The emulator's faults, clock, card and mass-storage switch, against the real driver on a pty.

Each injected fault must end in the right project error within the timeout — never a hang or a
traceback — and the next command must work (A2 Art.13: a faulty recorder is reported, the dock
carries on)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import cv2
import pytest

from agent.emulator.state import load_state
from agent.link.driver import RecorderLink
from agent.link.errors import (
    ChecksumError,
    DeviceBusy,
    DeviceRefused,
    FramingError,
    LinkDisconnected,
    LinkTimeout,
)
from agent.link.profiles import load_profiles
from bodycam.errors import ConfigError

PROFILES = load_profiles()
TIMEOUT = 0.3
EXPECTED = {"garbage": FramingError, "silence": LinkTimeout, "busy": DeviceBusy, "refuse": DeviceRefused,
            "disconnect": LinkDisconnected, "bad_checksum": ChecksumError}
CASES = [(pid, kind) for pid in sorted(PROFILES) for kind in EXPECTED
         if kind != "bad_checksum" or PROFILES[pid].framing.checksum != "none"]


@pytest.mark.parametrize(("pid", "kind"), CASES)
def test_fault_gives_its_error_then_recovers(pid, kind, emulated_recorder):
    rec = emulated_recorder(pid, {"faults": {"rules": [{"kind": kind, "command": "get_battery"}]}})
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=TIMEOUT, retries=0) as link:
        link.identify()
        t0 = time.monotonic()
        with pytest.raises(EXPECTED[kind]) as exc:
            link.get_battery()
        assert time.monotonic() - t0 < TIMEOUT + 0.5
        msg = str(exc.value)
        assert rec.port in msg and pid in msg and "get_battery" in msg
        assert link.get_battery().battery_pct == 96  # same command again: recovered
        assert link.get_storage().free_bytes == 28000 << 20


@pytest.mark.parametrize("pid", sorted(PROFILES))
def test_retries_absorb_a_single_fault(pid, emulated_recorder):
    rules = [{"kind": "garbage", "command": "get_storage", "times": 1},
             {"kind": "busy", "command": "get_battery", "times": 2}]
    rec = emulated_recorder(pid, {"faults": {"rules": rules}})
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=TIMEOUT, retries=2,
                      retry_delay_s=0.01) as link:
        assert link.get_storage().total_bytes == 30000 << 20
        assert link.get_battery().battery_pct == 96
    assert rec.emulator.log.requests.count("get_battery") == 3


def test_busy_beyond_retries_is_device_busy(emulated_recorder):
    rec = emulated_recorder("jsonl-epoch-ms", {"faults": {"rules": [{"kind": "busy", "times": 0}]}})
    link = RecorderLink(rec.port, rec.profile, timeout_s=TIMEOUT, retries=2, retry_delay_s=0.01)
    with link, pytest.raises(DeviceBusy, match="wait a few seconds"):
        link.get_battery()
    assert rec.emulator.log.requests == ["get_battery"] * 3


@pytest.mark.parametrize("pid", sorted(PROFILES))
def test_split_frames_are_reassembled(pid, emulated_recorder):
    rec = emulated_recorder(pid, {"faults": {"rules": [{"kind": "split", "times": 0, "split_delay_s": 0.03}]}})
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=1.0, retries=0) as link:
        assert link.identify().serial == "EMU0001"
        assert link.get_info().officer_name == "张三"


def test_count_based_trigger_after(emulated_recorder):
    rec = emulated_recorder("binary-aa55-crc16",
                            {"faults": {"rules": [{"kind": "silence", "after": 2, "times": 1}]}})
    with RecorderLink(rec.port, rec.profile, timeout_s=TIMEOUT, retries=0) as link:
        link.get_battery()
        link.get_battery()
        with pytest.raises(LinkTimeout, match="no reply within"):
            link.get_battery()
        link.get_battery()


def test_set_time_refused_or_without_effect_and_time_jump(emulated_recorder):
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    truth = now.timestamp()
    rules = [{"kind": "refuse", "command": "set_time", "times": 1},
             {"kind": "ack_without_effect", "command": "set_time", "after": 1, "times": 1},
             {"kind": "time_jump", "command": "get_time", "after": 1, "times": 1, "jump_s": -30.0}]
    rec = emulated_recorder("jsonl-epoch-ms", {"clock_offset_s": 100.0, "faults": {"rules": rules}},
                            clock=lambda: truth)
    with RecorderLink(rec.port, rec.profile, timeout_s=TIMEOUT, retries=0, clock=lambda: truth) as link:
        with pytest.raises(DeviceRefused):
            link.set_time(now)
        link.set_time(now)  # acknowledged, clock unchanged
        assert link.read_clock().offset_s == pytest.approx(100.0)
        assert link.read_clock().offset_s == pytest.approx(70.0)  # jumped back 30 s
        link.set_time(now)
        assert link.read_clock().offset_s == pytest.approx(0.0)


def test_drift_and_one_second_resolution(emulated_recorder):
    t = [datetime(2026, 11, 30, 8, 0, 0, 700000, tzinfo=UTC).timestamp()]
    rec = emulated_recorder("ambarella-at-delimited", {"clock_offset_s": 0.0, "clock_drift_ppm": 100.0},
                            clock=lambda: t[0])
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=TIMEOUT, clock=lambda: t[0]) as link:
        assert link.get_time().astimezone(UTC) == datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)
        t[0] += 10_000  # 10 000 s at +100 ppm: the recorder gains 1 s
        assert link.get_time().astimezone(UTC) == datetime(2026, 11, 30, 10, 46, 41, tzinfo=UTC)
    assert rec.emulator.clock.offset_s() == pytest.approx(1.0)


def test_card_has_real_videos_named_by_recorder_clock(emulated_recorder, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "外来文件.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    state = {"serial": "ZF00077", "clock_offset_s": 3600.0, "recordings": [
        {"start": "2026-11-30T00:30:00Z", "duration_s": 2, "count": 2, "gap_after_s": 10,
         "width": 160, "height": 120, "fps": 5},
        {"duration_s": 1, "width": 160, "height": 120, "fps": 5}]}
    rec = emulated_recorder("zfy-e12-gat947", state, media_dir=media)
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=TIMEOUT) as link:
        link.enter_mass_storage()
    root = rec.wait_mounted()
    files = sorted(p.name for p in (root / "DCIM" / "100ZFY").iterdir())
    # 00:30 UTC + 1 h recorder offset = 09:30 Beijing time on the recorder
    assert files == ["20261130_093000_0001.mp4", "20261130_093002_0002.mp4", "20261130_093014_0003.mp4",
                     "外来文件.mp4"]
    first = root / "DCIM" / "100ZFY" / files[0]
    cap = cv2.VideoCapture(str(first))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 10 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 160
    ok, frame = cap.read()
    assert ok and frame.shape == (120, 160, 3)
    cap.release()
    assert first.stat().st_mtime == pytest.approx(datetime(2026, 11, 30, 1, 30, 2, tzinfo=UTC).timestamp())
    assert not [p for p in rec.mount_root.iterdir() if p.name.startswith(".ZF00077.mounting")]
    with pytest.raises(LinkDisconnected):  # the serial side is gone
        RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=TIMEOUT, retries=0).get_battery()


def test_videos_are_deterministic(emulated_recorder, tmp_path):
    state = {"recordings": [{"start": "2026-11-30T00:30:00Z", "duration_s": 1, "width": 64, "height": 48,
                             "fps": 5}]}
    a = emulated_recorder("jsonl-epoch-ms", state, storage_dir=tmp_path / "a")
    b = emulated_recorder("jsonl-epoch-ms", state, storage_dir=tmp_path / "b")
    fa = sorted((a.storage_dir / "Video").iterdir())
    fb = sorted((b.storage_dir / "Video").iterdir())
    assert [f.name for f in fa] == [f.name for f in fb] and fa[0].read_bytes() == fb[0].read_bytes()


def test_state_file_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "state.toml"
    bad.write_text('serial = "X1"\nbattery_pct = 150\nstorage_total_mib = 10\nstorage_free_mib = 5\n'
                   '[[faults.rules]]\nkind = "explode"\n')
    with pytest.raises(ConfigError) as exc:
        load_state(bad)
    msg = str(exc.value)
    assert "state.toml:2: battery_pct" in msg and "faults.rules.0.kind" in msg


@pytest.mark.parametrize("pid", sorted(PROFILES))
def test_malformed_requests_do_not_wedge_the_recorder(pid, emulated_recorder):
    """Line noise towards the recorder (a half-inserted plug) is dropped; the next command works."""
    import serial

    rec = emulated_recorder(pid)
    with serial.Serial(rec.port, timeout=0.1) as raw:
        raw.write(b"\xaa\x55\xff\xff" + b"\x00" * 40 + b"@bad;99;x;#\r\n{\"cmd\":\n" + b"\xfe" * 20)
        raw.flush()
        time.sleep(0.3)  # longer than the recorder's inter-frame gap
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=TIMEOUT, retries=1) as link:
        assert link.get_battery().battery_pct == 96


def test_emulator_offers_every_value_a_profile_may_use(emulated_recorder):
    from agent.link.profiles import DEVICE_VALUES

    rec = emulated_recorder("jsonl-epoch-ms")
    assert set(rec.emulator._values()) == DEVICE_VALUES
