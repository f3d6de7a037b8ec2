"""Library entry points that run the whole pipeline: parse -> graph -> values and gradients."""

from __future__ import annotations

from typing import Mapping, Optional

from .autodiff import evaluate
from .graph import Graph
from .parse.expr import parse_program


def build_expression(text: str, values: Mapping, output: Optional[str] = None) -> Graph:
    """Parse an expression program and evaluate it at exact ``values``."""
    graph = parse_program(text, output=output)
    return evaluate(graph, values)


def build_spec(text: str, filename: str = "spec", overrides: Optional[list] = None,
               group: bool = False) -> Graph:
    """Parse a YAML spec (graph or network), apply ``--set`` overrides, and evaluate it."""
    from .errors import ValuesError
    from .parse.spec import load_spec
    graph, values, doc = load_spec(text, filename, overrides, group)
    try:
        return evaluate(graph, values)
    except ValuesError as exc:
        import re
        where = graph.meta.get("values_path", ())
        message = re.sub(r" \(give (it|them) with --at .*\)$", f" (add it under {where[0]}:)" if where else "",
                         exc.message)
        raise doc.error(where, message) from None
