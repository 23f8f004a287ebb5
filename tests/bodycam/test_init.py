"""`bodycam init`: a working deployment folder with keys at mode 0600 and a rooted ledger."""

import stat

from click.testing import CliRunner

from bodycam.cli import cli
from bodycam.config import load_config
from ledger.keys import load_signer
from ledger.store import Ledger


def test_dock_init_writes_config_keys_and_rooted_ledger(tmp_path):
    d = tmp_path / "dock"
    result = CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-north"])
    assert result.exit_code == 0, result.output
    cfg, _ = load_config(d / "bodycam.toml")
    assert cfg.agent.dock_id == "dock-north"
    key = cfg.agent.path(cfg.agent.key_file)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    signer = load_signer(key)
    with Ledger.open(cfg.agent.path(cfg.agent.ledger)) as ledger:
        root = ledger.get(0)
        assert root.body["subject_type"] == "ledger_root"
        assert root.body["keyid"] == signer.keyid


def test_archive_init_enrolls_log_key(tmp_path):
    d = tmp_path / "archive"
    result = CliRunner().invoke(cli, ["init", "--role", "archive", "--dir", str(d)])
    assert result.exit_code == 0, result.output
    cfg, _ = load_config(d / "bodycam.toml")
    log = load_signer(cfg.archive.path(cfg.archive.log_key))
    with Ledger.open(cfg.archive.path(cfg.archive.ledger)) as ledger:
        kinds = [(e.body["subject_type"], e.body["keyid"]) for e in ledger.entries(kind="enrollment")]
    assert kinds[0][0] == "ledger_root"
    assert ("archive_log", log.keyid) in kinds


def test_init_refuses_to_overwrite_and_bad_names(tmp_path):
    d = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d)]).exit_code == 0
    again = CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(d)])
    assert again.exit_code == 1
    assert "refusing to overwrite" in again.output
    bad = CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(tmp_path / "x"), "--name", "../evil"])
    assert bad.exit_code != 0
    assert not (tmp_path / "x" / "bodycam.toml").exists()
