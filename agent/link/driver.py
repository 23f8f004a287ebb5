"""The serial driver: talk to a recorder through its firmware profile.

Callers get typed results or one of the LinkError family, never a pyserial or parsing exception:
the dock must say which recorder on which port failed at which command, and what to do. Bounded
retries absorb line noise and busy replies; a refusal or an unsupported command is final.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import serial
from serial.tools import list_ports

from agent.link.errors import (
    AuthError,
    DeviceBusy,
    DeviceRefused,
    FramingError,
    LinkDisconnected,
    LinkError,
    LinkTimeout,
    TimeUnreadable,
    UnsupportedCommand,
)
from agent.link.framing import Framer
from agent.link.parsers import classify, parse_reply, render, time_from_fields, time_values
from agent.link.profiles import Profile, Step
from bodycam.i18n import N_, Message

log = logging.getLogger(__name__)

RETRYABLE = (LinkTimeout, LinkDisconnected, FramingError, DeviceBusy)
SERIAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
"""A serial the dock accepts: it becomes the device id (A2 Art.15), names the recorder's key file
and mount folder, and is printed on terminals, so whatever a recorder claims is held to it."""
_STATUS_ERRORS = {"auth": AuthError, "busy": DeviceBusy, "refused": DeviceRefused,
                  "unsupported": UnsupportedCommand}
_STATUS_TEXT = {"auth": N_("the recorder asks for a valid password"), "busy": N_("the recorder replied busy"),
                "refused": N_("the recorder refused the command"),
                "unsupported": N_("the recorder does not know this command")}
_UNITS = {"_bytes": 1, "_kb": 1024, "_mib": 1 << 20, "_mb": 1_000_000, "_gib": 1 << 30}


@dataclass(frozen=True)
class Identity:
    serial: str
    model: str = ""
    firmware: str = ""


@dataclass(frozen=True)
class OfficerInfo:
    officer_id: str
    officer_name: str
    unit_id: str
    unit_name: str = ""


@dataclass(frozen=True)
class BatteryStatus:
    battery_pct: int


@dataclass(frozen=True)
class StorageStatus:
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class ClockReading:
    """A recorder time with the dock-clock instants bracketing the exchange (round trip)."""

    recorder_time: datetime  # aware, in the recorder's zone, at the recorder's resolution
    sent_at: float  # dock clock (seconds since epoch) just after the request left
    received_at: float  # dock clock when the reply was complete
    resolution_s: float

    @property
    def offset_s(self) -> float:
        """Recorder minus dock clock at the midpoint; uncertainty ±(round trip/2 + resolution)."""
        return self.recorder_time.timestamp() - (self.sent_at + self.received_at) / 2

    @property
    def uncertainty_s(self) -> float:
        return (self.received_at - self.sent_at) / 2 + self.resolution_s


@dataclass(frozen=True)
class SetTimeAck:
    requested: datetime
    sent_at: float
    acked_at: float


@dataclass(frozen=True)
class RecordingState:
    recording: bool


@dataclass(frozen=True)
class MassStorageAck:
    acked_at: float


def storage_bytes(fields: dict[str, Any], which: str) -> int:
    """``storage_<which>_<unit>`` in bytes, whatever unit the model reports in."""
    for suffix, factor in _UNITS.items():
        key = f"storage_{which}{suffix}"
        if key in fields:
            return int(fields[key]) * factor
    raise FramingError(Message(N_("storage reply lacks a storage_{which}_* field"), which=which))


def match_ports(ports: Iterable[Any], profiles: Iterable[Profile]) -> list[tuple[str, Profile]]:
    """(device, profile) for each port whose USB VID/PID a profile declares."""
    profs = list(profiles)
    out = []
    for port in ports:
        for prof in profs:
            if port.vid == prof.usb.vid and port.pid == prof.usb.pid:
                out.append((port.device, prof))
    return out


def discover(profiles: Iterable[Profile]) -> list[tuple[str, Profile]]:
    """Serial ports of attached recorders, matched on the profiles' USB VID/PID."""
    return match_ports(list_ports.comports(), profiles)


def resolve_secret(profile: Profile, explicit: str | None = None) -> str:
    """The recorder password from the caller, the profile's environment variable, or its file."""
    if explicit is not None:
        return explicit
    auth = profile.auth
    if auth.password_env and os.environ.get(auth.password_env):
        return os.environ[auth.password_env]
    if auth.password_file:
        path = Path(os.path.expanduser(auth.password_file))
        if path.exists():
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise AuthError(Message(N_("password file {path} is readable by others: chmod 600 it"), path=str(path)),
                                profile=profile.id, command="login")
            return path.read_text(encoding="utf-8").strip()
    if auth.password_env and auth.password_file:
        where = Message(N_("${variable} or file {path}"), variable=auth.password_env, path=auth.password_file)
    elif auth.password_file:
        where = Message(N_("file {path}"), path=auth.password_file)
    else:
        where = Message("${variable}", variable=auth.password_env or "")
    raise AuthError(Message(N_("no recorder password: set {where}"), where=where), profile=profile.id,
                    command="login")


class RecorderLink:
    """One open serial conversation with one recorder.

    ``clock`` (seconds since the epoch) timestamps exchanges for clock measurement and is
    injectable; ``timeout_s``/``retries`` override the profile (tests keep them short)."""

    def __init__(self, port: str, profile: Profile, *, secret: str | None = None,
                 clock: Callable[[], float] = time.time, timeout_s: float | None = None,
                 retries: int | None = None, retry_delay_s: float | None = None):
        self.port = port
        self.profile = profile
        self.clock = clock
        self._secret = secret
        self.timeout_s = timeout_s
        self.retries = profile.timing.retries if retries is None else retries
        self.retry_delay_s = profile.timing.retry_delay_s if retry_delay_s is None else retry_delay_s
        self.framer = Framer(profile.framing, profile.encoding)
        self._ser: serial.Serial | None = None
        self._authed = False

    # -- connection ------------------------------------------------------------------------
    def __enter__(self) -> RecorderLink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self._ser is not None:
            return
        s = self.profile.serial
        try:
            self._ser = serial.Serial(self.port, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
                                      stopbits=s.stopbits, timeout=0.05, write_timeout=2)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkDisconnected(Message(N_("cannot open the port: {error}"), error=str(exc)), port=self.port,
                                   profile=self.profile.id) from None
        self._authed = self.profile.auth.kind == "none"

    def close(self) -> None:
        if self._ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._ser.close()
        self._ser = None

    # -- canonical commands ----------------------------------------------------------------
    def identify(self) -> Identity:
        f = self.call("identify")
        serial_no = str(f["serial"])
        if not SERIAL_RE.match(serial_no):
            raise FramingError(Message(N_("the recorder reports serial {serial!r}, which cannot be a device id "
                                       "(letters, digits, '_' and '-', at most 64, starting with a letter or "
                                       "digit); nothing was stored"), serial=serial_no[:80]),
                               port=self.port, profile=self.profile.id, command="identify")
        return Identity(serial=serial_no, model=str(f.get("model", "")),
                        firmware=str(f.get("firmware", "")))

    def get_info(self) -> OfficerInfo:
        f = self.call("get_info")
        return OfficerInfo(officer_id=str(f.get("officer_id", "")), officer_name=str(f.get("officer_name", "")),
                           unit_id=str(f.get("unit_id", "")), unit_name=str(f.get("unit_name", "")))

    def get_battery(self) -> BatteryStatus:
        f = self.call("get_battery")
        pct = int(f["battery_pct"])
        if not 0 <= pct <= 100:
            raise FramingError(Message(N_("battery {pct}% is out of range"), pct=pct), port=self.port,
                               profile=self.profile.id, command="get_battery")
        return BatteryStatus(battery_pct=pct)

    def get_storage(self) -> StorageStatus:
        f = self.call("get_storage")
        try:
            total, free = storage_bytes(f, "total"), storage_bytes(f, "free")
        except LinkError as exc:
            raise exc.with_context(port=self.port, profile=self.profile.id, command="get_storage") from None
        if free > total:
            raise FramingError(Message(N_("free space {free} B exceeds total {total} B"), free=free, total=total),
                               port=self.port, profile=self.profile.id, command="get_storage")
        return StorageStatus(total_bytes=total, free_bytes=free)

    def read_clock(self) -> ClockReading:
        fields, sent, received = self._call("get_time", {})
        try:
            when = time_from_fields(self.profile, fields)
            local = when.astimezone(self.profile.tzinfo)
        except LinkError as exc:
            raise exc.with_context(port=self.port, profile=self.profile.id, command="get_time") from None
        except OverflowError as exc:  # a UTC time at the end of the calendar, shifted by the recorder's zone
            raise TimeUnreadable(f"time {when.isoformat()} has no local time in {self.profile.timezone}: {exc}",
                                 port=self.port, profile=self.profile.id, command="get_time") from None
        return ClockReading(local, sent, received, self.profile.clock_resolution_s)

    def get_time(self) -> datetime:
        """The recorder's time, aware, in its own zone (see ``read_clock`` for round-trip data)."""
        return self.read_clock().recorder_time

    def set_time(self, dt: datetime) -> SetTimeAck:
        """Set the recorder clock to ``dt`` (aware), in the recorder's zone and formats; models that
        set date and time separately get both steps."""
        if dt.tzinfo is None:
            raise ValueError("set_time needs an aware datetime")
        _, sent, received = self._call("set_time", time_values(self.profile, dt))
        return SetTimeAck(requested=dt, sent_at=sent, acked_at=received)

    def get_recording_state(self) -> RecordingState:
        return RecordingState(recording=bool(self.call("get_recording_state")["recording"]))

    def enter_mass_storage(self) -> MassStorageAck:
        """Ask the recorder to re-enumerate as a USB disk; the serial port goes away after this."""
        _, _, received = self._call("enter_mass_storage", {})
        self.close()
        return MassStorageAck(acked_at=received)

    # -- generic ---------------------------------------------------------------------------
    def call(self, command: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Typed reply fields of a canonical command (all steps' fields merged)."""
        return self._call(command, values or {})[0]

    def _call(self, command: str, values: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
        if not self.profile.supports(command):
            raise UnsupportedCommand(Message(N_("the profile lists this command as unsupported by the model")),
                                     port=self.port, profile=self.profile.id, command=command)
        self.open()
        self._login()
        spec = self.profile.commands[command]
        timeout = self.timeout_s or spec.timeout_s or self.profile.timing.reply_timeout_s
        fields: dict[str, Any] = {}
        sent = received = 0.0
        for step in spec.steps:
            got, sent, received = self._step_with_retries(command, step, values, timeout)
            fields.update(got)
        return fields, sent, received

    def _login(self) -> None:
        if self._authed:
            return
        secret = resolve_secret(self.profile, self._secret)
        timeout = self.timeout_s or self.profile.timing.reply_timeout_s
        try:
            self._step_with_retries("login", self.profile.auth.login, {"password": secret}, timeout)
        except AuthError:
            raise AuthError(Message(N_("the recorder rejected the password")), port=self.port, profile=self.profile.id,
                            command="login") from None
        self._authed = True

    def _step_with_retries(self, command: str, step: Step, values: dict[str, Any],
                           timeout: float) -> tuple[dict[str, Any], float, float]:
        attempt = 0
        while True:
            try:
                return self._exchange(command, step, values, timeout)
            except RETRYABLE as exc:
                if attempt >= self.retries:
                    raise
                attempt += 1
                log.info("%s %s: %s; retry %d/%d", self.port, command, type(exc).__name__, attempt, self.retries)
                time.sleep(self.retry_delay_s)

    def _ctx(self, exc: LinkError, command: str) -> LinkError:
        return exc.with_context(port=self.port, profile=self.profile.id, command=command)

    def _exchange(self, command: str, step: Step, values: dict[str, Any],
                  timeout: float) -> tuple[dict[str, Any], float, float]:
        try:
            request = self.framer.encode(render(step.request, values, self.profile.encoding))
        except LinkError as exc:
            raise self._ctx(exc, command) from None
        if self._ser is None:
            self.open()
        ser = self._ser
        try:
            ser.reset_input_buffer()
            ser.write(request)
            ser.flush()
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise LinkDisconnected(Message(N_("write failed: {error}"), error=str(exc)), port=self.port,
                                   profile=self.profile.id, command=command) from None
        sent = self.clock()
        payload, received = self._read_frame(command, timeout)
        kind = classify(self.profile.status, payload)
        if kind is not None:
            raise _STATUS_ERRORS[kind](Message(_STATUS_TEXT[kind]), port=self.port, profile=self.profile.id,
                                       command=command)
        try:
            fields = parse_reply(step.parse, payload, self.profile.encoding)
        except LinkError as exc:
            raise self._ctx(exc, command) from None
        return fields, sent, received

    def _read_frame(self, command: str, timeout: float) -> tuple[bytes, float]:
        decoder = self.framer.decoder()
        deadline = time.monotonic() + timeout
        ser = self._ser
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if decoder.pending:
                    raise LinkDisconnected(Message(N_("reply stopped after {count} bytes"), count=decoder.pending),
                                           port=self.port,
                                           profile=self.profile.id, command=command)
                raise LinkTimeout(Message(N_("no reply within {timeout:.2f} s"), timeout=timeout), port=self.port,
                                  profile=self.profile.id, command=command)
            try:
                ser.timeout = min(remaining, 0.05)
                chunk = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError) as exc:
                self.close()
                raise LinkDisconnected(Message(N_("port lost: {error}"), error=str(exc)), port=self.port,
                                       profile=self.profile.id, command=command) from None
            if not chunk:
                continue
            try:
                frames = decoder.feed(chunk)
            except LinkError as exc:
                raise self._ctx(exc, command) from None
            if frames:
                return frames[0], self.clock()
