"""Recording decisions to publish (A1 Art.9, 14) and every later act on them (A1 Art.10, 15, 17).

``add_decision`` is the one way a decision enters the archive ledger — from ``bodycam disclosure
add`` and from the legal-review module's ``case decide`` after its A3 gate — so the per-type field
rules (``ledger.records.disclosure.decision_problems``, also applied by ``ledger verify``) and the
A1 Art.14 deadline (in working days, with the calendar data that produced it) are applied once.
Decision files (JSON or TOML) come from people's editors and other systems: they are read with a
size and a nesting bound before any parser sees them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.workdays import WorkCalendar
from bodycam.errors import BodycamError, FormatError, RefusedError
from bodycam.formats import check_nesting
from bodycam.i18n import N_, Message
from ledger.checks.disclosure import DECISION_ROLES, PUBLISH_ROLES, TEXT_CHECK_ROLES, WITHHOLD_ROLES
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.people import require_person_key
from ledger.records import make_body
from ledger.records.disclosure import (
    CORRECT_WORKDAYS,
    DECISION_TYPES,
    PUBLISH_WORKDAYS,
    TYPE_FIELDS,
    DisclosureAct,
    DisclosureDeadline,
    DisclosureDecision,
    DisclosureTextCheck,
    DisclosureWithhold,
    decision_date,
    decision_problems,
)
from ledger.store import Entry, Ledger

BUREAU_TZ = ZoneInfo("Asia/Shanghai")
"""Working days and decision dates are the bureau's (the PRC calendar), whatever the machine's zone."""
MAX_DECISION_FILE = 256 * 1024
MAX_DECISION_NESTING = 4


class DecisionInvalid(BodycamError):
    """A decision that misses fields A1 Art.9 requires, or holds malformed ones; lists every one."""

    def __init__(self, type_: str, problems: list):
        self.problems = list(problems)
        super().__init__(Message(N_("the {type} decision is incomplete or malformed (A1 Art.9):\n{problems}"),
                                 type=type_, problems=Message.join("\n", [Message("  - {p}", p=p)
                                                                          for p in problems])))


def bureau_date(ns: int) -> dt.date:
    """The bureau's calendar day of an instant."""
    return dt.datetime.fromtimestamp(ns / 1e9, BUREAU_TZ).date()


def _now(now_ns: int | None) -> int:
    return time.time_ns() if now_ns is None else now_ns


def deadline(calendar: WorkCalendar, start: dt.date, workdays: int) -> DisclosureDeadline:
    """``workdays`` working days after ``start`` (not counted), with the calendar data used
    (``CalendarGap``, exit 3, for a year no data covers)."""
    due = calendar.add_workdays(start, workdays)
    return DisclosureDeadline(start=start.isoformat(), workdays=workdays, due=due.isoformat(),
                    calendar=calendar.sources(start, due))


def clean_fields(fields: dict) -> dict[str, str]:
    """Field values as stripped text: TOML dates and plain numbers become their usual text, empty
    values are dropped (a missing field is then reported as missing)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            if value.strip():
                out[str(name)] = value.strip()
        else:
            out[str(name)] = value  # type: ignore[assignment] - reported by decision_problems as not text
    return out


def add_decision(ledger: Ledger, signer: Signer, by: str, *, type: str, fields: dict,  # noqa: A002 - the API's name
                 case_id: str | None = None, now_ns: int | None = None,
                 calendar: WorkCalendar | None = None) -> Entry:
    """Record an enforcement decision to publish (A1 Art.9) with its deadline (A1 Art.14).

    ``fields`` is checked against its type's rules and refused with every missing or malformed
    field named (``DecisionInvalid``); ``case_id`` must name a case opened at the archive;
    ``calendar`` defaults to the package's working-day data only (callers with a deployment pass
    ``WorkCalendar.from_file(cfg.path(cfg.holidays_file))``); a date no data covers is refused
    (``CalendarGap``, exit 3)."""
    require_person_key(ledger, signer, by, DECISION_ROLES, N_("person recording the decision"))
    if not isinstance(fields, dict):
        raise DecisionInvalid(str(type), [Message(N_("the decision's fields must be a table of names and texts"))])
    values = clean_fields(fields)
    problems = decision_problems(type, values)
    if problems:
        raise DecisionInvalid(str(type), problems)
    if case_id is not None and not any(True for _ in ledger.entries(kind="case_open", case_id=case_id)):
        raise RefusedError(Message(N_("case {case_id} is not opened at the archive; open it with `bodycam case open` "
                                      "or leave the decision without a case"), case_id=case_id))
    cal = calendar if calendar is not None else WorkCalendar()
    due = deadline(cal, decision_date(type, values), PUBLISH_WORKDAYS[type])
    body = DisclosureDecision(type=type, fields=values, case_id=case_id, deadline=due, by=by, added_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def read_decision_file(path: Path) -> dict:
    """A decision's fields from a ``.json`` or ``.toml`` file: a flat table of field names and
    texts, at most 256 KiB, nesting bounded before parsing. Errors name the file."""
    if path.suffix.lower() not in (".json", ".toml"):
        raise FormatError(Message(N_("{file}: a decision file is .json or .toml"), file=path))
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_DECISION_FILE + 1)
    except OSError as e:
        raise FormatError(Message(N_("{file}: cannot read: {error}"), file=path, error=e.strerror or e)) from None
    if len(data) > MAX_DECISION_FILE:
        raise FormatError(Message(N_("{file}: larger than {n} KiB; a decision file holds one decision's fields"),
                                  file=path, n=MAX_DECISION_FILE // 1024))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(Message(N_("{file}: not UTF-8 text"), file=path)) from None
    syntax = "json" if path.suffix.lower() == ".json" else "toml"
    check_nesting(text, syntax=syntax, limit=MAX_DECISION_NESTING, what=str(path))
    try:
        parsed = json.loads(text) if syntax == "json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise FormatError(Message(N_("{file}: not valid {syntax}: {error}"), file=path, syntax=syntax.upper(),
                                  error=e)) from None
    if not isinstance(parsed, dict):
        raise FormatError(Message(N_("{file}: must hold one table of field names and texts"), file=path))
    nested = sorted(k for k, v in parsed.items() if isinstance(v, dict | list))
    if nested:
        raise FormatError(Message(N_("{file}: fields are plain texts, not tables or lists: {fields}"), file=path,
                                  fields=", ".join(str(k)[:40] for k in nested)))
    return parsed


# --- finding a decision ------------------------------------------------------------------------------------


def find_decision(ledger: Ledger, ref: str) -> Entry:
    """A decision by its entry hash or an unambiguous prefix of at least 8 hex digits."""
    ref = ref.strip().lower()
    e = ledger.by_hash(ref) if len(ref) == 64 else None
    if e is not None and e.kind == "disclosure_decision":
        return e
    found = [d for d in ledger.entries(kind="disclosure_decision") if d.entry_hash.startswith(ref)] \
        if len(ref) >= 8 else []
    if len(found) == 1:
        return found[0]
    raise RefusedError(Message(N_("no single disclosure decision {ref} in the archive ledger (give at least 8 hex "
                                  "digits of its id; `bodycam disclosure report` lists them)"), ref=ref[:64]))


# --- acts -----------------------------------------------------------------------------------------------


def withhold(ledger: Ledger, signer: Signer, by: str, decision: str, *, reason: int, note: str = "",
             now_ns: int | None = None) -> Entry:
    """Withhold a decision from publication for an A1 Art.10 reason (1–5; 5 needs a note)."""
    require_person_key(ledger, signer, by, WITHHOLD_ROLES, N_("supervisor or head"))
    e = find_decision(ledger, decision)
    if reason == 5 and not note.strip():
        raise RefusedError(Message(N_("reason 5 (other) needs --note saying why (A1 Art.10(5))")))
    from archive.disclosure.state import decision_state

    st = decision_state(ledger, e.entry_hash)
    if st.published and not st.withdrawn:
        raise RefusedError(Message(N_("decision {id} is published; withdraw it first (`bodycam disclosure withdraw`)"),
                                   id=e.entry_hash[:16]))
    body = DisclosureWithhold(decision=e.entry_hash, reason=reason, note=note, by=by, withheld_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def free_fields(type_: str) -> list[str]:
    return [k for k, (_, kind) in TYPE_FIELDS[type_].items() if kind == "free"]


def check_texts(ledger: Ledger, signer: Signer, by: str, decision: str, texts: dict[str, str], *,
                now_ns: int | None = None) -> Entry:
    """A person's approval of the public text of a decision's free-text fields (``texts``: field ->
    text as it may be published). Every free-text field the decision has must be given."""
    require_person_key(ledger, signer, by, TEXT_CHECK_ROLES, N_("person checking the text"))
    e = find_decision(ledger, decision)
    rec = e.record
    assert isinstance(rec, DisclosureDecision)
    free = [f for f in free_fields(rec.type) if f in rec.fields]
    other = sorted(set(texts) - set(free))
    missing = [f for f in free if f not in texts]
    if other or missing:
        raise RefusedError(Message(N_("a text check gives the public text of exactly the decision's free-text fields "
                                      "({fields})"), fields=", ".join(free)))
    body = DisclosureTextCheck(decision=e.entry_hash, texts=texts, by=by, checked_ns=_now(now_ns))
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


def act(ledger: Ledger, signer: Signer, by: str, decision: str, action: str, *, note: str = "",
        changes: dict[str, str] | None = None, changed_on: dt.date | None = None, sha256: str | None = None,
        calendar: WorkCalendar | None = None, now_ns: int | None = None) -> Entry:
    """A publication act signed by the publishing officer: publish, withdraw (A1 Art.15), correct or
    revoke with the explanation (A1 Art.17) and its 3-working-day deadline from ``changed_on``
    (行政处罚法 Art.48). A correction's changed fields must leave a valid decision."""
    require_person_key(ledger, signer, by, PUBLISH_ROLES, N_("publishing officer"))
    e = find_decision(ledger, decision)
    rec = e.record
    assert isinstance(rec, DisclosureDecision)
    from archive.disclosure.state import decision_state

    st = decision_state(ledger, e.entry_hash)
    now = _now(now_ns)
    due = None
    if action in ("correct", "revoke"):
        if not note.strip():
            raise RefusedError(Message(N_("a correction or revocation needs --note with its explanation (A1 Art.17)")))
        if st.revoked:
            raise RefusedError(Message(N_("decision {id} is already revoked"), id=e.entry_hash[:16]))
        cal = calendar if calendar is not None else WorkCalendar()
        due = deadline(cal, changed_on or bureau_date(now), CORRECT_WORKDAYS)
    if action == "correct":
        changes = clean_fields(changes or {})
        if not changes:
            raise RefusedError(Message(N_("a correction names the fields it changes (--set FIELD=VALUE)")))
        problems = decision_problems(rec.type, {**st.fields, **changes})
        if problems:
            raise DecisionInvalid(rec.type, problems)
    elif action == "withdraw" and (not st.published or st.withdrawn):
        raise RefusedError(Message(N_("decision {id} is not on the portal; nothing to withdraw"), id=e.entry_hash[:16]))
    elif action == "publish" and (st.withheld is not None or st.withdrawn):
        raise RefusedError(Message(N_("decision {id} is withheld or withdrawn; it is not published again"),
                                   id=e.entry_hash[:16]))
    body = DisclosureAct(decision=e.entry_hash, action=action, note=note, changes=changes or {}, deadline=due,
                         sha256=sha256, by=by, at_ns=now)
    return ledger.append(seal(make_body(body), signer), require_trusted=True)


__all__ = ["DECISION_TYPES", "DecisionInvalid", "act", "add_decision", "check_texts", "find_decision",
           "read_decision_file", "withhold"]
