"""``bodycam archive verify`` (issue 13 item 2, A2 Art.3, 8, 9, 17, 22(3)-(4)): a whole-archive check
that finds, each alone, a flipped byte in a blob, a deleted blob, a ledger row changed by raw SQL,
a checkpoint replaced by a longer history that does not extend it, and a missing attachment, and
passes an intact archive. The archive is built with the library calls ``bodycam init`` and the
receiver use (keys, rooted ledger, log key, device, segments with real blobs, a checkpoint)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.config import ArchiveConfig
from archive.verify import expected_blobs, purged_blobs, verify_archive
from bodycam.cli import cli
from bodycam.permissions import private_dir
from ledger.blobs import BlobStore
from ledger.enroll import create_rooted, enroll, public_of
from ledger.envelope import seal
from ledger.keys import Signer, generate_key_file
from ledger.records import Media, Requester, Segment, StopJustification, make_body
from ledger.store import Ledger
from tests.fixtures.sync import render_toml

T0 = 1_796_000_000 * 1_000_000_000
ORIGIN = "test.bodycam/archive"


@dataclass
class Site:
    dir: Path
    cfg: ArchiveConfig
    config_path: Path
    admin: Signer
    log_key: Signer
    device: Signer
    blobs: list[str] = field(default_factory=list)
    image: str = ""
    justification_idx: int = -1

    def ledger(self) -> Ledger:
        return Ledger.open(self.cfg.path(self.cfg.ledger), create=False)

    def blob_path(self, sha: str) -> Path:
        return BlobStore(self.cfg.path(self.cfg.blob_dir)).blob_path(sha)

    def run(self, *args: str):
        return CliRunner().invoke(cli, ["--config", str(self.config_path), "archive", "verify", *args])


def _store(store: BlobStore, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    tmp = store.root / f"tmp-{sha[:8]}"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o600)
    os.write(fd, data)
    store.commit(fd, tmp, sha)
    return sha


def _segment(device_id: str, seq: int, prev: str, sha: str, size: int) -> Segment:
    start = T0 + seq * 60_000_000_000
    return Segment(device_id=device_id, seq=seq, prev=prev,
                   media=Media(sha256=sha, size=size, container="mp4", codec="h264", width=1280, height=720,
                               fps="25", frames=1500, duration_ms=60_000),
                   device_start="2026-11-30 08:00:00", start_ns=start, end_ns=start + 60_000_000_000,
                   officer_id="officer-7", case_id="case-1", source_name=f"VID_{seq:04d}.MP4", decodable=True)


def build_site(root: Path, segments: int = 3, size: int = 300_000) -> Site:
    adir = root / "archive"
    private_dir(adir / "keys")
    cfg = ArchiveConfig(data_dir=adir, origin=ORIGIN)
    admin = generate_key_file(cfg.path(cfg.admin_key))
    log_key = generate_key_file(cfg.path(cfg.log_key))
    device = Signer.generate()
    store = BlobStore(cfg.path(cfg.blob_dir)).ensure()
    site = Site(adir, cfg, adir / "bodycam.toml", admin, log_key, device)
    site.config_path.write_text(render_toml({"archive": {"data_dir": str(adir), "origin": ORIGIN}}))
    with Ledger.open(cfg.path(cfg.ledger)) as lg:
        create_rooted(lg, admin, "archive-admin", now_ns=T0)
        enroll(lg, admin, "archive_log", "archive-log", public_of(log_key), now_ns=T0)
        prev = enroll(lg, admin, "device", "rec-1", public_of(device), now_ns=T0, custodian="officer-7").entry_hash
        for seq in range(segments):
            data = os.urandom(size)
            sha = _store(store, data)
            entry = lg.append(seal(make_body(_segment("rec-1", seq, prev, sha, size)), device), require_trusted=True)
            prev = entry.entry_hash
            site.blobs.append(sha)
        lg.checkpoint(log_key, ORIGIN)
    return site


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return build_site(tmp_path)


def _problems(result) -> list[dict]:
    return json.loads(result.stdout)["problems"]


def test_a2_art9_intact_archive_verifies(site: Site) -> None:
    res = site.run("--json", "--jobs", "2")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ok"] and out["blobs"] == 3 and out["bytes"] == 900_000 and out["unreferenced"] == []
    assert out["entries"] == 6 and out["signatures"] >= 6 and out["checkpoints"] == 1
    res = site.run("--jobs", "1")
    assert res.exit_code == 0, res.output
    assert "OK: 6 entries" in res.output and "3 blobs" in res.output and "MB/s" in res.output
    with site.ledger() as lg:
        assert purged_blobs(lg) == {}  # no retention entries (the kind may even be unknown): nothing purged
        assert set(expected_blobs(lg)) == set(site.blobs)


def _segment_idx(site: Site, sha: str) -> int:
    with site.ledger() as lg:
        return next(e.idx for e in lg.entries(kind="segment") if e.body["media"]["sha256"] == sha)


def _only_blob_problem(site: Site, check: str, sha: str) -> None:
    res = site.run("--json")
    assert res.exit_code == 3, res.output
    problems = _problems(res)
    assert [(p["check"], p["blob"], p["idx"]) for p in problems] == [(check, sha, _segment_idx(site, sha))]
    text = site.run()
    assert text.exit_code == 3 and f"blob {sha}" in text.output and check in text.output


def test_a2_art9_flipped_byte_in_a_blob_is_found(site: Site) -> None:
    path = site.blob_path(site.blobs[1])
    path.chmod(0o600)  # blobs are 0400: an insider makes it writable first
    with open(path, "r+b") as f:
        f.seek(12345)
        b = f.read(1)
        f.seek(12345)
        f.write(bytes([b[0] ^ 0x01]))
    path.chmod(0o400)
    _only_blob_problem(site, "blob_hash", site.blobs[1])


def test_a2_art22_deleted_blob_is_found(site: Site) -> None:
    site.blob_path(site.blobs[2]).unlink()
    _only_blob_problem(site, "blob_missing", site.blobs[2])


def test_a2_art22_ledger_row_changed_by_raw_sql_is_found(site: Site) -> None:
    from ledger.canonical import canonical_json
    from ledger.envelope import Envelope, body

    target = _segment_idx(site, site.blobs[0])
    db = site.cfg.path(site.cfg.ledger)
    conn = sqlite3.connect(db)
    data = conn.execute("SELECT envelope FROM entries WHERE idx = ?", (target,)).fetchone()[0]
    env = Envelope.from_bytes(bytes(data))
    edited = dict(body(env), source_name="VID_9999.MP4")  # the same signature over other words
    forged = Envelope(env.payload_type, canonical_json(edited), env.signatures).to_bytes()
    conn.execute("DROP TRIGGER entries_no_update")  # as an insider would
    conn.execute("UPDATE entries SET envelope = ? WHERE idx = ?", (forged, target))
    conn.commit()
    conn.close()
    res = site.run("--json")
    assert res.exit_code == 3, res.output
    problems = _problems(res)
    checks = {p["check"] for p in problems if p["idx"] == target}
    assert {"entry_hash", "signature"} <= checks
    assert {p["idx"] for p in problems} == {target, None}  # the row, and the schema/checkpoint it breaks
    assert all(p["blob"] is None for p in problems)
    assert any(p["check"] == "schema" for p in problems)


def test_a2_art9_checkpoint_replaced_by_a_longer_history_that_does_not_extend_it(site: Site, tmp_path: Path) -> None:
    """The ledger is swapped for a longer one, from the same keys and signed by the log key, that
    shares the first entries but not the rest: the old checkpoint (size 6) is no prefix of it."""
    db = site.cfg.path(site.cfg.ledger)
    with site.ledger() as lg:
        old = lg.latest_checkpoint()
        keep = [e.envelope for e in lg.entries(stop=4)]  # root, log key, device, first segment
    store = BlobStore(site.cfg.path(site.cfg.blob_dir))
    fork = tmp_path / "fork.db"
    with Ledger.open(fork) as lg:
        for env in keep:
            prev = lg.append(env, require_trusted=True).entry_hash
        for seq in range(1, 5):
            sha = _store(store, os.urandom(1000 + seq))
            prev = lg.append(seal(make_body(_segment("rec-1", seq, prev, sha, 1000 + seq)), site.device),
                             require_trusted=True).entry_hash
        lg.checkpoint(site.log_key, ORIGIN)
        assert lg.conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 8 > old.size
        lg.conn.execute("INSERT INTO checkpoints (size, root, origin, note, created_ns) VALUES (?, ?, ?, ?, ?)",
                        (old.size, old.root, old.origin, old.note, old.created_ns))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(fork, db)
    os.chmod(db, 0o600)
    res = site.run("--json")
    assert res.exit_code == 3, res.output
    problems = _problems(res)
    assert [p["check"] for p in problems] == ["checkpoint"]
    assert "size 6" in problems[0]["message"] and "root differs" in problems[0]["message"]
    assert json.loads(res.stdout)["unreferenced"]  # the replaced segments' blobs: kept, not a problem


def test_a2_art11_missing_attachment_is_found(site: Site) -> None:
    """A stop justification's requester signature image (A2 Art.11) is a blob the archive must hold."""
    store = BlobStore(site.cfg.path(site.cfg.blob_dir))
    image = _store(store, b"\x89PNG signature image" + os.urandom(64))
    with site.ledger() as lg:
        gap = lg.latest("segment").entry_hash
        body = StopJustification(gap=gap, device_id="rec-1", reason=1, officer_id="officer-7", note="asked to stop",
                                 requester=Requester(name="Witness", signature_image_sha256=image))
        idx = lg.append(seal(body, site.admin), require_trusted=True).idx
        lg.checkpoint(site.log_key, ORIGIN)
    before = _problems(site.run("--json"))  # what the justification rules say of this bare record, if anything
    assert not any(p["blob"] for p in before)
    store.blob_path(image).unlink()
    res = site.run("--json")
    assert res.exit_code == 3, res.output
    new = [p for p in _problems(res) if p not in before]
    assert [(p["check"], p["blob"], p["idx"]) for p in new] == [("blob_missing", image, idx)]
    assert "attachment" in new[0]["message"]


def test_a2_art17_loose_permissions_are_problems(site: Site) -> None:
    site.blob_path(site.blobs[0]).chmod(0o444)
    res = site.run("--json")
    assert res.exit_code == 3
    assert [p["check"] for p in _problems(res)] == ["permissions"]


def test_verify_archive_reports_progress_and_is_the_same_with_any_number_of_jobs(site: Site) -> None:
    seen = []
    one = verify_archive(site.cfg, jobs=1, progress=lambda done, total: seen.append((done, total)))
    two = verify_archive(site.cfg, jobs=2)
    assert one.ok and two.ok and one.bytes_hashed == two.bytes_hashed == 900_000
    assert seen[-1] == (900_000, 900_000) and len(seen) == 3
