"""Docs checked by tests: every command has help text and is named in the README; the README
opens with the newcomer's two commands."""

from pathlib import Path

import click

from bodycam.cli import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(cmd, prefix):
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, [*prefix, name])
    else:
        yield " ".join(prefix), cmd


def test_every_command_has_help_and_is_in_the_readme():
    missing = []
    for name, cmd in _commands(cli, ["bodycam"]):
        assert (cmd.help or "").strip(), f"{name} has no help text"
        if f"`{name}" not in README:
            missing.append(name)
    assert not missing, f"commands not documented in README.md: {missing}"


def test_readme_opens_with_demo_and_test_commands():
    head = README.split("## ", 1)[0]
    assert "scripts/demo.sh" in head and "scripts/test.sh" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


def test_every_exported_command_is_reachable_from_the_root():
    import importlib

    from bodycam.cli import COMMAND_MODULES

    modules = {m for mods in COMMAND_MODULES.values() for m in mods}
    for modname in modules:
        for command in importlib.import_module(modname).COMMANDS:
            assert modname in COMMAND_MODULES.get(command.name, ()), \
                f"{modname} exports `{command.name}` but bodycam/cli.py COMMAND_MODULES does not route it there"


def test_sync_does_not_load_the_media_stack():
    import subprocess
    import sys

    code = "import sys; from bodycam.cli import cli; cli.get_command(None, 'sync'); print('cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
