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
