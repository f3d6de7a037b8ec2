"""What a new user types in the first ten minutes (the first-run issue): values written in the
program, and the ways of running bpviz."""

import json

from typer.testing import CliRunner

import bpviz
from bpviz.cli import app

runner = CliRunner()
INLINE = "w = 2; x = -2; b = 8; y = 2; J = (w*x + b - y)**2/2"


def test_values_written_in_the_program_are_inputs():
    result = runner.invoke(app, ["expr", INLINE, "-o", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["output"] == "J" and data["values"] == {"w": 2, "x": -2, "b": 8, "y": 2}
    assert data["gradients"] == {"w": -4, "x": 4, "b": 2, "y": -2}
    assert [n["name"] for n in data["nodes"] if n["kind"] == "const"] == ["2"]     # only the divisor


def test_at_beats_values_file_beats_the_program(tmp_path):
    values = tmp_path / "v.yaml"
    values.write_text("w: 3\nx: 1\n")
    result = runner.invoke(app, ["expr", INLINE, "--values", str(values), "--at", "x=5", "-o", "-"])
    assert json.loads(result.stdout)["values"] == {"w": 3, "x": 5, "b": 8, "y": 2}


def test_a_given_value_is_never_the_default_output_and_constants_stay_constants():
    g = bpviz.from_expression("f = x**2; k = 3", {"x": 3})
    assert g.out.name == "f" and g.out.op.name == "powc" and "k" not in g
    assert any("not used" in w and "k" in w for w in g.warnings)
    result = runner.invoke(app, ["expr", "k = 3", "--at", "x=1"])
    assert result.exit_code == 1 and "only gives values" in result.output
    result = runner.invoke(app, ["expr", "w = 2; J = w*x", "--output", "w", "--at", "x=1"])
    assert result.exit_code == 1 and "is a value the program gives" in result.output


def test_an_exponent_given_in_the_program_is_an_input():
    result = runner.invoke(app, ["expr", "n = 2; f = x**n", "--at", "x=-2", "-o", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["gradients"] == {"x": -4, "n": 0} and data["nodes"][-1]["op"] == "pow"
    assert "not differentiable with respect to n at x = -2" in result.output


def test_spec_graph_entries_follow_the_same_rule():
    spec = "graph:\n  w: 2\n  c: w * x\n  J: c + 1\n  x: 3\n"
    result = runner.invoke(app, ["spec", "-", "-o", "-"], input=spec)
    data = json.loads(result.stdout)
    assert data["output"] == "J" and data["values"] == {"w": 2, "x": 3}
    result = runner.invoke(app, ["spec", "-", "-o", "-"], input=spec + "values: {x: 5}\n")
    assert json.loads(result.stdout)["values"] == {"w": 2, "x": 5}


def test_a_program_in_a_file(tmp_path):
    path = tmp_path / "ng.txt"
    path.write_text("c = w*x; J = c + 1\n")
    for argument in (str(path), f"@{path}"):
        result = runner.invoke(app, ["expr", argument, "--at", "w=2, x=3", "-o", "-"])
        assert result.exit_code == 0 and json.loads(result.stdout)["nodes"][-1]["value"] == 7
    result = runner.invoke(app, ["expr", str(tmp_path / "missing.txt"), "--at", "x=1"])
    assert result.exit_code == 1 and "no such file" in result.output and "@PATH" in result.output
    result = runner.invoke(app, ["expr", f"@{tmp_path / 'missing.txt'}"])
    assert result.exit_code == 1 and "no such file" in result.output


def test_what_bpviz_prints_can_be_pasted_back():
    g = bpviz.from_expression("f = w·x − y² + 5.93×10⁻⁶ ÷ z；ｇ = （f）＊２", {"w": 2, "x": 3, "y": 1, "z": 1})
    assert g.out.name == "g" and float(g.out.value) == (6 - 1 + 5.93e-6) * 2
    assert any(n.op is not None and n.op.name == "powc" for n in g.nodes) and "y2" not in g   # y² is y**2
    assert "w·x" in g.source                                   # shown as written


def test_python_messages_are_translated():
    for program, fragment in (("J = 2x + 1", "write 2*x"), ("lambda = 2; J = lambda*x", "call it lam or λ"),
                              ("J = w*in", "reserved word")):
        result = runner.invoke(app, ["expr", program, "--at", "x=1, w=1"])
        assert result.exit_code == 1 and fragment in result.output, result.output
    result = runner.invoke(app, ["expr", "J = x", "--at", "x=1", "--output", "j.svg"])
    assert result.exit_code == 1 and "-o writes a file" in result.output


def test_lr_on_a_formula_needs_its_parameters(tmp_path):
    program, at = "c = w*x; a = c + b; d = a - y; J = d**2/2", "w=2, x=-2, b=8, y=2"
    result = runner.invoke(app, ["expr", program, "--at", at, "-o", str(tmp_path / "n.md"), "--lr", "0.1"])
    assert result.exit_code == 2 and "--param w,b" in result.output and list(tmp_path.iterdir()) == []
    result = runner.invoke(app, ["expr", program, "--at", at, "-o", str(tmp_path / "n.md"), "--lr", "0.1",
                                 "--param", "w,b", "--no-figure"])
    assert result.exit_code == 0, result.output
    note = (tmp_path / "n.md").read_text()
    assert "each parameter ($w$, $b$)" in note and "The other inputs are data" in note
    assert "| $x$ |" not in note.split("## Gradient-descent update")[1]


def test_version_short_flag_and_doctor():
    assert runner.invoke(app, ["-V"]).output.startswith("bpviz ")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code in (0, 1) and "Optional tools" in result.output and "PDF figures" in result.output


def test_terminal_table_in_chinese_and_markdown_fragment():
    result = runner.invoke(app, ["expr", "e = (a + b) * (b + 1)", "--at", "a=2, b=1", "--lang", "zh", "--check"])
    assert result.exit_code == 0 and "节点" in result.output and "梯度检验" in result.output
    assert "一致" in result.output
    result = runner.invoke(app, ["expr", "x*y", "--at", "x=1, y=2", "-f", "md", "--md-fragment", "--no-figure"])
    assert result.exit_code == 0 and not result.output.startswith("#") and "Generated by" not in result.output
    assert "## Forward pass" in result.output
    result = runner.invoke(app, ["expr", "x*y", "--at", "x=1, y=2", "-f", "tex"])
    assert "--embed" not in result.output and "-o FILE" in result.output
