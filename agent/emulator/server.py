"""A recorder emulator on a real pseudo-terminal, driven only by a firmware profile.

It lets every part of the dock (driver, clock gate, offload) be exercised end to end without
hardware, including the faults real recorders show. Nothing here is per-model: requests are
recognised, replies rendered and reply codes chosen from the profile's own declarations, so the
emulator cannot drift from the driver's idea of the protocol without the test vectors noticing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.emulator.farclock import far_time, local_ns, recorder_time_values
from agent.emulator.state import EmulatorState, FaultRule
from agent.emulator.videogen import populate
from agent.link.errors import LinkError
from agent.link.framing import Framer
from agent.link.parsers import match_request, render
from agent.link.profiles import Profile

log = logging.getLogger(__name__)

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A partial request older than this is dropped, as UART firmwares reset their receive buffer
#: after an inter-frame silence; otherwise one burst of noise would poison the next request.
FRAME_GAP_S = 0.1
GARBAGE = b"\xfe\x00\x13\x37~~line noise~~\xff"


class EmulatedClock:
    """The recorder's clock: true time + offset, drifting by ``drift_ppm``, read at the
    profile's resolution. Integer nanoseconds so millisecond clocks stay exact."""

    def __init__(self, true_clock: Callable[[], float], offset_s: float, drift_ppm: float, resolution_s: float):
        self._true = true_clock
        self.drift_ppm = drift_ppm
        self.res_ns = max(1, round(resolution_s * NS))
        self._base_true = self._true_ns()
        self._base_rec = self._base_true + round(offset_s * NS)
        self._lock = threading.Lock()

    def _true_ns(self) -> int:
        return round(self._true() * 1_000_000) * 1000  # µs first: a float holds those exactly

    def now_ns(self) -> int:
        with self._lock:
            elapsed = self._true_ns() - self._base_true
            return self._base_rec + elapsed + round(elapsed * self.drift_ppm / 1e6)

    def read_ns(self) -> int:
        """What the recorder reports: its time truncated to its resolution (any year)."""
        return self.now_ns() // self.res_ns * self.res_ns

    def read(self) -> datetime:
        """``read_ns`` as a datetime (OverflowError beyond the years 1–9999)."""
        return EPOCH + timedelta(microseconds=self.read_ns() // 1000)

    def set_ns(self, rec_ns: int) -> None:
        with self._lock:
            self._base_true = self._true_ns()
            self._base_rec = rec_ns

    def jump(self, seconds: float) -> None:
        self.set_ns(self.now_ns() + round(seconds * NS))

    def offset_s(self) -> float:
        return (self.now_ns() - self._true_ns()) / NS


@dataclass
class _FaultCounter:
    rule: FaultRule
    seen: int = 0
    fired: int = 0

    def fires(self, commands: set[str]) -> bool:
        if self.rule.command is not None and self.rule.command not in commands:
            return False
        self.seen += 1
        if self.seen <= self.rule.after:
            return False
        if self.rule.times and self.fired >= self.rule.times:
            return False
        self.fired += 1
        return True


@dataclass
class EmulatorLog:
    """What the emulator received and did; tests read it to prove a request reached the device."""

    requests: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)


class RecorderEmulator:
    """Serve one recorder on a pty until stopped; expose its card on ``enter_mass_storage``."""

    def __init__(self, profile: Profile, state: EmulatorState, mount_root: Path, *,
                 storage_dir: Path | None = None, media_dir: Path | None = None,
                 clock: Callable[[], float] = time.time):
        self.profile = profile
        self.state = state
        self.mount_root = Path(mount_root)
        self.storage_dir = Path(storage_dir) if storage_dir else self.mount_root / f".{state.serial}.storage"
        self.media_src = Path(media_dir) if media_dir else None
        self.clock = EmulatedClock(clock, state.clock_offset_s, state.clock_drift_ppm, profile.clock_resolution_s)
        self.framer = Framer(profile.framing, profile.encoding)
        self.faults = [_FaultCounter(r) for r in state.faults.rules]
        self.log = EmulatorLog()
        self.authed = profile.auth.kind == "none"
        self.recording = state.recording
        self.stop_event = threading.Event()
        self.mounted = threading.Event()
        self.mount_path: Path | None = None
        self.port: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ----------------------------------------------------------------------------
    def prepare_storage(self) -> list[Path]:
        """Write the state file's recordings (and copy --media files) onto the emulated card."""
        self.mount_root.mkdir(parents=True, exist_ok=True)
        media = self.storage_dir / self.profile.storage.media_dir
        paths = populate(media, self.profile, list(self.state.recordings), self.state.clock_offset_s,
                         self.state.serial)
        if self.media_src is not None:
            for src in sorted(self.media_src.iterdir()):
                if src.is_file():
                    dst = media / src.name
                    if not dst.exists():
                        link_or_copy(str(src), str(dst))  # big benchmark files: no copy when possible
                    paths.append(dst)
        return paths

    def open_port(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass as a USB CDC port passes them
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        return self.port

    def start(self) -> str:
        """Prepare storage, open the pty and serve in a background thread; returns the port."""
        self.prepare_storage()
        port = self.open_port()
        self._thread = threading.Thread(target=self.serve, name=f"emulator-{self.state.serial}", daemon=True)
        self._thread.start()
        return port

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_port()

    def _close_port(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    # -- serving ---------------------------------------------------------------------------
    def serve(self) -> None:
        decoder = self.framer.decoder()
        last_rx = time.monotonic()
        while not self.stop_event.is_set():
            if self._master is None:
                self.stop_event.wait(0.05)
                continue
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                if decoder.pending and time.monotonic() - last_rx > FRAME_GAP_S:
                    log.info("emulator %s: dropped %d bytes of an unfinished request", self.state.serial,
                             decoder.pending)
                    decoder.reset()
                continue
            last_rx = time.monotonic()
            try:
                data = os.read(self._master, 4096)
            except OSError:
                self.stop_event.wait(0.02)
                continue
            try:
                frames = decoder.feed(data)
            except LinkError as exc:
                log.info("emulator %s: malformed request ignored: %s", self.state.serial, exc)
                decoder.reset()
                continue
            for frame in frames:
                self._handle(frame)
                if self.mounted.is_set():
                    return

    def _values(self) -> dict[str, Any]:
        s = self.state
        v: dict[str, Any] = {
            "serial": s.serial, "model": s.model, "firmware": s.firmware, "id_code": s.id_code,
            "officer_id": s.officer_id, "officer_name": s.officer_name, "unit_id": s.unit_id,
            "unit_name": s.unit_name, "battery_pct": s.battery_pct, "recording": self.recording,
            "storage_total_mib": s.storage_total_mib, "storage_free_mib": s.storage_free_mib,
            "storage_total_kb": s.storage_total_mib * 1024, "storage_free_kb": s.storage_free_mib * 1024,
            "storage_total_bytes": s.storage_total_mib << 20, "storage_free_bytes": s.storage_free_mib << 20,
        }
        v.update(recorder_time_values(self.profile, self.clock.read_ns()))
        return v

    def _identify_request(self, payload: bytes) -> list[tuple[str, int, dict[str, Any]]]:
        enc = self.profile.encoding
        hits = []
        login = self.profile.auth.login
        if login is not None:
            got = match_request(login.request, payload, enc)
            if got is not None:
                hits.append(("login", 0, got))
        for name, spec in self.profile.commands.items():
            for i, step in enumerate(spec.steps):
                got = match_request(step.request, payload, enc)
                if got is not None:
                    hits.append((name, i, got))
        return hits

    def _status_reply(self, kind: str) -> bytes | None:
        rule = getattr(self.profile.status, kind)
        if rule is None or rule.reply is None:
            return None
        return render(rule.reply, {}, self.profile.encoding)

    def _fault(self, commands: set[str]) -> FaultRule | None:
        chosen = None
        for counter in self.faults:
            if counter.fires(commands) and chosen is None:
                chosen = counter.rule
        return chosen

    def _handle(self, payload: bytes) -> None:
        hits = self._identify_request(payload)
        names = {h[0] for h in hits}
        self.log.requests.append(hits[0][0] if hits else f"?{payload[:24]!r}")
        fault = self._fault(names or {"?"})
        if fault is not None:
            self.log.faults.append(f"{fault.kind}:{hits[0][0] if hits else '?'}")
        if fault is not None and fault.kind == "time_jump":
            self.clock.jump(fault.jump_s)
            fault = None
        if not hits:
            self._send(self._status_reply("unsupported"), fault)
            return
        name, index, captured = hits[0]
        if fault is not None and fault.kind == "busy":
            self._send(self._status_reply("busy"), None)
            return
        if fault is not None and fault.kind == "refuse":
            self._send(self._status_reply("refused"), None)
            return
        if name == "login":
            self.authed = captured.get("password") == self.state.password and self.state.password is not None
            reply = (render(self.profile.auth.login.reply, {}, self.profile.encoding) if self.authed
                     else self._status_reply("auth"))
            self._send(reply, fault)
            return
        if not self.authed:
            self._send(self._status_reply("auth"), fault)
            return
        effect = fault is None or fault.kind != "ack_without_effect"
        if name == "set_time" and effect and not self._apply_time(captured):
            self._send(self._status_reply("refused"), fault)
            return
        step = self.profile.commands[name].steps[index]
        try:
            reply = render(step.reply, self._values(), self.profile.encoding)
        except LinkError as exc:
            log.warning("emulator %s: cannot render %s reply: %s", self.state.serial, name, exc)
            self._send(self._status_reply("refused"), fault)
            return
        self._send(reply, fault)
        if name == "enter_mass_storage" and effect and (fault is None or fault.kind in ("split",)):
            self._enter_mass_storage()

    def _apply_time(self, captured: dict[str, Any]) -> bool:
        """Set the clock from whatever the request carried (epoch, formatted text, date and/or time)."""
        p = self.profile
        try:
            if "epoch_ms" in captured:
                self.clock.set_ns(int(captured["epoch_ms"]) * 1_000_000)
                return True
            if "epoch_s" in captured:
                self.clock.set_ns(int(captured["epoch_s"]) * NS)
                return True
            now = far_time(self.clock.read_ns(), p.tzinfo)  # a clock past year 9999 can be set too
            local, cycles = now.local, now.cycles
            if "datetime" in captured:
                local = datetime.strptime(str(captured["datetime"]), p.time_format).replace(tzinfo=p.tzinfo)
                cycles = 0
            if {"year", "month", "day"} <= set(captured):
                local = local.replace(year=int(captured["year"]), month=int(captured["month"]),
                                      day=int(captured["day"]))
                cycles = 0
            if {"hour", "minute", "second"} <= set(captured):
                local = local.replace(hour=int(captured["hour"]), minute=int(captured["minute"]),
                                      second=int(captured["second"]),
                                      microsecond=int(captured.get("millisecond", 0)) * 1000)
        except (ValueError, OverflowError) as exc:
            log.info("emulator %s: set_time refused: %s", self.state.serial, exc)
            return False
        self.clock.set_ns(local_ns(local, cycles))
        return True

    def _send(self, payload: bytes | None, fault: FaultRule | None) -> None:
        if payload is None or self._master is None:
            return  # a device with no code for this case stays silent
        frame = self.framer.encode(payload)
        kind = fault.kind if fault else None
        if kind == "silence":
            return
        if kind == "garbage":
            term = self.profile.framing.terminator.encode(self.profile.encoding) \
                if self.profile.framing.kind == "line" else b""
            self._write(GARBAGE + term)
            return
        if kind == "bad_checksum":
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if kind == "disconnect":
            self._write(frame[: max(1, len(frame) // 2)])
            return
        if kind == "split":
            step = max(1, len(frame) // 3)
            for i in range(0, len(frame), step):
                self._write(frame[i:i + step])
                time.sleep(fault.split_delay_s)
            return
        self._write(frame)

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except OSError as exc:
            log.info("emulator %s: write failed: %s", self.state.serial, exc)

    # -- mass storage ----------------------------------------------------------------------
    def _enter_mass_storage(self) -> None:
        """Drop off the serial bus and appear as a disk, as a recorder re-enumerating on USB."""
        time.sleep(0.1)  # let the reply leave before the port goes away
        self._close_port()
        self.mount_path = expose(self.storage_dir, self.mount_root, self.state.serial)
        log.info("emulator %s: storage exposed at %s", self.state.serial, self.mount_path)
        self.mounted.set()


def link_or_copy(src: str, dst: str) -> None:
    """Hard link (instant, same bytes) or, across file systems, a copy keeping the mtime."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def expose(storage_dir: Path, mount_root: Path, name: str) -> Path:
    """Make ``mount_root/name`` appear in one step with complete files: the tree is built under a
    hidden name (hard links, or copies across file systems) and renamed into place."""
    mount_root.mkdir(parents=True, exist_ok=True)
    target = mount_root / name
    staging = mount_root / f".{name}.mounting-{os.getpid()}-{threading.get_ident()}"
    if staging.exists():
        shutil.rmtree(staging)

    shutil.copytree(storage_dir, staging, copy_function=link_or_copy)
    if target.exists():
        old = mount_root / f".{name}.unmounted-{time.time_ns()}"
        os.rename(target, old)
        shutil.rmtree(old, ignore_errors=True)
    os.rename(staging, target)
    return target
