"""``ledger verify`` checks for exports (A2 Art.16–17): an export is made by an archivist (or the
head) under an access request an earlier entry holds, and names segments earlier in the ledger; a
sign-off is signed by the person it names, a supervisor, officer or head, and signs an earlier
export's manifest; a disc image names an earlier export and is made by an archivist or the head."""

from __future__ import annotations

from bodycam.i18n import N_, Message
from ledger.checks.access import _known_request, signer_problems
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.records.export import Export, ExportIso, ExportSignoff

EXPORT_ROLES: tuple[str, ...] = ("archivist", "head")
SIGNOFF_ROLES: tuple[str, ...] = ("supervisor", "officer", "head")
_EXPORTS = "export.exports"  # entry hash of each export so far → its manifest hash
_SEGMENTS = "export.segments"  # entry hashes of segments so far


def remember_segment(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    ctx.state.setdefault(_SEGMENTS, set()).add(e.entry_hash)
    return []


def check_export(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, Export)
    ctx.state.setdefault(_EXPORTS, {})[e.entry_hash] = rec.manifest_sha256
    known = ctx.state.get(_SEGMENTS, set())
    return (signer_problems(rec.by, EXPORT_ROLES, N_("export"), e.signers, enrolled_records(ctx))
            + _known_request(ctx, rec.request)
            + [Message(N_("export names segment {entry}…, which no earlier entry is"), entry=h[:16])
               for h in rec.segments if h not in known])


def _known_export(ctx: VerifyContext, export: str, manifest_sha256: str | None = None) -> list[str]:
    exports = ctx.state.get(_EXPORTS, {})
    if export not in exports:
        return [Message(N_("refers to export {export}…, which no earlier entry is"), export=export[:16])]
    if manifest_sha256 is not None and exports[export] != manifest_sha256:
        return [Message(N_("signs manifest {manifest}…, but export {export}… made manifest {made}…"),
                        manifest=manifest_sha256[:16], export=export[:16], made=exports[export][:16])]
    return []


def check_signoff(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ExportSignoff)
    enrolled = enrolled_records(ctx)
    problems = signer_problems(rec.person_id, SIGNOFF_ROLES, N_("export sign-off"), e.signers, enrolled)
    if not problems and not any(enrolled[k].role == rec.role for k in e.signers if k in enrolled):
        problems.append(Message(N_("{person_id} signs off as {role}, which is not the role enrolled"),
                                person_id=rec.person_id, role=rec.role))
    return problems + _known_export(ctx, rec.export, rec.manifest_sha256)


def check_export_iso(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, ExportIso)
    return (signer_problems(rec.by, EXPORT_ROLES, N_("export disc image"), e.signers, enrolled_records(ctx))
            + _known_export(ctx, rec.export))
