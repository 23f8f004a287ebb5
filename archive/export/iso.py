"""The disc of A2 Art.16: an ISO 9660 image of the export package, and burning it with a check.

A2 Art.16 asks that footage used as evidence be burned to disc and filed with the case. The disc
must read on any examiner's machine with standard tools, so the image is plain ISO 9660 with
Joliet (Windows) and Rock Ridge (Unix) names, both carrying the Chinese file names
(``核验说明.txt``, ``originals/<device>/<name>``) intact, made by Debian's ``xorriso`` — a real ISO
tool, called with an argument list (never a shell string, so no file name is ever interpreted).

The image is reproducible: the same folder gives the same bytes (every volume and file date is
the fixed ``IMAGE_DATE``, owners are 0, modes are read-only; xorriso orders directory records by
name), so its SHA-256, which goes into the ledger, can be recomputed by anyone from the package.
It records MD5 checksums of each file and of the session (``-md5 on``), which is how a burned
medium is checked against the image after writing (``burn``), and how an examiner can check a
disc with ``xorriso -md5 on -indev /dev/sr0 -check_media --`` years later.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from bodycam.errors import BodycamError, RefusedError, VerificationError
from bodycam.formats import printable
from bodycam.i18n import _

XORRISO = "xorriso"
OSIRROX = "osirrox"

IMAGE_DATE = "2000010100000000"
"""Every date in the image (volume creation/modification, the UUID of GRUB-style tools, every file's
times), as xorriso's ``YYYYMMDDhhmmsscc`` (UTC). A fixed date, not the export's: the image's hash
must depend on the package's bytes alone; the export's time is in its manifest and ledger entry."""

VOLUME_ID_MAX = 32
_VOLUME_ID = re.compile(r"^[A-Z0-9_]{1,32}$")
_NOT_D_CHARACTER = re.compile(r"[^A-Z0-9_]+")
_TAIL_LINES = 8
_TIMEOUT_S = 3600  # an image of a few GiB; a burn at single speed takes far less than an hour per DVD


# ---- volume id --------------------------------------------------------------------------------
def check_volume_id(volume_id: str) -> str:
    """``volume_id`` if it is an ISO 9660 volume identifier: 1 to 32 d-characters (``A-Z``,
    ``0-9``, ``_``), which every reader shows as it is; BodycamError otherwise."""
    if not _VOLUME_ID.fullmatch(volume_id):
        raise BodycamError(_("{volume_id!r} is not an ISO 9660 volume id: 1 to {max} characters A-Z, 0-9 and _ "
                             "(use volume_id_for_case to derive one from a case number)")
                           .format(volume_id=printable(volume_id), max=VOLUME_ID_MAX))
    return volume_id


def volume_id_for_case(case_id: str) -> str:
    """The volume id of a case's disc, from its case number, reproducibly:

    1. NFKC normalisation (full-width ``ＨＢ－２０２６`` becomes ``HB-2026``), then upper case;
    2. every run of characters other than ``A-Z``, ``0-9`` and ``_`` becomes one ``_``, and
       ``_`` at either end is dropped (``HB-2026-001`` → ``HB_2026_001``);
    3. when that lost information — the case number had characters other than ASCII letters,
       digits, ``-``, ``_``, ``/``, ``.`` and spaces (``鄂公(2026)123号``), or the result is longer
       than 32 characters or empty — the id is the first 23 characters of it, ``_`` and the first 8
       hex digits (upper case) of the SHA-256 of the case number in UTF-8, so two case numbers
       never share a label by accident.

    The volume id is a label on the disc; the case number itself, in full, is in the manifest."""
    text = unicodedata.normalize("NFKC", case_id).upper()
    mapped = _NOT_D_CHARACTER.sub("_", text).strip("_")
    lossless = re.fullmatch(r"[A-Z0-9_\-/. ]+", text) is not None
    if lossless and 0 < len(mapped) <= VOLUME_ID_MAX:
        return mapped
    digest = hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:8].upper()
    return (mapped[:VOLUME_ID_MAX - 9] + "_" + digest).lstrip("_")


# ---- running xorriso --------------------------------------------------------------------------
def _tail(output: str) -> str:
    lines = [printable(line) for line in output.splitlines() if line.strip()]
    return "\n".join(lines[-_TAIL_LINES:]) or _("(no output)")


def _run(argv: Sequence[str], *, what: str) -> subprocess.CompletedProcess:
    """Run an xorriso command (argument list, no shell, no startup files); BodycamError with its last
    lines when it fails or is missing."""
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, errors="replace",
                             timeout=_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise BodycamError(_("{tool} is not installed: run scripts/setup.sh (it installs Debian's xorriso)")
                           .format(tool=argv[0])) from None
    except subprocess.TimeoutExpired:
        raise BodycamError(_("{what}: {tool} did not finish within {seconds} s")
                           .format(what=what, tool=argv[0], seconds=_TIMEOUT_S)) from None
    if res.returncode != 0:
        raise BodycamError(_("{what} failed (xorriso exit {code}):\n{tail}")
                           .format(what=what, code=res.returncode, tail=_tail(res.stderr + res.stdout)))
    return res


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _check_tree(src_dir: Path) -> None:
    """Only directories and regular files go on the disc: a symlink would point off the package,
    a device or fifo is nothing an examiner can check."""
    for root, dirs, files in os.walk(src_dir):
        for name in [*dirs, *files]:
            p = Path(root) / name
            mode = p.lstat().st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise RefusedError(_("{path}: only regular files and directories go into an evidence image "
                                     "(a symlink, device or fifo is refused)").format(path=printable(p)))


def make_iso_command(src_dir: Path, out: Path, volume_id: str) -> list[str]:
    """The xorriso argument list writing ``src_dir`` as a new image at ``out`` (see ``make_iso``)."""
    return [
        XORRISO, "-no_rc", "-abort_on", "FAILURE", "-return_with", "FAILURE", "32",
        "-charset", "UTF-8",  # names on disk are UTF-8; Rock Ridge keeps them as UTF-8, Joliet as UCS-2
        "-outdev", f"stdio:{out}",
        "-rockridge", "on", "-joliet", "on",
        "-compliance", "joliet_long_names:joliet_long_paths",  # Joliet names up to 103 characters
        "-md5", "on",
        "-volid", volume_id,
        "-volume_date", "c", IMAGE_DATE, "-volume_date", "m", IMAGE_DATE,
        "-volume_date", "uuid", IMAGE_DATE, "-volume_date", "all_file_dates", IMAGE_DATE,
        "-iso_nowtime", IMAGE_DATE,
        "-map", str(src_dir), "/",
        "-chown_r", "0", "/", "--", "-chgrp_r", "0", "/", "--",
        "-find", "/", "-type", "d", "-exec", "chmod", "0555", "--",
        "-find", "/", "-type", "f", "-exec", "chmod", "0444", "--",
        "-commit",
    ]


def make_iso(src_dir: Path, out: Path, volume_id: str) -> str:
    """Write an ISO 9660 image of ``src_dir`` (Joliet and Rock Ridge, MD5s recorded) at ``out``,
    labelled ``volume_id`` (``check_volume_id``; derive it with ``volume_id_for_case``), and
    return its SHA-256 (hex).

    ``out`` must not exist (an image is never overwritten). The image is written next to ``out``
    under a temporary name and linked into place only when xorriso succeeded, so a failure leaves
    no partial image. Same folder content, same bytes."""
    check_volume_id(volume_id)
    src_dir = Path(src_dir)
    out = Path(out)
    if not src_dir.is_dir():
        raise BodycamError(_("{path}: not a directory to make an image of").format(path=printable(src_dir)))
    if out.exists() or out.is_symlink():
        raise RefusedError(_("{path} exists: an image is never overwritten; choose a new file name")
                           .format(path=printable(out)))
    if not out.parent.is_dir():
        raise BodycamError(_("{path}: its directory does not exist").format(path=printable(out)))
    _check_tree(src_dir)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # xorriso creates it: a new stdio file, never an existing one
    try:
        _run(make_iso_command(src_dir.resolve(), tmp.resolve(), volume_id),
             what=_("making the image {path}").format(path=printable(out)))
        if not tmp.is_file():
            raise BodycamError(_("making the image {path}: xorriso wrote nothing").format(path=printable(out)))
        digest = sha256_file(tmp)
        tmp.chmod(0o600)  # footage: readable by the archive's user only, like the package
        os.link(tmp, out)  # fails if someone made ``out`` meanwhile: never clobbered
    except FileExistsError:
        raise RefusedError(_("{path} exists: an image is never overwritten; choose a new file name")
                           .format(path=printable(out))) from None
    finally:
        tmp.unlink(missing_ok=True)
    return digest


# ---- reading an image back -------------------------------------------------------------------
def _check_is_iso9660(iso: Path) -> None:
    """xorriso reads a file without an ISO 9660 volume as an empty image (a warning only): an
    image is recognised here by its primary volume descriptor (ECMA-119 §8.4: sector 16 holds type
    1 and ``CD001``), so a damaged or wrong file is an error, not an empty extraction."""
    with iso.open("rb") as f:
        f.seek(16 * 2048)
        head = f.read(6)
    if head != b"\x01CD001":
        raise BodycamError(_("{path}: not an ISO 9660 image (no primary volume descriptor at sector 16)")
                           .format(path=printable(iso)))


def _special_entries(iso: Path) -> list[str]:
    """Paths in the image that are neither directories nor regular files (symlinks, devices, fifos,
    sockets), as xorriso names them."""
    res = _run([XORRISO, "-no_rc", "-abort_on", "FAILURE", "-return_with", "FAILURE", "32",
                "-charset", "UTF-8", "-indev", f"stdio:{iso.resolve()}",
                "-find", "/", "-not", "-type", "d", "-not", "-type", "f", "-exec", "echo", "--"],
               what=_("reading the image {path}").format(path=printable(iso)))
    return [line for line in res.stdout.splitlines() if line.strip()]


def extract_iso(iso: Path, dest: Path) -> None:
    """Copy the files of the image ``iso`` into ``dest`` (absent or an empty directory) with
    osirrox, by their Rock Ridge names. An image holding symlinks, devices or fifos is refused
    before anything is extracted (an evidence disc has none; a symlink could write outside
    ``dest``). Extracted directories are 0755 and files 0644 (the disc's read-only modes would make
    the copy impossible to remove); their contents are exactly the disc's."""
    iso = Path(iso)
    dest = Path(dest)
    if not iso.is_file():
        raise BodycamError(_("{path}: no such image file").format(path=printable(iso)))
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise RefusedError(_("{path} exists and is not an empty directory: extract into a new one")
                           .format(path=printable(dest)))
    _check_is_iso9660(iso)
    special = _special_entries(iso)
    if special:
        raise RefusedError(_("{path}: the image holds entries that are neither files nor directories, refused: "
                             "{entries}").format(path=printable(iso),
                                                 entries=", ".join(printable(s) for s in special[:5])))
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        _run([OSIRROX, "-no_rc", "-abort_on", "FAILURE", "-return_with", "FAILURE", "32",
              "-charset", "UTF-8", "-indev", f"stdio:{iso.resolve()}",
              "-extract", "/", str(dest.resolve())],
             what=_("extracting the image {path}").format(path=printable(iso)))
        _sane_modes(dest)
    except BaseException:
        _make_removable(dest)
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def _make_removable(dest: Path) -> None:
    if dest.is_dir():
        dest.chmod(0o755)
        for root, dirs, _files in os.walk(dest):
            for name in dirs:
                p = Path(root) / name
                if not p.is_symlink():
                    p.chmod(0o755)


def _sane_modes(dest: Path) -> None:
    dest.chmod(0o755)
    for root, dirs, files in os.walk(dest):  # top-down: a directory is made readable before it is entered
        for name in dirs:
            p = Path(root) / name
            if p.is_symlink():
                raise RefusedError(_("{path}: a symlink came out of the image").format(path=printable(p)))
            p.chmod(0o755)
        for name in files:
            p = Path(root) / name
            if not stat.S_ISREG(p.lstat().st_mode):
                raise RefusedError(_("{path}: not a regular file came out of the image").format(path=printable(p)))
            p.chmod(0o644)


# ---- burning ----------------------------------------------------------------------------------
def check_device(device: str) -> str:
    """``device`` if it names an optical drive: ``/dev/sr<N>`` or another block device; RefusedError
    for anything else (a regular file, a character device, a missing path) — burning must never
    write over a file that merely looks like a drive."""
    if not device.startswith("/dev/"):
        raise RefusedError(_("{device}: not a device path; an optical drive is /dev/srN")
                           .format(device=printable(device)))
    try:
        mode = os.stat(device).st_mode
    except OSError as exc:
        raise RefusedError(_("{device}: no such drive ({error}); is the burner connected?")
                           .format(device=printable(device), error=exc.strerror)) from None
    if not stat.S_ISBLK(mode):
        raise RefusedError(_("{device}: not a block device; an optical drive is /dev/srN")
                           .format(device=printable(device)))
    return device


def burn_command(iso: Path, drive: str) -> list[str]:
    """xorriso's cdrecord emulation writing ``iso`` as one closed session (``-dao``, disc-at-once)
    and ejecting nothing: the disc is checked right after, in the same drive."""
    return [XORRISO, "-no_rc", "-as", "cdrecord", "-v", f"dev={drive}", "-dao", "-data", str(iso)]


def check_command(drive: str) -> list[str]:
    """xorriso reading the medium back: every block readable and the session's MD5 tags matching
    (``-check_media``), and every file's content matching its recorded MD5 (``-check_md5_r``)."""
    return [XORRISO, "-no_rc", "-abort_on", "FAILURE", "-return_with", "FAILURE", "32",
            "-charset", "UTF-8", "-md5", "on", "-indev", drive,
            "-check_media", "--", "-check_md5_r", "FAILURE", "/", "--"]


def verify_medium(iso: Path, drive: str) -> None:
    """Check that ``drive`` (``/dev/srN`` or an xorriso ``stdio:`` address) holds ``iso``: the first
    bytes of the medium are the image's bytes (SHA-256), the session's MD5 tags match and every
    file matches its MD5. VerificationError naming what differs."""
    res = _check_output(check_command(drive), drive)
    text = res.stdout + res.stderr
    if "md5_match" not in text or "File contents and their MD5 checksums match." not in text:
        raise VerificationError(_("{drive}: the medium's MD5 checksums do not confirm the image:\n{tail}")
                                .format(drive=printable(drive), tail=_tail(text)))
    path = drive.removeprefix("stdio:")
    size = iso.stat().st_size
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            left = size
            while left:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
    except OSError as exc:
        raise VerificationError(_("{drive}: cannot read the medium back: {error}")
                                .format(drive=printable(drive), error=exc)) from None
    if left or h.hexdigest() != sha256_file(iso):
        raise VerificationError(_("{drive}: the medium does not hold the bytes of {iso} (SHA-256 differs)")
                                .format(drive=printable(drive), iso=printable(iso)))


def _check_output(argv: list[str], drive: str) -> subprocess.CompletedProcess:
    try:
        return _run(argv, what=_("checking the medium in {drive}").format(drive=printable(drive)))
    except BodycamError as exc:
        raise VerificationError(str(exc)) from None


def write_and_verify(iso: Path, drive: str) -> None:
    """Write ``iso`` to the xorriso drive address ``drive`` and verify the medium (``verify_medium``).
    ``burn`` calls this after checking the device; a ``stdio:/path`` address writes to a file, which
    is how the write and the check are tested without a burner."""
    iso = Path(iso)
    if not iso.is_file():
        raise BodycamError(_("{path}: no such image file").format(path=printable(iso)))
    _run(burn_command(iso.resolve(), drive), what=_("burning {iso} to {drive}")
         .format(iso=printable(iso), drive=printable(drive)))
    verify_medium(iso, drive)


def burn(iso: Path, device: str) -> None:
    """Burn ``iso`` to the optical drive ``device`` (``/dev/srN``, a block device) and verify the
    burned medium against the image (MD5 tags and the image's SHA-256); BodycamError or
    VerificationError on any failure: a disc that did not verify must not be filed."""
    write_and_verify(Path(iso), check_device(device))
