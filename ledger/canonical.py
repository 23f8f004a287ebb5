"""Canonical JSON (RFC 8785, JCS) for everything that is hashed or signed.

A signature is over bytes, so two parties must turn the same body into the same bytes;
JCS fixes key order, spacing and escaping. Two further rules keep the bytes unambiguous:
no floats (their decimal form is lossy and their meaning in evidence is unclear) and no
integers outside the IEEE-754 safe range (JCS writes numbers as doubles; a nanosecond
timestamp since 1970 does not fit and is carried as a decimal string instead).

``rfc8785`` is the reference. For the documents this project signs (ASCII keys, safe
integers, no floats) Python's ``json`` with sorted keys and no spaces produces the same
bytes several times faster, which matters when a verifier checks 10,000 entries a second;
``canonical_json`` proves that the input is in that domain before taking the fast path and
the tests compare both paths on random documents.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from bodycam.errors import FormatError
from bodycam.formats import check_nesting

MAX_SAFE_INT = 2**53 - 1

_fast_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class _Unsafe(Exception):
    """Internal: the document holds something JCS cannot carry; ``_explain`` says where."""


def _scan(obj: Any) -> bool:
    """Raise _Unsafe for floats, unsafe ints and odd types; return True when the fast path is
    exact (every key ASCII, so code-point order equals JCS's UTF-16 order). Hot path: kept lean."""
    t = type(obj)
    if t is str or t is bool or obj is None:
        return True
    if t is int:
        if -MAX_SAFE_INT <= obj <= MAX_SAFE_INT:
            return True
        raise _Unsafe
    if t is dict:
        fast = True
        for key, value in obj.items():
            if type(key) is not str:
                raise _Unsafe
            if not key.isascii():
                fast = False
            tv = type(value)
            if tv is str or tv is bool or value is None:
                continue
            if not _scan(value):
                fast = False
        return fast
    if t is list or t is tuple:
        fast = True
        for value in obj:
            if not _scan(value):
                fast = False
        return fast
    if isinstance(obj, (str, int, dict, list, tuple)) and not isinstance(obj, float):
        # subclasses (str enums, IntEnum...): let the slow walk decide and the encoder handle them
        return _check(obj)
    raise _Unsafe


def _check(obj: Any, path: str = "$") -> bool:
    """Slow twin of ``_scan`` that names the offending path in its FormatError."""
    fast = True
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise FormatError(f"{path}: object keys must be strings, got {type(key).__name__}")
            if not key.isascii():
                fast = False
            if not _check(value, f"{path}.{key}"):
                fast = False
        return fast
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            if not _check(value, f"{path}[{i}]"):
                fast = False
        return fast
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return True
    if isinstance(obj, int):
        if not -MAX_SAFE_INT <= obj <= MAX_SAFE_INT:
            raise FormatError(
                f"{path}: integer {obj} is outside the JSON safe range (±2^53-1); "
                "carry it as a decimal string (e.g. *_ns timestamps)"
            )
        return True
    if isinstance(obj, float):
        raise FormatError(
            f"{path}: floats are not allowed in signed bodies; use integers "
            "(e.g. *_us, *_ns, millis) or a decimal string"
        )
    raise FormatError(f"{path}: {type(obj).__name__} cannot be encoded as JSON")


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 bytes of ``obj``; FormatError for floats, unsafe integers, odd types."""
    try:
        try:
            fast = _scan(obj)
        except _Unsafe:
            fast = _check(obj)  # raises the FormatError naming the path
        if fast:
            return _fast_dumps(obj).encode("utf-8")
        return rfc8785.dumps(obj)
    except UnicodeEncodeError:
        raise FormatError("string contains a lone surrogate; text must be valid Unicode") from None
    except rfc8785.CanonicalizationError as exc:
        raise FormatError(f"cannot canonicalise: {exc}") from None


def _reject_float(text: str) -> Any:
    raise FormatError(f"number {text} is not an integer; floats are not allowed in signed bodies")


def _reject_constant(text: str) -> Any:
    raise FormatError(f"{text} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise FormatError(f"duplicate key {dup!r}")
    return obj


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON refusing floats, NaN/Infinity and duplicate keys (all ambiguous in evidence), and
    documents nested deeper than ``bodycam.formats.MAX_NESTING`` (refused before parsing)."""
    try:
        check_nesting(data, what="JSON")
        return json.loads(
            data, parse_float=_reject_float, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except FormatError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"not valid JSON: {exc}") from None


def _safe_int(text: str) -> int:
    value = int(text)
    if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
        raise FormatError(f"integer {text} is outside the JSON safe range (±2^53-1)")
    return value


_strict_decoder = json.JSONDecoder(parse_float=_reject_float, parse_constant=_reject_constant, parse_int=_safe_int)


def parse_canonical(data: bytes) -> dict:
    """Parse a JSON object that must already be in canonical form, byte for byte.

    Accepting only the canonical form means one body has exactly one encoding, so a
    signature or hash cannot be made to cover two different-looking documents.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise FormatError("canonical JSON must be given as bytes")
    # Plain json.loads is enough here: a duplicate key, float, NaN or any other deviation
    # cannot survive the byte-for-byte comparison with the re-serialised form below.
    try:
        check_nesting(data, what="JSON")
        obj = _strict_decoder.decode(data.decode("utf-8"))
    except FormatError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise FormatError("canonical JSON document must be an object")
    if data.isascii():
        # ASCII keys, no floats and only safe integers (both refused while parsing): the fast
        # encoder's output is the JCS form (see module docstring).
        try:
            expected = _fast_dumps(obj).encode("utf-8")
        except UnicodeEncodeError:
            raise FormatError("string contains a lone surrogate; text must be valid Unicode") from None
    else:
        expected = canonical_json(obj)
    if expected != data:
        raise FormatError("JSON is not in RFC 8785 canonical form (key order, spacing or escaping differ)")
    return obj
