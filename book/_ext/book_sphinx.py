"""Two small Sphinx fixes for this book, loaded through ``sphinx.local_extensions`` in _config.yml.

* Author-year labels in the bibliography: the text cites author-year (``bibtex_reference_style:
  author_year``), so the references page labels each entry the same way ("Liu et al., 2017")
  instead of with alpha codes ("LLS+17"). Registered as the pybtex style ``author_year_book``.
* No lone search box in a page header: pydata-sphinx-theme 0.16+ draws a header that
  sphinx-book-theme 1.x does not use (``static/book.css`` hides it).
* MathJax shipped with the book: the pages load MathJax 3 from ``_static/mathjax`` (``mathjax_path``
  in _config.yml), copied at the end of the build from the MathJax files that the PyPI package
  ``sphinx-mathjax-offline`` carries, so formulas render with no network (a classroom, a train).
* A light page unless the reader picks another mode: sphinx-book-theme leaves the template's
  ``default_mode`` empty, and pydata-sphinx-theme then logs "Got invalid theme mode" as a
  JavaScript error on every page.
* Each page's inline scripts once: Jupyter Book 1.x registers the inline configuration scripts of
  sphinx-thebe and sphinx-togglebutton twice, and the second ``const THEBE_JS_URL`` is a
  JavaScript error on every page.
"""

from __future__ import annotations

import codecs
import shutil
from collections import Counter
from importlib import metadata
from pathlib import Path

import latexcodec  # noqa: F401  (registers the 'ulatex' codec)

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


class AuthorYearLabels(BaseLabelStyle):
    """"Surname, 2018", "Surname and Other, 2018", "Surname et al., 2018" (a, b, ... on ties)."""

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield f"{label}{chr(ord('a') + seen[label])}"
                seen[label] += 1

    @staticmethod
    def _label(entry) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(p.last_names) for p in persons]
        if not names:
            who = entry.fields.get("key", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        who = codecs.decode(who, "ulatex").replace("{", "").replace("}", "")  # Montúfar
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "author_year_book"
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "author_year_book", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "author_year_book", AuthorYearStyle)


def _scripts_once(app, pagename, templatename, context, doctree) -> None:
    if not context.get("default_mode"):
        context["default_mode"] = "light"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""  # inline scripts: None or ""
        key = (filename, tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def _static(app) -> None:
    app.config.html_static_path.append(str(Path(__file__).resolve().parent / "static"))


#: The parts of MathJax 3 a page of this book loads: the TeX-to-CommonHTML component, its fonts,
#: the TeX extensions it may autoload, and the menu with its accessibility extensions.
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y")


def mathjax_source() -> Path:
    """The MathJax 3 folder installed with the PyPI package ``sphinx-mathjax-offline``."""
    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            "the book ships its own MathJax from the package sphinx-mathjax-offline, which is not "
            "installed: pip install -e '.[book]' (make book does)"
        ) from None
    folder = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (folder / "tex-chtml.js").is_file():
        raise RuntimeError(f"no tex-chtml.js in {folder}: reinstall sphinx-mathjax-offline")
    return folder


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def setup(app):
    mathjax_source()  # fail at the start of a build, not after it
    app.connect("builder-inited", _static)
    app.connect("build-finished", _copy_mathjax)
    app.add_css_file("book.css")
    app.connect("html-page-context", _scripts_once, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
