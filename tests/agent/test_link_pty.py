"""Driver ↔ emulator on a real pty, for every profile and every supported command; unsupported
commands raise; auth needs the right secret from where the profile says. A2 Art.13: the dock
must read battery, card and clock of every recorder model it serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from serial.tools.list_ports_common import ListPortInfo

from agent.link.driver import RecorderLink, match_ports, resolve_secret
from agent.link.errors import AuthError, UnsupportedCommand
from agent.link.profiles import load_profiles

PROFILES = load_profiles()
STATE = {"serial": "RT00042", "battery_pct": 64, "storage_total_mib": 30436, "storage_free_mib": 12288,
         "officer_id": "010204", "officer_name": "李四", "unit_id": "440100000000", "recording": True,
         "clock_offset_s": -7200.0, "model": "BWC9", "firmware": "2.3.1", "id_code": "HA0112"}


class FakeTime:
    """An injectable true-time source, advanced by the test, for deterministic clocks."""

    def __init__(self, start: float):
        self.t = start

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("pid", sorted(PROFILES))
def test_round_trip_every_supported_command(pid, emulated_recorder):
    truth = FakeTime(datetime(2026, 11, 30, 0, 30, 5, 250000, tzinfo=UTC).timestamp())
    rec = emulated_recorder(pid, STATE, clock=truth)
    p = rec.profile
    with RecorderLink(rec.port, p, secret=rec.password, timeout_s=0.5, clock=truth) as link:
        ident = link.identify()
        assert ident.serial == "RT00042"
        info = link.get_info()
        assert (info.officer_id, info.officer_name, info.unit_id) == ("010204", "李四", "440100000000")
        assert link.get_battery().battery_pct == 64
        st = link.get_storage()
        assert st.total_bytes == 30436 << 20 and st.free_bytes == 12288 << 20
        reading = link.read_clock()
        expected = datetime(2026, 11, 29, 22, 30, 5, 250000, tzinfo=UTC)
        if p.clock_resolution_s >= 1:
            expected = expected.replace(microsecond=0)
        assert reading.recorder_time == expected
        assert reading.recorder_time.utcoffset() == p.tzinfo.utcoffset(None)
        assert reading.offset_s == pytest.approx(-7200.25 if p.clock_resolution_s >= 1 else -7200.0)
        target = datetime(2026, 11, 30, 0, 30, 5, tzinfo=UTC)
        link.set_time(target)
        truth.t += 3.0
        assert link.get_time() == target + timedelta(seconds=3)
        if p.supports("get_recording_state"):
            assert link.get_recording_state().recording is True
        else:
            with pytest.raises(UnsupportedCommand, match=f"profile {pid}"):
                link.get_recording_state()
        link.enter_mass_storage()
    assert rec.wait_mounted().is_dir()
    if "set_time" in p.commands and len(p.commands["set_time"].steps) > 1:
        assert rec.emulator.log.requests.count("set_time") == len(p.commands["set_time"].steps)


def test_unsupported_command_is_not_sent(emulated_recorder):
    rec = emulated_recorder("zfy-e12-gat947", STATE)
    with RecorderLink(rec.port, rec.profile, secret=rec.password, timeout_s=0.3) as link:
        with pytest.raises(UnsupportedCommand) as exc:
            link.get_recording_state()
        assert rec.port in str(exc.value) and "get_recording_state" in str(exc.value)
        assert rec.emulator.log.requests == []


def test_device_reports_unknown_command(emulated_recorder):
    """A firmware older than its profile answers 'unknown command': UnsupportedCommand, no retry."""
    rec = emulated_recorder("jsonl-epoch-ms", STATE)
    with RecorderLink(rec.port, rec.profile, timeout_s=0.3) as link:
        link._ser.write(b'{"cmd":"selfdestruct"}\n')
        link._ser.flush()
        assert link._read_frame("x", 0.5)[0] == b'{"ok":false,"err":"unknown_cmd"}'


@pytest.mark.parametrize("pid", ["zfy-e12-gat947", "ambarella-at-delimited"])
def test_wrong_password_is_auth_error_and_secret_not_in_message(pid, emulated_recorder):
    rec = emulated_recorder(pid, STATE)
    link = RecorderLink(rec.port, rec.profile, secret="wrong-secret-123", timeout_s=0.3)
    with link, pytest.raises(AuthError) as exc:
        link.get_battery()
    assert "wrong-secret-123" not in str(exc.value) and "rejected the password" in str(exc.value)


def test_secret_from_env_or_file(tmp_path, monkeypatch, emulated_recorder):
    p = PROFILES["zfy-e12-gat947"]
    monkeypatch.delenv(p.auth.password_env, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(AuthError, match=r"\$BODYCAM_ZFY_PASSWORD or file"):
        resolve_secret(p)
    pw = tmp_path / ".config" / "bodycam" / "zfy-password"
    pw.parent.mkdir(parents=True)
    pw.write_text("000000\n")
    pw.chmod(0o644)
    with pytest.raises(AuthError, match="chmod 600"):
        resolve_secret(p)
    pw.chmod(0o600)
    assert resolve_secret(p) == "000000"
    monkeypatch.setenv(p.auth.password_env, "from-env")
    assert resolve_secret(p) == "from-env"
    monkeypatch.setenv(p.auth.password_env, "000000")
    rec = emulated_recorder(p, STATE)
    with RecorderLink(rec.port, p, timeout_s=0.3) as link:
        assert link.get_battery().battery_pct == 64


def test_port_matching_on_vid_pid():
    ports = []
    for dev, vid, pid in [("/dev/ttyACM0", 0x1A86, 0x7523), ("/dev/ttyACM1", 0x0483, 0x5740),
                          ("/dev/ttyUSB9", 0x1234, 0x5678)]:
        info = ListPortInfo(dev, skip_link_detection=True)
        info.vid, info.pid = vid, pid
        ports.append(info)
    found = match_ports(ports, PROFILES.values())
    assert [(d, p.id) for d, p in found] == [("/dev/ttyACM0", "jsonl-epoch-ms"),
                                             ("/dev/ttyACM1", "binary-aa55-crc16")]
