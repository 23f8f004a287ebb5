"""What the public may see of a decision: personal data removed by field and by pattern.

生态环境行政处罚办法 Art.64 and A1 Art.10 keep ID numbers, addresses, phone numbers, bank accounts and
other natural persons' names off the portal; a natural person's own name is shown by the bureau's
policy (``full``, ``mou`` 张某, ``star`` 张*). Masking works twice over: by field (the ``private``
fields of a decision are never published; name fields follow the policy; a legal representative
is another natural person and is shown as 张某 at most) and by pattern over every published text
(ID numbers, mobile and fixed-line numbers, long digit runs such as bank accounts, and the exact
values of the decision's private fields and names wherever they occur). Patterns cannot find an
address or a witness's name written in prose, so free-text fields are published only in the
wording a person approved (``disclosure_text_check``), masked again on the way out.
"""

from __future__ import annotations

import re
from typing import Literal

from ledger.records.disclosure import KIND_FIELD, NAME_FIELD, TYPE_FIELDS

NamePolicy = Literal["full", "mou", "star"]
NAME_POLICIES: tuple[str, ...] = ("full", "mou", "star")
MASK = "＊＊"
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                     "夏侯", "令狐", "澹台", "轩辕", "端木", "呼延", "南宫", "西门")

_PATTERNS = (
    re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
               r"(?![0-9A-Za-z])"),                     # resident ID number (GB 11643)
    re.compile(r"(?<!\d)\d{15}(?!\d)"),                  # old 15-digit ID number
    re.compile(r"(?<!\d)\d{12,19}(?!\d)"),               # bank card and account numbers, other long numbers
    re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)"),    # fixed line with area code
    re.compile(r"(?<!\d)\d{3,6}(?:[- ]\d{3,6}){2,5}(?!\d)"),  # grouped numbers (accounts, cards)
)


def surname(name: str) -> str:
    name = name.strip()
    for s in COMPOUND_SURNAMES:
        if name.startswith(s) and len(name) > len(s):
            return s
    return name[:1]


def mask_name(name: str, policy: str) -> str:
    """A natural person's name by ``policy``: ``full`` 张三丰, ``mou`` 张某, ``star`` 张**."""
    name = name.strip()
    if policy == "full" or not name:
        return name
    s = surname(name)
    if policy == "mou":
        return s + "某"
    return s + "*" * max(len(name) - len(s), 1)


def mask_patterns(text: str) -> str:
    """Every ID number, phone number and long digit run in ``text`` replaced by the mask."""
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def is_natural_person(type_: str, fields: dict[str, str]) -> bool:
    return fields.get(KIND_FIELD[type_]) == "自然人"


def replacements(type_: str, fields: dict[str, str], policy: str) -> list[tuple[str, str]]:
    """Exact values to replace wherever they occur: private fields by the mask, names by their
    masked form; longest first, so a name inside a longer value is not half-replaced."""
    kinds = TYPE_FIELDS[type_]
    out: list[tuple[str, str]] = []
    for name, value in fields.items():
        kind = kinds.get(name, ("", "private"))[1]
        if kind == "private" and len(value) >= 2:
            out.append((value, MASK))
    party = fields.get(NAME_FIELD[type_])
    if party and is_natural_person(type_, fields):
        out.append((party, mask_name(party, policy)))
    rep = fields.get("CF_FRDB")
    if rep:
        out.append((rep, mask_name(rep, "mou")))
    return sorted(out, key=lambda kv: -len(kv[0]))


def mask_text(text: str, repl: list[tuple[str, str]]) -> str:
    for value, masked in repl:
        text = text.replace(value, masked)
    return mask_patterns(text)


def public_fields(type_: str, fields: dict[str, str], approved_texts: dict[str, str] | None,
                  policy: str) -> dict[str, str] | None:
    """The fields the portal shows, masked; None while a free-text field awaits a person's check
    (``approved_texts`` is the latest text check's ``texts``)."""
    kinds = TYPE_FIELDS[type_]
    repl = replacements(type_, fields, policy)
    out: dict[str, str] = {}
    for name, value in fields.items():
        kind = kinds.get(name, ("", "private"))[1]
        if kind == "private":
            continue
        if kind == "free":
            if approved_texts is None or name not in approved_texts:
                return None
            value = approved_texts[name]
        elif kind == "name":
            if name == "CF_FRDB":
                out[name] = mask_name(value, "mou")
            elif name == NAME_FIELD[type_] and is_natural_person(type_, fields):
                out[name] = mask_name(value, policy)
            else:
                out[name] = mask_patterns(value)
            continue
        out[name] = mask_text(value, repl) if kind in ("free", "text") else value
    return out


def proposed_texts(type_: str, fields: dict[str, str], policy: str) -> dict[str, str]:
    """The free-text fields as automatic masking leaves them: what a person is asked to check (and
    to edit where prose still names an address or another person)."""
    kinds = TYPE_FIELDS[type_]
    repl = replacements(type_, fields, policy)
    return {k: mask_text(v, repl) for k, v in fields.items() if kinds.get(k, ("", ""))[1] == "free"}
