"""Random expressions: bpviz's gradients against sympy's diff and central finite differences."""

import math
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bpviz
from bpviz.check import check, numeric_gradient, sympy_gradient
from bpviz.errors import DomainError

VARS = ["x", "y", "z"]
UNARY = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "softplus({})", "exp(tanh({}))",
         "log(1 + ({})**2)", "sqrt(2 + ({})**2)", "-({})", "({})**2", "({})**3"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1 + ({})**2)", "({}) * ({}) - ({})"]

leaves = st.one_of(st.sampled_from(VARS), st.integers(1, 3).map(str), st.sampled_from(["0.5", "1.5"]))


def extend(children):
    unary = st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0].format(t[1]))
    binary = st.tuples(st.sampled_from(BINARY[:4]), children, children).map(
        lambda t: t[0].format(t[1], t[2]))
    ternary = st.tuples(children, children, children).map(lambda t: BINARY[4].format(*t))
    return st.one_of(unary, binary, ternary)


expressions = st.recursive(leaves, extend, max_leaves=8)
points = st.fixed_dictionaries({v: st.integers(-20, 20).map(lambda i: i / 8) for v in VARS})


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, points)
def test_gradients_match_sympy_and_finite_differences(expression, point):
    program = f"J = {expression}"
    used = {v: point[v] for v in VARS if re.search(rf"\b{v}\b", expression)}
    assume(not re.fullmatch(r"-?\(?[\d.]+\)?", expression))   # `J = 2` gives J a value: nothing to compute
    try:
        g = bpviz.from_expression(program, used)
    except DomainError:
        assume(False)
    assume(all(abs(float(n.value)) < 1e6 for n in g.nodes))
    symbolic = sympy_gradient(g)
    numeric = numeric_gradient(g)
    for node in g.inputs:
        ours = float(node.grad)
        assert ours == pytest.approx(symbolic[node.name], rel=1e-9, abs=1e-9), (program, node.name)
        assert ours == pytest.approx(numeric[node.name], rel=1e-4, abs=1e-5), (program, node.name)


def test_check_report_flags_disagreement():
    g = bpviz.from_expression("J = x*x*y", {"x": 3, "y": 2})
    assert check(g).ok
    g.node("x").grad = g.node("x").grad + 1      # corrupt one gradient on purpose
    report = check(g)
    assert not report.ok and report.worst > 0.01


def test_check_at_a_kink_marks_the_rows_it_cannot_compare():
    g = bpviz.from_expression("J = relu(x) * y + z", {"x": 0, "y": 2, "z": 1})
    report = check(g)
    rows = {row.name: row for row in report.rows}
    assert math.isclose(rows["x"].numeric, 1.0) and rows["x"].ours == 0   # FD straddles the kink
    assert rows["x"].at_kink and not rows["y"].at_kink and not rows["z"].at_kink
    assert report.ok and report.to_data()["inputs"]["x"]["at_kink"] is True


def test_check_near_a_domain_edge_stays_inside_it():
    report = check(bpviz.from_expression("J = log(x)", {"x": "1e-7"}))
    assert report.ok and report.rows[0].numeric == pytest.approx(1e7, rel=1e-6)


def test_check_skips_sympy_on_expressions_that_unfold_too_far():
    program = "a0 = x*y\n" + "\n".join(f"a{i} = a{i - 1} * (a{i - 1} + x)" for i in range(1, 12))
    report = check(bpviz.from_expression(program, {"x": "0.5", "y": "0.3"}))
    assert "unfolds into" in report.sympy_skipped and report.rows[0].symbolic is None
    assert report.ok


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, points)
def test_path_sums_equal_the_gradient(expression, point):
    """The notes' chain-rule form: Σ over paths of Π local derivatives = the reverse-walk gradient."""
    used = {v: point[v] for v in VARS if re.search(rf"\b{v}\b", expression)}
    assume(not re.fullmatch(r"-?\(?[\d.]+\)?", expression))
    try:
        g = bpviz.from_expression(f"J = {expression}", used)
    except DomainError:
        assume(False)
    counts = g.path_counts()
    for node in g.inputs:
        paths = g.paths(node.index, 10_000)
        assert len(paths) == counts[node.index]
        total = sum(math.prod(float(g.nodes[dst].local[slot]) for dst, slot in path) for path in paths)
        assert total == pytest.approx(float(node.grad), rel=1e-9, abs=1e-12)
