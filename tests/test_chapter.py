"""`spline_utils.chapter.glue`: what the prose quotes is the value's text."""

import numpy as np
import torch

from spline_utils import chapter


def _glued(monkeypatch, value):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, v, display=False: seen.update({name: v}))
    chapter.glue("key", value)
    return seen["key"]


def test_glue_stores_strings_and_scalars_as_their_text(monkeypatch):
    assert repr(_glued(monkeypatch, "1.9-2.0")) == "1.9-2.0"  # no quotes in the prose
    assert _glued(monkeypatch, "1.9-2.0") == "1.9-2.0"
    assert repr(_glued(monkeypatch, np.int64(97))) == "97"
    assert repr(_glued(monkeypatch, torch.tensor(0.5))) == "0.5"
    assert repr(_glued(monkeypatch, 3)) == "3"
