"""The JSON printer's direct text (render/json_out._scalar_lines) against json's own encoding of the
same entries (_node_entries), and a big program parsed in pieces against the same program parsed whole."""

import pytest

import bpviz
from bpviz.api import build_spec
from bpviz.parse import expr as parse_expr
from bpviz.render.json_out import _ENCODER, _head, _node_entries, _tail, render_json


def _reference(graph) -> str:
    """The document as json.JSONEncoder writes every node's entry (the printer before issue 14)."""
    lines = ["{"] + [f"  {_ENCODER.encode(k)}: {_ENCODER.encode(v)}," for k, v in _head(graph).items()]
    lines.append('  "nodes": [')
    lines.extend(f"    {_ENCODER.encode(entry)}," for entry in _node_entries(graph))
    if graph.nodes:
        lines[-1] = lines[-1][:-1]
    lines.append("  ],")
    tail = list(_tail(graph, {}, None).items())
    lines += [f"  {_ENCODER.encode(k)}: {_ENCODER.encode(v)}{',' if i < len(tail) - 1 else ''}"
              for i, (k, v) in enumerate(tail)]
    lines.append("}\n")
    return "\n".join(lines)


PROGRAMS = [
    ("e = (a + b) * (b + 1)", {"a": 2, "b": 1}),
    ("J = x**3/7 - (2/3)*x + relu(x - y) + abs(y) + x**y", {"x": "1/3", "y": 2}),
    ("J = sqrt(x)/3 + exp(y)*sin(x) + log(y) - tanh(x*y) + sigmoid(x) + softplus(y) + cos(x)**3 + tan(y)/x",
     {"x": 0.3, "y": 1.7}),
    ("θ = w·x − y; J = θ**2 / 2", {"w": "0.1", "x": -3, "y": "2.5"}),
    ("J = -x + (-2)*x + x/(-3) + 1e-30*x", {"x": "1e-5"}),
    ("J = relu(a*b - 6) * relu(c)", {"a": 2, "b": 3, "c": -1}),
    ("u = w*x + b; y = sign(u) @grad(step(1 - abs(u))); z = clip(u, lo, 1) @grad(lo=2); J = (y - t)**2 + z",
     {"w": "0.5", "x": 1, "b": "-0.2", "t": -1, "lo": 0}),
]


@pytest.mark.parametrize("program, values", PROGRAMS)
def test_scalar_json_text_is_what_json_writes(program, values):
    graph = bpviz.from_expression(program, values)
    assert render_json(graph) == _reference(graph)


@pytest.mark.parametrize("group", [False, True])
def test_network_json_text_is_what_json_writes(group):
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "examples" / "two-layer.yaml").read_text()
    graph = build_spec(text, "two-layer.yaml", group=group)
    assert render_json(graph) == _reference(graph)


def _big_program(lines: int) -> str:
    rows = [f"h{j} = relu(" + " + ".join(f"a{j}_{i}*x{i}" for i in range(8)) + f" + b{j})" for j in range(lines)]
    rows.insert(lines // 3, "m = (h0 +\n     h1)  # a sum over two lines\nk = h2 \\\n    * h3")
    rows.append("J = " + " + ".join(f"h{j}" for j in range(lines)) + " + m + k")
    return "\n".join(rows) + "\n"


def test_a_big_program_parsed_in_pieces_is_the_program_parsed_whole(monkeypatch):
    text = _big_program(400)
    assert len(text) > 2 * parse_expr._PIECE_CHARS
    values = {f"a{j}_{i}": (i + j) % 5 - 2 for j in range(400) for i in range(8)}
    values.update({f"b{j}": 1 for j in range(400)}, **{f"x{i}": i - 3 for i in range(8)})
    pieces = render_json(bpviz.from_expression(text, values))
    monkeypatch.setattr(parse_expr, "_PIECE_CHARS", 10 ** 9)
    assert pieces == render_json(bpviz.from_expression(text, values))


def test_a_syntax_error_in_a_big_program_is_python_s_own():
    text = _big_program(400).replace("h399 = relu(", "h399 = relu((", 1)
    with pytest.raises(bpviz.errors.ParseError) as error:
        bpviz.from_expression(text, {})
    assert "never closed" in str(error.value) or "line" in str(error.value)
