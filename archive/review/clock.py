"""The review period (A3 Art.10) in working days: 7 from the working day after complete receipt,
+3 once with the leader's approval (before the 7th day ends), paused for supplements, expert or
third-party opinion, consultation and interpretation.

Counting follows the calendar convention of A1 Art.14 (``archive.workdays``): the day of receipt
does not count, the working days after it do. A pause begun on day P and ended on day R leaves out
the working days after P up to and including R (the day work stopped counts; the day material
arrives is like a new receipt). Dates are the bureau's dates (China Standard Time, UTC+8).

:func:`clock_status` and :func:`extension_problems` are pure: receipt, events, today and a
:class:`~archive.workdays.WorkCalendar` in, the status (or the reasons an extension is refused) out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from archive.workdays import WorkCalendar
from bodycam.i18n import N_, Message

BASE_DAYS = 7
EXTENSION_DAYS = 3
CST = dt.timezone(dt.timedelta(hours=8), "CST")
PAUSE_REASONS: dict[str, str] = {
    "supplement": N_("supplementary material"),
    "expert": N_("expert or third-party opinion"),
    "consultation": N_("consultation of other departments"),
    "interpretation": N_("interpretation by the competent authority"),
}


def bureau_date(ns: int) -> dt.date:
    """The bureau's calendar date of a UTC nanosecond time."""
    return dt.datetime.fromtimestamp(ns / 1e9, CST).date()


@dataclass(frozen=True)
class ClockEvent:
    action: str  # pause | resume | extend
    day: dt.date
    reason: str | None = None
    entry: str | None = None


@dataclass(frozen=True)
class Pause:
    start: dt.date
    end: dt.date | None
    reason: str
    days: int


@dataclass
class ClockStatus:
    state: str  # not_started | running | paused | concluded
    received: dt.date | None = None
    first_day: dt.date | None = None
    limit: int = BASE_DAYS
    used: int = 0
    paused_days: int = 0
    remaining: int = BASE_DAYS
    due: dt.date | None = None
    overdue: bool = False
    extended_on: dt.date | None = None
    pauses: list[Pause] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {"state": self.state, "received": iso(self.received), "first_day": iso(self.first_day),
                "limit": self.limit, "used": self.used, "paused_days": self.paused_days,
                "remaining": self.remaining, "due": iso(self.due), "overdue": self.overdue,
                "extended_on": iso(self.extended_on),
                "pauses": [{"from": iso(p.start), "to": iso(p.end), "reason": p.reason, "days": p.days}
                           for p in self.pauses],
                "calendar": self.sources}


def clock_status(received: dt.date | None, events: list[ClockEvent], today: dt.date, cal: WorkCalendar,
                 concluded: dt.date | None = None) -> ClockStatus:
    """Where the review period stands on ``today`` (or where it stopped, on ``concluded``)."""
    if received is None:
        return ClockStatus("not_started")
    end = concluded or today
    st = ClockStatus("concluded" if concluded else "running", received=received,
                     first_day=cal.add_workdays(received, 1))
    open_pause: ClockEvent | None = None
    for ev in events:
        if ev.day > end:
            continue
        if ev.action == "pause" and open_pause is None:
            open_pause = ev
        elif ev.action == "resume" and open_pause is not None:
            days = cal.workdays_between(open_pause.day, ev.day)
            st.pauses.append(Pause(open_pause.day, ev.day, open_pause.reason or "", days))
            st.paused_days += days
            open_pause = None
        elif ev.action == "extend" and st.extended_on is None:
            st.extended_on = ev.day
            st.limit = BASE_DAYS + EXTENSION_DAYS
    if open_pause is not None:
        days = cal.workdays_between(open_pause.day, end)
        st.pauses.append(Pause(open_pause.day, None, open_pause.reason or "", days))
        st.paused_days += days
        if not concluded:
            st.state = "paused"
    st.used = max(0, cal.workdays_between(received, end) - st.paused_days)
    st.remaining = st.limit - st.used
    if st.state != "paused":
        st.due = cal.add_workdays(received, st.limit + st.paused_days)
        st.overdue = end > st.due
    st.sources = cal.sources(received, max(end, st.due or end))
    return st


def extension_problems(status: ClockStatus, day: dt.date, cal: WorkCalendar) -> list[Message]:
    """Why the review period may not be extended on ``day`` (empty: it may). A3 Art.10: once, by
    3 working days, and only while the 7 working days have not run out."""
    if status.state == "not_started":
        return [Message(N_("the review period has not started: the submission is not complete (A3 Art.7, 10)"))]
    if status.state == "concluded":
        return [Message(N_("the review is concluded; there is nothing to extend"))]
    if status.extended_on is not None:
        return [Message(N_("the review period was already extended on {day}; A3 Art.10 allows one extension of 3 "
                           "working days"), day=status.extended_on.isoformat())]
    if status.state == "paused":
        return []  # a paused clock cannot run out
    assert status.received is not None
    seventh = cal.add_workdays(status.received, BASE_DAYS + status.paused_days)
    if day > seventh:
        return [Message(N_("the 7th working day ({day}) has ended; an extension must be approved before it ends "
                           "(A3 Art.10)"), day=seventh.isoformat())]
    return []
