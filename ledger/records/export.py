"""The export family: an evidence package handed out for court, its sign-offs and its disc image
(A2 Art.16–17).

An ``export`` names the approved access request it was made under, the segments it holds and the
SHA-256 of the package's ``manifest.json`` (which lists every original with its hashes), so the
ledger says exactly what left the archive and on whose authority. Sign-offs by the supervisor and
the officers (A2 Art.16) are ``export_signoff`` entries naming the same manifest hash; the ISO
image burned to disc is an ``export_iso`` entry with the image's SHA-256 (the image holds the
package, so its hash can only follow the export entry).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ledger.records.base import Body, Ident, Ns, Role, Sha256Hex

VolumeId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]


class Export(Body):
    """An evidence package made for an approved access request (A2 Art.16–17)."""

    kind: Literal["export"] = "export"
    case_id: Ident
    request: Sha256Hex = Field(description="entry hash of the approved access_request")
    segments: list[Sha256Hex] = Field(min_length=1, description="entry hashes of the segments exported")
    manifest_sha256: Sha256Hex = Field(description="SHA-256 of the package's manifest.json")
    by: Ident = Field(description="person id of the archivist who made the package")
    exported_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.request}


class ExportSignoff(Body):
    """A supervisor's or an officer's signature over an export's manifest (A2 Art.16)."""

    kind: Literal["export_signoff"] = "export_signoff"
    export: Sha256Hex = Field(description="entry hash of the export signed off")
    manifest_sha256: Sha256Hex
    person_id: Ident
    role: Role
    signed_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.person_id, "ref": self.export}


class ExportIso(Body):
    """The ISO 9660 image an export was written to, by its SHA-256 (A2 Art.16: burned to disc)."""

    kind: Literal["export_iso"] = "export_iso"
    export: Sha256Hex
    iso_sha256: Sha256Hex
    volume_id: VolumeId
    size: Annotated[int, Field(ge=0)]
    by: Ident
    made_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.export}
