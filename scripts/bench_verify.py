"""Benchmark of ``archive verify`` (issue 13): how fast the whole archive is re-checked, against
what hashing the same bytes costs at all, in the same run on the same machine.

An archive is built in ``--dir`` the way the receiver leaves one (rooted ledger, log key, a device,
one signed segment per blob, blobs committed content-addressed and read-only, a checkpoint),
holding ``--size-mib`` of blobs in files of ``--file-mib``. Then, with the files already read once
(page cache warm for all three, so the disk does not decide the ratio):

- baseline MB/s: a single-thread ``hashlib.sha256`` loop over the same files, 4 MiB reads;
- verify MB/s with 1 job and with 2 jobs: ``archive.verify.verify_archive`` end to end (ledger,
  signatures, chains, Merkle tree, checkpoints, permissions, every blob re-hashed), bytes divided
  by its whole elapsed time.

Targets: ≥ 0.9× the baseline with 1 job, ≥ 1.6× with 2. Also shown: the bare loop split over two
processes (``ceiling_2_procs``), the most two jobs could reach on this machine at that moment (on a
machine whose two CPUs are busy with other work, this ceiling, not the verifier, caps the 2-job ratio).

    .venv/bin/python scripts/bench.py verify [--size-mib 2048] [--file-mib 64] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from archive.config import ArchiveConfig  # noqa: E402
from archive.verify import hash_file, verify_archive  # noqa: E402
from bodycam.permissions import private_dir  # noqa: E402
from ledger.blobs import READ_CHUNK, BlobStore  # noqa: E402
from ledger.enroll import create_rooted, enroll, public_of  # noqa: E402
from ledger.envelope import seal  # noqa: E402
from ledger.keys import Signer, generate_key_file  # noqa: E402
from ledger.records import Media, Segment, make_body  # noqa: E402
from ledger.store import Ledger  # noqa: E402

T0 = 1_796_000_000 * 1_000_000_000
ORIGIN = "bench.bodycam/archive"
TARGETS = {"ratio_1_job": 0.9, "ratio_2_jobs": 1.6}


def build(root: Path, size: int, file_size: int) -> tuple[ArchiveConfig, list[Path]]:
    shutil.rmtree(root, ignore_errors=True)
    private_dir(root / "keys")
    cfg = ArchiveConfig(data_dir=root, origin=ORIGIN)
    admin = generate_key_file(cfg.path(cfg.admin_key))
    log_key = generate_key_file(cfg.path(cfg.log_key))
    device = Signer.generate()
    store = BlobStore(cfg.path(cfg.blob_dir)).ensure()
    block = os.urandom(READ_CHUNK)
    paths = []
    with Ledger.open(cfg.path(cfg.ledger)) as lg:
        create_rooted(lg, admin, "archive-admin", now_ns=T0)
        enroll(lg, admin, "archive_log", "archive-log", public_of(log_key), now_ns=T0)
        prev = enroll(lg, admin, "device", "rec-1", public_of(device), now_ns=T0, custodian="officer-7").entry_hash
        for seq in range(max(1, size // file_size)):
            tmp = store.root / "tmp-bench"
            h = hashlib.sha256()
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            written = 0
            while written < file_size:
                piece = (seq.to_bytes(8, "big") + block)[: min(len(block), file_size - written)]
                os.write(fd, piece)
                h.update(piece)
                written += len(piece)
            sha = h.hexdigest()
            paths.append(store.commit(fd, tmp, sha).path)
            start = T0 + seq * 60_000_000_000
            body = Segment(device_id="rec-1", seq=seq, prev=prev,
                           media=Media(sha256=sha, size=file_size, container="mp4", codec="h264", width=1280,
                                       height=720, fps="25", frames=1500, duration_ms=60_000),
                           device_start="2026-11-30 08:00:00", start_ns=start, end_ns=start + 60_000_000_000,
                           officer_id="officer-7", case_id="case-1", source_name=f"VID_{seq:04d}.MP4",
                           decodable=True)
            prev = lg.append(seal(make_body(body), device), require_trusted=True).entry_hash
        lg.checkpoint(log_key, ORIGIN)
    return cfg, paths


def baseline(paths: list[Path]) -> tuple[int, float]:
    """The plain loop: one thread, hashlib, 4 MiB reads."""
    started = time.perf_counter()
    total = 0
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
                total += n
        h.hexdigest()
    return total, time.perf_counter() - started


def run(root: Path, size_mib: int, file_mib: int) -> dict:
    cfg, paths = build(root, size_mib << 20, file_mib << 20)
    baseline(paths)  # warm the page cache: every run below reads the same cached bytes
    total, base_s = baseline(paths)
    out: dict = {"bytes": total, "files": len(paths), "baseline_mb_s": total / 1e6 / base_s}
    for jobs, key in ((1, "1_job"), (2, "2_jobs")):
        report = verify_archive(cfg, jobs=jobs)
        if not report.ok or report.bytes_hashed != total:
            raise SystemExit(f"archive verify failed on the bench archive: {report.problems[:3]}")
        out[f"verify_mb_s_{key}"] = total / 1e6 / report.elapsed_s
        out[f"ratio_{key}"] = out[f"verify_mb_s_{key}"] / out["baseline_mb_s"]
    started = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(hash_file, [str(p) for p in paths]))
    out["ceiling_2_procs_mb_s"] = total / 1e6 / (time.perf_counter() - started)
    out["ceiling_2_procs_ratio"] = out["ceiling_2_procs_mb_s"] / out["baseline_mb_s"]
    out["targets"] = TARGETS
    out["cpus"] = os.cpu_count()
    return out


def table(r: dict) -> str:
    lines = [f"archive verify of {r['bytes'] / (1 << 20):.0f} MiB in {r['files']} blobs ({r['cpus']} CPUs)",
             f"  baseline (hashlib, 1 thread)  {r['baseline_mb_s']:8.1f} MB/s"]
    for key, label in (("1_job", "verify, 1 job "), ("2_jobs", "verify, 2 jobs")):
        target = TARGETS[f"ratio_{key}"]
        ratio = r[f"ratio_{key}"]
        lines.append(f"  {label}                {r[f'verify_mb_s_{key}']:8.1f} MB/s  {ratio:.2f}× "
                     f"(target ≥ {target}×: {'met' if ratio >= target else 'NOT met'})")
    lines.append(f"  bare loop, 2 processes        {r['ceiling_2_procs_mb_s']:8.1f} MB/s  "
                 f"{r['ceiling_2_procs_ratio']:.2f}× (this machine's ceiling for 2 jobs now)")
    return "\n".join(lines)


def rows(r: dict) -> list[dict]:
    """The figures ``scripts/bench.py all`` tabulates: (name, value, unit, baseline, target, met)."""
    out = []
    for key, label in (("1_job", "1 job"), ("2_jobs", "2 jobs")):
        target = TARGETS[f"ratio_{key}"]
        out.append({"name": f"archive verify, {label} ({r['bytes'] >> 20} MiB; vs hashlib loop)",
                    "value": round(r[f"verify_mb_s_{key}"], 1), "unit": "MB/s",
                    "baseline": round(r["baseline_mb_s"], 1),
                    "target": f">= {target}x", "met": r[f"ratio_{key}"] >= target})
    return out


def all_rows(quick: bool, work: Path) -> list[dict]:
    """``scripts/bench.py all``: the defaults, 2 GiB in 64 MiB blobs (quick: 32 MiB in 8 MiB blobs)."""
    size, file_size = (32, 8) if quick else (2048, 64)
    try:
        return rows(run(work / "verify", size, file_size))
    finally:
        shutil.rmtree(work / "verify", ignore_errors=True)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="archive verify MB/s with 1 and 2 jobs vs a hashlib SHA-256 loop")
    p.add_argument("--size-mib", type=int, default=2048, help="blob bytes in the archive, MiB")
    p.add_argument("--file-mib", type=int, default=64, help="size of each blob, MiB")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "bodycam-bench-verify")
    p.add_argument("--json", action="store_true", dest="as_json", help="only the JSON line")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    r = run(args.dir, args.size_mib, args.file_mib)
    if not args.as_json:
        print(table(r))
    print(json.dumps({"bench": "verify", **{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}}))
    return 0
