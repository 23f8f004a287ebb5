"""Working days for the deadlines of A1 Art.14, 行政处罚法 Art.48 and A3 Art.10, on the real 2026
calendar (chinese-calendar) and a local file for later years; a year nobody covers is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from archive.workdays import CalendarGap, WorkCalendar
from bodycam.errors import ConfigError

D = dt.date


@pytest.mark.parametrize(("decided", "n", "due", "why"), [
    # Spring Festival 2026: 2/15–2/23 off, Saturdays 2/14 and 2/28 are make-up working days.
    (D(2026, 2, 13), 7, D(2026, 3, 2), "A1 Art.14 penalty decided the Friday before the Spring Festival"),
    (D(2026, 2, 14), 7, D(2026, 3, 3), "decided on a make-up working Saturday; that day is not counted"),
    (D(2026, 2, 13), 1, D(2026, 2, 14), "the make-up Saturday is the first working day"),
    # National Day 2026: 10/1–10/7 off, Saturday 10/10 worked.
    (D(2026, 9, 30), 7, D(2026, 10, 15), "A1 Art.14 penalty decided the day before National Day"),
    (D(2026, 9, 30), 20, D(2026, 11, 3), "A1 Art.14 inspection result: 20 working days"),
    (D(2026, 12, 1), 3, D(2026, 12, 4), "行政处罚法 Art.48 correction within 3 working days"),
    (D(2026, 12, 4), 0, D(2026, 12, 4), "zero days is the day itself"),
])
def test_a1_art14_deadlines_on_the_2026_calendar(decided, n, due, why):
    cal = WorkCalendar()
    assert cal.add_workdays(decided, n) == due, why
    assert cal.workdays_between(decided, due) == n, why
    assert cal.source(2026).startswith("chinese-calendar ")


@pytest.mark.parametrize(("day", "work"), [
    (D(2026, 2, 14), True),   # Saturday, make-up working day
    (D(2026, 2, 16), False),  # Monday, Spring Festival
    (D(2026, 10, 10), True),  # Saturday, make-up working day
    (D(2026, 10, 11), False),  # Sunday
    (D(2026, 12, 2), True),   # Wednesday
])
def test_is_workday_follows_holidays_and_make_up_days(day, work):
    assert WorkCalendar().is_workday(day) is work


def test_a1_art14_a_2027_date_without_local_data_is_refused_naming_year_and_file(tmp_path):
    cal = WorkCalendar.from_file(tmp_path / "holidays.toml")  # configured but not written yet
    with pytest.raises(CalendarGap) as e:
        cal.add_workdays(D(2026, 12, 28), 7)  # runs into 2027
    text = str(e.value)
    assert "2027" in text and "holidays.toml" in text and "2026" in text
    assert e.value.exit_code == 3
    with pytest.raises(CalendarGap):
        WorkCalendar().is_workday(D(2003, 6, 2))  # before the package's data: also refused


def test_local_file_covers_a_new_year_and_is_named_as_the_source(tmp_path):
    f = tmp_path / "holidays.toml"
    f.write_text('[2027]\nnotice = "test notice"\nholidays = ["2027-01-01", "2027-02-08"]\n'
                 'workdays = ["2027-02-06"]\n', encoding="utf-8")
    cal = WorkCalendar.from_file(f)
    assert not cal.is_workday(D(2027, 1, 1))
    assert cal.is_workday(D(2027, 2, 6))  # a Saturday made a working day
    # 2026-12-30 (Wed) + 3: 12/31 Thu, (1/1 off, 1/2–1/3 weekend), 1/4 Mon, 1/5 Tue
    assert cal.add_workdays(D(2026, 12, 30), 3) == D(2027, 1, 5)
    sources = cal.sources(D(2026, 12, 30), D(2027, 1, 5))
    assert sources[0].startswith("chinese-calendar") and "holidays.toml" in sources[1] and "test notice" in sources[1]


@pytest.mark.parametrize(("text", "words"), [
    ('[2027]\nholidays = ["2027-13-01"]\n', "not a date"),
    ('[2027]\nholidays = ["2028-01-01"]\n', "not in 2027"),
    ('[2027]\nholidays = ["2027-02-06"]\nworkdays = ["2027-02-06"]\n', "both as holiday"),
    ('[2027]\nholiday = []\n', "unknown keys"),
    ('holidays = []\n', "year tables"),
    ('[2027]\nholidays = "2027-01-01"\n', "must be a list"),
])
def test_a_wrong_local_file_is_a_config_error_naming_the_problem(tmp_path, text, words):
    f = tmp_path / "holidays.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        WorkCalendar.from_file(f)
    assert words in str(e.value)
