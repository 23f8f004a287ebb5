"""Options and look-ups shared by the dock's commands: one definition each."""

from __future__ import annotations

from pathlib import Path

import click

from agent.config import AgentConfig
from agent.fleet import StateDB
from agent.link.profiles import Profile, get_profile
from agent.store import DockStore
from bodycam.cliutil import app_config
from bodycam.i18n import _
from ledger.store import Ledger

port_option = click.option("--port", required=True, help="Serial port of the recorder, e.g. /dev/ttyACM0.")
profile_option = click.option("--profile", "profile_id", required=True,
                              help="Firmware profile id (`bodycam device ports` lists the built-in ones).")
ntp_option = click.option("--ntp-server", "ntp_servers", multiple=True, metavar="HOST:PORT",
                          help="NTP server to use as the reference (repeatable); overrides [agent.clock].")
dock_ledger_option = click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path),
                                  help="Ledger file (default: the dock ledger of bodycam.toml).")


def agent_config(ctx: click.Context) -> AgentConfig:
    return app_config(ctx).agent


def profile_from(ctx: click.Context, profile_id: str) -> Profile:
    """A built-in profile, or one from the site folder ``[agent] profiles_dir``. Reading profiles
    needs no deployment: without a bodycam.toml only the built-in ones are known."""
    cfg = ctx.find_root().obj.optional_config.agent
    extra = cfg.path(cfg.profiles_dir) if cfg.profiles_dir else None
    return get_profile(profile_id, extra)


def state_db(ctx: click.Context) -> StateDB:
    cfg = agent_config(ctx)
    return StateDB(cfg.path(cfg.state_db))


def dock_context(ctx: click.Context, passphrase_env: str | None):
    from agent.dock import DockContext

    return DockContext.open(agent_config(ctx), passphrase_env)


def reference_from(ctx: click.Context, ntp_servers: tuple[str, ...]):
    from agent.clock.reference import reference_from_config

    return reference_from_config(agent_config(ctx).clock, list(ntp_servers) or None)


def open_dock_ledger(ctx: click.Context, explicit: Path | None) -> Ledger:
    if explicit is None:
        cfg = agent_config(ctx)
        explicit = cfg.path(cfg.ledger)
    return Ledger.open(explicit, create=False)


def checkpoint_dock_ledger(ctx: click.Context, ledger: Ledger) -> str | None:
    """After a justification, fault or approval: the dock signs a checkpoint of its ledger
    (``agent.checkpoints``). Only for this dock's own ledger, with its dock key; a dock key that
    cannot be opened here (passphrase-protected) is said on stderr: ``agent run`` signs one within
    ``[agent] checkpoint_interval_s``."""
    from agent.checkpoints import try_sign_dock_checkpoint
    from bodycam.errors import BodycamError
    from ledger.keys import load_signer

    cfg = ctx.find_root().obj.optional_config.agent
    key = cfg.path(cfg.key_file)
    if not key.exists() or cfg.path(cfg.ledger).resolve() != Path(ledger.path).resolve():
        return None
    try:
        signer = load_signer(key)
    except BodycamError as exc:
        click.echo(_("note: no checkpoint signed now ({error}); `bodycam agent run` signs one within {seconds:g} s")
                   .format(error=exc, seconds=cfg.checkpoint_interval_s), err=True)
        return None
    if ledger.size == 0 or ledger.get(0).body.get("keyid") != signer.keyid:
        return None
    return try_sign_dock_checkpoint(ledger, signer, cfg.dock_id)


def dock_store(ctx: click.Context) -> DockStore:
    cfg = agent_config(ctx)
    return DockStore(cfg.path(cfg.store_dir))


def attachment_checker(ctx: click.Context):
    """``has(sha256)`` of the dock store, or None when this machine has no store to look in."""
    cfg = agent_config(ctx)
    root = cfg.path(cfg.store_dir)
    return DockStore(root).has if root.is_dir() else None
