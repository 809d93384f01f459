"""Screenshots of the built book as a reader sees it, in headless Chromium.

Each page is rendered at the book's desktop width and at a phone's, in one tall window, then cut
into screen-sized PNG tiles (``<page>-<width>-<n>.png``) that an image viewer shows legibly.

    python tools/screenshots.py                       # every chapter, 1280 and 400 px wide
    python tools/screenshots.py book/01 --widths 400  # pages whose path contains "book/01"

Needs a ``chromium`` (Debian: ``apt-get install chromium``) and Pillow (installed with matplotlib).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def shoot(page: Path, width: int, height: int, out: Path) -> Path:
    browser = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if browser is None:
        raise SystemExit("no chromium found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "--virtual-time-budget=4000",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return out


def tiles(image: Path, tile_height: int) -> list[Path]:
    """Cut a tall screenshot into tiles, dropping the blank tail."""
    picture = Image.open(image).convert("RGB")
    bbox = Image.eval(picture, lambda v: 255 - v).getbbox()  # non-white area
    bottom = bbox[3] if bbox else picture.height
    paths = []
    for n, top in enumerate(range(0, bottom, tile_height)):
        path = image.with_name(f"{image.stem}-{n:02d}.png")
        picture.crop((0, top, picture.width, min(top + tile_height, bottom))).save(path)
        paths.append(path)
    image.unlink()
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="substrings of page paths (default: the chapters)")
    parser.add_argument("--html", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--out", default=str(ROOT / "_build" / "screenshots"))
    parser.add_argument("--widths", nargs="+", type=int, default=[1280, 400])
    parser.add_argument("--height", type=int, default=30000, help="window height: the longest page")
    args = parser.parse_args(argv)
    html, out = Path(args.html), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)
    pages = (
        [p for p in pages if any(s in p.as_posix() for s in args.pages)]
        if args.pages
        else [p for p in pages if p.parent.name == "book"]
    )
    for page in pages:
        for width in args.widths:
            shot = shoot(page, width, args.height, out / f"{page.stem}-{width}.png")
            made = tiles(shot, tile_height=1000 if width > 600 else 1400)
            print(f"{page.relative_to(html)} at {width} px: {len(made)} tiles in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
