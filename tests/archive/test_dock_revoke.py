"""A lost or stolen dock is revoked at the archive (docs/deploy.md): its keys get admin-signed
revocations, nothing more is accepted from it, its broker credentials are withdrawn, and what it
delivered before stays verifiable evidence (A2 Art.16: only registered custodians deliver)."""

from __future__ import annotations

import json
import subprocess

from archive.broker.config import BrokerDeployment, Listener, write_deployment
from archive.docks import Trust
from ledger.store import Ledger
from tests.fixtures.sync import BODYCAM, sync_once


def _bodycam(w, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BODYCAM), "--config", str(w.archive_config_path), *args], capture_output=True,
                          text=True, timeout=60)


def test_revoked_dock_delivers_nothing_more_and_its_past_footage_still_verifies(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([40 << 10])
    archive = w.archive_process()
    try:
        first = sync_once(w, "dock-a", "--json", "--connect-timeout", "30")
        assert first.returncode == 0, first.stdout + first.stderr
        assert json.loads(first.stdout)["committed"] == 2  # device enrollment and segment

        out = _bodycam(w, "archive", "dock", "revoke", "dock-a", "--reason", "stolen from the car", "--json")
        assert out.returncode == 0, out.stderr
        revoked = json.loads(out.stdout)["revocations"]
        assert len(revoked) == 1 and revoked[0]["keyid"] == a.dock_key.keyid

        a.add_segments([20 << 10], seed=3)
        second = sync_once(w, "dock-a", "--json", "--connect-timeout", "30")
        assert second.returncode == 3, second.stdout + second.stderr
        assert {r["code"] for r in json.loads(second.stdout)["rejected"]} == {"unknown_dock"}
    finally:
        archive.terminate()
        archive.wait(30)
    with Ledger.open(w.archive.path(w.archive.ledger)) as lg:
        assert not Trust.load(lg).is_dock("dock-a")
        kinds = [e.record.kind for e in lg.entries()]
    assert kinds.count("segment") == 1 and kinds[-1] == "revocation"
    verify = _bodycam(w, "archive", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_revoke_withdraws_broker_credentials_and_refuses_unknown_docks(sync_world, tmp_path):
    w = sync_world()
    dep = BrokerDeployment(dir=tmp_path / "broker", docks=("dock-a", "dock-b"), listeners=(Listener(8883),))
    write_deployment(dep)
    assert dep.password_path("dock-a").exists()
    out = _bodycam(w, "archive", "dock", "revoke", "dock-a", "--reason", "retired",
                   "--broker-dir", str(dep.dir))
    assert out.returncode == 0, out.stderr
    acl = dep.acl_path.read_text()
    assert "user dock-a" not in acl and "user dock-b" in acl
    assert not any(line.startswith("dock-a:") for line in dep.passwd_path.read_text().splitlines())
    assert not dep.password_path("dock-a").exists()
    assert "reload the broker" in out.stdout

    again = _bodycam(w, "archive", "dock", "revoke", "dock-a", "--reason", "twice")
    assert again.returncode == 1 and "not a registered dock" in again.stderr
    assert "Traceback" not in again.stderr
    unknown = _bodycam(w, "archive", "dock", "revoke", "dock-q", "--reason", "never was")
    assert unknown.returncode == 1 and "dock-q" in unknown.stderr
