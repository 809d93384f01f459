"""Reading results files back: runs of :mod:`spline_utils.experiments` as tables, the GPU timing
files of the benchmarks, and the committed ``results`` folder as shipped with the package."""

from __future__ import annotations

from pathlib import Path

from ..pruning.methods import DETECTORS, EB_RULES, METHODS
from ..records import RESULT_SCHEMA, read_json

__all__ = [
    "DETECTORS",
    "EB_RULES",
    "METHODS",
    "RECORD_FIELDS",
    "check_record",
    "committed_results",
    "load_records",
    "load_results",
    "load_timings",
    "read_record",
    "run_label",
    "summary",
]

# The names runs carry in results files -- the protocol-1 pruning methods (METHODS, in the
# protocol's order), the early-bird detectors (DETECTORS) and the rules their tickets may be
# pruned by (EB_RULES) -- come from the one registry of pruning methods
# (spline_utils.pruning.methods).


#: the fields of a run's results file that the loaders read
RECORD_FIELDS = (
    "run",
    "protocol",
    "dataset",
    "arch",
    "seed",
    "smoke",
    "metrics",
    "history",
    "provenance",
)


def check_record(record: dict, path: str | Path) -> dict:
    """``record``, the contents of the results file ``path``, if it holds every field of
    :data:`RECORD_FIELDS` (``metrics`` and ``provenance`` objects, ``history`` a list);
    ``ValueError`` naming the file and the missing fields otherwise."""
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise ValueError(f"results file {path} has no {', '.join(missing)}: it is incomplete")
    for key, kind in (("metrics", dict), ("provenance", dict), ("history", list)):
        if not isinstance(record[key], kind):
            raise ValueError(
                f"results file {path}: {key} must be a JSON "
                f"{'object' if kind is dict else 'list'}, got {type(record[key]).__name__}"
            )
    missing = [k for k in ("device", "date") if k not in record["provenance"]]
    if missing:
        raise ValueError(f"results file {path}: its provenance has no {', '.join(missing)}")
    return record


def read_record(path: str | Path) -> dict:
    """One run's results file, checked (:func:`check_record`; ``ValueError`` naming the file
    if it is not valid JSON, not an object, of another schema or incomplete)."""
    record = read_json(path)
    if record.get("schema") != RESULT_SCHEMA:
        raise ValueError(
            f"{path} is not a run's results file: its schema is {record.get('schema')!r}, "
            f"expected {RESULT_SCHEMA!r}"
        )
    return check_record(record, path)


def _records(folder: str | Path) -> list[dict]:
    """Every run's results file under ``folder`` (JSON files of another schema are skipped),
    checked. ``FileNotFoundError`` naming a missing folder; ``ValueError`` naming a JSON file
    that is invalid, not an object, or an incomplete results file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no results folder {folder}")
    records = []
    for path in sorted(folder.rglob("*.json")):
        record = read_json(path)
        if record.get("schema") == RESULT_SCHEMA:
            records.append(check_record(record, path))
    return records


def load_results(folder: str | Path):
    """Every results file under ``folder`` as a pandas DataFrame, one row per run, with the
    metrics as columns plus ``device`` and ``date`` from the provenance (an empty frame for a
    folder without results files).

    Raises:
        FileNotFoundError: ``folder`` is not a folder (as :func:`load_records`).
        ValueError: a JSON file under it is not valid JSON or not an object, or a results file
            lacks a field the table needs; the message names the file.
    """
    import pandas as pd  # pandas takes a second to import: only for tables

    rows = []
    for record in _records(folder):
        metrics = {k: v for k, v in record["metrics"].items() if not isinstance(v, dict)}
        rows.append(
            {
                "dataset": record["dataset"],
                "arch": record["arch"],
                "seed": record["seed"],
                "run": record["run"],
                "protocol": record["protocol"],
                "method": record.get("method", "dense"),
                "detector": record.get("detector"),
                "ratio": record.get("ratio", 0.0),
                "smoke": record["smoke"],
                **metrics,
                "epochs": len(record["history"]),
                "device": record["provenance"]["device"],
                "date": record["provenance"]["date"],
            }
        )
    return pd.DataFrame(rows)


def committed_results() -> Path:
    """The results files committed with the book (the repository's ``results`` folder), as
    shipped with the package: found in a checkout and in a plain ``pip install`` alike (the
    package's ``committed_results`` is a link to that folder, copied into wheels). Read-only:
    new runs write to a folder of their own (:func:`~spline_utils.mode.results_out_dir`).

    Raises ``FileNotFoundError`` naming the folder when the package was installed without them."""
    folder = Path(__file__).resolve().parents[1] / "committed_results"
    if not (folder / "timing").is_dir():
        raise FileNotFoundError(
            f"the book's committed results files are missing ({folder}): install the package from "
            "the repository (pip install 'spline-pruning-book @ git+...'), which ships them"
        )
    return folder


def load_records(folder: str | Path, run: str | None = None) -> list[dict]:
    """The results files under ``folder`` as records (dicts), sorted by data set, architecture
    and seed; ``run`` keeps one run name (e.g. ``"dense"``). Raises ``FileNotFoundError`` for a
    missing folder and ``ValueError`` naming a JSON file that is invalid, not an object or an
    incomplete results file (as :func:`load_results`)."""
    records = [r for r in _records(folder) if run is None or r.get("run") == run]
    return sorted(records, key=lambda r: (r["dataset"], r["arch"], r["seed"], r["run"]))


def run_label(protocol: str, method: str, detector: str | None) -> str:
    """How a run is named in tables: its method, or ``eb-<detector>/<rule>`` for an early-bird
    ticket (the detector that drew it and the rule that pruned it)."""
    return f"eb-{detector}/{method}" if protocol == "early-bird" else method


def summary(frame, value: str = "test_acc", spread: bool = False):
    """A (method, ratio) table of ``value`` averaged over seeds, one column per ratio, from
    :func:`load_results` rows of one data set and architecture. Early-bird runs appear as
    ``eb-<detector>/<rule>`` (:func:`run_label`). ``spread=True``: the standard deviation over
    seeds instead of the mean."""
    if not hasattr(frame, "columns") or not hasattr(frame, "empty"):
        raise TypeError(
            f"frame must be a pandas DataFrame from load_results, got {type(frame).__name__}"
        )
    if frame.empty:
        raise ValueError("no results to summarise")
    missing = [c for c in ("run", "protocol", "method", "ratio", value) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame must have the columns of load_results and value={value!r}; missing {missing}"
        )
    frame = frame.copy()
    detectors = frame["detector"] if "detector" in frame.columns else [None] * len(frame)
    frame["method"] = [
        run_label(p, m, d) for p, m, d in zip(frame["protocol"], frame["method"], detectors)
    ]
    table = frame[frame["protocol"] != "dense"].pivot_table(
        index="method", columns="ratio", values=value, aggfunc="std" if spread else "mean"
    )
    eb = sorted(m for m in table.index if m.startswith("eb-"))
    order = [m for m in (*METHODS, *eb) if m in table.index]
    return table.loc[order]


def load_timings(folder: str | Path):
    """The GPU / CPU timing files of ``benchmarks/bench_cifar_timing.py`` under ``folder`` as a
    DataFrame: one row per (device, architecture, ratio), ratio 0 = dense; throughputs in
    images per second, speed-ups relative to the dense network of the same file."""
    import pandas as pd  # pandas takes a second to import: only for tables

    rows = []
    for path in sorted(Path(folder).rglob("timing-*.json")):
        record = read_json(path)
        if record.get("schema") != "spline-pruning-book/timing/v1" or record.get("quick"):
            continue
        device = record["provenance"]["device"]
        for row in record["rows"]:
            rows.append(
                {
                    "device": device,
                    "arch": row["arch"],
                    "ratio": 0.0,
                    "params": row["params_dense"],
                    "flops": row["flops_dense"],
                    "epoch_seconds": row["epoch_seconds_dense"],
                    "training_speedup": 1.0,
                    "inference_speedup": 1.0,
                    "inference_speedup_fp16": 1.0,
                    "throughput": row["throughput_dense"],
                    "throughput_fp16": row["throughput_dense_fp16"],
                    "projected_sweep_hours": row["projected_sweep_hours"],
                    **{f"detector_{k}": v for k, v in row["detector_fraction"].items()},
                }
            )
            for p in row["pruned"]:
                rows.append(
                    {
                        "device": device,
                        "arch": row["arch"],
                        "ratio": p["ratio"],
                        "params": p["params"],
                        "flops": p["flops"],
                        "epoch_seconds": p["epoch_seconds"],
                        "training_speedup": p["training_speedup"],
                        "inference_speedup": p["speedup"],
                        "inference_speedup_fp16": p["speedup_fp16"],
                        "throughput": p["throughput"],
                        "throughput_fp16": p["throughput_fp16"],
                    }
                )
    return pd.DataFrame(rows)
