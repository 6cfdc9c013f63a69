"""README.md is the front page of the docs, `nbs/index.ipynb`, as `tools/readme.py` writes it; its links resolve in
the repository, and the front page's chapter table lists every numbered chapter."""
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from readme import LINK, readme_text

def test_readme_is_generated_from_the_index_notebook():
    assert (ROOT / "README.md").read_text() == readme_text(), "README.md differs from nbs/index.ipynb: run `python tools/readme.py`"

def test_check_mode_fails_on_a_hand_edit(tmp_path):
    "The --check mode a contributor runs notices a README edited by hand (on a copy, never the real file)."
    import shutil
    (tmp_path / "tools").mkdir(); shutil.copy(ROOT / "tools" / "readme.py", tmp_path / "tools")
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs", ignore=shutil.ignore_patterns("runs", ".*", "_*"))
    (tmp_path / "README.md").write_text(readme_text() + "edited by hand\n")
    r = subprocess.run([sys.executable, str(tmp_path / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 1 and "run `python tools/readme.py`" in r.stderr
    subprocess.run([sys.executable, str(tmp_path / "tools" / "readme.py")], check=True)
    assert (tmp_path / "README.md").read_text() == readme_text()

def test_readme_links_resolve():
    text = (ROOT / "README.md").read_text()
    targets = [t for _, t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert targets, "the README links to the notebooks"
    assert [t for t in targets if not (ROOT / t.partition("#")[0]).exists()] == []

def test_chapter_table_lists_every_chapter():
    chapters = {p.name for p in (ROOT / "nbs").glob("[0-9]*.ipynb")}
    listed = set(re.findall(r"\]\((\d[^)#]*\.ipynb)\)", (ROOT / "nbs" / "index.ipynb").read_text()))
    assert chapters - listed == set(), f"chapters missing from the front page's table: {sorted(chapters - listed)}"
    assert listed - chapters == set(), f"the table links notebooks that do not exist: {sorted(listed - chapters)}"
