"""``ledger verify`` checks for the chain of custody itself (A2 Art.8, 13, 15).

Signatures alone prove who signed; these checks prove the right party signed and nothing is
missing: a segment is signed by the key enrolled for *its* recorder, each recorder's segments
run ``seq`` 0, 1, 2… with ``prev`` naming the segment before (the enrollment for the first), a
recorder is enrolled only by a dock (or the ledger's root), and dock records (calibrations,
sessions, gaps) come from a dock. A deleted, inserted or reordered segment breaks the chain here
even where the Merkle tree was rebuilt to match.
"""

from __future__ import annotations

from ledger.records import Enrollment, Segment
from ledger.verify import CheckedEntry, VerifyContext, register_checker

_HEADS = "chain.heads"  # device_id → (last seq or -1, head entry hash; None after a forged entry)
_DOCK_TYPES = ("ledger_root", "dock")


def _signer_types(ctx: VerifyContext, e: CheckedEntry) -> list[Enrollment]:
    return [ctx.enrolled[k][1] for k in e.signers if k in ctx.enrolled and ctx.enrolled[k][0] < e.idx]


@register_checker("enrollment")
def device_enrollment(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    if not isinstance(rec, Enrollment) or rec.subject_type != "device":
        return []
    # A recorder (re-)enrolled by a dock starts a new chain at seq 0 from this entry.
    ctx.state.setdefault(_HEADS, {})[rec.subject_id] = (-1, e.entry_hash)
    if not any(s.subject_type in _DOCK_TYPES for s in _signer_types(ctx, e)):
        return [f"recorder {rec.subject_id} was enrolled by a key that is not a dock's"]
    return []


@register_checker("segment")
def segment_chain(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Segment)
    problems = []
    signed = any(s.subject_type == "device" and s.subject_id == rec.device_id for s in _signer_types(ctx, e))
    if not signed:
        problems.append(f"segment of {rec.device_id} is not signed by that recorder's enrolled key")
    heads = ctx.state.setdefault(_HEADS, {})
    head = heads.get(rec.device_id)
    if head is None:
        problems.append(f"segment of {rec.device_id} before that recorder's enrollment")
    else:
        last_seq, head_hash = head
        if rec.seq != last_seq + 1:
            problems.append(f"{rec.device_id} seq {rec.seq} follows seq {last_seq}: "
                            f"{'missing segments' if rec.seq > last_seq + 1 else 'repeated or reordered seq'}")
        # After an entry that is itself reported (forged), the next link cannot be judged by it.
        if head_hash is not None and rec.prev != head_hash:
            problems.append(f"{rec.device_id} seq {rec.seq}: prev {rec.prev[:16]}… is not the entry before it "
                            f"({head_hash[:16]}…): the chain was cut or spliced")
    heads[rec.device_id] = (rec.seq, e.entry_hash if signed else None)
    return problems


def _from_a_dock(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    if any(s.subject_type in _DOCK_TYPES for s in _signer_types(ctx, e)):
        return []
    return [f"{e.record.kind} record not signed by a dock"]


for _kind in ("calibration", "dock_session", "gap"):
    register_checker(_kind)(_from_a_dock)
