"""One log, one checkpoint origin (C2SP): a verifier trusts a name and a key, so a log signed
under two names would be rejected under one of them, and a name suggesting the admin key signed
it would mislead. The origin comes from configuration and is fixed at the log's birth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bodycam.errors import RefusedError
from ledger import checkpoint as cp
from ledger.keys import load_signer
from ledger.store import Ledger
from ledger.verify import verify_ledger

BODYCAM = str(Path(sys.executable).with_name("bodycam"))


def _bodycam(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BODYCAM, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    d = tmp_path / "archive"
    res = _bodycam("init", "--role", "archive", "--dir", str(d), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return d


def test_a_new_archive_log_is_born_with_its_configured_origin(archive: Path) -> None:
    with Ledger.open(archive / "ledger.db", create=False) as lg:
        assert lg.origin == "bodycam.example.gov.cn/archive"


def test_a_checkpoint_under_another_origin_is_refused(archive: Path) -> None:
    log = load_signer(archive / "keys" / "log.key")
    with Ledger.open(archive / "ledger.db", create=False) as lg:
        with pytest.raises(RefusedError, match="one log has one origin"):
            lg.checkpoint(log, "bodycam/archive-admin")
        assert len(lg.checkpoints()) == 1


def test_ledger_checkpoint_defaults_to_the_logs_own_origin(archive: Path, tmp_path: Path) -> None:
    res = _bodycam("ledger", "checkpoint", str(archive / "ledger.db"), "--key", str(archive / "keys" / "log.key"),
                   "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["origin"] == "bodycam.example.gov.cn/archive"
    res = _bodycam("ledger", "checkpoint", str(archive / "ledger.db"), "--key", str(archive / "keys" / "log.key"),
                   "--origin", "bodycam/archive-admin", cwd=tmp_path)
    assert res.returncode == 3 and "one origin" in res.stderr


def test_verify_rejects_a_checkpoint_signed_for_another_origin(archive: Path) -> None:
    log = load_signer(archive / "keys" / "log.key")
    with Ledger.open(archive / "ledger.db", create=False) as lg:
        size = lg.size
        note = cp.sign_checkpoint(cp.Checkpoint("evil/other-name", size, lg.root(size)), log, "evil/other-name")
        lg.conn.execute("INSERT INTO checkpoints (size, root, origin, note, created_ns) VALUES (?, ?, ?, ?, ?)",
                        (size, lg.root(size), "evil/other-name", note, 1))
        problems = [str(p) for p in verify_ledger(lg).problems]
    assert any("evil/other-name" in p and "one log, one origin" in p for p in problems), problems


def test_verify_with_an_expected_origin_rejects_every_other(archive: Path, tmp_path: Path) -> None:
    res = _bodycam("ledger", "verify", str(archive / "ledger.db"), "--origin", "someone.else/log", cwd=tmp_path)
    assert res.returncode == 3 and "someone.else/log" in res.stdout + res.stderr


def test_archive_log_key_prints_the_c2sp_verifier_key_that_checks_its_checkpoints(archive: Path,
                                                                                   tmp_path: Path) -> None:
    res = _bodycam("--config", str(archive / "bodycam.toml"), "archive", "log-key", "--vkey", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    name, pub = cp.parse_vkey(res.stdout.strip())
    assert name == "bodycam.example.gov.cn/archive"
    with Ledger.open(archive / "ledger.db", create=False) as lg:
        note = lg.latest_checkpoint().note
    cp.verify_note(note, name, pub)  # a standard note verifier with only the vkey accepts it
