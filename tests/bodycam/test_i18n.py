"""The Chinese interface (issue 12): help, messages and verdicts in Simplified Chinese when LANG (or
``[display] language``) says zh_CN, English otherwise; ``--json`` stays English either way; and
every message the source marks has a Chinese translation.

The commands run as the console script does (``bodycam.cli.main``, which also puts click's own
words through the catalogue), in a subprocess with a clean locale environment.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bodycam import i18n
from bodycam.i18n import N_, Message, tr
from bodycam.i18n_catalog import compile_catalog, po_path, problems

ROOT = Path(__file__).resolve().parents[2]
MO = ROOT / "bodycam" / "locale" / "zh_CN" / "LC_MESSAGES" / "bodycam.mo"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogue():
    """The compiled catalogue is made at install time; make it here if it is missing or older
    than a ``.po`` (a checkout where ``scripts/setup.sh`` ran before the translations changed)."""
    sources = [po_path(ROOT, p) for p in ("ledger", "agent", "syncd", "archive", "bodycam")]
    newest = max(p.stat().st_mtime for p in sources if p.exists())
    if not MO.exists() or MO.stat().st_mtime < newest:
        compile_catalog(ROOT)
    i18n._cache.clear()
    yield
    i18n._cache.clear()


def bodycam(*args: str, lang: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE") and not k.startswith("BODYCAM_")}
    env["LANG"] = lang
    res = subprocess.run([sys.executable, "-c", "from bodycam.cli import main; main()", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=120)
    if check:
        assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


HELP_IN_CHINESE = {
    # the command, and what its help says in Chinese besides 用法 and 选项
    ("--help",): ["命令", "写出可用的 bodycam.toml，并生成该角色所需的密钥", "Ed25519 密钥文件：生成、查看。",
                  "人员及其密钥", "显示本帮助并退出。"],
    ("ledger", "--help"): ["命令", "已签名、只可追加的台账：查看、验证、检查点和证明。",
                           "列出条目（序号、类型、哈希、签名人、内容）。",
                           "重新计算每个哈希、签名、Merkle 节点和检查点。"],
    ("init", "--help"): ["写出可用的 bodycam.toml", "最后列出该角色的后续步骤", "此文件夹的用途。",
                         "要创建的部署文件夹（配置、密钥、台账）。", "输出机器可读的 JSON。", "必填", "默认：dock-1"],
}
HELP_IN_ENGLISH = {
    ("--help",): ["Commands:", "Write a working bodycam.toml and generate the keys",
                  "Ed25519 key files: generate, show."],
    ("ledger", "--help"): ["Commands:", "The signed, append-only ledger: show, verify, checkpoints and proofs."],
    ("init", "--help"): ["What this folder serves as.", "Ends with the next steps", "[required]", "default: dock-1"],
}


@pytest.mark.parametrize("args", list(HELP_IN_CHINESE), ids=" ".join)
def test_help_is_chinese_under_a_chinese_locale(args, tmp_path):
    out = bodycam(*args, lang="zh_CN.UTF-8", cwd=tmp_path).stdout
    assert out.startswith("用法： bodycam"), out
    assert "选项" in out, out
    for words in HELP_IN_CHINESE[args]:
        assert words in out, (words, out)


@pytest.mark.parametrize("args", list(HELP_IN_ENGLISH), ids=" ".join)
@pytest.mark.parametrize("lang", ["C", "C.UTF-8", "en_US.UTF-8", ""])
def test_help_is_english_otherwise(args, lang, tmp_path):
    out = bodycam(*args, lang=lang, cwd=tmp_path).stdout
    assert out.startswith("Usage: bodycam"), out
    assert "Options:" in out, out
    for words in HELP_IN_ENGLISH[args]:
        assert words in " ".join(out.split()), (words, out)
    assert not CJK.search(out), out


def _config(folder: Path, language: str) -> Path:
    folder.mkdir()
    path = folder / "bodycam.toml"
    path.write_text(f'[display]\nlanguage = "{language}"\n', encoding="utf-8")
    return path


def test_display_language_overrides_lang(tmp_path):
    zh, en = _config(tmp_path / "zh", "zh_CN"), _config(tmp_path / "en", "en")
    # [display] language = "zh_CN" under an English LANG: Chinese, click's own words too
    for args in (("--help",), ("ledger", "--help"), ("init", "--help")):
        out = bodycam("--config", str(zh), *args, lang="C", cwd=tmp_path).stdout
        assert out.startswith("用法： bodycam") and "选项" in out, out
        assert all(w in out for w in HELP_IN_CHINESE[args]), out
    usage = bodycam("--config", str(zh), "init", "--role", "dock", lang="C", cwd=tmp_path, check=False)
    assert usage.returncode == 2 and "错误：缺少选项 '--dir'" in usage.stderr, usage.stderr
    # [display] language = "en" under a Chinese LANG: English
    for args in (("--help",), ("ledger", "--help"), ("init", "--help")):
        out = bodycam("--config", str(en), *args, lang="zh_CN.UTF-8", cwd=tmp_path).stdout
        assert out.startswith("Usage: bodycam") and not CJK.search(out), out
    usage = bodycam("--config", str(en), "init", "--role", "dock", lang="zh_CN.UTF-8", cwd=tmp_path, check=False)
    assert usage.returncode == 2 and "Error: Missing option '--dir'" in usage.stderr and not CJK.search(usage.stderr)


def test_init_and_ledger_verify_speak_chinese_and_json_stays_english(tmp_path):
    """What a command prints is Chinese (init's next steps, verify's verdict, each problem and
    the refusal); its ``--json`` is the same English as before; a person's name stays as given."""
    out = bodycam("init", "--role", "dock", "--dir", "dock", "--name", "dock-north", lang="zh_CN.UTF-8",
                  cwd=tmp_path).stdout
    assert "后续步骤：" in out and "在本采集站登记每台执法记录仪及其保管人" in out, out
    assert "bodycam --config dock/bodycam.toml person enroll --id ID" in out, out  # commands stay as they run
    steps = json.loads(bodycam("init", "--role", "dock", "--dir", "d2", "--json", lang="zh_CN.UTF-8",
                               cwd=tmp_path).stdout)["next_steps"]
    assert steps[1]["why"] == "enroll the officers and supervisors who justify and approve gaps"

    db = tmp_path / "dock" / "ledger.db"
    ok = bodycam("ledger", "verify", str(db), lang="zh_CN.UTF-8", cwd=tmp_path).stdout
    assert ok.startswith("通过：1 个条目，1 个签名，0 个检查点，根 "), ok
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER entries_no_delete")
    conn.close()
    bad = bodycam("ledger", "verify", str(db), lang="zh_CN.UTF-8", cwd=tmp_path, check=False)
    assert bad.returncode == 3, bad
    assert bad.stdout.startswith("未通过：") and "  台账：schema：缺少只追加触发器 entries_no_delete" in bad.stdout
    assert f"错误：{db}：1 个问题。不要信任此台账" in bad.stderr, bad.stderr
    as_json = bodycam("ledger", "verify", str(db), "--json", lang="zh_CN.UTF-8", cwd=tmp_path, check=False)
    assert as_json.returncode == 3
    report = json.loads(as_json.stdout)
    assert [p["message"] for p in report["problems"]] == ["append-only trigger entries_no_delete is missing"]
    english = bodycam("ledger", "verify", str(db), lang="C", cwd=tmp_path, check=False)
    assert "  ledger: schema: append-only trigger entries_no_delete is missing" in english.stdout
    assert "1 problem(s). Do not trust this ledger" in english.stderr
    assert not CJK.search(english.stdout + english.stderr)


def test_a_message_is_english_until_shown(monkeypatch):
    """``bodycam.i18n.Message``: the string is English (logs, JSON, records, the archive's replies);
    ``tr`` shows it in the reader's language, its parts too; it survives pickling (verification
    worker processes) and a broken translation falls back to English."""
    i18n.use_language(None)
    msg = Message(N_("{ledger}: no such ledger (create it by appending to it, or check the path)"), ledger="x.db")
    joined = Message.join(Message(N_("; ")), [msg, Message(N_("the first entry of a ledger must be the self-signed "
                                                                "ledger_root enrollment"))])
    assert msg == "x.db: no such ledger (create it by appending to it, or check the path)"
    assert json.dumps(msg) == json.dumps(str(msg))
    assert pickle.loads(pickle.dumps(joined)) == joined
    assert isinstance(pickle.loads(pickle.dumps(joined)), Message)
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert tr(msg) == "x.db：台账不存在（向其追加条目即可创建，或请检查路径）"
    assert tr(joined) == f"{tr(msg)}；台账的第一个条目必须是自签名的 ledger_root 登记"
    assert tr(ValueError(msg)) == tr(msg)
    assert tr(Message("{undeclared}", undeclared=msg)) == tr(msg)  # an unknown message keeps its translated parts
    monkeypatch.setenv("LANG", "C")
    assert tr(msg) == msg


def test_every_user_facing_message_has_a_chinese_translation():
    """Each message marked in the source (``_()``, ``N_()``, command docstrings, ``help=``) has a
    Chinese translation in ``locale/zh_CN/<package>.po`` naming the same placeholders
    (``python -m bodycam.i18n_catalog check`` lists what is missing)."""
    assert problems(ROOT) == []
