"""The case family: what a case is kept as (A2 Art.10: long-term for five reasons)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ledger.records.base import Body, Ident, Ns, Reason, Text


class CaseFlag(Body):
    """A case whose footage must be kept long-term, with the A2 Art.10 item (1–5) that requires it.
    Every segment of the case inherits the retention class; nothing un-flags a case."""

    kind: Literal["case_flag"] = "case_flag"
    case_id: Ident
    retention: Literal["long_term"] = "long_term"
    reason: Reason
    by: Ident = Field(description="person id of who flagged the case")
    note: Text = ""
    flagged_ns: Ns

    def ledger_index(self) -> dict:
        return {"officer_id": self.by}
