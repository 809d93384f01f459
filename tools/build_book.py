"""Build the book's HTML with Jupyter Book 1.x, warnings as errors.

    python tools/build_book.py                 # execute the chapters (cached), as `make book` does
    python tools/build_book.py --from-outputs  # render the committed outputs, executing nothing

The second form is what `make test` uses after nbval has re-executed every chapter against those
outputs: it checks the rendered pages (tools/check_html.py) without a third execution.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--from-outputs", action="store_true", help="render committed outputs, execute nothing"
    )
    args = parser.parse_args(argv)
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(ROOT),
        "-W",
        "-n",
        "--keep-going",
    ]
    if args.from_outputs:
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        config["execute"]["execute_notebooks"] = "off"
        local = config.get("sphinx", {}).get("local_extensions") or {}
        for name, folder in local.items():  # relative to the config file, which moves
            local[name] = str(ROOT / folder)
        rendered = ROOT / "_build" / "_config-from-outputs.yml"
        rendered.parent.mkdir(exist_ok=True)
        rendered.write_text(yaml.safe_dump(config, sort_keys=False))
        command += ["--config", str(rendered), "--all"]
    # progress bars as one summary line: a static page cannot run tqdm's widgets
    env = {**os.environ, "SPLINE_BOOK_PROGRESS": "text"}
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
