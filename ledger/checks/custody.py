"""``ledger verify`` checks for the chain of custody itself (A2 Art.8, 13, 15).

Signatures alone prove who signed; these checks prove the right party signed and nothing is
missing: a segment is signed by the key enrolled for *its* recorder, each recorder's segments
run ``seq`` 0, 1, 2… with ``prev`` naming the segment before (the enrollment for the first), a
recorder is enrolled only by a dock (or the ledger's root), and dock records (calibrations,
sessions, gaps) come from a dock. A deleted, inserted or reordered segment breaks the chain here
even where the Merkle tree was rebuilt to match.

The chain rule itself (``next_link``) is written once here and applied by ``ledger verify`` to a
whole ledger and by the archive to each segment it is offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bodycam.i18n import N_, Message
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.records import Enrollment, Handover, Revocation, Segment
from ledger.trust import KeyRecord, reenrollment_problem, revocation_problems, signed_by_revoked

if TYPE_CHECKING:
    from ledger.store import Ledger


@dataclass(frozen=True)
class ChainHead:
    """The last link of a recorder's chain: its enrollment (``seq`` -1) or its latest segment.
    ``entry_hash`` is None when that entry was itself found forged (the next link cannot be
    judged by it)."""

    seq: int
    entry_hash: str | None


class Link(StrEnum):
    no_enrollment = "no_enrollment"  # no chain to continue: the recorder is not enrolled
    missing = "missing"              # seq skips ahead: segments before it are missing (or not here yet)
    repeated = "repeated"            # seq at or before the head: a fork, a replay or a reorder
    spliced = "spliced"              # prev is not the head: the chain was cut or spliced


def next_link(device_id: str, seq: int, prev: str, head: ChainHead | None) -> list[tuple[Link, Message]]:
    """Does a segment (``seq``, ``prev``) of ``device_id`` continue the chain whose last link is
    ``head``? Each rule broken, with a message naming it; empty when it does."""
    if head is None:
        return [(Link.no_enrollment, Message(N_("segment of {device_id} before that recorder's enrollment"),
                                             device_id=device_id))]
    found = []
    if seq != head.seq + 1:
        kind = Link.missing if seq > head.seq + 1 else Link.repeated
        what = Message(N_("missing segments")) if kind is Link.missing else Message(N_("repeated or reordered seq"))
        found.append((kind, Message(N_("{device_id} seq {seq} follows seq {head}: {what}"), device_id=device_id,
                                    seq=seq, head=head.seq, what=what)))
    if head.entry_hash is not None and prev != head.entry_hash:
        found.append((Link.spliced, Message(N_("{device_id} seq {seq}: prev {prev}… is not the entry before it "
                                               "({head}…): the chain was cut or spliced"),
                                            device_id=device_id, seq=seq, prev=prev[:16], head=head.entry_hash[:16])))
    return found


# --- who holds a recorder ------------------------------------------------------------------------


@dataclass(frozen=True)
class Custody:
    """Who holds a recorder in a ledger: the dock that enrolled it, its current key, and the
    hand-over its owner signed, if it let it go (A2 Art.12: every device has its custodian)."""

    owner: str
    keyid: str
    handover: Handover | None = None


def enrollment_custody_problems(device_id: str, enroller_dock: str | None, current: Custody | None) -> list[str]:
    """A recorder belongs to the dock that first enrolled it; another enrollment of it (another
    dock, or a new key) needs a hand-over to the enrolling dock first."""
    if enroller_dock is None:
        return [Message(N_("recorder {device_id} was enrolled by a key that is not a dock's"), device_id=device_id)]
    if current is None:
        return []
    if current.handover is None:
        return [Message(N_("recorder {device_id} belongs to dock {owner}: a new enrollment of it needs a hand-over "
                           "signed by {owner} (`bodycam device transfer`), or by an archive administrator when that "
                           "dock is lost"), device_id=device_id, owner=current.owner)]
    if current.handover.to_dock != enroller_dock:
        return [Message(N_("recorder {device_id} was handed over to dock {to_dock}, not {dock}"),
                        device_id=device_id, to_dock=current.handover.to_dock, dock=enroller_dock)]
    return []


def handover_problems(h: Handover, signer_docks: set[str], by_admin: bool, current: Custody | None,
                      head: ChainHead | None) -> list[str]:
    """A hand-over is signed by the recorder's owner (or an administrator), names its current key
    and the true end of its chain, and happens once per enrollment."""
    if current is None:
        return [Message(N_("hand-over of recorder {device_id}, which is not enrolled here"), device_id=h.device_id)]
    problems = []
    if current.handover is not None:
        problems.append(Message(N_("recorder {device_id} was already handed over to {to_dock}"),
                                device_id=h.device_id, to_dock=current.handover.to_dock))
    if h.from_dock != current.owner:
        problems.append(Message(N_("hand-over names {from_dock} as the owner of {device_id}, but it belongs to "
                                   "{owner}"), from_dock=h.from_dock, device_id=h.device_id, owner=current.owner))
    if current.owner not in signer_docks and not by_admin:
        problems.append(Message(N_("hand-over of {device_id} is not signed by its owner dock {owner} (nor by an "
                                   "archive administrator)"), device_id=h.device_id, owner=current.owner))
    if h.keyid != current.keyid:
        problems.append(Message(N_("hand-over of {device_id} names key {keyid}…, not its current key {current}…"),
                                device_id=h.device_id, keyid=h.keyid[:16], current=current.keyid[:16]))
    if head is not None and h.last_seq != head.seq:
        problems.append(Message(N_("hand-over of {device_id} says its chain ends at seq {last_seq}, but its last "
                                   "segment is seq {seq}"), device_id=h.device_id, last_seq=h.last_seq, seq=head.seq))
    return problems


def custody_of(ledger: Ledger, device_id: str) -> Custody | None:
    """A recorder's custody in a ledger that holds only admitted records (the archive's)."""
    enrollment = ledger.latest("enrollment", device_id=device_id)
    if enrollment is None:
        return None
    docks = [r.enrollment.subject_id for k in enrollment.envelope.keyids
             if (r := ledger.key_record(k)) is not None and r.enrollment.subject_type in _DOCK_TYPES]
    handover = ledger.latest("handover", device_id=device_id)
    ended = handover.record if handover is not None and handover.idx > enrollment.idx else None
    return Custody(docks[0] if docks else "?", enrollment.record.keyid, ended)


def chain_head(ledger: Ledger, device_id: str) -> ChainHead | None:
    """The head of a recorder's chain in a ledger that holds only admitted links (the archive's):
    its latest segment, or its enrollment when no segment follows it."""
    enrollment = ledger.latest("enrollment", device_id=device_id)
    if enrollment is None:
        return None
    segment = ledger.latest("segment", device_id=device_id)
    if segment is None or segment.idx < enrollment.idx:
        return ChainHead(-1, enrollment.entry_hash)
    return ChainHead(segment.record.seq, segment.entry_hash)


_KEYS = "keys.records"  # keyid → KeyRecord (first enrollment; revocation)


def key_enrolled_once(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Enrollment)
    keys = ctx.state.setdefault(_KEYS, {})
    problem = reenrollment_problem(rec.keyid, keys.get(rec.keyid))
    if problem:
        return [problem]
    keys[rec.keyid] = KeyRecord(e.idx, rec, tuple(e.envelope.keyids))
    return []


def check_revocation(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Revocation)
    keys = ctx.state.setdefault(_KEYS, {})
    target = keys.get(rec.keyid)
    problems = revocation_problems(rec, target, e.signers)
    if not problems and target is not None:
        keys[rec.keyid] = KeyRecord(target.idx, target.enrollment, target.enrolled_by, e.idx)
    return problems


def revoked_signers(ctx: VerifyContext, idx: int, keyids: list[str]) -> list[str]:
    return signed_by_revoked(keyids, ctx.state.get(_KEYS, {}), idx)


_HEADS = "chain.heads"  # device_id → (last seq or -1, head entry hash; None after a forged entry)
_DOCK_TYPES = ("ledger_root", "dock")


def _signer_types(ctx: VerifyContext, e: CheckedEntry) -> list[Enrollment]:
    return [ctx.enrolled[k][1] for k in e.signers if k in ctx.enrolled and ctx.enrolled[k][0] < e.idx]


_CUSTODY = "custody"  # device_id → Custody


def _signer_docks(ctx: VerifyContext, e: CheckedEntry) -> set[str]:
    return {s.subject_id for s in _signer_types(ctx, e) if s.subject_type in _DOCK_TYPES}


def device_enrollment(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    if not isinstance(rec, Enrollment) or rec.subject_type != "device":
        return []
    custody = ctx.state.setdefault(_CUSTODY, {})
    docks = sorted(_signer_docks(ctx, e))
    problems = enrollment_custody_problems(rec.subject_id, docks[0] if docks else None, custody.get(rec.subject_id))
    if not problems:
        # A recorder enrolled (or handed over and enrolled again) starts a new chain at seq 0 here.
        custody[rec.subject_id] = Custody(docks[0], rec.keyid)
        ctx.state.setdefault(_HEADS, {})[rec.subject_id] = ChainHead(-1, e.entry_hash)
    return problems


def check_handover(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Handover)
    custody = ctx.state.setdefault(_CUSTODY, {})
    current = custody.get(rec.device_id)
    by_admin = any(s.subject_type == "ledger_root" or s.role == "admin" for s in _signer_types(ctx, e))
    problems = handover_problems(rec, _signer_docks(ctx, e), by_admin, current,
                                 ctx.state.get(_HEADS, {}).get(rec.device_id))
    if not problems and current is not None:
        custody[rec.device_id] = Custody(current.owner, current.keyid, rec)
    return problems


def segment_chain(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Segment)
    problems = []
    signed = any(s.subject_type == "device" and s.subject_id == rec.device_id for s in _signer_types(ctx, e))
    if not signed:
        problems.append(Message(N_("segment of {device_id} is not signed by that recorder's enrolled key"),
                                device_id=rec.device_id))
    held = ctx.state.get(_CUSTODY, {}).get(rec.device_id)
    if held is not None and held.handover is not None:
        problems.append(Message(N_("segment of {device_id} after its hand-over to {to_dock}"),
                                device_id=rec.device_id, to_dock=held.handover.to_dock))
    heads = ctx.state.setdefault(_HEADS, {})
    problems += [msg for _, msg in next_link(rec.device_id, rec.seq, rec.prev, heads.get(rec.device_id))]
    heads[rec.device_id] = ChainHead(rec.seq, e.entry_hash if signed else None)
    return problems


def from_a_dock(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    if any(s.subject_type in _DOCK_TYPES for s in _signer_types(ctx, e)):
        return []
    return [Message(N_("{kind} record not signed by a dock"), kind=e.record.kind)]
