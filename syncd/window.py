"""Which chunks of one file a dock sends next: the sliding window, as pure logic.

Bounded memory is a requirement on a Pi (at most ``window`` chunks read and unacknowledged at
once), and resumability means the archive — not the dock's memory — decides what is missing:
after every (re)connect the dock sends ``init`` and the archive's ``missing`` bitmap replaces
whatever the dock believed. Kept free of I/O and clocks (``now`` is passed in) so every
interleaving of acks, losses and timeouts is tested directly.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from syncd.protocol import WINDOW_MAX


class SendWindow:
    def __init__(self, chunks: int, window: int = WINDOW_MAX):
        if not 1 <= window <= WINDOW_MAX:
            raise ValueError(f"window must be 1..{WINDOW_MAX}")
        if chunks < 0:
            raise ValueError("chunks must be ≥ 0")
        self.chunks = chunks
        self.window = window
        self._pending: list[int] = []
        self._queued: set[int] = set()
        self._in_flight: dict[int, float] = {}
        self._stored: set[int] = set()
        self.awaiting_missing = True
        """True until the archive answered ``init``: nothing is sent before we know what it lacks."""

    def _queue(self, index: int) -> None:
        if index not in self._queued and index not in self._stored:
            self._queued.add(index)
            heapq.heappush(self._pending, index)

    def _check(self, index: int) -> None:
        if not 0 <= index < self.chunks:
            raise ValueError(f"chunk {index} out of range 0..{self.chunks - 1}")

    def restart(self) -> None:
        """After a reconnect: ``init`` is sent again and its ``missing`` answer awaited."""
        self.awaiting_missing = True

    def on_missing(self, missing: Iterable[int]) -> None:
        """The archive's authoritative list: everything else is stored there."""
        indices = set(missing)
        for i in indices:
            self._check(i)
        self._stored = set(range(self.chunks)) - indices
        self._pending, self._queued, self._in_flight = [], set(), {}
        for i in sorted(indices):
            self._queue(i)
        self.awaiting_missing = False

    def take(self, now: float) -> list[int]:
        """Indices to send now, lowest first, filling the window; they count as in flight."""
        if self.awaiting_missing:
            return []
        out = []
        while self._pending and len(self._in_flight) < self.window:
            i = heapq.heappop(self._pending)
            self._queued.discard(i)
            if i in self._stored:
                continue
            self._in_flight[i] = now
            out.append(i)
        return out

    def on_stored(self, index: int) -> bool:
        """A ``stored`` ack; False if it was already known (duplicates are harmless)."""
        self._check(index)
        self._in_flight.pop(index, None)
        if index in self._stored:
            return False
        self._stored.add(index)
        return True

    def on_chunk_rejected(self, index: int) -> None:
        """The archive refused this chunk (altered in flight): send it again."""
        self._check(index)
        self._in_flight.pop(index, None)
        self._stored.discard(index)
        self._queue(index)

    def expire(self, now: float, timeout: float) -> list[int]:
        """Chunks unacknowledged for ``timeout``: queued again (the caller also backs off)."""
        late = sorted(i for i, t in self._in_flight.items() if now - t >= timeout)
        for i in late:
            del self._in_flight[i]
            self._queue(i)
        return late

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def stored(self) -> int:
        return len(self._stored)

    @property
    def complete(self) -> bool:
        """Every chunk is stored at the archive: time to send ``fin``."""
        return not self.awaiting_missing and len(self._stored) == self.chunks
