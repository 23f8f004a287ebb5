"""DSSE v1 envelopes: one canonical body, one or more Ed25519 signatures over its PAE.

DSSE signs the payload type together with the payload (pre-authentication encoding), so a
signature on a ``segment`` can never be replayed as some other kind of record. Several
parties may sign the same PAE: the device key, the officer, and a supervisor approving it
later (``countersign``). The envelope itself is stored and hashed in its canonical JSON form,
so an entry hash names exactly one byte string.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from bodycam.errors import FormatError, VerificationError
from bodycam.formats import check_nesting
from bodycam.i18n import N_, Message
from ledger.canonical import canonical_json, parse_canonical
from ledger.keys import PublicKey, Signer

TYPE_PREFIX = "application/vnd.bodycam."
TYPE_SUFFIX = "+json"
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\Z")
_TYPE_RE = re.compile(r"application/vnd\.bodycam\.([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\+json\Z")
_KEYID_RE = re.compile(r"[0-9a-f]{64}\Z")
_ENVELOPE_KEYS = frozenset({"payloadType", "payload", "signatures"})
_SIG_KEYS = frozenset({"keyid", "sig"})


def _envelope_text(env: Envelope, obj: dict) -> str:
    """RFC 8785 form of a validated envelope. Every value is base64, lowercase hex or matches the
    payloadType pattern, so none needs escaping and keys sort as written: plain formatting is
    the canonical form, several times faster than a JSON encoder."""
    sigs = ",".join('{"keyid":"%s","sig":"%s"}' % (s["keyid"], s["sig"]) for s in obj["signatures"])  # noqa: UP031
    return '{"payload":"%s","payloadType":"%s","signatures":[%s]}' % (obj["payload"], env.payload_type, sigs)  # noqa: UP031


def payload_type_for(kind: str) -> str:
    if not _KIND_RE.match(kind):
        raise FormatError(f"record kind {kind!r} is not a valid kind name (lowercase, dots, underscores)")
    return f"{TYPE_PREFIX}{kind}{TYPE_SUFFIX}"


def kind_of_type(payload_type: str) -> str:
    m = _TYPE_RE.match(payload_type)
    if not m:
        raise FormatError(f"payloadType {payload_type!r} is not application/vnd.bodycam.<kind>+json")
    return m.group(1)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def _b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{what} must be a base64 string")
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if binascii.b2a_base64(raw, newline=False) != text.encode("ascii"):
        raise FormatError(f"{what} is not in canonical base64 form")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope. ``signatures`` is a tuple of (keyid, raw 64-byte signature)."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]
    _bytes: bytes | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signatures", tuple((k, bytes(s)) for k, s in self.signatures))

    @property
    def kind(self) -> str:
        kind = self.__dict__.get("_kind")
        if kind is None:
            kind = kind_of_type(self.payload_type)
            object.__setattr__(self, "_kind", kind)
        return kind

    @property
    def keyids(self) -> list[str]:
        return [k for k, _ in self.signatures]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict:
        return {
            "payloadType": self.payload_type,
            "payload": _b64(self.payload),
            "signatures": [{"keyid": k, "sig": _b64(s)} for k, s in self.signatures],
        }

    def to_bytes(self) -> bytes:
        """The canonical JSON stored in the ledger; its SHA-256 is the entry hash."""
        if self._bytes is None:
            object.__setattr__(self, "_bytes", canonical_json(self.to_json()))
        return self._bytes  # type: ignore[return-value]

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse stored envelope bytes, refusing anything but the one canonical encoding."""
        data = bytes(data)
        check_nesting(data, what="envelope")
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormatError(f"envelope is not valid JSON: {exc}") from None
        env = cls.from_json(obj)
        # from_json has checked every value's type and that all of them are ASCII (base64, hex,
        # the payloadType pattern), so the fast encoder yields the RFC 8785 form here.
        if _envelope_text(env, obj).encode("ascii") != data:
            raise FormatError("envelope is not in RFC 8785 canonical form (key order, spacing or escaping)")
        object.__setattr__(env, "_bytes", data)
        return env

    @classmethod
    def from_json(cls, obj: Any) -> Envelope:
        if not isinstance(obj, dict) or set(obj) != _ENVELOPE_KEYS:
            raise FormatError("envelope must be an object with exactly payloadType, payload, signatures")
        payload_type = obj["payloadType"]
        if not isinstance(payload_type, str) or not payload_type.isascii():
            raise FormatError("payloadType must be an ASCII string")
        kind_of_type(payload_type)
        payload = _b64decode(obj["payload"], "payload")
        sigs = obj["signatures"]
        if not isinstance(sigs, list) or not sigs:
            raise FormatError("envelope must carry at least one signature")
        out: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        for i, s in enumerate(sigs):
            if not isinstance(s, dict) or set(s) != _SIG_KEYS:
                raise FormatError(f"signatures[{i}] must have exactly keyid and sig")
            keyid = s["keyid"]
            if not isinstance(keyid, str) or not _KEYID_RE.match(keyid):
                raise FormatError(f"signatures[{i}].keyid must be 64 lowercase hex digits")
            if keyid in seen:
                raise FormatError(f"signatures[{i}]: key {keyid[:16]}… signs twice")
            seen.add(keyid)
            sig = _b64decode(s["sig"], f"signatures[{i}].sig")
            if len(sig) != 64:
                raise FormatError(f"signatures[{i}].sig must be a 64-byte Ed25519 signature")
            out.append((keyid, sig))
        return cls(payload_type, payload, tuple(out))


def _body_dict(body: dict | BaseModel) -> dict:
    from ledger.records import make_body, validate_body

    if isinstance(body, BaseModel):
        return make_body(body)
    return make_body(validate_body(body))


def seal(body: dict | BaseModel, signers: Signer | Iterable[Signer]) -> Envelope:
    """Validate ``body`` against its kind's model, canonicalise it and sign it with every signer."""
    if isinstance(signers, Signer):
        signers = [signers]
    signers = list(signers)
    if not signers:
        raise FormatError("a record needs at least one signer")
    data = _body_dict(body)
    payload = canonical_json(data)
    payload_type = payload_type_for(data["kind"])
    message = pae(payload_type, payload)
    sigs = []
    seen = set()
    for signer in signers:
        if signer.keyid in seen:
            continue
        seen.add(signer.keyid)
        sigs.append((signer.keyid, signer.sign(message)))
    return Envelope(payload_type, payload, tuple(sigs))


def countersign(env: Envelope, signer: Signer) -> Envelope:
    """Add ``signer``'s signature over the same PAE (e.g. a supervisor approving an officer's record)."""
    if signer.keyid in env.keyids:
        return env
    return Envelope(env.payload_type, env.payload, env.signatures + ((signer.keyid, signer.sign(env.pae())),))


def verify_signatures(env: Envelope, keyring: Mapping[str, PublicKey], require_one: bool = True) -> list[str]:
    """Key ids whose signatures verified; VerificationError if a signature by a known key is bad
    (or, with ``require_one``, if no signature is by a key in ``keyring``)."""
    message = env.pae()
    good: list[str] = []
    for keyid, sig in env.signatures:
        pub = keyring.get(keyid)
        if pub is None:
            continue
        if not pub.verify(sig, message):
            raise VerificationError(Message(N_("signature by key {keyid}… does not verify: the record was altered or "
                                               "signed with another key"), keyid=keyid[:16]))
        good.append(keyid)
    if require_one and not good:
        raise VerificationError(Message(N_("no signature by a trusted key; enroll the signer's key first")))
    return good


def body(env: Envelope) -> dict:
    """The body, which must be canonical and of the kind the payloadType names."""
    data = parse_canonical(env.payload)
    if data.get("kind") != env.kind:
        raise FormatError(f"body kind {data.get('kind')!r} does not match payloadType {env.payload_type!r}")
    return data
