"""The message catalogue: find every message people read, keep the translations, compile them.

    python -m bodycam.i18n_catalog extract [PKG…]  # add new messages to locale/zh_CN/<package>.po
    python -m bodycam.i18n_catalog compile   # locale/zh_CN/*.po -> bodycam/locale/zh_CN/LC_MESSAGES/bodycam.mo
    python -m bodycam.i18n_catalog check     # every message translated, same {placeholders}

Messages are found in the source, not guessed: ``_("…")`` and ``N_("…")`` anywhere, and in the
command modules (``*/commands/*.py``, ``bodycam/cli.py``, ``bodycam/cliutil.py``) every click
command's docstring, every ``help="…"`` and the routing table's help. Babel reads and writes the
``.po`` files and compiles them; ``scripts/setup.sh`` and the wheel build compile at install time,
so the compiled catalogue is never committed. One ``.po`` per package keeps translators (and
engineers) of different packages out of each other's way; they are merged at compile time.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PACKAGES = ("ledger", "agent", "syncd", "archive", "bodycam")
LANGUAGE = "zh_CN"
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:![rsa])?(?::[^{}]*)?\}")
_CLICK_DECORATORS = {"command", "group"}
_FIXED = datetime(2026, 12, 1, tzinfo=UTC)  # a stable header: re-extracting changes only what changed


@dataclass
class Message:
    msgid: str
    package: str
    locations: list[tuple[str, int]] = field(default_factory=list)


def _is_command_module(rel: str) -> bool:
    return "/commands/" in rel or rel in ("bodycam/cli.py", "bodycam/cliutil.py")


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_click_command(fn: ast.FunctionDef) -> bool:
    for deco in fn.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Attribute) and target.attr in _CLICK_DECORATORS:
            return True
    return False


def extract(root: Path) -> dict[str, Message]:
    """Every message people read, by msgid, with the package that owns it (its first use)."""
    found: dict[str, Message] = {}

    def add(text: str | None, rel: str, line: int) -> None:
        if not text or not text.strip():
            return
        msg = found.setdefault(text, Message(text, rel.split("/", 1)[0]))
        msg.locations.append((rel, line))

    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            commands = _is_command_module(rel)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    if isinstance(func, ast.Name) and func.id in ("_", "N_") and node.args:
                        add(_literal(node.args[0]), rel, node.lineno)
                    if commands:
                        for kw in node.keywords:
                            if kw.arg == "help":
                                add(_literal(kw.value), rel, node.lineno)
                        if isinstance(func, ast.Name) and func.id == "Route" and len(node.args) >= 2:
                            add(_literal(node.args[1]), rel, node.lineno)
                elif commands and isinstance(node, ast.FunctionDef) and _is_click_command(node):
                    doc = ast.get_docstring(node, clean=False)
                    add(inspect.cleandoc(doc) if doc else None, rel, node.lineno)
    return found


def placeholders(text: str) -> set[str]:
    return {m.group(0).split("!")[0].split(":")[0].strip("{}") for m in _PLACEHOLDER.finditer(text)}


def po_path(root: Path, package: str) -> Path:
    return root / "locale" / LANGUAGE / f"{package}.po"


def read_catalogs(root: Path) -> dict[str, str]:
    """msgid → msgstr over every package's ``.po`` (untranslated and fuzzy entries left out)."""
    from babel.messages.pofile import read_po

    out: dict[str, str] = {}
    for package in PACKAGES:
        path = po_path(root, package)
        if not path.exists():
            continue
        with path.open("rb") as f:
            catalog = read_po(f, locale=LANGUAGE)
        for m in catalog:
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy:
                out[m.id] = m.string
    return out


def update(root: Path, only: tuple[str, ...] = PACKAGES) -> dict[str, int]:
    """Add new messages (empty translations) to each package's ``.po`` (of ``only``); drop ones no
    longer used. Translations already written are kept."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    messages = extract(root)
    counts = {}
    for package in only:
        path = po_path(root, package)
        old: dict[str, str] = {}
        if path.exists():
            with path.open("rb") as f:
                old = {m.id: m.string for m in read_po(f, locale=LANGUAGE) if m.id}
        catalog = Catalog(locale=LANGUAGE, domain="bodycam", project="bodycam", version="1", charset="utf-8",
                          creation_date=_FIXED, revision_date=_FIXED, last_translator="bodycam maintainers",
                          language_team="bodycam maintainers", copyright_holder="bodycam maintainers")
        mine = sorted((m for m in messages.values() if m.package == package), key=lambda m: m.locations[0])
        for m in mine:
            catalog.add(m.msgid, old.get(m.msgid, ""), locations=m.locations[:3],
                        flags=("python-brace-format",) if placeholders(m.msgid) else ())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=0, omit_header=False, include_previous=False)
        counts[package] = len(mine)
    return counts


def compile_catalog(root: Path, out: Path | None = None) -> Path:
    """Merge every package's translations into the one ``bodycam.mo`` the program loads."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    merged = Catalog(locale=LANGUAGE, domain="bodycam", charset="utf-8")
    for msgid, msgstr in read_catalogs(root).items():
        merged.add(msgid, msgstr)
    out = out or root / "bodycam" / "locale" / LANGUAGE / "LC_MESSAGES" / "bodycam.mo"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        write_mo(f, merged)
    return out


def problems(root: Path) -> list[str]:
    """Messages without a Chinese translation, or whose translation names other placeholders."""
    translated = read_catalogs(root)
    out = []
    for msgid, msg in sorted(extract(root).items(), key=lambda kv: kv[1].locations[0]):
        where = "{}:{}".format(*msg.locations[0])
        msgstr = translated.get(msgid)
        if msgstr is None:
            out.append(f"{where}: no Chinese translation for {msgid!r}")
        elif placeholders(msgstr) != placeholders(msgid):
            out.append(f"{where}: the translation of {msgid!r} has placeholders {sorted(placeholders(msgstr))}, "
                       f"not {sorted(placeholders(msgid))}")
    return out


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    action = argv[0] if argv else "check"
    if action == "extract":
        for package, n in update(root, tuple(argv[1:]) or PACKAGES).items():
            print(f"{po_path(root, package).relative_to(root)}: {n} messages")
        return 0
    if action == "compile":
        print(f"compiled {compile_catalog(root).relative_to(root)}")
        return 0
    if action == "check":
        found = problems(root)
        for p in found:
            print(p)
        print(f"{len(found)} problem(s)")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
