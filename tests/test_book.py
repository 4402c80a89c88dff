"""The book, as a reader sees it: every page of a book built from the smoke run, in Chromium.

Builds, from the notebooks executed on the smoke profile (``tests/smoke_study.py``, once per session),
the book offline, then opens every page in headless Chromium (Debian's, with
background networking off) and fails on a missing image, script or stylesheet, an
in-book link to nowhere, a resource from the network, a console error, or a formula
MathJax left unrendered. Screenshots go to build/smoke/screenshots/.

And fails where a page reads badly (:func:`reading_problems`, itself tested on a page made to fail):
an absolute machine path, a log line or stderr box, an empty output box, a figure shown so small that
its smallest text is under 8 CSS px, or a table or output that scrolls sideways in the page's column.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from smoke_study import ROOT, run_smoke_study

from dfd_utils.paths import project_root
from dfd_utils.plots import DPI, SMALLEST_FONT_PT

MIN_TEXT_PX = 8  # the smallest figure text a reader can read, in CSS pixels
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:work|home|root|tmp|content|Users|var|opt|mnt|srv)/\S*")
LOG_LINE = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\b.*", re.MULTILINE)

# What a reader sees in the article, measured by the browser: visible text, stderr and empty output boxes,
# each figure's rendered/natural width, and visible elements wider than their box (not code input).
READ_PAGE = """
const article = document.querySelector('article') || document.body;
const visible = e => e.offsetParent !== null;
const MEDIA = 'img, svg, table, iframe, canvas, video, mjx-container';
const outputs = [...article.querySelectorAll('.cell_output')].filter(visible);
return {
  text: article.innerText,
  outputs: outputs.map(o => o.innerText),
  stderr: [...article.querySelectorAll('.cell_output .stderr')].filter(visible).map(e => e.innerText.slice(0, 120)),
  empty: outputs.flatMap(o => [...o.children]).filter(e => e.innerText.trim() === ''
           && !e.matches(MEDIA) && !e.querySelector(MEDIA)).length,
  figures: [...article.querySelectorAll('.cell_output img')].filter(visible)
           .map(i => [i.getAttribute('src'), i.naturalWidth, i.clientWidth]),
  wide: [...article.querySelectorAll('*')].filter(e => visible(e) && !e.closest('.cell_input')
           && e.scrollWidth > e.clientWidth + 2 && getComputedStyle(e).overflowX !== 'visible')
           .map(e => [e.tagName.toLowerCase(), e.scrollWidth, e.clientWidth, e.innerText.slice(0, 60)]),
};
"""


def reading_problems(browser, name: str) -> list[str]:
    """Everything on the open page that reads badly, one line each."""
    seen = browser.execute_script(READ_PAGE)
    problems = [f"{name}: absolute machine path {m!r}" for m in ABSOLUTE_PATH.findall(seen["text"])]
    problems += [f"{name}: log line in an output: {m[:100]!r}" for o in seen["outputs"] for m in LOG_LINE.findall(o)]
    problems += [f"{name}: stderr box: {t!r}" for t in seen["stderr"]]
    if seen["empty"]:
        problems.append(f"{name}: {seen['empty']} empty output box(es)")
    for src, natural, shown in seen["figures"]:
        if natural > 200:  # icons and badges aside
            px = SMALLEST_FONT_PT * DPI / 72 * shown / natural
            if px < MIN_TEXT_PX:
                problems.append(f"{name}: figure {src} shown at {shown}/{natural} px: its {SMALLEST_FONT_PT} pt text "
                                f"is {px:.1f} px (< {MIN_TEXT_PX})")
    problems += [f"{name}: <{tag}> scrolls sideways ({full} px in {box} px): {text!r}"
                 for tag, full, box, text in seen["wide"]]
    return problems

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="no Chromium: apt-get install chromium chromium-driver (as .ci/run does)"),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def book_html() -> Path:
    from dfd_utils.tooling import book

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
    assert {"intro.html", "methods.html", "errata.html", "08_compare_models.html", "10_claims.html",
            "11_calibration.html", "12_spatial_temporal.html", "13_frames_per_video.html"} <= names
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
        problems += reading_problems(browser, str(name))
    assert not problems, "\n".join(problems)


BAD_PAGE = """<html><body><article>
<p>Frames in /work/main/build/demo/artifacts/frames.</p>
<div class="cell_output"><div class="output stream"><pre>WARNING dfd_utils.train: resumed from epoch 2</pre></div>
<div class="output stderr"><pre>100%|##########| 5/5</pre></div><div class="output stream"><pre>  </pre></div></div>
<div class="cell_output"><img src="wide.png" style="width: 600px"></div>
<div class="cell_output"><div style="width: 300px; overflow-x: auto"><table><tr><td style="white-space: nowrap">
0.50 [0.50, 0.50] 0.50 [0.50, 0.50] 0.50 [0.50, 0.50] 0.50 [0.50, 0.50]</td></tr></table></div></div>
</article></body></html>"""


def test_the_reading_checks_fail_on_a_page_made_to_fail(tmp_path, browser):
    from matplotlib import pyplot as plt

    fig = plt.figure(figsize=(16, 3), dpi=DPI)  # 1600 px shown at 600: 8 pt text at 4.2 px
    fig.savefig(tmp_path / "wide.png", dpi=DPI)
    plt.close(fig)
    (tmp_path / "bad.html").write_text(BAD_PAGE)
    browser.get((tmp_path / "bad.html").as_uri())
    found = "\n".join(reading_problems(browser, "bad.html"))
    assert "absolute machine path '/work/main/build/demo/artifacts/frames.'" in found
    assert "log line in an output: 'WARNING dfd_utils.train: resumed from epoch 2'" in found
    assert "stderr box: '100%|##########| 5/5'" in found
    assert "1 empty output box(es)" in found
    assert "figure wide.png shown at 600/1600 px" in found
    assert "<div> scrolls sideways" in found


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


def test_a_results_bundle_builds_the_same_book_without_the_run(book_html, tmp_path):
    """The reader's route from a clone to the book without training: the smoke run's bundle (executed notebooks,
    metrics, cards; no frames, weights or DVC cache) unpacked elsewhere builds a book with the run's pages."""
    from dfd_utils.tooling import bundle

    made = bundle.make(ROOT, tmp_path / "results.tar.gz")
    assert made.stat().st_size < 50 * 2**20
    index = bundle.book(made, tmp_path / "unpacked")
    html = index.parent
    assert not (tmp_path / "unpacked" / "artifacts" / "models").exists()  # no weights came with it
    assert {p.name for p in pages(html)} == {p.name for p in pages(book_html)}
    for page in ("intro.html", "cards.html", "notebooks/10_claims.html"):
        assert (html / page).read_text() == (book_html / page).read_text(), page
