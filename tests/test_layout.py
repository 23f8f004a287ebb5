"""The dependency rule of README "How the pieces fit", checked on the source.

Every ``.py`` under the five packages is parsed with ``ast``; every import statement (module
level or inside a function, absolute or relative) becomes an arrow ``importer -> imported``,
and an arrow the rule does not allow fails the test, listed with its file and line. Imports
of anything outside the five packages (stdlib, third party) are not arrows here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "agent", "syncd", "archive", "bodycam")

# ---- the rule ------------------------------------------------------------------------------
# Each module belongs to one layer; a layer may import only the layers of its row.
PLUMBING = {"bodycam", "bodycam.errors", "bodycam.configfile", "bodycam.cliutil", "bodycam.formats",
            "bodycam.signals", "bodycam.files", "bodycam.permissions",
            "bodycam.locks", "bodycam.display", "bodycam.tables", "bodycam.i18n", "bodycam.i18n_catalog",
            "bodycam.statedb"}
ROOT_MODULES = {"bodycam.cli", "bodycam.config", "bodycam.commands"}  # and bodycam.commands.*
SYNCD_WIRE = {"syncd.protocol", "syncd.mqtt", "syncd.window", "syncd.config"}  # both ends of the wire

ALL = {"plumbing", "ledger", "agent", "syncd", "syncd-wire", "archive", "root"}
MAY_IMPORT: dict[str, set[str]] = {
    "plumbing": {"plumbing"},
    "ledger": {"ledger", "plumbing"},
    "agent": {"agent", "ledger", "plumbing"},
    "syncd": {"syncd", "syncd-wire", "ledger", "plumbing"},
    # The wire pieces stay wire-only: the archive imports them, so through them it must not reach
    # the dock's uploader or outbox.
    "syncd-wire": {"syncd-wire", "ledger", "plumbing"},
    "archive": {"archive", "syncd-wire", "ledger", "plumbing"},
    "root": ALL,
}
# Arrows allowed besides the table, each only inside a function (loaded when used, never at import).
LAZY_EXCEPTIONS = {
    ("bodycam.cliutil", "ledger.keys"),  # KeyRef.load(): a signer's key file, loaded when the command signs
}
# Over every layer, root included:
NOBODY_IMPORTS = {"bodycam.cli"}  # the console-script root
CONFIG_MODULE = "bodycam.config"  # only bodycam.cli and bodycam.commands.* (others receive the config object)
# Command modules (``<pkg>.commands.*``) are leaves: nobody imports them, except that a command
# module may import the ``common`` module of its own commands subpackage.


def layer(module: str) -> str | None:
    top = module.split(".")[0]
    if module in PLUMBING:
        return "plumbing"
    if module in ROOT_MODULES or module.startswith("bodycam.commands."):
        return "root"
    if top == "bodycam":
        return None  # a new bodycam module: decide whether it is plumbing or root, and say so above
    if module in SYNCD_WIRE:
        return "syncd-wire"
    return top


def commands_package(module: str) -> str | None:
    """``agent.commands`` for ``agent.commands.dock`` (and for the package itself), else None."""
    parts = module.split(".")
    if "commands" in parts[1:]:
        return ".".join(parts[: parts.index("commands", 1) + 1])
    return None


def violation(src: str, dst: str, lazy: bool) -> str | None:
    """Why the arrow ``src -> dst`` is not allowed, or None."""
    if dst in NOBODY_IMPORTS:
        return "nothing imports the CLI root"
    if dst == CONFIG_MODULE and not (src == "bodycam.cli" or src.startswith("bodycam.commands.")):
        return "only bodycam.cli and bodycam.commands.* load the configuration; pass the config object"
    cmd = commands_package(dst)
    if cmd is not None and not (dst == f"{cmd}.common" and src.startswith(f"{cmd}.")):
        return "command modules are leaves (only their own commands.common may be shared)"
    src_layer, dst_layer = layer(src), layer(dst)
    if src_layer is None or dst_layer is None:
        return "module not in the layer table of tests/test_layout.py"
    if dst_layer in MAY_IMPORT[src_layer]:
        return None
    if lazy and (src, dst) in LAZY_EXCEPTIONS:
        return None
    return f"{src_layer} may import only {', '.join(sorted(MAY_IMPORT[src_layer]))}"


# ---- reading the source --------------------------------------------------------------------
@dataclass(frozen=True)
class Arrow:
    src: str
    dst: str
    where: str
    lazy: bool  # inside a function


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package __init__)."""
    found: dict[str, tuple[Path, bool]] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts.pop()
            found[".".join(parts)] = (path, is_pkg)
    return found


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_pkg: bool, known: set[str], path: Path):
        self.module, self.is_pkg, self.known, self.path = module, is_pkg, known, path
        self.depth = 0
        self.arrows: list[Arrow] = []

    def _add(self, dst: str, node: ast.stmt) -> None:
        if dst.split(".")[0] in PACKAGES:
            where = f"{self.path.relative_to(ROOT)}:{node.lineno}"
            self.arrows.append(Arrow(self.module, dst, where, self.depth > 0))

    def _in_function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not self.is_pkg:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        for alias in node.names:
            sub = f"{origin}.{alias.name}"
            # `from pkg import mod` is an arrow to pkg.mod; `from mod import name` one to mod.
            self._add(sub if sub in self.known else origin, node)


def arrows() -> list[Arrow]:
    found = modules()
    out: list[Arrow] = []
    for name, (path, is_pkg) in found.items():
        visitor = _Imports(name, is_pkg, set(found), path)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        out.extend(visitor.arrows)
    return out


# ---- the tests -----------------------------------------------------------------------------
def test_the_walk_sees_every_kind_of_import():
    # Guards the walker itself, on a made-up module `agent.offload.files` of a made-up tree.
    source = (
        "import json\n"
        "import ledger.store\n"
        "from ledger import merkle, ROOT_HASH\n"
        "from . import names\n"
        "from ..clock.measure import measure\n"
        "def f():\n"
        "    from syncd.uploader import Uploader\n"
        "    import bodycam.config\n"
    )
    known = {"ledger", "ledger.store", "ledger.merkle", "agent.offload.names", "agent.clock.measure",
             "syncd.uploader", "bodycam.config"}
    path = ROOT / "agent" / "offload" / "files.py"
    visitor = _Imports("agent.offload.files", False, known, path)
    visitor.visit(ast.parse(source))
    assert [(a.dst, a.lazy) for a in visitor.arrows] == [
        ("ledger.store", False), ("ledger.merkle", False), ("ledger", False), ("agent.offload.names", False),
        ("agent.clock.measure", False), ("syncd.uploader", True), ("bodycam.config", True)]
    assert violation("agent.offload.files", "syncd.uploader", True)
    assert violation("syncd.uploader", "agent.store", False)
    assert violation("archive.receiver", "syncd.outbox", False)
    assert violation("archive.receiver", "syncd.protocol", False) is None
    assert violation("syncd.mqtt", "syncd.outbox", False)
    assert violation("syncd.uploader", "syncd.outbox", False) is None
    assert violation("bodycam.cliutil", "ledger.keys", True) is None
    assert violation("bodycam.cliutil", "ledger.keys", False)
    assert violation("agent.commands.dock", "agent.commands.common", False) is None
    assert violation("agent.commands.dock", "agent.commands.device", False)
    assert violation("bodycam.commands.init", "agent.commands.common", False)
    assert violation("bodycam.commands.init", "archive.config", False) is None
    assert violation("agent.dock", "bodycam.config", True)


def test_every_arrow_is_allowed_by_the_dependency_rule():
    bad = sorted({(a.src, a.dst, a.where, why) for a in arrows() if (why := violation(a.src, a.dst, a.lazy))})
    listing = "\n".join(f"  {src} -> {dst}   ({where}: {why})" for src, dst, where, why in bad)
    assert not bad, f"{len(bad)} import(s) break the dependency rule (README, 'Dependency rule'):\n{listing}"


def _flat_statements(body: list[ast.stmt]):
    """Module-level statements in order, looking into if/try/with blocks but not into defs."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt | ast.excepthandler):
                yield from _flat_statements(inner)  # type: ignore[arg-type]


def test_no_module_level_import_after_the_first_definition():
    """Imports at the end of a file (to register kinds or checks) hide a dependency; register
    explicitly in the package ``__init__`` instead. Imports inside functions are fine."""
    late = []
    for path, _ in modules().values():
        first_def = None
        for stmt in _flat_statements(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                first_def = first_def or stmt
            elif isinstance(stmt, ast.Import | ast.ImportFrom) and first_def is not None:
                what = ", ".join(a.name for a in stmt.names)
                src = f"from {'.' * stmt.level}{stmt.module or ''} import {what}" if isinstance(
                    stmt, ast.ImportFrom) else f"import {what}"
                late.append(f"  {path.relative_to(ROOT)}:{stmt.lineno}: {src}  (after line {first_def.lineno})")
    assert not late, "module-level imports after the first def/class:\n" + "\n".join(late)


def test_the_rule_table_covers_every_module():
    unplaced = [m for m in modules() if layer(m) is None]
    assert not unplaced, f"bodycam modules not in the layer table (plumbing or root?): {unplaced}"
