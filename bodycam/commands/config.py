"""``bodycam config example|check``: the configuration file, documented and validated."""

from __future__ import annotations

import click

from bodycam.cliutil import echo_json, json_option
from bodycam.config import load_config, render_example
from bodycam.i18n import _


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
        click.echo(_("{file}: valid").format(file=path or _("(built-in defaults)")))


COMMAND = config
