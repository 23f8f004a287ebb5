"""`bodycam sync status` in words at every stage of a dock's checkpoints: none signed yet, signed
but never acknowledged, acknowledged — never a bare "None" (the officer reads this at the dock)."""

from __future__ import annotations

import json
import subprocess

from agent.checkpoints import sign_dock_checkpoint
from ledger.store import Ledger
from tests.fixtures.sync import BODYCAM, sync_once


def _status(site) -> subprocess.CompletedProcess:
    out = subprocess.run([BODYCAM, "--config", str(site.config_path), "sync", "status"], capture_output=True,
                         text=True, timeout=60, env={"LANG": "C", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return out


def test_sync_status_says_where_checkpoints_stand_in_words(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([10 << 10])
    archive = w.archive_process()
    try:
        done = sync_once(w, "dock-a", "--json", "--connect-timeout", "30")  # no checkpoint signed yet
        assert done.returncode == 0, done.stdout + done.stderr
        text = _status(a).stdout
        assert "None" not in text, text
        assert "checkpoint: none signed yet" in text and "not yet acknowledged by the archive" in text, text

        with Ledger.open(a.ledger_path) as lg:
            sign_dock_checkpoint(lg, a.dock_key, "dock-a")
        done = sync_once(w, "dock-a", "--json", "--connect-timeout", "30")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["rejected"] == []
    finally:
        archive.terminate()
        archive.wait(30)
    text = _status(a).stdout
    assert "None" not in text, text
    assert "checkpoint: latest signed at size 3, acknowledged by the archive at size 3" in text, text
