"""Random expressions: bpviz's gradients against sympy's diff and central finite differences."""

import math
import re
from fractions import Fraction

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
    assert rows["x"].numeric is None and rows["x"].ours == 0     # every step straddles the kink
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


def _evaluated(expression: str, point: dict):
    """The random expression evaluated at the point's values for the variables it uses; hypothesis
    discards a bare number and a point outside the domain."""
    used = {v: point[v] for v in VARS if re.search(rf"\b{v}\b", expression)}
    assume(not re.fullmatch(r"-?\(?[\d.]+\)?", expression))
    try:
        return bpviz.from_expression(f"J = {expression}", used)
    except DomainError:
        assume(False)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, points)
def test_path_sums_equal_the_gradient(expression, point):
    """The notes' chain-rule form: Σ over paths of Π local derivatives = the reverse-walk gradient."""
    g = _evaluated(expression, point)
    counts = g.path_counts()
    for node in g.inputs:
        paths = g.paths(node.index, 10_000)
        assert len(paths) == counts[node.index]
        total = sum(math.prod(float(g.nodes[dst].local[slot]) for dst, slot in path) for path in paths)
        assert total == pytest.approx(float(node.grad), rel=1e-9, abs=1e-12)


# -- the directional check and big graphs ------------------------------------------------------------

def _wide_sum(n: int):
    """J = Σ tanh(wᵢ·xᵢ + b): 3n + 2 nodes, 2n + 1 inputs."""
    program = "J = " + " + ".join(f"tanh(w{i}*x{i} + b)" for i in range(n))
    values = {**{f"w{i}": f"0.{i % 9 + 1}" for i in range(n)}, **{f"x{i}": f"{i % 5 - 2}.5" for i in range(n)},
              "b": "0.25"}
    return bpviz.from_expression(program, values)


def test_directional_check_catches_one_wrong_gradient_that_no_row_compares(monkeypatch):
    import bpviz.check as check_module
    monkeypatch.setattr(check_module, "PER_INPUT_BUDGET", 1)      # every input but the first goes unsampled
    g = _wide_sum(300)
    report = check(g)
    assert report.ok and report.rows[0].sampled and not any(r.sampled for r in report.rows[1:])
    assert report.sympy_skipped and "per-input finite differences for 1 of 601" in report.per_input_skipped
    victim = g.node("w217")
    victim.grad = victim.grad + Fraction(1, 100)                   # wrong by 0.01, in one input of 601
    report = check(g)
    rows = {r.name: r for r in report.rows}
    assert rows["w217"].numeric is None and rows["w217"].error == 0  # no row can see it...
    assert not report.ok                                            # ...the directions do, every one of them
    assert all(d.error > report.tolerance for d in report.directions)
    data = report.to_data()
    assert data["agree"] is False and data["inputs"]["w217"]["sampled"] is False
    assert data["directional"]["seed"] == check_module.DIRECTION_SEED
    assert len(data["directional"]["directions"]) == check_module.DIRECTIONS


def test_directional_check_is_seeded_and_covers_every_input():
    g = _wide_sum(20)
    first, second = check(g), check(g)
    assert first.to_data() == second.to_data() and len(first.directions) == 3
    for d in first.directions:
        assert d.numeric == pytest.approx(d.ours, rel=1e-8) and d.held == 0
        assert d.scale > 0 and d.ours != 0


def test_directional_check_keeps_kinked_inputs_still():
    g = bpviz.from_expression("J = relu(x) * y + abs(z - 1) + w", {"x": 0, "y": 2, "z": 1, "w": 3})
    report = check(g)
    assert {r.name for r in report.rows if r.at_kink} == {"x", "z"} and report.ok
    for d in report.directions:                   # only y (∂ = relu(0) = 0) and w (∂ = 1) move
        assert d.numeric == pytest.approx(d.ours, rel=1e-9)
    everything_kinked = check(bpviz.from_expression("J = relu(x)", {"x": 0}))
    assert everything_kinked.directions == [] and "directional" not in everything_kinked.to_data()


@pytest.mark.parametrize("x", ["1.000000000000001", "1.00000000000000000001"])   # 0 in floats, or just above
def test_directional_check_holds_inputs_at_a_near_kink(x):
    # relu's operand is 1e-15 or 1e-20 from 0: every finite step crosses it, so its inputs are held still
    from bpviz.check import directional_check
    g = bpviz.from_expression("J = relu(x - y) * w + w * z", {"x": x, "y": 1, "w": 2, "z": 3})
    directions = directional_check(g, set())
    assert all(d.held == 2 and d.numeric == pytest.approx(d.ours, rel=1e-7) for d in directions)


def test_check_of_a_big_graph_is_linear_work(monkeypatch):
    """20,000 inputs × 30,000 nodes would be 1.2e9 node evaluations input by input; the check samples
    within PER_INPUT_BUDGET and the directions cost 4 forward passes each (a central difference at h and
    at h/10), here where the first step settles."""
    import bpviz.check as check_module
    calls = []
    real = check_module.forward
    monkeypatch.setattr(check_module, "forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    g = _wide_sum(10_000)
    report = check(g)
    assert report.ok and report.sympy_skipped and report.per_input_skipped
    sampled = sum(r.sampled for r in report.rows)
    assert check_module.EVALUATIONS * sampled * len(g.nodes) <= check_module.PER_INPUT_BUDGET
    assert len(calls) <= check_module.EVALUATIONS * (sampled + check_module.DIRECTIONS) + 2


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, points)
def test_check_agrees_on_random_expressions(expression, point):
    """No false alarms: the whole report, directions included, agrees with a correct gradient."""
    g = _evaluated(expression, point)
    assume(all(abs(float(n.value)) < 1e6 for n in g.nodes))
    report = check(g)
    assert all(d.error <= report.tolerance for d in report.directions), (expression, report.directions)


@pytest.mark.parametrize("program, at", [
    ("J = 1/x", {"x": "1e-7"}),                  # h = 1e-6 crosses the pole: +1.01e12 for −1e14
    ("J = 1/x", {"x": "-1e-7"}),
    ("J = tan(x)", {"x": "1.5707963"}),          # 2.7e-8 from π/2
    ("J = 1/(x - 1)", {"x": "1.0000001"}),
])
def test_check_near_a_pole_takes_a_step_that_does_not_cross_it(program, at):
    """A step across a pole gives a wild difference, even of the wrong sign: a correct gradient was
    reported as DISAGREE. The difference is now taken at the largest step that agrees with a tenth of it."""
    report = check(bpviz.from_expression(program, at))
    assert report.ok, report.to_data()
    row = report.rows[0]
    assert row.numeric == pytest.approx(float(row.ours), rel=1e-6)


def test_check_says_nothing_where_rounding_drowns_the_difference():
    """1e8 + x³: a step small enough to be exact changes J by less than its last digit. No difference
    settles, so none is claimed (it was a false DISAGREE, or, at tiny steps, a difference of 0)."""
    report = check(bpviz.from_expression("J = x**3 + 1e8", {"x": 2}))
    assert report.ok and report.rows[0].numeric is None and report.rows[0].symbolic == 12
    assert all(d.numeric is None for d in report.directions)
