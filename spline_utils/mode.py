"""The quick/full run-mode switch and the data folder.

Every chapter that could use a GPU reads its mode here, so one environment variable
controls the whole book:

* ``SPLINE_BOOK_MODE=quick`` -- tiny bundled data, minutes on a CPU (what CI runs);
* ``SPLINE_BOOK_MODE=full``  -- the real experiment (CIFAR via torchvision, downloaded on demand);
* unset or ``auto``          -- ``full`` when CUDA is available and ``CI`` is not set, else ``quick``.

``SPLINE_BOOK_DATA`` names the folder that full-mode data sets are downloaded into
(default: ``~/.cache/spline-pruning-book/data``); ``SPLINE_BOOK_RESULTS`` the folder that a
chapter's own full runs write to (default: ``~/.cache/spline-pruning-book/results``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = [
    "data_dir",
    "default_device",
    "describe_run",
    "is_full_mode",
    "results_out_dir",
    "run_mode",
]

MODE_VARIABLE = "SPLINE_BOOK_MODE"
DATA_VARIABLE = "SPLINE_BOOK_DATA"
RESULTS_VARIABLE = "SPLINE_BOOK_RESULTS"
MODES = ("quick", "full")


def run_mode() -> str:
    """Return ``"quick"`` or ``"full"`` (see the module docstring for the rule).

    Returns:
        ``SPLINE_BOOK_MODE`` when it says quick or full; when it is unset or ``auto``,
        ``"quick"`` if ``CI`` is set or CUDA is missing, else ``"full"``.

    Raises:
        ValueError: ``SPLINE_BOOK_MODE`` holds anything but quick, full or auto.

    Example:
        >>> import os
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"SPLINE_BOOK_MODE": "quick"}):
        ...     su.run_mode()
        'quick'
    """
    requested = os.environ.get(MODE_VARIABLE, "auto").strip().lower()
    if requested in MODES:
        return requested
    if requested not in ("", "auto"):
        raise ValueError(
            f"{MODE_VARIABLE}={os.environ[MODE_VARIABLE]!r} is not a run mode; "
            "expected 'quick', 'full' or 'auto'"
        )
    if os.environ.get("CI"):
        return "quick"
    return "full" if torch.cuda.is_available() else "quick"


def is_full_mode() -> bool:
    """``True`` when :func:`run_mode` is ``"full"``."""
    return run_mode() == "full"


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def data_dir() -> Path:
    """Folder for downloaded data sets, from ``SPLINE_BOOK_DATA`` (created if missing)."""
    path = Path(
        os.environ.get(DATA_VARIABLE, Path.home() / ".cache" / "spline-pruning-book" / "data")
    ).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_out_dir() -> Path:
    """Folder that a chapter's own full runs write their results files to, from
    ``SPLINE_BOOK_RESULTS`` (default: ``~/.cache/spline-pruning-book/results``; created if
    missing). The committed results of the book are read from the package instead
    (:func:`~spline_utils.experiments.results_files.committed_results`).

    Returns:
        The folder, ``~`` expanded; it exists after the call.

    Raises:
        OSError: the folder cannot be created.

    Example:
        >>> import os, tempfile
        >>> from unittest import mock
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     new = {"SPLINE_BOOK_RESULTS": f"{tmp}/results"}
        ...     with mock.patch.dict(os.environ, new):
        ...         folder = su.results_out_dir()
        ...     print(folder.name, folder.is_dir())
        results True
    """
    path = Path(
        os.environ.get(RESULTS_VARIABLE, Path.home() / ".cache" / "spline-pruning-book" / "results")
    ).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def describe_run() -> str:
    """One line naming the mode and the device, for the first cell of every chapter."""
    device = default_device()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    return f"run mode: {run_mode()} | device: {name} | torch {torch.__version__}"
