"""Small pieces every package's CLI shares: ``--json`` output and access to the configuration.

Lives in ``ledger`` because every package already depends on it and nothing may import
``bodycam/`` (the console-script root).
"""

from __future__ import annotations

import json
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def app_config(ctx: click.Context):
    """The validated bodycam.toml (``BodycamConfig``) of the running command."""
    return ctx.find_root().obj.config
