"""`bodycam keys` and `bodycam ledger` end to end on real files, including tampering made
with raw SQL after dropping the triggers: `bodycam ledger verify` exits 3 and names the entry."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodycam.cli import cli
from ledger import merkle
from ledger.canonical import canonical_json
from ledger.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from ledger.envelope import Envelope, body, pae, seal
from ledger.keys import PublicKey, Signer, write_private_key, write_public_key
from ledger.records import validate_body
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.ledger import LedgerSetup


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def tamper(path: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def replace_envelope(path: Path, idx: int, env_bytes: bytes) -> None:
    """The careful forger: new envelope bytes with hashes recomputed to match."""
    import hashlib

    tamper(path, "UPDATE entries SET envelope = ?, entry_hash = ?, leaf_hash = ? WHERE idx = ?",
           (env_bytes, hashlib.sha256(env_bytes).hexdigest(), merkle.leaf_hash(env_bytes), idx))


def verify_fails(path: Path, *names: str, args: tuple = ()):
    result = run("ledger", "verify", path, *args)
    assert result.exit_code == 3, result.output
    for name in names:
        assert name in result.output, result.output
    return result


def test_keys_generate_and_show(tmp_path: Path) -> None:
    result = run("keys", "generate", "--out", tmp_path / "dock.key", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert stat.S_IMODE((tmp_path / "dock.key").stat().st_mode) == 0o600
    assert (tmp_path / "dock.key.pub").exists()
    for f in ("dock.key", "dock.key.pub"):
        shown = json.loads(run("keys", "show", tmp_path / f, "--json").stdout)
        assert shown["keyid"] == info["keyid"]
        assert PublicKey.from_b64(shown["public_key"]).keyid == info["keyid"]
    assert run("keys", "generate", "--out", tmp_path / "dock.key").exit_code == 1
    (tmp_path / "dock.key").chmod(0o644)
    result = run("keys", "show", tmp_path / "dock.key")
    assert result.exit_code == 1 and "chmod 600" in result.output


def test_keys_passphrase_from_env(tmp_path: Path) -> None:
    env = {"DOCK_KEY_PASS": "s3cret passphrase"}
    assert run("keys", "generate", "--out", tmp_path / "k", "--passphrase-env", "DOCK_KEY_PASS", env=env).exit_code == 0
    assert "s3cret" not in (tmp_path / "k").read_text()
    assert run("keys", "show", tmp_path / "k", "--passphrase-env", "DOCK_KEY_PASS", env=env).exit_code == 0
    result = run("keys", "show", tmp_path / "k")
    assert result.exit_code == 1 and "--passphrase-env" in result.output


def test_show_verify_proof_consistency_checkpoint(ledger_setup: LedgerSetup, tmp_path: Path) -> None:
    db = ledger_setup.path
    shown = json.loads(run("ledger", "show", db, "--kind", "segment", "--json").stdout)
    assert shown["size"] == 7 and [e["idx"] for e in shown["entries"]] == [2, 3, 4, 5, 6]
    assert "segment" in run("ledger", "show", db).output

    key = tmp_path / "root.key"
    write_private_key(key, ledger_setup.root)
    result = run("ledger", "checkpoint", db, "--key", key, "--origin", "bodycam.example/dock-1")
    assert result.exit_code == 0, result.output
    cp = verify_checkpoint(result.stdout, ledger_setup.root.public_key)
    assert cp.size == 7

    write_public_key(tmp_path / "root.pub", ledger_setup.root.public_key)
    result = run("ledger", "verify", db, "--trust", tmp_path / "root.pub", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["entries_checked"] == 7 and report["checkpoints_checked"] == 1

    proof = json.loads(run("ledger", "proof", db, "--index", "3", "--size", "6", "--json").stdout)
    assert proof["leaf_index"] == 3 and proof["tree_size"] == 6
    path = [base64.b64decode(p) for p in proof["inclusion_path"]]
    assert merkle.verify_inclusion(base64.b64decode(proof["leaf_hash"]), 3, 6, path,
                                   base64.b64decode(proof["root_hash"]))
    full = json.loads(run("ledger", "proof", db, "--index", "3", "--json").stdout)
    assert base64.b64decode(full["root_hash"]) == cp.root

    cons = json.loads(run("ledger", "consistency", db, "--old", "3", "--json").stdout)
    assert merkle.verify_consistency(3, 7, base64.b64decode(cons["first_hash"]), cp.root,
                                     [base64.b64decode(p) for p in cons["consistency_path"]])
    assert run("ledger", "proof", db, "--index", "9").exit_code == 1
    assert run("ledger", "consistency", db, "--old", "9").exit_code == 2


def test_verify_with_the_wrong_trusted_root(ledger_setup: LedgerSetup, tmp_path: Path) -> None:
    write_public_key(tmp_path / "other.pub", Signer.generate().public_key)
    verify_fails(ledger_setup.path, "entry 0", "not the trusted key", args=("--trust", tmp_path / "other.pub"))


def test_edited_row_is_detected(ledger_setup: LedgerSetup) -> None:
    env = ledger_setup.envelopes[3]
    b = body(env)
    b["source_name"] = "VID_EDITED.MP4"
    forged = Envelope(env.payload_type, canonical_json(b), env.signatures).to_bytes()
    tamper(ledger_setup.path, "UPDATE entries SET envelope = ? WHERE idx = 3", (forged,))
    result = verify_fails(ledger_setup.path, "entry 3", "entry_hash", "signature", "entries 3")
    assert "entry 2 " not in result.output and "entry 4 " not in result.output


def test_removed_row_is_detected(ledger_setup: LedgerSetup) -> None:
    tamper(ledger_setup.path, "DELETE FROM entries WHERE idx = 4")
    verify_fails(ledger_setup.path, "entry 4", "missing")


def test_removed_tail_is_detected_by_the_checkpoint(ledger_setup: LedgerSetup) -> None:
    with ledger_setup.open() as lg:
        lg.checkpoint(ledger_setup.root, "bodycam.example/dock-1")
    tamper(ledger_setup.path, "DELETE FROM entries WHERE idx = 6")
    verify_fails(ledger_setup.path, "checkpoint", "entries were removed")


def test_body_resigned_with_unenrolled_key_is_detected(ledger_setup: LedgerSetup) -> None:
    env = ledger_setup.envelopes[5]
    record = validate_body(body(env))
    forged = seal(record.model_copy(update={"officer_id": "off-9"}), Signer.generate())
    replace_envelope(ledger_setup.path, 5, forged.to_bytes())
    verify_fails(ledger_setup.path, "entry 5", "not enrolled")


def test_non_canonical_payload_is_detected(ledger_setup: LedgerSetup) -> None:
    env = ledger_setup.envelopes[6]
    loose = json.dumps(body(env), indent=1).encode()  # same body, another encoding, validly signed
    forged = Envelope(env.payload_type, loose, ((ledger_setup.device.keyid,
                                                 ledger_setup.device.sign(pae(env.payload_type, loose))),))
    replace_envelope(ledger_setup.path, 6, forged.to_bytes())
    verify_fails(ledger_setup.path, "entry 6", "canonical")


def test_checkpoint_signed_by_another_key_is_detected(ledger_setup: LedgerSetup) -> None:
    with ledger_setup.open() as lg:
        size, root = lg.size, lg.root()
        lg.checkpoint(ledger_setup.root, "bodycam.example/dock-1")
    note = sign_checkpoint(Checkpoint("bodycam.example/dock-1", size, root), Signer.generate())
    conn = sqlite3.connect(ledger_setup.path)
    conn.execute("INSERT INTO checkpoints (size, root, origin, note, created_ns) VALUES (?, ?, ?, ?, 0)",
                 (size, root, "bodycam.example/dock-1", note))
    conn.commit()
    conn.close()
    result = verify_fails(ledger_setup.path, "checkpoint #2", "not signed by an enrolled")
    assert "checkpoint #1" not in result.output


def test_edited_merkle_node_is_detected(ledger_setup: LedgerSetup) -> None:
    tamper(ledger_setup.path, "UPDATE merkle_nodes SET hash = ? WHERE level = 1 AND idx = 1", (bytes(32),))
    verify_fails(ledger_setup.path, "level 1, index 1")


def test_worker_processes_find_the_same_problems(ledger_setup: LedgerSetup) -> None:
    tamper(ledger_setup.path, "DELETE FROM entries WHERE idx = 4")
    env = ledger_setup.envelopes[5]
    forged = seal(validate_body(body(env)), Signer.generate())
    replace_envelope(ledger_setup.path, 5, forged.to_bytes())
    with Ledger.open(ledger_setup.path, readonly=True) as lg:
        inline = verify_ledger(lg, workers=1)
        pooled = verify_ledger(lg, workers=2, process_threshold=1)
    assert not inline.ok
    assert [str(p) for p in inline.problems] == [str(p) for p in pooled.problems]
    assert {p.idx for p in inline.problems} >= {4, 5}


@pytest.mark.parametrize("kind", ["enrollment", "segment"])
def test_kind_column_edit_is_detected(ledger_setup: LedgerSetup, kind: str) -> None:
    tamper(ledger_setup.path, "UPDATE entries SET kind = 'gap' WHERE kind = ? AND idx = (SELECT max(idx) "
                              "FROM entries WHERE kind = ?)", (kind, kind))
    verify_fails(ledger_setup.path, "kind column")


def test_check_proof_offline(ledger_setup: LedgerSetup, tmp_path: Path) -> None:
    """What an auditor does with an exported proof: no ledger, only files and a public key."""
    db = ledger_setup.path
    key = tmp_path / "root.key"
    write_private_key(key, ledger_setup.root)
    write_public_key(tmp_path / "root.pub", ledger_setup.root.public_key)
    (tmp_path / "cp.note").write_text(run("ledger", "checkpoint", db, "--key", key).stdout)
    (tmp_path / "proof.json").write_text(run("ledger", "proof", db, "--index", "4", "--json").stdout)
    (tmp_path / "entry.json").write_bytes(ledger_setup.envelopes[4].to_bytes())
    args = ["ledger", "check-proof", tmp_path / "proof.json", "--envelope", tmp_path / "entry.json",
            "--checkpoint", tmp_path / "cp.note", "--key", tmp_path / "root.pub"]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checks"] == {"inclusion": True, "envelope": True, "checkpoint": True}

    (tmp_path / "entry.json").write_bytes(ledger_setup.envelopes[5].to_bytes())
    result = run(*args)
    assert result.exit_code == 3 and "envelope    FAILED" in result.output
    (tmp_path / "entry.json").write_bytes(ledger_setup.envelopes[4].to_bytes())

    write_public_key(tmp_path / "other.pub", Signer.generate().public_key)
    assert run(*args[:-1], tmp_path / "other.pub").exit_code == 3

    proof = json.loads((tmp_path / "proof.json").read_text())
    proof["inclusion_path"][0] = base64.b64encode(bytes(32)).decode()
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    result = run(*args)
    assert result.exit_code == 3 and "inclusion   FAILED" in result.output
