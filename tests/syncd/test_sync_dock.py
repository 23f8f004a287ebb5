"""A real docking (OpenCV videos offloaded, gaps found, a stop justified with a handwritten
signature image and approved) shipped to the archive with the `bodycam` CLI: the archive ledger
holds the dock's entries byte for byte and verifies, every file arrives (media, thumbnails, the
signature image), and the archivist's views show the dock and its recorder
(A2 Art.8, 11, 15, 16)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from agent.signature_image import draw_signature_image
from ledger.keys import load_public_key
from syncd.config import SyncdConfig
from tests.fixtures.sync import BODYCAM, broker_section, render_toml, sha256_file


def bodycam(config, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([BODYCAM, "--config", str(config), *args], capture_output=True, text=True, timeout=90)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_docking_with_justified_gap_syncs_and_verifies(sync_world, gap_dock):
    d = gap_dock
    res = d.run("justify", d.gaps[0][:12], "--reason", "1", *d.officer_args(), "--note", "victim asked",
                "--requester-name", "Sun Li", "--requester-signature",
                str(draw_signature_image(d.root / "sig.png", "Sun Li")), "--json")
    assert res.exit_code == 0, res.output
    jid = json.loads(res.stdout)["justification"]
    res = d.run("approve", jid[:12], "--supervisor", "super-1", "--key", str(d.keys["super-1"]))
    assert res.exit_code == 0, res.output

    w = sync_world(docks=(), broker_docks=("dock-j",))
    # the archivist registers the dock with the real CLI, from the dock's public key
    pub = d.root / "keys" / "dock.pub"
    bodycam(d.config, "sync", "dock-key", "--out", str(pub))
    assert load_public_key(pub).keyid == load_public_key(d.root / "keys" / "dock.key").keyid
    added = json.loads(bodycam(w.archive_config_path, "archive", "dock", "add", "dock-j", "--pubkey", str(pub),
                               "--json").stdout)
    assert added["dock"] == "dock-j"
    # the dock's own bodycam.toml (from `bodycam init`) gets its sync settings
    bcfg = w.broker.client_config("dock-j", auth="plain")
    log_pub = d.root / "archive-log.pub"
    bodycam(w.archive_config_path, "archive", "log-key", "--out", str(log_pub))
    syncd = {"chunk_size": 256 << 10, "ack_timeout_s": 3.0, "archive_pubkey": log_pub.name}
    SyncdConfig(broker=bcfg, **syncd)
    text = d.config.read_text()
    text = text[:text.index("[syncd.broker]")] + render_toml({"syncd": syncd, "syncd.broker": broker_section(bcfg)})
    d.config.write_text(text)

    archive = w.archive_process()
    try:
        before = json.loads(bodycam(d.config, "sync", "status", "--json").stdout)
        assert before["queued_files"] > 0 and before["unscanned_entries"] > 10
        out = bodycam(d.config, "sync", "run", "--once", "--json")
        result = json.loads(out.stdout)
        assert result["rejected"] == [] and result["queued"] == 0
        after = json.loads(bodycam(d.config, "sync", "status", "--json").stdout)
        assert after["queued_files"] == 0 and after["unscanned_entries"] == 0 and after["rejected"] == []
        assert after["items"]["skipped"] == 1 and after["last_commit"] is not None
        time.sleep(2.1)  # last contact is recorded every 2 s
        docks = json.loads(bodycam(w.archive_config_path, "archive", "dock", "list", "--json").stdout)
    finally:
        archive.send_signal(signal.SIGTERM)
        assert archive.wait(15) == 0, w.log("archive.log")
    assert [x["dock"] for x in docks] == ["dock-j"]
    assert docks[0]["recorders"][0]["device_id"] == "rec-J100"
    assert docks[0]["recorders"][0]["segments"] == 4
    assert docks[0]["last_contact"] is not None

    # byte-identical entries, same order; the dock's entry 0 is stood for by the `dock` enrollment
    with d.ledger() as lg:
        dock_rows = [bytes(r[0]) for r in lg.conn.execute("SELECT envelope FROM entries ORDER BY idx")]
        wanted = set()
        for e in lg.entries(kind="segment"):
            wanted.add(e.body["media"]["sha256"])
            wanted.add(e.body["thumbnail_sha256"])
        sig_sha = lg.by_hash(jid).body["requester"]["signature_image_sha256"]
        wanted.add(sig_sha)
    with w.archive_ledger() as lg:
        arch_rows = [bytes(r[0]) for r in lg.conn.execute("SELECT envelope FROM entries ORDER BY idx")]
        assert lg.by_hash(jid) is not None
    assert arch_rows[3:] == dock_rows[1:]
    assert {b.name for b in w.blobs()} == wanted
    assert all(sha256_file(b) == b.name for b in w.blobs())
    assert w.parts() == []
    verify = bodycam(w.archive_config_path, "ledger", "verify", str(w.archive.path(w.archive.ledger)), "--json")
    assert json.loads(verify.stdout)["ok"] is True
