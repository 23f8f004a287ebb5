"""The fault campaign from the command line (issue 17): ``scripts/faults.py --seed N --trials N``.

    .venv/bin/python scripts/faults.py --seed 17 --trials 30            # the full campaign (root: tmpfs)
    .venv/bin/python scripts/faults.py --seed 3 --trials 3 --mutant ack-before-flush

Prints the counts (trials, faults by kind, invariant violations, time to recover p50/p99) and,
with ``--json``, the whole report. Exit 0 when no invariant was violated, 3 otherwise. With
``--mutant`` the daemons run from a temporary copy of the code with one safety step removed
(see ``tests/faults/mutants.py``): there the campaign must report violations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.campaign import FAULT_KINDS, CampaignConfig, run_campaign  # noqa: E402
from tests.faults.mutants import MUTANTS, mutated_tree  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--faults", type=int, default=5, help="faults per trial")
    ap.add_argument("--shifts", type=int, default=2)
    ap.add_argument("--workload-s", type=float, default=8.0)
    ap.add_argument("--recover-timeout", type=float, default=90.0,
                    help="seconds after healing before a trial that has not converged is a violation")
    ap.add_argument("--only", default="", help=f"comma-separated fault kinds among {', '.join(FAULT_KINDS)}")
    ap.add_argument("--mutant", choices=sorted(MUTANTS))
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep each trial's folders and logs")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    only = tuple(k for k in args.only.split(",") if k)
    unknown = set(only) - set(FAULT_KINDS)
    if unknown:
        ap.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    t0 = time.monotonic()

    def say(line: str) -> None:
        if not args.quiet:
            print(f"{time.monotonic() - t0:7.1f}s {line}", file=sys.stderr, flush=True)

    cfg = CampaignConfig(seed=args.seed, trials=args.trials, faults=args.faults, shifts=args.shifts,
                         workload_s=args.workload_s, only=only,
                         recover_timeout_s=args.recover_timeout, workdir=args.workdir, keep=args.keep, log=say)
    if args.mutant:
        with mutated_tree(args.mutant) as code:
            cfg.code_root = code
            report = run_campaign(cfg, mutant=args.mutant)
    else:
        report = run_campaign(cfg)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.text())
    return 0 if not report.violations else 3


if __name__ == "__main__":
    raise SystemExit(main())
