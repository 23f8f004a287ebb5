"""The ``bodycam`` command: a thin root over each package's command groups.

Exceptions from the libraries are turned into exit codes here and only here:
0 ok, 1 error, 2 usage, 3 refused by a rule or verification failed, 130 interrupted.

Nothing imports this module: it is the console-script root. Each command lives in its own
module, loaded on first use, so that ``bodycam --help`` or ``bodycam sync run`` do not pay for
OpenCV and numpy (the dock's media code); the routing table below carries each command's
one-line help for the same reason.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from bodycam.cliutil import localized_help
from bodycam.errors import BodycamError, ConfigError, RefusedError
from bodycam.formats import check_nesting, printable, use_display_zone
from bodycam.i18n import N_, Message, _, install_for_click, language, tr, use_language

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as a shell reports an interrupted command."""


@dataclass(frozen=True)
class Route:
    module: str
    help: str


# Every top-level command: where it lives and what `bodycam --help` says of it. A test checks
# that each module's COMMAND has this name and that the help matches its docstring's first line.
COMMANDS: dict[str, Route] = {
    "disclosure": Route("archive.commands.disclosure", "Enforcement disclosure: decisions, exemptions, the public "
                                                       "portal and the compliance report (A1)."),
    "access": Route("archive.commands.access", "Access to footage: requests, the bureau head's approval, views and "
                                               "their log (A2 Art.17–19)."),
    "export": Route("archive.commands.export", "Evidence packages for court that any expert can verify offline (A2 "
                                               "Art.16–17)."),
    "review": Route("archive.commands.review", "Legal review of major decisions: classify, submit, clock, checklist, "
                                               "outcome, opinion (A3)."),
    "keys": Route("ledger.commands.keys", "Ed25519 key files: generate, show."),
    "ledger": Route("ledger.commands.ledger", "The signed, append-only ledger: show, verify, checkpoints and "
                                              "proofs."),
    "config": Route("bodycam.commands.config", "Inspect and validate bodycam.toml."),
    "init": Route("bodycam.commands.init", "Write a working bodycam.toml and generate the keys this role needs (mode "
                                           "0600)."),
    "person": Route("bodycam.commands.person", "People and their keys: officers, supervisors, heads, reviewers, "
                                               "archivists."),
    "case": Route("bodycam.commands.case", "Cases: open, attach text records, list, and their retention class (A2 "
                                           "Art.2-4, 10)."),
    "activity": Route("bodycam.commands.activity", "Activities of a case: type, place, time, officers, when the party "
                                                   "was told (A2 Art.5, 7)."),
    "device": Route("agent.commands.device", "Talk to one docked recorder through its firmware profile."),
    "fleet": Route("agent.commands.fleet", "Every recorder this dock has seen (for equipment managers)."),
    "emulate": Route("agent.commands.emulate", "Serve an emulated recorder on a pseudo-terminal until killed."),
    "dock": Route("agent.commands.dock", "Offload a docked recorder: copy once, hash, probe, sign with its own key, "
                                         "ledger (A2 Art.8, 15)."),
    "segments": Route("agent.commands.segments", "What the dock ledger holds: every segment with its hash, probe and "
                                                 "corrected times."),
    "agent": Route("agent.commands.daemon", "The unattended dock daemon."),
    "justify": Route("agent.commands.justify", "Justify a gap: the officer's signed stop-recording record (A2 "
                                               "Art.11)."),
    "approve": Route("agent.commands.approve", "Approve (or reject) a justification or fault record as the "
                                               "supervising leader (A2 Art.11)."),
    "gaps": Route("agent.commands.gaps", "Gaps in the dock ledger and their state: bare, justified, approved, fault, "
                                         "fault_approved, rejected."),
    "sync": Route("syncd.commands.sync", "Ship the dock ledger and its footage to the archive (MQTT 5, resumable, "
                                         "archive-acknowledged)."),
    "pki": Route("archive.commands.pki", "Certificates for the MQTT broker: a CA, the broker's, one per dock and the "
                                         "archive."),
    "broker": Route("archive.commands.broker", "Mosquitto configuration for a deployment (TLS, per-dock ACL, password "
                                               "file)."),
    "archive": Route("archive.commands.archive", "The bureau archive: receive docks' footage and records, register "
                                                 "docks."),
}


@dataclass
class AppContext:
    """What every subcommand receives as ``ctx.obj``; the configuration loads lazily so that
    commands needing none (keys, ledger on a file, emulate) work without a bodycam.toml."""

    config_path: Path | None
    _loaded: tuple[Any, Path | None] | None = field(default=None, repr=False)

    def _load(self) -> tuple[Any, Path | None]:
        if self._loaded is None:
            from bodycam.config import load_config

            self._loaded = load_config(self.config_path)
        return self._loaded

    @property
    def config(self):
        """The deployment's configuration. Without a file there is no deployment: refuse rather
        than create ledgers, keys and state in whatever folder the command was started from."""
        cfg, path = self._load()
        if path is None:
            raise ConfigError(Message(N_("no bodycam.toml here: create a deployment with `bodycam init --role "
                                         "dock|archive --dir DIR`, then pass --config DIR/bodycam.toml (or set "
                                         "BODYCAM_CONFIG)")))
        return cfg

    @property
    def optional_config(self):
        """The configuration if there is one, else the defaults: for commands that only read
        (firmware profiles) and never write state."""
        return self._load()[0]


class BodycamGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # The command's help is read in the reader's language: choose it before the command is
        # resolved (the root callback runs after), from --config's [display] language or $LANG.
        use_language(_configured_language(ctx.params.get("config_path") if ctx is not None else None))
        route = COMMANDS.get(cmd_name)
        if route is None:
            return None
        return localize(importlib.import_module(route.module).COMMAND)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `bodycam --config F --help`: --config is eager like --help, so it is known here.
        use_language(_configured_language(ctx.params.get("config_path")))
        help_option = self.get_help_option(ctx)  # made by click before --config was read
        if help_option is not None:
            help_option.help = _("Show this message and exit.")
        super().format_help(ctx, formatter)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        localize(self, recursive=False)
        super().format_help_text(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the routing table, without importing a single command module."""
        rows = [(name, _(COMMANDS[name].help)) for name in self.list_commands(ctx)]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RefusedError as exc:
            _report(exc, exc.reasons)
            sys.exit(exc.exit_code)
        except BodycamError as exc:
            _report(exc, [])
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _interrupted()
        except click.exceptions.Abort as exc:
            # Ctrl-C at a prompt: click turns it into Abort (as it does end of input, which stays 1).
            if isinstance(exc.__context__, KeyboardInterrupt):
                _interrupted()
            raise

    def main(self, *args, **kwargs):
        """The language stays chosen until click has shown a usage error (after the contexts are
        closed), then is forgotten, so that nothing in this process keeps it."""
        try:
            return super().main(*args, **kwargs)
        finally:
            use_language(None)

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:  # while the root options are parsed
            _interrupted()


def _configured_language(config_path: Path | None):
    """``[display] language`` of the configuration (found as ``bodycam.config.find_config`` finds
    it), read only when a message is translated, and without the configuration models: help is
    shown before any command loads them (and ``bodycam --help`` never does)."""

    def read() -> str | None:
        env = os.environ.get("BODYCAM_CONFIG")
        path = config_path or (Path(env) if env else Path("bodycam.toml"))
        try:
            text = path.read_text(encoding="utf-8")
            check_nesting(text, syntax="toml", what="the file")
            display = tomllib.loads(text).get("display")
        except (OSError, UnicodeDecodeError, RecursionError, tomllib.TOMLDecodeError, BodycamError):
            return None  # the command itself reports a missing or broken configuration
        value = display.get("language") if isinstance(display, dict) else None
        return value if isinstance(value, str) else None

    return read


def localize(command: click.Command, *, recursive: bool = True) -> click.Command:
    """A command's help and its options' help in the reader's language (``bodycam.i18n``):
    click keeps the English source strings; each is replaced by its translation once."""
    lang = language()
    if getattr(command, "_bodycam_language", None) == lang:
        return command
    source = getattr(command, "_bodycam_source", None)
    if source is None:
        source = command._bodycam_source = (  # type: ignore[attr-defined]
            inspect.cleandoc(command.help) if command.help else command.help,
            [getattr(p, "help", None) for p in command.params], command.short_help)
    help_text, params, short_help = source
    command.help = _(help_text) if help_text else help_text
    command.short_help = short_help if short_help or lang == "en" else _first_sentence(command.help)
    for param, text in zip(command.params, params, strict=True):
        if text:
            param.help = localized_help(text)
    command._bodycam_language = lang  # type: ignore[attr-defined]
    if recursive and isinstance(command, click.Group):
        for sub in command.commands.values():
            localize(sub)
    return command


def _first_sentence(text: str | None) -> str | None:
    """The first sentence of a Chinese help text, for command lists (click looks for an English
    full stop; without one it would cut the text after 45 characters)."""
    first = (text or "").split("\n\n", 1)[0]
    end = first.find("。")
    return first[:end + 1] if 0 <= end < len(first) - 1 else None


def _interrupted() -> NoReturn:
    """Ctrl-C anywhere in a command: click would print "Aborted!" and exit 1; say what happened
    and exit 130 like any interrupted Unix command. Whatever was completed is kept (ledger
    appends are transactions, store files appear only when complete)."""
    click.echo("\n" + _("Interrupted (Ctrl-C)."), err=True)
    sys.exit(INTERRUPTED)


def _report(exc: BodycamError, reasons: list[str]) -> None:
    # Messages quote what recorders, docks and the archive said: shown, never obeyed by the terminal.
    click.echo(_("Error: {message}").format(message=printable(tr(exc), multiline=True)), err=True)
    for reason in reasons:
        click.echo(f"  - {printable(tr(reason))}", err=True)


@click.group(cls=BodycamGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="bodycam", prog_name="bodycam")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
              help="bodycam.toml to use (default: $BODYCAM_CONFIG, then ./bodycam.toml).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Chain-of-custody for body recorders: dock, sync, archive, verify."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app = ctx.obj = AppContext(config_path=config_path)
    # Times for people in [display] timezone (else $TZ, else the machine's zone); the file is read
    # only when a command shows a time.
    use_display_zone(lambda: app.optional_config.display.timezone)
    use_language(lambda: app.optional_config.display.language)
    ctx.call_on_close(lambda: use_display_zone(None))  # the language is forgotten by BodycamGroup.main


def main() -> None:
    install_for_click()
    cli(prog_name="bodycam")
