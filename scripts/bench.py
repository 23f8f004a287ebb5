"""Benchmarks: ``scripts/bench.py <name> [options]``. Each benchmark registers a subcommand.

    .venv/bin/python scripts/bench.py ledger      # appends/s, proofs at 1M entries, verification (issue 2)
    .venv/bin/python scripts/bench.py offload     # dock offload vs rsync -a, peak RSS (issue 5)
    .venv/bin/python scripts/bench.py sync        # dock → archive over MQTT vs MQTT/dd ceilings (issue 7)
    .venv/bin/python scripts/bench.py verify      # archive verify MB/s, 1 and 2 jobs, vs a hashlib loop (issue 13)
    .venv/bin/python scripts/bench.py load        # 20 docks syncing at once, 200 idle docks (issue 17)
    .venv/bin/python scripts/bench.py catalog     # find_segments p50/p99 at 100,000 segments vs bare SQL (issue 13)
    .venv/bin/python scripts/bench.py all         # all of them + the demo's wall time: one table, JSON (issue 18)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_all  # noqa: E402
import bench_catalog  # noqa: E402
import bench_ledger  # noqa: E402
import bench_load  # noqa: E402
import bench_offload  # noqa: E402
import bench_sync  # noqa: E402
import bench_verify  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="bodycam benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    bench_all.add_parser(sub)
    bench_catalog.add_parser(sub)
    bench_ledger.add_parser(sub)
    bench_offload.add_parser(sub)
    bench_sync.add_parser(sub)
    bench_verify.add_parser(sub)
    bench_load.add_parser(sub)
    args = ap.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
