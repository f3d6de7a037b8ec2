"""Notes: Markdown and LaTeX derivations. Golden files, the chain rule's content, MathJax over
every emitted formula, pdflatex over the LaTeX document, and the CLI's files."""

import base64
import re
from fractions import Fraction

import pytest
from typer.testing import CliRunner

import bpviz
from bpviz.cli import app
from bpviz.render.json_out import to_data
from bpviz.render.latex import render_latex
from bpviz.render.markdown import render_markdown
from bpviz.api import Options, build_spec, note_for
from bpviz.render.note import PATH_LIMIT, PARTIALS_PER_LINE, Figure
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
    block = text.split("### $\\partial e / \\partial b$")[1]
    assert "2 paths lead from $e$ to $b$" in block
    assert ("\\frac{\\partial e}{\\partial t_{1}} \\frac{\\partial t_{1}}{\\partial b} + "
            "\\frac{\\partial e}{\\partial t_{2}} \\frac{\\partial t_{2}}{\\partial b}") in block
    assert "&= 2 \\cdot 1 + 3 \\cdot 1 \\\\\n&= 5" in block
    assert "### $\\partial e / \\partial a$" not in text          # --wrt b only


def test_closed_form_is_sympys_and_agrees():
    text = render_markdown(note(NG, NG_AT))
    assert "\\frac{\\partial J}{\\partial w} = x \\left(b + w x - y\\right) = -4" in text
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
    assert text.count("### $\\partial J") == 2
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
    for name in ("two-layer", "softmax", "init", "apples"):
        text = (ROOT / "examples" / f"{name}.yaml").read_text()
        for group in ((False, True) if name != "apples" else (False,)):
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
@pytest.mark.parametrize("name, group", [("two-layer", False), ("softmax", False), ("softmax", True),
                                         ("init", False), ("apples", False)])
def test_spec_latex_documents_compile(tmp_path, name, group):
    args = ["spec", str(ROOT / "examples" / f"{name}.yaml"), "--lr", "0.5", "-o", str(tmp_path / "net.tex")]
    result = runner.invoke(app, args + (["--group", "neurons"] if group else []))
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
    assert text.count("### $\\partial J") == 1
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
