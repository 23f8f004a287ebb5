"""Recorder times beyond what ``datetime`` holds (a clock gone wildly wrong: year 10000 and on).

A firmware counts on whatever its clock says, and an emulated recorder must say it too, in every
profile's formats, so that the dock's handling of such replies can be tested. The Gregorian
calendar repeats every 400 years (146,097 days, weekdays included), so a time is shifted by whole
cycles into ``datetime``'s range, formatted there, and given its real year back. Profiles' zones
are fixed offsets, which do not depend on the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from agent.link.parsers import time_values
from agent.link.profiles import Profile

NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CYCLE_NS = 146_097 * 86_400 * NS
CYCLE_YEARS = 400
_LO_NS = (datetime(2000, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1) * 1000


@dataclass(frozen=True)
class FarTime:
    """``local`` is the time moved by ``cycles`` × 400 years into [2000, 2400), in the recorder's zone."""

    local: datetime
    cycles: int

    @property
    def year(self) -> int:
        return self.local.year + self.cycles * CYCLE_YEARS

    def strftime(self, fmt: str) -> str:
        """``fmt`` applied with the real year for ``%Y`` (a 400-year shift keeps ``%y`` as it is)."""
        return self.local.strftime(fmt.replace("%Y", f"{self.year:04d}"))


def far_time(ns: int, tz: tzinfo) -> FarTime:
    """The local time of ``ns`` (nanoseconds since the epoch, UTC) in ``tz``, for any year."""
    cycles = (ns - _LO_NS) // CYCLE_NS
    shifted = ns - cycles * CYCLE_NS
    return FarTime((EPOCH + timedelta(microseconds=shifted // 1000)).astimezone(tz), cycles)


def local_ns(local: datetime, cycles: int = 0) -> int:
    """Nanoseconds since the epoch of an aware ``local`` time moved forward by ``cycles`` × 400 years."""
    return (local - EPOCH) // timedelta(microseconds=1) * 1000 + cycles * CYCLE_NS


def recorder_time_values(profile: Profile, ns: int) -> dict[str, Any]:
    """``agent.link.parsers.time_values`` for a clock reading ``ns``, whatever its year."""
    try:
        return time_values(profile, EPOCH + timedelta(microseconds=ns // 1000))
    except (OverflowError, ValueError):  # beyond datetime's years 1–9999: counted in 400-year cycles
        t = far_time(ns, profile.tzinfo)
        epoch_ms = ns // 1_000_000
        return {
            "year": t.year, "month": t.local.month, "day": t.local.day,
            "hour": t.local.hour, "minute": t.local.minute, "second": t.local.second,
            "millisecond": t.local.microsecond // 1000,
            "datetime": t.strftime(profile.time_format),
            "epoch_ms": epoch_ms, "epoch_s": epoch_ms // 1000,
        }
