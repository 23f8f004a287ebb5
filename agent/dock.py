"""One dock's resources and the flows an officer or equipment manager triggers on it:
enroll a recorder, calibrate and arm it before a shift (A2 Art.13), dock it after (A2 Art.8, 15).

The library does the work; ``agent/dock_cli.py`` and the ``agent run`` daemon are thin callers.
Every fact these flows learn is a signed record in the dock ledger; the state DB only caches
what equipment managers look at (fleet readiness).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.clock.calibrate import (
    CalibrationResult,
    calibrate,
    calibration_body,
    calibration_point,
    clock_params,
    measure_recorder,
)
from agent.clock.measure import ClockError, ClockUnknown
from agent.clock.reference import ReferenceClock
from agent.config import AgentConfig
from agent.device_check import DeviceStatus, check_device
from agent.fleet import StateDB
from agent.link.driver import Identity, OfficerInfo, RecorderLink
from agent.offload.files import OffloadSummary, Progress, offload, open_session
from agent.readiness import Margins, evaluate_readiness
from agent.store import DockStore
from bodycam.errors import BodycamError, RefusedError
from bodycam.formats import printable
from bodycam.i18n import N_, Message, _, english, joined
from ledger.checks.custody import custody_of
from ledger.enroll import enroll, public_of
from ledger.envelope import seal
from ledger.keys import Signer, generate_key_file, load_signer
from ledger.store import Entry, Ledger

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class DeviceRef:
    device_id: str
    signer: Signer
    enrollment: Entry
    created: bool
    custodian: str | None


@dataclass
class DockContext:
    """The dock's ledger, key, store and state DB, opened from ``[agent]``."""

    cfg: AgentConfig
    signer: Signer
    ledger: Ledger
    store: DockStore
    state: StateDB
    passphrase_env: str | None = None

    @classmethod
    def open(cls, cfg: AgentConfig, passphrase_env: str | None = None) -> DockContext:
        key = cfg.path(cfg.key_file)
        if not key.exists():
            raise BodycamError(_("dock key {key} not found: create this dock with `bodycam init --role dock --dir "
                                 "DIR` or point --config at its bodycam.toml").format(key=key))
        signer = load_signer(key, passphrase_env)
        ledger = Ledger.open(cfg.path(cfg.ledger))
        if ledger.size == 0 or ledger.get(0).body.get("keyid") != signer.keyid:
            ledger.close()
            raise BodycamError(_("{ledger} is not rooted in this dock's key {keyid}…; run `bodycam init --role "
                                 "dock` for a new dock").format(ledger=cfg.path(cfg.ledger), keyid=signer.keyid[:16]))
        return cls(cfg, signer, ledger, DockStore(cfg.path(cfg.store_dir)), StateDB(cfg.path(cfg.state_db)),
                   passphrase_env)

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> DockContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- devices (A2 Art.12) ---------------------------------------------------------------------

    def device_key_path(self, device_id: str) -> Path:
        if not _DEVICE_ID.match(device_id):
            raise BodycamError(_("device id {device_id!r} cannot name a key file").format(device_id=device_id))
        return self.cfg.path(self.cfg.device_key_dir) / f"{device_id}.key"

    def find_enrollment(self, device_id: str) -> Entry | None:
        found = None
        for entry in self.ledger.entries(kind="enrollment", device_id=device_id):
            if entry.body.get("subject_type") == "device":
                found = entry
        return found

    def is_enrolled(self, device_id: str) -> bool:
        """Does this dock hold a live enrollment of the recorder (not ended by a hand-over)?"""
        if self.find_enrollment(device_id) is None:
            return False
        held = custody_of(self.ledger, device_id)
        return held is None or held.handover is None

    def ensure_device(self, ident: Identity, profile_id: str, *, custodian: str | None = None,
                      custodian_name: str = "", unit: str | None = None,
                      now_ns: int | None = None) -> DeviceRef:
        """The recorder's key and enrollment, created the first time this dock meets it.

        The key stays on this dock (0600); the enrollment, signed by the dock, binds the key
        to the serial and names the custodian (A2 Art.12). Docking calls this only for a
        recorder already enrolled, unless ``[agent] enroll_on_dock`` allows it (see
        ``check_docking_identity``)."""
        device_id = device_id_for(ident)
        existing = self.find_enrollment(device_id)
        key_path = self.device_key_path(device_id)
        held = custody_of(self.ledger, device_id) if existing is not None else None
        if held is not None and held.handover is not None:
            if held.handover.to_dock != self.cfg.dock_id:
                raise RefusedError(_("recorder {device_id} was handed over to dock {dock}; dock it there (its chain "
                                     "on this dock has ended)").format(device_id=device_id,
                                                                        dock=held.handover.to_dock))
            # Handed over to this dock itself: a new key for it, a new chain; the old key is kept aside.
            if key_path.exists():
                key_path.rename(key_path.with_name(f"{device_id}.{held.keyid[:16]}.retired.key"))
            existing = None
        if existing is not None:
            if not key_path.exists():
                raise BodycamError(_("recorder {device_id} is enrolled in {ledger} but its key {key} is missing: "
                                     "restore it from the dock's backup; its segments cannot be signed without it")
                                   .format(device_id=device_id, ledger=self.ledger.path, key=key_path))
            signer = load_signer(key_path, self.passphrase_env)
            if signer.keyid != existing.body["keyid"]:
                raise BodycamError(_("{key} is not the key enrolled for {device_id}").format(key=key_path,
                                                                                              device_id=device_id))
            return DeviceRef(device_id, signer, existing, False, existing.body.get("custodian"))
        key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if key_path.exists():
            signer = load_signer(key_path, self.passphrase_env)  # enrolment interrupted after keygen
        else:
            signer = generate_key_file(key_path, self.passphrase_env)
        entry = enroll(self.ledger, self.signer, "device", device_id, public_of(signer), now_ns=now_ns,
                       custodian=custodian, profile=profile_id, serial=ident.serial,
                       name=(ident.model or None), unit=unit)
        if custodian:
            self.state.set_custodian(ident.serial, custodian, custodian_name, profile=profile_id)
        log.info("enrolled recorder %s (key %s…), custodian %s", device_id, signer.keyid[:16], custodian)
        return DeviceRef(device_id, signer, entry, True, custodian)

    # -- calibrations (A2 Art.13) ----------------------------------------------------------------

    def calibrations(self, device_id: str) -> list[Entry]:
        return list(self.ledger.entries(kind="calibration", device_id=device_id))

    def record_calibration(self, result: CalibrationResult, device_id: str, profile_id: str, *,
                           battery_pct: int | None = None, storage_free_bytes: int | None = None) -> Entry:
        body = calibration_body(result, device_id, dock_id=self.cfg.dock_id, profile=profile_id,
                                battery_pct=battery_pct, storage_free_bytes=storage_free_bytes)
        return self.ledger.append(seal(body, self.signer), require_trusted=True)


def ensure_linked_device(ctx: DockContext, link: RecorderLink, custodian: str | None = None) -> DeviceRef:
    """Enroll the recorder on ``link`` if new; its custodian defaults to the officer it reports."""
    ident = link.identify()
    info: OfficerInfo | None = link.get_info() if link.profile.supports("get_info") else None
    return ctx.ensure_device(ident, link.profile.id, custodian=custodian or (info.officer_id if info else None),
                             custodian_name=info.officer_name if info else "",
                             unit=info.unit_id if info else None)


class UnknownRecorderError(RefusedError):
    """Docking met a recorder this dock has not enrolled, and policy does not let docking enroll it."""


class WrongRecorderError(RefusedError):
    """The recorder on the port is not the one the officer said (``--serial``)."""


def check_docking_identity(ctx: DockContext, link: RecorderLink, ident: Identity, *,
                           expect_serial: str | None = None, enroll_unknown: bool | None = None) -> bool:
    """Is this the recorder to dock, and may it be docked? Before anything is written.

    A serial port can be reused: after a recorder switched to mass storage, another one plugged
    in may take its port. Docking therefore never enrolls a recorder as a side effect: one this
    dock has not enrolled is refused unless the equipment manager's policy ``[agent]
    enroll_on_dock`` (or ``enroll_unknown``) allows it; with ``expect_serial`` any other recorder
    is refused. Returns whether the recorder is already enrolled here."""
    device_id = device_id_for(ident)
    shown = printable(ident.serial)
    if expect_serial is not None and ident.serial != expect_serial:
        raise WrongRecorderError(
            _("the recorder on {port} is {serial}, not {expected} (--serial): nothing was docked or recorded")
            .format(port=link.port, serial=shown, expected=printable(expect_serial)),
            [_("the port may have been taken by another recorder: find recorder {expected}, plug it into the dock "
               "and run the same command again").format(expected=printable(expect_serial)),
             _("to dock {serial} instead, run the command with --serial {serial}").format(serial=shown)])
    if ctx.is_enrolled(device_id):
        return True
    held = custody_of(ctx.ledger, device_id) if ctx.find_enrollment(device_id) is not None else None
    if held is not None and held.handover is not None and held.handover.to_dock != ctx.cfg.dock_id:
        raise RefusedError(_("recorder {serial} was handed over to dock {dock}; dock it there (its chain on this "
                             "dock has ended): nothing was recorded").format(serial=shown,
                                                                              dock=held.handover.to_dock))
    allowed = ctx.cfg.enroll_on_dock if enroll_unknown is None else enroll_unknown
    if allowed:
        return False
    enroll_cmd = f"bodycam device enroll --port {link.port} --profile {link.profile.id}"
    raise UnknownRecorderError(
        _("recorder {serial} ({profile} on {port}) is not enrolled on dock {dock}: it is refused and nothing was "
          "recorded; enroll it with `{command}`, then dock it again").format(
            serial=shown, profile=link.profile.id, port=link.port, dock=ctx.cfg.dock_id, command=enroll_cmd),
        [_("enrolling is the equipment manager's job: it makes the recorder's key on this dock and names its "
           "custodian (--custodian OFFICER, default the officer the recorder reports)"),
         _("if you expected another recorder, the port may have been taken by this one: check which recorder is "
           "in the dock (dock with --serial SERIAL to make sure)")])


_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


def device_id_for(ident: Identity) -> str:
    """The recorder's device number as the ledger names it (A2 Art.15): its serial.

    It also names the device's key file and its mount folder, so it is held to a strict
    alphabet: whatever a recorder claims over serial never becomes a path unchecked."""
    if not _DEVICE_ID.match(ident.serial):
        raise BodycamError(_("recorder serial {serial!r} cannot be used as a device id (letters, digits, '_', '-' "
                             "only, at most 64); check the profile's identify parser").format(serial=ident.serial))
    return ident.serial


@dataclass
class ArmResult:
    device_id: str
    armed: bool
    status: DeviceStatus | None
    calibration: CalibrationResult | None
    calibration_entry: str | None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        cal = self.calibration

        def s(ns: int | None) -> float | None:
            return None if ns is None else round(ns / NS_PER_S, 6)

        return {
            "device_id": self.device_id, "armed": self.armed, "reasons": self.reasons,
            "warnings": self.warnings, "calibration_entry": self.calibration_entry,
            "offset_before_s": s(cal.offset_before_ns) if cal else None,
            "offset_after_s": s(cal.offset_after_ns) if cal else None,
            "uncertainty_s": s(cal.uncertainty_ns) if cal else None,
            "tolerance_s": s(cal.tolerance_ns) if cal else None,
            "calibrated": bool(cal and cal.passed),
            "status": self.status.as_dict() if self.status else None,
        }


def calibrate_device(ctx: DockContext, link: RecorderLink, reference: ReferenceClock, *,
                     status: DeviceStatus | None = None, **overrides) -> ArmResult:
    """Measure → set → re-measure the recorder's clock and record the attempt, passed or refused."""
    dev = ensure_linked_device(ctx, link)
    if not link.profile.supports("set_time") or not link.profile.supports("get_time"):
        raise RefusedError(_("profile {profile} cannot read and set the recorder clock; it cannot be armed "
                             "(A2 Art.13)").format(profile=link.profile.id),
                           [_("clock cannot be calibrated over this link")])
    params = clock_params(link.profile, ctx.cfg.clock)
    previous = [p for p in (calibration_point(e.body) for e in ctx.calibrations(dev.device_id)) if p]
    kwargs = {**params.as_kwargs(), **overrides}
    result = calibrate(link, reference, previous=previous, shift_hours=ctx.cfg.shift_hours, **kwargs)
    entry = ctx.record_calibration(result, dev.device_id, link.profile.id,
                                   battery_pct=status.battery_pct if status else None,
                                   storage_free_bytes=status.storage_free_bytes if status else None)
    return ArmResult(dev.device_id, result.passed, status, result, entry.entry_hash,
                     reasons=list(result.reasons), warnings=list(result.warnings))


def arm_device(ctx: DockContext, link: RecorderLink, reference: ReferenceClock,
               clock: Callable[[], float] = time.time, **overrides) -> ArmResult:
    """Readiness for a working day plus a passed calibration; otherwise the recorder is not armed.

    The clock is calibrated even when battery or card fall short, so the record shows both."""
    status = check_device(link, ctx.cfg, clock)
    # Readiness without judging the clock: calibration below is what proves it.
    margins = Margins(battery_pct=ctx.cfg.battery_margin_pct, storage_pct=ctx.cfg.storage_margin_pct)
    verdict = evaluate_readiness(status.battery_pct, status.storage_free_bytes, True, status.faults, link.profile,
                                 ctx.cfg.shift_hours, margins)
    result = calibrate_device(ctx, link, reference, status=status, **overrides)
    reasons = list(verdict.reasons) + result.reasons
    result.armed = verdict.ready and result.armed
    result.reasons = reasons
    check = status.as_check()
    ctx.state.record_check(_with_verdict(check, result.armed, reasons))
    return result


def _with_verdict(check, ready: bool, reasons: list[str]):
    from dataclasses import replace

    return replace(check, ready=ready, reasons=list(reasons))


# -- docking (A2 Art.8, 14, 15) ------------------------------------------------------------------


@dataclass
class DockResult:
    device_id: str
    summary: OffloadSummary
    offset_s: float | None
    clock_entry: str | None
    complete: bool
    clock_unknown: bool = False

    def as_dict(self) -> dict:
        return {"device_id": self.device_id, "offset_s": self.offset_s, "clock_entry": self.clock_entry,
                "clock_unknown": self.clock_unknown, "complete": self.complete, **self.summary.as_dict()}


def dock_recorder(ctx: DockContext, link: RecorderLink, *, officer_id: str | None, case_id: str | None,
                  activity: str | None, reference: ReferenceClock | None, mount_root: Path | None = None,
                  progress: Callable[[Progress], None] | None = None, stop=None,
                  now_ns: Callable[[], int] = time.time_ns, expect_serial: str | None = None,
                  enroll_unknown: bool | None = None,
                  on_mass_storage: Callable[[str], None] | None = None) -> DockResult:
    """Identify, record the session, measure the clock, switch to mass storage, offload.

    The recorder must be enrolled on this dock (and be ``expect_serial`` when given); otherwise
    it is refused before anything is written (``check_docking_identity``). ``on_mass_storage``
    is called with the device id once the recorder has left the serial side.

    The clock is measured before the recorder leaves the serial side: the offset found here
    corrects the footage times (both kept) and, beyond tolerance, flags them (A2 Art.13). A clock
    that cannot be read or represented is "clock unknown": a refused calibration says so, and
    the footage is offloaded all the same, its times uncorrected and flagged ``clock_unknown``."""
    profile = link.profile
    ident = link.identify()
    check_docking_identity(ctx, link, ident, expect_serial=expect_serial, enroll_unknown=enroll_unknown)
    info: OfficerInfo | None = link.get_info() if profile.supports("get_info") else None
    officer = officer_id or (info.officer_id if info else None)
    if not officer:
        raise BodycamError(_("no officer for this docking: pass --officer (the recorder does not report one)"))
    dev = ctx.ensure_device(ident, profile.id, custodian=officer,
                            custodian_name=info.officer_name if info else "", unit=info.unit_id if info else None)
    params = clock_params(profile, ctx.cfg.clock)
    offset_ns, clock_entry, clock_problem, clock_unknown = 0, None, None, False
    if reference is not None and profile.supports("get_time"):
        try:
            clock_entry, offset_ns = _docking_clock(ctx, link, reference, dev.device_id, params)
        except ClockUnknown as exc:
            clock_unknown = True
            clock_problem = Message(N_("clock unknown at docking: {error}; footage offloaded with the recorder's own "
                                    "times where a record holds them (else the dock's receive time), flagged "
                                    "clock_unknown"), error=exc)
            clock_entry = _record_clock_unknown(ctx, link, dev.device_id, params, exc, clock_problem, now_ns)
            log.warning("%s: %s", dev.device_id, english(clock_problem))
        except (RefusedError, ClockError) as exc:
            # Evidence is offloaded all the same; the times stay as the recorder reported them.
            clock_problem = Message(N_("clock not measured at docking: {error} {reasons}"), error=exc,
                                 reasons=joined(getattr(exc, "reasons", []), " "))
    else:
        clock_problem = Message(N_("clock not measured at docking (no reference, or the model cannot report its "
                                "time)"))
    if clock_entry is None:
        latest = ctx.calibrations(dev.device_id)
        clock_entry = latest[-1].entry_hash if latest else None
        log.warning("%s: %s; times are as the recorder reported them", dev.device_id, english(clock_problem))
    session_id = f"{ctx.cfg.dock_id}-{uuid.uuid4().hex[:16]}"
    session = open_session(ctx.ledger, ctx.signer, session_id=session_id, dock_id=ctx.cfg.dock_id,
                           device_id=dev.device_id, officer_id=officer, case_id=case_id, activity=activity,
                           now_ns=now_ns())
    link.enter_mass_storage()
    if on_mass_storage is not None:
        on_mass_storage(dev.device_id)
    root = mount_root or ctx.cfg.path(ctx.cfg.mount_root)
    summary = offload(root / dev.device_id, device_id=dev.device_id, device_signer=dev.signer,
                      dock_signer=ctx.signer, ledger=ctx.ledger, store=ctx.store, session=session,
                      officer_id=officer, case_id=case_id, activity=activity,
                      unit=info.unit_id if info else None, calibration=clock_entry, offset_ns=offset_ns,
                      clock_unknown=clock_unknown, tolerance_ns=params.tolerance_ns,
                      gap_bound_ns=int(ctx.cfg.gap_bound_s * NS_PER_S),
                      recorder_tz=params.tz, mount_wait_s=ctx.cfg.mount_wait_s, clock=now_ns,
                      progress=progress, stop=stop)
    if clock_problem:
        summary.problems.insert(0, clock_problem)
    measured = clock_problem is None
    return DockResult(dev.device_id, summary, offset_ns / NS_PER_S if measured else None, clock_entry, True,
                      clock_unknown)


def _record_clock_unknown(ctx: DockContext, link: RecorderLink, device_id: str, params, exc: ClockUnknown,
                          reason: str, now_ns: Callable[[], int]) -> str | None:
    """A refused calibration record (``clock_set = false``, no offset) for a clock found unknown."""
    reading = exc.reference
    if reading is None:
        return None
    result = CalibrationResult(passed=False, reference=reading, tolerance_ns=params.tolerance_ns,
                               resolution_ns=params.resolution_ns, reasons=(reason,),
                               measured_ns=now_ns() + reading.offset_ns, clock_unknown=True,
                               device_time=exc.device_time[:64] or None)
    return ctx.record_calibration(result, device_id, link.profile.id).entry_hash


def _docking_clock(ctx: DockContext, link: RecorderLink, reference: ReferenceClock, device_id: str,
                   params) -> tuple[str | None, int]:
    """Measure (never set) the recorder's clock at docking and record it as a calibration record
    with ``clock_set = false``: ``passed`` within tolerance, else ``refused`` with the drift."""
    reading, est = measure_recorder(link, reference, **params.as_kwargs())
    within = abs(est.offset_ns) + est.uncertainty_ns <= params.tolerance_ns
    reasons = [] if within else [
        Message(N_("clock found {offset:+.3f} s off at docking (tolerance {tolerance:g} s): footage times corrected by "
                "the measured offset and flagged"),
             offset=est.offset_ns / NS_PER_S, tolerance=params.tolerance_ns / NS_PER_S)]
    result = CalibrationResult(passed=within, reference=reading, tolerance_ns=params.tolerance_ns,
                               resolution_ns=params.resolution_ns, offset_before_ns=est.offset_ns,
                               uncertainty_ns=est.uncertainty_ns, before=est, reasons=tuple(reasons),
                               measured_ns=est.measured_ns)
    entry = ctx.record_calibration(result, device_id, link.profile.id)
    return entry.entry_hash, est.offset_ns
