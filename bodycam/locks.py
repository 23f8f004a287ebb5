"""One daemon of a kind per data folder.

Two ``archive serve`` on one folder share one broker identity and evict each other every second
or two; two ``sync run`` (or ``agent run``) on one dock would interleave their writes. Each
daemon therefore holds an exclusive lock on ``<data_dir>/.<name>.lock`` while it runs
(``flock``: the kernel releases it when the process ends, however it ends, so a crash never
leaves a stale lock behind). A second one exits 1 at once, naming the first one's pid.

The lock file (0600, holding the holder's pid for the message) is never removed: removing it
would let a third process lock a new file while the first still holds the old one. It is not
evidence and is not among the private trees. This module is plumbing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message

LOCK_MODE = 0o600


class AlreadyRunningError(BodycamError):
    """Another process holds the data folder's lock for this daemon (exit 1)."""


@contextlib.contextmanager
def exclusive_lock(data_dir: str | os.PathLike[str], name: str, command: str) -> Iterator[Path]:
    """Hold ``<data_dir>/.<name>.lock`` for the body of the ``with``, or raise
    :class:`AlreadyRunningError` at once (never waits) if ``command`` (e.g. ``bodycam archive
    serve``) already runs on ``data_dir``. Yields the lock file's path."""
    data_dir = Path(data_dir)
    path = data_dir / f".{name}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                     LOCK_MODE)
    except FileNotFoundError:
        raise BodycamError(Message(N_("{folder}: no such data folder; check data_dir in bodycam.toml (or create the "
                                      "deployment with `bodycam init`)"), folder=data_dir)) from None
    except OSError as exc:
        raise BodycamError(Message(N_("cannot open the lock file {file}: {error}; run as the data folder's owner"),
                                   file=path, error=exc.strerror)) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(Message(N_("another `{command}` ({holder}) is using {folder}; stop it first"),
                                              command=command, holder=_holder(fd), folder=data_dir)) from None
        os.fchmod(fd, LOCK_MODE)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """``pid N`` from the lock file (the holder writes it just after locking), if it is there yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return Message(N_("pid {pid}"), pid=text) if text.isdigit() else Message(N_("pid unknown"))
