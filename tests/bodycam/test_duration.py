"""Durations for people (issue 12, item 4): a gap or an age in words, two units at most."""

from __future__ import annotations

import pytest

from bodycam.formats import duration


@pytest.mark.parametrize(("seconds", "words"), [
    (None, "-"), (0, "0 s"), (1.5, "1.5 s"), (59.94, "59.9 s"), (59.96, "1 min"), (60, "1 min"),
    (200, "3 min 20 s"), (3725, "1 h 2 min"), (3605, "1 h"), (3 * 86400 + 4 * 3600 + 50, "3 d 4 h"),
    (-200, "-3 min 20 s"),
])
def test_duration_in_words(seconds, words):
    assert duration(seconds) == words
