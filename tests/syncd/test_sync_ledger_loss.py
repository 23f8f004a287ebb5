"""A dock ledger that lost entries the sync had already queued (rewritten by re-appending every
envelope but some into a fresh file, as issue 11's attacker did): `bodycam sync run` must not
crash on it for good. It names each missing entry as an inconsistency (log, result, `sync
status`), sends everything else, and `--once` exits 3; the daemon keeps running."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from ledger.store import Ledger
from syncd.outbox import Outbox
from tests.fixtures.sync import BODYCAM


def queue_everything(w, name: str) -> None:
    """The sync saw every entry (queued in sync.db) while the archive was not reachable."""
    up = w.uploader(name)
    try:
        up.scan()
    finally:
        up.close()


def drop_entries(site, drop: set[str]) -> None:
    """Re-append every envelope but ``drop`` into a fresh ledger that replaces the dock's."""
    entries = site.entries()
    fresh = site.ledger_path.with_name("rewritten.db")
    with Ledger.open(fresh) as lg:
        for _idx, entry_hash, envelope in entries:
            if entry_hash not in drop:
                lg.append(envelope)
    for suffix in ("", "-wal", "-shm"):
        site.ledger_path.with_name(site.ledger_path.name + suffix).unlink(missing_ok=True)
    fresh.rename(site.ledger_path)


def bodycam(site, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BODYCAM, "--config", str(site.config_path), *args], capture_output=True, text=True,
                          timeout=120)


def test_sync_names_queued_entries_missing_from_the_ledger_and_sends_the_rest(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([200 << 10, 100 << 10, 50 << 10])
    queue_everything(w, "dock-a")
    entries = a.entries()  # root, device enrollment, 3 segments
    lost = entries[-1][1]  # the last segment and its footage vanish from the dock ledger
    drop_entries(a, {lost})
    a.add_segments([30 << 10], seed=7)  # docked again afterwards: a new segment after the rewrite
    new = a.entries()[-1][1]

    archive = w.archive_process()
    try:
        out = bodycam(a, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert out.returncode == 3, out.stdout + out.stderr
        assert "Traceback" not in out.stderr and "TypeError" not in out.stderr
        result = json.loads(out.stdout)
        assert result["missing"] == [{"entry_hash": lost, "kind": "segment"}]
        assert result["rejected"] == [] and result["queued"] == 0
        assert result["committed"] == 4  # enrollment, two segments, the new segment
        assert lost[:16] in out.stderr and "missing from the dock ledger" in out.stderr

        text = bodycam(a, "sync", "status")
        assert text.returncode == 0, text.stderr
        assert f"missing segment {lost[:16]}" in text.stdout
        st = json.loads(bodycam(a, "sync", "status", "--json").stdout)
        assert st["missing"] == [{"entry_hash": lost, "kind": "segment"}]
        assert st["unscanned_entries"] == 0

        # a second start reports the same and crashes no more
        again = bodycam(a, "sync", "run", "--once", "--json", "--connect-timeout", "30")
        assert again.returncode == 3 and json.loads(again.stdout)["missing"][0]["entry_hash"] == lost
    finally:
        archive.send_signal(signal.SIGTERM)
        assert archive.wait(15) == 0, w.log("archive.log")

    with w.archive_ledger() as lg:
        assert lg.by_hash(lost) is None
        assert lg.by_hash(new) is not None
        for _idx, entry_hash, _env in a.entries()[1:]:
            assert lg.by_hash(entry_hash) is not None
    with Outbox(a.agent.path(a.syncd.state_db)) as ob:
        assert ob.counts() == {"committed": 4, "skipped": 1, "missing": 1}


def test_sync_daemon_keeps_running_when_queued_entries_left_the_ledger(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([40 << 10, 20 << 10, 10 << 10])
    queue_everything(w, "dock-a")
    entries = a.entries()
    lost = entries[3][1]  # a segment in the middle: the one after it waits on its predecessor
    drop_entries(a, {lost})

    with w.receiver() as r:
        proc = w.sync_process("dock-a")
        deadline = time.monotonic() + 30
        while r.stats.commits < 2:  # the enrollment and the first segment
            assert time.monotonic() < deadline and proc.poll() is None, w.log("sync-dock-a.log")
            time.sleep(0.05)
        time.sleep(1.0)
        assert proc.poll() is None, w.log("sync-dock-a.log")
        st = json.loads(bodycam(a, "sync", "status", "--json").stdout)
        assert st["missing"] == [{"entry_hash": lost, "kind": "segment"}]
        a.add_segments([5 << 10], device_id="rec-2", seed=9)  # another recorder docks meanwhile
        while r.stats.commits < 4:
            assert time.monotonic() < deadline and proc.poll() is None, w.log("sync-dock-a.log")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 3, w.log("sync-dock-a.log")  # stopped, still reporting what is missing
    log = w.log("sync-dock-a.log")
    assert "Traceback" not in log
    assert log.count(f"inconsistency: segment {lost}") == 1 and "missing from the dock ledger" in log
