"""The ``[agent]`` section of bodycam.toml: the dock / Pi companion."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field

from bodycam.configfile import StrictModel
from bodycam.permissions import sqlite_files

DOCK_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""A dock name becomes an MQTT topic level and a broker user name: keep it to safe characters."""


class ReferenceKind(StrEnum):
    ntp = "ntp"
    system = "system"
    gps = "gps"


class ClockConfig(StrictModel):
    reference: ReferenceKind = Field(default=ReferenceKind.ntp, description="Reference clock for calibration.")
    ntp_servers: list[str] = Field(default_factory=lambda: ["ntp.aliyun.com:123", "cn.pool.ntp.org:123"],
                                   description="NTP servers as host:port.")
    quorum: int = Field(default=1, ge=1, description="How many servers must answer and agree.")
    max_disagreement_s: float = Field(default=0.5, gt=0, description="Servers farther apart are not trusted.")
    ntp_timeout_s: float = Field(default=2.0, gt=0, description="Per-server NTP query timeout.")
    gps_port: str | None = Field(default=None, description="Serial port of an NMEA GPS receiver.")
    gps_baudrate: int = Field(default=9600, gt=0, description="Baud rate of the GPS receiver's NMEA output.")
    system_max_error_s: float = Field(default=0.5, gt=0,
                                      description="reference = system: largest kernel maximum error.")
    tolerance_s: float | None = Field(default=None, gt=0,
                                      description="Residual offset allowed after setting; default per profile.")
    samples: int = Field(default=5, ge=1, le=50, description="Clock samples per offset measurement.")


class AgentConfig(StrictModel):
    dock_id: str = Field(default="dock-1", pattern=DOCK_ID_PATTERN,
                         description="Name of this dock; the MQTT topic prefix and broker identity.")
    data_dir: Path = Field(default=Path("."), description="Where the dock keeps its ledger, store and keys.")
    key_file: Path = Field(default=Path("keys/dock.key"), description="The dock's own Ed25519 key (0600).")
    device_key_dir: Path = Field(default=Path("keys/devices"), description="Per-recorder keys (0600).")
    ledger: Path = Field(default=Path("ledger.db"), description="The dock ledger.")
    store_dir: Path = Field(default=Path("store"), description="Offloaded segments.")
    state_db: Path = Field(default=Path("state.db"), description="Operational state (fleet checks).")
    mount_root: Path = Field(default=Path("mnt"), description="Where recorders' USB storage appears.")
    profiles_dir: Path | None = Field(default=None, description="Extra firmware profiles directory.")
    shift_hours: float = Field(default=8.0, gt=0, le=24, description="A working day (A2 Art.12).")
    battery_margin_pct: float = Field(default=10.0, ge=0, le=100,
                                      description="Battery kept in reserve beyond the shift, in %.")
    storage_margin_pct: float = Field(default=10.0, ge=0, le=100,
                                      description="Extra free storage required beyond the shift, in %.")
    readiness_max_age_s: int = Field(default=12 * 3600, gt=0, description="Older checks count as not ready.")
    gap_bound_s: float = Field(default=2.0, ge=0, description="A longer pause between segments is a gap.")
    mount_wait_s: float = Field(default=30.0, gt=0, description="How long to wait for a recorder's storage.")
    ports: list[str] = Field(default_factory=list,
                             description="Fixed recorder ports for `agent run`, as PORT=PROFILE (besides USB "
                                         "VID/PID discovery).")
    unattended_activity: str = Field(default="unassigned", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                     description="Activity given to footage docked unattended (A2 Art.4); "
                                                 "assign the case later.")
    enroll_on_dock: bool = Field(default=False,
                                 description="Equipment manager's policy: may docking (`bodycam dock`, `agent run`) "
                                             "enroll a recorder this dock has never enrolled, naming the officer "
                                             "it reports as custodian? Off: it is refused (exit 3) until enrolled "
                                             "with `bodycam device enroll` (a reused serial port must not bring "
                                             "another recorder into the ledger).")
    poll_interval_s: float = Field(default=2.0, gt=0, description="How often `agent run` looks for recorders.")
    checkpoint_interval_s: float = Field(default=300.0, gt=0,
                                         description="`agent run` signs a checkpoint of the dock ledger this "
                                                     "often when it grew (besides after every docking, "
                                                     "justification and approval).")
    clock: ClockConfig = Field(default_factory=ClockConfig)

    def path(self, p: Path) -> Path:
        """Resolve a configured path against ``data_dir``."""
        return p if p.is_absolute() else self.data_dir / p

    def private_trees(self) -> list[Path]:
        """What only the service user may read (``bodycam.permissions.check_private``): the
        ledger, the store, the state database (``sync run`` adds its own)."""
        return [*sqlite_files(self.path(self.ledger)), self.path(self.store_dir),
                *sqlite_files(self.path(self.state_db))]
