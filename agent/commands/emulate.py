"""``bodycam emulate``: an emulated recorder on a pseudo-terminal, for tests, demos and training."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from agent.commands.common import (
    profile_from,
)
from agent.emulator.server import RecorderEmulator
from agent.emulator.state import load_state


@click.command("emulate")
@click.option("--profile", "profile_id", required=True, help="Firmware profile id to speak.")
@click.option("--state", "state_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Emulator state TOML (see README: Emulator state file).")
@click.option("--mount-root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the card appears as <mount-root>/<serial>/ after enter_mass_storage.")
@click.option("--media", "media_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Extra files to put on the card as they are.")
@click.option("--storage", "storage_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The card's folder (default: <mount-root>/.<serial>.storage).")
@click.pass_context
def emulate(ctx: click.Context, profile_id: str, state_path: Path, mount_root: Path, media_dir: Path | None,
            storage_dir: Path | None) -> None:
    """Serve an emulated recorder on a pseudo-terminal until killed.

    Prints `PORT <path>` first, then `MOUNTED <path>` when it switches to mass storage."""
    profile = profile_from(ctx, profile_id)
    emu = RecorderEmulator(profile, load_state(state_path), mount_root, storage_dir=storage_dir,
                           media_dir=media_dir)
    emu.prepare_storage()
    port = emu.open_port()
    stop = emu.stop_event

    def _stop(_signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"PORT {port}")
    sys.stdout.flush()
    server = threading.Thread(target=emu.serve, name="emulator", daemon=True)
    server.start()
    while not stop.is_set():
        if emu.mounted.wait(0.1):
            click.echo(f"MOUNTED {emu.mount_path}")
            sys.stdout.flush()
            stop.wait()
    emu.stop()


COMMAND = emulate
