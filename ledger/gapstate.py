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
- a gap has one standing explanation: a justification for a gap whose earlier explanation still
  stands (not rejected) counts only if it names that one in ``supersedes``; the replaced record
  no longer counts, and an approved one cannot be replaced (``Explanations``);
- only signatures that verify count: a tampered signature makes the record invisible here (and
  ``ledger verify`` reports it), so the gap shows as unjustified.

The pure ``*_problems`` functions take the signer set as an argument so the verifier (which checks
signatures in batches) and this module (which checks them itself) decide identically.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bodycam.i18n import N_, Message
from ledger.people import APPROVE_ROLES, JUSTIFY_ROLES, check_person_key, valid_signers
from ledger.records import Enrollment, Gap, GapFault, StopApproval, StopJustification
from ledger.store import Ledger

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
               enrolled: Mapping[str, Enrollment], what: str) -> Message | None:
    """None if one of ``signers`` is ``person_id``'s key in ``roles``; else the reason why not."""
    first = None
    for keyid in signers:
        problem = check_person_key(enrolled, keyid, person_id, roles, what)
        if problem is None:
            return None
        first = first or problem
    return first or Message(N_("not signed by any key (the {what} {person_id} must sign)"), what=Message(what),
                            person_id=person_id)


def _record_word(kind: str) -> Message:
    """``justification`` or ``fault record``, as a sentence names the record."""
    return Message(N_("justification")) if kind == "stop_justification" else Message(N_("fault record"))


def explanation_problems(rec: Explanation, gap: Gap | None, signers: set[str] | tuple[str, ...],
                         enrolled: Mapping[str, Enrollment],
                         has_attachment: Callable[[str], bool] | None = None) -> list[str]:
    """Why ``rec`` does not explain its gap (empty: it does). ``signers``: keyids with good signatures."""
    what = _record_word(rec.kind)
    out: list[str] = []
    if gap is None:
        out.append(Message(N_("the {what} names gap {gap}…, which is not an earlier gap record in this ledger"),
                           what=what, gap=rec.gap[:16]))
    else:
        differ = [f for f in _GAP_FIELDS if getattr(rec, f) != getattr(gap, f)]
        if differ:
            out.append(Message(N_("the {what} does not restate its gap: {fields} differ"), what=what,
                               fields=", ".join(differ)))
        if isinstance(rec, StopJustification) and gap.gap_type not in STOP_GAP_TYPES:
            out.append(Message(N_("a {gap_type} finding is not a pause in recording: a stop justification cannot "
                                  "explain it (record a technical fault instead)"), gap_type=gap.gap_type))
        if gap.officer_id and gap.officer_id != rec.officer_id:
            out.append(Message(N_("the gap was recorded by officer {recorded}, but the {what} is by {officer_id}"),
                               recorded=gap.officer_id, what=what, officer_id=rec.officer_id))
    bad = _signed_by(rec.officer_id, JUSTIFY_ROLES, signers, enrolled, N_("officer"))
    if bad:
        out.append(Message(N_("officer signature: {problem}"), problem=bad))
    if isinstance(rec, StopJustification) and rec.reason in REQUESTER_REASONS and not rec.technical_fault:
        req = rec.requester
        if req is None or not (req.keyid or req.signature_image_sha256):
            out.append(Message(N_("reason {reason} needs the requester's signature or seal (A2 Art.11)"),
                               reason=rec.reason))
        else:
            if req.keyid:
                person = enrolled.get(req.keyid)
                if person is None or person.subject_type != "person":
                    out.append(Message(N_("requester key {keyid}… is not an enrolled person's key"),
                                       keyid=req.keyid[:16]))
                elif req.keyid not in signers:
                    out.append(Message(N_("the requester ({name}) has not signed this justification with key "
                                          "{keyid}…"), name=req.name, keyid=req.keyid[:16]))
                elif person.subject_id == rec.officer_id:
                    out.append(Message(N_("the requester's signature is the officer's own key")))
            if req.signature_image_sha256 and has_attachment is not None \
                    and not has_attachment(req.signature_image_sha256):
                out.append(Message(N_("the requester's signature image {sha256}… is not in the store"),
                                   sha256=req.signature_image_sha256[:16]))
    return out


def approval_problems(rec: StopApproval, target: Explanation | None, target_ok: bool,
                      signers: set[str] | tuple[str, ...], enrolled: Mapping[str, Enrollment]) -> list[str]:
    """Why ``rec`` does not approve its target (empty: it does)."""
    out: list[str] = []
    if target is None:
        out.append(Message(N_("the approval names {target}…, which is not an earlier {kind} here"),
                           target=rec.target[:16], kind=rec.target_kind))
    else:
        if target.kind != rec.target_kind:
            out.append(Message(N_("the approval says it reviews a {kind} but {target}… is a {actual}"),
                               kind=rec.target_kind, target=rec.target[:16], actual=target.kind))
        if target.gap != rec.gap:
            out.append(Message(N_("the approval names another gap than the record it reviews")))
        if target.officer_id == rec.supervisor_id:
            out.append(Message(N_("{supervisor_id} cannot review their own record"), supervisor_id=rec.supervisor_id))
        if not target_ok:
            out.append(Message(N_("the reviewed {kind} {target}… is itself not valid"), kind=target.kind,
                               target=rec.target[:16]))
    bad = _signed_by(rec.supervisor_id, APPROVE_ROLES, signers, enrolled, N_("supervisor"))
    if bad:
        out.append(Message(N_("supervisor signature: {problem}"), problem=bad))
    return out


class Explanations:
    """The justifications, faults and reviews seen so far, fed in ledger order: what the rule "a gap
    has one standing explanation" needs. ``ledger verify`` feeds it with its signer sets,
    ``gap_statuses`` with its own; both ask it the same questions.

    An explanation *stands* while it is valid, not replaced (``supersedes``) and not rejected by
    its latest review. A justification for a gap with a standing explanation must name the one it
    replaces in ``supersedes``; it may replace only a valid, not yet replaced, not approved
    explanation of the same gap. A review of a replaced explanation does not count.
    """

    def __init__(self) -> None:
        self.records: dict[str, tuple[int, Explanation, bool]] = {}  # entry hash → (idx, record, valid?)
        self.replaced_by: dict[str, str] = {}  # explanation → the justification that replaced it
        self.reviews: dict[str, tuple[str, StopApproval]] = {}  # explanation → (approval hash, latest valid review)

    def of_gap(self, gap_hash: str) -> list[str]:
        """Valid explanations of a gap, in ledger order."""
        return [h for h, (_, rec, ok) in self.records.items() if ok and rec.gap == gap_hash]

    def standing(self, gap_hash: str) -> list[str]:
        return [h for h in self.of_gap(gap_hash) if h not in self.replaced_by
                and (h not in self.reviews or self.reviews[h][1].decision != "rejected")]

    def order_problems(self, rec: Explanation) -> list[str]:
        """Why ``rec``, appended now, would break the one-standing-explanation rule (empty: it does not)."""
        if not isinstance(rec, StopJustification):
            return []
        if rec.supersedes is None:
            standing = self.standing(rec.gap)
            if not standing:
                return []
            h = standing[-1]
            return [Message(N_("gap {gap} already has {kind} {standing} standing: a second justification must name "
                               "the one it replaces (`bodycam justify {gap} ... --supersede {standing}`)"),
                            gap=rec.gap[:12], kind=_record_word(self.records[h][1].kind), standing=h[:12])]
        target = self.records.get(rec.supersedes)
        if target is None or not target[2]:
            return [Message(N_("the justification supersedes {old}…, which is not an earlier valid justification or "
                               "fault record"), old=rec.supersedes[:16])]
        if target[1].gap != rec.gap:
            return [Message(N_("the justification supersedes {old}…, which explains another gap"),
                            old=rec.supersedes[:16])]
        if rec.supersedes in self.replaced_by:
            return [Message(N_("the justification supersedes {old}…, which {newer}… replaced already"),
                            old=rec.supersedes[:16], newer=self.replaced_by[rec.supersedes][:16])]
        review = self.reviews.get(rec.supersedes)
        if review is not None and review[1].decision == "approved":
            return [Message(N_("the justification supersedes {old}…, which supervisor {supervisor_id} approved: an "
                               "approved explanation stands"),
                            old=rec.supersedes[:16], supervisor_id=review[1].supervisor_id)]
        return []

    def add(self, entry_hash: str, idx: int, rec: Explanation, valid: bool) -> None:
        self.records[entry_hash] = (idx, rec, valid)
        if valid and isinstance(rec, StopJustification) and rec.supersedes is not None:
            self.replaced_by[rec.supersedes] = entry_hash

    def target(self, approval: StopApproval) -> tuple[Explanation | None, bool]:
        """The record an approval reviews, and whether it counts."""
        found = self.records.get(approval.target)
        return (found[1], found[2]) if found is not None else (None, False)

    def review_problems(self, approval: StopApproval) -> list[str]:
        if approval.target in self.replaced_by:
            return [Message(N_("the reviewed record {target}… was replaced by {newer}… before this review"),
                            target=approval.target[:16], newer=self.replaced_by[approval.target][:16])]
        return []

    def review(self, entry_hash: str, approval: StopApproval) -> None:
        self.reviews[approval.target] = (entry_hash, approval)  # the latest review of a record counts


@dataclass
class ExplanationStatus:
    """One valid justification or fault of a gap, as a supervisor reviews it."""

    entry_hash: str
    idx: int
    record: Explanation
    officer_name: str | None = None
    review: Literal["pending", "approved", "rejected"] = "pending"
    approval: str | None = None
    supervisor_id: str | None = None
    supervisor_name: str | None = None
    review_note: str | None = None
    reviewed_ns: int | None = None
    superseded_by: str | None = None

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def standing(self) -> bool:
        return self.superseded_by is None and self.review != "rejected"

    @property
    def awaiting_review(self) -> bool:
        return self.standing and self.review == "pending"

    def to_json(self) -> dict:
        rec = self.record
        just = isinstance(rec, StopJustification)
        return {"id": self.entry_hash, "idx": self.idx, "kind": rec.kind,
                "reason": rec.reason if just else None, "cause": None if just else rec.cause,  # type: ignore[union-attr]
                "officer_id": rec.officer_id, "officer_name": self.officer_name, "note": rec.note,
                "basis": rec.basis if just else None,  # type: ignore[union-attr]
                "requester": rec.requester.model_dump(exclude_none=True) if just and rec.requester else None,  # type: ignore[union-attr]
                "supersedes": rec.supersedes if just else None,  # type: ignore[union-attr]
                "superseded_by": self.superseded_by, "standing": self.standing, "review": self.review,
                "approval": self.approval, "supervisor_id": self.supervisor_id,
                "supervisor_name": self.supervisor_name, "review_note": self.review_note,
                "reviewed_ns": self.reviewed_ns}


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
    explanations: list[ExplanationStatus] = field(default_factory=list)  # valid ones, in ledger order

    @property
    def approved(self) -> bool:
        return self.state in APPROVED_STATES

    @property
    def awaiting_review(self) -> list[ExplanationStatus]:
        """What a supervisor may approve now: the standing explanations not yet reviewed."""
        return [x for x in self.explanations if x.awaiting_review]

    def to_json(self) -> dict:
        g = self.gap
        return {"gap": self.entry_hash, "idx": self.idx, "gap_type": g.gap_type, "device_id": g.device_id,
                "after_seq": g.after_seq, "before_seq": g.before_seq, "start_ns": g.start_ns, "end_ns": g.end_ns,
                "case_id": g.case_id, "activity": g.activity, "officer_id_recorded": g.officer_id,
                "state": self.state,
                "explanation": self.explanation, "explanation_kind": self.explanation_kind,
                "reason": self.reason, "cause": self.cause, "officer_id": self.officer_id,
                "approval": self.approval, "supervisor_id": self.supervisor_id, "problems": self.problems,
                "explanations": [x.to_json() for x in self.explanations]}


def _person_name(enrolled: Mapping[str, Enrollment], signers: set[str], person_id: str) -> str | None:
    for keyid in sorted(signers):
        rec = enrolled.get(keyid)
        if rec is not None and rec.subject_type == "person" and rec.subject_id == person_id:
            return rec.name
    return None


def _walk(ledger: Ledger, has_attachment: Callable[[str], bool] | None
          ) -> tuple[dict[str, GapStatus], Explanations, dict[str, str | None]]:
    """Gaps, then every justification, fault and review in ledger order through ``Explanations``."""
    keyring = ledger.keyring()
    enrolled = enrollments(ledger)
    statuses: dict[str, GapStatus] = {}
    for e in ledger.entries(kind="gap"):
        g = e.record
        assert isinstance(g, Gap)
        statuses[e.entry_hash] = GapStatus(e.idx, e.entry_hash, g,
                                           "bare" if g.needs_justification else "not_required")
    seen = Explanations()
    names: dict[str, str | None] = {}  # entry hash → name of the person who signed it
    kinds = ("stop_justification", "gap_fault", "stop_approval")
    for e in heapq.merge(*(ledger.entries(kind=k) for k in kinds), key=lambda e: e.idx):
        rec = e.record
        signers = valid_signers(e.envelope, keyring)
        if isinstance(rec, StopApproval):
            target, target_ok = seen.target(rec)
            problems = approval_problems(rec, target, target_ok, signers, enrolled) + seen.review_problems(rec)
            if problems:
                st = statuses.get(rec.gap)
                if st is not None:
                    st.problems.extend(Message("{kind} {entry}: {problem}", kind="stop_approval",
                                               entry=e.entry_hash[:12], problem=p) for p in problems)
                continue
            seen.review(e.entry_hash, rec)
            names[e.entry_hash] = _person_name(enrolled, signers, rec.supervisor_id)
            continue
        assert isinstance(rec, (StopJustification, GapFault))
        st = statuses.get(rec.gap)
        gap = st.gap if st is not None and st.idx < e.idx else None
        problems = explanation_problems(rec, gap, signers, enrolled, has_attachment) + seen.order_problems(rec)
        seen.add(e.entry_hash, e.idx, rec, not problems)
        if problems:
            if st is not None:
                st.problems.extend(Message("{kind} {entry}: {problem}", kind=e.kind, entry=e.entry_hash[:12],
                                           problem=p) for p in problems)
            continue
        names[e.entry_hash] = _person_name(enrolled, signers, rec.officer_id)
    return statuses, seen, names


def explanations(ledger: Ledger, has_attachment: Callable[[str], bool] | None = None) -> Explanations:
    """Every justification, fault and review of ``ledger`` as the rules see them after its last entry."""
    return _walk(ledger, has_attachment)[1]


def gap_statuses(ledger: Ledger, has_attachment: Callable[[str], bool] | None = None) -> list[GapStatus]:
    """The state of every gap in ``ledger``, in ledger order (see the module docstring), with its
    valid explanations and their reviews."""
    statuses, seen, names = _walk(ledger, has_attachment)
    for st in statuses.values():
        if not st.gap.needs_justification:
            continue
        for h in seen.of_gap(st.entry_hash):
            idx, rec, _ = seen.records[h]
            x = ExplanationStatus(h, idx, rec, officer_name=names.get(h), superseded_by=seen.replaced_by.get(h))
            review = seen.reviews.get(h)
            if review is not None:
                ah, a = review
                x.review, x.approval, x.supervisor_id = a.decision, ah, a.supervisor_id
                x.supervisor_name, x.review_note, x.reviewed_ns = names.get(ah), a.note, a.reviewed_ns
            st.explanations.append(x)
        current = [x for x in st.explanations if x.superseded_by is None]
        approved = [x for x in current if x.review == "approved"]
        if not current:
            continue
        x = (approved or current)[-1]
        rec = x.record
        st.explanation, st.explanation_kind, st.officer_id = x.entry_hash, rec.kind, rec.officer_id
        fault = isinstance(rec, GapFault)
        if isinstance(rec, StopJustification):
            st.reason = rec.reason
        else:
            st.cause = rec.cause
        if x.review == "pending":
            st.state = "fault" if fault else "justified"
        elif x.review == "approved":
            st.state = "fault_approved" if fault else "approved"
        else:
            st.state = "rejected"
        if x.approval is not None:
            st.approval, st.supervisor_id = x.approval, x.supervisor_id
    return list(statuses.values())


def gap_status(ledger: Ledger, gap_hash: str, has_attachment: Callable[[str], bool] | None = None) -> GapStatus | None:
    for st in gap_statuses(ledger, has_attachment):
        if st.entry_hash == gap_hash:
            return st
    return None
