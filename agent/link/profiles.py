"""Firmware profiles: each recorder model's protocol described as data.

The driver, the emulator and the tests all read the same profile, so a protocol is written down
once (request templates, reply templates for the emulator, parsers for the driver, test vectors)
and nothing about a model is hidden in code. A command a model lacks is listed in
``unsupported`` and raises UnsupportedCommand; it is never faked.

The built-in profiles are package data (``agent/link/firmware_profiles/*.toml``), read through
``importlib.resources`` so that an installed wheel finds them wherever it is unpacked; a site folder
(``agent.profiles_dir`` in bodycam.toml) adds profiles and replaces built-in ones of the same id.
Every profile file starts with ``format = N``: the version of this file format, so that a profile
written for a newer bodycam is refused with a clear message instead of misread.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from enum import StrEnum
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from bodycam.configfile import StrictModel, parse_toml, read_text, validate_data
from bodycam.errors import ConfigError
from bodycam.i18n import _

CANONICAL_COMMANDS = (
    "identify", "get_info", "get_battery", "get_storage", "get_time", "set_time",
    "get_recording_state", "enter_mass_storage",
)
#: Names a request template may use: the clock values of set_time and the login password.
TIME_VALUES = frozenset({"year", "month", "day", "hour", "minute", "second", "millisecond", "datetime",
                         "epoch_ms", "epoch_s"})
REQUEST_VALUES = TIME_VALUES | {"password"}
#: Names a reply template may use: the device state the emulator holds.
DEVICE_VALUES = TIME_VALUES | {
    "serial", "model", "firmware", "id_code", "officer_id", "officer_name", "unit_id", "unit_name",
    "battery_pct", "recording", "storage_total_mib", "storage_free_mib", "storage_total_kb", "storage_free_kb",
    "storage_total_bytes", "storage_free_bytes"}
_STORAGE_UNITS = ("_bytes", "_kb", "_mib", "_mb", "_gib")
#: Fields the driver needs from each command's parsers (any one of a tuple's alternatives).
REQUIRED_FIELDS: dict[str, list[tuple[str, ...]]] = {
    "identify": [("serial",)],
    "get_battery": [("battery_pct",)],
    "get_storage": [tuple(f"storage_total{u}" for u in _STORAGE_UNITS),
                    tuple(f"storage_free{u}" for u in _STORAGE_UNITS)],
    "get_time": [("epoch_ms", "epoch_s", "datetime", "second")],
    "get_recording_state": [("recording",)],
}
#: The built-in profiles: package data of agent.link, a Traversable (a plain Path when installed as files).
BUILTIN_PROFILES_DIR: Traversable = files("agent.link") / "firmware_profiles"
#: Versions of the profile file format (the top-level ``format`` key) this bodycam reads.
PROFILE_FORMATS = (1,)


class Confidence(StrEnum):
    documented = "documented"  # the wire format is taken from a public description
    modelled = "modelled"      # the shape follows a public family; details are our model


class FieldType(StrEnum):
    str = "str"
    int = "int"
    float = "float"
    bool = "bool"


class Message(StrictModel):
    """One request or reply payload (before framing), as a template over named values.

    Exactly one of ``text`` (str.format template), ``hex`` (constant bytes), ``struct`` (+``values``)
    or ``json`` (object template whose ``"{name}"`` strings are replaced by typed values)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    text: str | None = None
    hex: str | None = None
    struct: str | None = Field(default=None, description="struct format, e.g. '>BQ'")
    values: list[int | str] = Field(default_factory=list, description="int, literal or '{name}'")
    json_: dict[str, Any] | None = Field(default=None, alias="json")

    @model_validator(mode="after")
    def _one_kind(self) -> Message:
        kinds = [k for k in ("text", "hex", "struct", "json_") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of text, hex, struct, json")
        if self.hex is not None:
            bytes.fromhex(self.hex)
        if self.struct is not None:
            import struct as _struct

            try:
                fmt = _struct.Struct(self.struct)
            except _struct.error as exc:
                raise ValueError(f"bad struct format {self.struct!r}: {exc}") from None
            if len(self.values) != _count_items(self.struct):
                raise ValueError(f"struct {self.struct!r} needs {_count_items(self.struct)} values, "
                                 f"got {len(self.values)}")
            del fmt
        return self


def template_names(msg: Message) -> set[str]:
    """Placeholders a message template refers to."""
    import string

    names: set[str] = set()

    def text(t: str) -> None:
        for _lit, name, _spec, _conv in string.Formatter().parse(t):
            if name is not None:
                names.add(name)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            text(node)

    if msg.text is not None:
        text(msg.text)
    walk(msg.json_)
    for v in msg.values:
        if isinstance(v, str):
            text(v)
    return names


def _count_items(fmt: str) -> int:
    import struct as _struct

    return len(_struct.unpack(fmt, bytes(_struct.calcsize(fmt))))


class ParseSpec(StrictModel):
    """How the driver reads a reply: a regex with named groups, a struct layout, or JSON paths."""

    kind: Literal["regex", "struct", "json", "none"]
    regex: str | None = None
    struct: str | None = None
    names: list[str] = Field(default_factory=list, description="struct item names; '_x' are not fields")
    paths: dict[str, str] = Field(default_factory=dict, description="json: field -> dotted path")
    expect: dict[str, int | str | bool] = Field(default_factory=dict,
                                                description="items that must have this value")
    fields: dict[str, FieldType] = Field(default_factory=dict, description="typed output fields")

    @model_validator(mode="after")
    def _check(self) -> ParseSpec:
        if self.kind == "regex":
            if not self.regex:
                raise ValueError("kind regex needs 'regex'")
            try:
                rx = re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"bad regex: {exc}") from None
            missing = set(self.fields) - set(rx.groupindex)
            if missing:
                raise ValueError(f"fields without a named group: {sorted(missing)}")
        elif self.kind == "struct":
            if not self.struct:
                raise ValueError("kind struct needs 'struct'")
            if len(self.names) != _count_items(self.struct):
                raise ValueError(f"struct {self.struct!r} has {_count_items(self.struct)} items, "
                                 f"names lists {len(self.names)}")
            missing = set(self.fields) - set(self.names)
            if missing:
                raise ValueError(f"fields not in names: {sorted(missing)}")
        elif self.kind == "json":
            missing = set(self.fields) - set(self.paths)
            if missing:
                raise ValueError(f"fields without a path: {sorted(missing)}")
        return self


class Step(StrictModel):
    request: Message
    reply: Message = Field(description="What the device answers on success (the emulator renders it).")
    parse: ParseSpec


class CommandSpec(StrictModel):
    steps: list[Step] = Field(min_length=1, description="Sent in order; fields of all replies are merged.")
    timeout_s: float | None = Field(default=None, gt=0, description="Override of timing.reply_timeout_s.")


class StatusRule(StrictModel):
    match: str = Field(description="Regex on the reply payload bytes (latin-1 escapes for binary).")
    reply: Message | None = Field(default=None, description="What the emulator sends in this case.")

    @field_validator("match")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v.encode("latin-1"))
        except (re.error, UnicodeEncodeError) as exc:
            raise ValueError(f"bad regex: {exc}") from None
        return v


class StatusSpec(StrictModel):
    """Reply codes that mean "not done"; checked before the command's own parser."""

    auth: StatusRule | None = None
    busy: StatusRule | None = None
    refused: StatusRule | None = None
    unsupported: StatusRule | None = None


class FramingSpec(StrictModel):
    kind: Literal["line", "delimited", "length_prefixed"]
    terminator: str = "\r\n"
    start: str = "@"
    end: str = ";#"
    separator: str = ";"
    length_field: bool = Field(default=False, description="delimited: 'CMD;<len>;payload' with len checked")
    magic_hex: str = "AA55"
    length_size: Literal[1, 2, 4] = 2
    byteorder: Literal["big", "little"] = "big"
    checksum: Literal["none", "crc16-modbus", "crc16-ccitt-false", "crc16-xmodem"] = "none"
    checksum_byteorder: Literal["big", "little"] = "little"
    max_length: int = Field(default=4096, gt=0, le=1 << 20)


class SerialSpec(StrictModel):
    baudrate: int = 115200
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class UsbSpec(StrictModel):
    vid: int = Field(ge=0, le=0xFFFF)
    pid: int = Field(ge=0, le=0xFFFF)


class TimingSpec(StrictModel):
    reply_timeout_s: float = Field(default=1.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_s: float = Field(default=0.2, ge=0)


class AuthSpec(StrictModel):
    """A password the recorder wants before other commands. The profile names where the secret
    lives (environment variable, file); the secret itself never appears in a profile."""

    kind: Literal["none", "password"] = "none"
    password_env: str | None = None
    password_file: str | None = None
    login: Step | None = None

    @model_validator(mode="after")
    def _check(self) -> AuthSpec:
        if self.kind == "password":
            if not (self.password_env or self.password_file):
                raise ValueError("password auth needs password_env or password_file")
            if self.login is None:
                raise ValueError("password auth needs a login step")
        return self


class StorageSpec(StrictModel):
    """How the recorder lays out its card when it appears as a USB disk."""

    media_dir: str = "DCIM"
    file_name: str = "{year:04d}{month:02d}{day:02d}_{hour:02d}{minute:02d}{second:02d}_{index:04d}"
    fourcc: str = Field(default="mp4v", min_length=4, max_length=4)
    extension: str = "mp4"


class TestVector(StrictModel):
    __test__ = False  # not a pytest class

    command: str
    step: int = 0
    at: str | None = Field(default=None, description="set_time input (RFC 3339)")
    values: dict[str, Any] = Field(default_factory=dict, description="other template inputs")
    request: str | None = None
    request_hex: str | None = None
    reply: str | None = None
    reply_hex: str | None = None
    expect: dict[str, Any] = Field(default_factory=dict)
    reply_values: dict[str, Any] = Field(default_factory=dict,
                                         description="extra values the emulator needs to render the reply")

    @model_validator(mode="after")
    def _one_each(self) -> TestVector:
        if (self.request is None) == (self.request_hex is None):
            raise ValueError("give exactly one of request, request_hex")
        if (self.reply is None) == (self.reply_hex is None):
            raise ValueError("give exactly one of reply, reply_hex")
        return self


def _formats_text() -> str:
    return ", ".join(str(v) for v in PROFILE_FORMATS)


class Profile(StrictModel):
    format: int = Field(description="Profile file format version (first key of the file).")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    vendor: str
    model: str
    firmware: str = ""
    source: str = Field(min_length=10, description="Where the protocol description comes from.")
    confidence: Confidence
    notes: str = ""
    encoding: Literal["ascii", "gbk", "utf-8", "latin-1"] = "ascii"
    timezone: str = Field(default="+00:00", pattern=r"^[+-]\d\d:\d\d$",
                          description="Zone the recorder's clock shows (its local time).")
    time_format: str = "%Y-%m-%d %H:%M:%S"
    clock_resolution_s: float = Field(default=1.0, gt=0, le=1.0)
    clock_tolerance_s: float = Field(default=1.0, gt=0, description="Residual offset allowed after set.")
    battery_drain_pct_per_h: float = Field(gt=0, le=100)
    video_bitrate_kbps: float = Field(gt=0, description="Recording bitrate (kbit/s) for storage readiness.")
    usb: UsbSpec
    serial: SerialSpec = Field(default_factory=SerialSpec)
    timing: TimingSpec = Field(default_factory=TimingSpec)
    framing: FramingSpec
    auth: AuthSpec = Field(default_factory=AuthSpec)
    status: StatusSpec = Field(default_factory=StatusSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    unsupported: list[str] = Field(default_factory=list)
    commands: dict[str, CommandSpec]
    test_vectors: list[TestVector] = Field(default_factory=list)

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: int) -> int:
        if v not in PROFILE_FORMATS:
            raise ValueError(f"profile format {v} is not one this bodycam reads (it reads format "
                             f"{_formats_text()}): use a bodycam that knows it, or rewrite the profile")
        return v

    @model_validator(mode="after")
    def _commands_complete(self) -> Profile:
        for name in list(self.commands) + self.unsupported:
            if name not in CANONICAL_COMMANDS:
                raise ValueError(f"unknown command {name!r}; canonical: {', '.join(CANONICAL_COMMANDS)}")
        both = set(self.commands) & set(self.unsupported)
        if both:
            raise ValueError(f"commands both supported and unsupported: {sorted(both)}")
        missing = set(CANONICAL_COMMANDS) - set(self.commands) - set(self.unsupported)
        if missing:
            raise ValueError(f"commands neither described nor listed unsupported: {sorted(missing)}")
        if "identify" not in self.commands:
            raise ValueError("identify is required: the dock must know which recorder it talks to")
        steps_of = {name: spec.steps for name, spec in self.commands.items()}
        if self.auth.login is not None:
            steps_of["login"] = [self.auth.login]
        for name, steps in steps_of.items():
            for i, step in enumerate(steps):
                try:
                    bad_req = template_names(step.request) - REQUEST_VALUES
                    bad_rep = template_names(step.reply) - DEVICE_VALUES
                except ValueError as exc:
                    raise ValueError(f"commands.{name}.steps[{i}]: bad template: {exc}") from None
                if bad_req:
                    raise ValueError(f"commands.{name}.steps[{i}].request: unknown values {sorted(bad_req)}; "
                                     f"known: {', '.join(sorted(REQUEST_VALUES))}")
                if bad_rep:
                    raise ValueError(f"commands.{name}.steps[{i}].reply: unknown values {sorted(bad_rep)}; "
                                     f"known: {', '.join(sorted(DEVICE_VALUES))}")
        for name, needs in REQUIRED_FIELDS.items():
            if name not in self.commands:
                continue
            have = {f for step in self.commands[name].steps for f in step.parse.fields}
            for alternatives in needs:
                if not have & set(alternatives):
                    raise ValueError(f"commands.{name}: parsers yield none of {list(alternatives)}")
        for v in self.test_vectors:
            if v.command != "login" and v.command not in self.commands:
                raise ValueError(f"test vector for undescribed command {v.command!r}")
            steps = ([self.auth.login] if v.command == "login" and self.auth.login
                     else self.commands[v.command].steps if v.command in self.commands else [])
            if v.step >= len(steps):
                raise ValueError(f"test vector {v.command} step {v.step}: no such step")
        return self

    @property
    def tzinfo(self) -> timezone:
        sign = 1 if self.timezone[0] == "+" else -1
        hours, minutes = int(self.timezone[1:3]), int(self.timezone[4:6])
        return timezone(sign * timedelta(hours=hours, minutes=minutes))

    def supports(self, command: str) -> bool:
        return command in self.commands

    def steps(self, command: str) -> list[Step]:
        if command == "login":
            return [self.auth.login] if self.auth.login else []
        return self.commands[command].steps


def load_profile(path: Path | Traversable) -> Profile:
    """Load one profile (a file of the site folder or a built-in resource); ConfigError names the
    file, the key and the line. The ``format`` key is checked first: a profile in a format this
    bodycam does not read gets that one message, not a list of keys it does not know."""
    text = read_text(path)
    data = parse_toml(text, path)
    version = data.get("format")
    if version is None:
        raise ConfigError(_("{path}: format: missing; a profile starts with the version of its file format, e.g. "
                            "'format = {latest}' (this bodycam reads format {formats})").format(
            path=path, latest=PROFILE_FORMATS[-1], formats=_formats_text()))
    if type(version) is not int or version not in PROFILE_FORMATS:
        raise ConfigError(_("{path}: format: {version!r} is not a profile format this bodycam reads (it reads "
                            "format {formats}): use a bodycam that knows it, or rewrite the profile").format(
            path=path, version=version, formats=_formats_text()))
    return validate_data(path, data, Profile, text)


def profile_dirs(extra: Path | None = None) -> list[Path | Traversable]:
    """Where profiles come from, in order: the built-in ones, then the site folder."""
    dirs: list[Path | Traversable] = [BUILTIN_PROFILES_DIR]
    if extra is not None:
        dirs.append(extra)
    return dirs


def _profile_files(d: Path | Traversable) -> list[Path | Traversable]:
    return sorted((f for f in d.iterdir() if f.name.endswith(".toml") and f.is_file()), key=lambda f: f.name)


def load_profiles(extra: Path | None = None) -> dict[str, Profile]:
    """Every profile by id: the built-in ones, then ``extra`` (AgentConfig.profiles_dir), whose
    profiles replace built-in ones of the same id so a site can correct a firmware quirk."""
    found: dict[str, Profile] = {}
    for d in profile_dirs(extra):
        if not d.is_dir():
            if d is BUILTIN_PROFILES_DIR:
                raise ConfigError(_("{path}: built-in firmware profiles missing: this bodycam is not installed "
                                    "completely (reinstall it)").format(path=d))
            raise ConfigError(_("{path}: profiles directory not found (agent.profiles_dir)").format(path=d))
        seen_here: dict[str, Path | Traversable] = {}
        for path in _profile_files(d):
            prof = load_profile(path)
            if prof.id in seen_here:
                raise ConfigError(_("{path}: id: {id!r} already defined in {other}").format(
                    path=path, id=prof.id, other=seen_here[prof.id]))
            seen_here[prof.id] = path
            found[prof.id] = prof
    return found


def get_profile(profile_id: str, extra: Path | None = None) -> Profile:
    profiles = load_profiles(extra)
    try:
        return profiles[profile_id]
    except KeyError:
        where = (_("built-in, and those in {path}").format(path=extra) if extra is not None
                 else _("built-in; agent.profiles_dir adds more"))
        raise ConfigError(_("unknown profile {profile!r}; known: {known} ({where})").format(
            profile=profile_id, known=", ".join(sorted(profiles)) or _("none"), where=where)) from None
