"""`sync run --once` and `archive serve` say what is happening, in plain sentences on stderr
(issue 12, item 5): connecting, waiting for the archive, committed, the broker lost and when the
next attempt is; `--once` gives up after its connect timeout saying nothing was lost; no raw
library errors. Real Mosquitto, real `bodycam` processes (tests/fixtures/broker.py, sync.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.fixtures.sync import BODYCAM, sync_once

RAW = ("Traceback", "paho", "Client is not connected", "Errno", "MQTT_CS_")


def _no_raw_errors(text: str) -> None:
    for raw in RAW:
        assert raw not in text, text


def test_once_with_no_broker_exits_within_its_timeout_saying_nothing_is_lost(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([100 << 10])
    w.broker.stop()
    t0 = time.monotonic()
    out = sync_once(w, "dock-a", "--connect-timeout", "3")
    took = time.monotonic() - t0
    assert out.returncode == 1, out.stdout + out.stderr
    assert took < 8, took
    err = out.stderr
    assert f"broker 127.0.0.1:{a.syncd.broker.port} unreachable (connection refused" in err
    assert "retrying in 1 s" in err and "gave up after 3 s" in err and "Nothing is lost" in err
    _no_raw_errors(err)
    assert out.stdout == ""


def test_once_without_the_archive_says_it_waits_for_it_then_gives_up(sync_world):
    w = sync_world()  # the broker runs, `archive serve` does not (ack_timeout_s = 3 s)
    w.docks["dock-a"].add_segments([100 << 10])
    out = sync_once(w, "dock-a", "--connect-timeout", "4")
    assert out.returncode == 1, out.stdout + out.stderr
    err = out.stderr
    assert "connected to broker" in err and "item(s) to send to the archive" in err
    assert "waiting for the archive: no answer for 3 s (is `bodycam archive serve` running?)" in err
    assert "the archive did not answer within 4 s" in err and "Nothing is lost" in err and "queued" in err
    _no_raw_errors(err)


def test_the_default_connect_timeout_of_once_is_a_minute():
    out = subprocess.run([BODYCAM, "sync", "run", "--help"], capture_output=True, text=True, timeout=30)
    assert "(default 60; 0: wait for ever)" in " ".join(out.stdout.split())


def _wait_for(path, text: str, proc, timeout: float = 30.0, count: int = 1) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = path.read_text(errors="replace") if path.exists() else ""
        if log.count(text) >= count:
            return log
        assert proc.poll() is None and time.monotonic() < deadline, f"no {text!r} in:\n{log}"
        time.sleep(0.05)


def test_archive_serve_says_connected_received_committed_and_reconnecting(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([300 << 10])
    log_path = w.root / "serve.log"
    with log_path.open("ab") as log:  # without -v: what an operator sees by default
        serve = subprocess.Popen([BODYCAM, "--config", str(w.archive_config_path), "archive", "serve"],
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    w.procs.append(serve)
    where = f"127.0.0.1:{w.archive.broker.port}"
    _wait_for(log_path, "archive receiver listening", serve)

    out = sync_once(w, "dock-a", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["committed"] == 2  # stdout is the JSON alone; status lines went to stderr
    assert "committed by the archive: segment" in out.stderr and "the archive is answering" in out.stderr

    text = _wait_for(log_path, "committed segment", serve)
    assert f"connected to broker {where} as archive" in text
    assert "receiving file" in text and "(300.0 KiB, 2 chunks) from dock-a" in text
    assert "committed enrollment" in text and "from dock-a at ledger index" in text

    w.broker.stop()
    _wait_for(log_path, f"lost the broker {where}", serve)
    _wait_for(log_path, f"broker {where} unreachable (connection refused", serve)
    text = _wait_for(log_path, "retrying in 2 s", serve)
    w.broker.start()
    text = _wait_for(log_path, f"connected to broker {where} as archive again", serve)
    _no_raw_errors(text)

    a.add_segments([100 << 10], seed=1)  # the reconnected archive still receives
    out = sync_once(w, "dock-a")
    assert out.returncode == 0, out.stdout + out.stderr
    _wait_for(log_path, "committed segment", serve, count=2)
    os.killpg(serve.pid, signal.SIGTERM)
    assert serve.wait(15) == 0
    _no_raw_errors(log_path.read_text())
