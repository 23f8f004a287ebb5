"""The ``[archive]`` section of bodycam.toml: the bureau side."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from bodycam.configfile import StrictModel
from bodycam.permissions import sqlite_files
from syncd.config import BrokerConfig


class ArchiveConfig(StrictModel):
    origin: str = Field(default="bodycam.example.gov.cn/archive",
                        description="Checkpoint origin line: names this log.")
    data_dir: Path = Field(default=Path("."), description="Where the archive keeps ledger, blobs and keys.")
    log_key: Path = Field(default=Path("keys/log.key"), description="The archive's log key (0600).")
    admin_key: Path = Field(default=Path("keys/admin.key"), description="Key that enrolls people.")
    ledger: Path = Field(default=Path("ledger.db"), description="The archive ledger.")
    blob_dir: Path = Field(default=Path("blobs"), description="Content-addressed blob store.")
    part_dir: Path = Field(default=Path("parts"), description="Transfers in progress.")
    checkpoint_every: int = Field(default=1000, ge=1, description="Checkpoint after this many entries.")
    checkpoint_interval_s: int = Field(default=300, ge=1, description="...or after this many seconds.")
    retention_days: int = Field(default=366, ge=366, description="At least 12 months (A2 Art.16).")
    low_disk_pct: int = Field(default=10, ge=0, le=100,
                              description="Alert when less than this % of the archive's disk is free "
                                          "(an alert only: unexpired evidence is never purged).")
    max_file_size: int = Field(default=64 << 30, gt=0, description="Largest segment accepted, in bytes.")
    state_db: Path = Field(default=Path("receiver.db"),
                           description="Transfers in progress, docks' last contact (operational, not evidence).")
    max_open_bytes_per_dock: int = Field(default=8 << 30, gt=0,
                                         description="Bytes one dock's unfinished transfers may hold; "
                                                     "more is refused (quota) until some finish.")
    transfer_idle_s: int = Field(default=24 * 3600, ge=1,
                                 description="Drop a transfer (and its part file) idle this many seconds.")
    max_rejections: int = Field(default=10_000, ge=1, description="Refusals kept in state_db (the newest).")
    broker_dir: Path | None = Field(default=None,
                                    description="Broker deployment folder (acl, passwd, pki/) `dock add` updates.")
    holidays_file: Path | None = Field(
        default=None, description="Local working-day data (TOML, one [YEAR] table of holidays and make-up "
                                  "working days) for years chinese-calendar does not cover yet "
                                  "(archive/workdays.py).")
    review_catalogue: Path | None = Field(
        default=None, description="Catalogue of major enforcement decisions (TOML: [[items]] code, label, criterion "
                                  "1-6; [fines] yuan thresholds per party kind) for legal review (A3 Art.3); unset: "
                                  "the built-in one (archive/review/catalogue.py). Each version used is recorded in "
                                  "the ledger.")
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="The archive's broker identity.")

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else self.data_dir / p

    def private_trees(self) -> list[Path]:
        """What only the service user may read (``bodycam.permissions.check_private``, checked by
        ``archive serve`` at start-up): the ledger, blobs, part files, the receiver's state."""
        return [*sqlite_files(self.path(self.ledger)), self.path(self.blob_dir), self.path(self.part_dir),
                *sqlite_files(self.path(self.state_db))]
