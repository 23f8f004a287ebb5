"""Where each decision stands, read from the archive ledger: withheld, text checked, published,
withdrawn, corrected, revoked (A1 Art.10–17).

Only entries signed by a person in a role that may do the act count (the rules of
``ledger.checks.disclosure``), so a stray signature cannot publish or hide a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bodycam.i18n import N_
from ledger.checks.access import signer_problems
from ledger.checks.disclosure import PUBLISH_ROLES, TEXT_CHECK_ROLES, WITHHOLD_ROLES
from ledger.gapstate import enrollments
from ledger.people import valid_signers
from ledger.records.disclosure import (
    TYPE_FIELDS,
    DisclosureAct,
    DisclosureDecision,
    DisclosureTextCheck,
    DisclosureWithhold,
)
from ledger.store import Entry, Ledger


@dataclass
class DecisionState:
    entry: Entry
    record: DisclosureDecision
    fields: dict[str, str]  # as corrected
    withheld: tuple[Entry, DisclosureWithhold] | None = None
    text_check: tuple[Entry, DisclosureTextCheck] | None = None
    published: tuple[Entry, DisclosureAct] | None = None  # the first publication
    withdrawn: tuple[Entry, DisclosureAct] | None = None
    corrections: list[tuple[Entry, DisclosureAct]] = field(default_factory=list)
    revoked: tuple[Entry, DisclosureAct] | None = None
    refs: list[str] = field(default_factory=list)  # entry hashes behind the state, in ledger order

    @property
    def id(self) -> str:
        return self.entry.entry_hash

    @property
    def type(self) -> str:
        return self.record.type

    @property
    def on_portal(self) -> bool:
        """Published, not withdrawn, not withheld (a revoked decision stays, as a notice)."""
        return self.published is not None and self.withdrawn is None and self.withheld is None


def decision_states(ledger: Ledger) -> dict[str, DecisionState]:
    """Every decision's state, in ledger order."""
    keyring, enrolled = ledger.keyring(), enrollments(ledger)

    def ok(e: Entry, person: str, roles: tuple[str, ...]) -> bool:
        return not signer_problems(person, roles, N_("signer"), valid_signers(e.envelope, keyring), enrolled)

    states: dict[str, DecisionState] = {}
    order: dict[str, int] = {}
    for e in ledger.entries(kind="disclosure_decision"):
        rec = e.record
        assert isinstance(rec, DisclosureDecision)
        states[e.entry_hash] = DecisionState(e, rec, dict(rec.fields), refs=[e.entry_hash])
    for kind in ("disclosure_withhold", "disclosure_text_check", "disclosure_act"):
        for e in ledger.entries(kind=kind):
            rec = e.record
            st = states.get(rec.decision)  # type: ignore[attr-defined]
            if st is None:
                continue
            if isinstance(rec, DisclosureWithhold) and ok(e, rec.by, WITHHOLD_ROLES):
                st.withheld = st.withheld or (e, rec)
            elif isinstance(rec, DisclosureTextCheck) and ok(e, rec.by, TEXT_CHECK_ROLES):
                st.text_check = (e, rec)
            elif isinstance(rec, DisclosureAct) and ok(e, rec.by, PUBLISH_ROLES):
                if rec.action == "publish":
                    st.published = st.published or (e, rec)
                elif rec.action == "withdraw":
                    st.withdrawn = st.withdrawn or (e, rec)
                elif rec.action == "correct":
                    st.corrections.append((e, rec))
                    st.fields.update(rec.changes)
                elif rec.action == "revoke":
                    st.revoked = st.revoked or (e, rec)
            else:
                continue
            st.refs.append(e.entry_hash)
            order[e.entry_hash] = e.idx
    for st in states.values():
        st.refs.sort(key=lambda h: order.get(h, -1))
        if st.text_check is not None:  # a correction of free text after the check needs a new check
            free = {k for k, (_, kind) in TYPE_FIELDS[st.type].items() if kind == "free"}
            checked = st.text_check[0].idx
            if any(e.idx > checked and free & set(a.changes) for e, a in st.corrections):
                st.text_check = None
    return states


def decision_state(ledger: Ledger, decision_hash: str) -> DecisionState:
    return decision_states(ledger)[decision_hash]
