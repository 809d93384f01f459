"""Progress bars that also read well on a static page.

In a live kernel (Jupyter, Colab) and in a terminal, :func:`progress_bar` is ``tqdm.auto``: a widget
or a text bar that updates in place. A static page of the book cannot run the widget's JavaScript,
and a plain text bar leaves carriage returns behind; so when ``SPLINE_BOOK_PROGRESS=text`` (set by
the book's build and by ``make refresh``) the bar is replaced by one line printed when the loop
ends, e.g. ``FCNet study: 10 of 10 done in 43 s``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

PROGRESS_VARIABLE = "SPLINE_BOOK_PROGRESS"


def text_progress() -> bool:
    """``True`` when ``SPLINE_BOOK_PROGRESS=text`` asks for one summary line instead of a bar."""
    value = os.environ.get(PROGRESS_VARIABLE, "").strip().lower()
    if value not in ("", "bar", "text"):
        raise ValueError(
            f"{PROGRESS_VARIABLE}={os.environ[PROGRESS_VARIABLE]!r}: expected 'bar' or 'text'"
        )
    return value == "text"


def _summary(iterable: Iterable, desc: str, total: int | None) -> Iterator:
    start, done = time.perf_counter(), 0
    for item in iterable:
        yield item
        done += 1
    of = f" of {total}" if total is not None else ""
    print(f"{desc}: {done}{of} done in {time.perf_counter() - start:.0f} s", flush=True)


def progress_bar(
    iterable: Iterable, desc: str, total: int | None = None, disable: bool = False, **kwargs
):
    """Iterate over ``iterable`` with a progress display (see the module docstring).

    Args:
        iterable: what to iterate over.
        desc: the label, e.g. ``"FCNet study"``.
        total: the number of items, when ``len(iterable)`` does not give it.
        disable: ``True`` shows nothing at all.
        **kwargs: passed on to ``tqdm`` (e.g. ``leave=False``, ``unit="epoch"``).

    Returns:
        An iterator over the same items.
    """
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if disable:
        return iter(iterable)
    if text_progress():
        return _summary(iterable, desc, total)
    from tqdm.auto import tqdm  # tqdm.auto probes for a notebook: only for a live bar

    return tqdm(iterable, desc=desc, total=total, **kwargs)
