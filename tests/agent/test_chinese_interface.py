"""The dock's commands in Simplified Chinese (issue 12, Chinese interface).

`device status`, `dock`, `fleet status`, `gaps` and `justify` run as the officer or equipment
manager runs them: the installed `bodycam` in a subprocess, its language chosen by LANG (LC_ALL
unset) or by `[display] language`, against a real pty emulator and a real chronyd on loopback.
The dock finds a real gap (two recordings five minutes apart), so `gaps` and `justify` have one
to show and explain. Chinese words of the regulation must be there, and no English sentence of
these commands; under LANG=C the same commands speak English.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.justify import ART11_REASONS
from bodycam.cli import cli
from bodycam.cliutil import numbered_help
from ledger.store import Ledger
from tests.fixtures.text import chinese, english_sentences

BODYCAM = str(Path(sys.executable).with_name("bodycam"))
PROFILE = "jsonl-epoch-ms"
OFFICER = "010203"  # the officer the emulated recorder reports (its custodian once enrolled)
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
RECORDINGS = [
    {"start": T0.isoformat(), "duration_s": 2, "count": 2, "gap_after_s": 300, "width": 160, "height": 120,
     "fps": 10},
    {"duration_s": 2, "width": 160, "height": 120, "fps": 10},
]
CHINESE_WORDS = ("电量", "存储卡", "就绪", "视频片段", "录制中断", "停止录制说明")


def bodycam(config: Path, lang: str, *args: str) -> subprocess.CompletedProcess:
    """``bodycam --config CONFIG ARGS`` as a person starts it, with LANG=``lang`` and no LC_*."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env["LANG"] = lang
    return subprocess.run([BODYCAM, "--config", str(config), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def dock_dir(tmp_path):
    """A dock deployment with an enrolled officer (key without passphrase) who can justify."""
    d = tmp_path / "dock"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--role", "dock", "--dir", str(d), "--name", "dock-t"]).exit_code == 0
    config = d / "bodycam.toml"
    key = tmp_path / "officer.key"
    for args in (["keys", "generate", "--out", str(key)],
                 ["person", "enroll", "--id", OFFICER, "--name", "张三", "--role", "officer", "--pubkey",
                  f"{key}.pub"]):
        res = runner.invoke(cli, ["--config", str(config), *args])
        assert res.exit_code == 0, res.output
    return d


def the_five_commands(dock_dir: Path, rec, ntp, lang: str) -> dict[str, subprocess.CompletedProcess]:
    """device status, dock (which finds a gap), fleet status, gaps, justify; then gaps again."""
    config = dock_dir / "bodycam.toml"
    res = CliRunner().invoke(cli, ["--config", str(config), "device", "enroll", "--port", rec.port,
                                   "--profile", PROFILE])
    assert res.exit_code == 0, res.output
    out = {"device status": bodycam(config, lang, "device", "status", "--port", rec.port, "--profile", PROFILE)}
    out["dock"] = bodycam(config, lang, "dock", "--port", rec.port, "--profile", PROFILE, "--case", "HB-2026-001",
                          "--ntp-server", ntp.address)
    assert out["dock"].returncode == 0, out["dock"].stderr
    out["fleet status"] = bodycam(config, lang, "fleet", "status")
    out["gaps"] = bodycam(config, lang, "gaps")
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        (gap,) = [e.entry_hash for e in ledger.entries(kind="gap") if e.body["gap_type"] == "gap"]
    key = str(dock_dir.parent / "officer.key")
    out["justify"] = bodycam(config, lang, "justify", gap[:12], "--reason", "4", "--officer", OFFICER,
                             "--officer-key", key, "--note", "暴雨，设备进水后停止录制")
    out["gaps after justify"] = bodycam(config, lang, "gaps")
    for name, proc in out.items():
        assert proc.returncode in (0, 3), f"{name}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return out


def test_the_dock_commands_speak_chinese_under_a_chinese_locale(dock_dir, emulated_recorder, ntp_server):
    rec = emulated_recorder(PROFILE, {"recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    out = the_five_commands(dock_dir, rec, ntp_server(), "zh_CN.UTF-8")

    status = out["device status"].stdout
    for word in ("序列号", "电量", "存储卡", "时钟偏差", "结论"):
        assert word in status, status
    assert "未就绪" in status or "就绪" in status, status
    docked = out["dock"].stdout
    assert "视频片段" in docked and "录制中断" in docked and "下一步" in docked, docked
    fleet = out["fleet status"].stdout
    assert "保管人" in fleet and "电量" in fleet and "存储卡可用" in fleet and "就绪" in fleet, fleet
    gaps = out["gaps"].stdout
    assert "录制中断" in gaps and "未说明" in gaps and "状态" in gaps, gaps
    justified = out["justify"].stdout
    assert "停止录制说明" in justified and "等待审核" in justified, justified
    after = out["gaps after justify"].stdout
    assert "停止录制说明" in after and "天气等自然原因" in after and "待审核" in after, after
    for name, proc in out.items():
        shown = proc.stdout + proc.stderr
        assert chinese(shown), f"{name}:\n{shown}"
        assert english_sentences(shown) == [], f"{name}: English left in\n{shown}"
    # What the dock signed stays English whatever the reader's language (auditors, the archive).
    with Ledger.open(dock_dir / "ledger.db", create=False) as ledger:
        signed = [e.body for kind in ("gap", "dock_session", "calibration", "stop_justification")
                  for e in ledger.entries(kind=kind)]
    assert any("no footage for" in b.get("detail", "") for b in signed)
    assert not any(chinese(json.dumps({k: v for k, v in b.items() if k != "note"}, ensure_ascii=False))
                   for b in signed), signed


def test_they_speak_english_under_lang_c(dock_dir, emulated_recorder, ntp_server):
    rec = emulated_recorder(PROFILE, {"recordings": RECORDINGS}, mount_root=dock_dir / "mnt")
    out = the_five_commands(dock_dir, rec, ntp_server(), "C")

    assert "battery" in out["device status"].stdout and "READY" in out["device status"].stdout
    assert "new segments" in out["dock"].stdout and "gap records" in out["dock"].stdout
    assert "BATTERY" in out["fleet status"].stdout and "CUSTODIAN" in out["fleet status"].stdout
    assert "STATE" in out["gaps"].stdout and "bare" in out["gaps"].stdout
    assert "awaiting approval" in out["justify"].stdout
    assert "weather or other natural causes" in out["gaps after justify"].stdout
    for name, proc in out.items():
        shown = proc.stdout + proc.stderr
        assert not any(word in shown for word in CHINESE_WORDS), f"{name}:\n{shown}"


def test_display_language_in_bodycam_toml_speaks_chinese_under_lang_c(dock_dir, emulated_recorder):
    config = dock_dir / "bodycam.toml"
    config.write_text(config.read_text() + '\n[display]\nlanguage = "zh_CN"\n')
    rec = emulated_recorder(PROFILE, {"battery_pct": 20}, mount_root=dock_dir / "mnt")

    status = bodycam(config, "C", "device", "status", "--port", rec.port, "--profile", PROFILE)
    assert status.returncode == 0, status.stderr
    assert "电量" in status.stdout and "未就绪" in status.stdout and "请充电" in status.stdout, status.stdout
    fleet = bodycam(config, "C", "fleet", "status")
    assert fleet.returncode == 3, fleet.stderr
    assert "未就绪" in fleet.stdout and "请充电" in fleet.stdout, fleet.stdout
    as_json = bodycam(config, "C", "device", "status", "--port", rec.port, "--profile", PROFILE, "--json")
    reasons = json.loads(as_json.stdout)["reasons"]
    assert reasons and all(not chinese(r) for r in reasons), reasons  # --json stays English
    gaps = bodycam(config, "C", "gaps")
    assert gaps.stdout.strip() == "没有录制中断", gaps.stdout
    for proc in (status, fleet, gaps):
        assert english_sentences(proc.stdout + proc.stderr) == [], proc.stdout + proc.stderr


def test_the_reasons_of_justify_help_are_the_article_s_five():
    """`justify --reason` help is a literal (so it has a translation); it must list ART11_REASONS."""
    from agent.commands.justify import justify

    (i,) = [i for i, p in enumerate(justify.params) if p.name == "reason"]
    source = getattr(justify, "_bodycam_source", None)  # the English, once a run has localised the help
    english_help = source[1][i] if source else justify.params[i].help
    assert english_help == f"A2 Art.11 reason: {numbered_help(ART11_REASONS)}."
