"""Issue 17: non-smooth functions (sign, step, round, floor, ceil, clip, max, min, hardtanh, leaky_relu)
with their conventions at kinks, and custom gradients (@grad, --grad, a spec's gradients:) shown as such
in every output, checked against hand-derived values, finite differences away from kinks and sympy's
derivative of the surrogate."""

import json
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import bpviz
from bpviz.api import Options, Source, build_spec, note_markdown, run
from bpviz.check import check
from bpviz.cli import app
from bpviz.errors import BpvizError, ParseError
from bpviz.parse.expr import MAX_RULE_NODES, parse_program
from bpviz.render.dot import PALETTES, FigureOptions, render_dot
from bpviz.render.json_out import _ENCODER, _head, _node_entries, _tail, render_json
from conftest import EXAMPLES

runner = CliRunner()
BINARY = "u = w*x + b; y = sign(u) @grad(step(1 - abs(u))); L = (y - t)**2"
BINARY_AT = {"w": "0.5", "x": 1, "b": "-0.2", "t": -1}
F = Fraction


def grads(program, values, **kw):
    return bpviz.from_expression(program, values, **kw).gradients()


# -- values and true derivatives, by hand ------------------------------------------------------------

@pytest.mark.parametrize("program, values, value, gradients", [
    ("J = sign(x) * 3", {"x": "-0.4"}, -3, {"x": 0}),
    ("J = step(x) + x", {"x": "0.1"}, F(11, 10), {"x": 1}),
    ("J = round(x)", {"x": "2.5"}, 2, {"x": 0}),              # halves to even
    ("J = round(x)", {"x": "-2.5"}, -2, {"x": 0}),
    ("J = round(x)", {"x": "3.5"}, 4, {"x": 0}),
    ("J = round(x)", {"x": "0.49"}, 0, {"x": 0}),
    ("J = floor(x) + ceil(x)", {"x": "-1.5"}, -3, {"x": 0}),
    ("J = clip(x, lo, hi) * 2", {"x": "0.5", "lo": 0, "hi": 1}, 1, {"x": 2, "lo": 0, "hi": 0}),
    ("J = clip(x, lo, hi) * 2", {"x": "-3", "lo": 0, "hi": 1}, 0, {"x": 0, "lo": 2, "hi": 0}),
    ("J = clip(x, lo, hi) * 2", {"x": "7", "lo": 0, "hi": 1}, 2, {"x": 0, "lo": 0, "hi": 2}),
    ("J = max(a, b) - min(a, b)", {"a": 1, "b": 4}, 3, {"a": -1, "b": 1}),
    ("J = hardtanh(x) + hardtanh(y)", {"x": "0.25", "y": -5}, F(-3, 4), {"x": 1, "y": 0}),
    ("J = leaky_relu(x, s)", {"x": -2, "s": "0.1"}, F(-1, 5), {"x": F(1, 10), "s": -2}),
    ("J = leaky_relu(x, s)", {"x": 3, "s": "0.1"}, 3, {"x": 1, "s": 0}),
])
def test_values_and_gradients_by_hand(program, values, value, gradients):
    graph = bpviz.from_expression(program, values)
    assert graph.out.value == value
    assert graph.gradients() == gradients
    assert all(isinstance(g, Fraction) for g in graph.gradients().values())     # exact throughout


def test_round_halves_to_even_like_python_and_numpy_on_floats_too():
    for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.675):
        assert bpviz.from_expression("J = round(x) + 0*x", {"x": x}).out.value == round(x)


@pytest.mark.parametrize("program, values, convention", [
    ("J = sign(x)", {"x": 0}, "sign'(0) = 0"),
    ("J = step(x)", {"x": 0}, "step'(0) = 0"),
    ("J = round(x)", {"x": "1.5"}, "round' = 0 there"),
    ("J = floor(x)", {"x": 2}, "floor' = 0 there"),
    ("J = ceil(x)", {"x": -1}, "ceil' = 0 there"),
    ("J = clip(x, lo, hi)", {"x": 0, "lo": 0, "hi": 1}, "∂/∂x = 1 and ∂/∂lo = 0 at the bound"),
    ("J = max(a, b)", {"a": 2, "b": 2}, "the whole gradient goes to the first operand, a"),
    ("J = min(a, b)", {"a": 2, "b": 2}, "the whole gradient goes to the first operand, a"),
    ("J = hardtanh(x)", {"x": -1}, "hardtanh'(±1) = 0"),
    ("J = leaky_relu(x, s)", {"x": 0, "s": "0.2"}, "leaky_relu'(0) = slope"),
])
def test_kinks_warn_their_convention(program, values, convention):
    graph = bpviz.from_expression(program, values)
    assert any("is not differentiable" in w and convention in w for w in graph.warnings), graph.warnings


def test_conventions_at_kinks_by_hand():
    assert grads("J = sign(x) + step(x)", {"x": 0}) == {"x": 0}
    assert bpviz.from_expression("J = sign(x) + step(x)", {"x": 0}).out.value == 0     # sign(0) = step(0) = 0
    assert grads("J = 3*max(a, b)", {"a": 1, "b": 1}) == {"a": 3, "b": 0}             # a tie: the first operand
    assert grads("J = 3*min(b, a)", {"a": 1, "b": 1}) == {"a": 0, "b": 3}
    assert grads("J = clip(x, lo, hi)", {"x": 0, "lo": 0, "hi": 1}) == {"x": 1, "lo": 0, "hi": 0}
    assert grads("J = clip(x, lo, hi)", {"x": 1, "lo": 0, "hi": 1}) == {"x": 1, "lo": 0, "hi": 0}
    assert grads("J = hardtanh(x)", {"x": 1}) == {"x": 0}
    assert grads("J = leaky_relu(x, s)", {"x": 0, "s": "0.2"}) == {"x": F(1, 5), "s": 0}


def test_clip_with_lo_above_hi_is_an_error():
    with pytest.raises(BpvizError, match="clip needs lo ≤ hi"):
        bpviz.from_expression("J = clip(x, 2, 1)", {"x": 0})


def test_calls_with_the_wrong_number_of_arguments():
    with pytest.raises(ParseError, match=r"clip\(\) takes exactly 3 arguments: clip\(x, lo, hi\)"):
        parse_program("J = clip(x, 1)")
    with pytest.raises(ParseError, match="sign\\(\\) takes exactly one argument"):
        parse_program("J = sign(x, y)")


# -- finite differences away from kinks, and near them -------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.fractions(-4, 4, max_denominator=40), st.fractions(-4, 4, max_denominator=40))
def test_gradients_match_finite_differences_away_from_kinks(x, y):
    """Every input not at (or within a step of) a kink: bpviz's gradient is the finite difference's."""
    program = ("J = max(x, y) * min(x, 2*y) + clip(x, -5, 5) * 3 + hardtanh(x*y) + leaky_relu(x - y, 0.1) "
               "+ floor(x) * y + round(x) + ceil(y)*x + sign(y) * x + step(x)*y")
    graph = bpviz.from_expression(program, {"x": x, "y": y})
    report = check(graph)
    assert report.ok, report.to_data()
    for row in report.rows:
        if not row.at_kink:
            assert float(row.ours) == pytest.approx(row.numeric, rel=1e-5, abs=1e-5)
            assert float(row.ours) == pytest.approx(row.symbolic, rel=1e-9, abs=1e-12)


def test_an_input_within_a_step_of_a_jump_is_compared_at_a_step_that_stays_on_its_piece():
    """x·y is 2e-10 above floor's jump: the first steps cross it (a difference of about 5e5, what a
    false disagreement would be); a smaller one stays on the flat piece and measures its 0."""
    graph = bpviz.from_expression("J = floor(x*y) * 5", {"x": 1, "y": "2.0000000001"})
    data = check(graph).to_data()
    assert data["agree"] is True
    for name in ("x", "y"):
        assert "at_kink" not in data["inputs"][name] and data["inputs"][name]["finite_difference"] == 0


def test_a_relu_within_every_central_step_of_its_kink_is_compared_one_sided():
    """x − 1 = 1e-13: every central step crosses relu's kink, the one-sided step away from it does not."""
    data = check(bpviz.from_expression("J = relu(x - 1) * 7", {"x": "1.0000000000001"})).to_data()
    assert data["agree"] and "at_kink" not in data["inputs"]["x"]
    assert data["inputs"]["x"]["finite_difference"] == pytest.approx(7, rel=1e-6)


def test_an_input_that_every_step_carries_across_a_kink_is_not_comparable():
    """x is 1e-13 above one relu's kink and 1e-13 below another's: every step, either way, crosses one."""
    program = "J = relu(x - 1) * 7 + relu(1.0000000000002 - x)"
    data = check(bpviz.from_expression(program, {"x": "1.0000000000001"})).to_data()
    assert data["agree"] and data["inputs"]["x"]["at_kink"] and data["inputs"]["x"]["finite_difference"] is None


def test_check_exits_0_at_a_kink_and_says_not_comparable():
    result = runner.invoke(app, ["expr", "J = max(a, b)", "--at", "a=1, b=1", "--check"])
    assert result.exit_code == 0, result.output
    assert "not comparable at a kink" in result.output


# -- custom gradients: parsing ------------------------------------------------------------------------

def test_binarised_neuron_by_hand():
    graph = bpviz.from_expression(BINARY, BINARY_AT)
    y = graph.node("y")
    assert y.value == 1 and graph.out.value == 4
    assert y.local == (1,)                               # step(1 - |0.3|) = 1, not sign' = 0
    assert graph.gradients() == {"w": 4, "x": 2, "b": 4, "t": -4}
    assert graph.local_formula(y, 0) == "step(1 - abs(u))"
    assert graph.local_formula(y, 0, "uni") == "step(1 − |u|)"
    assert graph.true_local_formula(y, 0) == "0"
    assert graph.warnings == []


def test_the_clipped_estimator_blocks_beyond_one():
    graph = bpviz.from_expression(BINARY, {**BINARY_AT, "b": 2})          # u = 2.5: |u| > 1
    assert graph.node("y").local == (0,) and graph.gradients()["w"] == 0


def test_plain_ste_and_a_gradient_step():
    graph = bpviz.from_expression("u = w*x + b; y = sign(u) @grad(1); L = (y - t)**2", BINARY_AT)
    assert graph.gradients()["w"] == 4
    step = bpviz.autodiff.gradient_step(graph, F(1, 10), ["w", "b"])
    assert [(name, new) for name, _, _, new in step.rows] == [("w", F(1, 10)), ("b", F(-3, 5))]
    assert step.after == 0                                # sign(-0.5) = -1 = t


def test_per_operand_rules_and_untouched_operands():
    graph = bpviz.from_expression("y = clip(x, lo, hi) @grad(x=1, hi=step(x - hi) * 2)",
                                  {"x": 3, "lo": -1, "hi": 2})
    assert graph.out.local == (1, 0, 2)                    # lo keeps its true derivative, 𝟙[x < lo] = 0
    assert [graph.is_custom(graph.out, s) for s in range(3)] == [True, False, True]
    assert graph.local_formula(graph.out, 2) == "step(x - hi) * 2"


def test_a_custom_call_and_a_plain_one_are_two_nodes():
    graph = bpviz.from_expression("a = sign(u) @grad(1); b = sign(u); J = a + b", {"u": 2})
    assert graph.node("a").custom and not graph.node("b").custom
    assert graph.gradients() == {"u": 1}


def test_rules_are_parenthesised_as_they_read():
    graph = bpviz.from_expression("y = sign(u) @grad((1 - u) * (u + 2) / (u - 3) ** 2 - -u)", {"u": "0.5"})
    text = graph.local_formula(graph.out, 0)
    assert text == "(1 - u) * (u + 2) / (u - 3) ** 2 - (-u)"
    assert parse_program(f"g = {text}") is not None
    assert graph.out.local[0] == F(1, 2) * F(5, 2) / F(25, 4) + F(1, 2)


HOSTILE = [
    ("y = 2*sign(u) @grad(1)", 15, "follows a call of a function"),
    ("y = u @grad(1)", 7, "follows a call of a function"),
    ("y = sign(u) @grad(v)", 19, "'v' in a @grad rule is not an operand of sign()"),
    ("y = sign(u) @grad(1 @grad(1))", 21, "cannot be used inside a @grad rule"),
    ("y = sign(u) @grad(sign(u) @grad(1))", 27, "cannot be used inside a @grad rule"),
    ("y = sign(u) @grad(1) + 1", 13, "cannot be used inside an expression"),
    ("y = sign(u) @grad(1) @grad(1)", 22, "follows a call of a function"),
    ("grad = 1; y = sign(grad)", 1, "'grad' is reserved"),
    ("y = sign(grad)", 10, "'grad' is reserved"),
    ("y = grad(u)", 5, "grad(...) is not a function"),
    ("y = max(a, b) @grad(1)", 15, "give a rule per operand by its name"),
    ("y = max(a, b) @grad(c=1)", 21, "'c' is not an operand"),
    ("y = sign(u) @grad()", 13, "needs a rule"),
    ("y = sign(u) @grad(1, 2)", 13, "takes one rule"),
    ("y = sign(u) @grad(y)", 19, "'y' in a @grad rule is not an operand"),
    ("y = sign(u*2) @grad(u)", 21, "(here: none)"),
    ("y = sign(u) @grad(sum(u))", 19, "sum() is not allowed"),
    ("y = sign(u) @grad(u @ u)", 19, "'@' (a matrix product) is not allowed"),
    ("y = sign(u) @grad(sign)", 19, "'sign' is a function"),
    ("y = sign(u) @grad(*u)", 13, "not * or ** arguments"),
    ("y = sign(u) @grad(1, u=1)", 13, "not both"),
]


@pytest.mark.parametrize("program, column, message", HOSTILE)
def test_misplaced_grad_is_an_error_with_a_caret(program, column, message):
    with pytest.raises(ParseError) as info:
        parse_program(program)
    assert message in info.value.message
    assert info.value.column == column
    result = runner.invoke(app, ["expr", program, "--at", "u=1, a=1, b=2"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.output.startswith("error: ")
    assert result.output.splitlines()[2].index("^") == column + 1      # under the column, after "  "


def test_huge_and_deep_rules_are_refused():
    huge = " + ".join(f"u*{i}" for i in range(1, MAX_RULE_NODES))
    with pytest.raises(ParseError, match=f"more than the {MAX_RULE_NODES} a rule may have"):
        parse_program(f"y = sign(u) @grad({huge})")
    deep = "(" * 30_000 + "u" + ")" * 30_000
    with pytest.raises(ParseError):
        parse_program(f"y = sign(u) @grad({deep})")
    nested = "sign(" * 90 + "u" + ")" * 90
    graph = bpviz.from_expression(f"y = sign(u) @grad({nested})", {"u": 2})
    assert graph.out.local == (1,)


def test_a_rule_outside_its_domain_names_the_custom_gradient():
    with pytest.raises(BpvizError, match=r"the custom gradient @grad\(log\(u\)\) of 'y'"):
        bpviz.from_expression("y = sign(u) @grad(log(u))", {"u": -1})


def test_custom_gradients_are_refused_in_matrix_mode():
    result = runner.invoke(app, ["expr", "y = sign(u) @grad(1); J = sum(y)", "--at", "u=[1, 2]"])
    assert result.exit_code == 1 and "scalar programs only" in result.output
    result = runner.invoke(app, ["expr", "J = sum(floor(u))", "--at", "u=[1, 2]"])
    assert result.exit_code == 1 and "floor() works on scalar programs only" in result.output


# -- --grad and a spec's gradients: --------------------------------------------------------------------

def test_grad_option_applies_a_named_estimator_to_every_call():
    plain = "u = w*x + b; y = sign(u); z = sign(b); L = (y - t)**2 + z"
    graph = bpviz.from_expression(plain, BINARY_AT)
    assert graph.gradients()["w"] == 0                                     # the true gradient
    ste = Source.expression(plain, BINARY_AT, grads=["sign=ste"]).build()
    assert ste.gradients() == {"w": 4, "x": 2, "b": 5, "t": -4}
    assert ste.node("y").custom[0].estimator == "ste"
    clipped = Source.expression(plain, {**BINARY_AT, "b": 2}, grads={"sign": "ste-clip"}).build()
    assert clipped.gradients()["w"] == 0 and clipped.node("y").custom[0].estimator == "ste-clip"
    assert clipped.local_formula(clipped.node("y"), 0) == "step(1 - abs(u))"
    assert clipped.local_formula(clipped.node("z"), 0) == "step(1 - abs(b))"


def test_grad_option_keeps_a_programs_own_rule_and_takes_a_rule_in_u():
    program = "y = sign(u) @grad(2); z = round(u); J = y + z"
    graph = Source.expression(program, {"u": "0.3"}, grads=["sign=ste", "round=1 - abs(u)"]).build()
    assert graph.node("y").local == (2,) and graph.node("z").local == (F(7, 10),)


@pytest.mark.parametrize("args, code, message", [
    (["--grad", "sgn=ste"], 1, "'sgn' is not a function; did you mean 'sign'?"),
    (["--grad", "sign"], 2, "--grad takes OP=ste"),
    (["--grad", "sign=ste", "--grad", "sign=ste-clip"], 2, "--grad gives 'sign' twice"),
    (["--grad", "sign=step(1 - abs(v))"], 1, "'v' in a @grad rule is not an operand of sign()"),
    (["--grad", "sign=step(1 -"], 1, "never closed"),
    (["--grad", "sum=ste"], 1, "sum() works on whole matrices"),
])
def test_grad_option_errors_are_one_line(args, code, message):
    result = runner.invoke(app, ["expr", "y = sign(u)", "--at", "u=1", *args])
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


GRAPH_SPEC = """\
title: binarised neuron
graph:
  u: w * x + b
  y: sign(u)
  L: (y - t)**2
values: {w: 0.5, x: 1, b: -0.2, t: -1}
gradients:
  sign: {rule}
"""


@pytest.mark.parametrize("rule, dw", [("ste", 4), ("ste-clip", 4), ('"step(1 - abs(u)) * 3"', 12)])
def test_spec_gradients(rule, dw):
    graph = build_spec(GRAPH_SPEC.replace("{rule}", rule))
    assert graph.gradients()["w"] == dw and graph.node("y").custom


def test_grad_option_overrides_a_specs_gradients():
    graph = build_spec(GRAPH_SPEC.replace("{rule}", "ste"), grads={"sign": "0.5"})
    assert graph.gradients()["w"] == 2


@pytest.mark.parametrize("rule, message", [
    ("[1, 2]", "line 8: gradients.sign: expected ste, ste-clip or a rule in u"),
    ('"step(v)"', "line 8: gradients.sign:"),
    ('"1 +"', "line 8: gradients.sign:"),
])
def test_spec_gradients_errors_name_the_line(rule, message):
    with pytest.raises(BpvizError) as info:
        build_spec(GRAPH_SPEC.replace("{rule}", rule), "n.yaml")
    assert message in info.value.message


def test_spec_gradients_unknown_function_and_not_a_mapping():
    with pytest.raises(BpvizError, match="line 8: gradients.sgn: 'sgn' is not a function"):
        build_spec(GRAPH_SPEC.replace("{rule}", "ste").replace("sign: ste", "sgn: ste"), "n.yaml")
    with pytest.raises(BpvizError, match="line 7: gradients: expected a mapping"):
        build_spec(GRAPH_SPEC.replace("{rule}", "ste").replace("gradients:\n  sign: ste", "gradients: ste"), "n.yaml")


def test_network_spec_gradients_on_its_activations():
    spec = (EXAMPLES / "two-layer.yaml").read_text().replace("activation: sigmoid", "activation: relu", 1)
    graph = build_spec(spec + "\ngradients: {relu: ste}\n")
    assert any(n.custom for n in graph.nodes if n.op is not None and n.op.name == "relu")


def test_cli_spec_grad_option(tmp_path):
    path = tmp_path / "n.yaml"
    path.write_text(GRAPH_SPEC.replace("{rule}", "ste").replace("gradients:\n  sign: ste\n", ""))
    result = runner.invoke(app, ["spec", str(path), "--grad", "sign=ste", "-o", "-", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["gradients"]["w"] == 4


# -- check ---------------------------------------------------------------------------------------------

def test_check_compares_custom_paths_with_sympy_of_the_surrogate():
    data = check(bpviz.from_expression(BINARY, BINARY_AT)).to_data()
    assert data["agree"]
    for name, expected in (("w", 4), ("x", 2), ("b", 4)):
        row = data["inputs"][name]
        assert row == {"sympy": expected, "finite_difference": None, "custom": True}
    assert data["inputs"]["t"]["finite_difference"] == pytest.approx(-4)
    assert "custom" not in data["inputs"]["t"]


def test_check_catches_a_wrong_surrogate_value(monkeypatch):
    graph = bpviz.from_expression(BINARY, BINARY_AT)
    graph.node("w").grad = F(5)                 # what a walker that ignored the rule's value would give
    assert not check(graph).ok


def test_check_cli_shows_custom_rows_and_exits_0():
    result = runner.invoke(app, ["expr", BINARY, "--at", "w=0.5, x=1, b=-0.2, t=-1", "--check"])
    assert result.exit_code == 0, result.output
    assert "custom ∂" in result.output and "sympy's diff of the surrogate" in " ".join(result.output.split())


@settings(max_examples=25, deadline=None)
@given(st.fractions(-3, 3, max_denominator=50), st.fractions(-3, 3, max_denominator=50))
def test_custom_gradients_agree_with_sympy_of_the_surrogate(w, b):
    program = "u = w*x + b; y = sign(u) @grad(step(1 - abs(u))); v = round(u) @grad(1 - u**2); L = (y - t)**2 + v*w"
    graph = bpviz.from_expression(program, {"w": w, "x": 1, "b": b, "t": -1})
    report = check(graph)
    assert report.ok, report.to_data()
    assert all(row.custom for row in report.rows if row.name in ("w", "b"))


# -- outputs: JSON, figure, notes, steps --------------------------------------------------------------

def _reference(graph) -> str:
    lines = ["{"] + [f"  {_ENCODER.encode(k)}: {_ENCODER.encode(v)}," for k, v in _head(graph).items()]
    lines.append('  "nodes": [')
    lines.extend(f"    {_ENCODER.encode(entry)}," for entry in _node_entries(graph))
    lines[-1] = lines[-1][:-1]
    lines.append("  ],")
    tail = list(_tail(graph, {}, None).items())
    lines += [f"  {_ENCODER.encode(k)}: {_ENCODER.encode(v)}{',' if i < len(tail) - 1 else ''}"
              for i, (k, v) in enumerate(tail)]
    return "\n".join(lines + ["}\n"])


def test_json_marks_custom_edges_and_keeps_both_paths_in_step():
    graph = bpviz.from_expression(BINARY + "; z = clip(u, lo, 1) @grad(u=u, lo=2); J = L + z", {**BINARY_AT, "lo": -1})
    text = render_json(graph)
    assert text == _reference(graph)
    nodes = {n["name"]: n for n in json.loads(text)["nodes"]}
    local = nodes["y"]["inputs"][0]["local"]
    assert local == {"formula": "step(1 - abs(u))", "latex": "\\operatorname{step}\\left(1 - \\left|u\\right|\\right)",
                     "value": 1, "value_exact": "1", "custom": True, "true_formula": "0"}
    edges = nodes["z"]["inputs"]
    assert edges[0]["local"]["true_formula"] == "1 - step(lo - u) - step(u - 1)"
    assert "custom" not in edges[2]["local"]
    assert all("custom" not in e["local"] for n in nodes.values() if n["name"] not in ("y", "z") for e in n["inputs"])


def test_json_without_custom_gradients_has_no_new_fields():
    text = render_json(bpviz.from_expression("J = sign(x) + max(x, y)", {"x": 1, "y": 2}))
    assert "custom" not in text and "true_formula" not in text


@pytest.mark.parametrize("theme", sorted(PALETTES))
def test_figure_draws_a_custom_edge_dashed_and_labelled(theme):
    graph = bpviz.from_expression(BINARY, BINARY_AT)
    source = render_dot(graph, FigureOptions(theme=theme))
    colour = PALETTES[theme]["custom"]
    custom = [line for line in source.splitlines() if "style=dashed" in line and "->" in line]
    assert len(custom) == 2                     # tail → label, label → head, both dashed
    assert all(f'color="{colour}"' in line for line in custom)
    assert "custom ∂" in source and "∂y/∂u = step(1 − |u|)" in source
    assert "dashed edge, custom ∂" in source                # the legend says what it means
    plain = render_dot(bpviz.from_expression("u = w*x + b; y = sign(u); L = (y - t)**2", BINARY_AT))
    assert "custom" not in plain and "style=dashed" not in plain.replace("rounded,dashed", "")


def test_figure_with_no_edge_labels_still_labels_a_custom_edge():
    source = render_dot(bpviz.from_expression(BINARY, BINARY_AT), FigureOptions(edge_labels="none"))
    assert "custom ∂" in source and "step(1" not in source


def test_custom_colours_read_on_their_backgrounds():
    from test_glyphs import _contrast
    for theme, p in PALETTES.items():
        assert _contrast(p["custom"], p["bg"]) >= 4.5, theme


@pytest.mark.parametrize("lang, phrase", [
    ("en", "surrogate gradient (straight-through): the true derivative is 0 almost everywhere"),
    ("zh", "代理梯度（直通估计）：真正的导数几乎处处为 0"),
])
def test_notes_say_surrogate(lang, phrase):
    result = run(Source.expression(BINARY, BINARY_AT), Options.make(out="-", format="md", lang=lang))
    text = result.files[0][1]
    assert phrase in text
    assert "\\operatorname{step}\\left(1 - \\left|u\\right|\\right)" in text
    latex = run(Source.expression(BINARY, BINARY_AT), Options.make(out="-", format="tex", lang=lang)).files[0][1]
    assert "\\item" in latex and ("surrogate" in latex or "代理梯度" in latex)


def test_a_surrogate_for_a_function_with_a_derivative_names_it():
    result = run(Source.expression("y = relu(u) @grad(1)", {"u": -2}), Options.make(out="-", format="md"))
    assert "surrogate gradient: the backward pass uses" in result.files[0][1]
    assert "in place of the true derivative $\\mathbf{1}\\left[u > 0\\right]$" in result.files[0][1]


def test_notes_state_kink_conventions_in_both_languages():
    for lang, phrase in (("en", "a tie sends the whole gradient to the first operand"),
                         ("zh", "相等时整个梯度都传给第一个操作数")):
        text = run(Source.expression("J = max(a, b)", {"a": 1, "b": 1}),
                   Options.make(out="-", format="md", lang=lang)).files[0][1]
        assert phrase in text


def test_step_through_page_mentions_the_custom_gradient():
    html = run(Source.expression(BINARY, BINARY_AT), Options.make(out="-", format="html")).files[0][1]
    assert "custom ∂: the surrogate step(1 − |u|) replaces the true derivative" in html


def test_the_binary_neuron_example_trains_in_one_step():
    program = (EXAMPLES / "binary-neuron.txt").read_text()
    result = run(Source.expression(program, {"w": "0.5", "x": 1, "b": "-0.2", "t": -1}),
                 Options.make(out="-", format="md", lr="0.1", params=("w", "b")))
    assert "After the step, $L$ goes from $4$ to $0$." in result.files[0][1]


# -- found by attacking it ------------------------------------------------------------------------------

@pytest.mark.parametrize("program, at", [
    ("v = exp(c) @grad(1); L = sign(v)", {"c": 1}),
    ("v0 = sign(c) @grad(1); L = v0*c + sign(v0 + 1)", {"c": 2}),      # stacked binarised layers
])
def test_sign_over_a_custom_node_checks_and_makes_notes(tmp_path, program, at):
    graph = bpviz.from_expression(program, at)
    report = check(graph)
    assert report.ok and all(row.compared for row in report.rows)
    assert CliRunner().invoke(app, ["expr", program, "--at", ", ".join(f"{k}={v}" for k, v in at.items()),
                                    "-o", str(tmp_path / "n.md")]).exit_code == 0


@pytest.mark.parametrize("program, message", [
    ("y = max(a, a) @grad(a=2)", "a is operands 1 and 2 of this max()"),
    ("y = leaky_relu(x, x) @grad(x=7)", "x is operands 1 and 2 of this leaky_relu()"),
    ("y = sign(u) @grad(u=1, u=2)", "@grad gives u=… twice"),
])
def test_a_rule_by_name_must_name_one_operand_once(program, message):
    with pytest.raises(bpviz.BpvizError, match=re.escape(message)):
        bpviz.from_expression(program, {"a": 1, "x": -2, "u": 1})


def test_rows_with_nothing_to_compare_say_so():
    lines = ["a0 = x*w"] + [f"a{i} = a{i - 1}*a{i - 1} + a{i - 1}" for i in range(1, 14)]
    program = "; ".join(lines + ["y = sign(a13) @grad(1)", "L = y*w"])
    report = check(bpviz.from_expression(program, {"x": "0.001", "w": "0.001"}))
    assert report.sympy_skipped
    rows = {row.name: row for row in report.rows}
    assert not rows["x"].compared and report.to_data()["inputs"]["x"]["compared"] is False
    result = CliRunner().invoke(app, ["expr", program, "--at", "x=0.001, w=0.001", "--check"])
    assert "not compared" in result.output


def test_grad_in_the_matrix_view_names_the_option():
    result = CliRunner().invoke(app, ["spec", "examples/two-layer.yaml", "--view", "matrix", "--grad", "sign=ste"])
    assert result.exit_code == 2 and "--grad works on scalar graphs only" in result.output
    result = CliRunner().invoke(app, ["expr", "J = x*x", "--at", "x=1", "--grad", "sum=ste"])
    assert result.exit_code == 1 and "sum() works on whole matrices" in result.output


def test_a_graph_spec_error_at_evaluation_names_its_yaml_line(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text("graph:\n  u: x - 1\n  y: log(u - 0)\nvalues: {x: 1}\n")
    result = CliRunner().invoke(app, ["spec", str(spec)])
    assert result.exit_code == 1 and f"{spec}, line 3: graph.y: log is undefined at 0" in result.output
    assert "line 2, column" not in result.output


@pytest.mark.parametrize("program", ["J = sign(sqrt(x))", "J = sign(x**2.5)"])
def test_a_note_leaves_out_a_closed_form_sympy_cannot_evaluate(program, tmp_path):
    """sympy leaves the derivative of sign over a root unevaluated (no value at a number): the note
    is written without that closed form instead of failing."""
    graph = bpviz.from_expression(program, {"x": "0.5"})
    note = note_markdown(graph, Options())
    assert "0" in note and graph.gradients()["x"] == 0
