"""Which decisions are major (A3 Art.3): the six criteria and the catalogue of major decisions.

A3 Art.3 lists five kinds of major decision and, as (6), "other cases the law names", kept as a
catalogue (重大行政执法决定法制审核目录清单) that the policy section updates as needed. The catalogue
lives in configuration (``[archive] review_catalogue``, a TOML file; unset: :data:`BUILT_IN`) and
each version a classification uses is recorded in the ledger (``review_catalogue``, named by the
SHA-256 of its canonical content), so a classification can be re-derived years later from the
version it used.

:func:`classify` is the one pure decision: facts of the proposed decision and a catalogue in,
the criteria met with why out.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from bodycam.configfile import read_toml
from bodycam.errors import ConfigError, RefusedError
from bodycam.i18n import N_, Message
from ledger.canonical import canonical_json
from ledger.checks.review import CATALOGUE_ROLES
from ledger.envelope import seal
from ledger.keys import Signer
from ledger.people import require_person_key
from ledger.records.review import CaseFacts, CatalogueItem, CriterionMet, FineThreshold, ReviewCatalogue
from ledger.store import Entry, Ledger

#: A3 Art.3, items (1)–(6).
CRITERIA: dict[int, str] = {
    1: N_("major public interest, major impact or social risk"),
    2: N_("directly affects major rights of the party or third parties"),
    3: N_("made after a hearing"),
    4: N_("complex, several legal relations"),
    5: N_("transfer to the police or judiciary for criminal liability"),
    6: N_("other cases in the catalogue"),
}

#: The catalogue used when ``[archive] review_catalogue`` is unset (codes, the regulation's words,
#: the A3 Art.3 criterion each falls under) and the fine thresholds per party kind, in yuan.
BUILT_IN: dict = {
    "items": [
        {"code": "order_production_halt", "label": "责令停产整治", "criterion": 2},
        {"code": "order_suspension", "label": "责令停业", "criterion": 2},
        {"code": "order_closure", "label": "责令关闭", "criterion": 2},
        {"code": "revoke_licence", "label": "吊销许可证", "criterion": 2},
        {"code": "suspend_licence", "label": "暂扣许可证", "criterion": 2},
        {"code": "daily_penalty", "label": "按日连续处罚", "criterion": 2},
        {"code": "seal_or_seize", "label": "查封、扣押", "criterion": 2},
        {"code": "transfer_detention", "label": "移送公安机关行政拘留", "criterion": 5},
        {"code": "transfer_crime", "label": "移送追究刑事责任", "criterion": 5},
    ],
    "fines": {"individual": 20_000, "organisation": 200_000},
}


@dataclass(frozen=True)
class Catalogue:
    items: tuple[CatalogueItem, ...]
    fines: tuple[FineThreshold, ...]
    source: str

    @property
    def sha256(self) -> str:
        content = {"items": [i.model_dump() for i in self.items], "fines": [f.model_dump() for f in self.fines]}
        return hashlib.sha256(canonical_json(content)).hexdigest()

    def item(self, code: str) -> CatalogueItem | None:
        return next((i for i in self.items if i.code == code), None)

    def threshold(self, party_kind: str | None) -> int | None:
        return next((f.yuan for f in self.fines if f.party_kind == party_kind), None)


def _parse(data: dict, source: str) -> Catalogue:
    unknown = set(data) - {"items", "fines"}
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(unknown)} (items, fines)")
    raw_items, raw_fines = data.get("items", []), data.get("fines", {})
    if not isinstance(raw_items, list) or len(raw_items) > 500 or not isinstance(raw_fines, dict):
        raise ConfigError(f"{source}: items must be a list of at most 500 [[items]] tables and fines a table")
    try:
        items = tuple(CatalogueItem.model_validate(i) for i in raw_items)
        fines = tuple(FineThreshold(party_kind=k, yuan=v) for k, v in sorted(raw_fines.items()))
    except ValueError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    codes = [i.code for i in items]
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{source}: an item code is listed twice")
    return Catalogue(items, fines, source)


def load_catalogue(file: Path | None) -> Catalogue:
    """The configured catalogue (``file``), or the built-in one when ``file`` is None."""
    if file is None:
        return _parse(BUILT_IN, "built-in catalogue (archive/review/catalogue.py)")
    return _parse(read_toml(file), str(file))


@dataclass(frozen=True)
class Met:
    """A criterion met and why (a Message: English in the ledger, the reader's language when shown)."""

    criterion: int
    why: Message

    def record(self) -> CriterionMet:
        from archive.review.chinese import zh

        return CriterionMet(criterion=self.criterion, why=str(self.why), why_zh=zh(self.why))


PARTY_KINDS = {"individual": N_("individual"), "organisation": N_("organisation")}
TRANSFER_TO = {"police": N_("police"), "judiciary": N_("judiciary")}


def classify(facts: CaseFacts, catalogue: Catalogue) -> list[Met]:
    """The A3 Art.3 criteria the proposed decision meets, each with why (empty: not major)."""
    met: list[Met] = []
    if facts.public_interest.strip():
        met.append(Met(1, Message(N_("public interest: {text}"), text=facts.public_interest.strip())))
    for code in facts.measures:
        item = catalogue.item(code)
        if item is not None:
            met.append(Met(item.criterion, Message(N_("catalogue item {code} ({label})"), code=item.code,
                                                   label=item.label)))
    threshold = catalogue.threshold(facts.party_kind)
    if facts.fine_yuan is not None and threshold is not None and facts.fine_yuan >= threshold:
        met.append(Met(2, Message(N_("a fine of {fine} yuan on a party of kind {party} reaches the catalogue's "
                                     "threshold of {threshold} yuan"), fine=facts.fine_yuan,
                                  party=Message(PARTY_KINDS[facts.party_kind or "individual"]), threshold=threshold)))
    if facts.hearing:
        met.append(Met(3, Message(N_("the decision is made after a hearing"))))
    if facts.legal_relations.strip():
        met.append(Met(4, Message(N_("several legal relations: {text}"), text=facts.legal_relations.strip())))
    if facts.transfer is not None:
        met.append(Met(5, Message(N_("transfer to the {to} for criminal liability"),
                                  to=Message(TRANSFER_TO[facts.transfer]))))
    return sorted(met, key=lambda c: c.criterion)


def unknown_measures(facts: CaseFacts, catalogue: Catalogue) -> list[str]:
    """Measure codes the catalogue does not list (refused: a typo must not make a case ordinary)."""
    return [m for m in facts.measures if catalogue.item(m) is None]


def recorded_catalogue(ledger: Ledger, catalogue: Catalogue) -> Entry | None:
    """The ``review_catalogue`` entry of this version, if the ledger holds it."""
    for e in ledger.entries(kind="review_catalogue"):
        if e.body.get("sha256") == catalogue.sha256:
            return e
    return None


def ensure_recorded(ledger: Ledger, catalogue: Catalogue, signer: Signer, by: str, now_ns: int | None = None) -> Entry:
    """The ledger entry of this catalogue version, appended (signed by ``by``) the first time it is used."""
    found = recorded_catalogue(ledger, catalogue)
    if found is not None:
        return found
    require_person_key(ledger, signer, by, CATALOGUE_ROLES, N_("review catalogue"))
    body = ReviewCatalogue(sha256=catalogue.sha256, source=catalogue.source[:4000], items=list(catalogue.items),
                           fines=list(catalogue.fines), by=by, set_ns=time.time_ns() if now_ns is None else now_ns)
    return ledger.append(seal(body, signer), require_trusted=True)


def refuse_unknown(facts: CaseFacts, catalogue: Catalogue) -> None:
    unknown = unknown_measures(facts, catalogue)
    if unknown:
        raise RefusedError(Message(N_("measure(s) {codes} are not in the catalogue of major decisions ({source}); "
                                      "known: {known}"), codes=", ".join(unknown), source=catalogue.source,
                                   known=", ".join(i.code for i in catalogue.items)))
