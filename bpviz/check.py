"""Independent answers for every input's gradient: sympy's diff of the whole expression,
and central finite differences of the float forward pass."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

from .autodiff import forward
from .errors import DomainError, ProgramError
from .graph import PATH_CAP, Graph
from .numeric import Number, as_float, fmt

CLOSED_FORM_NODES = 80      # sympy closed forms only for graphs up to this size
SYMPY_SIZE = 600            # ...and whose output unfolds into at most this many terms (sympy's diff
                            # grows with the unfolded tree, not the graph: 12 lines of repeated products
                            # unfold into 12,000 terms and take minutes); a size, so output stays deterministic
FD_BUDGET = 20_000_000      # node evaluations --check's finite differences may take


def expression_size(graph: Graph) -> int:
    """How many terms the output's expression has when every shared node is written out (at most
    PATH_CAP)."""
    return min(sum(graph.path_counts()), PATH_CAP)


RATIONAL = ("add", "sub", "mul", "div", "neg", "id", "powc", "affine")
SYMPY_DEPTH = 6             # ...and nests at most this many other functions on any path (a power with a
                            # variable exponent counts twice): sympy's diff and evaluation grow with the
                            # nesting (x**x**x**x**x**x, or eight nested sigmoids, take minutes)


def function_depth(graph: Graph) -> int:
    """The most functions other than + − × ÷ and constant powers nested on one path to the output."""
    depth = [0] * len(graph.nodes)
    for node in graph.nodes:
        below = max((depth[i] for i in node.inputs), default=0)
        weight = 0 if node.op is None or node.op.name in RATIONAL else 2 if node.op.name == "pow" else 1
        depth[node.index] = below + weight
    return depth[graph.output]


def sympy_refusal(graph: Graph) -> Optional[tuple]:
    """Why sympy is not given this graph, as (prose key, fields), or None."""
    size = expression_size(graph)
    if size > SYMPY_SIZE:
        return "closed_form_too_large", {"size": f"{size:,}", "limit": SYMPY_SIZE}
    depth = function_depth(graph)
    if depth > SYMPY_DEPTH:
        return "closed_form_too_deep", {"depth": depth, "limit": SYMPY_DEPTH}
    return None


@dataclass
class CheckRow:
    name: str
    ours: Number
    symbolic: Optional[float]          # None: sympy was not asked (the expression is too large)
    numeric: Optional[float]           # None: no finite difference stays inside the domain
    at_kink: bool = False              # the gradient passes a non-differentiable point: not comparable

    @property
    def error(self) -> float:
        scale = max(1.0, abs(float(self.ours)))
        found = [abs(float(self.ours) - x) for x in (self.symbolic, self.numeric) if x is not None]
        return max(found, default=0.0) / scale


@dataclass
class CheckReport:
    rows: list
    tolerance: float
    sympy_skipped: Optional[str] = None    # why sympy was not asked

    @property
    def worst(self) -> float:
        return max((r.error for r in self.rows if not r.at_kink), default=0.0)

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    def to_data(self) -> dict:
        """The report as JSON-ready data (the ``check`` field of docs/json.md)."""
        inputs = {}
        for r in self.rows:
            inputs[r.name] = {"sympy": r.symbolic, "finite_difference": r.numeric}
            if r.at_kink:
                inputs[r.name]["at_kink"] = True
        data = {"tolerance": self.tolerance, "largest_error": self.worst, "agree": self.ok, "inputs": inputs}
        if self.sympy_skipped:
            data["sympy_skipped"] = self.sympy_skipped
        return data


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
    return {name: _real(sympy.diff(out, sym).xreplace(point)) for name, sym in symbols.items()}


def _real(value) -> Optional[float]:
    """A sympy number as a float, or None where it is not a finite real number (x**n at x < 0
    differentiated by n, a singular point)."""
    value = value.evalf(30)
    if not (value.is_real and value.is_finite):
        return None
    return float(value)


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
        value = Fraction(int(value.p), int(value.q)) if value.is_Rational else _real(value)
        if value is None:                 # no real closed-form value here: leave it out
            continue
        grad = graph.node(name).grad
        if isinstance(value, Fraction) and isinstance(grad, Fraction):
            agrees = value == grad
        else:
            ours, theirs = _float(grad), _float(value)
            agrees = ours is not None and theirs is not None and abs(theirs - ours) <= 1e-9 * max(1.0, abs(ours))
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
    """Central finite differences in float64; where a step would leave a function's domain
    (``log(x)`` at x = 1e-7), smaller steps, then one-sided differences; None if none fits."""
    base = {k: float(v) for k, v in graph.values.items()}

    def f(values: dict) -> float:
        return float(forward(graph, values, exact=False)[graph.output])

    def moved(name: str, h: float) -> dict:
        return {**base, name: base[name] + h}

    result = {}
    for name in base:
        x = abs(base[name])
        steps = [step * max(1.0, x)] + ([step * x, step * 1e-3 * x] if x else []) + [step * 1e-3, step * 1e-6]
        result[name] = None
        for h in steps:
            try:
                result[name] = (f(moved(name, h)) - f(moved(name, -h))) / (2 * h)
                break
            except DomainError:
                continue
        else:
            for h in (steps[0], -steps[0]):
                try:
                    result[name] = (f(moved(name, h)) - f(base)) / h
                    break
                except DomainError:
                    continue
    return result


def kinked_inputs(graph: Graph) -> set:
    """Inputs whose gradient passes an edge where the local derivative is a convention (relu or abs
    at 0, a power's exponent at a negative base): a finite difference or sympy is not comparable."""
    upstream = [False] * len(graph.nodes)
    for node in graph.nodes:
        if node.op is None or not node.op.kink:
            continue
        values = [graph.nodes[i].value for i in node.inputs]
        if graph.matrix:            # an array at a kink: any entry of its first operand at 0
            from .tensor import as_array, to_float
            kink = (None, None, (0,)) if not callable(node.op.kink) and (to_float(as_array(values[0])) == 0).any() \
                else None
        else:
            kink = node.op.kink_at(values, graph.operand_names(node))
        for slot in (kink[2] if kink else ()):
            upstream[node.inputs[slot]] = True
    for node in reversed(graph.nodes):
        if upstream[node.index]:
            for i in node.inputs:
                upstream[i] = True
    return {n.name for n in graph.inputs if upstream[n.index]}


def _float(value) -> Optional[float]:
    return as_float(value) if isinstance(value, Fraction) else float(value)


MATRIX_CHECK_ENTRIES = 2_000     # matrix mode: finite differences for at most this many input entries


def check_matrix(graph: Graph, tolerance: float = 1e-5) -> CheckReport:
    """Matrix mode: central finite differences entry by entry (sympy is not given arrays), for up to
    MATRIX_CHECK_ENTRIES entries spread evenly over every input."""
    import numpy as np
    from .autodiff import forward_arrays
    from .tensor import as_array, index_text, to_float
    if graph.shapes_only:
        raise ProgramError("--check compares numbers, and shape-only mode (--shape) has none")
    base = {name: to_float(as_array(v)) for name, v in graph.values.items()}
    total = sum(a.size for a in base.values())
    stride = max(1, -(-total // MATRIX_CHECK_ENTRIES))

    def f(values: dict) -> float:
        return float(to_float(as_array(forward_arrays(graph, values)[graph.output])))

    kinked = kinked_inputs(graph)
    rows, seen = [], 0
    for name, array in base.items():
        grad = as_array(graph.node(name).grad)
        for index in np.ndindex(*array.shape):
            seen += 1
            if (seen - 1) % stride:
                continue
            x = float(array[index])
            numeric = None
            for h in (1e-6 * max(1.0, abs(x)), 1e-9 * max(1.0, abs(x))):
                up, down = array.copy(), array.copy()
                up[index], down[index] = x + h, x - h
                try:
                    numeric = (f({**base, name: up}) - f({**base, name: down})) / (2 * h)
                    break
                except DomainError:
                    continue
            ours = grad[index] if grad.shape else grad[()]
            rows.append(CheckRow(f"{name}{index_text(index)}", ours, None, numeric, name in kinked))
    skipped = "sympy is not given matrix programs; central finite differences entry by entry"
    if stride > 1:
        skipped += f" (every {stride}th of {total:,} entries)"
    return CheckReport(rows, tolerance, skipped)


def check(graph: Graph, tolerance: float = 1e-5) -> CheckReport:
    if graph.matrix:
        return check_matrix(graph, tolerance)
    inputs = len(graph.inputs)
    for node in graph.nodes:
        if node.kind != "const" and (_float(node.value) is None or _float(node.grad) is None):
            raise ProgramError(f"--check compares in 64-bit floats, which cannot hold {node.name} = "
                               f"{fmt(node.value)} (∂/∂{node.name} = {fmt(node.grad)}); check it at smaller values")
    if 2 * inputs * len(graph.nodes) > FD_BUDGET:
        raise ProgramError(f"--check would evaluate the {len(graph.nodes):,}-node graph {2 * inputs:,} times, "
                           f"more than the {FD_BUDGET:,} node evaluations it may take; check a smaller graph")
    skipped, symbolic = None, {}
    refusal = sympy_refusal(graph)
    if refusal is not None:
        key, fields = refusal
        skipped = (f"the expression unfolds into {fields['size']} terms, more than the {SYMPY_SIZE} sympy is given"
                   if key == "closed_form_too_large" else
                   f"the expression nests {fields['depth']} functions, more than the {SYMPY_DEPTH} sympy is given")
        skipped += "; finite differences only"
    else:
        try:
            symbolic = sympy_gradient(graph)
        except RecursionError:
            skipped = "sympy ran out of recursion on this expression; finite differences only"
    numeric = numeric_gradient(graph)
    kinked = kinked_inputs(graph)
    rows = [CheckRow(n.name, n.grad, symbolic.get(n.name), numeric[n.name], n.name in kinked)
            for n in graph.inputs]
    return CheckReport(rows, tolerance, skipped)
