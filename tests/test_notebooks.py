"Run every notebook in `nbs/` headless with papermill, as a user's Run All would, and check the export is current."
import filecmp, os, shutil, subprocess, sys
from pathlib import Path
import papermill as pm, pytest
from stateset_agents.experiments.sweep import prepare_notebook  # drops what nbdev_test skips, and the export cell
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from build_docs import save_executed  # the docs build shows these executions instead of running the notebooks again
os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")  # figures as data in the outputs; the docs build draws them

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))
RUN_SLOW = os.environ.get("STATESET_RUN_SLOW") == "1"

def prepared(nb_path: Path, out_dir: Path, run_slow: bool) -> Path:
    "A copy of `nb_path` holding only the cells a headless run should execute (papermill ignores nbdev directives)."
    return prepare_notebook(nb_path, out_dir / nb_path.name, run_slow)

@pytest.mark.parametrize("nb_path", NBS, ids=[p.stem for p in NBS])
def test_notebook_runs(nb_path, tmp_path):
    src = prepared(nb_path, tmp_path, RUN_SLOW)
    out = tmp_path / f"out_{nb_path.name}"
    pm.execute_notebook(str(src), str(out), kernel_name="python3", cwd=str(ROOT / "nbs"), progress_bar=False)
    save_executed(nb_path, out)

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
