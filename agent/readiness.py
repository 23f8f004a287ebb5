"""Is this recorder fit for a working day? A pure decision, tested without I/O.

A2 Art.12 wants the battery charged for a full working day; A2 Art.13 wants, before recording,
no fault, enough battery, enough card space and a set clock. Each shortfall becomes a reason a
person can act on — the number found, the number needed, how it was computed, what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.link.profiles import Profile
from bodycam.formats import human_bytes
from bodycam.i18n import N_, Message


@dataclass(frozen=True)
class Margins:
    battery_pct: float = 10.0  # percentage points on top of the shift's drain
    storage_pct: float = 10.0  # percent on top of the shift's footage
    clock_tolerance_s: float | None = None  # None: the clock offset is not judged here (calibration is)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reasons: list[str] = field(default_factory=list)
    battery_needed_pct: float = 0.0
    storage_needed_bytes: int = 0


def battery_needed_pct(profile: Profile, shift_hours: float, margins: Margins) -> float:
    return shift_hours * profile.battery_drain_pct_per_h + margins.battery_pct


def storage_needed_bytes(profile: Profile, shift_hours: float, margins: Margins) -> int:
    footage = profile.video_bitrate_kbps * 1000 / 8 * shift_hours * 3600
    return int(footage * (1 + margins.storage_pct / 100))


def evaluate_readiness(battery_pct: float | None, storage_free_bytes: int | None, clock_offset_known: bool,
                       faults: Sequence[str], profile: Profile, shift_hours: float, margins: Margins,
                       *, clock_offset_s: float | None = None) -> Readiness:
    """Verdict and reasons. ``None`` battery/storage means the recorder did not report it."""
    reasons: list[str] = []
    hours = f"{shift_hours:g}"
    an = hours.startswith("8") or hours.split(".")[0] in ("11", "18")
    shift = Message(N_("an {hours} h shift"), hours=hours) if an else Message(N_("a {hours} h shift"), hours=hours)
    need_batt = battery_needed_pct(profile, shift_hours, margins)
    need_store = storage_needed_bytes(profile, shift_hours, margins)
    how_batt = Message(N_("{shift} at {drain:g}%/h + {margin:g}% margin"), shift=shift,
                    drain=profile.battery_drain_pct_per_h, margin=margins.battery_pct)
    if need_batt > 100:
        reasons.append(Message(N_("a full battery is not enough: {need:.0f}% needed for {how}: issue a spare battery "
                               "or shorten the shift"), need=need_batt, how=how_batt))
    elif battery_pct is None:
        reasons.append(Message(N_("battery level unknown (the recorder did not report it): check it on the device and "
                               "charge it to at least {need:.0f}%"), need=need_batt))
    elif battery_pct < need_batt:
        reasons.append(Message(N_("battery {battery:g}% < {need:.0f}% needed for {how}: charge it"),
                            battery=battery_pct, need=need_batt, how=how_batt))
    mbps = profile.video_bitrate_kbps / 1000
    how_store = Message(N_("{shift} at {rate:g} Mbit/s + {margin:g}% margin"), shift=shift, rate=mbps,
                     margin=margins.storage_pct)
    if storage_free_bytes is None:
        reasons.append(Message(N_("free card space unknown (the recorder did not report it): make sure {need} is free "
                               "before the shift"), need=human_bytes(need_store)))
    elif storage_free_bytes < need_store:
        reasons.append(Message(N_("card has {free} free < {need} needed for {how}: offload it at the dock or replace "
                               "the card"), free=human_bytes(storage_free_bytes), need=human_bytes(need_store),
                            how=how_store))
    if not clock_offset_known:
        reasons.append(Message(N_("clock offset unknown (the recorder did not report its time): calibrate it with "
                               "`bodycam device calibrate` before the shift")))
    elif clock_offset_s is not None and margins.clock_tolerance_s is not None \
            and abs(clock_offset_s) > margins.clock_tolerance_s:
        msg = (N_("clock is {offset:.1f} s ahead of the dock (tolerance {tolerance:.1f} s): set it with "
                  "`bodycam device calibrate`") if clock_offset_s > 0 else
               N_("clock is {offset:.1f} s behind the dock (tolerance {tolerance:.1f} s): set it with "
                  "`bodycam device calibrate`"))
        reasons.append(Message(msg, offset=abs(clock_offset_s), tolerance=margins.clock_tolerance_s))
    for fault in faults:
        reasons.append(Message(N_("fault: {fault}: have the recorder checked before issuing it"), fault=fault))
    return Readiness(ready=not reasons, reasons=reasons, battery_needed_pct=need_batt,
                     storage_needed_bytes=need_store)
