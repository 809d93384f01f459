"""Records and checkpoints: the ground floor of the package's file input and output.

Results files (JSON) and checkpoints (``torch.save``) that survive interruption, and where a
result came from. Everything that writes or reads a file -- the experiment pipeline, the
early-bird recorders, the shipped networks, the benchmarks -- goes through this module, which
imports nothing else of the package:

* :func:`provenance` -- device, date, package versions, git commit: recorded in every results file;
* :func:`write_json` / :func:`save_checkpoint` -- atomic writes (a temporary file in the same
  folder, flushed to disk, then renamed over the target), so a run killed mid-write leaves the
  previous file intact, never a truncated one;
* :func:`load_checkpoint` -- the counterpart, ``None`` when there is nothing to resume.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import torch

__all__ = [
    "RESULT_SCHEMA",
    "device_name",
    "device_slug",
    "git_commit",
    "load_checkpoint",
    "package_versions",
    "provenance",
    "read_json",
    "save_checkpoint",
    "write_device_record",
    "write_json",
]

#: the schema of a run's results file (:mod:`spline_utils.experiments.results_files`)
RESULT_SCHEMA = "spline-pruning-book/run-result/v1"
_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "spline-pruning-book")


def device_name(device: torch.device | str) -> str:
    """A readable device name: the CUDA card's name, or "CPU (<n> threads)"."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads, {platform.machine()})"


def device_slug(device: torch.device | str) -> str:
    """The device name as a file-name part, e.g. ``nvidia-h200`` or ``cpu``."""
    return device_name(device).split(" (")[0].replace(" ", "-").lower()


def git_commit(folder: str | Path | None = None) -> str:
    """The commit checked out in the repository holding ``folder`` (default: this package),
    with ``+dirty`` when tracked files differ from it. The environment variable
    ``SPLINE_BOOK_COMMIT``, when set, names it instead (for a copy of the sources made
    elsewhere, whose own ``.git`` may be stale or missing); ``"unknown"`` when neither exists."""
    if os.environ.get("SPLINE_BOOK_COMMIT"):
        return os.environ["SPLINE_BOOK_COMMIT"]
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on (``"absent"`` if not installed)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def provenance(device: torch.device | str) -> dict:
    """Where and when a result was computed: device name, UTC date, package versions, commit."""
    return {
        "device": device_name(device),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "commit": git_commit(),
    }


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (folders are created)."""
    text = json.dumps(data, indent=1, sort_keys=False, allow_nan=True) + "\n"
    _atomic(Path(path), lambda f: f.write(text.encode()))


def write_device_record(
    folder: str | Path, prefix: str, record: dict, device, quick: bool = False
) -> Path:
    """Add ``provenance(device)`` to ``record`` and write it to
    ``folder/<prefix>-<device slug>[-quick].json`` (the benchmarks' results files)."""
    record = {**record, "provenance": provenance(device)}
    path = Path(folder) / f"{prefix}-{device_slug(device)}{'-quick' if quick else ''}.json"
    write_json(path, record)
    return path


def read_json(path: str | Path) -> dict:
    """The JSON object (a dict) stored in the file ``path``.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not valid JSON (e.g. truncated by an interrupted write) or
            holds something other than a JSON object; the message names the file.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not a JSON file: {err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON (truncated?): {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, got a JSON {type(data).__name__}")
    return data


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save(state)`` to ``path`` atomically."""
    _atomic(Path(path), lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path, map_location="cpu") -> dict | None:
    """The state saved at ``path``, or ``None`` when no checkpoint exists. Checkpoints hold the
    pickled early-bird detectors as well as tensors, so only load files you wrote yourself."""
    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location=map_location, weights_only=False)
