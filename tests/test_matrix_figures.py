"""Matrix figures: cards with shapes and grids (or summaries), vector-Jacobian products on edges,
shapes-only cards, escaping, themes, and an SVG from the embedded renderer."""

import re
import unicodedata
import xml.etree.ElementTree as ET
from fractions import Fraction

import numpy as np
import pytest
from typer.testing import CliRunner

import bpviz
from bpviz.api import Source
from bpviz.cli import app
from bpviz.render.dot import THIN, FigureOptions, num, render_dot, shape_label
from bpviz.tensor import summary

runner = CliRunner()
LAYER = "Z = X @ W + b; A = sigmoid(Z); J = mean(A*A)"
LAYER_AT = {"X": [[1, 2], [3, 4], [5, 6]], "W": [[1, 0, 2], [0, 1, 1]], "b": [1, -1, 0]}
LAYER_AT_TEXT = "X=[[1,2],[3,4],[5,6]], W=[[1,0,2],[0,1,1]], b=[1,-1,0]"
MLP = "Z1 = X @ W1 + b1; A1 = relu(Z1); Z2 = A1 @ W2 + b2; P = softmax(Z2); J = -sum(Y * log(P)) / N"
MLP_SHAPES = {"X": "(N,Dx)", "W1": "(Dx,H)", "b1": "(H,)", "W2": "(H,C)", "b2": "(C,)", "Y": "(N,C)",
              "N": "()"}


def figure(program=LAYER, values=None, **options) -> str:
    g = bpviz.from_expression(program, LAYER_AT if values is None else values)
    return render_dot(g, FigureOptions(**options))


def card(source: str, graph, name: str) -> str:
    """The DOT line of one node's card."""
    node_id = graph.node(name).id
    return next(line for line in source.splitlines() if line.startswith(f"\t{node_id} ["))


def edge(source: str, graph, tail: str, head: str) -> list:
    """The DOT lines of the edges tail -> head: the edge, or the node of its label (drawn on the
    edge: tail — label → head)."""
    t, h = graph.node(tail), graph.node(head)
    starts = (f"\t{t.id} -> {h.id} ", f"\te{t.index}_{h.index}_")
    return [line for line in source.splitlines() if line.startswith(starts) and " -> " not in line
            or line.startswith(starts[0])]


def nfc(text: str) -> str:
    """Bars are combining macrons (``A`` + U+0304); compare text in one normal form."""
    return unicodedata.normalize("NFC", text)


def cell(text: str) -> str:
    return f"{THIN}{text}{THIN}"


@pytest.mark.parametrize("shape, text", [
    ((3, 4), "ℝ³ˣ⁴"), ((3,), "ℝ³"), ((), "ℝ"), ((256, 784), "ℝ²⁵⁶ˣ⁷⁸⁴"), ((1, 10), "ℝ¹ˣ¹⁰"),
    (("N", "Dx"), "N×Dx"), (("H",), "H"), ((1, "H"), "1×H"),
])
def test_shape_label(shape, text):
    assert shape_label(shape) == text


def test_small_arrays_show_their_shape_and_every_entry_in_a_grid():
    g = bpviz.from_expression(LAYER, LAYER_AT)
    source = render_dot(g)
    x = card(source, g, "X")
    assert "ℝ³ˣ²" in x and "∂J/∂X" in x
    for entry in (1, 2, 3, 4, 5, 6):
        assert cell(str(entry)) in x
    assert x.count('sides="LTB"') == 2 and x.count('sides="RTB"') == 2     # value and gradient grids
    for entry in g.node("X").grad.ravel():
        assert cell(num(entry, 4)) in x
    t1 = card(source, g, "t1")
    assert cell("16") in t1 and cell("2.501×10⁻⁸") in t1                    # typographic minus, ×10ⁿ
    assert cell("−1") in card(source, g, "b") and "ℝ³" in card(source, g, "b")
    assert "min " not in source                                           # nothing is summarised


def test_a_scalar_node_of_a_matrix_graph_is_a_plain_number():
    g = bpviz.from_expression(LAYER, LAYER_AT)
    j = card(render_dot(g), g, "J")
    assert "ℝ</font>" in j and f">{num(g.node('J').value, 4)}</font>" in j and "sides=" not in j


def test_exact_entries_print_exactly_and_by_the_digits():
    values = {"X": [["0.5", -2], [3, "1/3"]]}
    g = bpviz.from_expression("J = sum(X * X) / 3", values)
    x = card(render_dot(g), g, "X")
    assert cell("0.5") in x and cell("−2") in x and cell("0.3333") in x   # 1/3 by fmt's rules
    assert cell("0.3333") in x and cell(num(Fraction(2, 9), 4)) in x      # ∂J/∂x = 2x/3: 1/3 and 2/9
    x6 = card(render_dot(g, FigureOptions(digits=6)), g, "X")
    assert cell("0.333333") in x6


def test_a_scalar_used_twice_shows_the_sum_of_its_shares():
    g = bpviz.from_expression("J = sum(s*X) + s*s", {"s": 2, "X": [[1, 2], [3, 4]]})
    assert "10 + 2 + 2 = 14" in card(render_dot(g), g, "s")


def big_values(rows=64, cols=100):
    rng = np.random.default_rng(7)
    return {"X": rng.integers(-9, 10, (rows, cols)).tolist(), "W": rng.integers(-3, 4, (cols, 5)).tolist()}


def test_big_arrays_show_their_shape_and_a_summary_not_a_grid():
    values = big_values()
    g = bpviz.from_expression("Z = X @ W; J = mean(Z * Z)", values)
    source = render_dot(g)
    x = card(source, g, "X")
    assert "ℝ⁶⁴ˣ¹⁰⁰" in x and "sides=" not in x and THIN not in x
    assert summary(np.array(values["X"]), 4).replace("-", "−") in x
    assert summary(g.node("X").grad, 4).replace("-", "−") in x
    assert "min " in card(source, g, "W")              # 100 rows: more than max_cells
    assert "arrays larger than 4×4: their minimum, maximum and norm ‖·‖" in source


@pytest.mark.parametrize("max_cells, grids", [(3, 0), (4, 2), (8, 2)])
def test_max_cells_is_the_most_rows_and_columns_of_a_grid(max_cells, grids):
    values = {"X": [[1, 2, 3, 4], [5, 6, 7, 8]]}
    g = bpviz.from_expression("J = sum(X)", values)
    x = card(render_dot(g, FigureOptions(max_cells=max_cells)), g, "X")
    assert x.count('sides="LTB"') == grids
    assert ("min 1, max 8" in x) == (grids == 0)


@pytest.mark.parametrize("tail, head, rule", [
    ("X", "t1", "X̄ = t̄1·Wᵀ"), ("W", "t1", "W̄ = Xᵀ·t̄1"), ("t1", "Z", "t̄1 = Z̄"),
    ("b", "Z", "b̄ = Σ_rows Z̄"), ("Z", "A", "Z̄ = Ā ◦ A ◦ (1 − A)"), ("t2", "J", "t̄2 = J̄·1 / 9"),
])
def test_edges_carry_the_vector_jacobian_product(tail, head, rule):
    g = bpviz.from_expression(LAYER, LAYER_AT)
    for mode in ("auto", "symbolic", "numeric", "both"):
        [line] = edge(render_dot(g, FigureOptions(edge_labels=mode)), g, tail, head)
        assert nfc(f">{rule}</font>") in nfc(line), mode
        assert "∂" not in line                      # not a scalar local derivative


def test_fan_out_edges_add_up_and_show_their_share_unless_symbolic():
    g = bpviz.from_expression(LAYER, LAYER_AT)
    share = g.contribution(g.node("t2").index, 0)
    for mode, shown in (("auto", True), ("both", True), ("numeric", True), ("symbolic", False)):
        lines = edge(render_dot(g, FigureOptions(edge_labels=mode)), g, "A", "t2")
        assert len(lines) == 2 and all(nfc("Ā += t̄2 ◦ A") in nfc(line) for line in lines)
        assert all((cell(num(share[0, 0], 4)) in line) == shown for line in lines), mode
    legend = render_dot(g)
    assert "at fan-out the shares add up (+=), each under its rule" in legend
    assert "v̄ = ∂J/∂v (a vector-Jacobian product)" in legend


def test_no_edge_labels():
    source = figure(edge_labels="none")
    assert "X̄" not in source and "edge label" not in source
    assert "->" in source and "ℝ³ˣ²" in source


def test_shapes_only_cards_show_shapes_and_no_values():
    g = Source.expression(MLP, shapes=MLP_SHAPES).build()
    source = render_dot(g)
    for name, shape in (("X", "N×Dx"), ("W1", "Dx×H"), ("b1", "H"), ("Z2", "N×C"), ("J", "ℝ"), ("N", "ℝ")):
        assert f'<font point-size="13">{shape}</font>' in card(source, g, name), name
    assert ">value<" not in source and "sides=" not in source and "∂J/∂X" not in source
    assert "each card: a node and its shape; the gradient ∂J/∂v has the shape of v" in source
    [line] = edge(source, g, "W1", "t1")
    assert "W̄1 = Xᵀ·t̄1" in line


def test_hostile_names_and_titles_are_escaped():
    g = bpviz.from_expression(LAYER, LAYER_AT)
    g.node("X").name = '<b>"x" & 中文'
    g.node("A").name = "A</font><img src=x>"
    g.title = '<script>"t" & u'
    source = render_dot(g)
    assert "&lt;b&gt;&quot;x&quot; &amp; 中文" in source
    assert "<img" not in source and "<script" not in source and '<b>"x"' not in source
    assert "A&lt;/font&gt;&lt;img src=x&gt;" in source
    assert "&lt;script&gt;&quot;t&quot; &amp; u" in source
    assert "&lt;̄b&gt;" in source                   # X̄ on its edge: the bar, then the escaped name


def test_chinese_names_are_drawn():
    g = bpviz.from_expression("输出 = 权重 @ x; J = sum(输出)", {"权重": [[1, 2], [3, 4]], "x": [1, -1]})
    source = render_dot(g)
    assert "权\u0304重 = 输\u0304出·xᵀ" in source and "∂J/∂权重" in source


def test_dark_theme_colours_the_grids():
    source = figure(theme="dark")
    assert 'bgcolor="#0d1117"' in source
    assert f'<font point-size="11" color="#79c0ff">{cell("16")}' in source      # a value entry
    assert 'color="#ffbd85"' in source and 'bgcolor="#52341a"' in source      # gradient entries, band
    assert "#0b5fa5" not in source                                          # no light-theme blue


def test_highlight_works_on_matrix_graphs():
    g = bpviz.from_expression(LAYER, LAYER_AT)
    source = render_dot(g, FigureOptions(highlight="W", legend=False))
    highlighted = [line for line in source.splitlines() if 'color="#8250df"' in line and "penwidth" in line]
    assert sum(re.search(r"-> n\d+ ", line) is not None for line in highlighted) == 6  # W → t1 → Z → A ⇉ t2 → J
    assert not any(line.startswith(f"\t{g.node('X').id} ") for line in highlighted)


def test_matrix_figures_are_deterministic():
    assert figure() == figure()
    values = big_values(8, 9)
    assert figure("Z = X @ W; J = sum(Z)", values) == figure("Z = X @ W; J = sum(Z)", values)


def test_every_html_label_is_balanced():
    """Grids nest tables in cards: every <table>, <tr> and <td> is closed, in order."""
    for source in (figure(), figure("J = sum(s*X) + s*s", {"s": 2, "X": [[1, 2], [3, 4]]}),
                   render_dot(Source.expression(MLP, shapes=MLP_SHAPES).build())):
        for label in re.findall(r"label=<(.*)>", source):
            stack = []
            for closing, tag in re.findall(r"<(/?)(table|tr|td)\b", label):
                if closing:
                    assert stack and stack.pop() == tag, label
                else:
                    stack.append(tag)
            assert not stack, label


def test_embedded_renderer_draws_an_svg_with_the_grids(tmp_path):
    out = tmp_path / "m.svg"
    result = runner.invoke(app, ["expr", LAYER, "--at", LAYER_AT_TEXT, "-o", str(out), "--renderer", "embedded"])
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    texts = [nfc("".join(t.itertext()).strip("\u2009 ")) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "ℝ³ˣ²" in texts and "16" in texts and "2.501×10⁻⁸" in texts
    assert nfc("X̄ = t̄1·Wᵀ") in texts and nfc("Ā += t̄2 ◦ A") in texts
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 20    # the brackets


def test_shapes_only_svg_from_the_cli(tmp_path):
    out = tmp_path / "s.svg"
    args = ["expr", MLP, "-o", str(out), "--renderer", "embedded"]
    for name, dims in MLP_SHAPES.items():
        args += ["--shape", f"{name}={dims}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    texts = ["".join(t.itertext()) for t in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert "N×Dx" in texts and "Dx×H" in texts


def test_auto_direction_stacks_matrix_cards_down_the_page():
    from bpviz.render.dot import FigureOptions, render_dot
    matrix = bpviz.from_expression("Z = X @ W; J = sum(Z)", {"X": [[1, 2]], "W": [[1], [2]]})
    scalar = bpviz.from_expression("J = w * x", {"w": 2, "x": 3})
    assert "rankdir=TB" in render_dot(matrix) and "rankdir=LR" in render_dot(scalar)
    assert "rankdir=LR" in render_dot(matrix, FigureOptions.make(rankdir="LR"))
