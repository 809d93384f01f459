"""`spline_utils.chapter.glue`: what the prose quotes is the value's text."""

import ast

import numpy as np
import torch

from spline_utils import chapter


def _glued(monkeypatch, value):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, v, display=False: seen.update({name: v}))
    chapter.glue("key", value)
    return seen["key"]


def test_glue_stores_scalars_as_numbers_and_strings_that_read_back_as_themselves(monkeypatch):
    assert repr(_glued(monkeypatch, np.int64(97))) == "97"
    assert repr(_glued(monkeypatch, torch.tensor(0.5))) == "0.5"
    # MyST-NB's glue:text reads the stored text/plain back with ast.literal_eval: a string must
    # come back unchanged, commas and signs included (a bare "10, 12" would read as a tuple)
    for text in ("10, 12, 13", "+2.8, +6.7, -3.8", "1.50", "near = 1"):
        assert ast.literal_eval(repr(_glued(monkeypatch, text))) == text


def test_no_checked_cell_glues():
    """A cell whose output nbval checks must not glue: glue adds an output that only a kernel with
    MyST-NB records, so the simulated-Colab pass (no MyST-NB) would see the outputs differ."""
    import json
    from pathlib import Path

    offenders = []
    for path in sorted((Path(__file__).resolve().parents[1] / "book").glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            tags = cell.get("metadata", {}).get("tags", [])
            if cell["cell_type"] == "code" and "nbval-check-output" in tags:
                if "glue(" in "".join(cell["source"]):
                    offenders.append(f"{path.name} cell {index}")
    assert not offenders, f"checked cells that glue: {offenders}"
