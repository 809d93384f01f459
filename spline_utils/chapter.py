"""What every chapter does first, in one place: threads, seeds, and the line naming the run.

A chapter's first code cell installs the package when it runs in Colab (that cell must live in
the notebook, since the package is not there yet), then calls :func:`setup`. Numbers that the
prose quotes are handed to the book with :func:`glue`, so the text always shows what the cell
computed.
"""

from __future__ import annotations

import numbers
import os
import textwrap

import torch

from .mode import describe_run
from .seeding import seed_everything

__all__ = ["glue", "setup", "wrap"]


def setup(seed: int = 0, threads: int | None = None, quiet: bool = False) -> int:
    """Prepare a chapter's kernel: ``torch`` threads, every seed, and one line naming the run.

    Args:
        seed: the seed for Python, NumPy and torch (:func:`~spline_utils.seeding.seed_everything`).
        threads: CPU threads for torch; default: the environment variable
            ``SPLINE_BOOK_THREADS``, else 2 (the book's CI machines and a Colab CPU). Use 1 when
            other programs share the cores: threads that wait for each other on an oversubscribed
            CPU can make training many times slower.
        quiet: ``True`` skips the printed line.

    Returns:
        ``seed``, for the chapter to pass on.

    Raises:
        ValueError: ``threads`` is not a positive integer, or ``seed`` is not a non-negative one.

    Example:
        >>> setup(seed=0, quiet=True)
        0
    """
    if threads is None:
        threads = os.environ.get("SPLINE_BOOK_THREADS", "2")
        threads = int(threads) if threads.strip().isdigit() else threads
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    torch.set_num_threads(int(threads))
    seed = seed_everything(seed)
    if not quiet:
        print(describe_run(), "| seed", seed)
    return seed


def glue(name: str, value) -> None:
    """Hand ``value`` to the book under ``name`` (MyST-NB's ``glue``, not displayed), so that the
    prose can quote it with ``{glue:text}`name```.

    Outside a book build without MyST-NB (a Colab session) nothing is recorded: the prose then
    shows the role's text, and the cell's own output still shows the number.

    Args:
        name: the key the prose uses, an identifier-like string.
        value: the value; a NumPy or torch scalar is stored as a Python number (so the text
            reads 97, not ``np.int64(97)``). A string is stored with its quotes, which
            MyST-NB's ``glue:text`` removes (it reads the stored text as a Python literal).

    Returns:
        ``None``; nothing is displayed.

    Raises:
        ValueError: ``name`` is not an identifier-like string.

    Example:
        >>> glue("n_regions", torch.tensor(97))  # shown in the text as 97
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a NumPy / torch scalar
        value = value.item()  # so the text reads 97, not np.int64(97)
    try:
        from myst_nb import glue as myst_glue  # only in a book build: imported when used
    except ImportError:
        return
    myst_glue(name, value, display=False)


def wrap(text, width: int = 88) -> str:
    """``str(text)`` with every line longer than ``width`` characters folded (continuation lines
    indented under the line's own indentation, plus two), so printed output fits the book's code
    column; e.g. ``print(su.chapter.wrap(model))``."""
    width = int(width)
    if width < 20:
        raise ValueError(f"width must be at least 20 characters, got {width}")
    lines = []
    for line in str(text).splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        lines.append(
            textwrap.fill(line, width, subsequent_indent=indent + "  ", break_on_hyphens=False)
            if len(line) > width
            else line
        )
    return "\n".join(lines)
