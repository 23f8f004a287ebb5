"""The dock's send window as pure logic: bounded in-flight chunks, resume from the archive's
``missing`` bitmap, re-send of refused or lost chunks (issue 7: exactly once, resumable)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.window import SendWindow


def test_nothing_is_sent_before_the_archive_says_what_it_lacks():
    w = SendWindow(40, window=16)
    assert w.take(0.0) == [] and not w.complete
    w.on_missing(range(40))
    assert w.take(0.0) == list(range(16))
    assert w.take(0.0) == [] and w.in_flight == 16
    for i in range(4):
        assert w.on_stored(i)
    assert not w.on_stored(0), "a duplicate ack changes nothing"
    assert w.take(1.0) == [16, 17, 18, 19]


def test_resume_sends_only_what_is_missing():
    w = SendWindow(10)
    w.on_missing({3, 7})
    assert w.stored == 8
    assert w.take(0.0) == [3, 7]
    w.on_stored(3)
    assert not w.complete
    w.on_stored(7)
    assert w.complete


def test_empty_file_and_nothing_missing_complete_at_once():
    w = SendWindow(0)
    assert not w.complete
    w.on_missing([])
    assert w.complete and w.take(0.0) == []
    w = SendWindow(5)
    w.on_missing([])
    assert w.complete


def test_refused_and_late_chunks_are_sent_again():
    w = SendWindow(5, window=2)
    w.on_missing(range(5))
    assert w.take(0.0) == [0, 1]
    w.on_chunk_rejected(1)
    assert w.take(0.5) == [1]
    assert w.expire(10.0, timeout=5.0) == [0, 1]
    assert w.in_flight == 0
    assert w.take(10.0) == [0, 1]
    with pytest.raises(ValueError):
        w.on_stored(5)


def test_reconnect_waits_for_a_new_missing_list_that_overrides_beliefs():
    w = SendWindow(6, window=4)
    w.on_missing(range(6))
    assert w.take(0.0) == [0, 1, 2, 3]
    w.on_stored(0)
    w.restart()
    assert w.take(1.0) == []
    w.on_missing({1, 4, 5})  # the archive holds 0, 2 and 3: its answer replaces what the dock believed
    assert w.in_flight == 0 and w.stored == 3
    assert w.take(1.0) == [1, 4, 5]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 200), st.integers(1, 16), st.floats(0.0, 0.5), st.integers(0, 2**32 - 1))
def test_a_lossy_link_still_completes_within_the_window(chunks, window, loss, seed):
    rng = random.Random(seed)
    w = SendWindow(chunks, window)
    archive: set[int] = set()
    now = 0.0
    w.on_missing(range(chunks))
    sends = 0
    for _ in range(100 * (chunks + 1)):
        if w.complete:
            break
        now += 1.0
        for i in w.take(now):
            sends += 1
            assert w.in_flight <= window
            if rng.random() < loss:
                continue  # chunk or its ack lost
            archive.add(i)
            w.on_stored(i)
        w.expire(now, timeout=3.0)
        if rng.random() < 0.05:  # reconnect: init again, the archive answers from what it holds
            w.restart()
            w.on_missing(set(range(chunks)) - archive)
    assert w.complete and archive == set(range(chunks))
    assert sends >= chunks
