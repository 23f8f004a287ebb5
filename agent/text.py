"""Messages kept in English and shown in the reader's language.

A refusal reason, a docking problem or a gap's detail is written into signed ledger records, the
state database and ``--json`` output, which stay English (auditors, programs, other languages'
tools read them; ``agent.clock.history`` even reads calibration reasons back), and it is shown to
the officer or equipment manager in their language. ``Text`` is both: a ``str`` whose value is
the English message (so records, JSON and logs get English with no change), which remembers its
catalogue message and values, so ``shown()`` gives it in the reader's language (``bodycam.i18n``).

    Text(N_("battery {pct}% < {need:.0f}% needed"), pct=40, need=72.0)   # "battery 40% < 72% needed"
    shown(reason)                                                        # "电量 40% < 所需 72%"

Values may be Texts or exceptions themselves (each is English in the English form, translated in
the shown one). Errors of this package whose messages can end in a record (link, clock and
offload errors) derive from ``SaidError``: ``str(exc)`` is what a person reads (the terminal shows
it through the CLI root), ``english(exc)`` what a record or a log keeps.
"""

from __future__ import annotations

from typing import Any

from bodycam.i18n import N_, _


class Text(str):
    """English text that can be shown in the reader's language (see the module notes)."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, /, **values: Any) -> Text:
        # An exception is kept as its message (a Text when it has one), not as the object.
        values = {k: text_of(v) if isinstance(v, BaseException) else v for k, v in values.items()}
        english_text = msgid.format(**{k: _english_value(v) for k, v in values.items()}) if values else msgid
        self = super().__new__(cls, english_text)
        self.msgid = msgid
        self.values = values
        return self

    def shown(self) -> str:
        """The message in the reader's language (English when it has no translation)."""
        translated = _(self.msgid)
        if not self.values:
            return translated
        try:
            return translated.format(**{k: _shown_value(v) for k, v in self.values.items()})
        except (KeyError, IndexError, ValueError):  # a broken translation: the English still says it
            return str.__str__(self)

    def to_data(self) -> dict[str, Any]:
        """JSON-able form (message and values), for ``from_data`` to show it later in any language."""
        return {"m": self.msgid, "v": {k: _data(v) for k, v in self.values.items()}}

    @classmethod
    def from_data(cls, data: Any) -> Text | None:
        """``to_data``'s form back as a Text; None when ``data`` is not that form."""
        if isinstance(data, dict) and isinstance(data.get("j"), list) and isinstance(data.get("s"), str):
            return Joined([(cls.from_data(p) or str(p)) if isinstance(p, dict) else str(p) for p in data["j"]],
                          data["s"])
        if not isinstance(data, dict) or not isinstance(data.get("m"), str) or not isinstance(data.get("v"), dict):
            return None
        values = {}
        for k, v in data["v"].items():
            values[k] = (cls.from_data(v) or v) if isinstance(v, dict) else v
        try:
            return cls(data["m"], **values)
        except (KeyError, IndexError, ValueError):
            return None


def _english_value(v: Any) -> Any:
    if isinstance(v, Text):
        return str.__str__(v)
    if isinstance(v, BaseException):
        return english(v)
    return v


def _shown_value(v: Any) -> Any:
    if isinstance(v, Text):
        return v.shown()
    if isinstance(v, BaseException):
        return shown(v)
    return v


def _data(v: Any) -> Any:
    if isinstance(v, Text):
        return v.to_data()
    if isinstance(v, BaseException):
        t = text_of(v)
        return t.to_data() if isinstance(t, Text) else english(v)
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def english(x: object) -> str:
    """The English form: of a Text, of an exception (its Text message, if it has one), or ``str``."""
    if isinstance(x, Text):
        return str.__str__(x)
    if isinstance(x, BaseException):
        t = text_of(x)
        return str.__str__(t) if isinstance(t, Text) else str(x)
    return str(x)


def shown(x: object) -> str:
    """What a person reads: a Text in the reader's language, an exception as it says itself."""
    if isinstance(x, Text):
        return x.shown()
    return str(x)


def text_of(exc: BaseException) -> Text | str:
    """An exception's message as a Text when it was made with one, else its ``str``."""
    if exc.args and isinstance(exc.args[0], Text):
        return exc.args[0]
    return str(exc)


class Joined(Text):
    """Texts (or plain strings) joined by a separator, itself a message (", " is "，" in Chinese)."""

    def __new__(cls, parts: list, sep: str = N_(", ")) -> Joined:
        self = super().__new__(cls, "{parts}", parts=sep.join(english(p) for p in parts))
        self.parts = list(parts)
        self.sep = sep
        return self

    def shown(self) -> str:
        return _(self.sep).join(shown(p) for p in self.parts)

    def to_data(self) -> dict[str, Any]:
        return {"j": [_data(p) for p in self.parts], "s": self.sep}


class SaidError(Exception):
    """Mixin for errors made with a Text: ``str()`` shows it in the reader's language;
    ``english()`` gives the form records and logs keep."""

    def __str__(self) -> str:
        if self.args and isinstance(self.args[0], Text):
            return self.args[0].shown()
        return super().__str__()
