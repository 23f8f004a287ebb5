"""Hostile input at the dock, fuzzed with hypothesis (issue 17; A2 Art.13: a faulty or hostile
recorder is reported, it never crashes the dock; A2 Art.8: nothing outside the card is read).

* firmware profiles (a site folder's TOML) with values of the wrong type, out of range, or keys
  that do not exist: ``load_profile`` raises ConfigError naming the file, nothing else;
* emulator state files likewise: ``load_state`` raises ConfigError;
* recorder replies for every built-in profile's parse specs, and streams fed to its framer (any
  bytes, any encoding, lengths that lie): only the link's own errors;
* recorder card trees made on a real filesystem, with names that traverse (``..``, absolute,
  control characters, invalid UTF-8, over-long), symlinks to files and folders outside the card,
  FIFOs, a character device and folders too deep: the listing holds only regular files of the
  card, every open of a listed file reads that file and nothing else, and what is not a regular
  file is reported as skipped, never opened;
* ``bodycam`` command lines of random options and values: a clear error (exit 1, 2 or 3) or
  success, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tomllib
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from agent.emulator.state import load_state
from agent.link.errors import LinkError
from agent.link.framing import Framer
from agent.link.parsers import classify, parse_reply
from agent.link.profiles import load_profile, load_profiles
from agent.offload.names import list_recorder_files, open_recorder_file
from bodycam.cli import cli
from bodycam.errors import ConfigError
from tests.fixtures.fuzz import fuzz
from tests.fixtures.recorder import DEFAULT_STATE

PROFILE_DIR = Path(__file__).resolve().parents[2] / "agent" / "link" / "firmware_profiles"
PROFILES = load_profiles()

HOSTILE_TOML_VALUES = st.one_of(
    st.sampled_from(['""', '"x"', "0", "-1", "1e400", "9223372036854775808", "true", "[]", "[1, \"a\"]", "{}",
                     "{ a = 1 }", "1979-05-27T07:32:00Z", "nan", "inf", '"' + "A" * 5000 + '"',
                     '"\\u0000"', "[[1]]", '"../../etc/passwd"', '"%s%s%s"', '"{0}{1}"']),
    st.integers(-(2 ** 63), 2 ** 63 - 1).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\\n\r'),
            max_size=40).map(lambda s: f'"{s}"'))


def value_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines()) if "=" in line and not line.lstrip().startswith("#")]


def mutate_toml(text: str, data) -> str:
    lines = text.splitlines()
    how = data.draw(st.integers(0, 3))
    if how == 0 and value_lines(text):  # a value of the wrong type
        i = data.draw(st.sampled_from(value_lines(text)))
        key = lines[i].split("=", 1)[0]
        lines[i] = f"{key}= {data.draw(HOSTILE_TOML_VALUES)}"
    elif how == 1:  # an unknown key
        at = data.draw(st.integers(0, len(lines)))
        lines.insert(at, f"{data.draw(st.sampled_from(['unknown', 'x_y', 'Format', 'profile_id ']))} = 1")
    elif how == 2 and value_lines(text):  # a line dropped (a required key missing)
        del lines[data.draw(st.sampled_from(value_lines(text)))]
    else:  # a broken file
        cut = data.draw(st.integers(0, len(text)))
        return text[:cut] + data.draw(st.sampled_from(["", "[", "= =", "\x00", "[[a]]\n[a]", "\ufeff"]))
    return "\n".join(lines) + "\n"


def test_a2_art13_hostile_firmware_profiles_are_config_errors(tmp_path):
    texts = {p.name: p.read_text() for p in sorted(PROFILE_DIR.glob("*.toml"))}

    @fuzz(200)
    @given(st.sampled_from(sorted(texts)), st.data())
    def hostile(name, data):
        path = tmp_path / name
        path.write_text(mutate_toml(texts[name], data), encoding="utf-8")
        try:
            load_profile(path)
        except ConfigError as exc:
            assert str(path) in str(exc) or path.name in str(exc)

    hostile()


def state_toml(state: dict) -> str:
    out = []
    for k, v in state.items():
        out.append(f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"')
    return "\n".join(out) + "\n"


def test_a2_art13_hostile_emulator_state_files_are_config_errors(tmp_path):
    text = state_toml(DEFAULT_STATE)
    load_state_ok = tmp_path / "ok.toml"
    load_state_ok.write_text(text, encoding="utf-8")
    load_state(load_state_ok)  # the unmutated file loads

    @fuzz(150)
    @given(st.data())
    def hostile(data):
        path = tmp_path / "state.toml"
        path.write_text(mutate_toml(text, data), encoding="utf-8")
        with contextlib.suppress(ConfigError):
            load_state(path)

    hostile()


def test_a2_art13_hostile_recorder_replies_raise_only_link_errors():
    specs = [(p, step.parse) for p in PROFILES.values() for c in p.commands.values() for step in c.steps]
    assert len(specs) >= len(PROFILES)

    @fuzz(300)
    @given(st.sampled_from(sorted(PROFILES)), st.binary(max_size=600), st.data())
    def hostile(pid, raw, data):
        profile = PROFILES[pid]
        dec = Framer(profile.framing, profile.encoding).decoder()
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=4)))
        for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
            try:
                frames = dec.feed(raw[a:b])
            except LinkError:
                dec.reset()
                continue
            for frame in frames:
                for spec_profile, spec in specs:
                    if spec_profile is profile:
                        with contextlib.suppress(LinkError):
                            parse_reply(spec, frame, profile.encoding)
                with contextlib.suppress(LinkError):
                    classify(profile.status, frame)

    hostile()


# -- card trees ------------------------------------------------------------------------------------------

NAME_BYTES = st.one_of(
    st.sampled_from([b"..", b".", b"...", b"DCIM", b"100MEDIA", b"VID_0001.MP4", b"a\nb.mp4", b"\x1b[31mred.mp4",
                     b"\xff\xfe.mp4", b"-rf", b"con", b"x" * 255, b" ", b"\xe2\x80\xae4pm.exe"]),
    st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")))


def make_tree(root: Path, outside: Path, entries) -> None:
    for kind, parts in entries:
        parent = root
        for comp in parts[:-1]:
            parent = parent / os.fsdecode(comp)
            with contextlib.suppress(OSError):
                parent.mkdir(exist_ok=True)
        if not parent.is_dir() or parent.is_symlink():
            continue
        target = parent / os.fsdecode(parts[-1])
        with contextlib.suppress(OSError):
            if kind == "file":
                target.write_bytes(b"card " + parts[-1])
            elif kind == "dir":
                target.mkdir()
            elif kind == "link_out":
                target.symlink_to(outside / "secret.txt")
            elif kind == "link_dir":
                target.symlink_to(outside)
            elif kind == "link_up":
                target.symlink_to("../../../../../../etc/passwd")
            elif kind == "fifo":
                os.mkfifo(target)
            elif kind == "device":
                os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # /dev/null's numbers (root)


def test_a2_art8_hostile_card_trees_list_and_open_only_the_card_files(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"SECRET")
    counter = iter(range(10 ** 6))
    kinds = st.sampled_from(["file", "file", "dir", "link_out", "link_dir", "link_up", "fifo", "device"])
    prefixes = st.sampled_from([[], [b"DCIM"], [b"DCIM", b"100MEDIA"], [b"DCIM", b"100MEDIA", b"A", b"B", b"C"],
                                [b"PRIVATE"], [b"dcim"]])

    @fuzz(60)
    @given(st.lists(st.tuples(kinds, prefixes, NAME_BYTES), min_size=1, max_size=14))
    def hostile(spec):
        root = tmp_path / f"card-{next(counter)}"
        root.mkdir()
        make_tree(root, outside, [(k, [*pre, name]) for k, pre, name in spec])
        listing = list_recorder_files(root)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for f in listing.files:
                assert all(c not in (b"", b".", b"..") and b"/" not in c for c in f.rel)
                path = root.joinpath(*(os.fsdecode(c) for c in f.rel))
                assert stat.S_ISREG(os.lstat(path).st_mode)
                assert not any(root.joinpath(*(os.fsdecode(c) for c in f.rel[:n])).is_symlink()
                               for n in range(1, len(f.rel) + 1))
                try:
                    rfd = open_recorder_file(fd, f.rel)
                except Exception as exc:  # noqa: BLE001 - only the name check may refuse, with its error
                    assert type(exc).__name__ == "UnsafeNameError", exc
                    continue
                try:
                    content = os.read(rfd, 100)
                finally:
                    os.close(rfd)
                assert content.startswith(b"card ") and b"SECRET" not in content
        finally:
            os.close(fd)

    hostile()


# -- command lines ----------------------------------------------------------------------------------------

COMMANDS = [["ledger", "verify"], ["ledger", "show"], ["config", "check"], ["segments"], ["gaps"],
            ["fleet", "status"], ["person", "list"], ["sync", "status"], ["archive", "verify"],
            ["archive", "dock", "list"], ["archive", "transfers"], ["case", "list"], ["justify"], ["approve"],
            ["access", "log"], ["archive", "segments"], ["archive", "report"], ["gaps", "fault"], ["case", "show"],
            ["archive", "retention", "run", "--dry-run"], ["person", "enroll"], ["access", "view"]]
ARG_VALUES = st.one_of(
    st.sampled_from(["--json", "--help", "--config", "--now", "--day", "--from", "--to", "--reason", "--key",
                     "--jobs", "--out", "-1", "0", "99999999999999999999", "2026-13-45", "../../etc/passwd",
                     "/dev/null", "", "-", "--", "\u202e", "张三", "1e309", "nan", "--officer", "--case", "x" * 3000]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30))


def test_hostile_command_lines_give_errors_not_tracebacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BODYCAM_CONFIG", raising=False)
    (tmp_path / "garbage.toml").write_text("[agent\nx = ")
    runner = CliRunner()

    @fuzz(120)
    @given(st.sampled_from(COMMANDS), st.lists(ARG_VALUES, max_size=6), st.booleans())
    def hostile(command, args, with_config):
        argv = (["--config", str(tmp_path / "garbage.toml")] if with_config else []) + command + args
        result = runner.invoke(cli, argv, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"bodycam {argv!r} crashed") from result.exception
        assert result.exit_code in (0, 1, 2, 3), (argv, result.exit_code, result.output[-500:])
        assert "Traceback" not in result.output

    hostile()


def test_state_toml_helper_is_valid_toml():
    assert tomllib.loads(state_toml(DEFAULT_STATE))["serial"] == DEFAULT_STATE["serial"]
