"""Notes: Markdown and LaTeX derivations. Golden files, the chain rule's content, MathJax over
every emitted formula, pdflatex over the LaTeX document, and the CLI's files."""

import base64
import re
from fractions import Fraction

import pytest
from typer.testing import CliRunner

import bpviz
from bpviz.cli import app
from bpviz.escape import latex_name
from bpviz.render.json_out import to_data
from bpviz.render.latex import render_latex
from bpviz.render.markdown import render_markdown
from bpviz.api import Options, build_spec, note_for
from bpviz.render.note import PATH_LIMIT, PARTIALS_PER_LINE, Figure, build_note
from bpviz.render.prose import PROSE
from conftest import APPLES, APPLES_AT, COLAH, COLAH_AT, EVERY_OP, EVERY_OP_AT, NG, NG_AT
from notes_support import ROOT, compile_tex, latex_formulas, markdown_formulas, mathjax_errors, needs_pdflatex

runner = CliRunner()


def note(program, values, figure=Figure(link="figure.svg"), **options):
    return note_for(bpviz.from_expression(program, values), Options.make(**options), figure)


GOLDEN_NOTES = {
    "ng.md": lambda: render_markdown(note(NG, NG_AT, lr=Fraction(1, 10), params=["w", "b"])),
    "ng.zh.md": lambda: render_markdown(note(NG, NG_AT, lang="zh", lr=Fraction(1, 10),
                                             params=["w", "b"])),
    "colah.md": lambda: render_markdown(note(COLAH, COLAH_AT)),
    "colah.zh.md": lambda: render_markdown(note(COLAH, COLAH_AT, lang="zh")),
    "apples.md": lambda: render_markdown(note(APPLES, APPLES_AT)),
    "ng.tex": lambda: render_latex(note(NG, NG_AT, lr=Fraction(1, 10)), figure_file="ng.png"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_NOTES))
def test_golden_notes(golden, name):
    golden(f"notes/{name}", GOLDEN_NOTES[name]())


def test_forward_table_substitutes_numbers():
    text = render_markdown(note(NG, NG_AT))
    assert "| $c$ | $c = w \\cdot x$ | $2 \\cdot (-2)$ | $-4$ |" in text
    assert "| $d$ | $d = a - y$ | $4 - 2$ | $2$ |" in text


def test_backward_pass_shows_the_fan_out_sum():
    text = render_markdown(note(COLAH, COLAH_AT))
    row = next(line for line in text.splitlines() if line.startswith("| $b$"))
    assert "$2 \\cdot 1 + 3 \\cdot 1$" in row and row.endswith("| $5$ |")
    assert "$b$ feeds 2 nodes" in text


def test_chain_rule_lists_every_path_symbolically_then_numerically():
    text = render_markdown(note(COLAH, COLAH_AT, wrt=["b"]))
    block = text.split("### $\\bar{b}$")[1]
    assert "2 paths lead from $e$ to $b$" in block
    assert ("\\frac{\\partial e}{\\partial t_{1}} \\frac{\\partial t_{1}}{\\partial b} + "
            "\\frac{\\partial e}{\\partial t_{2}} \\frac{\\partial t_{2}}{\\partial b}") in block
    assert "&= 2 \\cdot 1 + 3 \\cdot 1 \\\\\n&= 5" in block
    assert "### $\\bar{a}$" not in text          # --wrt b only


def test_closed_form_is_sympys_and_agrees():
    text = render_markdown(note(NG, NG_AT))
    assert "\\bar{w} = x \\left(b + w x - y\\right) = -4" in text
    assert text.count("which agrees with the chain rule.") == 4
    assert "DISAGREES" not in text


def test_gradient_step_table_and_loss_after():
    text = render_markdown(note(NG, NG_AT, lr=Fraction(1, 10), params=["w", "b"]))
    assert "| $w$ | $2$ | $-4$ | $2 - 0.1 \\cdot (-4) = 2.4$ |" in text
    assert "| $b$ | $8$ | $2$ | $8 - 0.1 \\cdot 2 = 7.8$ |" in text
    # independent: J at w=2.4, b=7.8 is ((2.4)(-2) + 7.8 - 2)^2 / 2 = 0.5
    assert "$J$ goes from $2$ to $0.5$" in text


def test_apples_note_stays_exact():
    text = render_markdown(note(APPLES, APPLES_AT))
    assert "$715$" in text and "715.0000" not in text
    assert "\\mathrm{apple\\_price}" in text and "n_{\\mathrm{apple}}" in text


def test_names_render_as_proper_latex():
    text = render_markdown(note("J = w_1 * theta + θ2 * apple_num", {"w_1": 1, "theta": 2, "θ2": 3,
                                                                     "apple_num": 4}))
    for tex in ("w_{1}", "\\theta", "\\theta_{2}", "\\mathrm{apple\\_num}"):
        assert f"${tex} = " in text


def test_long_chain_breaks_across_lines():
    program = "; ".join(f"t{i} = t{i - 1} * 2" for i in range(1, 31)).replace("t0", "x")
    text = render_markdown(note(program, {"x": 1}))
    block = text.split("\\begin{aligned}")[1].split("\\end{aligned}")[0]
    for line in block.strip().splitlines():
        right = line.split("&", 1)[1]
        assert right.count("\\frac{") <= PARTIALS_PER_LINE
    assert block.count("\\\\") >= 30 // PARTIALS_PER_LINE


def test_too_many_paths_are_summarised_and_said_so():
    # each level doubles the paths: x feeds a and b twice over, 2**6 paths in all
    lines, prev = [], "x"
    for i in range(6):
        lines.append(f"a{i} = {prev} + 1; b{i} = {prev} * 2; s{i} = a{i} * b{i}")
        prev = f"s{i}"
    text = render_markdown(note("; ".join(lines), {"x": Fraction(1, 10)}, wrt=["x"]))
    assert f"64 paths lead from $s_{{5}}$ to $x$, more than the {PATH_LIMIT}" in text
    g = bpviz.from_expression("; ".join(lines), {"x": Fraction(1, 10)})
    assert g.path_counts()[g.node("x").index] == 64


def test_hundreds_of_nodes_still_give_a_complete_note():
    terms = " + ".join(f"w{i} * x{i}" for i in range(150))
    values = {f"w{i}": i % 7 - 3 for i in range(150)} | {f"x{i}": Fraction(i, 10) for i in range(150)}
    text = render_markdown(note(f"J = ({terms})**2", values, wrt=["w3", "x149"]))
    assert "Closed forms are left out for graphs over" in text
    assert text.count("### $\\bar{") == 2
    assert not mathjax_errors(markdown_formulas(text))


def test_every_formula_typesets_in_mathjax():
    """Every LaTeX string bpviz emits, in every note and language, through MathJax."""
    documents = [fn() for fn in GOLDEN_NOTES.values()]
    for lang in PROSE:
        for program, values in ((EVERY_OP, EVERY_OP_AT),
                                ("J = (w_1*x - y_true)**2 + λ*abs(w_1) + h_2/3",
                                 {"w_1": 2, "x": 3, "y_true": 1, "λ": "0.01", "h_2": 1}),
                                ("J = a*a*a - 1/a", {"a": "1e-8"})):
            n = note(program, values, lang=lang, lr=Fraction(1, 100))
            documents += [render_markdown(n), render_latex(n), render_latex(n, fragment=True)]
    for name in ("two-layer", "softmax", "init", "wide", "apples", "ng-spec"):
        text = (ROOT / "examples" / f"{name}.yaml").read_text()
        for group in ((False, True) if name not in ("apples", "ng-spec") else (False,)):
            n = note_for(build_spec(text, name, group=group), Options.make(lr=Fraction(1, 2), lang="zh" if group else "en"))
            documents += [render_markdown(n), render_latex(n)]
    formulas = []
    for doc in documents:
        formulas += latex_formulas(doc) if "\\begin{document}" in doc or doc.startswith("%") \
            else markdown_formulas(doc)
    data = to_data(bpviz.from_expression(EVERY_OP, EVERY_OP_AT))
    formulas += [(n["latex"], False) for n in data["nodes"]]
    formulas += [(i["local"]["latex"], False) for n in data["nodes"] for i in n["inputs"]]
    assert len(formulas) > 500
    assert mathjax_errors(formulas) == []


def test_mathjax_check_can_fail():
    errors = mathjax_errors([("\\frac{a}{b}", True), ("\\notamacro x", False), ("\\left( x", False)])
    assert [tex for tex, _ in errors] == ["\\notamacro x", "\\left( x"]


def test_markdown_tables_have_no_bare_pipes_in_math():
    text = render_markdown(note("J = abs(x - 3)", {"x": 1}))
    for line in text.splitlines():
        if line.startswith("| $"):
            cells = line.strip("|").split(" | ")
            assert all(c.count("$") % 2 == 0 for c in cells), line


# -- pdflatex -----------------------------------------------------------------------------------



@needs_pdflatex
@pytest.mark.parametrize("program, values", [(NG, "w=2, x=-2, b=8, y=2"), (EVERY_OP, "w_1=0.5, x=2, θ=0.3"),
                                             (APPLES, "apple=100, n_apple=2, orange=150, n_orange=3, tax=1.1")])
def test_latex_document_compiles(tmp_path, program, values):
    result = runner.invoke(app, ["expr", program, "--at", values, "--lr", "0.1", "--param", values.split("=")[0],
                                 "-o", str(tmp_path / "derivation.tex")])
    assert result.exit_code == 0, result.output
    from bpviz.render import printer
    if printer("pdf").missing() is None:       # vector, named away from derivation.pdf (pdflatex's output)
        assert (tmp_path / "derivation-figure.pdf").read_bytes()[:5] == b"%PDF-"
    else:
        assert (tmp_path / "derivation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "\\includegraphics" in (tmp_path / "derivation.tex").read_text()
    compile_tex(tmp_path, "derivation.tex")


@needs_pdflatex
@pytest.mark.parametrize("name, group, lang", [("two-layer", False, "en"), ("softmax", False, "en"),
                                               ("softmax", True, "en"), ("init", False, "en"), ("wide", False, "en"),
                                               ("apples", False, "en"), ("two-layer", False, "zh")])
def test_spec_latex_documents_compile(tmp_path, name, group, lang):
    if lang == "zh" and not _has_cjk():
        pytest.skip("CJKutf8 is not installed (Debian: latex-cjk-chinese latex-cjk-chinese-arphic-gbsn00lp)")
    args = ["spec", str(ROOT / "examples" / f"{name}.yaml"), "--lr", "0.5", "-o", str(tmp_path / "net.tex"),
            "--lang", lang, "--group", "neurons" if group else "none"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    compile_tex(tmp_path, "net.tex")


@needs_pdflatex
def test_latex_fragment_inputs_into_a_document(tmp_path):
    result = runner.invoke(app, ["expr", COLAH, "--at", "a=2, b=1", "--tex-fragment", "--no-figure",
                                 "-o", str(tmp_path / "body.tex")])
    assert result.exit_code == 0, result.output
    body = (tmp_path / "body.tex").read_text()
    assert "\\documentclass" not in body and "\\begin{align*}" in body
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb,graphicx,array,longtable}\n"
        "\\begin{document}\n\\input{body}\n\\end{document}\n")
    compile_tex(tmp_path, "main.tex")


def _has_cjk() -> bool:
    from bpviz.write import find_tex_package
    return find_tex_package("CJKutf8.sty") is not None


@needs_pdflatex
@pytest.mark.skipif(not _has_cjk(), reason="CJKutf8 is not installed (Debian: latex-cjk-chinese "
                                            "latex-cjk-chinese-arphic-gbsn00lp)")
def test_chinese_latex_document_compiles(tmp_path):
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "--lang", "zh",
                                 "-o", str(tmp_path / "zh.tex")])
    assert result.exit_code == 0, result.output
    compile_tex(tmp_path, "zh.tex")


# -- the command line ---------------------------------------------------------------------------

def test_cli_note_writes_the_figure_beside_it(tmp_path):
    out = tmp_path / "note.md"
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "![Computation graph of J" in out.read_text() and "](note.svg)" in out.read_text()
    svg = (tmp_path / "note.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "−4" in svg


def test_cli_embed_makes_one_self_contained_file(tmp_path):
    out = tmp_path / "note.md"
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", str(out), "--embed"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["note.md"]
    link = re.search(r"\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", out.read_text())
    assert link and b"<svg" in base64.b64decode(link.group(1))


def test_cli_note_to_stdout_says_where_the_figure_went():
    result = runner.invoke(app, ["expr", COLAH, "--at", "a=2, b=1", "-f", "md", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# e 的反向传播")
    assert "笔记输出到标准输出" in result.output


def test_cli_learning_rate_and_wrt(tmp_path):
    out = tmp_path / "n.md"
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", str(out), "--lr", "0.1",
                                 "--wrt", "w", "--param", "w", "--no-figure"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "## Gradient-descent update" in text and "| $w$ | $2$ | $-4$ |" in text
    assert "| $x$ |" not in text.split("## Gradient-descent update")[1]
    assert text.count("### $\\bar{") == 1
    assert not (tmp_path / "n.svg").exists()


@pytest.mark.parametrize("args, code, message", [
    (["--wrt", "q"], 1, "no node named 'q'"),
    (["--lr", "fast"], 2, "--lr must be a number"),
    (["--lr", "-1"], 2, "--lr must be positive"),
    (["--lang", "fr"], 2, "--lang must be one of en, zh"),
    (["--param", "c", "--lr", "1"], 1, "'c' is not an input"),
])
def test_cli_note_errors_write_nothing(tmp_path, args, code, message):
    out = tmp_path / "n.md"
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", str(out), *args])
    assert result.exit_code == code and message in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_unwritable_note_leaves_nothing(tmp_path):
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2",
                                 "-o", str(tmp_path / "missing" / "n.md")])
    assert result.exit_code == 1 and "does not exist" in result.output


# -- one notation: a gradient never stands on both sides of its own equation --------------------------
#
# v̄ (\bar{v}, \overline{v}, v̄) is the gradient of the output with respect to v; ∂a/∂b (\frac, \dfrac,
# \tfrac, "\partial a / \partial b", Unicode ∂a/∂b) is only ever a local derivative; δ with an index is
# the gradient at that pre-activation. An equation is circular when a gradient or local derivative of its
# left side appears again on its right, in any spelling, or when ∂J/∂v of the output J is written for a v
# that J does not use directly (a gradient spelled as a local derivative). "≡" introduces a name (δ₂ ≡ Z̄₂)
# and is not an equation.

_SCRIPTS = r"(?:\s*[_^](?:\{(?:[^{}]|\{[^{}]*\})*\}|[A-Za-z0-9]))*"
_TEXNAME = r"(?:\\[A-Za-z]+|[A-Za-z])" + _SCRIPTS
_BAR = re.compile(r"\\(?:bar|overline)\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}(" + _SCRIPTS + ")")
_DELTA = re.compile(r"\\delta(?![A-Za-z])(" + _SCRIPTS + ")")
_SLASH = re.compile(r"\\partial\s*(" + _TEXNAME + r")\s*/\s*\\partial\s*(" + _TEXNAME + ")")
_UNI_PARTIAL = re.compile(r"∂([^\s/∂·=]+)/∂([^\s/∂·=]+)")
_UNI_BAR = re.compile(r"([^\W\d_])\u0304([\w\[\],.]*)")
_MATRIX = re.compile(r"\\begin\{pmatrix\}.*?\\end\{pmatrix\}", re.S)


def _norm(name: str) -> str:
    name = re.sub(r"\s+", "", name)
    name = re.sub(r"([_^])\{([A-Za-z0-9])\}", r"\1\2", name)
    name = re.sub(r"\\mathrm\{([^{}]*)\}", r"\1", name)
    while name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    return name


def _groups(text: str, start: int) -> list:
    """The two brace groups of a fraction that starts its first group at ``start``."""
    found, i = [], start
    for _ in range(2):
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text) or text[i] != "{":
            return []
        depth, j = 0, i
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
        found.append(text[i + 1:j])
        i = j + 1
    return found


def derivative_tokens(side: str) -> set:
    """Every gradient ("total", v) and local derivative ("local", a, b) a piece of a formula names."""
    tokens = set()
    for m in _BAR.finditer(side):
        tokens.add(("total", _norm(m.group(1) + m.group(2))))
    for m in _DELTA.finditer(side):
        if m.group(1).strip():
            tokens |= {("total", _norm("z" + m.group(1))), ("total", _norm("Z" + m.group(1)))}
    for m in re.finditer(r"\\[dt]?frac(?![A-Za-z])", side):
        parts = _groups(side, m.end())
        if len(parts) == 2 and all(p.strip().startswith("\\partial") for p in parts):
            tokens.add(("local",) + tuple(_norm(p.strip()[len("\\partial"):]) for p in parts))
    for m in _SLASH.finditer(side):
        tokens.add(("local", _norm(m.group(1)), _norm(m.group(2))))
    for m in _UNI_PARTIAL.finditer(side):
        tokens.add(("local", _norm(m.group(1)), _norm(m.group(2))))
    for m in _UNI_BAR.finditer(side):
        tokens.add(("total", _norm(m.group(1) + m.group(2))))
    return tokens


def equation_chains(formula: str) -> list:
    """The equations of a formula: aligned rows, a row that starts with & continuing the one above."""
    body = _MATRIX.sub("M", formula).replace("\\begin{aligned}", "").replace("\\end{aligned}", "")
    chains = []
    for row in re.split(r"\\\\(?![A-Za-z])", body):
        row = row.strip()
        if row.startswith("&") and chains:
            chains[-1] += " " + row
        elif row:
            chains.append(row)
    return [re.sub(r"\\q?quad|&", " ", chain) for chain in chains]


def circular_equations(formulas: list, output: str = "J", direct: frozenset = frozenset()) -> list:
    """The equations of ``formulas`` (tex strings) that put a gradient on both sides, or that write the
    gradient of ``output`` with respect to a node it does not use directly (not in ``direct``) as ∂."""
    bad = []
    for formula in formulas:
        for chain in equation_chains(formula):
            sides = [derivative_tokens(side) for side in re.split(r"(?<![<>!\\])=", chain)]
            if len(sides) < 2:
                continue
            shared = [t for right in sides[1:] for t in sides[0] & right]      # the left side on the right
            totals = [t for side in sides for t in side if t[0] == "local" and t[1] == _norm(output)
                      and t[2] not in direct]
            if shared or totals:
                bad.append((chain, shared + totals))
    return bad


def note_formulas(text: str) -> list:
    """Every formula of a Markdown or LaTeX note, and every line of its prose (for Unicode spellings)."""
    formulas = latex_formulas(text) if "\\begin{document}" in text or text.startswith("%") \
        else markdown_formulas(text)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    prose = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", "", prose, flags=re.S)
    return [tex for tex, _ in formulas] + [line for line in prose.splitlines() if "∂" in line or "\u0304" in line]


def example_notes():
    """Every example of examples/, as every note bpviz writes of it: Markdown and LaTeX, English and
    Chinese, networks in the scalar view (unit by unit and grouped into neurons) and the matrix view.
    Yields (what, graph, text)."""
    yaml = __import__("yaml")
    graphs = []
    for program in sorted((ROOT / "examples").glob("*.txt")):
        values = yaml.safe_load(program.with_suffix(".values.yaml").read_text())
        graphs.append((program.name, bpviz.api.Source.expression(program.read_text(), values).build()))
    for spec in sorted((ROOT / "examples").glob("*.yaml")):
        if spec.name.endswith(".values.yaml"):
            continue
        text = spec.read_text()
        network = "layers:" in text
        views = ([("matrix", False)] if "batch" in spec.name else
                 [("scalar", False), ("scalar", True), ("matrix", False)] if network else [("scalar", False)])
        for view, group in views:
            graphs.append((f"{spec.name} {view}{' neurons' if group else ''}",
                           build_spec(text, spec.name, group=group, view=view)))
    for what, g in graphs:
        params = None if g.spec else [n.name for n in g.inputs]
        for lang in PROSE:
            n = note_for(g, Options.make(lr=Fraction(1, 10), params=params, lang=lang), Figure(link="figure.svg"))
            yield f"{what} {lang} md", g, render_markdown(n)
            yield f"{what} {lang} tex", g, render_latex(n)


@pytest.fixture(scope="module")
def every_example_note():
    return list(example_notes())


def test_no_equation_has_the_same_gradient_on_both_sides(every_example_note):
    assert len(every_example_note) >= 60
    for what, g, text in every_example_note:
        direct = frozenset(_norm(latex_name(g.nodes[i].name)) for i in g.out.inputs)
        bad = circular_equations(note_formulas(text), latex_name(g.out.name), direct)
        assert not bad, (what, bad[:3])


@pytest.mark.parametrize("formula", [
    r"\frac{\partial J}{\partial t_{1}} = \frac{\partial J}{\partial J} \frac{\partial J}{\partial t_{1}}",
    r"\dfrac{\partial J}{\partial t_{1}} = \bar{J} \, \dfrac{\partial J}{\partial t_1}",
    r"\tfrac{\partial J}{\partial t_{1}} = 1 \cdot \partial J / \partial t_{1}",
    "∂J/∂t1 = ∂J/∂J · ∂J/∂t1",
    r"\bar{t}_{1} = \bar{t}_1 \cdot 1",
    "t̄1 = t̄1 · 1",
    r"\overline{\mathrm{price}} = 2 \, \overline{\mathrm{price}}",
    r"\delta^{(o)}_{1} = \bar{z}^{(o)}_{1} = 0.1385",
    r"\begin{aligned} \frac{\partial J}{\partial w} &= \frac{\partial J}{\partial t_{1}} \frac{\partial t_{1}}{\partial w} \\ &= 4 \end{aligned}",
    r"\partial J / \partial w = x \left(b + w x - y\right)",
])
def test_the_circularity_check_can_fail(formula):
    assert circular_equations([formula], "J", frozenset({"t_1"}))


def test_the_circularity_check_passes_the_notation():
    fine = [r"\bar{t}_{1} = \bar{J} \, \frac{\partial J}{\partial t_{1}}", r"\bar{w} = x \left(b + w x - y\right) = -4",
            r"\delta_{2} \equiv \bar{Z}_{2} = \frac{1}{2} \left(P - Y\right)",
            r"\begin{aligned} \bar{w} &= \frac{\partial J}{\partial t_{1}} \frac{\partial t_{1}}{\partial w} \\ &= 4 \end{aligned}",
            r"\delta^{(h)}_{j} = \sigma'\left(z^{(h)}_{j}\right) \sum_{k} W^{(o)}_{k,j} \, \delta^{(o)}_{k}"]
    assert circular_equations(fine, "J", frozenset({"t_1"})) == []


def test_the_notation_is_said_in_the_first_lines():
    md = render_markdown(note(NG, NG_AT))
    first = md.split("**Program**")[0]
    assert "Notation: $\\bar{v}$ is the gradient of $J$" in first
    assert "$\\frac{\\partial a}{\\partial b}$ is only ever a local derivative" in first
    tex = render_latex(note(NG, NG_AT))
    assert "\\noindent Notation: $\\bar{v}$" in tex.split("\\subsection*{Program}")[0]
    zh = render_markdown(note(NG, NG_AT, lang="zh"))
    assert "记号：$\\bar{v}$ 是 $J$ 对节点 $v$ 的梯度" in zh.split("**程序**")[0]
    network = render_markdown(note_for(build_spec((ROOT / "examples" / "two-layer.yaml").read_text(), "n"),
                                       Options.make(), Figure()))
    assert "$\\delta^{(l)}_{j}$ is the gradient at the pre-activation" in network.split("**Program**")[0]


def test_the_backward_pass_and_the_chain_rule_use_bars():
    text = render_markdown(note(NG, NG_AT, lr=Fraction(1, 10), params=["w", "b"]))
    assert "| $t_{1}$ | $\\displaystyle \\bar{t}_{1} = \\bar{J} \\, \\frac{\\partial J}{\\partial t_{1}}$ |" in text
    assert "starting from $\\bar{J} = 1$" in text
    assert "\\bar{w} &= \\frac{\\partial J}{\\partial t_{1}} \\frac{\\partial t_{1}}{\\partial d}" in text
    assert "p \\leftarrow p - \\eta \\, \\bar{p}" in text and "| parameter | old value | $\\bar{p}$ |" in text
    assert "\\frac{\\partial J}{\\partial J}" not in text and "\\partial J / \\partial" not in text


def test_the_figure_caption_names_an_edge_and_its_local_derivative():
    assert "the edge $w \\to c$ shows $\\partial c / \\partial w$" in render_markdown(note(NG, NG_AT))
    assert "边 $w \\to c$ 上是 $\\partial c / \\partial w$" in render_markdown(note(NG, NG_AT, lang="zh"))


# -- networks in δ form ---------------------------------------------------------------------------------

def spec_note(name, lang="en", group=False, **options):
    text = (ROOT / "examples" / f"{name}.yaml").read_text()
    return note_for(build_spec(text, name, group=group), Options.make(lang=lang, **options), Figure(link="f.svg"))


def _last_number(line: str) -> float:
    tail = line.rsplit("=", 1)[1].strip().removesuffix("\\\\").strip()
    m = re.fullmatch(r"(-?[\d.]+)(?: \\times 10\^\{(-?\d+)\})?", tail.replace("−", "-"))
    assert m, line
    return float(m.group(1)) * 10 ** int(m.group(2) or 0)


def _rows(text: str, lhs: str) -> list:
    return [line for line in text.splitlines() if line.startswith(lhs + " &= ")]


def mazur():
    """Matt Mazur's 2-2-2 network by hand: the δs and every gradient, by name."""
    import numpy as np
    x, y = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    W1, b1 = np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([0.35, 0.35])
    W2, b2 = np.array([[0.40, 0.45], [0.50, 0.55]]), np.array([0.60, 0.60])
    s = lambda z: 1 / (1 + np.exp(-z))        # noqa: E731
    a1 = s(W1 @ x + b1)
    a2 = s(W2 @ a1 + b2)
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    grads = {f"o.W[{j + 1},{i + 1}]": d2[j] * a1[i] for j in range(2) for i in range(2)}
    grads |= {f"h.W[{j + 1},{i + 1}]": d1[j] * x[i] for j in range(2) for i in range(2)}
    grads |= {"o.b[1]": d2[0], "o.b[2]": d2[1], "h.b": d1.sum()}
    return d1, d2, grads


@pytest.mark.parametrize("group", [False, True])
def test_a_network_note_derives_in_delta_form(group):
    text = render_markdown(spec_note("two-layer", group=group, lr=Fraction(1, 2)))
    assert "## Backpropagation in $\\delta$ form" in text
    assert "## Chain rule" not in text and "paths lead" not in text and "too long to print" not in text
    assert "E &= \\frac{1}{2} \\sum_{j} \\left(y_{j} - a^{(o)}_{j}\\right)^{2}" in text
    assert "\\bar{a}^{(o)}_{j} &= a^{(o)}_{j} - y_{j}" in text
    assert ("\\delta^{(h)}_{j} &= \\sigma'\\left(z^{(h)}_{j}\\right) \\sum_{k} W^{(o)}_{k,j} \\, \\delta^{(o)}_{k}"
            in text)
    assert "\\bar{W}^{(l)}_{j,i} &= \\delta^{(l)}_{j} \\, a^{(l-1)}_{i}" in text
    assert "\\bar{b}^{(l)}_{j} &= \\delta^{(l)}_{j}" in text
    d1, d2, grads = mazur()
    # Mazur's published numbers: δ_o1 = 0.138498562, ∂E/∂w5 = 0.082167041, ∂E/∂w1 = 0.000438568
    assert _last_number(_rows(text, "\\delta^{(o)}_{1}")[0]) == pytest.approx(0.138498562, rel=1e-3)
    for j in (1, 2):
        assert _last_number(_rows(text, f"\\delta^{{(o)}}_{{{j}}}")[0]) == pytest.approx(d2[j - 1], rel=1e-3)
        assert _last_number(_rows(text, f"\\delta^{{(h)}}_{{{j}}}")[0]) == pytest.approx(d1[j - 1], rel=1e-3)
    for name, value in grads.items():
        row = _rows(text, "\\bar{" + latex_name(name)[0] + "}" + latex_name(name)[1:])
        assert len(row) == 1 and _last_number(row[0]) == pytest.approx(value, rel=1e-3), name
    assert "\\bar{b}^{(h)} &= \\delta^{(h)}_{1} + \\delta^{(h)}_{2} = " in text


def test_the_delta_form_reads_the_same_unit_by_unit_and_grouped():
    def displays(text):
        delta = text.split("## Backpropagation in $\\delta$ form")[1].split("\n## ")[0]
        return re.findall(r"^\$\$\n.*?\n\$\$$", delta, re.S | re.M)
    plain, grouped = (render_markdown(spec_note("softmax", group=g)) for g in (False, True))
    assert len(displays(plain)) >= 5 and displays(plain) == displays(grouped)


def test_the_generated_loss_nodes_are_folded_back_in_prose():
    n = spec_note("two-layer")
    g = build_spec((ROOT / "examples" / "two-layer.yaml").read_text(), "n")
    acts = [g.node(f"o.a[{j}]").index for j in (1, 2)]
    loss_nodes = [node for node in g.nodes if node.kind == "op" and node.index > min(acts)
                  and re.fullmatch(r"t\d+", node.name)]
    assert len(loss_nodes) == 5
    text = render_markdown(n)
    sentence = next(line for line in text.splitlines() if line.startswith("The figure computes the loss"))
    assert all(f"${latex_name(node.name)}$" in sentence for node in loss_nodes)
    assert sentence.endswith("written as one formula, it is")


def test_paths_with_a_zero_factor_are_left_out_and_said():
    g = build_spec((ROOT / "examples" / "wide.yaml").read_text(), "wide")
    text = render_markdown(note_for(g, Options.make(), Figure()))
    for layer, above in (("h2", "o"), ("h1", "h2")):
        units = sorted(int(m) for m in re.findall(rf"^{layer}\.z\[(\d+)\]$", "\n".join(n.name for n in g.nodes), re.M))
        above_units = sorted(int(m) for m in re.findall(rf"^{above}\.z\[(\d+)\]$", "\n".join(n.name for n in g.nodes),
                                                            re.M))
        zeros = sum(1 for j in units if g.node(f"{layer}.a[{j}]").local[0] != 0 for k in above_units
                    if g.node(f"{above}.W[{k},{j}]").value == 0 or g.node(f"{above}.z[{k}]").grad == 0)
        section = text.split(f"### Layer ${latex_name(layer + '.z')[4:-2]}$")[1].split("###")[0]
        if zeros:
            assert f"{zeros} terms with a factor 0" in section, layer
        sums = [re.split(r"\\left\(|\\bigl\(", line, 1)[-1] for line in section.splitlines()
                if (line.startswith("\\delta^{") or line.startswith("&\\quad +")) and "\\ldots" not in line]
        for terms in sums:                      # W·δ products with a factor 0 are not written
            terms = re.split(r"\\right\)|\\bigr\)", terms)[0].removeprefix("&\\quad + ")
            for term in terms.split(" + "):
                factors = [f.strip() for f in term.split("\\cdot")]
                assert "0" not in factors and "(0)" not in factors, terms
    inactive = [j for j in range(1, 9) if g.node(f"h2.a[{j}]").local[0] == 0]
    assert inactive
    for j in inactive:
        assert f"\\delta^{{(\\mathrm{{h2}})}}_{{{j}}} &= 0 \\cdot \\left(\\ldots\\right) = 0" in text
        assert f"$z^{{(\\mathrm{{h2}})}}_{{{j}}} = " in text          # said: the unit is inactive
        assert f"\\bar{{W}}^{{(\\mathrm{{h2}})}}_{{{j},1}} &=" not in text   # its weights' zero gradients left out
    assert "Zero error signals (" in text


def test_softmax_and_sigmoid_shortcuts_with_targets_named_y():
    text = render_markdown(spec_note("softmax"))
    assert "t_{j}" not in text and "p_j - t_j" not in text
    assert "\\delta^{(o)}_{j} &= a^{(o)}_{j} - y_{j}" in text and "with the targets $y_{1} = 1$, $y_{2} = 0$" in text
    g = build_spec((ROOT / "examples" / "softmax.yaml").read_text(), "s")
    for j, y in ((1, 1), (2, 0)):
        row = _rows(text, f"\\delta^{{(o)}}_{{{j}}}")[0]
        assert _last_number(row) == pytest.approx(float(g.node(f"o.z[{j}]").grad), abs=1e-4)
        assert _last_number(row) == pytest.approx(float(g.node(f"o.a[{j}]").value) - y, abs=1e-4)
    init = render_markdown(spec_note("init"))
    assert "Sigmoid followed by binary cross-entropy" in init
    assert "\\delta^{(o)}_{j} &= a^{(o)}_{j} - y_{j}" in init


def test_expression_programs_keep_the_path_by_path_chain_rule():
    text = render_markdown(note(NG, NG_AT))
    assert "## Chain rule" in text and "One path leads from $J$ to $w$." in text and "\\delta" not in text
    graph_spec = render_markdown(note_for(build_spec((ROOT / "examples" / "ng-spec.yaml").read_text(), "ng"),
                                          Options.make(), Figure()))
    assert "## Chain rule" in graph_spec and "form" not in graph_spec.split("## Chain rule")[0].split("## Backward")[1]


def test_wrt_an_input_of_a_network():
    text = render_markdown(spec_note("two-layer", wrt=["x1", "h.b", "t17"]))
    assert "\\bar{x}_{1} &= W^{(h)}_{1,1} \\, \\delta^{(h)}_{1} + W^{(h)}_{2,1} \\, \\delta^{(h)}_{2} = " in text
    assert "### $\\bar{t}_{17}$" in text            # not a unit's quantity: the chain rule, path by path
    assert "\\bar{W}^{(h)}_{1,2}" not in text.split("## Backpropagation in")[1].split("## Chain rule")[0]


def test_one_name_per_node_with_a_legend():
    g = build_spec((ROOT / "examples" / "softmax.yaml").read_text(), "s")
    text = render_markdown(note_for(g, Options.make(), Figure()))
    legend = next(line for line in text.splitlines() if line.startswith("Names:"))
    pairs = dict(re.findall(r"`([^`]+)` is \$([^$]+)\$", legend))
    assert pairs["h.W[1,2]"] == "W^{(h)}_{1,2}"                   # an example, spelled both ways
    layers = re.search(r"for each layer l \(([^)]*)\)", legend).group(1).split(", ")
    assert layers == ["h", "o"]
    for name in (n["name"] for n in to_data(g)["nodes"] if n["kind"] != "const"):
        shown = latex_name(name)
        m = re.fullmatch(r"([^.]+)\.([^\[]+)(?:\[(\d+)(?:,(\d+))?\])?", name)
        if not m:
            assert shown in text
            continue
        layer, var, j, i = m.groups()
        generic = f"l.{var}" + ("" if not j else "[j]" if not i else "[j,i]")
        tex = pairs[generic].replace("(l)", "(" + latex_name(f"{layer}.z")[4:-2] + ")")
        tex = tex.replace("_{j,i}", f"_{{{j},{i}}}").replace("_{j}", f"_{{{j}}}")
        assert tex == shown, name


def test_chinese_network_note():
    text = render_markdown(spec_note("two-layer", lang="zh", lr=Fraction(1, 2)))
    assert "## $\\delta$ 形式的反向传播" in text and "其中目标值为 $y_{1} = 0.01$、$y_{2} = 0.99$。" in text
    assert "l 为层（h、o）" in text and "取学习率 $\\eta = 0.5$，做一步梯度下降" in text


# -- fractions at full size, the Typora setting, links --------------------------------------------------

def test_table_fractions_are_set_at_full_size():
    for text in (render_markdown(note(NG, NG_AT, lr=Fraction(1, 10), params=["w"])),
                 render_markdown(spec_note("softmax"))):
        cells = [c for line in text.splitlines() if line.startswith("| $") for c in line.strip("|").split(" | ")]
        fractions = [c for c in cells if "\\frac" in c]
        assert fractions and all(c.strip().startswith("$\\displaystyle ") for c in fractions)
    assert not mathjax_errors([(c.strip()[1:-1], False) for c in fractions])


def test_the_header_comment_says_how_to_turn_on_inline_math_in_typora():
    from markdown_it import MarkdownIt
    for text, setting in ((render_markdown(note(NG, NG_AT)), "Preferences → Markdown → Syntax Support → Inline Math"),
                          (render_markdown(note(NG, NG_AT, lang="zh")), "内联公式"),
                          (render_markdown(spec_note("two-layer")), "Typora leaves inline math off by default"),
                          (render_markdown(note(CS224N_MATRIX, CS224N_MATRIX_AT)), "Inline Math"),
                          (render_markdown(note(NG, NG_AT), fragment=True), "Inline Math")):
        comments = [t for t in MarkdownIt("commonmark").parse(text) if t.type == "html_block"]
        assert len(comments) == 1 and comments[0].content.startswith("<!--") and setting in comments[0].content
        assert "--" not in comments[0].content.strip()[4:-3]          # nothing ends the comment early
    docs = (ROOT / "docs" / "notes.md").read_text()
    assert "Preferences → Markdown → Syntax Support → Inline Math" in docs


CS224N_MATRIX = "Z1 = X @ W1 + b1; A1 = relu(Z1); Z2 = A1 @ W2 + b2; P = softmax(Z2); J = -sum(Y * log(P)) / 2"
CS224N_MATRIX_AT = {"X": [[1, 2, 0], [0, -1, 3]], "W1": [[1, 0, -1], [0, 1, 1], [1, -1, 0]], "b1": [0.5, -0.5, 0],
                    "W2": [[1, -1, 0], [0, 1, -1], [1, 0, 1]], "b2": [0, 0.5, -0.5], "Y": [[1, 0, 0], [0, 0, 1]]}


def test_an_image_link_with_spaces_and_parentheses_finds_its_file(tmp_path):
    from urllib.parse import unquote
    from markdown_it import MarkdownIt
    out = tmp_path / "my note (1).md"
    result = runner.invoke(app, ["expr", NG, "--at", "w=2, x=-2, b=8, y=2", "-o", str(out), "--renderer", "embedded"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "](my%20note%20%281%29.svg)" in text
    images = [c for t in MarkdownIt("commonmark").parse(text) if t.children for c in t.children if c.type == "image"]
    assert len(images) == 1 and (tmp_path / unquote(images[0].attrs["src"])).exists()


def test_chinese_wording():
    text = render_markdown(note(NG, NG_AT, lang="zh", lr=Fraction(1, 10), params=["w", "b"]))
    assert "解析表达式（sympy）：" in text and "闭式解" not in text
    assert "## 局部偏导数" in text and "| 边 | 偏导数 |" in text
    assert "取学习率 $\\eta = 0.1$，做一步梯度下降：每个参数（$w$、$b$）" in text
    assert "**取值：** $w = 2$、$x = -2$、$b = 8$、$y = 2$" in text
    assert all("闭式解" not in value for value in PROSE["zh"].values())


VARIANTS = [(hidden, out, loss) for hidden in ("sigmoid", "tanh", "relu", "linear")
            for out, loss in (("sigmoid", "mse"), ("linear", "mse"), ("softmax", "cross_entropy"),
                              ("sigmoid", "binary_cross_entropy"), ("softmax", "mse"), ("sigmoid", "cross_entropy"))]


@pytest.mark.parametrize("hidden, out, loss", VARIANTS)
@pytest.mark.parametrize("group", [False, True])
def test_every_delta_and_gradient_of_the_delta_form_is_the_graphs(hidden, out, loss, group):
    """Each activation and loss: every δ row ends in the graph's z̄, every W̄/b̄ row in its gradient."""
    targets = {"cross_entropy": "[0.25, 0.75]" if out == "softmax" else "[1, 0.5]",
               "binary_cross_entropy": "[1, 0.25]", "mse": "[0.5, -0.25]"}[loss]
    scale = "\n  scale: 1" if loss == "mse" and out == "linear" else ""
    spec = (f"inputs: {{x1: 0.5, x2: -1.5, x3: 2}}\nlayers:\n"
            f"  - {{name: h, activation: {hidden}, weights: [[0.2, -0.4, 0.1], [0.7, 0, -0.3]], bias: 0.1}}\n"
            f"  - {{name: o, activation: {out}, weights: [[0.6, -0.2], [-0.5, 0.4]], bias: [0.05, -0.1]}}\n"
            f"loss:\n  kind: {loss}\n  targets: {targets}{scale}\n")
    g = build_spec(spec, "v.yaml", group=group)
    text = render_markdown(build_note(g, wrt=["x2"] + g.params, closed=None))
    delta = text.split("## Backpropagation in $\\delta$ form")[1].split("\n## ")[0]
    lines = delta.splitlines()

    def final(lhs):
        """The number a row of ``lhs`` comes to: at its end, or on the first row below that ends in one."""
        rows = _rows(delta, lhs)
        assert len(rows) == 1, lhs
        for line in lines[lines.index(rows[0]):]:
            tail = line.rsplit("=", 1)[-1].strip().removesuffix("\\\\").strip()
            if re.fullmatch(r"-?[\d.]+(?: \\times 10\^\{-?\d+\})?", tail):
                return _last_number(line)
        raise AssertionError(lhs)

    for layer in ("h", "o"):
        for j in (1, 2):
            value = final(f"\\delta^{{({layer})}}_{{{j}}}")
            assert value == pytest.approx(float(g.node(f"{layer}.z[{j}]").grad), rel=2e-3, abs=1e-4), (layer, j)
    for name in g.params + ["x2"]:
        node, tex = g.node(name), latex_name(name)
        lhs = "\\bar{" + tex[0] + "}" + tex[1:]
        if float(node.grad) == 0 and not _rows(delta, lhs):
            continue                                   # a unit with δ = 0: said, not listed
        assert final(lhs) == pytest.approx(float(node.grad), rel=2e-3, abs=1e-4), name
    assert not circular_equations([tex for tex, _ in markdown_formulas(text)], latex_name(g.out.name),
                                  frozenset(_norm(latex_name(g.nodes[i].name)) for i in g.out.inputs))


def test_path_factors_equal_the_lengths_of_the_listed_paths():
    """The note decides 'too long to write out' from Graph.path_factors, before listing any path."""
    import random
    import bpviz
    rng = random.Random(1)
    for _ in range(60):
        n = rng.randint(2, 10)
        lines = []
        for i in range(n):
            a, b = (rng.choice(["x", "y"] + [f"v{j}" for j in range(i)]) for _ in range(2))
            lines.append(f"v{i} = {a} * {b} + {a}")
        graph = bpviz.from_expression("; ".join(lines) + f"; J = v{n - 1} + 0*x + 0*y", {"x": 1, "y": 2})
        counts, factors = graph.path_counts(), graph.path_factors()
        for node in graph.nodes:
            if counts[node.index] <= 500:
                paths = graph.paths(node.index, counts[node.index])
                assert sum(len(p) for p in paths) == factors[node.index]


@needs_pdflatex
def test_a_spec_listing_in_latex_keeps_its_indentation(tmp_path):
    """TeX folds spaces, and drops the glue after a line break: the YAML's nested keys read as top-level
    ones in the PDF. Each run of spaces is kept, and a line's indentation after an empty box."""
    import shutil
    import subprocess
    result = runner.invoke(app, ["spec", str(ROOT / "examples" / "two-layer.yaml"), "-o", str(tmp_path / "net.tex"),
                                 "--no-figure"])
    assert result.exit_code == 0, result.output
    compile_tex(tmp_path, "net.tex")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "net.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    lines = text.splitlines()
    layers = next(i for i, line in enumerate(lines) if line.strip() == "layers:")
    indent = lambda line: len(line) - len(line.lstrip())
    assert indent(lines[layers + 1]) > indent(lines[layers]) and lines[layers + 1].strip().startswith("- name: h")
    assert indent(lines[layers + 2]) > indent(lines[layers + 1])          # activation: under "- name"
