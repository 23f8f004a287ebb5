"""The custody trail of an export, read from the ledger entries the package holds (A2 Art.16, 18).

``custody_events`` turns those entries into ``CustodyEvent`` rows (who did what to the evidence,
when, approved by whom, under which request, with the entry's hash), the one list both
``custody.jsonl`` and the PDF of ``archive.export.custody_doc`` are written from; ``document_inputs``
maps the manifest onto that document's case and item fields. Nothing here is stored anew: every
event is an entry of the package's ``ledger/``, so a reader can check each row against its entry.
"""

from __future__ import annotations

import datetime as dt

from archive.export.custody_doc import CustodyEvent, document_zone
from ledger.records import Calibration, DockSession, Gap, Segment, StopApproval
from ledger.records.access import Access, AccessGrant, AccessRequest
from ledger.records.case import CASE_TYPE_NAMES
from ledger.records.export import Export, ExportIso, ExportSignoff
from ledger.store import Entry


def _grants(entries: list[Entry]) -> dict[str, str]:
    """request entry hash → the head who approved it (the latest approval among the entries)."""
    out: dict[str, str] = {}
    for e in entries:
        rec = e.record
        if isinstance(rec, AccessGrant):
            if rec.decision == "approved":
                out[rec.request] = rec.head_id
            else:
                out.pop(rec.request, None)
    return out


def custody_events(entries: list[Entry]) -> list[CustodyEvent]:
    """One event per act on the evidence among ``entries``: arrival (ingest), calibrations,
    dockings, gaps and their justifications and approvals, requests and decisions, every view,
    copy and refused attempt, the export, sign-offs and disc images. Enrollments and case records
    are not acts on the footage and are left to the ledger."""
    grants = _grants(entries)
    out: list[CustodyEvent] = []
    for e in entries:
        rec = e.record
        h = e.entry_hash
        if isinstance(rec, Segment):
            out.append(CustodyEvent(e.received_ns, "ingest", rec.officer_id, None, None,
                                    f"{rec.device_id} seq {rec.seq} {rec.source_name} sha256 {rec.media.sha256}", h))
        elif isinstance(rec, Calibration):
            offset = rec.offset_after_us if rec.clock_set else rec.offset_before_us
            out.append(CustodyEvent(rec.measured_ns, "calibration", rec.dock_id or rec.device_id, None, None,
                                    f"{rec.device_id} {rec.result}, offset {offset} µs, clock set: {rec.clock_set}",
                                    h))
        elif isinstance(rec, DockSession):
            out.append(CustodyEvent(rec.started_ns, "dock", rec.officer_id, None, None,
                                    f"{rec.device_id} at {rec.dock_id}, {rec.status}, {rec.files or 0} file(s)", h))
        elif isinstance(rec, Gap):
            out.append(CustodyEvent(rec.start_ns or e.received_ns, "gap", rec.device_id, None, None,
                                    f"{rec.gap_type} after seq {rec.after_seq} before seq {rec.before_seq}", h))
        elif e.kind in ("stop_justification", "gap_fault"):
            out.append(CustodyEvent(e.received_ns, "justification", str(e.body.get("officer_id") or "-"), None, None,
                                    f"{e.kind} of gap {e.body.get('gap', '')[:16]}", h))
        elif isinstance(rec, StopApproval):
            out.append(CustodyEvent(rec.reviewed_ns, "approval", rec.supervisor_id, None, None,
                                    f"{rec.decision} of {rec.target_kind} {rec.target[:16]}", h))
        elif isinstance(rec, AccessRequest):
            out.append(CustodyEvent(rec.requested_ns, "request", rec.by, None, h,
                                    f"{rec.requester} ({rec.org}): {rec.reason}", h))
        elif isinstance(rec, AccessGrant):
            out.append(CustodyEvent(rec.decided_ns, "approval", rec.head_id, None, rec.request,
                                    f"{rec.decision}" + (f": {rec.note}" if rec.note else ""), h))
        elif isinstance(rec, Access):
            kind = {"contact_sheet": "contact_sheet", "export": "copy"}.get(rec.purpose or "", "view")
            if rec.outcome == "refused":
                kind = "refused"
            detail = (f"{rec.purpose or 'copy'} of {(rec.segment or '-')[:16]} ({rec.case_id or '-'})"
                      + (": " + "; ".join(rec.reasons) if rec.reasons else ""))
            out.append(CustodyEvent(rec.accessed_ns, kind, rec.by,
                                    grants.get(rec.request or "") if rec.outcome == "viewed" else None,
                                    rec.request, detail, h))
        elif isinstance(rec, Export):
            out.append(CustodyEvent(rec.exported_ns, "export", rec.by, grants.get(rec.request), rec.request,
                                    f"{len(rec.segments)} segment(s), manifest sha256 {rec.manifest_sha256}", h))
        elif isinstance(rec, ExportSignoff):
            out.append(CustodyEvent(rec.signed_ns, "sign", rec.person_id, None, None,
                                    f"{rec.role} signs manifest sha256 {rec.manifest_sha256}", h))
        elif isinstance(rec, ExportIso):
            out.append(CustodyEvent(rec.made_ns, "iso", rec.by, None, None,
                                    f"ISO 9660 {rec.volume_id}, sha256 {rec.iso_sha256}", h))
    return sorted(out, key=lambda ev: (ev.at_ns, ev.entry_hash))


def _local_day(stamp: object) -> str | None:
    if not isinstance(stamp, str):
        return None
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(document_zone()).date().isoformat() if when.tzinfo else None


def _validity(person: dict) -> str | None:
    """An officer's certificate validity as the record shows it (local days), None when not enrolled
    with one (packages made before the manifest carried it have none either)."""
    start, end = _local_day(person.get("valid_from")), _local_day(person.get("valid_until"))
    if start is None and end is None:
        return None
    return f"{start or '…'} 至 {end or '…'}"


def document_inputs(manifest: dict) -> tuple[dict, list[dict]]:
    """The case and items of ``write_custody`` from the manifest (the one source of both)."""
    case = manifest["case"]
    officers = [{"id": o["id"], "name": o.get("name") or o["id"], "certificate": o.get("certificate_no") or "-",
                 "valid_until": _validity(o)} for o in case.get("officers", [])]
    doc_case = {"id": case["case_id"], "title": case.get("title") or "-", "unit": case.get("unit") or "-",
                "type": CASE_TYPE_NAMES.get(case.get("case_type") or "", case.get("case_type")), "officers": officers}
    items = []
    for it in manifest["items"]:
        dev = it.get("device") or {}
        cal = it.get("calibration") or {}
        op = it.get("camera_operator") or {}
        items.append({
            "device_id": it["device_id"], "brand": dev.get("brand_model") or "-", "model": "",
            "serial": dev.get("serial") or "-", "firmware": dev.get("firmware"), "file_name": it["original_name"],
            "start_ns": int(it["start_ns"]), "end_ns": int(it["end_ns"]), "device_start_ns": None,
            "offset_ms": cal["offset_us"] / 1000 if isinstance(cal.get("offset_us"), int) else None,
            "place": it.get("place"), "operator": (f"{op.get('name')}（{op.get('id')}）" if op.get("name")
                                                    else op.get("id")),
            "container": it["container"], "codec": it.get("codec"), "size": it["size"], "sha256": it["sha256"],
        })
    return doc_case, items
