"""Each optional extra installs on its own in a fresh virtual environment.

Every run: one fresh venv per extra resolves `stateset_agents[EXTRA]` against the pins and the real index
(`pip install --dry-run --report`: full resolution, nothing installed); `core` and `api` really install, and
their entry points run (~1 min in all). Real installs of the heavy extras (torch alone is ~200 MB; measured
here: training 1.5 min, all 2.5 min, vllm 3.5 min and 6 GB; the seven ~11 min) run only with
`STATESET_RUN_INSTALL=1`: `make test-install`.

All venvs are made `--without-pip` (0.3 s, not 4-10 s) and filled by one pinned, current pip through
`pip --python VENV`: the nine dry runs take ~75 s one after another with it and ~340 s with the venv module's
bundled pip 23.2, so they run four at a time (~45 s, vllm's the longest: it fetches the 330 MB vllm wheel).
"""
import configparser, json, os, shutil, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIP = "pip==26.3"  # the pip that resolves and installs (the venv module's bundled pip 23.2 resolves ~5x slower)
TORCH = "2.13.0"  # every extra that brings torch brings exactly this one
EXTRAS = ("core", "api", "training", "notebook", "vllm", "hpo", "distributed", "dev", "all")  # "core": no extra
STANDALONE = {"vllm"}  # extras kept out of `all` (see setup.py)
LIGHT = ("core", "api")  # really installed on every run
RUN_INSTALL = os.environ.get("STATESET_RUN_INSTALL") == "1"
install = pytest.mark.skipif(not RUN_INSTALL, reason="a real install of a heavy extra (minutes): STATESET_RUN_INSTALL=1, or make test-install")

# What each extra must be able to import once installed (the package's own modules where the extra serves them).
IMPORTS = {
    "core": ["stateset_agents", "stateset_agents.cli", "stateset_agents.utils.prometheus"],
    "api": ["fastapi", "uvicorn", "sse_starlette", "websockets", "limits", "httpx", "tenacity"],
    "training": ["torch", "transformers", "peft", "sentence_transformers", "accelerate", "gguf", "plotly",
                 "stateset_agents.training.train", "stateset_agents.core.models"],
    "notebook": ["jupyterlab", "ipywidgets", "ipykernel", "anywidget", "plotly", "pandas"],
    "vllm": ["vllm"],
    "hpo": ["optuna", "optuna.visualization", "plotly", "pandas"],
    "distributed": ["torch", "accelerate", "deepspeed"],
    "dev": ["pytest", "papermill", "nbdev", "schemathesis", "hypothesis", "kubernetes_validate", "yaml"],
    "all": ["stateset_agents.api.server", "stateset_agents.training.train", "optuna", "deepspeed", "jupyterlab", "nbdev"],
}

def run(*cmd, timeout=900, **kw) -> subprocess.CompletedProcess:
    "Run a command, capturing text output (never raises on a non-zero exit)."
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env, **kw)

def fresh_venv(path: Path) -> Path:
    "An empty venv (no pip, no setuptools) at `path`; returns its python."
    res = run(sys.executable, "-m", "venv", "--without-pip", path)
    assert res.returncode == 0, res.stderr
    return path / "bin" / "python"

def settings() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    return cfg["DEFAULT"]

@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="stateset-packaging-") as d: yield Path(d)

@pytest.fixture(scope="module")
def wheel(workdir) -> Path:
    "The project's wheel, built from a copy of its packaging files (the checkout gets no build/ folder)."
    src = workdir / "src"
    src.mkdir()
    for name in ("setup.py", "settings.ini", "README.md", "MANIFEST.in"):
        if (ROOT / name).exists(): shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "stateset_agents", src / "stateset_agents", ignore=shutil.ignore_patterns("__pycache__"))
    res = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", workdir / "dist", src)
    assert res.returncode == 0, res.stdout + res.stderr
    (whl,) = (workdir / "dist").glob("stateset_agents-*.whl")
    return whl

@pytest.fixture(scope="module")
def pip(workdir) -> list[str]:
    "The command of a current pip, in a venv of its own; `--python VENV` points it at another environment."
    python = fresh_venv(workdir / "pip")
    res = run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", PIP)
    assert res.returncode == 0, res.stdout + res.stderr
    return [str(python), "-m", "pip"]

def spec(wheel: Path, extra: str) -> str:
    return str(wheel) if extra == "core" else f"{wheel}[{extra}]"

def installed(report: dict) -> dict[str, str]:
    "Name -> version of everything a pip `--report` installs (or would)."
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}

## Extras are what settings.ini says

@pytest.fixture(scope="module")
def extras_require(wheel) -> dict[str, list[str]]:
    "The built wheel's extras: extra -> its requirements."
    import zipfile
    with zipfile.ZipFile(wheel) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        lines = z.read(meta).decode().splitlines()
    extras = {l.split(":", 1)[1].strip(): [] for l in lines if l.startswith("Provides-Extra:")}
    for l in lines:
        if not l.startswith("Requires-Dist:"): continue
        req = Requirement(l.split(":", 1)[1].strip())
        for extra in extras:
            if req.marker is not None and req.marker.evaluate({"extra": extra}): extras[extra].append(str(Requirement(f"{req.name}{req.specifier}")))
    return extras

def test_every_requirements_group_is_an_extra(extras_require):
    groups = {k.removesuffix("_requirements") for k in settings() if k.endswith("_requirements")}
    assert groups <= set(extras_require), f"groups in settings.ini that setup.py does not offer as extras: {groups - set(extras_require)}"
    assert set(EXTRAS) - {"core"} <= set(extras_require)
    for group in groups: assert sorted(extras_require[group]) == sorted(settings()[f"{group}_requirements"].split()), group

def test_all_is_the_union_of_every_extra_but_vllm(extras_require):
    union = {r for extra, reqs in extras_require.items() if extra != "all" and extra not in STANDALONE for r in reqs}
    assert set(extras_require["all"]) == union
    assert not any(Requirement(r).name == "vllm" for r in extras_require["all"])

def test_torch_is_pinned_exactly_wherever_an_extra_names_it(extras_require):
    for extra, reqs in extras_require.items():
        for r in map(Requirement, reqs):
            if r.name == "torch": assert str(r.specifier) == f"=={TORCH}", f"{extra}: {r}"

## Every extra resolves on its own (dry runs, in parallel)

@pytest.fixture(scope="module")
def dry_runs(workdir, wheel, pip) -> dict[str, tuple[subprocess.CompletedProcess, dict | None]]:
    "extra -> (pip's result, its --report), each resolved for a fresh venv; all extras at once."
    def resolve(extra):
        python = fresh_venv(workdir / f"dry-{extra}")
        report = workdir / f"dry-{extra}.json"
        res = run(*pip, "--python", python, "install", "--dry-run", "--quiet", "--report", report, spec(wheel, extra))
        return res, json.loads(report.read_text()) if res.returncode == 0 else None
    slowest_first = ("vllm", "all", "dev", "notebook", "training", "distributed", "api", "hpo", "core")  # ~22 s ... 1 s
    assert sorted(slowest_first) == sorted(EXTRAS)
    with ThreadPoolExecutor(max_workers=4) as pool:  # mostly waiting on the index, so more than the cores
        return dict(zip(slowest_first, pool.map(resolve, slowest_first)))

@pytest.mark.parametrize("extra", EXTRAS)
def test_extra_resolves_in_a_fresh_venv(dry_runs, extra):
    res, report = dry_runs[extra]
    assert res.returncode == 0, f"pip could not resolve stateset_agents[{extra}]:\n{res.stderr[-3000:]}"
    versions = installed(report)
    assert "stateset-agents" in versions
    if "torch" in versions: assert Version(versions["torch"]).public == TORCH, f"{extra} resolves torch {versions['torch']}"
    expected = {canonicalize_name(Requirement(r).name) for r in settings().get(f"{extra}_requirements", "").split()}
    assert expected <= set(versions), f"{extra} lacks {expected - set(versions)}"

def test_vllm_cannot_share_an_environment_with_training_and_api(dry_runs, extras_require):
    "Why `all` leaves vllm out: the vllm that fits torch 2.13 pins transformers and fastapi below ours."
    res, report = dry_runs["vllm"]
    assert res.returncode == 0, res.stderr[-3000:]
    (vllm,) = [i["metadata"] for i in report["install"] if i["metadata"]["name"] == "vllm"]
    needs = {r.name: r.specifier for r in map(Requirement, vllm["requires_dist"]) if r.marker is None}
    ours = {r.name: next(iter(r.specifier)).version for r in map(Requirement, extras_require["all"]) if r.specifier}
    assert TORCH in needs["torch"]
    clashes = [name for name in ("transformers", "fastapi") if ours[name] not in needs[name]]
    assert clashes, "vllm now accepts our transformers and fastapi pins: add it to `all` (setup.py's `standalone`)"

## Real installs

def install_and_check(pip: list[str], wheel: Path, extra: str, root: Path):
    "Install `stateset_agents[extra]` into a fresh venv under `root`, then `pip check` and import what the extra is for."
    python = fresh_venv(root / extra)
    res = run(*pip, "--python", python, "install", "--quiet", spec(wheel, extra), timeout=1800)
    assert res.returncode == 0, f"installing stateset_agents[{extra}] failed:\n{res.stderr[-3000:]}"
    res = run(*pip, "--python", python, "check")
    assert res.returncode == 0, res.stdout + res.stderr
    code = "import importlib\nfor m in %r: importlib.import_module(m)" % IMPORTS[extra]
    res = run(python, "-c", code, cwd=root)  # not the checkout: import the installed package
    assert res.returncode == 0, f"stateset_agents[{extra}] installed, but an import failed:\n{res.stderr[-3000:]}"
    return python

@pytest.mark.parametrize("extra", LIGHT)
def test_light_extra_installs_and_runs(pip, wheel, workdir, extra):
    python = install_and_check(pip, wheel, extra, workdir / "real")
    res = run(python, "-m", "stateset_agents", "serve", "--help", cwd=workdir)
    assert res.returncode == 0 and "--data-dir" in res.stdout, res.stderr
    # the light core promise: importing the package (and its CLI) never imports torch
    res = run(python, "-c", "import sys, stateset_agents.cli; assert 'torch' not in sys.modules", cwd=workdir)
    assert res.returncode == 0, res.stderr

@install
@pytest.mark.parametrize("extra", [e for e in EXTRAS if e not in LIGHT])
def test_heavy_extra_installs(pip, wheel, extra):
    with tempfile.TemporaryDirectory(prefix=f"stateset-install-{extra}-") as d:  # gone at once: venvs of 0.5-3 GB
        install_and_check(pip, wheel, extra, Path(d))
