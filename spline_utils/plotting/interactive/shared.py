"""What the interactive figures share: the static scrubber and the live widget's plumbing.

* :func:`scrubber` -- precomputed frames (matplotlib figures or PNG / WebP bytes) and their
  labels as a :class:`Scrubber`, which a notebook displays as a self-contained HTML snippet: the
  frames embedded as base64 images, a range slider, previous / next / play buttons and a label,
  driven by a few lines of inline JavaScript. It needs no kernel, no server and no network (no
  external script, style sheet or font), so it works in the static HTML page that Jupyter Book
  renders from the notebook's stored output; several on one page do not interfere (each
  rendering gets its own element id). Its root element has the class ``spline-scrubber`` and a
  ``data-frames`` count; ``data-current`` follows the frame shown, and so does the ``src`` of its
  one ``img``, for browser tests.
* :func:`figure_image` -- one figure as compact image bytes (PNG reduced to a 256-colour palette
  when that is smaller, or lossless WebP).
* :func:`live_figure` -- an ipywidgets box of controls and an ``Output`` that redraws a figure
  whenever a control changes; its ``redraw`` is a plain function (tests call it, and read the
  figure's data back from ``box.data``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt

from ...checks import check_int

__all__ = ["Scrubber", "figure_image", "frames_of", "live_figure", "scrubber"]

#: the CSS class of a scrubber's root element (browser tests look for it)
SCRUBBER_CLASS = "spline-scrubber"
_MIME = {"png": "image/png", "webp": "image/webp"}
_renderings = itertools.count()  # one id per rendering: unique on a page, stable across runs


def figure_image(fig, dpi: int = 100, image_format: str = "png", close: bool = True) -> bytes:
    """A matplotlib figure as image bytes for a scrubber frame.

    Args:
        fig: a matplotlib ``Figure``.
        dpi: pixels per inch of figure (100: an 8-inch figure is 800 pixels wide).
        image_format: ``"png"`` (reduced to a 256-colour palette with Pillow when that is
            smaller; figures of lines and flat colours lose nothing visible) or ``"webp"``
            (lossless).
        close: close the figure afterwards (frames are made in loops: keep memory flat).

    Returns:
        The encoded image.
    """
    from PIL import Image  # Pillow comes with matplotlib; only frames need it

    dpi = check_int("dpi", dpi, 10)
    if image_format not in _MIME:
        raise ValueError(f"image_format must be 'png' or 'webp', got {image_format!r}")
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=dpi, facecolor="white")
    if close:
        plt.close(fig)
    image = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    out = io.BytesIO()
    if image_format == "webp":
        image.save(out, format="WEBP", lossless=True, method=4)
        return out.getvalue()
    image.quantize(colors=256).save(out, format="PNG", optimize=True)
    plain = io.BytesIO()
    image.save(plain, format="PNG", optimize=True)
    return min(out.getvalue(), plain.getvalue(), key=len)


def _image_mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValueError("a frame given as bytes must be a PNG or WebP image")


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image  # Pillow comes with matplotlib; only frames need it

    with Image.open(io.BytesIO(data)) as image:
        return image.size


@dataclass
class Scrubber:
    """Precomputed frames with a slider, for a static page (made by :func:`scrubber`).

    Displayed in a notebook it is stored as ``text/html`` (the snippet of :meth:`html`) and
    ``text/plain`` (one line, without the images). Attributes: ``frames`` (encoded images),
    ``labels`` (one per frame), ``title``, ``start`` (the frame shown first), ``alt`` (the
    images' alternative text, before each frame's label), ``min_width`` (``None``: frames
    shrink to the column, ``max-width: 100%``; a number of CSS pixels: frames never narrower,
    scrolled sideways in a narrower column, as the book shows figures on a phone).
    """

    frames: list[bytes]
    labels: list[str]
    title: str | None = None
    start: int = 0
    alt: str = "figure"
    min_width: int | None = None
    _sizes: list[tuple[int, int]] = field(default_factory=list, repr=False)

    def __post_init__(self):
        if not self.frames:
            raise ValueError("a scrubber needs at least one frame")
        if len(self.labels) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames but {len(self.labels)} labels")
        self.labels = [str(label) for label in self.labels]
        self.start = check_int("start", self.start, 0, len(self.frames) - 1)
        if self.min_width is not None:
            self.min_width = check_int("min_width", self.min_width, 1)
        self._mimes = [_image_mime(f) for f in self.frames]
        self._sizes = [_image_size(f) for f in self.frames]

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def size_bytes(self) -> int:
        """Bytes of the HTML snippet (UTF-8), what the page weighs with this figure."""
        return len(self.html(element_id=self._element_id(0)).encode())

    def _element_id(self, count: int) -> str:
        digest = hashlib.sha1(b"".join(self.frames)).hexdigest()[:10]
        return f"{SCRUBBER_CLASS}-{digest}-{count}"

    def html(self, element_id: str | None = None) -> str:
        """The self-contained HTML snippet: a ``div.spline-scrubber`` and its inline script.

        One ``<img>`` shows the current frame (the start frame is its ``src``, so a page
        without JavaScript shows that one); the script holds the other frames as ``data:``
        URIs and swaps the image's ``src`` when the slider or a button moves.

        ``element_id``: the root element's id (default: a new one per call, from the frames'
        digest and a counter, so that every rendering on a page has its own)."""
        if element_id is None:
            element_id = self._element_id(next(_renderings))
        n, start = len(self.frames), self.start
        least = "" if self.min_width is None else f";min-width:{self.min_width}px"
        sources = [
            f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
            for data, mime in zip(self.frames, self._mimes)
        ]
        width, height = self._sizes[start]
        alts = [f"{self.alt}: {label}" for label in self.labels]
        image = (
            f'<img class="{SCRUBBER_CLASS}-frame" width="{width}" height="{height}" '
            f'alt="{html.escape(alts[start])}" '
            f'style="display:block;max-width:100%;height:auto{least}" src="{sources[start]}">'
        )
        title = (
            f'<div class="{SCRUBBER_CLASS}-title" style="font-weight:600;margin:0 0 4px">'
            f"{html.escape(self.title)}</div>"
            if self.title
            else ""
        )
        button = 'style="min-width:2.4em;min-height:2em;padding:0 8px;font:inherit;cursor:pointer"'

        def js(value) -> str:  # a JSON literal that cannot close the script element
            return json.dumps(value).replace("</", "<\\/")

        others = [None if i == start else src for i, src in enumerate(sources)]
        return (
            f'<div class="{SCRUBBER_CLASS}" id="{element_id}" data-frames="{n}" '
            f'data-current="{start}" style="width:100%;box-sizing:border-box;'
            f'font-family:sans-serif;font-size:14px;line-height:1.4;margin:0.5em 0">'
            f"{title}"
            f'<div class="{SCRUBBER_CLASS}-frames" style="overflow-x:auto">{image}</div>'
            f'<input type="range" class="{SCRUBBER_CLASS}-slider" min="0" max="{n - 1}" '
            f'step="1" value="{start}" aria-label="{html.escape(self.alt)}: frame" '
            f'style="display:block;width:100%;box-sizing:border-box;margin:6px 0">'
            f'<div class="{SCRUBBER_CLASS}-controls" style="display:flex;flex-wrap:wrap;'
            f'align-items:center;gap:6px">'
            f'<button type="button" class="{SCRUBBER_CLASS}-prev" aria-label="previous frame" '
            f"{button}>&#9664;</button>"
            f'<button type="button" class="{SCRUBBER_CLASS}-next" aria-label="next frame" '
            f"{button}>&#9654;</button>"
            f'<button type="button" class="{SCRUBBER_CLASS}-play" {button}>play</button>'
            f'<span class="{SCRUBBER_CLASS}-label" aria-live="polite">'
            f"{html.escape(self.labels[start])}</span>"
            f"</div></div>"
            f"<script>(function(){{"
            f'var root=document.getElementById("{element_id}");if(!root)return;'
            f'var q=function(s){{return root.querySelector(".{SCRUBBER_CLASS}-"+s);}};'
            f'var img=q("frame"),slider=q("slider"),label=q("label"),play=q("play"),timer=null;'
            f"var frames={js(others)},sizes={js(self._sizes)},"
            f"labels={js(self.labels)},alts={js(alts)};"
            f'frames[{start}]=img.getAttribute("src");'
            f"function show(i){{i=(i+frames.length)%frames.length;"
            f'img.setAttribute("src",frames[i]);img.setAttribute("alt",alts[i]);'
            f'img.setAttribute("width",sizes[i][0]);img.setAttribute("height",sizes[i][1]);'
            f"slider.value=String(i);label.textContent=labels[i];"
            f'root.setAttribute("data-current",String(i));}}'
            f"function stop(){{if(timer){{clearInterval(timer);timer=null;"
            f'play.textContent="play";}}}}'
            f'slider.addEventListener("input",function(){{stop();show(parseInt(slider.value,10));}});'
            f'q("prev").addEventListener("click",function(){{stop();'
            f"show(parseInt(slider.value,10)-1);}});"
            f'q("next").addEventListener("click",function(){{stop();'
            f"show(parseInt(slider.value,10)+1);}});"
            f'play.addEventListener("click",function(){{if(timer){{stop();return;}}'
            f'play.textContent="pause";timer=setInterval(function(){{'
            f"show(parseInt(slider.value,10)+1);}},800);}});"
            f"}})();</script>"
        )

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        first, last = self.labels[0], self.labels[-1]
        span = first if len(self.labels) == 1 else f"{first} ... {last}"
        kib = self.size_bytes / 1024
        return f"<Scrubber: {self.n_frames} frames ({span}), {kib:,.0f} KiB of HTML>"

    def page(self) -> str:
        """A whole HTML page holding only this scrubber (for screenshots and browser tests)."""
        name = html.escape(self.title or self.alt)
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{name}</title></head><body>{self.html()}</body></html>"
        )


def scrubber(
    frames: Sequence,
    labels: Sequence[str],
    title: str | None = None,
    start: int = 0,
    dpi: int = 100,
    image_format: str = "png",
    alt: str = "figure",
    min_width: int | None = None,
) -> Scrubber:
    """Precomputed frames with a slider that needs no kernel: a :class:`Scrubber`.

    Args:
        frames: matplotlib figures (rendered with :func:`figure_image` at ``dpi`` and closed)
            or PNG / WebP bytes, all of the same size preferably.
        labels: one label per frame, shown beside the slider (``"ratio 50 %"``).
        title: a line above the frames (optional).
        start: the frame shown first (and the one a page without JavaScript shows).
        dpi: pixels per inch for figures.
        image_format: ``"png"`` or ``"webp"`` for figures.
        alt: the images' alternative text (each frame's label is appended).
        min_width: CSS pixels below which frames are not shrunk but scroll sideways (default:
            they shrink to the column).

    Returns:
        The :class:`Scrubber`; display it (the last expression of a cell) to embed it.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> figures = []
        >>> for k in (1, 2):
        ...     fig, ax = plt.subplots(figsize=(2, 1))
        ...     _ = ax.plot([0, 1], [0, k])
        ...     figures.append(fig)
        >>> s = scrubber(figures, ["slope 1", "slope 2"], dpi=50)
        >>> s.n_frames, s.html().count("data:image/png;base64,")  # both frames, inline
        (2, 2)
    """
    if isinstance(frames, (bytes, str)) or not isinstance(frames, Sequence):
        raise TypeError("frames must be a sequence of figures or image bytes")
    if isinstance(labels, (bytes, str)) or not isinstance(labels, Sequence):
        raise TypeError("labels must be a sequence of strings, one per frame")
    encoded = [
        bytes(f)
        if isinstance(f, (bytes, bytearray))
        else figure_image(f, dpi=dpi, image_format=image_format)
        for f in frames
    ]
    return Scrubber(encoded, list(labels), title=title, start=start, alt=alt, min_width=min_width)


def frames_of(draw: Callable, settings: Sequence, dpi: int = 100, image_format: str = "png"):
    """``[figure_image(draw(s)) for s in settings]``: each figure rendered and closed at once."""
    return [figure_image(draw(s), dpi=dpi, image_format=image_format) for s in settings]


def live_figure(controls: dict, rows: Sequence, compute: Callable, draw: Callable):
    """An ipywidgets box that redraws a figure whenever one of ``controls`` changes.

    Args:
        controls: ``{name: widget}``, each with a ``value``; every change triggers a redraw.
        rows: the widgets (or boxes of them) laid out above the figure, in order.
        compute: ``compute(**values) -> data``, the figure's data for the controls' values.
        draw: ``draw(data) -> (figure, text)``, the figure and a line of text shown under it.

    Returns:
        An ``ipywidgets.VBox`` of ``rows`` and an ``Output``, with the plain attributes
        ``controls``, ``output``, ``redraw`` (call it to redraw; it returns the new data) and
        ``data`` (the data drawn last).
    """
    import ipywidgets as widgets  # optional: only a live kernel draws widgets
    from IPython.display import display  # with ipywidgets: a live kernel only

    output = widgets.Output()
    box = widgets.VBox([*rows, output])

    def redraw(*_) -> object:
        data = compute(**{name: c.value for name, c in controls.items()})
        fig, text = draw(data)
        box.data = data
        output.clear_output(wait=True)
        with output:
            display(fig)
            if text:
                print(text)
        plt.close(fig)
        return data

    for control in controls.values():
        control.observe(redraw, names="value")
    box.controls, box.output, box.redraw, box.data = controls, output, redraw, None
    redraw()
    return box
