"""How an evaluated graph shows itself in Jupyter: ``Graph._repr_svg_`` (the figure),
``_repr_markdown_`` (the derivation) and ``_repr_html_`` (both), so that
``bpviz.from_expression("e = (a + b) * (b + 1)", {"a": 2, "b": 1})`` in a notebook cell draws it.

The figure is drawn with the defaults of ``bpviz expr … -o x.svg``; a graph too large to draw
(docs/limits.md) shows its derivation only, and one without values (shapes only) its figure.
"""

from __future__ import annotations

import re
from typing import Optional

from .errors import BpvizError


def figure_svg(graph) -> Optional[str]:
    """The figure as SVG text, or None when it is too large to draw here."""
    from .api import Options
    from .render import Job, printer
    from .render.dot import too_large
    if too_large(graph):
        return None
    try:
        svg = printer("svg").render(Job(graph=graph, options=Options()))
    except BpvizError:
        return None
    svg = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    return svg[svg.index("<svg"):] if "<svg" in svg else svg     # no XML prolog inside a page


def note_markdown(graph) -> Optional[str]:
    """The derivation as a Markdown fragment (TeX between dollar signs), or None."""
    from .api import Options, note_markdown as fragment
    try:
        text = fragment(graph, Options())
    except BpvizError:
        return None
    return _without_comment(text)


def _without_comment(text: str) -> str:
    """The fragment without its leading HTML comment (advice for Typora users)."""
    return re.sub(r"\A<!--.*?-->\s*", "", text, flags=re.S)


_MATH = re.compile(r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$[^$\n]+?(?<!\\)\$", re.S)


def combined_html(graph) -> str:
    """The figure, then the derivation rendered to HTML with its math left as TeX for the notebook's
    MathJax: math spans are set aside before Markdown runs, so ``\\\\`` and ``_`` stay TeX."""
    import html
    from markdown_it import MarkdownIt
    parts = []
    svg = figure_svg(graph)
    if svg is not None:
        parts.append(f'<div class="bpviz-figure" style="max-width:100%;overflow-x:auto">{svg}</div>')
    note = note_markdown(graph)
    if note is not None:
        spans: list = []

        def hold(match):
            spans.append(match.group(0))
            return f"BPVIZMATH{len(spans) - 1}X"
        body = MarkdownIt("commonmark", {"html": False}).enable("table").render(_MATH.sub(hold, note))
        body = re.sub(r"BPVIZMATH(\d+)X", lambda m: html.escape(spans[int(m.group(1))], quote=False), body)
        parts.append(f'<div class="bpviz-note">{body}</div>')
    return "\n".join(parts)
