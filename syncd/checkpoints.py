"""The dock's side of checkpoint exchange: its ledger may only grow (issue 11, hole 3).

The dock signs checkpoints of its own ledger (``agent``: after every docking, justification and
approval, and on a timer). At the start of every sync and after every pass the uploader sends the
latest one (:class:`syncd.protocol.CheckpointMessage`) with the dock ledger's leaves past what the
archive holds, and keeps the archive's signed verdict in ``sync.db``: the checkpoint the archive
acknowledged, and whether the new one was consistent with it, and which covered entries have not
arrived. The archive side is :mod:`archive.dock_checkpoints`.

Before sending, the dock also checks its own ledger against the acknowledged checkpoint: a ledger
that no longer extends it lost entries since (rewritten, or restored from an older copy).
"""

from __future__ import annotations

import logging
import queue
import time
from typing import TYPE_CHECKING

from bodycam.errors import FormatError, VerificationError
from bodycam.i18n import N_, Message, _, tr
from ledger.checkpoint import Checkpoint, parse_note
from ledger.store import Ledger
from syncd import protocol as p
from syncd.mqtt import MessageTooLarge, PublishRefused
from syncd.outbox import QUEUED, REJECTED

if TYPE_CHECKING:
    from syncd.uploader import Uploader

log = logging.getLogger(__name__)

ACKNOWLEDGED = "ckpt_acknowledged"  # meta: the note of the dock checkpoint the archive acknowledged last
VERDICT = "ckpt_verdict"            # meta: the archive's last verdict (see verdict_json)
RETRY_UNANSWERED_S = 300.0          # a checkpoint the archive did not answer is offered again after this


def checkpoint_of(note: str) -> Checkpoint:
    return Checkpoint.from_text(parse_note(note)[0])


def lost_since(ledger: Ledger, note: str | None) -> Message | None:
    """Why ``ledger`` is not an extension of the checkpoint ``note`` (None if it is): English in
    ``sync.db`` and ``--json``, in the reader's language where ``sync run`` and ``sync status``
    say it (``bodycam.i18n.tr``)."""
    if not note:
        return None
    try:
        c = checkpoint_of(note)
    except FormatError as exc:
        return Message(N_("the acknowledged checkpoint cannot be read: {error}"), error=str(exc))
    size = ledger.size
    if size < c.size:
        return Message(N_("the dock ledger has {size} entries, fewer than the {acknowledged} of the checkpoint the "
                          "archive acknowledged: it lost entries since (rewritten, or restored from an older copy)"),
                       size=size, acknowledged=c.size)
    if ledger.root(c.size) != c.root:
        return Message(N_("the dock ledger's first {acknowledged} entries are not those of the checkpoint the archive "
                          "acknowledged: entries were removed, altered or reordered since"), acknowledged=c.size)
    return None


def note_to_send(ledger: Ledger, acknowledged: str | None) -> str | None:
    """The dock ledger's latest checkpoint; the acknowledged one again when the ledger has none
    (so the archive can still say what it covers that never arrived)."""
    latest = ledger.latest_checkpoint()
    if latest is None:
        return acknowledged or None
    if acknowledged:
        try:
            if latest.size < checkpoint_of(acknowledged).size:
                log.error("the dock ledger's latest checkpoint (size %d) is older than the one the archive "
                          "acknowledged (size %d): the ledger lost entries or checkpoints",
                          latest.size, checkpoint_of(acknowledged).size)
        except FormatError as exc:
            log.warning("the acknowledged checkpoint kept in the sync state is not a checkpoint (%s); "
                        "sending the latest", exc)
    return latest.note


def leaves(ledger: Ledger, start: int, stop: int) -> tuple[tuple[str, bytes], ...]:
    rows = ledger.conn.execute("SELECT entry_hash, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                               (start, stop)).fetchall()
    return tuple((h, bytes(leaf)) for h, leaf in rows)


def verdict_json(v: p.CheckpointVerdict, size: int, complete: bool) -> dict:
    return {"id": v.id, "size": size, "status": p.CheckpointStatus(v.status).value, "next": v.next,
            "missing": v.missing, "missing_entries": list(v.missing_entries), "reason": v.reason,
            "complete": complete, "at_ns": v.at_ns}


def settle(up: Uploader, *, after_pass: bool) -> dict | None:
    """At the start of a sync (``after_pass`` False) and after each pass: check the dock ledger
    against the acknowledged checkpoint, then send the latest checkpoint unless nothing changed
    since it was last settled. Returns the archive's verdict as kept in ``sync.db`` (None: nothing
    sent, or no valid answer: it is sent again after the next pass)."""
    acknowledged = up.outbox.get_meta(ACKNOWLEDGED)
    problem = lost_since(up.ledger, acknowledged)
    if problem and problem != up.result.checkpoint_problem:
        up._error(f"inconsistency: {problem}")
    up.result.checkpoint_problem = problem
    note = note_to_send(up.ledger, acknowledged)  # read before the scan: what it covers is queued by then
    if note is None:
        return None
    complete = False
    if after_pass:
        up.scan()
        complete = not up.outbox.items(QUEUED) and not any(
            i.code in p.RETRY_CODES for i in up.outbox.items(REJECTED))
    key = (p.checkpoint_id(note), complete, up.result.committed)
    last, answered, retry_at = up._checkpoint_key
    if after_pass and key == last and (answered or time.monotonic() < retry_at):
        return up.result.checkpoint  # settled already, or unanswered a moment ago: not after every pass
    out = exchange(up, note, acknowledged, complete=complete)
    up._checkpoint_key = (key, out is not None, time.monotonic() + RETRY_UNANSWERED_S)
    if out is not None:
        up.result.checkpoint = out
    return out


def exchange(up: Uploader, note: str, acknowledged: str | None, *, complete: bool) -> dict | None:
    """Send ``note`` (and the leaves the archive asks for) and return the archive's verdict as
    stored in ``sync.db`` (None: no valid answer)."""
    try:
        size = checkpoint_of(note).size
    except FormatError as exc:
        up._error(f"the dock ledger's latest checkpoint cannot be read: {exc}")
        return None
    cid = p.checkpoint_id(note)
    start = checkpoint_of(acknowledged).size if acknowledged else 0
    for _attempt in range(size // p.MAX_CHECKPOINT_LEAVES + 4):
        page = leaves(up.ledger, start, min(size, start + p.MAX_CHECKPOINT_LEAVES)) if start < size else ()
        msg = p.CheckpointMessage(note, start, page, complete)
        ack = _send(up, cid, msg.to_json())
        if ack is None:
            return None
        if isinstance(ack, p.Rejected):
            up._error(f"the archive refused this dock's checkpoint (size {size}): {ack.code.value}: {ack.reason}")
            out = {"id": cid, "size": size, "status": "rejected", "next": start, "missing": 0, "missing_entries": [],
                   "reason": f"{ack.code.value}: {ack.reason}", "complete": complete, "at_ns": time.time_ns()}
            up.outbox.set_meta(**{VERDICT: out})
            return out
        try:
            verdict = p.verify_checkpoint_ack(ack.envelope, up.archive_key, dock=up.dock, id=cid)
        except (VerificationError, FormatError) as exc:
            up._error(f"ignored a checkpoint reply that does not verify ({exc})")
            return None
        out = verdict_json(verdict, size, complete)
        up.outbox.set_meta(**{VERDICT: out, ACKNOWLEDGED: verdict.acknowledged or acknowledged})
        if verdict.status is p.CheckpointStatus.more:
            if verdict.next == start and not page:
                up._error(f"the archive needs dock ledger entries from {start} for the checkpoint of size {size}, "
                          "and the dock ledger does not have them")
                return out
            start = verdict.next
            continue
        if verdict.status is p.CheckpointStatus.inconsistent:
            up._error(f"inconsistency: the archive found this dock's checkpoint of size {size} inconsistent: "
                      f"{verdict.reason}")
        elif complete and verdict.missing:
            up._error(f"inconsistency: the archive says {verdict.missing} dock ledger entr"
                      f"{'y' if verdict.missing == 1 else 'ies'} covered by the checkpoint it acknowledged never "
                      f"arrived: {', '.join(h[:16] + '…' for h in verdict.missing_entries)}")
        return out
    up._error(f"the checkpoint of size {size} was not settled with the archive; it is sent again next time")
    return None


def problems(result_checkpoint: dict | None, ledger_problem: str | None) -> list[str]:
    """What makes ``sync run --once`` exit 3 about checkpoints (each one line, in the reader's
    language; the archive's reason as it said it)."""
    out = [str(tr(ledger_problem))] if ledger_problem else []
    v = result_checkpoint
    if v and v["status"] == "inconsistent":
        out.append(_("the archive found this dock's checkpoint of size {size} inconsistent: {reason}").format(
            size=v["size"], reason=v["reason"]))
    elif v and v["status"] == "rejected":
        out.append(_("the archive found this dock's checkpoint of size {size} rejected: {reason}").format(
            size=v["size"], reason=v["reason"]))
    elif v and v["complete"] and v["missing"]:
        said = (_("the archive says {count} dock ledger entry covered by the checkpoint it acknowledged never "
                  "arrived: {entries}") if v["missing"] == 1 else
                _("the archive says {count} dock ledger entries covered by the checkpoint it acknowledged never "
                  "arrived: {entries}"))
        out.append(said.format(count=v["missing"], entries=", ".join(v["missing_entries"])))
    return out


def _send(up: Uploader, cid: str, payload: bytes) -> p.Ack | None:
    """Publish one ``ckpt`` message and wait for its ack (None: link down or no answer in time)."""
    up._wait_link()
    gen = up.client.generation
    try:
        if not up._publish(p.ckpt_topic(up.dock, cid), payload):
            return None
    except (MessageTooLarge, PublishRefused) as exc:
        up._error(f"checkpoint not sent: {exc}")
        return None
    sent = time.monotonic()
    while time.monotonic() - sent < up.cfg.ack_timeout_s and up.client.generation == gen:
        up._check_stop()
        try:
            ack = up.acks.get(timeout=0.2)
        except queue.Empty:
            continue
        if ack.subject is not p.Subject.ckpt or ack.id != cid:
            continue
        up._answered()
        if isinstance(ack, p.CheckpointAck | p.Rejected):
            return ack
    up._error(f"no answer from the archive about checkpoint {cid[:16]}…; it is sent again next time")
    return None
