"""One key, one identity at the archive (A2 Art.3, 9): a dock that enrolls a key the archive
already knows as someone else (its log key, its admin key, another dock's recorder) is refused
with `key_reused`; the archive keeps its identity, keeps running and still verifies."""

from __future__ import annotations

import subprocess

from ledger.enroll import enroll, public_of
from ledger.keys import write_public_key
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.sync import BODYCAM, T0, sync_once


def test_the_archive_log_key_enrolled_as_a_person_at_a_dock_is_refused_and_the_archive_keeps_working(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([200 << 10])
    with Ledger.open(a.ledger_path) as lg:  # the dock ledger cannot know the archive's keys
        bad = enroll(lg, a.dock_key, "person", "mallory", w.log_key.public_key, now_ns=T0, role="admin")
    with w.receiver():
        out = sync_once(w, "dock-a")
        assert out.returncode == 3, out.stdout + out.stderr
        assert "key_reused" in out.stderr and "archive_log archive-log" in out.stderr
    with w.archive_ledger() as lg:
        assert lg.by_hash(bad.entry_hash) is None
        assert lg.enrollment(w.log_key.keyid).subject_type == "archive_log"
        assert len(list(lg.entries(kind="segment"))) == 1  # the rest went through
        assert verify_ledger(lg).ok
    with w.receiver():  # it starts again: its log key is still its log key
        pass


def test_a_dock_cannot_enroll_another_docks_recorder_key_as_its_own(sync_world):
    w = sync_world(("dock-a", "dock-b"))
    a, b = w.docks["dock-a"], w.docks["dock-b"]
    b.add_segments([100 << 10], device_id="rec-b")
    with w.receiver():
        assert sync_once(w, "dock-b").returncode == 0
        stolen = b.devices["rec-b"]
        with Ledger.open(a.ledger_path) as lg:
            bad = enroll(lg, a.dock_key, "device", "rec-x", public_of(stolen), now_ns=T0, custodian="officer-7")
        out = sync_once(w, "dock-a")
    assert out.returncode == 3 and "key_reused" in out.stderr, out.stderr
    with w.archive_ledger() as lg:
        assert lg.by_hash(bad.entry_hash) is None
        assert lg.enrollment(stolen.keyid).subject_id == "rec-b"


def test_person_enroll_at_a_dock_refuses_the_archives_log_key(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    res = subprocess.run([BODYCAM, "--config", str(a.config_path), "person", "enroll", "--id", "mallory",
                          "--name", "M", "--role", "admin", "--pubkey", str(w.archive_dir / "keys" / "log.pub")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "archive's log key" in res.stderr
    dock_pub = a.dir / "dock.pub"
    write_public_key(dock_pub, a.dock_key.public_key)
    res = subprocess.run([BODYCAM, "--config", str(a.config_path), "person", "enroll", "--id", "mallory",
                          "--name", "M", "--role", "admin", "--pubkey", str(dock_pub)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 3 and "already enrolled as ledger_root" in res.stderr, res.stderr
