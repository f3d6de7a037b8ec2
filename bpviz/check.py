"""Independent answers for every input's gradient: sympy's diff of the whole expression (small
expressions only), central finite differences of the float forward pass input by input (every input on
small graphs, an even sample on big ones), and a directional check whose cost does not grow with the
number of inputs: ∇f·d against (f(x + h·d) − f(x − h·d)) / 2h for a few seeded random directions d."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Optional

from .autodiff import forward
from .errors import DomainError, ProgramError
from .graph import PATH_CAP, Graph
from .numeric import Number, as_float, fmt

CLOSED_FORM_NODES = 80      # sympy closed forms only for graphs up to this size
SYMPY_SIZE = 600            # ...and whose output unfolds into at most this many terms (sympy's diff
                            # grows with the unfolded tree, not the graph: 12 lines of repeated products
                            # unfold into 12,000 terms and take minutes); a size, so output stays deterministic
PER_INPUT_BUDGET = 1_000_000   # node evaluations for the input-by-input differences (EVALUATIONS per
                               # input per node); past it, an evenly spread sample of the inputs (the
                               # directional check covers every input, at 4 evaluations of the graph per direction)
EVALUATIONS = 4             # a central difference at h and at h/10: their gap is its error (_first_settled)
SETTLED = 1e-6              # a difference whose error estimate is larger, relative to max(1, |difference|),
                            # is no answer (a tenth of check's tolerance): its step crossed a pole (1/x at
                            # x = 1e-7, h = 1e-6), or the output's rounding drowns the change (1e8 + x³)
DIRECTIONS = 3              # seeded random directions for the directional check
DIRECTION_SEED = 14         # ...so the same graph always gives the same report


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
    numeric: Optional[float]           # None: no finite difference stays inside the domain, or not sampled
    at_kink: bool = False              # the gradient passes a non-differentiable point (or a finite
                                       # difference's step crosses one): not comparable
    sampled: bool = True               # False: a big graph, and this input's finite difference was not taken
    custom: bool = False               # the gradient passes a custom gradient (@grad): compared with sympy
                                       # of the surrogate only, never with finite differences

    @property
    def compared(self) -> bool:
        """Whether anything was compared with this gradient (a custom path whose expression was too
        big for sympy has nothing to compare with: finite differences measure the true function)."""
        return self.at_kink or any(x is not None for x in
                                   ((self.symbolic,) if self.custom else (self.symbolic, self.numeric)))

    @property
    def error(self) -> float:
        scale = max(1.0, abs(float(self.ours)))
        compared = (self.symbolic,) if self.custom else (self.symbolic, self.numeric)
        found = [abs(float(self.ours) - x) for x in compared if x is not None]
        return max(found, default=0.0) / scale


@dataclass
class DirectionRow:
    """One direction d of the directional check: ∇f·d from bpviz's gradients against the central
    difference (f(x + h·d) − f(x − h·d)) / 2h; the error is relative to max(1, scale), scale being
    √Σ(∂f/∂xᵢ · dᵢ)², the size a sum of terms with random signs has (∇f·d itself may cancel to 0; the
    sum of the terms' sizes would hide one wrong gradient among thousands)."""
    ours: float
    numeric: Optional[float]           # None: no step along d stays inside the domain
    scale: float
    held: int = 0                      # inputs held where they are: their gradient passes a near-kink

    @property
    def error(self) -> float:
        return 0.0 if self.numeric is None else abs(self.ours - self.numeric) / max(1.0, self.scale)


@dataclass
class CheckReport:
    rows: list
    tolerance: float
    sympy_skipped: Optional[str] = None    # why sympy was not asked
    directions: list = field(default_factory=list)     # DirectionRow per direction
    direction_seed: Optional[int] = None   # None: no directional check (matrix mode, or every input at a kink)
    per_input_skipped: Optional[str] = None     # why some inputs have no finite difference of their own

    @property
    def worst(self) -> float:
        rows = max((r.error for r in self.rows if not r.at_kink), default=0.0)
        return max([rows] + [d.error for d in self.directions])

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
            if not r.sampled:
                inputs[r.name]["sampled"] = False
            if r.custom:
                inputs[r.name]["custom"] = True
            if not r.compared:
                inputs[r.name]["compared"] = False
        data = {"tolerance": self.tolerance, "largest_error": self.worst, "agree": self.ok, "inputs": inputs}
        if self.sympy_skipped:
            data["sympy_skipped"] = self.sympy_skipped
        if self.per_input_skipped:
            data["per_input_skipped"] = self.per_input_skipped
        if self.direction_seed is not None:
            data["directional"] = {
                "seed": self.direction_seed,
                "directions": [{"ours": d.ours, "finite_difference": d.numeric, "scale": d.scale,
                                "error": d.error, **({"held": d.held} if d.held else {})}
                               for d in self.directions]}
        return data


@dataclass
class ClosedForm:
    """sympy's ∂output/∂name: the expression, its symbols by node name, its value at the point,
    and whether that value agrees with the reverse walk's gradient."""
    expression: object
    symbols: dict
    value: Number
    agrees: bool


def sympy_expressions(graph: Graph, inputs: Optional[dict] = None) -> tuple:
    """The whole graph as sympy expressions of the input symbols: (symbols, exprs by index). A node with
    a custom gradient is a sympy function whose value is the op's and whose derivative is the
    surrogate's, so sympy's diff of the whole expression follows the surrogate. ``inputs`` gives the
    inputs' expressions by name (a custom-gradient rule's operands)."""
    import sympy
    symbols, exprs = {}, []
    for node in graph.nodes:
        if node.kind == "input":
            symbols[node.name] = sympy.Symbol(node.name, real=True)
            exprs.append(inputs[node.name] if inputs is not None else symbols[node.name])
        elif node.kind == "const":
            exprs.append(sympy.Rational(node.param.numerator, node.param.denominator))
        elif node.custom:
            exprs.append(_surrogate_function(node)(*[exprs[i] for i in node.inputs]))
        else:
            exprs.append(node.op.sympy([exprs[i] for i in node.inputs], node.param))
    return symbols, exprs


def _surrogate_function(node):
    """A sympy function class for a node with custom gradients: its value the op's (at numbers), its
    derivative by each operand the surrogate's rule, or the op's own where no rule replaces it."""
    import sympy
    dummies = [sympy.Dummy(f"a{i}", real=True) for i in range(len(node.inputs))]
    true = node.op.sympy(dummies, node.param)
    rules = []
    for slot, surrogate in enumerate(node.custom):
        if surrogate is None:
            rules.append(sympy.diff(true, dummies[slot]))
        else:
            operands = {name: dummies[i] for name, i in surrogate.slots}
            rule = surrogate.rule
            rules.append(sympy_expressions(rule, operands)[1][rule.output])

    def eval_(cls, *args):
        if all(a.is_number for a in args):
            return true.xreplace(dict(zip(dummies, args)))
        return None

    def fdiff(self, argindex=1):
        return rules[argindex - 1].xreplace(dict(zip(dummies, self.args)))

    def real(self):                 # every op is real-valued on real operands: sympy may differentiate
        return True                 # sign(f(x)) and abs(f(x)) through it
    return type(node.op.name, (sympy.Function,), {"nargs": len(dummies), "eval": classmethod(eval_),
                                                  "fdiff": fdiff, "_eval_is_extended_real": real,
                                                  "_eval_is_real": real})


def sympy_gradient(graph: Graph) -> dict:
    """∂output/∂input from sympy.diff of the whole expression, evaluated exactly then as float."""
    import sympy
    symbols, out, point = _output_at_point(graph)
    result = {}
    for name, sym in symbols.items():
        derivative = sympy.diff(out, sym)
        if derivative.has(sympy.Derivative):        # sympy could not differentiate it through
            result[name] = None
            continue
        try:
            result[name] = _real(derivative.xreplace(point))
        except (ValueError, TypeError):
            result[name] = None
    return result


def _real(value) -> Optional[float]:
    """A sympy number as a float, or None where it is not a finite real number (x**n at x < 0
    differentiated by n, a singular point)."""
    value = value.evalf(30)
    if not (value.is_real and value.is_finite):
        return None
    try:
        return float(value)
    except TypeError:                   # DiracDelta(0): sign's or step's derivative at its jump
        return None


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
        try:
            value = derivative.xreplace(point)
        except ValueError:      # a derivative sympy leaves unevaluated (sign(sqrt(x))): no value at a number
            continue
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


def numeric_gradient(graph: Graph, step: float = 1e-6, names: Optional[list] = None,
                     crossed: Optional[set] = None) -> dict:
    """Central finite differences in float64 for ``names`` (every input by default), from the largest
    step down to the first whose difference has settled (_first_settled); one-sided ones where every
    central step leaves a function's domain (``log(x)`` at x = 1e-300); None if none settles. A step
    that carries a piecewise op (relu, sign, floor, max, …) onto another piece measures the jump or the
    kink, not the derivative: a smaller one is tried, and an input that no step keeps on its pieces
    is added to ``crossed``."""
    base = {k: float(v) for k, v in graph.values.items()}
    watched = [node for node in graph.nodes if node.op is not None and node.op.piece is not None]
    pieces = _pieces(watched, forward(graph, base, exact=False)) if watched else None

    def f(values: dict) -> float:
        result = forward(graph, values, exact=False)
        if watched and _pieces(watched, result) != pieces:
            crossing.append(True)
        return float(result[graph.output])
    crossing: list = []

    result = {}
    for name in (base if names is None else names):
        x = base[name]
        steps = [step * max(1.0, abs(x))] + ([step * abs(x), step * 1e-3 * abs(x)] if x else []) + \
            [step * 1e-3, step * 1e-6]
        crossed_here = []

        def quotient(h: float, one_sided: bool) -> tuple:
            crossing.clear()
            up, down = x + h, (x if one_sided else x - h)      # the steps as floats hold them
            high, low = f({**base, name: up}), f({**base, name: down})
            if crossing:
                crossed_here.append(True)
                return math.nan, 0.0
            return (high - low) / (up - down), _rounding(high, low, up - down)

        central, one_sided = partial(quotient, one_sided=False), partial(quotient, one_sided=True)
        result[name] = _first_settled([(central, h) for h in steps] +
                                      [(one_sided, steps[0]), (one_sided, -steps[0])])
        if result[name] is None and crossed_here and crossed is not None:
            crossed.add(name)
    return result


def _rounding(high: float, low: float, step: float) -> float:
    """How much of a difference quotient the output's own rounding can be."""
    return sys.float_info.epsilon * max(abs(high), abs(low)) / abs(step)


def _first_settled(estimates: list) -> Optional[float]:
    """The first finite difference of ``estimates``, [(rule, h)] from the largest step down, whose error
    estimate is within SETTLED, where rule(h) is (difference, rounding); None if none is (every step
    leaves the domain, or crosses a pole, or rounding drowns it). A difference's error is its rounding
    plus its truncation, which is the gap to the same rule at h/10 less what rounding explains of it
    (the gap a step across a pole opens is wild, even of the wrong sign)."""
    for rule, h in estimates:
        try:
            difference, rounding = rule(h)
            finer, finer_rounding = rule(h / 10)
        except DomainError:
            continue
        if not (math.isfinite(difference) and math.isfinite(finer)):
            continue
        truncation = max(0.0, abs(difference - finer) - rounding - finer_rounding)
        if truncation + rounding <= SETTLED * max(1.0, abs(difference)):
            return difference
    return None


def _pieces(watched: list, values: list) -> list:
    """Which piece each piecewise node's operands are in."""
    return [node.op.piece([values[i] for i in node.inputs]) for node in watched]


def directional_check(graph: Graph, skip: set, count: int = DIRECTIONS, seed: int = DIRECTION_SEED,
                      step: float = 1e-6) -> list:
    """``count`` DirectionRows: for seeded random directions d, ∇f·d from the graph's gradients against
    (f(x + h·d) − f(x − h·d)) / 2h. Two forward passes per direction, whatever the number of inputs.

    Every input not in ``skip`` (at a kink: it stays where it is) moves, by ±(0.5 to 1.5) × max(1, |x|),
    so no gradient is left out and none can cancel another exactly; where that step leaves a function's
    domain (``log(x)`` at x = 1e-7), by ±(0.5 to 1.5) × |x| (1 at 0). Where a step carries the operand of
    a relu or abs across 0 (moving every input at once makes that likelier than moving one), h shrinks
    (1e-6, 1e-8, 1e-10); an operand that still crosses is so near its kink (relu(x − 0.1 − 0.2 + 0.3)) that
    the inputs it depends on are held where they are, as at a kink, and counted in the row's ``held``."""
    import random
    rng = random.Random(seed)
    base = {k: float(v) for k, v in graph.values.items()}
    grads = {n.name: _float(n.grad) for n in graph.inputs}
    watched = [node for node in graph.nodes if node.op is not None and node.op.piece is not None]
    at_base = _pieces(watched, forward(graph, base, exact=False))

    def evaluate(values: dict) -> tuple:
        """The output at ``values`` and the watched nodes whose operands moved onto another piece (across
        a kink or jump, or off one they sat on: exactly at a kink its inputs do not move at all)."""
        result = forward(graph, values, exact=False)
        now = _pieces(watched, result)
        return float(result[graph.output]), [node.index for node, a, b in zip(watched, at_base, now) if a != b]

    rows = []
    for _ in range(count):
        v = {name: rng.choice((-1.0, 1.0)) * (0.5 + rng.random()) for name in base}
        held = set(skip)
        for _attempt in range(3):               # a near-kink operand: hold its inputs, try again
            moving = [name for name in base if name not in held]
            row, crossed = _direction(base, grads, v, moving, evaluate, step)
            if not crossed:
                break
            held |= upstream_inputs(graph, crossed)
        row.held = len(held) - len(skip)
        rows.append(row)
    return rows


def _direction(base: dict, grads: dict, v: dict, moving: list, evaluate, step: float) -> tuple:
    """One DirectionRow along v over ``moving``, and the watched operands that still cross their kink at
    the smallest step (empty when the row has its difference, or no step stays in the domain)."""
    row, crossed = DirectionRow(0.0, None, 0.0), []
    for size in ("absolute", "relative"):
        d = {name: v[name] * (max(1.0, abs(base[name])) if size == "absolute" else abs(base[name]) or 1.0)
             for name in moving}
        terms = [grads[name] * d[name] for name in moving]
        largest = max(map(abs, terms), default=0.0) or 1.0    # sums of squares without overflow
        row = DirectionRow(math.fsum(terms), None, largest * math.sqrt(math.fsum((t / largest) ** 2 for t in terms)))
        crossed = []

        def difference(h: float) -> tuple:
            nonlocal crossed
            up, crossed_up = evaluate({**base, **{name: base[name] + h * d[name] for name in moving}})
            down, crossed_down = evaluate({**base, **{name: base[name] - h * d[name] for name in moving}})
            crossed = crossed_up + crossed_down
            if crossed:                     # across a kink: no answer at this step, a smaller one may do
                return math.nan, 0.0
            return (up - down) / (2 * h), _rounding(up, down, 2 * h)

        row.numeric = _first_settled([(difference, h) for h in (step, step * 1e-2, step * 1e-4, step * 1e-6)])
        if row.numeric is not None or crossed:
            break
    return row, crossed


def upstream_inputs(graph: Graph, indices: list) -> set:
    """The names of the inputs the nodes at ``indices`` depend on."""
    seen = [False] * len(graph.nodes)
    for i in indices:
        seen[i] = True
    for node in reversed(graph.nodes):
        if seen[node.index]:
            for i in node.inputs:
                seen[i] = True
    return {n.name for n in graph.inputs if seen[n.index]}


def custom_inputs(graph: Graph) -> set:
    """Inputs whose gradient passes a custom gradient (@grad, --grad): a finite difference measures the
    true function, not the surrogate."""
    return upstream_inputs(graph, [node.inputs[slot] for node in graph.nodes
                                   for slot, surrogate in enumerate(node.custom) if surrogate is not None])


def kinked_inputs(graph: Graph) -> set:
    """Inputs whose gradient passes an edge where the local derivative is a convention (relu or abs
    at 0, a power's exponent at a negative base): a finite difference or sympy is not comparable. An
    edge whose derivative a custom gradient replaces is not a convention."""
    marked = []
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
            if not (node.custom and node.custom[slot] is not None):
                marked.append(node.inputs[slot])
    return upstream_inputs(graph, marked)


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
    """Every input's gradient against sympy (when the expression is small, see sympy_refusal) and its own
    central difference (every input while EVALUATIONS × inputs × nodes ≤ PER_INPUT_BUDGET, else an evenly spread
    sample), plus the directional check over every input at once; O(nodes) work past the budget."""
    if graph.matrix:
        return check_matrix(graph, tolerance)
    for node in graph.nodes:
        if node.kind != "const" and (_float(node.value) is None or _float(node.grad) is None):
            raise ProgramError(f"--check compares in 64-bit floats, which cannot hold {node.name} = "
                               f"{fmt(node.value)} (∂/∂{node.name} = {fmt(node.grad)}); check it at smaller values")
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
    names = [n.name for n in graph.inputs]
    custom = custom_inputs(graph)
    sample, per_input_skipped = per_input_sample(names, len(graph.nodes))
    crossed: set = set()
    numeric = numeric_gradient(graph, names=[name for name in sample if name not in custom], crossed=crossed)
    kinked = kinked_inputs(graph) | (crossed - custom)
    rows = [CheckRow(n.name, n.grad, symbolic.get(n.name), numeric.get(n.name), n.name in kinked,
                     n.name in numeric or n.name in custom, n.name in custom) for n in graph.inputs]
    moving = [name for name in names if name not in kinked and name not in custom]
    # ∇f·d sums in floats: gradients near 1e308 would overflow it (the rows still compare them)
    if any(abs(_float(graph.node(name).grad)) * max(1.0, abs(_float(graph.values[name]))) > 1e150 for name in moving):
        moving = []
    directions = directional_check(graph, kinked | custom) if moving else []
    return CheckReport(rows, tolerance, skipped, directions, DIRECTION_SEED if moving else None, per_input_skipped)


def per_input_sample(names: list, nodes: int) -> tuple:
    """The inputs that get a finite difference of their own, and why not all of them (None if all):
    every input while EVALUATIONS × inputs × nodes ≤ PER_INPUT_BUDGET, else every k-th, evenly spread."""
    fits = max(1, PER_INPUT_BUDGET // (EVALUATIONS * max(nodes, 1)))
    if len(names) <= fits:
        return names, None
    stride = -(-len(names) // fits)
    sample = names[::stride]
    return sample, (f"per-input finite differences for {len(sample):,} of {len(names):,} inputs (every "
                    f"{_ordinal(stride)}): all of them would take {EVALUATIONS * len(names) * nodes:,} node evaluations, more "
                    f"than {PER_INPUT_BUDGET:,}; the directional check covers every input")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
