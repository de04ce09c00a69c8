"""The bibliography as an author-year list (a Sphinx extension loaded from `_config.yml`).

The text cites author-year ("Hinton (2002)"), so the references page lists the works the
same way: sorted by author, then year, then title, each entry opening with its authors and
year, "Hinton, Geoffrey E. (2002). Training products of experts ...", and no numbers.

`_config.yml` selects the style with ``bibtex_default_style: rbm_author_year``. Its labels
(which sphinxcontrib-bibtex needs for the list, and the stylesheet hides) are author-year
too, "Hinton 2002", with a, b, ... for one author's works of one year.
"""

from __future__ import annotations

import string
from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting import toplevel
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.formatting.unsrt import pages
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.template import (
    field,
    first_of,
    join,
    optional,
    optional_field,
    sentence,
    tag,
    words,
)

STYLE = "rbm_author_year"


def _last_names(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year_label(entry) -> str:
    """'Hinton 2002', 'Salakhutdinov and Murray 2008', 'Ackley et al. 1985'."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in people]
    if not names:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who} {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels; one author's works of one year get 2002a, 2002b, ..."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(e) for e in entries]
        counts = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if counts[label] > 1:
                suffix = string.ascii_lowercase[seen[label]]
                seen[label] += 1
                yield label + suffix
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt entries with the year moved up behind the authors, names last-first,
    sorted by author, year and title."""

    default_name_style = "lastfirst"
    default_label_style = STYLE
    default_sorting_style = "author_year_title"

    def author_year(self, role="author"):
        """'Hinton, Geoffrey E. (2002).'"""
        return sentence[
            words[self.format_names(role, as_sentence=False), join["(", field("year"), ")"]]
        ]

    def get_article_template(self, e):
        volume_and_pages = optional[
            join[field("volume"), optional["(", field("number"), ")"], optional[":", pages]]
        ]
        return self._entry(
            e,
            self.format_title(e, "title"),
            sentence[tag("em")[field("journal")], volume_and_pages],
        )

    def get_book_template(self, e):
        return self._entry(
            e,
            self.format_btitle(e, "title"),
            self.format_volume_and_series(e),
            sentence[field("publisher"), optional_field("address"), self.format_edition(e)],
            role="author" if "author" in e.persons else "editor",
        )

    def get_incollection_template(self, e):
        return self._entry(
            e,
            self.format_title(e, "title"),
            words[
                "In",
                sentence[
                    optional[self.format_editor(e, as_sentence=False)],
                    self.format_btitle(e, "booktitle", as_sentence=False),
                    self.format_volume_and_series(e, as_sentence=False),
                    self.format_chapter_and_pages(e),
                ],
            ],
            sentence[optional_field("publisher"), optional_field("address")],
        )

    def get_inproceedings_template(self, e):
        return self._entry(
            e,
            self.format_title(e, "title"),
            words[
                "In",
                sentence[
                    optional[self.format_editor(e, as_sentence=False)],
                    self.format_btitle(e, "booktitle", as_sentence=False),
                    self.format_volume_and_series(e, as_sentence=False),
                    optional[words["pages", pages]],
                ],
            ],
            sentence[
                optional_field("address"),
                optional_field("organization"),
                optional_field("publisher"),
            ],
        )

    def get_misc_template(self, e):
        return self._entry(
            e,
            optional[self.format_title(e, "title")],
            sentence[optional[field("howpublished")]],
        )

    def get_techreport_template(self, e):
        return self._entry(
            e,
            self.format_title(e, "title"),
            sentence[
                words[
                    first_of[optional_field("type"), "Technical Report"],
                    optional_field("number"),
                ],
                field("institution"),
                optional_field("address"),
            ],
        )

    def get_phdthesis_template(self, e):
        return self._entry(
            e,
            self.format_btitle(e, "title"),
            sentence[
                first_of[optional_field("type"), "PhD thesis"],
                field("school"),
                optional_field("address"),
            ],
        )

    def _entry(self, e, *parts, role="author"):
        return toplevel[
            [
                self.author_year(role),
                *parts,
                sentence[optional_field("note")],
                self.format_web_refs(e),
            ]
        ]


register_plugin("pybtex.style.labels", STYLE, AuthorYearLabels)
register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
