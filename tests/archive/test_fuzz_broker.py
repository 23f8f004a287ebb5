"""A hypothesis-generated batch of hostile messages through a real Mosquitto to a running
``bodycam archive serve`` (issue 17; A2 Art.8, 16): published with dock-a's own broker
credentials on its topics (the broker's ACL drops what it may not publish), the archive keeps
running, commits none of it, and then takes dock-a's real delivery (``bodycam sync run --once``)
as if nothing had happened; ``archive verify`` passes."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time

from hypothesis import given
from hypothesis import strategies as st

from syncd.mqtt import MqttClient, MqttError
from tests.archive.test_fuzz_receiver import payloads, topics, user_props
from tests.fixtures.fuzz import fuzz
from tests.fixtures.sync import BODYCAM, sync_once


def publishable(text: str) -> bool:
    """What MQTT lets a client publish to (no wildcards, no NUL, valid UTF-8, not empty)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return bool(text) and not any(c in text for c in "+#\x00")


def test_a2_art16_hostile_batch_through_the_broker_leaves_archive_serve_running(sync_world):
    w = sync_world(docks=("dock-a",))
    a = w.docks["dock-a"]
    shas = a.add_segments([300 << 10, 5000])
    archive = w.archive_process()
    with w.archive_ledger() as lg:
        size = lg.size
    client = MqttClient(a.syncd.broker, "dock-a-fuzz")
    client.connect()
    samples = [b'{"v": 1}', b"\x00" * 10]
    sent = []
    try:
        @fuzz(3)
        @given(st.lists(st.tuples(topics(), payloads(samples), user_props()), min_size=10, max_size=30))
        def publish(batch):
            for topic, payload, props in batch:
                topic = topic if topic.startswith("bodycam/v1/dock-a/") else "bodycam/v1/dock-a/" + topic[-80:]
                if not publishable(topic) or not all(publishable(k) and publishable(v) for k, v in props or ()):
                    continue  # the broker would drop the connection, never deliver it
                if not client.wait_connected(5):
                    continue  # the broker dropped this client for what it sent: it reconnects
                with contextlib.suppress(MqttError):  # refused or dropped by the broker: not delivered
                    client.publish(topic, payload, user_properties=tuple(props or ()))
                    sent.append(topic)
        publish()
    finally:
        client.close()
    assert sent
    time.sleep(1.0)
    assert archive.poll() is None, w.log("archive.log")
    with w.archive_ledger() as lg:
        assert lg.size == size, "hostile messages reached the archive ledger"
    assert w.blobs() == []
    out = sync_once(w, "dock-a", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["rejected"] == []
    assert {b.name for b in w.blobs()} == set(shas)
    verify = subprocess.run([BODYCAM, "--config", str(w.archive_config_path), "archive", "verify", "--json"],
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert archive.poll() is None
    archive.send_signal(signal.SIGTERM)
    assert archive.wait(15) == 0, w.log("archive.log")
