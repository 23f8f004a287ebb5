"""Reference clocks (A2 Art.13): real chronyd on loopback, the kernel's adjtimex state, NMEA on a pty."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from agent.clock.calibrate import calibrate, calibration_body
from agent.clock.reference import (
    STA_CLOCKERR,
    STA_NANO,
    STA_UNSYNC,
    TIME_ERROR,
    TIME_OK,
    UNSYNC_REASON,
    GpsReference,
    KernelClockState,
    NtpReference,
    SourceDetail,
    SystemReference,
    assess_kernel_clock,
    nmea_checksum_ok,
    parse_nmea_time,
    parse_server,
    read_kernel_clock_state,
    reference_from_config,
    select_ntp_cluster,
)
from agent.config import ClockConfig
from bodycam.errors import ConfigError
from tests.fixtures.clocksim import WallClockRecorder
from tests.fixtures.ntp import free_udp_port

NS = 1_000_000_000
MS = 1_000_000

# --- NTP against real chronyd -------------------------------------------------------------------


@pytest.mark.integration
def test_quorum_of_real_chrony_servers_is_healthy(ntp_server):
    servers = [ntp_server() for _ in range(3)]
    ref = NtpReference([s.address for s in servers], quorum=2, max_disagreement_s=0.5, timeout_s=1.0)
    r = ref.read()
    assert r.healthy, r.reasons
    assert r.kind == "ntp" and r.reasons == () and r.notes == ()
    # chronyd serves this very machine's clock: offset ~0, bounded by the loopback round trip.
    assert abs(r.offset_ns) < 50 * MS
    assert 0 <= r.uncertainty_ns < 50 * MS
    assert [s.server for s in r.sources] == [s.address for s in servers]
    for s in r.sources:
        assert s.stratum == 8 and s.error is None and s.delay_ns is not None and s.delay_ns < 50 * MS
    assert abs(r.now_ns() - time.time_ns()) < 50 * MS
    assert sorted(r.details["chosen"]) == sorted(s.address for s in servers)


@pytest.mark.integration
def test_unreachable_server_below_quorum_is_unhealthy_and_named(ntp_server):
    good = ntp_server()
    dead = f"127.0.0.1:{free_udp_port()}"
    r = NtpReference([good.address, dead], quorum=2, timeout_s=0.3).read()
    assert not r.healthy
    assert "quorum is 2" in r.reasons[0] and dead in r.reasons[0]
    assert any(dead in reason and "no answer within 0.3 s" in reason for reason in r.reasons)
    failed = [s for s in r.sources if s.error]
    assert [s.server for s in failed] == [dead]


@pytest.mark.integration
def test_all_servers_unreachable_is_unhealthy():
    dead = [f"127.0.0.1:{free_udp_port()}", f"127.0.0.1:{free_udp_port()}"]
    r = NtpReference(dead, quorum=1, timeout_s=0.2).read()
    assert not r.healthy
    assert r.reasons[0].startswith("no NTP server answered")
    assert dead[0] in r.reasons[0] and dead[1] in r.reasons[0]


@pytest.mark.integration
def test_unreachable_spare_is_noted_when_quorum_holds(ntp_server):
    good = ntp_server()
    dead = f"127.0.0.1:{free_udp_port()}"
    r = NtpReference([good.address, dead], quorum=1, timeout_s=0.3).read()
    assert r.healthy
    assert any(dead in n for n in r.notes)


@pytest.mark.integration
def test_disagreeing_real_servers_are_refused(ntp_server):
    right = ntp_server()
    wrong = ntp_server(shift_s=90)
    r = NtpReference([right.address, wrong.address], quorum=1, max_disagreement_s=0.5, timeout_s=1.0).read()
    assert not r.healthy
    reason = r.reasons[0]
    assert "disagree by more than 0.5 s" in reason
    assert right.address in reason and wrong.address in reason
    offsets = {s.server: s.offset_ns for s in r.sources}
    assert abs(offsets[wrong.address] - 90 * NS) < 100 * MS  # libfaketime really shifted chronyd
    assert abs(offsets[right.address]) < 50 * MS


@pytest.mark.integration
def test_majority_outvotes_a_wrong_server(ntp_server):
    a, b = ntp_server(), ntp_server()
    wrong = ntp_server(shift_s=-3600)
    r = NtpReference([a.address, wrong.address, b.address], quorum=2, timeout_s=1.0).read()
    assert r.healthy, r.reasons
    assert abs(r.offset_ns) < 50 * MS
    assert any(wrong.address in n and "disagrees with the majority" in n for n in r.notes)


@pytest.mark.integration
def test_calibration_against_real_chrony_reference(ntp_server):
    """End to end on real clocks: a 1-s recorder three days slow is set within tolerance (A2 Art.13)."""
    servers = [ntp_server(), ntp_server()]
    ref = NtpReference([s.address for s in servers], quorum=2, timeout_s=1.0)
    rec = WallClockRecorder(offset_ns=-3 * 86400 * NS, tz=timezone(timedelta(hours=8)))
    res = calibrate(rec, ref, resolution_ns=NS, tz=rec.tz)
    assert res.passed, res.reasons
    assert abs(res.offset_before_ns + 3 * 86400 * NS) < 50 * MS
    assert abs(rec.true_device_ns() - time.time_ns()) < 50 * MS
    assert abs(res.offset_after_ns) + res.uncertainty_ns <= NS
    body = calibration_body(res, "rec-0001")
    assert [s["server"] for s in body["reference"]["servers"]] == [s.address for s in servers]
    assert all(s["stratum"] == 8 and s["reachable"] for s in body["reference"]["servers"])


@pytest.mark.integration
def test_calibration_refused_when_real_servers_disagree(ntp_server):
    ref = NtpReference([ntp_server().address, ntp_server(shift_s=30).address], timeout_s=1.0)
    rec = WallClockRecorder(offset_ns=5 * NS)
    res = calibrate(rec, ref)
    assert not res.passed and "disagree" in res.reasons[0] and rec.sets == []


# --- the cluster rule, pure -----------------------------------------------------------------------


def src(name, off_ms, delay_ms=2):
    return SourceDetail(name, off_ms * MS, delay_ms * MS, 2)


def test_cluster_takes_the_median_and_bounds_it():
    v = select_ntp_cluster([src("a", 10), src("b", 12), src("c", 30)], quorum=2, max_disagreement_ns=25 * MS)
    assert v.healthy and v.chosen == ("a", "b", "c")
    assert v.offset_ns == 12 * MS
    assert v.uncertainty_ns == 18 * MS + 1 * MS


def test_cluster_rejects_a_tie():
    v = select_ntp_cluster([src("a", 0), src("b", 0), src("c", 900), src("d", 901)], 1, 500 * MS)
    assert not v.healthy and "no majority" in v.reasons[0]


def test_cluster_needs_quorum_even_with_majority():
    v = select_ntp_cluster([src("a", 0), SourceDetail("b", error="no answer within 1 s")], 2, 500 * MS)
    assert not v.healthy
    assert "quorum is 2" in v.reasons[0] and "b" in v.reasons[0]


def test_cluster_uses_given_error_bounds():
    v = select_ntp_cluster([src("a", 5)], 1, 500 * MS, bounds={"a": 7 * MS})
    assert v.healthy and v.offset_ns == 5 * MS and v.uncertainty_ns == 7 * MS


@pytest.mark.parametrize(("spec", "want"), [("127.0.0.1:1123", ("127.0.0.1", 1123)),
                                             ("ntp.example.org", ("ntp.example.org", 123)),
                                             ("[::1]:1123", ("::1", 1123)), ("::1", ("::1", 123))])
def test_parse_server(spec, want):
    assert parse_server(spec) == want


@pytest.mark.parametrize("spec", ["", "host:0", "host:abc", "host:70000", "[::1]x"])
def test_parse_server_rejects(spec):
    with pytest.raises(ConfigError):
        parse_server(spec)


def test_ntp_reference_configuration_errors():
    with pytest.raises(ConfigError, match="no NTP servers"):
        NtpReference([])
    with pytest.raises(ConfigError, match="quorum = 3"):
        NtpReference(["a:1", "b:2"], quorum=3)


# --- the kernel clock -----------------------------------------------------------------------------


def test_system_reference_on_this_machine_follows_the_kernel_state():
    st = read_kernel_clock_state()
    r = SystemReference(max_error_s=0.5).read()
    healthy, reasons = assess_kernel_clock(st, NS // 2)
    assert r.healthy == healthy and list(r.reasons) == reasons
    assert r.details["status"] == st.status
    if st.status & STA_UNSYNC or st.state == TIME_ERROR:  # containers and fresh machines
        assert not r.healthy and UNSYNC_REASON in r.reasons


def test_unsynchronised_kernel_is_refused():
    ok, reasons = assess_kernel_clock(KernelClockState(TIME_ERROR, STA_UNSYNC, 16_000_000, 16_000_000), NS)
    assert not ok
    assert reasons == ["kernel clock not synchronised (STA_UNSYNC); start chrony/systemd-timesyncd or use "
                       "reference = ntp"]
    ok, reasons = assess_kernel_clock(KernelClockState(TIME_ERROR, 0, 100, 100), NS)
    assert not ok and reasons == [UNSYNC_REASON]


def test_synchronised_kernel_is_healthy_within_its_max_error():
    ok, reasons = assess_kernel_clock(KernelClockState(TIME_OK, STA_NANO, 15_000, 200), NS // 2)
    assert ok and reasons == []
    r = SystemReference(0.5, read_state=lambda: KernelClockState(TIME_OK, 0, 15_000, 200)).read()
    assert r.healthy and r.uncertainty_ns == 15 * MS and r.offset_ns == 0


def test_kernel_max_error_and_hardware_fault():
    ok, reasons = assess_kernel_clock(KernelClockState(TIME_OK, 0, 900_000, 1), NS // 2)
    assert not ok and "maximum error 0.9 s exceeds 0.5 s" in reasons[0]
    ok, reasons = assess_kernel_clock(KernelClockState(TIME_OK, STA_CLOCKERR, 1, 1), NS)
    assert not ok and "STA_CLOCKERR" in reasons[0]


def test_unreadable_kernel_state_is_unhealthy():
    def broken():
        raise OSError("adjtimex failed: errno 1")

    r = SystemReference(read_state=broken).read()
    assert not r.healthy and "cannot read the kernel clock state" in r.reasons[0]


# --- GPS (NMEA) over a real pty -------------------------------------------------------------------


def nmea(body: str) -> str:
    cs = 0
    for ch in body:
        cs ^= ord(ch)
    return f"${body}*{cs:02X}"


def rmc(t: datetime, status: str = "A") -> str:
    return nmea(f"GPRMC,{t:%H%M%S}.{t.microsecond // 10000:02d},{status},3113.000,N,12128.000,E,0.0,0.0,"
                f"{t:%d%m%y},,,A")


def test_nmea_checksum_and_parsing():
    line = rmc(datetime(2026, 11, 30, 9, 15, 42, 500000, tzinfo=UTC))
    assert nmea_checksum_ok(line)
    t = parse_nmea_time(line)
    assert t.sentence == "RMC" and t.fix is True
    assert t.time_ns == int(datetime(2026, 11, 30, 9, 15, 42, tzinfo=UTC).timestamp()) * NS + 500 * MS
    assert parse_nmea_time(line[:-2] + "00") is None  # bad checksum
    assert not nmea_checksum_ok("GPRMC,no,dollar*00") and not nmea_checksum_ok("$GPRMC*G1")
    zda = parse_nmea_time(nmea("GPZDA,091542.00,30,11,2026,00,00"))
    assert zda.sentence == "ZDA" and zda.fix is None
    assert zda.time_ns == int(datetime(2026, 11, 30, 9, 15, 42, tzinfo=UTC).timestamp()) * NS
    assert parse_nmea_time(rmc(datetime(2026, 1, 1, tzinfo=UTC), "V")).fix is False
    assert parse_nmea_time(nmea("GPGGA,091542.00,3113.0,N,12128.0,E,1,08,0.9,10.0,M,,M,,")) is None


def _pty_feeder(lines_at: list[tuple[float, str]]):
    master, slave = os.openpty()
    path = os.ttyname(slave)

    def feed():
        for delay, text in lines_at:
            time.sleep(delay)
            os.write(master, text.encode() + b"\r\n")

    th = threading.Thread(target=feed, daemon=True)
    return master, slave, path, th


@pytest.mark.integration
def test_gps_reference_reads_a_valid_fix_over_a_pty():
    shift = 7 * NS
    master, slave, path, th = _pty_feeder([])
    try:
        def feed():
            time.sleep(0.1)
            os.write(master, b"garbage\r\n" + nmea("GPGSV,1,1,00").encode()[:-2] + b"00\r\n")
            now = datetime.fromtimestamp((time.time_ns() + shift) / NS, UTC)
            os.write(master, (rmc(now) + "\r\n").encode())

        th = threading.Thread(target=feed, daemon=True)
        th.start()
        r = GpsReference(path, baudrate=115200, timeout_s=2.0, emit_delay_bound_s=0.2).read()
        th.join()
        assert r.healthy, r.reasons
        assert r.kind == "gps"
        assert abs(r.offset_ns - shift) <= r.uncertainty_ns + 20 * MS
        assert r.uncertainty_ns == 100 * MS + r.details["wire_ns"]
        assert r.details["bad_checksums"] == 1
        assert "without PPS" in r.details["uncertainty_basis"]
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.integration
def test_gps_without_fix_is_unhealthy():
    master, slave, path, _ = _pty_feeder([])
    try:
        def feed():
            time.sleep(0.05)
            for _ in range(3):
                os.write(master, (rmc(datetime.now(UTC), "V") + "\r\n").encode())
                time.sleep(0.05)

        th = threading.Thread(target=feed, daemon=True)
        th.start()
        r = GpsReference(path, timeout_s=0.5).read()
        th.join()
        assert not r.healthy and "no valid fix" in r.reasons[0]
    finally:
        os.close(master)
        os.close(slave)


def test_gps_port_missing_is_unhealthy(tmp_path):
    r = GpsReference(str(tmp_path / "ttyNOPE"), timeout_s=0.2).read()
    assert not r.healthy and "cannot open GPS receiver" in r.reasons[0]


# --- factory ----------------------------------------------------------------------------------------


def test_reference_from_config():
    ntp = reference_from_config(ClockConfig(ntp_servers=["127.0.0.1:1123", "127.0.0.1:1124"], quorum=2))
    assert isinstance(ntp, NtpReference) and ntp.quorum == 2
    over = reference_from_config(ClockConfig(reference="system", quorum=2), ["127.0.0.1:999"])
    assert isinstance(over, NtpReference) and over.servers == ["127.0.0.1:999"] and over.quorum == 1
    assert isinstance(reference_from_config(ClockConfig(reference="system")), SystemReference)
    gps = reference_from_config(ClockConfig(reference="gps", gps_port="/dev/ttyACM0", gps_baudrate=4800))
    assert isinstance(gps, GpsReference) and gps.baudrate == 4800
    with pytest.raises(ConfigError, match="gps_port"):
        reference_from_config(ClockConfig(reference="gps"))
