"""Run every chapter as a reader on a fresh Colab machine would, on another CPU code path.

A Colab session has the notebook, a Python with PyTorch, and the internet -- not this repository.
This script recreates that, offline:

1. build a wheel of the package from the checkout (as ``pip install git+...`` would);
2. create a fresh virtual environment with the pinned torch / torchvision and the rest of what
   Colab ships (``constraints.txt``), but *without* this package (kept in ``.venv-colab``, and
   rebuilt when ``constraints.txt`` or ``pyproject.toml`` changes);
3. copy only the chapters' ``.ipynb`` files into an empty folder;
4. put a stand-in ``google.colab`` module on the kernel's path (imported at start-up, as in
   Colab), so that each chapter's install cell runs -- and installs the local wheel, named by
   ``SPLINE_BOOK_PACKAGE``, instead of fetching from GitHub;
5. execute every chapter with nbval against its committed outputs, with the CPU instruction sets
   of MKL, ATen and oneDNN pinned to SSE-level code paths (``--native`` leaves them alone), so
   that a checked output that depends on the processor fails here as it would on a reader's
   machine.

    python tools/simulate_colab.py                # all chapters
    python tools/simulate_colab.py book/04_*.ipynb --native
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-colab"
#: other processors' float code paths, reproduced on this one
ISA_VARIABLES = {
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
}
#: what a Colab machine has besides torch (no jupyter-book, no myst-nb, no spline_utils)
COLAB_PACKAGES = [
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "scikit-learn",
    "tqdm",
    "ipykernel",
    "ipywidgets",
    "pytest",
    "nbval",
]


def _run(cmd, **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("constraints.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    digest.update(" ".join(COLAB_PACKAGES).encode())
    return digest.hexdigest()


def fresh_environment() -> Path:
    """The Colab-like environment's Python (created, or reused when its fingerprint matches)."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".fingerprint"
    if python.exists() and stamp.exists() and stamp.read_text() == _fingerprint():
        return python
    if VENV.exists():
        shutil.rmtree(VENV)
    _run([sys.executable, "-m", "venv", VENV])
    _run(
        [python, "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", *COLAB_PACKAGES]
    )
    stamp.write_text(_fingerprint())
    return python


def build_wheel(folder: Path) -> Path:
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            folder,
            ROOT,
        ]
    )
    wheels = sorted(folder.glob("spline_pruning_book-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {folder}, found {[w.name for w in wheels]}")
    return wheels[0]


def stand_in_colab(folder: Path) -> Path:
    """A ``google.colab`` module and a ``sitecustomize`` that imports it when Python starts."""
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (folder / "google" / "__init__.py").write_text("")
    (package / "__init__.py").write_text('"""Stand-in for Colab\'s module (tests only)."""\n')
    (folder / "sitecustomize.py").write_text(
        "import google.colab  # noqa: F401  (as in a Colab kernel)\n"
    )
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters to run (default: book/*.ipynb)")
    parser.add_argument(
        "--native", action="store_true", help="keep this CPU's own instruction sets"
    )
    args = parser.parse_args(argv)
    notebooks = [Path(n).resolve() for n in args.notebooks] or sorted(
        (ROOT / "book").glob("*.ipynb")
    )
    start = time.perf_counter()
    python = fresh_environment()
    with tempfile.TemporaryDirectory(prefix="colab-sim-") as tmp:
        tmp = Path(tmp)
        wheel = build_wheel(tmp / "wheel")
        site = stand_in_colab(tmp / "site")
        chapters = tmp / "content"  # the folder a reader's notebook sits in, and nothing else
        chapters.mkdir()
        for notebook in notebooks:
            shutil.copy(notebook, chapters / notebook.name)
        shutil.copy(ROOT / "book" / "nbval_sanitize.cfg", tmp / "nbval_sanitize.cfg")
        # the package is absent before the chapters run: the install cell must bring it
        subprocess.run(
            [python, "-m", "pip", "uninstall", "--quiet", "--yes", "spline-pruning-book"],
            check=False,
            capture_output=True,
        )
        (tmp / "home").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(
            PYTHONPATH=str(site),
            SPLINE_BOOK_PACKAGE=str(wheel),
            SPLINE_BOOK_MODE="quick",
            MPLBACKEND="agg",
            HOME=str(tmp / "home"),
        )
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        if not args.native:
            env.update(ISA_VARIABLES)
        print(
            f"Colab simulation: {len(notebooks)} chapters, wheel {wheel.name}, "
            f"{'native' if args.native else 'SSE-level'} CPU code paths",
            flush=True,
        )
        result = subprocess.run(
            [
                python,
                "-m",
                "pytest",
                "--nbval-lax",
                "--nbval-sanitize-with",
                tmp / "nbval_sanitize.cfg",
                "-p",
                "no:cacheprovider",
                "-q",
                *sorted(p.name for p in chapters.glob("*.ipynb")),
            ],
            cwd=chapters,
            env=env,
        )
    print(f"Colab simulation finished in {time.perf_counter() - start:.0f} s", flush=True)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
