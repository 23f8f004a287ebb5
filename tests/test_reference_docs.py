"""The reference pages are generated from the code (issue 18 item 3): a command, option,
configuration key or record field added without regenerating them is undocumented, and fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_reference_pages_are_up_to_date():
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_every_command_and_option_is_in_the_cli_reference():
    """The equality above is the rule; this names what is missing when it breaks."""
    import click

    from bodycam.cli import cli

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    missing = []

    def walk(path: list[str], cmd: click.Command) -> None:
        heading = f"`{' '.join(path)}`"
        if heading not in text:
            missing.append(heading)
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and f"`{p.opts[0]}`" not in text:
                missing.append(f"{heading} {p.opts[0]}")
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                walk([*path, name], cmd.get_command(ctx, name))

    walk(["bodycam"], cli)
    assert not [m for m in missing if m != "`bodycam`"], missing


def test_every_configuration_key_is_in_the_configuration_reference():
    from pydantic import BaseModel

    from bodycam.config import BodycamConfig

    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    missing = []

    def walk(section: str, model) -> None:
        assert f"## `[{section}]`" in text, section
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(f"{section}.{name}", ann)
            elif f"| `{name}` |" not in text:
                missing.append(f"[{section}] {name}")

    for name, field in BodycamConfig.model_fields.items():
        walk(name, field.annotation)
    assert not missing, missing
