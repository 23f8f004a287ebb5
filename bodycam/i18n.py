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
    ``--json``, signed records, the state database and the archive's replies carry); ``tr(message)``
    is the message in the reader's language, made when it is shown.

    For messages that reach people through more than one door (a refusal printed by the CLI, a
    readiness reason kept in the fleet state and shown by ``fleet status``, a problem in ``ledger
    verify``'s text and in its JSON, a reason the archive sends a dock)::

        Message(N_("battery {pct}% < {need:.0f}% needed"), pct=40, need=72.0)  # "battery 40% < 72% needed"
        tr(reason)                                                            # "电量 40% < 所需 72%"

    Values may be Messages or exceptions (an exception is kept as its message: English in the
    English form, translated in the shown one). ``to_data``/``from_data`` keep a message in JSON so
    it can be shown later in any language."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, /, **values: object) -> Message:
        values = {k: text_of(v) if isinstance(v, BaseException) else v for k, v in values.items()}
        english_text = template.format(**{k: english(v) if isinstance(v, str) else v
                                          for k, v in values.items()}) if values else template
        self = super().__new__(cls, english_text)
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
            return str.__str__(self)

    @classmethod
    def join(cls, sep: str, parts: Iterable[object]) -> Message:
        """``sep.join(parts)`` whose Message parts (and ``sep``, when a Message: ``Message(N_("; "))``
        reads ``；`` in Chinese) are translated when shown."""
        parts = list(parts)
        if not parts:
            return cls("")
        template = "{sep}".join(f"{{p{i}}}" for i in range(len(parts)))
        return cls(template, sep=sep, **{f"p{i}": p for i, p in enumerate(parts)})

    def to_data(self) -> dict[str, object]:
        """JSON-able form (message and values), for ``from_data`` to show it later in any language."""
        return {"m": self.template, "v": {k: _data(v) for k, v in self.values.items()}}

    @classmethod
    def from_data(cls, data: object) -> Message | None:
        """``to_data``'s form back as a Message; None when ``data`` is not that form. (The
        ``{"j": parts, "s": sep}`` form of joined reasons in older state databases is read too.)"""
        if isinstance(data, dict) and isinstance(data.get("j"), list) and isinstance(data.get("s"), str):
            return joined([(cls.from_data(p) or str(p)) if isinstance(p, dict) else str(p) for p in data["j"]],
                          data["s"])
        if not isinstance(data, dict) or not isinstance(data.get("m"), str) or not isinstance(data.get("v"), dict):
            return None
        values = {k: (cls.from_data(v) or v) if isinstance(v, dict) else v for k, v in data["v"].items()}
        try:
            return cls(data["m"], **values)
        except (KeyError, IndexError, ValueError):
            return None


def _message(template: str, values: dict[str, object]) -> Message:
    return Message(template, **values)


def _data(v: object) -> object:
    if isinstance(v, Message):
        return v.to_data()
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def joined(parts: Iterable[object], sep: str = N_(", ")) -> Message:
    """Parts joined by a separator that is itself a message (``", "`` reads ``，`` in Chinese)."""
    return Message.join(Message(sep), parts)


def text_of(exc: BaseException) -> Message | str:
    """An exception's message as a Message when it was made with one, else its English ``str``."""
    if exc.args and isinstance(exc.args[0], Message):
        return exc.args[0]
    return str(exc) if not isinstance(exc, SaidError) else Exception.__str__(exc)


def english(x: object) -> str:
    """The English form: of a Message, of an exception (its Message, if it has one), or ``str``."""
    if isinstance(x, Message):
        return str.__str__(x)
    if isinstance(x, BaseException):
        t = text_of(x)
        return str.__str__(t) if isinstance(t, Message) else str(t)
    return str(x)


def tr(value: object) -> object:
    """``value`` as people read it: a Message (or an exception whose message is one) in the
    reader's language; anything else unchanged."""
    if isinstance(value, Message):
        return value.translated()
    if isinstance(value, BaseException) and value.args and isinstance(value.args[0], Message):
        return value.args[0].translated()
    return value


def shown(x: object) -> str:
    """What a person reads, as a string: ``tr(x)``, or ``str(x)`` for anything else."""
    return str(tr(x))


class SaidError(Exception):
    """Mixin for errors made with a Message whose ``str()`` is read by people (the agent's link,
    clock and offload errors end up both in records, through ``english()``, and on terminals)."""

    def __str__(self) -> str:
        if self.args and isinstance(self.args[0], Message):
            return self.args[0].translated()
        return super().__str__()


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
