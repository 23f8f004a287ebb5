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


def _steps(output: str) -> list[list[str]]:
    """The commands `init` prints under "next steps:", as argument lists after ``bodycam``."""
    import shlex

    tail = output.split("\nnext steps:\n", 1)[1]
    return [shlex.split(line.strip())[1:] for line in tail.splitlines() if line.strip().startswith("bodycam ")]


def test_init_prints_next_steps_that_work(tmp_path, monkeypatch):
    """After `init` each role is told what to do next, with commands that run as printed (only the
    placeholders filled in): the dock exports its key for the archive, the archive sets up its
    broker certificates and registers that dock."""
    import json

    monkeypatch.chdir(tmp_path)
    run = CliRunner().invoke
    dock = run(cli, ["init", "--role", "dock", "--dir", str(tmp_path / "dock"), "--name", "dock-north"])
    assert dock.exit_code == 0, dock.output
    enroll, person, dock_key = _steps(dock.output)
    assert enroll[:3] == ["--config", str(tmp_path / "dock" / "bodycam.toml"), "device"]
    assert enroll[3:5] == ["enroll", "--port"] and "--custodian" in enroll
    assert person[2:4] == ["person", "enroll"]
    assert dock_key[2:] == ["sync", "dock-key", "--out", "dock-north.pub"]
    assert "archive dock add dock-north --pubkey dock-north.pub" in dock.output
    assert run(cli, dock_key).exit_code == 0 and (tmp_path / "dock-north.pub").is_file()

    archive = run(cli, ["init", "--role", "archive", "--dir", str(tmp_path / "archive")])
    assert archive.exit_code == 0, archive.output
    pki, dock_add, serve = _steps(archive.output)
    assert pki[2:4] == ["pki", "init"] and serve[2:] == ["archive", "serve"]
    pki[pki.index("HOST")] = "archive.example"
    res = run(cli, pki)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "archive" / "broker" / "pki" / "ca.crt").is_file()
    dock_add[dock_add.index("DOCK_NAME")] = "dock-north"
    dock_add[dock_add.index("DOCK.pub")] = "dock-north.pub"
    res = run(cli, dock_add)
    assert res.exit_code == 0 and "dock dock-north registered" in res.output, res.output

    as_json = run(cli, ["init", "--role", "dock", "--dir", str(tmp_path / "d2"), "--json"])
    steps = json.loads(as_json.output)["next_steps"]
    assert [s["command"].split()[3:5] for s in steps] == [["device", "enroll"], ["person", "enroll"],
                                                         ["sync", "dock-key"]]
