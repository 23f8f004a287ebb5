"""Load TOML files into pydantic models with errors that name the file, the key and the line.

Used for ``bodycam.toml`` and for firmware profiles: a person editing a file by hand must be
told exactly where it is wrong, not shown a pydantic traceback.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bodycam.errors import ConfigError, FormatError
from bodycam.formats import check_nesting
from bodycam.i18n import N_, Message

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every configuration model: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_toml(text: str, path: Path | object) -> dict:
    """``tomllib.loads`` of a file's text; ConfigError (naming ``path``) for invalid TOML and for
    arrays or inline tables nested deeper than ``bodycam.formats.MAX_NESTING`` (tomllib recurses
    once per level: a file of 100,000 ``[`` would otherwise end in RecursionError)."""
    try:
        check_nesting(text, syntax="toml", what="the file")
        return tomllib.loads(text)
    except FormatError as exc:
        raise ConfigError(Message(N_("{file}: not accepted: {error}"), file=path, error=exc)) from None
    except RecursionError:
        raise ConfigError(Message(N_("{file}: not accepted: the file nests too deeply to parse"), file=path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(Message(N_("{file}: not valid TOML: {error}"), file=path, error=exc)) from None


def read_text(path) -> str:
    """The text of a configuration file (a ``Path`` or a package resource); ConfigError names it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Message(N_("{file}: file not found"), file=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Message(N_("{file}: cannot read: {error}"), file=path, error=exc)) from None


def read_toml(path: Path) -> dict:
    return parse_toml(read_text(path), path)


def _line_of(text: str, loc: tuple) -> int | None:
    """Best-effort line of the deepest named key of ``loc`` (tomllib keeps no positions)."""
    names = [str(p) for p in loc if isinstance(p, str)]
    if not names:
        return None
    pattern = re.compile(rf"^\s*\"?{re.escape(names[-1])}\"?\s*=|^\s*\[+\s*{re.escape('.'.join(names))}\s*\]+",
                         re.MULTILINE)
    m = pattern.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def format_validation_error(path: Path, exc: ValidationError, text: str = "") -> Message:
    """One line per error: file (and line), key, what is wrong (pydantic's words are English)."""
    lines = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(text, loc) if text else None
        where = f"{path}:{line}" if line else f"{path}"
        msg = err.get("msg") or Message(N_("invalid"))
        if err.get("type") == "extra_forbidden":
            msg = Message(N_("unknown key (check its spelling; see the documented example)"))
        lines.append(Message("{where}: {key}: {msg}", where=where, key=key, msg=msg))
    return Message.join("\n", lines)


def validate_data(path: Path, data: dict, model: type[M], text: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, text)) from None


def load_model(path: Path, model: type[M]) -> M:
    """Read ``path`` as TOML and validate it as ``model``; ConfigError names file, key and line."""
    data = read_toml(path)
    return validate_data(path, data, model, path.read_text(encoding="utf-8"))
