"""Registering a dock at the archive (`bodycam archive dock add/list`): the admin-signed `dock`
enrollment, broker credentials the running Mosquitto accepts after a reload, and the archivist's
view of docks, recorders and last contact (A2 Art.16: only registered custodians deliver)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from archive.docks import DockRegistryError, Trust, register_dock
from ledger.keys import Signer, write_public_key
from syncd import protocol as p
from syncd.mqtt import MqttClient
from tests.fixtures.sync import BODYCAM


def bodycam(config, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BODYCAM, "--config", str(config), *args], capture_output=True, text=True, timeout=60)


def test_dock_add_issues_credentials_the_broker_accepts(sync_world, tmp_path):
    w = sync_world(docks=("dock-a",))
    key = Signer.generate()
    pub = tmp_path / "dock-new.pub"
    write_public_key(pub, key.public_key)
    broker_dir = w.broker.deployment.dir
    out = bodycam(w.archive_config_path, "archive", "dock", "add", "dock-new", "--pubkey", str(pub),
                  "--broker-dir", str(broker_dir), "--json")
    assert out.returncode == 0, out.stderr
    added = json.loads(out.stdout)
    assert added["keyid"] == key.keyid and added["broker"]["cert"]
    acl = (broker_dir / "acl").read_text()
    assert "user dock-new" in acl and "topic write bodycam/v1/dock-new/xfer/#" in acl
    assert "user dock-a" in acl  # docks registered before keep their rules
    with w.archive_ledger() as lg:
        trust = Trust.load(lg)
    assert trust.owner(key.keyid) == "dock-new" and trust.keys[key.keyid].subject_type == "dock"
    # again: idempotent, same entry
    again = json.loads(bodycam(w.archive_config_path, "archive", "dock", "add", "dock-new", "--pubkey", str(pub),
                               "--json").stdout)
    assert again["entry_hash"] == added["entry_hash"]

    w.broker.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "Reloading config." not in w.broker.log():
        assert time.monotonic() < deadline, w.broker.log()
        time.sleep(0.02)
    for auth in ("plain", "cert"):
        c = MqttClient(w.broker.client_config("dock-new", auth=auth), "dock-new", clean_start=True)
        c.connect()
        try:
            c.publish(p.rec_topic("dock-new", "ab" * 32), b"{}").wait(5)  # its own prefix: allowed
        finally:
            c.close()


def test_dock_add_refuses_a_key_that_is_someone_else(sync_world):
    w = sync_world(docks=("dock-a",))
    with w.archive_ledger() as lg, pytest.raises(DockRegistryError, match="already enrolled as dock dock-a"):
        register_dock(lg, w.admin, "dock-b", w.docks["dock-a"].dock_key.public_key)
    with w.archive_ledger() as lg, pytest.raises(DockRegistryError, match="not this ledger's root"):
        register_dock(lg, w.log_key, "dock-c", Signer.generate().public_key)


def test_dock_list_shows_recorders_and_last_contact(sync_world):
    w = sync_world(docks=("dock-a", "dock-b"))
    w.docks["dock-a"].add_segments([10 << 10, 10 << 10], device_id="rec-7")
    with w.receiver() as r:
        up = w.uploader("dock-a")
        try:
            assert up.run(once=True).rejected == []
        finally:
            up.close()
        r._flush_contacts()
    out = bodycam(w.archive_config_path, "archive", "dock", "list", "--json")
    assert out.returncode == 0, out.stderr
    docks = {d["dock"]: d for d in json.loads(out.stdout)}
    assert set(docks) == {"dock-a", "dock-b"}
    assert docks["dock-a"]["recorders"] == [{"device_id": "rec-7", "keyid": w.docks["dock-a"].devices["rec-7"].keyid,
                                             "custodian": "officer-7", "segments": 2}]
    assert docks["dock-a"]["last_contact"] and docks["dock-a"]["messages"] >= 3
    assert docks["dock-b"]["recorders"] == [] and docks["dock-b"]["last_contact"] is None
    text = bodycam(w.archive_config_path, "archive", "dock", "list").stdout
    assert "dock-a: key" in text and "rec-7 (custodian officer-7): 2 segment(s)" in text
    assert "dock-b: key" in text and "last contact never" in text
