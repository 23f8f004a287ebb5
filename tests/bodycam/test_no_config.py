"""Without a bodycam.toml there is no deployment: commands that keep state refuse, say what to do,
and leave the folder they were started from as they found it (issue 10). Commands given every
path explicitly, and those that only read the built-in profiles, still work.

Each command runs as the installed ``bodycam`` in a fresh, empty folder as its working
directory, with ``BODYCAM_CONFIG`` unset: exactly what someone typing it in a new shell gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BODYCAM = Path(sys.executable).parent / "bodycam"

# Commands that would create or read a ledger, a state database, a store or an outbox.
STATEFUL = [
    ["fleet", "status"],
    ["segments"],
    ["gaps"],
    ["sync", "status"],
    ["archive", "dock", "list"],
    ["person", "list"],
    ["device", "status", "--port", os.devnull, "--profile", "zfy-e12-gat947"],
    ["case", "show"],
]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BODYCAM_CONFIG"}
    return subprocess.run([str(BODYCAM), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def _contents(folder: Path) -> list[str]:
    """Everything under ``folder``, hidden files included, as relative paths."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            found.append(str((Path(dirpath) / name).relative_to(folder)))
    return sorted(found)


@pytest.fixture
def empty(tmp_path) -> Path:
    d = tmp_path / "empty"
    d.mkdir()
    return d


@pytest.mark.parametrize("args", STATEFUL, ids=lambda a: " ".join(a[:2]))
def test_stateful_command_refuses_and_writes_nothing(empty, args):
    res = _run(empty, *args)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    assert "bodycam init" in res.stderr and "--config" in res.stderr, res.stderr
    assert res.stdout == ""
    assert _contents(empty) == [], f"`bodycam {' '.join(args)}` wrote into the working folder"


def test_help_works_without_config(empty):
    res = _run(empty, "--help")
    assert res.returncode == 0, res.stderr
    assert "Commands:" in res.stdout and "init" in res.stdout
    assert _contents(empty) == []


def test_keys_generate_with_explicit_path_works_without_config(empty):
    res = _run(empty, "keys", "generate", "--out", "K")
    assert res.returncode == 0, res.stderr
    assert _contents(empty) == ["K", "K.pub"]


def test_device_ports_works_without_config(empty):
    res = _run(empty, "device", "ports", "--json")
    assert res.returncode == 0, res.stderr
    assert isinstance(json.loads(res.stdout)["ports"], list)
    assert _contents(empty) == []
