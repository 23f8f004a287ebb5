"""Small pieces every command group shares: ``--json`` output, the configuration, and the option
sets that recur (a passphrase's environment variable, a signer's key file and its passphrase).

Each option set is declared once here so that the twenty commands that sign something spell it
the same way and say the same thing in ``--help``.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from bodycam.formats import printable_json
from bodycam.i18n import N_, Message, _, tr

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")

_HELP: dict[str, Message] = {}


def option_help(message: Message) -> str:
    """An option's help made of parts (the ``what`` a command names, numbered items): click keeps
    the English text; ``localized_help`` gives it in the reader's language when help is shown.
    ``message`` is ``Message(N_("… {what} …"), what=Message(N_("the officer")))``."""
    text = str(message)
    _HELP[text] = message
    return text


def localized_help(text: str) -> str:
    """An option's (English) help in the reader's language."""
    made = _HELP.get(text)
    return str(tr(made)) if made is not None else _(text)


def echo_json(obj: Any) -> None:
    """Indented JSON; characters a terminal would act on (bidi overrides, C1 controls, DEL) are
    written as ``\\uXXXX`` escapes, so the value is unchanged and the terminal shows them."""
    click.echo(printable_json(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True, default=str)))


def show_status_logs(*loggers: str) -> None:
    """Show the INFO messages of ``loggers`` (package names) on stderr even without ``-v``: what a
    daemon or a long command is doing (connected, waiting, committed, reconnecting). A ``-vv``
    that already shows more is left as it is."""
    for name in loggers:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)


def app_config(ctx: click.Context):
    """The validated bodycam.toml (``BodycamConfig``) of the running command; refuses when there
    is none, so that no command creates state in whatever folder it was started from."""
    return ctx.find_root().obj.config


def passphrase_option(what: str = N_("the key")):
    """``--passphrase-env VAR``: the name of the variable holding ``what``'s passphrase, never the
    passphrase itself (it would show in the process list and the shell history). Mark ``what`` with
    ``N_`` so that the help reads whole in Chinese."""
    return click.option("--passphrase-env", default=None, metavar="VAR",
                        help=option_help(Message(N_("Environment variable holding the passphrase of {what} (never "
                                                    "the passphrase itself)."), what=Message(what))))


@dataclass(frozen=True)
class KeyRef:
    """A private key named on the command line; loaded only when the command signs."""

    path: Path | None
    passphrase_env: str | None

    def load(self):
        from ledger.keys import load_signer

        if self.path is None:
            raise click.UsageError(_("a signing key is needed here"))
        return load_signer(self.path, self.passphrase_env)


def signer_options(prefix: str = "", *, what: str = N_("the signer"), required: bool = True, dest: str | None = None):
    """``--{prefix}key FILE`` and ``--{prefix}passphrase-env VAR``, handed to the command as one
    ``KeyRef`` argument (``dest``, default ``{prefix}key`` with dashes as underscores). Mark ``what``
    with ``N_``."""
    flag = f"--{prefix}-key" if prefix else "--key"
    penv = f"--{prefix}-passphrase-env" if prefix else "--passphrase-env"
    name = dest or (f"{prefix}_key" if prefix else "key").replace("-", "_")
    kpar, ppar = f"_{name}_path", f"_{name}_penv"

    def deco(fn):
        @click.option(flag, kpar, type=click.Path(dir_okay=False, path_type=Path), required=required,
                      default=None, help=option_help(Message(N_("Private key of {what} (PEM, from `bodycam keys "
                                                                "generate`)."), what=Message(what))))
        @click.option(penv, ppar, default=None, metavar="VAR",
                      help=option_help(Message(N_("Environment variable holding the passphrase of {what}'s key."),
                                               what=Message(what))))
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            path, env = kwargs.pop(kpar), kwargs.pop(ppar)
            kwargs[name] = KeyRef(path, env) if path is not None else None
            return fn(*args, **kwargs)

        return wrapper

    return deco


def signed_by(*, help: str, what: str, required: bool = True):
    """``--by PERSON`` (handed over as ``person_id``) and the key options of ``signer_options``
    (as ``key``): a command an enrolled person signs. ``help`` says who may sign, ``what`` (marked
    with ``N_``) names them in the key options' help."""

    def deco(fn):
        fn = signer_options(what=what, required=required)(fn)
        return click.option("--by", "person_id", required=required, default=None, help=help)(fn)

    return deco


def numbered_help(items: dict[int, str]) -> Message:
    """``1 …; 2 …`` for options whose values are numbered items of an article (A2 Art.10, 11), each
    item's text translated when shown (mark the texts with ``N_``); for ``option_help``."""
    return Message.join(Message(N_("; ")), (Message("{n} {text}", n=k, text=Message(v)) for k, v in items.items()))


class TimeParam(click.ParamType):
    """A time as nanoseconds: RFC 3339 (``2026-12-01T08:30:00+08:00``), a local time without offset
    (``2026-12-01 08:30``, in the display zone) or a date (its first instant; with ``end_of_day``
    its last: a certificate valid until a date is valid all that day)."""

    name = "TIME"

    def __init__(self, end_of_day: bool = False):
        self.end_of_day = end_of_day

    def convert(self, value, param, ctx) -> int:
        from datetime import datetime, timedelta

        from bodycam.formats import display_zone

        if isinstance(value, int):
            return value
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            self.fail(_("{value!r} is not a date or RFC 3339 time").format(value=text), param, ctx)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=display_zone()) if display_zone() is not None else dt.astimezone()
        if self.end_of_day and len(text) == 10:
            dt = dt + timedelta(days=1) - timedelta(microseconds=1)
        return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000
