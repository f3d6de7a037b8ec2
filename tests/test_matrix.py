"""Matrix mode against independent answers: HIPS autograd, central finite differences and bpviz's own
scalar engine (the same program expanded entry by entry); exactness; random programs (hypothesis);
and every kind of bad input, through the library and the installed command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import autograd                  # the oracle: HIPS autograd, in the test extras (pip install -e '.[test]')
import autograd.numpy as anp

import bpviz
from bpviz.api import Source
from bpviz.cli import app
from bpviz.errors import BpvizError, DomainError
from bpviz.tensor import MAX_EXACT_ENTRIES

RTOL = 1e-12
ROOT = Path(__file__).resolve().parent.parent
BPVIZ = Path(sys.executable).with_name("bpviz")


# -- helpers ---------------------------------------------------------------------------------------

def floats(a) -> np.ndarray:
    """A bpviz value or gradient (Fractions in an object array, float64, or a plain number) as float64."""
    return np.asarray(np.vectorize(float, otypes=[float])(np.asarray(a, dtype=object)), dtype=float)


def assert_close(got, want, what: str, rtol: float = RTOL, atol: float = 0.0) -> None:
    """Entry by entry within ``rtol``, relative to the entry or to the largest entry of ``want``
    (so an entry that cancels to about 0 is compared at the array's scale), plus ``atol``."""
    got, want = floats(got), np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    err = np.abs(got - want)
    bound = rtol * np.maximum(np.abs(want), scale) + atol
    bad = [tuple(int(i) for i in index) for index in np.argwhere(err > bound + 1e-300)]
    assert not bad, (f"{what}: entry {list(bad[0])} is {float(got[bad[0]])!r}, expected {float(want[bad[0]])!r} "
                     f"(largest relative error {np.max(err / np.maximum(scale, 1e-300)):.2e})")


def sample(shape: tuple, kind: str, rng: np.random.Generator):
    """Values with two decimals, as text (read exactly by bpviz, as floats by autograd); ``kind`` is
    any (nonzero, |x| ≤ 2), pos (0.1…2), small (nonzero, |x| ≤ 1.2), onehot (rows of a one-hot matrix)
    or bits (0 or 1)."""
    size = math.prod(shape)
    if kind == "any":
        n = rng.integers(5, 200, size) * rng.choice([-1, 1], size)
    elif kind == "pos":
        n = rng.integers(10, 200, size)
    elif kind == "small":
        n = rng.integers(5, 120, size) * rng.choice([-1, 1], size)
    elif kind == "bits":
        n = rng.integers(0, 2, size) * 100
    elif kind == "onehot":
        rows = np.zeros(shape if len(shape) == 2 else (1,) + shape, dtype=int)
        rows[np.arange(rows.shape[0]), rng.integers(0, rows.shape[1], rows.shape[0])] = 100
        n = rows.ravel()
    else:
        raise ValueError(kind)
    texts = np.array([f"{v / 100:.2f}" for v in n], dtype=object).reshape(shape)
    return texts if shape else texts[()]


def values_for(spec: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {name: sample(shape, kind, rng) for name, (shape, kind) in spec.items()}


def as_lists(values: dict) -> dict:
    """Values as bpviz's library takes them: nested lists of decimal text, or decimal text."""
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in values.items()}


def as_floats(values: dict) -> dict:
    return {k: (np.asarray(v, dtype=float) if isinstance(v, np.ndarray) else float(v)) for k, v in values.items()}


def autograd_gradients(fn, values: dict) -> dict:
    """∂fn/∂v for every input v, by HIPS autograd, at float64 values."""
    import warnings
    x = as_floats(values)
    out = {}
    for name in x:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Output seems independent of input")     # a zero gradient
            out[name] = np.asarray(autograd.grad(lambda v, name=name: fn({**x, name: v}))(x[name]), dtype=float)
    return out


def assert_matches_autograd(program: str, fn, values: dict, rtol: float = RTOL):
    graph = bpviz.from_expression(program, as_lists(values))
    assert graph.matrix
    want_out = fn(as_floats(values))
    assert_close(graph.out.value, want_out, "the output", rtol)
    for name, want in autograd_gradients(fn, values).items():
        node = graph.node(name)
        assert node.shape == np.shape(values[name]), name
        assert_close(node.grad, want, f"∂J/∂{name}", rtol)
    return graph


# autograd's element-wise functions (numpy's semantics, as bpviz's)
def a_sigmoid(x):
    return 1 / (1 + anp.exp(-x))


def a_relu(x):
    return anp.where(x > 0, x, 0.0)


def a_softplus(x):
    return anp.logaddexp(0.0, x)


def a_softmax(x):
    e = anp.exp(x - anp.max(x, axis=-1, keepdims=True))
    return e / anp.sum(e, axis=-1, keepdims=True)


def ng_output(v):
    """Andrew Ng's two-layer network, columns = samples: A2 = σ(W2 tanh(W1 X + b1) + b2)."""
    return a_sigmoid(v["W2"] @ anp.tanh(v["W1"] @ v["X"] + v["b1"]) + v["b2"])


def binary_cross_entropy(y, a):
    return -(y * anp.log(a) + (1 - y) * anp.log(1 - a))


# -- the oracle: HIPS autograd, program by program ----------------------------------------------------

# (id, program, the same as an autograd function of the values, {input: (shape, kind)})
PROGRAMS = [
    ("matrix@matrix", "Z = X @ W; J = sum(Z * Z) / 2",
     lambda v: anp.sum((v["X"] @ v["W"]) ** 2) / 2, {"X": ((3, 4), "any"), "W": ((4, 2), "any")}),
    ("matrix@vector", "y = A @ x; J = sum(tanh(y))",
     lambda v: anp.sum(anp.tanh(v["A"] @ v["x"])), {"A": ((3, 4), "any"), "x": ((4,), "any")}),
    ("vector@matrix", "y = x @ A; J = sum(sin(y) * c)",
     lambda v: anp.sum(anp.sin(v["x"] @ v["A"]) * v["c"]),
     {"x": ((3,), "any"), "A": ((3, 4), "any"), "c": ((4,), "any")}),
    ("vector@vector", "s = u @ v; J = s**2 + u @ u",
     lambda v: (v["u"] @ v["v"]) ** 2 + v["u"] @ v["u"], {"u": ((4,), "any"), "v": ((4,), "any")}),
    ("vector@vector is the output", "J = u @ v",
     lambda v: v["u"] @ v["v"], {"u": ((5,), "any"), "v": ((5,), "any")}),
    ("column@row (outer product as a matrix product)", "P = c @ r; J = sum(P * M)",
     lambda v: anp.sum((v["c"] @ v["r"]) * v["M"]),
     {"c": ((3, 1), "any"), "r": ((1, 2), "any"), "M": ((3, 2), "any")}),
    ("transpose", "J = sum((A.T @ B) * C)",
     lambda v: anp.sum((v["A"].T @ v["B"]) * v["C"]),
     {"A": ((3, 2), "any"), "B": ((3, 4), "any"), "C": ((2, 4), "any")}),
    ("transpose twice and Gram", "G = A @ A.T; J = sum(G * (A.T.T @ A.T))",
     lambda v: anp.sum((v["A"] @ v["A"].T) * (v["A"].T.T @ v["A"].T)), {"A": ((3, 2), "any")}),
    (".T of a vector is itself", "J = sum(v.T * w) + v.T @ w",
     lambda v: anp.sum(v["v"].T * v["w"]) + v["v"].T @ v["w"], {"v": ((3,), "any"), "w": ((3,), "any")}),
    ("row bias (vector)", "Z = X @ W + b; J = sum(Z**2)",
     lambda v: anp.sum((v["X"] @ v["W"] + v["b"]) ** 2),
     {"X": ((4, 3), "any"), "W": ((3, 2), "any"), "b": ((2,), "any")}),
    ("row bias (1×n matrix)", "Z = X @ W + b; J = sum(Z**3)",
     lambda v: anp.sum((v["X"] @ v["W"] + v["b"]) ** 3),
     {"X": ((4, 3), "any"), "W": ((3, 2), "any"), "b": ((1, 2), "any")}),
    ("column bias", "Z = W @ X + c; J = sum(Z * Z)",
     lambda v: anp.sum((v["W"] @ v["X"] + v["c"]) ** 2),
     {"W": ((3, 2), "any"), "X": ((2, 5), "any"), "c": ((3, 1), "any")}),
    ("scalar broadcast", "J = sum((s * A + t)**2) + s",
     lambda v: anp.sum((v["s"] * v["A"] + v["t"]) ** 2) + v["s"],
     {"s": ((), "any"), "t": ((), "any"), "A": ((2, 3), "any")}),
    ("row and column broadcast together", "M = r + c; J = sum(M * M * K)",
     lambda v: anp.sum((v["r"] + v["c"]) ** 2 * v["K"]),
     {"r": ((4,), "any"), "c": ((3, 1), "any"), "K": ((3, 4), "any")}),
    ("constants broadcast", "J = sum((2 * A - 1)**2 / 4)",
     lambda v: anp.sum((2 * v["A"] - 1) ** 2 / 4), {"A": ((2, 3), "any")}),
    ("negation and subtraction", "D = -(A - B); J = sum(D * D) - sum(A)",
     lambda v: anp.sum((-(v["A"] - v["B"])) ** 2) - anp.sum(v["A"]),
     {"A": ((2, 3), "any"), "B": ((3,), "any")}),
    ("fan-out", "H = A * A; J = sum(H @ H.T) + sum(A @ A.T * H)",
     lambda v: anp.sum((v["A"] * v["A"]) @ (v["A"] * v["A"]).T) + anp.sum(v["A"] @ v["A"].T * (v["A"] * v["A"])),
     {"A": ((3, 3), "any")}),
    # powers and division
    ("square", "J = sum(A**2 * C)", lambda v: anp.sum(v["A"] ** 2 * v["C"]),
     {"A": ((2, 3), "any"), "C": ((2, 3), "any")}),
    ("cube", "J = sum(A**3)", lambda v: anp.sum(v["A"] ** 3), {"A": ((2, 3), "any")}),
    ("inverse power", "J = sum(A**-1 * C)", lambda v: anp.sum(v["A"] ** -1 * v["C"]),
     {"A": ((2, 3), "any"), "C": ((2, 3), "any")}),
    ("half power", "J = sum(A**0.5)", lambda v: anp.sum(v["A"] ** 0.5), {"A": ((2, 3), "pos")}),
    ("power 1.5", "J = sum(A**1.5 * C)", lambda v: anp.sum(v["A"] ** 1.5 * v["C"]),
     {"A": ((3, 2), "pos"), "C": ((3, 2), "any")}),
    ("array power", "J = sum(A**B)", lambda v: anp.sum(v["A"] ** v["B"]), {"A": ((2, 3), "pos"), "B": ((2, 3), "any")}),
    ("broadcast power", "J = sum(A**b)", lambda v: anp.sum(v["A"] ** v["b"]),
     {"A": ((2, 3), "pos"), "b": ((3,), "any")}),
    ("constant base", "J = sum(2**A)", lambda v: anp.sum(2 ** v["A"]), {"A": ((2, 3), "any")}),
    ("scalar base", "J = sum(s**A)", lambda v: anp.sum(v["s"] ** v["A"]), {"s": ((), "pos"), "A": ((2, 3), "any")}),
    ("division", "J = sum(A / B)", lambda v: anp.sum(v["A"] / v["B"]), {"A": ((2, 3), "any"), "B": ((2, 3), "any")}),
    ("division by a broadcast column", "J = sum(A / c)", lambda v: anp.sum(v["A"] / v["c"]),
     {"A": ((2, 3), "any"), "c": ((2, 1), "any")}),
    ("division by a scalar", "J = sum((A / s)**2)", lambda v: anp.sum((v["A"] / v["s"]) ** 2),
     {"A": ((2, 3), "any"), "s": ((), "any")}),
    ("reciprocal", "J = sum(1 / A)", lambda v: anp.sum(1 / v["A"]), {"A": ((3,), "any")}),
    # reductions
    ("sum axis 0", "J = sum(sum(A, axis=0)**2)", lambda v: anp.sum(anp.sum(v["A"], axis=0) ** 2),
     {"A": ((3, 4), "any")}),
    ("sum axis 1", "J = sum(sum(A, axis=1)**2)", lambda v: anp.sum(anp.sum(v["A"], axis=1) ** 2),
     {"A": ((3, 4), "any")}),
    ("sum axis -1", "J = sum(sum(A, axis=-1)**3)", lambda v: anp.sum(anp.sum(v["A"], axis=-1) ** 3),
     {"A": ((3, 4), "any")}),
    ("sum axis None", "J = sum(A * A) * sum(A)", lambda v: anp.sum(v["A"] ** 2) * anp.sum(v["A"]),
     {"A": ((3, 4), "any")}),
    ("sum axis -2", "J = sum(sum(A, axis=-2)**2)", lambda v: anp.sum(anp.sum(v["A"], axis=-2) ** 2),
     {"A": ((3, 4), "any")}),
    ("mean axis 0", "J = sum(mean(A, axis=0)**2)", lambda v: anp.sum(anp.mean(v["A"], axis=0) ** 2),
     {"A": ((3, 4), "any")}),
    ("mean axis 1", "J = sum(mean(A, axis=1)**2)", lambda v: anp.sum(anp.mean(v["A"], axis=1) ** 2),
     {"A": ((3, 4), "any")}),
    ("mean axis -1", "J = mean(mean(A, axis=-1)**2)", lambda v: anp.mean(anp.mean(v["A"], axis=-1) ** 2),
     {"A": ((3, 4), "any")}),
    ("mean axis None", "J = mean(A**2) - mean(A)**2", lambda v: anp.mean(v["A"] ** 2) - anp.mean(v["A"]) ** 2,
     {"A": ((3, 4), "any")}),
    ("vector sum axis 0", "J = sum(v * v, axis=0) + mean(v, axis=-1)",
     lambda v: anp.sum(v["v"] ** 2, axis=0) + anp.mean(v["v"], axis=-1), {"v": ((5,), "any")}),
    ("scalar through sum", "J = sum(s) * mean(s) + sum(s * A)",
     lambda v: v["s"] * v["s"] + anp.sum(v["s"] * v["A"]), {"s": ((), "any"), "A": ((2, 2), "any")}),
    # softmax and cross-entropy
    ("softmax of a vector", "p = softmax(z); J = sum(p * c)",
     lambda v: anp.sum(a_softmax(v["z"]) * v["c"]), {"z": ((5,), "any"), "c": ((5,), "any")}),
    ("softmax of a matrix (row by row)", "P = softmax(Z); J = sum(P * C)",
     lambda v: anp.sum(a_softmax(v["Z"]) * v["C"]), {"Z": ((3, 4), "any"), "C": ((3, 4), "any")}),
    ("softmax of a column", "P = softmax(Z); J = sum(P * C)",
     lambda v: anp.sum(a_softmax(v["Z"]) * v["C"]), {"Z": ((3, 1), "any"), "C": ((3, 1), "any")}),
    ("softmax of large logits", "P = softmax(100 * Z); J = sum(P * C)",
     lambda v: anp.sum(a_softmax(100 * v["Z"]) * v["C"]), {"Z": ((2, 3), "any"), "C": ((2, 3), "any")}),
    ("softmax cross-entropy (sum)", "P = softmax(Z); J = -sum(Y * log(P))",
     lambda v: -anp.sum(v["Y"] * anp.log(a_softmax(v["Z"]))), {"Z": ((4, 3), "any"), "Y": ((4, 3), "onehot")}),
    ("softmax cross-entropy (mean over samples)", "P = softmax(Z); CE = -sum(Y * log(P), axis=1); J = mean(CE)",
     lambda v: anp.mean(-anp.sum(v["Y"] * anp.log(a_softmax(v["Z"])), axis=1)),
     {"Z": ((4, 3), "any"), "Y": ((4, 3), "onehot")}),
    ("softmax cross-entropy of a vector", "J = -y @ log(softmax(z))",
     lambda v: -(v["y"] @ anp.log(a_softmax(v["z"]))), {"z": ((4,), "any"), "y": ((4,), "onehot")}),
    # the textbooks' two-layer networks
    ("cs224n two-layer net (rows = samples)",
     "Z1 = X @ W1 + b1\nH = sigmoid(Z1)\nZ2 = H @ W2 + b2\nP = softmax(Z2)\nJ = -sum(Y * log(P)) / 5",
     lambda v: -anp.sum(v["Y"] * anp.log(a_softmax(a_sigmoid(v["X"] @ v["W1"] + v["b1"]) @ v["W2"] + v["b2"]))) / 5,
     {"X": ((5, 4), "any"), "W1": ((4, 3), "any"), "b1": ((1, 3), "any"), "W2": ((3, 2), "any"),
      "b2": ((2,), "any"), "Y": ((5, 2), "onehot")}),
    ("cs224n example file's program (relu, mean of row sums)",
     (ROOT / "examples" / "cs224n.txt").read_text(),
     lambda v: anp.mean(-anp.sum(v["Y"] * anp.log(a_softmax(a_relu(v["X"] @ v["W1"] + v["b1"]) @ v["W2"] + v["b2"])),
                                 axis=1)),
     {"X": ((3, 4), "any"), "W1": ((4, 3), "any"), "b1": ((3,), "any"), "W2": ((3, 3), "any"),
      "b2": ((3,), "any"), "Y": ((3, 3), "onehot")}),
    ("Andrew Ng two-layer net (columns = samples, binary cross-entropy)",
     "Z1 = W1 @ X + b1; A1 = tanh(Z1); Z2 = W2 @ A1 + b2; A2 = sigmoid(Z2)\n"
     "J = -sum(Y * log(A2) + (1 - Y) * log(1 - A2)) / 5",
     lambda v: anp.sum(binary_cross_entropy(v["Y"], ng_output(v))) / 5,
     {"W1": ((4, 3), "any"), "X": ((3, 5), "any"), "b1": ((4, 1), "any"), "W2": ((1, 4), "any"),
      "b2": ((1, 1), "any"), "Y": ((1, 5), "bits")}),
    ("Andrew Ng example file's program", (ROOT / "examples" / "ng-matrix.txt").read_text(),
     lambda v: anp.mean(binary_cross_entropy(v["Y"], ng_output(v))),
     {"W1": ((3, 2), "any"), "X": ((2, 4), "any"), "b1": ((3, 1), "any"), "W2": ((1, 3), "any"),
      "b2": ((), "any"), "Y": ((1, 4), "bits")}),
]

# every element-wise function: (name, autograd's, the kind of values it needs)
FUNCTIONS = [
    ("exp", anp.exp, "any"), ("log", anp.log, "pos"), ("sqrt", anp.sqrt, "pos"), ("sin", anp.sin, "any"),
    ("cos", anp.cos, "any"), ("tan", anp.tan, "small"), ("tanh", anp.tanh, "any"), ("sigmoid", a_sigmoid, "any"),
    ("relu", a_relu, "any"), ("softplus", a_softplus, "any"), ("abs", anp.abs, "any"),
]


@pytest.mark.parametrize("program, fn, spec", [p[1:] for p in PROGRAMS], ids=[p[0] for p in PROGRAMS])
@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_autograd(program, fn, spec, seed):
    assert_matches_autograd(program, fn, values_for(spec, seed))


@pytest.mark.parametrize("name, fn, kind", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
@pytest.mark.parametrize("shape", [(3, 4), (5,), (1, 3), ()], ids=str)
def test_every_elementwise_function_matches_autograd(name, fn, kind, shape):
    spec = {"A": (shape, kind), "C": ((4, 3) if shape == (1, 3) else shape, "any")}
    program = f"F = {name}(A); J = sum(F * C) + sum({name}(A)**2)"
    assert_matches_autograd(program, lambda v: anp.sum(fn(v["A"]) * v["C"]) + anp.sum(fn(v["A"]) ** 2),
                            values_for(spec, 7))


@pytest.mark.parametrize("name, fn, kind", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_every_elementwise_function_past_the_exact_limit(name, fn, kind):
    """17×16 = 272 entries: float64 arrays all the way, the same gradients."""
    values = values_for({"A": ((17, 16), kind), "C": ((17, 16), "any")}, 3)
    graph = assert_matches_autograd(f"J = sum({name}(A) * C)", lambda v: anp.sum(fn(v["A"]) * v["C"]), values)
    assert graph.node("A").grad.dtype == np.float64


# -- central finite differences, entry by entry --------------------------------------------------------

FD_PROGRAMS = [
    ("Z = X @ W + b; H = tanh(Z); J = sum(H * H) / 2",
     {"X": ((3, 2), "any"), "W": ((2, 4), "any"), "b": ((4,), "any")}),
    ("P = softmax(X @ W); J = -sum(Y * log(P)) + mean(W**2)",
     {"X": ((3, 2), "any"), "W": ((2, 3), "any"), "Y": ((3, 3), "onehot")}),
    ("Z = W @ x + c; J = sum(sigmoid(Z) * softplus(Z.T)) + x @ x",
     {"W": ((3, 3), "any"), "x": ((3,), "any"), "c": ((3, 1), "any")}),
    ("J = sum(sqrt(A) / (1 + B**2), axis=0) @ sum(log(A) * sin(B), axis=1)",
     {"A": ((3, 3), "pos"), "B": ((3, 3), "any")}),
]


def forward_value(program: str, values: dict) -> float:
    return float(bpviz.from_expression(program, values).out.value)


@pytest.mark.parametrize("program, spec", FD_PROGRAMS, ids=[p[0] for p in FD_PROGRAMS])
def test_gradients_match_central_differences(program, spec):
    values = {k: np.asarray(v, dtype=float) if isinstance(v, np.ndarray) else float(v)
              for k, v in values_for(spec, 11).items()}
    graph = bpviz.from_expression(program, {k: np.asarray(v).tolist() for k, v in values.items()})
    for name, x in values.items():
        x = np.asarray(x, dtype=float)
        numeric = np.zeros_like(x)
        for index in np.ndindex(*x.shape):
            h = 1e-5 * max(1.0, abs(x[index]))
            up, down = x.copy(), x.copy()
            up[index] += h
            down[index] -= h
            f_up = forward_value(program, {**values, name: up.tolist() if up.ndim else float(up)})
            f_down = forward_value(program, {**values, name: down.tolist() if down.ndim else float(down)})
            numeric[index] = (f_up - f_down) / (up[index] - down[index])
        assert_close(graph.node(name).grad, numeric, f"∂J/∂{name} by central differences", rtol=1e-7)


def test_central_differences_are_exact_on_a_rational_program():
    """On a cubic the central difference is f′ + h²f‴/6: with exact h = 10⁻²⁰ it agrees to 39 digits."""
    program = "Z = X @ W + b; J = sum(Z * Z * Z) / 3"
    values = {"X": [["1.5", "-2"], ["0.25", "3"]], "W": [["1", "0.5"], ["-1", "2"]], "b": ["0.1", "-0.2"]}
    graph = bpviz.from_expression(program, values)
    h = Fraction(1, 10 ** 20)
    for name, raw in values.items():
        exact = np.vectorize(Fraction, otypes=[object])(np.array(raw, dtype=object))
        grad = graph.node(name).grad
        assert grad.dtype == object
        for index in np.ndindex(*exact.shape):
            up, down = exact.copy(), exact.copy()
            up[index] += h
            down[index] -= h
            f_up = bpviz.from_expression(program, {**values, name: up.tolist()}).out.value
            f_down = bpviz.from_expression(program, {**values, name: down.tolist()}).out.value
            assert isinstance(f_up, Fraction)
            assert abs((f_up - f_down) / (2 * h) - grad[index]) < Fraction(1, 10 ** 36)


# -- bpviz's own scalar engine on the program expanded entry by entry ----------------------------------

class Expansion:
    """Runs a matrix program on numpy object arrays of symbolic scalars, writing one scalar assignment
    per entry operation: the scalar program a student would write by hand."""

    def __init__(self):
        self.lines: list = []

    def new(self, text: str) -> "Sym":
        name = f"tmp{len(self.lines)}"
        self.lines.append(f"{name} = {text}")
        return Sym(name, self)

    def namespace(self, values: dict) -> dict:
        ns: dict = {}
        for name, v in values.items():
            if isinstance(v, np.ndarray):
                syms = np.empty(v.shape, dtype=object)
                for index in np.ndindex(*v.shape):
                    syms[index] = Sym(f"{name}_" + "_".join(map(str, index)), self)
                ns[name] = syms
            else:
                ns[name] = Sym(name, self)
        for f in ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus", "abs"):
            ns[f] = np.frompyfunc(lambda s, f=f: self.new(f"{f}({s.name})"), 1, 1)
        ns["sum"] = lambda a, axis=None: np.sum(np.asarray(a, dtype=object), axis=axis)
        ns["mean"] = lambda a, axis=None: ns["sum"](a, axis) / (np.size(a) if axis is None else np.shape(a)[axis])
        ns["softmax"] = lambda a: (lambda e: e / np.sum(e, axis=-1, keepdims=True))(ns["exp"](a))
        return ns

    def scalar_values(self, values: dict) -> dict:
        out = {}
        for name, v in values.items():
            if isinstance(v, np.ndarray):
                for index in np.ndindex(*v.shape):
                    out[f"{name}_" + "_".join(map(str, index))] = v[index]
            else:
                out[name] = v
        return out


def _operand(x) -> str:
    if isinstance(x, Sym):
        return x.name
    return f"({x})"


class Sym:
    def __init__(self, name: str, expansion: Expansion):
        self.name, self.x = name, expansion

    def _bin(self, op, other, swap=False):
        if isinstance(other, np.ndarray):
            return NotImplemented          # numpy then applies the operator entry by entry
        a, b = (_operand(other), self.name) if swap else (self.name, _operand(other))
        return self.x.new(f"{a} {op} {b}")

    __add__ = lambda s, o: s._bin("+", o)
    __radd__ = lambda s, o: s._bin("+", o, True)
    __sub__ = lambda s, o: s._bin("-", o)
    __rsub__ = lambda s, o: s._bin("-", o, True)
    __mul__ = lambda s, o: s._bin("*", o)
    __rmul__ = lambda s, o: s._bin("*", o, True)
    __truediv__ = lambda s, o: s._bin("/", o)
    __rtruediv__ = lambda s, o: s._bin("/", o, True)
    __pow__ = lambda s, o: s._bin("**", o)
    __rpow__ = lambda s, o: s._bin("**", o, True)
    __neg__ = lambda s: s.x.new(f"-{s.name}")


def expand(program: str, values: dict) -> str:
    """The scalar program computing the same J as the matrix ``program`` (which ends with J = ...)."""
    x = Expansion()
    ns = x.namespace(values)
    code = compile("\n".join(line.strip() for line in program.split(";")), "<matrix program>", "exec")
    exec(code, {"__builtins__": {}}, ns)         # the test's own program text, on symbolic arrays
    out = ns["J"]
    out = out[()] if isinstance(out, np.ndarray) else out
    return "\n".join(x.lines + [f"J = {out.name}"])


EXPANDED = [     # (program, inputs, whether every value stays exact)
    ("Z = X @ W + b; J = sum(Z * Z) / 2 - sum(X.T, axis=0) @ b2",
     {"X": ((3, 2), "any"), "W": ((2, 2), "any"), "b": ((2,), "any"), "b2": ((3,), "any")}, True),
    ("Z = W @ X + c; A = Z / (1 + abs(Z)); J = mean(A * A) + sum(A, axis=1) @ v - mean(relu(Z), axis=-1) @ v",
     {"W": ((2, 3), "any"), "X": ((3, 2), "any"), "c": ((2, 1), "any"), "v": ((2,), "any")}, True),
    ("Z = W @ X + c; A = tanh(Z); J = mean(A * A) + sum(A, axis=1) @ v",
     {"W": ((2, 3), "any"), "X": ((3, 2), "any"), "c": ((2, 1), "any"), "v": ((2,), "any")}, False),
    ("P = softmax(X @ W); J = -sum(Y * log(P)) / 3",
     {"X": ((3, 2), "any"), "W": ((2, 3), "any"), "Y": ((3, 3), "onehot")}, False),
    ("Z = s * X / (1 + X**2) - 2**X; J = sum(mean(Z, axis=0) ** 3) + sum(sigmoid(Z) * relu(X))",
     {"s": ((), "any"), "X": ((2, 3), "any")}, False),
    ("y = A @ x; z = x @ A.T; J = y @ z + sum(sqrt(abs(y)) * exp(-z)) + sum(softplus(A) ** 0.5)",
     {"A": ((3, 3), "any"), "x": ((3,), "any")}, False),
    ("Z = (A.T @ B - t) ** 3; J = sum(Z / (2 + Z * Z)) * t + sum(cos(Z) * sin(B.T @ A)) + sum(tan(A / 4))",
     {"A": ((3, 2), "any"), "B": ((3, 2), "any"), "t": ((), "any")}, False),
]


@pytest.mark.parametrize("program, spec, exact", EXPANDED, ids=[p[0] for p in EXPANDED])
def test_gradients_match_bpviz_scalar_mode_on_the_expanded_program(program, spec, exact):
    values = values_for(spec, 5)
    matrix = bpviz.from_expression(program, as_lists(values))
    scalar_program = expand(program, values)
    scalar = bpviz.from_expression(scalar_program, Expansion().scalar_values(values))
    assert not scalar.matrix
    assert scalar.out.value == matrix.out.value if isinstance(matrix.out.value, Fraction) \
        else math.isclose(float(scalar.out.value), matrix.out.value, rel_tol=RTOL)
    exact_pairs = 0
    for name, v in values.items():
        grad = matrix.node(name).grad
        if not isinstance(v, np.ndarray):
            entries = {(): scalar.node(name).grad}
        else:
            entries = {index: scalar.node(f"{name}_" + "_".join(map(str, index))).grad
                       for index in np.ndindex(*v.shape)}
        for index, want in entries.items():
            got = grad[index] if isinstance(grad, np.ndarray) else grad
            if isinstance(got, Fraction) and isinstance(want, Fraction):
                assert got == want, (name, index)
                exact_pairs += 1
            else:
                assert_close(np.asarray(float(got)), np.asarray(float(want)), f"∂J/∂{name}{list(index)}")
    if exact:                                     # both exact: every entry equal exactly
        assert exact_pairs == sum(np.size(v) for v in values.values())


def test_expansion_is_a_real_scalar_program():
    """The expansion has one scalar input per entry and the scalar engine's own node count."""
    program, spec, _ = EXPANDED[0]
    values = values_for(spec, 5)
    text = expand(program, values)
    assert "@" not in text and ".T" not in text and "sum(" not in text
    graph = bpviz.from_expression(text, Expansion().scalar_values(values))
    assert len(graph.inputs) == 3 * 2 + 2 * 2 + 2 + 3


# -- exactness ---------------------------------------------------------------------------------------

runner = CliRunner()


def test_decimal_entries_stay_exact_and_print_as_written():
    """1.1 × 650 is 715 exactly (a float would give 715.0000000000001), in values, JSON and the table."""
    program = "B = 1.1 * A; J = sum(B)"
    graph = bpviz.from_expression(program, {"A": [[650, 650], [1, 2]]})
    b = graph.node("B").value
    assert b.dtype == object and b[0, 0] == 715 and isinstance(b[0, 0], Fraction)
    assert graph.out.value == Fraction(14333, 10)
    assert graph.node("A").grad.tolist() == [[Fraction(11, 10)] * 2] * 2
    result = runner.invoke(app, ["expr", program, "--at", "A=[[650, 650], [1, 2]]", "-o", "-"])
    assert result.exit_code == 0, result.output
    node = next(n for n in json.loads(result.stdout)["nodes"] if n["name"] == "B")
    assert node["value"] == [[715, 715], [1.1, 2.2]] and node["value_exact"] == [["715", "715"], ["1.1", "2.2"]]
    table = runner.invoke(app, ["expr", program, "--at", "A=[[650, 650], [1, 2]]"])
    assert "715 715" in table.output and "715.0" not in table.output


def test_matrix_product_of_decimals_is_exact():
    graph = bpviz.from_expression("J = sum(A @ B)", {"A": [["1.1"]], "B": [[650]]})
    assert graph.out.value == 715 and isinstance(graph.out.value, Fraction)
    x = [["0.1", "0.2", "-0.3"], ["1/3", "2", "0.7"]]
    w = [["0.5", "-1"], ["0.25", "3"], ["1", "0.1"]]
    b = ["0.1", "1/7"]
    graph = bpviz.from_expression("Z = X @ W + b; J = sum(Z * Z) / 2", {"X": x, "W": w, "b": b})
    fx = [[Fraction(v) for v in row] for row in x]
    fw = [[Fraction(v) for v in row] for row in w]
    fb = [Fraction(v) for v in b]
    z = [[sum(fx[i][k] * fw[k][j] for k in range(3)) + fb[j] for j in range(2)] for i in range(2)]
    assert graph.node("Z").value.tolist() == z
    assert graph.out.value == sum(v * v for row in z for v in row) / 2
    assert graph.node("W").grad.tolist() == [[sum(fx[i][k] * z[i][j] for i in range(2)) for j in range(2)]
                                             for k in range(3)]
    assert graph.node("b").grad.tolist() == [z[0][j] + z[1][j] for j in range(2)]
    assert graph.node("X").grad.tolist() == [[sum(z[i][j] * fw[k][j] for j in range(2)) for k in range(3)]
                                             for i in range(2)]


def test_exact_reductions_and_scalars():
    graph = bpviz.from_expression("m = mean(A, axis=0); J = mean(A) + m @ m + s * sum(A, axis=-1) @ v",
                                  {"A": [[1, 2], [3, 5]], "s": "0.5", "v": [1, "1/3"]})
    assert graph.node("m").value.tolist() == [2, Fraction(7, 2)]
    assert graph.out.value == Fraction(11, 4) + 4 + Fraction(49, 4) + Fraction(1, 2) * (3 + Fraction(8, 3))
    assert isinstance(graph.node("s").grad, Fraction) and graph.node("s").grad == 3 + Fraction(8, 3)
    assert graph.node("A").grad.dtype == object


def test_exact_up_to_256_entries_then_float64():
    assert MAX_EXACT_ENTRIES == 256
    ones16 = [[1] * 16 for _ in range(16)]
    graph = bpviz.from_expression("J = sum(A * 1.1)", {"A": ones16})
    assert graph.node("A").value.dtype == object and graph.out.value == Fraction(1408, 5)
    assert graph.node("A").grad.dtype == object
    graph = bpviz.from_expression("J = sum(A * 1.1)", {"A": ones16 + [[1] * 16]})        # 17×16 = 272
    assert graph.node("A").value.dtype == np.float64 and graph.node("A").grad.dtype == np.float64
    assert isinstance(graph.out.value, float) and math.isclose(graph.out.value, 272 * 1.1, rel_tol=1e-15)
    # exact inputs whose broadcast result is past the limit: the result and every gradient are float64
    graph = bpviz.from_expression("J = sum((c + r) * 0.5)", {"c": [[1]] * 16, "r": [list(range(17))]})
    assert graph.node("c").value.dtype == object
    assert graph.node("t1").value.dtype == np.float64 and graph.node("c").grad.dtype == np.float64
    assert graph.node("c").grad.tolist() == [[8.5]] * 16 and graph.node("r").grad.tolist() == [[8.0] * 17]


def test_irrational_ops_make_float64():
    graph = bpviz.from_expression("J = sum(exp(A)) + sum(A * A)", {"A": [[0, 1], [2, 3]]})
    assert graph.node("A").grad.dtype == np.float64
    assert_close(graph.node("A").grad, np.exp(np.array([[0, 1], [2, 3]])) + 2 * np.array([[0, 1], [2, 3]]), "∂J/∂A")
    graph = bpviz.from_expression("J = sum(sqrt(A))", {"A": [[4, "2.25"]]})      # exact where exact: √4 = 2
    assert graph.out.value == Fraction(7, 2)


def test_float_arrays_are_float64_from_the_values_file(tmp_path):
    """Past 256 entries, values are float64 straight from the file (never one Fraction per entry)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 30))
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"X": x.tolist(), "w": rng.standard_normal(30).tolist()}))
    from bpviz.values import load_values_file
    values = load_values_file(str(path))
    assert values["X"].dtype == np.float64 and np.array_equal(values["X"], x)
    graph = Source.expression("J = sum(tanh(X @ w))", values).build()
    assert values["w"].dtype == object                   # 30 entries: exact
    assert_close(graph.node("w").grad, x.T @ (1 - np.tanh(x @ floats(values["w"])) ** 2), "∂J/∂w")


# -- random programs (hypothesis) against autograd -----------------------------------------------------

UNARY = [   # (template, autograd's): safe on every real input
    ("tanh({})", anp.tanh), ("sigmoid({})", a_sigmoid), ("sin({})", anp.sin), ("cos({})", anp.cos),
    ("softplus({})", a_softplus), ("exp(tanh({}))", lambda x: anp.exp(anp.tanh(x))), ("relu({})", a_relu),
    ("abs({})", anp.abs), ("-{}", lambda x: -x), ("{}**2", lambda x: x ** 2), ("{}**3", lambda x: x ** 3),
    ("log(1 + {}**2)", lambda x: anp.log(1 + x ** 2)), ("sqrt({}**2 + 1)", lambda x: anp.sqrt(x ** 2 + 1)),
    ("(2 * {} - 0.5)", lambda x: 2 * x - 0.5), ("{}.T", lambda x: x.T), ("softmax({})", a_softmax),
]
BINARY = [
    ("{} + {}", lambda a, b: a + b), ("{} - {}", lambda a, b: a - b), ("{} * {}", lambda a, b: a * b),
    ("{} / (1 + {}**2)", lambda a, b: a / (1 + b ** 2)),
]


def broadcastable(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def matmul_fits(a: tuple, b: tuple) -> bool:
    return bool(a) and bool(b) and a[-1] == (b[0] if len(b) == 1 else b[-2])


@st.composite
def matrix_programs(draw):
    """A random program over small random shapes: element-wise functions, broadcasting, @, .T,
    sum/mean with an axis, softmax; returns (text, autograd function, values)."""
    n, m, k = (draw(st.integers(1, 3)) for _ in range(3))
    shapes = [(), (n,), (m,), (n, m), (m, k), (n, 1), (1, m), (m, n), (k,)]
    count = draw(st.integers(1, 4))
    entry = st.integers(5, 150).map(lambda i: i / 100) | st.integers(-150, -5).map(lambda i: i / 100)
    values = {}
    for i in range(count):
        shape = draw(st.sampled_from(shapes))
        size = math.prod(shape)
        flat = draw(st.lists(entry, min_size=size, max_size=size))
        texts = np.array([f"{v:.2f}" for v in flat], dtype=object).reshape(shape)
        values[f"A{i}"] = texts if shape else texts[()]
    pool = [(name, np.shape(v), (lambda env, name=name: env[name])) for name, v in values.items()]
    lines = []
    for step in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "matmul", "matmul", "reduce"]))
        a = draw(st.sampled_from(pool[-2:]) if draw(st.booleans()) else st.sampled_from(pool))   # chains, too
        name, shape, fn = a
        if kind == "matmul":
            pairs = [(x, y) for x in pool for y in pool if matmul_fits(x[1], y[1])]
            if not pairs:
                kind = "binary"
            else:
                (xa, sa, fa), (xb, sb, fb) = draw(st.sampled_from(pairs))
                text = f"{xa} @ {xb}"
                new = (lambda env, fa=fa, fb=fb: fa(env) @ fb(env))
                out = (np.zeros(sa) @ np.zeros(sb)).shape
        if kind == "binary":
            partners = [p for p in pool if broadcastable(shape, p[1])]
            template, op = draw(st.sampled_from(BINARY))
            pb = draw(st.sampled_from(partners))
            text = template.format(name, pb[0])
            new = (lambda env, fa=fn, fb=pb[2], op=op: op(fa(env), fb(env)))
            out = np.broadcast_shapes(shape, pb[1])
        elif kind == "unary":
            choices = [u for u in UNARY if shape or u[0] not in ("softmax({})", "{}.T")]
            template, op = draw(st.sampled_from(choices))
            text = template.format(name)
            new = (lambda env, fa=fn, op=op: op(fa(env)))
            out = shape[::-1] if template == "{}.T" else shape
        elif kind == "reduce":
            red = draw(st.sampled_from(["sum", "mean"]))
            axis = draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
            text = f"{red}({name})" if axis is None else f"{red}({name}, axis={axis})"
            f = anp.sum if red == "sum" else anp.mean
            new = (lambda env, fa=fn, f=f, axis=axis: f(fa(env), axis=axis))
            out = () if axis is None else tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
        var = f"V{step}"
        lines.append(f"{var} = {text}")
        pool.append((var, out, (lambda env, new=new: new(env))))
    # J adds up every computed value nothing else used, each reduced by sum or mean
    sinks = [p for p in pool[len(values):] if not any(f" {p[0]}" in f" {line.split('=', 1)[1]}".replace("(", " ")
                                                     for line in lines)]
    reducers = [draw(st.sampled_from([("sum", anp.sum), ("mean", anp.mean)])) for _ in sinks]
    lines.append("J = " + " + ".join(f"{r[0]}({p[0]})" for p, r in zip(sinks, reducers)))
    fn = (lambda env: sum(r[1](p[2](env)) for p, r in zip(sinks, reducers)))
    program = "\n".join(lines)
    used = {name: v for name, v in values.items() if name in program}
    return program, fn, used


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(matrix_programs())
def test_random_matrix_programs_match_autograd(case):
    program, fn, values = case
    try:
        graph = bpviz.from_expression(program, as_lists(values))
    except DomainError:
        assume(False)                                     # an overflow, far from what is tested here
    for node in graph.nodes:                              # relu and abs at an exact 0: a convention, not a slope
        if node.op is not None and node.op.name in ("relu", "abs"):
            arg = floats(graph.nodes[node.inputs[0]].value)
            assume(np.min(np.abs(arg)) > 1e-9)
    x = as_floats(values)
    # a gradient that is exactly 0 (sum(softmax(z)) is 1 whatever z is) comes out of float64 as
    # rounding noise: 1e-14 absolute, on values and gradients of order 1
    assert_close(graph.out.value, fn(x), "the output", atol=1e-14)
    for name, want in autograd_gradients(fn, values).items():
        if name in graph:
            assert_close(graph.node(name).grad, want, f"∂J/∂{name} in\n{program}", atol=1e-14)
        else:                                             # assigned but not used by J
            assert not np.any(want)


# -- bad input: one clean line naming where, exit 1 (2 for usage), nothing written ----------------------

def _big(entry, at=(7, 13)) -> str:
    """A 20×20 matrix (past the exact limit, read as float64) with one bad entry."""
    rows = [[1.5] * 20 for _ in range(20)]
    rows[at[0]][at[1]] = entry
    return json.dumps({"W": rows})


# (id, program, arguments after it, files to write, exit code, [fragments of the message], caret column)
BAD = [
    ("ragged --at", "J = sum(W)", ["--at", "W=[[1,2],[3]]"], {}, 1,
     ["the value of W is ragged: row 0 has 2 entries but row 1 has 1"], None),
    ("ragged: list and number", "J = sum(W)", ["--at", "W=[[1,2],3]"], {}, 1, ["the value of W is ragged"], None),
    ("ragged JSON", "J = sum(W)", ["--values", "v.json"], {"v.json": '{"W": [[1, 2], [3]]}'}, 1,
     ["v.json: the value of W is ragged: row 0 has 2 entries but row 1 has 1"], None),
    ("ragged JSON past the exact limit", "J = sum(W)", ["--values", "v.json"],
     {"v.json": json.dumps({"W": [[1.5] * 20] * 7 + [[1.5] * 5] + [[1.5] * 20] * 12})}, 1,
     ["the value of W is ragged: row 0 has 20 entries but row 7 has 5"], None),
    ("non-numeric --at", "J = sum(W)", ["--at", "W=[[1,x],[3,4]]"], {}, 1,
     ["the value of W[0, 1] must be a number, got 'x'"], None),
    ("non-numeric JSON", "J = sum(W)", ["--values", "v.json"], {"v.json": '{"W": [[1, "abc"]]}'}, 1,
     ["v.json: the value of W[0, 1] must be a number, got 'abc'"], None),
    ("null JSON", "J = sum(W)", ["--values", "v.json"], {"v.json": '{"W": [1, null]}'}, 1,
     ["the value of W[1] must be a number, got null"], None),
    ("non-numeric past the exact limit", "J = sum(W)", ["--values", "v.json"], {"v.json": _big("x")}, 1,
     ["the value of W[7, 13] must be a number, got 'x'"], None),
    ("null past the exact limit", "J = sum(W)", ["--values", "v.json"], {"v.json": _big(None)}, 1,
     ["the value of W[7, 13] must be a number, got null"], None),
    ("boolean JSON", "J = sum(W)", ["--values", "v.json"], {"v.json": '{"W": [[1, true], [3, 4]]}'}, 1,
     ["v.json: the value of W[0, 1] must be a number, got True"], None),
    ("boolean YAML", "J = sum(W)", ["--values", "v.yaml"], {"v.yaml": "W:\n  - [1, 2]\n  - [yes, 4]\n"}, 1,
     ["v.yaml: the value of W[1, 0] must be a number, got True"], None),
    ("boolean --at", "J = sum(W)", ["--at", "W=[1, True]"], {}, 1, ["the value of W[1] must be a number"], None),
    ("boolean past the exact limit (not read as 1.0)", "J = sum(W)", ["--values", "v.json"], {"v.json": _big(True)}, 1,
     ["the value of W[7, 13] must be a number, got True"], None),
    ("nested three deep --at", "J = sum(W)", ["--at", "W=[[[1]]]"], {}, 1,
     ["the value of W is nested more than two levels deep"], None),
    ("nested three deep JSON", "J = sum(W)", ["--values", "v.json"], {"v.json": '{"W": [[[1, 2]], [[3, 4]]]}'}, 1,
     ["v.json: the value of W is nested more than two levels deep"], None),
    ("nested three deep YAML", "J = sum(W)", ["--values", "v.yaml"], {"v.yaml": "W: [[[1]], [[2]]]\n"}, 1,
     ["the value of W is nested more than two levels deep"], None),
    ("empty list", "J = sum(W)", ["--at", "W=[]"], {}, 1, ["the value of W is an empty list"], None),
    ("unclosed bracket", "J = sum(W)", ["--at", "W=[[1,2],[3,4]"], {}, 1, ["has an unclosed '['"], None),
    ("inner dimensions", "Z = X @ W; J = sum(Z)",
     ["--at", "X=[[1,2,3,4],[1,2,3,4],[1,2,3,4]], W=[[1,2],[3,4],[5,6],[7,8],[9,10]]"], {}, 1,
     ["Z = X @ W: X is 3×4 but W is 5×2 (inner dimensions 4 ≠ 5)"], 5),
    ("inner dimensions, vector", "J = sum(A @ v)", ["--at", "A=[[1,2],[3,4]], v=[1,2,3]"], {}, 1,
     ["A @ v: A is 2×2 but v is a vector of 3 (inner dimensions 2 ≠ 3)"], 9),
    ("@ with a scalar", "J = sum(s @ A)", ["--at", "A=[[1,2],[3,4]], s=2"], {}, 1,
     ["s @ A: s is a scalar but A is 2×2 (@ multiplies vectors and matrices; use * to scale by a scalar)"], 9),
    ("bias does not broadcast", "Z = X @ W + b; J = sum(Z)",
     ["--at", "X=[[1,2],[3,4],[5,6]], W=[[1,2],[3,4]], b=[1,2,3]"], {}, 1,
     ["Z = X @ W + b: X @ W is 3×2 but b is a vector of 3: they do not broadcast "
      "(2 ≠ 3 in the last axis, and neither is 1)"], 5),
    ("column does not broadcast", "J = sum(A * c)", ["--at", "A=[[1,2,3],[4,5,6]], c=[[1],[2],[3]]"], {}, 1,
     ["A * c: A is 2×3 but c is 3×1: they do not broadcast (2 ≠ 3 in the first axis, and neither is 1)"], 9),
    ("log of a negative entry", "J = sum(log(A))", ["--at", "A=[[1,2],[3,-4]]"], {}, 1,
     ["log is undefined", "A[1, 1] = -4", "column 9"], None),
    ("log of a negative entry of an expression", "J = sum(log(A - b))", ["--at", "A=[[1,2],[3,-4]], b=[0.5, 1]"], {}, 1,
     ["log is undefined", "(A - b)[1, 1] = -5", "column 9"], None),
    ("log of a negative entry past the exact limit", "J = sum(log(W))", ["--values", "v.json"], {"v.json": _big(-1)}, 1,
     ["log is undefined at W[7, 13] = -1", "column 9"], None),
    ("division by a zero entry of a broadcast vector", "J = sum(A / b)", ["--values", "v.json"],
     {"v.json": json.dumps({"A": [[1.5] * 20] * 20, "b": [1.5] * 5 + [0] + [1.5] * 14})}, 1,
     ["division by zero", "b[5] = 0"], None),
    ("sqrt of a negative entry", "J = sum(sqrt(A))", ["--at", "A=[[1,-2]]"], {}, 1, ["sqrt", "A[0, 1] = -2"], None),
    ("axis out of range", "J = sum(sum(A, axis=2))", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["sum(…, axis=2): A is 2×2, which has axes 0 and 1"], 9),
    ("axis of a vector", "J = sum(mean(v, axis=1))", ["--at", "v=[1,2]"], {}, 1,
     ["mean(…, axis=1): v is a vector of 2, which has axes 0"], 9),
    ("axis not a number", "J = sum(A, axis=k)", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["column 17", "axis=…) takes a whole number"], 17),
    ("axis not whole", "J = sum(A, axis=0.5)", ["--at", "A=[[1,2],[3,4]]"], {}, 1, ["takes a whole number"], 17),
    ("attribute other than .T", "J = sum(A.shape)", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["column 9", "'.shape' is not allowed: the only attribute is .T (transpose)"], 9),
    ("method call", "J = A.sum()", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["only calls of the known functions are allowed"], 5),
    ("keyword other than axis", "J = sum(A, keepdims=1)", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["sum() takes no keepdims=: its only keyword is axis"], 12),
    ("keyword on softmax", "J = sum(softmax(A, axis=0))", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["softmax() takes exactly one argument"], 9),
    ("keyword on an element-wise function", "J = sum(tanh(A, axis=0))", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["tanh() takes exactly one argument"], 9),
    ("non-scalar output", "Z = A * 2", ["--at", "A=[[1,2,3],[4,5,6]]"], {}, 1,
     ["the output Z is 2×3, and backpropagation starts from a scalar: reduce it, e.g. J = sum(Z)"], 5),
    ("vector output named J", "J = sum(A, axis=1)", ["--at", "A=[[1,2,3],[4,5,6]]"], {}, 1,
     ["the output J is a vector of 2", "loss = sum(J)"], 5),
    ("softmax of a scalar", "J = softmax(s)", ["--at", "s=2"], {}, 1,
     ["J = softmax(s): softmax needs a vector or a matrix, and s is a scalar"], 5),
    ("the name grad", "grad = A * 2; J = sum(grad)", ["--at", "A=[[1,2],[3,4]]"], {}, 1,
     ["'grad' is reserved"], 1),
    ("grad as a function", "J = sum(grad(A))", ["--at", "A=[[1,2],[3,4]]"], {}, 1, ["grad(...) is not a function"], 9),
    ("shapes: symbols differ", "Z = X @ W; J = sum(Z)", ["--shape", "X=(N,H), W=(K,M)"], {}, 1,
     ["Z = X @ W: X is N×H but W is K×M (inner dimensions H ≠ K)"], 5),
    ("shapes: symbol against a number", "J = sum(X @ W)", ["--shape", "X=(N,H)", "--shape", "W=(3,M)"], {}, 1,
     ["X @ W: X is N×H but W is 3×M (inner dimensions H ≠ 3)"], 9),
    ("shapes: bias symbol", "Z = X @ W + b; J = sum(Z)", ["--shape", "X=(N,H), W=(H,M), b=(K,)"], {}, 1,
     ["X @ W is N×M but b is a vector of K: they do not broadcast (M ≠ K in the last axis, and neither is 1)"], 5),
    ("shapes: non-scalar output", "Z = X @ W", ["--shape", "X=(N,H), W=(H,M)"], {}, 1,
     ["the output Z is N×M"], 5),
    ("shapes: missing", "Z = X @ W + b; J = sum(Z)", ["--shape", "X=(N,H), W=(H,M)"], {}, 1,
     ["no value for b (give it with --shape 'b=(…)')"], None),
    ("shapes: three dimensions", "J = sum(Z)", ["--shape", "Z=(N,H,K)"], {}, 1,
     ["a shape is up to two dimensions"], None),
    ("shapes and values", "J = sum(X @ W)", ["--shape", "X=(N,H), W=(H,M)", "--at", "X=1"], {}, 2,
     ["--shape draws shapes without values"], None),
]


def _run_cli(cases, tmp: Path) -> dict:
    """Every case through the installed `bpviz`, four at a time; -o into a fresh folder."""
    procs: dict = {}
    results = {}
    pending = list(cases)
    while pending or procs:
        while pending and len(procs) < 4:
            case = pending.pop(0)
            folder = tmp / f"case{len(results) + len(procs)}_{abs(hash(case[0])) % 10 ** 6}"
            folder.mkdir()
            for name, text in case[3].items():
                (folder / name).write_text(text)
            args = [str(BPVIZ), "expr", case[1], *case[2], "-o", "out.json"]
            procs[case[0]] = (subprocess.Popen(args, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True), folder)
        key = next(iter(procs))                               # the oldest: wait for it
        proc, folder = procs.pop(key)
        out, err = proc.communicate(timeout=120)
        results[key] = (proc.returncode, out, err, sorted(p.name for p in folder.iterdir()))
    return results


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    assert BPVIZ.exists(), f"no installed command at {BPVIZ}"
    return _run_cli(BAD, tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_one_clean_line_through_the_command(case, bad_runs):
    name, program, args, files, code, fragments, caret = case
    returncode, stdout, stderr, written = bad_runs[name]
    assert returncode == code, stderr
    assert "Traceback" not in stderr and "Error:" not in stderr.replace("error:", "")
    assert written == sorted(files), f"wrote {written}"              # no out.json
    lines = stderr.rstrip("\n").split("\n")
    assert lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    if caret is None:
        assert len(lines) == 1, stderr
    else:
        assert len(lines) == 3, stderr
        assert lines[1] == f"  {program}"
        assert lines[2] == " " * (2 + caret - 1) + "^"


@pytest.mark.parametrize("case", [c for c in BAD if c[4] == 1], ids=[c[0] for c in BAD if c[4] == 1])
def test_bad_input_is_a_bpviz_error_in_the_library(case, tmp_path):
    """The same through bpviz.api: a BpvizError with a one-line message (the caret in ``detail``)."""
    name, program, args, files, code, fragments, caret = case
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    from bpviz.cli import gather_shapes, gather_values
    given: dict = {"--at": [], "--shape": [], "--values": []}
    for flag, text in zip(args[::2], args[1::2]):
        given[flag].append(text)
    with pytest.raises(BpvizError) as info:
        values = gather_values(given["--at"], tmp_path / given["--values"][0] if given["--values"] else None)
        Source.expression(program, values, shapes=gather_shapes(given["--shape"])).build()
    message = info.value.message
    assert "\n" not in message
    assert info.value.exit_code == 1
    for fragment in fragments:
        assert fragment.replace("v.json: ", "").replace("v.yaml: ", "") in message
    if caret is not None:
        assert info.value.detail.split("\n")[1].index("^") == 2 + caret - 1


# -- values: --at with brackets, YAML and JSON files --------------------------------------------------

def test_at_splits_pairs_outside_brackets_only():
    values = bpviz.parse_values("W=[[1,2],[3,4]], b=[1, 2]")
    assert list(values) == ["W", "b"]
    assert values["W"].shape == (2, 2) and values["W"].dtype == object
    assert values["W"].tolist() == [[1, 2], [3, 4]] and values["b"].tolist() == [1, 2]
    assert all(isinstance(v, Fraction) for v in values["W"].flat)
    spaced = bpviz.parse_values("W = [[1, 2], [3, 4]]  b=[0.5, -1/3]   c = 2")
    assert spaced["W"].tolist() == [[1, 2], [3, 4]] and spaced["b"].tolist() == [Fraction(1, 2), Fraction(-1, 3)]
    assert spaced["c"] == 2
    column = bpviz.parse_values("c=[[1], [2.5]], r=[[1, 2]]")
    assert column["c"].shape == (2, 1) and column["r"].shape == (1, 2)


def test_at_matrices_through_the_command():
    result = runner.invoke(app, ["expr", "Z = X @ W + b; J = sum(Z)", "--at", "W=[[1,2],[3,4]], b=[1, 2]",
                                 "--at", "X=[[0.5, -1]]", "-o", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["values"] == {"X": [[0.5, -1]], "W": [[1, 2], [3, 4]], "b": [1, 2]}
    assert data["gradients"] == {"X": [[3, 7]], "W": [[0.5, 0.5], [-1, -1]], "b": [1, 1]}
    assert next(n for n in data["nodes"] if n["name"] == "Z")["shape"] == [1, 2]


@pytest.mark.parametrize("name, text", [
    ("v.yaml", "W:\n  - [1, 2]\n  - [3, 4]\nb: [1, 2]\nX: [[0.5, -1]]\n"),
    ("block.yaml", "W:\n  - - 1\n    - 2\n  - - 3\n    - 4\nb:\n  - 1\n  - 2\nX:\n  - [0.5, -1]   # one sample\n"),
    ("v.json", '{"W": [[1, 2], [3, 4]], "b": [1, 2], "X": [[0.5, -1]]}'),
    ("spaced.json", '\n  {"W": [[1, 2], [3, 4]],\n   "b": [1.0, 2.0], "X": [[5e-1, -1]]}\n'),
])
def test_values_files_with_nested_lists(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    from bpviz.values import load_values_file
    values = load_values_file(str(path))
    assert values["W"].tolist() == [[1, 2], [3, 4]] and values["b"].tolist() == [1, 2]
    assert values["X"].tolist() == [[Fraction(1, 2), -1]] and values["X"].dtype == object
    result = runner.invoke(app, ["expr", "Z = X @ W + b; J = sum(Z)", "--values", str(path), "-o", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gradients"] == {"X": [[3, 7]], "W": [[0.5, 0.5], [-1, -1]], "b": [1, 1]}


def test_json_values_read_decimals_exactly(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"A": [[0.1, 0.2], [0.3, 1e-3]], "s": 0.1}')
    from bpviz.values import load_values_file
    values = load_values_file(str(path))
    assert values["A"].tolist() == [[Fraction(1, 10), Fraction(1, 5)], [Fraction(3, 10), Fraction(1, 1000)]]
    graph = Source.expression("J = sum(A) - s * 6", values).build()
    assert graph.out.value == Fraction(1, 1000)            # 0.1 + 0.2 + 0.3 - 0.6, exactly


def test_at_overrides_a_values_file_array(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text("A: [[1, 2], [3, 4]]\nb: [1, 1]\n")
    result = runner.invoke(app, ["expr", "J = sum(A @ b)", "--values", str(path), "--at", "b=[0, 1]", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["nodes"][-1]["value"] == 6


def test_json_output_of_float64_arrays(tmp_path):
    """Past 256 entries the JSON holds the float64 values themselves (and no _exact text)."""
    rng = np.random.default_rng(1)
    a = np.round(rng.standard_normal((17, 16)), 3)
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"A": a.tolist(), "k": 3}))
    result = runner.invoke(app, ["expr", "J = sum(tanh(A) * k)", "--values", str(path), "-o", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["values"]["A"] == a.tolist() and data["values"]["k"] == 3
    graph = Source.expression("J = sum(tanh(A) * k)", {"A": a.tolist(), "k": 3}).build()
    assert data["gradients"]["A"] == graph.node("A").grad.tolist()          # the float64s themselves
    assert_close(np.array(data["gradients"]["A"]), 3 / np.cosh(a) ** 2, "∂J/∂A")
    node = next(n for n in data["nodes"] if n["name"] == "A")
    assert node["shape"] == [17, 16] and "value_exact" not in node and "grad_exact" not in node
    assert all(type(v) is float for row in node["grad"] for v in row)


def test_shape_only_mode_infers_every_shape_symbolically(tmp_path):
    program = (ROOT / "examples" / "cs224n.txt").read_text()
    shapes = {"X": ("N", "Dx"), "W1": ("Dx", "H"), "b1": ("H",), "W2": ("H", "C"), "b2": ("C",), "Y": ("N", "C")}
    graph = Source.expression(program, shapes=shapes).build()
    assert graph.matrix and graph.shapes_only
    got = {n.name: n.shape for n in graph.nodes if n.named}
    assert got == {**shapes, "Z1": ("N", "H"), "H": ("N", "H"), "Z2": ("N", "C"), "P": ("N", "C"), "CE": ("N",),
                   "J": ()}
    out = tmp_path / "shapes.json"
    result = runner.invoke(app, ["expr", program, "--shape", "X=(N,Dx), W1=(Dx,H), b1=(H,)",
                                 "--shape", "W2=(H,C), b2=(C,), Y=(N,C)", "-o", str(out)])
    assert result.exit_code == 0, result.output
    nodes = {n["name"]: n for n in json.loads(out.read_text())["nodes"]}
    assert nodes["Z1"]["shape"] == ["N", "H"] and nodes["Z1"]["value"] is None and nodes["Z1"]["grad"] is None


# -- found by trying it as a new user and an attacker ------------------------------------------------------

@pytest.mark.parametrize("suffix", [".dot", ".md", ".svg"])
def test_shape_only_figures_and_notes_of_programs_with_constants(tmp_path, suffix):
    out = tmp_path / f"ng{suffix}"
    result = runner.invoke(app, ["expr", "J = -mean(Y * log(A) + (1 - Y) * log(1 - A))", "--shape", "Y=(1,m), A=(1,m)",
                                 "-o", str(out), "--renderer", "embedded"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 500


@pytest.mark.parametrize("extra", [["--lr", "0.1", "--param", "X", "-o", "n.md"], ["--check"]])
def test_shapes_only_refuses_what_needs_numbers(extra):
    result = runner.invoke(app, ["expr", "J = sum(X)", "--shape", "X=(2,3)", *extra])
    assert result.exit_code == 2 and "needs numbers" in result.output


def test_huge_rate_on_matrices_is_an_error_not_a_crash(tmp_path):
    result = runner.invoke(app, ["expr", "J = sum(sigmoid(W))", "--at", "W=[[0.5, 2]]", "--lr", "1e400", "--param", "W",
                                 "-o", str(tmp_path / "n.md"), "--no-figure"])
    assert result.exit_code == 1 and "too large" in result.output and not (tmp_path / "n.md").exists()


def test_deeply_nested_json_values(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"X": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(BpvizError, match="nested too deeply"):
        from bpviz.values import load_values_file
        load_values_file(str(deep))


def test_memory_and_time_are_bounded_before_any_number(monkeypatch):
    from bpviz import autodiff
    with pytest.raises(BpvizError, match="4,000,000 entries, more than the 3,333,333"):     # one array
        bpviz.from_expression("J = sum(X)", {"X": np.ones((2000, 2000))})
    with pytest.raises(BpvizError, match="in all"):                                        # the whole run
        bpviz.from_expression("J = sum(" + "*".join(["X"] * 50) + ")", {"X": np.ones((1000, 1000))})
    monkeypatch.setattr(autodiff, "MAX_PRODUCT_WORK", 10 ** 6)     # the products (beyond reach of the
    with pytest.raises(BpvizError, match="multiply-adds"):          # run's bound at the real limits)
        bpviz.from_expression("J = sum(X @ X @ X)", {"X": np.ones((200, 200))})


@pytest.mark.parametrize("program, message", [
    ("J = sum(sum(X, axis=0, axis=1))", "given axis twice"),
    ("J = sum(sum(X, axis=1.0))", "takes a whole number"),
    ("J = sum(sum(X, axis=1e0))", "takes a whole number"),
    ("J = mean(s, axis=0)", "which has no axes"),
])
def test_axis_is_one_whole_number(program, message):
    with pytest.raises(BpvizError, match=message):
        bpviz.from_expression(program, {"s": 1} if "s," in program else {"X": [[1, 2], [3, 4]]})


def test_norm_of_huge_entries_does_not_overflow():
    from bpviz.tensor import norm_text, summary
    assert norm_text(np.full(300, 1e200)) == "1.732e+201"
    assert norm_text(np.full(4, 1e308)) == "2.000e+308"
    assert summary(np.array([3.0, -4.0])) == "min -4, max 3, ‖·‖ 5"


def test_an_exact_value_float64_cannot_hold_is_an_error_not_a_zero():
    with pytest.raises(DomainError, match="1e-400 .*too small"):
        bpviz.from_expression("J = sum(X @ W)", {"X": [["1/3", "1e-400"]], "W": [[1], [1]]})


def test_outer_broadcast_is_computed_and_warned():
    graph = bpviz.from_expression("J = sum(c + v)", {"c": [[1], [2], [3]], "v": [1, 2, 3]})
    assert graph.node("t1").shape == (3, 3) and graph.out.value == 36
    assert any("broadcast into 3×3, a shape neither has" in w for w in graph.warnings)
    same = bpviz.from_expression("J = sum(X + b)", {"X": [[1, 2], [3, 4]], "b": [1, 2]})
    assert not same.warnings


def test_a_vector_bias_on_columns_suggests_a_column_and_names_the_line():
    with pytest.raises(BpvizError) as caught:
        bpviz.from_expression("Z = W @ X + b\nJ = sum(Z)", {"W": [[1, 2], [3, 4], [5, 6]],
                                                         "X": [[1, 2, 3, 4], [1, 1, 1, 1]], "b": [1, 2, 3]})
    assert caught.value.message.startswith("line 1: Z = W @ X + b:")
    assert "give it the shape (3, 1), a column" in caught.value.message
