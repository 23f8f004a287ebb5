"""One daemon of a kind per data folder: a second `agent run` (like a second `archive serve` or
`sync run`, see tests/syncd/test_one_daemon_per_folder.py) exits 1 at once naming the first one's
pid, while the first keeps running; the lock goes with the process that held it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodycam.cli import cli
from bodycam.errors import BodycamError
from bodycam.locks import AlreadyRunningError, exclusive_lock

BODYCAM = str(Path(sys.executable).with_name("bodycam"))


def test_a_second_holder_is_refused_at_once_and_the_lock_is_free_again_after(tmp_path):
    old = os.umask(0)
    try:
        with exclusive_lock(tmp_path, "archive", "bodycam archive serve") as path:
            assert path == tmp_path / ".archive.lock" and stat.S_IMODE(path.stat().st_mode) == 0o600
            started = time.monotonic()
            with pytest.raises(AlreadyRunningError) as err, \
                    exclusive_lock(tmp_path, "archive", "bodycam archive serve"):
                pass
            assert time.monotonic() - started < 1, "never waits"
            assert str(err.value) == (f"another `bodycam archive serve` (pid {os.getpid()}) is using {tmp_path}; "
                                      "stop it first")
            assert err.value.exit_code == 1
            with exclusive_lock(tmp_path, "sync", "bodycam sync run"):
                pass  # another daemon's lock: independent
    finally:
        os.umask(old)
    with exclusive_lock(tmp_path, "archive", "bodycam archive serve"):
        pass
    with pytest.raises(BodycamError, match="no such data folder"), \
            exclusive_lock(tmp_path / "missing", "archive", "bodycam archive serve"):
        pass


def _agent(dock: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([BODYCAM, "--config", str(dock / "bodycam.toml"), "agent", "run", "--no-clock"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_second_agent_run_on_one_dock_folder_exits_1_naming_the_first_which_keeps_running(tmp_path):
    dock = tmp_path / "dock"
    assert CliRunner().invoke(cli, ["init", "--role", "dock", "--dir", str(dock), "--name", "dock-l"]).exit_code == 0
    cfg = dock / "bodycam.toml"
    cfg.write_text(cfg.read_text().replace('data_dir = "."', 'data_dir = "."\npoll_interval_s = 0.1'))
    first = _agent(dock, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 30
        while "watching" not in (tmp_path / "first.log").read_text():
            assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()
            time.sleep(0.05)
        second = _agent(dock, tmp_path / "second.log")
        assert second.wait(30) == 1, (tmp_path / "second.log").read_text()
        assert (f"another `bodycam agent run` (pid {first.pid}) is using {dock}; stop it first"
                in (tmp_path / "second.log").read_text())
        time.sleep(0.5)
        assert first.poll() is None, "the first one keeps running"
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, (tmp_path / "first.log").read_text()
    assert "stopped cleanly" in (tmp_path / "first.log").read_text()
    again = _agent(dock, tmp_path / "again.log")  # the lock went with the first process
    try:
        deadline = time.monotonic() + 30
        while "watching" not in (tmp_path / "again.log").read_text():
            assert again.poll() is None and time.monotonic() < deadline, (tmp_path / "again.log").read_text()
            time.sleep(0.05)
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(30) == 0
