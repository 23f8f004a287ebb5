"""One readiness check of a docked recorder: ask it, judge it, report every shortfall.

A failing query is a fault to report, not a crash: the equipment manager must see "battery
unknown: the recorder did not answer get_battery" beside the other findings. Only a recorder
that cannot even identify itself is an error (there is nothing to attach a verdict to).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.config import AgentConfig
from agent.fleet import CheckRecord, ns_to_rfc3339
from agent.link.driver import ClockReading, RecorderLink
from agent.link.errors import LinkError, UnsupportedCommand
from agent.readiness import Margins, evaluate_readiness
from bodycam.i18n import N_, Message, english

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceStatus:
    port: str
    profile: str
    serial: str
    model: str
    officer_id: str | None
    officer_name: str | None
    unit_id: str | None
    battery_pct: int | None
    storage_free_bytes: int | None
    storage_total_bytes: int | None
    clock_offset_s: float | None
    clock_uncertainty_s: float | None
    recording: bool | None
    ready: bool
    reasons: list[str]
    faults: list[str] = field(default_factory=list)
    checked_at_ns: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checked_at"] = ns_to_rfc3339(self.checked_at_ns)
        return d

    def as_check(self) -> CheckRecord:
        return CheckRecord(serial=self.serial, profile=self.profile, port=self.port,
                           checked_at_ns=self.checked_at_ns, ready=self.ready, reasons=list(self.reasons),
                           model=self.model, officer_id=self.officer_id or "",
                           officer_name=self.officer_name or "", unit_id=self.unit_id or "",
                           battery_pct=self.battery_pct, storage_free_bytes=self.storage_free_bytes,
                           storage_total_bytes=self.storage_total_bytes, clock_offset_s=self.clock_offset_s,
                           recording=self.recording, faults=list(self.faults))


def margins_for(cfg: AgentConfig, reading: ClockReading | None, profile_tolerance_s: float) -> Margins:
    tol = cfg.clock.tolerance_s or profile_tolerance_s
    if reading is not None:
        tol += reading.uncertainty_s
    return Margins(battery_pct=cfg.battery_margin_pct, storage_pct=cfg.storage_margin_pct, clock_tolerance_s=tol)


def check_device(link: RecorderLink, cfg: AgentConfig, clock: Callable[[], float] = time.time) -> DeviceStatus:
    """Query every readiness fact the model supports and evaluate it (A2 Art.12–13)."""
    profile = link.profile
    ident = link.identify()
    faults: list[str] = []

    def ask(command: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except UnsupportedCommand:
            return None
        except LinkError as exc:
            log.warning("%s: %s", command, english(exc))
            faults.append(Message(N_("{command} failed ({error_type}: {detail})"), command=command,
                               error_type=type(exc).__name__, detail=exc.detail))
            return None

    info = ask("get_info", link.get_info) if profile.supports("get_info") else None
    battery = ask("get_battery", link.get_battery) if profile.supports("get_battery") else None
    storage = ask("get_storage", link.get_storage) if profile.supports("get_storage") else None
    reading = ask("get_time", link.read_clock) if profile.supports("get_time") else None
    rec = ask("get_recording_state", link.get_recording_state) if profile.supports("get_recording_state") else None
    margins = margins_for(cfg, reading, profile.clock_tolerance_s)
    verdict = evaluate_readiness(
        battery.battery_pct if battery else None, storage.free_bytes if storage else None,
        reading is not None, faults, profile, cfg.shift_hours, margins,
        clock_offset_s=reading.offset_s if reading else None)
    return DeviceStatus(
        port=link.port, profile=profile.id, serial=ident.serial, model=ident.model,
        officer_id=info.officer_id if info else None, officer_name=info.officer_name if info else None,
        unit_id=info.unit_id if info else None, battery_pct=battery.battery_pct if battery else None,
        storage_free_bytes=storage.free_bytes if storage else None,
        storage_total_bytes=storage.total_bytes if storage else None,
        clock_offset_s=round(reading.offset_s, 3) if reading else None,
        clock_uncertainty_s=round(reading.uncertainty_s, 3) if reading else None,
        recording=rec.recording if rec else None, ready=verdict.ready, reasons=verdict.reasons, faults=faults,
        checked_at_ns=int(clock() * 1e9))
