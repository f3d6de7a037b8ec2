"""The parser's shortcuts give what the general path gives (issue 14: parsing made faster).

An ASCII program's node texts are sliced from its lines directly, other programs' from their UTF-8
bytes; a name is checked once however often it is used; a place is kept for the next node, which
often starts there too; inputs are remembered by name; the builder makes nodes by position. None of
that may show in the graph, and the walk must still allow one nesting level per call (a sum of
15,000 terms parses)."""

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpviz.errors import ParseError, ProgramError
from bpviz.graph import GraphBuilder, Node
from bpviz.ops import OPS
from bpviz.parse.expr import RECURSION_LIMIT, _Parser, parse_program

NAMES = ["w", "x", "b", "y", "a1", "h_2"]
FUNCS = ["relu", "exp", "tanh", "sigmoid", "abs"]


def _terms():
    leaf = st.one_of(st.sampled_from(NAMES), st.sampled_from(["2", "0.5", "3", "1e-3"]))

    def grow(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from([" + ", " - ", "*", " / "]), inner).map("".join),
            st.tuples(st.sampled_from(FUNCS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda s: f"-({s})"),
            inner.map(lambda s: f"({s})**2"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
        )
    return st.recursive(leaf, grow, max_leaves=8)


@st.composite
def programs(draw):
    """A few assignments, some of them using earlier ones, and a last one that uses them all."""
    count = draw(st.integers(1, 4))
    lines = []
    for i in range(count):
        term = draw(_terms())
        uses = " + ".join(f"v{j}" for j in range(i))
        lines.append(f"v{i} = {term}" + (f" + {uses}" if uses and draw(st.booleans()) else ""))
    lines.append("J = " + " + ".join(f"v{i}" for i in range(count)))
    return "\n".join(lines) if draw(st.booleans()) else "; ".join(lines)


def _shape(graph):
    """Everything the parser decides about each node (values come later)."""
    return [(n.index, n.name, n.kind, n.op and n.op.name, n.param, n.inputs, n.named, n.where, n.pos, n.text,
             tuple(s and (s.source, s.slots) for s in n.custom)) for n in graph.nodes]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_ascii_text_is_sliced_like_utf8_bytes(program):
    """A trailing non-ASCII comment sends the same program down the UTF-8 path: same graph."""
    plain = parse_program(program)
    other = parse_program(program + "  # é")
    assert _shape(plain) == _shape(other)
    assert (plain.names, plain.assigned, plain.defaults, plain.warnings) == \
        (other.names, other.assigned, other.defaults, other.warnings)


@pytest.mark.parametrize("comment", ["", "  # θ"])
def test_multiline_rule_source_and_places(comment):
    g = parse_program("u = w*x + b\ny = sign(u) @grad(step(1 -\n    abs(u)))\nJ = (y\n - t)**2" + comment)
    y = g.node("y")
    assert y.custom[0].source == "step(1 -\n    abs(u))"
    assert (y.where, y.pos) == ("line 2, column 5", (2, 5))
    assert g.node("t").where == "line 5, column 4"
    assert g.node("J").text is None                  # spans two lines: no text kept


def test_names_defaults_and_unused():
    g = parse_program("w = 2\nk = 3\nu = w*x + x*x\nunused = x + 1\nJ = u*u", output="J")
    assert g.names == ("J", "k", "u", "unused", "w", "x")
    assert g.defaults == {"w": 2}
    assert g.warnings == ["not used by the output 'J': k, unused"]
    assert g.node("x").where == "line 3, column 7"   # where it is first used


def test_a_name_used_again_is_checked_each_place_it_is_assigned():
    with pytest.raises(ParseError, match="'relu' is a function") as info:
        parse_program("a = x*y\nb = a + a\nrelu = a")
    assert info.value.line == 3 and info.value.column == 1


def test_one_call_per_nesting_level_but_none_down_a_left_side():
    """The walk recurses once per level, except down a chain's left side (_binops): a sum of
    RECURSION_LIMIT + 100 terms nests that deep on its left and is walked in a loop; a power tower
    (right-associative) of as many levels is refused (by Python's parser, which stops first)."""
    terms = RECURSION_LIMIT + 100
    g = parse_program("J = " + " + ".join(f"x{i}" for i in range(terms)))
    assert len(g.nodes) == 2 * terms - 1
    with pytest.raises(ParseError, match="nested"):
        parse_program("J = " + " ** ".join(["x"] * (RECURSION_LIMIT + 100)))


def test_columns_of_non_ascii_programs_point_at_the_text():
    """A caret's column counts characters, not UTF-8 bytes: each node's (line, column) is where its own
    text starts, on long lines of Greek, CJK and mathematical letters too (worked out per line once)."""
    import random
    from bpviz.parse.expr import ascii_operators
    rng = random.Random(5)
    names = ["θ", "变量", "x", "é1", "ｗ", "a𝑥", "b", "λ_2"]
    for _ in range(200):
        lines = [f"v{k} = " + " + ".join(f"{rng.choice(names)}*{rng.choice(names)}" for _ in range(rng.randint(1, 40)))
                 + "  # 😀" for k in range(rng.randint(1, 3))]
        graph = parse_program("\n".join(lines))
        read = [ascii_operators(line) for line in lines]      # fullwidth letters and operators as ASCII
        for node in graph.nodes:
            if node.pos and node.text:
                line, column = node.pos
                assert read[line - 1][column - 1:].startswith(node.text), (lines, node)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.booleans())
def test_places_kept_for_the_next_node_are_the_places_worked_out_afresh(program, other_script):
    """_located keeps only its last answer (the walk meets the nodes that start at one place one after
    another): every node gets the place it gets when nothing is kept."""
    program += "  # θ" if other_script else ""
    cached = parse_program(program)
    located = _Parser._located

    def afresh(parser, node):                       # nothing kept from the node before
        parser._last_key = None
        return located(parser, node)
    _Parser._located = afresh
    try:
        fresh = parse_program(program)
    finally:
        _Parser._located = located
    assert _shape(cached) == _shape(fresh)


def test_builder_nodes_are_the_nodes_made_by_keyword():
    """GraphBuilder passes Node's fields by position: the nodes it makes are the ones made by name."""
    b = GraphBuilder()
    x, two = b.input("x", "column 5"), b.const(Fraction(2))
    u = b.op("mul", [x, two], name="u", where="column 1", text="x*2", pos=(1, 1), group="layer 1")
    rule = parse_program("y = sign(u) @grad(1)").node("y").custom
    v = b.op("sign", (u,), custom=rule)
    assert b.nodes == [
        Node(0, "x", "input", named=True, where="column 5"),
        Node(1, "2", "const", param=Fraction(2)),
        Node(2, "u", "op", op=OPS["mul"], inputs=(0, 1), named=True, where="column 1", text="x*2",
             group="layer 1", pos=(1, 1)),
        Node(3, "", "op", op=OPS["sign"], inputs=(2,), custom=rule),
    ]
    assert (x, two, u, v) == (0, 1, 2, 3)


def test_a_name_given_twice_is_the_first_such_name():
    b = GraphBuilder()
    x, y = b.input("x"), b.input("y")
    last = b.op("add", (b.op("mul", (x, y), name="u"), b.op("sub", (x, y), name="v")))
    last = b.op("add", (last, b.op("div", (x, y), name="v")))
    last = b.op("add", (last, b.op("pow", (x, y), name="u")))
    with pytest.raises(ProgramError, match="two nodes are named 'u'"):
        b.finish(last)
