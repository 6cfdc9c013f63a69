"""README.md is generated from the front page of the docs, `nbs/index.ipynb`, so the two never disagree.

    python tools/readme.py          # rewrite README.md
    python tools/readme.py --check  # exit 1 if README.md is not what the notebook gives

The notebook's markdown cells are copied as they are; code cells that are not `#| hide` become ```python blocks
(without their `#|` directives or outputs). Links to notebooks gain their `nbs/` folder; a relative link to
something that exists only on the built site (the API reference) keeps its text and loses its target.
`tests/test_readme.py` runs the check."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, README = ROOT / "nbs", ROOT / "README.md"
HEADER = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then run `python tools/readme.py`. -->\n\n"
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")

def _link(m: re.Match) -> str:
    "A notebook-relative link made README-relative, or plain text where the target is not a file of the repository."
    text, target = m.groups()
    if re.match(r"[a-z]+:", target) or target.startswith("#"): return m.group(0)
    path = target.partition("#")[0]
    if (NBS / path).exists(): return f"[{text}](nbs/{target})"
    return text

def _code(src: str) -> str | None:
    lines = src.splitlines()
    if any(re.match(r"#\|\s*hide\b", l) for l in lines): return None
    body = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
    return f"```python\n{body}\n```" if body else None

def readme_text(nb_path: Path = NBS / "index.ipynb") -> str:
    "The README that the index notebook at `nb_path` gives."
    blocks = []
    for cell in json.loads(Path(nb_path).read_text())["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown": blocks.append(LINK.sub(_link, src.strip("\n")))
        elif cell["cell_type"] == "code" and (code := _code(src)): blocks.append(code)
    return HEADER + "\n\n".join(blocks) + "\n"

if __name__ == "__main__":
    text = readme_text()
    if "--check" in sys.argv[1:]:
        if README.read_text() != text: sys.exit("README.md differs from nbs/index.ipynb: run `python tools/readme.py`")
    else:
        tmp = README.with_suffix(".md.tmp"); tmp.write_text(text); tmp.replace(README)
