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
                    raise KeyFileError(
                        f"cannot create {path}: the file system holding {path.parent} does not support hard "
                        f"links ({exc.strerror}), which bodycam needs to create a file without overwriting "
                        f"another; keep it on a local POSIX file system (ext4, xfs, btrfs)"
                    ) from None
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
    raise KeyFileError(f"cannot create a temporary file next to {path}: every name tried exists; "
                       f"remove stale .{path.name}.*.tmp files in {path.parent} and run again")


def _sync_dir(path: Path) -> None:
    """Make the new name durable: the rename or link is only on disk once the directory is."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise KeyFileError(
            f"{path} was written but its directory {path.parent} could not be synced ({exc.strerror}): "
            f"it may be lost on a power cut; check the file system and run again"
        ) from None


def _remove(tmp: Path) -> None:
    # Gone already, or the original error matters more: a stale hidden .tmp file is owner-only.
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _exists(path: Path) -> KeyFileError:
    return KeyFileError(f"{path} already exists; refusing to overwrite it (move it away or delete it first, "
                        f"then run again)")


def _failed(path: Path, exc: OSError) -> KeyFileError:
    """An actionable message for an OSError met while writing ``path``; nothing was written."""
    where = path.parent
    if exc.errno == errno.ENOENT:
        hint = f"the directory {where} does not exist; create it first"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = f"no permission to create files in {where}; run as its owner or fix its permissions"
    elif exc.errno == errno.EROFS:
        hint = f"{where} is on a read-only file system; remount it read-write or choose another place"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = f"the file system holding {where} is full; free some space and run again"
    elif exc.errno == errno.EISDIR:
        hint = f"{path} is a directory; move it away or choose another name"
    else:
        hint = "check the path and the file system, then run again"
    return KeyFileError(f"cannot write {path}: {exc.strerror or exc}; it was left unchanged ({hint})")
