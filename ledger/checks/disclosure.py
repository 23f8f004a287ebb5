"""``ledger verify`` checks for disclosure (A1 Art.9–17): a decision has every field A1 Art.9 asks
of its type and the deadline A1 Art.14 gives it, and is signed by the person it names; a withholding,
a text check or a publication act refers to an earlier decision and is signed by a person in a role
that may do it. ``archive.disclosure`` applies the same rules before it signs."""

from __future__ import annotations

from bodycam.i18n import N_, Message
from ledger.checks.access import signer_problems
from ledger.checks.base import CheckedEntry, VerifyContext
from ledger.checks.justification import enrolled_records
from ledger.records.disclosure import (
    CORRECT_WORKDAYS,
    PUBLISH_WORKDAYS,
    TYPE_FIELDS,
    DisclosureAct,
    DisclosureDecision,
    DisclosureTextCheck,
    DisclosureWithhold,
    decision_date,
    decision_problems,
)

DECISION_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "reviewer")
WITHHOLD_ROLES: tuple[str, ...] = ("supervisor", "head")
TEXT_CHECK_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "reviewer", "archivist")
PUBLISH_ROLES: tuple[str, ...] = ("officer", "supervisor", "head", "archivist")
_DECISIONS = "disclosure.decisions"  # entry hash -> type of every decision so far


def deadline_problems(rec: DisclosureDecision) -> list[Message]:
    """The recorded deadline counts A1 Art.14's working days from the decision's own date."""
    if decision_problems(rec.type, rec.fields):
        return []
    problems = []
    if rec.deadline.start != decision_date(rec.type, rec.fields).isoformat():
        problems.append(Message(N_("the deadline counts from {start}, not from the decision date"),
                                start=rec.deadline.start))
    if rec.deadline.workdays != PUBLISH_WORKDAYS[rec.type] or rec.deadline.due <= rec.deadline.start:
        problems.append(Message(N_("a {type} decision is published within {n} working days (A1 Art.14), "
                                   "the record says {m} to {due}"), type=rec.type, n=PUBLISH_WORKDAYS[rec.type],
                                m=rec.deadline.workdays, due=rec.deadline.due))
    return problems


def check_decision(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, DisclosureDecision)
    ctx.state.setdefault(_DECISIONS, {})[e.entry_hash] = rec.type
    return (signer_problems(rec.by, DECISION_ROLES, N_("disclosure decision"), e.signers, enrolled_records(ctx))
            + decision_problems(rec.type, rec.fields) + deadline_problems(rec))


def _decision(ctx: VerifyContext, decision: str) -> tuple[str | None, list[str]]:
    type_ = ctx.state.get(_DECISIONS, {}).get(decision)
    if type_ is None:
        return None, [Message(N_("refers to disclosure decision {decision}, which no earlier entry is"),
                              decision=decision[:16])]
    return type_, []


def check_withhold(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, DisclosureWithhold)
    return (signer_problems(rec.by, WITHHOLD_ROLES, N_("withholding"), e.signers, enrolled_records(ctx))
            + _decision(ctx, rec.decision)[1])


def check_text_check(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, DisclosureTextCheck)
    type_, problems = _decision(ctx, rec.decision)
    if type_ is not None:
        free = {k for k, (_, kind) in TYPE_FIELDS[type_].items() if kind == "free"}
        other = sorted(set(rec.texts) - free)
        if other:
            problems.append(Message(N_("a text check holds only free-text fields, not {fields}"),
                                    fields=", ".join(other)))
    return signer_problems(rec.by, TEXT_CHECK_ROLES, N_("text check"), e.signers, enrolled_records(ctx)) + problems


def check_act(ctx: VerifyContext, e: CheckedEntry) -> list[str]:
    rec = e.record
    assert isinstance(rec, DisclosureAct)
    type_, problems = _decision(ctx, rec.decision)
    if type_ is not None and rec.changes:
        other = sorted(set(rec.changes) - set(TYPE_FIELDS[type_]))
        if other:
            problems.append(Message(N_("a correction changes fields a {type} decision does not have: {fields}"),
                                    type=type_, fields=", ".join(other)))
    if rec.deadline is not None and rec.deadline.workdays != CORRECT_WORKDAYS:
        problems.append(Message(N_("a correction or revocation is due within {n} working days (行政处罚法 Art.48)"),
                                n=CORRECT_WORKDAYS))
    return signer_problems(rec.by, PUBLISH_ROLES, N_("publication"), e.signers, enrolled_records(ctx)) + problems
