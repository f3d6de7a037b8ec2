"""The parser: what it builds (names, order, hash-consing) and what it refuses."""

from fractions import Fraction

import pytest

import bpviz
from bpviz.errors import BpvizError, DomainError, ParseError, ProgramError, ValuesError
from bpviz.parse.expr import parse_program


def names(graph):
    return [n.name for n in graph.nodes]


def test_topological_order_and_generated_names():
    g = parse_program("J = (w*x + b - y)**2 / 2")
    assert names(g) == ["w", "x", "t1", "b", "t2", "y", "t3", "t4", "2", "J"]
    assert [g.nodes[i].name for i in g.node("J").inputs] == ["t4", "2"]


def test_generated_names_skip_user_names():
    g = parse_program("t1 = a*b; J = t1 + a*c")
    assert set(names(g)) >= {"t1", "t2", "J"}
    assert g.node("t2").op.name == "mul"


def test_leaf_used_twice_is_one_node_with_two_edges():
    g = parse_program("J = x*x")
    x = g.node("x")
    assert names(g).count("x") == 1
    assert g.node("J").inputs == (x.index, x.index)
    assert len(g.consumers[x.index]) == 2


def test_identical_subexpressions_are_shared():
    g = parse_program("J = (a + b) * (a + b)")
    assert len([n for n in g.nodes if n.op and n.op.name == "add"]) == 1


def test_name_reuses_identical_unnamed_subexpression():
    g = parse_program("J = w*x + c; c = w*x", output="J")
    assert g.node("c").op.name == "mul"
    assert g.node("J").inputs == (g.node("c").index, g.node("c").index)


def test_operand_order_is_kept():
    g = parse_program("J = x*w - b")
    t = g.nodes[g.node("J").inputs[0]]
    assert [g.nodes[i].name for i in t.inputs] == ["x", "w"]
    assert g.node("J").op.name == "sub"


def test_division_is_a_division_node():
    g = parse_program("J = u / v")
    assert g.node("J").op.name == "div"
    assert g.local_formula(g.node("J"), 1) == "-u / v**2"


def test_assignments_in_any_order():
    g = bpviz.from_expression("J = a * 2; a = x + 1", {"x": 1})
    assert g.out.name == "J" and g.out.value == 4


def test_bare_expression_is_named_f():
    g = parse_program("x**2 + 1")
    assert g.out.name == "f"


def test_output_option_and_unused_warning():
    g = bpviz.from_expression("a = x*2; J = a + y", {"x": 1, "y": 1}, output="a")
    assert g.out.name == "a" and "y" not in g
    assert any("not used" in w for w in g.warnings)


def test_greek_names_and_numbers():
    g = bpviz.from_expression("J = θ * x + 1e-3 + .5", {"θ": 2, "x": 3})
    assert float(g.out.value) == pytest.approx(6.501)
    assert g.out.value == Fraction(6501, 1000)


def test_newlines_and_comments():
    g = bpviz.from_expression("# the model\nc = w*x  # product\nJ = c + b\n", {"w": 1, "x": 2, "b": 3})
    assert g.out.value == 5


def test_identity_assignment_keeps_both_names():
    g = bpviz.from_expression("a = x*2; J = a", {"x": 3})
    assert g.out.name == "J" and g.out.op.name == "id" and g.out.value == 6


@pytest.mark.parametrize("program, kind, fragment", [
    ("J = foo(x)", ParseError, "unknown function 'foo'"),
    ("J = sigmod(x)", ParseError, "did you mean 'sigmoid'"),
    ("J = x +* 2", ParseError, "column 8"),
    ("J = __import__('os')", ParseError, "unknown function '__import__'"),
    ("J = x.real", ParseError, "the only attribute is .T"),
    ("J = x[0]", ParseError, "subscripts"),
    ("J = lambda: 1", ParseError, "lambdas"),
    ("J = [x for x in y]", ParseError, "comprehensions"),
    ("J = (x for x in y)", ParseError, "comprehensions"),
    ("J = x^2", ParseError, "write '**'"),
    ("J = 'a'", ParseError, "strings"),
    ("import os", ParseError, "import statements are not allowed"),
    ("J = exp(x, y)", ParseError, "exactly one argument"),
    ("J = exp(x=1)", ParseError, "exactly one argument"),
    ("a = b = x", ParseError, "exactly one name"),
    ("J = x; J = y", ProgramError, "assigned twice"),
    ("a = b + 1; b = a * 2", ProgramError, "cycle: a → b → a"),
    ("", ParseError, "empty"),
    ("   \n  ", ParseError, "empty"),
    ("# nothing", ParseError, "empty"),
    ("exp = 2", ParseError, "is a function"),
    ("x + 1; y = 2", ParseError, "only the last line"),
    ("J = x < 2", ParseError, "comparisons"),
    ("J = 1j", ParseError, "complex literals"),
])
def test_refused(program, kind, fragment):
    with pytest.raises(kind) as info:
        parse_program(program)
    assert fragment in str(info.value)


def test_syntax_error_has_caret_under_column():
    with pytest.raises(ParseError) as info:
        parse_program("θ = α +* 2")
    assert "column 8" in str(info.value)
    assert info.value.detail.splitlines()[1].index("^") == 2 + 7


def test_the_caret_stands_under_the_column_after_wide_characters():
    """CJK names take two terminal cells each: the caret goes where the terminal shows the column."""
    with pytest.raises(ParseError) as info:
        parse_program("J = 变量 +* 2")
    assert "column 9" in str(info.value)
    source, caret = info.value.detail.splitlines()
    assert source == "  J = 变量 +* 2" and caret == " " * (2 + 4 + 2 * 2 + 2) + "^"


@pytest.mark.parametrize("program, values, fragment", [
    ("J = log(x)", {"x": 0}, "log is undefined at 0"),
    ("J = 1/(x-1)", {"x": 1}, "division by zero"),
    ("J = sqrt(x)", {"x": -1}, "sqrt is undefined at -1"),
    ("J = sqrt(x)", {"x": 0}, "not differentiable at 0"),
    ("J = x ** 0.5", {"x": -4}, "not real"),
    ("J = exp(x)", {"x": 1000}, "overflows"),
    ("J = x ** -1", {"x": 0}, "division by zero"),
])
def test_domain_errors_name_the_place(program, values, fragment):
    with pytest.raises(DomainError) as info:
        bpviz.from_expression(program, values)
    assert fragment in str(info.value)
    assert "column" in str(info.value)


def test_missing_values_are_all_listed():
    with pytest.raises(ValuesError, match="no value for w, x, b"):
        bpviz.from_expression("J = w*x + b", {})


def test_unknown_value_name_suggests():
    with pytest.raises(ValuesError, match="did you mean 'w'"):
        bpviz.from_expression("J = w*x", {"w": 1, "x": 1, "ww": 2})


def test_value_for_computed_node():
    with pytest.raises(ValuesError, match="computed by the program"):
        bpviz.from_expression("c = w*x; J = c + 1", {"w": 1, "x": 1, "c": 2})


def test_kink_gives_value_and_warning():
    g = bpviz.from_expression("J = relu(x) + abs(y)", {"x": 0, "y": 0})
    assert g.out.value == 0 and g.gradients() == {"x": 0, "y": 0}
    assert any("relu'(0) = 0" in w for w in g.warnings)
    assert any("abs'(0) = 0" in w for w in g.warnings)


def test_all_errors_share_one_base():
    for kind in (ParseError, ProgramError, ValuesError, DomainError):
        assert issubclass(kind, BpvizError)
