"""The ``bodycam`` command: a thin root over each package's command groups.

Exceptions from the libraries are turned into exit codes here and only here:
0 ok, 1 error, 2 usage, 3 refused by a rule or verification failed.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import click

from bodycam.config import BodycamConfig, load_config
from bodycam.errors import BodycamError, RefusedError

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


# Where each top-level command lives. Loaded on first use, so that `bodycam sync run` does not
# pay for OpenCV and numpy (the dock's media code) in memory and start-up time. A test checks that
# every command a package exports is listed here.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "keys": ("ledger.cli",), "ledger": ("ledger.cli",),
    "config": ("bodycam.init_cmd",), "init": ("bodycam.init_cmd",),
    "device": ("agent.cli", "agent.dock_cli"),  # dock_cli adds calibrate/arm/enroll to the group
    "fleet": ("agent.cli",), "emulate": ("agent.cli",),
    "dock": ("agent.dock_cli",), "segments": ("agent.dock_cli",), "agent": ("agent.dock_cli",),
    "person": ("agent.justify_cli",), "justify": ("agent.justify_cli",), "approve": ("agent.justify_cli",),
    "gaps": ("agent.justify_cli",), "case": ("agent.justify_cli",),
    "pki": ("syncd.cli",), "broker": ("syncd.cli",), "sync": ("syncd.cli",),
    "archive": ("archive.cli",),
}


class BodycamGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        modules = COMMAND_MODULES.get(cmd_name)
        if modules is None:
            return None
        found = None
        for modname in modules:
            for command in importlib.import_module(modname).COMMANDS:
                if command.name == cmd_name:
                    found = command
        return found

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


def main() -> None:
    cli(prog_name="bodycam")
