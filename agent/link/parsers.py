"""Templates and parsers over frame payloads, driven by a profile's declarations.

``render`` builds a request (driver) or a reply (emulator) from named values; ``parse_reply``
turns a reply into typed fields (driver); ``match_request`` recognises a request and captures its
values (emulator); ``classify`` spots busy/refused/auth/unsupported reply codes. Malformed input
only ever raises FramingError: a recorder's bytes are untrusted.
"""

from __future__ import annotations

import json
import re
import string
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.link.errors import FramingError, TimeUnreadable
from agent.link.profiles import FieldType, Message, ParseSpec, Profile, StatusSpec
from bodycam.errors import FormatError
from bodycam.formats import check_nesting

_FORMATTER = string.Formatter()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WHOLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _format(template: str, values: dict[str, Any]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError) as exc:
        raise FramingError(f"template {template!r} needs value {exc}") from None
    except (ValueError, TypeError) as exc:
        raise FramingError(f"template {template!r}: {exc}") from None


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise FramingError(f"cannot encode {text!r} as {encoding}: {exc.reason}") from None


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FramingError(f"reply is not valid {encoding}: {exc.reason} at byte {exc.start}") from None


def _render_json(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _render_json(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_json(v, values) for v in node]
    if isinstance(node, str):
        m = _WHOLE.match(node)
        if m:
            if m.group(1) not in values:
                raise FramingError(f"template needs value {m.group(1)!r}")
            return values[m.group(1)]
        return _format(node, values)
    return node


def _struct_item(item: int | str, values: dict[str, Any], encoding: str) -> Any:
    if isinstance(item, int):
        return item
    m = _WHOLE.match(item)
    value = values.get(m.group(1)) if m else item
    if m and m.group(1) not in values:
        raise FramingError(f"template needs value {m.group(1)!r}")
    if isinstance(value, str):
        return _encode(value, encoding)
    if isinstance(value, bool):
        return int(value)
    return value


def render(msg: Message, values: dict[str, Any], encoding: str) -> bytes:
    """Payload bytes for ``msg`` with ``values`` filled in."""
    if msg.text is not None:
        return _encode(_format(msg.text, values), encoding)
    if msg.hex is not None:
        return bytes.fromhex(msg.hex)
    if msg.json_ is not None:
        obj = _render_json(msg.json_, values)
        return _encode(json.dumps(obj, separators=(",", ":"), ensure_ascii=False), encoding)
    items = [_struct_item(i, values, encoding) for i in msg.values]
    fmt = struct.Struct(msg.struct)
    for item, code in zip(items, _codes(msg.struct), strict=True):
        if code.endswith("s") and isinstance(item, bytes) and len(item) > int(code[:-1] or 1):
            raise FramingError(f"value {item!r} longer than its {code} field")
    try:
        return fmt.pack(*items)
    except struct.error as exc:
        raise FramingError(f"cannot pack {msg.struct!r}: {exc}") from None


def _codes(fmt: str) -> list[str]:
    """Item codes of a struct format ('10s' counts as one item, '3B' as three)."""
    out = []
    for count, code in re.findall(r"(\d*)([xcbB?hHiIlLqQnNefdspP])", fmt):
        if code == "x":
            continue
        if code in "sp":
            out.append(f"{count}{code}")
        else:
            out.extend([code] * (int(count) if count else 1))
    return out


def _spec_regex(spec: str) -> str:
    m = re.fullmatch(r"0?(\d*)d", spec)
    if m:
        return rf"-?\d{{{m.group(1)}}}" if m.group(1) else r"-?\d+"
    return r".*?"


def template_regex(template: str) -> tuple[re.Pattern[str], set[str]]:
    """A regex matching what ``template`` renders to, with a group per placeholder."""
    parts, ints, seen = [], set(), set()
    for literal, name, spec, _conv in _FORMATTER.parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            parts.append(f"(?P={name})")
            continue
        seen.add(name)
        parts.append(f"(?P<{name}>{_spec_regex(spec or '')})")
        if (spec or "").endswith("d"):
            ints.add(name)
    return re.compile("^" + "".join(parts) + "$", re.DOTALL), ints


def _match_json(tmpl: Any, got: Any, out: dict[str, Any]) -> bool:
    if isinstance(tmpl, dict):
        if not isinstance(got, dict) or set(tmpl) != set(got):
            return False
        return all(_match_json(tmpl[k], got[k], out) for k in tmpl)
    if isinstance(tmpl, str):
        m = _WHOLE.match(tmpl)
        if m:
            out[m.group(1)] = got
            return True
    return tmpl == got


def match_request(msg: Message, payload: bytes, encoding: str) -> dict[str, Any] | None:
    """Values captured if ``payload`` is an instance of ``msg``; None if it is not."""
    if msg.hex is not None:
        return {} if payload == bytes.fromhex(msg.hex) else None
    if msg.text is not None:
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            return None
        rx, ints = template_regex(msg.text)
        m = rx.match(text)
        if not m:
            return None
        return {k: int(v) if k in ints else v for k, v in m.groupdict().items()}
    if msg.json_ is not None:
        try:
            text = payload.decode(encoding)
            check_nesting(text, what="request JSON")
            got = json.loads(text)
        except (UnicodeDecodeError, ValueError, FormatError, RecursionError):
            return None
        out: dict[str, Any] = {}
        return out if _match_json(msg.json_, got, out) else None
    fmt = struct.Struct(msg.struct)
    if len(payload) != fmt.size:
        return None
    items = fmt.unpack(payload)
    out = {}
    for tmpl, item in zip(msg.values, items, strict=True):
        m = _WHOLE.match(tmpl) if isinstance(tmpl, str) else None
        if m:
            if isinstance(item, bytes):
                item = item.rstrip(b"\x00").decode(encoding, "replace")
            out[m.group(1)] = item
        elif isinstance(tmpl, int):
            if item != tmpl:
                return None
        elif item.rstrip(b"\x00") != tmpl.encode(encoding):
            return None
    return out


def convert(name: str, value: Any, ftype: FieldType) -> Any:
    """A reply item as its declared type; FramingError when it is not one."""
    try:
        if isinstance(value, bytes):
            raise TypeError("undecoded bytes")
        if ftype is FieldType.str:
            if not isinstance(value, str):
                raise TypeError(f"expected text, got {type(value).__name__}")
            return value
        if ftype is FieldType.int:
            if isinstance(value, (bool, float)):
                raise TypeError(f"expected an integer, got {value!r}")
            if isinstance(value, str):
                value = value.strip()
                if not re.fullmatch(r"[+-]?\d{1,30}", value):
                    raise ValueError(f"not an integer: {value!r}")
            return int(value)
        if ftype is FieldType.float:
            if isinstance(value, bool):
                raise TypeError("expected a number, got a boolean")
            f = float(value)
            if f != f or f in (float("inf"), float("-inf")):
                raise ValueError("not a finite number")
            return f
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if value not in (0, 1):
                raise ValueError(f"not a boolean: {value}")
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "off", "no"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    except (TypeError, ValueError, OverflowError) as exc:
        raise FramingError(f"reply field {name}: {exc}") from None


def _json_path(obj: Any, path: str) -> Any:
    node = obj
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise FramingError(f"reply has no {path!r}")
    return node


def parse_reply(spec: ParseSpec, payload: bytes, encoding: str) -> dict[str, Any]:
    """Typed fields from a reply payload, per the profile's parser."""
    raw: dict[str, Any]
    if spec.kind == "none":
        return {}
    if spec.kind == "regex":
        text = _decode(payload, encoding)
        m = re.fullmatch(spec.regex, text, re.DOTALL)
        if not m:
            raise FramingError(f"reply {text[:60]!r} does not match the profile's pattern")
        raw = m.groupdict()
    elif spec.kind == "struct":
        fmt = struct.Struct(spec.struct)
        if len(payload) != fmt.size:
            raise FramingError(f"reply is {len(payload)} bytes, layout {spec.struct!r} needs {fmt.size}")
        raw = {}
        for name, item in zip(spec.names, fmt.unpack(payload), strict=True):
            if isinstance(item, bytes):
                item = _decode(item.rstrip(b"\x00"), encoding).rstrip(" ")
            raw[name] = item
    else:
        text = _decode(payload, encoding)
        try:
            check_nesting(text, what="reply JSON")
            obj = json.loads(text)
        except FormatError as exc:
            raise FramingError(str(exc)) from None
        except ValueError as exc:
            raise FramingError(f"reply is not JSON: {exc}") from None
        except RecursionError:
            raise FramingError("reply JSON nested too deeply") from None
        raw = {name: _json_path(obj, path) for name, path in spec.paths.items()}
        for path, want in spec.expect.items():
            if _json_path(obj, path) != want:
                raise FramingError(f"reply {path} is {_json_path(obj, path)!r}, expected {want!r}")
    if spec.kind != "json":
        for name, want in spec.expect.items():
            if raw.get(name) != want:
                raise FramingError(f"reply item {name} is {raw.get(name)!r}, expected {want!r}")
    return {name: convert(name, raw[name], ftype) for name, ftype in spec.fields.items()}


def classify(status: StatusSpec, payload: bytes) -> str | None:
    """'auth' | 'busy' | 'refused' | 'unsupported' when the reply is such a code, else None."""
    for kind in ("auth", "busy", "refused", "unsupported"):
        rule = getattr(status, kind)
        if rule is not None and re.search(rule.match.encode("latin-1"), payload, re.DOTALL):
            return kind
    return None


def time_values(profile: Profile, when: datetime) -> dict[str, Any]:
    """Template values for a moment, in the recorder's zone and formats (set_time, get_time)."""
    if when.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    local = when.astimezone(profile.tzinfo)
    epoch_ms = (when - _EPOCH) // timedelta(milliseconds=1)
    return {
        "year": local.year, "month": local.month, "day": local.day,
        "hour": local.hour, "minute": local.minute, "second": local.second,
        "millisecond": local.microsecond // 1000,
        "datetime": local.strftime(profile.time_format),
        "epoch_ms": epoch_ms, "epoch_s": epoch_ms // 1000,
    }


def time_from_fields(profile: Profile, fields: dict[str, Any]) -> datetime:
    """The recorder's reported time as an aware UTC datetime, from whichever fields it gives."""
    try:
        if "epoch_ms" in fields:
            return _EPOCH + timedelta(milliseconds=int(fields["epoch_ms"]))
        if "epoch_s" in fields:
            return _EPOCH + timedelta(seconds=int(fields["epoch_s"]))
        if "datetime" in fields:
            local = datetime.strptime(str(fields["datetime"]), profile.time_format)
        else:
            local = datetime(int(fields["year"]), int(fields["month"]), int(fields["day"]),
                             int(fields["hour"]), int(fields["minute"]), int(fields["second"]),
                             int(fields.get("millisecond", 0)) * 1000)
        return local.replace(tzinfo=profile.tzinfo).astimezone(UTC)
    except KeyError as exc:
        raise FramingError(f"time reply lacks {exc}") from None
    except (ValueError, OverflowError, OSError) as exc:
        shown = {k: fields[k] for k in ("epoch_ms", "epoch_s", "datetime", "year", "month", "day", "hour", "minute",
                                        "second") if k in fields}
        raise TimeUnreadable(f"time reply {shown} is not a time the dock can read: {exc}") from None
