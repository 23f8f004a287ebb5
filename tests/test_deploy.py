"""Deployment files (issue 18 item 2): the systemd units pass `systemd-analyze verify` and keep
their sandboxing score, and the udev rules are exactly what the firmware profiles say."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
BODYCAM = Path(sys.executable).with_name("bodycam")
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 (sandboxed) … 10 (exposed); "OK" is below 4.5


def _installed_copy(unit: Path, tmp_path: Path) -> Path:
    """The unit as installed on this machine: ExecStart points at this venv's bodycam."""
    text = unit.read_text(encoding="utf-8").replace("/opt/bodycam/bin/bodycam", str(BODYCAM))
    out = tmp_path / unit.name
    out.write_text(text, encoding="utf-8")
    return out


def test_there_is_a_unit_per_daemon_and_the_broker():
    assert [u.name for u in UNITS] == ["bodycam-agent.service", "bodycam-archive.service",
                                       "bodycam-broker.service", "bodycam-syncd.service"]


def test_units_pass_systemd_analyze_verify(tmp_path):
    """Verified together, as installed side by side (the archive requires the broker's unit)."""
    copies = [str(_installed_copy(u, tmp_path)) for u in UNITS]
    res = subprocess.run(["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and not res.stderr.strip(), res.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_runs_unprivileged_and_sandboxed(unit, tmp_path):
    text = unit.read_text(encoding="utf-8")
    user = re.search(r"^User=(\S+)$", text, re.MULTILINE)
    assert user and user.group(1) != "root"
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes",
                 "CapabilityBoundingSet="):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line
    res = subprocess.run(["systemd-analyze", "security", "--offline=true", str(_installed_copy(unit, tmp_path))],
                         capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", res.stdout)
    assert score, res.stdout + res.stderr
    assert float(score.group(1)) <= MAX_EXPOSURE, res.stdout


def test_udev_rules_file_is_what_the_profiles_give():
    rules = ROOT / "deploy" / "udev" / "90-bodycam-recorders.rules"
    made = subprocess.run([str(BODYCAM), "device", "udev-rules"], capture_output=True, text=True, check=True,
                          cwd=ROOT / "deploy").stdout
    assert rules.read_text(encoding="utf-8") == made, "regenerate: bodycam device udev-rules > " + str(rules)


def test_udev_rules_are_well_formed():
    """Each rule is comma-separated KEY op "value" pairs with keys udev knows (`udevadm verify` is
    only in systemd 253 and later; Debian 12 has 252, so the syntax is checked here)."""
    known = {"SUBSYSTEM", "ATTRS{idVendor}", "ATTRS{idProduct}", "MODE", "GROUP", "SYMLINK", "ENV{ID_MM_DEVICE_IGNORE}"}
    pair = re.compile(r'^([A-Z_]+(?:\{[A-Za-z_]+\})?)(==|!=|\+=|=)"([^"]*)"$')
    rules = (ROOT / "deploy" / "udev" / "90-bodycam-recorders.rules").read_text(encoding="utf-8")
    lines = [ln for ln in rules.splitlines() if ln and not ln.startswith("#")]
    assert len(lines) >= 4
    for ln in lines:
        for part in ln.split(", "):
            m = pair.match(part)
            assert m, f"malformed: {part!r} in {ln!r}"
            assert m.group(1) in known, m.group(1)
        assert 'MODE="0660"' in ln and 'GROUP="bodycam"' in ln
    if shutil.which("udevadm") and "verify" in subprocess.run(["udevadm", "--help"], capture_output=True,
                                                              text=True).stdout:
        subprocess.run(["udevadm", "verify", str(ROOT / "deploy" / "udev" / "90-bodycam-recorders.rules")],
                       check=True)
