"""Numbers at the edges of float64 and names and text that TeX reads as commands: each computed
when its result is representable, refused with one line when not, and typeset as valid TeX."""

from __future__ import annotations

import json
import math
import random
import re
from fractions import Fraction

import pytest

from bpviz.api import Options, Source, run
from bpviz.escape import latex_name
from hostile.support import invoke
from notes_support import compile_tex, markdown_formulas, mathjax_errors, needs_pdflatex


def _json(program: str, values: dict) -> dict:
    return json.loads(run(Source.expression(program, values), Options.make(out="-")).files[0][1])


def _node(data: dict, name: str) -> dict:
    return next(n for n in data["nodes"] if n["name"] == name)


# -- 1. transcendental functions of exact numbers float64 cannot hold ----------------------------------

@pytest.mark.parametrize("program, values, name, expected", [
    ("J = log(x)", {"x": "1e-400"}, "J", -400 * math.log(10)),
    ("J = log(x)", {"x": "1e400"}, "J", 400 * math.log(10)),
    ("J = x * log(1e-400)", {"x": "2"}, "J", -800 * math.log(10)),
    ("J = log(x)", {"x": "3e-2000/1e2000"}, "J", math.log(3) - 4000 * math.log(10)),
    ("J = sqrt(x)", {"x": "1e-401"}, "J", math.sqrt(10) * 1e-201),
    ("J = sqrt(x)", {"x": "1e401"}, "J", math.sqrt(10) * 1e200),
    ("J = x ** y", {"x": "1e401", "y": "0.5"}, "J", math.sqrt(10) * 1e200),
    ("J = exp(x)", {"x": "1e-400"}, "J", 1.0),
    ("J = cos(x)", {"x": "1e300"}, "J", math.cos(1e300)),
    ("J = sigmoid(x)", {"x": "-1e-400"}, "J", 0.5),
])
def test_functions_of_exact_numbers_beyond_float64_are_computed(program, values, name, expected):
    assert math.isclose(_node(_json(program, values), name)["value"], expected, rel_tol=1e-13)


def test_log_of_a_tiny_exact_number_has_its_exact_derivative():
    data = _json("J = log(x)", {"x": "1e-400"})
    assert _node(data, "x")["grad_exact"] == "1" + "0" * 400


@pytest.mark.parametrize("program, at, fragment", [
    ("J = log(x)", "x=1e-400", "J = −921"),
    ("J = x*log(1e-400)", "x=2", "J = −1842"),
    ("J = log(x)", "x=1e400", "J = 921"),
])
def test_log_of_exact_numbers_beyond_float64_from_the_command_line(program, at, fragment):
    result = invoke("expr", program, "--at", at)
    assert result.exit_code == 0 and fragment in result.output


@pytest.mark.parametrize("program, at, fragment", [
    ("J = sigmoid(x)", "x=1e400", "sigmoid(-1e+400) is too small"),     # the derivative, as at x = 1000
    ("J = tanh(x)", "x=1e400", "tanh'(1e+400) is too small"),
    ("J = tanh(x)", "x=1e-400", "tanh(1e-400) is too small"),
    ("J = sin(x)", "x=1e-400", "sin(1e-400) is too small"),
    ("J = sin(x)", "x=1e400", "operand is too large"),
    ("J = cos(x)", "x=1e-400", "the derivative: sin(1e-400) is too small"),     # cos'(x) = -sin(x)
    ("J = tan(x)", "x=-1e400", "operand is too large"),
    ("J = exp(x)", "x=-1e400", "exp(-1e+400) is too small"),
    ("J = exp(x)", "x=1e400", "overflows"),
    ("J = softplus(x)", "x=-1000", "softplus(-1000) is too small"),
    ("J = sum(log(v))", "v=[1e-400, 1]", "too small"),
])
def test_unrepresentable_results_are_refused_in_one_line(program, at, fragment):
    result = invoke("expr", program, "--at", at)
    assert result.exit_code == 1, result.output
    assert fragment in result.output and "internal error" not in result.output


def test_a_spec_value_beyond_float64_under_log(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("values: {x: 1e-400}\ngraph:\n  J: log(x)\n")
    result = invoke("spec", str(path))
    assert result.exit_code == 0 and "J = −921" in result.output


# -- 2. every name the parser accepts is valid TeX math --------------------------------------------

_NAME_CHARS = "ax_W_9_θΣé"


def _identifiers(count: int, seed: int) -> list:
    rng = random.Random(seed)
    names = {"_", "__", "a__", "_a", "_1", "a_", "w1__", "x_y_", "θ_", "_θ"}
    while len(names) < count:
        name = rng.choice("ax_θ") + "".join(rng.choice(_NAME_CHARS) for _ in range(rng.randrange(4)))
        names.add(name)
        names.add(f"{rng.choice(['_', 'h', 'a_'])}.{name}" + rng.choice(["", "[1]", "[2,1]"]))
    return sorted(names)


_COMMAND = re.compile(r"\\(?:[A-Za-z]+|[_{}%&$#])")


def _tex_problems(tex: str) -> list:
    """What makes ``tex`` invalid math: a bare _ or ^ without its braced argument, a TeX special
    that is not a command's, or unbalanced braces."""
    rest = _COMMAND.sub(" ", tex)
    problems = [c for c in "#%&$~\\" if c in rest]
    problems += re.findall(r"[_^](?!\{)", rest)
    depth = 0
    for c in rest:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            problems.append("}")
    return problems + (["{"] if depth else [])


def test_latex_names_of_any_identifier_are_valid_math():
    bad = {name: latex_name(name) for name in _identifiers(400, 3) if _tex_problems(latex_name(name))}
    assert not bad


def test_latex_names_of_underscored_identifiers_typeset_in_mathjax():
    formulas = [(latex_name(name), False) for name in _identifiers(200, 5)]
    assert not mathjax_errors(formulas)


@pytest.mark.parametrize("name, tex", [("_", "\\_"), ("a__", "a_{\\_}"), ("_.W[1]", "W^{(\\_)}_{1}")])
def test_an_underscore_alone_is_escaped(name, tex):
    assert latex_name(name) == tex


@needs_pdflatex
def test_a_node_named_underscore_compiles_with_pdflatex(tmp_path):
    result = invoke("expr", "J = _*y + _**2", "--at", "_=2, y=3", "-o", str(tmp_path / "under.tex"),
                    "--no-figure")
    assert result.exit_code == 0, result.output
    compile_tex(tmp_path, "under.tex")
    data = _json("J = _*y + _**2", {"_": 2, "y": 3})
    assert _node(data, "_")["latex"] == "\\_"


def test_a_node_named_underscore_typesets_in_a_markdown_note(tmp_path):
    result = invoke("expr", "J = _*y + _**2", "--at", "_=2, y=3", "-o", str(tmp_path / "under.md"), "--no-figure")
    assert result.exit_code == 0, result.output
    formulas = markdown_formulas((tmp_path / "under.md").read_text())
    assert any("\\_" in tex for tex, _ in formulas) and not mathjax_errors(formulas)


# -- 3. < > | in a LaTeX document's text -------------------------------------------------------------

@needs_pdflatex
@pytest.mark.parametrize("title, lang", [("a<b>c | d", "en"), ("中文 a<b>c | d", "zh")])
def test_angle_brackets_and_bars_print_as_themselves_in_latex(title, lang, tmp_path):
    import shutil
    import subprocess
    (tmp_path / "lt.yaml").write_text(f'title: "{title}"\nvalues: {{x: 1}}\ngraph:\n  J: x*2\n', encoding="utf-8")
    result = invoke("spec", str(tmp_path / "lt.yaml"), "-o", str(tmp_path / "lt.tex"), "--no-figure", "--lang", lang)
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "lt.tex").read_text(encoding="utf-8")
    assert "a\\textless{}b\\textgreater{}c \\textbar{} d" in tex
    compile_tex(tmp_path, "lt.tex")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "lt.pdf"), "-"], capture_output=True, text=True).stdout
        assert "a<b>c | d" in text and "¡" not in text and "¿" not in text


# -- 4. digits other than 0-9 --------------------------------------------------------------------------

@pytest.mark.parametrize("text, char", [("١٢", "U+0661"), ("１２", "U+FF11"), ("1e٣", "U+0663"),
                                        ("1/٢", "U+0662"), ("-١.٥", "U+0661"), ("𝟙", "U+1D7D9")])
def test_number_texts_with_non_ascii_digits_are_refused(text, char):
    from bpviz.numeric import NumberRangeError, parse_number
    with pytest.raises(NumberRangeError, match=f"write digits as 0-9 .*{re.escape(char)}"):
        parse_number(text)


def test_unicode_spaces_around_a_number_are_still_read():
    from bpviz.numeric import parse_number
    assert parse_number("\u3000 12\u00a0") == 12


@pytest.mark.parametrize("args", [("--at", "x=١٢"), ("--at", "x=１２"), ("--at", "x=[١, 2]")])
def test_non_ascii_digits_on_the_command_line(args):
    result = invoke("expr", "J = sum(x*y)" if "[" in args[1] else "J = x*y", *args, "--at", "y=2")
    assert result.exit_code == 1 and "write digits as 0-9" in result.output


@pytest.mark.parametrize("name, text", [("v.json", '{"x": "١٢", "y": 2}'), ("v.yaml", "x: ١٢\ny: 2\n"),
                                        ("v2.yaml", 'x: "１２"\ny: 2\n')])
def test_non_ascii_digits_in_values_files(name, text, tmp_path):
    (tmp_path / name).write_text(text, encoding="utf-8")
    result = invoke("expr", "J = x*y", "--values", str(tmp_path / name))
    assert result.exit_code == 1 and "write digits as 0-9" in result.output


# -- 5. a constant's name: short, exact ------------------------------------------------------------

@pytest.mark.parametrize("value, name", [
    (Fraction(1, 10 ** 300), "1e-300"), (Fraction(3, 2 * 10 ** 300), "1.5e-300"),
    (Fraction(-5, 2) * 10 ** 300, "-2.5e300"), (-Fraction(1, 10 ** 4000), "-1e-4000"),
    (Fraction(1, 2 ** 40), "9.094947017729282379150390625e-13"),
    (Fraction(715), "715"), (Fraction(-11, 4), "-2.75"), (Fraction(1, 3), "1/3"),
    (Fraction(10 ** 20 + 1), "100000000000000000001"),        # scientific would be longer
    (Fraction(1, 7 * 10 ** 30), "1/7" + "0" * 30),       # no terminating decimal
])
def test_const_name(value, name):
    from bpviz.numeric import const_name, parse_number
    assert const_name(value) == name
    assert parse_number(name) == value                  # exact: the name reads back as the value


def test_const_names_are_short_for_any_decimal_constant():
    from bpviz.numeric import const_name, parse_number
    rng = random.Random(7)
    for _ in range(2000):
        digits = str(rng.randrange(1, 10 ** rng.randrange(1, 25)))
        value = parse_number(f"{rng.choice(['', '-'])}{digits}e{rng.randrange(-3970, 3970)}")
        name = const_name(value)
        assert parse_number(name) == value and len(name) <= max(len(digits) + 8, 21), name


@pytest.mark.parametrize("name, tex", [("1e-300", "1 \\times 10^{-300}"), ("1.5e-300", "1.5 \\times 10^{-300}"),
                                       ("-2.5e300", "-2.5 \\times 10^{300}")])
def test_scientific_constant_names_in_latex(name, tex):
    assert latex_name(name) == tex
    assert not mathjax_errors([(latex_name(name), False)])


@needs_pdflatex
def test_scientific_constants_through_every_output(tmp_path):
    """The notes, JSON and table with constants named by const_name (GraphBuilder.const): a 1e-300
    was a node named by its 302-character decimal."""
    program = "y = x * 1e-300 + x ** 2 * -2.5e300 + 1.5e-300 / x"
    table = invoke("expr", program, "--at", "x=2")
    assert table.exit_code == 0 and "1e-300" in table.output and "0.00000" not in table.output
    data = _json(program, {"x": 2})
    assert {"1e-300", "1.5e-300"} <= {n["name"] for n in data["nodes"]}
    assert _node(data, "1e-300")["value_exact"] == "0." + "0" * 299 + "1"        # the documented field
    for ext in ("md", "tex"):
        assert invoke("expr", program, "--at", "x=2", "-o", str(tmp_path / f"c.{ext}"), "--no-figure").exit_code == 0
    note = (tmp_path / "c.md").read_text()
    assert "1.5 \\times 10^{-300}" in note and "0.0000" not in note
    assert not mathjax_errors(markdown_formulas(note))
    compile_tex(tmp_path, "c.tex")


def test_a_float_divided_by_an_exact_number_below_float64_says_the_quotient_overflows():
    """exp(w) / 1e-400: the divisor rounds to 0 as a float, and the message said 'division by zero'."""
    result = invoke("expr", "J = exp(w) / c", "--at", "w=0.5, c=1e-400")
    assert result.exit_code == 1 and "the quotient 1.649 / 1e-400 is too large for a 64-bit float" in result.output
