"""Independent answers for every input's gradient: sympy's diff of the whole expression,
and central finite differences of the float forward pass."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .autodiff import forward
from .graph import Graph
from .numeric import Number

CLOSED_FORM_NODES = 80      # sympy closed forms only for graphs up to this size


@dataclass
class CheckRow:
    name: str
    ours: Number
    symbolic: float
    numeric: float

    @property
    def error(self) -> float:
        scale = max(1.0, abs(float(self.ours)))
        return max(abs(float(self.ours) - self.symbolic), abs(float(self.ours) - self.numeric)) / scale


@dataclass
class CheckReport:
    rows: list
    tolerance: float

    @property
    def worst(self) -> float:
        return max((r.error for r in self.rows), default=0.0)

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    def to_data(self) -> dict:
        """The report as JSON-ready data (the ``check`` field of docs/json.md)."""
        return {"tolerance": self.tolerance, "largest_error": self.worst, "agree": self.ok,
                "inputs": {r.name: {"sympy": r.symbolic, "finite_difference": r.numeric} for r in self.rows}}


@dataclass
class ClosedForm:
    """sympy's ∂output/∂name: the expression, its symbols by node name, its value at the point,
    and whether that value agrees with the reverse walk's gradient."""
    expression: object
    symbols: dict
    value: Number
    agrees: bool


def sympy_expressions(graph: Graph) -> tuple:
    """The whole graph as sympy expressions of the input symbols: (symbols, exprs by index)."""
    import sympy
    symbols, exprs = {}, []
    for node in graph.nodes:
        if node.kind == "input":
            symbols[node.name] = sympy.Symbol(node.name, real=True)
            exprs.append(symbols[node.name])
        elif node.kind == "const":
            exprs.append(sympy.Rational(node.param.numerator, node.param.denominator))
        else:
            exprs.append(node.op.sympy([exprs[i] for i in node.inputs], node.param))
    return symbols, exprs


def sympy_gradient(graph: Graph) -> dict:
    """∂output/∂input from sympy.diff of the whole expression, evaluated exactly then as float."""
    import sympy
    symbols, out, point = _output_at_point(graph)
    return {name: float(sympy.diff(out, sym).xreplace(point).evalf(30)) for name, sym in symbols.items()}


def closed_forms(graph: Graph, names: list) -> dict:
    """sympy's closed form of ∂output/∂name for each name: {name: ClosedForm}.

    The derivative is sympy's own ``diff`` with common factors pulled out; ``simplify`` is not
    used, since it can take minutes and often returns a less readable form (Abs turned into
    Piecewise).
    """
    import sympy
    symbols, out, point = _output_at_point(graph)
    result = {}
    for name in names:
        derivative = sympy.factor_terms(sympy.diff(out, symbols[name]))
        value = derivative.xreplace(point)
        value = Fraction(int(value.p), int(value.q)) if value.is_Rational else float(value.evalf(30))
        ours = float(graph.node(name).grad)
        agrees = abs(float(value) - ours) <= 1e-9 * max(1.0, abs(ours))
        result[name] = ClosedForm(derivative, symbols, value, agrees)
    return result


def _output_at_point(graph: Graph) -> tuple:
    """The input symbols, the output as a sympy expression, and the point as sympy numbers."""
    import sympy
    symbols, exprs = sympy_expressions(graph)
    point = {symbols[name]: sympy.Rational(v.numerator, v.denominator) if hasattr(v, "numerator")
             else sympy.Float(v) for name, v in graph.values.items()}
    return symbols, exprs[graph.output], point


def numeric_gradient(graph: Graph, step: float = 1e-6) -> dict:
    """Central finite differences in float64."""
    base = {k: float(v) for k, v in graph.values.items()}
    result = {}
    for name in base:
        h = step * max(1.0, abs(base[name]))
        up, down = dict(base), dict(base)
        up[name] += h
        down[name] -= h
        f_up = forward(graph, up, exact=False)[graph.output]
        f_down = forward(graph, down, exact=False)[graph.output]
        result[name] = (float(f_up) - float(f_down)) / (2 * h)
    return result


def check(graph: Graph, tolerance: float = 1e-5) -> CheckReport:
    symbolic = sympy_gradient(graph)
    numeric = numeric_gradient(graph)
    rows = [CheckRow(n.name, n.grad, symbolic[n.name], numeric[n.name]) for n in graph.inputs]
    return CheckReport(rows, tolerance)
