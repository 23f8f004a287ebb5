"""Canonical JSON: RFC 8785 bytes, no floats, one accepted encoding per document."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from bodycam.errors import FormatError
from ledger.canonical import canonical_json, parse_canonical

safe_ints = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
scalars = st.none() | st.booleans() | safe_ints | st.text()
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_matches_rfc8785_reference(doc) -> None:
    """The fast path must produce exactly what the rfc8785 package produces."""
    try:
        want = rfc8785.dumps(doc)
    except UnicodeEncodeError:  # lone surrogates cannot be UTF-8: we refuse them too
        with pytest.raises(FormatError):
            canonical_json(doc)
        return
    assert canonical_json(doc) == want


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), documents, max_size=5))
def test_parse_accepts_exactly_the_canonical_form(doc) -> None:
    try:
        data = canonical_json(doc)
    except FormatError:
        return
    assert parse_canonical(data) == doc
    loose = json.dumps(doc, indent=1).encode()
    if loose != data:
        with pytest.raises(FormatError):
            parse_canonical(loose)


def test_key_order_is_utf16_as_rfc8785_requires() -> None:
    # U+E000 sorts after U+1F600 by code point, before it by UTF-16 code unit (0xD83D).
    doc = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert canonical_json(doc) == rfc8785.dumps(doc)
    assert canonical_json(doc).index("\U0001f600".encode()) < canonical_json(doc).index("\ue000".encode())


@pytest.mark.parametrize("bad", [1.5, 0.0, float("nan"), {"a": [1, 2.0]}])
def test_floats_are_refused(bad) -> None:
    with pytest.raises(FormatError, match="float"):
        canonical_json(bad)


def test_unsafe_integers_are_refused_with_a_hint() -> None:
    with pytest.raises(FormatError, match="decimal string"):
        canonical_json({"start_ns": 1_764_492_000_123_456_789})
    assert canonical_json({"n": 2**53 - 1}) == b'{"n":9007199254740991}'


@pytest.mark.parametrize("data", [
    b'{"b":1,"a":2}',            # key order
    b'{"a": 1}',                 # spacing
    b'{"a":1}\n',                # trailing newline
    b'{"a":"\\u00e9"}',          # needless escape
    b'{"a":1,"a":1}',            # duplicate key
    b'{"a":1.0}',                # float
    b'{"a":1e2}',                # exponent
    b'{"a":NaN}',                # not JSON
    b'{"a":12345678901234567}',  # unsafe integer
    b'[1,2]',                    # not an object
    b'{"a":"\\ud800"}',          # lone surrogate
    b'\xff',                     # not UTF-8
])
def test_parse_refuses_non_canonical(data: bytes) -> None:
    with pytest.raises(FormatError):
        parse_canonical(data)


def test_parse_accepts_canonical_non_ascii() -> None:
    doc = {"note": "当事人要求停止录像", "z": "\u2028", "ctrl": "\x01\n"}
    data = canonical_json(doc)
    assert data == rfc8785.dumps(doc)
    assert parse_canonical(data) == doc
