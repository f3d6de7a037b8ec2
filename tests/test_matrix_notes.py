"""Matrix-form notes: the shapes table, the forward and backward pass in matrix form with a dimension
check on every line, the element-wise reading of each product, the softmax + cross-entropy shortcut
P − Y with its numbers, one gradient step, shape-only pages, Chinese, LaTeX, and MathJax over every
formula. Numbers are checked against a hand-written numpy network, not against bpviz's own walker."""

import re
from fractions import Fraction

import numpy as np
import pytest
from typer.testing import CliRunner

from bpviz.api import Options, Source, build_spec, note_for
from bpviz.cli import app
from bpviz.render.latex import render_latex
from bpviz.render.markdown import render_markdown
from bpviz.render.matrix_note import CELLS, MatrixNoteBuilder
from bpviz.render.note import Figure, NoteBuilder
from bpviz.render.prose import PROSE
from bpviz.values import parse_shapes, value
from conftest import EXAMPLES
from notes_support import compile_tex, latex_formulas, markdown_formulas, mathjax_errors, needs_pdflatex

runner = CliRunner()

# cs224n's two-layer softmax classifier on a batch of two samples (rows are samples)
CS224N = "Z1 = X @ W1 + b1; A1 = relu(Z1); Z2 = A1 @ W2 + b2; P = softmax(Z2); J = -sum(Y * log(P)) / 2"
CS224N_AT = {"X": [[1, 2, 0], [0, -1, 3]],
             "W1": [[1, 0, -1], [0, 1, 1], [1, -1, 0]], "b1": ["0.5", "-0.5", 0],
             "W2": [[1, -1, 0], [0, 1, -1], [1, 0, 1]], "b2": [0, "0.5", "-0.5"],
             "Y": [[1, 0, 0], [0, 0, 1]]}
CS224N_SHAPES = "X=(N,Dx), W1=(Dx,H), b1=(H,), W2=(H,C), b2=(C,), Y=(N,C)"
PARAMS = ["W1", "b1", "W2", "b2"]


def graph(program, values=None, shapes=None):
    if shapes is not None:
        return Source.expression(program, shapes=parse_shapes(shapes)).build()
    return Source.expression(program, {k: value(v, k) for k, v in values.items()}).build()


def note(program, values=None, shapes=None, figure=Figure(link="figure.svg"), **options):
    return note_for(graph(program, values, shapes), Options.make(**options), figure)


def cs224n(**options):
    return note(CS224N, CS224N_AT, **options)


def numpy_cs224n(N=2):
    """The same network by hand: forward, backward, and J after one step of 0.1."""
    a = {k: np.array([[float(Fraction(x)) for x in row] if isinstance(row, list) else float(Fraction(row))
                      for row in v]) for k, v in CS224N_AT.items()}
    X, W1, b1, W2, b2, Y = (a[k] for k in ("X", "W1", "b1", "W2", "b2", "Y"))

    def forward(W1, b1, W2, b2):
        Z1 = X @ W1 + b1
        A1 = np.maximum(Z1, 0)
        Z2 = A1 @ W2 + b2
        e = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        return Z1, A1, Z2, P, -np.sum(Y * np.log(P)) / N

    Z1, A1, Z2, P, J = forward(W1, b1, W2, b2)
    dZ2 = (P - Y) / N
    dW2, db2 = A1.T @ dZ2, dZ2.sum(axis=0)
    dA1 = dZ2 @ W2.T
    dZ1 = dA1 * (Z1 > 0)
    dW1, db1 = X.T @ dZ1, dZ1.sum(axis=0)
    after = forward(W1 - 0.1 * dW1, b1 - 0.1 * db1, W2 - 0.1 * dW2, b2 - 0.1 * db2)[-1]
    return dict(X=X, Y=Y, Z1=Z1, A1=A1, P=P, J=J, dZ2=dZ2, dW2=dW2, db2=db2, dA1=dA1, dZ1=dZ1, dW1=dW1,
                db1=db1, W1=W1, after=after)


# -- reading numbers back out of the note ----------------------------------------------------------

_NUMBER = re.compile(r"^(-)?(?:\\tfrac\{(\d+)\}\{(\d+)\}|([\d.]+)(?: \\times 10\^\{(-?\d+)\})?)$")


def number(tex: str) -> float:
    m = _NUMBER.match(tex.strip())
    assert m, f"not a number: {tex!r}"
    sign = -1 if m.group(1) else 1
    if m.group(2):
        return sign * int(m.group(2)) / int(m.group(3))
    return sign * float(m.group(4)) * 10 ** int(m.group(5) or 0)


def matrices(line: str) -> list:
    """Every pmatrix in a line, as numpy arrays."""
    found = []
    for body in re.findall(r"\\begin\{pmatrix\}(.*?)\\end\{pmatrix\}", line):
        found.append(np.array([[number(c) for c in row.split("&")] for row in body.split("\\\\")]))
    return found


def block(text: str, lhs: str) -> list:
    """The lines of the display that starts with ``lhs &= …`` (Markdown notes)."""
    for display in re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", text, re.S):
        lines = display.split(" \\\\\n")
        if lines[0].startswith(lhs + " &"):
            return lines
    raise AssertionError(f"no display starts with {lhs!r}")


def section(text: str, heading: str) -> str:
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def close(shown, expected, rtol=2e-3):
    np.testing.assert_allclose(shown, np.broadcast_to(expected, np.shape(shown)), rtol=rtol, atol=1e-4)


# -- golden notes -----------------------------------------------------------------------------------

GOLDEN = {
    "cs224n.matrix.md": lambda: render_markdown(cs224n(lr=Fraction(1, 10), params=PARAMS)),
    "cs224n.matrix.zh.md": lambda: render_markdown(cs224n(lang="zh", lr=Fraction(1, 10), params=PARAMS)),
    "cs224n.matrix.tex": lambda: render_latex(cs224n(lr=Fraction(1, 10), params=PARAMS), figure_file="cs224n.png"),
    "cs224n.dims.md": lambda: render_markdown(note(CS224N, shapes=CS224N_SHAPES)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_matrix_notes(golden, name):
    golden(f"notes/{name}", GOLDEN[name]())


def test_same_input_same_bytes():
    assert GOLDEN["cs224n.matrix.md"]() == GOLDEN["cs224n.matrix.md"]()


# -- the shapes table -------------------------------------------------------------------------------

def test_shapes_table_lists_every_symbol_with_its_shape_and_role():
    text = render_markdown(cs224n(lr=Fraction(1, 10), params=PARAMS))
    table = section(text, "Shapes")
    assert "| $X$ | $2 \\times 3$ | input |" in table
    assert "| $W_{1}$ | $3 \\times 3$ | parameter |" in table
    assert "| $b_{1}$ | $3$ | parameter |" in table
    assert "| $Z_{1}$ | $2 \\times 3$ | intermediate |" in table
    assert "| $J$ | scalar | output |" in table
    assert "| $t_{1}$ |" not in table            # X @ W1 is written inside Z1 = X W1 + b1
    assert "Which inputs are parameters" not in text


def test_without_parameters_every_input_is_an_input_and_the_note_says_why():
    text = render_markdown(cs224n())
    assert "| $W_{1}$ | $3 \\times 3$ | input |" in text and "Which inputs are parameters" in text


# -- forward pass -----------------------------------------------------------------------------------

def test_forward_pass_in_matrix_form_with_exact_numbers():
    text = render_markdown(cs224n())
    z1 = block(text, "Z_{1}")
    assert z1[0] == "Z_{1} &= X \\, W_{1} + b_{1} && (2 \\times 3) \\, (3 \\times 3) + (3) \\to 2 \\times 3"
    assert "\\begin{pmatrix} 0.5 & -0.5 & 0 \\end{pmatrix}" in z1[1]          # b1, exact
    ours = numpy_cs224n()
    close(matrices(z1[-1])[0], ours["Z1"])
    assert "1.5 & 1.5 & 1" in z1[-1]                                          # exact, not 1.500
    close(matrices(block(text, "P")[-1])[0], ours["P"])


def test_large_matrices_are_summarised_not_written_out():
    values = {"X": [[i - j for j in range(6)] for i in range(7)], "W": [[(i + j) % 3 - 1 for j in range(5)]
                                                                        for i in range(6)]}
    text = render_markdown(note("Z = X @ W; J = sum(Z * Z)", values))
    for m in re.findall(r"\\begin\{pmatrix\}(.*?)\\end\{pmatrix\}", text):
        rows = m.split("\\\\")
        assert len(rows) <= CELLS and all(row.count("&") < CELLS for row in rows)
    assert "7 \\times 5:\\ \\min = " in text and "\\lVert \\cdot \\rVert_{F}" in text
    assert not mathjax_errors(markdown_formulas(text))


# -- backward pass: dimension checks ----------------------------------------------------------------

def test_every_backward_line_has_a_dimension_check_that_matches_the_graph():
    g = graph(CS224N, CS224N_AT)
    text = render_markdown(note_for(g, Options.make(), Figure(link="f.svg")))
    backward = section(text, "Backward pass in matrix form")
    checked = 0
    for display in re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", backward, re.S):
        first = display.split(" \\\\\n")[0]
        lhs = first.split(" &= ")[0]
        name = {"\\bar{X}": "X", "\\bar{Y}": "Y", "\\bar{P}": "P"}.get(lhs) or \
            re.sub(r"\\bar\{(\w)\}_\{(\w+)\}", r"\1\2", lhs)
        shape = g.node(name).shape
        if not shape:
            assert " && " not in first                         # nothing to check for a scalar
            continue
        check = first.split(" && ")[1]
        want = " \\times ".join(map(str, shape))
        assert check.endswith(f"{want} \\;\\checkmark"), (first, shape)
        checked += 1
    assert checked >= 8
    assert ("\\bar{W}_{2} &= {A_{1}}^{\\top} \\, \\bar{Z}_{2} && (3 \\times 2)(2 \\times 3) \\to 3 \\times 3 "
            "\\;\\checkmark") in backward
    assert ("\\bar{A}_{1} &= \\bar{Z}_{2} \\, {W_{2}}^{\\top} && (2 \\times 3)(3 \\times 3) \\to 2 \\times 3 "
            "\\;\\checkmark") in backward
    assert ("\\bar{b}_{1} &= \\sum_{\\text{rows}} \\bar{Z}_{1} && \\sum_{\\text{rows}} (2 \\times 3) \\to 3 "
            "\\;\\checkmark") in backward


def test_a_shape_that_does_not_fit_is_not_checked_off():
    g = graph(CS224N, CS224N_AT)
    builder = MatrixNoteBuilder(NoteBuilder(g, wrt=[], closed=None))
    product = next(n for n in g.nodes if n.op is not None and n.op.name == "matmul" and n.name == "t2")
    g.nodes[product.inputs[1]].shape = (2, 3)        # pretend W2 were 2×3: A1ᵀ Z̄2 is 3×3, not 2×3
    assert builder.check(product, 1).endswith("\\;\\ne 2 \\times 3")


def test_backward_numbers_are_the_hand_written_networks():
    ours = numpy_cs224n()
    text = render_markdown(cs224n())
    for lhs, key in (("\\bar{Z}_{2}", "dZ2"), ("\\bar{W}_{2}", "dW2"), ("\\bar{b}_{2}", "db2"),
                     ("\\bar{A}_{1}", "dA1"), ("\\bar{Z}_{1}", "dZ1"), ("\\bar{W}_{1}", "dW1"),
                     ("\\bar{b}_{1}", "db1")):
        close(matrices(block(text, lhs)[-1])[-1], ours[key])


def test_bias_gradient_is_a_sum_over_the_batch_in_words():
    text = render_markdown(cs224n())
    assert ("$b_{1}$ is added to every row of $Z_{1}$, that is to every example of a batch laid out one "
            "per row, so its gradient is a sum over the batch (over the rows) of $\\bar{Z}_{1}$: "
            "$(\\bar{b}_{1})_{j} = \\sum_{n} (\\bar{Z}_{1})_{nj}$.") in text
    ng = (EXAMPLES / "ng-matrix.txt").read_text()
    ng_values = __import__("yaml").safe_load((EXAMPLES / "ng-matrix.values.yaml").read_text())
    text = render_markdown(note(ng, ng_values))
    assert "$b_{1}$ is added to every column of $Z_{1}$" in text
    assert ("\\bar{b}_{1} &= \\sum_{\\text{cols}} \\bar{Z}_{1} && \\sum_{\\text{cols}} (3 \\times 4) \\to 3 \\times 1"
            in text)


def test_fan_out_is_a_sum_of_terms_each_checked():
    text = render_markdown(note("H = W @ W; J = sum(H * W)", {"W": [[1, 2], [0, -1]]}))
    lines = block(text, "\\bar{W}")
    assert lines[0] == ("\\bar{W} &= \\bar{H} \\, {W}^{\\top} && (2 \\times 2)(2 \\times 2) \\to 2 \\times 2 "
                        "\\;\\checkmark")
    assert lines[1].startswith("&\\quad + {W}^{\\top} \\, \\bar{H} && ")
    assert lines[2].startswith("&\\quad + \\bar{t}_{1} \\odot H && ")
    assert "$W$ feeds 3 nodes, so its gradient is a sum of 3 terms." in text
    # W̄ = H̄ Wᵀ + Wᵀ H̄ + t̄1 ⊙ H with H̄ = W (t̄1 = 1): by hand
    W = np.array([[1.0, 2], [0, -1]])
    close(matrices(lines[-1])[0], W @ W.T + W.T @ W + W @ W)


def test_notation_bar_delta_partial():
    text = render_markdown(cs224n())
    first = text.split("**Program**")[0]              # the notation is said in the note's first lines
    assert "Notation: $\\bar{v}$ is the gradient of $J$ with respect to a node $v$" in first
    assert "Notation" not in section(text, "Shapes")
    assert "$\\delta_{1} \\equiv \\bar{Z}_{1}$" in text and "$\\delta_{2} \\equiv \\bar{Z}_{2}$" in text
    backward = section(text, "Backward pass in matrix form")
    assert "\\delta" not in "".join(re.findall(r"\\begin\{aligned\}.*?\\end\{aligned\}", backward, re.S))
    assert "\\frac{\\partial" not in backward          # gradients are bars; ∂ is for local derivatives


# -- one entry of each product ----------------------------------------------------------------------

def test_element_wise_reading_shows_where_the_transpose_comes_from():
    text = render_markdown(cs224n())
    reading = section(text, "One entry at a time: where the transposes come from")
    assert ("(\\bar{W}_{2})_{ij} &= \\sum_{n} (A_{1})_{ni} (\\bar{Z}_{2})_{nj} = \\sum_{n} ({A_{1}}^{\\top})_{in} "
            "(\\bar{Z}_{2})_{nj} = \\left({A_{1}}^{\\top} \\, \\bar{Z}_{2}\\right)_{ij}") in reading
    assert ("(\\bar{A}_{1})_{ni} &= \\sum_{j} (\\bar{Z}_{2})_{nj} (W_{2})_{ij} = \\sum_{j} (\\bar{Z}_{2})_{nj} "
            "({W_{2}}^{\\top})_{ji} = \\left(\\bar{Z}_{2} \\, {W_{2}}^{\\top}\\right)_{ni}") in reading
    assert "\\frac{\\partial (X \\, W_{1})_{nj}}{\\partial (W_{1})_{ij}} &= X_{ni}" in reading
    # entry (1, 1) in numbers: the products add up to the hand-written network's gradient
    ours = numpy_cs224n()
    line = next(x for x in reading.splitlines() if x.startswith("(\\bar{W}_{2})_{11} &= "))
    terms, total = line.split(" &= ")[1].rsplit(" = ", 1)
    products = [[number(f.strip().strip("()")) for f in term.split("\\cdot")] for term in terms.split(" + ")]
    assert len(products) == 2                           # one per sample
    close(sum(a * b for a, b in products), ours["dW2"][0, 0])
    close(number(total), ours["dW2"][0, 0])
    close([a for a, _ in products], ours["A1"][:, 0])


def test_vector_products_are_read_entry_by_entry_too():
    text = render_markdown(note("c = A @ v; J = sum(c * c)", {"A": [[1, 2], [3, 4]], "v": [1, -1]}))
    assert "c_{n} &= \\sum_{i} A_{ni} v_{i}" in text
    assert "(\\bar{A})_{ni} &= (\\bar{c})_{n} v_{i} = \\left(\\bar{c} \\, {v}^{\\top}\\right)_{ni}" in text
    assert "\\bar{A} &= \\bar{c} \\, {v}^{\\top} && (2 \\times 1)(1 \\times 2) \\to 2 \\times 2 \\;\\checkmark" in text
    assert "\\bar{v} &= {A}^{\\top} \\, \\bar{c} && (2 \\times 2)(2) \\to 2 \\;\\checkmark" in text


# -- the shortcut P − Y -----------------------------------------------------------------------------

def test_softmax_cross_entropy_shortcut_with_numbers():
    ours = numpy_cs224n()
    text = render_markdown(cs224n())
    shortcut = section(text, "The shortcut at the output layer")
    lines = block(shortcut, "\\delta_{2} \\equiv \\bar{Z}_{2}")
    assert lines[0] == "\\delta_{2} \\equiv \\bar{Z}_{2} &= \\frac{1}{2} \\left(P - Y\\right)"
    assert lines[1].startswith("&= \\frac{1}{2} \\left(")
    p, y = matrices(lines[1])
    close(p, ours["P"])
    np.testing.assert_array_equal(y, ours["Y"])
    close(matrices(lines[2])[0], (ours["P"] - ours["Y"]) / 2)
    assert "scaled by $\\frac{1}{2}$" in shortcut and "which is the $\\bar{Z}_{2}$ of the backward pass" in shortcut
    assert "&= \\frac{1}{2} \\left(P_{nk} - Y_{nk}\\right)" in shortcut


def test_shortcut_with_a_mean_over_the_batch_divides_by_n():
    cs = (EXAMPLES / "cs224n.txt").read_text()
    values = __import__("yaml").safe_load((EXAMPLES / "cs224n.values.yaml").read_text())
    text = render_markdown(note(cs, values))
    assert "\\delta_{2} \\equiv \\bar{Z}_{2} &= \\frac{1}{3} \\left(P - Y\\right)" in text
    dims = render_markdown(note(cs, shapes=CS224N_SHAPES))
    assert "\\delta_{2} \\equiv \\bar{Z}_{2} &= \\frac{1}{N} \\left(P - Y\\right)" in dims
    assert "This assumes each row of $Y$ sums to 1" in dims


@pytest.mark.parametrize("loss, coefficient", [("-sum(y * log(P))", ""), ("-sum(log(P) * y) * 2", "2 "),
                                               ("sum(y * log(P)) / -4", "\\frac{1}{4} "), ("sum(y * log(P))", None),
                                               ("-mean(y * log(P))", "\\frac{1}{3} ")])
def test_shortcut_coefficient(loss, coefficient):
    text = render_markdown(note(f"P = softmax(z); J = {loss}", {"z": [1, 2, 3], "y": [0, 1, 0]}))
    if coefficient is None:        # + Σ y log P is not a cross-entropy (its sign is wrong)
        assert "The shortcut at the output layer" not in text
        return
    rhs = f"{coefficient}\\left(P - y\\right)" if coefficient else "P - y"
    shortcut = section(text, "The shortcut at the output layer")
    assert f"\\bar{{z}} &= {rhs}" in shortcut
    p, y = matrices(block(shortcut, "\\bar{z}")[1])
    scale = {"": 1, "2 ": 2, "\\frac{1}{4} ": 1 / 4, "\\frac{1}{3} ": 1 / 3}[coefficient]
    close(matrices(block(shortcut, "\\bar{z}")[2])[0], scale * (p - y))


def test_shortcut_is_not_claimed_when_the_targets_do_not_sum_to_one():
    text = render_markdown(note("P = softmax(Z); J = -sum(Y * log(P))", {"Z": [[1, 2], [0, 1]], "Y": [[1, 1], [0, 1]]}))
    assert "do not all sum to 1, so the shortcut" in text and "P - Y" not in text


def test_no_shortcut_without_cross_entropy():
    text = render_markdown(note("P = softmax(Z); J = sum(P * P)", {"Z": [[1, 2], [0, 1]]}))
    assert "The shortcut at the output layer" not in text


def test_sigmoid_binary_cross_entropy_shortcut():
    ng = (EXAMPLES / "ng-matrix.txt").read_text()
    values = __import__("yaml").safe_load((EXAMPLES / "ng-matrix.values.yaml").read_text())
    text = render_markdown(note(ng, values))
    lines = block(text, "\\delta_{2} \\equiv \\bar{Z}_{2}")
    assert lines[0] == "\\delta_{2} \\equiv \\bar{Z}_{2} &= \\frac{1}{4} \\left(A_{2} - Y\\right)"
    a2, y = matrices(lines[1])
    close(matrices(lines[2])[0], (a2 - y) / 4)


# -- gradient step ----------------------------------------------------------------------------------

def test_update_gives_the_new_matrices_and_the_loss_after():
    ours = numpy_cs224n()
    text = render_markdown(cs224n(lr=Fraction(1, 10), params=PARAMS))
    update = section(text, "Gradient-descent update")
    lines = block(update, "W_{1}")
    assert lines[0] == "W_{1} &\\leftarrow W_{1} - \\eta \\, \\bar{W}_{1}"
    old, grad = matrices(lines[1])
    np.testing.assert_array_equal(old, ours["W1"])
    close(grad, ours["dW1"])
    close(matrices(lines[2])[0], ours["W1"] - 0.1 * ours["dW1"])
    after = re.search(r"goes from \$([^$]+)\$ to \$([^$]+)\$", update)
    close(number(after.group(1)), ours["J"])
    close(number(after.group(2)), ours["after"])


# -- shapes only --------------------------------------------------------------------------------------

def test_shape_only_page_is_the_dimension_analysis():
    text = render_markdown(note(CS224N, shapes=CS224N_SHAPES))
    assert "pmatrix" not in text and "Shapes only: no numbers were given" in text
    assert "| $X$ | $N \\times \\mathrm{Dx}$ | input |" in text
    assert ("\\bar{W}_{1} &= {X}^{\\top} \\, \\bar{Z}_{1} && (\\mathrm{Dx} \\times N)(N \\times H) \\to "
            "\\mathrm{Dx} \\times H \\;\\checkmark") in text
    assert ("Z_{2} &= A_{1} \\, W_{2} + b_{2} && (N \\times H) \\, (H \\times C) + (C) \\to N \\times C") in text
    assert "(\\bar{W}_{2})_{ij} &= \\sum_{n} (A_{1})_{ni} (\\bar{Z}_{2})_{nj}" in text
    assert "## Gradient-descent update" not in text
    assert not mathjax_errors(markdown_formulas(text))


def test_shape_only_mean_over_a_symbolic_batch():
    text = render_markdown(note("Z = X @ W + b; J = mean(Z * Z)", shapes="X=(N,3), W=(3,K), b=(1,K)"))
    assert "\\frac{1}{N K}" in text and "None" not in text
    assert "\\bar{b} &= \\sum_{\\text{rows}} \\bar{Z} && \\sum_{\\text{rows}} (N \\times K) \\to 1 \\times K" in text


# -- languages, LaTeX, MathJax ------------------------------------------------------------------------

def test_chinese_note_translates_prose_and_keeps_the_math():
    en, zh = render_markdown(cs224n(lr=Fraction(1, 10), params=PARAMS)), \
        render_markdown(cs224n(lang="zh", lr=Fraction(1, 10), params=PARAMS))
    assert zh.startswith("# J 的反向传播（矩阵形式）")
    for heading in ("## 形状", "## 矩阵形式的前向传播", "## 矩阵形式的反向传播", "## 输出层的捷径",
                    "## 逐个元素来看：转置从何而来", "## 梯度下降更新"):
        assert heading in zh
    assert "| $W_{1}$ | $3 \\times 3$ | 参数 |" in zh and "在整个批次上（按行）的和" in zh
    display = lambda text: re.findall(r"^\$\$\n.*?\n\$\$$", text, re.S | re.M)   # noqa: E731
    assert display(en) == display(zh)


def test_every_matrix_prose_key_is_in_every_language():
    assert all(set(table) == set(PROSE["en"]) for table in PROSE.values())


def test_latex_note_structure():
    tex = render_latex(cs224n(lr=Fraction(1, 10), params=PARAMS))
    assert tex.startswith("\\documentclass") and "\\begin{align*}" in tex and "aligned" not in tex
    assert "\\begin{longtable}" in tex and "\\checkmark" in tex and "\\usepackage{amsmath,amssymb}" in tex
    assert "⊙" not in tex and "✓" not in tex                  # pdflatex reads no such Unicode
    fragment = render_latex(cs224n(), fragment=True)
    assert fragment.startswith("%") and "\\documentclass" not in fragment


def matrix_documents():
    """Notes over the matrix features: vectors, transposes, fan-out, reductions, broadcasting, big
    arrays, exact fractions, both shortcuts, shapes only, network specs at matrix level."""
    yaml = __import__("yaml")
    cases = [(CS224N, CS224N_AT, None), ("c = A @ v; J = sum(c * c)", {"A": [[1, 2], [3, 4]], "v": [1, -1]}, None),
             ("J = v @ w", {"v": [1, 2], "w": [3, -1]}, None),
             ("c = v @ B; J = sum(tanh(c))", {"v": [1, 2], "B": [[1, 0, 2], [0, 1, -1]]}, None),
             ("Z = X.T @ Y; J = mean(Z)", {"X": [[1, 2], [3, 4], [5, 6]], "Y": [[1, 0], [0, 1], [1, 1]]}, None),
             ("S = X @ W; J = sum(S, axis=0) @ u + sum(mean(S, axis=1))",
              {"X": [[1, 2], [3, 4], [0, 1]], "W": [[1, 0], [2, 1]], "u": [1, 2]}, None),
             ("Z = X @ W + s; J = sum(sigmoid(Z) / 3)",
              {"X": [[1, 2], [3, 4]], "W": [[1, 0], [0, 1]], "s": "0.5"}, None),
             ("θ_1 = X @ w; J = sum(θ_1 * θ_1) / 2", {"X": [[1, 2], [3, 4]], "w": ["1/3", "2/7"]}, None),
             ("Z = X @ W + b; J = sum(tanh(Z)**2)", {"X": [[(i * j) % 5 - 2 for j in range(5)] for i in range(6)],
                                                      "W": [[(i + j) % 3 - 1 for j in range(5)] for i in range(5)],
                                                      "b": [1, 2, 3, 4, 5]}, None),
             ("P = softmax(Z); J = -sum(Y * log(P))", {"Z": [[1, 2], [0, 1]], "Y": [[1, 1], [0, 1]]}, None),
             (CS224N, None, CS224N_SHAPES),
             ((EXAMPLES / "ng-matrix.txt").read_text(), None, "W1=(h,n), X=(n,m), b1=(h,1), W2=(1,h), b2=(), Y=(1,m)"),
             ((EXAMPLES / "ng-matrix.txt").read_text(),
              yaml.safe_load((EXAMPLES / "ng-matrix.values.yaml").read_text()), None),
             ((EXAMPLES / "cs224n.txt").read_text(),
              yaml.safe_load((EXAMPLES / "cs224n.values.yaml").read_text()), None)]
    notes = []
    for program, values, shapes in cases:
        g = graph(program, values, shapes)
        params = [] if g.shapes_only else [n.name for n in g.inputs][:2]
        for lang in PROSE:
            options = dict(lang=lang, lr=Fraction(1, 10), params=params) if params else dict(lang=lang)
            notes.append(note_for(g, Options.make(**options), Figure(link="figure.svg")))
    for name in ("two-layer", "softmax", "two-layer-batch"):
        if (EXAMPLES / f"{name}.yaml").exists():
            spec = build_spec((EXAMPLES / f"{name}.yaml").read_text(), name, view="matrix")
            notes.append(note_for(spec, Options.make(lr=Fraction(1, 2)), Figure(link="figure.svg")))
    return notes


def test_every_matrix_formula_typesets_in_mathjax():
    formulas = []
    for n in matrix_documents():
        formulas += markdown_formulas(render_markdown(n))
        formulas += latex_formulas(render_latex(n)) + latex_formulas(render_latex(n, fragment=True))
    assert len(formulas) > 3000
    assert mathjax_errors(formulas) == []


# -- pdflatex and the command line --------------------------------------------------------------------



def _has_cjk() -> bool:
    from bpviz.write import find_tex_package
    return find_tex_package("CJKutf8.sty") is not None


@needs_pdflatex
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_matrix_latex_documents_compile(tmp_path, lang):
    if lang == "zh" and not _has_cjk():
        pytest.skip("CJKutf8 is not installed (Debian: latex-cjk-chinese latex-cjk-chinese-arphic-gbsn00lp)")
    for i, n in enumerate(m for m in matrix_documents() if m.lang == lang):
        (tmp_path / f"n{i}.tex").write_text(re.sub(r"\\includegraphics\[[^\]]*\]\{figure\.svg\}", "",
                                                   render_latex(n, figure_file=None)))
        compile_tex(tmp_path, f"n{i}.tex")


@needs_pdflatex
def test_matrix_note_from_the_command_line_compiles(tmp_path):
    result = runner.invoke(app, ["expr", (EXAMPLES / "cs224n.txt").read_text(), "--values",
                                 str(EXAMPLES / "cs224n.values.yaml"), "--lr", "0.5", "--param", "W1,b1,W2,b2",
                                 "-o", str(tmp_path / "cs224n.tex")])
    assert result.exit_code == 0, result.output
    compile_tex(tmp_path, "cs224n.tex")


def test_command_line_writes_a_matrix_note_and_its_figure(tmp_path):
    out = tmp_path / "note.md"
    result = runner.invoke(app, ["expr", CS224N, "--at", "X=[[1,2,0],[0,-1,3]], W1=[[1,0,-1],[0,1,1],[1,-1,0]], "
                                 "b1=[0.5,-0.5,0], W2=[[1,-1,0],[0,1,-1],[1,0,1]], b2=[0,0.5,-0.5], "
                                 "Y=[[1,0,0],[0,0,1]]", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "## Backward pass in matrix form" in text and "](note.svg)" in text
    assert (tmp_path / "note.svg").exists()
    dims = tmp_path / "dims.md"
    result = runner.invoke(app, ["expr", CS224N, "--shape", CS224N_SHAPES, "-o", str(dims), "--lang", "zh",
                                 "--no-figure"])
    assert result.exit_code == 0, result.output
    assert "只给了形状" in dims.read_text()


def test_scalar_programs_keep_their_note():
    text = render_markdown(note_for(Source.expression("J = (w*x - y)**2", {"w": 2, "x": 3, "y": 1}).build(),
                                    Options.make(), Figure(reason="no_figure")))
    assert "## Chain rule" in text and "matrix form" not in text
