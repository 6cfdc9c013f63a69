"""Build the documentation site offline into `_docs/` (`make docs`).

    python tools/build_docs.py            # execute what is not cached, then build
    python tools/build_docs.py --workers 1

The notebooks are the documentation, so the site shows them *run*: every notebook is executed headless
(papermill, the cells a `nbdev_test` run executes, with the `parameters` defaults: the tiny model, seconds
each) and its outputs are merged into the page. An execution is cached in `_exec/` under a key of the
notebook's text and the package's code, and `tests/test_notebooks.py` writes the same cache, so after the test
suite the build executes nothing. Then nbdev's notebook processing (directives, frontmatter, doc links) and
smalldocs (pure Python, reads `_quarto.yml`; Quarto cannot be installed offline) render the pages, and the
API reference comes from the package's docstrings and docments. Nothing a page loads comes from the internet:
KaTeX and mermaid are fetched once from the npm registry (checked against the registry's sha512), plotly.js
comes from the plotly package, and every page's references to a CDN are rewritten to these copies; the build
fails if one is left.
"""
from __future__ import annotations
import argparse, base64, hashlib, io, json, os, re, shutil, subprocess, sys, tarfile, tempfile, urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, EXEC, BUILD, SITE = ROOT / "nbs", ROOT / "_exec", ROOT / "_build", ROOT / "_docs"
VENDOR = {  # npm package -> (version smalldocs' pages ask for, files kept from its dist/)
    "katex": ("0.16.11", re.compile(r"^(katex\.min\.(css|js)|contrib/auto-render\.min\.js|fonts/.*\.woff2)$")),
    "mermaid": ("11.4.1", re.compile(r"^(mermaid\.esm\.min\.mjs|chunks/mermaid\.esm\.min/[^/]+\.mjs)$")),
}
CDN = {"https://cdn.jsdelivr.net/npm/katex@0.16.11/dist": "_vendor/katex",
       "https://cdn.jsdelivr.net/npm/mermaid@11.4.1/dist/mermaid.esm.min.mjs": "_vendor/mermaid/mermaid.esm.min.mjs"}
PLOTLY_MIME = "application/vnd.plotly.v1+json"
LOCAL_EMBED = re.compile(r'<iframe[^>]+src="https?://(127\.0\.0\.1|localhost)[:/]')

def notebooks() -> list[Path]:
    "The pages that are notebooks, in file order (a leading underscore keeps a notebook out)."
    return sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))

def code_key() -> str:
    "A digest of the package's code: an execution made with other code is stale."
    h = hashlib.sha256()
    for p in sorted((ROOT / "stateset_agents").rglob("*.py")): h.update(p.relative_to(ROOT).as_posix().encode() + p.read_bytes())
    return h.hexdigest()[:16]

def executed_path(nb: Path, code: str | None = None) -> Path:
    "Where the cached execution of notebook `nb` (with the package's current code) lives."
    key = hashlib.sha256(nb.read_bytes() + (code or code_key()).encode()).hexdigest()[:16]
    return EXEC / f"{nb.stem}.{key}.ipynb"

def save_executed(nb: Path, out: Path, code: str | None = None) -> Path:
    "Keep papermill's output `out` of `nb` in the cache (atomically: a killed build leaves no half file)."
    EXEC.mkdir(exist_ok=True)
    dest = executed_path(nb, code)
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(out, tmp); os.replace(tmp, dest)
    for old in EXEC.glob(f"{nb.stem}.*.ipynb"):  # earlier executions of this notebook
        if old != dest: old.unlink()
    return dest

def execute(nb: Path, code: str) -> Path:
    "Run `nb` headless as the tests do (fast cells, `parameters` defaults) and cache the result."
    import papermill as pm
    sys.path.insert(0, str(ROOT))
    from stateset_agents.experiments.sweep import prepare_notebook
    with tempfile.TemporaryDirectory() as tmp:
        src = prepare_notebook(nb, Path(tmp) / nb.name, run_slow=False)
        out = Path(tmp) / f"out_{nb.name}"
        pm.execute_notebook(str(src), str(out), kernel_name="python3", cwd=str(NBS), progress_bar=False)
        return save_executed(nb, out, code)

def plotly_html(fig: dict, first: bool) -> str:
    "A static plotly figure: a div and a call to the bundled plotly.js (loaded by the page's first figure)."
    div = "fig-" + hashlib.sha256(json.dumps(fig, sort_keys=True).encode()).hexdigest()[:12]
    load = '<script src="_vendor/plotly.min.js"></script>\n' if first else ""
    return (f'{load}<div id="{div}" class="plotly-figure"></div>\n<script>Plotly.newPlot("{div}", '
            f'{json.dumps(fig.get("data", []))}, {json.dumps(fig.get("layout", {}))}, {{"responsive": true}});</script>')

def merge_outputs(nb: Path, executed: Path) -> dict:
    "The notebook `nb` with the outputs of its execution, cell by cell (by cell id); plotly figures made static HTML."
    src, run = json.loads(nb.read_text()), json.loads(executed.read_text())
    by_id = {c.get("id"): c for c in run["cells"] if c["cell_type"] == "code"}
    first = True
    for cell in src["cells"]:
        done = by_id.get(cell.get("id"))
        if cell["cell_type"] != "code" or done is None: continue
        cell["outputs"], cell["execution_count"] = done.get("outputs", []), done.get("execution_count")
        for out in cell["outputs"]:
            data = out.get("data", {})
            if PLOTLY_MIME in data:
                out["data"] = {"text/html": plotly_html(data[PLOTLY_MIME], first)}; first = False
        # a live server's embed (a tracker's dashboard) cannot work on a static page, and carries the server's token
        cell["outputs"] = [o for o in cell["outputs"] if not LOCAL_EMBED.search("".join(o.get("data", {}).get("text/html", "")))]
    return src

def fetch_npm(name: str, version: str, cache: Path) -> Path:
    "The npm registry's tarball of `name@version`, downloaded once into `cache` and checked against the registry's sha512."
    dest = cache / f"{name}-{version}.tgz"
    if not dest.exists():
        cache.mkdir(parents=True, exist_ok=True)
        meta = json.load(urllib.request.urlopen(f"https://registry.npmjs.org/{name}/{version}", timeout=60))
        data = urllib.request.urlopen(meta["dist"]["tarball"], timeout=300).read()
        algo, want = meta["dist"]["integrity"].split("-", 1)
        got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
        if got != want: raise RuntimeError(f"{name}@{version} from the npm registry fails its {algo} check: got {got}, want {want}")
        tmp = dest.with_suffix(".tmp"); tmp.write_bytes(data); os.replace(tmp, dest)
    return dest

def vendor(site: Path, cache: Path) -> None:
    "Copy KaTeX, mermaid and plotly.js into `site/_vendor`."
    import plotly
    for name, (version, keep) in VENDOR.items():
        with tarfile.open(fetch_npm(name, version, cache)) as tar:
            for m in tar.getmembers():
                rel = m.name.removeprefix("package/dist/")
                if m.isfile() and rel != m.name and keep.match(rel):
                    out = site / "_vendor" / name / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tar.extractfile(m).read())
    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", site / "_vendor" / "plotly.min.js")

REMOTE_IMPORT = re.compile(r"@import url\([\"']?https?://[^)]*\);?")  # the theme's web fonts (system fonts stand in)

def localize(site: Path) -> None:
    "Point every page's CDN references at the bundled copies; fail on any other script, style or font from the internet."
    for css in site.rglob("*.css"):
        text = REMOTE_IMPORT.sub("", css.read_text())
        if re.search(r"url\([\"']?https?://", text): raise RuntimeError(f"{css.relative_to(site)} would load a file from the internet")
        css.write_text(text)
    for page in site.rglob("*.html"):
        up = "../" * (len(page.relative_to(site).parts) - 1) or "./"  # an ES module import needs ./ for the same folder
        text = page.read_text()
        for url, local in CDN.items(): text = text.replace(url, up + local)
        text = text.replace('src="_vendor/plotly.min.js"', f'src="{up}_vendor/plotly.min.js"')
        remote = re.findall(r'<(?:script|link|img|iframe)[^>]*?(?:src|href)="(https?://[^"]+)"', text)
        remote += re.findall(r"""import [^;]*? from ['"](https?://[^'"]+)['"]""", text)
        if remote: raise RuntimeError(f"{page.relative_to(site)} would load {remote[0]} from the internet")
        page.write_text(text)

def stage(executed: dict[Path, Path]) -> Path:
    "A copy of the project for nbdev's processing: notebooks with their outputs, the other pages, the config."
    shutil.rmtree(BUILD, ignore_errors=True)
    (BUILD / "nbs").mkdir(parents=True)
    for name in ("settings.ini", "_quarto.yml"): shutil.copy(ROOT / name, BUILD / name)
    (BUILD / "stateset_agents").symlink_to(ROOT / "stateset_agents")
    for p in NBS.iterdir():
        if p.suffix in (".qmd", ".md", ".css", ".yml", ".svg", ".png") and not p.is_symlink(): shutil.copy(p, BUILD / "nbs" / p.name)
    (BUILD / "nbs" / "_quarto.yml").symlink_to("../_quarto.yml")
    for nb, run in executed.items(): (BUILD / "nbs" / nb.name).write_text(json.dumps(merge_outputs(nb, run), indent=1))
    return BUILD

def check_sidebar() -> None:
    "Every page is in the sidebar and every sidebar entry is a page."
    import yaml
    listed = set()
    def walk(items):
        for it in items:
            if isinstance(it, str): listed.add(it)
            elif isinstance(it, dict): walk(it.get("contents", [])); listed.update([it["href"]] if "href" in it else [])
    walk(yaml.safe_load((NBS / "sidebar.yml").read_text())["website"]["sidebar"]["contents"])
    pages = {p.name for p in notebooks()} | {p.name for p in NBS.glob("*.qmd")}
    if pages - listed: raise RuntimeError(f"pages missing from nbs/sidebar.yml: {sorted(pages - listed)}")
    if listed - pages - {"api/index.html"}: raise RuntimeError(f"nbs/sidebar.yml lists what is not a page: {sorted(listed - pages)}")

def strip_output_file(proc: Path) -> None:
    "Drop the `output-file` key nbdev's processing writes for Quarto (smalldocs names pages after their notebooks)."
    for nb in proc.glob("*.ipynb"):
        d = json.loads(nb.read_text())
        for c in d["cells"]:
            if c["cell_type"] == "raw": c["source"] = [l for l in c["source"] if not l.startswith("output-file:")]
        nb.write_text(json.dumps(d, indent=1))

LAYERS = [("core", "Core: conversations, models, agents, environments, rewards"), ("utils", "Monitoring: metrics, alerts, health, dashboards"),
          ("training", "Training: configs, losses, trainers, reward models"), ("api", "Service"), ("experiments", "Experiments"), ("", "Command line")]

def api_index(proc: Path) -> Path:
    "The API reference's front page: every module's page by layer, with its one-line description."
    import yaml
    pages = []
    for qmd in sorted((proc / "api").glob("*.qmd")):
        front = yaml.safe_load(qmd.read_text().split("---")[1])
        pages.append((front["title"], front.get("description", ""), qmd.stem))
    lines = ["---", "title: API reference", "description: Every public function and class of stateset_agents, with its arguments.", "---", ""]
    for layer, heading in LAYERS:
        mods = [p for p in pages if p[0].split(".")[1:2] == [layer] or (not layer and p[0].count(".") == 1)]
        if not mods: continue
        lines += [f"## {heading}", "", "| module | what it holds |", "|---|---|"]
        lines += [f"| [`{t}`]({stem}.qmd) | {d} |" for t, d, stem in mods] + [""]
    out = proc / "api" / "index.qmd"
    out.write_text("\n".join(lines))
    return out

def constant_entries(module) -> list[str]:
    "Markdown entries for a module's public constants (smalldocs documents functions and classes): each one's source and comment."
    import ast, inspect
    source = inspect.getsource(module)
    lines, public = source.splitlines(), set(getattr(module, "__all__", []))
    out = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for name in [t.id for t in targets if isinstance(t, ast.Name) and t.id in public]:
            if callable(getattr(module, name)): continue  # an alias of a function or class
            code = lines[node.lineno - 1:node.end_lineno]
            first, _, comment = code[0].partition("  # ")
            shown = [first] + code[1:12] + (["    ..."] if len(code) > 12 else [])
            out += [f"## {name} {{#{name}}}", "", "```python", *shown, "```", "", comment.strip() or "A constant of this module.", ""]
    return out

def api_constants(proc: Path) -> None:
    "Add every public constant to its module's API page."
    import importlib, yaml
    for qmd in (proc / "api").glob("*.qmd"):
        if qmd.stem == "index": continue
        text = qmd.read_text()
        entries = constant_entries(importlib.import_module(yaml.safe_load(text.split("---")[1])["title"]))
        if entries: qmd.write_text(text.rstrip() + "\n\n" + "\n".join(entries))

def keep_api_pages(proc: Path) -> None:
    "Stop `render` from writing the API pages again (over the constants added above); keep its links to them."
    import yaml
    cfg_path = proc / "_quarto.yml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["smalldocs"].pop("api"); cfg["smalldocs"]["linkify"] = True
    if cfg_path.is_symlink(): cfg_path.unlink()
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))

def run(cmd: list[str], cwd: Path) -> str:
    "Run a build step; its output on failure."
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode: raise RuntimeError(f"{' '.join(cmd[:3])} failed in {cwd}:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p.stdout + p.stderr

def build(workers: int = 2, cache: Path | None = None) -> Path:
    "Execute what is not cached, render the site into `_docs/`, bundle its scripts; the site's folder."
    cache = cache or Path(os.environ.get("STATESET_AGENTS_CACHE", Path.home() / ".cache" / "stateset_agents")) / "npm"
    os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")  # figures as data; the build makes them static HTML
    check_sidebar()
    code = code_key()
    todo = [nb for nb in notebooks() if not executed_path(nb, code).exists()]
    print(f"executing {len(todo)} of {len(notebooks())} notebooks ({len(notebooks()) - len(todo)} cached in _exec/)", flush=True)
    with ThreadPoolExecutor(workers) as pool: list(pool.map(lambda nb: execute(nb, code), todo))
    staged = stage({nb: executed_path(nb, code) for nb in notebooks()})
    py = sys.executable
    run([py, "-c", "from nbdev.serve import proc_nbs; proc_nbs()"], staged)
    proc = staged / "_proc"
    strip_output_file(proc)
    smalldocs = str(Path(py).parent / "smalldocs")
    run([smalldocs, "api", "build", "--dir", str(proc)], staged)
    api_constants(proc)
    api_index(proc)
    keep_api_pages(proc)
    log = run([smalldocs, "render", "--strict", str(proc)], staged)
    print(log[-2000:], end="")
    shutil.rmtree(SITE, ignore_errors=True)
    shutil.move(proc / "_docs", SITE)
    vendor(SITE, cache)
    localize(SITE)
    print(f"site: {SITE} ({sum(1 for _ in SITE.rglob('*.html'))} pages)")
    return SITE

if __name__ == "__main__":
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--workers", type=int, default=2, help="notebooks executed at once")
    build(a.parse_args().workers)
