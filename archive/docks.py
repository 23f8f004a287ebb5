"""Which docks the archive accepts, and to which dock every enrolled key belongs.

Trust at the archive starts with its administrator (the archive ledger's root). An archivist
registers a dock by enrolling the dock's public key (``subject_type = "dock"``) signed by the
admin key. The dock's own ledger begins with the dock key's self-signed ``ledger_root`` entry;
that entry is **not** copied into the archive ledger: the admin's ``dock`` enrollment replaces
it as the statement "this key is dock NAME". Everything else a dock delivers is appended
unchanged (same bytes, same entry hash), so its device enrollments (signed by the dock key),
person enrollments (signed by the dock key) and segments (signed by device keys) verify at the
archive by the same rule as on the dock: every signer enrolled before.

Ownership: a dock key belongs to its dock; a key enrolled by a key that belongs to dock D
belongs to D as well. A dock may only deliver entries whose signers belong to itself (or to the
archive itself, as a co-signer), so a compromised or misconfigured dock A cannot inject records
rooted in dock B, even when the broker's ACL is bypassed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from bodycam.errors import BodycamError, ConfigError
from bodycam.files import write_secret
from bodycam.i18n import _
from ledger.enroll import enroll
from ledger.envelope import seal
from ledger.keys import PublicKey, Signer
from ledger.records import Enrollment, Revocation, make_body
from ledger.store import Entry, Ledger

log = logging.getLogger(__name__)

ARCHIVE = ""
"""Owner of keys enrolled by the archive itself (admin, log key, centrally enrolled people)."""


class DockRegistryError(BodycamError):
    """A dock cannot be registered (bad name, key already belongs to another dock)."""


@dataclass
class KeyInfo:
    keyid: str
    owner: str  # dock name, or ARCHIVE
    subject_type: str
    subject_id: str
    entry_hash: str
    idx: int
    custodian: str | None = None


@dataclass
class Trust:
    """Key ownership derived from the archive ledger's enrollments (the ledger is the truth)."""

    keys: dict[str, KeyInfo] = field(default_factory=dict)
    devices: dict[str, KeyInfo] = field(default_factory=dict)
    """device_id → its current enrollment (the latest)."""
    upto: int = 0

    @classmethod
    def load(cls, ledger: Ledger) -> Trust:
        t = cls()
        t.refresh(ledger)
        return t

    def refresh(self, ledger: Ledger) -> None:
        for entry in ledger.entries(kind="enrollment", start=self.upto):
            self.add(entry)
        for entry in ledger.entries(kind="revocation", start=self.upto):
            self.revoke(entry.record.keyid)
        self.upto = max(self.upto, ledger.size)

    def revoke(self, keyid: str) -> None:
        """A revoked key signs nothing more here (``ledger.trust``)."""
        info = self.keys.pop(keyid, None)
        if info is not None and self.devices.get(info.subject_id) is info:
            del self.devices[info.subject_id]

    def add(self, entry: Entry) -> None:
        rec = entry.record
        assert isinstance(rec, Enrollment)
        if rec.keyid in self.keys:
            return
        if rec.subject_type == "dock":
            owner = rec.subject_id
        elif rec.subject_type in ("ledger_root", "archive_log"):
            owner = ARCHIVE
        else:
            owners = [self.keys[k].owner for k in entry.envelope.keyids if k in self.keys]
            owner = next((o for o in owners if o != ARCHIVE), owners[0] if owners else ARCHIVE)
        info = KeyInfo(rec.keyid, owner, rec.subject_type, rec.subject_id, entry.entry_hash, entry.idx,
                       rec.custodian)
        self.keys[rec.keyid] = info
        if rec.subject_type == "device":
            self.devices[rec.subject_id] = info

    def docks(self) -> dict[str, list[KeyInfo]]:
        out: dict[str, list[KeyInfo]] = {}
        for k in self.keys.values():
            if k.subject_type == "dock":
                out.setdefault(k.subject_id, []).append(k)
        return out

    def is_dock(self, name: str) -> bool:
        return any(k.subject_type == "dock" and k.subject_id == name for k in self.keys.values())

    def owner(self, keyid: str) -> str | None:
        info = self.keys.get(keyid)
        return None if info is None else info.owner


def register_dock(ledger: Ledger, admin: Signer, name: str, pub: PublicKey, *, now_ns: int | None = None) -> Entry:
    """Enroll a dock's key in the archive ledger, signed by the admin key. Idempotent for the
    same key; a key that already belongs to something else is refused."""
    from syncd.protocol import DOCK_PATTERN

    if not re.fullmatch(DOCK_PATTERN, name):
        raise DockRegistryError(_("dock name {name!r} must match {pattern}").format(name=name, pattern=DOCK_PATTERN))
    root = ledger.enrollment(admin.keyid)
    if root is None or root.subject_type != "ledger_root":
        raise DockRegistryError(_("{path}: the admin key {keyid}… is not this ledger's root; use the archive's "
                                  "keys/admin.key").format(path=ledger.path, keyid=admin.keyid[:16]))
    existing = ledger.enrollment(pub.keyid)
    if existing is not None and (existing.subject_type, existing.subject_id) != ("dock", name):
        raise DockRegistryError(_("key {keyid}… is already enrolled as {subject_type} {subject_id}; a dock needs "
                                  "its own key").format(keyid=pub.keyid[:16], subject_type=existing.subject_type,
                                                        subject_id=existing.subject_id))
    return enroll(ledger, admin, "dock", name, pub, now_ns=now_ns)


def revoke_dock(ledger: Ledger, admin: Signer, name: str, reason: str, *, now_ns: int | None = None) -> list[Entry]:
    """Withdraw a lost, stolen or retired dock: each of its current keys gets a revocation signed
    by the admin key (who enrolled it). From then on the archive accepts nothing signed by them
    (``Trust.revoke``); what it delivered before stays evidence, verifiable as before. Its
    recorders are re-enrolled at another dock with ``archive device transfer``."""
    import time

    if not reason.strip():
        raise DockRegistryError(_("say why the dock is revoked (--reason)"))
    root = ledger.enrollment(admin.keyid)
    if root is None or root.subject_type != "ledger_root":
        raise DockRegistryError(_("{path}: the admin key {keyid}… is not this ledger's root; use the archive's "
                                  "keys/admin.key").format(path=ledger.path, keyid=admin.keyid[:16]))
    keys = Trust.load(ledger).docks().get(name, [])
    if not keys:
        raise DockRegistryError(_("{name!r} is not a registered dock with a current key (see `bodycam archive dock "
                                  "list`)").format(name=name))
    now = now_ns if now_ns is not None else time.time_ns()
    entries = []
    for info in keys:
        body = Revocation(keyid=info.keyid, subject_type="dock", subject_id=name, reason=reason, revoked_ns=now)
        entries.append(ledger.append(seal(make_body(body), admin), require_trusted=True))
    log.warning("dock %s revoked (%d key(s)) by the admin key", name, len(entries))
    return entries


def withdraw_broker_credentials(broker_dir: Path, name: str, archive_identity: str = "archive") -> Path:
    """Take a revoked dock out of the broker deployment: the ACL and password file are rewritten
    without it and its password file removed. Its client certificate may still complete a TLS
    handshake, but the ACL gives its name no topic (docs/deploy.md). Returns the ACL path."""
    from archive.broker.config import BrokerDeployment, ensure_password, hash_password, read_password, render_acl

    broker_dir = Path(broker_dir)
    acl = broker_dir / "acl"
    if not acl.exists():
        raise ConfigError(_("{dir}: no broker deployment here (no acl); run `bodycam broker render` first or fix "
                            "archive.broker_dir").format(dir=broker_dir))
    docks = tuple(u for u in _acl_users(acl) if u not in (archive_identity, name))
    dep = BrokerDeployment(dir=broker_dir, docks=docks, archive=archive_identity)
    lines = [f"{n}:{hash_password(read_password(ensure_password(dep, n)))}" for n in dep.identities]
    write_secret(dep.passwd_path, "\n".join(lines) + "\n")
    write_secret(dep.acl_path, render_acl(dep))
    dep.password_path(name).unlink(missing_ok=True)
    log.warning("broker credentials of dock %s withdrawn in %s", name, broker_dir)
    return dep.acl_path


@dataclass(frozen=True)
class BrokerCredentials:
    name: str
    password_file: Path
    cert: Path | None
    key: Path | None
    acl: Path
    passwd: Path


def _acl_users(acl: Path) -> list[str]:
    if not acl.exists():
        return []
    return [line.split(None, 1)[1].strip() for line in acl.read_text(encoding="utf-8").splitlines()
            if line.startswith("user ")]


def issue_broker_credentials(broker_dir: Path, name: str, docks: list[str], archive_identity: str = "archive",
                             ) -> BrokerCredentials:
    """Give a registered dock its broker identity in a deployment rendered by ``bodycam broker
    render``: a client certificate (if the deployment has a CA), a password, and the ACL and
    password file rewritten for every dock (``mosquitto.conf`` is left alone: it names no dock).
    The running broker picks them up on SIGHUP."""
    from archive.broker import pki
    from archive.broker.config import (
        BrokerDeployment,
        ensure_password,
        hash_password,
        read_password,
        render_acl,
        write_secret,
    )

    broker_dir = Path(broker_dir)
    acl = broker_dir / "acl"
    if not acl.exists():
        raise ConfigError(_("{dir}: no broker deployment here (no acl); run `bodycam broker render` first or fix "
                            "archive.broker_dir").format(dir=broker_dir))
    known = [u for u in _acl_users(acl) if u != archive_identity]
    all_docks = tuple(dict.fromkeys([*known, *docks, name]))
    dep = BrokerDeployment(dir=broker_dir, docks=all_docks, archive=archive_identity)
    cert = key = None
    if dep.pki.ca_key.exists():
        cert, key = dep.pki.client_cert(name), dep.pki.client_key(name)
        if not cert.exists():
            pki.issue_client(dep.pki.dir, name)
    password_file = ensure_password(dep, name)
    lines = [f"{n}:{hash_password(read_password(ensure_password(dep, n)))}" for n in dep.identities]
    write_secret(dep.passwd_path, "\n".join(lines) + "\n")
    write_secret(dep.acl_path, render_acl(dep))
    log.info("broker credentials for dock %s written to %s", name, broker_dir)
    return BrokerCredentials(name, password_file, cert, key, dep.acl_path, dep.passwd_path)
