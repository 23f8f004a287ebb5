"""``scripts/bench.py all``: every benchmark in one run, one table, one JSON file (issue 18 item 4).

Runs ledger, offload, sync, verify and catalog at sizes that keep the whole run under 10 minutes
on a 2-core machine (``--quick``: tiny sizes, well under a minute, for the test suite), plus
``load`` when that benchmark module offers ``all_rows``, plus the wall time of one
``scripts/demo.sh`` (not with ``--quick``). Each figure is measured against its baseline in the
same run; each module's ``all_rows(quick, work)`` returns its rows as data (name, value, unit,
baseline, target, met), so nothing here parses printed text. A benchmark that fails becomes a
failed row (``met`` false, the error in ``error``); the others still run.

    .venv/bin/python scripts/bench.py all [--quick] [--out FILE] [--dir DIR] [--no-demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ("ledger", "offload", "sync", "verify", "catalog", "load")
"""In this order; ``load`` only when scripts/bench_load.py exists (through ``all_rows`` when it has
one, else through its ``--json`` report, see :func:`load_rows`)."""
LOAD_ARGS = ("--idle-s", "10")
"""``bench.py load`` at its defaults (20 busy docks, 200 idle ones) but 10 s of idle keep-alives."""
LOAD_RSS_MB = 200
DEMO_TARGET_S = 180.0
DEMO_TIMEOUT_S = 600


def _row(bench: str, name: str, value=None, unit: str = "", baseline=None, target: str = "", met=None,
         **extra) -> dict:
    ratio = (round(value / baseline, 3) if isinstance(value, int | float) and isinstance(baseline, int | float)
             and baseline else None)
    return {"bench": bench, "name": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio,
            "target": target, "met": met, **extra}


def bench_rows(name: str, quick: bool, work: Path) -> list[dict] | None:
    """One benchmark's rows, timed; a failure is one failed row; None if the module has no rows."""
    try:
        mod = importlib.import_module(f"bench_{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bench_{name}":
            return None
        return [_row(name, f"{name} benchmark", met=False, error=f"cannot import bench_{name}: {exc}")]
    except Exception as exc:  # noqa: BLE001 - a broken module is a failed row, not the end of the run
        return [_row(name, f"{name} benchmark", met=False, error=f"cannot import bench_{name}: {exc}")]
    rows_of = getattr(mod, "all_rows", None)
    if rows_of is None and name == "load" and hasattr(mod, "add_parser"):
        rows_of = load_rows
    if rows_of is None:
        return None
    print(f"== {name}", flush=True)
    t0 = time.perf_counter()
    try:
        got = rows_of(quick, work)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - one benchmark's failure is a row, not the end
        traceback.print_exc()
        return [_row(name, f"{name} benchmark", met=False, error=f"{type(exc).__name__}: {exc}",
                     seconds=round(time.perf_counter() - t0, 1))]
    seconds = round(time.perf_counter() - t0, 1)
    print(f"   {name}: {seconds} s", flush=True)
    return [_row(name, r["name"], r["value"], r["unit"], r["baseline"], r["target"],
                 None if r.get("skipped") else bool(r["met"]), seconds=seconds,
                 **({"skipped": r["skipped"]} if r.get("skipped") else {})) for r in got]


def load_rows(quick: bool, work: Path) -> list[dict]:
    """``bench.py load --json`` (issue 17 item 4) as rows: its report is data, read as JSON. Not with
    ``--quick`` (hundreds of docks do not fit in a minute): then one row says it was not run."""
    name = "load: 20 docks at once, archive peak RSS (vs one dock alone)"
    if quick:
        return [{"name": name, "value": None, "unit": "MB", "baseline": None, "target": f"<= {LOAD_RSS_MB} MB",
                 "met": None, "skipped": "--quick"}]
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "load", "--json", *LOAD_ARGS,
                           "--workdir", str(work)], capture_output=True, text=True, timeout=900)
    text = proc.stdout
    if "{" not in text:
        raise RuntimeError(f"bench.py load exited {proc.returncode} without a report: {proc.stderr[-500:]}")
    r = json.loads(text[text.index("{"):])
    c, b = r["concurrent"], r["baseline_one_dock"]
    ok = bool(r["all_committed"] and r["archive_verify_ok"])
    rows = [
        {"name": f"load: {r['docks']} docks at once, every item committed and archive verify passing",
         "value": r["archive_segments"], "unit": "segments", "baseline": None, "target": "all, verify ok",
         "met": ok},
        {"name": name, "value": r["archive_peak_rss_mb"], "unit": "MB", "baseline": r["baseline_archive_peak_rss_mb"],
         "target": f"<= {LOAD_RSS_MB} MB", "met": r["archive_peak_rss_mb"] <= LOAD_RSS_MB},
        {"name": f"load: {r['docks']} docks at once, slowest dock's time (vs one dock alone)",
         "value": c["dock_s"]["max"], "unit": "s", "baseline": b["wall_s"], "target": "none starved",
         "met": ok and not c["failed_docks"]},
        {"name": f"load: {r['docks']} docks at once, aggregate throughput (vs one dock alone)",
         "value": c["throughput_mb_s"], "unit": "MB/s", "baseline": b["throughput_mb_s"], "target": "-",
         "met": ok},
    ]
    if "idle_docks" in r:
        rows.append({"name": f"load: {r['idle_docks']} idle docks still connected after {r['idle_s']:g} s",
                     "value": r["idle_still_connected"], "unit": "docks", "baseline": None,
                     "target": f"all {r['idle_docks']}", "met": r["idle_still_connected"] == r["idle_docks"]})
    return rows


def demo_row(work: Path) -> dict:
    """The wall time of one ``scripts/demo.sh`` (its output in ``work/demo.log``); a failure is a row."""
    data = work / "demo"
    shutil.rmtree(data, ignore_errors=True)
    log = work / "demo.log"
    print("== demo", flush=True)
    t0 = time.perf_counter()
    with log.open("wb") as out:
        try:
            proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh")], stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "BODYCAM_DEMO_DATA": str(data)}, timeout=DEMO_TIMEOUT_S,
                                  start_new_session=True)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = round(time.perf_counter() - t0, 1)
    name = "scripts/demo.sh wall time"
    print(f"   demo: {seconds} s, exit {code}", flush=True)
    if code != 0:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        why = f"timed out after {DEMO_TIMEOUT_S} s" if code is None else f"exit {code}"
        return _row("demo", name, seconds, "s", None, f"<= {DEMO_TARGET_S:.0f} s", False,
                    error=f"{why}: " + " | ".join(tail), log=str(log))
    shutil.rmtree(data, ignore_errors=True)
    return _row("demo", name, seconds, "s", None, f"<= {DEMO_TARGET_S:.0f} s", seconds <= DEMO_TARGET_S,
                log=str(log))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(rows: list[dict]) -> str:
    head = ("figure", "value", "unit", "baseline", "ratio", "target", "met?")
    body = [(r["name"], _fmt(r["value"]), r["unit"], _fmt(r["baseline"]), _fmt(r["ratio"]), r["target"],
             {True: "yes", False: "NO", None: "-"}[r["met"]] + (" (failed)" if r.get("error") else "")
             + (f" (not run: {r['skipped']})" if r.get("skipped") else ""))
            for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    align = ["<", ">", "<", ">", ">", "<", "<"]
    line = lambda cells: "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])


def machine() -> dict:
    return {"nproc": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
            "cpu": _cpu_model(), "kernel": platform.release(), "python": platform.python_version()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    work = Path(args.dir) if args.dir else Path(tempfile.gettempdir()) / "bodycam-bench-all"
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else Path(tempfile.gettempdir()) / "bench-results.json"
    before = machine()
    rows: list[dict] = []
    for name in BENCHES:
        got = bench_rows(name, args.quick, work)
        if got is not None:
            rows += got
    if not args.quick and not args.no_demo:
        rows.append(demo_row(work))
    else:
        rows.append(_row("demo", "scripts/demo.sh wall time", unit="s", target=f"<= {DEMO_TARGET_S:.0f} s",
                         skipped="--quick" if args.quick else "--no-demo"))
    elapsed = round(time.perf_counter() - started, 1)
    report = {"command": " ".join(["scripts/bench.py", *sys.argv[1:]]),
              "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "quick": args.quick,
              "machine_before": before, "machine_after": machine(), "elapsed_s": elapsed, "rows": rows}
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print(table(rows))
    print(f"\n{len(rows)} figures, {sum(r['met'] is True for r in rows)} met, "
          f"{sum(bool(r.get('error')) for r in rows)} failed; {elapsed} s on {before['nproc']} CPUs "
          f"(load {before['load_avg'][0]} before); JSON: {out}")
    return 0 if not any(r.get("error") for r in rows) else 1


def add_parser(sub) -> None:
    p = sub.add_parser("all", help="every benchmark and the demo's wall time: one table, one JSON file (issue 18)")
    p.add_argument("--quick", action="store_true", help="Tiny sizes, no demo (under a minute): checks it all runs.")
    p.add_argument("--out", default=None, help="JSON file (default: bench-results.json in the temp folder).")
    p.add_argument("--dir", default=None, help="Work folder (default: bodycam-bench-all in the temp folder).")
    p.add_argument("--no-demo", action="store_true", help="Do not time scripts/demo.sh.")
    p.set_defaults(func=run)
