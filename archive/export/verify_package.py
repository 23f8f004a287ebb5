#!/usr/bin/env python3
"""Check a bodycam evidence package offline: Python's standard library plus `openssl` on the PATH.

This file is copied into every package as ``verify.py``; run it from anywhere as
``python3 -I verify.py [PACKAGE_DIR]`` (default: the folder it sits in). It needs no program of
the bureau's and no third-party module, so a court's expert can read all of it and check:

1. ``SHA256SUMS``, ``SM3SUMS`` and ``MD5SUMS``: every file of the package listed and matching;
2. ``manifest.json`` is the payload of ``manifest.dsse.json``, signed by the archive's log key;
3. ``keys/``: each PEM key's file name is its key id (SHA-256 of the raw Ed25519 key), and
   ``keys/FINGERPRINTS`` gives the SHA-256 of each key's DER encoding;
4. ``ledger/``: every entry's envelope, its signatures (by keys enrolled in entries of the package),
   the PAE and signature files shipped for `openssl`, and its RFC 9162 inclusion proof against the
   one signed checkpoint (a C2SP signed note, checked against ``ledger/checkpoint.vkey``);
5. the items: each original's hashes and size against its ``segment`` entry, each recorder's
   ``seq``/``prev`` chain, and the ``export`` entry naming this manifest's SHA-256;
6. ``signatures/``: sign-offs (A2 Art.16) over the manifest, each also a ledger entry.

Exit 0 when everything holds, 3 with one line per problem naming the file, 2 on bad usage.
Signatures are checked by ``openssl pkeyutl -verify -rawin`` (OpenSSL 3), the command
``VERIFY.txt`` shows; ``bodycam export verify`` runs the same checks with its own Ed25519 code.
The trust root is the checkpoint's verifier key: compare ``ledger/checkpoint.vkey`` with the one
the bureau publishes (``bodycam archive log-key --vkey``) before relying on the result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

MANIFEST = "manifest.json"
MANIFEST_DSSE = "manifest.dsse.json"
MANIFEST_PAE = "manifest.pae"
MANIFEST_SIG = "manifest.sig"
MANIFEST_TYPE = "application/vnd.bodycam.export_manifest+json"
SUMS = (("SHA256SUMS", "sha256"), ("SM3SUMS", "sm3"), ("MD5SUMS", "md5"))
ENTRIES = "ledger/entries.jsonl"
ENTRY_DIR = "ledger/entries"
PROOF_DIR = "ledger/proofs"
CHECKPOINT_NOTE = "ledger/checkpoint.note"
CHECKPOINT_TEXT = "ledger/checkpoint.txt"
CHECKPOINT_SIG = "ledger/checkpoint.sig"
VKEY = "ledger/checkpoint.vkey"
KEY_DIR = "keys"
FINGERPRINTS = "keys/FINGERPRINTS"
SIGNATURE_DIR = "signatures"
ORIGINALS = "originals"
TYPE_PREFIX = "application/vnd.bodycam."
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")
NOTE_SIG_PREFIX = "\u2014 "
MAX_JSON = 64 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")

# One English sentence per kind of problem; ``bodycam export verify`` prints the same codes in the
# reader's language. Each problem names the file it is about.
TEXTS = {
    "missing": "missing",
    "unreadable": "cannot be read: {detail}",
    "malformed": "malformed: {detail}",
    "sum_mismatch": "{algo} does not match {sums}",
    "sum_missing": "listed in {sums} but missing",
    "sum_unlisted": "not listed in {sums}",
    "sum_unavailable": "{algo} is available neither in Python's hashlib nor in openssl",
    "unsafe_path": "names a path outside the package: {detail}",
    "bad_signature": "signature by key {keyid} does not verify",
    "unknown_key": "signed by key {keyid}, which keys/ does not hold",
    "not_enrolled": "signed by key {keyid}, which no enrollment entry in the package enrolls",
    "differs": "differs from {other}",
    "key_name": "is not named by its key id {keyid}",
    "fingerprint": "fingerprint does not match keys/FINGERPRINTS",
    "proof": "inclusion proof does not lead to the checkpoint's root",
    "checkpoint_signature": "checkpoint signature by {name} does not verify",
    "checkpoint_origin": "checkpoint origin {origin!r} is not the archive's {expected!r} the manifest names",
    "checkpoint_key": "the checkpoint's verifier key is not the archive log key the manifest names",
    "no_export": "no export entry in ledger/ names this manifest (SHA-256 {sha256})",
    "item": "item {path}: {detail}",
    "chain": "recorder {device}: {detail}",
    "signoff": "sign-off by key {keyid} is not an export_signoff entry in ledger/",
    "record": "{detail}",
    "stopped": "the check {step} stopped on unexpected input: {detail}",
}


class Problem:
    def __init__(self, file: str, code: str, **params: object):
        self.file, self.code, self.params = file, code, params

    def text(self) -> str:
        return f"{self.file}: {TEXTS[self.code].format(**self.params)}"

    def __repr__(self) -> str:
        return self.text()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, what every signature signs."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: the root an inclusion proof implies, or None if malformed."""
    if not 0 <= index < size or len(leaf) != 32:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if len(p) != 32 or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def proof_steps(index: int, size: int, path_len: int) -> list[str]:
    """For each proof hash, which side it goes on ("left" or "right") when climbing from the leaf."""
    sides = []
    fn, sn = index, size - 1
    for _ in range(path_len):
        if fn & 1 or fn == sn:
            sides.append("left")
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sides.append("right")
        fn >>= 1
        sn >>= 1
    return sides


def entry_file(idx: int, suffix: str = ".json") -> str:
    return f"{ENTRY_DIR}/{idx:08d}{suffix}"


def entry_sig_file(idx: int, keyid: str) -> str:
    return f"{ENTRY_DIR}/{idx:08d}.{keyid}.sig"


def proof_file(idx: int) -> str:
    return f"{PROOF_DIR}/{idx:08d}.json"


def sibling_file(idx: int, n: int) -> str:
    return f"{PROOF_DIR}/{idx:08d}/{n:02d}.bin"


def safe_name(name: str) -> bool:
    """A path component an export may write: no separators, no '.'/'..', no control characters,
    no backslash (``sha256sum`` would escape it), at most 255 bytes."""
    return (bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name
            and not any(ord(c) < 32 or ord(c) == 127 for c in name) and len(name.encode("utf-8")) <= 255)


def safe_path(path: str, depth: int = 8) -> bool:
    """A relative path an export may write: at most ``depth`` components, each a safe name.
    Recorders keep footage in folders (``DCIM/100ZFY/…``), so an original name may have several."""
    parts = path.split("/")
    return len(parts) <= depth and all(safe_name(p) for p in parts)


def spki_raw(der: bytes) -> bytes | None:
    """The raw 32-byte key of an Ed25519 SubjectPublicKeyInfo, or None."""
    if len(der) == len(SPKI_ED25519) + 32 and der.startswith(SPKI_ED25519):
        return der[len(SPKI_ED25519):]
    return None


def pem_der(text: str) -> bytes | None:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != "-----BEGIN PUBLIC KEY-----" or lines[-1] != "-----END PUBLIC KEY-----":
        return None
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None


def note_key_hash(name: str, raw: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + raw).digest()[:4]


def openssl_verify(pem_path: str, sig: bytes, data: bytes) -> bool:
    """Ed25519 by ``openssl pkeyutl -verify -rawin``, as VERIFY.txt does it by hand."""
    with tempfile.TemporaryDirectory(prefix="bodycam-verify-") as tmp:
        sig_path, data_path = os.path.join(tmp, "sig"), os.path.join(tmp, "data")
        with open(sig_path, "wb") as f:
            f.write(sig)
        with open(data_path, "wb") as f:
            f.write(data)
        try:
            res = subprocess.run(["openssl", "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", pem_path,
                                  "-sigfile", sig_path, "-in", data_path], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return res.returncode == 0


def _new_hash(algo: str):
    try:
        return hashlib.new(algo)
    except ValueError:
        return None


def _openssl_digest(algo: str, path: str) -> str | None:
    try:
        res = subprocess.run(["openssl", "dgst", f"-{algo}", "-r", path], capture_output=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    return res.stdout.split(b" ", 1)[0].decode("ascii", "replace")


class Package:
    """The checks over one unpacked package; ``problems`` once ``check()`` ran."""

    def __init__(self, root: str, verify=openssl_verify):
        self.root = os.path.abspath(root)
        self.verify_sig = verify
        self.problems: list[Problem] = []
        self._digests: dict[str, dict[str, str]] = {}
        self.keys: dict[str, bytes] = {}  # keyid -> raw public key
        self.entries: list[dict] = []  # {"idx","entry_hash","kind","body","envelope","bytes"}
        self.manifest: dict | None = None
        self.manifest_bytes = b""
        self.checkpoint: tuple[str, int, bytes] | None = None  # origin, size, root

    # -- plumbing ------------------------------------------------------------------------------

    def problem(self, file: str, code: str, **params: object) -> None:
        self.problems.append(Problem(file, code, **params))

    def path(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def read(self, rel: str, limit: int = MAX_JSON, quiet: bool = False) -> bytes | None:
        try:
            with open(self.path(rel), "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            if not quiet:
                self.problem(rel, "missing")
            return None
        except OSError as exc:
            self.problem(rel, "unreadable", detail=exc.strerror or str(exc))
            return None
        if len(data) > limit:
            self.problem(rel, "malformed", detail=f"larger than {limit} bytes")
            return None
        return data

    def read_json(self, rel: str):
        data = self.read(rel)
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            self.problem(rel, "malformed", detail=f"not JSON ({str(exc)[:80]})")
            return None

    def files(self) -> list[str]:
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            for name in sorted(filenames):
                rel = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                out.append(rel)
        return out

    def digest(self, rel: str, algo: str) -> str | None:
        cached = self._digests.setdefault(rel, {})
        if algo in cached:
            return cached[algo]
        hashers = {a: _new_hash(a) for _, a in SUMS}
        with open(self.path(rel), "rb") as f:
            while chunk := f.read(1 << 20):
                for h in hashers.values():
                    if h is not None:
                        h.update(chunk)
        for a, h in hashers.items():
            cached[a] = h.hexdigest() if h is not None else _openssl_digest(a, self.path(rel))
        return cached[algo]

    def sig_ok(self, keyid: str, sig: bytes, data: bytes) -> bool:
        return self.verify_sig(self.path(f"{KEY_DIR}/{keyid}.pem"), sig, data)

    # -- the checks ----------------------------------------------------------------------------

    def check(self) -> list[Problem]:
        if not os.path.isdir(self.root):
            self.problem(self.root, "missing")
            return self.problems
        for step in (self.check_sums, self.check_keys, self.check_manifest, self.check_checkpoint,
                     self.check_entries, self.check_items, self.check_signoffs):
            try:
                step()
            except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
                # input no check foresaw: the package does not verify, and the next checks still run
                self.problem(self.root, "stopped", step=step.__name__, detail=f"{type(exc).__name__}: {exc}"[:200])
        return self.problems

    def check_sums(self) -> None:
        sums_files = {name for name, _ in SUMS}
        present = [f for f in self.files() if f not in sums_files]
        for name, algo in SUMS:
            data = self.read(name)
            if data is None:
                continue
            listed: set[str] = set()
            width = {"sha256": 64, "sm3": 64, "md5": 32}[algo]
            for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                m = re.fullmatch(r"([0-9a-f]{%d}) [ *](.+)" % width, line)  # noqa: UP031
                if m is None:
                    self.problem(name, "malformed", detail=f"line {n}")
                    continue
                rel = m.group(2)
                parts = rel.split("/")
                if rel.startswith("/") or not all(safe_name(p) for p in parts):
                    self.problem(name, "unsafe_path", detail=rel)
                    continue
                listed.add(rel)
                if not os.path.isfile(self.path(rel)):
                    self.problem(rel, "sum_missing", sums=name)
                    continue
                got = self.digest(rel, algo)
                if got is None:
                    self.problem(rel, "sum_unavailable", algo=algo.upper())
                elif got != m.group(1):
                    self.problem(rel, "sum_mismatch", algo=algo.upper(), sums=name)
            for rel in present:
                if rel not in listed:
                    self.problem(rel, "sum_unlisted", sums=name)

    def check_keys(self) -> None:
        fingerprints: dict[str, str] = {}
        data = self.read(FINGERPRINTS)
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) >= 2 and _HEX64.match(parts[0]):
                fingerprints[parts[1]] = parts[0]
        try:
            names = sorted(os.listdir(self.path(KEY_DIR)))
        except OSError:
            self.problem(KEY_DIR, "missing")
            return
        for name in names:
            if not name.endswith(".pem"):
                continue
            rel = f"{KEY_DIR}/{name}"
            raw_pem = self.read(rel, 1 << 16)
            der = pem_der(raw_pem.decode("ascii", "replace")) if raw_pem is not None else None
            raw = spki_raw(der) if der is not None else None
            if raw is None:
                if raw_pem is not None:
                    self.problem(rel, "malformed", detail="not an Ed25519 SubjectPublicKeyInfo PEM")
                continue
            keyid = hashlib.sha256(raw).hexdigest()
            if name != f"{keyid}.pem":
                self.problem(rel, "key_name", keyid=keyid)
                continue
            if fingerprints.get(name) != hashlib.sha256(der).hexdigest():
                self.problem(rel, "fingerprint")
            self.keys[keyid] = raw

    def check_manifest(self) -> None:
        data = self.read(MANIFEST)
        env = self.read_json(MANIFEST_DSSE)
        if data is None:
            return
        self.manifest_bytes = data
        try:
            manifest = json.loads(data.decode("utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not an object")
            self.manifest = manifest
        except (ValueError, RecursionError) as exc:
            self.problem(MANIFEST, "malformed", detail=str(exc)[:80])
            return
        if env is None:
            return
        payload, sigs = self._envelope(MANIFEST_DSSE, env, MANIFEST_TYPE)
        if payload is None:
            return
        if payload != data:
            self.problem(MANIFEST, "differs", other=f"the payload of {MANIFEST_DSSE}")
        pae_bytes = self.read(MANIFEST_PAE)
        if pae_bytes is not None and pae_bytes != pae(MANIFEST_TYPE, payload):
            self.problem(MANIFEST_PAE, "differs", other=f"the DSSE PAE of {MANIFEST_DSSE}")
        log_keyid = self.log_keyid()
        by_log = [s for k, s in sigs if k == log_keyid]
        if not by_log:
            self.problem(MANIFEST_DSSE, "unknown_key", keyid=log_keyid or "-")
            return
        sig_file = self.read(MANIFEST_SIG)
        if sig_file is not None and sig_file != by_log[0]:
            self.problem(MANIFEST_SIG, "differs", other=f"the log key's signature in {MANIFEST_DSSE}")
        if log_keyid not in self.keys:
            self.problem(MANIFEST_DSSE, "unknown_key", keyid=log_keyid)
        elif not self.sig_ok(log_keyid, by_log[0], pae(MANIFEST_TYPE, payload)):
            self.problem(MANIFEST_DSSE, "bad_signature", keyid=log_keyid)

    def log_keyid(self) -> str:
        archive = (self.manifest or {}).get("archive")
        keyid = archive.get("log_keyid") if isinstance(archive, dict) else None
        return keyid if isinstance(keyid, str) else ""

    def _envelope(self, rel: str, env, payload_type: str | None) -> tuple[bytes | None, list[tuple[str, bytes]]]:
        """Payload and (keyid, signature) pairs of a DSSE envelope, problems named on ``rel``."""
        try:
            if not isinstance(env, dict) or set(env) != {"payloadType", "payload", "signatures"}:
                raise ValueError("not a DSSE envelope (payloadType, payload, signatures)")
            if payload_type is not None and env["payloadType"] != payload_type:
                raise ValueError(f"payloadType is not {payload_type}")
            payload = base64.b64decode(env["payload"], validate=True)
            sigs = []
            for s in env["signatures"]:
                if not _HEX64.match(s["keyid"]):
                    raise ValueError("keyid is not 64 hex digits")
                sigs.append((s["keyid"], base64.b64decode(s["sig"], validate=True)))
            if not sigs:
                raise ValueError("no signature")
            return payload, sigs
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            self.problem(rel, "malformed", detail=str(exc)[:120])
            return None, []

    def check_checkpoint(self) -> None:
        note_b = self.read(CHECKPOINT_NOTE, 1 << 16)
        vkey_b = self.read(VKEY, 1 << 12)
        if note_b is None or vkey_b is None:
            return
        try:
            name, keyhash, b64 = vkey_b.decode("utf-8").strip().split("+", 2)
            raw = base64.b64decode(b64, validate=True)
            if len(raw) != 33 or raw[0] != 1 or note_key_hash(name, raw[1:]).hex() != keyhash:
                raise ValueError("not an Ed25519 note verifier key whose hash matches")
            pub = raw[1:]
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            self.problem(VKEY, "malformed", detail=str(exc)[:120])
            return
        note = note_b.decode("utf-8", "replace")
        split = note.rfind("\n\n")
        try:
            if split < 0:
                raise ValueError("not a signed note")
            text = note[: split + 1]
            lines = text.split("\n")
            origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
            if len(root) != 32 or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
                raise ValueError("bad size or root line")
            sigs = {}
            for line in note[split + 2:].splitlines():
                if not line.startswith(NOTE_SIG_PREFIX):
                    raise ValueError("bad signature line")
                sname, blob = line[len(NOTE_SIG_PREFIX):].split(" ")
                sraw = base64.b64decode(blob, validate=True)
                sigs[(sname, sraw[:4])] = sraw[4:]
        except (ValueError, IndexError, binascii.Error) as exc:
            self.problem(CHECKPOINT_NOTE, "malformed", detail=str(exc)[:120])
            return
        archive = (self.manifest or {}).get("archive") or {}
        expected = archive.get("origin") if isinstance(archive, dict) else None
        if origin != expected or name != origin:
            self.problem(CHECKPOINT_NOTE, "checkpoint_origin", origin=origin, expected=expected)
        keyid = hashlib.sha256(pub).hexdigest()
        if keyid != self.log_keyid():
            self.problem(VKEY, "checkpoint_key")
        sig = sigs.get((name, note_key_hash(name, pub)))
        if keyid not in self.keys:
            self.problem(CHECKPOINT_NOTE, "unknown_key", keyid=keyid)
        elif sig is None or not self.sig_ok(keyid, sig, text.encode("utf-8")):
            self.problem(CHECKPOINT_NOTE, "checkpoint_signature", name=name)
        if self.read(CHECKPOINT_TEXT) not in (None, text.encode("utf-8")):
            self.problem(CHECKPOINT_TEXT, "differs", other=f"the signed text of {CHECKPOINT_NOTE}")
        if self.read(CHECKPOINT_SIG) not in (None, sig):
            self.problem(CHECKPOINT_SIG, "differs", other=f"the signature in {CHECKPOINT_NOTE}")
        self.checkpoint = (origin, size, root)

    def check_entries(self) -> None:
        data = self.read(ENTRIES)
        if data is None:
            return
        enrolled: dict[str, int] = {}  # keyid -> idx of its enrollment in the package
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            try:
                row = json.loads(line)
                idx, entry_hash, kind, env = row["idx"], row["entry_hash"], row["kind"], row["envelope"]
                if not isinstance(idx, int) or idx < 0 or not _HEX64.match(entry_hash) or not isinstance(kind, str):
                    raise ValueError("bad idx, entry_hash or kind")
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                self.problem(ENTRIES, "malformed", detail=f"line {n}: {str(exc)[:80]}")
                continue
            rel = entry_file(idx)
            stored = self.read(rel)
            if stored is None:
                continue
            if json.dumps(env, sort_keys=True, separators=(",", ":")).encode("utf-8") != stored:
                self.problem(ENTRIES, "differs", other=f"{rel} (line {n})")
            if hashlib.sha256(stored).hexdigest() != entry_hash:
                self.problem(rel, "differs", other=f"entry hash {entry_hash[:16]} in {ENTRIES}")
            try:
                env_obj = json.loads(stored)
            except (ValueError, RecursionError):
                self.problem(rel, "malformed", detail="not JSON")
                continue
            payload, sigs = self._envelope(rel, env_obj, f"{TYPE_PREFIX}{kind}+json")
            if payload is None:
                continue
            try:
                body = json.loads(payload)
                if body.get("kind") != kind:
                    raise ValueError("body kind differs from the payloadType")
            except (ValueError, AttributeError, RecursionError) as exc:
                self.problem(rel, "malformed", detail=str(exc)[:120])
                continue
            message = pae(env_obj["payloadType"], payload)
            if self.read(entry_file(idx, ".pae")) not in (None, message):
                self.problem(entry_file(idx, ".pae"), "differs", other=f"the DSSE PAE of {rel}")
            if kind == "enrollment" and isinstance(body.get("keyid"), str):
                enrolled.setdefault(body["keyid"], idx)
            good = 0
            for keyid, sig in sigs:
                if keyid not in self.keys:
                    continue
                if not self.sig_ok(keyid, sig, message):
                    self.problem(rel, "bad_signature", keyid=keyid)
                    continue
                good += 1
                if self.read(entry_sig_file(idx, keyid)) not in (None, sig):
                    self.problem(entry_sig_file(idx, keyid), "differs", other=f"the signature in {rel}")
                if enrolled.get(keyid, idx + 1) > idx:
                    self.problem(rel, "not_enrolled", keyid=keyid)
            if not good and not any(p.file == rel and p.code == "bad_signature" for p in self.problems):
                self.problem(rel, "unknown_key", keyid=sigs[0][0])
            self.entries.append({"idx": idx, "entry_hash": entry_hash, "kind": kind, "body": body,
                                 "signers": [k for k, _ in sigs], "bytes": stored})
            self._check_proof(idx, stored)
        log = self.log_keyid()
        if log and log not in enrolled:
            self.problem(MANIFEST_DSSE, "not_enrolled", keyid=log)

    def _check_proof(self, idx: int, stored: bytes) -> None:
        if self.checkpoint is None:
            return
        _origin, size, root = self.checkpoint
        rel = proof_file(idx)
        proof = self.read_json(rel)
        if proof is None:
            return
        try:
            path = [bytes.fromhex(h) for h in proof["path"]]
            if proof["index"] != idx or proof["tree_size"] != size:
                raise ValueError("index or tree_size is not the entry's and the checkpoint's")
            if proof["leaf_hash"] != leaf_hash(stored).hex():
                raise ValueError("leaf_hash is not that of the entry")
        except (ValueError, KeyError, TypeError) as exc:
            self.problem(rel, "malformed", detail=str(exc)[:120])
            return
        if root_from_inclusion(leaf_hash(stored), idx, size, path) != root:
            self.problem(rel, "proof")
        for n, h in enumerate(path):
            got = self.read(sibling_file(idx, n))
            if got is not None and got != h:
                self.problem(sibling_file(idx, n), "differs", other=f"path[{n}] of {rel}")
        if os.path.exists(self.path(sibling_file(idx, len(path)))):
            self.problem(sibling_file(idx, len(path)), "differs", other=f"the path of {rel}")

    def check_items(self) -> None:
        if self.manifest is None:
            return
        sha = hashlib.sha256(self.manifest_bytes).hexdigest()
        exports = [e for e in self.entries if e["kind"] == "export" and e["body"].get("manifest_sha256") == sha]
        if not exports:
            self.problem(ENTRIES, "no_export", sha256=sha)
        by_hash = {e["entry_hash"]: e for e in self.entries}
        items = self.manifest.get("items")
        if not isinstance(items, list) or not items:
            self.problem(MANIFEST, "malformed", detail="no items")
            return
        chains: dict[str, list[dict]] = {}
        exported = set()
        for item in items:
            path = item.get("path") if isinstance(item, dict) else None
            if not isinstance(path, str) or not path.startswith(ORIGINALS + "/") or not all(
                    safe_name(p) for p in path.split("/")):
                self.problem(MANIFEST, "unsafe_path", detail=str(path))
                continue
            seg = by_hash.get(item.get("segment_entry", ""))
            if seg is None or seg["kind"] != "segment":
                self.problem(MANIFEST, "item", path=path, detail="its segment entry is not in ledger/")
                continue
            exported.add(seg["entry_hash"])
            body = seg["body"]
            media = body.get("media") or {}
            want = {"sha256": media.get("sha256"), "size": media.get("size"), "device_id": body.get("device_id"),
                    "seq": body.get("seq"), "prev": body.get("prev")}
            for field, value in want.items():
                if item.get(field) != value:
                    self.problem(MANIFEST, "item", path=path, detail=f"{field} is not the segment entry's")
            if not os.path.isfile(self.path(path)):
                self.problem(path, "missing")
            elif self.digest(path, "sha256") != media.get("sha256"):
                self.problem(path, "item", path=path, detail="SHA-256 is not the one its segment entry signs")
            elif os.path.getsize(self.path(path)) != media.get("size"):
                self.problem(path, "item", path=path, detail="size is not the one its segment entry signs")
            for algo in ("sm3", "md5"):
                if os.path.isfile(self.path(path)) and algo in item and self.digest(path, algo) not in (
                        None, item[algo]):
                    self.problem(MANIFEST, "item", path=path, detail=f"{algo.upper()} does not match the file")
            chains.setdefault(str(body.get("device_id")), []).append(seg)
        for e in exports:
            if set(e["body"].get("segments", [])) != exported:
                self.problem(MANIFEST, "item", path="*", detail="the items are not the segments the export entry names")
        for device, segs in chains.items():
            segs.sort(key=lambda s: s["body"].get("seq", -1))
            for a, b in zip(segs, segs[1:], strict=False):
                if b["body"].get("seq") == a["body"].get("seq", -2) + 1 and b["body"].get("prev") != a["entry_hash"]:
                    self.problem(entry_file(b["idx"]), "chain", device=device,
                                 detail=f"seq {b['body'].get('seq')} does not follow seq {a['body'].get('seq')}")
            first = segs[0]
            if first["body"].get("seq") == 0:
                prev = by_hash.get(first["body"].get("prev", ""))
                if prev is None or prev["kind"] != "enrollment" or prev["body"].get("subject_id") != device:
                    self.problem(entry_file(first["idx"]), "chain", device=device,
                                 detail="seq 0 does not follow the recorder's enrollment")

    def check_signoffs(self) -> None:
        try:
            names = sorted(os.listdir(self.path(SIGNATURE_DIR)))
        except OSError:
            return
        sha = hashlib.sha256(self.manifest_bytes).hexdigest()
        for name in names:
            if not name.endswith(".dsse.json"):
                continue
            rel = f"{SIGNATURE_DIR}/{name}"
            env = self.read_json(rel)
            if env is None:
                continue
            payload, sigs = self._envelope(rel, env, MANIFEST_TYPE)
            if payload is None:
                continue
            if payload != self.manifest_bytes:
                self.problem(rel, "differs", other=f"the payload {MANIFEST}")
            for keyid, sig in sigs:
                if keyid not in self.keys:
                    self.problem(rel, "unknown_key", keyid=keyid)
                    continue
                if not self.sig_ok(keyid, sig, pae(MANIFEST_TYPE, payload)):
                    self.problem(rel, "bad_signature", keyid=keyid)
                sig_rel = f"{SIGNATURE_DIR}/{name[:-len('.dsse.json')]}.sig"
                if self.read(sig_rel) not in (None, sig):
                    self.problem(sig_rel, "differs", other=f"the signature in {rel}")
                if not any(e["kind"] == "export_signoff" and e["body"].get("manifest_sha256") == sha
                           and keyid in e["signers"] for e in self.entries):
                    self.problem(rel, "signoff", keyid=keyid)


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.dirname(os.path.abspath(__file__))
    pkg = Package(root)
    problems = pkg.check()
    for p in problems:
        print(f"FAILED {p.text()}")
    if problems:
        print(f"{len(problems)} problem(s): the package does not verify")
        return 3
    origin, size, _root = pkg.checkpoint or ("-", 0, b"")
    items = len((pkg.manifest or {}).get("items", []))
    print(f"OK: {items} original(s), {len(pkg.entries)} ledger entries included in checkpoint {size} of {origin}, "
          f"{len(pkg.keys)} key(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
