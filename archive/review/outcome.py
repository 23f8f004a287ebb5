"""The outcome of a review (A3 Art.11) and the criteria behind it, as pure rules over the findings
and the reviewers' judgements.

- (1) lawful: every one of the nine criteria met — so no automatic finding stands and every judged
  A3 Art.8 item is ``ok``;
- (2) correct: flaws only (facts, evidence or procedure flawed; law wrongly applied; discretion
  inappropriate; documents not standard) — nothing that makes the main evidence or the officers fail;
- (3) re-investigate, supplement or do not decide: something fails or is unclear;
- (4) transfer: outside the bureau's jurisdiction or a suspected crime (A3 Art.8(1), (6) judged
  ``failed``).

The items software cannot decide (legal basis, discretion, procedure, crime transfer: A3 Art.8(3)–(6))
need a reviewer's signed judgement before any outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from archive.review.findings import Finding
from bodycam.i18n import N_, Message

OUTCOMES: dict[str, str] = {
    "lawful": N_("lawful"),
    "correct": N_("correct"),
    "reinvestigate": N_("re-investigate, supplement or do not decide"),
    "transfer": N_("transfer"),
}
JUDGED_ITEMS = (3, 4, 5, 6)
VERDICTS: dict[str, str] = {"ok": N_("ok"), "flawed": N_("flawed"), "failed": N_("failed")}
#: A3 Art.11 criteria, by code.
CRITERIA: dict[str, str] = {
    "A3 Art.11(1)": N_("body lawful, officers qualified, within authority, facts clear, evidence lawful and "
                       "sufficient, law correct, discretion appropriate, procedure lawful, documents complete"),
    "A3 Art.11(2)1": N_("facts, evidence or procedure flawed"),
    "A3 Art.11(2)2": N_("laws, regulations or rules applied wrongly"),
    "A3 Art.11(2)3": N_("discretion benchmark applied inappropriately"),
    "A3 Art.11(2)4": N_("enforcement documents not standard"),
    "A3 Art.11(3)1-2": N_("body unlawful or officers not qualified"),
    "A3 Art.11(3)3": N_("facts unclear"),
    "A3 Art.11(3)4": N_("main evidence insufficient"),
    "A3 Art.11(3)5": N_("statutory procedure violated"),
    "A3 Art.11(4)": N_("outside this bureau's jurisdiction or a suspected crime: transfer"),
}
_FLAW_BY_ITEM = {1: "A3 Art.11(2)1", 2: "A3 Art.11(2)1", 3: "A3 Art.11(2)2", 4: "A3 Art.11(2)3",
                 5: "A3 Art.11(2)1", 6: "A3 Art.11(2)1", 7: "A3 Art.11(2)4"}
_FAIL_BY_ITEM = {1: "A3 Art.11(3)1-2", 2: "A3 Art.11(3)4", 3: "A3 Art.11(3)3", 4: "A3 Art.11(3)3",
                 5: "A3 Art.11(3)5", 6: "A3 Art.11(3)3", 7: "A3 Art.11(3)3"}


def _problems(findings: Iterable[Finding], judgements: Mapping[int, str]) -> list[tuple[int, str]]:
    """(A3 Art.8 item, "flawed"|"failed") of every standing finding and non-ok judgement."""
    out = [(f.item, f.severity) for f in findings]
    out += [(item, v) for item, v in sorted(judgements.items()) if v != "ok"]
    return out


def outcome_problems(outcome: str, findings: list[Finding], judgements: Mapping[int, str]) -> list[Message]:
    """Why ``outcome`` may not be concluded (empty: it may)."""
    out: list[Message] = []
    missing = [i for i in JUDGED_ITEMS if i not in judgements]
    if missing:
        out.append(Message(N_("A3 Art.8 item(s) {items} have no reviewer's judgement yet: record them with `bodycam "
                              "review judge`"), items=", ".join(map(str, missing))))
    problems = _problems(findings, judgements)
    if outcome == "lawful":
        for f in findings:
            out.append(Message(N_("finding {code} stands: {message}"), code=f.code, message=f.message))
        for item, verdict in sorted(judgements.items()):
            if verdict != "ok":
                out.append(Message(N_("A3 Art.8 item {item} is judged {verdict}"), item=item,
                                   verdict=Message(VERDICTS[verdict])))
        if findings or any(v != "ok" for v in judgements.values()):
            out.append(Message(N_("a lawful conclusion needs every criterion of A3 Art.11(1) met")))
    elif outcome == "correct":
        if not problems:
            out.append(Message(N_("nothing to correct: no finding and every judgement ok (conclude lawful)")))
        failed = [p for p in problems if p[1] == "failed"]
        if failed:
            out.append(Message(N_("{n} problem(s) fail an A3 Art.8 item (e.g. item {item}): correction is not "
                                  "enough (A3 Art.11(3))"), n=len(failed), item=failed[0][0]))
    elif outcome == "reinvestigate":
        if not problems:
            out.append(Message(N_("nothing to re-investigate: no finding and every judgement ok (conclude lawful)")))
    elif outcome == "transfer":
        if judgements.get(1) != "failed" and judgements.get(6) != "failed":
            out.append(Message(N_("a transfer needs A3 Art.8 item 1 (jurisdiction) or 6 (crime) judged failed")))
    else:
        out.append(Message(N_("unknown outcome {outcome}"), outcome=outcome))
    return out


def criteria_for(outcome: str, findings: list[Finding], judgements: Mapping[int, str]) -> list[str]:
    """The A3 Art.11 criteria behind ``outcome`` (codes of :data:`CRITERIA`)."""
    if outcome == "lawful":
        return ["A3 Art.11(1)"]
    if outcome == "transfer":
        return ["A3 Art.11(4)"]
    out: list[str] = []
    for item, severity in _problems(findings, judgements):
        if outcome == "correct":
            code = _FLAW_BY_ITEM[item]
        elif item == 2 and severity == "flawed":
            code = "A3 Art.11(3)3"
        else:
            code = _FAIL_BY_ITEM[item]
        if code not in out:
            out.append(code)
    return out
