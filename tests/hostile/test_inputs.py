"""Values, value files, YAML specs and --set as an attacker writes them: bounded in time and memory,
refused with a line and a place, never a crash; and numbers that are right or refused."""

import json
import math
import os
from fractions import Fraction

import pytest

import bpviz
from bpviz.api import Options, Source, run
from bpviz.errors import BpvizError, DomainError, SpecError, UsageError, ValuesError
from conftest import EXAMPLES
from hostile.support import bpviz as run_bpviz
from hostile.support import invoke

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)) + "graph: {J: w}\n"


@pytest.mark.parametrize("text, fragment", [
    (BILLION_LAUGHS, "YAML aliases"),
    ("a: &a [*a]\n", "refers to itself"),
    ("a: &a {b: *a}\n", "refers to itself"),
    ("x: " + "[" * 2000 + "]" * 2000 + "\n", "nested"),
    ("graph: {J: w}\nvalues: {w: !!python/object/apply:os.system [touch pwned]}\n", "tag"),
    ("graph: {J: w}\nvalues: {w: " + "9" * 5000 + "}\n", "out of range"),   # bpviz's message, not Python's
    ("graph: {J: w}\nvalues: {w: 1e999999999}\n", "out of range"),
    ("graph: {J: w}\nvalues: {w: .nan}\n", "finite"),
    ("graph: {J: w}\nvalues: {w: \"\x1b[31m\"}\n", "YAML"),
    ("title: \"\\e]0;x\\a\"\ngraph: {J: w}\nvalues: {w: 1}\n\x7f", "YAML"),
    ("inputs: {x: 1}\nlayers: [{units: 100000000, activation: relu, init: {scheme: he}}]\n"
     "loss: {kind: mse, targets: [0]}\n", "too large"),
    ("inputs: {x1: 1}\nlayers: [{weights: [[1]], activation: sigmoid}]\nloss: {kind: mse, targets: [0], "
     "name: x1}\n", "already the name of an input"),
    ("\ufeff", "empty"),
])
def test_hostile_specs_are_refused_quickly(text, fragment, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(text.encode("utf-8"))
    proc = run_bpviz("spec", str(path), timeout=60)
    assert proc.returncode == 1 and fragment in proc.stderr.decode(), proc.stderr.decode()


@pytest.mark.parametrize("override, fragment", [
    ("values.w=&a [*a]", "refers to itself"),
    ("values.w=!!python/name:os.system", "tag"),
    ("values.w=1e999999", "out of range"),
    ("values.w=", "expected a number"),
    ("values.nothere=1", "not in the spec"),
])
def test_hostile_set(override, fragment):
    result = invoke("spec", str(EXAMPLES / "ng-spec.yaml"), "--set", override)
    assert result.exit_code == 1 and fragment in result.output, result.output


@pytest.mark.parametrize("content, fragment", [
    ("a: &a [1]\nb: *a\n", "aliases"),
    ('{"x": NaN}', "number"),
    ('{"x": 1e999999999}', "out of range"),
    ('{"x": true}', "number"),
    ('{"x": ' + "1" * 5000 + "}", "digits|out of range"),
    ("[1, 2]", "mapping"),
    ("x: [" * 3000, "nested|YAML"),
])
def test_hostile_values_files(tmp_path, content, fragment):
    path = tmp_path / "v.yaml"
    path.write_text(content)
    result = invoke("expr", "J = x", "--values", str(path))
    assert result.exit_code == 1 and any(f in result.output for f in fragment.split("|")), result.output


def test_values_files_and_specs_are_read_with_a_cap():
    assert b"larger than 32 MB" in run_bpviz("expr", "J = x", "--values", "/dev/zero").stderr
    assert b"larger than 2 MB" in run_bpviz("spec", "/dev/zero").stderr


@pytest.mark.parametrize("at", ["x=1e999999999", "x=1e-999999999", "x=nan", "x=inf", "x=0x10", "x=" + "9" * 5000,
                                "x=1/0", "ｘ=1,ｘ", "=1"])
def test_hostile_at_values(at):
    result = invoke("expr", "J = x", "--at", at)
    assert result.exit_code == 1 and len(result.output) < 400, result.output


def test_fullwidth_names_are_the_names_python_reads():
    assert invoke("expr", "f = ｗ*x", "--at", "ｗ=2", "--at", "x=3").exit_code == 0
    result = invoke("spec", "-", "-o", "-", input="graph:\n  ｃ: w*x\n  ｆ: c + 1\nvalues: {ｗ: 2, x: 3}\n")
    assert result.exit_code == 0 and json.loads(result.stdout)["output"] == "f"


@pytest.mark.parametrize("lr", ["1e999999999", "nan", "-0", "0x1"])
def test_hostile_learning_rates(lr):
    result = invoke("expr", "J = x", "--at", "x=1", "-f", "md", "--lr", lr)
    assert result.exit_code == 2, result.output


# -- numbers: right, or refused with the node that went wrong ----------------------------------------

@pytest.mark.parametrize("program, at, fragment", [
    ("J = exp(x)*exp(x)", "x=700", "too large"),
    ("a = x*1e-170; b = a*1e-170; f = b*1e170*1e170", "x=1", "too small"),
    ("J = x*x*x", "x=1e2000", "4096 digits"),
    ("J = exp(x)", "x=-800", "too small"),
    ("J = x ** 64 ** 64", "x=2", "digits|too large|overflows"),
    ("J = log(x - x)", "x=3", "undefined"),
    ("J = tan(x)", "x=1e300", ""),
])
def test_overflow_underflow_and_nan_are_errors_naming_the_node(program, at, fragment, tmp_path):
    out = tmp_path / "j.json"
    result = invoke("expr", program, "--at", at, "-o", str(out))
    if result.exit_code == 0:        # tan(1e300) is a finite float: then the JSON must be valid
        json.loads(out.read_text())
        return
    assert result.exit_code == 1 and any(f in result.output for f in fragment.split("|")), result.output
    assert not out.exists()


def test_huge_exact_values_print_in_scientific_form():
    g = bpviz.from_expression("J = x * 2", {"x": "1e400"})
    data = json.loads(run(Source.expression("J = x * 2", {"x": "1e400"}), Options.make(out="-")).files[0][1])
    assert g.out.value == 2 * Fraction(10) ** 400
    node = data["nodes"][-1]
    assert node["value"] == 2 * 10 ** 400 and node["value_exact"].startswith("2000")
    from bpviz.numeric import fmt
    assert fmt(g.out.value) == "2e+400" and fmt(Fraction(1, 10 ** 300)) == "1e-300"


def test_exact_text_is_exact_beyond_28_digits():
    g = bpviz.from_expression("J = x / 2**60", {"x": 1})
    assert g.out.value == Fraction(1, 2 ** 60)
    data = json.loads(run(Source.expression("J = x / y", {"x": 1, "y": 2 ** 60}),
                          Options.make(out="-")).files[0][1])
    assert Fraction(data["nodes"][-1]["value_exact"]) == Fraction(1, 2 ** 60)


def test_softmax_saturated_logits_are_refused_not_zero(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("inputs: {x: 1}\nlayers: [{weights: [[710], [709], [0]], activation: softmax}]\n"
                    "loss: {kind: cross_entropy, targets: [1, 0, 0]}\n")
    result = invoke("spec", str(path), "-o", "-")
    if result.exit_code == 0:
        data = json.loads(result.stdout)
        assert all(math.isfinite(v) for v in data["gradients"].values())
        assert any(v != 0 for v in data["gradients"].values())
    else:
        assert result.exit_code == 1 and "64-bit float" in result.output


# -- the library ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: bpviz.from_expression(None),
    lambda: bpviz.from_expression(b"J = x", {"x": 1}),
    lambda: bpviz.from_expression("J = x", [("x", 1)]),
    lambda: bpviz.from_expression("J = x", {"x": 10 ** 5000}),
    lambda: Options.make(lang=3),
    lambda: Options.make(wrt=3),
    lambda: Options.make(check="no"),
    lambda: Options(out="a.md", lr="-1"),
    lambda: Options.make(out=3),
    lambda: Source.spec(None),
    lambda: Source.spec("graph: {J: w}\nvalues: {w: 1}\n", overrides=[3]),
    lambda: Source(text="J = x", kind="bogus"),
    lambda: run("J = x"),
    lambda: run(Source.expression("J = x", {"x": 1}), {"colour": "red"}),
])
def test_the_library_raises_bpviz_errors_only(call):
    with pytest.raises(BpvizError):
        call()


def test_options_made_directly_are_checked_and_normalised():
    assert Options(lr="0.1").lr == Fraction(1, 10) and Options(wrt="wx").wrt == ("wx",)
    with pytest.raises(UsageError):
        Options(theme="pink")


def test_library_errors_are_the_documented_kinds():
    with pytest.raises(ValuesError):
        bpviz.from_expression("J = x", {"x": "abc"})
    with pytest.raises(DomainError):
        bpviz.from_expression("J = log(x)", {"x": 0})
    with pytest.raises(SpecError):
        run(Source.spec("graph: {J: w}\n"))


def test_numbers_the_attacker_found_wrong(tmp_path):
    assert bpviz.parse_values("x=1/2/4") == {"x": Fraction(1, 8)}                 # left to right
    spec = "graph: {J: w*1}\nvalues: {w: 0x1fffffffffffffff}\n"
    data = json.loads(invoke("spec", "-", "-o", "-", input=spec).stdout)
    assert data["nodes"][-1]["value_exact"] == "2305843009213693951"
    values = tmp_path / "v.yaml"
    values.write_text("x: 1.00000000000000000001\n")
    data = json.loads(invoke("expr", "J = x*1", "--values", str(values), "-o", "-").stdout)
    assert data["values"] == {"x": 1.0} and data["nodes"][0]["value_exact"] == "1.00000000000000000001"
    from bpviz.numeric import fmt
    assert fmt(Fraction(1, 3), 17) == "0.33333333333333333" and fmt(Fraction(2, 3), 16) == "0.6666666666666667"
    assert fmt(Fraction("1.2354999999999999999999"), 4) == "1.235"
    from decimal import Decimal
    assert bpviz.from_expression("J = x*2", {"x": Decimal("0.1")}).out.value == Fraction(1, 5)


@pytest.mark.parametrize("at", ["x=" + "1/" * 3000 + "1", "x=1/0", "x=1_"])
def test_odd_fractions_in_at(at):
    assert invoke("expr", "J = x", "--at", at).exit_code == 1


def test_lone_surrogates_and_bytes_that_are_not_utf8(tmp_path):
    with pytest.raises(BpvizError):
        bpviz.from_expression("J = x # \ud800", {"x": 1})
    with pytest.raises(BpvizError):
        run(Source.spec('title: "\ud800x"\ngraph: {J: w}\nvalues: {w: 1}\n'))
    proc = run_bpviz("expr", b"J = x # \xff", "--at", "x=1")
    assert proc.returncode == 1
    target = os.fsdecode(bytes(tmp_path) + b"/b\xff.md")
    proc = run_bpviz("expr", "J = x", "--at", "x=1", "-o", target, "--renderer", "embedded")
    assert proc.returncode == 0, proc.stderr
    note = (tmp_path / os.fsdecode(b"b\xff.md")).read_text()
    assert "](b%FF.svg)" in note


def test_sympy_is_not_given_deep_nestings():
    tower = "a0 = x; " + "; ".join(f"a{i} = a{i - 1} ** x" for i in range(1, 8))
    result = invoke("expr", tower, "--at", "x=1.1", "--check")
    assert result.exit_code == 0 and "nests 14 functions" in result.output
    note = run(Source.expression(tower, {"x": "1.1"}), Options.make(out="-", format="md", figure=False))
    assert "nests 14 functions" in note.files[0][1]


def test_a_squaring_chain_with_astronomically_many_paths(tmp_path):
    program = "a0 = x*x\n" + "\n".join(f"a{i} = a{i - 1}*a{i - 1}" for i in range(1, 3000))
    result = invoke("expr", program, "--at", "x=0", "-o", str(tmp_path / "n.md"), "--no-figure", "--wrt", "x")
    assert result.exit_code == 0, result.output
    assert "≥ 1,000,000,000,000,000,000 paths" in (tmp_path / "n.md").read_text()


def test_check_refuses_values_floats_cannot_hold_and_notes_still_work(tmp_path):
    result = invoke("expr", "J = x*y", "--at", "x=1e400, y=1", "--check")
    assert result.exit_code == 1 and "64-bit floats" in result.output
    result = invoke("expr", "J = x*y", "--at", "x=1e400, y=1", "-o", str(tmp_path / "n.md"), "--no-figure")
    assert result.exit_code == 0 and "agrees with the chain rule" in (tmp_path / "n.md").read_text()


def test_saturated_activations_keep_their_tiny_slopes():
    g = bpviz.from_expression("J = sigmoid(x) + tanh(y)", {"x": 40, "y": 20})
    assert g.node("x").grad == pytest.approx(4.248354255291589e-18, rel=1e-12)
    assert g.node("y").grad == pytest.approx(1.6993417021166355e-17, rel=1e-12)
    assert bpviz.from_expression("J = x**0", {"x": 0}).gradients() == {"x": 0}


def test_a_huge_table_shows_its_output():
    program = "a0 = x\n" + "\n".join(f"a{i} = a{i - 1} + 1" for i in range(1, 5000))
    result = invoke("expr", program, "--at", "x=1")
    assert result.exit_code == 0 and "more left out" in result.output and "a4999 = 5000" in result.output


def test_a_vanishing_gradient_is_kept_and_said():
    """The benchmark's 20,000-node program: gradients shrink below float64's normal range far from
    the output; the run goes on and says so (it once stopped with an error)."""
    import sys
    sys.path.insert(0, str(EXAMPLES.parent / "benchmarks"))
    from run import program
    text, values = program(20_000)
    g = bpviz.from_expression(text, values)
    assert any("vanishing gradient" in w for w in g.warnings)
    tiny = [n for n in g.nodes if n.grad.__class__ is float and 0 < abs(n.grad) < 2.3e-308]
    assert tiny


def test_attack_round_two():
    import resource
    program = "J = " + " + ".join(f"{'a' * 1200}{i}*x{i}" for i in range(1500))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ValuesError, match="and 2,988 more"):
        bpviz.from_expression(program, {})
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 400_000      # kB: it was 1.4 GB
    g = bpviz.from_expression("J = 1e-200 * (1e-200*x + 1)", {"x": 1})
    assert g.node("x").grad == 0 and any("shown as 0" in w for w in g.warnings)
    for program in ("J = x²**3", "J = x²⁻¹", "J = x² ** -1"):
        with pytest.raises(BpvizError, match="ambiguous"):
            bpviz.from_expression(program, {"x": 3})
    result = run(Source.spec("graph: {b: 0.5, J: b*x}\nvalues: {x: 3}\n"), Options.make(out="-"))
    assert json.loads(result.files[0][1])["gradients"] == {"b": 3, "x": 0.5}
    for call in (lambda: bpviz.from_expression("J=w*x", {"w": 1, "x": 2}, output=3),
                 lambda: Source.spec("a: 1", overrides=5), lambda: bpviz.from_expression("J=x", {"x": 1}).node(3)):
        with pytest.raises(BpvizError):
            call()


@pytest.mark.parametrize("args", [["-o", "a.tex", "--md-fragment"], ["-o", "a.md", "--tex-fragment"],
                                  ["-f", "json", "--no-figure"], ["-f", "json", "--no-legend"]])
def test_options_that_do_not_apply_exit_2(args, tmp_path):
    result = invoke("expr", "J = x*y", "--at", "x=1, y=2", *[str(tmp_path / a) if a.startswith("a.") else a
                                                            for a in args])
    assert result.exit_code == 2 and list(tmp_path.iterdir()) == []


def test_values_files_up_to_their_own_limit_and_only_comments(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("x: 2\n# " + "y" * 3_000_000 + "\n")          # over a spec's 2 MB, under 32 MB
    assert json.loads(invoke("expr", "J = x", "--values", str(big), "-o", "-").stdout)["values"] == {"x": 2}
    comment = tmp_path / "c.yaml"
    comment.write_text("# nothing yet\n")
    assert invoke("expr", "J = x", "--values", str(comment), "--at", "x=1").exit_code == 0


def test_an_empty_at_path_and_param_without_lr(tmp_path):
    result = invoke("expr", "@")
    assert result.exit_code == 1 and "@ needs the program's file name" in result.output
    result = invoke("expr", "J = w*x", "--at", "w=1, x=2", "-o", str(tmp_path / "n.md"), "--param", "w")
    assert result.exit_code == 2 and "give --lr too" in result.output and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("at", [
    "x" * 100_000 + "=1",                       # a huge unknown name
    "x=1," * 50_000,                            # a name given 50,000 times
    "[" * 20 + "1",                             # an unclosed vector
    "w" + "=" * 3 + "1" * 50_000,               # not a number
])
def test_huge_values_give_a_short_message(at):
    result = invoke("expr", "J = x*w", "--at", at)
    assert result.exit_code in (1, 2) and len(result.output) < 600, result.output[:300]


def test_a_huge_block_error_stays_short_in_the_note(tmp_path):
    note = tmp_path / "huge.md"
    note.write_text("```bpviz at=\"" + "x=1," * 50_000 + "\"\nJ = x**2\n```\n", encoding="utf-8")
    before = len(note.read_text(encoding="utf-8"))
    result = invoke("md", str(note), "--in-place")
    assert result.exit_code == 1
    assert len(note.read_text(encoding="utf-8")) < before + 500


@pytest.mark.parametrize("text, expected", [
    ("x: 1:30\n", "base-60"),                      # YAML 1.1 reads 90; nothing else in bpviz does
    ("x: -1:30.5\n", "base-60"),
    ("x: 1" + "0" * 5000 + "\n", "out of range"),  # not Python's "Exceeds the limit (4300 digits)"
    ("x: 0x10\n", Fraction(16)),                  # YAML's own integers are still read
    ("x: 0b11\n", Fraction(3)),
    ("x: +2.5\n", Fraction(5, 2)),
])
def test_yaml_numbers_are_read_as_written_or_refused(text, expected, tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(text)
    if isinstance(expected, str):
        with pytest.raises(ValuesError, match=expected) as caught:
            bpviz.values.load_values_file(str(path))
        assert "line 1" in caught.value.message and "4300" not in caught.value.message
    else:
        assert bpviz.values.load_values_file(str(path)) == {"x": expected}


def test_a_json_key_given_twice_is_refused_with_its_line(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"x": 1,\n "y": 3,\n "x": 2}')
    with pytest.raises(ValuesError, match=r"line 3: 'x' is given twice"):
        bpviz.values.load_values_file(str(path))
    path.write_text('{"x": 1, "y": 3}')
    assert bpviz.values.load_values_file(str(path)) == {"x": 1, "y": 3}
    path.write_text('{"θ": 1,\n "\\u03b8": 2}', encoding="utf-8")     # as written, then escaped
    with pytest.raises(ValuesError, match=r"line 2: 'θ' is given twice"):
        bpviz.values.load_values_file(str(path))


def test_a_name_given_by_two_ats_is_refused():
    result = invoke("expr", "J = x", "--at", "x=2", "--at", "x=5")
    assert result.exit_code == 1 and "'x' is given twice: --at 'x=2' and --at 'x=5'" in result.output
    assert invoke("expr", "J = x*y", "--at", "x=2", "--at", "y=5").exit_code == 0


@pytest.mark.parametrize("entry, fragment", [
    ('a: "x*2; b = a*100"\n  J: b + 1', "one expression"),      # b was defined outside graph:
    ('a: "x*2\\r+1"\n  J: a + 1', "one line"),                    # \r ends a line for Python
    ("w: x*2\n  ｗ: x+1\n  J: w + 1", "same name as 'w'"),        # NFKC: ｗ is w
])
def test_a_graph_entry_is_one_expression_with_its_own_name(entry, fragment, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"values: {{x: 1}}\ngraph:\n  {entry}\n", encoding="utf-8")
    proc = run_bpviz("spec", str(path))
    message = proc.stderr.decode()
    assert proc.returncode == 1 and fragment in message and ", line " in message, message


def test_a_name_with_a_combining_mark_can_be_given_the_value_the_hint_asks_for(tmp_path):
    """x̄ is x and U+0304, a name to Python; the hint said --at x̄=... and then refused that name."""
    program = "J = x\u0304*y"
    hint = invoke("expr", program, "--at", "y=3")
    assert hint.exit_code == 1 and "--at x\u0304=" in hint.output
    for at in ("x\u0304=2, y=3", "y=3 x\u0304=2"):
        result = invoke("expr", program, "--at", at)
        assert result.exit_code == 0 and "J = 6" in result.output, result.output
    path = tmp_path / "v.json"
    path.write_text('{"x\\u0304": 2, "y": 3}')
    assert bpviz.values.load_values_file(str(path)) == {"x\u0304": 2, "y": 3}


@pytest.mark.parametrize("view", ["scalar", "matrix"])
def test_a_networks_loss_that_meets_log_of_0_is_placed_at_its_yaml_line(view, tmp_path):
    """σ(1000) is 1 in 64-bit floats, so binary cross-entropy's log(1 − a) meets log(0): the message
    named only an internal node (t1), with no file or line."""
    path = tmp_path / "bce.yaml"
    path.write_text("inputs: {x1: 1000}\nlayers:\n  - weights: [[1]]\n    activation: sigmoid\n"
                    "loss: {kind: binary_cross_entropy, targets: [0.5]}\n")
    result = invoke("spec", str(path), "--view", view)
    assert result.exit_code == 1 and "bce.yaml, line 5: loss: log is undefined at" in result.output, result.output


@pytest.mark.parametrize("args", [
    ["expr", "J = exp(w)", "--at", "w=2", "--lr", "1e400", "--param", "w"],      # exact rate × float gradient
    ["spec", str(EXAMPLES / "two-layer.yaml"), "--lr", "1e400"],
])
def test_a_learning_rate_too_large_for_the_step_is_an_error_not_a_crash(args, tmp_path):
    result = invoke(*args, "-o", str(tmp_path / "n.md"))
    assert result.exit_code == 1 and "use a smaller learning rate" in result.output, result.output
    assert not (tmp_path / "n.md").exists()


def test_an_error_after_the_gradient_step_says_so(tmp_path):
    """exp(w) at the stepped w = -1.6e10 underflows: the message spoke of a w the user never gave."""
    result = invoke("expr", "J = exp(w)", "--at", "w=0.5", "--lr", "1e10", "--param", "w", "-o", str(tmp_path / "n.md"))
    assert result.exit_code == 1 and "after the gradient step (learning rate" in result.output, result.output


def test_a_parameter_named_twice_is_stepped_once():
    from bpviz.autodiff import gradient_step
    g = bpviz.from_expression("J = w*w", {"w": 2})
    assert [row[0] for row in gradient_step(g, Fraction(1, 10), ["w", "w"]).rows] == ["w"]


def test_a_title_too_long_for_a_heading_is_refused_at_its_line(tmp_path):
    """3,500 '&' escape to over 16 KB, past what Graphviz takes in a label: its syntax error was the message."""
    path = tmp_path / "t.yaml"
    path.write_text('title: "' + "&" * 3500 + '"\nvalues: {a: 1}\ngraph:\n  J: a * 2\n')
    result = invoke("spec", str(path), "-o", str(tmp_path / "t.svg"))
    assert result.exit_code == 1 and "t.yaml, line 1: title: the title is 3,500 characters" in result.output
    assert not (tmp_path / "t.svg").exists()
