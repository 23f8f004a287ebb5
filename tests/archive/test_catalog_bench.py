"""The catalogue benchmark keeps working (tiny sizes; the real figures at 100,000 segments come
from `scripts/bench.py catalog`, issue 13): it builds its ledger, and every query kind agrees with
the bare SQL baseline (the benchmark stops if find_segments and the baseline disagree)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a2_art15_bench_catalog_runs_and_reports(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "catalog", "--segments", "600", "--runs", "5",
         "--units", "3", "--officers-per-unit", "4", "--cases", "30", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    assert "target p99 ≤ 100 ms" in out and "bare p99" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bench"] == "catalog" and result["segments"] == 600 and isinstance(result["built_s"], float)
    assert set(result["queries"]) == {"case", "unit", "officer", "device", "time"}
    assert result["queries"]["unit"]["found_mean"] == 200  # a unit: a third of the segments
    for q in result["queries"].values():
        assert q["p99_ms"] > 0 and q["bare_p99_ms"] >= 0 and isinstance(q["met"], bool)
    again = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "catalog", "--segments", "600", "--runs", "5",
         "--units", "3", "--officers-per-unit", "4", "--cases", "30", "--dir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    assert json.loads(again)["built_s"] == "cached"
