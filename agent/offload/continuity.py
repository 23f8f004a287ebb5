"""Continuity of a recorder's footage: order, chain, and find what is missing or wrong (A2 Art.8).

Art.8 forbids selective recording, after-the-fact recording, inserted footage and edits. The
dock cannot see what a recorder never wrote, but it can make every hole and every oddity
visible: segments of one device are ordered by their corrected start time and chained (``seq``
+1, never reset; ``prev`` = the previous segment's entry hash, the enrollment for the first),
and each of these becomes a ``gap`` record (A2 Art.11: a gap needs a justification) or a flag
on the segment:

- ``gap``: a pause between two consecutive segments longer than the bound (default 2 s);
- ``overlap``: a segment starting before the previous one ended;
- ``out_of_order``: a file older than footage already ledgered (after-the-fact insertion?);
- ``duplicate``: the same bytes again under another name (not appended twice);
- ``altered``: a name seen before with different bytes (appended, never replacing the first);
- ``missing_seq``: a hole in the sequence numbers already in the ledger.

Footage whose times are not on a known clock is flagged ``clock_unknown`` and compared in time
only with footage of the same docking: the recorder's clock could not be read or represented
(its times are kept uncorrected), or a file's own time cannot be written as a date (the dock's
receive time stands for it, flagged ``dock_receive_time``, and no time finding is made from it).
Footage is corrected with the offset in force when it was recorded (``Correction``, built per
file from the recorder's clock history, ``agent.clock.history``); where that history cannot
say, it is flagged ``time_uncertain``.

Everything here is pure (no I/O, no clock): the offload orchestrator feeds it facts and turns
its decisions into signed records, and the tests drive it with plain values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Literal

from agent.clock.measure import representable_time
from bodycam.i18n import N_, Message

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
DEFAULT_GAP_BOUND_NS = 2 * NS_PER_S
#: Recorders stamp files to the second: consecutive files may seem to overlap by that much.
DEFAULT_OVERLAP_TOLERANCE_NS = 1 * NS_PER_S

GapType = Literal["gap", "overlap", "missing_seq", "duplicate", "altered", "out_of_order"]
#: What each finding is called when shown to people (the record keeps the gap type).
GAP_TYPE_NAMES: dict[str, str] = {"gap": N_("gap"), "overlap": N_("overlap"), "missing_seq": N_("missing_seq"),
                                  "duplicate": N_("duplicate"), "altered": N_("altered"),
                                  "out_of_order": N_("out_of_order")}


def gap_type_name(gap_type: str) -> Message:
    """The finding's name for people ("gap" is 录制中断 in Chinese)."""
    return Message(GAP_TYPE_NAMES.get(gap_type, gap_type))
#: Segment flags of footage whose times are not on a known clock, and of times the dock supplied.
CLOCK_UNKNOWN = "clock_unknown"
RECEIVE_TIME = "dock_receive_time"
#: The recorder's clock history cannot say which offset was in force when the file was recorded.
TIME_UNCERTAIN = "time_uncertain"

# 20261130_081500, 2026-11-30T08-15-00, 20261130081500 … anywhere in the name
_STAMP = re.compile(
    r"(?<!\d)(20\d\d)[-_]?([01]\d)[-_]?([0-3]\d)[-_T ]?([0-2]\d)[-_:]?([0-5]\d)[-_:]?([0-5]\d)(?!\d)"
)


@dataclass(frozen=True)
class PriorSegment:
    """A segment of this device already in the ledger."""

    seq: int
    entry_hash: str
    source_name: str
    sha256: str
    start_ns: int
    end_ns: int
    binding: str | None = None   # the case or activity it was recorded for
    timed: bool = True           # False when flagged clock_unknown: its times say nothing of the others'


@dataclass(frozen=True)
class Candidate:
    """A newly offloaded file, described by what the recorder and the probe said."""

    source_name: str
    sha256: str
    device_start_ns: int
    duration_ms: int
    size: int = 0
    received: bool = False  # device_start_ns is the dock's receive time: the file's own cannot be a date


@dataclass(frozen=True)
class Correction:
    """The offset (device − reference) applied to a file's times, and what it is worth.

    Docking builds one per file from the recorder's clock history (``agent.clock.history``): the
    offset in force when the file was recorded, its ``uncertainty_ns`` and whether the history
    could say (``uncertain``: flagged ``time_uncertain``). Without a history it is the offset
    measured at docking for every file (uncertainty not stated)."""

    offset_ns: int = 0
    tolerance_ns: int = NS_PER_S
    calibration: str | None = None  # entry hash of the latest calibration record
    clock_unknown: bool = False  # the clock could not be read or represented: times kept uncorrected
    resolution_ns: int = 1  # a correction smaller than this changes nothing the clock can show: not flagged
    uncertainty_ns: int | None = None  # of the corrected time, when the history bounds it
    uncertain: bool = False  # the history cannot say which offset was in force: flagged time_uncertain
    reason: str = ""  # why it cannot

    def correct(self, device_ns: int) -> int:
        return device_ns if self.clock_unknown else device_ns - self.offset_ns

    def placeable(self, device_ns: int, duration_ms: int) -> bool:
        """Whether the footage's corrected start and end are times a record holds."""
        start = self.correct(device_ns)
        return representable_time(start) and representable_time(start + duration_ms * NS_PER_MS)

    @property
    def drifted(self) -> bool:
        return not self.clock_unknown and abs(self.offset_ns) > self.tolerance_ns

    @property
    def corrected(self) -> bool:
        """Whether the correction moved the time by at least the clock's resolution."""
        return not self.clock_unknown and self.offset_ns != 0 and abs(self.offset_ns) >= self.resolution_ns

    @property
    def flags(self) -> tuple[str, ...]:
        if self.clock_unknown:
            return (CLOCK_UNKNOWN,)
        out = ["time_corrected"] if self.corrected else []
        if self.drifted:
            out.append("clock_drifted")
        if self.uncertain:
            out.append(TIME_UNCERTAIN)
        return tuple(out)


@dataclass(frozen=True)
class Finding:
    gap_type: GapType
    detail: str
    source_name: str | None = None
    sha256: str | None = None
    after_seq: int | None = None
    before_seq: int | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    needs_justification: bool = True
    segments: tuple[str, ...] = ()   # sha256 of the media involved


@dataclass(frozen=True)
class ChainState:
    """Where a device's chain stands: what the next segment must carry, and what was seen."""

    next_seq: int
    prev: str
    last_seq: int | None = None
    last_start_ns: int | None = None
    last_end_ns: int | None = None
    last_sha256: str | None = None
    last_binding: str | None = None
    names: dict[str, frozenset[str]] = field(default_factory=dict)   # source_name → sha256s
    hashes: dict[str, str] = field(default_factory=dict)             # sha256 → first source_name


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    append: bool
    seq: int | None
    prev: str | None
    start_ns: int
    end_ns: int
    flags: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Policy:
    gap_bound_ns: int = DEFAULT_GAP_BOUND_NS
    overlap_tolerance_ns: int = DEFAULT_OVERLAP_TOLERANCE_NS


def device_start_from(source_name: str, mtime_ns: int, duration_ms: int = 0,
                      tz: tzinfo = UTC) -> tuple[str, int | None]:
    """When the recorder says a file started: the time stamped in its name, else mtime − duration.

    Recorders name files by their start and leave the mtime at the last write (the end). Returns
    the text as the recorder gave it (for ``device_start``; ``mtime:``-prefixed when derived) and
    nanoseconds since the epoch on the recorder's clock, before correction; None instead when
    that time is no date the dock can write (``agent.clock.measure.representable_time``): the
    caller then stands the dock's receive time in for it. ``tz`` is the recorder's time zone
    (profiles declare it).
    """
    base = source_name.rsplit("/", 1)[-1]
    m = _STAMP.search(base)
    if m:
        y, mo, d, h, mi, s = (int(g) for g in m.groups())
        try:
            dt = datetime(y, mo, d, h, mi, s, tzinfo=tz)
        except ValueError:
            dt = None
        if dt is not None:
            return m.group(0), (int(dt.timestamp()) * NS_PER_S)
    start_ns = mtime_ns - duration_ms * NS_PER_MS
    if not representable_time(start_ns):
        return f"mtime:{mtime_ns}ns", None
    dt = datetime.fromtimestamp(start_ns // NS_PER_S, tz=tz)
    text = "mtime:" + dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{start_ns % NS_PER_S:09d}" + dt.strftime("%z")
    return text, start_ns


def chain_state(prior: Iterable[PriorSegment], genesis: str) -> tuple[ChainState, list[Finding]]:
    """The chain after the ledgered segments of one device, and any holes in their sequence."""
    segs = sorted(prior, key=lambda p: p.seq)
    findings: list[Finding] = []
    names: dict[str, frozenset[str]] = {}
    hashes: dict[str, str] = {}
    expected = 0
    for p in segs:
        if p.seq != expected:
            findings.append(Finding(
                "missing_seq", Message(N_("sequence numbers {first}..{last} are missing from the ledger"),
                                    first=expected, last=p.seq - 1),
                after_seq=expected - 1 if expected else None, before_seq=p.seq))
        expected = p.seq + 1
        names[p.source_name] = names.get(p.source_name, frozenset()) | {p.sha256}
        hashes.setdefault(p.sha256, p.source_name)
    if not segs:
        return ChainState(0, genesis), findings
    last = segs[-1]
    latest_start = max((p.start_ns for p in segs if p.timed), default=None)
    latest_end = max((p.end_ns for p in segs if p.timed), default=None)
    return ChainState(last.seq + 1, last.entry_hash, last.seq, latest_start, latest_end, last.sha256,
                      last.binding, names, hashes), findings


def on_unknown_clock(state: ChainState) -> ChainState:
    """The chain for footage of a clock_unknown docking: its times are compared only with each other."""
    return replace(state, last_start_ns=None, last_end_ns=None)


def order_candidates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Offload order: by the recorder's start time, then name, then hash (stable, total); files
    whose time the dock supplied come last."""
    return sorted(candidates, key=lambda c: (c.received, c.device_start_ns, c.source_name, c.sha256))


def decide(state: ChainState, cand: Candidate, corr: Correction, policy: Policy = Policy(),
           binding: str | None = None) -> Decision:
    """What to do with one candidate given the chain so far.

    ``binding`` is the case or activity the new footage belongs to: a pause is a ``gap`` only
    inside one activity (A2 Art.8: from start to end of the activity); the break between one
    case's footage and the next is not. Overlaps and out-of-order files count regardless.
    """
    if cand.received:
        start, flags = cand.device_start_ns, [CLOCK_UNKNOWN, RECEIVE_TIME]
    else:
        start, flags = corr.correct(cand.device_start_ns), list(corr.flags)
    end = start + cand.duration_ms * NS_PER_MS
    findings: list[Finding] = []

    seen_name = state.hashes.get(cand.sha256)
    if seen_name is not None:
        if seen_name == cand.source_name:
            return Decision(cand, False, None, None, start, end)  # already offloaded: nothing new
        findings.append(Finding(
            "duplicate", Message(N_("{name!r} holds the same bytes as {other!r}; not appended twice"),
                              name=cand.source_name, other=seen_name),
            cand.source_name, cand.sha256, needs_justification=False, segments=(cand.sha256,)))
        return Decision(cand, False, None, None, start, end, tuple(flags), tuple(findings))

    known = state.names.get(cand.source_name)
    if known:
        flags.append("altered")
        findings.append(Finding(
            "altered", Message(N_("{name!r} was offloaded before with other bytes ({hashes}); both are kept"),
                            name=cand.source_name, hashes=", ".join(sorted(known))), cand.source_name, cand.sha256,
            after_seq=state.last_seq, before_seq=state.next_seq, segments=(*sorted(known), cand.sha256)))

    if cand.received:
        pass  # the dock's receive time says nothing of when it was recorded: no time finding
    elif state.last_start_ns is not None and start < state.last_start_ns:
        flags.append("out_of_order")
        findings.append(Finding(
            "out_of_order", Message(N_("{name!r} starts before footage already ledgered"), name=cand.source_name),
            cand.source_name, cand.sha256, after_seq=state.last_seq, before_seq=state.next_seq,
            start_ns=start, end_ns=state.last_start_ns, segments=(cand.sha256,)))
    elif state.last_end_ns is not None:
        pause = start - state.last_end_ns
        if pause > policy.gap_bound_ns and binding == state.last_binding:
            findings.append(Finding(
                "gap", Message(N_("no footage for {seconds:.3f} s before {name!r}"), seconds=pause / NS_PER_S,
                            name=cand.source_name),
                cand.source_name, cand.sha256, after_seq=state.last_seq, before_seq=state.next_seq,
                start_ns=state.last_end_ns, end_ns=start,
                segments=tuple(s for s in (state.last_sha256, cand.sha256) if s)))
        elif -pause > policy.overlap_tolerance_ns:
            flags.append("overlap")
            findings.append(Finding(
                "overlap", Message(N_("{name!r} starts {seconds:.3f} s before the previous segment ended"),
                                name=cand.source_name, seconds=-pause / NS_PER_S), cand.source_name, cand.sha256,
                after_seq=state.last_seq, before_seq=state.next_seq, start_ns=start, end_ns=state.last_end_ns,
                segments=tuple(s for s in (state.last_sha256, cand.sha256) if s)))
    return Decision(cand, True, state.next_seq, state.prev, start, end, tuple(dict.fromkeys(flags)),
                    tuple(findings))


def advance(state: ChainState, d: Decision, entry_hash: str | None = None,
            binding: str | None = None) -> ChainState:
    """The chain after acting on ``d`` (``entry_hash``: hash of the appended segment envelope)."""
    if not d.append:
        return state
    if entry_hash is None:
        raise ValueError("an appended segment needs its entry hash to chain the next one")
    c = d.candidate
    names = dict(state.names)
    hashes = dict(state.hashes)
    names[c.source_name] = names.get(c.source_name, frozenset()) | {c.sha256}
    hashes.setdefault(c.sha256, c.source_name)
    last_start, last_end = state.last_start_ns, state.last_end_ns
    if not c.received:
        last_start = d.start_ns if last_start is None else max(d.start_ns, last_start)
        last_end = d.end_ns if last_end is None else max(d.end_ns, last_end)
    return replace(
        state, next_seq=state.next_seq + 1, prev=entry_hash, last_seq=d.seq, last_start_ns=last_start,
        last_end_ns=last_end, last_sha256=c.sha256, last_binding=binding, names=names, hashes=hashes)


def plan(prior: Sequence[PriorSegment], genesis: str, candidates: Iterable[Candidate], corr: Correction,
         seal: Callable[[Decision], str], policy: Policy = Policy(),
         binding: str | None = None) -> tuple[list[Decision], list[Finding]]:
    """Decide every candidate in order; ``seal`` appends an accepted one and returns its entry hash.

    Returns the decisions and all findings (ledger holes first, then per candidate).
    """
    state, findings = chain_state(prior, genesis)
    decisions = []
    for cand in order_candidates(candidates):
        d = decide(state, cand, corr, policy, binding)
        state = advance(state, d, seal(d) if d.append else None, binding)
        decisions.append(d)
        findings.extend(d.findings)
    return decisions, findings
