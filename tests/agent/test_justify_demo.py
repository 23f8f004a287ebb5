"""The demo's justification step (scripts/demo_justify.sh) on a real docking with gaps: enroll the
officer and a supervisor, draw the witness's signature, justify with reason 1, approve (A2 Art.11)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.fixtures.justify import make_gap_dock

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_justify.sh"


def test_demo_justify_step(tmp_path):
    d = make_gap_dock(tmp_path / "dock", with_people=False)
    run = subprocess.run(["bash", str(SCRIPT), str(d.root), "officer-7", "王芳"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    shown = run.stdout.split("-- gaps after review", 1)[1]
    assert "reason 1 (an informant or witness explicitly asked)" in shown and "officer: officer-7 王芳" in shown
    assert "note: A witness asked not to be filmed" in shown
    assert "approved by sup-officer-7 Supervisor of officer-7" in shown and "Reason and signature checked." in shown
    states = json.loads(d.run("gaps", "--json").stdout)
    assert [g["state"] for g in states] == ["approved", "bare", "bare"]
    assert d.run("ledger", "verify", str(d.ledger_path)).exit_code == 0
    assert (d.root / "people" / "witness-signature.png").stat().st_size > 1000
