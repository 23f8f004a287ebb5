"""``scripts/demo.sh``, the README's first command, as a newcomer runs it (issue 18): every step of
its summary OK, run twice in a row, and interrupted with Ctrl-C (or its terminal closed) at a moment
when each kind of background process runs (broker, recorders, NTP, archive receiver, portal) it
leaves no process behind. Ctrl-C is what a terminal sends: SIGINT to the whole foreground process
group; closing the terminal sends SIGHUP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scripts" / "demo.sh"
MARK = "BODYCAM_TEST_DEMO_MARK"
STEPS = ("Deployment folders", "MQTT broker with TLS", "Docks registered at the archive", "Recorders emulated",
         "Readiness before a shift", "Reference clock", "Recorders enrolled and armed", "Docking at end of shift",
         "Gap justified and approved", "Sync over MQTT", "Archive ledger checked", "People enrolled at the archive",
         "Case with an activity and a document", "Archive verify", "Access approved by the head, one view",
         "Evidence package for court", "ISO image of the package", "Legal review of a major case",
         "Disclosure portal published", "Supervision and disclosure reports")

pytestmark = pytest.mark.integration


def marked(mark: str) -> list[int]:
    """Processes whose environment carries ``MARK=mark``: everything the demo started, at any depth."""
    want = f"{MARK}={mark}".encode()
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            env = (p / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if want in env:
            found.append(int(p.name))
    return found


def start(data: Path, mark: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "BODYCAM_DEMO_DATA": str(data), MARK: mark, "LANG": "C.UTF-8"}
    env.pop("LC_ALL", None)
    return subprocess.Popen(["bash", str(DEMO)], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def wait_gone(mark: str, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def summary_rows(text: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\d+\.\s+(.+?)\s{2,}(OK|FAILED|STOPPED)\s+(\S+)$", line)
        if m:
            rows[m.group(1).strip()] = (m.group(2), m.group(3))
    return rows


def run_whole(tmp_path: Path, name: str) -> tuple[str, Path]:
    data, mark, log = tmp_path / name, uuid.uuid4().hex, tmp_path / f"{name}.log"
    proc = start(data, mark, log)
    try:
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text("utf-8", "replace")
    assert code == 0, text[-4000:]
    assert wait_gone(mark) == [], "the demo left processes behind"
    return text, data


def test_demo_runs_every_step_ok_twice_in_a_row_and_leaves_its_files(tmp_path):
    for name in ("first", "second"):
        text, data = run_whole(tmp_path, name)
        rows = summary_rows(text)
        assert len(rows) == len(STEPS), rows
        for step, row in zip(STEPS, rows, strict=True):
            assert row.startswith(step), (step, rows)
        assert {r for r, _ in rows.values()} == {"OK"}, rows
        assert text.rstrip().splitlines()[-1] == f"DATA {data}"
        for sub in ("archive", "dock-north", "dock-south", "export", "portal", "review"):
            assert (data / sub).is_dir(), sub
        for _, file in rows.values():
            assert file != "-" and (data / file).exists(), file
        # the files worth opening are what they say
        opinion = data / "review" / "opinion-HB-2026-117.pdf"
        words = subprocess.run(["pdftotext", "-enc", "UTF-8", str(opinion), "-"], capture_output=True, text=True,
                               check=True).stdout.replace("\n", "")
        assert "法制审核意见书" in words and "HB-2026-117" in words
        assert (data / "export" / "HB-2026-117.iso").stat().st_size > 0
        assert "OK: 2 original(s)" in text  # the package's own verify.py and export verify of the ISO
        index = (data / "portal" / "index.html").read_text("utf-8")
        assert "赵某" in index and "赵六" not in index  # published, the party's name masked
        assert re.search(r"^PORTAL http://127\.0\.0\.1:\d+/", text, re.M)
        assert "published on time" in text


@pytest.mark.parametrize(("when", "sig"), [("Mosquitto on 127.0.0.1", signal.SIGINT),
                                         ("recorder A (zfy-e12-gat947) on", signal.SIGHUP),
                                         ("== Sync over MQTT", signal.SIGINT), ("PORTAL http", signal.SIGINT)])
def test_demo_interrupted_with_ctrl_c_leaves_no_process_behind(tmp_path, when, sig):
    """Ctrl-C (SIGINT) or the terminal closing (SIGHUP, which Mosquitto alone would take as "reload")."""
    data, mark, log = tmp_path / "data", uuid.uuid4().hex, tmp_path / "demo.log"
    proc = start(data, mark, log)
    try:
        deadline = time.monotonic() + 300
        while when not in log.read_text("utf-8", "replace"):
            assert proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
            assert time.monotonic() < deadline, f"the demo never reached {when!r}"
            time.sleep(0.05)
        assert marked(mark), "the demo is not running"
        os.killpg(proc.pid, sig)  # what the terminal does: the whole foreground process group
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text("utf-8", "replace")
    assert code != 0, text[-3000:]
    assert wait_gone(mark, 5.0) == [], f"left behind after {sig.name} at {when!r}"
    assert "everything it started is stopped" in text
    assert f"DATA {data}" in text
