"""Working days: the official calendar, plus a local file for the years it does not know yet.

Deadlines in A1 Art.14 (publish within 7 or 20 working days), 行政处罚法 Art.48 (correct within 3)
and A3 Art.10 (review within 7, +3) are counted in working days: weekends and public holidays
off, the make-up working weekend days (调休上班) on. The State Council publishes each year's
arrangement late in the year before, so the ``chinese-calendar`` package always ends somewhere
(1.11 ends with 2026). A deadline computed by guessing a year's holidays is a wrong deadline that
looks right, so a date no data covers is an explicit :class:`CalendarGap` naming the year and the
file to add it to — never a guess.

The local file (``[archive] holidays_file``, TOML) holds one table per year, copied from the
State Council's notice; a year it lists replaces the package's data for that year (so a
correction can be made locally)::

    [2027]
    notice = "国办发明电〔2026〕N号"            # where the days come from
    holidays = ["2027-01-01", "2027-02-10"]   # days off that would be working days
    workdays = ["2027-02-07"]                 # weekend days that are working days

Every result says which data it used (:meth:`WorkCalendar.source`), and callers record that
beside the deadline, so a deadline can be re-derived from the ledger years later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bodycam.configfile import read_toml
from bodycam.errors import BodycamError, ConfigError
from bodycam.i18n import N_, Message

MAX_SPAN_DAYS = 3660  # no deadline here is longer than ten years: a bound, not a guess


class CalendarGap(BodycamError):
    """A date in a year neither the package nor the local holidays file covers."""

    exit_code = 3

    def __init__(self, year: int, file: Path | None, known: tuple[int, int]):
        self.year = year
        where = str(file) if file is not None else "the file named by [archive] holidays_file"
        super().__init__(Message(
            N_("no working-day data for {year}: chinese-calendar covers {first}–{last}; add a [{year}] table "
               "with the State Council's holidays and make-up working days to {file}"),
            year=year, first=known[0], last=known[1], file=where))


@dataclass(frozen=True)
class YearData:
    """One year's exceptions to "Monday to Friday": days off and make-up working days."""

    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str


def _package_years() -> tuple[int, int]:
    import chinese_calendar

    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


def _package_year(year: int) -> YearData:
    import chinese_calendar

    version = getattr(chinese_calendar, "__version__", "?")
    return YearData(
        holidays=frozenset(d for d in chinese_calendar.holidays if d.year == year),
        workdays=frozenset(d for d in chinese_calendar.workdays if d.year == year),
        source=f"chinese-calendar {version}",
    )


def _dates(raw: object, year: int, what: str, file: Path) -> frozenset[dt.date]:
    if not isinstance(raw, list) or len(raw) > 366:
        raise ConfigError(f"{file}: [{year}] {what} must be a list of at most 366 dates")
    out = set()
    for item in raw:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            d = item
        elif isinstance(item, str):
            try:
                d = dt.date.fromisoformat(item)
            except ValueError:
                raise ConfigError(f"{file}: [{year}] {what}: {item!r} is not a date (YYYY-MM-DD)") from None
        else:
            raise ConfigError(f"{file}: [{year}] {what}: {item!r} is not a date (YYYY-MM-DD)")
        if d.year != year:
            raise ConfigError(f"{file}: [{year}] {what}: {d.isoformat()} is not in {year}")
        out.add(d)
    return frozenset(out)


def load_local(file: Path) -> dict[int, YearData]:
    """Read the local holidays file; every mistake is a ConfigError naming the file and the year."""
    data = read_toml(file)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:16]
    years: dict[int, YearData] = {}
    for key, table in data.items():
        if not key.isdigit() or not 1900 <= int(key) <= 2200 or not isinstance(table, Mapping):
            raise ConfigError(f"{file}: top-level entries must be year tables such as [2027], not {key!r}")
        year = int(key)
        unknown = set(table) - {"notice", "holidays", "workdays"}
        if unknown:
            raise ConfigError(f"{file}: [{year}] has unknown keys {sorted(unknown)} (holidays, workdays, notice)")
        holidays = _dates(table.get("holidays", []), year, "holidays", file)
        workdays = _dates(table.get("workdays", []), year, "workdays", file)
        if holidays & workdays:
            both = ", ".join(sorted(d.isoformat() for d in holidays & workdays))
            raise ConfigError(f"{file}: [{year}] lists {both} both as holiday and as working day")
        notice = str(table.get("notice", ""))[:200]
        years[year] = YearData(holidays, workdays, f"local {file.name} sha256:{digest}" + (f" ({notice})" if notice
                                                                                           else ""))
    return years


@dataclass
class WorkCalendar:
    """Working days from chinese-calendar and a local file (which wins for the years it lists)."""

    local: dict[int, YearData] = field(default_factory=dict)
    local_file: Path | None = None
    use_package: bool = True

    @classmethod
    def from_file(cls, file: Path | None) -> WorkCalendar:
        """The calendar of a deployment: ``file`` may be None or missing (then only the package)."""
        if file is None or not file.exists():
            return cls(local_file=file)
        return cls(local=load_local(file), local_file=file)

    def _year(self, year: int) -> YearData:
        if year in self.local:
            return self.local[year]
        known = _package_years()
        if self.use_package and known[0] <= year <= known[1]:
            return _package_year(year)
        raise CalendarGap(year, self.local_file, known)

    def source(self, year: int) -> str:
        """Which data decides ``year`` (recorded with every deadline)."""
        return self._year(year).source

    def is_workday(self, day: dt.date) -> bool:
        data = self._year(day.year)
        if day in data.workdays:
            return True
        if day in data.holidays:
            return False
        return day.weekday() < 5

    def add_workdays(self, start: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``start`` (``start`` itself never counts: A1 Art.14 counts
        from the day after the decision)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day, left = start, n
        for _ in range(MAX_SPAN_DAYS):
            if left == 0:
                return day
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        raise BodycamError(f"{n} working days after {start} is more than {MAX_SPAN_DAYS} days away")

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
        if end <= start:
            return 0
        if (end - start).days > MAX_SPAN_DAYS:
            raise BodycamError(f"{start} to {end} is more than {MAX_SPAN_DAYS} days")
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_workday(day)
        return count

    def sources(self, start: dt.date, end: dt.date) -> list[str]:
        """The data sources of every year from ``start`` to ``end`` (for the record of a deadline)."""
        return [self.source(y) for y in range(start.year, end.year + 1)]
