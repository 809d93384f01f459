"""Load every page of the built book in headless Chromium with the network off, and check what a
reader sees (part of `make test`, after the book is rendered):

* no JavaScript error and no failed resource on any page: every script, style sheet, font and
  image ships with the book (Chromium resolves no host name here, so a page that reaches for a
  CDN logs an error);
* no tag of a page loads anything from ``http(s)://`` (links to Colab or the repository are fine);
* MathJax rendered: its output elements are present wherever the page holds math, and no raw
  ``\\begin``, ``$$`` or ``\\(`` is left in the visible text;
* every scrubbable figure (``.spline-scrubber``) is there, and moving its slider changes the
  frame shown.

    python tools/check_browser.py _build/html

Needs Debian's ``chromium`` and ``chromedriver`` (``apt-get install chromium chromium-driver``);
without them it says so and exits 0 (skipped), since a reader's machine may lack them.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

SKIP = ("genindex.html", "search.html", "py-modindex.html")
#: tags whose address a page fetches when it loads (an <a href> is only a link)
FETCHING = re.compile(
    r"<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=[\"']?(https?:)?//"
    r"|<link\b(?=[^>]*\brel=[\"']?(?:stylesheet|preload|icon|modulepreload))[^>]*\bhref=[\"']?(https?:)?//",
    re.I,
)
RAW_TEX = ("\\begin{", "$$", "\\(", "\\)")


def find_browser() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start(browser: str, driver: str, width: int = 1280):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # the network is off: no host name resolves
        f"--window-size={width},900",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


_MATHJAX_DONE = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function wait() {  // window.MathJax is only the configuration until the script has run
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done(true), () => done(false));
  } else if (Date.now() - start > 20000) {
    done(false);
  } else {
    setTimeout(wait, 50);
  }
})();
"""

_SCRUB = """
const root = arguments[0];
const slider = root.querySelector('input[type=range]');
const img = root.querySelector('img');
if (!slider || !img) return null;
const first = img.getAttribute('src');
slider.value = slider.max;
slider.dispatchEvent(new Event('input', {bubbles: true}));
slider.dispatchEvent(new Event('change', {bubbles: true}));
return [first, img.getAttribute('src'), Number(root.dataset.frames || 0), Number(slider.max)];
"""


def check_page(driver, page: Path) -> list[str]:
    problems = []
    html = page.read_text(encoding="utf-8", errors="replace")
    for match in FETCHING.finditer(html):
        problems.append(f"loads from the network: {match.group(0)[:120]}")
    driver.get(page.as_uri())
    driver.set_script_timeout(30)
    has_math = 'class="math' in html
    if has_math:
        if not driver.execute_async_script(_MATHJAX_DONE):
            problems.append("MathJax did not start (is _static/mathjax there?)")
        rendered = driver.execute_script("return document.querySelectorAll('mjx-container').length")
        expected = driver.execute_script(
            "return document.querySelectorAll('span.math, div.math').length"
        )
        if rendered < expected:
            problems.append(f"MathJax rendered {rendered} of {expected} formulas")
        text = driver.execute_script("return document.body.innerText")
        for raw in RAW_TEX:
            if raw in text:
                at = text.index(raw)
                problems.append(
                    f"raw TeX {raw!r} in the text: ...{text[max(0, at - 40) : at + 40]!r}"
                )
    for i, root in enumerate(driver.find_elements("css selector", ".spline-scrubber")):
        result = driver.execute_script(_SCRUB, root)
        if result is None:
            problems.append(f"scrubber {i}: no slider or no image")
            continue
        first, last, frames, top = result
        if frames < 2 or top != frames - 1:
            problems.append(f"scrubber {i}: {frames} frames but a slider to {top}")
        elif first == last:
            problems.append(f"scrubber {i}: moving the slider did not change the frame")
    time.sleep(0.3)
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            problems.append(f"console: {entry['message'][:200]}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built book, e.g. _build/html")
    args = parser.parse_args(argv)
    args.html = args.html.resolve()
    found = find_browser()
    if found is None:
        print(
            "check_browser: SKIPPED -- no chromium + chromedriver on this machine "
            "(Debian: apt-get install chromium chromium-driver)"
        )
        return 0
    pages = sorted(
        p
        for p in args.html.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts and p.name not in SKIP
    )
    if not pages:
        print(f"check_browser: no pages under {args.html}", file=sys.stderr)
        return 1
    driver = start(*found)
    failures = 0
    try:
        for page in pages:
            problems = check_page(driver, page)
            scrubbers = len(driver.find_elements("css selector", ".spline-scrubber"))
            size = page.stat().st_size / 1e6
            status = "ok" if not problems else f"{len(problems)} problem(s)"
            print(
                f"{page.relative_to(args.html)}: {size:.1f} MB, {scrubbers} scrubber(s), {status}"
            )
            for problem in problems:
                print(f"  - {problem}")
            failures += bool(problems)
    finally:
        driver.quit()
    if failures:
        print(f"check_browser: {failures} page(s) failed", file=sys.stderr)
        return 1
    print(f"check_browser: {len(pages)} pages rendered offline, MathJax and scrubbers working")
    return 0


if __name__ == "__main__":
    sys.exit(main())
