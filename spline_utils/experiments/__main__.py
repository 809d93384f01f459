"""``python -m spline_utils.experiments``: see :mod:`spline_utils.experiments.cli`."""

import sys

from .cli import main

sys.exit(main())
