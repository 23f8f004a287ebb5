"""Recorder file names are data, never paths (A2 Art.8, 9).

A recorder's storage is untrusted input: a tampered or broken recorder can present names with
``..``, control characters, bytes that are not UTF-8, or symlinks pointing anywhere on the dock.
The dock therefore never builds a path from a recorder name. It walks the mount with directory
file descriptors and ``O_NOFOLLOW``, reads only regular files directly in the mount or in the
recorder's known media folders, keeps each name exactly as the recorder gave it (as data, in
``source_name``), and files the bytes under their content hash (see ``agent.store``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message, SaidError, joined

#: Longest single name component accepted as a plain name (FAT/exFAT/ext4 limit is 255).
MAX_COMPONENT_BYTES = 255
#: Longest ``source_name`` a ledger record holds (``ledger.records.Segment.source_name``).
MAX_SOURCE_NAME = 255
#: Prefix of a ``source_name`` that holds the raw bytes base64-encoded because they are not a
#: clean, printable UTF-8 name. A plain name that happens to start with it is encoded too, so the
#: form is never ambiguous.
B64_PREFIX = "b64:"
#: Prefix of a ``source_name`` too long even for the ``b64:`` form: only its SHA-256 is kept
#: there; the full name goes into the session's problem list (``full_source_name``).
HASH_PREFIX = "sha256:"
#: Folders (case-insensitive) where recorders keep footage, searched up to ``MEDIA_DEPTH`` deep
#: (``DCIM/100MEDIA/VID0001.MP4``). Anything elsewhere is listed as skipped, never read.
MEDIA_DIRS = ("DCIM", "VIDEO", "VIDEOS", "RECORD", "RECORDS", "MOVIE", "MOVIES", "NORMAL", "EVENT", "FILE")
MEDIA_DEPTH = 2


class UnsafeNameError(SaidError, BodycamError):
    """A recorder name was about to be used as a path; it is refused and kept only as data."""


class MountError(SaidError, BodycamError):
    """The recorder's storage cannot be read (gone, not a folder, or a symlink)."""


def name_problems(name: bytes | str) -> list[str]:
    """Why ``name`` is not safe as one path component (empty list: safe).

    ``str`` names are converted with ``os.fsencode`` so undecodable bytes that Python smuggled in
    as surrogates are judged as the bytes they really are.
    """
    raw = os.fsencode(name) if isinstance(name, str) else bytes(name)
    problems: list[str] = []
    if raw in (b"", b".", b".."):
        return [Message(N_("empty or dot name"))] if raw == b"" else [Message(N_("dot component"))]
    if b"/" in raw or b"\\" in raw:
        problems.append(Message(N_("path separator")))
    if raw.startswith(b"/"):
        problems.append(Message(N_("absolute path")))
    if b".." in raw.replace(b"\\", b"/").split(b"/"):
        problems.append(Message(N_("parent reference (..)")))
    if b"\x00" in raw:
        problems.append(Message(N_("NUL byte")))
    if len(raw) > MAX_COMPONENT_BYTES:
        problems.append(Message(N_("longer than {limit} bytes"), limit=MAX_COMPONENT_BYTES))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append(Message(N_("not valid UTF-8")))
        text = raw.decode("utf-8", "replace")
    if any(_is_control(ch) for ch in text):
        problems.append(Message(N_("control character")))
    return problems


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or ch == "\ufffd"


def is_safe_name(name: bytes | str) -> bool:
    return not name_problems(name)


def require_safe_name(name: bytes | str) -> str:
    """Return ``name`` as text if it may be used as one path component, else raise."""
    problems = name_problems(name)
    if problems:
        raise UnsafeNameError(Message(N_("refusing recorder name {name!r} as a path: {problems}; it is kept only "
                                      "as data"), name=encode_source_name(os.fsencode(name)),
                                   problems=joined(problems)))
    return os.fsdecode(name) if isinstance(name, bytes) else name


def encode_source_name(raw: bytes) -> str:
    """The recorder's name as ledger data: plain text when clean, else ``b64:`` + raw bytes.

    Components are joined with ``/`` (the recorder's own folder structure); the bytes are kept
    exactly, so ``decode_source_name`` gives back what the recorder presented. A name whose
    encoded form would not fit a record (over ``MAX_SOURCE_NAME``) is kept as ``sha256:<hex>``.
    """
    parts = raw.split(b"/")
    clean = (
        not raw.startswith((B64_PREFIX.encode(), HASH_PREFIX.encode()))
        and all(p and not name_problems(p) for p in parts)
    )
    text = raw.decode("utf-8") if clean else B64_PREFIX + base64.b64encode(raw).decode("ascii")
    if len(text) > MAX_SOURCE_NAME:
        return HASH_PREFIX + hashlib.sha256(raw).hexdigest()
    return text


def full_source_name(raw: bytes) -> str:
    """The name as data in the ``b64:`` form whatever its length, for problem reports."""
    return B64_PREFIX + base64.b64encode(raw).decode("ascii")


def decode_source_name(source_name: str) -> bytes:
    """Inverse of ``encode_source_name``: the raw bytes the recorder presented."""
    if source_name.startswith(B64_PREFIX):
        return base64.b64decode(source_name[len(B64_PREFIX):], validate=True)
    if source_name.startswith(HASH_PREFIX):
        raise UnsafeNameError(Message(N_("{name} keeps only the hash of an over-long recorder name; the full name is "
                                      "in the dock session's problem list"), name=source_name))
    return source_name.encode("utf-8")


def display_name(source_name: str) -> str:
    """A printable form for logs and terminals: control characters escaped, never interpreted."""
    if source_name.startswith(HASH_PREFIX):
        return source_name
    text = decode_source_name(source_name).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


@dataclass(frozen=True)
class RecorderFile:
    """One regular file found on the recorder, described by data only."""

    rel: tuple[bytes, ...]          # raw path components below the mount
    source_name: str                # ``encode_source_name`` of the joined components
    size: int
    mtime_ns: int
    problems: tuple[str, ...] = ()  # why the name would be unsafe as a path (kept, flagged)


@dataclass(frozen=True)
class Skipped:
    source_name: str
    reason: str


@dataclass
class Listing:
    files: list[RecorderFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def open_mount(mount: Path) -> int:
    """Open the recorder's mount folder itself.

    The mount point is the dock's own (made by the automounter or the emulator, possibly as a
    symlink to where the volume really is), so it is resolved once; nothing *inside* it is ever
    followed.
    """
    try:
        return os.open(os.fsencode(mount), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MountError(Message(N_("cannot open recorder storage {mount}: {error}; check the recorder is docked and "
                                 "in mass-storage mode"), mount=str(mount), error=str(exc.strerror))) from exc


def list_recorder_files(
    mount: Path, media_dirs: Iterable[str] = MEDIA_DIRS, depth: int = MEDIA_DEPTH
) -> Listing:
    """Regular files directly in ``mount`` and in its known media folders, sorted by name.

    Symlinks, devices, FIFOs and folders outside the known media folders are reported in
    ``skipped`` (so nothing disappears silently) and never opened.
    """
    wanted = {d.upper() for d in media_dirs}
    listing = Listing()
    root_fd = open_mount(mount)
    try:
        _walk(root_fd, (), listing, wanted, depth)
    finally:
        os.close(root_fd)
    listing.files.sort(key=lambda f: f.rel)
    return listing


def _walk(dir_fd: int, prefix: tuple[bytes, ...], out: Listing, wanted: set[str], depth: int) -> None:
    for raw in sorted(os.listdir(dir_fd)):
        name = os.fsencode(raw)
        rel = (*prefix, name)
        shown = encode_source_name(b"/".join(rel))
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            out.skipped.append(Skipped(shown, Message(N_("symlink (never followed)"))))
        elif stat.S_ISREG(st.st_mode):
            out.files.append(RecorderFile(rel, shown, st.st_size, st.st_mtime_ns, tuple(name_problems(name))))
        elif stat.S_ISDIR(st.st_mode):
            upper = name.decode("utf-8", "replace").upper()
            inside_media = bool(prefix)
            if (upper in wanted or inside_media) and len(prefix) < depth and not name_problems(name):
                sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    _walk(sub, rel, out, wanted, depth)
                finally:
                    os.close(sub)
            else:
                out.skipped.append(Skipped(shown, Message(N_("folder outside the recorder's media folders"))))
        else:
            out.skipped.append(Skipped(shown, Message(N_("not a regular file"))))


def open_recorder_file(mount_fd: int, rel: tuple[bytes, ...]) -> int:
    """Open a listed file for reading without following any symlink at any level.

    Each component is opened relative to its parent's descriptor with ``O_NOFOLLOW``; the result
    must be a regular file (checked with ``fstat`` on the open descriptor, so a file swapped
    after listing cannot redirect the read).
    """
    fds: list[int] = []
    try:
        cur = mount_fd
        for comp in rel[:-1]:
            if name_problems(comp):
                raise UnsafeNameError(Message(N_("refusing folder {name!r} on the recorder"),
                                           name=encode_source_name(comp)))
            cur = os.open(comp, _DIR_FLAGS, dir_fd=cur)
            fds.append(cur)
        last = rel[-1]
        if last in (b"", b".", b"..") or b"/" in last or b"\x00" in last:
            raise UnsafeNameError(Message(N_("refusing file name {name!r} on the recorder"),
                                       name=encode_source_name(last)))
        fd = os.open(last, _FILE_FLAGS, dir_fd=cur)
    finally:
        for d in fds:
            os.close(d)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafeNameError(Message(N_("{name!r} is not a regular file; not read"),
                                   name=encode_source_name(b"/".join(rel))))
    os.set_blocking(fd, True)
    return fd
