"""Explaining a gap at the dock: the officer's justification, a technical fault, the supervisor's
review (A2 Art.8, 11).

Each function checks everything a verifier will check later (``ledger.gapstate``) before appending,
and refuses with a message saying what to do: a key not enrolled, an officer key that is not that
officer's, a reason 1 or 3 without the requester's signature, a blank or unreadable signature image,
an image or a requester signature made for another gap. The requester signs with a key either at
the dock (``requester``) or elsewhere, over the same body (``requester_envelope``, see
``requester_sign``); both end up as a second DSSE signature on the one justification envelope.

A gap has one standing explanation: a second justification is refused unless it names the one it
replaces (``supersedes``, ``bodycam justify --supersede ID``). The supervisor approves a record by
its id or by the gap's id when the gap has exactly one explanation awaiting review.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from agent.signature_image import SignatureImage, check_signature_image, store_signature_image
from agent.store import DockStore
from bodycam.errors import BodycamError, RefusedError
from bodycam.i18n import N_, _
from ledger.envelope import Envelope, body, seal
from ledger.gapstate import (
    REQUESTER_REASONS,
    STOP_GAP_TYPES,
    ExplanationStatus,
    GapStatus,
    approval_problems,
    enrollments,
    explanation_problems,
    explanations,
    gap_status,
)
from ledger.keys import Signer
from ledger.people import APPROVE_ROLES, JUSTIFY_ROLES, require_person_key, valid_signers
from ledger.records import (
    FAULT_CAUSES,
    Gap,
    GapFault,
    Requester,
    StopApproval,
    StopJustification,
    make_body,
    validate_body,
)
from ledger.store import Entry, Ledger

log = logging.getLogger(__name__)

ART11_REASONS: dict[int, str] = {
    1: N_("an informant or witness explicitly asked"),
    2: N_("on public transport where recording cannot be used"),
    3: N_("state secrets, trade secrets or personal privacy"),
    4: N_("weather or other natural causes"),
    5: N_("other"),
}
"""The A2 Art.11 reasons in English (``--json``, records); ``_(ART11_REASONS[n])`` for people."""
_HEX_PREFIX = re.compile(r"^[0-9a-f]{6,64}$")


def resolve_entry(ledger: Ledger, ref: str, kinds: tuple[str, ...]) -> Entry:
    """An entry of one of ``kinds`` by full entry hash or unique prefix (≥ 6 hex digits), as
    ``bodycam gaps`` prints them."""
    ref = ref.strip().lower()
    what = " or ".join(kinds)
    if not _HEX_PREFIX.match(ref):
        raise BodycamError(_("{ref!r} is not an entry hash; use the id `bodycam gaps` shows (6+ hex digits)")
                           .format(ref=ref))
    if len(ref) == 64:
        entry = ledger.by_hash(ref)
        matches = [entry] if entry is not None and entry.kind in kinds else []
    else:
        matches = [e for k in kinds for e in ledger.entries(kind=k) if e.entry_hash.startswith(ref)]
    if not matches:
        raise BodycamError(_("no {kind} {ref} in {ledger}; list them with `bodycam gaps`").format(
            kind=what, ref=ref, ledger=ledger.path))
    if len(matches) > 1:
        raise BodycamError(_("{ref} matches {count} entries; give more digits").format(ref=ref, count=len(matches)))
    return matches[0]


def _gap_of(ledger: Ledger, gap_ref: str) -> tuple[Entry, Gap]:
    entry = resolve_entry(ledger, gap_ref, ("gap",))
    gap = entry.record
    assert isinstance(gap, Gap)
    if not gap.needs_justification:
        raise RefusedError(_("gap {gap} ({gap_type}) needs no justification").format(
            gap=entry.entry_hash[:12], gap_type=gap.gap_type))
    return entry, gap


def _refuse_if_closed(ledger: Ledger, entry: Entry) -> None:
    st = gap_status(ledger, entry.entry_hash)
    if st is not None and st.state in ("approved", "fault_approved"):
        raise RefusedError(_("gap {gap} is already explained and approved (by {supervisor}, approval {approval}); "
                             "nothing to do").format(gap=entry.entry_hash[:12], supervisor=st.supervisor_id,
                                                     approval=st.approval[:12] if st.approval else ""))


def explanation_label(x: ExplanationStatus) -> str:
    """``justification 9f8e7d6c5b4a (reason 4, officer-7)`` / ``fault … (battery, officer-7)``."""
    rec = x.record
    if isinstance(rec, StopJustification):
        return _("justification {id} (reason {reason}, {officer})").format(id=x.entry_hash[:12], reason=rec.reason,
                                                                           officer=rec.officer_id)
    return _("fault {id} ({cause}, {officer})").format(id=x.entry_hash[:12], cause=rec.cause, officer=rec.officer_id)


def _supersede(ledger: Ledger, gap_entry: Entry, st: GapStatus | None, supersedes: str | None) -> str | None:
    """The full entry hash a new justification replaces; refuses a second one that names none."""
    standing = [x for x in st.explanations if x.standing] if st is not None else []
    gid = gap_entry.entry_hash[:12]
    if supersedes is None:
        if standing:
            x = standing[-1]
            msg = (_("gap {gap} already has {explanation}, approved: a gap has one explanation; to replace it, "
                     "justify again with `bodycam justify {gap} ... --supersede {id}`") if x.review == "approved"
                   else _("gap {gap} already has {explanation}, awaiting review: a gap has one explanation; to "
                          "replace it, justify again with `bodycam justify {gap} ... --supersede {id}`"))
            raise RefusedError(msg.format(gap=gid, explanation=explanation_label(x), id=x.entry_hash[:12]))
        return None
    target = resolve_entry(ledger, supersedes, ("stop_justification", "gap_fault"))
    if target.body.get("gap") != gap_entry.entry_hash:
        raise RefusedError(_("{kind} {id} explains another gap ({other}), not {gap}").format(
            kind=target.kind, id=target.entry_hash[:12], other=str(target.body.get("gap"))[:12], gap=gid))
    return target.entry_hash


def justification_body(gap_entry: Entry, *, reason: int, officer_id: str, note: str, basis: str | None = None,
                       requester: Requester | None = None, supersedes: str | None = None) -> StopJustification:
    """The body an officer signs for ``gap_entry``: bound to the gap by its entry hash and restating
    its device, sequence numbers and times, so it can explain no other gap; ``supersedes``: the
    entry hash of the explanation it replaces."""
    gap = gap_entry.record
    assert isinstance(gap, Gap)
    if reason not in ART11_REASONS:
        raise RefusedError(_("reason {reason} is not an A2 Art.11 item; use 1–5: {reasons}").format(
            reason=reason, reasons="; ".join(f"{k} {_(v)}" for k, v in ART11_REASONS.items())))
    if not note.strip():
        raise RefusedError(_("--note (the officer's work record: what happened and why) must not be empty"))
    if reason in REQUESTER_REASONS and requester is None:
        raise RefusedError(_("reason {reason} ({text}) needs the requester's signature or seal (A2 Art.11): give "
                             "--requester-name and --requester-signature IMAGE, or --requester-key").format(
            reason=reason, text=_(ART11_REASONS[reason])))
    try:
        return StopJustification(gap=gap_entry.entry_hash, device_id=gap.device_id, after_seq=gap.after_seq,
                                 before_seq=gap.before_seq, start_ns=gap.start_ns, end_ns=gap.end_ns,
                                 reason=reason, officer_id=officer_id, note=note, basis=basis,
                                 requester=requester, supersedes=supersedes)
    except ValueError as exc:
        raise RefusedError(_("cannot build the justification: {error}").format(error=exc)) from None


@dataclass(frozen=True)
class JustifyResult:
    entry: Entry
    image: SignatureImage | None

    def to_json(self) -> dict:
        rec = self.entry.record
        assert isinstance(rec, StopJustification)
        return {"justification": self.entry.entry_hash, "idx": self.entry.idx, "gap": rec.gap,
                "reason": rec.reason, "officer_id": rec.officer_id, "supersedes": rec.supersedes,
                "requester": rec.requester.model_dump(exclude_none=True) if rec.requester else None,
                "signature_image": self.image.to_json() if self.image else None,
                "signers": self.entry.envelope.keyids}


def _image_used_elsewhere(ledger: Ledger, sha256: str, gap_hash: str) -> str | None:
    for e in ledger.entries(kind="stop_justification"):
        req = e.body.get("requester") or {}
        if req.get("signature_image_sha256") == sha256 and e.body.get("gap") != gap_hash:
            return e.body.get("gap")
    return None


def requester_sign(ledger: Ledger, gap_ref: str, requester: Signer, *, reason: int, officer_id: str, note: str,
                   requester_name: str | None = None, basis: str | None = None,
                   supersedes: str | None = None) -> Envelope:
    """The requester's signature over the justification body, made where the requester is (a
    detached step): the officer later passes the envelope to ``justify_gap``."""
    gap_entry, _gap = _gap_of(ledger, gap_ref)
    supersedes = _supersede(ledger, gap_entry, gap_status(ledger, gap_entry.entry_hash), supersedes)
    person = ledger.enrollment(requester.keyid)
    if person is None or person.subject_type != "person":
        raise RefusedError(_("the requester key {keyid}… is not enrolled in this ledger as a person; enroll it "
                             "with `bodycam person enroll` first").format(keyid=requester.keyid[:16]))
    requester_name = requester_name or person.name or person.subject_id
    rec = justification_body(gap_entry, reason=reason, officer_id=officer_id, note=note, basis=basis,
                             requester=Requester(name=requester_name, keyid=requester.keyid), supersedes=supersedes)
    return seal(rec, requester)


def justify_gap(ledger: Ledger, store: DockStore | None, gap_ref: str, *, reason: int, officer_id: str,
                officer: Signer, note: str, basis: str | None = None, requester_name: str | None = None,
                requester_image: Path | str | None = None, requester: Signer | None = None,
                requester_envelope: Envelope | None = None, supersedes: str | None = None) -> JustifyResult:
    """Append the officer's ``stop_justification`` for a gap (A2 Art.11); see the module docstring.
    ``supersedes``: id of the gap's standing justification or fault this one replaces (required
    when there is one)."""
    gap_entry, gap = _gap_of(ledger, gap_ref)
    if gap.gap_type not in STOP_GAP_TYPES:
        raise RefusedError(_("gap {gap} is an {gap_type} finding, not a pause in recording; record its cause with "
                             "`bodycam gaps fault {gap} --cause ...` instead").format(gap=gap_entry.entry_hash[:12],
                                                                                     gap_type=gap.gap_type))
    _refuse_if_closed(ledger, gap_entry)
    require_person_key(ledger, officer, officer_id, JUSTIFY_ROLES, "officer")
    supersedes = _supersede(ledger, gap_entry, gap_status(ledger, gap_entry.entry_hash), supersedes)
    if requester is not None and requester_envelope is not None:
        raise BodycamError(_("give the requester's key or their signed envelope, not both"))

    signed_body: StopJustification | None = None
    req_sig: tuple[str, bytes] | None = None
    if requester_envelope is not None:
        try:
            other = validate_body(body(requester_envelope))
        except BodycamError as exc:
            raise RefusedError(_("the requester's envelope is not a justification: {error}").format(error=exc)) \
                from None
        if not isinstance(other, StopJustification) or other.requester is None or not other.requester.keyid:
            raise RefusedError(_("the requester's envelope is not a justification signed by a requester key"))
        if other.gap != gap_entry.entry_hash:
            raise RefusedError(_("the requester's signature is over another gap ({other}), not {gap}; the requester "
                                 "must sign this gap's justification").format(other=other.gap[:12],
                                                                             gap=gap_entry.entry_hash[:12]))
        keyid = other.requester.keyid
        sig = dict(requester_envelope.signatures).get(keyid)
        pub = ledger.keyring().get(keyid)
        if pub is None:
            raise RefusedError(_("the requester key {keyid}… is not enrolled in this ledger; enroll it with "
                                 "`bodycam person enroll` first").format(keyid=keyid[:16]))
        if sig is None or not pub.verify(sig, requester_envelope.pae()):
            raise RefusedError(_("the requester's signature does not verify over the justification it carries"))
        signed_body = other
        req_sig = (keyid, sig)

    req: Requester | None = None
    image: SignatureImage | None = None
    if requester_image is not None:
        if store is None:
            raise BodycamError(_("a signature image needs the dock store to keep it; configure [agent] store_dir"))
        if not requester_name:
            raise RefusedError(_("--requester-name is required with --requester-signature (whose signature is "
                                 "it?)"))
        image, _pixels = check_signature_image(requester_image)  # refuse before anything is stored
        used = _image_used_elsewhere(ledger, image.sha256, gap_entry.entry_hash)
        if used:
            raise RefusedError(_("this signature image was already given for another gap ({gap}); the requester "
                                 "must sign for this stop").format(gap=used[:12]))
    if requester is not None:
        person = ledger.enrollment(requester.keyid)
        if person is None or person.subject_type != "person":
            raise RefusedError(_("the requester key {keyid}… is not enrolled in this ledger as a person; enroll it "
                                 "with `bodycam person enroll` first, or capture a signature image").format(
                keyid=requester.keyid[:16]))
        if requester.keyid == officer.keyid:
            raise RefusedError(_("the requester cannot be the officer: the requester's own signature is needed"))
        req = Requester(name=requester_name or person.name or person.subject_id, keyid=requester.keyid,
                        signature_image_sha256=image.sha256 if image else None)
    elif image is not None:
        assert requester_name is not None
        req = Requester(name=requester_name, signature_image_sha256=image.sha256)
    elif requester_name and reason not in REQUESTER_REASONS:
        req = Requester(name=requester_name)

    if signed_body is not None:
        if req is not None and req.signature_image_sha256:
            raise BodycamError(_("give the requester's signed envelope or a signature image, not both"))
        mine = justification_body(gap_entry, reason=reason, officer_id=officer_id, note=note, basis=basis,
                                  requester=signed_body.requester, supersedes=supersedes)
        if make_body(mine) != make_body(signed_body):
            differ = [k for k, v in make_body(mine).items() if make_body(signed_body).get(k) != v]
            raise RefusedError(_("the requester signed a different justification ({fields} differ); the requester "
                                 "must sign exactly what the officer records").format(fields=", ".join(differ)))
        rec = signed_body
    else:
        rec = justification_body(gap_entry, reason=reason, officer_id=officer_id, note=note, basis=basis,
                                 requester=req, supersedes=supersedes)

    signers = [officer] + ([requester] if requester is not None else [])
    env = seal(rec, signers)
    if req_sig is not None:
        env = Envelope(env.payload_type, env.payload, env.signatures + (req_sig,))
    problems = explanation_problems(rec, gap_entry.record, set(env.keyids), enrollments(ledger))  # type: ignore[arg-type]
    problems += explanations(ledger).order_problems(rec)
    if problems:
        raise RefusedError(_("the justification would not be valid"), problems)
    if image is not None:
        assert store is not None and requester_image is not None
        store_signature_image(store, requester_image)
    entry = ledger.append(env, require_trusted=True)
    log.info("gap %s justified by %s (reason %d): %s", gap_entry.entry_hash[:12], officer_id, reason,
             entry.entry_hash[:12])
    return JustifyResult(entry, image)


def record_fault(ledger: Ledger, gap_ref: str, *, cause: str, officer_id: str, officer: Signer,
                 note: str) -> Entry:
    """Append a ``gap_fault``: the gap was a technical fault (A2 Art.8), not a decision to stop."""
    if cause not in FAULT_CAUSES:
        raise RefusedError(_("unknown cause {cause!r}; use one of {causes}").format(cause=cause,
                                                                                   causes=", ".join(FAULT_CAUSES)))
    if not note.strip():
        raise RefusedError(_("--note (what failed and when) must not be empty"))
    gap_entry, gap = _gap_of(ledger, gap_ref)
    _refuse_if_closed(ledger, gap_entry)
    require_person_key(ledger, officer, officer_id, JUSTIFY_ROLES, "officer")
    rec = GapFault(gap=gap_entry.entry_hash, device_id=gap.device_id, after_seq=gap.after_seq,
                   before_seq=gap.before_seq, start_ns=gap.start_ns, end_ns=gap.end_ns, cause=cause,
                   officer_id=officer_id, note=note)
    problems = explanation_problems(rec, gap, {officer.keyid}, enrollments(ledger))
    if problems:
        raise RefusedError(_("the fault record would not be valid"), problems)
    return ledger.append(seal(rec, officer), require_trusted=True)


def resolve_review_target(ledger: Ledger, ref: str) -> Entry:
    """The justification or fault a supervisor means by ``ref``: its own id, or the id of its gap
    when exactly one of the gap's explanations awaits review (otherwise a message listing them)."""
    entry = resolve_entry(ledger, ref, ("stop_justification", "gap_fault", "gap"))
    if entry.kind != "gap":
        return entry
    gid = entry.entry_hash[:12]
    st = gap_status(ledger, entry.entry_hash)
    if st is None or st.state == "not_required":
        raise RefusedError(_("gap {gap} needs no justification: nothing to approve").format(gap=gid))
    if st.approved:
        raise RefusedError(_("gap {gap} is already approved (approval {approval} by {supervisor}); nothing to do")
                           .format(gap=gid, approval=(st.approval or "")[:12], supervisor=st.supervisor_id))
    waiting = st.awaiting_review
    if len(waiting) == 1:
        found = ledger.by_hash(waiting[0].entry_hash)
        assert found is not None
        return found
    if not waiting:
        if st.state == "rejected":
            raise RefusedError(_("gap {gap}: its explanation was rejected and nothing new awaits review; the officer "
                                 "justifies again with `bodycam justify {gap} ...`").format(gap=gid))
        raise RefusedError(_("gap {gap} has no justification or fault record to approve yet; the officer records "
                             "one with `bodycam justify {gap} ...` or `bodycam gaps fault {gap} ...`").format(gap=gid))
    listing = "\n".join(f"  {explanation_label(x)}: `bodycam approve {x.entry_hash[:12]} --supervisor ID --key FILE`"
                         for x in waiting)
    raise BodycamError(_("gap {gap} has {count} explanations awaiting review; approve one by its id:\n{listing}")
                       .format(gap=gid, count=len(waiting), listing=listing))


def approve(ledger: Ledger, target_ref: str, *, supervisor_id: str, supervisor: Signer, note: str = "",
            decision: str = "approved", now_ns: int | None = None) -> Entry:
    """Append the supervisor's ``stop_approval`` of a justification or fault record (A2 Art.11).
    ``target_ref``: the record's id, or its gap's id when the gap has one explanation awaiting review."""
    entry = resolve_review_target(ledger, target_ref)
    rec = entry.record
    assert isinstance(rec, (StopJustification, GapFault))
    require_person_key(ledger, supervisor, supervisor_id, APPROVE_ROLES, "supervisor")
    gap_entry = ledger.by_hash(rec.gap)
    gap = gap_entry.record if gap_entry is not None and gap_entry.idx < entry.idx else None
    enrolled = enrollments(ledger)
    target_problems = explanation_problems(rec, gap if isinstance(gap, Gap) else None,
                                           valid_signers(entry.envelope, ledger.keyring()), enrolled)
    if target_problems:
        raise RefusedError(_("{kind} {id} is not valid and cannot be approved").format(
            kind=entry.kind, id=entry.entry_hash[:12]), target_problems)
    st = gap_status(ledger, rec.gap)
    if st is not None and st.explanation == entry.entry_hash and st.state in ("approved", "fault_approved"):
        raise RefusedError(_("{kind} {id} is already approved (approval {approval} by {supervisor})").format(
            kind=entry.kind, id=entry.entry_hash[:12], approval=(st.approval or "")[:12],
            supervisor=st.supervisor_id))
    replaced_by = explanations(ledger).replaced_by.get(entry.entry_hash)
    if replaced_by is not None:
        raise RefusedError(_("{kind} {id} was replaced by justification {other}; review that one: `bodycam approve "
                             "{other} --supervisor ID --key FILE`").format(kind=entry.kind, id=entry.entry_hash[:12],
                                                                           other=replaced_by[:12]))
    approval = StopApproval(target=entry.entry_hash, target_kind=entry.kind, gap=rec.gap,
                            supervisor_id=supervisor_id, decision=decision, note=note,
                            reviewed_ns=time.time_ns() if now_ns is None else now_ns)
    problems = approval_problems(approval, rec, True, {supervisor.keyid}, enrolled)
    if problems:
        raise RefusedError(_("the approval would not be valid"), problems)
    return ledger.append(seal(approval, supervisor), require_trusted=True)


__all__ = ["ART11_REASONS", "JustifyResult", "approve", "explanation_label", "justification_body", "justify_gap",
           "record_fault", "requester_sign", "resolve_entry", "resolve_review_target"]
