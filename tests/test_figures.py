"""Figures: golden DOT for the worked examples, SVG text per node, PNG files, renderers."""

import os
import re
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

import bpviz
from bpviz.cli import app
from bpviz.errors import ProgramError, RenderError, UsageError
from bpviz.api import Options, Source, build_spec, run
from bpviz.render.dot import (LARGE_FIGURE_PX, NETWORK_GROUP_NODES, NETWORK_LABEL_EDGES, FigureLayout, FigureOptions,
                              num, render_dot, size_warning)
from bpviz.write import choose_renderer, find_embedded, find_system, render_graphviz
from conftest import APPLES, APPLES_AT, COLAH, COLAH_AT, NG, NG_AT, NG_AT_TEXT
from conftest import EXAMPLES as EXAMPLE_FILES

runner = CliRunner()
EXAMPLES = {"ng": (NG, NG_AT), "apples": (APPLES, APPLES_AT), "colah": (COLAH, COLAH_AT)}
needs_dot = pytest.mark.skipif(find_system() is None, reason="Graphviz's dot is not on PATH")


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_golden_dot(golden, name):
    program, values = EXAMPLES[name]
    golden(f"{name}.dot", render_dot(bpviz.from_expression(program, values)))


def test_dot_is_deterministic_and_escapes_names():
    g = bpviz.from_expression(NG, EXAMPLES["ng"][1])
    assert render_dot(g) == render_dot(bpviz.from_expression(NG, EXAMPLES["ng"][1]))
    g.title = 'a"b <x> & y'
    source = render_dot(g)
    assert "a&quot;b &lt;x&gt; &amp; y" in source


def test_fan_out_shows_the_sum_and_contributions():
    g = bpviz.from_expression(*EXAMPLES["colah"])
    source = render_dot(g)
    assert "2 + 3 = 5" in source          # b's gradient as the sum of its out-edges
    assert "2 × 1 → 2" in source and "3 × 1 → 3" in source


@pytest.mark.parametrize("mode, present, absent", [
    ("symbolic", ["∂c/∂w = x"], ["∂c/∂w = x = −2"]),
    ("numeric", ["∂c/∂w = −2"], ["∂c/∂w = x"]),
    ("both", ["∂c/∂w = x = −2", "∂d/∂y = −1"], []),
    ("none", [], ["∂c/∂w"]),
])
def test_edge_label_modes(mode, present, absent):
    g = bpviz.from_expression(NG, EXAMPLES["ng"][1])
    source = render_dot(g, FigureOptions(edge_labels=mode))
    for text in present:
        assert text in source
    for text in absent:
        assert text not in source


def test_highlight_marks_exactly_the_chain_rule_path():
    g = bpviz.from_expression(*EXAMPLES["colah"])
    source = render_dot(g, FigureOptions(highlight="a", legend=False))
    highlighted = [line for line in source.splitlines() if "#8250df" in line]
    # a -> t1 -> e: three nodes and two edges (each drawn through its label: tail — label → head)
    assert sum(re.search(r"-> n\d+ ", line) is not None for line in highlighted) == 2
    assert sum("->" not in line for line in highlighted) == 3


def test_options_are_validated():
    with pytest.raises(UsageError, match="--theme must be one of"):
        FigureOptions.make(theme="pink")
    with pytest.raises(UsageError, match="unknown figure option"):
        FigureOptions.make(colour="red")
    with pytest.raises(ProgramError, match="not a node"):
        render_dot(bpviz.from_expression("J = x*2", {"x": 1}), FigureOptions(highlight="q"))


def test_dark_theme_uses_dark_background():
    source = render_dot(bpviz.from_expression("J = x*2", {"x": 1}), FigureOptions(theme="dark"))
    assert 'bgcolor="#0d1117"' in source


def test_numbers_use_a_typographic_minus():
    assert num(-4, 4) == "−4"


def renderers():
    kinds = [pytest.param("embedded", id="embedded")]
    kinds.append(pytest.param("system", id="system", marks=[pytest.mark.system_dot, needs_dot]))
    return kinds


@pytest.mark.parametrize("kind", renderers())
def test_svg_is_valid_self_contained_and_shows_every_number(tmp_path, kind):
    out = tmp_path / "j.svg"
    result = runner.invoke(app, ["expr", NG, "--at", NG_AT_TEXT, "-o", str(out), "--renderer", kind])
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    g = bpviz.from_expression(NG, EXAMPLES["ng"][1])
    for node in g.nodes:
        if node.kind == "const":
            continue
        assert node.name in texts or any(node.name in t for t in texts)
        assert num(node.value, 4) in texts, node.name
        grad = num(node.grad, 4)
        assert grad in texts, node.name
    raw = out.read_text()
    for external in ("xlink:href=\"http", "href=\"http", "<image", "@import"):
        assert external not in raw


@pytest.mark.parametrize("kind", renderers())
def test_png_is_a_png_of_plausible_size(tmp_path, kind):
    out = tmp_path / "j.png"
    result = runner.invoke(app, ["expr", NG, "--at", NG_AT_TEXT, "-o", str(out), "--renderer", kind])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 800 < width < 6000 and 200 < height < 3000, (width, height)
    assert len(data) > 20_000


def test_dot_to_stdout_and_format_override(tmp_path):
    result = runner.invoke(app, ["expr", "J = x*2", "--at", "x=1", "-f", "dot", "-o", "-"])
    assert result.exit_code == 0 and result.stdout.startswith("digraph bpviz {")
    out = tmp_path / "figure.txt"
    result = runner.invoke(app, ["expr", "J = x*2", "--at", "x=1", "-f", "svg", "-o", str(out),
                                 "--renderer", "embedded"])
    assert result.exit_code == 0 and out.read_text().lstrip().startswith("<?xml")


def test_gv_extension_is_dot(tmp_path):
    out = tmp_path / "j.gv"
    assert runner.invoke(app, ["expr", "J = x*2", "--at", "x=1", "-o", str(out)]).exit_code == 0
    assert out.read_text().startswith("digraph")


def _fake_renderer(tmp_path, name, script):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_system_renderer_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError, match="no system Graphviz"):
        choose_renderer("system")
    result = runner.invoke(app, ["expr", "J = x", "--at", "x=1", "-o", str(tmp_path / "j.svg"),
                                 "--renderer", "system"])
    assert result.exit_code == 1 and "no system Graphviz" in result.output
    assert not (tmp_path / "j.svg").exists()


def test_auto_falls_back_to_embedded_without_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    chosen = choose_renderer("auto")
    assert chosen.kind == "embedded" and "graphviz-pure" in chosen.version


def test_failing_renderer_leaves_existing_file_untouched(tmp_path, monkeypatch):
    _fake_renderer(tmp_path, "dot", 'if [ "$1" = -V ]; then echo "dot 0"; exit 0; fi\n'
                                    'echo "Error: layout exploded" >&2; exit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "j.svg"
    out.write_text("precious")
    result = runner.invoke(app, ["expr", "J = x", "--at", "x=1", "-o", str(out), "--renderer", "system"])
    assert result.exit_code == 1
    assert "renderer (dot) failed: Error: layout exploded" in result.output
    assert out.read_text() == "precious"


def test_renderer_timeout_is_a_clear_error(tmp_path, monkeypatch):
    _fake_renderer(tmp_path, "dot", 'if [ "$1" = -V ]; then echo "dot 0"; exit 0; fi\nexec /bin/sleep 5\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError, match="timed out"):
        render_graphviz("digraph{}", "svg", choose_renderer("system"), timeout=0.5)


def test_unwritable_output(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o500)
    result = runner.invoke(app, ["expr", "J = x", "--at", "x=1", "-o", str(target / "j.dot")])
    if os.geteuid() == 0:       # root ignores directory permissions; a missing directory still fails
        result = runner.invoke(app, ["expr", "J = x", "--at", "x=1", "-o", str(target / "no" / "j.dot")])
    assert result.exit_code == 1 and "cannot write" in result.output
    target.chmod(0o700)


def test_embedded_renderer_is_installed():
    assert find_embedded() is not None


# -- layout: networks readable where they are used, the main chain straight, labels on their edge --

def spec_graph(name: str, group: bool = False, view: str = "scalar"):
    return build_spec((EXAMPLE_FILES / name).read_text(), name, group=group, view=view)


def layout(source: str, kind: str = "system") -> tuple:
    """Where the renderer puts things (its -Tplain output, in inches): node id -> (x, y, width,
    height), and edges as (tail, head, [(x, y), ...])."""
    out = subprocess.run([choose_renderer(kind).command, "-Tplain"], input=source.encode("utf-8"),
                         capture_output=True, check=True, timeout=60).stdout.decode("utf-8")
    nodes, edges = {}, []
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "node":
            nodes[parts[1]] = tuple(map(float, parts[2:6]))
        elif parts[0] == "edge":
            n = int(parts[3])
            edges.append((parts[1], parts[2], [(float(parts[4 + 2 * i]), float(parts[5 + 2 * i])) for i in range(n)]))
    return nodes, edges


def across(source: str, nodes: dict, node_id: str) -> float:
    """A node's place within its rank: left to right in TB figures, top to bottom in LR ones."""
    x, y = nodes[node_id][:2]
    return x if "rankdir=TB" in source else -y


def along(source: str, nodes: dict, node_id: str) -> float:
    """A node's rank coordinate."""
    x, y = nodes[node_id][:2]
    return -y if "rankdir=TB" in source else x


@needs_dot
@pytest.mark.parametrize("name, group, view", [
    ("two-layer.yaml", True, "scalar"), ("two-layer.yaml", False, "scalar"), ("wide.yaml", True, "scalar"),
    ("wide.yaml", False, "scalar"), ("two-layer.yaml", False, "matrix"),
])
def test_network_inputs_units_and_biases_are_drawn_in_index_order(name, group, view):
    graph = spec_graph(name, group, view)
    source = render_dot(graph)
    nodes, edges = layout(source)
    drawn = [n for n in graph.nodes if n.id in nodes]
    place = {n.name: across(source, nodes, n.id) for n in drawn}
    rank = {n.name: along(source, nodes, n.id) for n in drawn}
    families: dict = {}
    for n in drawn:
        unit = re.fullmatch(r"(.+\.[za])\[(\d+)\]", n.name)
        if unit:
            families.setdefault(unit.group(1), []).append((int(unit.group(2)), n.name))
        elif n.kind == "input" and n.name not in graph.params and n.name != "y":
            families.setdefault("inputs", []).append((n.index, n.name))
    assert families
    for family, members in families.items():
        by_index = [name for i, name in sorted(members)]
        assert sorted(by_index, key=place.get) == by_index, family      # x1 x2 …, h.z[1] h.z[2] …
    biases = [n for n in drawn if n.name in graph.params and re.fullmatch(r".+\.b(\[\d+\])?", n.name)]
    assert biases or view == "matrix" or not group
    for bias in biases:             # beside its layer: in the rank of what it is added to, after it
        beside = {graph.nodes[j].name for d, slot in graph.consumers[bias.index] for j in graph.nodes[d].inputs
                  if graph.nodes[j].id in nodes and j != bias.index}
        same_rank = [b for b in beside if abs(rank[b] - rank[bias.name]) < 0.01]
        assert same_rank, bias.name
        assert all(place[b] < place[bias.name] for b in same_rank), bias.name


def test_network_figures_default_to_a_page_layout():
    text = (EXAMPLE_FILES / "two-layer.yaml").read_text()
    result = run(Source.spec(text, "two-layer.yaml"), Options.make(out="n.dot"))
    source = result.files[0][1]
    assert "rankdir=TB" in source and "h.W[1,1] = </font>" in source      # one card per neuron
    assert len(result.graph.nodes) > NETWORK_GROUP_NODES                   # the data keeps every weight
    layout_ = result.layout
    assert (layout_.rankdir, layout_.rankdir_auto, layout_.grouped, layout_.grouped_auto) == ("TB", True, True, True)
    assert layout_.flags() == ["--group neurons", "--rankdir TB", "--edge-labels both"]
    # the reader's choices win: --group none, --rankdir LR
    chosen = run(Source.spec(text, "two-layer.yaml", group=False), Options.make(out="n.dot", rankdir="lr"))
    assert "rankdir=LR" in chosen.files[0][1] and "h.W[1,1] = </font>" not in chosen.files[0][1]
    assert not chosen.layout.grouped and not chosen.layout.rankdir_auto
    # JSON is data, not a figure: every weight stays a node
    data = run(Source.spec(text, "two-layer.yaml"), Options.make(out="-"))
    assert '"name": "t1"' in data.files[0][1]
    # expression programs and graph specs keep LR
    assert run(Source.expression(NG, NG_AT), Options.make(out="j.dot")).layout.rankdir == "LR"
    apples = (EXAMPLE_FILES / "apples.yaml").read_text()
    assert run(Source.spec(apples, "apples.yaml"), Options.make(out="a.dot")).layout.rankdir == "LR"


def test_large_networks_drop_edge_labels_and_weights_until_asked():
    graph = spec_graph("wide.yaml", group=True)
    assert sum(1 for s, d, k in graph.edges() if graph.nodes[s].name not in graph.params
               or "b" in graph.nodes[s].name) > NETWORK_LABEL_EDGES
    source = render_dot(graph)
    assert "∂h1.z[1]/∂x1" not in source and "h2.W[1,1] = </font>" not in source and "(8 inputs)" in source
    asked = render_dot(graph, FigureOptions(edge_labels="numeric"))
    assert "h2.W[1,1] = </font>" in asked and "∂h1.a[1]/∂h1.z[1] = " in asked
    small = render_dot(spec_graph("two-layer.yaml", group=True))
    assert "∂h.z[1]/∂x1 = h.W[1,1] = 0.15" in small and "h.W[1,1] = </font>" in small


@pytest.mark.parametrize("kind", renderers())
@pytest.mark.parametrize("name", ["wide.yaml", "two-layer.yaml"])
def test_network_figures_read_at_page_width(tmp_path, kind, name):
    out = tmp_path / "n.svg"
    result = runner.invoke(app, ["spec", str(EXAMPLE_FILES / name), "-o", str(out), "--renderer", kind])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    root = ET.parse(out).getroot()
    width, height = (float(root.get(side).removesuffix("pt")) for side in ("width", "height"))
    # in a page column 860 CSS px wide the 10 pt captions keep at least 6 px (1 pt = 4/3 px)
    assert 860 / (width * 4 / 3) * 10 * 4 / 3 >= 6, (width, height)
    assert height < 3 * width


def test_size_warning_names_the_options_that_shrink_a_figure():
    strip = FigureLayout(rankdir="LR", rankdir_auto=True, edge_labels="both", edge_labels_auto=True, nodes=42, edges=46)
    assert size_warning(strip, (5505, 949), network=True) == (
        "the figure is 5,505×949 px, too large to read at page width: try --group neurons, --rankdir TB "
        "or --edge-labels none")
    assert size_warning(strip, (LARGE_FIGURE_PX, 949), network=False) is None
    slow = FigureLayout(rankdir="TB", rankdir_auto=True, edge_labels="none", edge_labels_auto=True, nodes=339, edges=436)
    assert size_warning(slow, None, network=True) == ("the figure has 339 nodes and 436 edges, slow to lay out: "
                                                      "try --group neurons")


def test_a_figure_too_large_for_a_page_warns_once(tmp_path):
    chain = "; ".join(["v1 = x * 2"] + [f"v{i} = v{i - 1} * 2" for i in range(2, 16)])
    result = runner.invoke(app, ["expr", chain, "--at", "x=1", "-o", str(tmp_path / "c.png"),
                                 "--renderer", "embedded"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "too large to read at page width" in warnings[0], result.output
    assert "--rankdir TB" in warnings[0] and "--group" not in warnings[0]
    small = runner.invoke(app, ["expr", NG, "--at", NG_AT_TEXT, "-o", str(tmp_path / "j.png"),
                                "--renderer", "embedded"])
    assert small.exit_code == 0 and "warning" not in small.output


@pytest.mark.parametrize("kind", renderers())
def test_the_main_chain_runs_straight(kind):
    graph = bpviz.from_expression(*EXAMPLES["ng"])
    source = render_dot(graph)
    nodes, edges = layout(source, kind)
    rows = [nodes[graph.node(name).id][1] for name in ("w", "c", "a", "d", "t1", "J")]
    assert max(rows) - min(rows) < 0.05, rows                    # one row, like Ng's slide
    columns = [nodes[graph.node(name).id][0] for name in ("w", "c", "a", "d", "t1", "J")]
    assert columns == sorted(columns)


def _touches(box: tuple, point: tuple, slack: float = 0.05) -> bool:
    x, y, w, h = box
    return abs(point[0] - x) <= w / 2 + slack and abs(point[1] - y) <= h / 2 + slack


def _enters(box: tuple, polyline: list, shrink: float = 0.03) -> bool:
    """Whether a polyline (control points, densified) passes through the inside of a box."""
    x, y, w, h = box
    points = [(a[0] + (b[0] - a[0]) * t / 8, a[1] + (b[1] - a[1]) * t / 8)
              for a, b in zip(polyline, polyline[1:]) for t in range(9)]
    return any(abs(px - x) < w / 2 - shrink and abs(py - y) < h / 2 - shrink for px, py in points)


@pytest.mark.parametrize("kind", renderers())
@pytest.mark.parametrize("name", ["apples", "colah", "ng"])
def test_edge_labels_sit_on_their_own_edge(kind, name):
    """Each label is drawn on its edge (the edge stops at it and goes on), and no other edge runs
    through it: apples' ∂orange_price/∂orange no longer hugs the n_orange edge, colah's a → t1 label
    does not cross its own edge."""
    graph = bpviz.from_expression(*EXAMPLES[name])
    nodes, edges = layout(render_dot(graph), kind)
    labelled = [(s, d, k) for s, d, k in graph.edges() if graph.nodes[s].kind != "const"]
    assert labelled
    for src, dst, slot in labelled:
        label = f"e{src}_{dst}_{slot}"
        box = nodes[label]
        tail, head = graph.nodes[src].id, graph.nodes[dst].id
        [into] = [pts for t, h, pts in edges if (t, h) == (tail, label)]
        [out] = [pts for t, h, pts in edges if (t, h) == (label, head)]
        assert _touches(box, into[-1]) and _touches(box, out[0]), label
        others = [pts for t, h, pts in edges if label not in (t, h)]
        assert not any(_enters(box, pts) for pts in others), label


def test_long_rules_are_shortened_on_edges_unless_asked():
    graph = spec_graph("two-layer.yaml", group=True)
    auto = render_dot(graph)
    assert "∂h.a[1]/∂h.z[1] = 0.2413" in auto and "σ(h.z[1])·(1 − σ(h.z[1]))" not in auto
    assert "∂h.z[1]/∂x1 = h.W[1,1] = 0.15" in auto                  # short rules stay
    assert "σ(h.z[1])·(1 − σ(h.z[1])) = 0.2413" in render_dot(graph, FigureOptions(edge_labels="both"))


def test_powers_are_marked_without_a_variable_name():
    source = render_dot(bpviz.from_expression(*EXAMPLES["ng"]))
    assert "<b>(·)²</b>" in source and "<b>x²</b>" not in source      # x² read as "input x squared"
    source = render_dot(bpviz.from_expression("J = abs(x)", {"x": -2}))
    assert "<b>|·|</b>" in source and "|x|" not in source


def test_a_notes_figure_says_how_it_was_laid_out(tmp_path):
    text = (EXAMPLE_FILES / "two-layer.yaml").read_text()
    result = run(Source.spec(text, "two-layer.yaml"), Options.make(out=str(tmp_path / "n.md"), renderer="embedded"))
    layout_ = result.note.figure.fields["layout"]
    assert isinstance(layout_, FigureLayout) and layout_.grouped_auto and layout_.rankdir == "TB"
    assert layout_.flags() == ["--group neurons", "--rankdir TB", "--edge-labels both"]
    assert any(path.endswith("n.svg") for path, content in result.files)


@pytest.mark.parametrize("kind", renderers())
def test_a_long_edges_label_sits_next_to_its_head(kind):
    graph = bpviz.from_expression("u = x*w; v = u*w; s = v*w; J = s + x", {"x": 3, "w": 2})
    source = render_dot(graph)
    nodes, edges = layout(source, kind)
    x, j = graph.node("x"), graph.node("J")
    label = next(f"e{x.index}_{j.index}_{slot}" for dst, slot in graph.consumers[x.index] if dst == j.index)
    rank = {name: along(source, nodes, node_id) for name, node_id in (("x", x.id), ("J", j.id), ("label", label))}
    assert rank["J"] - rank["label"] < (rank["J"] - rank["x"]) / 3, rank
