"""A dock ledger can only grow (issue 11, hole 3). Rebuilt from the same envelope bytes minus
chosen entries (the last segment and its footage; a gap with its justification and approval), it
still verifies on its own; but the dock signs checkpoints of its ledger, sends the latest with
every sync, and the archive keeps each dock's checkpoints: a new one must extend the one it
acknowledged, and entries an acknowledged checkpoint covers that never arrived are reported.
`ledger verify --checkpoint` checks a dock ledger against the checkpoint the archive acknowledged.
Against the real broker, archive and CLI."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from agent.checkpoints import sign_dock_checkpoint
from archive.docks import register_dock
from ledger.keys import load_signer, write_public_key
from ledger.store import Ledger
from syncd import checkpoints
from syncd.config import SyncdConfig
from syncd.outbox import Outbox
from tests.fixtures.sync import BODYCAM, CHUNK, broker_section, render_toml


def bodycam(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BODYCAM, "--config", str(config), *args], capture_output=True, text=True, timeout=120)


def sign(site) -> str:
    """What the dock does after a docking, a justification or an approval (agent.checkpoints)."""
    with Ledger.open(site.ledger_path) as lg:
        return sign_dock_checkpoint(lg, site.dock_key, site.name)


def send_checkpoint_only(w, name: str) -> dict:
    """A sync that got as far as its first message: the checkpoint reached the archive, the
    entries it covers did not (the link dropped, the dock was switched off)."""
    up = w.uploader(name)
    try:
        up.connect(10)
        for _ in range(10):  # an archive still starting does not answer yet
            verdict = checkpoints.settle(up, after_pass=False)
            if verdict is not None:
                return verdict
        raise AssertionError("the archive never answered the checkpoint")
    finally:
        up.close()


def rebuild_without(ledger_path: Path, drop: set[str]) -> None:
    """The attack: every envelope but ``drop`` re-appended, same bytes, into a fresh file."""
    with Ledger.open(ledger_path) as lg:
        envelopes = [(h, bytes(e)) for h, e in lg.conn.execute("SELECT entry_hash, envelope FROM entries "
                                                               "ORDER BY idx")]
    fresh = ledger_path.with_name("rebuilt.db")
    with Ledger.open(fresh) as lg:
        for entry_hash, envelope in envelopes:
            if entry_hash not in drop:
                lg.append(envelope)
    for suffix in ("", "-wal", "-shm"):
        ledger_path.with_name(ledger_path.name + suffix).unlink(missing_ok=True)
    fresh.rename(ledger_path)


def dock_list(w) -> dict:
    out = bodycam(w.archive_config_path, "archive", "dock", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["dock"]: row for row in json.loads(out.stdout)}


def verify(ledger_path: Path, trust: Path, *notes: Path) -> subprocess.CompletedProcess:
    args = [a for n in notes for a in ("--checkpoint", str(n))]
    return subprocess.run([BODYCAM, "ledger", "verify", str(ledger_path), "--trust", str(trust), *args],
                          capture_output=True, text=True, timeout=120)


def test_a_normal_shift_checkpoints_are_consistent_and_acknowledged(sync_world, tmp_path):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([300 << 10, 100 << 10])
    sign(a)
    with w.receiver():
        up = w.uploader("dock-a")
        try:
            first = up.run(once=True)
        finally:
            up.close()
        assert first.rejected == [] and first.checkpoint_problem is None
        assert first.checkpoint["status"] == "accepted" and first.checkpoint["complete"]
        assert first.checkpoint["size"] == 4 and first.checkpoint["missing"] == 0

        a.add_segments([50 << 10], seed=3)  # the next docking, and its checkpoint
        sign(a)
        out = bodycam(a.config_path, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert out.returncode == 0, out.stdout + out.stderr
        second = json.loads(out.stdout)
        assert second["checkpoint"]["status"] == "accepted" and second["checkpoint"]["size"] == 5
        assert second["checkpoint"]["missing"] == 0

    row = dock_list(w)["dock-a"]["checkpoint"]
    assert row["size"] == 5 and row["consistent"] and row["missing"] == 0
    assert row["inconsistent_checkpoints"] == 0 and row["last_problem"] is None
    status = json.loads(bodycam(a.config_path, "sync", "status", "--json").stdout)["checkpoint"]
    assert status["acknowledged_size"] == 5 and status["ledger_problem"] is None
    with Ledger.open(a.ledger_path) as lg:
        assert [c.size for c in lg.checkpoints()] == [4, 5]
        assert lg.latest_checkpoint().note == status["acknowledged"] == row["note"]
    note = tmp_path / "acknowledged.note"
    note.write_text(row["note"])
    write_public_key(tmp_path / "dock.pub", a.dock_key.public_key)
    ok = verify(a.ledger_path, tmp_path / "dock.pub", note)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_ledger_rebuilt_without_its_last_segment_is_reported_at_the_next_sync(sync_world, tmp_path):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([200 << 10, 100 << 10, 50 << 10])
    sign(a)  # after the docking
    archive = w.archive_process()
    try:
        verdict = send_checkpoint_only(w, "dock-a")
        assert verdict["status"] == "accepted" and verdict["size"] == 5
        lost_hash = a.entries()[-1][1]
        with Ledger.open(a.ledger_path) as lg:
            lost_blob = lg.by_hash(lost_hash).body["media"]["sha256"]
        # the attack: the last segment and its footage vanish; no key is needed
        rebuild_without(a.ledger_path, {lost_hash})
        a.store().blob_path(lost_blob).unlink()
        write_public_key(tmp_path / "dock.pub", a.dock_key.public_key)
        alone = verify(a.ledger_path, tmp_path / "dock.pub")
        assert alone.returncode == 0, alone.stdout  # on its own the rebuilt ledger verifies: hence the checkpoints

        out = bodycam(a.config_path, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert out.returncode == 3, out.stdout + out.stderr
        result = json.loads(out.stdout)
        assert result["rejected"] == [] and result["committed"] == 3  # the rest was sent
        assert "fewer than the 5 of the checkpoint the archive acknowledged" in result["checkpoint_problem"]
        assert result["checkpoint"]["complete"] and result["checkpoint"]["missing"] == 1
        assert result["checkpoint"]["missing_entries"] == [lost_hash]
        assert "lost entries" in out.stderr and lost_hash in out.stderr

        # the dock ledger is checked against the checkpoint the archive acknowledged
        row = dock_list(w)["dock-a"]["checkpoint"]
        assert row["size"] == 5 and row["missing"] == 1
        assert row["missing_entries"] == [{"idx": 4, "entry_hash": lost_hash}]
        assert row["complete_reported"] is not None
        note = tmp_path / "acknowledged.note"
        note.write_text(row["note"])
        checked = verify(a.ledger_path, tmp_path / "dock.pub", note)
        assert checked.returncode == 3, checked.stdout
        assert "covers 5 entries but the ledger has 4: entries were removed since it was signed" in checked.stdout

        # the dock signs its next checkpoint over the rebuilt ledger: it is not an extension
        sign(a)
        again = bodycam(a.config_path, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert again.returncode == 3, again.stdout + again.stderr
        assert json.loads(again.stdout)["checkpoint"]["status"] == "inconsistent"
        assert "inconsistent" in again.stderr
    finally:
        archive.send_signal(signal.SIGTERM)
        assert archive.wait(15) == 0, w.log("archive.log")
    log = w.log("archive.log")
    assert "never arrived" in log and "INCONSISTENT checkpoint at size 4" in log
    row = dock_list(w)["dock-a"]["checkpoint"]
    assert not row["consistent"] and row["inconsistent_checkpoints"] == 1
    assert "fewer than the 5" in row["last_problem"] and row["size"] == 5


def test_a_checkpoint_the_sync_state_forgot_is_still_held_against_the_dock(sync_world):
    """The attacker also deletes the dock's sync state: the archive still holds the checkpoint,
    and the dock's next checkpoint (of the rebuilt ledger) is inconsistent with it."""
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([40 << 10, 20 << 10])
    sign(a)
    with w.receiver() as r:
        send_checkpoint_only(w, "dock-a")
        rebuild_without(a.ledger_path, {a.entries()[-1][1]})
        for suffix in ("", "-wal", "-shm"):
            Path(str(a.agent.path(a.syncd.state_db)) + suffix).unlink(missing_ok=True)
        assert dock_list(w)["dock-a"]["checkpoint"]["missing"] == 3  # enrollment and two segments, none arrived
        sign(a)
        up = w.uploader("dock-a")
        try:
            res = up.run(once=True)
        finally:
            up.close()
        assert r.stats.commits == 2
    assert res.checkpoint["status"] == "inconsistent"
    assert "fewer than the 4 of the checkpoint the archive acknowledged" in res.checkpoint_problem
    assert "fewer than the 4 of the checkpoint it sent before" in res.checkpoint["reason"]
    with Outbox(a.agent.path(a.syncd.state_db)) as ob:
        acknowledged = ob.get_meta(checkpoints.ACKNOWLEDGED)
    assert checkpoints.checkpoint_of(acknowledged).size == 4  # the archive's word, kept by the dock
    row = dock_list(w)["dock-a"]["checkpoint"]
    assert not row["consistent"] and row["size"] == 4 and row["missing"] == 1


def test_a_ledger_rebuilt_without_a_gap_its_justification_and_approval_is_reported(sync_world, gap_dock, tmp_path):
    w = sync_world(docks=(), broker_docks=("dock-j",))
    dock_key = load_signer(gap_dock.root / "keys" / "dock.key")
    with Ledger.open(w.archive.path(w.archive.ledger)) as lg:
        register_dock(lg, w.admin, "dock-j", dock_key.public_key)
    bcfg = w.broker.client_config("dock-j", auth="plain")
    values = {"chunk_size": CHUNK, "ack_timeout_s": 3.0, "backoff_max_s": 1.0, "poll_s": 0.2,
              "archive_pubkey": str(w.archive_dir / "keys" / "log.pub")}
    SyncdConfig(broker=bcfg, **values)
    gap_dock.config.write_text(render_toml({"agent": {"dock_id": "dock-j", "data_dir": "."}, "syncd": values,
                                            "syncd.broker": broker_section(bcfg)}))
    gap = gap_dock.gaps[0]
    res = gap_dock.run("justify", gap[:12], "--reason", "2", *gap_dock.officer_args(), "--note", "battery swap",
                       "--json")
    assert res.exit_code == 0, res.output
    with gap_dock.ledger() as lg:
        just = lg.latest("stop_justification")
        assert lg.latest_checkpoint().size == lg.size  # the dock signed a checkpoint after the justification
    res = gap_dock.run("approve", just.entry_hash[:12], "--supervisor", "super-1", "--key",
                       str(gap_dock.keys["super-1"]))
    assert res.exit_code == 0, res.output
    with gap_dock.ledger() as lg:
        approval = lg.latest("stop_approval")
        assert lg.latest_checkpoint().size == lg.size  # and after the approval
        size = lg.size

    archive = w.archive_process()
    try:
        out = bodycam(gap_dock.config, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout)["checkpoint"]["size"] == size
        # the attack: the gap, its justification and its approval are left out of a rebuilt ledger
        rebuild_without(gap_dock.ledger_path, {gap, just.entry_hash, approval.entry_hash})
        res = gap_dock.run("gaps", "--json")
        assert gap not in res.output
        res = gap_dock.run("gaps", "fault", gap_dock.gaps[1][:12], "--cause", "battery", *gap_dock.officer_args(),
                           "--note", "battery died")  # the next fact at the dock: a checkpoint is signed
        assert res.exit_code == 0, res.output
        out = bodycam(gap_dock.config, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert out.returncode == 3, out.stdout + out.stderr
        result = json.loads(out.stdout)
        assert result["checkpoint"]["status"] == "inconsistent"
        assert f"fewer than the {size} of the checkpoint it sent before" in result["checkpoint"]["reason"]
        assert f"fewer than the {size} of the checkpoint the archive acknowledged" in result["checkpoint_problem"]
    finally:
        archive.send_signal(signal.SIGTERM)
        assert archive.wait(15) == 0, w.log("archive.log")
    row = dock_list(w)["dock-j"]["checkpoint"]
    assert not row["consistent"] and row["size"] == size
    note = tmp_path / "acknowledged.note"
    note.write_text(row["note"])
    write_public_key(tmp_path / "dock.pub", dock_key.public_key)
    checked = verify(gap_dock.ledger_path, tmp_path / "dock.pub", note)
    assert checked.returncode == 3, checked.stdout
    assert "the given checkpoint" in checked.stdout
