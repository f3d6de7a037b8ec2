"""bpviz: backpropagation diagrams from formulas and small neural-network specs.

>>> g = from_expression("e = (a + b) * (b + 1)", {"a": 2, "b": 1})
>>> g.out.value, g.gradients()
(Fraction(6, 1), {'a': Fraction(2, 1), 'b': Fraction(5, 1)})

``bpviz.api.run`` does a whole job (a figure, a note, JSON) and returns what to write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional

from .errors import BpvizError

if TYPE_CHECKING:                      # for the annotations only: the graph code loads on first use
    from .graph import Graph

__all__ = ["from_expression", "parse_values", "Graph", "Node", "BpvizError", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``Graph`` and ``Node`` on first use: `bpviz --help` need not load the graph code."""
    if name in ("Graph", "Node"):
        from . import graph
        return getattr(graph, name)
    raise AttributeError(f"module 'bpviz' has no attribute {name!r}")


def from_expression(text: str, values: Optional[Mapping] = None, output: Optional[str] = None) -> "Graph":
    """Parse ``text``, then compute values, local derivatives and gradients at ``values`` (numbers
    or decimal text). Every problem is a ``BpvizError``."""
    from .api import build_expression, exact_values
    return build_expression(text, exact_values(values or {}), output)


def parse_values(text: str) -> dict:
    """Parse ``"w=2, x=-2"`` into exact values (see ``bpviz.cli``'s ``--at``)."""
    from .values import parse_assignments
    return parse_assignments(text)
