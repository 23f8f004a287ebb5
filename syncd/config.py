"""The ``[syncd]`` section of bodycam.toml: how a dock reaches the archive over MQTT."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import Field

from bodycam.configfile import StrictModel


class BrokerConfig(StrictModel):
    host: str = Field(default="127.0.0.1", description="MQTT broker host.")
    port: int = Field(default=8883, ge=1, le=65535, description="MQTT broker port (8883: TLS).")
    tls: bool = Field(default=True, description="Use TLS; only loopback tests may turn it off.")
    ca_file: Path | None = Field(default=None, description="CA that signed the broker certificate.")
    cert_file: Path | None = Field(default=None, description="Client certificate (TLS client auth).")
    key_file: Path | None = Field(default=None, description="Client certificate key (0600).")
    username: str | None = Field(default=None, description="Broker user name (password auth).")
    password_file: Path | None = Field(default=None, description="File holding the broker password (0600).")
    keepalive_s: int = Field(default=30, ge=5, description="MQTT keep-alive interval.")
    client_id: str | None = Field(default=None, max_length=64,
                                  description="MQTT client id; default: the dock id (or 'archive').")
    session_expiry_s: int = Field(default=7 * 86400, ge=0, le=0xFFFFFFFF,
                                  description="Broker keeps the session and queued QoS 1 messages this long.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="Give up connecting after this long.")

    def resolved(self, base: Path) -> BrokerConfig:
        """Relative credential paths in a [broker] section are relative to the section's data_dir."""
        fields = {}
        for name in ("ca_file", "cert_file", "key_file", "password_file"):
            value = getattr(self, name)
            if value is not None and not value.is_absolute():
                fields[name] = base / value
        return self.model_copy(update=fields)


class SyncdConfig(StrictModel):
    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    chunk_size: int = Field(default=1 << 20, ge=256 << 10, le=4 << 20, description="Bytes per chunk.")
    window: int = Field(default=16, ge=1, le=16, description="Unacknowledged chunks in flight.")
    ack_timeout_s: float = Field(default=30.0, gt=0,
                                 description="Back off when the archive is silent this long.")
    archive_pubkey: Path | None = Field(default=None, description="The archive's log public key.")
    state_db: Path = Field(default=Path("sync.db"),
                           description="What the archive has committed (relative to agent.data_dir).")
    backoff_max_s: float = Field(default=60.0, gt=0, description="Longest pause when the archive is silent.")
    poll_s: float = Field(default=5.0, gt=0, description="How often the daemon looks for new ledger entries.")
    retry_rejected_s: float = Field(default=3600.0, gt=0,
                                    description="The daemon offers a refused item again after this long.")


class DockSide(Protocol):
    """What the uploader needs to know of the dock it runs on (the ``[agent]`` section satisfies
    it): its name, where its ledger and store are. A protocol, so that the transfer package does
    not depend on the dock's package."""

    dock_id: str
    data_dir: Path
    ledger: Path
    store_dir: Path

    def path(self, p: Path) -> Path: ...
