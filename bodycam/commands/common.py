"""Look-ups shared by the commands that work on either side (people, cases): which ledger and
which administrator key, chosen by the role of the deployment (dock or archive)."""

from __future__ import annotations

from pathlib import Path

import click

from bodycam.cliutil import app_config
from bodycam.errors import ConfigError
from bodycam.i18n import N_, Message
from ledger.store import Ledger

ledger_option = click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path),
                             help="Ledger file (default: the dock or archive ledger of bodycam.toml, by role).")


def deployment_role(ctx: click.Context) -> str:
    """``dock`` or ``archive``, from the sections the configuration file sets."""
    cfg = app_config(ctx)
    sections = cfg.model_fields_set
    if "archive" in sections and "agent" not in sections:
        return "archive"
    if "agent" in sections and "archive" not in sections:
        return "dock"
    raise ConfigError(Message(N_("bodycam.toml sets both [agent] and [archive] (or neither): say which ledger with "
                                 "--ledger")))


def ledger_path(ctx: click.Context, explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    cfg = app_config(ctx)
    if deployment_role(ctx) == "archive":
        return cfg.archive.path(cfg.archive.ledger)
    return cfg.agent.path(cfg.agent.ledger)


def open_ledger(ctx: click.Context, explicit: Path | None) -> Ledger:
    return Ledger.open(ledger_path(ctx, explicit), create=False)


def admin_key_path(ctx: click.Context) -> Path:
    """The key that enrolls people by default: the dock key at a dock, the admin key at the archive."""
    cfg = app_config(ctx)
    if deployment_role(ctx) == "archive":
        return cfg.archive.path(cfg.archive.admin_key)
    return cfg.agent.path(cfg.agent.key_file)

