"""Is a gap explained, and has the supervising leader approved the explanation? (A2 Art.8, 11)

Rules, shared by ``bodycam gaps`` at the dock, the verifier, and review at the archive:

- an explanation is a ``stop_justification`` (reason 1–5) or a ``gap_fault`` (technical cause);
  it counts only if it is signed by the key enrolled for its ``officer_id`` with role officer,
  restates the gap it names exactly (device, seq, times), and, for reasons 1 and 3, carries the
  requester's signature: an enrolled person's second signature on the same body, or the hash of
  a signature image the store holds;
- a ``stop_approval`` counts only if signed by the key enrolled for its ``supervisor_id`` with
  role supervisor or head, who is not the officer, and it names a counting explanation of the
  same gap;
- only signatures that verify count: a tampered signature makes the record invisible here (and
  ``ledger verify`` reports it), so the gap shows as unjustified.

The pure ``*_problems`` functions take the signer set as an argument so the verifier (which checks
signatures in batches) and this module (which checks them itself) decide identically.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ledger.people import APPROVE_ROLES, JUSTIFY_ROLES, check_person_key, valid_signers
from ledger.records import Enrollment, Gap, GapFault, StopApproval, StopJustification
from ledger.store import Entry, Ledger

GapState = Literal["bare", "justified", "approved", "fault", "fault_approved", "rejected", "not_required"]
APPROVED_STATES = frozenset({"approved", "fault_approved", "not_required"})
Explanation = StopJustification | GapFault
REQUESTER_REASONS = (1, 3)
#: Findings a decision to stop recording can explain (A2 Art.11); overlaps, out-of-order or altered
#: files are not pauses, so only a technical fault record (A2 Art.8) can explain them.
STOP_GAP_TYPES = ("gap", "missing_seq")
_GAP_FIELDS = ("device_id", "after_seq", "before_seq", "start_ns", "end_ns")


def enrollments(ledger: Ledger) -> dict[str, Enrollment]:
    out = {}
    for keyid in ledger.keyring():
        rec = ledger.enrollment(keyid)
        if rec is not None:
            out[keyid] = rec
    return out


def _signed_by(person_id: str, roles: tuple[str, ...], signers: set[str] | tuple[str, ...],
               enrolled: Mapping[str, Enrollment], what: str) -> str | None:
    """None if one of ``signers`` is ``person_id``'s key in ``roles``; else the reason why not."""
    first = None
    for keyid in signers:
        problem = check_person_key(enrolled, keyid, person_id, roles, what)
        if problem is None:
            return None
        first = first or problem
    return first or f"not signed by any key (the {what} {person_id} must sign)"


def explanation_problems(rec: Explanation, gap: Gap | None, signers: set[str] | tuple[str, ...],
                         enrolled: Mapping[str, Enrollment],
                         has_attachment: Callable[[str], bool] | None = None) -> list[str]:
    """Why ``rec`` does not explain its gap (empty: it does). ``signers``: keyids with good signatures."""
    what = "justification" if isinstance(rec, StopJustification) else "fault record"
    out = []
    if gap is None:
        out.append(f"the {what} names gap {rec.gap[:16]}…, which is not an earlier gap record in this ledger")
    else:
        differ = [f for f in _GAP_FIELDS if getattr(rec, f) != getattr(gap, f)]
        if differ:
            out.append(f"the {what} does not restate its gap: {', '.join(differ)} differ")
        if isinstance(rec, StopJustification) and gap.gap_type not in STOP_GAP_TYPES:
            out.append(f"a {gap.gap_type} finding is not a pause in recording: a stop justification cannot "
                       "explain it (record a technical fault instead)")
        if gap.officer_id and gap.officer_id != rec.officer_id:
            out.append(f"the gap was recorded by officer {gap.officer_id}, but the {what} is by {rec.officer_id}")
    bad = _signed_by(rec.officer_id, JUSTIFY_ROLES, signers, enrolled, "officer")
    if bad:
        out.append(f"officer signature: {bad}")
    if isinstance(rec, StopJustification) and rec.reason in REQUESTER_REASONS and not rec.technical_fault:
        req = rec.requester
        if req is None or not (req.keyid or req.signature_image_sha256):
            out.append(f"reason {rec.reason} needs the requester's signature or seal (A2 Art.11)")
        else:
            if req.keyid:
                person = enrolled.get(req.keyid)
                if person is None or person.subject_type != "person":
                    out.append(f"requester key {req.keyid[:16]}… is not an enrolled person's key")
                elif req.keyid not in signers:
                    out.append(f"the requester ({req.name}) has not signed this justification with key "
                               f"{req.keyid[:16]}…")
                elif person.subject_id == rec.officer_id:
                    out.append("the requester's signature is the officer's own key")
            if req.signature_image_sha256 and has_attachment is not None \
                    and not has_attachment(req.signature_image_sha256):
                out.append(f"the requester's signature image {req.signature_image_sha256[:16]}… is not in the store")
    return out


def approval_problems(rec: StopApproval, target: Explanation | None, target_ok: bool,
                      signers: set[str] | tuple[str, ...], enrolled: Mapping[str, Enrollment]) -> list[str]:
    """Why ``rec`` does not approve its target (empty: it does)."""
    out = []
    if target is None:
        out.append(f"the approval names {rec.target[:16]}…, which is not an earlier {rec.target_kind} here")
    else:
        if target.kind != rec.target_kind:
            out.append(f"the approval says it reviews a {rec.target_kind} but {rec.target[:16]}… is a {target.kind}")
        if target.gap != rec.gap:
            out.append("the approval names another gap than the record it reviews")
        if target.officer_id == rec.supervisor_id:
            out.append(f"{rec.supervisor_id} cannot review their own record")
        if not target_ok:
            out.append(f"the reviewed {target.kind} {rec.target[:16]}… is itself not valid")
    bad = _signed_by(rec.supervisor_id, APPROVE_ROLES, signers, enrolled, "supervisor")
    if bad:
        out.append(f"supervisor signature: {bad}")
    return out


@dataclass
class GapStatus:
    idx: int
    entry_hash: str
    gap: Gap
    state: GapState = "bare"
    explanation: str | None = None       # entry hash of the justification / fault that counts
    explanation_kind: str | None = None
    reason: int | None = None
    cause: str | None = None
    officer_id: str | None = None
    approval: str | None = None
    supervisor_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.state in APPROVED_STATES

    def to_json(self) -> dict:
        g = self.gap
        return {"gap": self.entry_hash, "idx": self.idx, "gap_type": g.gap_type, "device_id": g.device_id,
                "after_seq": g.after_seq, "before_seq": g.before_seq, "start_ns": g.start_ns, "end_ns": g.end_ns,
                "case_id": g.case_id, "activity": g.activity, "state": self.state,
                "explanation": self.explanation, "explanation_kind": self.explanation_kind,
                "reason": self.reason, "cause": self.cause, "officer_id": self.officer_id,
                "approval": self.approval, "supervisor_id": self.supervisor_id, "problems": self.problems}


def gap_statuses(ledger: Ledger, has_attachment: Callable[[str], bool] | None = None) -> list[GapStatus]:
    """The state of every gap in ``ledger``, in ledger order (see the module docstring)."""
    keyring = ledger.keyring()
    enrolled = enrollments(ledger)
    statuses: dict[str, GapStatus] = {}
    for e in ledger.entries(kind="gap"):
        g = e.record
        assert isinstance(g, Gap)
        statuses[e.entry_hash] = GapStatus(e.idx, e.entry_hash, g,
                                           "bare" if g.needs_justification else "not_required")
    valid: dict[str, tuple[Entry, Explanation]] = {}
    for kind in ("stop_justification", "gap_fault"):
        for e in ledger.entries(kind=kind):
            rec = e.record
            assert isinstance(rec, (StopJustification, GapFault))
            st = statuses.get(rec.gap)
            gap = st.gap if st is not None and st.idx < e.idx else None
            problems = explanation_problems(rec, gap, valid_signers(e.envelope, keyring), enrolled, has_attachment)
            if problems:
                if st is not None:
                    st.problems.extend(f"{kind} {e.entry_hash[:12]}: {p}" for p in problems)
                continue
            valid[e.entry_hash] = (e, rec)
    decisions: dict[str, tuple[Entry, StopApproval]] = {}
    for e in ledger.entries(kind="stop_approval"):
        rec = e.record
        assert isinstance(rec, StopApproval)
        target = valid.get(rec.target)
        target_rec = target[1] if target is not None and target[0].idx < e.idx else None
        if target_rec is None:
            raw = ledger.by_hash(rec.target)
            target_rec = raw.record if raw is not None and raw.kind == rec.target_kind and raw.idx < e.idx else None
        problems = approval_problems(rec, target_rec, rec.target in valid,  # type: ignore[arg-type]
                                     valid_signers(e.envelope, keyring), enrolled)
        if problems:
            st = statuses.get(rec.gap)
            if st is not None:
                st.problems.extend(f"stop_approval {e.entry_hash[:12]}: {p}" for p in problems)
            continue
        decisions[rec.target] = (e, rec)  # the latest review of a record is the one that counts
    by_gap: dict[str, list[tuple[Entry, Explanation]]] = {}
    for e, rec in sorted(valid.values(), key=lambda t: t[0].idx):
        by_gap.setdefault(rec.gap, []).append((e, rec))
    for gap_hash, explained in by_gap.items():
        st = statuses.get(gap_hash)
        if st is None or not st.gap.needs_justification:
            continue
        approved = [(e, r) for e, r in explained
                    if e.entry_hash in decisions and decisions[e.entry_hash][1].decision == "approved"]
        e, rec = (approved or explained)[-1]
        review = decisions.get(e.entry_hash)
        st.explanation, st.explanation_kind, st.officer_id = e.entry_hash, rec.kind, rec.officer_id
        if isinstance(rec, StopJustification):
            st.reason = rec.reason
        else:
            st.cause = rec.cause
        fault = isinstance(rec, GapFault)
        if review is None:
            st.state = "fault" if fault else "justified"
        elif review[1].decision == "approved":
            st.state = "fault_approved" if fault else "approved"
        else:
            st.state = "rejected"
        if review is not None:
            st.approval, st.supervisor_id = review[0].entry_hash, review[1].supervisor_id
    return list(statuses.values())


def gap_status(ledger: Ledger, gap_hash: str, has_attachment: Callable[[str], bool] | None = None) -> GapStatus | None:
    for st in gap_statuses(ledger, has_attachment):
        if st.entry_hash == gap_hash:
            return st
    return None
