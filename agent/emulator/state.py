"""The emulator's state file (``bodycam emulate --state STATE.toml``), documented in the README.

A recorder's condition as data — who holds it, how full its battery and card are, how wrong its
clock is, what it recorded and which faults it shows — so a test or a demo can stage any
situation a dock meets without hardware.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from bodycam.configfile import StrictModel, load_model

FAULT_KINDS = ("split", "garbage", "bad_checksum", "silence", "busy", "refuse", "disconnect",
               "ack_without_effect", "time_jump")


class RecordingSpec(StrictModel):
    start: datetime | None = Field(default=None, description="True (UTC) start, RFC 3339; default: "
                                   "end of the previous recording plus its gap_after_s.")
    duration_s: float = Field(gt=0, le=24 * 3600, description="Length of each segment.")
    count: int = Field(default=1, ge=1, le=1000, description="Back-to-back segments.")
    gap_after_s: float = Field(default=0.0, ge=0, description="Pause before the next recording.")
    width: int = Field(default=320, ge=16, le=3840)
    height: int = Field(default=240, ge=16, le=2160)
    fps: float = Field(default=10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _aware(self) -> RecordingSpec:
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start needs a UTC offset (RFC 3339, e.g. 2026-11-30T08:30:00Z)")
        return self


class FaultRule(StrictModel):
    """One injected fault. Matching requests of ``command`` (any if omitted) are counted; after
    ``after`` of them pass, the next ``times`` get the fault (0: all from then on)."""

    kind: Literal["split", "garbage", "bad_checksum", "silence", "busy", "refuse", "disconnect",
                  "ack_without_effect", "time_jump"]
    command: str | None = Field(default=None, description="Canonical command or 'login'.")
    after: int = Field(default=0, ge=0)
    times: int = Field(default=1, ge=0)
    split_delay_s: float = Field(default=0.02, ge=0, le=1.0, description="split: pause between pieces.")
    jump_s: float = Field(default=0.0, description="time_jump: seconds the recorder clock jumps.")


class Faults(StrictModel):
    rules: list[FaultRule] = Field(default_factory=list)


class EmulatorState(StrictModel):
    serial: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    model: str = "EMU-1"
    firmware: str = "1.0"
    id_code: str = Field(default="EMU01", description="Maker/model code some protocols report.")
    officer_id: str = ""
    officer_name: str = ""
    unit_id: str = ""
    unit_name: str = ""
    password: str | None = Field(default=None, description="The recorder's own password (auth profiles).")
    battery_pct: int = Field(ge=0, le=100)
    storage_total_mib: int = Field(gt=0)
    storage_free_mib: int = Field(ge=0)
    clock_offset_s: float = Field(default=0.0, description="Recorder clock minus true time.")
    clock_drift_ppm: float = Field(default=0.0, ge=-10000, le=10000)
    recording: bool = False
    recordings: list[RecordingSpec] = Field(default_factory=list)
    faults: Faults = Field(default_factory=Faults)

    @model_validator(mode="after")
    def _consistent(self) -> EmulatorState:
        if self.storage_free_mib > self.storage_total_mib:
            raise ValueError("storage_free_mib exceeds storage_total_mib")
        if self.recordings and self.recordings[0].start is None:
            raise ValueError("recordings[0].start is required")
        return self


def load_state(path: Path) -> EmulatorState:
    return load_model(path, EmulatorState)
