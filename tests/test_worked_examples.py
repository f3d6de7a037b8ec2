"""The worked examples from the literature, with the numbers the books print."""

from fractions import Fraction

import pytest

import bpviz

from conftest import APPLES, COLAH, COLAH_AT, NG
from conftest import APPLES_AT as APPLE_VALUES
from conftest import NG_AT as NG_VALUES


def test_andrew_ng_computation_graph():
    g = bpviz.from_expression(NG, NG_VALUES)
    assert g.out.name == "J" and g.out.value == 2
    assert g.gradients() == {"w": -4, "x": 4, "b": 2, "y": -2}
    assert g.node("c").value == -4 and g.node("a").value == 4 and g.node("d").value == 2
    assert g.node("d").grad == 2 and g.node("a").grad == 2 and g.node("c").grad == 2
    # a subtraction stays a subtraction, with the user's operand order
    d = g.node("d")
    assert d.op.name == "sub" and [g.nodes[i].name for i in d.inputs] == ["a", "y"]
    assert d.local == (1, -1)


def test_andrew_ng_single_line_matches_named_version():
    g = bpviz.from_expression("J = (w*x + b - y)**2 / 2", NG_VALUES)
    assert g.out.value == 2
    assert g.gradients() == {"w": -4, "x": 4, "b": 2, "y": -2}


def test_deep_learning_from_scratch_apples_and_oranges():
    g = bpviz.from_expression(APPLES, APPLE_VALUES)
    assert g.out.value == 715 and isinstance(g.out.value, Fraction)
    assert g.gradients() == {"apple": Fraction("2.2"), "n_apple": 110, "orange": Fraction("3.3"),
                             "n_orange": 165, "tax": 650}
    assert g.node("subtotal").grad == Fraction("1.1")


def test_colah_fan_out_sums_both_paths():
    g = bpviz.from_expression(COLAH, COLAH_AT)
    assert g.out.value == 6
    assert g.gradients() == {"a": 2, "b": 5}
    b = g.node("b")
    # b is one node with two out-edges; its gradient is the sum of their contributions
    assert len(g.consumers[b.index]) == 2
    contributions = sorted(g.contribution(dst, slot) for dst, slot in g.consumers[b.index])
    assert contributions == [2, 3] and sum(contributions) == b.grad


@pytest.mark.parametrize("program, values, expected_value, expected_grads", [
    ("J = sigmoid(z)", {"z": 0}, 0.5, {"z": 0.25}),
    ("J = tanh(z)", {"z": 0}, 0.0, {"z": 1.0}),
    ("J = exp(z)", {"z": 0}, 1.0, {"z": 1.0}),
    ("J = log(z)", {"z": 2}, 0.6931471805599453, {"z": 0.5}),
    ("J = sqrt(z)", {"z": 4}, 2, {"z": Fraction(1, 4)}),
    ("J = relu(z)", {"z": -3}, 0, {"z": 0}),
    ("J = softplus(z)", {"z": 0}, 0.6931471805599453, {"z": 0.5}),
    ("J = abs(z)", {"z": -3}, 3, {"z": -1}),
    ("J = u / v", {"u": 3, "v": 2}, Fraction(3, 2), {"u": Fraction(1, 2), "v": Fraction(-3, 4)}),
    ("J = 2 ** z", {"z": 3}, 8, {"z": 8 * 0.6931471805599453}),
    ("J = -z", {"z": 3}, -3, {"z": -1}),
    ("J = sin(z) + cos(z)", {"z": 0}, 1.0, {"z": 1.0}),
    ("J = tan(z)", {"z": 0}, 0.0, {"z": 1.0}),
])
def test_each_op(program, values, expected_value, expected_grads):
    g = bpviz.from_expression(program, values)
    assert g.out.value == pytest.approx(expected_value, rel=1e-12)
    for name, grad in expected_grads.items():
        assert g.node(name).grad == pytest.approx(grad, rel=1e-12)


def test_exact_arithmetic_prints_clean():
    from bpviz.numeric import fmt
    g = bpviz.from_expression("J = p * n", {"p": "1.1", "n": 650})
    assert fmt(g.out.value) == "715"


def test_library_float_input_keeps_typed_decimal():
    g = bpviz.from_expression("J = p * n", {"p": 1.1, "n": 650})
    assert g.out.value == 715
