"""An archive to export from: a real ledger (root, log key enrolled as ``archive_log``, a recorder,
people with certificates, an opened case with an activity and its place, a passed calibration, a
dock session, segments signed by the recorder's key) and real blobs (tiny H.264 files made by
ffmpeg), with the commands run as installed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from ledger.blobs import BlobStore
from ledger.cases import add_activity, open_case
from ledger.envelope import seal
from ledger.keys import Signer, load_signer, write_private_key
from ledger.people import enroll_person
from ledger.records import Calibration, DockSession, Enrollment, Media, Reference, Segment
from ledger.store import Ledger
from tests.fixtures.sync import BODYCAM, render_toml

T0 = 1_764_492_000_000_000_000  # 2025-11-30T08:40:00Z
NOW = T0 + 30 * 86_400 * 10**9
ORIGIN = "bodycam.test/archive"
_PATTERNS = ("testsrc", "smptebars", "rgbtestsrc", "testsrc2")


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).isoformat()


@cache
def tiny_video(n: int) -> bytes:
    """A one-second 32x24 H.264 MP4 (about 2 KB), the same bytes every time."""
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bodycam-tiny-{os.getpid()}-{n}.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"{_PATTERNS[n % len(_PATTERNS)]}=size=32x24:rate=2", "-t", "1", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-bitexact", "-map_metadata", "-1", "-fflags", "+bitexact", str(tmp)],
                   check=True, timeout=60)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _enrollment(s: Signer, subject_type: str, subject_id: str, **extra) -> Enrollment:
    return Enrollment(subject_type=subject_type, subject_id=subject_id, public_key=s.public_key.b64,
                      keyid=s.keyid, enrolled_ns=T0, **extra)


class ExportArchive:
    """The archive folder, its keys and the segment entry hashes (``segments``: case-1, then one of case-2).
    ``folder`` prefixes each original name, as recorders keep footage under ``DCIM/…``."""

    def __init__(self, root: Path, segments: int = 2, folder: str = ""):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "bodycam.toml"
        self.config.write_text(render_toml({"archive": {"data_dir": str(root), "origin": ORIGIN}}))
        (root / "keys").mkdir(mode=0o700, exist_ok=True)
        admin, self.log, device = Signer.generate(), Signer.generate(), Signer.generate()
        write_private_key(root / "keys" / "log.key", self.log)
        self.keys: dict[str, Path] = {}
        store = BlobStore(root / "blobs").ensure()
        self.blobs: dict[str, bytes] = {}
        with Ledger.open(root / "ledger.db") as lg:
            lg.append(seal(_enrollment(admin, "ledger_root", "archive-1"), admin), require_trusted=True)
            lg.append(seal(_enrollment(self.log, "archive_log", "archive"), admin), require_trusted=True)
            dev = lg.append(seal(_enrollment(device, "device", "cam-1", custodian="off-7", profile="zfy-e12-gat947",
                                             serial="ZFY0001"), admin), require_trusted=True)
            people = (("off-7", "officer", "李明", "执法证 4201-0007"),
                      ("off-8", "officer", "张华", "执法证 4201-0008"),
                      ("sup-1", "supervisor", "王强", None), ("arch-1", "archivist", "赵敏", None),
                      ("head-1", "head", "陈局", None))
            for pid, role, name, cert in people:
                s = Signer.generate()
                self.keys[pid] = root / f"{pid}.key"
                write_private_key(self.keys[pid], s)
                extra = {"certificate_no": cert, "valid_from_ns": T0 - 10**18, "valid_until_ns": T0 + 10**18} if cert \
                    else {}
                enroll_person(lg, admin, pid, role, s.public_key, name=name, unit="执法支队", now_ns=T0, **extra)
            sup = load_signer(self.keys["sup-1"])
            for case in ("case-1", "case-2"):
                open_case(lg, case, title=f"{case} 偷排废水", unit="执法支队", case_type="penalty",
                          officers=["off-7", "off-8"], person_id="sup-1", signer=sup, now_ns=T0)
            add_activity(lg, activity_id="act-1", case_id="case-1", activity_type="inspection",
                         place="某化工厂排污口", start_ns=T0, end_ns=T0 + 3600 * 10**9, officers=["off-7", "off-8"],
                         party_notified_ns=None, person_id="sup-1", signer=sup)
            cal = lg.append(seal(Calibration(device_id="cam-1", dock_id="archive-1", reference=Reference(kind="ntp"),
                                             offset_before_us=1500, offset_after_us=20, uncertainty_us=800,
                                             tolerance_us=1_000_000, clock_set=True, result="passed",
                                             measured_ns=T0 - 10**9), admin), require_trusted=True)
            lg.append(seal(DockSession(session_id="ds-1", dock_id="archive-1", device_id="cam-1", officer_id="off-7",
                                       case_id="case-1", started_ns=T0 + 7200 * 10**9, status="completed", files=3),
                           admin), require_trusted=True)
            prev = dev.entry_hash
            self.segments = []
            for seq in range(segments + 1):
                data = tiny_video(seq)
                sha = hashlib.sha256(data).hexdigest()
                case = "case-1" if seq < segments else "case-2"
                start = T0 + seq * 60 * 10**9
                body = Segment(device_id="cam-1", seq=seq, prev=prev,
                               media=Media(sha256=sha, size=len(data), container="mp4", codec="h264", width=32,
                                           height=24, fps="2", frames=2, duration_ms=1000),
                               device_start=iso(start - 1500_000), start_ns=start, end_ns=start + 10**9,
                               calibration=cal.entry_hash, officer_id="off-7", case_id=case, activity=None,
                               source_name=f"{folder}VID_{seq:04d}.MP4", decodable=True, dock_session="ds-1",
                               time_corrected=True)
                e = lg.append(seal(body, device), require_trusted=True)
                prev = e.entry_hash
                self.segments.append(e.entry_hash)
                path = store.blob_path(sha)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                self.blobs[e.entry_hash] = data

    def run(self, *args: str, now: int | None = NOW, lang: str = "C") -> subprocess.CompletedProcess:
        when = ["--now", iso(now)] if now is not None else []
        return subprocess.run([BODYCAM, "--config", str(self.config), *args, *when], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "LANG": lang})

    def request(self, *scope: str) -> str:
        res = self.run("access", "request", *scope, "--requester", "Wang Li", "--org", "District Court", "--reason",
                       "hearing", "--by", "arch-1", "--key", str(self.keys["arch-1"]), "--json")
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["request"]

    def approve(self, req: str) -> None:
        res = self.run("access", "approve", req, "--head", "head-1", "--key", str(self.keys["head-1"]))
        assert res.returncode == 0, res.stderr

    def create(self, out: Path, req: str, *extra: str) -> subprocess.CompletedProcess:
        return self.run("export", "create", "--case", "case-1", "--request", req, "--out", str(out), "--by", "arch-1",
                        "--key", str(self.keys["arch-1"]), "--proves", "排污口偷排废水的事实", *extra)

    def access_log(self) -> list[dict]:
        res = self.run("access", "log", "--json", now=None)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def ledger(self) -> Ledger:
        return Ledger.open(self.root / "ledger.db", create=False)


def make_package(root: Path, out: Path) -> ExportArchive:
    """An archive under ``root`` and an approved export of case-1 in ``out``."""
    world = ExportArchive(root)
    req = world.request("--case", "case-1")
    world.approve(req)
    res = world.create(out, req)
    assert res.returncode == 0, res.stderr
    return world


def copy_package(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest
