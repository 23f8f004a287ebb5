"""Ed25519 keys: files, key ids and the two small objects the rest of the code uses.

A key id is the lowercase hex SHA-256 of the raw 32-byte public key, so anyone holding the
public key can recompute it; nothing else identifies a key. Private keys are PEM PKCS#8
files that only their owner may read (mode 0600, created so that no other process can open
them in between), optionally encrypted with a passphrase taken from an environment variable
whose *name* is configured, so the secret never appears on a command line or in a config file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from bodycam.errors import KeyFileError
from bodycam.files import PUBLIC_MODE, write_file, write_secret
from bodycam.i18n import N_, Message

log = logging.getLogger(__name__)
_NOT_FOUND = N_("{file}: key file not found")


def keyid_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with its key id; ``verify`` never raises for a bad signature."""

    raw: bytes
    keyid: str = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise KeyFileError(Message(N_("an Ed25519 public key is 32 bytes, got {n}"), n=len(self.raw)))
        object.__setattr__(self, "keyid", keyid_of(self.raw))
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.raw))

    @classmethod
    def from_raw(cls, raw: bytes) -> PublicKey:
        return cls(bytes(raw))

    @classmethod
    def from_b64(cls, text: str) -> PublicKey:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(Message(N_("public key is not valid base64"))) from None
        return cls(raw)

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise KeyFileError(Message(N_("not a PEM public key: {error}"), error=exc)) from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(Message(N_("public key is not Ed25519; bodycam uses Ed25519 keys only")))
        return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def to_pem(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, sig: bytes, data: bytes) -> bool:
        # libsodium verifies about 1.8x faster than OpenSSL here, and verifying every entry of
        # a ledger is where the time goes; it is also the stricter of the two (it refuses
        # non-canonical and small-order encodings), so nothing OpenSSL refuses passes.
        if len(sig) != 64:
            return False
        try:
            crypto_sign_open(bytes(sig) + bytes(data), self.raw)
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True


class Signer:
    """Holds a private key in memory and signs; the key itself is never exposed or logged."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self._key = private_key
        self.public_key = PublicKey(
            private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @property
    def keyid(self) -> str:
        return self.public_key.keyid

    @property
    def public_key_raw(self) -> bytes:
        return self.public_key.raw

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def private_pem(self, passphrase: bytes | None = None) -> bytes:
        enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        return self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    def __repr__(self) -> str:
        return f"Signer(keyid={self.keyid[:16]}…)"


def _passphrase(passphrase_env: str | None) -> bytes | None:
    if not passphrase_env:
        return None
    value = os.environ.get(passphrase_env)
    if not value:
        raise KeyFileError(Message(N_("environment variable {var} (the key passphrase) is not set or empty; export it "
                                      "before running this command"), var=passphrase_env))
    return value.encode("utf-8")


def write_private_key(path: Path | str, signer: Signer, passphrase_env: str | None = None) -> None:
    """Write ``signer``'s key to a new file, mode 0600 from its creation, never over an existing one
    (:func:`bodycam.files.write_secret` with ``exclusive=True``: whole or not at all, fsynced)."""
    write_secret(path, signer.private_pem(_passphrase(passphrase_env)), exclusive=True)


def generate_key_file(path: Path | str, passphrase_env: str | None = None) -> Signer:
    signer = Signer.generate()
    write_private_key(path, signer, passphrase_env)
    log.info("generated key %s in %s", signer.keyid, path)
    return signer


def _read_private(path: Path) -> bytes:
    """Read a private key file, refusing it when group or others may access it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise KeyFileError(Message(_NOT_FOUND, file=path)) from None
    except OSError as exc:
        raise KeyFileError(Message(N_("{file}: cannot open key file: {error}"), file=path,
                                   error=exc.strerror)) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(Message(N_("{file}: not a regular file"), file=path))
        data = fh.read()
    if not _is_private_pem(data):
        raise KeyFileError(Message(N_("{file}: not a PEM private key (is it the .pub file?)"), file=path))
    if mode & 0o077:
        raise KeyFileError(Message(N_("{file}: private key is accessible by group or others (mode {mode:04o}); run "
                                      "`chmod 600 {file}`"), file=path, mode=stat.S_IMODE(mode)))
    return data


def _is_private_pem(data: bytes) -> bool:
    return b"PRIVATE KEY-----" in data


def load_signer(path: Path | str, passphrase_env: str | None = None) -> Signer:
    path = Path(path)
    data = _read_private(path)
    encrypted = b"ENCRYPTED PRIVATE KEY" in data
    if encrypted and not passphrase_env:
        raise KeyFileError(Message(N_("{file}: key is passphrase-protected; pass --passphrase-env NAME of the "
                                      "environment variable holding the passphrase"), file=path))
    password = _passphrase(passphrase_env) if encrypted else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        hint = (Message(N_("wrong passphrase or damaged file")) if encrypted
                else Message(N_("damaged or not a PKCS#8 key")))
        raise KeyFileError(Message(N_("{file}: cannot load private key ({hint}): {error}"), file=path, hint=hint,
                                   error=exc)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(Message(N_("{file}: key is not Ed25519; generate one with `bodycam keys generate`"),
                                   file=path))
    return Signer(key)


def load_public_key(path: Path | str, passphrase_env: str | None = None) -> PublicKey:
    """A public key from a public PEM file, or derived from a private key file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(Message(_NOT_FOUND, file=path)) from None
    except OSError as exc:
        raise KeyFileError(Message(N_("{file}: cannot read: {error}"), file=path, error=exc.strerror)) from None
    if _is_private_pem(data):
        return load_signer(path, passphrase_env).public_key
    return PublicKey.from_pem(data)


def write_public_key(path: Path | str, pub: PublicKey) -> None:
    """Public keys are meant to be shared: written 0644 so verifiers can read them (atomically)."""
    write_file(path, pub.to_pem(), mode=PUBLIC_MODE)
