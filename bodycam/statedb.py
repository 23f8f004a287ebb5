"""Operational SQLite files (the dock's sync outbox, the archive's transfer and checkpoint state):
not evidence — they may be rebuilt — but private all the same, and opened one way.

A writer creates the file 0600 before SQLite does (its ``-wal`` and ``-shm`` inherit the mode),
uses WAL so that ``status`` commands read while the daemon writes, and applies its schema script;
a reader opens it read-only through a file URI, so a status command never creates or changes it.
Callers turn ``sqlite3.DatabaseError``/``OSError`` into a message naming their file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from bodycam.permissions import create_private_file


def connect_state(path: Path, *, readonly: bool = False, schema: str = "", synchronous: str = "FULL"
                  ) -> sqlite3.Connection:
    if readonly:
        return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=30)
    create_private_file(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    if schema:
        conn.executescript(schema)
    return conn
