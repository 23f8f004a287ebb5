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

from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.records import Enrollment, Revocation, Segment
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


def next_link(device_id: str, seq: int, prev: str, head: ChainHead | None) -> list[tuple[Link, str]]:
    """Does a segment (``seq``, ``prev``) of ``device_id`` continue the chain whose last link is
    ``head``? Each rule broken, with a message naming it; empty when it does."""
    if head is None:
        return [(Link.no_enrollment, f"segment of {device_id} before that recorder's enrollment")]
    found = []
    if seq != head.seq + 1:
        kind = Link.missing if seq > head.seq + 1 else Link.repeated
        what = "missing segments" if kind is Link.missing else "repeated or reordered seq"
        found.append((kind, f"{device_id} seq {seq} follows seq {head.seq}: {what}"))
    if head.entry_hash is not None and prev != head.entry_hash:
        found.append((Link.spliced, f"{device_id} seq {seq}: prev {prev[:16]}… is not the entry before it "
                                    f"({head.entry_hash[:16]}…): the chain was cut or spliced"))
    return found


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


def device_enrollment(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    if not isinstance(rec, Enrollment) or rec.subject_type != "device":
        return []
    # A recorder (re-)enrolled by a dock starts a new chain at seq 0 from this entry.
    ctx.state.setdefault(_HEADS, {})[rec.subject_id] = ChainHead(-1, e.entry_hash)
    if not any(s.subject_type in _DOCK_TYPES for s in _signer_types(ctx, e)):
        return [f"recorder {rec.subject_id} was enrolled by a key that is not a dock's"]
    return []


def segment_chain(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Segment)
    problems = []
    signed = any(s.subject_type == "device" and s.subject_id == rec.device_id for s in _signer_types(ctx, e))
    if not signed:
        problems.append(f"segment of {rec.device_id} is not signed by that recorder's enrolled key")
    heads = ctx.state.setdefault(_HEADS, {})
    problems += [msg for _, msg in next_link(rec.device_id, rec.seq, rec.prev, heads.get(rec.device_id))]
    heads[rec.device_id] = ChainHead(rec.seq, e.entry_hash if signed else None)
    return problems


def from_a_dock(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    if any(s.subject_type in _DOCK_TYPES for s in _signer_types(ctx, e)):
        return []
    return [f"{e.record.kind} record not signed by a dock"]
