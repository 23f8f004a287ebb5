"""Writing small files that must be whole and private: keys, passwords, certificates, configs.

Every key, secret and certificate the project writes goes through :func:`write_secret` or
:func:`write_file`, so they all get the same guarantees:

* **a crash never leaves a half-written file.** The data goes to a hidden temporary file in the
  same directory, is fsynced, and only then takes the final name in one atomic step
  (``os.replace``, or ``os.link`` when the target must not exist); the directory is fsynced after
  that so the new name survives a power cut. After a crash the target holds either the old
  content or the new, never a mix; at worst a hidden ``.NAME.*.tmp`` file remains.
* **a secret is never readable by others, not even for an instant.** The temporary file is
  created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and its final mode from the start (the umask
  can only remove bits, and ``fchmod`` then makes the mode exact), so no other process can open it
  between creation and a later ``chmod``, and no planted file or symlink is written through.
* **``exclusive=True`` never replaces anything**: the file is hard-linked into place, which fails
  if the name exists in any form (a file, a directory, a dangling symlink): a symlink is never
  followed. The old content is kept and the error names the file and what to do.
* **a failure cleans up after itself**: on any error (no space, no permission, interruption) the
  temporary file is removed and the target is left as it was.

Errors are :class:`~bodycam.errors.KeyFileError` with a message that says what to do.
This module is plumbing: it imports nothing from ``ledger``, ``agent``, ``syncd`` or ``archive``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from bodycam.errors import KeyFileError
from bodycam.i18n import N_, Message

SECRET_MODE = 0o600
"""Keys, passwords, broker ACL and configuration: the owner only."""

PUBLIC_MODE = 0o644
"""Certificates, public keys and config files meant to be read by others."""

_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0))


def write_secret(path: str | os.PathLike[str], data: bytes | str, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600, whole or not at all (see the module docstring).

    ``exclusive=True`` refuses to replace an existing ``path`` (use it for keys: losing a key is
    not undoable). ``str`` data is written as UTF-8.
    """
    write_file(path, data, mode=SECRET_MODE, exclusive=exclusive)


def write_file(path: str | os.PathLike[str], data: bytes | str, *, mode: int = PUBLIC_MODE,
               exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` with exactly ``mode``, whole or not at all (see the module docstring).

    The directory must exist. ``exclusive=True`` refuses to replace an existing ``path``;
    otherwise an existing file (or symlink, which is replaced, not followed) gets the new content
    atomically. ``str`` data is written as UTF-8.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    mode &= 0o777
    fd, tmp = _create_temp(path, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have removed bits, never added any: make it exact
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise _exists(path) from None
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise KeyFileError(Message(
                        N_("cannot create {file}: the file system holding {folder} does not support hard links "
                           "({error}), which bodycam needs to create a file without overwriting another; keep it "
                           "on a local POSIX file system (ext4, xfs, btrfs)"),
                        file=path, folder=path.parent, error=exc.strerror)) from None
                raise
            _remove(tmp)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise _failed(path, exc) from None
    except BaseException:
        _remove(tmp)
        raise
    _sync_dir(path)


def _create_temp(path: Path, mode: int) -> tuple[int, Path]:
    """A new hidden file next to ``path``, opened for writing, mode ``mode`` (less the umask)."""
    for _ in range(16):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, _CREATE_FLAGS, mode), tmp
        except FileExistsError:
            continue  # another writer's temporary name: draw another
        except OSError as exc:
            raise _failed(path, exc) from None
    raise KeyFileError(Message(N_("cannot create a temporary file next to {file}: every name tried exists; remove "
                                  "stale .{name}.*.tmp files in {folder} and run again"),
                               file=path, name=path.name, folder=path.parent))


def _sync_dir(path: Path) -> None:
    """Make the new name durable: the rename or link is only on disk once the directory is."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise KeyFileError(Message(
            N_("{file} was written but its directory {folder} could not be synced ({error}): it may be lost on a "
               "power cut; check the file system and run again"),
            file=path, folder=path.parent, error=exc.strerror)) from None


def _remove(tmp: Path) -> None:
    # Gone already, or the original error matters more: a stale hidden .tmp file is owner-only.
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _exists(path: Path) -> KeyFileError:
    return KeyFileError(Message(N_("{file} already exists; refusing to overwrite it (move it away or delete it "
                                   "first, then run again)"), file=path))


def _failed(path: Path, exc: OSError) -> KeyFileError:
    """An actionable message for an OSError met while writing ``path``; nothing was written."""
    where = path.parent
    if exc.errno == errno.ENOENT:
        hint = Message(N_("the directory {folder} does not exist; create it first"), folder=where)
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = Message(N_("no permission to create files in {folder}; run as its owner or fix its permissions"),
                       folder=where)
    elif exc.errno == errno.EROFS:
        hint = Message(N_("{folder} is on a read-only file system; remount it read-write or choose another place"),
                       folder=where)
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = Message(N_("the file system holding {folder} is full; free some space and run again"), folder=where)
    elif exc.errno == errno.EISDIR:
        hint = Message(N_("{file} is a directory; move it away or choose another name"), file=path)
    else:
        hint = Message(N_("check the path and the file system, then run again"))
    return KeyFileError(Message(N_("cannot write {file}: {error}; it was left unchanged ({hint})"),
                                file=path, error=exc.strerror or exc, hint=hint))
