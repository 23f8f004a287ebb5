"""The disclosure family (Attachment 1): decisions, exemptions, text checks and publication acts.

A decision's fields are what A1 Art.9 says must be published, per type (penalty, coercive measure,
inspection); a penalty also carries the national credit platform's 双公示 fields (``CF_*``) and a
severity class. The ledger keeps the fields as entered (it is private); what the public sees is
derived from them by masking (``archive.disclosure.masking``). The per-type rules are here, written
once, because ``ledger verify`` applies them to every decision entry as ``add_decision`` does
before signing: a decision that misses a field A1 Art.9 requires can neither be written nor pass
verification.

Each later act is an entry of its own naming the decision's entry hash: ``disclosure_withhold``
(A1 Art.10, reason 1–5), ``disclosure_text_check`` (a person's check of the free-text fields with
the text that may be published), ``disclosure_act`` (publish, withdraw, correct, revoke; A1 Art.11,
15, 17), signed by who did it. Deadlines (A1 Art.14, 行政处罚法 Art.48) are recorded with the
calendar data that produced them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from bodycam.i18n import N_, Message
from ledger.records.base import Body, Ident, Ns, Part, Sha256Hex, Text

DecisionType = Literal["penalty", "coercion", "inspection"]
DECISION_TYPES: tuple[str, ...] = ("penalty", "coercion", "inspection")
DateText = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
Source = Annotated[str, StringConstraints(max_length=300)]

PUBLISH_WORKDAYS = {"penalty": 7, "coercion": 20, "inspection": 20}
"""A1 Art.14: penalties within 7 working days of the decision, everything else within 20."""
CORRECT_WORKDAYS = 3
"""行政处罚法 Art.48: a revoked or changed decision is withdrawn or corrected within 3 working days."""

SEVERITIES: tuple[str, ...] = ("轻微", "一般", "严重")
SUBJECT_KINDS: tuple[str, ...] = ("法人及非法人组织", "自然人", "个体工商户")
PENALTY_CATEGORIES: tuple[str, ...] = (
    # 行政处罚法 (2021) Art.9
    "警告", "通报批评", "罚款", "没收违法所得", "没收非法财物", "暂扣许可证件", "降低资质等级", "吊销许可证件",
    "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业", "行政拘留", "其他",
)
WITHHOLD_REASONS: dict[int, str] = {
    # A1 Art.10, items 1–5
    1: N_("the party is a minor"),
    2: N_("state secrets or trade secrets"),
    3: N_("would endanger security or social stability"),
    4: N_("would hinder enforcement"),
    5: N_("other reasons it is unsuitable to publish"),
}

# --- the fields of each type (A1 Art.9; 双公示 CF_* for penalties) ---------------------------------------

#: field -> (meaning, kind); kinds: text (one line), free (free text, human-checked before it is
#: published), date, uscc (unified social credit code), wan (amount in 万元), private (never published)
FIELD_KINDS = ("text", "free", "date", "uscc", "wan", "private", "name", "choice")

PENALTY_FIELDS: dict[str, tuple[str, str]] = {
    "CF_WSH": ("行政处罚决定书文号", "text"),
    "CF_XDR_MC": ("行政相对人名称 (violator)", "name"),
    "CF_XDR_LB": ("行政相对人类别", "choice"),
    "CF_XDR_SHXYM": ("统一社会信用代码", "uscc"),
    "CF_FRDB": ("法定代表人", "name"),
    "CF_WFXW": ("违法行为类型", "text"),
    "CF_SY": ("违法事实 (facts)", "free"),
    "CF_YJ": ("处罚依据 (legal basis)", "text"),
    "CF_CFLB": ("处罚类别", "choice"),
    "CF_NR": ("处罚内容 (result)", "free"),
    "CF_NR_FK": ("罚款金额（万元）", "wan"),
    "CF_NR_WFFF": ("没收违法所得、没收非法财物的金额（万元）", "wan"),
    "CF_NR_ZKDX": ("暂扣或吊销证照名称及编号", "text"),
    "CF_JDRQ": ("处罚决定日期 (decision date)", "date"),
    "CF_YXQ": ("处罚有效期", "date"),
    "CF_GSJZQ": ("公示截止期", "date"),
    "CF_CFJG": ("处罚机关 (enforcing body)", "text"),
    "CF_CFJGDM": ("处罚机关统一社会信用代码", "uscc"),
    "CF_SJLY": ("数据来源单位", "text"),
    "CF_SJLYDM": ("数据来源单位统一社会信用代码", "uscc"),
    "BZ": ("备注", "free"),
    "evidence": ("证据 (evidence)", "free"),
    "execution": ("执行情况 (execution status)", "text"),
    "severity": ("失信严重程度 (轻微/一般/严重; sets the public period)", "choice"),
}
PENALTY_REQUIRED = ("CF_WSH", "CF_XDR_MC", "CF_XDR_LB", "CF_WFXW", "CF_SY", "CF_YJ", "CF_CFLB", "CF_NR", "CF_JDRQ",
                    "CF_YXQ", "CF_CFJG", "CF_CFJGDM", "CF_SJLY", "CF_SJLYDM", "evidence", "execution", "severity")

COERCION_FIELDS: dict[str, tuple[str, str]] = {
    "body": ("实施机关 (enforcing body)", "text"),
    "decision": ("行政强制决定 (measure decision)", "free"),
    "method": ("强制方式 (method)", "text"),
    "result": ("结果 (result)", "free"),
    "date": ("决定日期 (decision date)", "date"),
    "document_no": ("决定书文号", "text"),
    "party": ("当事人", "name"),
    "party_kind": ("当事人类别", "choice"),
    "party_code": ("当事人统一社会信用代码", "uscc"),
}
COERCION_REQUIRED = ("body", "decision", "method", "result", "date")

INSPECTION_FIELDS: dict[str, tuple[str, str]] = {
    "body": ("检查机关 (body)", "text"),
    "target": ("检查对象 (target)", "name"),
    "target_kind": ("检查对象类别", "choice"),
    "target_code": ("检查对象统一社会信用代码", "uscc"),
    "basis": ("检查依据 (basis)", "text"),
    "method": ("检查方式 (method)", "text"),
    "time": ("检查时间 (time)", "text"),
    "items": ("检查事项 (items)", "text"),
    "sampled": ("抽查内容 (sampled content)", "free"),
    "problems": ("发现的问题 (problems found)", "free"),
    "rectification": ("整改情况 (rectification)", "free"),
    "outcome": ("处理结果 (outcome)", "free"),
    "date": ("结果作出日期 (decision date)", "date"),
}
INSPECTION_REQUIRED = ("body", "target", "basis", "method", "time", "items", "sampled", "problems", "rectification",
                       "outcome", "date")

COMMON_FIELDS: dict[str, tuple[str, str]] = {
    # every type: the handling unit (annual statistics) and personal data that is never published
    "unit": ("承办单位 (handling unit)", "text"),
    "id_number": ("身份证件号码 (never published)", "private"),
    "address": ("地址 (never published)", "private"),
    "phone": ("联系电话 (never published)", "private"),
    "bank_account": ("银行账号 (never published)", "private"),
}

TYPE_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "penalty": {**PENALTY_FIELDS, **COMMON_FIELDS},
    "coercion": {**COERCION_FIELDS, **COMMON_FIELDS},
    "inspection": {**INSPECTION_FIELDS, **COMMON_FIELDS},
}
TYPE_REQUIRED: dict[str, tuple[str, ...]] = {
    "penalty": PENALTY_REQUIRED, "coercion": COERCION_REQUIRED, "inspection": INSPECTION_REQUIRED}
DATE_FIELD = {"penalty": "CF_JDRQ", "coercion": "date", "inspection": "date"}
"""The field holding the decision's date, from which A1 Art.14 counts."""
NAME_FIELD = {"penalty": "CF_XDR_MC", "coercion": "party", "inspection": "target"}
KIND_FIELD = {"penalty": "CF_XDR_LB", "coercion": "party_kind", "inspection": "target_kind"}
CODE_FIELD = {"penalty": "CF_XDR_SHXYM", "coercion": "party_code", "inspection": "target_code"}

MAX_FIELD_CHARS = 4000

# --- unified social credit code (GB 32100-2015) -------------------------------------------------------

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100-2015 §4.3: weights 3^i mod 31)."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a unified social credit code (None: it is one)."""
    if len(code) != 18:
        return N_("must be 18 characters (GB 32100-2015), not {n}")
    bad = sorted({c for c in code if c not in USCC_CHARS})
    if bad:
        return N_("holds characters a unified social credit code never has: {chars} (no I, O, S, V, Z, lowercase)")
    if not code[2:8].isdigit():
        return N_("characters 3–8 must be the administrative division code (digits)")
    if uscc_check_char(code[:17]) != code[17]:
        return N_("check character is wrong (GB 32100-2015 checksum): expected {expected}")
    return None


# --- validation ------------------------------------------------------------------------------------------

_WAN = re.compile(r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,6})?$")
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")


def parse_date(value: str) -> dt.date | None:
    """YYYY-MM-DD (or YYYY/MM/DD, as the credit platform writes it); None if not a real date."""
    m = _DATE.match(value.strip())
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def categories(value: str) -> list[str]:
    """The penalty categories of a CF_CFLB value (several separated by ；;、, or ,)."""
    return [p.strip() for p in re.split(r"[；;、,，]", value) if p.strip()]


def _choice_problem(name: str, value: str, type_: str) -> Message | None:
    if name == "severity":
        options: tuple[str, ...] = SEVERITIES
    elif name == "CF_CFLB":
        unknown = [c for c in categories(value) if c not in PENALTY_CATEGORIES]
        if not categories(value):
            return Message(N_("{field}: name at least one category of 行政处罚法 Art.9"), field=name)
        if unknown:
            return Message(N_("{field}: {values} is not a category of 行政处罚法 Art.9 ({options})"), field=name,
                           values="、".join(unknown), options="、".join(PENALTY_CATEGORIES))
        return None
    else:
        options = SUBJECT_KINDS
    if value not in options:
        return Message(N_("{field}: must be one of {options}, not {value!r}"), field=name,
                       options="/".join(options), value=value[:40])
    return None


def decision_problems(type_: str, fields: object) -> list[Message]:
    """Every missing or malformed field of a decision of ``type_`` (A1 Art.9; empty: it is complete).

    Pure: ``add_decision`` refuses with all of them at once, ``ledger verify`` reports them."""
    if type_ not in TYPE_FIELDS:
        return [Message(N_("type must be one of {types}, not {type!r}"), types=", ".join(DECISION_TYPES),
                        type=str(type_)[:40])]
    if not isinstance(fields, dict):
        return [Message(N_("the decision's fields must be a table of names and texts"))]
    known = TYPE_FIELDS[type_]
    problems: list[Message] = []
    unknown = sorted(str(k)[:40] for k in fields if k not in known)
    if unknown:
        problems.append(Message(N_("unknown fields for a {type} decision: {fields}"), type=type_,
                                fields=", ".join(unknown)))
    values: dict[str, str] = {}
    for name, value in fields.items():
        if name not in known:
            continue
        if not isinstance(value, str):
            problems.append(Message(N_("{field}: must be text"), field=name))
        elif len(value) > MAX_FIELD_CHARS:
            problems.append(Message(N_("{field}: longer than {n} characters"), field=name, n=MAX_FIELD_CHARS))
        elif value.strip():
            values[name] = value.strip()
    for name in TYPE_REQUIRED[type_]:
        if name not in values:
            problems.append(Message(N_("{field} ({meaning}) is missing (A1 Art.9)"), field=name,
                                    meaning=known[name][0]))
    for name, value in values.items():
        kind = known[name][1]
        if kind == "date" and parse_date(value) is None:
            problems.append(Message(N_("{field}: {value!r} is not a date (YYYY-MM-DD)"), field=name,
                                    value=value[:40]))
        elif kind == "uscc":
            why = uscc_problem(value)
            if why is not None:
                problems.append(Message(N_("{field}: {value!r} {problem}"), field=name, value=value[:40],
                                        problem=Message(why, n=len(value), expected=uscc_check_char(value[:17])
                                                        if len(value) >= 17 and all(c in USCC_CHARS for c in
                                                                                    value[:17]) else "?",
                                                        chars="".join(sorted({c for c in value
                                                                              if c not in USCC_CHARS}))[:20])))
        elif kind == "wan" and not _WAN.match(value):
            problems.append(Message(N_("{field}: {value!r} is not an amount in 万元 (digits, up to 6 decimals)"),
                                    field=name, value=value[:40]))
        elif kind == "choice":
            p = _choice_problem(name, value, type_)
            if p is not None:
                problems.append(p)
    problems += _type_rules(type_, values)
    return problems


def _type_rules(type_: str, values: dict[str, str]) -> list[Message]:
    """Fields required by other fields: a legal person's code, a fine's amount, a licence's number."""
    problems: list[Message] = []
    kind_field, code_field = KIND_FIELD[type_], CODE_FIELD[type_]
    if values.get(kind_field) == "法人及非法人组织" and code_field not in values:
        problems.append(Message(N_("{field} is missing: a legal person or organisation is named by its unified "
                                   "social credit code"), field=code_field))
    if type_ != "penalty":
        return problems
    if values.get("CF_XDR_LB") == "法人及非法人组织" and "CF_FRDB" not in values:
        problems.append(Message(N_("CF_FRDB (法定代表人) is missing for a legal person")))
    cats = categories(values.get("CF_CFLB", ""))
    if "罚款" in cats and "CF_NR_FK" not in values:
        problems.append(Message(N_("CF_NR_FK (罚款金额，万元) is missing for a fine")))
    if any(c.startswith("没收") for c in cats) and "CF_NR_WFFF" not in values:
        problems.append(Message(N_("CF_NR_WFFF (没收金额，万元) is missing for a confiscation")))
    if any(c in ("暂扣许可证件", "吊销许可证件") for c in cats) and "CF_NR_ZKDX" not in values:
        problems.append(Message(N_("CF_NR_ZKDX (证照名称及编号) is missing for a suspended or revoked licence")))
    decided, valid = parse_date(values.get("CF_JDRQ", "")), parse_date(values.get("CF_YXQ", ""))
    if decided and valid and valid < decided:
        problems.append(Message(N_("CF_YXQ (处罚有效期) is before CF_JDRQ (处罚决定日期)")))
    return problems


def decision_date(type_: str, fields: dict[str, str]) -> dt.date:
    """The date A1 Art.14 counts from (the fields must be valid)."""
    d = parse_date(fields[DATE_FIELD[type_]])
    assert d is not None
    return d


# --- records ---------------------------------------------------------------------------------------------


class DisclosureDeadline(Part):
    """A deadline in working days with the calendar data that produced it (A1 Art.14)."""

    start: DateText = Field(description="the day of the decision or change (not counted)")
    workdays: int = Field(ge=0, le=366)
    due: DateText = Field(description="the last working day it may be done on")
    calendar: list[Source] = Field(description="which working-day data decided it (archive.workdays)")


class DisclosureDecision(Body):
    """An enforcement decision to be published (A1 Art.9), with its publication deadline (A1 Art.14)."""

    kind: Literal["disclosure_decision"] = "disclosure_decision"
    type: DecisionType
    fields: dict[FieldName, Text]
    case_id: Ident | None = None
    deadline: DisclosureDeadline
    by: Ident = Field(description="person id of who recorded the decision")
    added_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "case_id": self.case_id}


class DisclosureWithhold(Body):
    """A decision not published, with its A1 Art.10 reason (never silently dropped)."""

    kind: Literal["disclosure_withhold"] = "disclosure_withhold"
    decision: Sha256Hex
    reason: int = Field(ge=1, le=5)
    note: Text = ""
    by: Ident
    withheld_ns: Ns

    @model_validator(mode="after")
    def _check(self) -> DisclosureWithhold:
        if self.reason == 5 and not self.note.strip():
            raise ValueError("reason 5 (other) needs a note saying why (A1 Art.10(5))")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.decision}


class DisclosureTextCheck(Body):
    """A person's check of a decision's free-text fields: the text that may be published, as read
    and approved (personal data removed) by ``by``."""

    kind: Literal["disclosure_text_check"] = "disclosure_text_check"
    decision: Sha256Hex
    texts: dict[FieldName, Text]
    by: Ident
    checked_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.decision}


ActKind = Literal["publish", "withdraw", "correct", "revoke"]


class DisclosureAct(Body):
    """Publication, withdrawal (A1 Art.15), correction or revocation (A1 Art.17) of a decision on the
    portal, signed by the publishing officer. ``sha256`` is the hash of the public record as then
    published (its JSON feed item), so what the public saw can be shown later."""

    kind: Literal["disclosure_act"] = "disclosure_act"
    decision: Sha256Hex
    action: ActKind
    note: Text = ""
    changes: dict[FieldName, Text] = Field(default_factory=dict, description="corrected fields (correct only)")
    deadline: DisclosureDeadline | None = Field(default=None,
                                                description="correct/revoke: 3 working days from changed_on")
    sha256: Sha256Hex | None = None
    by: Ident
    at_ns: Ns

    @model_validator(mode="after")
    def _check(self) -> DisclosureAct:
        if self.action in ("correct", "revoke") and not self.note.strip():
            raise ValueError("a correction or revocation needs its explanation (A1 Art.17)")
        if self.action in ("correct", "revoke") and self.deadline is None:
            raise ValueError("a correction or revocation records its deadline (行政处罚法 Art.48)")
        if self.changes and self.action != "correct":
            raise ValueError("only a correction changes fields")
        return self

    def ledger_index(self) -> dict:
        return {"officer_id": self.by, "ref": self.decision}


DISCLOSURE_KINDS = (DisclosureDecision, DisclosureWithhold, DisclosureTextCheck, DisclosureAct)
