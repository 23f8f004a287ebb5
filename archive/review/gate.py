"""The gate (A3 Art.5): no major decision without a passed legal review of its latest round.

:func:`gate_problems` is the pure rule over a case's review state (``archive.review.state``);
:func:`decide` applies it and then hands the decision to Disclosure's ``add_decision`` (A1 Art.9),
so an accepted decision of any case becomes due for publication in one step. A case must be
classified first (A3 Art.4: every decision that must be reviewed is reviewed — an unclassified
case cannot be shown to be ordinary).
"""

from __future__ import annotations

from archive.review.outcome import OUTCOMES
from archive.review.state import CaseReview, case_review
from bodycam.errors import RefusedError
from bodycam.i18n import N_, Message
from ledger.store import Ledger


def gate_problems(review: CaseReview) -> list[Message]:
    """Why a decision of the case may not be made now (empty: it may)."""
    case_id = review.case_id
    if review.classification is None:
        return [Message(N_("case {case_id} is not classified: record whether it is major with `bodycam review "
                           "classify {case_id} ... --record` (A3 Art.3, 4)"), case_id=case_id)]
    if not review.major:
        return []
    r = review.latest
    if r is None:
        return [Message(N_("case {case_id} is major and was never submitted for legal review (A3 Art.5)"),
                        case_id=case_id)]
    if not r.concluded:
        return [Message(N_("the legal review of case {case_id} (round {round}) is not concluded and approved yet "
                           "(A3 Art.5, 11)"), case_id=case_id, round=r.number)]
    if not r.passed:
        out = r.outcome
        assert out is not None
        return [Message(N_("the legal review of case {case_id} (round {round}) concluded {outcome}: not passed; "
                           "fix and resubmit (A3 Art.5, 12)"), case_id=case_id, round=r.number,
                        outcome=Message(OUTCOMES[out[1].outcome]))]
    return []


def require_passed(ledger: Ledger, case_id: str) -> CaseReview:
    """The case's review state, or RefusedError (exit 3) with the gate's reasons."""
    review = case_review(ledger, case_id)
    problems = gate_problems(review)
    if problems:
        raise RefusedError(Message.join(Message(N_("; ")), problems))
    return review


def decide(ledger: Ledger, signer, by: str, case_id: str, *, type: str, fields: dict,  # noqa: A002 - add_decision's name
           calendar=None, now_ns: int | None = None):
    """Record the decision of ``case_id`` (A1 Art.9) after the gate: refused (exit 3) for a major
    case without a passed review of its latest round (A3 Art.5); accepted, it is due for publication
    (A1 Art.14) like any decision ``add_decision`` records."""
    from archive.disclosure.decisions import add_decision

    require_passed(ledger, case_id)
    return add_decision(ledger, signer, by, type=type, fields=fields, case_id=case_id, now_ns=now_ns,
                        calendar=calendar)
