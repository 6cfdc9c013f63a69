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
