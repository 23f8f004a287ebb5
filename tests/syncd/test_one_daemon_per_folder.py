"""Two `archive serve` on one data folder would evict each other from the broker every second or
two (one broker identity); two `sync run` would interleave on one dock. The second of either
exits 1 at once naming the first one's pid and the folder, while the first keeps running and
keeps working; `sync run --once` takes the same lock as the daemon."""

from __future__ import annotations

import signal
import subprocess
import time

from tests.fixtures.sync import BODYCAM


def wait_for_log(w, name: str, text: str, proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in w.log(name):
        assert proc.poll() is None and time.monotonic() < deadline, w.log(name)
        time.sleep(0.05)


def test_a_second_archive_serve_exits_1_and_the_first_stays_connected_and_serving(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([300 << 10])
    first = w.archive_process()
    wait_for_log(w, "archive.log", "archive receiver listening", first)
    second = w._spawn(w.archive_config_path, "archive", "serve", log_name="archive-2.log")
    assert second.wait(30) == 1, w.log("archive-2.log")
    assert (f"another `bodycam archive serve` (pid {first.pid}) is using {w.archive_dir}; stop it first"
            in w.log("archive-2.log"))
    assert "connected to" not in w.log("archive-2.log"), "it never reached the broker"
    out = subprocess.run([BODYCAM, "--config", str(a.config_path), "sync", "run", "--once", "--connect-timeout",
                          "20"], capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr  # the first one serves, undisturbed
    assert first.poll() is None and w.log("archive.log").count("connected to") == 1, w.log("archive.log")
    first.send_signal(signal.SIGTERM)
    assert first.wait(15) == 0, w.log("archive.log")
    assert len(w.blobs()) == 1


def test_a_second_sync_run_or_sync_run_once_exits_1_while_the_first_keeps_sending(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([200 << 10])
    with w.receiver() as r:
        first = w.sync_process("dock-a")
        deadline = time.monotonic() + 30
        while r.stats.commits < 2:
            assert time.monotonic() < deadline and first.poll() is None, w.log("sync-dock-a.log")
            time.sleep(0.05)
        for args in ((), ("--once",)):
            out = subprocess.run([BODYCAM, "--config", str(a.config_path), "sync", "run", *args],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 1, out.stdout + out.stderr
            assert (f"another `bodycam sync run` (pid {first.pid}) is using {a.dir}; stop it first"
                    in out.stderr)
        a.add_segments([100 << 10], seed=3)  # docked again: the first one still sends
        while r.stats.commits < 3:
            assert time.monotonic() < deadline and first.poll() is None, w.log("sync-dock-a.log")
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0, w.log("sync-dock-a.log")
        out = subprocess.run([BODYCAM, "--config", str(a.config_path), "sync", "run", "--once"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr  # the lock went with the first one
