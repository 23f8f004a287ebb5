"""The dock signs checkpoints of its own ledger, so that it can only grow (issue 11, hole 3).

Without them anyone able to write the dock's files could rebuild its ledger from the same envelope
bytes minus chosen entries (a gap with its justification and approval, the last segment), and the
result would verify and sync cleanly. A checkpoint (C2SP signed note, origin ``bodycam/<dock>``,
signed by the dock key) commits to the ledger's size and root; the uploader sends the latest to
the archive with every sync, and the archive requires each to extend the one before
(:mod:`archive.dock_checkpoints`) and reports entries one covers that never arrived.

Signed after every docking, justification, fault and approval, and by ``agent run`` every
``[agent] checkpoint_interval_s`` (which also covers enrollments, calibrations and people).
"""

from __future__ import annotations

import logging

from bodycam.errors import BodycamError
from ledger.checkpoint import dock_origin
from ledger.keys import Signer
from ledger.store import Ledger

log = logging.getLogger(__name__)


def sign_dock_checkpoint(ledger: Ledger, signer: Signer, dock_id: str) -> str | None:
    """Sign and store a checkpoint of the dock ledger, unless the latest already covers every
    entry. Returns the note (None: nothing new to sign)."""
    latest = ledger.latest_checkpoint()
    if latest is not None and latest.size == ledger.size:
        return None
    note = ledger.checkpoint(signer, dock_origin(dock_id))
    log.info("dock %s signed a checkpoint of its ledger at size %s", dock_id, note.split("\n", 2)[1])
    return note


def try_sign_dock_checkpoint(ledger: Ledger, signer: Signer, dock_id: str) -> str | None:
    """As :func:`sign_dock_checkpoint`, for flows whose own work is done: a failure is logged as an
    error (the next docking or the timer of ``agent run`` signs one), never raised."""
    try:
        return sign_dock_checkpoint(ledger, signer, dock_id)
    except BodycamError as exc:
        log.error("dock %s could not sign a checkpoint of its ledger: %s", dock_id, exc)
        return None
