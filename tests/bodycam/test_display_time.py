"""Times for people are local, with their zone; JSON keeps RFC 3339 (issue 12, item 4).

The zone is ``[display] timezone`` of bodycam.toml when set, else ``$TZ``, else the machine's.
The listings run the real ``bodycam gaps`` and ``bodycam segments`` on a dock made by a real
offload (tests/fixtures/justify.py); the expected local times are computed here with zoneinfo
from the nanoseconds ``--json`` gives.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bodycam.config import load_config
from bodycam.errors import ConfigError
from bodycam.formats import local_time, rfc3339, use_display_zone
from tests.fixtures.justify import GapDock, make_gap_dock

NS = 1_000_000_000
T = 1_796_172_797 * NS + 123_456_789  # 2026-12-02 00:53:17.123456789 UTC


def _expected(ns: int, zone: str) -> str:
    dt = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)).astimezone(ZoneInfo(zone))
    return dt.strftime("%Y-%m-%d %H:%M:%S %Z")


@pytest.fixture
def no_display_zone():
    use_display_zone(None)
    yield
    use_display_zone(None)


def test_local_time_is_the_tz_zone_with_its_name_and_no_fraction(monkeypatch, no_display_zone):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    assert local_time(T) == "2026-12-02 08:53:17 CST"
    monkeypatch.setenv("TZ", "America/New_York")
    assert local_time(T) == "2026-12-01 19:53:17 EST"
    monkeypatch.setenv("TZ", "Asia/Dubai")  # the zone's "name" is "+04": the offset says it
    assert local_time(T) == "2026-12-02 04:53:17 +0400"
    assert local_time(None) == "-"
    assert rfc3339(T) == "2026-12-02T00:53:17.123Z"  # machines: unchanged


def test_configured_zone_overrides_tz(monkeypatch, no_display_zone):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    use_display_zone("Europe/Berlin")
    assert local_time(T) == "2026-12-02 01:53:17 CET"
    use_display_zone(lambda: None)  # no [display] timezone: $TZ again
    assert local_time(T) == "2026-12-02 08:53:17 CST"


def test_unknown_configured_zone_is_a_config_error_naming_the_key(tmp_path: Path):
    cfg = tmp_path / "bodycam.toml"
    cfg.write_text('[display]\ntimezone = "Asia/Beijing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bodycam.toml:2: display.timezone: .*IANA"):
        load_config(cfg)
    cfg.write_text('[display]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    assert load_config(cfg)[0].display.timezone == "Asia/Shanghai"


@pytest.fixture(scope="module")
def listed_dock(tmp_path_factory: pytest.TempPathFactory) -> GapDock:
    return make_gap_dock(tmp_path_factory.mktemp("tz") / "dock", n_files=2, with_people=False)


def _run(dock: GapDock, tz: str | None, *args: str):
    dock.env = {"TZ": tz}  # None: unset
    res = dock.run(*args)
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.parametrize("command", ["gaps", "segments"])
def test_listing_under_tz_shows_cst_and_the_local_clock(listed_dock: GapDock, command: str, no_display_zone):
    data = json.loads(_run(listed_dock, "UTC", command, "--json"))
    rows = data if command == "gaps" else data["segments"]
    assert rows
    text = _run(listed_dock, "Asia/Shanghai", command)
    for row in rows:
        start = row["start_ns"] if command == "gaps" else _ns(row["start"])
        shown = _expected(start, "Asia/Shanghai")
        assert shown.endswith(" CST") and shown in text, (shown, text)
        assert _expected(start, "UTC")[:19] not in text  # 8 hours apart: the UTC clock is nowhere
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", text)  # no fractions of a second
    # JSON is the same whatever the zone
    assert json.loads(_run(listed_dock, "Asia/Shanghai", command, "--json")) == data


def test_display_timezone_overrides_tz(listed_dock: GapDock, no_display_zone):
    cfg = listed_dock.config
    original = cfg.read_text(encoding="utf-8")
    try:
        cfg.write_text(original + '\n[display]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
        rows = json.loads(_run(listed_dock, "Asia/Shanghai", "gaps", "--json"))
        text = _run(listed_dock, "Asia/Shanghai", "gaps")
        assert _expected(rows[0]["start_ns"], "Europe/Berlin") in text and " CET" in text and " CST" not in text
    finally:
        cfg.write_text(original, encoding="utf-8")


def _ns(rfc: str) -> int:
    return (datetime.fromisoformat(rfc) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
