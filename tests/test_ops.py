"""The op table, entry by entry: exact strings for every op × style × formula/local derivative,
every local rule against sympy's diff of the op's own sympy builder, and the program-syntax
templates read back by bpviz's parser (so a template that typesets but means something else fails)."""

import math
from fractions import Fraction

import pytest
import sympy

import bpviz
from bpviz.network import ACTIVATIONS as NETWORK_ACTIVATIONS
from bpviz.ops import ACTIVATIONS, FUNCTIONS, OPS
from bpviz.parse.expr import parse_program

THIRD, HALF = Fraction(1, 3), Fraction(1, 2)

# (op, param, operands, style, formula, local derivatives by slot); the node itself is named "f"
TABLE = [
    ("add", None, ("x", "y"), "text", "x + y", ("1", "1")),
    ("add", None, ("x", "y"), "uni", "x + y", ("1", "1")),
    ("add", None, ("x", "y"), "tex", "x + y", ("1", "1")),
    ("add", None, ("x", "-2"), "text", "x + (-2)", ("1", "1")),
    ("sub", None, ("x", "y"), "text", "x - y", ("1", "-1")),
    ("sub", None, ("x", "y"), "uni", "x − y", ("1", "−1")),
    ("sub", None, ("x", "y"), "tex", "x - y", ("1", "-1")),
    ("sub", None, ("x", "-2"), "uni", "x − (-2)", ("1", "−1")),
    ("mul", None, ("x", "y"), "text", "x * y", ("y", "x")),
    ("mul", None, ("x", "y"), "uni", "x·y", ("y", "x")),
    ("mul", None, ("x", "y"), "tex", "x \\cdot y", ("y", "x")),
    ("mul", None, ("-2", "x"), "text", "(-2) * x", ("x", "-2")),
    ("div", None, ("x", "y"), "text", "x / y", ("1 / y", "-x / y**2")),
    ("div", None, ("x", "y"), "uni", "x / y", ("1/y", "−x/y²")),
    ("div", None, ("x", "y"), "tex", "\\frac{x}{y}", ("\\frac{1}{y}", "-\\frac{x}{{y}^{2}}")),
    ("div", None, ("x", "1/3"), "text", "x / (1/3)", ("1 / (1/3)", "-x / (1/3)**2")),
    ("pow", None, ("x", "y"), "text", "x ** y", ("y * x ** (y - 1)", "x ** y * log(x)")),
    ("pow", None, ("x", "y"), "uni", "x^y", ("y·x^(y−1)", "x^y·ln x")),
    ("pow", None, ("x", "y"), "tex", "{x}^{y}", ("y \\cdot {x}^{y - 1}", "{x}^{y} \\ln x")),
    ("powc", Fraction(2), ("x",), "text", "x ** 2", ("2 * x",)),
    ("powc", Fraction(2), ("x",), "uni", "x²", ("2·x",)),
    ("powc", Fraction(2), ("x",), "tex", "{x}^{2}", ("2 x",)),
    ("powc", Fraction(3), ("x",), "text", "x ** 3", ("3 * x ** 2",)),
    ("powc", Fraction(3), ("x",), "uni", "x³", ("3·x²",)),
    ("powc", Fraction(3), ("x",), "tex", "{x}^{3}", ("3 {x}^{2}",)),
    ("powc", HALF, ("x",), "text", "x ** 0.5", ("0.5 * x ** (-0.5)",)),
    ("powc", HALF, ("x",), "uni", "x⁰·⁵", ("0.5·x⁻⁰·⁵",)),
    ("powc", HALF, ("x",), "tex", "{x}^{0.5}", ("0.5 {x}^{-0.5}",)),
    ("powc", Fraction(-1), ("x",), "text", "x ** (-1)", ("(-1) * x ** (-2)",)),
    ("powc", Fraction(-1), ("x",), "uni", "x⁻¹", ("−x⁻²",)),
    ("powc", Fraction(-1), ("x",), "tex", "{x}^{-1}", ("-{x}^{-2}",)),
    ("powc", THIRD, ("x",), "text", "x ** (1/3)", ("(1/3) * x ** (-2/3)",)),
    ("powc", THIRD, ("x",), "uni", "x¹ᐟ³", ("1/3·x⁻²ᐟ³",)),
    ("powc", THIRD, ("x",), "tex", "{x}^{\\frac{1}{3}}", ("\\frac{1}{3} \\cdot {x}^{-\\frac{2}{3}}",)),
    ("powc", Fraction(1), ("x",), "text", "x ** 1", ("1",)),
    ("neg", None, ("x",), "text", "-x", ("-1",)),
    ("neg", None, ("x",), "uni", "−x", ("−1",)),
    ("neg", None, ("x",), "tex", "-x", ("-1",)),
    ("neg", None, ("-2",), "text", "-(-2)", ("-1",)),
    ("id", None, ("x",), "text", "x", ("1",)),
    ("id", None, ("x",), "uni", "x", ("1",)),
    ("id", None, ("x",), "tex", "x", ("1",)),
    ("exp", None, ("x",), "text", "exp(x)", ("exp(x)",)),
    ("exp", None, ("x",), "uni", "exp(x)", ("exp(x)",)),
    ("exp", None, ("x",), "tex", "\\exp\\left(x\\right)", ("e^{x}",)),
    ("log", None, ("x",), "text", "log(x)", ("1 / x",)),
    ("log", None, ("x",), "uni", "ln(x)", ("1/x",)),
    ("log", None, ("x",), "tex", "\\ln\\left(x\\right)", ("\\frac{1}{x}",)),
    ("sqrt", None, ("x",), "text", "sqrt(x)", ("1 / (2 * sqrt(x))",)),
    ("sqrt", None, ("x",), "uni", "√(x)", ("1/(2√x)",)),
    ("sqrt", None, ("x",), "tex", "\\sqrt{x}", ("\\frac{1}{2\\sqrt{x}}",)),
    ("sin", None, ("x",), "text", "sin(x)", ("cos(x)",)),
    ("sin", None, ("x",), "uni", "sin(x)", ("cos(x)",)),
    ("sin", None, ("x",), "tex", "\\sin\\left(x\\right)", ("\\cos\\left(x\\right)",)),
    ("cos", None, ("x",), "text", "cos(x)", ("-sin(x)",)),
    ("cos", None, ("x",), "uni", "cos(x)", ("−sin(x)",)),
    ("cos", None, ("x",), "tex", "\\cos\\left(x\\right)", ("-\\sin\\left(x\\right)",)),
    ("tan", None, ("x",), "text", "tan(x)", ("1 + tan(x)**2",)),
    ("tan", None, ("x",), "uni", "tan(x)", ("1 + tan²(x)",)),
    ("tan", None, ("x",), "tex", "\\tan\\left(x\\right)", ("1 + \\tan^{2}\\left(x\\right)",)),
    ("tanh", None, ("x",), "text", "tanh(x)", ("1 - tanh(x)**2",)),
    ("tanh", None, ("x",), "uni", "tanh(x)", ("1 − tanh²(x)",)),
    ("tanh", None, ("x",), "tex", "\\tanh\\left(x\\right)", ("1 - \\tanh^{2}\\left(x\\right)",)),
    ("sigmoid", None, ("x",), "text", "sigmoid(x)", ("sigmoid(x) * (1 - sigmoid(x))",)),
    ("sigmoid", None, ("x",), "uni", "σ(x)", ("σ(x)·(1 − σ(x))",)),
    ("sigmoid", None, ("x",), "tex", "\\sigma\\left(x\\right)",
     ("\\sigma\\left(x\\right)\\left(1 - \\sigma\\left(x\\right)\\right)",)),
    ("relu", None, ("x",), "text", "relu(x)", ("1 if x > 0 else 0",)),
    ("relu", None, ("x",), "uni", "ReLU(x)", ("𝟙[x > 0]",)),
    ("relu", None, ("x",), "tex", "\\operatorname{ReLU}\\left(x\\right)", ("\\mathbf{1}\\left[x > 0\\right]",)),
    ("softplus", None, ("x",), "text", "softplus(x)", ("sigmoid(x)",)),
    ("softplus", None, ("x",), "uni", "softplus(x)", ("σ(x)",)),
    ("softplus", None, ("x",), "tex", "\\operatorname{softplus}\\left(x\\right)", ("\\sigma\\left(x\\right)",)),
    ("abs", None, ("x",), "text", "abs(x)", ("sign(x)",)),
    ("abs", None, ("x",), "uni", "|x|", ("sign(x)",)),
    ("abs", None, ("x",), "tex", "\\left|x\\right|", ("\\operatorname{sign}\\left(x\\right)",)),
    # non-smooth functions (issue 17): true derivatives, in program syntax where they can be
    ('sign', None, ('x',), 'text', 'sign(x)',
     ('0',)),
    ('sign', None, ('x',), 'uni', 'sign(x)',
     ('0',)),
    ('sign', None, ('x',), 'tex', '\\operatorname{sign}\\left(x\\right)',
     ('0',)),
    ('step', None, ('x',), 'text', 'step(x)',
     ('0',)),
    ('step', None, ('x',), 'uni', 'step(x)',
     ('0',)),
    ('step', None, ('x',), 'tex', '\\operatorname{step}\\left(x\\right)',
     ('0',)),
    ('round', None, ('x',), 'text', 'round(x)',
     ('0',)),
    ('round', None, ('x',), 'uni', 'round(x)',
     ('0',)),
    ('round', None, ('x',), 'tex', '\\operatorname{round}\\left(x\\right)',
     ('0',)),
    ('floor', None, ('x',), 'text', 'floor(x)',
     ('0',)),
    ('floor', None, ('x',), 'uni', '⌊x⌋',
     ('0',)),
    ('floor', None, ('x',), 'tex', '\\left\\lfloor x \\right\\rfloor',
     ('0',)),
    ('ceil', None, ('x',), 'text', 'ceil(x)',
     ('0',)),
    ('ceil', None, ('x',), 'uni', '⌈x⌉',
     ('0',)),
    ('ceil', None, ('x',), 'tex', '\\left\\lceil x \\right\\rceil',
     ('0',)),
    ('clip', None, ('x', '-1', 'y'), 'text', 'clip(x, -1, y)',
     ('1 - step(-1 - x) - step(x - y)', 'step(-1 - x)', 'step(x - y)')),
    ('clip', None, ('x', '-1', 'y'), 'uni', 'clip(x, -1, y)',
     ('𝟙[-1 ≤ x ≤ y]', '𝟙[x < -1]', '𝟙[x > y]')),
    ('clip', None, ('x', '-1', 'y'), 'tex', '\\operatorname{clip}\\left(x, -1, y\\right)',
     ('\\mathbf{1}\\left[-1 \\le x \\le y\\right]', '\\mathbf{1}\\left[x < -1\\right]', '\\mathbf{1}\\left[x > y\\right]')),
    ('max', None, ('x', 'y'), 'text', 'max(x, y)',
     ('1 - step(y - x)', 'step(y - x)')),
    ('max', None, ('x', 'y'), 'uni', 'max(x, y)',
     ('𝟙[x ≥ y]', '𝟙[x < y]')),
    ('max', None, ('x', 'y'), 'tex', '\\max\\left(x, y\\right)',
     ('\\mathbf{1}\\left[x \\ge y\\right]', '\\mathbf{1}\\left[x < y\\right]')),
    ('min', None, ('x', 'y'), 'text', 'min(x, y)',
     ('1 - step(x - y)', 'step(x - y)')),
    ('min', None, ('x', 'y'), 'uni', 'min(x, y)',
     ('𝟙[x ≤ y]', '𝟙[x > y]')),
    ('min', None, ('x', 'y'), 'tex', '\\min\\left(x, y\\right)',
     ('\\mathbf{1}\\left[x \\le y\\right]', '\\mathbf{1}\\left[x > y\\right]')),
    ('hardtanh', None, ('x',), 'text', 'hardtanh(x)',
     ('step(1 - abs(x))',)),
    ('hardtanh', None, ('x',), 'uni', 'hardtanh(x)',
     ('𝟙[|x| < 1]',)),
    ('hardtanh', None, ('x',), 'tex', '\\operatorname{hardtanh}\\left(x\\right)',
     ('\\mathbf{1}\\left[\\left|x\\right| < 1\\right]',)),
    ('leaky_relu', None, ('x', 'y'), 'text', 'leaky_relu(x, y)',
     ('y + (1 - y) * step(x)', 'min(x, 0)')),
    ('leaky_relu', None, ('x', 'y'), 'uni', 'leaky_relu(x, y)',
     ('1 if x > 0 else y', 'min(x, 0)')),
    ('leaky_relu', None, ('x', 'y'), 'tex', '\\operatorname{LeakyReLU}\\left(x, y\\right)',
     ('\\mathbf{1}\\left[x > 0\\right] + y \\, \\mathbf{1}\\left[x \\le 0\\right]', '\\min\\left(x, 0\\right)')),
    ("affine", Fraction(1), ("w1", "x1", "w2", "x2", "b"), "text", "w1 * x1 + w2 * x2 + b",
     ("x1", "w1", "x2", "w2", "1")),
    ("affine", Fraction(1), ("w1", "x1", "w2", "x2", "b"), "uni", "w1·x1 + w2·x2 + b", ("x1", "w1", "x2", "w2", "1")),
    ("affine", Fraction(1), ("w1", "x1", "w2", "x2", "b"), "tex", "w1 \\cdot x1 + w2 \\cdot x2 + b",
     ("x1", "w1", "x2", "w2", "1")),
    ("affine", Fraction(0), ("w1", "x1"), "text", "w1 * x1", ("x1", "w1")),
    # matrix mode's own ops: their gradients read as vector-Jacobian products (tests/test_matrix.py)
    ("matmul", None, ("X", "W"), "text", "X @ W", ("Wᵀ", "Xᵀ")),
    ("matmul", None, ("X", "W"), "uni", "X·W", ("Wᵀ", "Xᵀ")),
    ("matmul", None, ("X", "W"), "tex", "X \\, W", ("{W}^{\\top}", "{X}^{\\top}")),
    ("transpose", None, ("X",), "text", "X.T", ("1",)),
    ("transpose", None, ("X",), "uni", "Xᵀ", ("1",)),
    ("transpose", None, ("X",), "tex", "{X}^{\\top}", ("1",)),
    ("sum", None, ("A",), "text", "sum(A)", ("1",)),
    ("sum", Fraction(0), ("A",), "uni", "sum(A, axis=0)", ("1",)),
    ("sum", Fraction(1), ("A",), "tex", "\\operatorname{sum}_{1}\\left(A\\right)", ("\\mathbf{1}",)),
    ("mean", None, ("A",), "text", "mean(A)", ("1",)),
    ("mean", None, ("A",), "uni", "mean(A)", ("1",)),
    ("mean", Fraction(0), ("A",), "tex", "\\operatorname{mean}_{0}\\left(A\\right)", ("\\mathbf{1}",)),
    ("softmax", None, ("Z",), "text", "softmax(Z)", ("diag(f) - f fᵀ",)),
    ("softmax", None, ("Z",), "uni", "softmax(Z)", ("diag(f) - f fᵀ",)),
    ("softmax", None, ("Z",), "tex", "\\operatorname{softmax}\\left(Z\\right)",
     ("\\operatorname{diag}\\left(f\\right) - f {f}^{\\top}",)),
]


@pytest.mark.parametrize("name, param, args, style, formula, derivatives", TABLE,
                         ids=[f"{row[0]}-{row[3]}-{i}" for i, row in enumerate(TABLE)])
def test_formula_and_local_derivative_strings(name, param, args, style, formula, derivatives):
    op = OPS[name]
    assert op.formula(style, args, param) == formula
    assert tuple(op.derivative(style, slot, args, "f", param) for slot in range(len(args))) == derivatives


def test_every_op_and_style_is_in_the_table():
    covered = {(row[0], row[3]) for row in TABLE}
    assert covered == {(name, style) for name in OPS for style in ("text", "uni", "tex")}


# -- the numbers: every local rule against sympy's derivative of the op's own builder --------------

POINTS = {"pow": (Fraction(3, 2), Fraction(5, 2)), "log": (Fraction(7, 4),), "sqrt": (Fraction(9, 4),),
          "relu": (Fraction(3, 2),), "abs": (Fraction(-3, 2),)}
PARAMS = {"powc": [Fraction(2), Fraction(-1), THIRD, Fraction(5, 2)], "affine": [Fraction(1), Fraction(0)]}


def _cases():
    for name, op in OPS.items():
        if op.structural:            # checked element by element against autograd in tests/test_matrix.py
            continue
        for param in PARAMS.get(name, [None]):
            arity = 5 if name == "affine" and param else 4 if name == "affine" else op.arity
            point = POINTS.get(name, (Fraction(7, 10), Fraction(-13, 10), Fraction(1, 2), Fraction(2),
                                      Fraction(-3, 4))[:arity])
            yield pytest.param(name, param, point, id=f"{name}-{param}")


@pytest.mark.parametrize("name, param, point", list(_cases()))
def test_local_rule_matches_sympy(name, param, point):
    op = OPS[name]
    symbols = sympy.symbols(f"a0:{len(point)}", real=True)
    expression = op.sympy(list(symbols), param)
    at = {s: sympy.Rational(p.numerator, p.denominator) for s, p in zip(symbols, point)}
    value = op.forward(list(point), param)
    assert float(value) == pytest.approx(float(expression.xreplace(at).evalf(30)), rel=1e-12)
    local = op.local(list(point), value, param)
    assert len(local) == len(point)
    for slot, symbol in enumerate(symbols):
        expected = float(sympy.diff(expression, symbol).xreplace(at).evalf(30))
        assert float(local[slot]) == pytest.approx(expected, rel=1e-12, abs=1e-15), (name, slot)


# -- program-syntax templates mean what they say ---------------------------------------------------

NOT_PROGRAM_SYNTAX = {("relu", 0), ("abs", 0)}                 # (sign is a function now, but abs' = sign
                                                             # reads back as sign: kept out for its 0)       # an indicator and sign(): not bpviz functions


@pytest.mark.parametrize("row", [r for r in TABLE if r[3] == "text" and r[0] != "affine"
                                 and not OPS[r[0]].structural],
                         ids=lambda row: f"{row[0]}-{row[1]}-{','.join(row[2])}")
def test_text_templates_parse_back_to_the_same_numbers(row):
    name, param, args, _, formula, derivatives = row
    point = {"x": Fraction(7, 10), "y": Fraction(13, 10)}
    if name in ("log", "sqrt", "pow", "powc"):
        point["x"] = Fraction(9, 4)
    names = [a for a in args if a in point]
    values = [point[a] if a in point else Fraction(a) if "/" in a else Fraction(int(a)) for a in args]
    op = OPS[name]
    value = op.forward(values, param)
    here = {n: point[n] for n in names}
    assert float(bpviz.from_expression(f"f = {formula}", here).out.value) == pytest.approx(float(value))
    local = op.local(values, value, param)
    for slot, text in enumerate(derivatives):
        if (name, slot) in NOT_PROGRAM_SYNTAX:
            continue
        if text.lstrip("-").isdigit():               # `g = 1` would give g a value, not compute it
            assert Fraction(text) == local[slot]
            continue
        graph = parse_program(f"g = {text}")
        used = {n.name: point[n.name] for n in graph.inputs}
        assert float(bpviz.from_expression(f"g = {text}", used).out.value) == pytest.approx(float(local[slot]))


# -- what derives from the table --------------------------------------------------------------------

def test_functions_and_activations_come_from_the_table():
    assert FUNCTIONS == ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus", "abs",
                         "sign", "step", "round", "floor", "ceil", "clip", "max", "min", "hardtanh", "leaky_relu",
                         "sum", "mean", "softmax")
    assert ACTIVATIONS == {"linear": "id", "tanh": "tanh", "sigmoid": "sigmoid", "relu": "relu"}
    assert NETWORK_ACTIVATIONS == ("linear", "tanh", "sigmoid", "relu", "softmax")
    for name in FUNCTIONS:
        if OPS[name].structural:
            continue
        operands = ", ".join(["x", "y", "z"][:OPS[name].arity])
        graph = bpviz.from_expression(f"J = {name}({operands})",
                                      {n: v for n, v in (("x", "0.5"), ("y", "-1"), ("z", "2"))
                                       if n in operands})
        assert graph.out.op is OPS[name]


def test_marks_show_the_parameter_where_an_op_asks():
    assert OPS["powc"].mark(Fraction(2)) == "(·)²" and OPS["powc"].mark(Fraction(-1)) == "(·)⁻¹"
    assert OPS["mul"].mark(None) == "×"
    graph = bpviz.from_expression("J = x**3", {"x": 2})
    assert graph.out.symbol == "(·)³"        # not x³: an input may be called x


def test_kinks_are_declared_where_the_derivative_is_a_convention():
    assert {name for name, op in OPS.items() if op.kink} == {"relu", "abs", "pow", "sign", "step", "round", "floor",
                                                              "ceil", "clip", "max", "min", "hardtanh", "leaky_relu"}
    assert math.isclose(OPS["sigmoid"].local([0.0], 0.5, None)[0], 0.25)


def test_a_power_with_an_input_exponent_at_a_negative_base():
    """x**n at x = -2: the value and ∂/∂x are fine; ∂/∂n is not real there, so 0 by convention, said."""
    graph = bpviz.from_expression("J = x ** n", {"x": -2, "n": 2})
    assert graph.out.value == 4 and graph.gradients() == {"x": -4, "n": 0}
    assert any("not differentiable with respect to n at x = -2" in w for w in graph.warnings)


def test_negative_terms_are_parenthesised_never_plus_minus():
    """`+ (−0.1)`, never `+ -0.1` (a neuron's bias written with its number)."""
    for style in ("text", "uni", "tex"):
        formula = OPS["affine"].formula(style, ["-0.3", "0.5", "0.5", "-1", "-0.1"], Fraction(1))
        assert "+ -" not in formula and formula.endswith("+ (-0.1)")
    assert OPS["add"].formula("uni", ["a", "-2"], None) == "a + (-2)"
