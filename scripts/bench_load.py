"""``scripts/bench.py load``: many docks against one archive (issue 17 item 4).

* **20 docks syncing at once**: 20 dock folders (each a real dock ledger with its recorder's
  segments and their files in the dock store), each shipped by its own ``bodycam sync run --once``
  process, all started together against one real Mosquitto and one ``bodycam archive serve``.
  Reported: every item committed (and ``archive verify`` passing), each dock's completion time
  (min, median, max: none starved), aggregate throughput, and the archive's peak RSS (target ≤
  200 MB). Baseline, same run, same data per dock: one dock alone.
* **200 idle docks**: 200 more docks, registered and caught up, each a real uploader (the code of
  ``sync run``) in one process, connected with keep-alives and polling their ledgers for
  ``--idle-s`` seconds; the broker's and the archive's RSS before and after they connect.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIB = 1 << 20


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Peak RSS of a process, sampled every 0.1 s, and the kernel's own high-water mark."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return

    def stop(self, lifetime: bool = True) -> float:
        """The sampled peak; with ``lifetime``, also the kernel's high-water mark since the
        process started (which catches a peak between samples, but also any earlier one)."""
        self._stop.set()
        self._t.join(2)
        try:
            return max(self.peak, rss_mb(self.pid, "VmHWM")) if lifetime else self.peak
        except OSError:
            return self.peak


def run(args: argparse.Namespace) -> int:
    from tests.fixtures.broker import new_mosquitto
    from tests.fixtures.sync import BODYCAM, new_sync_world

    root = Path(tempfile.mkdtemp(prefix="bodycam-load-", dir=args.workdir))
    busy = [f"load-{i:02d}" for i in range(args.docks)]
    idle = [f"idle-{i:03d}" for i in range(args.idle_docks)]
    sizes = [int(s * MIB) for s in args.segment_mib]
    t_setup = time.monotonic()
    broker = new_mosquitto(root / "broker", tuple(["solo", *busy, *idle]), plain=True)
    out: dict = {"docks": args.docks, "segments_per_dock": len(sizes), "bytes_per_dock": sum(sizes),
                 "chunk_size": args.chunk_mib * MIB}
    try:
        w = new_sync_world(broker, root, ())
        syncd = {"chunk_size": int(args.chunk_mib * MIB), "window": 16, "ack_timeout_s": 10.0, "backoff_max_s": 2.0}
        for n, name in enumerate(["solo", *busy]):
            site = w.add_dock(name, **syncd)
            site.add_segments(sizes, device_id=f"cam-{n:02d}", seed=n + 1)
        for name in idle:
            w.add_dock(name, poll_s=1.0)
        out["setup_s"] = round(time.monotonic() - t_setup, 1)
        archive = w.archive_process()
        time.sleep(1.5)
        archive_rss_start = rss_mb(archive.pid)

        def sync_all(names: list[str]) -> dict:
            started = time.monotonic()
            ps = {n: subprocess.Popen([BODYCAM, "--config", str(w.docks[n].config_path), "sync", "run", "--once",
                                       "--json", "--connect-timeout", "300"], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True) for n in names}
            done: dict[str, float] = {}
            results: dict[str, dict] = {}
            while len(done) < len(ps):
                for n, p in ps.items():
                    if n not in done and p.poll() is not None:
                        done[n] = time.monotonic() - started
                        results[n] = json.loads(p.stdout.read() or "{}") if p.returncode in (0, 3) else {}
                        results[n]["rc"] = p.returncode
                time.sleep(0.05)
            wall = time.monotonic() - started
            times = sorted(done.values())
            committed = sum(r.get("committed", 0) for r in results.values())
            failed = [n for n, r in results.items() if r["rc"] != 0 or r.get("rejected") or r.get("queued")]
            total = sum(sizes) * len(names)
            return {"wall_s": round(wall, 2), "dock_s": {"min": round(times[0], 2),
                                                         "median": round(statistics.median(times), 2),
                                                         "max": round(times[-1], 2)},
                    "per_dock_s": {n: round(t, 2) for n, t in sorted(done.items())},
                    "committed_items": committed, "failed_docks": failed,
                    "throughput_mb_s": round(total / MIB / wall, 1)}

        sampler = Sampler(archive.pid)
        out["baseline_one_dock"] = sync_all(["solo"])
        out["baseline_archive_peak_rss_mb"] = round(sampler.peak, 1)
        out["concurrent"] = sync_all(busy)
        out["archive_peak_rss_mb"] = round(sampler.stop(), 1)
        out["archive_rss_start_mb"] = round(archive_rss_start, 1)
        with w.archive_ledger() as lg:
            segs = len(list(lg.entries(kind="segment")))
        out["archive_segments"] = segs
        out["all_committed"] = segs == len(sizes) * (len(busy) + 1) and not out["concurrent"]["failed_docks"]
        verify = subprocess.run([BODYCAM, "--config", str(w.archive_config_path), "archive", "verify", "--json"],
                                capture_output=True, text=True, timeout=600)
        out["archive_verify_ok"] = verify.returncode == 0

        # -- 200 idle docks, real uploaders in a few processes ---------------------------------
        # (paho waits on its sockets with select(), which cannot see a descriptor above 1024: one
        # process holds about 50 uploaders with their ledgers and sync states open)
        if idle:
            out["idle_docks"] = len(idle)
            out["broker_rss_before_idle_mb"] = round(rss_mb(broker.proc.pid), 1)
            out["archive_rss_before_idle_mb"] = round(rss_mb(archive.pid), 1)
            groups = [idle[i:i + args.docks_per_process] for i in range(0, len(idle), args.docks_per_process)]
            workers = []
            for n, group in enumerate(groups):
                spec = root / f"idle-{n}.json"
                spec.write_text(json.dumps([{"agent": w.docks[d].agent.model_dump(mode="json"),
                                             "syncd": w.docks[d].syncd.model_dump(mode="json")} for d in group]))
                workers.append(subprocess.Popen([sys.executable, __file__, "idle-worker", str(spec),
                                                 str(args.idle_s)], stdout=subprocess.PIPE, text=True))
            t0 = time.monotonic()
            ready = [json.loads(wk.stdout.readline() or "{}") for wk in workers]
            out["idle_connected"] = sum(r.get("connected", 0) for r in ready)
            out["idle_connect_s"] = round(time.monotonic() - t0, 1)
            out["idle_processes"] = len(workers)
            bs, as_ = Sampler(broker.proc.pid), Sampler(archive.pid)
            done = [json.loads(wk.stdout.readline() or "{}") for wk in workers]
            for wk in workers:
                wk.wait(60)
            out["idle_still_connected"] = sum(r.get("connected", 0) for r in done)
            out["broker_rss_idle_mb"] = round(rss_mb(broker.proc.pid), 1)
            out["archive_rss_idle_mb"] = round(rss_mb(archive.pid), 1)
            out["broker_peak_rss_idle_mb"] = round(bs.stop(lifetime=False), 1)
            out["archive_peak_rss_idle_mb"] = round(as_.stop(lifetime=False), 1)
            out["broker_lifetime_peak_rss_mb"] = round(rss_mb(broker.proc.pid, "VmHWM"), 1)
            out["idle_process_rss_mb"] = round(sum(r.get("rss_mb", 0) for r in done), 1)
            out["idle_s"] = args.idle_s
        archive.terminate()
        archive.wait(30)
    finally:
        w_procs = locals().get("w")
        if w_procs is not None:
            w_procs.stop_all()
        broker.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        c, b = out["concurrent"], out["baseline_one_dock"]
        print(f"load: {args.docks} docks at once, {len(sizes)} segments ({sum(sizes) / MIB:.0f} MiB) each, "
              f"{args.chunk_mib:g} MiB chunks")
        print(f"  all committed: {out['all_committed']} ({out['archive_segments']} segments), archive verify: "
              f"{'ok' if out['archive_verify_ok'] else 'FAILED'}")
        print(f"  per-dock completion: min {c['dock_s']['min']} s, median {c['dock_s']['median']} s, "
              f"max {c['dock_s']['max']} s (one dock alone: {b['wall_s']} s)")
        print(f"  throughput: {c['throughput_mb_s']} MB/s aggregate (one dock alone: {b['throughput_mb_s']} MB/s)")
        print(f"  archive peak RSS: {out['archive_peak_rss_mb']} MB (target ≤ 200 MB; at start "
              f"{out['archive_rss_start_mb']} MB, one dock: {out['baseline_archive_peak_rss_mb']} MB)")
        if idle:
            print(f"idle: {out['idle_connected']}/{len(idle)} docks connected in {out['idle_connect_s']} s, "
                  f"{out['idle_still_connected']} still connected after {args.idle_s:g} s of keep-alives")
            print(f"  broker RSS {out['broker_rss_before_idle_mb']} → {out['broker_rss_idle_mb']} MB (peak "
                  f"{out['broker_peak_rss_idle_mb']}), archive RSS {out['archive_rss_before_idle_mb']} → "
                  f"{out['archive_rss_idle_mb']} MB (peak {out['archive_peak_rss_idle_mb']}); the {len(idle)} "
                  f"uploaders' own {out['idle_processes']} processes {out['idle_process_rss_mb']} MB")
    ok = out["all_committed"] and out["archive_verify_ok"] and (not idle or out["idle_still_connected"] == len(idle))
    return 0 if ok else 1


def idle_worker(spec: Path, seconds: float) -> int:
    """Run the uploaders of the docks in ``spec`` (idle: nothing to send) for ``seconds``; print a
    JSON line once they are connected, another at the end."""
    from agent.config import AgentConfig
    from syncd.config import SyncdConfig
    from syncd.uploader import Uploader

    stop = threading.Event()
    ups = [Uploader(AgentConfig.model_validate(d["agent"]), SyncdConfig.model_validate(d["syncd"]), stop_event=stop)
           for d in json.loads(spec.read_text())]
    threads = [threading.Thread(target=u.run, daemon=True) for u in ups]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while sum(1 for u in ups if u.client.connected) < len(ups) and time.monotonic() < deadline:
        time.sleep(0.2)
    print(json.dumps({"connected": sum(1 for u in ups if u.client.connected)}), flush=True)
    time.sleep(seconds)
    print(json.dumps({"connected": sum(1 for u in ups if u.client.connected), "rss_mb": rss_mb(os.getpid())}),
          flush=True)
    stop.set()
    for t in threads:
        t.join(10)
    for u in ups:
        u.close()
    return 0


def add_parser(sub) -> None:
    ap = sub.add_parser("load", help="20 docks syncing at once to one archive; 200 idle docks connected (issue 17)")
    ap.add_argument("--docks", type=int, default=20)
    ap.add_argument("--idle-docks", type=int, default=200)
    ap.add_argument("--segment-mib", type=float, nargs="+", default=[3, 1, 0.5, 2])
    ap.add_argument("--chunk-mib", type=float, default=1)
    ap.add_argument("--idle-s", type=float, default=30)
    ap.add_argument("--docks-per-process", type=int, default=50)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.set_defaults(func=run)


if __name__ == "__main__" and sys.argv[1:2] == ["idle-worker"]:
    raise SystemExit(idle_worker(Path(sys.argv[2]), float(sys.argv[3])))
