"""Check the built book (``_build/html``) for what a reader must never see.

* broken internal links: a relative ``href`` whose page, or whose ``#anchor`` on that page, is
  missing;
* in cell outputs: tracebacks, Python warnings, temporary paths (``/tmp/``, ``/var/folders/``);
* test markers (``NBVAL_...`` comment lines) anywhere in a page;
* text outputs wider than the code column (more than ``--width`` characters on one line).

    python tools/check_html.py [_build/html] [--width 90]

Exits 1 and lists every finding, or prints a one-line summary.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urldefrag

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
WARNING = re.compile(r"\b\w*Warning: |^\s*warnings\.warn\(", re.M)
TEMPORARY = re.compile(r"/tmp/|/var/folders/|\\AppData\\Local\\Temp")
MARKER = re.compile(r"#\s?NBVAL_[A-Z_]+")
# a library's log line (matplotlib's font fallback, for one: a stale font cache on the machine that
# executed the chapter puts one per glyph family into the page)
LOG_NOISE = re.compile(r"^findfont: |Falling back to DejaVu Sans", re.M)


def pages(html: Path) -> list[Path]:
    """The book's own pages (not Sphinx's search and index pages or static assets)."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    return [
        p for p in sorted(html.rglob("*.html")) if p.name not in skip and "_static" not in p.parts
    ]


def check(html: Path, width: int = 90) -> tuple[list[str], int]:
    """All findings, and the number of pages checked."""
    soups = {p: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser") for p in pages(html)}
    ids = {p: {tag["id"] for tag in soup.find_all(id=True)} for p, soup in soups.items()}
    findings = []
    for page, soup in soups.items():
        name = page.relative_to(html).as_posix()
        main = soup.find("main") or soup
        for link in main.find_all("a", href=True):
            href = link["href"]
            if href.startswith(("http:", "https:", "mailto:", "javascript:", "data:")):
                continue
            target, anchor = urldefrag(href)
            target_page = (page.parent / unquote(target)).resolve() if target else page
            if target and not target_page.exists():
                findings.append(f"{name}: broken link to {href}")
            elif (
                anchor
                and target_page.suffix == ".html"
                and target_page in ids
                and unquote(anchor) not in ids[target_page]
            ):
                findings.append(f"{name}: link to a missing anchor {href}")
        if MARKER.search(main.get_text()):
            findings.append(f"{name}: a test marker (NBVAL_...) is visible")
        for output in main.select("div.cell_output, div.output"):
            text = output.get_text()
            if "Traceback (most recent call last)" in text or output.select_one(".traceback"):
                findings.append(f"{name}: a traceback in a cell output")
            if WARNING.search(text):
                line = WARNING.search(text).group(0).strip()
                findings.append(f"{name}: a warning in a cell output ({line[:60]})")
            if LOG_NOISE.search(text):
                findings.append(
                    f"{name}: a log message in a cell output (matplotlib font fallback)"
                )
            if TEMPORARY.search(text):
                findings.append(f"{name}: a temporary path in a cell output")
            for pre in output.find_all("pre"):
                for line in pre.get_text().splitlines():
                    if len(line.rstrip()) > width:
                        findings.append(
                            f"{name}: an output line of {len(line.rstrip())} characters "
                            f"(> {width}): {line.strip()[:50]}..."
                        )
    return sorted(set(findings)), len(soups)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--width", type=int, default=90, help="widest text output line allowed")
    args = parser.parse_args(argv)
    html = Path(args.html)
    if not (html / "index.html").exists():
        print(f"no built book at {html} (run make book first)", file=sys.stderr)
        return 2
    findings, n_pages = check(html, args.width)
    for finding in findings:
        print(finding)
    print(f"checked {n_pages} pages: {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
