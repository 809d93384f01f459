"""The old import path of :mod:`spline_utils.studies.digits_study` (the chapters' studies now have a
sub-package of their own): every name of that module, re-exported."""

from ..studies.digits_study import *  # noqa: F403  (the old path, kept)
from ..studies.digits_study import __all__  # noqa: F401
