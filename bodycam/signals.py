"""One way for every daemon to stop: SIGTERM and SIGINT set its stop event.

The daemon finishes what it is doing (the current chunk, the current file) and returns, so a
stop never leaves a partial file or an unacknowledged entry behind.
"""

from __future__ import annotations

import signal
import threading


def stop_on_signals(stop: threading.Event) -> None:
    """Install handlers for SIGTERM and SIGINT that set ``stop`` (main thread only)."""

    def handler(signum, frame) -> None:  # noqa: ARG001
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
