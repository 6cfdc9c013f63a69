"""The live dashboard in a real browser: JupyterLab + Playwright + Debian's chromium run a copy of the dashboard
notebook (Run All), then we check the rendered widgets: the curves have points and an alert shows.

Never `playwright install` (it downloads a browser and fails offline): CI installs Debian's `chromium` (see .ci/run).
The screenshot is kept in a temp folder, printed at the end of the test (`pytest -s` shows it)."""
import os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

import nbformat, pytest
from test_notebooks import prepared  # drop the cells a headless run drops (nbdev_export, notest, slow)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = ROOT / "nbs" / "11_utils.live_dashboard.ipynb"
SHOTS = Path(tempfile.gettempdir()) / "stateset_agents_browser_test"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle'; }"""
# The notebook model, not the DOM (JupyterLab renders cells lazily): every code cell ran, the kernel is idle.
RUN_STATE = """() => { const w = window.jupyterapp.shell.currentWidget, cells = w.content.model.cells;
  let ran = 0, code = 0, errors = [];
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i); if (c.type !== 'code') continue; code++;
    if (c.executionCount !== null) ran++;
    for (const o of c.outputs.toJSON()) if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue); }
  return {code, ran, errors, idle: w.sessionContext.session.kernel.status === 'idle'}; }"""
RUN_FINISHED = f"() => {{ const s = ({RUN_STATE})(); return s.errors.length > 0 || (s.idle && s.ran === s.code); }}"
POINTS_PER_TRACE = """() => Array.from(document.querySelectorAll('.stateset-live-dashboard .js-plotly-plot .scatterlayer .trace'))
  .map(t => t.querySelectorAll('.points path').length)"""

def _parameter(nb_path: Path, name: str) -> int:
    "An integer literal from the notebook's `parameters` cell."
    import nbformat, re
    cell = next(c for c in nbformat.read(nb_path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    return int(re.search(rf"^{name} = (\d+)", cell.source, re.M).group(1))

STEPS = _parameter(Path(__file__).resolve().parents[1] / "nbs" / "11_utils.live_dashboard.ipynb", "steps")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

NO_WINDOWING = '{"windowingMode": "none"}'  # render every cell, so the widget stays in the DOM when scrolled away

def start_lab(root: Path, home: Path, port: int, token: str) -> subprocess.Popen:
    "JupyterLab serving `root`, with an empty HOME, the model cache of this machine, and the app exposed to the page."
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(NO_WINDOWING)
    apputils = settings.parent / "apputils-extension"
    apputils.mkdir()
    (apputils / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news toast over the screenshot
    cache = os.environ.get("STATESET_AGENTS_CACHE") or str(Path.home() / ".cache" / "stateset_agents")
    env = {**os.environ, "HOME": str(home), "STATESET_AGENTS_CACHE": cache, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
           "--expose-app-in-browser", "--LabApp.news_url=None"]
    return subprocess.Popen(cmd, env=env, stdout=open(home / "lab.log", "wb"), stderr=subprocess.STDOUT)

def wait_for_lab(base: str, token: str, proc: subprocess.Popen, timeout_s: float = 90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            if urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).status == 200: return
        except OSError: time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer within {timeout_s} s")

def lab_copy(root: Path) -> Path:
    "A copy of the dashboard notebook in `root`, cells as a headless run keeps them, with the venv's kernel named."
    nb_path = prepared(NOTEBOOK, root, run_slow=False)  # a copy: JupyterLab autosaves what it runs
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}  # else Lab asks
    nbformat.write(nb, nb_path)
    return nb_path

def run_all_and_inspect(page, url: str) -> tuple[list[int], list[str]]:
    "Open `url`, Run All, wait for the end; points per trace and the alert lines' classes."
    page.goto(url)
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(1000)  # let the run start (the kernel turns busy)
    page.wait_for_function(RUN_FINISHED, timeout=300_000)
    state = page.evaluate(RUN_STATE)
    assert not state["errors"], f"a cell failed in JupyterLab: {state['errors']}"
    board = page.locator(".stateset-live-dashboard").first
    board.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({POINTS_PER_TRACE})().length === 4 && ({POINTS_PER_TRACE})()[0] >= {STEPS}", timeout=60_000)
    alerts = page.locator(".stateset-live-dashboard .stateset-alert")
    classes = [alerts.nth(i).get_attribute("class") for i in range(alerts.count())]
    board.screenshot(path=str(SHOTS / "live_dashboard.png"))
    return page.evaluate(POINTS_PER_TRACE), classes

def test_dashboard_renders_live_in_jupyterlab(tmp_path):
    from playwright.sync_api import sync_playwright
    root, home = tmp_path / "lab", tmp_path / "home"
    root.mkdir(); home.mkdir()
    nb = lab_copy(root)
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    lab = start_lab(root, home, port, token)
    try:
        wait_for_lab(base, token, lab)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try: points, classes = run_all_and_inspect(page, f"{base}/lab/tree/{nb.name}?token={token}")
            finally:
                page.screenshot(path=str(SHOTS / "jupyterlab.png"))  # on failure too: what the page showed
                browser.close()
    finally:
        lab.terminate()
        try: lab.wait(timeout=30)
        except subprocess.TimeoutExpired: lab.kill()
    # reward, loss, KL, length: one point per step (the loss has one gap, the NaN step that was skipped)
    assert points[0] == STEPS and points[2] == STEPS and points[3] == STEPS and points[1] == STEPS - 1, points
    assert any("stateset-alert-warning" in c for c in classes), classes  # the deliberately low KL threshold
    assert any("stateset-alert-critical" in c and "stateset-alert-resolved" in c for c in classes), classes  # the NaN step
    print(f"\nscreenshots: {SHOTS / 'live_dashboard.png'} and {SHOTS / 'jupyterlab.png'}")
