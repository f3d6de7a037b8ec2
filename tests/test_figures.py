"""Figures: golden DOT for the worked examples, SVG text per node, PNG files, renderers."""

import os
import stat
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

import bpviz
from bpviz.cli import app
from bpviz.errors import ProgramError, RenderError, UsageError
from bpviz.render.dot import FigureOptions, num, render_dot
from bpviz.write import choose_renderer, find_embedded, find_system, render_graphviz
from conftest import APPLES, APPLES_AT, COLAH, COLAH_AT, NG, NG_AT, NG_AT_TEXT

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
    # a -> t1 -> e: three nodes and two edges
    assert sum("->" in line for line in highlighted) == 2
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
