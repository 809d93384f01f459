"""Write (or check) the two things every chapter starts with, from the book's one source of truth.

The repository's address lives in ``_config.yml`` (``repository.url`` and ``repository.branch``).
Every chapter listed in ``_toc.yml`` starts with

1. a Markdown cell whose second paragraph is the *Open in Colab* badge of that chapter, and
2. the Colab install cell: it installs the package into the running kernel when, and only when,
   the notebook runs in Colab and the package is missing (so re-running it is harmless). The
   environment variable ``SPLINE_BOOK_PACKAGE`` replaces the pip requirement (the Colab
   simulation of the test suite installs a locally built wheel through it).

Both are generated here, and ``--check`` fails when a chapter or another file quoting the address
(README, pyproject) disagrees with ``_config.yml``:

    python tools/stamp_chapters.py           # rewrite the badge and install cells
    python tools/stamp_chapters.py --check   # exit 1 and list the differences
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TAGS = ["skip-execution", "remove-cell"]
# The badge is the book's own small SVG, inlined as a data URI: a page needs no network to show
# it (the link itself goes to Colab, of course).
_BADGE_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' width='112' height='20' role='img'>"
    "<rect width='112' height='20' rx='3' fill='#444'/>"
    "<path d='M56 0h53a3 3 0 0 1 3 3v14a3 3 0 0 1-3 3H56z' fill='#E69F00'/>"
    "<g fill='#fff' font-family='Verdana,DejaVu Sans,sans-serif' font-size='11'>"
    "<text x='7' y='14'>Open in</text><text x='62' y='14'>Colab</text></g></svg>"
)
BADGE_IMAGE = "data:image/svg+xml," + quote(_BADGE_SVG, safe="=:/,;'")
BADGE = "[![Open In Colab](" + BADGE_IMAGE + ")]({url})"
BADGE_PATTERN = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)$", re.M)


def repository() -> tuple[str, str]:
    """``(url, branch)`` of the repository, from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/"), config["repository"].get("branch", "main")


def requirement(url: str, branch: str) -> str:
    return f"spline-pruning-book @ git+{url}@{branch}"


def chapters() -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def install_source(url: str, branch: str) -> str:
    return f'''# Colab only: install the book's package into this kernel (elsewhere this does nothing).
import importlib
import importlib.util
import os
import subprocess
import sys

PACKAGE = "{requirement(url, branch)}"
if "google.colab" in sys.modules and importlib.util.find_spec("spline_utils") is None:
    package = os.environ.get("SPLINE_BOOK_PACKAGE", PACKAGE)  # tests: a local wheel
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)
    importlib.invalidate_caches()'''


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def stamp(path: Path, url: str, branch: str, write: bool = True) -> list[str]:
    """Bring one chapter's badge and install cell up to date (``write=False``: only look);
    returns what had to change."""
    nb = json.loads(path.read_text())
    cells, changes = nb["cells"], []
    badge = BADGE.format(
        url=f"https://colab.research.google.com/github/{url.split('github.com/')[1]}"
        f"/blob/{branch}/{path.relative_to(ROOT).as_posix()}"
    )
    head = "".join(cells[0]["source"])
    if cells[0]["cell_type"] != "markdown" or not head.startswith("# "):
        raise ValueError(f"{path.name}: the first cell must be the Markdown title cell")
    if BADGE_PATTERN.search(head):
        new_head = BADGE_PATTERN.sub(lambda _: badge, head, count=1)
    else:
        title, _, rest = head.partition("\n")
        new_head = f"{title}\n\n{badge}\n{rest}"
    if new_head != head:
        cells[0]["source"] = _lines(new_head)
        changes.append("Colab badge")
    source = install_source(url, branch)
    second = cells[1] if len(cells) > 1 else None
    is_install = (
        second is not None
        and second["cell_type"] == "code"
        and "google.colab" in "".join(second["source"])
    )
    if not is_install:
        cells.insert(
            1,
            {
                "cell_type": "code",
                "execution_count": None,
                "id": uuid.uuid4().hex[:8],
                "metadata": {"tags": INSTALL_TAGS},
                "outputs": [],
                "source": _lines(source),
            },
        )
        changes.append("install cell added")
    elif (
        "".join(second["source"]) != source
        or second.get("metadata", {}).get("tags") != INSTALL_TAGS
    ):
        second["source"] = _lines(source)
        second.setdefault("metadata", {})["tags"] = list(INSTALL_TAGS)
        second["outputs"], second["execution_count"] = [], None
        changes.append("install cell")
    if changes and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changes


def check_files(url: str, branch: str) -> list[str]:
    """Files outside the chapters that quote the address: README's pip line, pyproject's URL."""
    problems = []
    if requirement(url, branch) not in (ROOT / "README.md").read_text():
        problems.append(
            f"README.md does not show the install requirement {requirement(url, branch)!r}"
        )
    if f'Homepage = "{url}"' not in (ROOT / "pyproject.toml").read_text():
        problems.append(f"pyproject.toml's Homepage is not {url}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences, change nothing")
    args = parser.parse_args(argv)
    url, branch = repository()
    problems = check_files(url, branch)
    for path in chapters():
        if args.check:
            changes = stamp(path, url, branch, write=False)
            problems += [f"{path.name}: {c} differs from _config.yml" for c in changes]
        else:
            for change in stamp(path, url, branch):
                print(f"{path.name}: {change} updated")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
