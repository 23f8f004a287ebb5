"""The language people are spoken to in: Simplified Chinese or English.

The bureau's officers, equipment managers, supervisors and archivists read Chinese; logs,
signed records and JSON stay English (they are read by programs, auditors and other languages'
tools). Messages are gettext catalogues: the source strings are English, marked with ``_()``
(or ``N_()`` where only marked); the Chinese catalogue (``locale/zh_CN/*.po``, one file per
package, terms from the regulation's own words: 执法记录仪, 校时, 停止录制, 审核) is compiled into
``bodycam/locale/zh_CN/LC_MESSAGES/bodycam.mo`` at install time (``bodycam.i18n_catalog``).

The language is ``[display] language`` when the configuration names one, else the first of
``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set (``zh…`` → Chinese), else English. A
translation is looked up when a message is made, so the language can be chosen at command start.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable
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


def install_for_click() -> None:
    """click's own words (Usage, Options, "Show this message and exit.") come from gettext's
    default domain: point it at this catalogue, which carries them too (``N_`` below)."""
    gettext.bindtextdomain(DOMAIN, str(files("bodycam") / "locale"))
    gettext.textdomain(DOMAIN)


# click's own words, marked so that the catalogue carries their translations (click's msgids).
_CLICK_WORDS = (N_("Usage:"), N_("Options"), N_("Commands"), N_("Show this message and exit."),
                N_("Show the version and exit."), N_("Error: {message}"), N_("Missing option"),
                N_("Missing argument"), N_("Try '{command} {option}' for help."), N_("No such command {name!r}."),
                N_("No such option {name!r}."), N_("Invalid value for {param_hint}: {message}"),
                N_("default: {default}"), N_("Aborted!"))
