"""The dock's operational state: which recorders it has seen and their last readiness checks.

Operational, not evidential: it is not signed and may be rebuilt, so it lives in its own small
SQLite file (sqlite-utils) beside the ledger rather than in it. Equipment managers read it as the
fleet view (A2 Art.12: every device and its custodian).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from agent.link.driver import SERIAL_RE
from bodycam.errors import BodycamError
from bodycam.i18n import N_, Message, _, english
from bodycam.permissions import create_private_file

if TYPE_CHECKING:
    from ledger.store import Ledger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _require_serial(serial: str) -> None:
    """A malformed serial never reaches the database (``RecorderLink.identify`` refuses it first)."""
    if not isinstance(serial, str) or not SERIAL_RE.match(serial):
        raise BodycamError(_("recorder serial {serial!r} is not a device id (letters, digits, '_' and '-', at "
                             "most 64): not stored").format(serial=str(serial)[:80]))


def _v1(db: sqlite_utils.Database) -> None:
    db["recorders"].create({
        "serial": str, "profile": str, "model": str, "first_seen_ns": int, "last_seen_ns": int,
        "officer_id": str, "officer_name": str, "unit_id": str,
        "custodian_id": str, "custodian_name": str,
    }, pk="serial", not_null={"profile", "first_seen_ns", "last_seen_ns"})
    db["checks"].create({
        "id": int, "serial": str, "checked_at_ns": int, "port": str, "profile": str,
        "battery_pct": int, "storage_free_bytes": int, "storage_total_bytes": int,
        "clock_offset_s": float, "recording": int, "ready": int, "reasons": str, "faults": str,
    }, pk="id", foreign_keys=[("serial", "recorders", "serial")], not_null={"serial", "checked_at_ns", "ready"})
    db["checks"].create_index(["serial", "checked_at_ns"])


def _v2(db: sqlite_utils.Database) -> None:
    # The reasons as messages (``bodycam.i18n.Message.to_data``), so that fleet status shows them in the
    # reader's language; ``reasons`` keeps the English (``--json``).
    db["checks"].add_column("reasons_text", str)


MIGRATIONS = [("0001_recorders_and_checks", _v1), ("0002_reasons_as_messages", _v2)]


@dataclass(frozen=True)
class CheckRecord:
    serial: str
    profile: str
    port: str
    checked_at_ns: int
    ready: bool
    reasons: list[str]
    model: str = ""
    officer_id: str = ""
    officer_name: str = ""
    unit_id: str = ""
    battery_pct: int | None = None
    storage_free_bytes: int | None = None
    storage_total_bytes: int | None = None
    clock_offset_s: float | None = None
    recording: bool | None = None
    faults: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FleetEntry:
    serial: str
    profile: str
    custodian: str
    last_check: str | None  # RFC 3339 UTC
    age_s: float | None
    verdict: str  # ready | not ready | stale | never checked
    ready: bool
    reasons: list[str]
    battery_pct: int | None = None          # from the last check
    storage_free_bytes: int | None = None
    storage_total_bytes: int | None = None
    armed_ns: int | None = None             # latest passed calibration that set the clock, since midnight
    armed_known: bool = False               # False: the dock ledger could not be read

    @property
    def armed_today(self) -> bool | None:
        return (self.armed_ns is not None) if self.armed_known else None

    def as_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "profile": self.profile, "custodian": self.custodian,
                "last_check": self.last_check, "age_s": self.age_s, "verdict": self.verdict,
                "ready": self.ready, "reasons": self.reasons, "battery_pct": self.battery_pct,
                "storage_free_bytes": self.storage_free_bytes, "storage_total_bytes": self.storage_total_bytes,
                "armed_today": self.armed_today,
                "armed_at": None if self.armed_ns is None else ns_to_rfc3339(self.armed_ns)}


def armed_since(ledger: Ledger, since_ns: int, until_ns: int | None = None) -> dict[str, int]:
    """Device id → time of its latest arming in [since_ns, until_ns]: a ``passed`` calibration
    that set the clock (``clock_set``), as ``device arm``/``calibrate`` record it in the dock
    ledger (A2 Art.13). A recorder's device id is its serial."""
    out: dict[str, int] = {}
    for e in ledger.entries(kind="calibration"):
        b = e.body
        if b.get("result") != "passed" or not b.get("clock_set"):
            continue
        at = int(b["measured_ns"])
        if at >= since_ns and (until_ns is None or at <= until_ns) and at > out.get(b["device_id"], -1):
            out[b["device_id"]] = at
    return out


def with_arming(entries: list[FleetEntry], armed: dict[str, int] | None) -> list[FleetEntry]:
    """``entries`` with their arming today; ``armed`` None: the dock ledger was not readable."""
    if armed is None:
        return entries
    return [replace(e, armed_ns=armed.get(e.serial), armed_known=True) for e in entries]


def ns_to_rfc3339(ns: int) -> str:
    return (EPOCH + timedelta(microseconds=ns // 1000)).isoformat().replace("+00:00", "Z")


def _reasons(chk: dict[str, Any]) -> list[str]:
    """A check's reasons, as messages when the check recorded them so (English otherwise)."""
    english_reasons = json.loads(chk["reasons"])
    try:
        data = json.loads(chk.get("reasons_text") or "null")
    except ValueError:
        data = None
    if not isinstance(data, list) or len(data) != len(english_reasons):
        return english_reasons
    return [Message.from_data(d) or e for d, e in zip(data, english_reasons, strict=True)]


def _age(seconds: float) -> Message:
    if seconds < 3600:
        return Message(N_("{minutes:.0f} min"), minutes=seconds / 60)
    return Message(N_("{hours:.1f} h"), hours=seconds / 3600)


class StateDB:
    def __init__(self, path: Path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            create_private_file(path)  # 0600, and so its -wal and -shm
            self.db = sqlite_utils.Database(path)
            self.db.enable_wal()
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise BodycamError(_("{path}: cannot open the dock state database: {error} (check agent.state_db and "
                                 "its folder's permissions)").format(path=path, error=exc)) from None

    def _migrate(self) -> None:
        if "migrations" not in self.db.table_names():
            self.db["migrations"].create({"name": str, "applied_ns": int}, pk="name")
        done = {r["name"] for r in self.db["migrations"].rows}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            with self.db.conn:
                fn(self.db)
                self.db["migrations"].insert({"name": name, "applied_ns": int(datetime.now(UTC).timestamp() * 1e9)})

    def record_check(self, c: CheckRecord) -> None:
        _require_serial(c.serial)
        with self.db.conn:
            existing = self.db["recorders"].rows_where("serial = ?", [c.serial])
            row = next(iter(existing), None)
            rec = {"serial": c.serial, "profile": c.profile, "model": c.model, "last_seen_ns": c.checked_at_ns,
                   "officer_id": c.officer_id, "officer_name": c.officer_name, "unit_id": c.unit_id}
            if row is None:
                rec["first_seen_ns"] = c.checked_at_ns
                self.db["recorders"].insert(rec)
            else:
                self.db["recorders"].update(c.serial, rec)
            self.db["checks"].insert({
                "serial": c.serial, "checked_at_ns": c.checked_at_ns, "port": c.port, "profile": c.profile,
                "battery_pct": c.battery_pct, "storage_free_bytes": c.storage_free_bytes,
                "storage_total_bytes": c.storage_total_bytes, "clock_offset_s": c.clock_offset_s,
                "recording": None if c.recording is None else int(c.recording), "ready": int(c.ready),
                "reasons": json.dumps([english(r) for r in c.reasons], ensure_ascii=False),
                "reasons_text": json.dumps([r.to_data() if isinstance(r, Message) else str(r) for r in c.reasons],
                                           ensure_ascii=False),
                "faults": json.dumps(c.faults, ensure_ascii=False)})

    def set_custodian(self, serial: str, officer_id: str, officer_name: str = "", *, profile: str = "",
                      at_ns: int | None = None) -> None:
        """Name the officer answerable for a recorder (A2 Art.12); enrollment calls this."""
        _require_serial(serial)
        at = at_ns if at_ns is not None else int(datetime.now(UTC).timestamp() * 1e9)
        with self.db.conn:
            if self.db["recorders"].count_where("serial = ?", [serial]):
                self.db["recorders"].update(serial, {"custodian_id": officer_id, "custodian_name": officer_name})
            else:
                self.db["recorders"].insert({"serial": serial, "profile": profile, "first_seen_ns": at,
                                             "last_seen_ns": at, "custodian_id": officer_id,
                                             "custodian_name": officer_name})

    def last_check(self, serial: str) -> dict[str, Any] | None:
        rows = list(self.db["checks"].rows_where("serial = ?", [serial], order_by="checked_at_ns desc, id desc",
                                                 limit=1))
        return rows[0] if rows else None

    def fleet(self, now_ns: int, max_age_s: float) -> list[FleetEntry]:
        """Every recorder seen, with its latest verdict; checks older than ``max_age_s`` are stale."""
        out = []
        for r in self.db["recorders"].rows_where(order_by="serial"):
            if r["custodian_id"]:
                custodian = f"{r['custodian_id']} {r['custodian_name'] or ''}".strip()
            elif r["officer_id"]:
                custodian = Message(N_("{officer} (from device)"),
                                 officer=f"{r['officer_id']} {r['officer_name'] or ''}".strip())
            else:
                custodian = Message(N_("(none)"))
            chk = self.last_check(r["serial"])
            if chk is None:
                out.append(FleetEntry(r["serial"], r["profile"], custodian, None, None, "never checked", False,
                                      [Message(N_("never checked: run `bodycam device status` on it"))]))
                continue
            age = (now_ns - chk["checked_at_ns"]) / 1e9
            reasons = _reasons(chk)
            ready = bool(chk["ready"])
            verdict = "ready" if ready else "not ready"
            if age > max_age_s:
                reasons = [Message(N_("last check {age} ago is older than {limit}: run `bodycam device status` again"),
                                age=_age(age), limit=_age(max_age_s))] + reasons
                ready, verdict = False, "stale"
            out.append(FleetEntry(r["serial"], r["profile"], custodian, ns_to_rfc3339(chk["checked_at_ns"]),
                                  round(age, 3), verdict, ready, reasons, chk["battery_pct"],
                                  chk["storage_free_bytes"], chk["storage_total_bytes"]))
        return out
