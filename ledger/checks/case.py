"""``ledger verify`` checks for cases: a long-term flag is signed by a person who may set it
(A2 Art.10). The rule is ``ledger.cases``', called with the verifier's signer set."""

from __future__ import annotations

from ledger.cases import flag_problems
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.records import CaseFlag


def check_case_flag(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, CaseFlag)
    return flag_problems(rec, e.signers, enrolled_records(ctx))
