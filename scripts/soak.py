"""The long run (issue 17 item 4; not in CI): two docks keep docking shifts and syncing to one
archive for ``--duration-s`` (default two hours) while faults arrive at a low rate, and each
daemon's memory and open file descriptors are sampled; the target is flat.

    .venv/bin/python scripts/soak.py                          # two hours (root: tmpfs)
    .venv/bin/python scripts/soak.py --duration-s 300 --json  # five minutes

The world, the faults and the final invariant checks are the fault campaign's
(``tests/faults/campaign.py``). By default the faults are those the daemons ride out without a
restart (link cuts, stalls, truncation, full disks, the broker killed or stopped), so each
daemon's growth is measured over one process lifetime; ``--kill-daemons`` adds SIGKILL/SIGTERM
of ``sync run`` and ``archive serve`` (growth is then per process since its last start).
Growth is reported from the first sample after ``--warmup-s`` to the last, per hour.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.campaign import KIB, MIB, CampaignConfig, Trial  # noqa: E402

LOW_RATE_KINDS = ("net_cut", "net_stall", "net_truncate", "disk_full_archive", "disk_full_dock", "sigkill_broker",
                  "sigterm_broker")
KILL_KINDS = ("sigkill_sync", "sigterm_sync", "sigkill_archive", "sigterm_archive")


def sample(pid: int) -> tuple[float, int] | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


class Soak(Trial):
    def __init__(self, cfg: CampaignConfig, root: Path, args: argparse.Namespace):
        super().__init__(cfg, 0, root)
        self.args = args
        self.samples: dict[str, list[tuple[float, int, float, int]]] = {}  # name → (t, pid, rss MB, fds)

    def pids(self) -> dict[str, int]:
        with self.lock:
            out = {name: d.proc.pid for name, d in self.daemons.items() if d.alive()}
            if self.broker.proc is not None and self.broker.proc.poll() is None:
                out["mosquitto"] = self.broker.proc.pid
        return out

    def sampler(self, t0: float) -> None:
        while not self.stop.wait(self.args.sample_s):
            for name, pid in self.pids().items():
                got = sample(pid)
                if got:
                    self.samples.setdefault(name, []).append((round(time.monotonic() - t0, 1), pid, *got))

    def workload(self) -> None:
        shift = 0
        while not self.stop.is_set():
            for site in self.world.docks.values():
                lock = self.dock_disk if site.name == "dock-b" else _null()
                with lock:
                    self.shift(site, shift)
            shift += 1
            if self.stop.wait(self.args.shift_every_s):
                return

    def soak(self) -> dict:
        started = time.monotonic()
        kinds = LOW_RATE_KINDS + (KILL_KINDS if self.args.kill_daemons else ())
        try:
            self.setup()
            t0 = time.monotonic()
            threads = [threading.Thread(target=f, args=a, daemon=True) for f, a in
                       ((self.supervise, ()), (self.workload, ()), (self.sampler, (t0,)))]
            for t in threads:
                t.start()
            end = t0 + self.args.duration_s
            while time.monotonic() < end:
                wait = min(self.rng.expovariate(1 / self.args.fault_every_s), end - time.monotonic())
                if wait > 0:
                    time.sleep(wait)
                if time.monotonic() >= end:
                    break
                kind = self.rng.choice(kinds)
                args = {"hold_s": round(self.rng.uniform(0.5, 3.0), 2), "dock": self.rng.choice(("dock-a", "dock-b"))}
                if kind == "net_truncate":
                    args["after_bytes"] = self.rng.randint(1, 2 * MIB)
                self.wait_for_traffic(args["dock"] if kind.startswith("net_") or kind.endswith("_sync") else None)
                self.result.faults.append({"at_s": round(time.monotonic() - t0, 1), "kind": kind} | args)
                self.say(f"{kind} {args}")
                self.inject(kind, args)
            # stop docking, heal, let it converge, check the campaign's invariants
            self.stop.set()
            for t in threads[1:]:
                t.join(60)
            self.stop.clear()
            sup = threading.Thread(target=self.supervise, daemon=True)
            sup.start()
            self.heal()
            healed = time.monotonic()
            while time.monotonic() < healed + self.cfg.recover_timeout_s:
                if self.converged():
                    self.result.recover_s = round(time.monotonic() - healed, 2)
                    break
                time.sleep(0.5)
            else:
                self.violation("converged", "not converged after the soak")
            self.stop.set()
            sup.join(5)
            self.check()
        finally:
            self.stop.set()
            self.teardown()
        return self.report(time.monotonic() - started)

    def report(self, wall: float) -> dict:
        growth = {}
        for name, rows in sorted(self.samples.items()):
            warm = [r for r in rows if r[0] >= self.args.warmup_s] or rows
            last_pid = warm[-1][1]
            life = [r for r in warm if r[1] == last_pid]  # the last process lifetime
            first, last = life[0], life[-1]
            hours = max((last[0] - first[0]) / 3600, 1e-9)
            growth[name] = {"samples": len(life), "restarts": len({r[1] for r in rows}) - 1,
                            "rss_mb_first": round(first[2], 1), "rss_mb_last": round(last[2], 1),
                            "rss_mb_max": round(max(r[2] for r in life), 1),
                            "rss_mb_per_hour": round((last[2] - first[2]) / hours, 1) if last[0] > first[0] else 0.0,
                            "fds_first": first[3], "fds_last": last[3], "fds_max": max(r[3] for r in life)}
        by_kind: dict[str, int] = {}
        for f in self.result.faults:
            by_kind[f["kind"]] = by_kind.get(f["kind"], 0) + 1
        return {"duration_s": self.args.duration_s, "wall_s": round(wall, 1), "seed": self.cfg.seed,
                "faults": len(self.result.faults), "faults_by_kind": by_kind,
                "entries": self.result.entries, "files": self.result.files,
                "mib": round(self.result.bytes / MIB, 1), "recover_s": self.result.recover_s,
                "refused_starts": len(self.result.refused_starts),
                "violations": [f"{v.invariant}: {v.detail[:300]}" for v in self.result.violations],
                "daemons": growth}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration-s", type=float, default=7200)
    ap.add_argument("--fault-every-s", type=float, default=60, help="mean time between faults")
    ap.add_argument("--shift-every-s", type=float, default=20, help="a shift at each dock this often")
    ap.add_argument("--sample-s", type=float, default=5)
    ap.add_argument("--warmup-s", type=float, default=60)
    ap.add_argument("--kill-daemons", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    import tempfile

    t0 = time.monotonic()

    def say(line: str) -> None:
        if not args.quiet:
            print(f"{time.monotonic() - t0:8.1f}s {line}", file=sys.stderr, flush=True)

    # small files, big filesystems: two hours of footage must fit the tmpfs mounts
    cfg = CampaignConfig(seed=args.seed, sizes=(64 * KIB, 200 * KIB, 500 * KIB, 1 * MIB), files=(1, 2),
                         archive_fs_mb=2048, dock_fs_mb=1024, recover_timeout_s=180, log=say)
    root = (args.workdir or Path(tempfile.mkdtemp(prefix="bodycam-soak-"))) / "soak"
    out = Soak(cfg, root, args).soak()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"soak: {out['wall_s']} s, {out['faults']} faults {out['faults_by_kind']}, {out['entries']} entries, "
              f"{out['files']} files ({out['mib']} MiB) delivered, recovered in {out['recover_s']} s, "
              f"violations {len(out['violations'])}")
        for name, g in out["daemons"].items():
            print(f"  {name:14} RSS {g['rss_mb_first']} → {g['rss_mb_last']} MB (max {g['rss_mb_max']}, "
                  f"{g['rss_mb_per_hour']:+} MB/h), fds {g['fds_first']} → {g['fds_last']} (max {g['fds_max']}), "
                  f"{g['samples']} samples, {g['restarts']} restart(s)")
        for v in out["violations"]:
            print(f"  VIOLATION {v}")
    return 0 if not out["violations"] else 3


if __name__ == "__main__":
    raise SystemExit(main())
