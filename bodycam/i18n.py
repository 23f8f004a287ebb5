"""The language people are spoken to in: Simplified Chinese or English.

The bureau's officers, equipment managers, supervisors and archivists read Chinese; logs,
signed records and JSON stay English (they are read by programs, auditors and other languages'
tools). Messages are gettext catalogues: the source strings are English, marked with ``_()``
(or ``N_()`` where only marked); the Chinese catalogue (``locale/zh_CN/*.po``, one file per
package, terms from the regulation's own words: 执法记录仪, 校时, 停止录制, 审核) is compiled into
``bodycam/locale/zh_CN/LC_MESSAGES/bodycam.mo`` at install time (``bodycam.i18n_catalog``).

Library messages that also reach logs, ``--json``, signed records or the other end of the wire
are ``Message`` objects: English strings that ``tr()`` shows translated where a person reads them.

The language is ``[display] language`` when the configuration names one, else the first of
``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set (``zh…`` → Chinese), else English. A
translation is looked up when a message is made, so the language can be chosen at command start.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable, Iterable
from importlib.resources import files

DOMAIN = "bodycam"
LANGUAGES = ("en", "zh_CN")

_configured: Callable[[], str | None] | str | None = None
_cache: dict[str, gettext.NullTranslations] = {}


def use_language(configured: Callable[[], str | None] | str | None) -> None:
    """The configured language for this command (a callable read on first use), or None."""
    global _configured
    _configured = configured


def _from_environment() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return value
    return ""


def normalise(value: str | None) -> str:
    """``zh_CN.UTF-8``, ``zh-cn``, ``zh`` → ``zh_CN``; anything else → ``en``."""
    return "zh_CN" if (value or "").strip().lower().replace("-", "_").startswith("zh") else "en"


def language() -> str:
    configured = _configured
    if callable(configured):
        try:
            configured = configured()
        except Exception:  # noqa: BLE001 - a broken bodycam.toml is reported by the command, in English if need be
            configured = None
    return normalise(configured or _from_environment())


def translations(lang: str) -> gettext.NullTranslations:
    found = _cache.get(lang)
    if found is None:
        if lang == "en":
            found = gettext.NullTranslations()
        else:
            localedir = str(files("bodycam") / "locale")
            found = gettext.translation(DOMAIN, localedir=localedir, languages=[lang], fallback=True)
        _cache[lang] = found
    return found


def _(message: str) -> str:
    """``message`` in the reader's language (the English source when there is no translation)."""
    if not message:
        return message
    return translations(language()).gettext(message)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Marks a message for the catalogue where it is translated later (tables, routing help)."""
    return message


class Message(str):
    """English text that is shown translated: the string itself is the English message (what logs,
    ``--json``, signed records and the archive's replies carry); ``tr(message)`` is the message in
    the reader's language, made when it is shown.

    For library messages that reach people through more than one door (a refusal printed by the
    CLI, a problem in ``ledger verify``'s text and in its JSON, a reason the archive sends a dock):
    ``Message(N_("key {keyid}… is not enrolled"), keyid=k)``. Values that are Messages (or
    exceptions carrying one) are translated too."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, /, **values: object) -> Message:
        self = super().__new__(cls, template.format(**values) if values else template)
        self.template = template
        self.values = values
        return self

    def __reduce__(self):  # pickled by verification workers, copied by dataclasses.asdict
        return (_message, (self.template, self.values))

    def shown(self) -> str:
        return self.translated()

    def translated(self) -> str:
        text = _(self.template)
        if not self.values:
            return text
        try:
            return text.format(**{k: tr(v) for k, v in self.values.items()})
        except (KeyError, IndexError, ValueError):  # a translation naming other placeholders: say it in English
            return str(self)

    @classmethod
    def join(cls, sep: str, parts: Iterable[object]) -> Message:
        """``sep.join(parts)`` whose Message parts (and ``sep``, when a Message: ``Message(N_("; "))``
        reads ``；`` in Chinese) are translated when shown."""
        parts = list(parts)
        if not parts:
            return cls("")
        template = "{sep}".join(f"{{p{i}}}" for i in range(len(parts)))
        return cls(template, sep=sep, **{f"p{i}": p for i, p in enumerate(parts)})


def _message(template: str, values: dict[str, object]) -> Message:
    return Message(template, **values)


def tr(value: object) -> object:
    """``value`` as people read it: a Message (or an exception whose message is one) in the
    reader's language; anything else unchanged."""
    if isinstance(value, Message):
        return value.translated()
    if isinstance(value, BaseException) and len(value.args) == 1 and isinstance(value.args[0], str):
        return tr(value.args[0]) if isinstance(value.args[0], Message) or hasattr(value.args[0], "shown") else value
    shown = getattr(value, "shown", None)  # a package's own kind of lazy text (agent.text.Text)
    if isinstance(value, str) and callable(shown):
        return shown()
    return value


def install_for_click() -> None:
    """click's own words (Usage, Options, "Show this message and exit.") come from gettext's
    default domain: point it at this catalogue, which carries them too (``N_`` below), and have
    click's modules look them up through ``_``, so that they follow ``[display] language`` like
    every other message (gettext's own choice reads only the environment)."""
    import importlib

    gettext.bindtextdomain(DOMAIN, str(files("bodycam") / "locale"))
    gettext.textdomain(DOMAIN)
    for name in _CLICK_MODULES:
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:  # a click without that module
            continue
        if getattr(module, "_", None) is gettext.gettext:
            module._ = _


_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


# click's own words, marked so that the catalogue carries their translations (click's msgids).
_CLICK_WORDS = (N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."),
                N_("Show the version and exit."), N_("Error: {message}"), N_("Missing option"),
                N_("Missing argument"), N_("Try '{command} {option}' for help."), N_("No such command {name!r}."),
                N_("No such option {name!r}."), N_("Invalid value for {param_hint}: {message}"),
                N_("default: {default}"), N_("Aborted!"), N_("required"), N_("Missing command."),
                N_("Missing parameter"), N_("Invalid value: {message}"), N_("{value} is not in the range {range}."),
                N_("file"), N_("directory"), N_("path"), N_("{name} {filename!r} does not exist."),
                N_("{name} {filename!r} is a file."), N_("{name} {filename!r} is a directory."),
                N_("Choose from:\n\t{choices}"))
