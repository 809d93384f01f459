"""The old import path of :mod:`spline_utils.studies.fcnet_study` (the chapters' studies now have a
sub-package of their own): every name of that module, re-exported."""

from ..studies.fcnet_study import *  # noqa: F403  (the old path, kept)
from ..studies.fcnet_study import __all__  # noqa: F401
