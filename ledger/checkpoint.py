"""C2SP checkpoints (https://c2sp.org/tlog-checkpoint) as C2SP signed notes
(https://c2sp.org/signed-note).

A checkpoint commits to the whole ledger at one size: its origin, the size and the RFC 9162
root. Signed by the log key, it lets anyone holding that public key check inclusion and
consistency proofs offline, and lets witnesses cosign the same text (the signed-note format
allows several signature lines), which is what stops a log from showing different histories
to different people.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bodycam.errors import FormatError, VerificationError
from bodycam.i18n import N_, Message
from ledger.keys import PublicKey, Signer

SIG_PREFIX = "\u2014 "  # em dash + space
ALG_ED25519 = 0x01
_NAME_RE = re.compile(r"[^\s+]+\Z")


def _check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name):
        raise FormatError(f"note key name {name!r} must be non-empty, without spaces or '+'")


def note_key_hash(name: str, pub: PublicKey) -> bytes:
    """First 4 bytes of SHA-256(name || 0x0A || 0x01 || public key): the Ed25519 note key id."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + pub.raw).digest()[:4]


def vkey(name: str, pub: PublicKey) -> str:
    """The verifier key string ``name+hash+base64(0x01||pub)`` used by note tooling."""
    _check_name(name)
    return f"{name}+{note_key_hash(name, pub).hex()}+{base64.b64encode(bytes([ALG_ED25519]) + pub.raw).decode()}"


def parse_vkey(text: str) -> tuple[str, PublicKey]:
    try:
        name, keyhash, b64 = text.strip().split("+", 2)  # base64 may contain "+"
        raw = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise FormatError("verifier key must be name+hash+base64") from None
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise FormatError("verifier key is not an Ed25519 note key")
    pub = PublicKey.from_raw(raw[1:])
    if note_key_hash(name, pub).hex() != keyhash:
        raise FormatError("verifier key hash does not match its name and key")
    return name, pub


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes


def sign_note(text: str, signer: Signer, name: str) -> str:
    """The signed note: text, a blank line, and one signature line."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise FormatError("note text must end with a newline and contain no blank lines")
    sig = signer.sign(text.encode("utf-8"))
    blob = base64.b64encode(note_key_hash(name, signer.public_key) + sig).decode("ascii")
    return f"{text}\n{SIG_PREFIX}{name} {blob}\n"


def add_signature(note: str, signer: Signer, name: str) -> str:
    """Cosign an already signed note (a witness adds its line to the same text)."""
    text, _ = parse_note(note)
    own = sign_note(text, signer, name)
    return note + own[len(text) + 1 :]


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and its signature lines (unverified)."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise FormatError("not a signed note: need text, a blank line and signature lines")
    text = note[: split + 1]
    sigs = []
    for line in note[split + 2 :].splitlines():
        if not line.startswith(SIG_PREFIX):
            raise FormatError(f"malformed signature line {line!r}")
        try:
            name, blob = line[len(SIG_PREFIX) :].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error):
            raise FormatError(f"malformed signature line {line!r}") from None
        if len(raw) < 5:
            raise FormatError(f"signature too short in line {line!r}")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    if not sigs:
        raise FormatError("signed note has no signatures")
    return text, sigs


def verify_note(note: str, name: str, pub: PublicKey) -> str:
    """The note's text if it carries a valid signature by (name, pub); VerificationError otherwise."""
    text, sigs = parse_note(note)
    want = note_key_hash(name, pub)
    for s in sigs:
        if s.name == name and s.key_hash == want:
            if pub.verify(s.signature, text.encode("utf-8")):
                return text
            raise VerificationError(Message(N_("note signature by {name} does not verify: the note was altered"),
                                            name=name))
    raise VerificationError(Message(N_("note carries no signature by key {key}"), key=f"{name}+{want.hex()}"))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def to_text(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise FormatError("checkpoint origin must be one non-empty line")
        if self.size < 0 or len(self.root) != 32:
            raise FormatError("checkpoint needs a size ≥ 0 and a 32-byte root")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise FormatError("checkpoint must have origin, size and root lines, each ending in a newline")
        origin, size_s, root_s, *ext = lines[:-1]
        if not origin:
            raise FormatError("checkpoint origin is empty")
        if not re.fullmatch(r"0|[1-9][0-9]*", size_s):
            raise FormatError(f"checkpoint size {size_s!r} is not a decimal number")
        try:
            root = base64.b64decode(root_s, validate=True)
        except (binascii.Error, ValueError):
            raise FormatError("checkpoint root is not base64") from None
        if len(root) != 32:
            raise FormatError("checkpoint root is not 32 bytes")
        if any(not e for e in ext):
            raise FormatError("checkpoint extension lines must not be empty")
        return cls(origin, int(size_s), root, tuple(ext))


def dock_origin(dock_id: str) -> str:
    """The origin a dock signs its own ledger's checkpoints under (and its note key name); the
    archive checks a dock's checkpoints against it."""
    return f"bodycam/{dock_id}"


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer, name: str | None = None) -> str:
    return sign_note(checkpoint.to_text(), signer, name or checkpoint.origin)


def verify_checkpoint(
    note: str, pub: PublicKey, name: str | None = None, origins: Sequence[str] | None = None
) -> Checkpoint:
    """The checkpoint of a note signed by ``pub`` (key name defaults to the origin)."""
    text, _ = parse_note(note)
    checkpoint = Checkpoint.from_text(text)
    if origins is not None and checkpoint.origin not in origins:
        raise VerificationError(Message(N_("checkpoint origin {origin!r} is not one of {origins}"),
                                        origin=checkpoint.origin, origins=list(origins)))
    verify_note(note, name or checkpoint.origin, pub)
    return checkpoint
