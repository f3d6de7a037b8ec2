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
