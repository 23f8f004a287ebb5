"""Firmware profiles: every shipped profile loads, its test vectors hold in both directions
(driver: request bytes and parsed fields; emulator: recognised request and rendered reply), and
a broken profile is reported with its file and key (A2 Art.13: the dock must read every model)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from agent.link.framing import Framer
from agent.link.parsers import match_request, parse_reply, render, time_values
from agent.link.profiles import (
    BUILTIN_PROFILES_DIR,
    CANONICAL_COMMANDS,
    PROFILE_FORMATS,
    get_profile,
    load_profile,
    load_profiles,
)
from bodycam.errors import ConfigError

PROFILES = load_profiles()
VECTORS = [(pid, i) for pid, p in sorted(PROFILES.items()) for i in range(len(p.test_vectors))]


def _bytes(text: str | None, hexstr: str | None, encoding: str) -> bytes:
    return bytes.fromhex(hexstr) if hexstr is not None else text.encode(encoding)


def test_at_least_four_profiles_with_distinct_framings():
    assert len(PROFILES) >= 4
    kinds = {p.framing.kind for p in PROFILES.values()}
    assert kinds == {"line", "delimited", "length_prefixed"}
    assert any(p.framing.checksum != "none" for p in PROFILES.values())
    assert any(p.clock_resolution_s == 1.0 for p in PROFILES.values())
    assert any(p.clock_resolution_s < 0.01 for p in PROFILES.values())


@pytest.mark.parametrize("pid", sorted(PROFILES))
def test_profile_is_complete_and_cited(pid):
    p = PROFILES[pid]
    assert p.source and p.confidence in ("documented", "modelled")
    assert set(p.commands) | set(p.unsupported) == set(CANONICAL_COMMANDS)
    covered = {(v.command, v.step) for v in p.test_vectors}
    for name, spec in p.commands.items():
        for i in range(len(spec.steps)):
            assert (name, i) in covered or name == "identify" and i > 0 and ("get_info", 0) in covered, \
                f"{pid}: no test vector for {name} step {i}"


@pytest.mark.parametrize(("pid", "index"), VECTORS)
def test_vector(pid, index):
    p = PROFILES[pid]
    v = p.test_vectors[index]
    framer = Framer(p.framing, p.encoding)
    step = p.steps(v.command)[v.step]
    values = dict(v.values)
    if v.at:
        values.update(time_values(p, datetime.fromisoformat(v.at)))
    request = _bytes(v.request, v.request_hex, p.encoding)
    reply = _bytes(v.reply, v.reply_hex, p.encoding)
    # driver side: request bytes exactly, reply parsed to the expected fields
    assert framer.encode(render(step.request, values, p.encoding)) == request
    assert parse_reply(step.parse, framer.decode_one(reply), p.encoding) == v.expect
    # emulator side: recognises the request, renders the same reply from the same values
    captured = match_request(step.request, framer.decode_one(request), p.encoding)
    assert captured is not None
    for k, val in captured.items():
        assert values[k] == val
    rendered = render(step.reply, {**v.expect, **v.reply_values}, p.encoding)
    assert framer.encode(rendered) == reply


def test_unknown_key_names_file_and_key(tmp_path):
    src = (BUILTIN_PROFILES_DIR / "jsonl-epoch-ms.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace("[framing]\n", "[framing]\nterminater = \"x\"\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_profile(bad)
    msg = str(exc.value)
    assert "bad.toml:" in msg and "framing.terminater" in msg and "unknown key" in msg


def test_command_neither_supported_nor_unsupported_is_an_error(tmp_path):
    src = (BUILTIN_PROFILES_DIR / "zfy-e12-gat947.toml").read_text(encoding="utf-8")
    bad = tmp_path / "zfy.toml"
    bad.write_text(src.replace('unsupported = ["get_recording_state"]', "unsupported = []"), encoding="utf-8")
    with pytest.raises(ConfigError, match="get_recording_state"):
        load_profile(bad)


def test_profile_never_holds_a_secret_key(tmp_path):
    src = (BUILTIN_PROFILES_DIR / "zfy-e12-gat947.toml").read_text(encoding="utf-8")
    bad = tmp_path / "zfy.toml"
    bad.write_text(src.replace('kind = "password"\n', 'kind = "password"\npassword = "000000"\n'),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"auth\.password: unknown key"):
        load_profile(bad)


def test_extra_dir_overrides_and_unknown_id(tmp_path):
    src = (BUILTIN_PROFILES_DIR / "jsonl-epoch-ms.toml").read_text(encoding="utf-8")
    (tmp_path / "site.toml").write_text(src.replace('vendor = "Generic JSON-lines body camera"',
                                                    'vendor = "Site override"'), encoding="utf-8")
    assert get_profile("jsonl-epoch-ms", tmp_path).vendor == "Site override"
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        get_profile("nope")
    with pytest.raises(ConfigError, match="not found"):
        load_profiles(Path(tmp_path / "missing"))


def test_template_typo_and_missing_field_are_caught_at_load(tmp_path):
    src = (BUILTIN_PROFILES_DIR / "ambarella-at-delimited.toml").read_text(encoding="utf-8")
    bad = tmp_path / "typo.toml"
    bad.write_text(src.replace('reply = { text = "RBatt;{battery_pct:d}" }',
                               'reply = { text = "RBatt;{batery_pct:d}" }'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"typo.toml.*get_battery.*unknown values \['batery_pct'\]"):
        load_profile(bad)
    bad.write_text(src.replace("(?P<battery_pct>\\d{1,3})$', fields = { battery_pct = \"int\" }",
                               "(?P<pct>\\d{1,3})$', fields = { pct = \"int\" }"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"get_battery: parsers yield none of \['battery_pct'\]"):
        load_profile(bad)


def test_every_builtin_profile_file_states_its_format():
    files = sorted(f.name for f in BUILTIN_PROFILES_DIR.iterdir() if f.name.endswith(".toml"))
    assert len(files) == len(PROFILES)
    for name in files:
        text = (BUILTIN_PROFILES_DIR / name).read_text(encoding="utf-8")
        assert any(line.startswith(f"format = {PROFILE_FORMATS[-1]}") for line in text.splitlines()), name
    assert {p.format for p in PROFILES.values()} <= set(PROFILE_FORMATS)


def test_newer_or_missing_format_is_refused_naming_the_file(tmp_path):
    src = (BUILTIN_PROFILES_DIR / "jsonl-epoch-ms.toml").read_text(encoding="utf-8")
    line = next(x for x in src.splitlines() if x.startswith("format = "))
    bad = tmp_path / "newer.toml"
    # a newer format may also bring keys this bodycam does not know: the format message comes alone
    bad.write_text(src.replace(line, "format = 99\nshiny_new_key = 1"), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_profile(bad)
    msg = str(exc.value)
    assert msg.startswith(f"{bad}: format: 99 is not a profile format this bodycam reads")
    assert f"reads format {PROFILE_FORMATS[0]}" in msg and "shiny_new_key" not in msg
    bad.write_text(src.replace(line, 'format = "1"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"newer.toml: format: '1' is not a profile format"):
        load_profile(bad)
    bad.write_text(src.replace(line + "\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"newer.toml: format: missing.*'format = 1'"):
        load_profile(bad)
    # a site folder holding such a file fails the whole load, naming it
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "old.toml").write_text(src.replace(line, "format = 0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"old.toml: format: 0 is not"):
        load_profiles(tmp_path / "site")


def test_profile_loads_from_a_zipped_resource(tmp_path):
    """importlib.resources may hand out non-file Traversables (a zipped package): load_profile
    reads those too, and names the file in errors."""
    import zipfile

    src = (BUILTIN_PROFILES_DIR / "binary-aa55-crc16.toml").read_text(encoding="utf-8")
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("firmware_profiles/binary-aa55-crc16.toml", src)
        z.writestr("firmware_profiles/broken.toml", src.replace("[framing]\n", "[framing]\nterminater = 1\n"))
    root = zipfile.Path(archive) / "firmware_profiles"
    assert load_profile(root / "binary-aa55-crc16.toml").id == "binary-aa55-crc16"
    with pytest.raises(ConfigError, match=r"broken.toml.*framing.terminater"):
        load_profile(root / "broken.toml")
