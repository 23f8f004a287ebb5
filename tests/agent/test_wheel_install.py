"""`pip install .` (not editable) gives a working `bodycam`: the built-in firmware profiles are in
the wheel and found through importlib.resources, wherever the package is unpacked.

One wheel is built per module from a copy of the working tree (what `git ls-files` lists, plus
new files not yet committed), installed with ``--no-deps`` into a fresh venv. The dependencies
come from this venv through a ``.pth`` line naming its site-packages: ``.pth`` files inside an
added path are not processed, so this project's editable install is not active there (checked).
Every command runs from an empty folder, so nothing is found next to the source tree by accident.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.link.profiles import load_profiles

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "000000"


@dataclass
class Installed:
    venv: Path
    python: Path
    bodycam: Path
    site_packages: Path
    wheel: Path
    config: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bodycam), "--config", str(self.config), *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout, **kw)


def _clean_env() -> dict[str, str]:
    """This process's environment without anything that could point Python or bodycam back at
    the source tree or this venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP") and not k.startswith("BODYCAM_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _source_files() -> list[str]:
    # The suite runs from a git checkout (CI clones it); the wheel is built from exactly its files.
    res = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True)
    return [p for p in res.stdout.decode().split("\0") if p and (REPO / p).is_file()]


def _check(res: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    assert res.returncode == 0, f"{what} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    t0 = time.monotonic()
    root = tmp_path_factory.mktemp("wheel")
    src, out, venv, cwd = root / "src", root / "dist", root / "venv", root / "cwd"
    for rel in _source_files():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest)
    env = _clean_env()
    # build isolation: the backend (setuptools>=77) comes from the pip cache or the index
    _check(subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                          env=env, capture_output=True, text=True, timeout=600), "pip wheel")
    (wheel,) = out.glob("bodycam-*.whl")
    _check(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=env,
                          capture_output=True, text=True, timeout=120), "python -m venv")
    python = venv / "bin" / "python"
    _check(subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                           str(wheel)], env=env, capture_output=True, text=True, timeout=300), "pip install")
    site_packages = Path(_check(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env,
        capture_output=True, text=True, timeout=60), "sysconfig").stdout.strip())
    ours = sysconfig.get_paths()
    deps = dict.fromkeys([ours["purelib"], ours["platlib"]])  # this venv's, in order, once each
    (site_packages / "_bodycam_test_deps.pth").write_text("".join(f"{p}\n" for p in deps), encoding="utf-8")
    cwd.mkdir()
    bodycam = venv / "bin" / "bodycam"
    assert bodycam.is_file(), "the wheel installed no bodycam script"
    _check(subprocess.run([str(bodycam), "init", "--role", "dock", "--dir", "dock"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120), "bodycam init")
    print(f"wheel built and installed in {time.monotonic() - t0:.1f} s")
    return Installed(venv, python, bodycam, site_packages, wheel, cwd / "dock" / "bodycam.toml", cwd, env)


def test_package_data_names_only_existing_files():
    """Every pattern under [tool.setuptools.package-data] matches a file of its package."""
    conf = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = conf["tool"]["setuptools"].get("package-data", {})
    assert package_data, "the built-in firmware profiles must be package data"
    for package, patterns in package_data.items():
        base = REPO.joinpath(*package.split("."))
        assert (base / "__init__.py").is_file(), f"package-data names {package!r}, not a package"
        for pattern in patterns:
            assert list(base.glob(pattern)), f"package-data {package!r}: {pattern!r} matches no file"


@pytest.mark.integration
def test_wheel_holds_every_builtin_profile(installed):
    shipped = {n for n in zipfile.ZipFile(installed.wheel).namelist() if n.endswith(".toml")}
    here = {f"agent/link/firmware_profiles/{p.name}" for p in (REPO / "agent/link/firmware_profiles").glob("*.toml")}
    assert shipped == here


@pytest.mark.integration
def test_installed_package_is_the_wheel_not_the_source_tree(installed):
    probe = ("import json, agent, agent.link.profiles as p, bodycam; "
             "print(json.dumps({'agent': agent.__file__, 'bodycam': bodycam.__file__, "
             "'profiles_dir': str(p.BUILTIN_PROFILES_DIR), 'ids': sorted(p.load_profiles())}))")
    res = _check(subprocess.run([str(installed.python), "-c", probe], cwd=installed.cwd, env=installed.env,
                                capture_output=True, text=True, timeout=60), "import probe")
    got = json.loads(res.stdout)
    for key in ("agent", "bodycam", "profiles_dir"):
        assert Path(got[key]).is_relative_to(installed.site_packages), (key, got[key])
        assert not Path(got[key]).is_relative_to(REPO), (key, got[key])
    assert got["ids"] == sorted(load_profiles())


@pytest.mark.integration
def test_wheel_carries_the_compiled_chinese_catalogue(installed):
    """The catalogue is compiled when the wheel is built (setup.py's build hook), never committed:
    the installed package holds it, and a Chinese locale gets Chinese help from the fresh venv."""
    mo = "bodycam/locale/zh_CN/LC_MESSAGES/bodycam.mo"
    assert mo in zipfile.ZipFile(installed.wheel).namelist()
    assert (installed.site_packages / mo).is_file()
    env = {k: v for k, v in installed.env.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    res = _check(subprocess.run([str(installed.bodycam), "--help"], cwd=installed.cwd,
                                env={**env, "LANG": "zh_CN.UTF-8"}, capture_output=True, text=True, timeout=60),
                 "bodycam --help (zh_CN)")
    assert res.stdout.startswith("用法"), res.stdout
    assert "命令" in res.stdout and "执法记录仪" in res.stdout, res.stdout
    res = _check(subprocess.run([str(installed.bodycam), "--help"], cwd=installed.cwd, env={**env, "LANG": "C"},
                                capture_output=True, text=True, timeout=60), "bodycam --help (C)")
    assert res.stdout.startswith("Usage: bodycam"), res.stdout


@pytest.mark.integration
def test_device_ports_runs_from_the_wheel(installed):
    res = _check(installed.run("device", "ports", "--json"), "bodycam device ports")
    assert isinstance(json.loads(res.stdout)["ports"], list)


def _first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The emulator's first stdout line, without blocking past ``timeout``."""
    fd, buf, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"emulator printed no line in {timeout} s (got {buf!r})")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError(f"emulator exited ({proc.wait()}): {buf!r} {proc.stderr.read().decode()}")
        buf += chunk
    return buf.split(b"\n", 1)[0].decode()


@pytest.mark.integration
@pytest.mark.parametrize("profile_id", sorted(load_profiles()))
def test_emulate_and_device_status_from_the_wheel(installed, profile_id, tmp_path):
    profile = load_profiles()[profile_id]
    serial = f"WHL{sorted(load_profiles()).index(profile_id):04d}"  # 7 characters: the ZFY serial field's width
    state = tmp_path / "state.toml"
    state.write_text(f'serial = "{serial}"\npassword = "{PASSWORD}"\nbattery_pct = 90\n'
                     'storage_total_mib = 30000\nstorage_free_mib = 28000\n', encoding="utf-8")
    env = dict(installed.env)
    if profile.auth.kind == "password":
        assert profile.auth.password_env, f"{profile_id}: the test supplies the password through its env var"
        env[profile.auth.password_env] = PASSWORD
    proc = subprocess.Popen([str(installed.bodycam), "--config", str(installed.config), "emulate", "--profile",
                             profile_id, "--state", str(state), "--mount-root", str(tmp_path / "mnt")],
                            cwd=installed.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        word, port = _first_line(proc, 30).split(maxsplit=1)
        assert word == "PORT"
        res = _check(subprocess.run([str(installed.bodycam), "--config", str(installed.config), "device", "status",
                                     "--port", port, "--profile", profile_id, "--json"], cwd=installed.cwd,
                                    env=env, capture_output=True, text=True, timeout=60), "bodycam device status")
        st = json.loads(res.stdout)
        assert st["serial"] == serial and st["profile"] == profile_id and st["battery_pct"] == 90
        assert st["faults"] == [], st["faults"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read().decode()
    assert sorted(os.listdir(installed.cwd)) == ["dock"], "a command wrote into the working directory"
