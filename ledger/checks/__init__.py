"""Per-kind checks of ``ledger verify``, one module per record family, each rule written once.

``CHECKERS`` is the one table of which checks run for which kind, in order; the archive's
admission and ``archive verify`` call the same rules (``custody.next_link`` for chains).
"""

from __future__ import annotations

from ledger.checks import access as access_checks
from ledger.checks import case, custody, export, justification, retention
from ledger.checks import disclosure as disclosure_checks
from ledger.checks import review as review_checks
from ledger.checks.base import CheckedEntry, Checker, VerifyContext

CHECKERS: dict[str, tuple[Checker, ...]] = {
    # custody (A2 Art.8, 12–15)
    "enrollment": (custody.key_enrolled_once, custody.device_enrollment, justification.check_person_enrollment),
    "revocation": (custody.check_revocation,),
    "handover": (custody.check_handover,),
    "segment": (custody.segment_chain, export.remember_segment),
    "calibration": (custody.from_a_dock,),
    "dock_session": (custody.from_a_dock,),
    "gap": (custody.from_a_dock, justification.remember_gap),
    # justification (A2 Art.8, 11)
    "stop_justification": (justification.check_explanation,),
    "gap_fault": (justification.check_explanation,),
    "stop_approval": (justification.check_approval,),
    # case (A2 Art.2–5, 7, 10, 14)
    "case_flag": (case.check_case_flag,),
    "case_open": (case.check_case_record,),
    "activity": (case.check_case_record,),
    "attachment": (case.check_case_record,),
    "case_close": (case.check_case_record,),
    # retention (A2 Art.9, 10, 16)
    "retention": (retention.check_retention,),
    "legal_hold": (retention.check_legal_hold,),
}

CHECKERS.update({
    # access (A2 Art.17–19)
    "access_request": (access_checks.check_request,),
    "access_grant": (access_checks.check_grant,),
    "access": (access_checks.check_access,),
    "secrecy": (access_checks.check_secrecy,),
})

CHECKERS.update({
    # export (A2 Art.16–17)
    "export": (export.check_export,),
    "export_signoff": (export.check_signoff,),
    "export_iso": (export.check_export_iso,),
})

CHECKERS.update({
    # disclosure (A1 Art.9–17)
    "disclosure_decision": (disclosure_checks.check_decision,),
    "disclosure_withhold": (disclosure_checks.check_withhold,),
    "disclosure_text_check": (disclosure_checks.check_text_check,),
    "disclosure_act": (disclosure_checks.check_act,),
})

CHECKERS.update({
    # legal review of major decisions (A3 Art.3–13)
    "review_catalogue": (review_checks.check_catalogue,),
    "review_classification": (review_checks.check_classification,),
    "review_submission": (review_checks.check_submission,),
    "review_supplement": (review_checks.check_supplement,),
    "review_clock": (review_checks.check_clock,),
    "review_judgement": (review_checks.check_judgement,),
    "review_outcome": (review_checks.check_outcome,),
    "review_approval": (review_checks.check_approval,),
    "review_opinion": (review_checks.check_opinion,),
})

__all__ = ["CHECKERS", "CheckedEntry", "Checker", "VerifyContext"]
