"""docs/architecture.md stays true to the modules (issue 23).

The rule the page follows, checked here:

* every module ``src/semapose/**.py`` has exactly one table row whose first cell is its
  path relative to ``src/semapose`` in backticks (``| `inference/pipeline.py` | ... |``),
  in the section of its top-level package (the section whose ``##`` heading names that
  folder, e.g. ``## `inference/` — ...``; top-level modules under ``## Top level``);
* a package's ``__init__.py`` is described by its folder (``data/synthetic/`` named in
  backticks somewhere) unless it defines public functions or classes of its own, then it
  has its row like any module;
* every ``.py`` path the page names exists (relative to ``src/semapose`` or to the
  repository; a bare file name somewhere in ``src/``, ``tests/``, ``benchmarks/`` or
  ``tools/``; ``*`` patterns must match a file, ``<name>`` placeholders are skipped), and
  every folder it names in backticks (``inference/detectors/``) exists;
* the table of the ``## Layers`` section puts every top-level package and module in one
  layer, and no import (at module level or inside a function) reaches a higher layer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "semapose"
DOC = ROOT / "docs" / "architecture.md"
#: where a bare file name (``import_walk.py``) may live
NAMED_TREES = ("src", "tests", "benchmarks", "tools")

ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
HEADING = re.compile(r"^##\s+(.*)$")
PY_PATH = re.compile(r"(?<![\w./<>*-])([\w./<>*-]*[\w>*]\.py)(?![\w])")
FOLDER = re.compile(r"`([A-Za-z_][\w/]*/)`")


def _defines_public(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not n.name.startswith("_")
        for n in tree.body
    )


def modules(src: Path = SRC) -> tuple[set[str], set[str], set[str]]:
    """(every module, the modules that need a row, the package folders that need a
    mention), relative to ``src``."""
    every, rows, folders = set(), set(), set()
    for p in sorted(src.rglob("*.py")):
        rel = p.relative_to(src).as_posix()
        every.add(rel)
        if p.name == "__init__.py" and not _defines_public(p):
            if "/" in rel:
                folders.add(rel.rsplit("/", 1)[0] + "/")
            continue
        rows.add(rel)
    return every, rows, folders


def table_rows(text: str) -> list[tuple[str, str, int]]:
    """(path, section package or "" for the top level, line number) of every module row."""
    found: list[tuple[str, str, int]] = []
    section = None
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = HEADING.match(line)
        if heading:
            title = heading.group(1)
            named = re.search(r"`([\w/]+/)`", title)
            section = named.group(1) if named else ("" if title.strip() == "Top level" else None)
            continue
        row = ROW.match(line)
        if row and row.group(1).endswith(".py"):
            found.append((row.group(1), "?" if section is None else section, number))
    return found


def row_problems(text: str, src: Path = SRC) -> list[str]:
    every, want, folders = modules(src)
    problems = []
    seen: dict[str, int] = {}
    for path, section, number in table_rows(text):
        seen[path] = seen.get(path, 0) + 1
        if path not in every:
            problems.append(f"line {number}: row for {path}, which is not a module")
            continue
        package = path.split("/", 1)[0] + "/" if "/" in path else ""
        if section != package:
            where = f"the `{package}` section" if package else "the Top level section"
            problems.append(f"line {number}: {path} is described outside {where}")
    problems += [f"{m}: no row in docs/architecture.md" for m in sorted(want - set(seen))]
    problems += [f"{m}: {n} rows (one expected)" for m, n in sorted(seen.items()) if n > 1]
    problems += [
        f"{f}: package folder not named in docs/architecture.md"
        for f in sorted(folders)
        if f"`{f}`" not in text
    ]
    return problems


def _exists(path: str, root: Path = ROOT, src: Path = SRC) -> bool:
    if "<" in path:
        return True  # a placeholder such as commands/<name>.py
    if "*" in path:
        return any(root.glob(path)) or any(src.glob(path))
    if "/" in path:
        return (src / path).exists() or (root / path).exists()
    return any(any((root / tree).rglob(path)) for tree in NAMED_TREES)


def path_problems(text: str, root: Path = ROOT, src: Path = SRC) -> list[str]:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        for path in PY_PATH.findall(line):
            if not _exists(path, root, src):
                problems.append(f"line {number}: {path} does not exist")
        for folder in FOLDER.findall(line):
            if not ((src / folder).is_dir() or (root / folder).is_dir()):
                problems.append(f"line {number}: folder {folder} does not exist")
    return problems


def layers(text: str) -> dict[str, list[int]]:
    """Top-level package folder (``io/``) or module (``cli.py``) -> the rows naming it in
    the table of the ``## Layers`` section (the second cell's backticked names; 0 is the
    base)."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    found: dict[str, list[int]] = {}
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    for number, line in enumerate(rows):
        for name in re.findall(r"`([^`]+)`", line.split("|")[2]):
            found.setdefault(name, []).append(number)
    return found


def _unit(rel: str) -> str:
    return rel.split("/", 1)[0] + "/" if "/" in rel else rel


def layer_problems(text: str, src: Path = SRC) -> list[str]:
    """Every top-level package and module in one layer; no import reaches a higher one."""
    named = layers(text)
    problems = [f"{u}: in layers {rows}" for u, rows in sorted(named.items()) if len(rows) > 1]
    layer = {u: rows[0] for u, rows in named.items()}
    units = {_unit(p.relative_to(src).as_posix()) for p in src.rglob("*.py")}
    problems += [f"{u}: in no layer of the Layers table" for u in sorted(units - set(layer))]
    for p in sorted(src.rglob("*.py")):
        rel = p.relative_to(src).as_posix()
        mine = layer.get(_unit(rel))
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] != "semapose" or len(parts) < 2:
                    continue
                target = parts[1] + "/" if (src / parts[1]).is_dir() else parts[1] + ".py"
                theirs = layer.get(target)
                if mine is not None and theirs is not None and theirs > mine:
                    problems.append(f"{rel} (layer {mine}) imports {name} (layer {theirs})")
    return problems


def test_imports_go_down_the_layers_of_the_page() -> None:
    problems = layer_problems(DOC.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_every_module_has_its_row_in_its_section() -> None:
    problems = row_problems(DOC.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_every_path_the_page_names_exists() -> None:
    problems = path_problems(DOC.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_checks_can_fail() -> None:
    """A stale path, a missing row and a row in the wrong section are each reported."""
    text = DOC.read_text(encoding="utf-8")
    stale = text + "\nSee `inference/cache.py` and `temporal/ours.py`.\n"
    reported = "\n".join(path_problems(stale))
    assert "inference/cache.py does not exist" in reported
    assert "temporal/ours.py does not exist" in reported
    missing = "\n".join(
        line for line in text.splitlines() if not line.startswith("| `inference/job.py`")
    )
    assert any("inference/job.py: no row" in p for p in row_problems(missing))
    moved = text.replace("## `viz/` — drawing", "## drawing")
    assert any("viz/draw.py is described outside" in p for p in row_problems(moved))
    # weights/ moved up to layer 3: models/, below it, imports it
    swapped = text.replace("| 1 | `weights/`", "| 1 | weights", 1)
    swapped = swapped.replace("| 3 | `inference/`", "| 3 | `weights/`, `inference/`", 1)
    assert any(p.startswith("models/") and "semapose.weights" in p for p in layer_problems(swapped))
    assert "viz/: in no layer of the Layers table" in layer_problems(
        text.replace("; `viz/` (keypoints)", "", 1)
    )
