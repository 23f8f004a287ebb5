"""The archive verify benchmark keeps working (tiny sizes; the real figures come from
`scripts/bench.py verify`, issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_verify_runs_and_reports(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "verify", "--size-mib", "8", "--file-mib", "2",
         "--dir", str(tmp_path / "archive")],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    assert "baseline (hashlib, 1 thread)" in out and "verify, 2 jobs" in out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["bench"] == "verify" and result["bytes"] == 8 << 20 and result["files"] == 4
    for key in ("baseline_mb_s", "verify_mb_s_1_job", "verify_mb_s_2_jobs", "ratio_1_job", "ratio_2_jobs"):
        assert result[key] > 0
