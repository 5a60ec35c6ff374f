"""Lab reports opened in a real browser (headless Chromium, Debian's package): in English and in
Persian, at 1280 px and 390 px wide. No broken image, no console error, right to left in
Persian, no horizontal overflow. Screenshots are saved in runs/browser-screenshots/ to look at.

``scripts/test.sh`` installs Chromium and sets BACKPROPLAB_REQUIRE_BROWSER=1, so there a missing
browser fails the suite instead of skipping these tests.
"""
import os
import shutil
from pathlib import Path

import pytest

from backproplab.labs import registry

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("BACKPROPLAB_REQUIRE_BROWSER") == "1"
if not CHROMIUM or not __import__("importlib").util.find_spec("playwright"):
    if REQUIRED:
        raise RuntimeError("the browser tests need Debian's chromium and the playwright package: "
                           "run scripts/setup.sh --test")
    pytest.skip("no chromium or playwright here (scripts/setup.sh --test installs them)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

#: labs whose reports are opened (quick runs): one without training, training labs, image labs
LABS = ["quadratic", "activations", "conv-gradients", "masked-conv"]
WIDTHS = (1280, 390)
SHOTS = Path("runs/browser-screenshots")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from backproplab.labs.runner import run_lab

    root = tmp_path_factory.mktemp("reports")
    for name in LABS:
        module = registry.load_lab(name)
        run_lab(module, module.Config().quick(), root / name, langs=("en", "fa"))
    return root


def open_page(browser, path: Path, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors


@pytest.mark.parametrize("lang", ["en", "fa"])
@pytest.mark.parametrize("name", LABS)
def test_report_in_a_browser(browser, reports, name, lang):
    page_file = reports / name / ("report.html" if lang == "en" else f"report.{lang}.html")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page, errors = open_page(browser, page_file, width)
        try:
            images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
                                   "i.naturalWidth])")
            assert images, "the report shows no figure"
            broken = [src for src, complete, w in images if not complete or w == 0]
            assert not broken, f"broken images: {broken}"
            assert not errors, f"console errors: {errors}"
            direction = page.evaluate("getComputedStyle(document.documentElement).direction")
            assert direction == ("rtl" if lang == "fa" else "ltr")
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert scroll <= inner, f"horizontal overflow at {width} px: page is {scroll} px wide"
            page.screenshot(path=str(SHOTS / f"{name}-{lang}-{width}.png"), full_page=True)
        finally:
            page.close()


def test_index_page_links_every_report(browser, tmp_path):
    from backproplab.labs.suite import write_index

    index = {"group": "all", "options": {"quick": True}, "wall_s": 1.0, "machine": {"cpus": 2, "load": 0.5}, "labs": [
        {"lab": "quadratic", "title": "Gradient descent", "dir": "quadratic", "ok": True, "wall_s": 0.5,
         "result": {"summary": "ok"}},
        {"lab": "init", "title": "Weight initialization", "dir": "init", "ok": False, "wall_s": 0.1,
         "error": "ValueError: boom"}]}
    write_index(tmp_path, "all", index, ("en", "fa"))
    for lang, file in (("en", "index.html"), ("fa", "index.fa.html")):
        page, errors = open_page(browser, tmp_path / file, 390)
        hrefs = page.evaluate("Array.from(document.links).map(a => a.getAttribute('href'))")
        assert hrefs == [f"quadratic/report{'' if lang == 'en' else '.fa'}.html",
                         f"init/report{'' if lang == 'en' else '.fa'}.html"]
        assert not errors
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner
        page.close()
