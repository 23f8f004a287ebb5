"""bodycam.toml: discovery and validation of the whole file.

Lookup order: ``--config``, then ``$BODYCAM_CONFIG``, then ``./bodycam.toml``. Relative
``data_dir`` values are resolved against the file's own folder so a deployment folder can move.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from agent.config import AgentConfig
from archive.config import ArchiveConfig
from ledger.configfile import StrictModel, read_toml, validate_data
from ledger.errors import ConfigError
from syncd.config import SyncdConfig


class BodycamConfig(StrictModel):
    agent: AgentConfig = Field(default_factory=AgentConfig)
    syncd: SyncdConfig = Field(default_factory=SyncdConfig)
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)


def find_config(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    env = os.environ.get("BODYCAM_CONFIG")
    if env:
        return Path(env)
    here = Path("bodycam.toml")
    return here if here.exists() else None


def load_config(explicit: Path | None = None) -> tuple[BodycamConfig, Path | None]:
    """Return the validated configuration and the file it came from (None: built-in defaults)."""
    path = find_config(explicit)
    if path is None:
        return BodycamConfig(), None
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found (given by --config or $BODYCAM_CONFIG)")
    data = read_toml(path)
    base = path.resolve().parent
    for section in ("agent", "archive"):
        sec = data.get(section)
        if isinstance(sec, dict):
            d = Path(str(sec.get("data_dir", ".")))
            sec["data_dir"] = str(d if d.is_absolute() else base / d)
    cfg = validate_data(path, data, BodycamConfig, path.read_text(encoding="utf-8"))
    return cfg, path
