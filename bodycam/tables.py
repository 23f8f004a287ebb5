"""Tables people read at a terminal: a header row, columns aligned by what a terminal shows.

Cells are passed through ``printable`` (they often hold what a recorder or another dock sent)
before their width is measured, and CJK characters count two columns, so a table of Chinese
officers' names stays aligned. Nothing is truncated: a column is as wide as its widest cell.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from bodycam.formats import printable


def width(text: str) -> int:
    """Terminal columns of ``text``: wide and full-width characters (CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def table(header: Sequence[str], rows: Iterable[Sequence[object]], gap: str = "  ") -> list[str]:
    """The header line, then one line per row, in order (so callers may print detail lines under
    a row); cells escaped with ``printable``, ``None`` shown as ``-``; no trailing spaces."""
    shown = [[("-" if c is None else printable(c)) for c in r] for r in rows]
    lines = [list(header), *shown]
    for r in lines:
        if len(r) != len(header):
            raise ValueError(f"a row has {len(r)} cells for {len(header)} columns")
    widths = [max(width(r[i]) for r in lines) for i in range(len(header))]
    return [gap.join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines]
