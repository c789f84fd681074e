"""How the report puts things in the notebook: Markdown text, any displayable object, and styled tables.

The one place the report meets IPython, imported when something is first
shown, so the modules that compute the report import without it.
"""

from __future__ import annotations


def show(*objs):
    """Display objects (tables, images, widgets) in the notebook."""
    from IPython.display import display

    display(*objs)


def show_markdown(text):
    """Show Markdown text in the notebook."""
    from IPython.display import Markdown

    show(Markdown(text))


def styled(table, formats=None):
    """A table for display: no row numbers, 3 decimals, a dash for what one run cannot give (CI, CV).

    `formats` gives some columns a format of their own ({column: "{:g}"}); the
    others keep 3 decimals (a second Styler.format call would reset them to 6).
    """
    return table.style.hide(axis="index").format(formats or {}, precision=3, na_rep="–")
