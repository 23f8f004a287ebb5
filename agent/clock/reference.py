"""The dock's reference clocks: what a recorder is calibrated against (A2 Art.13).

A Raspberry Pi dock has no battery-backed clock and is wrong until synchronised, so the dock
never trusts its own clock blindly: each reference says whether it is *healthy* and, if not,
why, and a calibration against an unhealthy reference is refused. Three kinds, one interface
(``read() -> ReferenceReading``):

- ``NtpReference``: several NTP servers queried directly (ntplib); a majority of the answering
  servers must agree within a bound and number at least ``quorum``. One server alone could be
  wrong without anyone noticing; a cluster that agrees is evidence.
- ``SystemReference``: the kernel's own view (adjtimex): synchronised by chrony/timesyncd, and
  its maximum error.
- ``GpsReference``: NMEA time from a serial GPS receiver, for docks without network time.

``offset_ns`` is *reference minus local clock*: reference time = ``time.time_ns() + offset_ns``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import ntplib

from agent.config import ClockConfig, ReferenceKind
from bodycam.errors import ConfigError
from bodycam.i18n import N_, Message, _

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class SourceDetail:
    """One source behind a reading (an NTP server, the kernel, a GPS receiver)."""

    server: str
    offset_ns: int | None = None
    delay_ns: int | None = None
    stratum: int | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"server": self.server, "offset_ns": self.offset_ns, "delay_ns": self.delay_ns,
                "stratum": self.stratum, "error": self.error}


@dataclass(frozen=True)
class ReferenceReading:
    """A reference clock's answer: how far the local clock is off, how sure, and whether to trust it."""

    kind: str
    healthy: bool
    offset_ns: int
    uncertainty_ns: int
    sources: tuple[SourceDetail, ...] = ()
    reasons: tuple[str, ...] = ()  # why unhealthy (empty when healthy)
    notes: tuple[str, ...] = ()  # degraded but acceptable (an outlier, an unreachable spare)
    read_at_ns: int = 0  # local clock when read
    details: dict = field(default_factory=dict)  # kind-specific facts (kernel status, GPS latency)

    def now_ns(self, local_ns: Callable[[], int] = time.time_ns) -> int:
        """Reference time now, from the local clock corrected by the measured offset."""
        return local_ns() + self.offset_ns

    def as_dict(self) -> dict:
        return {"kind": self.kind, "healthy": self.healthy, "offset_ns": self.offset_ns,
                "uncertainty_ns": self.uncertainty_ns, "sources": [s.as_dict() for s in self.sources],
                "reasons": list(self.reasons), "notes": list(self.notes), "read_at_ns": self.read_at_ns,
                "details": dict(self.details)}


class ReferenceClock(Protocol):
    kind: str

    def read(self) -> ReferenceReading: ...


# --- NTP ----------------------------------------------------------------------------------------


def parse_server(spec: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``host`` (port 123) → (host, port); ConfigError otherwise."""
    s = spec.strip()
    if not s:
        raise ConfigError(_("empty NTP server; give host:port, e.g. 127.0.0.1:123"))
    if s.startswith("["):
        host, _sep, rest = s[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ("" if not rest else None)
        if port_s is None:
            raise ConfigError(_("NTP server {spec!r}: expected [ipv6]:port").format(spec=spec))
    elif s.count(":") == 1:
        host, port_s = s.split(":")
    elif ":" in s:
        host, port_s = s, ""  # bare IPv6
    else:
        host, port_s = s, ""
    if not port_s:
        return host, 123
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ConfigError(_("NTP server {spec!r}: port must be 1..65535, as host:port").format(spec=spec))
    return host, int(port_s)


@dataclass(frozen=True)
class NtpVerdict:
    healthy: bool
    offset_ns: int
    uncertainty_ns: int
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    chosen: tuple[str, ...]


def _fmt_off(ns: int) -> str:
    return f"{ns / NS_PER_S:+.3f} s"


def select_ntp_cluster(sources: Sequence[SourceDetail], quorum: int, max_disagreement_ns: int,
                       bounds: dict[str, int] | None = None) -> NtpVerdict:
    """Decide whether the answering servers prove the time, and what offset they prove.

    The largest group of answering servers whose offsets lie within ``max_disagreement_ns`` of
    each other must be a strict majority of the answering servers and at least ``quorum``
    strong. Its median is the offset; the uncertainty covers every member's own error bound
    (``bounds``: half delay + root delay/2 + root dispersion, default half delay) plus its
    distance from the median. Unreachable servers and outliers are named either way.
    """
    answered = [s for s in sources if s.error is None and s.offset_ns is not None]
    failed = [s for s in sources if s.error is not None or s.offset_ns is None]
    notes: list[str] = [Message(N_("NTP server {server} not used: {error}"), server=s.server, error=s.error)
                        for s in failed]
    if not answered:
        names = ", ".join(s.server for s in failed) or Message(N_("(none configured)"))
        return NtpVerdict(False, 0, 0, (Message(N_("no NTP server answered ({servers}); check the network and "
                                                "[agent.clock] ntp_servers, or pass --ntp-server HOST:PORT"),
                                             servers=names),), (), ())
    ordered = sorted(answered, key=lambda s: s.offset_ns)
    best: list[SourceDetail] = []
    j = 0
    for i in range(len(ordered)):  # sliding window over sorted offsets
        while ordered[i].offset_ns - ordered[j].offset_ns > max_disagreement_ns:
            j += 1
        if i - j + 1 > len(best):
            best = ordered[j:i + 1]
    reasons: list[str] = []
    outliers = [s for s in answered if s not in best]
    cluster_txt = ", ".join(f"{s.server} ({_fmt_off(s.offset_ns)})" for s in best)
    if 2 * len(best) <= len(answered):
        listing = ", ".join(f"{s.server} ({_fmt_off(s.offset_ns)})" for s in ordered)
        reasons.append(Message(N_("NTP servers disagree by more than {limit:g} s and no majority agrees: {servers}; "
                               "fix or remove the wrong server(s)"),
                            limit=max_disagreement_ns / NS_PER_S, servers=listing))
    elif len(best) < quorum:
        missing = (Message(N_("; unreachable or unusable: {servers}"), servers=", ".join(s.server for s in failed))
                   if failed else "")
        reasons.append(Message(N_("only {count} NTP server(s) answered and agree ({servers}) but the quorum is "
                               "{quorum}{missing}; check the servers or lower [agent.clock] quorum"),
                            count=len(best), servers=cluster_txt, quorum=quorum, missing=missing))
    for s in outliers:
        notes.append(Message(N_("NTP server {server} disagrees with the majority ({offset} vs {servers}); ignored"),
                          server=s.server, offset=_fmt_off(s.offset_ns), servers=cluster_txt))
    if reasons:
        unused = [n for n in notes if "not used" in n]
        return NtpVerdict(False, 0, 0, tuple(reasons + unused), tuple(notes), ())
    offs = sorted(s.offset_ns for s in best)
    n = len(offs)
    median = offs[n // 2] if n % 2 else (offs[n // 2 - 1] + offs[n // 2]) // 2
    bounds = bounds or {}
    unc = max(abs(s.offset_ns - median) + bounds.get(s.server, (s.delay_ns or 0) // 2) for s in best)
    return NtpVerdict(True, median, unc, (), tuple(notes), tuple(s.server for s in best))


class NtpReference:
    """Time from a quorum of NTP servers queried directly (not through the local daemon)."""

    kind = "ntp"

    def __init__(self, servers: Sequence[str], quorum: int = 1, max_disagreement_s: float = 0.5,
                 timeout_s: float = 2.0, version: int = 4):
        if not servers:
            raise ConfigError(_("no NTP servers configured: set [agent.clock] ntp_servers or pass --ntp-server"))
        if quorum > len(servers):
            raise ConfigError(_("[agent.clock] quorum = {quorum} but only {count} NTP server(s) are configured; "
                                "add servers or lower the quorum").format(quorum=quorum, count=len(servers)))
        self.servers = [s.strip() for s in servers]
        self._addr = [parse_server(s) for s in self.servers]
        self.quorum = quorum
        self.max_disagreement_ns = int(max_disagreement_s * NS_PER_S)
        self.timeout_s = timeout_s
        self.version = version

    def _query(self, idx: int) -> tuple[SourceDetail, int]:
        name = self.servers[idx]
        host, port = self._addr[idx]
        try:
            r = ntplib.NTPClient().request(host, version=self.version, port=port, timeout=self.timeout_s)
        except (ntplib.NTPException, OSError) as exc:
            msg = (Message(N_("no answer within {timeout:g} s"), timeout=self.timeout_s) if "No response" in str(exc)
                   else str(exc))
            return SourceDetail(name, error=msg), 0
        off, delay = round(r.offset * NS_PER_S), max(0, round(r.delay * NS_PER_S))
        detail = SourceDetail(name, offset_ns=off, delay_ns=delay, stratum=int(r.stratum))
        if r.leap == 3 or not 1 <= r.stratum <= 15:
            why = (Message(N_("server reports itself unsynchronised (leap indicator 3)")) if r.leap == 3
                   else Message(N_("server reports itself stratum {stratum}"), stratum=r.stratum))
            return SourceDetail(name, off, delay, int(r.stratum), why), 0
        bound = delay // 2 + round((r.root_delay / 2 + r.root_dispersion) * NS_PER_S)
        return detail, bound

    def read(self) -> ReferenceReading:
        read_at = time.time_ns()
        with ThreadPoolExecutor(max_workers=min(8, len(self.servers))) as pool:
            results = list(pool.map(self._query, range(len(self.servers))))
        sources = tuple(d for d, _ in results)
        bounds = {d.server: b for d, b in results if d.error is None}
        v = select_ntp_cluster(sources, self.quorum, self.max_disagreement_ns, bounds)
        for s in sources:
            log.debug("ntp %s offset=%s delay=%s stratum=%s error=%s", s.server, s.offset_ns, s.delay_ns,
                      s.stratum, s.error)
        return ReferenceReading("ntp", v.healthy, v.offset_ns, v.uncertainty_ns, sources, v.reasons, v.notes,
                                read_at, {"quorum": self.quorum, "chosen": list(v.chosen),
                                          "max_disagreement_ns": self.max_disagreement_ns})


# --- the kernel's clock (adjtimex) ---------------------------------------------------------------

TIME_OK, TIME_INS, TIME_DEL, TIME_OOP, TIME_WAIT, TIME_ERROR = range(6)
STA_UNSYNC = 0x0040
STA_CLOCKERR = 0x1000
STA_NANO = 0x2000


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` from <sys/timex.h> (glibc layout; ``long`` is the platform's word)."""

    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int), ("_padding", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class KernelClockState:
    state: int  # adjtimex return value: TIME_OK … TIME_ERROR
    status: int  # STA_* bits
    maxerror_us: int
    esterror_us: int


UNSYNC_REASON = Message(N_("kernel clock not synchronised (STA_UNSYNC); start chrony/systemd-timesyncd or use "
                        "reference = ntp"))


def read_kernel_clock_state() -> KernelClockState:
    """Read-only adjtimex(2) (modes = 0 changes nothing); OSError when the call is unavailable."""
    path = ctypes.util.find_library("c")
    libc = ctypes.CDLL(path, use_errno=True)
    fn = getattr(libc, "adjtimex", None) or getattr(libc, "ntp_adjtime", None)
    if fn is None:
        raise OSError("libc has neither adjtimex nor ntp_adjtime")
    tx = _Timex()
    rc = fn(ctypes.byref(tx))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"adjtimex failed: errno {err}")
    return KernelClockState(rc, tx.status, tx.maxerror, tx.esterror)


def assess_kernel_clock(st: KernelClockState, max_error_ns: int) -> tuple[bool, list[str]]:
    """Is the kernel's clock fit to be a reference? Pure, so every branch is testable."""
    reasons = []
    if st.status & STA_UNSYNC or st.state == TIME_ERROR:
        reasons.append(UNSYNC_REASON)
    if st.status & STA_CLOCKERR:
        reasons.append(Message(N_("kernel reports a clock hardware fault (STA_CLOCKERR); use reference = ntp or gps")))
    if not reasons and st.maxerror_us * 1000 > max_error_ns:
        reasons.append(Message(N_("kernel clock maximum error {error:g} s exceeds {limit:g} s; wait for "
                               "chrony/timesyncd to converge or use reference = ntp"),
                            error=st.maxerror_us / 1e6, limit=max_error_ns / NS_PER_S))
    return not reasons, reasons


class SystemReference:
    """The local clock, trusted only when the kernel says a time daemon keeps it synchronised."""

    kind = "system"

    def __init__(self, max_error_s: float = 0.5,
                 read_state: Callable[[], KernelClockState] = read_kernel_clock_state):
        self.max_error_ns = int(max_error_s * NS_PER_S)
        self._read_state = read_state

    def read(self) -> ReferenceReading:
        read_at = time.time_ns()
        try:
            st = self._read_state()
        except OSError as exc:
            return ReferenceReading("system", False, 0, 0, (SourceDetail("kernel", error=str(exc)),),
                                    (Message(N_("cannot read the kernel clock state ({error}); use reference = ntp"),
                                          error=str(exc)),),
                                    read_at_ns=read_at)
        healthy, reasons = assess_kernel_clock(st, self.max_error_ns)
        details = {"state": st.state, "status": st.status, "maxerror_us": st.maxerror_us,
                   "esterror_us": st.esterror_us}
        return ReferenceReading("system", healthy, 0, st.maxerror_us * 1000,
                                (SourceDetail("kernel", offset_ns=0),), tuple(reasons), (), read_at, details)


# --- GPS (NMEA 0183 over serial) -----------------------------------------------------------------


def nmea_checksum_ok(line: str) -> bool:
    """``$…*hh``: XOR of the characters between ``$`` and ``*`` equals ``hh``."""
    line = line.strip()
    if not line.startswith("$") or len(line) < 4 or line[-3] != "*":
        return False
    calc = 0
    for ch in line[1:-3]:
        calc ^= ord(ch)
    try:
        return calc == int(line[-2:], 16)
    except ValueError:
        return False


@dataclass(frozen=True)
class NmeaTime:
    sentence: str  # "RMC" | "ZDA"
    time_ns: int | None  # UTC of the fix second the sentence reports
    fix: bool | None  # RMC: status A/V; ZDA carries no fix information (None)


def _hms_ns(hms: str) -> int:
    h, m = int(hms[0:2]), int(hms[2:4])
    sec = hms[4:]
    whole, _, frac = sec.partition(".")
    frac_ns = int((frac + "000000000")[:9]) if frac else 0
    return ((h * 60 + m) * 60 + int(whole)) * NS_PER_S + frac_ns


def parse_nmea_time(line: str) -> NmeaTime | None:
    """Time (and fix validity) from an RMC or ZDA sentence; None for other or malformed sentences.

    Checksums must be valid: a garbled time is worse than none.
    """
    if not nmea_checksum_ok(line):
        return None
    fields = line.strip()[1:-3].split(",")
    talker = fields[0]
    try:
        if talker.endswith("RMC") and len(fields) >= 10:
            fix = fields[2] == "A"
            if not fields[1] or not fields[9]:
                return NmeaTime("RMC", None, fix)
            d = fields[9]
            day, month, yy = int(d[0:2]), int(d[2:4]), int(d[4:6])
            year = 2000 + yy if yy < 80 else 1900 + yy
            midnight = datetime(year, month, day, tzinfo=UTC)
            return NmeaTime("RMC", int(midnight.timestamp()) * NS_PER_S + _hms_ns(fields[1]), fix)
        if talker.endswith("ZDA") and len(fields) >= 5:
            if not fields[1] or not fields[4]:
                return NmeaTime("ZDA", None, None)
            midnight = datetime(int(fields[4]), int(fields[3]), int(fields[2]), tzinfo=UTC)
            return NmeaTime("ZDA", int(midnight.timestamp()) * NS_PER_S + _hms_ns(fields[1]), None)
    except (ValueError, IndexError):
        return None
    return None


class GpsReference:
    """Time from a serial GPS receiver's NMEA sentences, without PPS.

    The sentence time marks the fix second; receivers emit it some time after that second began
    (typically 0–500 ms, ``emit_delay_bound_s``) and the bytes then take ``10 bits × length / baud``
    on the wire. Without a PPS line the uncertainty is the emit-delay bound plus the wire time,
    stated in the reading's details — adequate for 1-s recorder clocks, not for millisecond ones.
    """

    kind = "gps"

    def __init__(self, port: str, baudrate: int = 9600, timeout_s: float = 3.0,
                 emit_delay_bound_s: float = 0.5):
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.emit_delay_bound_ns = int(emit_delay_bound_s * NS_PER_S)

    def read(self) -> ReferenceReading:
        import serial  # pyserial; imported here so NTP-only docks never open serial devices

        read_at = time.time_ns()
        src = f"gps:{self.port}"
        try:
            ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.2)
        except (serial.SerialException, OSError, ValueError) as exc:
            return self._bad(read_at, src, Message(N_("cannot open GPS receiver {port}: {error}; check [agent.clock] "
                                                   "gps_port and that the receiver is plugged in"),
                                                port=self.port, error=str(exc)))
        bad_sums = 0
        seen_fix: bool | None = None
        try:
            deadline = time.monotonic() + self.timeout_s
            buf = b""
            while time.monotonic() < deadline:
                chunk = ser.readline()
                received = time.time_ns()
                if not chunk:
                    continue
                buf += chunk
                if not buf.endswith(b"\n"):
                    continue
                line = buf.decode("ascii", "replace").strip()
                buf = b""
                if not line.startswith("$"):
                    continue
                if not nmea_checksum_ok(line):
                    bad_sums += 1
                    continue
                t = parse_nmea_time(line)
                if t is None:
                    continue
                if t.fix is not None:
                    seen_fix = t.fix
                if t.time_ns is None or not seen_fix:
                    continue
                wire_ns = (len(line) + 2) * 10 * NS_PER_S // self.baudrate
                # The fix second began between (received - wire - emit bound) and (received - wire).
                sent = received - wire_ns
                offset = t.time_ns + self.emit_delay_bound_ns // 2 - sent
                unc = self.emit_delay_bound_ns // 2 + wire_ns
                details = {"sentence": t.sentence, "line": line, "wire_ns": wire_ns,
                           "baudrate": self.baudrate, "emit_delay_bound_ns": self.emit_delay_bound_ns,
                           "bad_checksums": bad_sums,
                           "uncertainty_basis": "NMEA without PPS: emit-delay bound + serial wire time"}
                return ReferenceReading("gps", True, offset, unc, (SourceDetail(src, offset_ns=offset),),
                                        (), (), read_at, details)
        except (serial.SerialException, OSError) as exc:
            return self._bad(read_at, src, Message(N_("GPS receiver {port} failed while reading: {error}"),
                                                port=self.port, error=str(exc)))
        finally:
            ser.close()
        if seen_fix is False:
            why = Message(N_("GPS receiver has no valid fix (RMC status V); give it a view of the sky and wait"))
        elif bad_sums:
            why = Message(N_("no valid NMEA time from {port} within {timeout:g} s ({count} bad checksums); check the "
                          "cable and the baud rate"), port=self.port, timeout=self.timeout_s, count=bad_sums)
        else:
            why = Message(N_("no NMEA RMC/ZDA time with a fix from {port} within {timeout:g} s; check the baud rate "
                          "and that the receiver outputs RMC"), port=self.port, timeout=self.timeout_s)
        return self._bad(read_at, src, why)

    def _bad(self, read_at: int, src: str, reason: str) -> ReferenceReading:
        return ReferenceReading("gps", False, 0, 0, (SourceDetail(src, error=reason),), (reason,),
                                read_at_ns=read_at)


# --- factory ------------------------------------------------------------------------------------


def reference_from_config(cfg: ClockConfig, override_servers: Sequence[str] | None = None) -> ReferenceClock:
    """The reference ``[agent.clock]`` asks for; ``--ntp-server`` overrides imply an NTP reference."""
    if override_servers:
        return NtpReference(list(override_servers), min(cfg.quorum, len(override_servers)),
                            cfg.max_disagreement_s, cfg.ntp_timeout_s)
    if cfg.reference == ReferenceKind.ntp:
        return NtpReference(cfg.ntp_servers, cfg.quorum, cfg.max_disagreement_s, cfg.ntp_timeout_s)
    if cfg.reference == ReferenceKind.system:
        return SystemReference(cfg.system_max_error_s)
    if not cfg.gps_port:
        raise ConfigError(_("[agent.clock] reference = \"gps\" needs gps_port (e.g. /dev/ttyACM0)"))
    return GpsReference(cfg.gps_port, cfg.gps_baudrate)
