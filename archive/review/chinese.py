"""Texts of a review in Simplified Chinese, whatever the language of whoever acts.

The opinion (法制审核意见书, A3 Art.13) is a Chinese document, and the outcome and classification
entries keep a Chinese rendition of each finding and criterion beside the English one, made from
the same zh_CN catalogue the terminal uses (``bodycam.i18n``), so the opinion shows what was
concluded then, not what a later catalogue would say.
"""

from __future__ import annotations

from bodycam.i18n import Message, translations


def zh(value: object) -> str:
    """``value`` in Simplified Chinese: a Message through the zh_CN catalogue (its values too)."""
    if isinstance(value, Message):
        text = translations("zh_CN").gettext(value.template) if value.template else value.template
        if not value.values:
            return text
        try:
            return text.format(**{k: zh(v) for k, v in value.values.items()})
        except (KeyError, IndexError, ValueError):
            return str(value)
    if isinstance(value, str) and value:
        return translations("zh_CN").gettext(value)
    return str(value)
