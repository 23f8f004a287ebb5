"""Footage and the records about it are readable only by the service's user.

A2 Art.17–18 require every viewing of footage to go through the access log; a blob another
local account can read bypasses it. So the evidence trees (blobs, part files, ledgers, state
databases and the folders that hold them) are kept owner-only: blobs 0400, every other file
0600, every folder 0700, and the data folder itself 0700.

* **Made so**, whatever the umask: :func:`private_dir` creates folders 0700 and
  :func:`create_private_file` creates a database file 0600 before SQLite opens it (SQLite gives
  the ``-wal``, ``-shm`` and ``-journal`` files it creates the database file's mode). Blobs get
  their mode from ``ledger.blobs.BLOB_MODE``, part files are opened 0600.
* **Checked, never silently fixed**: :func:`check_private` lists every path another user could
  read (or enter); ``agent run``, ``sync run`` and ``archive serve`` refuse to start while the
  list is not empty (:func:`require_private`), naming each path and the ``chmod`` that fixes it.
  A loosened mode means someone changed it: the operator decides, and may want to know who
  could have read the footage meanwhile. ``archive verify`` is meant to report the same list.

Only the mode bits are checked, not the owner: a root administrator checking a deployment that
runs as its own user must not be told to take it over. This module is plumbing: it imports
nothing from ``ledger``, ``agent``, ``syncd`` or ``archive``.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
OTHERS = 0o077
"""Group and other bits: none of them may be set on evidence."""

SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")
#: How many loose paths a refusal lists one by one (the chmod -R line covers the rest).
LISTED = 20


class LoosePermissionsError(BodycamError):
    """Evidence is readable by other local users; the daemon refuses to start (exit 1)."""


@dataclass(frozen=True)
class Loose:
    """A path other local users can read or enter."""

    path: Path
    mode: int
    is_dir: bool

    @property
    def fix(self) -> str:
        return f"chmod go-rwx {shlex.quote(str(self.path))}"

    def __str__(self) -> str:
        return str(self.described())

    def described(self) -> Message:
        """``PATH (folder 0755): chmod go-rwx PATH``, shown in the reader's language."""
        kind = N_("{path} (folder {mode:04o}): {fix}") if self.is_dir else N_("{path} (file {mode:04o}): {fix}")
        return Message(kind, path=self.path, mode=self.mode, fix=self.fix)


def private_dir(path: str | os.PathLike[str]) -> list[Path]:
    """Create ``path`` and any missing parents with mode exactly 0700 (the umask can only remove
    bits; they are set again). Existing folders are left as they are: :func:`check_private`
    reports them. Safe against a concurrent creator. Returns the folders created, parents first
    (a caller that must make them durable fsyncs their parents)."""
    path = Path(path)
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    created = []
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR_MODE)
        except FileExistsError:
            if d.is_dir():
                continue  # another process made it (and sets its mode)
            raise
        _set_mode(d, PRIVATE_DIR_MODE, directory=True)
        created.append(d)
    return created


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty with mode exactly 0600 unless it exists (True if created). For
    SQLite databases: an empty file is an empty database, and the journal files SQLite makes
    next to it take its mode. A symlink at ``path`` is not followed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return True


def sqlite_files(db: str | os.PathLike[str]) -> list[Path]:
    """A SQLite database and the journal files that may sit next to it."""
    return [Path(f"{os.fspath(db)}{suffix}") for suffix in SQLITE_SUFFIXES]


def check_private(data_dir: str | os.PathLike[str], trees: Iterable[str | os.PathLike[str]]) -> list[Loose]:
    """Every path another local user could read or enter: the data folder itself (only the
    folder: its configuration and public keys may be shared) and each of ``trees`` with all it
    holds (a file, or a folder walked without following symlinks). Missing paths are skipped.
    An empty list means private. This is the check ``archive verify`` reports too."""
    loose: dict[Path, Loose] = {}

    def check(p: Path) -> bool:
        """Check one path; True if it is a folder to walk."""
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return False
        note(p, st.st_mode)
        return stat.S_ISDIR(st.st_mode)

    def note(p: Path, st_mode: int) -> None:
        if st_mode & OTHERS and not stat.S_ISLNK(st_mode):  # a symlink is never followed, nor its mode used
            loose[p] = Loose(p, stat.S_IMODE(st_mode), stat.S_ISDIR(st_mode))

    def walk(folder: str) -> None:  # scandir on strings: one lstat per entry, ~µs each at start-up
        try:
            entries = os.scandir(folder)
        except FileNotFoundError:
            return
        with entries:
            for e in entries:
                st_mode = e.stat(follow_symlinks=False).st_mode
                if st_mode & OTHERS:
                    note(Path(e.path), st_mode)
                if stat.S_ISDIR(st_mode):
                    walk(e.path)

    check(Path(data_dir))
    for tree in trees:
        if check(Path(tree)):
            walk(os.fspath(tree))
    return sorted(loose.values(), key=lambda x: x.path)


def require_private(command: str, data_dir: str | os.PathLike[str],
                    trees: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse to start ``command`` (e.g. ``bodycam archive serve``) while :func:`check_private`
    finds anything: raises :class:`LoosePermissionsError` naming each path and its ``chmod``."""
    trees = [Path(t) for t in trees]
    loose = check_private(data_dir, trees)
    if not loose:
        return
    lines: list[object] = [x.described() for x in loose[:LISTED]]
    if len(loose) > LISTED:
        lines.append(Message(N_("... and {n} more"), n=len(loose) - LISTED))
    fixes = []
    if any(x.path == Path(data_dir) for x in loose):
        fixes.append(f"chmod go-rwx {shlex.quote(str(data_dir))}")
    roots = [t for t in trees if any(x.path == t or t in x.path.parents for x in loose)]
    if roots:
        fixes.append("chmod -R go-rwx " + " ".join(shlex.quote(str(r)) for r in dict.fromkeys(roots)))
    raise LoosePermissionsError(Message(
        N_("refusing to start `{command}`: {n} path(s) in {folder} can be read by other local users, bypassing the "
           "access log (A2 Art.17-18); footage, ledgers and state must be the service user's only (files "
           "0400/0600, folders 0700). Check who changed them, then fix:\n  {paths}\nor all at once: {fixes}"),
        command=command, n=len(loose), folder=data_dir, paths=Message.join("\n  ", lines), fixes=" && ".join(fixes)))


def _set_mode(path: Path, mode: int, *, directory: bool) -> None:
    """chmod without following a symlink planted at ``path`` since it was created."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    if directory:
        flags |= getattr(os, "O_DIRECTORY", 0)
    fd = os.open(path, flags)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
