"""``bodycam config`` and ``bodycam init``: getting a deployment folder into a working state."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.config import load_config, render_example
from ledger.cliutil import echo_json, json_option


@click.group()
def config() -> None:
    """Inspect and validate bodycam.toml."""


@config.command("example")
def config_example() -> None:
    """Print the documented example configuration (every key, with its default)."""
    click.echo(render_example(), nl=False)


@config.command("check")
@json_option
@click.pass_context
def config_check(ctx: click.Context, as_json: bool) -> None:
    """Validate the configuration in use and say which file it came from."""
    explicit = ctx.find_root().obj.config_path
    cfg, path = load_config(explicit)
    if as_json:
        echo_json({"file": str(path) if path else None, "config": cfg.model_dump(mode="json")})
    else:
        click.echo(f"{path or '(built-in defaults)'}: valid")


COMMANDS = [config]


def _write_new(path: Path, text: str) -> None:
    if path.exists():
        raise click.ClickException(f"{path} exists already; refusing to overwrite it (choose another --dir)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
