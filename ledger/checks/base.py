"""What a per-kind check sees and returns.

The verifier has already checked that every signature verifies and is by a key enrolled before
the entry; a check adds what the kind means (the right party signed, nothing is missing) and
returns problem messages, empty when the entry is fine. Checks run in ledger order and may keep
per-ledger state (a recorder's chain head) in ``VerifyContext.state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.envelope import Envelope
from ledger.records import Body, Enrollment

if TYPE_CHECKING:
    from ledger.store import Ledger


@dataclass
class VerifyContext:
    """What per-kind checkers see: keys enrolled so far (with their enrollment) and a scratch
    ``state`` dict checkers may use to carry per-device chains across entries."""

    ledger: Ledger
    enrolled: dict[str, tuple[int, Enrollment]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckedEntry:
    idx: int
    entry_hash: str
    envelope: Envelope
    body: dict
    record: Body
    signers: tuple[str, ...]  # key ids, enrolled before this entry, whose signatures verified


Checker = Callable[[VerifyContext, CheckedEntry], list[str]]
