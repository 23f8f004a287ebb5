"""How times and sizes are written, once for the whole project.

Two forms of a time, each for its reader: RFC 3339 in UTC with its zone (``Z``) and millisecond
precision for machines (``--json``, signed bodies' readers, feeds); local time to the second
with the zone's name (``2026-12-02 08:53:17 CST``) for people at a terminal, in the zone of
``[display] timezone``, else ``$TZ``, else the machine's, so an officer reads the clock on the
wall and a court still knows which zone it was. Sizes are binary units (KiB, MiB, GiB), as disks report them.

Text that comes from outside (a recorder's officer name or serial, a dock's enrollment, an
archive's refusal) is written for people only through ``printable``: a terminal must show it,
never obey it. Data from outside is parsed only after ``check_nesting`` has bounded how deep
its brackets go, so a hostile document is refused with an error instead of exhausting the
parser's recursion.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bodycam.errors import FormatError
from bodycam.i18n import N_, Message

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


# ---- the zone people read times in --------------------------------------------------------
# ``[display] timezone`` of bodycam.toml when set, else ``$TZ``, else the machine's zone. The
# command line names the configured zone at command start (``use_display_zone``) as a callable,
# so that commands printing no time never read the configuration.
_configured_zone: Callable[[], str | None] | None = None


def use_display_zone(configured: Callable[[], str | None] | str | None) -> None:
    """The zone ``local_time`` shows from now on: an IANA name (or a callable giving one, asked at
    the first time shown), None for ``$TZ`` and then the machine's zone."""
    global _configured_zone
    _configured_zone = (lambda: configured) if isinstance(configured, str) else configured


def configured_zone_name() -> str | None:
    """The IANA name ``[display] timezone`` gives, or None. Documents that leave the bureau (a
    court's custody record) use it or a fixed default, never the printing machine's ``$TZ``."""
    return _configured_zone() if _configured_zone is not None else None


def zone(name: str) -> tzinfo:
    """The IANA zone ``name`` (``Asia/Shanghai``); FormatError for a name the zone database lacks."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise FormatError(Message(N_("{name!r} is not a time zone of the IANA database (e.g. Asia/Shanghai): "
                                     "{error}"), name=name, error=exc)) from None


@functools.cache
def _system_zone() -> tzinfo | None:
    """The machine's zone with its names (``/etc/localtime``); None: ask the C library per time."""
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return None


def display_zone() -> tzinfo | None:
    """The zone people read times in: ``[display] timezone``, else ``$TZ`` (an IANA name, or a
    path to a zone file), else the machine's zone. None lets the C library convert (a POSIX
    ``$TZ`` such as ``CST-8`` that the zone database does not name)."""
    name = _configured_zone() if _configured_zone is not None else None
    if name:
        return zone(name)
    tz = os.environ.get("TZ")
    if tz:
        tz = tz.removeprefix(":")
        try:
            if tz.startswith("/"):
                with open(tz, "rb") as f:
                    return ZoneInfo.from_file(f, key=tz)
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return None
    return _system_zone()


def local_time(ns: int | None, tz: tzinfo | None = None) -> str:
    """``2026-12-02 08:53:17 CST`` in the display zone (or ``tz``), to the second, with the zone's
    abbreviation, or its offset (``+0400``) where the zone has no letters for itself; ``-`` when
    unknown. For people only: machines get ``rfc3339``."""
    if ns is None:
        return "-"
    dt = ns_to_datetime(ns).astimezone(tz or display_zone())
    name = dt.strftime("%Z")
    if not name or not name.isalpha():  # "+04", "-03", "" : the offset says more
        name = dt.strftime("%z")
    return dt.strftime("%Y-%m-%d %H:%M:%S ") + name


def duration(seconds: float | None) -> str:
    """A length of time in words for people: ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h``, ``1.5 s``.
    Two units at most, the larger first (a gap of an hour is read to the minute); under a minute to
    the tenth of a second; ``-`` when unknown."""
    if seconds is None:
        return "-"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    s = round(seconds, 1)
    if s < 60:
        return f"{sign}{s:.0f} s" if s == int(s) else f"{sign}{s:.1f} s"
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        n, rest = divmod(rest, size)
        if n or parts:
            parts.append((n, unit))
    shown = [f"{n} {unit}" for n, unit in parts[:2] if n]
    return sign + " ".join(shown)


def human_bytes(n: float) -> str:
    """``1.5 GiB``; exact bytes below 1 KiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


# ---- text from outside ---------------------------------------------------------------------
# Escaped by ``printable``: control characters (C0 with ESC, BEL, CR, TAB, NL; DEL; C1 with the
# one-byte CSI U+009B), format characters (bidi embeddings, overrides and isolates U+202A-202E,
# U+2066-2069, marks, zero-width characters, BOM, tags), line and paragraph separators, and lone
# surrogates. Letters of every script, spaces (including CJK U+3000) and symbols are kept.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object, *, multiline: bool = False) -> str:
    """``text`` safe to show on a terminal: every character a terminal could act on (ESC and the
    sequences it starts, BEL, CR, backspace, DEL, C1 controls, bidi overrides, zero-width and
    other format characters) is replaced by its visible Python-style escape (``\\x1b``,
    ``\\u202e``, ``\\U000e0001``), so ``"\\x1b[2J"`` prints as the seven characters ``\\x1b[2J``.
    Nothing is dropped: what the recorder sent stays readable, and a name in any script (``张三``)
    passes unchanged. ``multiline`` keeps line feeds (for multi-line messages of our own).
    A backslash is not escaped, so a literal ``\\x1b`` in the text looks the same as an escaped
    ESC: this is for reading, the stored data (and ``--json``) keeps the original."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    return "".join(
        _escape(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES and not (multiline and ch == "\n") else ch
        for ch in s)


_NOT_ASCII_PRINTABLE = re.compile(r"[^\x00-\x7e]")


def _json_escape(m: re.Match) -> str:
    ch = m.group()
    if unicodedata.category(ch) not in _ESCAPED_CATEGORIES:
        return ch
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def printable_json(text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with the characters ``printable``
    escapes written as ``\\uXXXX`` escapes: the same JSON value, byte for byte what a parser
    reads back, but nothing a terminal acts on. (``json`` escapes C0 controls itself; structural
    whitespace is never touched.)"""
    return text if text.isascii() and "\x7f" not in text else _NOT_ASCII_PRINTABLE.sub(_json_escape, text)


# ---- nesting of data from outside ----------------------------------------------------------
MAX_NESTING = 64
"""Deepest nesting of arrays/objects (JSON) or arrays/inline tables (TOML) accepted from outside.
Every document this project reads nests fewer than ten levels; Python's parsers recurse once per
level and fail with RecursionError near a thousand."""

_JSON_SKIP = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOML_SKIP = (r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\']|\'(?!\'\'))*\'\'\''
              r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\'|#[^\n]*')
_NEST = {
    ("json", str): re.compile(_JSON_SKIP + r"|([\[\]{}])", re.DOTALL),
    ("json", bytes): re.compile(_JSON_SKIP.encode() + rb"|([\[\]{}])", re.DOTALL),
    ("toml", str): re.compile(_TOML_SKIP + r"|([\[\]{}])", re.DOTALL),
}


def check_nesting(data: str | bytes, *, syntax: str = "json", limit: int = MAX_NESTING,
                  what: str = "document") -> None:
    """FormatError when ``data`` nests arrays/objects deeper than ``limit`` (strings and, for
    TOML, comments are skipped). Runs before the parser, in linear time and without recursion,
    so a document of 100,000 ``[`` is refused quickly; a document with no more than ``limit``
    brackets at all (almost every one) costs two ``count`` calls."""
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if isinstance(data, bytes):
        if data.count(b"[") + data.count(b"{") <= limit:
            return
    elif data.count("[") + data.count("{") <= limit:
        return
    depth = 0
    for m in _NEST[(syntax, type(data))].finditer(data):
        bracket = m.group(1)
        if not bracket:
            continue
        if bracket in ("[", "{", b"[", b"{"):
            depth += 1
            if depth > limit:
                raise FormatError(Message(N_("{what} nests arrays/objects deeper than {limit} levels "
                                             "(bodycam.formats.MAX_NESTING); refused before parsing"),
                                          what=what, limit=limit))
        else:
            depth = max(depth - 1, 0)
