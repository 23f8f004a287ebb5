"""What the dock ledger holds, as rows for ``bodycam segments`` (A2 Art.15: by device, time).

Read-only: the rows come from the signed bodies in the ledger, so what is listed is exactly
what will be shipped and verified, never a cached copy of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from agent.offload.names import display_name
from bodycam.formats import rfc3339
from ledger.records import Segment
from ledger.store import Ledger


@dataclass(frozen=True)
class SegmentRow:
    device_id: str
    seq: int
    source_name: str      # as ledger data (``b64:`` form for unsafe names)
    shown_name: str       # printable form for a terminal
    sha256: str
    container: str
    codec: str
    duration_ms: int
    start_ns: int
    end_ns: int
    decodable: bool
    flags: tuple[str, ...]
    dock_session: str | None
    entry_hash: str
    size: int
    device_start: str
    case_id: str | None
    activity: str | None
    officer_id: str | None
    time_uncertainty_ms: int | None = None  # ± on start/end from the clock history (None: not stated)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = list(self.flags)
        d["entry"] = self.entry_hash
        d["start"] = rfc3339(self.start_ns)
        d["end"] = rfc3339(self.end_ns)
        return d


def segment_rows(ledger: Ledger, device_id: str | None = None) -> list[SegmentRow]:
    """Segments in ledger order, optionally of one device."""
    rows = []
    for e in ledger.entries(kind="segment", device_id=device_id):
        m = e.record
        assert isinstance(m, Segment)
        rows.append(SegmentRow(m.device_id, m.seq, m.source_name, display_name(m.source_name), m.media.sha256,
                               m.media.container, m.media.codec, m.media.duration_ms, m.start_ns, m.end_ns,
                               m.decodable, tuple(m.flags), m.dock_session, e.entry_hash, m.media.size,
                               m.device_start, m.case_id, m.activity, m.officer_id, m.time_uncertainty_ms))
    return rows
