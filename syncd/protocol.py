"""The dock ⇄ archive transfer protocol over MQTT 5, defined once and imported by both ends.

Modelled on EMQX's file transfer, with one difference that matters for evidence: a broker's
PUBACK only proves one hop, so every step is acknowledged by the *archive* on the dock's ``ack``
topic, and ``committed`` is signed by the archive's log key so a forged reply cannot make a dock
believe footage is safe (A2 Art.16 custody).

Topics (``<dock>`` matches :data:`DOCK_PATTERN`, ids are 64 lowercase hex digits)::

    bodycam/v1/<dock>/xfer/<file_id>/init        JSON Init
    bodycam/v1/<dock>/xfer/<file_id>/seg/<index> raw chunk bytes, user property sha256=<hex>
                                                 (left out in a fresh transfer's in-order first pass)
    bodycam/v1/<dock>/xfer/<file_id>/fin         JSON Fin
    bodycam/v1/<dock>/xfer/<file_id>/abort       JSON Abort
    bodycam/v1/<dock>/rec/<entry_hash>           raw DSSE envelope bytes of a ledger record
    bodycam/v1/<dock>/ckpt/<checkpoint_id>       JSON CheckpointMessage: the dock's signed checkpoint
    bodycam/v1/<dock>/ack                        JSON Stored | Missing | Committed | Rejected |
                                                 CheckpointAck, correlation data = the file_id /
                                                 entry_hash / checkpoint_id (ASCII)

The conversation (all QoS 1; the dock keeps everything until ``committed``)::

    dock  init ──────────▶ archive opens/resumes the part file    ◀── missing {bitmap}
    dock  seg/i (≤ WINDOW_MAX unacknowledged) ─▶ written + flushed ◀── stored {i}
                                     wrong length / altered chunk ◀── rejected {code, index: i}
                          (in order: fed to the file's running SHA-256 only, checked at fin)
    dock  fin ───────────▶ size, sha256, signature, seq/prev, blob, ledger
                                                                  ◀── committed {signed proof}
                                                                  ◀── rejected {code}   (kept)
    dock  rec/<hash> ────▶ verified and appended in order          ◀── committed | rejected
    dock  abort ─────────▶ part file dropped
    dock  ckpt/<id> ─────▶ signed by the dock key, consistent with ◀── checkpoint {signed: accepted |
          (note + leaves)  the dock's previous checkpoint here        continue from N | inconsistent}

On every (re)connect the dock sends ``init`` again for unfinished files and sends only what
``missing`` lists. ``file_id = SHA-256("bodycam/v1 file_id\\0" ‖ blob sha256 ‖ SHA-256(envelope))``
(raw digests): a retry always addresses the same transfer. ``checkpoint_id`` = SHA-256 of the
checkpoint's signed-note text. The ``missing`` bitmap is base64 of
a little-endian bit array (bit ``i % 8`` of byte ``i // 8``). A ``committed`` ack carries a DSSE
envelope of kind ``ack.committed`` signed by the archive's log key (:func:`sign_commit`,
:func:`verify_commit`).

Everything that arrives from the network goes through a ``decode_*``/``parse_*`` function here,
which raises :class:`ProtocolError` (with a :class:`RejectCode`) and nothing else on bad input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bodycam.errors import FormatError, VerificationError
from bodycam.formats import check_nesting
from ledger.canonical import canonical_json
from ledger.checkpoint import Checkpoint, parse_note, verify_checkpoint
from ledger.envelope import Envelope, pae, payload_type_for
from ledger.envelope import body as envelope_body
from ledger.keys import PublicKey, Signer

PREFIX = "bodycam/v1"
VERSION = 1

DOCK_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
"""Same as ``agent.dock_id``: a dock's name is its topic segment and its broker identity."""

CHUNK_MIN = 256 << 10
CHUNK_MAX = 4 << 20
CHUNK_DEFAULT = 1 << 20
WINDOW_MAX = 16
"""At most this many unacknowledged chunks in flight: bounds memory on both ends."""

MAX_CHUNKS = 1 << 20
MAX_FILE_SIZE = 256 << 30
"""Largest file the protocol can describe (MAX_CHUNKS of the smallest chunk)."""

MAX_ENVELOPE_BYTES = 256 << 10
MAX_CONTROL_BYTES = 512 << 10
"""Largest JSON message (init, fin, abort, ack): holds a maximal envelope or missing bitmap."""

MAX_RECORD_BYTES = MAX_ENVELOPE_BYTES
MAX_TOPIC_CHARS = 256
MAX_REASON_CHARS = 1000

MAX_PAYLOAD_BYTES = CHUNK_MAX
"""Largest payload the broker lets through (its ``max_packet_size`` adds room for headers)."""

USER_PROPERTY_SHA256 = "sha256"
FILE_ID_DOMAIN = b"bodycam/v1 file_id\x00"

_DOCK_RE = re.compile(DOCK_PATTERN)
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_INDEX_RE = re.compile(r"0|[1-9][0-9]{0,6}")


class RejectCode(StrEnum):
    """Why a message or a transfer is refused; carried in ``rejected`` acks and ProtocolError."""

    bad_topic = "bad_topic"
    bad_message = "bad_message"
    too_large = "too_large"
    bad_index = "bad_index"
    bad_chunk = "bad_chunk"
    chunk_hash = "chunk_hash"
    file_id = "file_id"
    file_size = "file_size"
    file_hash = "file_hash"
    record_hash = "record_hash"
    incomplete = "incomplete"
    unknown_transfer = "unknown_transfer"
    bad_envelope = "bad_envelope"
    bad_signature = "bad_signature"
    unknown_key = "unknown_key"
    unknown_dock = "unknown_dock"
    dock_mismatch = "dock_mismatch"
    chain = "chain"
    dependency = "dependency"
    key_reused = "key_reused"  # the record enrolls a key this archive already knows as another identity
    not_owner = "not_owner"    # the record is about a recorder another dock owns
    quota = "quota"            # the dock's unfinished transfers hold its share of the archive's disk
    aborted = "aborted"
    internal = "internal"


RETRY_CODES = frozenset({"dependency", "incomplete", "unknown_transfer", "internal", "quota"})
"""Whole-item rejections that are not the item's fault: something it depends on (the record it
chains to, the archive's transfer state, room in the dock's quota of open transfers) is not
there yet. The dock sends ``init`` or the record again after a pause instead of reporting the
item as refused."""


class ProtocolError(FormatError):
    """A message breaks the transfer protocol. ``code`` is what a ``rejected`` ack carries."""

    def __init__(self, code: RejectCode, message: str):
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.reason = message


class TopicKind(StrEnum):
    init = "init"
    seg = "seg"
    fin = "fin"
    abort = "abort"
    rec = "rec"
    ckpt = "ckpt"
    ack = "ack"


class Subject(StrEnum):
    """What an ack is about: a file transfer (id = file_id), a record (id = entry_hash) or the
    dock's checkpoint (id = checkpoint_id)."""

    xfer = "xfer"
    rec = "rec"
    ckpt = "ckpt"


# ---------------------------------------------------------------------------------------------
# identifiers


def check_dock(dock: str) -> str:
    if not isinstance(dock, str) or not _DOCK_RE.fullmatch(dock):
        raise ProtocolError(RejectCode.bad_topic,
                            f"dock name {dock!r} must match {DOCK_PATTERN} (lowercase letters, digits, '-')")
    return dock


def check_hex64(value: Any, what: str, code: RejectCode = RejectCode.bad_message) -> str:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise ProtocolError(code, f"{what} must be 64 lowercase hex digits")
    return value


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def envelope_hash(envelope: bytes) -> str:
    """Hash naming a ledger record on the wire: SHA-256 of its exact envelope bytes."""
    return sha256_hex(envelope)


def file_id_for(blob_sha256: str, envelope: bytes) -> str:
    """A transfer's id, derived from content only, so a retry (or a restarted dock) always
    addresses the same part file and the archive can never make a second copy."""
    check_hex64(blob_sha256, "sha256")
    h = hashlib.sha256(FILE_ID_DOMAIN)
    h.update(bytes.fromhex(blob_sha256))
    h.update(bytes.fromhex(envelope_hash(envelope)))
    return h.hexdigest()


def chunk_count(size: int, chunk_size: int) -> int:
    return -(-size // chunk_size)


# ---------------------------------------------------------------------------------------------
# topics


@dataclass(frozen=True)
class Topic:
    dock: str
    kind: TopicKind
    file_id: str | None = None
    index: int | None = None
    entry_hash: str | None = None
    checkpoint_id: str | None = None

    def __str__(self) -> str:
        if self.kind is TopicKind.ack:
            return ack_topic(self.dock)
        if self.kind is TopicKind.rec:
            return rec_topic(self.dock, self.entry_hash or "")
        if self.kind is TopicKind.ckpt:
            return ckpt_topic(self.dock, self.checkpoint_id or "")
        if self.kind is TopicKind.seg:
            return seg_topic(self.dock, self.file_id or "", self.index if self.index is not None else -1)
        return f"{_xfer_prefix(self.dock, self.file_id or '')}/{self.kind.value}"


def _xfer_prefix(dock: str, file_id: str) -> str:
    check_dock(dock)
    check_hex64(file_id, "file_id", RejectCode.bad_topic)
    return f"{PREFIX}/{dock}/xfer/{file_id}"


def init_topic(dock: str, file_id: str) -> str:
    return f"{_xfer_prefix(dock, file_id)}/init"


def seg_topic(dock: str, file_id: str, index: int) -> str:
    _check_index(index, MAX_CHUNKS, RejectCode.bad_topic)
    return f"{_xfer_prefix(dock, file_id)}/seg/{index}"


def fin_topic(dock: str, file_id: str) -> str:
    return f"{_xfer_prefix(dock, file_id)}/fin"


def abort_topic(dock: str, file_id: str) -> str:
    return f"{_xfer_prefix(dock, file_id)}/abort"


def rec_topic(dock: str, entry_hash: str) -> str:
    check_dock(dock)
    check_hex64(entry_hash, "entry_hash", RejectCode.bad_topic)
    return f"{PREFIX}/{dock}/rec/{entry_hash}"


def ckpt_topic(dock: str, checkpoint_id: str) -> str:
    check_dock(dock)
    check_hex64(checkpoint_id, "checkpoint_id", RejectCode.bad_topic)
    return f"{PREFIX}/{dock}/ckpt/{checkpoint_id}"


def ack_topic(dock: str) -> str:
    return f"{PREFIX}/{check_dock(dock)}/ack"


def dock_prefix(dock: str) -> str:
    """Everything a dock may publish lives under this prefix (the broker ACL says so too)."""
    return f"{PREFIX}/{check_dock(dock)}/"


ARCHIVE_SUBSCRIPTIONS = (f"{PREFIX}/+/xfer/#", f"{PREFIX}/+/rec/+", f"{PREFIX}/+/ckpt/+")
"""What the archive subscribes to: every dock's transfers, records and checkpoints (not the acks)."""


def _is_int(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _check_index(index: Any, limit: int, code: RejectCode) -> int:
    if not _is_int(index, 0, limit - 1):
        raise ProtocolError(code, f"chunk index {index!r} out of range 0..{limit - 1}")
    return index


def parse_topic(topic: str) -> Topic:
    """Split a topic into its parts; anything not exactly one of the protocol's shapes is refused."""
    if not isinstance(topic, str) or len(topic) > MAX_TOPIC_CHARS:
        raise ProtocolError(RejectCode.bad_topic, "topic missing or too long")
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != PREFIX:
        raise ProtocolError(RejectCode.bad_topic, f"topic {topic!r} is not under {PREFIX}/<dock>/")
    dock = check_dock(parts[2])
    rest = parts[3:]
    if rest == ["ack"]:
        return Topic(dock, TopicKind.ack)
    if len(rest) == 2 and rest[0] == "rec":
        return Topic(dock, TopicKind.rec, entry_hash=check_hex64(rest[1], "entry_hash", RejectCode.bad_topic))
    if len(rest) == 2 and rest[0] == "ckpt":
        return Topic(dock, TopicKind.ckpt,
                     checkpoint_id=check_hex64(rest[1], "checkpoint_id", RejectCode.bad_topic))
    if len(rest) >= 3 and rest[0] == "xfer":
        file_id = check_hex64(rest[1], "file_id", RejectCode.bad_topic)
        tail = rest[2:]
        if len(tail) == 1 and tail[0] in ("init", "fin", "abort"):
            return Topic(dock, TopicKind(tail[0]), file_id=file_id)
        if len(tail) == 2 and tail[0] == "seg":
            if not _INDEX_RE.fullmatch(tail[1]):
                raise ProtocolError(RejectCode.bad_topic, f"chunk index {tail[1]!r} is not a decimal number")
            index = _check_index(int(tail[1]), MAX_CHUNKS, RejectCode.bad_topic)
            return Topic(dock, TopicKind.seg, file_id=file_id, index=index)
    raise ProtocolError(RejectCode.bad_topic, f"topic {topic!r} is not a bodycam/v1 transfer topic")


# ---------------------------------------------------------------------------------------------
# JSON helpers


def _dumps(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _loads(payload: bytes, what: str) -> dict:
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise ProtocolError(RejectCode.bad_message, f"{what}: payload must be bytes")
    if len(payload) > MAX_CONTROL_BYTES:
        raise ProtocolError(RejectCode.too_large, f"{what}: {len(payload)} bytes > {MAX_CONTROL_BYTES}")
    try:
        check_nesting(payload, what=what)
    except FormatError as exc:
        raise ProtocolError(RejectCode.bad_message, str(exc)) from None
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError(RejectCode.bad_message, f"{what}: not UTF-8 JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(RejectCode.bad_message, f"{what}: must be a JSON object")
    if obj.get("v") != VERSION or isinstance(obj.get("v"), bool):
        raise ProtocolError(RejectCode.bad_message, f"{what}: unsupported version {obj.get('v')!r}")
    return obj


def _keys(obj: dict, required: set[str], what: str) -> None:
    keys = set(obj)
    if keys != required | {"v"}:
        extra = sorted(keys - required - {"v"})
        missing = sorted(required - keys)
        raise ProtocolError(RejectCode.bad_message, f"{what}: missing keys {missing}, unknown keys {extra}")


def _int(obj: dict, key: str, what: str, lo: int, hi: int) -> int:
    value = obj[key]
    if not _is_int(value, lo, hi):
        raise ProtocolError(RejectCode.bad_message, f"{what}: {key} must be an integer in {lo}..{hi}")
    return value


def _str(obj: dict, key: str, what: str, limit: int) -> str:
    value = obj[key]
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(RejectCode.bad_message, f"{what}: {key} must be text of at most {limit} chars")
    return value


def _b64decode(text: Any, what: str, limit: int) -> bytes:
    if not isinstance(text, str) or len(text) > 4 * (limit // 3 + 1):
        raise ProtocolError(RejectCode.bad_message, f"{what}: must be base64 text of at most {limit} bytes")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ProtocolError(RejectCode.bad_message, f"{what}: not valid base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise ProtocolError(RejectCode.bad_message, f"{what}: non-canonical base64")
    return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------------
# dock → archive messages


@dataclass(frozen=True)
class Init:
    """Announces a file: the archive opens (or resumes) its part file and answers ``missing``."""

    size: int
    chunk_size: int
    sha256: str
    envelope: bytes = field(repr=False)

    def __post_init__(self) -> None:
        what = "init"
        if not _is_int(self.size, 0, MAX_FILE_SIZE):
            raise ProtocolError(RejectCode.file_size, f"{what}: size must be 0..{MAX_FILE_SIZE} bytes")
        if not _is_int(self.chunk_size, CHUNK_MIN, CHUNK_MAX):
            raise ProtocolError(RejectCode.bad_message, f"init: chunk_size must be {CHUNK_MIN}..{CHUNK_MAX}")
        check_hex64(self.sha256, "init: sha256")
        if not isinstance(self.envelope, bytes) or not 0 < len(self.envelope) <= MAX_ENVELOPE_BYTES:
            raise ProtocolError(RejectCode.bad_envelope,
                                f"{what}: envelope must be 1..{MAX_ENVELOPE_BYTES} bytes")
        if self.chunks > MAX_CHUNKS:
            raise ProtocolError(RejectCode.file_size, f"init: over {MAX_CHUNKS} chunks; use bigger chunks")

    @property
    def chunks(self) -> int:
        return chunk_count(self.size, self.chunk_size)

    @property
    def file_id(self) -> str:
        return file_id_for(self.sha256, self.envelope)

    def chunk_length(self, index: int) -> int:
        """Exact length chunk ``index`` must have (the last one may be short)."""
        _check_index(index, self.chunks, RejectCode.bad_index)
        return min(self.chunk_size, self.size - index * self.chunk_size)

    def to_json(self) -> bytes:
        return _dumps({"v": VERSION, "size": self.size, "chunk_size": self.chunk_size, "chunks": self.chunks,
                       "sha256": self.sha256, "envelope": _b64(self.envelope)})

    @classmethod
    def from_json(cls, payload: bytes) -> Init:
        obj = _loads(payload, "init")
        _keys(obj, {"size", "chunk_size", "chunks", "sha256", "envelope"}, "init")
        size = _int(obj, "size", "init", 0, MAX_FILE_SIZE)
        chunk_size = _int(obj, "chunk_size", "init", CHUNK_MIN, CHUNK_MAX)
        init = cls(size=size, chunk_size=chunk_size, sha256=obj["sha256"],
                   envelope=_b64decode(obj["envelope"], "init: envelope", MAX_ENVELOPE_BYTES))
        if _int(obj, "chunks", "init", 0, MAX_CHUNKS) != init.chunks:
            raise ProtocolError(RejectCode.bad_message, "init: chunks does not match size / chunk_size")
        return init


@dataclass(frozen=True)
class ChunkHeader:
    """What travels beside a chunk's bytes: its index (in the topic) and SHA-256 (user property).

    The SHA-256 may be left out (``None``) for a chunk sent in order on a fresh transfer: the
    archive feeds such chunks to its running hash of the whole file and checks that against the
    announced SHA-256 at ``fin`` (each byte hashed once on each side). A chunk the archive gets
    out of order without one is refused (``bad_chunk``, with its index) and sent again with it."""

    index: int
    sha256: str | None

    @classmethod
    def for_data(cls, index: int, data: bytes) -> ChunkHeader:
        return cls(_check_index(index, MAX_CHUNKS, RejectCode.bad_index), sha256_hex(data))

    @classmethod
    def in_order(cls, index: int) -> ChunkHeader:
        """The header of a chunk sent in order on a fresh transfer: no SHA-256 of its own."""
        return cls(_check_index(index, MAX_CHUNKS, RejectCode.bad_index), None)

    def user_properties(self) -> list[tuple[str, str]]:
        return [] if self.sha256 is None else [(USER_PROPERTY_SHA256, self.sha256)]

    @classmethod
    def from_user_properties(cls, index: int, props: Sequence[tuple[str, str]] | None) -> ChunkHeader:
        values = [v for k, v in (props or []) if k == USER_PROPERTY_SHA256]
        if len(values) > 1:
            raise ProtocolError(RejectCode.bad_chunk, "chunk has more than one 'sha256' user property")
        return cls(_check_index(index, MAX_CHUNKS, RejectCode.bad_index),
                   check_hex64(values[0], "chunk sha256", RejectCode.bad_chunk) if values else None)


def verify_chunk(init: Init, header: ChunkHeader, data: bytes, *, check_hash: bool = True) -> None:
    """Refuse a chunk that is out of range, of the wrong length or altered in flight.

    ``check_hash=False`` is for a receiver that feeds this chunk's bytes to a running hash of
    the whole file and checks that against ``init.sha256`` before committing: hashing the bytes
    a second time here would buy only a finer-grained retry (one chunk instead of the file)."""
    expected = init.chunk_length(header.index)
    if len(data) != expected:
        raise ProtocolError(RejectCode.bad_chunk,
                            f"chunk {header.index} has {len(data)} bytes, expected {expected}")
    if not check_hash:
        return
    if header.sha256 is None:
        raise ProtocolError(RejectCode.bad_chunk, f"chunk {header.index} came out of order without its "
                                                  f"'sha256' user property; send it again with one")
    if sha256_hex(data) != header.sha256:
        raise ProtocolError(RejectCode.chunk_hash, f"chunk {header.index} does not match its sha256")


@dataclass(frozen=True)
class Fin:
    """The dock believes every chunk is stored: the archive verifies the whole and commits."""

    size: int
    sha256: str

    def __post_init__(self) -> None:
        if not _is_int(self.size, 0, MAX_FILE_SIZE):
            raise ProtocolError(RejectCode.bad_message, "fin: size out of range")
        check_hex64(self.sha256, "fin: sha256")

    def to_json(self) -> bytes:
        return _dumps({"v": VERSION, "size": self.size, "sha256": self.sha256})

    @classmethod
    def from_json(cls, payload: bytes) -> Fin:
        obj = _loads(payload, "fin")
        _keys(obj, {"size", "sha256"}, "fin")
        return cls(size=_int(obj, "size", "fin", 0, MAX_FILE_SIZE), sha256=obj["sha256"])


@dataclass(frozen=True)
class Abort:
    """The dock gives up on a transfer (e.g. its copy became unreadable); the archive drops the part."""

    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or len(self.reason) > MAX_REASON_CHARS:
            raise ProtocolError(RejectCode.bad_message, f"abort: reason longer than {MAX_REASON_CHARS} chars")

    def to_json(self) -> bytes:
        return _dumps({"v": VERSION, "reason": self.reason})

    @classmethod
    def from_json(cls, payload: bytes) -> Abort:
        obj = _loads(payload, "abort")
        _keys(obj, {"reason"}, "abort")
        return cls(reason=_str(obj, "reason", "abort", MAX_REASON_CHARS))


@dataclass(frozen=True)
class Chunk:
    header: ChunkHeader
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Record:
    """A ledger record shipped on ``rec/<entry_hash>``; the hash is checked against the bytes."""

    envelope: bytes = field(repr=False)

    @property
    def entry_hash(self) -> str:
        return envelope_hash(self.envelope)


MAX_CHECKPOINT_LEAVES = 4096
"""Dock ledger leaves one ``ckpt`` message carries at most (64 bytes each: entry hash, leaf hash);
more travel in further messages, from where the archive's ``continue`` says."""
MAX_TREE_SIZE = 1 << 48


def checkpoint_id(note: str) -> str:
    """A checkpoint's name on the wire: SHA-256 of its signed-note text."""
    return sha256_hex(note.encode("utf-8"))


def _note_checkpoint(note: Any, what: str) -> Checkpoint:
    if not isinstance(note, str) or not 0 < len(note) <= MAX_CHECKPOINT_CHARS:
        raise ProtocolError(RejectCode.bad_message, f"{what}: note must be signed-note text of at most "
                                                    f"{MAX_CHECKPOINT_CHARS} characters")
    try:
        text, _ = parse_note(note)
        return Checkpoint.from_text(text)
    except FormatError as exc:
        raise ProtocolError(RejectCode.bad_message, f"{what}: not a signed checkpoint: {exc}") from None


@dataclass(frozen=True)
class CheckpointMessage:
    """The dock's latest signed checkpoint of its own ledger (a C2SP note by the dock key, origin
    ``bodycam/<dock>``, see :func:`ledger.checkpoint.dock_origin`) and the dock ledger's leaves from
    ``start``: each entry's hash and RFC 9162 leaf hash. The archive extends its copy of the dock's
    tree with them up to the checkpoint's size; the root they give must be the signed one, which
    makes the leaves a consistency proof from the previous checkpoint it holds, and tells it every
    entry the checkpoint covers. ``complete``: the dock has delivered everything it holds (the end
    of a sync pass with nothing left to send), so a covered entry that has not arrived never will."""

    note: str = field(repr=False)
    start: int
    leaves: tuple[tuple[str, bytes], ...] = field(repr=False)
    complete: bool = False

    def __post_init__(self) -> None:
        what = "ckpt"
        size = _note_checkpoint(self.note, what).size
        if not _is_int(self.start, 0, MAX_TREE_SIZE):
            raise ProtocolError(RejectCode.bad_message, f"{what}: start out of range")
        if not isinstance(self.complete, bool):
            raise ProtocolError(RejectCode.bad_message, f"{what}: complete must be true or false")
        if not isinstance(self.leaves, tuple) or len(self.leaves) > MAX_CHECKPOINT_LEAVES:
            raise ProtocolError(RejectCode.too_large, f"{what}: at most {MAX_CHECKPOINT_LEAVES} leaves")
        for pair in self.leaves:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], bytes) and len(pair[1]) == 32):
                raise ProtocolError(RejectCode.bad_message, f"{what}: a leaf is an entry hash and a 32-byte hash")
            check_hex64(pair[0], f"{what}: entry hash")
        if self.leaves and self.start + len(self.leaves) > size:
            raise ProtocolError(RejectCode.bad_message, f"{what}: leaves {self.start}..{self.start + len(self.leaves)}"
                                                        f" lie beyond the checkpoint's size {size}")

    @property
    def id(self) -> str:
        return checkpoint_id(self.note)

    @property
    def checkpoint(self) -> Checkpoint:
        return _note_checkpoint(self.note, "ckpt")

    def to_json(self) -> bytes:
        raw = b"".join(bytes.fromhex(h) + leaf for h, leaf in self.leaves)
        return _dumps({"v": VERSION, "note": self.note, "start": self.start, "leaves": _b64(raw),
                       "complete": self.complete})

    @classmethod
    def from_json(cls, payload: bytes) -> CheckpointMessage:
        what = "ckpt"
        obj = _loads(payload, what)
        _keys(obj, {"note", "start", "leaves", "complete"}, what)
        raw = _b64decode(obj["leaves"], f"{what}: leaves", MAX_CHECKPOINT_LEAVES * 64)
        if len(raw) % 64:
            raise ProtocolError(RejectCode.bad_message, f"{what}: leaves must be 64-byte pairs")
        leaves = tuple((raw[i:i + 32].hex(), raw[i + 32:i + 64]) for i in range(0, len(raw), 64))
        return cls(note=obj["note"], start=_int(obj, "start", what, 0, MAX_TREE_SIZE), leaves=leaves,
                   complete=obj["complete"])


@dataclass(frozen=True)
class Incoming:
    """A validated message from a dock, as the archive's receiver sees it."""

    topic: Topic
    body: Init | Chunk | Fin | Abort | Record | CheckpointMessage


def decode_dock_message(topic: str, payload: bytes,
                        user_properties: Sequence[tuple[str, str]] | None = None) -> Incoming:
    """Validate one message a dock published. Raises ProtocolError and nothing else."""
    t = parse_topic(topic)
    if not isinstance(payload, bytes | bytearray):
        raise ProtocolError(RejectCode.bad_message, "payload must be bytes")
    payload = bytes(payload)
    body: Init | Chunk | Fin | Abort | Record | CheckpointMessage
    if t.kind is TopicKind.ack:
        raise ProtocolError(RejectCode.bad_topic, "docks never publish acks")
    if t.kind is TopicKind.seg:
        if len(payload) > CHUNK_MAX:
            raise ProtocolError(RejectCode.too_large, f"chunk of {len(payload)} bytes > {CHUNK_MAX}")
        assert t.index is not None
        body = Chunk(ChunkHeader.from_user_properties(t.index, user_properties), payload)
    elif t.kind is TopicKind.rec:
        if not 0 < len(payload) <= MAX_RECORD_BYTES:
            raise ProtocolError(RejectCode.too_large, f"record must be 1..{MAX_RECORD_BYTES} bytes")
        body = Record(payload)
        if body.entry_hash != t.entry_hash:
            raise ProtocolError(RejectCode.record_hash, "record bytes do not match the topic's entry hash")
    elif t.kind is TopicKind.init:
        body = Init.from_json(payload)
        if body.file_id != t.file_id:
            raise ProtocolError(RejectCode.file_id,
                                "file_id in the topic is not derived from this sha256 and envelope")
    elif t.kind is TopicKind.fin:
        body = Fin.from_json(payload)
    elif t.kind is TopicKind.ckpt:
        body = CheckpointMessage.from_json(payload)
        if body.id != t.checkpoint_id:
            raise ProtocolError(RejectCode.record_hash, "checkpoint note does not match the topic's checkpoint id")
    else:
        body = Abort.from_json(payload)
    return Incoming(t, body)


# ---------------------------------------------------------------------------------------------
# missing-chunk bitmap


def encode_bitmap(indices: Iterable[int], chunks: int) -> str:
    """Base64 of a little-endian bit array: bit ``i % 8`` of byte ``i // 8`` set ⇔ chunk ``i``
    is listed. ``ceil(chunks / 8)`` bytes; unused high bits of the last byte are zero."""
    if not 0 <= chunks <= MAX_CHUNKS:
        raise ProtocolError(RejectCode.bad_message, "bitmap: chunk count out of range")
    bits = bytearray(-(-chunks // 8))
    for i in indices:
        _check_index(i, chunks, RejectCode.bad_index)
        bits[i >> 3] |= 1 << (i & 7)
    return _b64(bytes(bits))


def decode_bitmap(text: str, chunks: int) -> frozenset[int]:
    if not 0 <= chunks <= MAX_CHUNKS:
        raise ProtocolError(RejectCode.bad_message, "bitmap: chunk count out of range")
    nbytes = -(-chunks // 8)
    data = _b64decode(text, "bitmap", nbytes)
    if len(data) != nbytes:
        raise ProtocolError(RejectCode.bad_message, f"bitmap: {len(data)} bytes for {chunks} chunks")
    if chunks % 8 and data[-1] >> (chunks % 8):
        raise ProtocolError(RejectCode.bad_message, "bitmap: bits set beyond the last chunk")
    return frozenset(i * 8 + b for i, byte in enumerate(data) if byte for b in range(8) if byte >> b & 1)


# ---------------------------------------------------------------------------------------------
# archive → dock acks


class AckKind(StrEnum):
    stored = "stored"
    missing = "missing"
    committed = "committed"
    rejected = "rejected"
    checkpoint = "checkpoint"


@dataclass(frozen=True)
class Stored:
    """Chunk ``index`` is written and flushed to the archive's part file."""

    subject: Subject
    id: str
    index: int


@dataclass(frozen=True)
class Missing:
    """Answer to ``init``: the chunks still to send (empty: send ``fin``)."""

    subject: Subject
    id: str
    chunks: int
    missing: frozenset[int]


@dataclass(frozen=True)
class Committed:
    """Blob or record is in the archive ledger. ``envelope`` is a DSSE envelope of kind
    ``ack.committed`` signed by the archive's log key: make it with :func:`sign_commit`, trust it
    only after :func:`verify_commit`."""

    subject: Subject
    id: str
    envelope: bytes = field(repr=False)


@dataclass(frozen=True)
class Rejected:
    """With ``index``: that one chunk was refused (wrong length, altered in flight); the dock
    sends it again. Without: the whole item is refused until the cause is fixed (unknown key,
    broken chain...); the dock keeps it, reports it, and never deletes it."""

    subject: Subject
    id: str
    code: RejectCode
    reason: str
    index: int | None = None

    @property
    def retryable(self) -> bool:
        return self.index is not None


@dataclass(frozen=True)
class CheckpointAck:
    """The archive's answer to a ``ckpt`` message: a DSSE envelope of kind ``ack.checkpoint``
    signed by the archive's log key (:func:`sign_checkpoint_verdict`); trust it only after
    :func:`verify_checkpoint_ack`."""

    subject: Subject
    id: str
    envelope: bytes = field(repr=False)


Ack = Stored | Missing | Committed | Rejected | CheckpointAck


def encode_ack(ack: Ack) -> tuple[bytes, bytes]:
    """Return (payload, correlation data) for publishing on the dock's ack topic."""
    check_hex64(ack.id, "ack id")
    base: dict[str, Any] = {"v": VERSION, "subject": Subject(ack.subject).value, "id": ack.id}
    if isinstance(ack, Stored):
        index = _check_index(ack.index, MAX_CHUNKS, RejectCode.bad_index)
        base |= {"kind": AckKind.stored.value, "index": index}
    elif isinstance(ack, Missing):
        base |= {"kind": AckKind.missing.value, "chunks": ack.chunks,
                 "bitmap": encode_bitmap(ack.missing, ack.chunks)}
    elif isinstance(ack, Committed | CheckpointAck):
        kind = AckKind.committed if isinstance(ack, Committed) else AckKind.checkpoint
        if not 0 < len(ack.envelope) <= MAX_ENVELOPE_BYTES:
            raise ProtocolError(RejectCode.bad_envelope, f"{kind.value}: envelope size out of range")
        base |= {"kind": kind.value, "envelope": _b64(ack.envelope)}
    elif isinstance(ack, Rejected):
        base |= {"kind": AckKind.rejected.value, "code": RejectCode(ack.code).value,
                 "reason": ack.reason[:MAX_REASON_CHARS]}
        if ack.index is not None:
            base["index"] = _check_index(ack.index, MAX_CHUNKS, RejectCode.bad_index)
    else:
        raise TypeError(f"not an ack: {ack!r}")
    return _dumps(base), ack.id.encode("ascii")


def decode_ack(payload: bytes, correlation: bytes | None) -> Ack:
    """Validate an ack from the archive. The correlation data must name the same id."""
    obj = _loads(payload, "ack")
    for key in ("kind", "subject", "id"):
        if key not in obj:
            raise ProtocolError(RejectCode.bad_message, f"ack: missing key {key!r}")
    try:
        kind = AckKind(obj["kind"])
        subject = Subject(obj["subject"])
    except (ValueError, TypeError):
        raise ProtocolError(RejectCode.bad_message, "ack: unknown kind or subject") from None
    ack_id = check_hex64(obj["id"], "ack: id")
    if correlation is None or bytes(correlation) != ack_id.encode("ascii"):
        raise ProtocolError(RejectCode.bad_message, "ack: correlation data does not match its id")
    common = {"subject", "id", "kind"}
    what = f"ack {kind.value}"
    if kind is AckKind.stored:
        _keys(obj, common | {"index"}, what)
        return Stored(subject, ack_id, _int(obj, "index", what, 0, MAX_CHUNKS - 1))
    if kind is AckKind.missing:
        _keys(obj, common | {"chunks", "bitmap"}, what)
        chunks = _int(obj, "chunks", what, 0, MAX_CHUNKS)
        return Missing(subject, ack_id, chunks, decode_bitmap(obj["bitmap"], chunks))
    if kind in (AckKind.committed, AckKind.checkpoint):
        _keys(obj, common | {"envelope"}, what)
        envelope = _b64decode(obj["envelope"], f"{what}: envelope", MAX_ENVELOPE_BYTES)
        if not envelope:
            raise ProtocolError(RejectCode.bad_envelope, f"{what}: empty envelope")
        return (Committed if kind is AckKind.committed else CheckpointAck)(subject, ack_id, envelope)
    has_index = "index" in obj
    _keys(obj, common | {"code", "reason"} | ({"index"} if has_index else set()), what)
    try:
        code = RejectCode(obj["code"])
    except (ValueError, TypeError):
        code = RejectCode.internal
    index = _int(obj, "index", what, 0, MAX_CHUNKS - 1) if has_index else None
    return Rejected(subject, ack_id, code, _str(obj, "reason", what, MAX_REASON_CHARS), index)


# ---------------------------------------------------------------------------------------------
# the signed ``committed`` proof

COMMIT_KIND = "ack.committed"
MAX_CHECKPOINT_CHARS = 8192


@dataclass(frozen=True)
class CommitProof:
    """What the archive vouches for in a ``committed`` ack (the body of its DSSE envelope).

    ``entry_hash`` is the archive ledger entry (for a file: the segment envelope's hash),
    ``ledger_index`` its 0-based position, ``checkpoint`` the archive's checkpoint (C2SP signed
    note by the same log key) whose size covers that index, so the dock can later demand an
    inclusion proof. ``committed_ns`` is a decimal string in the signed body (beyond JSON's
    safe-integer range, as in every ledger record).
    """

    dock: str
    subject: Subject
    id: str
    entry_hash: str
    ledger_index: int
    checkpoint: str
    committed_ns: int

    def __post_init__(self) -> None:
        check_dock(self.dock)
        Subject(self.subject)
        check_hex64(self.id, "commit: id")
        check_hex64(self.entry_hash, "commit: entry_hash")
        for name in ("ledger_index", "committed_ns"):
            v = getattr(self, name)
            if not _is_int(v, 0, (1 << 63) - 1):
                raise ProtocolError(RejectCode.bad_message, f"commit: {name} must be a non-negative integer")
        if not isinstance(self.checkpoint, str) or not 0 < len(self.checkpoint) <= MAX_CHECKPOINT_CHARS:
            raise ProtocolError(RejectCode.bad_message, "commit: checkpoint must be signed-note text")

    def to_body(self) -> dict:
        return {"v": VERSION, "kind": COMMIT_KIND, "dock": self.dock, "subject": Subject(self.subject).value,
                "id": self.id, "entry_hash": self.entry_hash, "ledger_index": self.ledger_index,
                "checkpoint": self.checkpoint, "committed_ns": str(self.committed_ns)}


def sign_commit(proof: CommitProof, log_key: Signer) -> bytes:
    """The envelope bytes of a ``committed`` ack, signed by the archive's log key. Not a ledger
    record (the ledger entry is the item itself); DSSE's typed PAE keeps this signature from
    ever being replayed as one."""
    payload = canonical_json(proof.to_body())
    ptype = payload_type_for(COMMIT_KIND)
    return Envelope(ptype, payload, ((log_key.keyid, log_key.sign(pae(ptype, payload))),)).to_bytes()


def verify_commit(envelope: bytes, archive_key: PublicKey, *, dock: str, subject: Subject, id: str,
                  entry_hash: str | None = None) -> CommitProof:
    """Check a ``committed`` envelope before marking anything committed on the dock.

    VerificationError if it is not signed by ``archive_key`` or vouches for another dock, item
    or entry: a forged or replayed reply must never make a dock believe footage is safe.
    """
    try:
        env = Envelope.from_bytes(envelope)
        if env.kind != COMMIT_KIND:
            raise VerificationError(f"committed ack is a {env.kind!r} envelope, not {COMMIT_KIND!r}")
        keyids = [k for k, _ in env.signatures]
        if archive_key.keyid not in keyids:
            raise VerificationError("committed ack is not signed by the archive's log key "
                                    "(check syncd.archive_pubkey)")
        sig = dict(env.signatures)[archive_key.keyid]
        if not archive_key.verify(sig, env.pae()):
            raise VerificationError("committed ack signature does not verify: forged or altered reply")
        data = envelope_body(env)
    except (VerificationError, ProtocolError):
        raise
    except FormatError as exc:
        raise ProtocolError(RejectCode.bad_envelope, f"committed ack: {exc}") from None
    expected = set(CommitProof.__dataclass_fields__) | {"v", "kind"}
    if set(data) != expected or data.get("v") != VERSION:
        raise ProtocolError(RejectCode.bad_message, "committed ack body has unexpected fields or version")
    ns = data["committed_ns"]
    if not isinstance(ns, str) or not _INDEX_RE.fullmatch(ns) and not re.fullmatch(r"[1-9][0-9]{0,18}", ns):
        raise ProtocolError(RejectCode.bad_message, "committed ack: committed_ns must be a decimal string")
    try:
        proof = CommitProof(dock=data["dock"], subject=Subject(data["subject"]), id=data["id"],
                            entry_hash=data["entry_hash"], ledger_index=data["ledger_index"],
                            checkpoint=data["checkpoint"], committed_ns=int(ns))
    except (ValueError, TypeError):
        raise ProtocolError(RejectCode.bad_message, "committed ack body is malformed") from None
    if proof.dock != dock or proof.subject != subject or proof.id != id:
        raise VerificationError(f"committed ack vouches for {proof.dock}/{proof.subject}/{proof.id[:16]}…, "
                                f"not for {dock}/{subject}/{id[:16]}…")
    if entry_hash is not None and proof.entry_hash != entry_hash:
        raise VerificationError("committed ack names another ledger entry than the one sent")
    try:
        checkpoint = verify_checkpoint(proof.checkpoint, archive_key)
    except FormatError as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(RejectCode.bad_message, f"committed ack checkpoint: {exc}") from None
    if checkpoint.size <= proof.ledger_index:
        raise VerificationError(f"committed ack checkpoint (size {checkpoint.size}) does not cover "
                                f"ledger index {proof.ledger_index}")
    return proof


# ---------------------------------------------------------------------------------------------
# the signed ``checkpoint`` verdict

CHECKPOINT_ACK_KIND = "ack.checkpoint"
MAX_MISSING_LISTED = 20


class CheckpointStatus(StrEnum):
    accepted = "accepted"          # consistent with the dock's previous checkpoint here; now the acknowledged one
    more = "continue"              # send the dock ledger's leaves from ``next`` on
    inconsistent = "inconsistent"  # not an extension of the acknowledged checkpoint: the ledger shrank or forked


@dataclass(frozen=True)
class CheckpointVerdict:
    """What the archive vouches for about a dock's checkpoint (the body of its ``ack.checkpoint``).

    ``acknowledged`` is the dock checkpoint the archive holds as consistent ("" before any),
    ``next`` the first dock ledger leaf the archive does not hold, ``missing`` how many entries
    ``acknowledged`` covers that have not arrived (the dock's self-signed root excepted: it is
    never copied), ``missing_entries`` the first of their entry hashes."""

    dock: str
    id: str
    status: CheckpointStatus
    next: int
    acknowledged: str
    missing: int
    missing_entries: tuple[str, ...]
    reason: str
    at_ns: int

    def __post_init__(self) -> None:
        check_dock(self.dock)
        check_hex64(self.id, "checkpoint verdict: id")
        CheckpointStatus(self.status)
        for name in ("next", "missing", "at_ns"):
            if not _is_int(getattr(self, name), 0, (1 << 63) - 1):
                raise ProtocolError(RejectCode.bad_message, f"checkpoint verdict: {name} must be a non-negative "
                                                            "integer")
        if not isinstance(self.acknowledged, str) or len(self.acknowledged) > MAX_CHECKPOINT_CHARS:
            raise ProtocolError(RejectCode.bad_message, "checkpoint verdict: acknowledged must be note text")
        if (not isinstance(self.missing_entries, tuple) or len(self.missing_entries) > MAX_MISSING_LISTED
                or not all(isinstance(h, str) and _HEX64_RE.fullmatch(h) for h in self.missing_entries)):
            raise ProtocolError(RejectCode.bad_message, "checkpoint verdict: missing_entries must be entry hashes")
        if not isinstance(self.reason, str) or len(self.reason) > MAX_REASON_CHARS:
            raise ProtocolError(RejectCode.bad_message, "checkpoint verdict: reason too long")

    def to_body(self) -> dict:
        return {"v": VERSION, "kind": CHECKPOINT_ACK_KIND, "dock": self.dock, "id": self.id,
                "status": CheckpointStatus(self.status).value, "next": self.next, "acknowledged": self.acknowledged,
                "missing": self.missing, "missing_entries": list(self.missing_entries), "reason": self.reason,
                "at_ns": str(self.at_ns)}


def sign_checkpoint_verdict(verdict: CheckpointVerdict, log_key: Signer) -> bytes:
    """The envelope of a ``checkpoint`` ack, signed by the archive's log key (never a ledger record)."""
    payload = canonical_json(verdict.to_body())
    ptype = payload_type_for(CHECKPOINT_ACK_KIND)
    return Envelope(ptype, payload, ((log_key.keyid, log_key.sign(pae(ptype, payload))),)).to_bytes()


def verify_checkpoint_ack(envelope: bytes, archive_key: PublicKey, *, dock: str, id: str) -> CheckpointVerdict:
    """Check a ``checkpoint`` ack before the dock believes it: VerificationError if it is not signed
    by ``archive_key`` or speaks of another dock or checkpoint."""
    try:
        env = Envelope.from_bytes(envelope)
        if env.kind != CHECKPOINT_ACK_KIND:
            raise VerificationError(f"checkpoint ack is a {env.kind!r} envelope, not {CHECKPOINT_ACK_KIND!r}")
        sig = dict(env.signatures).get(archive_key.keyid)
        if sig is None:
            raise VerificationError("checkpoint ack is not signed by the archive's log key "
                                    "(check syncd.archive_pubkey)")
        if not archive_key.verify(sig, env.pae()):
            raise VerificationError("checkpoint ack signature does not verify: forged or altered reply")
        data = envelope_body(env)
    except (VerificationError, ProtocolError):
        raise
    except FormatError as exc:
        raise ProtocolError(RejectCode.bad_envelope, f"checkpoint ack: {exc}") from None
    expected = set(CheckpointVerdict.__dataclass_fields__) | {"v", "kind"}
    if set(data) != expected or data.get("v") != VERSION:
        raise ProtocolError(RejectCode.bad_message, "checkpoint ack body has unexpected fields or version")
    ns = data["at_ns"]
    if not isinstance(ns, str) or not re.fullmatch(r"0|[1-9][0-9]{0,18}", ns):
        raise ProtocolError(RejectCode.bad_message, "checkpoint ack: at_ns must be a decimal string")
    if not isinstance(data["missing_entries"], list):
        raise ProtocolError(RejectCode.bad_message, "checkpoint ack: missing_entries must be a list")
    try:
        verdict = CheckpointVerdict(
            dock=data["dock"], id=data["id"], status=CheckpointStatus(data["status"]), next=data["next"],
            acknowledged=data["acknowledged"], missing=data["missing"], missing_entries=tuple(data["missing_entries"]),
            reason=data["reason"], at_ns=int(ns))
    except (ValueError, TypeError):
        raise ProtocolError(RejectCode.bad_message, "checkpoint ack body is malformed") from None
    if verdict.dock != dock or verdict.id != id:
        raise VerificationError(f"checkpoint ack speaks of {verdict.dock}/{verdict.id[:16]}…, not of "
                                f"{dock}/{id[:16]}…")
    return verdict
