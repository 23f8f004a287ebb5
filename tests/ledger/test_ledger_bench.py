"""The ledger benchmark keeps working (tiny sizes; the real figures come from
`scripts/bench.py ledger`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_ledger_runs_and_reports(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "ledger", "--entries", "300", "--proof-entries", "3000",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    assert "appends/s" in out and "inclusion proof ms" in out and "verified entries/s" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bench"] == "ledger" and result["size"] == 302 and result["proof_size"] == 3000
    for key in ("appends_per_s", "appends_baseline_per_s", "proof_ms", "proof_baseline_ms", "verified_per_s",
                "verify_baseline_per_s"):
        assert result[key] > 0
