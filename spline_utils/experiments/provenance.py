"""Results files and checkpoints with provenance: the names of :mod:`spline_utils.records`.

The file input and output now lives on the package's ground floor, :mod:`spline_utils.records`,
because the early-bird recorders and the shipped networks need it below the experiment
pipeline; this module keeps the old import path (``spline_utils.experiments.provenance``).
"""

from ..records import (
    RESULT_SCHEMA,
    device_name,
    device_slug,
    git_commit,
    load_checkpoint,
    package_versions,
    provenance,
    read_json,
    save_checkpoint,
    write_device_record,
    write_json,
)

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
