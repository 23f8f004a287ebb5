"""How times and sizes are written, once for the whole project.

Two forms of a time, each for its reader: RFC 3339 in UTC with its zone (``Z``) and millisecond
precision for machines (``--json``, signed bodies' readers, feeds); local time with the zone's
offset for people at a terminal, so an officer reads the clock on the wall and a court still
knows which zone it was. Sizes are binary units (KiB, MiB, GiB), as disks report them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

NS_PER_S = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_datetime(ns: int, tz: tzinfo = UTC) -> datetime:
    """Exact to the microsecond (no float rounding), for any ``ns`` a datetime can hold."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).astimezone(tz)


def rfc3339(ns: int | None) -> str | None:
    """``2026-11-30T08:30:00.123Z`` (UTC, milliseconds); None stays None (JSON null)."""
    if ns is None:
        return None
    dt = ns_to_datetime(ns)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % NS_PER_S // 1_000_000:03d}Z"


def local_time(ns: int | None, tz: tzinfo | None = None) -> str:
    """``2026-11-30 16:30:00 +0800`` in the machine's zone (or ``tz``); ``-`` when unknown."""
    if ns is None:
        return "-"
    dt = ns_to_datetime(ns).astimezone(tz)
    return dt.strftime("%Y-%m-%d %H:%M:%S %z")


def human_bytes(n: float) -> str:
    """``1.5 GiB``; exact bytes below 1 KiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"
