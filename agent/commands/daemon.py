"""``bodycam agent run``: the unattended dock daemon."""

from __future__ import annotations

import click

from agent.commands.common import (
    agent_config,
    ntp_option,
    reference_from,
)
from bodycam.cliutil import passphrase_option
from bodycam.i18n import N_


@click.group("agent")
def agent_group() -> None:
    """The unattended dock daemon."""


@agent_group.command("run")
@click.option("--no-clock", is_flag=True, help="Do not measure recorder clocks at docking.")
@ntp_option
@passphrase_option(N_("the dock and device keys"))
@click.pass_context
def agent_run(ctx: click.Context, no_clock: bool, ntp_servers: tuple[str, ...], passphrase_env: str | None) -> None:
    """Watch for recorders ([agent] ports and USB discovery) and dock each one as it appears,
    for its custodian. Stops cleanly on SIGTERM or Ctrl-C.

    Refuses to start (exit 1) while footage, ledger or state can be read by other local users,
    naming each path and the chmod that fixes it, or while another `agent run` uses the folder."""
    import logging
    import signal

    from agent.daemon import AgentDaemon
    from bodycam.locks import exclusive_lock
    from bodycam.permissions import require_private

    cfg = agent_config(ctx)
    ctx.with_resource(exclusive_lock(cfg.data_dir, "agent", "bodycam agent run"))  # held until it returns
    require_private("bodycam agent run", cfg.data_dir, cfg.private_trees())
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)  # a daemon logs each step
    daemon = AgentDaemon(cfg, None if no_clock else reference_from(ctx, ntp_servers), passphrase_env)

    def stop(signum, _frame):
        logging.getLogger("agent.daemon").info("signal %d: stopping after the current file", signum)
        daemon.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.run()


COMMAND = agent_group
