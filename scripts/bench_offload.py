"""Benchmark of the dock offload (issue 5): throughput against ``rsync -a`` and peak memory.

An emulated recorder card (four 512 MiB files plus one real short video written by OpenCV) is
exposed under a mount root exactly as the emulator does (``agent.emulator.server.expose``), then
offloaded into a fresh dock store and ledger: copy, SHA-256, fsync, atomic rename, probe,
thumbnail, device signature, ledger append. The same files are copied with ``rsync -a`` to
the same file system. Runs alternate (rsync, offload, rsync, offload, ...) on the same warm
files so neither side gets a colder page cache; the best run of each is reported, and rsync is
also timed followed by ``sync`` because the offload fsyncs every file and rsync does not.

Each offload runs in a child process that reports its own ``VmHWM`` (peak RSS since exec) as it
ends; a second card with an extra 2 GiB file shows memory does not grow with file size. Not
``wait4``'s ``ru_maxrss``: the kernel folds the forking parent's high-water mark into the child's
at exec, so a parent that had run the ledger benchmark first (``bench.py all``) made a 92 MB
offload look like 470 MB.

    .venv/bin/python scripts/bench.py offload [--dir DIR] [--runs N] [--size-mib 512] [--json]
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MiB = 1024 * 1024


def _fill(path: Path, size: int, seed: int) -> None:
    """Incompressible, distinct content without spending the benchmark's time on a PRNG."""
    block = os.urandom(4 * MiB)
    with open(path, "wb") as f:
        left, i = size, 0
        while left:
            n = min(left, len(block))
            chunk = bytearray(block[:n])
            chunk[:16] = seed.to_bytes(8, "big") + i.to_bytes(8, "big")
            f.write(chunk)
            left -= n
            i += 1


def _video(path: Path, frames: int = 100, w: int = 640, h: int = 360, fps: float = 25.0) -> None:
    """A real short clip (OpenCV, mp4v) so the probe and thumbnail do real work."""
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(frames):
        img = np.full((h, w, 3), (i * 2 % 255, 80, 160), np.uint8)
        cv2.putText(img, f"frame {i}", (20, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(img)
    writer.release()


def make_card(card: Path, size_mib: int, extra_mib: int = 0) -> int:
    media = card / "DCIM" / "100MEDIA"
    media.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        _fill(media / f"VID_20261130_08{i:02d}00_{i + 1:04d}.mp4", size_mib * MiB, seed=i)
    _video(media / "VID_20261130_090000_0005.mp4")
    extra = media / "VID_20261130_091000_0006.mp4"
    extra.unlink(missing_ok=True)
    if extra_mib:
        _fill(extra, extra_mib * MiB, seed=99)
    return sum(p.stat().st_size for p in media.iterdir())


def child(args: argparse.Namespace) -> None:
    """One offload in this (child) process; prints a JSON line with its own timing."""
    from agent.offload.files import offload, open_session
    from agent.store import DockStore
    from ledger.enroll import create_rooted, enroll, public_of
    from ledger.keys import Signer
    from ledger.store import Ledger

    work = Path(args.work)
    dock, device = Signer.generate(), Signer.generate()
    with Ledger.open(work / "ledger.db") as ledger:
        create_rooted(ledger, dock, "dock-bench")
        enroll(ledger, dock, "device", "rec-bench", public_of(device), custodian="officer-1")
        store = DockStore(work / "store")
        session = open_session(ledger, dock, session_id="bench", dock_id="dock-bench", device_id="rec-bench",
                               officer_id="officer-1", activity="patrol")
        t0 = time.perf_counter()
        s = offload(Path(args.mount), device_id="rec-bench", device_signer=device, dock_signer=dock,
                    ledger=ledger, store=store, session=session, officer_id="officer-1", activity="patrol",
                    mount_wait_s=10)
        dt = time.perf_counter() - t0
    print(json.dumps({"seconds": dt, "bytes": s.bytes, "segments": s.segments, "gaps": s.gaps,
                      "vmhwm_kb": _vmhwm_kb()}))


def _vmhwm_kb() -> int:
    """This process's peak RSS since exec (kB), from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status")


def _run_child(mount: Path, work: Path) -> dict:
    work.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, __file__, "--child", "--mount", str(mount), "--work", str(work)],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"offload child failed with exit {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = result.pop("vmhwm_kb") / 1024
    return result


def settle(limit_kb: int = 32 * 1024, timeout_s: float = 120.0) -> None:
    """Flush and wait until the kernel has no dirty or in-flight pages left, so one run's
    write-back is not charged to the next one."""
    os.sync()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0])
        if info.get("Dirty", 0) < limit_kb and info.get("Writeback", 0) == 0:
            return
        time.sleep(0.1)


def _rsync(mount: Path, dest: Path, then_sync: bool) -> float:
    t0 = time.perf_counter()
    subprocess.run(["rsync", "-a", f"{mount}/", f"{dest}/"], check=True)
    if then_sync:
        subprocess.run(["sync"], check=True)
    return time.perf_counter() - t0


def bench(base: Path, runs: int, size_mib: int, big_gib: int) -> dict:
    from agent.emulator.server import expose

    base.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(base).free < (size_mib * 4 * 3 + big_gib * 1024 * 3 + 2048) * MiB:
        raise SystemExit(f"not enough free space in {base} for the benchmark")
    out: dict = {"file_system": base, "runs": runs}
    card = base / "card"
    shutil.rmtree(card, ignore_errors=True)
    total = make_card(card, size_mib)
    mount_root = base / "mnt"
    mount = expose(card, mount_root, "SNBENCH")
    subprocess.run(["sync"], check=True)
    out["bytes"] = total
    off, rs, rs_sync = [], [], []
    # Alternate which goes first, and settle the page cache's write-back before every timed run.
    for i in range(runs):
        order = ("rsync", "offload") if i % 2 == 0 else ("offload", "rsync")
        for what in order:
            work = base / f"work-{what}-{i}"
            shutil.rmtree(work, ignore_errors=True)
            settle()
            if what == "offload":
                r = _run_child(mount, work)
                assert r["bytes"] == total and r["segments"] == 5, r
                off.append(r)
            else:
                work.mkdir()
                rs.append(_rsync(mount, work, then_sync=False))
                shutil.rmtree(work)
                settle()
                work.mkdir()
                rs_sync.append(_rsync(mount, work, then_sync=True))
            shutil.rmtree(work, ignore_errors=True)
    mb = total / 1e6
    t_off = statistics.median(r["seconds"] for r in off)
    t_rs, t_rs_sync = statistics.median(rs), statistics.median(rs_sync)
    out.update({
        "offload_mb_s": round(mb / t_off, 1),
        "rsync_mb_s": round(mb / t_rs, 1),
        "rsync_sync_mb_s": round(mb / t_rs_sync, 1),
        "ratio_to_rsync": round(t_rs / t_off, 2),
        "ratio_to_rsync_sync": round(t_rs_sync / t_off, 2),
        "best_offload_mb_s": round(mb / min(r["seconds"] for r in off), 1),
        "best_rsync_mb_s": round(mb / min(rs), 1),
        "offload_runs_s": [round(r["seconds"], 2) for r in off],
        "rsync_runs_s": [round(t, 2) for t in rs],
        "rsync_sync_runs_s": [round(t, 2) for t in rs_sync],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in off), 1),
    })
    if big_gib:
        # Memory against file size: a sixth file of 64 MiB, then of 2 GiB (same count, same names),
        # so any difference is due to size alone.
        for label, extra_mib in (("extra_64mib", 64), ("extra_2gib", big_gib * 1024)):
            make_card(card, size_mib, extra_mib)
            mount = expose(card, mount_root, "SNBENCH")
            work = base / f"work-{label}"
            shutil.rmtree(work, ignore_errors=True)
            settle()
            r = _run_child(mount, work)
            shutil.rmtree(work, ignore_errors=True)
            out[f"{label}_bytes"] = r["bytes"]
            out[f"{label}_peak_rss_mb"] = round(r["peak_rss_mb"], 1)
            out[f"{label}_mb_s"] = round(r["bytes"] / 1e6 / r["seconds"], 1)
    shutil.rmtree(card, ignore_errors=True)
    shutil.rmtree(mount_root, ignore_errors=True)
    out["file_system"] = str(base)
    return out


def rows(r: dict) -> list[dict]:
    """The figures ``scripts/bench.py all`` tabulates: (name, value, unit, baseline, target, met)."""
    return [
        {"name": f"offload ({r['bytes'] / 1e6:.0f} MB, median of {r['runs']}; vs rsync -a)",
         "value": r["offload_mb_s"], "unit": "MB/s", "baseline": r["rsync_mb_s"], "target": ">= 1.0x",
         "met": r["ratio_to_rsync"] >= 1.0},
        {"name": "offload peak RSS", "value": r["peak_rss_mb"], "unit": "MB", "baseline": None,
         "target": "<= 150 MB", "met": r["peak_rss_mb"] <= 150},
    ]


def all_rows(quick: bool, work: Path) -> list[dict]:
    """``scripts/bench.py all``: the defaults, four 512 MiB files, 4 alternating runs, without the
    2 GiB memory-growth file (quick: 4 MiB, 1 run)."""
    size, runs = (4, 1) if quick else (512, 4)
    try:
        return rows(bench(work / "offload", runs, size, 0))
    finally:
        shutil.rmtree(work / "offload", ignore_errors=True)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("offload", help="dock offload throughput vs rsync -a, and peak RSS")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "bodycam-bench",
                   help="work folder (card, store and rsync target all on this file system)")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--size-mib", type=int, default=512, help="size of each of the four files")
    p.add_argument("--big-gib", type=int, default=2, help="extra file for the memory-growth run (0: skip)")
    p.add_argument("--json", action="store_true", dest="as_json")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    r = bench(args.dir, args.runs, args.size_mib, args.big_gib)
    if args.as_json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"offload: {r['bytes'] / 1e6:.0f} MB (4 x {args.size_mib} MiB + 1 video) on {r['file_system']}")
    print("  medians of alternating runs (MB = 10^6 bytes):")
    print(f"  offload (copy+sha256+fsync+probe+sign+ledger): {r['offload_mb_s']} MB/s "
          f"(runs {r['offload_runs_s']} s)")
    print(f"  rsync -a:         {r['rsync_mb_s']} MB/s (runs {r['rsync_runs_s']} s) -> ratio "
          f"{r['ratio_to_rsync']}x  (target >= 1.0x)")
    print(f"  rsync -a + sync:  {r['rsync_sync_mb_s']} MB/s (runs {r['rsync_sync_runs_s']} s) -> ratio "
          f"{r['ratio_to_rsync_sync']}x")
    print(f"  peak RSS of the offload process: {r['peak_rss_mb']} MB (target <= 150 MB)")
    if "extra_2gib_peak_rss_mb" in r:
        print(f"  peak RSS with a sixth file of 64 MiB: {r['extra_64mib_peak_rss_mb']} MB; of 2 GiB: "
              f"{r['extra_2gib_peak_rss_mb']} MB ({r['extra_2gib_mb_s']} MB/s)")
    return 0


if __name__ == "__main__":
    if "--child" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--child", action="store_true")
        ap.add_argument("--mount", required=True)
        ap.add_argument("--work", required=True)
        child(ap.parse_args())
    else:
        ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        add_parser(ap.add_subparsers(dest="cmd", required=True))
        ns = ap.parse_args()
        raise SystemExit(ns.func(ns))
