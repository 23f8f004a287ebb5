"""The ``bodycam`` command: a thin root that mounts each package's command group.

Exceptions from the libraries are turned into exit codes here and only here:
0 ok, 1 error, 2 usage, 3 refused by a rule or verification failed.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import click

from bodycam.config import BodycamConfig, load_config
from ledger.errors import BodycamError, RefusedError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@dataclass
class AppContext:
    """What every subcommand receives as ``ctx.obj``; the config loads lazily so that
    commands needing none (keys, ledger on a file) work without a bodycam.toml."""

    config_path: Path | None
    _config: BodycamConfig | None = None
    _resolved_path: Path | None = None

    @property
    def config(self) -> BodycamConfig:
        if self._config is None:
            self._config, self._resolved_path = load_config(self.config_path)
        return self._config


class BodycamGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RefusedError as exc:
            _report(ctx, exc, {"reasons": exc.reasons})
            sys.exit(exc.exit_code)
        except BodycamError as exc:
            _report(ctx, exc, {})
            sys.exit(exc.exit_code)


def _report(ctx: click.Context, exc: BodycamError, extra: dict) -> None:
    click.echo(f"Error: {exc}", err=True)
    for reason in extra.get("reasons", []):
        click.echo(f"  - {reason}", err=True)


@click.group(cls=BodycamGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(version("bodycam"), prog_name="bodycam")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="bodycam.toml to use (default: $BODYCAM_CONFIG, then ./bodycam.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Chain-of-custody for body recorders: dock, sync, archive, verify."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = AppContext(config_path=config_path)


COMMAND_MODULES = ("ledger.cli", "bodycam.init_cmd", "agent.cli", "agent.dock_cli", "agent.justify_cli",
                   "syncd.cli", "archive.cli")


def _mount() -> None:
    """Mount every package's command groups. Each package owns its ``cli.py``."""
    for modname in COMMAND_MODULES:
        try:
            mod = __import__(modname, fromlist=["COMMANDS"])
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue
            raise
        for command in mod.COMMANDS:
            cli.add_command(command)


_mount()


def main() -> None:
    cli(prog_name="bodycam")
