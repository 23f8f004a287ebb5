"""Cases, activities and text records at the archive (A2 Art.2–5, 7, 14): opened and signed by enrolled
people, officers with valid enforcement certificates, text records stored content-addressed, footage
bound to no opened case or added activity flagged, cases known at a dock listed when their footage arrives."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bodycam.cli import cli
from ledger.blobs import BlobStore
from ledger.cases import add_activity, officer_problems, open_case, unbound_segments
from ledger.envelope import seal
from ledger.keys import Signer, generate_key_file, load_signer, write_public_key
from ledger.records import CaseOpen, Enrollment, attachment_hashes, make_body
from ledger.store import Ledger
from ledger.verify import verify_ledger

DAY = 86_400 * 1_000_000_000
NOW_RFC = "2026-12-01T09:00:00+08:00"


@dataclass
class Archive:
    root: Path
    keys: dict[str, Path]

    @property
    def config(self) -> Path:
        return self.root / "bodycam.toml"

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args])

    def ledger(self) -> Ledger:
        return Ledger.open(self.root / "ledger.db", create=False)

    def signer(self, person: str) -> Signer:
        return load_signer(self.keys[person])

    def by(self, person: str) -> list[str]:
        return ["--by", person, "--key", str(self.keys[person])]


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    root = tmp_path / "archive"
    res = CliRunner().invoke(cli, ["init", "--role", "archive", "--dir", str(root)])
    assert res.exit_code == 0, res.output
    a = Archive(root, {})
    people = {"officer-1": ("officer", ["--certificate", "GA-0001", "--valid-from", "2026-01-01",
                                        "--valid-until", "2027-12-31"]),
              "officer-2": ("officer", ["--certificate", "GA-0002", "--valid-from", "2020-01-01",
                                        "--valid-until", "2025-12-31"]),
              "officer-3": ("officer", []),
              "clerk-1": ("archivist", [])}
    for pid, (role, extra) in people.items():
        key = tmp_path / "keys" / f"{pid}.key"
        key.parent.mkdir(exist_ok=True)
        write_public_key(str(key) + ".pub", generate_key_file(key).public_key)
        a.keys[pid] = key
        res = a.run("person", "enroll", "--id", pid, "--name", pid.title(), "--role", role, "--unit", "Unit 1",
                    "--pubkey", str(key) + ".pub", *extra)
        assert res.exit_code == 0, res.output
    return a


def _open(a: Archive, case_id: str = "case-1", officers: str = "officer-1") -> Result:
    return a.run("case", "open", case_id, "--title", "Street vending", "--unit", "Unit 1", "--type", "penalty",
                 "--officers", officers, *a.by("clerk-1"), "--json")


def test_a2_art14_officers_are_enrolled_with_their_enforcement_certificate(archive):
    listed = {p["id"]: p for p in json.loads(archive.run("person", "list", "--json").stdout)}
    assert listed["officer-1"]["certificate_no"] == "GA-0001"
    assert listed["officer-1"]["valid_from_ns"] < listed["officer-1"]["valid_until_ns"]
    assert listed["officer-3"]["certificate_no"] is None


def test_a2_art3_case_is_opened_with_officers_holding_a_valid_certificate(archive):
    res = _open(archive)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["case_id"] == "case-1"
    res = _open(archive, "case-2", "officer-1,officer-2")
    assert res.exit_code == 3 and "certificate of officer officer-2 is not valid" in res.output
    res = _open(archive, "case-3", "officer-3")
    assert res.exit_code == 3 and "officer-3 has no enforcement certificate" in res.output
    res = _open(archive, "case-4", "clerk-1")
    assert res.exit_code == 3 and "clerk-1 is enrolled as archivist" in res.output
    res = _open(archive, "case-5", "nobody")
    assert res.exit_code == 3 and "officer nobody is not enrolled" in res.output
    assert _open(archive).exit_code == 3  # opened twice
    listed = json.loads(archive.run("case", "list", "--json").stdout)
    assert [(c["case_id"], c["opened"], c["officers"]) for c in listed] == [("case-1", True, ["officer-1"])]
    assert archive.run("ledger", "verify", str(archive.root / "ledger.db")).exit_code == 0


def test_a2_art14_certificate_validity_is_a_table():
    def officer(cert, start, until):
        pub = Signer.generate()
        return Enrollment(subject_type="person", subject_id="o", public_key=pub.public_key.b64,
                          keyid=pub.keyid, role="officer", certificate_no=cert, valid_from_ns=start,
                          valid_until_ns=until, enrolled_ns=0)
    for rec, at, ok in [(officer("C", 10, 20), 15, True), (officer("C", 10, 20), 20, True),
                        (officer("C", 10, 20), 21, False), (officer("C", 10, 20), 9, False),
                        (officer("C", None, None), 5, True), (officer(None, None, None), 5, False)]:
        assert (officer_problems(["o"], at, [rec]) == []) is ok, (rec, at)


def test_a2_art5_art7_activity_of_an_opened_case_records_its_type_and_when_the_party_was_notified(archive):
    res = archive.run("activity", "add", "--case", "case-1", "--type", "inspection", "--place", "Main St 1",
                      "--start", "2026-12-01T08:30:00+08:00", "--end", NOW_RFC, "--officers", "officer-1",
                      *archive.by("officer-1"))
    assert res.exit_code == 3 and "never opened" in res.output
    assert _open(archive).exit_code == 0
    res = archive.run("activity", "add", "--case", "case-1", "--type", "inspection", "--place", "Main St 1",
                      "--start", "2026-12-01T08:30:00+08:00", "--end", NOW_RFC, "--officers", "officer-1",
                      "--party-notified-at", "2026-12-01T08:31:00+08:00", *archive.by("officer-1"), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["activity"] == "case-1/1"
    with archive.ledger() as lg:
        (act,) = lg.entries(kind="activity")
        assert act.body["activity_type"] == "inspection"
        assert int(act.body["party_notified_ns"]) - int(act.body["start_ns"]) == 60 * 1_000_000_000
    res = archive.run("activity", "add", "--case", "case-1", "--type", "arrest", "--place", "x", "--start",
                      NOW_RFC, "--end", NOW_RFC, "--officers", "officer-1", *archive.by("officer-1"))
    assert res.exit_code == 2
    res = archive.run("activity", "add", "--case", "case-1", "--type", "sampling", "--place", "x", "--start",
                      NOW_RFC, "--end", NOW_RFC, "--officers", "officer-2", *archive.by("officer-1"))
    assert res.exit_code == 3 and "not valid at that time" in res.output
    assert json.loads(archive.run("case", "list", "--json").stdout)[0]["activities"] == 1
    assert archive.run("ledger", "verify", str(archive.root / "ledger.db")).exit_code == 0


def test_a2_art7_party_notified_time_is_recorded(archive):
    assert _open(archive).exit_code == 0
    with archive.ledger() as lg:
        e = add_activity(lg, activity_id="a-1", case_id="case-1", activity_type="coercive_measure", place="Gate",
                         start_ns=1_795_000_000 * 10**9, end_ns=1_795_000_600 * 10**9, officers=["officer-1"],
                         party_notified_ns=1_795_000_005 * 10**9, person_id="officer-1",
                         signer=archive.signer("officer-1"))
        assert int(e.body["party_notified_ns"]) == 1_795_000_005 * 10**9


def test_a2_art2_text_records_of_a_case_are_attached_signed_and_content_addressed(archive, tmp_path):
    assert _open(archive).exit_code == 0
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% a notice of administrative penalty\n%%EOF\n")
    res = archive.run("case", "attach", "case-1", "--kind", "notice", str(pdf), *archive.by("clerk-1"), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert out["sha256"] == sha and out["size"] == pdf.stat().st_size
    store = BlobStore(archive.root / "blobs")
    assert store.has(sha) and store.verify(sha)
    with archive.ledger() as lg:
        (att,) = lg.entries(kind="attachment")
        assert att.body["attachment_kind"] == "notice" and att.body["media_type"] == "application/pdf"
        assert att.body["file_name"] == "notice.pdf" and att.body["by"] == "clerk-1"
        assert att.envelope.keyids == [archive.signer("clerk-1").keyid]
        assert attachment_hashes(att.body) == [sha]
    txt = tmp_path / "notes.txt"
    txt.write_text("not a pdf")
    res = archive.run("case", "attach", "case-1", "--kind", "other", str(txt), *archive.by("clerk-1"))
    assert res.exit_code == 3 and "PDF or image" in res.output
    res = archive.run("case", "attach", "case-9", "--kind", "approval", str(pdf), *archive.by("clerk-1"))
    assert res.exit_code == 3 and "never opened" in res.output
    res = archive.run("case", "attach", "case-1", "--kind", "approval", str(pdf), "--by", "clerk-1",
                      "--key", str(archive.keys["officer-1"]))
    assert res.exit_code == 3 and "not 'clerk-1'" in res.output
    assert json.loads(archive.run("case", "list", "--json").stdout)[0]["attachments"] == 1
    assert archive.run("ledger", "verify", str(archive.root / "ledger.db")).exit_code == 0
    res = archive.run("archive", "verify", "--jobs", "1")
    assert res.exit_code == 0, res.output
    store.blob_path(sha).unlink()  # a text record is checked like footage: its loss is found
    res = archive.run("archive", "verify", "--jobs", "1", "--json")
    assert res.exit_code == 3 and sha in res.stdout


def test_a2_art14_verify_reports_a_case_opened_with_an_invalid_officer(archive):
    clerk = archive.signer("clerk-1")
    with archive.ledger() as lg:
        body = CaseOpen(case_id="case-x", title="t", unit="u", case_type="other", officers=["officer-2"],
                        opened_ns=1_796_000_000 * 10**9, by="clerk-1")
        lg.append(seal(make_body(body), clerk), require_trusted=True)
        report = verify_ledger(lg)
    assert not report.ok
    assert any("officer-2" in str(p) for p in report.problems)


def test_a2_art4_unbound_footage_is_flagged(sync_world):
    """Footage of a case known only from a dock's --case appears in the archive's case list (not opened
    at the archive) and is flagged as bound to nothing until the case is opened there."""
    w = sync_world(docks=("dock-a",))
    w.docks["dock-a"].add_segments([64 << 10, 64 << 10])
    with w.receiver():
        w.uploader("dock-a").run(once=True)
    run = lambda *args: CliRunner().invoke(cli, ["--config", str(w.archive_config_path), *args])  # noqa: E731
    listed = json.loads(run("case", "list", "--json").stdout)
    assert [(c["case_id"], c["opened"], c["segments"]) for c in listed] == [("case-1", False, 2)]
    res = run("case", "list")
    assert res.exit_code == 0 and "not opened at the archive" in res.output
    with w.archive_ledger() as lg:
        assert len(unbound_segments(lg)) == 2
    unbound = json.loads(run("case", "list", "--unbound", "--json").stdout)
    assert len(unbound) == 2 and {u["case_id"] for u in unbound} == {"case-1"}
    assert "A2 Art.4" in run("case", "list", "--unbound").output
    officer = Signer.generate()
    with w.archive_ledger() as lg:
        from ledger.enroll import public_of
        from ledger.people import enroll_person

        enroll_person(lg, w.admin, "officer-7", "officer", public_of(officer), certificate_no="GA-7")
        open_case(lg, "case-1", title="t", unit="u", case_type="inspection", officers=["officer-7"],
                  person_id="officer-7", signer=officer)
        assert unbound_segments(lg) == []
    listed = json.loads(run("case", "list", "--json").stdout)
    assert [(c["case_id"], c["opened"], c["segments"]) for c in listed] == [("case-1", True, 2)]
    assert "no footage bound to nothing" in run("case", "list", "--unbound").output
    with w.archive_ledger() as lg:
        assert verify_ledger(lg).ok
