"""Typed bodies of ledger records, one pydantic model per ``kind``, grouped by family.

Every signed body is validated on the way in (``seal``, ``Ledger.append``) and on the way out
(``verify``), so a record that does not have its kind's exact shape can neither be written nor
pass verification. Models forbid unknown keys and coerce nothing (strict mode): a signed body
means exactly what its bytes say.

Each family has its module (``custody``, ``justification``, ``case``; later ``access``,
``retention``, ``export``, ``disclosure``, ``review``) and every kind is registered here, in one
list, so that a reader of the ledger knows every kind whichever module it imported.
"""

from __future__ import annotations

from ledger.records.access import Access, AccessGrant, AccessRequest, Secrecy
from ledger.records.base import (
    KIND_MODELS,
    Body,
    Ident,
    NonNeg,
    Ns,
    Part,
    Rational,
    Reason,
    Role,
    Sha256Hex,
    Text,
    make_body,
    register,
    validate_body,
)
from ledger.records.case import Activity, Attachment, CaseClose, CaseFlag, CaseOpen
from ledger.records.custody import (
    Calibration,
    DockSession,
    Enrollment,
    Gap,
    GapType,
    Handover,
    Media,
    Reference,
    Revocation,
    Segment,
    ServerSample,
    SubjectType,
)
from ledger.records.disclosure import DISCLOSURE_KINDS
from ledger.records.export import Export, ExportIso, ExportSignoff
from ledger.records.justification import (
    FAULT_CAUSES,
    FaultCause,
    GapFault,
    Requester,
    StopApproval,
    StopJustification,
    attachment_hashes,
)
from ledger.records.retention import LegalHold, Retention
from ledger.records.review import REVIEW_KINDS

for _model in (
    # custody (A2 Art.8, 12–15)
    Enrollment, Revocation, Handover, Calibration, Segment, Gap, DockSession,
    # justification (A2 Art.8, 11)
    StopJustification, StopApproval, GapFault,
    # case (A2 Art.2–5, 7, 10, 14)
    CaseFlag, CaseOpen, Activity, Attachment, CaseClose,
    # retention (A2 Art.9, 10, 16)
    Retention, LegalHold,
):
    register(_model)
for _model in (AccessRequest, AccessGrant, Access, Secrecy):  # access (A2 Art.17–19)
    register(_model)
for _model in (Export, ExportSignoff, ExportIso):  # export (A2 Art.16–17)
    register(_model)

for _model in DISCLOSURE_KINDS:  # disclosure (A1 Art.9–17)
    register(_model)

for _model in REVIEW_KINDS:  # legal review of major decisions (A3)
    register(_model)

__all__ = [
    "Activity", "Attachment", "CaseClose", "CaseOpen",  # case (A2 Art.2–5, 7, 14)
    "FAULT_CAUSES", "KIND_MODELS", "Body", "Calibration", "CaseFlag", "DockSession", "Enrollment", "FaultCause",
    "Gap", "GapFault", "GapType", "Handover", "Ident", "Media", "NonNeg", "Ns", "Part", "Rational", "Reason",
    "Reference", "Requester", "Revocation", "Role", "Segment", "ServerSample", "Sha256Hex", "StopApproval",
    "StopJustification", "SubjectType", "Text", "attachment_hashes", "make_body", "register", "validate_body",
]
