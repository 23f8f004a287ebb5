"""``bodycam ledger backup DB OUT`` copies a ledger in use with every entry; ``ledger verify`` warns
about a ``-wal`` beside the file it checks (issue 12, item 6).

The ledger is a real SQLite file written through ``Ledger`` while a writer connection stays open
with automatic WAL checkpoints off, as a running archive's does between its checkpoints: most
entries are then only in ``ledger.db-wal``, and a plain copy of ``ledger.db`` misses them.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodycam.cli import cli
from bodycam.errors import BodycamError
from ledger.envelope import seal
from ledger.store import Ledger
from tests.fixtures.ledger import build_ledger, segment

ORIGIN = "bodycam/dock-1"


@pytest.fixture
def live(tmp_path: Path):
    """(path, writer): 41 entries and two checkpoints, all but the first 4 entries only in the WAL."""
    path = tmp_path / "ledger.db"
    setup = build_ledger(path, segments=2)  # closed: these 4 entries are in ledger.db itself
    prev = hashlib.sha256(setup.envelopes[-1].to_bytes()).hexdigest()
    writer = Ledger.open(path)
    writer.conn.execute("PRAGMA wal_autocheckpoint=0")  # the WAL keeps every later commit
    for seq in range(2, 39):
        env = seal(segment("cam-1", seq, prev), setup.device)
        prev = hashlib.sha256(env.to_bytes()).hexdigest()
        writer.append(env)
        if seq == 20:
            writer.checkpoint(setup.root, ORIGIN)
    writer.checkpoint(setup.root, ORIGIN)
    assert writer.size == 41
    yield path, writer
    writer.close()


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_plain_copy_misses_the_wal_and_backup_holds_every_entry(live, tmp_path: Path):
    path, writer = live
    assert Path(f"{path}-wal").stat().st_size > 0
    plain = tmp_path / "plain.db"
    shutil.copyfile(path, plain)  # what `cp ledger.db` gives while the archive runs
    with Ledger.open(plain, readonly=True) as lg:
        assert lg.size == 4

    out = tmp_path / "backup" / "ledger-copy.db"
    out.parent.mkdir()
    res = _run("ledger", "backup", str(path), str(out))
    assert res.exit_code == 0, res.output
    assert "41 entries copied" in res.stdout and "latest checkpoint (size 41" in res.stdout
    assert "OK: 41 entries" in res.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not Path(f"{out}-wal").exists()  # one self-contained file
    with Ledger.open(out, readonly=True) as copy:
        assert [e.entry_hash for e in copy.entries()] == [e.entry_hash for e in writer.entries()]
        assert copy.root() == writer.root() and len(copy.checkpoints()) == 2
    # the copy alone (no -wal, no source) verifies with every entry
    moved = tmp_path / "elsewhere.db"
    shutil.copyfile(out, moved)
    res = _run("ledger", "verify", str(moved))
    assert res.exit_code == 0 and "OK: 41 entries" in res.stdout and "warning" not in res.stderr


def test_backup_never_overwrites(live, tmp_path: Path):
    path, _ = live
    out = tmp_path / "copy.db"
    out.write_bytes(b"earlier backup")
    res = _run("ledger", "backup", str(path), str(out))
    assert res.exit_code == 1 and "already exists" in res.stderr and "never overwrites" in res.stderr
    assert out.read_bytes() == b"earlier backup"
    out.unlink()
    Path(f"{out}-wal").write_bytes(b"x")  # a stale journal would be replayed into the copy
    with Ledger.open(path, readonly=True) as lg, pytest.raises(BodycamError, match="already exists"):
        lg.backup(out)
    assert not out.exists()


def test_backup_json_names_the_checkpoint_it_holds(live, tmp_path: Path):
    import json

    path, writer = live
    res = _run("ledger", "backup", str(path), str(tmp_path / "c.db"), "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    latest = writer.latest_checkpoint()
    assert d["size"] == 41 and d["checkpoint"] == {"size": latest.size, "root": latest.root.hex(), "origin": ORIGIN}
    assert d["verify"]["ok"] is True


def test_verify_warns_about_a_wal_beside_the_file(live, tmp_path: Path):
    path, _ = live
    res = _run("ledger", "verify", str(path))
    assert res.exit_code == 0, res.output
    assert f"warning: {path}-wal" in res.stderr and "bodycam ledger backup" in res.stderr
    assert "warning" not in res.stdout  # --json readers and pipes get the report only
