"""The parser's shortcuts give what the general path gives (issue 14: parsing made faster).

An ASCII program's node texts are sliced from its lines directly, other programs' from their UTF-8
bytes; a name is checked once however often it is used; a place is worked out once per position;
inputs are remembered by name. None of that may show in the graph, and the walk must still allow
one nesting level per call (a sum of 15,000 terms parses)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpviz.errors import ParseError
from bpviz.parse.expr import RECURSION_LIMIT, parse_program

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


def test_one_call_per_nesting_level():
    """The walk recurses once per level: a sum of 15,000 terms (14,999 levels) fits the limit."""
    terms = 15_000
    g = parse_program("J = " + " + ".join(f"x{i}" for i in range(terms)))
    assert len(g.nodes) == 2 * terms - 1
    with pytest.raises(ParseError, match=f"nested more than {RECURSION_LIMIT} levels"):
        parse_program("J = " + " + ".join(["x"] * (RECURSION_LIMIT + 100)))


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
