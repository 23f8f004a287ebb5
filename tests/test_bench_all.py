"""``scripts/bench.py all`` keeps working (issue 18 item 4): with ``--quick`` (tiny sizes, neither
the demo nor the many-dock load run) it runs every benchmark through its ``all_rows`` and writes one
JSON file holding every figure with its baseline measured in the same run, and a row for each
benchmark it did not run; the real figures are in docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEYS = {"bench", "name", "value", "unit", "baseline", "ratio", "target", "met"}


def test_bench_all_quick_writes_every_row(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench.py"), "all", "--quick", "--dir",
                           str(tmp_path / "work"), "--out", str(out)], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert took < 60
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert all(set(r) >= KEYS for r in rows)
    assert not [r for r in rows if r.get("error")]
    by_bench: dict[str, list[dict]] = {}
    for r in rows:
        by_bench.setdefault(r["bench"], []).append(r)
    assert {b: len(v) for b, v in by_bench.items()} == {
        "ledger": 3, "offload": 2, "sync": 6, "verify": 2, "catalog": 5, "load": 1, "demo": 1}
    for r in rows:
        if r["bench"] in ("demo", "load"):  # not run with --quick, but named
            assert r["skipped"] == "--quick" and r["value"] is None and r["met"] is None
            continue
        assert isinstance(r["value"], int | float) and r["value"] > 0, r
        assert isinstance(r["met"], bool) and r["target"], r
        if r["baseline"] is not None:
            assert r["baseline"] > 0 and r["ratio"] == round(r["value"] / r["baseline"], 3)
    assert report["machine_before"]["nproc"] >= 1 and report["quick"] is True
    # the one table, as printed
    table = proc.stdout[proc.stdout.index("figure"):]
    for r in rows:
        assert r["name"] in table
