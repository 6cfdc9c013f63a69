"Run every notebook in `nbs/` headless with papermill, as a user's Run All would, and check the export is current."
import filecmp, os, shutil, subprocess, sys
from pathlib import Path
import nbformat, papermill as pm, pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))
RUN_SLOW = os.environ.get("STATESET_RUN_SLOW") == "1"

def _directives(cell) -> set[str]:
    "The nbdev `#| ...` directives at the top of a code cell, e.g. {'export', 'slow', 'eval: false'}."
    out = set()
    for line in cell.source.splitlines():
        if not line.startswith("#|"): break
        out.add(line[2:].strip())
    return out

def keep_cell(cell, run_slow: bool) -> bool:
    "Papermill ignores nbdev directives, so drop here what nbdev_test would skip, and the export cell."
    if cell.cell_type != "code": return True
    d = _directives(cell)
    if "eval: false" in d or "notest" in d: return False
    if "slow" in d and not run_slow: return False
    return "nbdev_export" not in cell.source

def prepared(nb_path: Path, out_dir: Path, run_slow: bool) -> Path:
    "A copy of `nb_path` holding only the cells a headless run should execute."
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells = [c for c in nb.cells if keep_cell(c, run_slow)]
    out = out_dir / nb_path.name
    nbformat.write(nb, out)
    return out

@pytest.mark.parametrize("nb_path", NBS, ids=[p.stem for p in NBS])
def test_notebook_runs(nb_path, tmp_path):
    src = prepared(nb_path, tmp_path, RUN_SLOW)
    pm.execute_notebook(str(src), str(tmp_path / f"out_{nb_path.name}"), kernel_name="python3",
                        cwd=str(ROOT / "nbs"), progress_bar=False)

def test_export_is_current(tmp_path):
    "`nbdev_export` on a copy of the project leaves `stateset_agents/` exactly as committed."
    for name in ("settings.ini", "nbs", "stateset_agents", "_quarto.yml"):
        src = ROOT / name
        (shutil.copytree(src, tmp_path / name, symlinks=True) if src.is_dir() else shutil.copy(src, tmp_path / name))
    subprocess.run([str(Path(sys.executable).parent / "nbdev_export")],
                   cwd=tmp_path, check=True)
    cmp = filecmp.dircmp(ROOT / "stateset_agents", tmp_path / "stateset_agents", ignore=["__pycache__"])
    def diffs(c, prefix=""):
        out = [prefix + f for f in c.diff_files + c.left_only + c.right_only]
        for name, sub in c.subdirs.items(): out += diffs(sub, f"{prefix}{name}/")
        return out
    assert diffs(cmp) == [], f"nbdev_export changes these files; run nbdev_export and commit: {diffs(cmp)}"

def test_import_is_light():
    "Importing the package must not import torch (the light core)."
    code = "import stateset_agents, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
