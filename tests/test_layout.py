"""The package's layout holds: imports follow the data's direction, no import cycle, no module reaches into
another package's private names, no module over 600 lines (the data generator aside), and the CLI only
parses and prints. docs/ARCHITECTURE.md describes the layers named here.

`python tests/test_layout.py` prints the import graph (module, lines, what it imports).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "churnscore"
MAX_LINES = 600

# Each module's layer, lowest first: a module may import from its own layer or a lower one only, so the
# data flows one way (exports -> loaded rows -> accounts -> features -> scores -> ranked list -> files).
# A package's modules share its layer. A new module gets a line here (the test names one that has none).
LAYERS: dict[str, int] = {
    # 0 base: errors, the input contract, the config, words and number formats, files, small utilities
    **dict.fromkeys(("version", "errors", "contract", "limits", "config", "words", "terminal", "stages",
                     "parallel", "memory", "signing", "files", "filetype", "arrow_text"), 0),
    "load": 1,  # finding, sniffing, reading, parsing, dedupe, rejects, spill, account mapping
    **dict.fromkeys(("asof", "universe", "rejectpolicy"), 2),
    "features": 3,
    **dict.fromkeys(("rules", "rulecheck", "model"), 4),
    **dict.fromkeys(("rank", "playbook", "write", "movers", "audit"), 5),
    **dict.fromkeys(("report", "manifest", "outset", "runlock", "stopping", "summary"), 6),
    **dict.fromkeys(("pipeline", "engine_dask", "validate", "evaluate", "explain", "tune", "discover", "detect",
                     "starter"), 7),
    **dict.fromkeys(("run", "runtext"), 8),
    "cli": 9,
    "synth": 0,  # the synthetic data generator: beside the scoring path, on the contract only
    "__init__": 9,  # churnscore/__init__.py: the public API, score_run imported on first use
}
EXEMPT_FROM_SIZE = ("synth",)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name under churnscore ("load.csv", "cli", "__init__")."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _target(found: dict[str, Path], base: str, name: str | None) -> tuple[str, str | None] | None:
    """The module an import names (and the attribute taken from it), or None outside the package."""
    if name is not None and f"{base}.{name}".strip(".") in found:
        return f"{base}.{name}".strip("."), None
    base = base or "__init__"
    return (base, name) if base in found else None


def imports(found: dict[str, Path] | None = None) -> dict[str, set[tuple[str, str | None]]]:
    """Each module's imports inside the package, lazy ones too: {module: {(imported module, name or None)}}."""
    found = found or modules()
    out: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for mod, path in found.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    here = mod.split(".") if (is_package and mod != "__init__") else mod.split(".")[:-1]
                    here = here[:len(here) - (node.level - 1)] if node.level > 1 else here
                    base = ".".join(here + ([node.module] if node.module else []))
                elif node.module and (node.module == "churnscore" or node.module.startswith("churnscore.")):
                    base = node.module[len("churnscore"):].lstrip(".")
                else:
                    continue
                for alias in node.names:
                    hit = _target(found, base, alias.name)
                    if hit is not None and hit[0] != mod:
                        out[mod].add(hit)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("churnscore."):
                        hit = _target(found, alias.name[len("churnscore."):], None)
                        if hit is not None and hit[0] != mod:
                            out[mod].add(hit)
    return out


def graph() -> dict[str, set[str]]:
    return {mod: {m for m, _ in targets} for mod, targets in imports().items()}


def top(mod: str) -> str:
    return mod.split(".")[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    assert sorted({top(m) for m in modules()} - set(LAYERS)) == []


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_imports_follow_the_data():
    against = sorted(f"{mod} (layer {LAYERS[top(mod)]}) imports {dep} (layer {LAYERS[top(dep)]})"
                     for mod, deps in graph().items() for dep in deps
                     if top(dep) in LAYERS and top(mod) in LAYERS and LAYERS[top(dep)] > LAYERS[top(mod)])
    assert against == []


def test_no_private_name_crosses_a_package():
    crossing = sorted(f"{mod} imports {dep}.{name}" for mod, targets in imports().items()
                      for dep, name in targets
                      if name and name.startswith("_") and not name.startswith("__") and top(dep) != top(mod))
    assert crossing == []


def test_no_module_over_600_lines():
    long = sorted(f"{mod}: {len(path.read_text(encoding='utf-8').splitlines())} lines"
                  for mod, path in modules().items()
                  if top(mod) not in EXEMPT_FROM_SIZE and len(path.read_text(encoding="utf-8").splitlines()) > MAX_LINES)
    assert long == []


def test_the_cli_only_parses_and_prints():
    """cli.py holds click commands, their options and what prints: no table work (pandas, numpy, pyarrow)."""
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    heavy = sorted({alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
                    if alias.name.split(".")[0] in ("pandas", "numpy", "pyarrow")}
                   | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                      and node.module.split(".")[0] in ("pandas", "numpy", "pyarrow")})
    assert heavy == []


def test_tests_use_public_names_only():
    """A test that reaches into a private name breaks on the next refactor: tests import, patch and call
    only public names of the package (``from churnscore.x import _y``, ``x_mod._y``, ``"churnscore.x._y"``)."""
    reaching = []
    for path in sorted(PACKAGE.parent.joinpath("tests").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("churnscore"):
                reaching += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                             if a.name.startswith("_") and not a.name.startswith("__")]
                aliases |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                aliases |= {a.asname for a in node.names if a.name.startswith("churnscore") and a.asname}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                reaching.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and node.value.startswith("churnscore.")
                  and any(part.startswith("_") and not part.startswith("__") for part in node.value.split("."))):
                reaching.append(f"{path.name}:{node.lineno}: {node.value}")
    assert reaching == []


def test_the_version_is_the_one_pyproject_gives():
    import tomllib

    from churnscore import __version__

    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == pyproject["project"]["version"]


if __name__ == "__main__":
    edges = graph()
    for mod, path in modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        print(f"{mod:<24} {lines:>5}  -> {', '.join(sorted(edges.get(mod, ()))) or '-'}")
    print("cycles:", cycles(edges) or "none")
