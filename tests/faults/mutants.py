"""Copies of the code with one safety step removed, to show the fault campaign can fail.

Each mutant is an exact text replacement in one file of a temporary copy of the tree; a
replacement that no longer matches is an error (the mutant would silently test nothing).

* ``ack-before-flush``: the archive records a chunk as stored and answers ``stored`` before its
  bytes are written to the part file. A chunk whose write then fails (full disk) or never happens
  (the archive killed) is believed stored by both sides: the file no longer hashes right at
  ``fin`` and is refused, so the dock's footage never reaches the archive. The write follows the
  acknowledgement after 0.3 s, the time a slow card takes to write a batch: on the campaign's
  tmpfs it would follow within microseconds and a kill would hardly ever land in between.
* ``forget-chunk``: on a resume (the archive already holds part of the file, or answers
  ``missing`` a second time) the dock forgets one chunk the archive lacks (counts it as stored,
  never sends it): the transfer can never complete.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "archive", "bodycam", "ledger", "syncd")

MUTANTS: dict[str, tuple[str, str, str]] = {
    "ack-before-flush": ("archive/receiver.py", """\
                self._busy = True
            try:
""", """\
                self._busy = True
            try:
                # MUTANT: recorded and acknowledged before the bytes are written (a slow card's write)
                self.state.add_chunks((b[0].dock, b[0].file_id, b[1]) for b in batch)
                for b in batch:
                    self._reply(b[0].dock, p.Stored(p.Subject.xfer, b[0].file_id, b[1]))
                time.sleep(0.3)
"""),
    "forget-chunk": ("syncd/window.py", """\
        indices = set(missing)
        for i in indices:
            self._check(i)
""", """\
        indices = set(missing)
        for i in indices:
            self._check(i)
        self._answers = getattr(self, "_answers", 0) + 1
        if indices and (self._answers > 1 or len(indices) < self.chunks):  # MUTANT: a resume forgets one
            indices.discard(min(indices))
"""),
}


def mutate(root: Path, name: str) -> Path:
    """Apply mutant ``name`` to the copy of the tree at ``root``; returns the changed file."""
    rel, old, new = MUTANTS[name]
    path = root / rel
    text = path.read_text()
    if text.count(old) != 1:
        raise RuntimeError(f"mutant {name}: the code it removes is no longer in {rel}; update tests/faults/mutants.py")
    path.write_text(text.replace(old, new))
    return path


@contextlib.contextmanager
def mutated_tree(name: str) -> Iterator[Path]:
    """A temporary copy of the packages with mutant ``name`` applied; removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bodycam-mutant-{name}-"))
    try:
        for pkg in PACKAGES:
            shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        mutate(tmp, name)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
