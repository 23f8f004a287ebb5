"""Automatic evidence findings of a case (A3 Art.8 items 1, 2, 5), read from the archive ledger.

Much of "is the evidence lawful and complete" is answerable from the ledger: each finding names the
entries behind it, so a reviewer (and later a court) can check it. The checks reuse what already
decides them elsewhere, never a second copy:

- every segment and text record of the case verifies — signature, chain (``ledger verify``'s
  problems on those entries) and blob hash (``archive.verify.hash_file`` over the blob store;
  purged blobs from ``archive.verify.purged_blobs``) (A2 Art.8, 9; A3 Art.8(2));
- every gap of the case's footage is justified and approved or has a technical cause
  (``ledger.gapstate``; A2 Art.8, 11);
- each recorder's clock was calibrated, and passed, before the segment (A2 Art.13);
- the officers on the footage and in the activities were enrolled with a valid enforcement
  certificate then (``ledger.cases.officer_problems``), at least two of them (A2 Art.14; A3 Art.8(1));
- activities of the kinds A2 Art.5 lists have footage, and the party was told (A2 Art.7; A3 Art.8(5));
- a major case is flagged long-term (A2 Art.10(5));
- every view of the footage was approved (A2 Art.17–18).

:func:`case_findings` gathers the facts; each ``*_findings`` function is pure over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bodycam.i18n import N_, Message
from ledger.cases import officer_problems
from ledger.records import Activity, Calibration, CaseOpen, Enrollment, Segment
from ledger.store import Entry, Ledger

#: A3 Art.8 items, in the regulation's order.
ART8_ITEMS: dict[int, str] = {
    1: N_("lawful body, qualified officers, within jurisdiction"),
    2: N_("facts clear, evidence lawful and sufficient"),
    3: N_("legal basis correct"),
    4: N_("discretion appropriate"),
    5: N_("procedure lawful"),
    6: N_("suspected crime to transfer"),
    7: N_("other"),
}
#: Finding codes, the A3 Art.8 item each bears on, and whether it makes the main evidence
#: unreliable ("failed": only re-investigation or transfer) or is a flaw ("flawed": correction).
CODES: dict[str, tuple[int, str]] = {
    "entry_invalid": (2, "failed"),
    "blob_altered": (2, "failed"),
    "blob_missing": (2, "failed"),
    "blob_purged": (2, "failed"),
    "gap_unjustified": (2, "flawed"),
    "gap_unapproved": (2, "flawed"),
    "no_calibration": (2, "flawed"),
    "calibration_failed": (2, "flawed"),
    "officer_unqualified": (1, "failed"),
    "too_few_officers": (1, "failed"),
    "activity_without_footage": (2, "flawed"),
    "party_not_told": (5, "flawed"),
    "long_term_missing": (5, "flawed"),
    "access_unapproved": (2, "flawed"),
}
ART5_TYPES = ("complaint_report", "inspection", "investigation", "coercive_measure", "evidence_preservation",
              "sampling")
OK_GAP_STATES = frozenset({"approved", "fault", "fault_approved", "not_required"})


@dataclass(frozen=True)
class Finding:
    code: str
    message: Message
    entries: tuple[str, ...]

    @property
    def item(self) -> int:
        return CODES[self.code][0]

    @property
    def severity(self) -> str:
        return CODES[self.code][1]

    def to_json(self) -> dict:
        return {"code": self.code, "item": self.item, "severity": self.severity, "message": str(self.message),
                "entries": list(self.entries)}


@dataclass
class CaseEvidence:
    """What the findings are computed from (read once from the ledger and the blob store)."""

    case_id: str
    case_open: tuple[str, CaseOpen] | None
    activities: list[tuple[str, Activity]]
    segments: list[tuple[str, Segment]]
    entry_problems: dict[str, list[str]]          # entry hash -> ledger verify problems
    blob_states: dict[str, tuple[str, str]]       # entry hash -> (sha256, "ok"|"altered"|"missing"|"purged")
    gaps: list[tuple[str, str, str | None, str]]  # (gap entry, state, explanation entry, device)
    calibrations: dict[str, list[tuple[int, str, str]]]  # device -> (measured_ns, result, entry), in time order
    enrolled: list[Enrollment]
    major: bool
    long_term: bool
    accesses: list[dict]


# --- the pure rules ------------------------------------------------------------------------------

def integrity_findings(ev: CaseEvidence) -> list[Finding]:
    out = []
    for h, problems in ev.entry_problems.items():
        out.append(Finding("entry_invalid", Message(N_("entry {entry} does not verify: {problems} (A2 Art.8, 9)"),
                                                    entry=h[:16], problems="; ".join(problems)), (h,)))
    for h, (sha, state) in ev.blob_states.items():
        if state == "altered":
            out.append(Finding("blob_altered", Message(N_("the file {blob} of entry {entry} was altered: it no longer "
                                                          "hashes to what was signed (A2 Art.8, 9)"),
                                                       blob=sha[:16], entry=h[:16]), (h,)))
        elif state == "missing":
            out.append(Finding("blob_missing", Message(N_("the file {blob} of entry {entry} is missing from the "
                                                          "archive (A2 Art.9, 22(3))"), blob=sha[:16],
                                                       entry=h[:16]), (h,)))
        elif state == "purged":
            out.append(Finding("blob_purged", Message(N_("the file {blob} of entry {entry} was purged by retention "
                                                         "(A2 Art.16)"), blob=sha[:16], entry=h[:16]), (h,)))
    return out


def gap_findings(ev: CaseEvidence) -> list[Finding]:
    out = []
    for h, state, explanation, device in ev.gaps:
        if state in OK_GAP_STATES:
            continue
        if state == "justified":
            out.append(Finding("gap_unapproved", Message(N_("gap {entry} on recorder {device} is justified but not "
                                                            "approved by the supervising leader (A2 Art.11)"),
                                                         entry=h[:16], device=device),
                               tuple(x for x in (h, explanation) if x)))
        else:
            out.append(Finding("gap_unjustified", Message(N_("gap {entry} on recorder {device} has no approved "
                                                             "justification and no technical cause (A2 Art.8, 11)"),
                                                          entry=h[:16], device=device),
                               tuple(x for x in (h, explanation) if x)))
    return out


def calibration_findings(ev: CaseEvidence) -> list[Finding]:
    out = []
    for h, seg in ev.segments:
        before = [c for c in ev.calibrations.get(seg.device_id, ()) if c[0] <= seg.start_ns]
        if not before:
            out.append(Finding("no_calibration", Message(N_("segment {seq} of recorder {device} was recorded without a "
                                                            "calibration before it (A2 Art.13)"),
                                                         seq=seg.seq, device=seg.device_id), (h,)))
        elif before[-1][1] != "passed":
            out.append(Finding("calibration_failed", Message(N_("the last calibration of recorder {device} before "
                                                                "segment {seq} did not pass (A2 Art.13)"),
                                                             seq=seg.seq, device=seg.device_id), (h, before[-1][2])))
    return out


def officer_findings(ev: CaseEvidence) -> list[Finding]:
    out = []
    for h, seg in ev.segments:
        for p in officer_problems([seg.officer_id], seg.start_ns, ev.enrolled):
            out.append(Finding("officer_unqualified", Message(N_("segment {seq} of recorder {device}: {problem}"),
                                                              seq=seg.seq, device=seg.device_id, problem=p), (h,)))
    for h, act in ev.activities:
        for p in officer_problems(act.officers, act.start_ns, ev.enrolled):
            out.append(Finding("officer_unqualified", Message(N_("activity {activity}: {problem}"),
                                                              activity=act.activity, problem=p), (h,)))
        if len(set(act.officers)) < 2:
            out.append(Finding("too_few_officers", Message(N_("activity {activity} was carried out by {n} officer(s); "
                                                              "at least two are required"),
                                                           activity=act.activity, n=len(set(act.officers))), (h,)))
    if ev.case_open is not None and not ev.activities and len(set(ev.case_open[1].officers)) < 2:
        out.append(Finding("too_few_officers", Message(N_("case {case_id} is handled by {n} officer(s); at least two "
                                                          "are required"), case_id=ev.case_id,
                                                       n=len(set(ev.case_open[1].officers))), (ev.case_open[0],)))
    return out


def activity_findings(ev: CaseEvidence) -> list[Finding]:
    out = []
    for h, act in ev.activities:
        if act.activity_type in ART5_TYPES:
            covered = [sh for sh, s in ev.segments
                       if (s.activity == act.activity or s.case_id == ev.case_id)
                       and s.start_ns <= act.end_ns and s.end_ns >= act.start_ns]
            if not covered:
                out.append(Finding("activity_without_footage",
                                   Message(N_("activity {activity} ({type}) has no footage (A2 Art.5)"),
                                           activity=act.activity, type=act.activity_type), (h,)))
        if act.party_notified_ns is None:
            out.append(Finding("party_not_told", Message(N_("activity {activity}: no record that the party was told it "
                                                            "was being recorded (A2 Art.7)"),
                                                         activity=act.activity), (h,)))
    return out


def retention_findings(ev: CaseEvidence) -> list[Finding]:
    if ev.major and not ev.long_term and ev.case_open is not None:
        return [Finding("long_term_missing", Message(N_("case {case_id} is major but its footage is not flagged "
                                                        "long-term (A2 Art.10(5))"), case_id=ev.case_id),
                        (ev.case_open[0],))]
    return []


def access_findings(ev: CaseEvidence) -> list[Finding]:
    return [Finding("access_unapproved", Message(N_("access {entry} by {by} to the footage was not approved by the "
                                                    "bureau head (A2 Art.17, 18)"), entry=row["entry"][:16],
                                                 by=row["by"]), (row["entry"],))
            for row in ev.accesses if row["outcome"] == "viewed" and not row.get("approved_by")]


RULES = (integrity_findings, gap_findings, calibration_findings, officer_findings, activity_findings,
         retention_findings, access_findings)


def evaluate(ev: CaseEvidence) -> list[Finding]:
    """Every finding of a case's evidence, by A3 Art.8 item."""
    out: list[Finding] = []
    for rule in RULES:
        out += rule(ev)
    return sorted(out, key=lambda f: (f.item, f.code))


# --- reading the facts ---------------------------------------------------------------------------

def _hash_states(entries: Iterable[tuple[str, str]], blob_root,
                 purged: Mapping[str, int]) -> dict[str, tuple[str, str]]:
    from archive.verify import hash_file
    from ledger.blobs import BlobStore

    store = BlobStore(blob_root)
    out = {}
    for h, sha in entries:
        if sha in purged:
            out[h] = (sha, "purged")
            continue
        path = store.blob_path(sha)
        if not path.exists():
            out[h] = (sha, "missing")
            continue
        actual, _size, error = hash_file(str(path))
        out[h] = (sha, "ok" if actual == sha else "missing" if error else "altered")
    return out


def gather(ledger: Ledger, blob_root, case_id: str, *, major: bool) -> CaseEvidence:
    """The facts of ``case_id`` the rules look at, from the ledger and the blob store at ``blob_root``."""
    from archive.access import access_log
    from archive.verify import purged_blobs
    from ledger.cases import case_retention
    from ledger.gapstate import enrollments, gap_statuses
    from ledger.verify import verify_ledger

    case_open = next(((e.entry_hash, e.record) for e in ledger.entries(kind="case_open", case_id=case_id)), None)
    activities = [(e.entry_hash, e.record) for e in ledger.entries(kind="activity", case_id=case_id)]
    act_ids = {a.activity for _h, a in activities}
    segs: list[Entry] = list(ledger.entries(kind="segment", case_id=case_id))
    seen = {e.entry_hash for e in segs}
    for act in sorted(act_ids):
        segs += [e for e in ledger.entries(kind="segment", activity=act) if e.entry_hash not in seen]
        seen |= {e.entry_hash for e in segs}
    segments = sorted(((e.entry_hash, e.record) for e in segs), key=lambda x: (x[1].device_id, x[1].seq))
    attachments = [(e.entry_hash, e.record.sha256) for e in ledger.entries(kind="attachment", case_id=case_id)]
    case_entries = {h for h, _ in segments} | {h for h, _ in attachments} | {h for h, _ in activities}
    if case_open is not None:
        case_entries.add(case_open[0])
    report = verify_ledger(ledger, workers=1)
    entry_problems: dict[str, list[str]] = {}
    for p in report.problems:
        if p.entry_hash in case_entries:
            entry_problems.setdefault(p.entry_hash, []).append(f"{p.check}: {p.message}")
    blob_states = _hash_states([(h, s.media.sha256) for h, s in segments] + attachments, blob_root,
                               purged_blobs(ledger))
    seqs = {(s.device_id, s.seq) for _h, s in segments}
    gaps = []
    for g in gap_statuses(ledger):
        gap = g.gap
        mine = (gap.case_id == case_id or (gap.activity is not None and gap.activity in act_ids)
                or (gap.device_id, gap.after_seq) in seqs or (gap.device_id, gap.before_seq) in seqs)
        if mine:
            gaps.append((g.entry_hash, g.state, g.explanation, gap.device_id))
    devices = {s.device_id for _h, s in segments}
    calibrations: dict[str, list[tuple[int, str, str]]] = {}
    for dev in sorted(devices):
        cals = [(e.record.measured_ns, e.record.result, e.entry_hash) for e in ledger.entries(kind="calibration",
                                                                                                device_id=dev)
                if isinstance(e.record, Calibration)]
        calibrations[dev] = sorted(cals)
    seg_hashes = {h for h, _ in segments}
    accesses = [row for row in access_log(ledger) if row["case_id"] == case_id or row["segment"] in seg_hashes]
    return CaseEvidence(case_id, case_open, activities, segments, entry_problems, blob_states, gaps, calibrations,
                        list(enrollments(ledger).values()), major,
                        case_retention(ledger, case_id).retention == "long_term", accesses)
