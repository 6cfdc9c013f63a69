"""What the site exposes of a notebook's hygiene: a reader sees every cell that changes state, and each import once.
A hidden cell may import test helpers, but never change the working directory; a name imported in one cell is not
imported again in a later one (the reader would wonder whether it is a different thing)."""
import ast, json, re
from pathlib import Path

import pytest

NBS = Path(__file__).resolve().parents[1] / "nbs"
NOTEBOOKS = sorted(NBS.glob("*.ipynb"))

def code_cells(nb: Path) -> list[tuple[int, str]]:
    return [(i, "".join(c["source"])) for i, c in enumerate(json.loads(nb.read_text())["cells"]) if c["cell_type"] == "code"]

def imports(src: str) -> list[tuple[str | None, str]]:
    "The (module, name) pairs a cell's top-level import statements bind (shell and magic lines left out)."
    try: tree = ast.parse("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
    except SyntaxError: return []
    return [(getattr(n, "module", None), a.name) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names]

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_hidden_chdir(nb):
    hidden = [i for i, src in code_cells(nb) if re.search(r"^#\|\s*hide\b", src, re.M) and "chdir" in src]
    assert hidden == [], f"cells {hidden} change the working directory out of the reader's sight"

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_import_once(nb):
    first, again = {}, []
    for i, src in code_cells(nb):
        for key in imports(src):
            if key in first and first[key] != i: again.append(f"{'.'.join(filter(None, key))} in cells {first[key]} and {i}")
            first.setdefault(key, i)
    assert again == [], f"imported again: {again}"

def test_the_checks_catch_what_they_name():
    assert imports("import os, math\nfrom a.b import c as d\n%time x = 1") == [(None, "os"), (None, "math"), ("a.b", "c")]

LIMIT = 120  # characters a line; the house limit, as in the style notes
PACKAGE = NBS.parent / "stateset_agents"

def long_lines(text: str, markdown: bool = False) -> list[str]:
    "Lines over the limit; in markdown, table rows and display maths may run on (they cannot be wrapped)."
    exempt = lambda l: markdown and (l.lstrip().startswith("|") or "$$" in l)
    return [l[:60] + "..." for l in text.splitlines() if len(l) > LIMIT and not exempt(l)]

@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_lines_fit(nb):
    cells = json.loads(nb.read_text())["cells"]
    bad = [f"cell {i}: {l}" for i, c in enumerate(cells) for l in long_lines("".join(c["source"]), c["cell_type"] == "markdown")]
    assert bad == [], f"{len(bad)} lines over {LIMIT} characters: {bad[:5]}"

def test_package_lines_fit():
    "The exported modules (nbdev's generated `__all__` and module index aside, which it wraps itself)."
    bad = []
    for p in sorted(PACKAGE.rglob("*.py")):
        if p.name == "_modidx.py": continue
        text = re.sub(r"^__all__ = \[.*?\]$", "", p.read_text(), flags=re.M | re.S)
        bad += [f"{p.relative_to(PACKAGE)}: {l}" for l in long_lines(text)]
    assert bad == [], f"{len(bad)} lines over {LIMIT} characters: {bad[:5]}"

def test_long_lines_are_found():
    assert long_lines("x" * 121) and not long_lines("x" * 120)
    assert long_lines("| a table row " + "x" * 120, markdown=True) == [] and long_lines("| " + "x" * 120)
