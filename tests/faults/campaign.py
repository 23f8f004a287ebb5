"""The fault campaign (issue 17): two docks, several recorders each, sync multi-file shifts
(footage of mixed sizes, gaps with justifications carrying a signature image, approvals) to one
archive through a real Mosquitto, while faults are injected at seeded random moments: the
daemons (``sync run`` of each dock, ``archive serve``, Mosquitto) killed with SIGKILL or stopped
with SIGTERM, each dock's link cut, stalled or truncated mid-packet by a TCP relay, and the
archive's and a dock's filesystems (small tmpfs mounts, so root) filled and freed. A supervisor
thread stands for systemd (``Restart=always``): what the campaign stopped comes back after a short
delay; a daemon that exits by itself while working (or with a traceback) is a violation, one that
refuses to start with a plain error (its ledger cannot be opened on a full disk) is counted and
restarted.

After the last fault everything heals and the campaign waits for the system to converge, then
checks the invariants (A2 Art.8: complete and unaltered; A2 Art.16: custody survives failures):

* the archive ledger holds every entry each dock signed, byte for byte, once, and nothing else
  from the docks; its blob store holds exactly the files those entries name;
* ``bodycam archive verify`` passes;
* each dock's latest signed checkpoint is acknowledged, consistent and fully covered;
* no part file is left, and no file was refused at ``fin`` as damaged (nothing is altered in
  flight here: it would mean the archive acknowledged chunks it did not have);
* nothing the dock believes committed is missing at the archive (every ``committed`` proof in
  the dock's outbox verifies and names an entry the archive holds), and the dock still has every
  file its ledger names (the dock deletes nothing);
* every daemon is running.

``run_campaign(CampaignConfig(...))`` returns a :class:`Report` (trials, faults by kind,
violations, time to recover). ``code_root`` runs the daemons from another copy of the code (the
mutants of ``scripts/faults.py --mutant``); the campaign itself and its checks always use this
tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.checkpoints import sign_dock_checkpoint
from archive.dock_checkpoints import DockCheckpoints
from archive.receiver import named_blobs
from ledger.enroll import public_of
from ledger.envelope import Envelope, body, seal
from ledger.keys import Signer, load_public_key
from ledger.people import enroll_person
from ledger.records import Gap, StopApproval, StopJustification, make_body
from ledger.records.justification import Requester
from ledger.store import Ledger
from syncd import protocol as p
from syncd.outbox import COMMITTED
from syncd.uploader import sync_status
from tests.fixtures.broker import MosquittoBroker, TcpRelay, new_mosquitto
from tests.fixtures.sync import BODYCAM, T0, DockSite, SyncWorld, new_sync_world, sha256_file

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
KIB = 1 << 10
SIZES = (96 * KIB, 300 * KIB, 700 * KIB, 1 * MIB + 123, 2 * MIB + 7)
"""Footage of mixed sizes: below one 256 KiB chunk, a few chunks, several."""

FAULT_KINDS = ("sigkill_sync", "sigterm_sync", "sigkill_archive", "sigterm_archive", "sigkill_broker",
               "sigterm_broker", "net_cut", "net_stall", "net_truncate", "disk_full_archive", "disk_full_dock")
DOCKS = ("dock-a", "dock-b")
START_GRACE_S = 5.0
"""A daemon that exits this soon after a start, with a plain error and no traceback, refused to
start (counted, not a violation: its service manager restarts it); later, or with a traceback, it
crashed while working (a violation)."""
FULL_DOCK = "dock-b"
"""The dock whose folder is a small tmpfs the campaign fills."""


@dataclass
class CampaignConfig:
    seed: int = 1
    trials: int = 1
    faults: int = 5
    """Faults per trial, at random moments of its workload."""
    shifts: int = 2
    devices: int = 2
    """Recorders per dock."""
    files: tuple[int, int] = (2, 3)
    """Files per recorder and shift (inclusive range)."""
    workload_s: float = 8.0
    """Over how long the shifts are docked and the faults spread."""
    recover_timeout_s: float = 90.0
    sizes: tuple[int, ...] = SIZES
    """Sizes the recorders' files are drawn from."""
    link_bps: float = 1.5e6
    """Each dock's uplink (the relay paces what goes up): transfers take seconds, so faults land
    in the middle of files rather than between them."""
    archive_fs_mb: int = 64
    dock_fs_mb: int = 48
    workdir: Path | None = None
    keep: bool = False
    code_root: Path | None = None
    """Run the daemons from this copy of the code (a mutant) instead of this tree."""
    only: tuple[str, ...] = ()
    """Restrict the faults to these kinds (empty: all)."""
    log: object = None
    """A callable taking a line of progress (None: quiet)."""


@dataclass
class Violation:
    trial: int
    invariant: str
    detail: str


@dataclass
class TrialResult:
    trial: int
    seed: int
    faults: list[dict] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    recover_s: float | None = None
    refused_starts: list[dict] = field(default_factory=list)
    entries: int = 0
    files: int = 0
    bytes: int = 0
    duration_s: float = 0.0


@dataclass
class Report:
    seed: int
    trials: list[TrialResult]
    mutant: str | None = None

    @property
    def violations(self) -> list[Violation]:
        return [v for t in self.trials for v in t.violations]

    def faults_by_kind(self) -> dict[str, int]:
        out = dict.fromkeys(FAULT_KINDS, 0)
        for t in self.trials:
            for f in t.faults:
                out[f["kind"]] += 1
        return out

    def recovery(self) -> dict:
        times = sorted(t.recover_s for t in self.trials if t.recover_s is not None)
        return {"p50_s": percentile(times, 50), "p99_s": percentile(times, 99),
                "max_s": round(times[-1], 2) if times else None, "converged": len(times)}

    def to_json(self) -> dict:
        return {"seed": self.seed, "mutant": self.mutant, "trials": len(self.trials),
                "faults": sum(len(t.faults) for t in self.trials), "faults_by_kind": self.faults_by_kind(),
                "violations": len(self.violations), "violations_by_invariant": _count(v.invariant
                                                                                    for v in self.violations),
                "recover": self.recovery(),
                "refused_starts": sum(len(t.refused_starts) for t in self.trials),
                "entries": sum(t.entries for t in self.trials), "files": sum(t.files for t in self.trials),
                "bytes": sum(t.bytes for t in self.trials),
                "duration_s": round(sum(t.duration_s for t in self.trials), 1),
                "violation_list": [asdict(v) for v in self.violations[:50]]}

    def text(self) -> str:
        j = self.to_json()
        lines = [f"fault campaign: seed {j['seed']}, {j['trials']} trial(s)"
                 + (f", mutant {self.mutant}" if self.mutant else ""),
                 f"  synced: {j['entries']} ledger entries, {j['files']} files, {j['bytes'] / MIB:.1f} MiB",
                 f"  faults injected: {j['faults']}  "
                 + ", ".join(f"{k} {n}" for k, n in j["faults_by_kind"].items()),
                 f"  daemons that refused to start (plain error, restarted by the supervisor): "
                 f"{j['refused_starts']}",
                 f"  invariant violations: {j['violations']}"
                 + ("" if not j["violations"] else "  " + ", ".join(
                     f"{k} {n}" for k, n in j["violations_by_invariant"].items())),
                 f"  time to recover (last fault healed → everything committed and checkpoint covered): "
                 f"p50 {j['recover']['p50_s']} s, p99 {j['recover']['p99_s']} s, max {j['recover']['max_s']} s "
                 f"({j['recover']['converged']}/{j['trials']} converged)",
                 f"  wall time {j['duration_s']} s"]
        for v in self.violations[:20]:
            lines.append(f"  VIOLATION trial {v.trial}: {v.invariant}: {v.detail}")
        return "\n".join(lines)


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def percentile(sorted_values: list[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1))))
    return round(sorted_values[k], 2)


# -- small filesystems ------------------------------------------------------------------------------


def mount_tmpfs(path: Path, size_mb: int) -> None:
    """A real filesystem that really runs out of space (needs root, as in CI)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)], check=True)


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(path: Path) -> Path:
    """Fill the filesystem holding ``path`` until writes fail with ENOSPC; returns the filler."""
    filler = path / ".campaign-filler"
    block = b"\0" * MIB
    with contextlib.suppress(OSError), open(filler, "wb") as f:
        while True:
            f.write(block)
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as f:
        for size in (64 * KIB, 4 * KIB, 512):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)
    return filler


def pace(rate_bps: float):
    """A relay ``tamper`` that passes every byte unchanged at about ``rate_bps``."""
    def slow(data: bytes) -> bytes:
        time.sleep(len(data) / rate_bps)
        return data
    return slow


# -- daemons ----------------------------------------------------------------------------------------


class Daemon:
    """One ``bodycam`` daemon as its own process group, restarted by the supervisor when the
    campaign stopped it."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str], cwd: Path):
        self.name, self.argv, self.log_path, self.env, self.cwd = name, argv, log, env, cwd
        self.proc: subprocess.Popen | None = None
        self.expect_exit = False
        self.restart_at: float | None = None
        self.starts = 0
        self.started_at = 0.0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                         cwd=self.cwd, start_new_session=True)
        self.starts += 1
        self.started_at = time.monotonic()
        self.expect_exit = False
        self.restart_at = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.expect_exit = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def bodycam_argv(code_root: Path | None) -> list[str]:
    if code_root is None:
        return [BODYCAM]
    return [sys.executable, "-c", "from bodycam.cli import main; main()"]


# -- one trial ---------------------------------------------------------------------------------------


class Trial:
    def __init__(self, cfg: CampaignConfig, n: int, root: Path):
        self.cfg = cfg
        self.n = n
        self.seed = cfg.seed * 10_007 + n
        self.rng = random.Random(self.seed)
        self.root = root
        self.result = TrialResult(n, self.seed)
        self.lock = threading.RLock()
        self.daemons: dict[str, Daemon] = {}
        self.relays: dict[str, TcpRelay] = {}
        self.broker: MosquittoBroker | None = None
        self.broker_expect_down = False
        self.broker_restart_at: float | None = None
        self.world: SyncWorld | None = None
        self.mounts: list[Path] = []
        self.dock_disk = threading.Lock()  # the workload's docking and the dock's full disk exclude each other
        self.stop = threading.Event()
        self.people: dict[str, dict[str, Signer]] = {}
        self.sig_seq = 0

    def say(self, text: str) -> None:
        if self.cfg.log:
            self.cfg.log(f"[trial {self.n}] {text}")

    def violation(self, invariant: str, detail: str) -> None:
        self.result.violations.append(Violation(self.n, invariant, detail))
        self.say(f"VIOLATION {invariant}: {detail}")

    # -- set-up ----------------------------------------------------------------------------------

    def setup(self) -> None:
        cfg = self.cfg
        self.root.mkdir(parents=True, exist_ok=True)
        adir = self.root / "archive"
        mount_tmpfs(adir, cfg.archive_fs_mb)
        self.mounts.append(adir)
        ddir = self.root / f"dock-{FULL_DOCK}"
        mount_tmpfs(ddir, cfg.dock_fs_mb)
        self.mounts.append(ddir)
        self.broker = new_mosquitto(self.root / "broker", DOCKS, plain=True)
        w = new_sync_world(self.broker, self.root, (), archive_dir=adir, checkpoint_every=50,
                           checkpoint_interval_s=5, transfer_idle_s=600)
        self.world = w
        for name in DOCKS:
            relay = TcpRelay(self.broker.host, self.broker.plain_port)
            relay.tamper = pace(cfg.link_bps)
            self.relays[name] = relay
            site = w.add_dock(name, port=relay.port)
            self._enroll_people(site)
        env = dict(os.environ)
        code = self.cfg.code_root or ROOT
        if self.cfg.code_root is not None:
            env["PYTHONPATH"] = str(code)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        argv = bodycam_argv(self.cfg.code_root)
        self.daemons["archive"] = Daemon("archive", [*argv, "-v", "--config", str(w.archive_config_path),
                                                     "archive", "serve"], self.root / "archive.log", env, code)
        for name, site in w.docks.items():
            self.daemons[f"sync-{name}"] = Daemon(f"sync-{name}", [*argv, "-v", "--config", str(site.config_path),
                                                                   "sync", "run"],
                                                  self.root / f"sync-{name}.log", env, code)
        for d in self.daemons.values():
            d.start()

    def _enroll_people(self, site: DockSite) -> None:
        officer, supervisor = Signer.generate(), Signer.generate()
        letter = site.name[-1]
        with Ledger.open(site.ledger_path) as lg:
            enroll_person(lg, site.dock_key, f"officer-{letter}", "officer", public_of(officer), now_ns=T0)
            enroll_person(lg, site.dock_key, f"super-{letter}", "supervisor", public_of(supervisor), now_ns=T0)
        self.people[site.name] = {"officer": officer, "supervisor": supervisor}

    # -- the docks' work -------------------------------------------------------------------------

    def shift(self, site: DockSite, shift: int) -> None:
        """One end of shift at a dock: each recorder's files, a gap between two of them justified
        (reason 1, with the requester's signature image as a file) and approved, then the dock
        signs a checkpoint of its ledger, as a docking does."""
        letter = site.name[-1]
        dock_index = DOCKS.index(site.name)
        for d in range(self.cfg.devices):
            device = f"rec-{letter}{d}"
            sizes = [self.rng.choice(self.cfg.sizes) for _ in range(self.rng.randint(*self.cfg.files))]
            seed = ((self.seed * 7 + dock_index) * 31 + shift) * 17 + d
            site.add_segments(sizes, device_id=device, seed=seed)
            if d == 0:
                self._justified_gap(site, device, letter, seed)
        with Ledger.open(site.ledger_path) as lg:
            sign_dock_checkpoint(lg, site.dock_key, site.name)

    def _justified_gap(self, site: DockSite, device: str, letter: str, seed: int) -> None:
        store = site.store()
        self.sig_seq += 1
        image = store.ingest_bytes(b"\x89PNG\r\n\x1a\n" + f"signature {seed} {self.sig_seq}".encode() * 40)
        with Ledger.open(site.ledger_path) as lg:
            segs = list(lg.entries(kind="segment", device_id=device))
            a, b = segs[-2].body, segs[-1].body
            gap_fields = {"device_id": device, "after_seq": a["seq"], "before_seq": b["seq"],
                          "start_ns": int(a["end_ns"]), "end_ns": int(a["end_ns"]) + 30_000_000_000}
            gap = lg.append(seal(make_body(Gap(gap_type="gap", officer_id=f"officer-{letter}",
                                               segments=[segs[-2].entry_hash, segs[-1].entry_hash],
                                               **gap_fields)), site.dock_key), require_trusted=True)
            people = self.people[site.name]
            just = lg.append(seal(make_body(StopJustification(
                gap=gap.entry_hash, reason=1, officer_id=f"officer-{letter}", note=f"asked to stop ({seed})",
                requester=Requester(name="Sun Li", signature_image_sha256=image.sha256), **gap_fields)),
                people["officer"]), require_trusted=True)
            lg.append(seal(make_body(StopApproval(target=just.entry_hash, target_kind="stop_justification",
                                                  gap=gap.entry_hash, supervisor_id=f"super-{letter}",
                                                  reviewed_ns=T0 + seed)), people["supervisor"]),
                      require_trusted=True)

    def workload(self) -> None:
        pause = self.cfg.workload_s / max(1, self.cfg.shifts)
        for shift in range(self.cfg.shifts):
            for site in self.world.docks.values():
                lock = self.dock_disk if site.name == FULL_DOCK else contextlib.nullcontext()
                with lock:
                    self.shift(site, shift)
            if self.stop.wait(pause * self.rng.uniform(0.5, 1.0)):
                return

    # -- the supervisor (systemd) ------------------------------------------------------------------

    def supervise(self) -> None:
        while not self.stop.is_set():
            now = time.monotonic()
            with self.lock:
                b = self.broker
                if b.proc is None or b.proc.poll() is not None:
                    if not self.broker_expect_down:
                        self.violation("daemon_running", f"mosquitto exited by itself:\n{b.log()[-800:]}")
                        self.broker_expect_down = True
                        self.broker_restart_at = now + 0.5
                    if self.broker_restart_at is not None and now >= self.broker_restart_at:
                        b.proc = None
                        with contextlib.suppress(RuntimeError):
                            b.start()
                            self.broker_expect_down = False
                            self.broker_restart_at = None
                for d in self.daemons.values():
                    if d.alive():
                        continue
                    if not d.expect_exit:
                        tail = d.tail()
                        if now - d.started_at < START_GRACE_S and "Traceback" not in tail:
                            # refused to start with a plain error (say, its ledger cannot be opened
                            # on a full disk): systemd restarts it (deploy/systemd: Restart=always)
                            self.result.refused_starts.append({"daemon": d.name, "error": tail[-300:]})
                        else:
                            self.violation("daemon_running", f"{d.name} exited by itself with "
                                                             f"{d.proc.returncode}:\n{tail}")
                        d.expect_exit = True
                    if d.restart_at is None:
                        d.restart_at = now + self.rng.uniform(0.3, 1.0)
                    elif now >= d.restart_at:
                        d.start()
            self.stop.wait(0.1)

    # -- faults ------------------------------------------------------------------------------------

    def plan(self) -> list[tuple[float, str, dict]]:
        kinds = fault_sequence(self.cfg)[self.n * self.cfg.faults:(self.n + 1) * self.cfg.faults]
        times = sorted(self.rng.uniform(0.3, self.cfg.workload_s) for _ in range(self.cfg.faults))
        out = []
        for t, kind in zip(times, kinds, strict=True):
            args: dict = {"hold_s": round(self.rng.uniform(0.5, 2.5), 2)}
            if kind.endswith("_sync") or kind.startswith("net_"):
                args["dock"] = self.rng.choice(DOCKS)
            if kind == "net_truncate":
                args["after_bytes"] = self.rng.randint(1, 2 * MIB)
            out.append((t, kind, args))
        return out

    def wait_for_traffic(self, dock: str | None, limit_s: float = 2.0) -> None:
        """Fire while footage flows (up to ``limit_s`` later): a fault between two files tests
        little. ``dock``: that dock's link, else either."""
        relays = [self.relays[dock]] if dock else list(self.relays.values())
        start = sum(r.bytes_up for r in relays)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and sum(r.bytes_up for r in relays) < start + 128 * KIB:
            time.sleep(0.02)

    def inject(self, kind: str, args: dict) -> None:
        hold = args["hold_s"]
        w = self.world
        if kind in ("sigkill_sync", "sigterm_sync", "sigkill_archive", "sigterm_archive"):
            name = "archive" if "archive" in kind else f"sync-{args['dock']}"
            with self.lock:
                self.daemons[name].signal(signal.SIGKILL if kind.startswith("sigkill") else signal.SIGTERM)
        elif kind in ("sigkill_broker", "sigterm_broker"):
            with self.lock:
                self.broker_expect_down = True
                self.broker_restart_at = None
            if kind == "sigkill_broker":
                self.broker.kill()
            else:
                self.broker.stop()
            self.stop.wait(hold)
            with self.lock:
                self.broker_restart_at = time.monotonic()
        elif kind == "net_cut":
            relay = self.relays[args["dock"]]
            relay.blocked = True
            relay.cut()
            self.stop.wait(hold)
            relay.blocked = False
        elif kind == "net_stall":
            self.relays[args["dock"]].stall(hold)
            self.stop.wait(hold)
        elif kind == "net_truncate":
            self.relays[args["dock"]].cut_after(args["after_bytes"])
            self.stop.wait(hold)
            self.relays[args["dock"]].disarm()
        elif kind == "disk_full_archive":
            filler = fill(w.archive_dir)
            self.stop.wait(hold)
            filler.unlink()
        elif kind == "disk_full_dock":
            with self.dock_disk:
                filler = fill(w.docks[FULL_DOCK].dir)
                self.stop.wait(hold)
                filler.unlink()
        else:
            raise ValueError(kind)

    def heal(self) -> None:
        for relay in self.relays.values():
            relay.blocked = False
            relay.disarm()
            relay.stall(0)
        for path in (self.world.archive_dir, self.world.docks[FULL_DOCK].dir):
            (path / ".campaign-filler").unlink(missing_ok=True)

    # -- convergence and invariants ------------------------------------------------------------------

    def converged(self) -> bool:
        w = self.world
        with self.lock:
            if not all(d.alive() for d in self.daemons.values()) or self.broker.proc is None:
                return False
        for site in w.docks.values():
            try:
                st = sync_status(site.agent, site.syncd)
            except Exception:  # noqa: BLE001 - a status read racing a writer: ask again
                return False
            items = st["items"]
            if set(items) - {COMMITTED, "skipped"} or st["unscanned_entries"] or st["queued_files"]:
                return False
            cpt = st["checkpoint"] or {}
            if cpt.get("latest_size") is None or cpt.get("acknowledged_size") != cpt.get("latest_size"):
                return False
        return True

    def check(self) -> None:
        w = self.world
        with self.lock:
            for d in self.daemons.values():
                if not d.alive():
                    self.violation("daemon_running", f"{d.name} is not running at the end")
            if self.broker.proc is None or self.broker.proc.poll() is not None:
                self.violation("daemon_running", "mosquitto is not running at the end")
        archive_key = load_public_key(w.archive_dir / "keys" / "log.pub")
        wanted_blobs: dict[str, str] = {}
        dock_hashes: set[str] = set()
        with w.archive_ledger() as alg:
            arch = {h: (int(i), bytes(e)) for i, h, e in
                    alg.conn.execute("SELECT idx, entry_hash, envelope FROM entries")}
            counts = dict(alg.conn.execute("SELECT entry_hash, count(*) FROM entries GROUP BY entry_hash"))
            for site in w.docks.values():
                entries = site.entries()
                self.result.entries += len(entries) - 1
                for idx, h, env in entries[1:]:
                    dock_hashes.add(h)
                    got = arch.get(h)
                    if got is None:
                        self.violation("archive_holds_what_docks_signed",
                                       f"{site.name} entry {idx} ({h[:16]}…) is not in the archive ledger")
                    elif got[1] != env:
                        self.violation("archive_holds_what_docks_signed", f"{site.name} entry {idx} differs")
                    elif counts.get(h, 0) != 1:
                        self.violation("once_each", f"{site.name} entry {idx} is {counts[h]} times in the archive")
                    for sha in named_blobs(body(Envelope.from_bytes(env))):
                        wanted_blobs[sha] = site.name
                # nothing deleted from the dock; nothing believed committed that the archive lacks
                store = site.store()
                for sha in (s for s, owner in wanted_blobs.items() if owner == site.name):
                    path = store.blob_path(sha)
                    if not path.exists() or sha256_file(path) != sha:
                        self.violation("dock_keeps_until_committed", f"{site.name} lost file {sha[:16]}…")
                for entry_hash, proof in committed_proofs(site.agent.path(site.syncd.state_db)):
                    if proof is None:
                        continue
                    if entry_hash not in arch:
                        self.violation("committed_means_archived", f"{site.name} holds a committed proof for "
                                                                  f"{entry_hash[:16]}… the archive lacks")
                        continue
                    try:
                        env = Envelope.from_bytes(bytes(proof))
                        p.verify_commit(bytes(proof), archive_key, dock=site.name,
                                        subject=p.Subject(body(env)["subject"]), id=body(env)["id"],
                                        entry_hash=entry_hash)
                    except Exception as exc:  # noqa: BLE001 - any failure is the finding
                        self.violation("committed_means_archived", f"{site.name} proof for {entry_hash[:16]}… "
                                                                  f"does not verify: {exc}")
            kinds = dict(alg.conn.execute("SELECT entry_hash, kind FROM entries"))
            for h, (idx, env) in arch.items():
                if h in dock_hashes:
                    continue
                rec = body(Envelope.from_bytes(env))
                if not (rec.get("kind") == "enrollment" and rec.get("subject_type") in ("ledger_root", "archive_log",
                                                                                         "dock")):
                    self.violation("archive_holds_what_docks_signed",
                                   f"archive entry {idx} ({kinds[h]}) was signed by no dock")
            # each dock's checkpoint: acknowledged, consistent, covered
            dcp = DockCheckpoints(w.archive.path(w.archive.state_db), readonly=True)
            try:
                for site in w.docks.values():
                    with Ledger.open(site.ledger_path, readonly=True) as dlg:
                        latest = dlg.latest_checkpoint()
                    s = dcp.summary(site.name, alg)
                    if not s["consistent"] or s["inconsistent_checkpoints"]:
                        self.violation("dock_checkpoint", f"{site.name}: inconsistent: {s['last_problem']}")
                    if latest is None or s["size"] != latest.size:
                        self.violation("dock_checkpoint", f"{site.name}: archive acknowledged size {s['size']}, "
                                                          f"dock's latest checkpoint {latest and latest.size}")
                    if s["missing"]:
                        self.violation("dock_checkpoint", f"{site.name}: {s['missing']} covered entries never "
                                                          "arrived")
            finally:
                dcp.close()
        blobs = {b.name: b for b in w.blobs()}
        self.result.files = len(wanted_blobs)
        self.result.bytes = sum(b.stat().st_size for b in blobs.values())
        for sha in wanted_blobs.keys() - blobs.keys():
            self.violation("archive_holds_what_docks_signed", f"file {sha[:16]}… is not in the archive")
        for sha in blobs.keys() - wanted_blobs.keys():
            self.violation("archive_holds_what_docks_signed", f"archive file {sha[:16]}… named by no dock entry")
        # No byte is altered in this campaign (a truncated link drops the connection, it does not
        # change what arrives), so a file refused at ``fin`` because it does not hash to its
        # SHA-256 means the archive acknowledged chunks it did not have; the dock's resend hides
        # it from the other checks, its log does not.
        damaged = [line for line in self.daemons["archive"].log_path.read_text(errors="replace").splitlines()
                   if "rejected xfer" in line and "file_hash" in line]
        if damaged:
            self.violation("acknowledged_what_it_had", f"{len(damaged)} file(s) refused as damaged at fin: "
                                                       f"{damaged[0][-200:]}")
        parts = w.parts()
        if parts:
            self.violation("no_part_file", ", ".join(str(x.relative_to(w.archive_dir)) for x in parts))
        verify = subprocess.run([BODYCAM, "--config", str(w.archive_config_path), "archive", "verify", "--json",
                                 "--jobs", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
        if verify.returncode != 0:
            self.violation("archive_verify", (verify.stdout + verify.stderr)[-1500:])

    # -- the whole trial -----------------------------------------------------------------------------

    def run(self) -> TrialResult:
        started = time.monotonic()
        try:
            self.setup()
            sup = threading.Thread(target=self.supervise, name="supervisor", daemon=True)
            sup.start()
            work = threading.Thread(target=self.workload, name="workload", daemon=True)
            work.start()
            t0 = time.monotonic()
            for at, kind, args in self.plan():
                delay = t0 + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.wait_for_traffic(args.get("dock"))
                self.say(f"{kind} {args}")
                self.result.faults.append({"at_s": round(time.monotonic() - t0, 2), "kind": kind} | args)
                self.inject(kind, args)
            work.join(self.cfg.workload_s * 6 + 60)
            if work.is_alive():
                self.violation("workload", "the docks' shifts did not finish")
            self.heal()
            healed = time.monotonic()
            deadline = healed + self.cfg.recover_timeout_s
            while time.monotonic() < deadline:
                if self.converged():
                    self.result.recover_s = round(time.monotonic() - healed, 2)
                    break
                time.sleep(0.2)
            else:
                self.violation("converged", f"not every item committed and checkpoint covered within "
                                            f"{self.cfg.recover_timeout_s:g} s after healing")
            self.say(f"recovered in {self.result.recover_s} s" if self.result.recover_s is not None
                     else "did not converge")
            self.stop.set()
            sup.join(5)
            self.check()
        finally:
            self.stop.set()
            self.teardown()
            self.result.duration_s = round(time.monotonic() - started, 2)
        return self.result

    def teardown(self) -> None:
        for d in self.daemons.values():
            with contextlib.suppress(Exception):
                d.stop()
        for relay in self.relays.values():
            relay.close()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                self.broker.stop()
        logs = self.root / "logs"
        if self.result.violations:
            logs.mkdir(exist_ok=True)
            for d in self.daemons.values():
                with contextlib.suppress(OSError):
                    shutil.copy(d.log_path, logs / d.log_path.name)
        for m in self.mounts:
            umount(m)
        if not self.cfg.keep and not self.result.violations:
            shutil.rmtree(self.root, ignore_errors=True)


def fault_sequence(cfg: CampaignConfig) -> list[str]:
    """The kinds of every fault of the campaign, in order: seeded shuffles of all kinds one after
    the other, so that every kind is injected about as often as the others (and all of them as
    soon as there are as many faults as kinds)."""
    rng = random.Random(cfg.seed)
    kinds = list(cfg.only or FAULT_KINDS)
    out: list[str] = []
    while len(out) < cfg.trials * cfg.faults:
        rng.shuffle(kinds)
        out += kinds
    return out


def run_campaign(cfg: CampaignConfig, mutant: str | None = None) -> Report:
    import tempfile

    base = cfg.workdir or Path(tempfile.mkdtemp(prefix="bodycam-faults-"))
    base.mkdir(parents=True, exist_ok=True)
    trials = []
    for n in range(cfg.trials):
        trial = Trial(cfg, n, base / f"trial-{n:03d}")
        trials.append(trial.run())
        if cfg.log:
            r = trials[-1]
            cfg.log(f"[trial {n}] {len(r.faults)} faults, {len(r.violations)} violations, recovered in "
                    f"{r.recover_s} s, {r.duration_s} s")
    report = Report(cfg.seed, trials, mutant)
    with contextlib.suppress(OSError):
        (base / "report.json").write_text(json.dumps(report.to_json(), indent=2))
    return report


def committed_proofs(db: Path) -> list[tuple[str, bytes | None]]:
    """Every ``committed`` proof the dock's outbox keeps (items and their files)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return (conn.execute("SELECT entry_hash, proof FROM items WHERE status = ?", (COMMITTED,)).fetchall()
                + conn.execute("SELECT entry_hash, proof FROM files WHERE status = ?", (COMMITTED,)).fetchall())
    finally:
        conn.close()
