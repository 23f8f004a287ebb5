"""The custody record of an export: ``custody.jsonl`` for programs, ``custody.pdf`` for people.

A court asks how, when and by whom the evidence was made and handled (行政诉讼证据规定 Art.12) and for
an unbroken custody record beside the hashes (民事诉讼证据规定 Art.93–94); A2 Art.16 asks that the
burned disc carry the officers' names, the camera operator, start and end times, place, device
brand and model and recording format, signed by the supervisor and the officers. So the package
holds the custody trail twice: as JSON lines (every field, RFC 3339 UTC times, one event per line,
in time order) that a program can compare with the ledger entries next to it, and as a Chinese PDF/A
(``archive/templates/export/custody.html`` through ``archive/documents.py``) with the case, the
items, the trail and, on its own page, the ``刻录登记表`` — the A2 Art.16 form with the manifest's
SHA-256 and the key fingerprints printed in full and lines for the signatures.

The PDF is in Chinese by design (it is read by a Chinese court whatever language the archivist's
terminal speaks); times are local time with the zone's name, in ``[display] timezone`` or, when the
configuration names none, Asia/Shanghai — never the printing machine's ``$TZ``. Every text that
came from a device or a person is autoescaped by the template and passed through ``printable``
(control and bidi characters shown as escapes, never obeyed by a viewer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from bodycam.errors import BodycamError, RefusedError
from bodycam.formats import configured_zone_name, human_bytes, local_time, ns_to_datetime, printable, rfc3339, zone
from bodycam.i18n import _

DEFAULT_ZONE = "Asia/Shanghai"
TEMPLATE = "export/custody.html"
TITLE = "执法音像记录证据保管链记录"
JSONL_NAME = "custody.jsonl"
PDF_NAME = "custody.pdf"

KIND_NAMES = {
    "ingest": "入库",
    "calibration": "校时",
    "dock": "上架采集",
    "transfer": "传输",
    "view": "查看",
    "refused": "拒绝查看",
    "copy": "复制",
    "contact_sheet": "联系表",
    "request": "调阅申请",
    "approval": "审批",
    "export": "导出",
    "sign": "签名",
    "iso": "制作光盘映像",
    "burn": "刻录",
    "hold": "封存",
    "release": "解除封存",
    "retention": "保存期限",
    "classify": "定密",
    "justification": "停止录制说明",
    "gap": "录制中断",
    "enroll": "登记",
}
"""How each kind of custody event is named in the PDF (the JSON keeps the English kind). A kind not
listed is shown as it is, so a new kind is never dropped from the record."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SHORT = 12


@dataclass(frozen=True)
class CustodyEvent:
    """One act on the evidence, as the ledger recorded it: when (``at_ns``, UTC nanoseconds), what
    (``kind``: 'ingest', 'calibration', 'dock', 'view', 'refused', 'contact_sheet', 'export',
    'sign', 'hold', 'retention', …), who acted, who approved it and under which request (None when
    the act needs no approval), a short description, and the hash of its ledger entry."""

    at_ns: int
    kind: str
    who: str
    approved_by: str | None
    request: str | None
    detail: str
    entry_hash: str


# ---- the inputs, checked --------------------------------------------------------------------------
_CASE_KEYS = {"id": str, "title": str, "unit": str, "type": (str, type(None)), "officers": list}
_OFFICER_KEYS = {"id": str, "name": str, "certificate": str, "valid_until": (str, type(None))}
_ITEM_KEYS = {
    "device_id": str, "brand": str, "model": str, "serial": str, "firmware": (str, type(None)),
    "file_name": str, "start_ns": int, "end_ns": int, "device_start_ns": (int, type(None)),
    "offset_ms": (int, float, type(None)), "place": (str, type(None)), "operator": (str, type(None)),
    "container": str, "codec": (str, type(None)), "size": int, "sha256": str,
}


def _checked(what: str, value: object, keys: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BodycamError(_("custody record: {what} must be a mapping").format(what=what))
    for key, types in keys.items():
        if key not in value:
            raise BodycamError(_("custody record: {what} lacks {key!r}").format(what=what, key=key))
        v = value[key]
        if not isinstance(v, types) or isinstance(v, bool):
            raise BodycamError(_("custody record: {what}.{key} has the wrong type ({type})")
                               .format(what=what, key=key, type=type(v).__name__))
    return {key: value[key] for key in keys}  # keys beyond the documented ones are not shown


def _check_hash(what: str, value: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BodycamError(_("custody record: {what} must be a SHA-256 in lower-case hex, not {value!r}")
                           .format(what=what, value=printable(str(value))[:80]))
    return value


def _check_events(events: list[CustodyEvent]) -> list[CustodyEvent]:
    for i, e in enumerate(events):
        if not isinstance(e, CustodyEvent):
            raise BodycamError(_("custody record: event {n} is not a CustodyEvent").format(n=i))
        if not isinstance(e.at_ns, int) or isinstance(e.at_ns, bool) or e.at_ns < 0 or not e.kind:
            raise BodycamError(_("custody record: event {n} needs a time (ns since 1970) and a kind").format(n=i))
        _check_hash(f"events[{i}].entry_hash", e.entry_hash)
    return sorted(events, key=lambda e: e.at_ns)  # stable: acts at the same instant keep the ledger's order


def document_zone(tz: tzinfo | None = None) -> tzinfo:
    """The zone the custody PDF shows times in: ``tz``, else ``[display] timezone``, else Asia/Shanghai."""
    return tz or zone(configured_zone_name() or DEFAULT_ZONE)


# ---- writing ------------------------------------------------------------------------------------
def event_json(e: CustodyEvent) -> dict[str, Any]:
    """One line of custody.jsonl: every field of the event plus ``at`` in RFC 3339 UTC."""
    return {"at": rfc3339(e.at_ns), **asdict(e)}


def custody_jsonl(events: list[CustodyEvent]) -> str:
    """custody.jsonl's text: one JSON object per event, in time order, UTF-8 (not ASCII-escaped)."""
    return "".join(json.dumps(event_json(e), ensure_ascii=False, sort_keys=True) + "\n"
                   for e in _check_events(list(events)))


def _text(value: object) -> str:
    return "-" if value is None or value == "" else printable(value)


def _short(value: str | None) -> str:
    """A ledger hash shortened for a table cell (the full one is printed beside it in small print)."""
    if value is None:
        return "-"
    return value[:_SHORT] + "…" if _HEX64.fullmatch(value) else printable(value)


def _offset(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:+,.0f} ms"


def _distinct(values: list[str]) -> list[str]:
    seen: list[str] = []
    for v in values:
        if v and v != "-" and v not in seen:
            seen.append(v)
    return seen


def context(*, case: dict, items: list[dict], events: list[CustodyEvent], manifest_sha256: str,
            fingerprints: dict[str, str], tz: tzinfo | None = None) -> dict[str, Any]:
    """What the template shows, every text made printable and every time local with its zone."""
    tz = document_zone(tz)
    c = _checked("case", case, _CASE_KEYS)
    officers = [_checked(f"case.officers[{i}]", o, _OFFICER_KEYS) for i, o in enumerate(c["officers"])]
    rows = [_checked(f"items[{i}]", it, _ITEM_KEYS) for i, it in enumerate(items)]
    for i, it in enumerate(rows):
        _check_hash(f"items[{i}].sha256", it["sha256"])
    _check_hash("manifest_sha256", manifest_sha256)
    if not isinstance(fingerprints, Mapping):
        raise BodycamError(_("custody record: fingerprints must be a mapping"))
    shown_items = [{
        "n": n,
        "device": f"{_text(it['brand'])} {_text(it['model'])}",
        "serial": _text(it["serial"]),
        "device_id": _text(it["device_id"]),
        "firmware": _text(it["firmware"]),
        "file_name": _text(it["file_name"]),
        "start": local_time(it["start_ns"], tz),
        "end": local_time(it["end_ns"], tz),
        "device_start": local_time(it["device_start_ns"], tz) if it["device_start_ns"] is not None else "-",
        "offset": _offset(it["offset_ms"]),
        "place": _text(it["place"]),
        "operator": _text(it["operator"]),
        "format": " / ".join(_text(v) for v in (it["container"], it["codec"]) if v),
        "size": human_bytes(it["size"]),
        "bytes": f"{it['size']:,}",
        "sha256": it["sha256"],
    } for n, it in enumerate(rows, 1)]
    shown_events = [{
        "at": local_time(e.at_ns, tz),
        "kind": KIND_NAMES.get(e.kind, printable(e.kind)),
        "who": _text(e.who),
        "approved_by": _text(e.approved_by),
        "request": _short(e.request),
        "request_full": e.request if e.request and _HEX64.fullmatch(e.request) else None,
        "detail": _text(e.detail),
        "entry_short": _short(e.entry_hash),
        "entry_hash": e.entry_hash,
    } for e in _check_events(list(events))]
    officer_rows = [{k: _text(v) for k, v in o.items()} for o in officers]
    starts = [it["start_ns"] for it in rows]
    ends = [it["end_ns"] for it in rows]
    sheet = {
        "officers": "、".join(f"{o['name']}（执法证号 {o['certificate']}）" for o in officer_rows) or "-",
        "operators": "、".join(_distinct([i["operator"] for i in shown_items])) or "-",
        "start": local_time(min(starts), tz) if starts else "-",
        "end": local_time(max(ends), tz) if ends else "-",
        "places": "；".join(_distinct([i["place"] for i in shown_items])) or "-",
        "devices": "；".join(_distinct([f"{i['device']}（序列号 {i['serial']}）" for i in shown_items])) or "-",
        "formats": "；".join(_distinct([i["format"] for i in shown_items])) or "-",
        "count": len(shown_items),
        "total": human_bytes(sum(it["size"] for it in rows)),
    }
    return {
        "case": {k: _text(v) for k, v in c.items() if k != "officers"},
        "officers": officer_rows,
        "items": shown_items,
        "events": shown_events,
        "sheet": sheet,
        "manifest_sha256": manifest_sha256,
        "fingerprints": [(_text(k), _text(v)) for k, v in fingerprints.items()],
        "zone": _zone_label(tz, min(starts) if starts else (events[0].at_ns if events else 0)),
    }


def _zone_label(tz: tzinfo, ns: int) -> str:
    """``Asia/Shanghai（CST，UTC+08:00）``: the zone's name, its abbreviation and offset at ``ns``."""
    dt = ns_to_datetime(ns, tz)
    off = dt.strftime("%z")
    offset = f"UTC{off[:3]}:{off[3:]}" if off else "UTC"
    abbr = dt.strftime("%Z")
    name = getattr(tz, "key", None) or abbr
    return f"{name}（{abbr}，{offset}）" if abbr and abbr != name and abbr.isalpha() else f"{name}（{offset}）"


def write_custody(out_dir: Path, *, case: dict, items: list[dict], events: list[CustodyEvent],
                  manifest_sha256: str, fingerprints: dict[str, str],
                  tz: tzinfo | None = None) -> tuple[Path, Path]:
    """Write ``custody.jsonl`` and ``custody.pdf`` into ``out_dir`` (which exists; neither file
    may exist yet) and return their paths (jsonl, pdf).

    ``case``: ``id`` (the case number, 案件编号), ``title``, ``unit`` (the handling unit), ``type``
    (str or None), ``officers``: a list of ``{id, name, certificate (执法证号), valid_until (str
    or None)}``.

    ``items``, one per original file: ``device_id``, ``brand``, ``model``, ``serial``,
    ``firmware`` (or None), ``file_name`` (the original's name), ``start_ns`` and ``end_ns``
    (corrected time, ns since 1970 UTC), ``device_start_ns`` (the recorder's own clock, or None),
    ``offset_ms`` (the calibration offset applied, or None), ``place`` (or None), ``operator`` (the
    camera operator 摄录人, or None), ``container`` (``mp4``), ``codec`` (or None), ``size`` (bytes),
    ``sha256`` (hex). Keys beyond these are ignored.

    ``events``: the custody trail (any order; written in time order). ``manifest_sha256``: the
    SHA-256 of manifest.json, printed in full on the 刻录登记表. ``fingerprints``: label → key
    fingerprint, each printed. ``tz``: the zone of the PDF's times (tests inject it; default
    ``document_zone``). BodycamError for missing or mistyped fields; nothing is written then."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise BodycamError(_("{path}: not a directory").format(path=printable(out_dir)))
    jsonl, pdf = out_dir / JSONL_NAME, out_dir / PDF_NAME
    for path in (jsonl, pdf):
        if path.exists() or path.is_symlink():
            raise RefusedError(_("{path} exists: a custody record is never overwritten").format(path=printable(path)))
    from archive.documents import render_pdf

    ctx = context(case=case, items=items, events=events, manifest_sha256=manifest_sha256,
                  fingerprints=fingerprints, tz=tz)
    text = custody_jsonl(events)
    data = render_pdf(TEMPLATE, title=f"{TITLE} {ctx['case']['id']}", **ctx)
    made: list[Path] = []
    try:
        with jsonl.open("x", encoding="utf-8") as f:
            made.append(jsonl)
            f.write(text)
        with pdf.open("xb") as f:
            made.append(pdf)
            f.write(data)
    except FileExistsError as exc:
        for path in made:
            path.unlink(missing_ok=True)
        raise RefusedError(_("{path} exists: a custody record is never overwritten")
                           .format(path=printable(exc.filename))) from None
    except BaseException:
        for path in made:  # only what this call created: a half-written record is no record
            path.unlink(missing_ok=True)
        raise
    return jsonl, pdf
