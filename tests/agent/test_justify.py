"""Stop-recording justifications on a real docking's gaps (A2 Art.8, 11): `bodycam justify`,
`approve`, `gaps`, through the real CLI, the real ledger and the real dock store."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from agent.justify import requester_sign
from agent.signature_image import draw_signature_image
from ledger.envelope import seal
from ledger.gapstate import gap_statuses
from ledger.records import StopJustification, attachment_hashes
from tests.fixtures.justify import OFFICER

NEEDS_REQUESTER = "needs the requester's signature"


def _justify(d, gap: str, reason: int, *extra: str, officer: str = OFFICER, note: str = "stopped as asked"):
    return d.run("justify", gap[:12], "--reason", str(reason), *d.officer_args(officer), "--note", note, *extra)


def _sig(d, name: str = "sig.png", text: str = "Sun Li") -> str:
    return str(draw_signature_image(d.root / name, text))


def _states(d, *flags: str) -> dict[str, str]:
    res = d.run("gaps", "--json", *flags)
    assert res.exit_code == 0, res.output
    return {g["gap"]: g["state"] for g in json.loads(res.stdout)}


def _size(d) -> int:
    with d.ledger() as lg:
        return lg.size


@pytest.mark.parametrize("reason", [1, 2, 3, 4, 5])
def test_each_reason_is_recorded_signed_by_the_officer(gap_dock, reason):
    d = gap_dock
    extra = ["--requester-name", "Sun Li", "--requester-signature", _sig(d)] if reason in (1, 3) else []
    res = _justify(d, d.gaps[0], reason, *extra, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["gap"] == d.gaps[0] and out["reason"] == reason and out["officer_id"] == OFFICER
    with d.ledger() as lg:
        entry = lg.by_hash(out["justification"])
        rec = entry.record
        officer_keyid = d.signer(OFFICER).keyid
        gap = lg.by_hash(d.gaps[0]).record
    assert isinstance(rec, StopJustification)
    assert entry.envelope.keyids == [officer_keyid]
    assert (rec.device_id, rec.after_seq, rec.before_seq, rec.start_ns, rec.end_ns) == \
        (gap.device_id, gap.after_seq, gap.before_seq, gap.start_ns, gap.end_ns)
    if reason in (1, 3):
        sha = rec.requester.signature_image_sha256
        assert sha == out["signature_image"]["sha256"]
        assert (d.store_dir / "sha256" / sha[:2] / sha[2:4] / sha).is_file()
        assert attachment_hashes(entry.body) == [sha]  # what the sync must ship with the record
    else:
        assert attachment_hashes(entry.body) == []
    assert _states(d)[d.gaps[0]] == "justified"
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0


@pytest.mark.parametrize("reason", [1, 3])
def test_reasons_1_and_3_refused_without_requester_signature(gap_dock, reason):
    d = gap_dock
    before = _size(d)
    res = _justify(d, d.gaps[0], reason)
    assert res.exit_code == 3 and NEEDS_REQUESTER in res.output
    res = _justify(d, d.gaps[0], reason, "--requester-name", "Sun Li")  # a name is not a signature
    assert res.exit_code == 3 and NEEDS_REQUESTER in res.output
    assert _size(d) == before and _states(d)[d.gaps[0]] == "bare"


def test_blank_and_unreadable_images_refused_and_nothing_kept(gap_dock):
    import cv2
    import numpy as np

    d = gap_dock
    blank = d.root / "blank.png"
    cv2.imwrite(str(blank), np.full((160, 480, 3), 255, np.uint8))
    garbage = d.root / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)  # JPEG magic, no image
    before, blobs = _size(d), set((d.store_dir / "sha256").rglob("*"))
    res = _justify(d, d.gaps[0], 1, "--requester-name", "Sun Li", "--requester-signature", str(blank))
    assert res.exit_code == 3 and "blank.png is blank" in res.output
    res = _justify(d, d.gaps[0], 3, "--requester-name", "Sun Li", "--requester-signature", str(garbage))
    assert res.exit_code == 3 and "garbage.jpg is unreadable" in res.output
    assert _size(d) == before and set((d.store_dir / "sha256").rglob("*")) == blobs


def test_officer_key_must_be_that_officers_enrolled_key(gap_dock, tmp_path):
    from ledger.keys import generate_key_file

    d = gap_dock
    stranger = tmp_path / "stranger.key"
    generate_key_file(stranger)
    res = d.run("justify", d.gaps[0][:12], "--reason", "2", "--officer", OFFICER, "--officer-key", str(stranger),
                "--note", "bus")
    assert res.exit_code == 3 and "is not enrolled in this ledger" in res.output
    res = d.run("justify", d.gaps[0][:12], "--reason", "2", "--officer", OFFICER,
                "--officer-key", str(d.keys["officer-8"]), "--note", "bus")
    assert res.exit_code == 3 and "enrolled for 'officer-8', not 'officer-7'" in res.output
    res = d.run("justify", d.gaps[0][:12], "--reason", "2", "--officer", "super-1",
                "--officer-key", str(d.keys["super-1"]), "--note", "bus")
    assert res.exit_code == 3 and "super-1 is enrolled as supervisor; a officer must be officer" in res.output
    # officer-8 is enrolled, but the gap is officer-7's footage
    res = _justify(d, d.gaps[0], 2, officer="officer-8")
    assert res.exit_code == 3 and "recorded by officer officer-7" in res.output
    assert _states(d)[d.gaps[0]] == "bare"


def test_requester_key_signs_the_same_envelope(gap_dock, tmp_path):
    from ledger.keys import generate_key_file

    d = gap_dock
    res = _justify(d, d.gaps[1], 3, "--requester-key", str(d.keys["witness-1"]), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["signers"] == [d.signer(OFFICER).keyid, d.signer("witness-1").keyid]
    assert out["requester"] == {"name": "Sun Li", "keyid": d.signer("witness-1").keyid}
    unknown = tmp_path / "unknown.key"
    generate_key_file(unknown)
    res = _justify(d, d.gaps[2], 1, "--requester-key", str(unknown))
    assert res.exit_code == 3 and "requester key" in res.output and "not enrolled" in res.output


def test_requester_signature_over_another_gap_is_refused(gap_dock):
    d = gap_dock
    out = d.root / "req.json"
    res = d.run("justify", d.gaps[0][:12], "--reason", "1", "--officer", OFFICER, "--note", "witness asked",
                "--requester-name", "Sun Li", "--requester-key", str(d.keys["witness-1"]),
                "--requester-sign-out", str(out))
    assert res.exit_code == 0, res.output
    before = _size(d)
    res = _justify(d, d.gaps[1], 1, "--requester-envelope", str(out), note="witness asked")
    assert res.exit_code == 3 and "over another gap" in res.output
    res = _justify(d, d.gaps[0], 1, "--requester-envelope", str(out), note="a different story")
    assert res.exit_code == 3 and "signed a different justification (note differ)" in res.output
    assert _size(d) == before
    res = _justify(d, d.gaps[0], 1, "--requester-envelope", str(out), note="witness asked")
    assert res.exit_code == 0, res.output
    assert _states(d)[d.gaps[0]] == "justified"


def test_signature_image_given_for_another_gap_is_refused(gap_dock):
    d = gap_dock
    img = _sig(d)
    assert _justify(d, d.gaps[0], 1, "--requester-name", "Sun Li", "--requester-signature", img).exit_code == 0
    res = _justify(d, d.gaps[1], 1, "--requester-name", "Sun Li", "--requester-signature", img)
    assert res.exit_code == 3 and "already given for another gap" in res.output


def test_gaps_unjustified_reports_exactly_the_unapproved_two(gap_dock):
    d = gap_dock
    g_ok, g_pending, g_bare = d.gaps
    res = _justify(d, g_ok, 1, "--requester-name", "Sun Li", "--requester-signature", _sig(d), "--json")
    jid = json.loads(res.stdout)["justification"]
    res = d.run("approve", jid[:10], "--supervisor", "super-1", "--key", str(d.keys["super-1"]))
    assert res.exit_code == 0, res.output
    assert _justify(d, g_pending, 4, note="storm").exit_code == 0
    res = d.run("gaps", "--unjustified", "--json")
    listed = json.loads(res.stdout)
    assert [(g["gap"], g["state"]) for g in listed] == [(g_pending, "justified"), (g_bare, "bare")]
    text = d.run("gaps", "--unjustified").output.splitlines()
    rows = [line for line in text[1:] if not line.startswith(" ")]  # gap rows; details are indented
    assert len(rows) == 2 and rows[0].startswith(g_pending[:12]) and rows[0].endswith(" justified")
    assert rows[1].startswith(g_bare[:12]) and rows[1].endswith(" bare")
    assert _states(d, "--unapproved") == {g_pending: "justified"}
    assert _states(d)[g_ok] == "approved"


def test_approval_needs_an_enrolled_supervisor_or_head(gap_dock):
    d = gap_dock
    jid = json.loads(_justify(d, d.gaps[0], 2, "--json").stdout)["justification"]
    res = d.run("approve", jid[:12], "--supervisor", "officer-8", "--key", str(d.keys["officer-8"]))
    assert res.exit_code == 3 and "officer-8 is enrolled as officer; a supervisor must be supervisor or head" \
        in res.output
    res = d.run("approve", jid[:12], "--supervisor", "super-1", "--key", str(d.keys["head-1"]))
    assert res.exit_code == 3 and "enrolled for 'head-1', not 'super-1'" in res.output
    res = d.run("approve", jid[:12], "--supervisor", "head-1", "--key", str(d.keys["head-1"]), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["decision"] == "approved"
    res = d.run("approve", jid[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"]))
    assert res.exit_code == 3 and "already approved" in res.output


def test_rejected_justification_stays_unjustified_until_justified_again(gap_dock):
    d = gap_dock
    jid = json.loads(_justify(d, d.gaps[0], 5, "--json", note="lens fogged?").stdout)["justification"]
    res = d.run("approve", jid[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"]), "--reject",
                "--note", "not a reason")
    assert res.exit_code == 0, res.output
    assert _states(d, "--unjustified")[d.gaps[0]] == "rejected"
    jid2 = json.loads(_justify(d, d.gaps[0], 4, "--json", note="heavy rain").stdout)["justification"]
    assert _states(d)[d.gaps[0]] == "justified"
    assert d.run("approve", jid2[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"])).exit_code == 0
    assert d.gaps[0] not in _states(d, "--unjustified")


def test_technical_fault_instead_of_justification(gap_dock):
    d = gap_dock
    res = d.run("gaps", "fault", d.gaps[2][:12], "--cause", "battery", *d.officer_args(), "--note",
                "battery died at 08:17", "--json")
    assert res.exit_code == 0, res.output
    fid = json.loads(res.stdout)["fault"]
    assert _states(d, "--unapproved") == {d.gaps[2]: "fault"}
    assert d.run("approve", fid[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"])).exit_code == 0
    st = [g for g in json.loads(d.run("gaps", "--json").stdout) if g["gap"] == d.gaps[2]][0]
    assert (st["state"], st["cause"], st["supervisor_id"]) == ("fault_approved", "battery", "super-1")
    res = d.run("gaps", "fault", d.gaps[2][:12], "--cause", "storage", *d.officer_args(), "--note", "x")
    assert res.exit_code == 3 and "already explained and approved" in res.output
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0


def test_unknown_or_ambiguous_gap_ids(gap_dock):
    d = gap_dock
    res = _justify(d, "0123456789ab", 2)
    assert res.exit_code == 1 and "no gap 0123456789ab" in res.output
    res = _justify(d, "not-hex", 2)
    assert res.exit_code == 1 and "is not an entry hash" in res.output


# --- signatures that do not verify ---------------------------------------------------------------

def _tamper_signature(d, entry_hash: str, keyid: str) -> None:
    """Replace one signature of a stored envelope with another valid-looking one (raw SQL, with the
    append-only trigger dropped, as an attacker with file access would)."""
    import sqlite3

    from ledger.envelope import Envelope

    conn = sqlite3.connect(d.ledger_path)
    data = conn.execute("SELECT envelope FROM entries WHERE entry_hash = ?", (entry_hash,)).fetchone()[0]
    env = Envelope.from_bytes(bytes(data))
    forged = Envelope(env.payload_type, env.payload,
                      tuple((k, bytes(64) if k == keyid else s) for k, s in env.signatures))
    conn.execute("DROP TRIGGER entries_no_update")
    conn.execute("UPDATE entries SET envelope = ? WHERE entry_hash = ?", (forged.to_bytes(), entry_hash))
    conn.commit()
    conn.close()


def test_tampered_officer_signature_reported_and_gap_unjustified(gap_dock):
    d = gap_dock
    jid = json.loads(_justify(d, d.gaps[0], 2, "--json").stdout)["justification"]
    assert d.run("approve", jid[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"])).exit_code == 0
    assert d.gaps[0] not in _states(d, "--unjustified")
    _tamper_signature(d, jid, d.signer(OFFICER).keyid)
    res = d.run("ledger", "verify", str(d.ledger_path))
    assert res.exit_code == 3
    assert "does not verify" in res.output and "officer signature" in res.output
    assert _states(d, "--unjustified")[d.gaps[0]] == "bare"
    listing = d.run("gaps").output
    assert "officer signature" in listing


def test_tampered_supervisor_signature_reported_and_gap_unapproved(gap_dock):
    d = gap_dock
    jid = json.loads(_justify(d, d.gaps[0], 2, "--json").stdout)["justification"]
    res = d.run("approve", jid[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"]), "--json")
    aid = json.loads(res.stdout)["approval"]
    _tamper_signature(d, aid, d.signer("super-1").keyid)
    res = d.run("ledger", "verify", str(d.ledger_path), "--json")
    assert res.exit_code == 3
    problems = json.loads(res.stdout)["problems"]
    assert any("supervisor signature" in p["message"] for p in problems)
    assert any(p["check"] == "signature" for p in problems)
    assert _states(d, "--unjustified")[d.gaps[0]] == "justified"


def test_justification_signed_by_another_officer_is_reported(gap_dock):
    """A record that is well signed, but by the wrong person: only the semantic check catches it."""
    d = gap_dock
    with d.ledger() as lg:
        gap = lg.by_hash(d.gaps[1]).record
        body = StopJustification(gap=d.gaps[1], device_id=gap.device_id, after_seq=gap.after_seq,
                                 before_seq=gap.before_seq, start_ns=gap.start_ns, end_ns=gap.end_ns, reason=2,
                                 officer_id=OFFICER, note="forged for officer-7")
        lg.append(seal(body, d.signer("officer-8")), require_trusted=True)  # officer-8 is enrolled
        env = requester_sign(lg, d.gaps[0], d.signer("witness-1"), reason=1, officer_id=OFFICER,
                             note="requester only", requester_name="Sun Li")
        lg.append(env, require_trusted=True)  # the requester signed, the officer never did
        states = {s.entry_hash: s for s in gap_statuses(lg)}
    res = d.run("ledger", "verify", str(d.ledger_path))
    assert res.exit_code == 3
    assert "enrolled for 'officer-8', not 'officer-7'" in res.output
    assert "is a person key" not in res.output
    assert states[d.gaps[1]].state == "bare" and states[d.gaps[0]].state == "bare"
    assert any("officer-8" in p for p in states[d.gaps[1]].problems)


def test_only_pauses_take_a_stop_justification(gap_dock):
    """An overlap is not a pause (A2 Art.11 cannot explain it); a technical fault record can (A2 Art.8).
    The finding is sealed with the dock key, as the offload signs its continuity records."""
    from ledger.keys import load_signer
    from ledger.records import Gap

    d = gap_dock
    with d.ledger() as lg:
        seg = lg.by_hash(d.gaps[0]).record
        overlap = Gap(gap_type="overlap", device_id=seg.device_id, after_seq=3, before_seq=4, officer_id=OFFICER,
                      case_id="case-77", start_ns=seg.start_ns, end_ns=seg.end_ns, detail="starts 5 s early")
        oid = lg.append(seal(overlap, load_signer(d.root / "keys" / "dock.key")), require_trusted=True).entry_hash
    res = _justify(d, oid, 2)
    assert res.exit_code == 3 and "is an overlap finding, not a pause" in res.output
    res = d.run("gaps", "fault", oid[:12], "--cause", "device_fault", *d.officer_args(), "--note", "clock jumped")
    assert res.exit_code == 0, res.output
    assert _states(d, "--unapproved") == {oid: "fault"}


def test_justification_of_a_record_that_is_not_a_gap_is_reported(gap_dock):
    d = gap_dock
    with d.ledger() as lg:
        seg = next(lg.entries(kind="segment"))
        body = StopJustification(gap=seg.entry_hash, device_id=seg.body["device_id"], reason=2, officer_id=OFFICER,
                                 note="points at a segment")
        lg.append(seal(body, d.signer(OFFICER)), require_trusted=True)
    res = d.run("ledger", "verify", str(d.ledger_path))
    assert res.exit_code == 3 and "which is not an earlier gap record" in res.output


# --- what the supervisor sees and approves (issue 12, item 3) -------------------------------------

GAPS_HEADER = ["GAP", "DEVICE", "FROM", "TO", "LENGTH", "STATE"]
APPROVE_HINT = re.compile(r"bodycam approve ([0-9a-f]{12}) --supervisor ID --key FILE")


def _block(text: str, gap: str) -> list[str]:
    """The row of ``gap`` in `bodycam gaps` output and the indented lines under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(gap[:12]))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start:end]


def test_supervisor_approves_from_what_gaps_shows(gap_dock):
    """The acceptance: the supervisor reads `bodycam gaps` (the officer's note, the reason in the
    regulation's words, the requester and their signature image), takes the command it prints,
    fills in their own id and key, and the gap is approved; nothing else is looked up."""
    d = gap_dock
    img = _sig(d)
    assert _justify(d, d.gaps[1], 1, "--requester-name", "Sun Li", "--requester-signature", img,
                    note="the witness asked us to stop while she spoke").exit_code == 0
    res = d.run("gaps")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].split() == GAPS_HEADER
    block = _block(res.output, d.gaps[1])
    row = block[0].split()
    assert row[0] == d.gaps[1][:12] and row[1] == "rec-J100" and row[-1] == "justified"
    assert re.search(r"  5\d(\.\d)? s  ", block[0])  # LENGTH in words: the gap is about a minute
    shown = "\n".join(block)
    assert "reason 1 (an informant or witness explicitly asked)" in shown
    assert "note: the witness asked us to stop while she spoke" in shown
    assert "officer: officer-7 Wang Fang" in shown
    image_line = next(line for line in block if "requester: Sun Li" in line)
    image = image_line.split("signature image ", 1)[1]
    assert Path(image).read_bytes() == Path(img).read_bytes()  # the supervisor can open what was signed
    hints = [APPROVE_HINT.search(line) for line in block]
    (command,) = [m.group(0) for m in hints if m]
    args = shlex.split(command)[1:]
    args[args.index("ID")] = "super-1"
    args[args.index("FILE")] = str(d.keys["super-1"])
    res = d.run(*args)
    assert res.exit_code == 0, res.output
    assert _states(d)[d.gaps[1]] == "approved"
    after = "\n".join(_block(d.run("gaps").output, d.gaps[1]))
    assert "approved by super-1 Chen Jing" in after and not APPROVE_HINT.search(after)


def test_gaps_json_carries_each_justification(gap_dock):
    d = gap_dock
    res = _justify(d, d.gaps[0], 3, "--requester-key", str(d.keys["witness-1"]), "--json", note="bystander")
    jid = json.loads(res.stdout)["justification"]
    st = [g for g in json.loads(d.run("gaps", "--json").stdout) if g["gap"] == d.gaps[0]][0]
    (x,) = st["explanations"]
    assert (x["id"], x["kind"], x["reason"], x["note"], x["officer_id"], x["officer_name"]) == \
        (jid, "stop_justification", 3, "bystander", OFFICER, "Wang Fang")
    assert x["reason_text"] == "state secrets, trade secrets or personal privacy"
    assert x["requester"] == {"name": "Sun Li", "keyid": d.signer("witness-1").keyid}
    assert (x["review"], x["standing"], x["approve_command"]) == \
        ("pending", True, f"bodycam approve {jid[:12]} --supervisor ID --key FILE")


def test_approve_by_gap_id(gap_dock):
    d = gap_dock
    sup = ["--supervisor", "super-1", "--key", str(d.keys["super-1"])]
    res = d.run("approve", d.gaps[0][:12], *sup)
    assert res.exit_code == 3 and "has no justification or fault record to approve yet" in res.output
    jid = json.loads(_justify(d, d.gaps[0], 2, "--json").stdout)["justification"]
    res = d.run("approve", d.gaps[0][:12], *sup, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["target"], out["gap"], out["decision"]) == (jid, d.gaps[0], "approved")
    res = d.run("approve", d.gaps[0][:12], *sup)
    assert res.exit_code == 3 and "already approved" in res.output
    # a justification and a fault record of one gap: the gap id is ambiguous, both ids are listed
    jid2 = json.loads(_justify(d, d.gaps[1], 4, "--json", note="rain").stdout)["justification"]
    res = d.run("gaps", "fault", d.gaps[1][:12], "--cause", "battery", *d.officer_args(), "--note", "died",
                "--json")
    fid = json.loads(res.stdout)["fault"]
    before = _size(d)
    res = d.run("approve", d.gaps[1][:12], *sup)
    assert res.exit_code == 1 and "2 explanations awaiting review" in res.output
    assert f"bodycam approve {jid2[:12]} " in res.output and f"bodycam approve {fid[:12]} " in res.output
    assert _size(d) == before
    assert d.run("approve", fid[:12], *sup).exit_code == 0
    assert _states(d)[d.gaps[1]] == "fault_approved"


def test_second_justification_refused_then_supersedes(gap_dock):
    d = gap_dock
    g = d.gaps[0]
    first = json.loads(_justify(d, g, 2, "--json", note="on the bus").stdout)["justification"]
    before = _size(d)
    res = _justify(d, g, 4, note="heavy rain")
    assert res.exit_code == 3 and f"--supersede {first[:12]}" in res.output
    assert _size(d) == before
    res = _justify(d, g, 4, "--supersede", first[:12], "--json", note="heavy rain")
    assert res.exit_code == 0, res.output
    second = json.loads(res.stdout)["justification"]
    assert json.loads(res.stdout)["supersedes"] == first
    st = [s for s in json.loads(d.run("gaps", "--json").stdout) if s["gap"] == g][0]
    assert (st["state"], st["explanation"], st["reason"]) == ("justified", second, 4)
    old, new = st["explanations"]
    assert (old["id"], old["superseded_by"], old["standing"]) == (first, second, False)
    assert (new["id"], new["supersedes"], new["standing"]) == (second, first, True)
    block = "\n".join(_block(d.run("gaps").output, g))
    assert f"replaced by {second[:12]}" in block and APPROVE_HINT.findall(block) == [second[:12]]
    sup = ["--supervisor", "super-1", "--key", str(d.keys["super-1"])]
    res = d.run("approve", first[:12], *sup)
    assert res.exit_code == 3 and f"was replaced by justification {second[:12]}" in res.output
    res = _justify(d, g, 5, "--supersede", first[:12], note="third story")  # already replaced
    assert res.exit_code == 3 and "replaced already" in res.output
    res = d.run("approve", g[:12], *sup, "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["target"] == second
    assert _states(d)[g] == "approved"
    res = _justify(d, g, 5, "--supersede", second[:12], note="too late")
    assert res.exit_code == 3 and "already explained and approved" in res.output
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0


def test_ledger_verify_reports_a_second_justification_without_supersedes(gap_dock):
    """Written past the dock's refusal (straight into the ledger, well signed): verify reports it
    and `gaps` does not count it; the first one stays the gap's explanation."""
    from agent.justify import justification_body

    d = gap_dock
    first = json.loads(_justify(d, d.gaps[0], 2, "--json").stdout)["justification"]
    with d.ledger() as lg:
        body = justification_body(lg.by_hash(d.gaps[0]), reason=4, officer_id=OFFICER, note="a second story")
        second = lg.append(seal(body, d.signer(OFFICER)), require_trusted=True).entry_hash
        replaced = justification_body(lg.by_hash(d.gaps[1]), reason=4, officer_id=OFFICER, note="names another",
                                      supersedes=first)
        lg.append(seal(replaced, d.signer(OFFICER)), require_trusted=True)
        states = {s.entry_hash: s for s in gap_statuses(lg)}
    res = d.run("ledger", "verify", str(d.ledger_path))
    assert res.exit_code == 3
    assert f"already has justification {first[:12]} standing" in res.output
    assert "which explains another gap" in res.output
    st = states[d.gaps[0]]
    assert (st.state, st.explanation) == ("justified", first)
    assert any(p.startswith(f"stop_justification {second[:12]}") for p in st.problems)
    assert states[d.gaps[1]].state == "bare"
