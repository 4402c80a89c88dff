"""The book, as a reader sees it: every page of a book built from the smoke run, in Chromium.

Builds, from the nine notebooks executed on the smoke profile (``tests/smoke_study.py``, once per session),
the book offline, then opens every page in headless Chromium (Debian's, with
background networking off) and fails on a missing image, script or stylesheet, an
in-book link to nowhere, a resource from the network, a console error, or a formula
MathJax left unrendered. Screenshots go to build/smoke/screenshots/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from smoke_study import ROOT, run_smoke_study

from dfd_utils.paths import project_root

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="no Chromium: apt-get install chromium chromium-driver (as .ci/run does)"),
    pytest.mark.slow,
]
@pytest.fixture(scope="module")
def book_html() -> Path:
    from dfd_utils import book

    run_smoke_study()  # once per session, shared with tests/test_notebooks.py
    return book.build(ROOT).parent


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--allow-file-access-from-files", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if not {"_static", "_sources", "_images"} & set(p.parts)
                  and p.name not in ("genindex.html", "search.html"))


def local_target(page: Path, url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return None
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else (page.parent / unquote(parsed.path))


def test_every_page_renders_offline(book_html, browser):
    shots = project_root() / ROOT / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    found = pages(book_html)
    names = {p.name for p in found}
    assert {"intro.html", "methods.html", "errata.html", "08_compare_models.html"} <= names
    problems = []
    for page in found:
        browser.get(page.as_uri())
        browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "if (window.MathJax && MathJax.startup && MathJax.startup.promise) {"
            "  MathJax.startup.promise.then(() => done(true), () => done(false)); } else { done(true); }")
        name = page.relative_to(book_html)
        browser.save_screenshot(str(shots / (str(name).replace("/", "__") + ".png")))
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
        problems += [f"{name}: image does not load: {src}" for src in broken]
        resources = browser.execute_script(
            "return [...document.querySelectorAll('script[src]')].map(s => s.src)"
            ".concat([...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href))")
        for url in resources:
            target = local_target(page, url)
            if target is None:
                problems.append(f"{name}: loads {url} from the network")
            elif not target.is_file():
                problems.append(f"{name}: missing {url}")
        links = browser.execute_script(
            "return [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        for href in links:
            if href.startswith(("http:", "https:", "mailto:", "#", "javascript:")):
                continue
            target = page.parent / unquote(href.split("#")[0])
            if href.split("#")[0] and not target.exists():
                problems.append(f"{name}: in-book link to nowhere: {href}")
        for entry in browser.get_log("browser"):
            if entry["level"] == "SEVERE":
                problems.append(f"{name}: console error: {entry['message'][:200]}")
        text = browser.find_element("tag name", "body").text
        if "$$" in text or "\\frac" in text:
            problems.append(f"{name}: a formula is left unrendered")
    assert not problems, "\n".join(problems)


def test_formulas_are_typeset_by_the_vendored_mathjax(book_html, browser):
    browser.get((book_html / "methods.html").as_uri())
    browser.execute_async_script("const done = arguments[arguments.length - 1];"
                                 "MathJax.startup.promise.then(() => done(true));")
    rendered = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert rendered >= 5
    src = browser.execute_script("return [...document.scripts].map(s => s.src).filter(s => s.includes('tex-svg'))")
    assert src and src[0].startswith("file:")


def test_results_page_shows_the_comparison(book_html, browser):
    browser.get((book_html / "notebooks" / "08_compare_models.html").as_uri())
    text = browser.find_element("tag name", "body").text
    for name in ("baseline", "two_stream_frame", "two_stream_video", "cnn_rnn", "cnn3d"):
        assert name in text
    images = browser.execute_script("return document.images.length")
    assert images >= 3  # comparison bars, confusion matrices, ROC curves
