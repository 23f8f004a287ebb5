"""`sync status`, `sync run` and `archive dock list` in Simplified Chinese (issue 12, Chinese interface).

Run as the equipment manager and the archivist run them: the installed `bodycam` in a subprocess,
its language chosen by LANG (no LC_*), against a real Mosquitto and a real archive receiver
(tests/fixtures/sync.py, broker.py). Under LANG=zh_CN.UTF-8 they speak Chinese — the status lines
`sync run` prints on stderr (connecting, connected, items to send, committed) and its give-up
message when there is no broker included — and no English sentence of theirs is left; under LANG=C
the same commands speak English. What is kept as data stays English in either language: the last
error in sync.db and the JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.fixtures.sync import BODYCAM
from tests.fixtures.text import chinese, english_sentences

ZH, C = "zh_CN.UTF-8", "C"


def bodycam(config: Path, lang: str, *args: str) -> subprocess.CompletedProcess:
    """``bodycam --config CONFIG ARGS`` as a person starts it, with LANG=``lang`` and no LC_*."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env["LANG"] = lang
    return subprocess.run([BODYCAM, "--config", str(config), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_sync_status_run_and_dock_list_speak_chinese_under_zh_cn_and_english_under_c(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([100 << 10])

    before = bodycam(a.config_path, ZH, "sync", "status")
    assert before.returncode == 0, before.stderr
    for said in ("采集站 dock-a：已入账 0，待发送 0（+3 个新台账条目），被拒收 0", "待发送文件：1（100.0 KiB）",
                 "正在传输：无", "最近一次入账：从未", "最近一次错误：无"):
        assert said in before.stdout, before.stdout
    assert english_sentences(before.stdout) == [], before.stdout
    english = bodycam(a.config_path, C, "sync", "status")
    assert "dock dock-a: 0 committed, 0 queued (+3 new ledger entries), 0 refused" in english.stdout
    assert "files to send: 1 (100.0 KiB)" in english.stdout and "last commit: never" in english.stdout
    assert not chinese(english.stdout)

    with w.receiver():
        run = bodycam(a.config_path, ZH, "sync", "run", "--once")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "已入账 2，待发送 0，被拒收 0，已发送 1 个数据块（100.0 KiB）" in run.stdout, run.stdout
    where = f"127.0.0.1:{a.syncd.broker.port}"
    for said in (f"正在连接档案库的消息服务器 {where}", f"已以 dock-a 身份连接到消息服务器 {where}",
                 "有 2 项待发送到档案库", "档案库已应答", "档案库已入账：enrollment", "档案库已入账：segment"):
        assert said in run.stderr, run.stderr
    assert english_sentences(run.stdout + run.stderr) == [], run.stdout + run.stderr

    after = bodycam(a.config_path, ZH, "sync", "status")
    assert "已入账 2，待发送 0" in after.stdout and "最近一次入账：segment" in after.stdout, after.stdout
    assert english_sentences(after.stdout) == [], after.stdout

    docks = bodycam(w.archive_config_path, ZH, "archive", "dock", "list")
    assert docks.returncode == 0, docks.stderr
    assert "dock-a：密钥" in docks.stdout and "，1 台执法记录仪" in docks.stdout, docks.stdout
    assert "rec-1（保管人 officer-7）：1 个视频片段" in docks.stdout, docks.stdout
    assert english_sentences(docks.stdout) == [], docks.stdout
    english = bodycam(w.archive_config_path, C, "archive", "dock", "list")
    assert "dock-a: key" in english.stdout and ", 1 recorder(s)" in english.stdout, english.stdout
    assert "rec-1 (custodian officer-7): 1 segment(s)" in english.stdout
    assert not chinese(english.stdout)
    assert json.loads(bodycam(w.archive_config_path, ZH, "archive", "dock", "list", "--json").stdout)[0]["dock"] == \
        "dock-a"


def test_sync_run_once_without_a_broker_gives_up_in_chinese_and_keeps_its_last_error_english(sync_world):
    w = sync_world()
    a = w.docks["dock-a"]
    a.add_segments([100 << 10])
    w.broker.stop()
    where = f"127.0.0.1:{a.syncd.broker.port}"

    out = bodycam(a.config_path, ZH, "sync", "run", "--once", "--connect-timeout", "2")
    assert out.returncode == 1, out.stdout + out.stderr
    err = out.stderr
    assert f"正在连接档案库的消息服务器 {where}" in err, err
    assert f"无法连接消息服务器 {where}（连接被拒绝：该地址没有服务在监听）；1 s 后重试" in err, err
    assert ("错误：无法连接消息服务器 " + where + "（连接被拒绝：该地址没有服务在监听）；2 s 后放弃。不会丢失任何内容："
            "采集站保留所有条目和文件，下次运行 `bodycam sync run` 时会发送它们。消息服务器是否在运行？") in err, err
    assert english_sentences(err) == [], err

    english = bodycam(a.config_path, C, "sync", "run", "--once", "--connect-timeout", "2")
    assert english.returncode == 1
    assert f"broker {where} unreachable (connection refused: nothing listens there); retrying in 1 s" in english.stderr
    assert "gave up after 2 s. Nothing is lost" in english.stderr and not chinese(english.stderr)

    # what sync.db keeps is data: English, whichever language the run spoke; shown as it is
    bodycam(a.config_path, ZH, "sync", "run", "--once", "--connect-timeout", "1")
    status = json.loads(bodycam(a.config_path, ZH, "sync", "status", "--json").stdout)
    assert status["last_error"]["message"] == f"broker {where} unreachable (connection refused: nothing listens there)"
    shown = bodycam(a.config_path, ZH, "sync", "status").stdout
    assert f"最近一次错误：broker {where} unreachable (connection refused: nothing listens there)" in shown, shown
