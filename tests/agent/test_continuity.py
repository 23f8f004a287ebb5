"""Continuity, pure: ordering, seq/prev chaining, gaps, overlaps, out-of-order, duplicates,
altered files and clock correction (A2 Art.8, 11, 13). No I/O."""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta, timezone

import pytest

from agent.offload.continuity import (
    NS_PER_S,
    Candidate,
    ChainState,
    Correction,
    Policy,
    PriorSegment,
    advance,
    chain_state,
    decide,
    device_start_from,
    order_candidates,
    plan,
)

GENESIS = "e" * 64
T0 = 1_796_000_000 * NS_PER_S


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cand(name: str, start_s: float, dur_s: float = 60, data: str | None = None) -> Candidate:
    return Candidate(name, h(data or name), T0 + int(start_s * NS_PER_S), int(dur_s * 1000))


def fake_seal(d):
    return h(f"env-{d.seq}-{d.candidate.sha256}")


def test_first_segments_chain_from_enrollment_and_count_up():
    decisions, findings = plan([], GENESIS, [cand("b", 60), cand("a", 0)], Correction(), fake_seal)
    assert [d.candidate.source_name for d in decisions] == ["a", "b"]
    assert [d.seq for d in decisions] == [0, 1]
    assert decisions[0].prev == GENESIS
    assert decisions[1].prev == fake_seal(decisions[0])
    assert findings == []
    assert decisions[0].start_ns == T0 and decisions[0].end_ns == T0 + 60 * NS_PER_S


def test_chain_continues_after_ledgered_segments_never_resets():
    prior = [PriorSegment(0, "1" * 64, "a", h("a"), T0, T0 + 60 * NS_PER_S),
             PriorSegment(1, "2" * 64, "b", h("b"), T0 + 60 * NS_PER_S, T0 + 120 * NS_PER_S)]
    decisions, findings = plan(prior, GENESIS, [cand("c", 120)], Correction(), fake_seal)
    assert (decisions[0].seq, decisions[0].prev) == (2, "2" * 64)
    assert findings == []


def test_gap_above_bound_is_a_finding_below_is_not():
    decisions, findings = plan([], GENESIS, [cand("a", 0), cand("b", 61.5), cand("c", 125)],
                               Correction(), fake_seal)
    assert [f.gap_type for f in findings] == ["gap"]
    g = findings[0]
    assert (g.after_seq, g.before_seq) == (1, 2)
    assert (g.start_ns, g.end_ns) == (T0 + int(121.5 * NS_PER_S), T0 + 125 * NS_PER_S)
    assert g.needs_justification and g.segments == (h("b"), h("c"))
    assert all(d.append for d in decisions)
    # the bound is configurable
    _, findings = plan([], GENESIS, [cand("a", 0), cand("b", 61.5)], Correction(), fake_seal,
                       Policy(gap_bound_ns=NS_PER_S))
    assert [f.gap_type for f in findings] == ["gap"]


def test_a_pause_between_two_activities_is_not_a_gap():
    prior = [PriorSegment(0, "1" * 64, "a", h("a"), T0, T0 + 60 * NS_PER_S, binding="case-1")]
    _, findings = plan(prior, GENESIS, [cand("b", 3600)], Correction(), fake_seal, binding="case-2")
    assert findings == []
    _, findings = plan(prior, GENESIS, [cand("b", 3600)], Correction(), fake_seal, binding="case-1")
    assert [f.gap_type for f in findings] == ["gap"]


def test_overlap_is_flagged_beyond_the_clock_resolution():
    decisions, findings = plan([], GENESIS, [cand("a", 0), cand("b", 59.5), cand("c", 100)],
                               Correction(), fake_seal)
    assert [f.gap_type for f in findings] == ["overlap"]
    assert findings[0].source_name == "c"
    assert "overlap" in decisions[2].flags and decisions[2].append


def test_out_of_order_file_after_ledgered_footage():
    prior = [PriorSegment(0, "1" * 64, "b", h("b"), T0 + 600 * NS_PER_S, T0 + 660 * NS_PER_S)]
    decisions, findings = plan(prior, GENESIS, [cand("a", 0)], Correction(), fake_seal)
    assert [f.gap_type for f in findings] == ["out_of_order"]
    assert decisions[0].append and decisions[0].seq == 1 and "out_of_order" in decisions[0].flags


def test_same_bytes_again_are_not_appended_twice():
    prior = [PriorSegment(0, "1" * 64, "a", h("a"), T0, T0 + 60 * NS_PER_S)]
    # same name, same bytes: already offloaded, silently nothing to do
    decisions, findings = plan(prior, GENESIS, [cand("a", 0)], Correction(), fake_seal)
    assert not decisions[0].append and findings == []
    # other name, same bytes: a duplicate finding, still not appended
    decisions, findings = plan(prior, GENESIS, [cand("copy", 60, data="a")], Correction(), fake_seal)
    assert not decisions[0].append
    assert [f.gap_type for f in findings] == ["duplicate"] and not findings[0].needs_justification
    # twice in the same batch
    decisions, findings = plan([], GENESIS, [cand("x", 0), cand("y", 60, data="x")], Correction(), fake_seal)
    assert [d.append for d in decisions] == [True, False]
    assert [f.gap_type for f in findings] == ["duplicate"]


def test_altered_file_is_kept_and_flagged():
    prior = [PriorSegment(0, "1" * 64, "a", h("a"), T0, T0 + 60 * NS_PER_S)]
    decisions, findings = plan(prior, GENESIS, [cand("a", 60, data="edited")], Correction(), fake_seal)
    assert decisions[0].append and "altered" in decisions[0].flags
    assert [f.gap_type for f in findings] == ["altered"]
    assert findings[0].segments == (h("a"), h("edited"))


def test_missing_sequence_numbers_in_the_ledger():
    prior = [PriorSegment(0, "1" * 64, "a", h("a"), T0, T0 + 60 * NS_PER_S),
             PriorSegment(3, "4" * 64, "d", h("d"), T0 + 60 * NS_PER_S, T0 + 120 * NS_PER_S)]
    state, findings = chain_state(prior, GENESIS)
    assert [f.gap_type for f in findings] == ["missing_seq"]
    assert (findings[0].after_seq, findings[0].before_seq) == (0, 3)
    assert state.next_seq == 4 and state.prev == "4" * 64


def test_clock_correction_keeps_device_time_and_flags_drift():
    c = cand("a", 0)
    small = Correction(offset_ns=300_000_000, tolerance_ns=NS_PER_S)
    d = decide(ChainState(0, GENESIS), c, small)
    assert d.start_ns == c.device_start_ns - 300_000_000
    assert d.flags == ("time_corrected",)
    drift = Correction(offset_ns=-5 * NS_PER_S, tolerance_ns=NS_PER_S)
    d = decide(ChainState(0, GENESIS), c, drift)
    assert d.start_ns == c.device_start_ns + 5 * NS_PER_S
    assert d.flags == ("time_corrected", "clock_drifted")
    assert decide(ChainState(0, GENESIS), c, Correction()).flags == ()


def test_advance_requires_the_entry_hash():
    d = decide(ChainState(0, GENESIS), cand("a", 0), Correction())
    with pytest.raises(ValueError):
        advance(ChainState(0, GENESIS), d)
    s = advance(ChainState(0, GENESIS), d, "f" * 64)
    assert (s.next_seq, s.prev, s.last_seq) == (1, "f" * 64, 0)


def test_order_is_total_and_stable():
    cs = [cand("b", 0, data="2"), cand("a", 0, data="1"), cand("c", -5)]
    assert [c.source_name for c in order_candidates(cs)] == ["c", "a", "b"]


@pytest.mark.parametrize("name, text, expected", [
    ("AMBA20261130081500_0001.mp4", "20261130081500", "2026-11-30T08:15:00+00:00"),
    ("RECORD/20261130081500_00001.avi", "20261130081500", "2026-11-30T08:15:00+00:00"),
    ("VID_20261130_081500_0001.MP4", "20261130_081500", "2026-11-30T08:15:00+00:00"),
    ("DCIM/100MEDIA/2026-11-30T08-15-00.mp4", "2026-11-30T08-15-00", "2026-11-30T08:15:00+00:00"),
    ("REC20261130081500.AVI", "20261130081500", "2026-11-30T08:15:00+00:00"),
])
def test_device_start_from_name(name, text, expected):
    from datetime import datetime
    got_text, ns = device_start_from(name, 0)
    assert got_text == text
    assert datetime.fromtimestamp(ns / NS_PER_S, UTC).isoformat() == expected


def test_device_start_uses_the_recorder_time_zone_and_falls_back_to_mtime():
    cst = timezone(timedelta(hours=8))
    _, ns = device_start_from("VID_20261130_081500.MP4", 0, tz=cst)
    _, ns_utc = device_start_from("VID_20261130_081500.MP4", 0)
    assert ns_utc - ns == 8 * 3600 * NS_PER_S
    text, ns = device_start_from("VID0001.MP4", T0 + 123)
    assert ns == T0 + 123 and text.startswith("mtime:") and text.endswith("+0000") and len(text) <= 64
    # the mtime is the end of the recording: the start is that minus the duration
    assert device_start_from("VID0001.MP4", T0, duration_ms=60_000)[1] == T0 - 60 * NS_PER_S
    # an impossible date in the name falls back to mtime
    assert device_start_from("VID_20261399_999999.MP4", 7)[1] == 7
