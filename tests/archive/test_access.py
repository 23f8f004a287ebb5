"""Access to footage at the archive (A2 Art.17–19): a view needs the bureau head's approval of a
request whose scope covers the segment and that has not expired; every view and every refused
attempt is a signed ``access`` entry; classified material needs a grant naming its level. The
policies are small objects returning their reasons (table tests); the commands run as installed."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.access import (
    VIEW_POLICY,
    AccessContext,
    AllOf,
    Approved,
    CoversSegment,
    NotExpired,
    SecrecyLevelNamed,
)
from ledger.blobs import BlobStore
from ledger.keys import Signer, write_private_key
from ledger.people import enroll_person
from ledger.records.access import AccessGrant, AccessRequest
from ledger.store import Ledger
from ledger.verify import verify_ledger
from tests.fixtures.ledger import T0_NS, build_ledger, segment
from tests.fixtures.sync import BODYCAM, render_toml

DAY = 86_400 * 10**9
NOW = 1_767_081_600 * 10**9  # 2025-12-30T08:00:00Z, a month after the footage


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).isoformat()


class Archive:
    def __init__(self, root: Path):
        self.root = root
        self.config = root / "bodycam.toml"
        self.config.write_text(render_toml({"archive": {"data_dir": str(root)}}))
        setup = build_ledger(root / "ledger.db", segments=3)
        self.keys: dict[str, Path] = {}
        store = BlobStore(root / "blobs").ensure()
        with Ledger.open(root / "ledger.db") as lg:
            for pid, role in (("arch-1", "archivist"), ("head-1", "head"), ("sup-1", "supervisor")):
                s = Signer.generate()
                self.keys[pid] = root / f"{pid}.key"
                write_private_key(self.keys[pid], s)
                enroll_person(lg, setup.root, pid, role, s.public_key, now_ns=T0_NS)
            self.segments = [e.entry_hash for e in lg.entries(kind="segment")]
            self.blobs = {}
            for seq, e in enumerate(lg.entries(kind="segment")):
                data = f"cam-1/{seq}".encode()
                path = store.blob_path(e.body["media"]["sha256"])
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                self.blobs[e.entry_hash] = data

    def run(self, *args: str, now: int | None = NOW) -> subprocess.CompletedProcess:
        when = ["--now", iso(now)] if now is not None else []
        return subprocess.run([BODYCAM, "--config", str(self.config), "access", *args, *when],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "LANG": "C"})

    def request(self, *scope: str, until: str | None = None) -> str:
        res = self.run("request", *scope, "--requester", "Wang Li", "--org", "District Court", "--reason",
                       "hearing of case-1", "--by", "arch-1", "--key", str(self.keys["arch-1"]), "--json",
                       *(["--until", until] if until else []))
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)["request"]

    def approve(self, req: str, *extra: str) -> subprocess.CompletedProcess:
        return self.run("approve", req, "--head", "head-1", "--key", str(self.keys["head-1"]), *extra)

    def view(self, seg: str, req: str, out: Path, now: int = NOW) -> subprocess.CompletedProcess:
        return self.run("view", seg, "--request", req, "--out", str(out), "--by", "arch-1", "--key",
                        str(self.keys["arch-1"]), now=now)

    def log(self) -> list[dict]:
        res = self.run("log", "--json", now=None)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def verify(self) -> None:
        with Ledger.open(self.root / "ledger.db") as lg:
            report = verify_ledger(lg)
        assert report.ok, report.problems


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path)


def test_a2_art18_view_without_approval_exits_3_and_is_logged_as_refused(archive, tmp_path):
    req = archive.request("--case", "case-1")
    out = tmp_path / "out.mp4"
    res = archive.view(archive.segments[0], req, out)
    assert res.returncode == 3, res.stderr
    assert "not approved by the bureau head" in res.stderr
    assert not out.exists()
    [row] = archive.log()
    assert row["outcome"] == "refused" and row["by"] == "arch-1" and row["request"] == req
    assert row["segment"] == archive.segments[0] and row["approved_by"] is None
    assert any("not approved" in r for r in row["reasons"])
    # no request at all: refused and logged too
    assert archive.view(archive.segments[0], "0" * 64, tmp_path / "x.mp4").returncode == 3
    assert [r["outcome"] for r in archive.log()] == ["refused", "refused"]
    archive.verify()


def test_a2_art17_18_approved_view_hands_out_the_blob_and_is_logged(archive, tmp_path):
    req = archive.request("--case", "case-1")
    assert archive.run("approve", req, "--head", "arch-1", "--key", str(archive.keys["arch-1"])).returncode == 3
    res = archive.approve(req)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "out.mp4"
    res = archive.view(archive.segments[1], req, out)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == archive.blobs[archive.segments[1]]
    assert out.stat().st_mode & 0o777 == 0o600
    [row] = archive.log()
    assert row["outcome"] == "viewed" and row["by"] == "arch-1" and row["approved_by"] == "head-1"
    assert (row["requester"], row["org"], row["reason"]) == ("Wang Li", "District Court", "hearing of case-1")
    assert row["at_ns"] == NOW and row["segment"] == archive.segments[1]
    table = archive.run("log", now=None).stdout
    for word in ("WHEN", "BY", "APPROVED BY", "arch-1", "head-1", "Wang Li (District Court)", "viewed"):
        assert word in table
    archive.verify()


def test_a2_art18_a_request_for_one_segment_does_not_cover_another(archive, tmp_path):
    req = archive.request("--segment", archive.segments[0])
    assert archive.approve(req).returncode == 0
    res = archive.view(archive.segments[2], req, tmp_path / "o.mp4")
    assert res.returncode == 3 and "does not cover" in res.stderr
    assert archive.view(archive.segments[0], req, tmp_path / "o.mp4").returncode == 0


def test_a2_art18_an_expired_request_is_refused(archive, tmp_path):
    req = archive.request("--case", "case-1", until="2025-12-15")
    assert archive.approve(req).returncode == 0
    out = tmp_path / "late.mp4"
    res = archive.view(archive.segments[0], req, out, now=NOW)  # 2025-12-30
    assert res.returncode == 3 and "expired" in res.stderr
    assert not out.exists()
    assert archive.log()[-1]["outcome"] == "refused"
    assert archive.view(archive.segments[0], req, out, now=T0_NS + DAY).returncode == 0


def test_a2_art19_a_secret_case_refuses_a_grant_without_the_level(archive, tmp_path):
    res = archive.run("classify", "--case", "case-1", "--level", "secret", "--by", "head-1", "--key",
                      str(archive.keys["head-1"]))
    assert res.returncode == 0, res.stderr
    req = archive.request("--case", "case-1")
    res = archive.approve(req)
    assert res.returncode == 3 and "secret" in res.stderr and "--level" in res.stderr
    assert archive.view(archive.segments[0], req, tmp_path / "a.mp4").returncode == 3
    res = archive.approve(req, "--level", "secret")
    assert res.returncode == 0, res.stderr
    assert archive.view(archive.segments[0], req, tmp_path / "b.mp4").returncode == 0
    archive.verify()


def test_a2_art19_classifying_needs_a_head_or_archivist(archive):
    res = archive.run("classify", "--case", "case-1", "--level", "secret", "--by", "sup-1", "--key",
                      str(archive.keys["sup-1"]))
    assert res.returncode == 3 and "supervisor" in res.stderr


SEG = segment("cam-1", 0, "0" * 64, case="case-1")
REQ = AccessRequest(case_id="case-1", requester="R", org="O", reason="why", by="arch-1", requested_ns=T0_NS,
                    until_ns=T0_NS + DAY)
OK = AccessGrant(request="a" * 64, head_id="head-1", decided_ns=T0_NS)


@pytest.mark.parametrize(("name", "ctx", "policy", "refused"), [
    ("A2 Art.18 approved and in time", AccessContext(REQ, OK, SEG, "s" * 64, now_ns=T0_NS), VIEW_POLICY, False),
    ("A2 Art.18 no grant", AccessContext(REQ, None, SEG, "s" * 64, now_ns=T0_NS), Approved(), True),
    ("A2 Art.18 refused grant", AccessContext(REQ, OK.model_copy(update={"decision": "refused"}), SEG, "s",
                                              now_ns=T0_NS), Approved(), True),
    ("A2 Art.18 expired", AccessContext(REQ, OK, SEG, "s", now_ns=T0_NS + 2 * DAY), NotExpired(), True),
    ("A2 Art.18 grant shorter", AccessContext(REQ, OK.model_copy(update={"until_ns": T0_NS}), SEG, "s",
                                              now_ns=T0_NS + 1), NotExpired(), True),
    ("A2 Art.18 other case", AccessContext(REQ.model_copy(update={"case_id": "case-2"}), OK, SEG, "s",
                                           now_ns=T0_NS), CoversSegment(), True),
    ("A2 Art.19 level missing", AccessContext(REQ, OK, SEG, "s", frozenset({"secret"}), T0_NS),
     SecrecyLevelNamed(), True),
    ("A2 Art.19 level named", AccessContext(REQ, OK.model_copy(update={"levels": ["secret"]}), SEG, "s",
                                            frozenset({"secret"}), T0_NS), SecrecyLevelNamed(), False),
])
def test_a2_art17_19_policies_return_their_reasons(name, ctx, policy, refused):
    reasons = policy.check(ctx)
    assert bool(reasons) is refused, (name, reasons)
    assert AllOf(policy, policy).check(ctx) == reasons + reasons


def test_a2_art18_refusal_speaks_chinese_and_the_ledger_keeps_english(archive, tmp_path):
    req = archive.request("--case", "case-1")
    res = subprocess.run([BODYCAM, "--config", str(archive.config), "access", "view", archive.segments[0],
                          "--request", req, "--out", str(tmp_path / "o.mp4"), "--by", "arch-1", "--key",
                          str(archive.keys["arch-1"])], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""})
    assert res.returncode == 3
    assert "未经局负责人批准" in res.stderr, res.stderr
    assert "not approved by the bureau head" in archive.log()[-1]["reasons"][0]
