"""The ``[display]`` section of bodycam.toml: how people are shown what the software knows."""

from __future__ import annotations

from pydantic import Field, field_validator

from bodycam.configfile import StrictModel
from bodycam.errors import FormatError


class DisplayConfig(StrictModel):
    timezone: str | None = Field(
        default=None,
        description="IANA time zone people read times in, e.g. Asia/Shanghai; default: $TZ, then the machine's "
                    "zone. JSON output is always RFC 3339 in UTC.")
    language: str | None = Field(default=None, description="zh_CN or en; default from LANG/LC_MESSAGES.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            from bodycam.formats import zone

            try:
                zone(value)
            except FormatError as exc:
                raise ValueError(str(exc)) from None
        return value
