"""Two small Sphinx fixes for this book, loaded through ``sphinx.local_extensions`` in _config.yml.

* Author-year labels in the bibliography: the text cites author-year (``bibtex_reference_style:
  author_year``), so the references page labels each entry the same way ("Liu et al., 2017")
  instead of with alpha codes ("LLS+17"). Registered as the pybtex style ``author_year_book``.
* No lone search box in a page header: pydata-sphinx-theme 0.16+ draws a header that
  sphinx-book-theme 1.x does not use (``static/book.css`` hides it).
* Each page's inline scripts once: Jupyter Book 1.x registers the inline configuration scripts of
  sphinx-thebe and sphinx-togglebutton twice, and the second ``const THEBE_JS_URL`` is a
  JavaScript error on every page.
"""

from __future__ import annotations

import codecs
from collections import Counter
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


def setup(app):
    app.connect("builder-inited", _static)
    app.add_css_file("book.css")
    app.connect("html-page-context", _scripts_once, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
