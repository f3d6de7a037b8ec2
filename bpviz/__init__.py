"""bpviz: backpropagation diagrams from formulas and small neural-network specs.

>>> g = from_expression("e = (a + b) * (b + 1)", {"a": 2, "b": 1})
>>> g.out.value, g.gradients()
(Fraction(6, 1), {'a': Fraction(2, 1), 'b': Fraction(5, 1)})
"""

from __future__ import annotations

from fractions import Fraction
from typing import Mapping, Optional

from .errors import BpvizError
from .graph import Graph, Node
from .numeric import Number, from_float, parse_number

__all__ = ["from_expression", "parse_values", "Graph", "Node", "BpvizError", "__version__"]
__version__ = "0.1.0"


def to_exact(value) -> Number:
    """A user value as an exact Fraction where it was written exactly (ints, decimal text)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers here")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return from_float(value)
    if isinstance(value, str):
        return parse_number(value)
    raise TypeError(f"not a number: {value!r}")


def from_expression(text: str, values: Optional[Mapping] = None, output: Optional[str] = None) -> Graph:
    """Parse ``text``, then compute values, local derivatives and gradients at ``values``."""
    from .api import build_expression
    return build_expression(text, {k: to_exact(v) for k, v in (values or {}).items()}, output)


def parse_values(text: str) -> dict:
    """Parse ``"w=2, x=-2"`` into exact values (see ``bpviz.cli``'s ``--at``)."""
    from .values import parse_assignments
    return parse_assignments(text)
