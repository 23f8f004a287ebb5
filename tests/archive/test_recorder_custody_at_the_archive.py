"""Recorders belong to the dock that enrolled them, at the archive too (A2 Art.12, 15): another
dock's enrollment of one is refused (`not_owner`) and its genuine footage keeps arriving; a
hand-over signed by the owner (or an archive administrator, when that dock is lost) lets the new
dock enroll it and start a new chain that the archive accepts and `ledger verify` agrees with."""

from __future__ import annotations

import subprocess

from ledger.enroll import enroll, hand_over, public_of
from ledger.keys import Signer
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.sync import BODYCAM, T0, sync_once


def _segments_at_archive(w, device_id: str) -> list[int]:
    with w.archive_ledger() as lg:
        return [e.body["seq"] for e in lg.entries(kind="segment", device_id=device_id)]


def test_a_dock_cannot_take_over_another_docks_recorder(sync_world):
    w = sync_world(("dock-a", "dock-b"))
    a, b = w.docks["dock-a"], w.docks["dock-b"]
    b.add_segments([100 << 10], device_id="rec-b")
    with w.receiver():
        assert sync_once(w, "dock-b").returncode == 0
        a.add_segments([100 << 10], device_id="rec-b")  # dock A's own key under B's recorder id
        out = sync_once(w, "dock-a")
        assert out.returncode == 3 and "not_owner" in out.stderr and "belongs to dock dock-b" in out.stderr, \
            out.stderr
        b.add_segments([100 << 10], device_id="rec-b", seed=2)  # B's genuine footage still arrives
        assert sync_once(w, "dock-b").returncode == 0
    assert _segments_at_archive(w, "rec-b") == [0, 1]
    with w.archive_ledger() as lg:
        assert verify_ledger(lg).ok


def test_a_recorder_handed_over_by_its_dock_is_archived_from_its_new_dock(sync_world):
    w = sync_world(("dock-a", "dock-b"))
    a, b = w.docks["dock-a"], w.docks["dock-b"]
    b.add_segments([100 << 10, 100 << 10], device_id="rec-m")
    with Ledger.open(b.ledger_path) as lg:
        h = hand_over(lg, b.dock_key, "rec-m", "dock-a", "moved to station A", now_ns=T0)
    assert h.body["last_seq"] == 1
    with w.receiver():
        assert sync_once(w, "dock-b").returncode == 0
        a.add_segments([100 << 10], device_id="rec-m")  # A enrolls it with a new key: seq 0 again
        out = sync_once(w, "dock-a")
        assert out.returncode == 0, out.stderr
    assert _segments_at_archive(w, "rec-m") == [0, 1, 0]
    with w.archive_ledger() as lg:
        report = verify_ledger(lg)
        assert report.ok, report.problems


def test_an_administrator_hands_over_a_recorder_of_a_lost_dock(sync_world, tmp_path):
    w = sync_world(("dock-a", "dock-b"))
    a, b = w.docks["dock-a"], w.docks["dock-b"]
    b.add_segments([100 << 10], device_id="rec-l")
    with w.receiver():
        assert sync_once(w, "dock-b").returncode == 0
    # dock-b is stolen: the archivist ends rec-l's chain at the archive.
    res = subprocess.run([BODYCAM, "--config", str(w.archive_config_path), "archive", "device", "transfer",
                          "rec-l", "--to", "dock-a", "--reason", "dock-b stolen", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    with w.receiver():
        a.add_segments([100 << 10], device_id="rec-l")
        assert sync_once(w, "dock-a").returncode == 0
    assert _segments_at_archive(w, "rec-l") == [0, 0]
    with w.archive_ledger() as lg:
        assert verify_ledger(lg).ok


def test_the_dock_cli_hands_over_and_re_keys_a_recorder(sync_world):
    w = sync_world(("dock-a",))
    a = w.docks["dock-a"]
    a.add_segments([100 << 10], device_id="rec-k")
    res = subprocess.run([BODYCAM, "--config", str(a.config_path), "device", "transfer", "rec-k", "--to", "dock-a",
                          "--reason", "key compromised", "--json"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    with Ledger.open(a.ledger_path) as lg:
        new = Signer.generate()
        enroll(lg, a.dock_key, "device", "rec-k", public_of(new), now_ns=T0, custodian="officer-7")
        assert verify_ledger(lg).ok
