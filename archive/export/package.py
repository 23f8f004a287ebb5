"""Writing an evidence package (A2 Art.16–17): the originals, their sums, the signed manifest and
the ledger entries they depend on with inclusion proofs against one checkpoint.

The package is made to be checked without us: every signature can be checked by ``openssl
pkeyutl`` over the PAE files shipped beside the envelopes, every inclusion proof recomputed with
``openssl dgst`` from the sibling hashes shipped as files, and ``verify.py`` (a copy of
``archive.export.verify_package``, standard library only) checks it all. The file layout is named
once, in that module, and this one writes what it reads.

Order matters: the access is logged (and refused attempts too) before a byte is copied (A2
Art.18); the ``export`` entry names the manifest's SHA-256, and the checkpoint is signed after it,
so the package proves its own export entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from archive.access import VIEW_POLICY, AccessRefused, check_view, find_segment, record_access
from archive.export import verify_package as vp
from bodycam.errors import RefusedError
from bodycam.formats import rfc3339
from bodycam.i18n import N_, Message
from bodycam.permissions import private_dir
from ledger.blobs import BlobStore
from ledger.checkpoint import parse_note, vkey
from ledger.checks.export import EXPORT_ROLES
from ledger.envelope import Envelope, seal
from ledger.keys import PublicKey, Signer
from ledger.people import require_person_key
from ledger.records import Calibration, Enrollment, Segment, make_body
from ledger.records.access import AccessRequest
from ledger.records.case import Activity, CaseOpen
from ledger.records.export import Export
from ledger.store import Entry, Ledger

FORMAT = "bodycam-export/1"
METHOD = ("Bit-exact copy of the original file as the recorder wrote it, taken from the archive's "
          "content-addressed store (re-hashed while copied), never transcoded; 原始文件逐位复制，未经转码")
_CHUNK = 1 << 20
_FILE_MODE = 0o600


@dataclass(frozen=True)
class Made:
    """What ``create_export`` made: the export entry, the manifest's SHA-256, the package folder."""

    entry: Entry
    manifest_sha256: str
    out: Path
    items: int
    entries: int


# --- choosing the segments and deciding ----------------------------------------------------------


def _proves_by_entry(ledger: Ledger, proves_for: dict[str, str]) -> dict[str, str]:
    """``--proves-for`` keyed by full segment entry hash (the command takes unambiguous prefixes)."""
    out = {}
    for ref, text in proves_for.items():
        seg = find_segment(ledger, ref)
        if seg is None:
            raise RefusedError(Message(N_("no such segment in the archive ledger: {segment}"), segment=ref))
        out[seg.entry_hash] = text
    return out


def _segments(ledger: Ledger, case_id: str, refs: Iterable[str] | None) -> list[str]:
    if refs:
        return [r.strip() for r in refs if r.strip()]
    return [e.entry_hash for e in ledger.entries(kind="segment", case_id=case_id)]


def decide_export(ledger: Ledger, blobs: BlobStore, case_id: str, request: str, refs: list[str], now_ns: int
                  ) -> tuple[list[tuple[Entry | None, list[str]]], str | None]:
    """Each segment asked for with the reasons it may not be exported (empty: it may), and the
    request's entry hash: the view policy (A2 Art.17–19), the case, the bytes in the store."""
    out, req_hash = [], None
    if not refs:
        return [(None, [Message(N_("case {case} has no footage in the archive ledger"), case=case_id)])], None
    for ref in refs:
        seg_e, req_hash, reasons = check_view(ledger, ref, request, VIEW_POLICY, now_ns)
        seg = seg_e.record if seg_e is not None else None
        if isinstance(seg, Segment) and not reasons:
            if seg.case_id != case_id:
                reasons = [Message(N_("segment {segment}… belongs to case {other}, not {case}"),
                                   segment=seg_e.entry_hash[:16], other=seg.case_id or "-", case=case_id)]
            elif not blobs.blob_path(seg.media.sha256).is_file():
                reasons = [Message(N_("the footage is not in the archive's blob store"))]
            elif not vp.safe_name(seg.device_id) or not vp.safe_path(seg.source_name):
                reasons = [Message(N_("the recorder id or original file name of segment {segment}… cannot be a file "
                                      "name"), segment=seg_e.entry_hash[:16])]
        out.append((seg_e, reasons))
    return out, req_hash


# --- what the items depend on ---------------------------------------------------------------------


def dependencies(ledger: Ledger, segments: list[Entry], request: str, case_id: str,
                 extra: Iterable[str] = (), keys: Iterable[str] = (), people: Iterable[str] = ()) -> list[Entry]:
    """Every entry the exported segments depend on, in ledger order: the segments, their
    calibrations, dock sessions, gaps with their justifications, faults and approvals, the case
    and its activities, the request with its decisions, the accesses of the request or the
    segments, the ``extra`` entries (the export, sign-offs), and the enrollment of every key that
    signed one of them or is in ``keys`` (the log key), up to the ledger's root, and the
    enrollments of the ``people`` the manifest names (their names and certificates)."""
    found: dict[str, Entry] = {}

    def add(e: Entry | None) -> None:
        if e is not None:
            found.setdefault(e.entry_hash, e)

    seg_hashes = {e.entry_hash for e in segments}
    for e in segments:
        add(e)
        seg = e.record
        assert isinstance(seg, Segment)
        if seg.calibration:
            add(ledger.by_hash(seg.calibration))
        add(ledger.by_hash(seg.prev))
        if seg.dock_session:
            for d in ledger.entries(kind="dock_session", device_id=seg.device_id):
                if d.body.get("session_id") == seg.dock_session:
                    add(d)
        for g in ledger.entries(kind="gap", device_id=seg.device_id):
            if seg_hashes & set(g.body.get("segments", [])):
                add(g)
    gaps = {h for h, e in found.items() if e.kind == "gap"}
    for kind in ("stop_justification", "gap_fault", "stop_approval"):
        for j in ledger.entries(kind=kind):
            if j.body.get("gap") in gaps:
                add(j)
    for kind in ("case_open", "activity", "case_flag", "secrecy", "legal_hold"):
        for c in ledger.entries(kind=kind, case_id=case_id):
            add(c)
    add(ledger.by_hash(request))
    for g in ledger.entries(kind="access_grant", ref=request):
        add(g)
    for a in ledger.entries(kind="access"):
        if a.body.get("request") == request or a.body.get("segment") in seg_hashes:
            add(a)
    for h in extra:
        add(ledger.by_hash(h))
    for pid in people:
        for enr in ledger.entries(kind="enrollment", subject_id=pid):
            if enr.body.get("subject_type") == "person":
                add(enr)
    for keyid in keys:
        rec = ledger.key_record(keyid)
        if rec is not None:
            add(ledger.get(rec.idx))
    todo = list(found.values())
    while todo:
        e = todo.pop()
        for keyid in e.envelope.keyids:
            rec = ledger.key_record(keyid)
            if rec is not None:
                enr = ledger.get(rec.idx)
                if enr.entry_hash not in found:
                    found[enr.entry_hash] = enr
                    todo.append(enr)
    return sorted(found.values(), key=lambda e: e.idx)


# --- writing files ----------------------------------------------------------------------------------


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root.joinpath(*rel.split("/"))
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _copy_original(blob: Path, dest: Path, sha256: str) -> dict[str, str]:
    """Copy the blob to ``dest`` (new file, 0600), hashing it three ways on the way; refuse a blob
    that no longer matches its name."""
    hashes = {"sha256": hashlib.sha256(), "sm3": _sm3(), "md5": hashlib.md5(usedforsecurity=False)}
    private_dir(dest.parent)  # 0700 at every level: local users must not list the originals
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
    with open(blob, "rb") as src, os.fdopen(fd, "wb") as dst:
        while chunk := src.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    out = {k: h.hexdigest() for k, h in hashes.items()}
    if out["sha256"] != sha256:
        dest.unlink(missing_ok=True)
        raise RefusedError(Message(N_("the stored footage does not match its hash {sha256}; run `bodycam archive "
                                      "verify`"), sha256=sha256[:16]))
    return out


def _sm3():
    """SM3, the national hash (GB/T 32905), from OpenSSL through hashlib."""
    try:
        return hashlib.new("sm3")
    except ValueError:
        raise RefusedError(Message(N_("this Python's OpenSSL has no SM3; SM3SUMS cannot be written"))) from None


def write_sums(root: Path) -> None:
    """SHA256SUMS, SM3SUMS and MD5SUMS over every file but themselves, in `sha256sum -c` form."""
    names = {name for name, _ in vp.SUMS}
    files = [f for f in vp.Package(str(root)).files() if f not in names]
    lines: dict[str, list[str]] = {name: [] for name in names}
    for rel in files:
        hashes = {"sha256": hashlib.sha256(), "sm3": _sm3(), "md5": hashlib.md5(usedforsecurity=False)}
        with open(root.joinpath(*rel.split("/")), "rb") as f:
            while chunk := f.read(_CHUNK):
                for h in hashes.values():
                    h.update(chunk)
        for name, algo in vp.SUMS:
            lines[name].append(f"{hashes[algo].hexdigest()}  {rel}")
    for name in names:
        _write(root, name, ("\n".join(lines[name]) + "\n").encode("utf-8"))


def pem_fingerprint(pub: PublicKey) -> str:
    return hashlib.sha256(vp.SPKI_ED25519 + pub.raw).hexdigest()


def write_ledger_dir(root: Path, ledger: Ledger, entries: list[Entry], note: str, origin: str,
                     log_key: PublicKey) -> None:
    """``ledger/`` and ``keys/``: the entries as JSON lines and as exact envelope files, the PAE and
    signature files `openssl` checks, an inclusion proof of each against the checkpoint ``note``
    (its sibling hashes as files too), the checkpoint, its verifier key, and the public keys."""
    for sub in ("ledger", "keys"):
        shutil.rmtree(root / sub, ignore_errors=True)
    text, sigs = parse_note(note)
    size = int(text.split("\n")[1])
    _write(root, vp.CHECKPOINT_NOTE, note.encode("utf-8"))
    _write(root, vp.CHECKPOINT_TEXT, text.encode("utf-8"))
    [sig] = [s.signature for s in sigs if s.name == origin]
    _write(root, vp.CHECKPOINT_SIG, sig)
    _write(root, vp.VKEY, (vkey(origin, log_key) + "\n").encode("ascii"))
    lines, keys = [], {log_key.keyid: log_key}
    keyring = ledger.keyring()
    for e in entries:
        env = e.envelope
        lines.append(json.dumps({"idx": e.idx, "entry_hash": e.entry_hash, "kind": e.kind,
                                 "envelope": env.to_json()}, sort_keys=True, separators=(",", ":")))
        _write(root, vp.entry_file(e.idx), env.to_bytes())
        _write(root, vp.entry_file(e.idx, ".pae"), env.pae())
        for keyid, s in env.signatures:
            if keyid in keyring:
                keys[keyid] = keyring[keyid]
                _write(root, vp.entry_sig_file(e.idx, keyid), s)
        path = ledger.inclusion_proof(e.idx, size)
        proof = {"index": e.idx, "tree_size": size, "leaf_hash": e.leaf_hash.hex(), "path": [p.hex() for p in path],
                 "sides": vp.proof_steps(e.idx, size, len(path)), "checkpoint": vp.CHECKPOINT_NOTE}
        _write(root, vp.proof_file(e.idx), (json.dumps(proof, indent=2) + "\n").encode("ascii"))
        for n, p in enumerate(path):
            _write(root, vp.sibling_file(e.idx, n), p)
    _write(root, vp.ENTRIES, ("\n".join(lines) + "\n").encode("ascii"))
    fps = []
    for keyid, pub in sorted(keys.items()):
        _write(root, f"{vp.KEY_DIR}/{keyid}.pem", pub.to_pem())
        rec = ledger.enrollment(keyid)
        who = f"{rec.subject_type} {rec.subject_id}" if rec is not None else "-"
        fps.append(f"{pem_fingerprint(pub)}  {keyid}.pem  {who}")
    _write(root, vp.FINGERPRINTS, ("\n".join(fps) + "\n").encode("utf-8"))


# --- the manifest -----------------------------------------------------------------------------------


def _person(ledger: Ledger, person_id: str | None) -> dict | None:
    if not person_id:
        return None
    found = None
    for e in ledger.entries(kind="enrollment", subject_id=person_id):
        rec = e.record
        if isinstance(rec, Enrollment) and rec.subject_type == "person":
            found = rec
    return {"id": person_id, "name": found.name if found else None,
            "certificate_no": found.certificate_no if found else None, "unit": found.unit if found else None,
            "valid_from": rfc3339(found.valid_from_ns) if found else None,
            "valid_until": rfc3339(found.valid_until_ns) if found else None}


def _device(ledger: Ledger, seg: Segment, keyid: str | None) -> dict:
    rec = ledger.enrollment(keyid) if keyid else None
    return {"device_id": seg.device_id, "serial": rec.serial if rec else None, "profile": rec.profile if rec else None,
            "brand_model": rec.profile if rec else None, "firmware": None,
            "custodian": rec.custodian if rec else None}


def _calibration(ledger: Ledger, seg: Segment) -> dict | None:
    e = ledger.by_hash(seg.calibration) if seg.calibration else None
    rec = e.record if e is not None else None
    if not isinstance(rec, Calibration):
        return None
    offset = rec.offset_after_us if rec.clock_set else rec.offset_before_us
    return {"entry": e.entry_hash, "measured_at": rfc3339(rec.measured_ns), "offset_us": offset,
            "clock_set": rec.clock_set, "result": rec.result, "uncertainty_us": rec.uncertainty_us}


def _activity(ledger: Ledger, seg: Segment) -> Activity | None:
    found = None
    for e in ledger.entries(kind="activity", case_id=seg.case_id):
        rec = e.record
        if isinstance(rec, Activity) and (rec.activity == seg.activity or (
                seg.activity is None and rec.start_ns <= seg.end_ns and seg.start_ns <= rec.end_ns)):
            found = rec
    return found


def build_manifest(ledger: Ledger, *, case_id: str, request: Entry, segments: list[Entry],
                   files: dict[str, tuple[str, dict[str, str]]], by: str, made_ns: int, origin: str,
                   log_key: PublicKey, proves: str, proves_for: dict[str, str]) -> dict:
    """The A2 Art.16 fields of each item (officers with certificate numbers, camera operator,
    start and end in corrected and device time with the calibration offset, place, device,
    format, size) and the 行政诉讼证据规定 Art.12 ones (制作方法, 制作时间, 制作人, 证明对象)."""
    case_e = ledger.latest("case_open", case_id=case_id)
    case = case_e.record if case_e is not None else None
    req = request.record
    assert isinstance(req, AccessRequest)
    from archive.access import standing_grant

    grant = standing_grant(ledger, request.entry_hash)
    items = []
    for e in segments:
        seg = e.record
        assert isinstance(seg, Segment)
        path, hashes = files[e.entry_hash]
        act = _activity(ledger, seg)
        officers = sorted({seg.officer_id, *(act.officers if act else []),
                           *(case.officers if isinstance(case, CaseOpen) else [])})
        items.append({
            "path": path, "segment_entry": e.entry_hash, "device_id": seg.device_id, "seq": seg.seq,
            "prev": seg.prev, "sha256": hashes["sha256"], "sm3": hashes["sm3"], "md5": hashes["md5"],
            "size": seg.media.size, "original_name": seg.source_name,
            "container": seg.media.container, "codec": seg.media.codec, "width": seg.media.width,
            "height": seg.media.height, "fps": seg.media.fps, "duration_ms": seg.media.duration_ms,
            "start": rfc3339(seg.start_ns), "end": rfc3339(seg.end_ns), "start_ns": str(seg.start_ns),
            "end_ns": str(seg.end_ns), "device_start": seg.device_start, "time_corrected": seg.time_corrected,
            "time_uncertainty_ms": seg.time_uncertainty_ms, "calibration": _calibration(ledger, seg),
            "camera_operator": _person(ledger, seg.officer_id),
            "officers": [_person(ledger, o) for o in officers],
            "place": act.place if act else None, "activity": act.activity if act else seg.activity,
            "device": _device(ledger, seg, e.envelope.keyids[0] if e.envelope.keyids else None),
            "proves": proves_for.get(e.entry_hash, proves),
        })
    return {
        "format": FORMAT,
        "case": {"case_id": case_id, "title": case.title if isinstance(case, CaseOpen) else None,
                 "unit": case.unit if isinstance(case, CaseOpen) else None,
                 "case_type": case.case_type if isinstance(case, CaseOpen) else None,
                 "officers": [_person(ledger, o) for o in (case.officers if isinstance(case, CaseOpen) else [])]},
        "request": {"entry": request.entry_hash, "requester": req.requester, "org": req.org, "reason": req.reason,
                    "approved_by": _person(ledger, grant[1].head_id) if grant else None,
                    "approval_entry": grant[0].entry_hash if grant else None},
        "archive": {"origin": origin, "log_keyid": log_key.keyid},
        "production": {"method": METHOD, "made_at": rfc3339(made_ns), "made_ns": str(made_ns),
                       "made_by": _person(ledger, by), "proves": proves},
        "hash_algorithms": ["sha256", "sm3", "md5"],
        "items": items,
    }


def named_people(manifest: dict) -> set[str]:
    """Person ids the manifest names (officers, camera operators, who made it, who approved)."""
    found: set[str] = set()

    def walk(obj) -> None:
        if isinstance(obj, dict):
            if {"id", "name", "certificate_no", "unit"} <= set(obj) and isinstance(obj["id"], str):
                found.add(obj["id"])
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(manifest)
    return found


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def sign_manifest(data: bytes, signer: Signer) -> Envelope:
    sig = signer.sign(vp.pae(vp.MANIFEST_TYPE, data))
    return Envelope(vp.MANIFEST_TYPE, data, ((signer.keyid, sig),))


def envelope_json(env: Envelope) -> bytes:
    return (json.dumps(env.to_json(), indent=2, sort_keys=True) + "\n").encode("ascii")


# --- the whole act -------------------------------------------------------------------------------------


def create_export(ledger: Ledger, blobs: BlobStore, signer: Signer, by: str, log_signer: Signer, origin: str, *,
                  case_id: str, request: str, out: Path, segments: list[str] | None = None, proves: str = "",
                  proves_for: dict[str, str] | None = None, now_ns: int | None = None) -> Made:
    """Make the package in ``out`` (a new or empty folder) for an approved, unexpired request
    covering every segment; AccessRefused (exit 3) after logging each refused segment, before any
    byte is copied."""
    require_person_key(ledger, signer, by, EXPORT_ROLES, N_("archivist"))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RefusedError(Message(N_("{out} exists and is not an empty folder; an export never overwrites"),
                                   out=out))
    now = time.time_ns() if now_ns is None else now_ns
    refs = _segments(ledger, case_id, segments)
    proves_for = _proves_by_entry(ledger, proves_for or {})
    unstated = [r for r in refs if not proves.strip() and (find_segment(ledger, r) is None or not proves_for.get(
        find_segment(ledger, r).entry_hash, "").strip())]
    if refs and unstated:
        raise RefusedError(Message(N_("say what the footage proves (证明对象, 行政诉讼证据规定 Art.12): --proves TEXT, "
                                      "or --proves-for SEGMENT=TEXT for segment {segment}"), segment=unstated[0][:16]))
    decided, req_hash = decide_export(ledger, blobs, case_id, request, refs, now)
    refused = [(e, r) for e, r in decided if r]
    if refused:
        reasons = []
        for e, r in refused:
            record_access(ledger, signer, by, request=req_hash, segment=e, outcome="refused", reasons=r,
                          out_name=out.name, purpose="export", now_ns=now)
            reasons += r
        raise AccessRefused(reasons)
    seg_entries = [e for e, _ in decided if e is not None]
    if len({e.entry_hash for e in seg_entries}) != len(seg_entries):
        raise RefusedError(Message(N_("a segment is named twice")))
    assert req_hash is not None
    for e in seg_entries:
        record_access(ledger, signer, by, request=req_hash, segment=e, outcome="viewed", reasons=[],
                      out_name=out.name, purpose="export", now_ns=now)
    private_dir(out)
    files: dict[str, tuple[str, dict[str, str]]] = {}
    used: set[str] = set()
    for e in seg_entries:
        seg = e.record
        assert isinstance(seg, Segment)
        rel = f"{vp.ORIGINALS}/{seg.device_id}/{seg.source_name}"
        if rel in used:  # a recorder that restarted its file numbering
            rel = f"{vp.ORIGINALS}/{seg.device_id}/seq-{seg.seq}/{seg.source_name}"
        used.add(rel)
        hashes = _copy_original(blobs.blob_path(seg.media.sha256), out.joinpath(*rel.split("/")), seg.media.sha256)
        files[e.entry_hash] = (rel, hashes)
    req_e = ledger.by_hash(req_hash)
    assert req_e is not None
    manifest = build_manifest(ledger, case_id=case_id, request=req_e, segments=seg_entries, files=files, by=by,
                              made_ns=now, origin=origin, log_key=log_signer.public_key, proves=proves,
                              proves_for=proves_for)
    data = manifest_bytes(manifest)
    env = sign_manifest(data, log_signer)
    _write(out, vp.MANIFEST, data)
    _write(out, vp.MANIFEST_DSSE, envelope_json(env))
    _write(out, vp.MANIFEST_PAE, env.pae())
    _write(out, vp.MANIFEST_SIG, env.signatures[0][1])
    sha = hashlib.sha256(data).hexdigest()
    body = Export(case_id=case_id, request=req_hash, segments=[e.entry_hash for e in seg_entries],
                  manifest_sha256=sha, by=by, exported_ns=now)
    entry = ledger.append(seal(make_body(body), signer), require_trusted=True)
    included = refresh_ledger(out, ledger, log_signer, origin, entry)
    write_derived(out, included, sha)
    return Made(entry, sha, out, len(seg_entries), len(included))


def write_derived(out: Path, entries: list[Entry], manifest_sha256: str) -> None:
    """What follows from the rest of the package, rewritten whenever ``ledger/`` changes: the
    custody record (``custody.jsonl``, ``custody.pdf`` with the 刻录登记表), ``VERIFY.txt``,
    ``核验说明.txt``, ``verify.py``, and last the sums over everything."""
    from archive.export.custody import custody_events, document_inputs
    from archive.export.custody_doc import JSONL_NAME, PDF_NAME, write_custody
    from archive.export.instructions import write_instructions

    for name in (JSONL_NAME, PDF_NAME):
        (out / name).unlink(missing_ok=True)
    case, items = document_inputs(json.loads((out / vp.MANIFEST).read_text("utf-8")))
    fingerprints = {}
    for line in (out / vp.FINGERPRINTS).read_text("utf-8").splitlines():
        fp, name, *who = line.split()
        fingerprints[f"{' '.join(who)} ({name[:16]}…)"] = fp
    write_custody(out, case=case, items=items, events=custody_events(entries), manifest_sha256=manifest_sha256,
                  fingerprints=fingerprints)
    for name in (JSONL_NAME, PDF_NAME):
        (out / name).chmod(_FILE_MODE)
    write_instructions(out, _write)
    write_sums(out)


def find_export(ledger: Ledger, manifest_sha256: str) -> Entry | None:
    """The export entry that made the manifest with this SHA-256."""
    for e in ledger.entries(kind="export"):
        if e.body.get("manifest_sha256") == manifest_sha256:
            return e
    return None


def _package_export(ledger: Ledger, out: Path) -> tuple[bytes, Entry]:
    try:
        data = (out / vp.MANIFEST).read_bytes()
    except OSError:
        raise RefusedError(Message(N_("{out} holds no manifest.json: not an export package"), out=out)) from None
    export = find_export(ledger, hashlib.sha256(data).hexdigest())
    if export is None:
        raise RefusedError(Message(N_("no export entry in the archive ledger made the manifest of {out}"), out=out))
    return data, export


def sign_export(ledger: Ledger, out: Path, signer: Signer, person_id: str, log_signer: Signer, origin: str, *,
                now_ns: int | None = None) -> Entry:
    """A supervisor's or an officer's sign-off over the package's manifest (A2 Art.16): an
    ``export_signoff`` entry, ``signatures/<person>.dsse.json`` (and the raw ``.sig`` for
    `openssl`), then ``ledger/`` against a new checkpoint and everything derived, rewritten."""
    from ledger.checks.export import SIGNOFF_ROLES
    from ledger.records.export import ExportSignoff

    rec = require_person_key(ledger, signer, person_id, SIGNOFF_ROLES, N_("supervisor or officer"))
    data, export = _package_export(ledger, out)
    if not vp.safe_name(person_id):
        raise RefusedError(Message(N_("person id {person_id!r} cannot name a file"), person_id=person_id))
    dsse = out / vp.SIGNATURE_DIR / f"{person_id}.dsse.json"
    if dsse.exists():
        raise RefusedError(Message(N_("{person_id} has already signed this package"), person_id=person_id))
    sha = hashlib.sha256(data).hexdigest()
    body = ExportSignoff(export=export.entry_hash, manifest_sha256=sha, person_id=person_id, role=rec.role or "",
                         signed_ns=time.time_ns() if now_ns is None else now_ns)
    entry = ledger.append(seal(make_body(body), signer), require_trusted=True)
    env = sign_manifest(data, signer)
    _write(out, f"{vp.SIGNATURE_DIR}/{person_id}.sig", env.signatures[0][1])
    _write(out, f"{vp.SIGNATURE_DIR}/{person_id}.dsse.json", envelope_json(env))
    included = refresh_ledger(out, ledger, log_signer, origin, export)
    write_derived(out, included, sha)
    return entry


def make_disc(ledger: Ledger, out: Path, iso: Path, signer: Signer, by: str, *, now_ns: int | None = None
              ) -> tuple[Entry, str]:
    """The ISO 9660 image of a package that verifies (volume id from the case number), and an
    ``export_iso`` entry with its SHA-256 (A2 Art.16: burned to disc, filed with the case)."""
    from archive.export.check import verify_export
    from archive.export.iso import make_iso, volume_id_for_case
    from ledger.records.export import ExportIso

    require_person_key(ledger, signer, by, EXPORT_ROLES, N_("archivist"))
    _data, export = _package_export(ledger, out)
    _pkg, problems = verify_export(out)
    if problems:
        raise RefusedError(Message(N_("the package does not verify ({problem}); no disc is made of it"),
                                   problem=problems[0].text()))
    if iso.exists():
        raise RefusedError(Message(N_("{iso} exists; an image is never overwritten"), iso=iso))
    volume_id = volume_id_for_case(export.body["case_id"])
    sha = make_iso(out, iso, volume_id)
    body = ExportIso(export=export.entry_hash, iso_sha256=sha, volume_id=volume_id, size=iso.stat().st_size, by=by,
                     made_ns=time.time_ns() if now_ns is None else now_ns)
    return ledger.append(seal(make_body(body), signer), require_trusted=True), sha


def refresh_ledger(out: Path, ledger: Ledger, log_signer: Signer, origin: str, export: Entry) -> list[Entry]:
    """Sign a checkpoint now and (re)write ``ledger/`` and ``keys/`` for the export and everything
    it depends on, its sign-offs and disc images included."""
    rec = export.record
    assert isinstance(rec, Export)
    segs = [ledger.by_hash(h) for h in rec.segments]
    extra = [export.entry_hash] + [e.entry_hash for kind in ("export_signoff", "export_iso")
                                   for e in ledger.entries(kind=kind, ref=export.entry_hash)]
    manifest = json.loads((out / vp.MANIFEST).read_text("utf-8"))
    included = dependencies(ledger, [s for s in segs if s is not None], rec.request, rec.case_id, extra,
                            keys=[log_signer.keyid], people=named_people(manifest))
    note = ledger.checkpoint(log_signer, origin)
    write_ledger_dir(out, ledger, included, note, origin, log_signer.public_key)
    return included
