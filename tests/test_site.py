"""The built documentation site in a real browser: every page loads with no console error and no failed or
outside request, every internal link resolves, plotly figures, maths and diagrams render, and screenshots of the
front page, the quickstart, the architecture and one API page are kept in `_site_check/`.

Run after `make docs` (the Makefile's `test` target does: the suite writes the executions the build reuses):
    python tools/build_docs.py && pytest tests/test_site.py
Debian's chromium through Playwright, as in test_browser_dashboard.py (never `playwright install`)."""
import functools, http.server, re, threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from test_browser_dashboard import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
SITE, SHOTS = ROOT / "_docs", ROOT / "_site_check"
SCREENSHOTS = {"index.html": "index.png", "quickstart.html": "quickstart.png", "api/checks.html": "api_checks.png",
               "architecture.html": "architecture.png"}

pytestmark = pytest.mark.skipif(not (SITE / "index.html").exists(), reason="no site: run `python tools/build_docs.py` (make docs) first")

def pages() -> list[Path]:
    return sorted(SITE.rglob("*.html"))

class Links(HTMLParser):
    "The href and src targets of a page, and its element ids."
    def __init__(self):
        super().__init__(); self.targets, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a: self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key): self.targets.append(a[key])

@functools.cache
def parsed(page: Path) -> Links:
    p = Links(); p.feed(page.read_text()); return p

def test_internal_links_resolve():
    "Every relative link names a file of the site, and every #anchor an id on its page."
    broken = []
    for page in pages():
        for target in parsed(page).targets:
            if urlsplit(target).scheme or target.startswith(("mailto:", "javascript:", "data:")): continue
            path, anchor = urldefrag(target)
            dest = (page.parent / unquote(path)).resolve() if path else page
            if dest.is_dir(): dest = dest / "index.html"
            if not dest.exists(): broken.append(f"{page.relative_to(SITE)} -> {target}")
            elif anchor and dest.suffix == ".html" and anchor not in parsed(dest).ids: broken.append(f"{page.relative_to(SITE)} -> {target} (no such id)")
    assert broken == [], f"{len(broken)} broken links, e.g. {broken[:10]}"

def test_every_public_symbol_has_a_reference_entry():
    "Each name in a module's `__all__` has a heading on its API page, with the docstring's first line beside it."
    import ast, importlib, inspect, pkgutil, stateset_agents
    missing = []
    for m in pkgutil.walk_packages(stateset_agents.__path__, "stateset_agents."):
        mod = importlib.import_module(m.name)
        try: tree = ast.parse(inspect.getsource(mod))
        except OSError: continue  # an empty module (a package's __init__)
        imported = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names}  # re-exports are documented where they are defined
        names = [n for n in getattr(mod, "__all__", []) if n not in imported and getattr(getattr(mod, n), "__module__", m.name) == m.name]
        if not names: continue
        page = SITE / "api" / f"{m.name.rsplit('.', 1)[-1]}.html"
        ids = parsed(page).ids if page.exists() else set()
        missing += [f"{m.name}.{n}" for n in names if n not in ids]
    assert missing == [], f"{len(missing)} public symbols without a reference entry, e.g. {missing[:10]}"

@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(SITE))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown(); srv.server_close()

@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
def test_pages_load_cleanly_in_a_browser(server):
    "No console error, no failed request and no request leaving the site, on every page; figures and maths render."
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(exist_ok=True)
    problems, figures, maths, diagrams = [], 0, 0, 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        current = {}
        page.on("console", lambda m: m.type == "error" and problems.append(f"{current['p']}: console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"{current['p']}: uncaught: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"{current['p']}: failed: {r.url}"))
        def outside(route):
            problems.append(f"{current['p']}: outside request: {route.request.url}"); route.abort()
        page.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), outside)
        for p in pages():
            rel = p.relative_to(SITE).as_posix(); current["p"] = rel
            page.goto(f"{server}/{rel}", wait_until="load")
            if page.locator(".plotly-figure").count():
                page.wait_for_function("() => [...document.querySelectorAll('.plotly-figure')].every(d => d.querySelector('.main-svg'))", timeout=15000)
                figures += page.locator(".plotly-figure").count()
            maths += page.locator(".katex").count()
            if page.locator("pre.mermaid").count():  # mermaid replaces each block's text with an SVG
                page.wait_for_function("() => [...document.querySelectorAll('pre.mermaid')].every(p => p.querySelector('svg'))", timeout=15000)
                diagrams += page.locator("pre.mermaid svg").count()
            if rel in SCREENSHOTS: page.screenshot(path=str(SHOTS / SCREENSHOTS[rel]), full_page=False)
        browser.close()
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:10]}"
    assert figures > 0 and maths > 0 and diagrams >= 4, f"expected plotly figures, KaTeX maths and mermaid diagrams, found {figures}, {maths}, {diagrams}"
    assert all((SHOTS / s).stat().st_size > 10_000 for s in SCREENSHOTS.values())
